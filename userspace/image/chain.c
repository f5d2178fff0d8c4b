// SPDX-License-Identifier: GPL-2.0
/*
 * The backing chain of an image being restored (the rules are in
 * chain.h): open it top down, checking each backing name before it is
 * opened and each file after, then keep the map of every layer below the
 * top so that chain_map() can look ranges up while it walks the top.
 *
 * Memory is one merged extent per run of a lower layer: an incremental
 * export's clusters are written in guest order, so adjacent ones merge.
 */
#include "image/chain.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/qcow2.h"
#include "image/vmdk.h"
#include "util.h"

/*------------------------------------------------------------------*/
/* Opening */

/* Formats a layer may have, and what of the image is not followed. */
static int check_layer(struct chain_layer *l)
{
	struct image *img = &l->img;

	if (img->format == IMG_VMDK) {
		if (!img->vmdk->sparse)
			return img_error(&img->src, "extent", "a VMDK "
					 "descriptor file: its extent files "
					 "are not opened; restore the "
					 "monolithic sparse or streamOptimized "
					 "VMDK instead");
		if (img->backing_file)
			return img_error(&img->src, "parentFileNameHint",
					 "a VMDK delta disk: VMDK parents are "
					 "not followed");
	}
	if (img->format == IMG_QCOW2) {
		if (img->qcow2->data_file)
			return img_error(&img->src, "data file", "the data is "
					 "in an external data file, which is "
					 "not opened");
		if (img->qcow2->crypt_method)
			return img_error(&img->src, "crypt_method",
					 "encrypted images are not supported");
	}
	return 0;
}

/* "nbd:host:port", "json:{...}": QEMU's protocol test, a colon first. */
static bool protocol_name(const char *name)
{
	const char *colon = strchr(name, ':');
	const char *slash = strchr(name, '/');

	return colon && (!slash || colon < slash);
}

/*
 * The path of @name, a backing name recorded in @over: relative to the
 * directory of @over's path, as QEMU resolves it. malloc'd.
 */
static char *resolve_name(const struct chain_layer *over, const char *name)
{
	char *copy, *path = NULL;

	if (name[0] == '/')
		return strdup(name);
	copy = strdup(over->path);
	if (!copy)
		return NULL;
	/* "top.qcow2" names "base.qcow2", not "./base.qcow2". */
	if (!strchr(over->path, '/'))
		path = strdup(name);
	else if (asprintf(&path, "%s/%s", dirname(copy), name) < 0)
		path = NULL;
	free(copy);
	return path;
}

/* Check the backing name of layer @i before anything is opened. */
static int check_backing_name(struct chain *c, unsigned int i)
{
	struct chain_layer *over = &c->layer[i];
	const char *name = over->img.backing_file;
	const char *fmt = over->img.backing_format;

	if (i + 1 >= CHAIN_MAX_LAYERS)
		return img_error(&over->img.src, "backing file", "the chain "
				 "is deeper than %d images",
				 CHAIN_MAX_LAYERS);
	over[1].recorded = img_printable(name, strlen(name));
	if (!over[1].recorded)
		return img_error(&over->img.src, "backing file",
				 "out of memory");
	if (!*name)
		return img_error(&over->img.src, "backing file", "empty name");
	if (strcmp(over[1].recorded, name))
		return img_error(&over->img.src, "backing file", "name %s "
				 "has control bytes or is not UTF-8",
				 over[1].recorded);
	if (protocol_name(name))
		return img_error(&over->img.src, "backing file", "%s is a "
				 "protocol name (QEMU would not open a file); "
				 "only backing files are followed",
				 over[1].recorded);
	if (fmt && strcmp(fmt, "qcow2") && strcmp(fmt, "raw"))
		return img_error(&over->img.src, "backing format", "%s: only "
				 "qcow2 and raw backing files are followed",
				 fmt);
	return 0;
}

