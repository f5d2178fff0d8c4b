// SPDX-License-Identifier: GPL-2.0
/*
 * sync=top allocation map. One pass over the image's top layer: every
 * cluster touched by an allocated byte is copied; the gaps between them
 * are the clusters the job may skip.
 */
#include "image/topmap.h"

#include <inttypes.h>
#include <stdlib.h>

#include "image/image.h"
#include "util.h"

struct topmap {
	const char *path;
	uint64_t cluster_bytes;
	uint64_t limit;		/* clusters wholly inside the image */
	uint64_t cursor;	/* first cluster not yet decided */
	struct cluster_extent *ext;
	size_t count;
	size_t cap;
};

static int add_gap(struct topmap *t, uint64_t start, uint64_t end)
{
	if (end > t->limit)
		end = t->limit;
	if (start >= end)
		return 0;
	if (t->count && t->ext[t->count - 1].start +
			t->ext[t->count - 1].len == start) {
		t->ext[t->count - 1].len += end - start;
		return 0;
	}
	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct cluster_extent *e = realloc(t->ext, cap * sizeof(*e));

		if (!e) {
			err_msg("%s: out of memory for the allocation map",
				t->path);
			return -1;
		}
		t->ext = e;
		t->cap = cap;
	}
	t->ext[t->count].start = start;
	t->ext[t->count].len = end - start;
	t->count++;
	return 0;
}

static int visit(void *ctx, const struct map_extent *e)
{
	struct topmap *t = ctx;
	uint64_t first, last;

	if (!(e->flags & MAP_TOP))
		return 0;
	first = e->start / t->cluster_bytes;
	last = (e->start + e->length - 1) / t->cluster_bytes;
	if (add_gap(t, t->cursor, first))
		return -1;
	if (last + 1 > t->cursor)
		t->cursor = last + 1;
	return 0;
}

int topmap_unallocated(const char *image_or_device, uint64_t cluster_bytes,
		       uint64_t nclusters, struct cluster_extent **out,
		       size_t *count)
{
	struct topmap t = {
		.path = image_or_device,
		.cluster_bytes = cluster_bytes,
	};
	struct image img;
	int ret;

	*out = NULL;
	*count = 0;
	if (!cluster_bytes) {
		err_msg("%s: cluster size 0", image_or_device);
		return -1;
	}
	if (image_open(&img, image_or_device))
		return -1;
	t.limit = img.virtual_size / cluster_bytes;
	if (t.limit > nclusters)
		t.limit = nclusters;
	ret = image_map(&img, visit, &t);
	if (!ret)
		ret = add_gap(&t, t.cursor, t.limit);
	image_close(&img);
	if (ret) {
		free(t.ext);
		return -1;
	}
	*out = t.ext;
	*count = t.count;
	return 0;
}
