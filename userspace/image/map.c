// SPDX-License-Identifier: GPL-2.0
/*
 * `cowbackup-ctl map IMAGE [--json]`: the top layer's extents, merged the
 * way `qemu-img map` merges them (same flags, and host offsets that
 * continue), so the JSON of both tools can be compared entry by entry.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "image/image.h"
#include "image/image_args.h"
#include "json.h"
#include "util.h"

struct map_out {
	FILE *out;
	bool json;
	struct json j;
	bool have;		/* pending holds an extent */
	struct map_extent pending;
};

static void map_usage(FILE *out)
{
	fprintf(out,
		"Usage: cowbackup-ctl map IMAGE [--json]\n"
		"\n"
		"List the extents of IMAGE's top layer: which ranges hold data,\n"
		"which read as zeroes, and which are not allocated here (and\n"
		"come from the backing file, which is never opened).\n"
		"\n"
		"  --json    print JSON entries with qemu-img map's key names:\n"
		"            start, length, depth, present, zero, data,\n"
		"            compressed, offset\n"
		"  --help    show this help\n");
}

static const char *state_name(const struct map_extent *e)
{
	if (!(e->flags & MAP_PRESENT))
		return e->depth ? "backing" : "unallocated";
	if (e->flags & MAP_COMPRESSED)
		return "compressed";
	if (e->flags & MAP_DATA)
		return "data";
	return "zero";
}

static void print_extent(struct map_out *m, const struct map_extent *e)
{
	if (!m->json) {
		fprintf(m->out, "%20" PRIu64 " %20" PRIu64 "  ", e->start,
			e->length);
		if (e->offset != MAP_NO_OFFSET)
			fprintf(m->out, "%-12s %" PRIu64 "\n", state_name(e),
				e->offset);
		else
			fprintf(m->out, "%s\n", state_name(e));
		return;
	}
	json_object_begin(&m->j, NULL);
	json_u64(&m->j, "start", e->start);
	json_u64(&m->j, "length", e->length);
	json_u64(&m->j, "depth", e->depth);
	json_bool(&m->j, "present", e->flags & MAP_PRESENT);
	json_bool(&m->j, "zero", e->flags & MAP_ZERO);
	json_bool(&m->j, "data", e->flags & MAP_DATA);
	json_bool(&m->j, "compressed", e->flags & MAP_COMPRESSED);
	if (e->offset != MAP_NO_OFFSET)
		json_u64(&m->j, "offset", e->offset);
	json_object_end(&m->j);
}

static bool mergeable(const struct map_extent *a, const struct map_extent *b)
{
	const unsigned int shown = MAP_PRESENT | MAP_ZERO | MAP_DATA |
				   MAP_COMPRESSED;

	if ((a->flags & shown) != (b->flags & shown) || a->depth != b->depth)
		return false;
	if ((a->offset == MAP_NO_OFFSET) != (b->offset == MAP_NO_OFFSET))
		return false;
	return a->offset == MAP_NO_OFFSET ||
	       a->offset + a->length == b->offset;
}

static int collect(void *ctx, const struct map_extent *e)
{
	struct map_out *m = ctx;

	if (m->have && mergeable(&m->pending, e)) {
		m->pending.length += e->length;
		return 0;
	}
	if (m->have)
		print_extent(m, &m->pending);
	m->pending = *e;
	m->have = true;
	return 0;
}

/*
 * Walk first, print after: a corrupt table half way must not leave half a
 * JSON document behind, so output goes to a memory buffer first.
 */
static int map_buffered(struct image *img, struct map_out *m)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	m->out = open_memstream(&buf, &len);
	if (!m->out) {
		err_msg("map: out of memory");
		return -1;
	}
	json_init(&m->j, m->out);
	if (m->json)
		json_array_begin(&m->j, NULL);
	else
		fprintf(m->out, "%20s %20s  %-12s %s\n", "START", "LENGTH",
			"STATE", "OFFSET");
	ret = image_map(img, collect, m);
	if (!ret && m->have)
		print_extent(m, &m->pending);
	if (m->json) {
		json_array_end(&m->j);
		json_finish(&m->j);
	}
	if (fclose(m->out)) {
		err_msg("map: out of memory");
		ret = -1;
	}
	if (!ret && fwrite(buf, 1, len, stdout) != len)
		ret = -1;
	free(buf);
	return ret;
}

int cmd_map(int argc, char **argv)
{
	struct map_out m = { 0 };
	struct image img;
	int r, ret;

	r = image_json_args(argc, argv, "map", map_usage, &m.json);
	if (r >= 0)
		return r;
	if (image_open(&img, argv[optind]))
		return EXIT_FAIL;
	ret = map_buffered(&img, &m);
	image_close(&img);
	return ret ? EXIT_FAIL : EXIT_OK;
}