/* Open layer @i + 1, the backing file of layer @i, and check the file. */
static int open_backing(struct chain *c, unsigned int i)
{
	struct chain_layer *over = &c->layer[i], *l = &c->layer[i + 1];
	const char *fmt = over->img.backing_format;
	struct stat st;
	unsigned int k;

	l->path = resolve_name(over, over->img.backing_file);
	if (!l->path)
		return img_error(&over->img.src, "backing file",
				 "out of memory");
	/* A FIFO or device must not even be opened: check the name first. */
	if (stat(l->path, &st))
		return img_error(&over->img.src, "backing file", "%s: %s",
				 l->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return img_error(&over->img.src, "backing file", "%s is not "
				 "a regular file", l->path);
	if (image_open(&l->img, l->path))
		return -1;
	c->count++;
	/* What was opened, not what the name was a moment ago. */
	if (fstat(l->img.src.fd, &st) || !S_ISREG(st.st_mode))
		return img_error(&over->img.src, "backing file", "%s is not "
				 "a regular file", l->path);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	for (k = 0; k <= i; k++)
		if (c->layer[k].dev == l->dev && c->layer[k].ino == l->ino)
			return img_error(&over->img.src, "backing file", "%s: "
					 "the chain loops back to image %u "
					 "(%s)", l->path, k,
					 c->layer[k].path);
	if (l->img.format == IMG_VMDK)
		return img_error(&over->img.src, "backing file", "%s is a "
				 "VMDK image: only qcow2 and raw backing files "
				 "are followed", l->path);
	if (fmt && strcmp(fmt, img_format_name(l->img.format)))
		return img_error(&over->img.src, "backing format", "recorded "
				 "as %s, but %s is %s", fmt, l->path,
				 img_format_name(l->img.format));
	return check_layer(l);
}

struct run_collector {
	struct chain_layer *l;
	size_t cap;
};

static bool runs_merge(const struct map_extent *a, const struct map_extent *b)
{
	if (a->flags != b->flags || a->depth != b->depth ||
	    (a->flags & MAP_COMPRESSED))
		return false;
	if (a->offset == MAP_NO_OFFSET || b->offset == MAP_NO_OFFSET)
		return a->offset == b->offset;
	return a->offset + a->length == b->offset;
}

static int collect_run(void *ctx, const struct map_extent *e)
{
	struct run_collector *rc = ctx;
	struct chain_layer *l = rc->l;

	if (l->nruns && runs_merge(&l->runs[l->nruns - 1], e)) {
		l->runs[l->nruns - 1].length += e->length;
		return 0;
	}
	if (l->nruns == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 256;
		struct map_extent *r = realloc(l->runs, cap * sizeof(*r));

		if (!r)
			return img_error(&l->img.src, "map", "out of memory "
					 "for %zu extents", cap);
		l->runs = r;
		rc->cap = cap;
	}
	l->runs[l->nruns++] = *e;
	return 0;
}

int chain_open(struct chain *c, const char *path, bool follow_backing)
{
	struct stat st;
	unsigned int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CHAIN_MAX_LAYERS; i++)
		c->layer[i].unit_start = UINT64_MAX;
	c->layer[0].path = strdup(path);
	if (!c->layer[0].path) {
		err_msg("%s: out of memory", path);
		return -1;
	}
	if (image_open(&c->layer[0].img, path))
		goto fail;
	c->count = 1;
	if (fstat(c->layer[0].img.src.fd, &st) == 0) {
		c->layer[0].dev = st.st_dev;
		c->layer[0].ino = st.st_ino;
	}
	if (check_layer(&c->layer[0]))
		goto fail;
	for (i = 0; c->layer[i].img.backing_file; i++) {
		if (!follow_backing) {
			char *name = img_printable(c->layer[i].img.backing_file,
					strlen(c->layer[i].img.backing_file));

			img_error(&c->layer[i].img.src, "backing file", "%s: "
				  "refusing an image with a backing file "
				  "(--no-backing)", name ? name : "?");
			free(name);
			goto fail;
		}
		if (check_backing_name(c, i) || open_backing(c, i))
			goto fail;
	}
	for (i = 1; i < c->count; i++) {
		struct run_collector rc = { .l = &c->layer[i] };

		if (image_map(&c->layer[i].img, collect_run, &rc))
			goto fail;
	}
	return 0;
fail:
	chain_close(c);
	return -1;
}

void chain_close(struct chain *c)
{
	unsigned int i;

	for (i = 0; i < CHAIN_MAX_LAYERS; i++) {
		struct chain_layer *l = &c->layer[i];

		if (i < c->count)
			image_close(&l->img);
		free(l->path);
		free(l->recorded);
		free(l->runs);
		free(l->unit);
	}
	memset(c, 0, sizeof(*c));
}

/*------------------------------------------------------------------*/
/* Which layer holds what */

struct chain_walk {
	struct chain *c;
	chain_fn fn;
	void *ctx;
};

static int emit(struct chain_walk *w, uint64_t start, uint64_t len,
		unsigned int layer, const struct map_extent *e)
{
	struct chain_piece p = {
		.start = start,
		.length = len,
		.layer = layer,
		.zero = !e || (e->flags & MAP_ZERO) || !(e->flags & MAP_DATA),
	};

	if (e)
		p.ext = *e;
	return w->fn(w->ctx, &p);
}

/* The run of layer @l holding guest offset @pos (runs tile the layer). */
static const struct map_extent *find_run(const struct chain_layer *l,
					 uint64_t pos)
{
	size_t lo = 0, hi = l->nruns;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->runs[mid].start <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return l->nruns ? &l->runs[lo] : NULL;
}

/* [start, start + len) as layer @k and those below it have it. */
static int resolve(struct chain_walk *w, unsigned int k, uint64_t start,
		   uint64_t len)
{
	const struct chain_layer *l = &w->c->layer[k];
	uint64_t end = start + len, size = l->img.virtual_size;
	uint64_t pos = start;
	int ret;

	while (pos < end && pos < size) {
		const struct map_extent *r = find_run(l, pos);
		uint64_t run_end, piece_end;

		if (!r || r->start > pos || r->length > size - r->start ||
		    pos - r->start >= r->length)
			return img_error(&l->img.src, "map", "internal error: "
					 "no extent at %" PRIu64, pos);
		run_end = r->start + r->length;
		piece_end = run_end < end ? run_end : end;
		if (r->depth)
			ret = resolve(w, k + 1, pos, piece_end - pos);
		else
			ret = emit(w, pos, piece_end - pos, k, r);
		if (ret)
			return ret;
		pos = piece_end;
	}
	/* Past the end of a smaller backing file: zeroes, as in QEMU. */
	return pos < end ? emit(w, pos, end - pos, k, NULL) : 0;
}

static int walk_top(void *arg, const struct map_extent *e)
{
	struct chain_walk *w = arg;

	if (e->depth)
		return resolve(w, 1, e->start, e->length);
	return emit(w, e->start, e->length, 0, e);
}

int chain_map(struct chain *c, chain_fn fn, void *ctx)
{
	struct chain_walk w = { .c = c, .fn = fn, .ctx = ctx };

	return image_map(&c->layer[0].img, walk_top, &w);
}
