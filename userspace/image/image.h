/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image files as cowbackup-ctl sees them: a bounds-checked byte source
 * (reader.c), the metadata regions of a format (regions.c), and one opened
 * image of any supported format with a top-layer allocation walk (image.c).
 *
 * Every image is hostile. Format code never calls read(2) itself: it asks
 * src_read(), which refuses any range outside the file, and it reports
 * every problem through img_error() as one line
 * "cowbackup-ctl: FILE: <field>: <reason>".
 */
#ifndef COWBACKUP_IMAGE_H
#define COWBACKUP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*------------------------------------------------------------------------*/
/* Byte order and arithmetic helpers */

static inline uint16_t get_le16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t get_le64(const void *p)
{
	return get_le32(p) | (uint64_t)get_le32((const uint8_t *)p + 4) << 32;
}

static inline uint32_t get_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline uint64_t get_be64(const void *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32((const uint8_t *)p + 4);
}

static inline uint16_t get_be16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(void *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

static inline void put_be16(void *p, uint16_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void put_be32(void *p, uint32_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline void put_be64(void *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32((uint8_t *)p + 4, (uint32_t)v);
}

/* Is [off, off + len) inside [0, size)? Overflow-safe. */
static inline bool range_inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* a * b into *out; false on overflow. */
static inline bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* a + b into *out; false on overflow. */
static inline bool add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static inline bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/*------------------------------------------------------------------------*/
/* reader.c: the one place that reads image bytes */

struct img_src {
	const char *path;	/* for messages; not owned */
	int fd;			/* -1 for an in-memory source */
	const uint8_t *mem;	/* in-memory source (fuzzers) */
	uint64_t size;		/* readable bytes */
	uint64_t allocated;	/* st_blocks * 512 */
	bool is_blockdev;
	dev_t rdev;		/* block devices only */
	uint64_t hole_start;	/* last hole src_is_hole() found */
	uint64_t hole_end;
};

/* Open @path read-only: a regular file or a block device. */
int src_open(struct img_src *s, const char *path);
void src_from_mem(struct img_src *s, const char *name, const void *data,
		  size_t len);
void src_close(struct img_src *s);

/*
 * Read exactly @len bytes at @off. A range outside the file, a short read
 * or an I/O error is reported against @field and returns -1.
 */
int src_read(const struct img_src *s, uint64_t off, void *buf, size_t len,
	     const char *field);

/*
 * malloc() and read a table of @len bytes at @off, after checking that the
 * table is inside the file. The caller has already bounded @len.
 */
void *src_read_table(const struct img_src *s, uint64_t off, uint64_t len,
		     const char *field);

/*
 * Is [off, off + len) a hole of a regular file (SEEK_DATA finds no data
 * in it), so that it reads as zeroes without reading it? False when not
 * known: block devices, memory sources, file systems without SEEK_DATA.
 * Lets a table walk skip tables that a sparse image leaves unwritten, so
 * its work follows the data in the file, not the sizes the tables claim.
 */
bool src_is_hole(struct img_src *s, uint64_t off, uint64_t len);

/* Print "cowbackup-ctl: FILE: FIELD: REASON"; returns -1. */
int img_error(const struct img_src *s, const char *field, const char *fmt,
	      ...) __attribute__((format(printf, 3, 4)));

/*
 * Printable copy of a name found inside an image (backing file, extent
 * path, snapshot name): control bytes and invalid UTF-8 become \xNN, so it
 * can neither break a terminal nor a JSON document. Returns malloc'd text.
 */
char *img_printable(const char *raw, size_t len);

/*------------------------------------------------------------------------*/
/* regions.c: metadata areas of one image, for overlap checks */

struct region {
	uint64_t start;
	uint64_t len;
	const char *what;	/* static string: "L1 table", ... */
	uint64_t index;		/* which one, for messages */
};

/*
 * At most this many metadata regions (tables) per image: 64 MiB of
 * bookkeeping. qcow2 L2 tables and refcount blocks and VMDK grain tables
 * count one each, so this bounds what one image can make us remember and
 * walk (2M L2 tables map 1 PiB with 64 KiB clusters, 4 TiB with 4 KiB).
 */
#define IMG_MAX_REGIONS		(2u << 20)

struct region_set {
	struct region *r;
	size_t count;
	size_t cap;
	uint64_t total;		/* sum of lengths */
	bool sorted;
};

/*
 * Record a metadata range that the caller has checked is inside the file.
 * Errors (too much metadata, out of memory) are printed; returns -1.
 */
int regions_add(struct region_set *set, const struct img_src *s,
		uint64_t start, uint64_t len, const char *what,
		uint64_t index);
/*
 * Make room for @extra more regions at once (one allocation, no doubling
 * past the need), or fail with the limit's error line if the image would
 * have more than IMG_MAX_REGIONS.
 */
int regions_reserve(struct region_set *set, const struct img_src *s,
		    uint64_t extra, const char *what);
/* Sort and report the first two overlapping regions; -1 if any. */
int regions_check(struct region_set *set, const struct img_src *s);
/* The region overlapping [start, start + len), or NULL. Needs check. */
const struct region *regions_find(const struct region_set *set,
				  uint64_t start, uint64_t len);
void regions_free(struct region_set *set);

/*------------------------------------------------------------------------*/
/* One opened image (image.c) */

enum img_format {
	IMG_RAW,
	IMG_QCOW2,
	IMG_VMDK,
};

/* One run of the top layer, as `qemu-img map` describes it. */
#define MAP_PRESENT	(1u << 0)	/* allocated in this layer */
#define MAP_ZERO	(1u << 1)	/* reads as zeroes */
#define MAP_DATA	(1u << 2)	/* has data stored */
#define MAP_COMPRESSED	(1u << 3)
/* Needs copying under sync=top (raw: data, not holes; else PRESENT). */
#define MAP_TOP		(1u << 4)
#define MAP_NO_OFFSET	UINT64_MAX

struct map_extent {
	uint64_t start;		/* guest byte offset */
	uint64_t length;
	uint64_t offset;	/* host offset, or MAP_NO_OFFSET */
	unsigned int flags;
	unsigned int depth;	/* 0 top layer, 1 "look in the backing file" */
	/*
	 * MAP_COMPRESSED only: where the compressed bytes of the cluster
	 * or grain start in the file, and how many of them there are at
	 * most (a qcow2 entry gives an upper bound, a VMDK marker the
	 * length). 0/0 when the format does not say (no grain marker).
	 */
	uint64_t compressed_offset;
	uint64_t compressed_len;
};

typedef int (*map_fn)(void *ctx, const struct map_extent *e);

struct qcow2;
struct vmdk;
struct raw;

struct image {
	struct img_src src;
	enum img_format format;
	uint64_t virtual_size;
	uint64_t cluster_size;		/* 0 when the format has none */
	char *backing_file;		/* raw bytes from the image, or NULL */
	char *backing_format;		/* NULL when not recorded */
	struct qcow2 *qcow2;
	struct vmdk *vmdk;
	struct raw *raw;
};

const char *img_format_name(enum img_format f);

/* Open and validate; on failure one error line is printed. */
int image_open(struct image *img, const char *path);
/* Same over a memory buffer, for fuzzers (raw is reported as unknown). */
int image_open_mem(struct image *img, const char *name, const void *data,
		   size_t len);
void image_close(struct image *img);

/*
 * Walk the top layer in guest order, calling @fn for consecutive extents
 * that together cover [0, virtual_size). Extents are not merged. Returns 0,
 * -1 after an error line, or whatever nonzero value @fn returned.
 */
int image_map(struct image *img, map_fn fn, void *ctx);

/*
 * Data of extent @e (as image_map() gave it, MAP_DATA and not compressed)
 * from @skip bytes into it: @len bytes into @buf.
 */
int image_read_data(struct image *img, const struct map_extent *e,
		    uint64_t skip, void *buf, size_t len);
/*
 * The whole cluster or grain of compressed extent @e, decompressed into
 * @out of image_unit_bytes() bytes. An error line names the file and the
 * extent; -1.
 */
int image_read_compressed(struct image *img, const struct map_extent *e,
			  uint8_t *out);
/* Bytes of one compressed unit: the qcow2 cluster or the VMDK grain. */
uint64_t image_unit_bytes(const struct image *img);

/* Per-format entry points used by image.c. */
bool qcow2_probe(const uint8_t *head, size_t len);
int qcow2_open(struct image *img);
int qcow2_map(struct image *img, map_fn fn, void *ctx);
void qcow2_close(struct image *img);
int qcow2_read_compressed(struct image *img, const struct map_extent *e,
			  uint8_t *out);

bool vmdk_probe(const uint8_t *head, size_t len);
int vmdk_open(struct image *img);
int vmdk_map(struct image *img, map_fn fn, void *ctx);
void vmdk_close(struct image *img);
int vmdk_read_compressed(struct image *img, const struct map_extent *e,
			 uint8_t *out);

int raw_open(struct image *img);
int raw_map(struct image *img, map_fn fn, void *ctx);
void raw_close(struct image *img);

#endif /* COWBACKUP_IMAGE_H */
