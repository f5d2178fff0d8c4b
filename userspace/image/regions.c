// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata regions of one image (header, tables). Collected while opening,
 * then sorted once: any two that overlap make the image corrupt, and a data
 * pointer that lands inside one is refused (the classic way to make a
 * parser treat its own tables as guest data, or to loop).
 */
#include "image/image.h"

#include <inttypes.h>
#include <stdlib.h>

static int too_many(const struct img_src *s, const char *what)
{
	return img_error(s, what, "more than %u metadata tables in one image "
			 "(the limit of cowbackup-ctl)", IMG_MAX_REGIONS);
}

static int grow(struct region_set *set, const struct img_src *s,
		size_t cap, const char *what)
{
	struct region *r = realloc(set->r, cap * sizeof(*r));

	if (!r)
		return img_error(s, what, "out of memory");
	set->r = r;
	set->cap = cap;
	return 0;
}

int regions_reserve(struct region_set *set, const struct img_src *s,
		    uint64_t extra, const char *what)
{
	if (extra > IMG_MAX_REGIONS - set->count)
		return too_many(s, what);
	if (set->count + extra <= set->cap)
		return 0;
	return grow(set, s, set->count + (size_t)extra, what);
}

int regions_add(struct region_set *set, const struct img_src *s,
		uint64_t start, uint64_t len, const char *what, uint64_t index)
{
	if (!len)
		return 0;
	/*
	 * Callers add only ranges inside the file, so disjoint regions can
	 * never add up to more than the file: this bounds memory by the file
	 * size even when a hostile table points everywhere at once.
	 */
	if (!range_inside(start, len, s->size) ||
	    set->total > s->size - len)
		return img_error(s, what, "%s %" PRIu64 " at offset %" PRIu64
				 " overlaps other metadata (tables add up to "
				 "more than the file)", what, index, start);
	if (set->count == IMG_MAX_REGIONS)
		return too_many(s, what);
	if (set->count == set->cap &&
	    grow(set, s, set->cap ? (set->cap * 2 < IMG_MAX_REGIONS ?
				     set->cap * 2 : IMG_MAX_REGIONS) : 16,
		 what))
		return -1;
	set->r[set->count++] = (struct region){ start, len, what, index };
	set->total += len;
	set->sorted = false;
	return 0;
}

static int region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int regions_check(struct region_set *set, const struct img_src *s)
{
	size_t i;

	qsort(set->r, set->count, sizeof(*set->r), region_cmp);
	set->sorted = true;
	for (i = 1; i < set->count; i++) {
		const struct region *a = &set->r[i - 1], *b = &set->r[i];

		/* Sorted by start, so only neighbours can overlap first. */
		if (a->start + a->len > b->start)
			return img_error(s, b->what,
					 "%s %" PRIu64 " at offset %" PRIu64
					 " overlaps %s %" PRIu64 " at offset %"
					 PRIu64, b->what, b->index, b->start,
					 a->what, a->index, a->start);
	}
	return 0;
}

const struct region *regions_find(const struct region_set *set,
				  uint64_t start, uint64_t len)
{
	size_t lo = 0, hi = set->count;

	/* First region starting after @start ... */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->r[mid].start <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ... so the one before it is the only one that can contain @start. */
	if (lo && set->r[lo - 1].start + set->r[lo - 1].len > start)
		return &set->r[lo - 1];
	if (lo < set->count && set->r[lo].start - start < len)
		return &set->r[lo];
	return NULL;
}

void regions_free(struct region_set *set)
{
	free(set->r);
	set->r = NULL;
	set->count = set->cap = 0;
}
