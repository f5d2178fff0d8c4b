/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A backing chain: an image and the images below it, followed
 * explicitly for `restore` (every other command leaves names found in an
 * image unopened). The rules, each a refusal with one error line naming
 * the image and the backing name:
 *
 *   - only qcow2 backing files are followed; a chain ends in a qcow2 or
 *     raw image without one. A VMDK with a parent, a VMDK descriptor
 *     file, a qcow2 image with an external data file or encryption are
 *     refused;
 *   - a relative name is resolved against the directory of the image
 *     that names it, as QEMU does; an absolute name is used as is; a
 *     protocol name ("nbd:...", "json:{...}") is refused;
 *   - every backing file is a regular file (a device or FIFO is refused),
 *     appears once (a loop, by device and inode, is refused), and the
 *     chain holds at most CHAIN_MAX_LAYERS images;
 *   - a backing format recorded in the image must be qcow2 or raw and
 *     match what the file is;
 *   - sizes follow QEMU: a backing file larger than its overlay is read
 *     only up to the overlay's size, and the part of a smaller one's
 *     overlay beyond its end reads as zeroes.
 *
 * chain_map() then says, for every byte of the top image, which layer
 * holds it (or that it reads as zeroes), and chain_read_chunks() turns
 * that into the guest-visible bytes, in aligned chunks, with runs of
 * zeroes reported as runs.
 */
#ifndef COWBACKUP_CHAIN_H
#define COWBACKUP_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"

#define CHAIN_MAX_LAYERS	64

struct chain_layer {
	struct image img;
	char *path;		/* IMAGE, or a backing name resolved */
	char *recorded;		/* printable backing name as its overlay has it */
	dev_t dev;		/* of the file, for loops and safety checks */
	ino_t ino;
	/* Every layer but the top: its whole map, merged, for lookups. */
	struct map_extent *runs;
	size_t nruns;
	/* The last compressed unit read, decompressed (chain_read.c). */
	uint8_t *unit;
	uint64_t unit_start;	/* its guest offset; UINT64_MAX: none */
};

struct chain {
	struct chain_layer layer[CHAIN_MAX_LAYERS];
	unsigned int count;
};

/*
 * Open @path and, with @follow_backing, every backing file below it, by
 * the rules above; without it an image with a backing file is refused.
 * One error line and -1 on any refusal.
 */
int chain_open(struct chain *c, const char *path, bool follow_backing);
void chain_close(struct chain *c);

/* The guest size: the top image's. */
static inline uint64_t chain_size(const struct chain *c)
{
	return c->layer[0].img.virtual_size;
}

/* One run of the top image's bytes, and where they come from. */
struct chain_piece {
	uint64_t start;		/* guest byte offset */
	uint64_t length;
	bool zero;		/* reads as zeroes: nothing to read */
	unsigned int layer;	/* which image holds the data */
	struct map_extent ext;	/* that image's extent around them */
};

typedef int (*chain_fn)(void *ctx, const struct chain_piece *p);

/*
 * Call @fn for consecutive pieces covering [0, chain_size()), in order.
 * Returns 0, -1 after an error line, or @fn's nonzero value.
 */
int chain_map(struct chain *c, chain_fn fn, void *ctx);

/* Where chain_read_chunks() delivers the bytes. */
struct chain_sink {
	/*
	 * [off, off + len) reads as zeroes. Consecutive zero chunks come
	 * as one run; @off is chunk-aligned, @len a whole number of chunks
	 * except at the end of the image.
	 */
	int (*zero)(void *ctx, uint64_t off, uint64_t len);
	/* One chunk of data at chunk-aligned @off (shorter at the end). */
	int (*data)(void *ctx, uint64_t off, const uint8_t *buf, size_t len);
	void *ctx;
};

/*
 * Read the whole chain in @chunk-byte chunks through @buf (@chunk bytes,
 * any alignment the sink needs), delivering each to @sink in order. A
 * chunk whose bytes are all zero, stored or not, is a zero run. Returns
 * 0, -1 after an error line, or a sink's nonzero value.
 */
int chain_read_chunks(struct chain *c, size_t chunk, uint8_t *buf,
		      const struct chain_sink *sink);

#endif /* COWBACKUP_CHAIN_H */
