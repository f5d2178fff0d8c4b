// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the VMDK reader on arbitrary bytes: sparse header,
 * stream footer, embedded or stand-alone descriptor (line parser), grain
 * directories and the grain table walk. Inputs that do not start with a
 * VMDK magic or descriptor signature are retried as a descriptor file, so
 * the line parser sees every input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static const char sig[] = "# Disk DescriptorFile\n";

static int check_extent(void *ctx, const struct map_extent *e)
{
	uint64_t *next = ctx;

	if (e->start != *next || !e->length ||
	    ((e->flags & MAP_DATA) && (e->flags & MAP_ZERO)))
		abort();
	*next += e->length;
	return 0;
}

static void try_image(const uint8_t *data, size_t size)
{
	struct image img;
	uint64_t next = 0;

	if (image_open_mem(&img, "fuzz.vmdk", data, size))
		return;
	if (image_map(&img, check_extent, &next) == 0 &&
	    next != img.virtual_size)
		abort();
	image_close(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *text;

	if ((size >= 4 && (!memcmp(data, "KDMV", 4) ||
			   !memcmp(data, "COWD", 4))) ||
	    (size >= 21 && !memcmp(data, sig, 21))) {
		try_image(data, size);
		return 0;
	}
	/* Anything else: as the body of a descriptor file. */
	text = malloc(sizeof(sig) - 1 + size);
	if (!text)
		return 0;
	memcpy(text, sig, sizeof(sig) - 1);
	memcpy(text + sizeof(sig) - 1, data, size);
	try_image(text, sizeof(sig) - 1 + size);
	free(text);
	return 0;
}
