// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the qcow2 reader (header, extensions, L1, refcount and
 * snapshot tables, then the whole L2 walk) on arbitrary bytes. The magic
 * is forced so every input reaches the qcow2 parser. Any crash, sanitizer
 * report, leak or broken map tiling is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

struct walk {
	uint64_t next;
	uint64_t size;
};

static int check_extent(void *ctx, const struct map_extent *e)
{
	struct walk *w = ctx;

	/* image.c already enforces the tiling; check the flags make sense. */
	if (e->start != w->next || !e->length ||
	    ((e->flags & MAP_DATA) && (e->flags & MAP_ZERO)) ||
	    ((e->flags & MAP_TOP) && !(e->flags & MAP_PRESENT)))
		abort();
	w->next += e->length;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image img;
	struct walk w = { 0 };
	uint8_t *copy;

	if (size < 4)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	put_be32(copy, 0x514649fbU);	/* "QFI\xfb" */
	if (image_open_mem(&img, "fuzz.qcow2", copy, size) == 0) {
		w.size = img.virtual_size;
		if (image_map(&img, check_extent, &w) == 0 &&
		    w.next != w.size)
			abort();
		image_close(&img);
	}
	free(copy);
	return 0;
}
