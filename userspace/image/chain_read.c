// SPDX-License-Identifier: GPL-2.0
/*
 * The guest-visible bytes of a backing chain, in aligned chunks: the
 * pieces chain_map() gives are copied (or zeroed) into one chunk buffer;
 * a full chunk goes to the sink as data, or, when all of it is zero, as
 * part of a zero run. Pieces that read as zeroes and cover whole chunks
 * are never touched in memory, so a 2 TiB sparse image costs its data,
 * not its size. A compressed unit is decompressed once per layer even
 * when chunks split it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/chain.h"

/* Larger compressed units are refused (qcow2's largest is 2 MiB). */
#define MAX_UNIT_BYTES	(64u << 20)

struct chunker {
	struct chain *c;
	const struct chain_sink *sink;
	uint8_t *buf;
	size_t chunk;
	uint64_t chunk_off;	/* guest offset of buf[0] */
	size_t fill;		/* bytes of the chunk assembled */
	uint64_t run_start;	/* pending zero run */
	uint64_t run_len;
};

static int flush_run(struct chunker *k)
{
	int ret = 0;

	if (k->run_len)
		ret = k->sink->zero(k->sink->ctx, k->run_start, k->run_len);
	k->run_len = 0;
	return ret;
}

static int add_run(struct chunker *k, uint64_t off, uint64_t len)
{
	if (k->run_len && k->run_start + k->run_len == off) {
		k->run_len += len;
		return 0;
	}
	if (flush_run(k))
		return -1;
	k->run_start = off;
	k->run_len = len;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

static int finish_chunk(struct chunker *k)
{
	uint64_t off = k->chunk_off;
	size_t len = k->fill;
	int ret;

	k->chunk_off += len;
	k->fill = 0;
	if (all_zero(k->buf, len))
		return add_run(k, off, len);
	ret = flush_run(k);
	return ret ? ret : k->sink->data(k->sink->ctx, off, k->buf, len);
}

/* @len bytes of compressed extent @e from @skip, through the unit cache. */
static int read_compressed(struct chain_layer *l, const struct map_extent *e,
			   uint64_t skip, uint8_t *out, size_t len)
{
	uint64_t unit = image_unit_bytes(&l->img);

	if (!unit || unit > MAX_UNIT_BYTES || e->length > unit)
		return img_error(&l->img.src, "compressed data", "units of "
				 "%" PRIu64 " bytes are not supported", unit);
	if (!l->unit) {
		l->unit = malloc((size_t)unit);
		if (!l->unit)
			return img_error(&l->img.src, "compressed data",
					 "out of memory");
	}
	if (l->unit_start != e->start) {
		l->unit_start = UINT64_MAX;
		if (image_read_compressed(&l->img, e, l->unit))
			return -1;
		l->unit_start = e->start;
	}
	memcpy(out, l->unit + skip, len);
	return 0;
}

static int read_piece(struct chunker *k, const struct chain_piece *p,
		      uint64_t pos, size_t len)
{
	struct chain_layer *l = &k->c->layer[p->layer];
	uint8_t *out = k->buf + k->fill;
	uint64_t skip = pos - p->ext.start;

	if (p->zero) {
		memset(out, 0, len);
		return 0;
	}
	if (p->ext.flags & MAP_COMPRESSED)
		return read_compressed(l, &p->ext, skip, out, len);
	return image_read_data(&l->img, &p->ext, skip, out, len);
}

static int take_piece(void *ctx, const struct chain_piece *p)
{
	struct chunker *k = ctx;
	uint64_t pos = p->start, end = p->start + p->length;
	int ret;

	while (pos < end) {
		uint64_t left = end - pos;
		size_t take;

		/* Whole chunks of zeroes: a run, nothing in memory. */
		if (p->zero && !k->fill && left >= k->chunk) {
			uint64_t n = left - left % k->chunk;

			ret = add_run(k, pos, n);
			if (ret)
				return ret;
			pos += n;
			k->chunk_off = pos;
			continue;
		}
		take = k->chunk - k->fill;
		if (take > left)
			take = (size_t)left;
		ret = read_piece(k, p, pos, take);
		if (ret)
			return ret;
		k->fill += take;
		pos += take;
		if (k->fill == k->chunk) {
			ret = finish_chunk(k);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int chain_read_chunks(struct chain *c, size_t chunk, uint8_t *buf,
		      const struct chain_sink *sink)
{
	struct chunker k = {
		.c = c, .sink = sink, .buf = buf, .chunk = chunk,
	};
	int ret;

	ret = chain_map(c, take_piece, &k);
	if (!ret && k.fill)
		ret = finish_chunk(&k);
	if (!ret)
		ret = flush_run(&k);
	return ret;
}
