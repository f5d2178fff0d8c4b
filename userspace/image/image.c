// SPDX-License-Identifier: GPL-2.0
/*
 * Format detection and the common top-layer walk. Formats emit their
 * clusters in guest order; this layer checks that they tile the disk
 * exactly (a last line of defence against a parser bug) and adds what
 * depends on the backing chain: a hole in a layer with a backing file is
 * "look below" (depth 1), without one it reads as zeroes.
 */
#include "image/image.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/qcow2.h"
#include "util.h"

const char *img_format_name(enum img_format f)
{
	switch (f) {
	case IMG_QCOW2:
		return "qcow2";
	case IMG_VMDK:
		return "vmdk";
	case IMG_RAW:
		break;
	}
	return "raw";
}

static int open_format(struct image *img)
{
	uint8_t head[64];
	size_t n = img->src.size < sizeof(head) ? (size_t)img->src.size :
						  sizeof(head);

	if (src_read(&img->src, 0, head, n, "header"))
		return -1;
	if (qcow2_probe(head, n)) {
		img->format = IMG_QCOW2;
		return qcow2_open(img);
	}
	if (vmdk_probe(head, n)) {
		img->format = IMG_VMDK;
		return vmdk_open(img);
	}
	img->format = IMG_RAW;
	return raw_open(img);
}

int image_open(struct image *img, const char *path)
{
	memset(img, 0, sizeof(*img));
	if (src_open(&img->src, path))
		return -1;
	if (open_format(img)) {
		image_close(img);
		return -1;
	}
	return 0;
}

int image_open_mem(struct image *img, const char *name, const void *data,
		   size_t len)
{
	memset(img, 0, sizeof(*img));
	src_from_mem(&img->src, name, data, len);
	if (open_format(img)) {
		image_close(img);
		return -1;
	}
	return 0;
}

void image_close(struct image *img)
{
	qcow2_close(img);
	vmdk_close(img);
	raw_close(img);
	free(img->backing_file);
	free(img->backing_format);
	img->backing_file = img->backing_format = NULL;
	src_close(&img->src);
}

struct tiling {
	struct image *img;
	map_fn fn;
	void *ctx;
	uint64_t next;		/* where the next extent must start */
};

static int tile(void *arg, const struct map_extent *e)
{
	struct tiling *t = arg;
	struct map_extent out = *e;

	if (e->start != t->next || !e->length ||
	    e->length > t->img->virtual_size - e->start)
		return img_error(&t->img->src, "map", "internal error: extent "
				 "%" PRIu64 "+%" PRIu64 " does not follow %"
				 PRIu64, e->start, e->length, t->next);
	t->next = e->start + e->length;
	if (!(out.flags & MAP_PRESENT)) {
		if (t->img->backing_file)
			out.depth = 1;
		else
			out.flags |= MAP_ZERO;
	}
	return t->fn(t->ctx, &out);
}

int image_map(struct image *img, map_fn fn, void *ctx)
{
	struct tiling t = { .img = img, .fn = fn, .ctx = ctx };
	int ret;

	switch (img->format) {
	case IMG_QCOW2:
		ret = qcow2_map(img, tile, &t);
		break;
	case IMG_VMDK:
		ret = vmdk_map(img, tile, &t);
		break;
	default:
		ret = raw_map(img, tile, &t);
		break;
	}
	if (!ret && t.next != img->virtual_size)
		return img_error(&img->src, "map", "internal error: map ends "
				 "at %" PRIu64 " of %" PRIu64, t.next,
				 img->virtual_size);
	return ret;
}

/*------------------------------------------------------------------------*/
/* Data of an extent */

int image_read_data(struct image *img, const struct map_extent *e,
		    uint64_t skip, void *buf, size_t len)
{
	char field[64];
	uint64_t at;

	snprintf(field, sizeof(field), "data at guest offset %" PRIu64,
		 e->start + skip);
	if (e->offset == MAP_NO_OFFSET || skip > e->length ||
	    len > e->length - skip || !add_u64(e->offset, skip, &at))
		return img_error(&img->src, field, "internal error: no data "
				 "here");
	/* A qcow2 external data file is never opened. */
	if (img->qcow2 && img->qcow2->data_file)
		return img_error(&img->src, field, "the data is in an "
				 "external data file, which is not opened");
	return src_read(&img->src, at, buf, len, field);
}

uint64_t image_unit_bytes(const struct image *img)
{
	return img->cluster_size;
}

int image_read_compressed(struct image *img, const struct map_extent *e,
			  uint8_t *out)
{
	if (img->format == IMG_QCOW2)
		return qcow2_read_compressed(img, e, out);
	if (img->format == IMG_VMDK)
		return vmdk_read_compressed(img, e, out);
	return img_error(&img->src, "data", "internal error: compressed "
			 "data in a raw image");
}
