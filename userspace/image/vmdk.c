// SPDX-License-Identifier: GPL-2.0
/*
 * VMDK reader: a hosted sparse extent (monolithicSparse, streamOptimized
 * with its GD in the header or in the footer), or a descriptor file alone.
 *
 * Opening checks the sparse header, the embedded descriptor, the grain
 * directory, the redundant one and every grain table offset, and records
 * each as a metadata region. The map walk then checks every grain pointer
 * as it reads the grain tables. Extent files and parent images named by a
 * descriptor are reported as text and never opened.
 */
#include "image/vmdk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/decompress.h"

bool vmdk_probe(const uint8_t *head, size_t len)
{
	if (len >= 4 && (get_le32(head) == VMDK4_MAGIC ||
			 get_le32(head) == VMDK3_MAGIC))
		return true;
	return vmdk_desc_probe(head, len);
}

static void parse_header_fields(struct vmdk *v, const uint8_t *h)
{
	v->version = get_le32(h + VMDK_H_VERSION);
	v->flags = get_le32(h + VMDK_H_FLAGS);
	v->capacity = get_le64(h + VMDK_H_CAPACITY);
	v->grain_sectors = get_le64(h + VMDK_H_GRAIN);
	v->desc_offset = get_le64(h + VMDK_H_DESC_OFFSET);
	v->desc_size = get_le64(h + VMDK_H_DESC_SIZE);
	v->gtes_per_gt = get_le32(h + VMDK_H_GTES);
	v->rgd_offset = get_le64(h + VMDK_H_RGD);
	v->gd_offset = get_le64(h + VMDK_H_GD);
	v->overhead = get_le64(h + VMDK_H_OVERHEAD);
	v->unclean = h[VMDK_H_UNCLEAN] != 0;
	v->compress = get_le16(h + VMDK_H_COMPRESS);
}

/*
 * A stream whose header says "GD at end" keeps the real header in a
 * footer: footer marker, header copy, end-of-stream marker, the last three
 * sectors of the file.
 */
static int read_footer(struct image *img, struct vmdk *v)
{
	const struct img_src *s = &img->src;
	uint8_t f[3 * VMDK_SECTOR];
	uint64_t at;

	if (s->size < 4 * VMDK_SECTOR)
		return img_error(s, "footer", "file too short for a stream "
				 "footer");
	at = (s->size & ~(uint64_t)(VMDK_SECTOR - 1)) - sizeof(f);
	if (src_read(s, at, f, sizeof(f), "footer"))
		return -1;
	if (get_le32(f + 8) != 0 || get_le32(f + 12) != VMDK_MARKER_FOOTER)
		return img_error(s, "footer", "no footer marker at offset %"
				 PRIu64, at);
	if (get_le32(f + VMDK_SECTOR) != VMDK4_MAGIC)
		return img_error(s, "footer", "footer header has no KDMV magic");
	if (get_le64(f + 2 * VMDK_SECTOR) != 0 ||
	    get_le32(f + 2 * VMDK_SECTOR + 8) != 0 ||
	    get_le32(f + 2 * VMDK_SECTOR + 12) != VMDK_MARKER_EOS)
		return img_error(s, "footer", "no end-of-stream marker after "
				 "the footer");
	parse_header_fields(v, f + VMDK_SECTOR);
	if (v->gd_offset == VMDK_GD_AT_END)
		return img_error(s, "footer", "footer also puts the grain "
				 "directory at the end");
	v->from_footer = true;
	return regions_add(&v->meta, s, at, sizeof(f), "footer", 0);
}

static int check_header(struct image *img, struct vmdk *v, const uint8_t *h)
{
	const struct img_src *s = &img->src;
	uint64_t gt_span;

	if (v->version < 1 || v->version > 3)
		return img_error(s, "version", "unsupported VMDK version %"
				 PRIu32, v->version);
	if ((v->flags & VMDK_FLAG_NL_DETECT) &&
	    memcmp(h + VMDK_H_NL_CHARS, "\n \r\n", 4))
		return img_error(s, "header", "newline check characters are "
				 "damaged (copied in text mode?)");
	if (v->compress > VMDK_COMPRESS_DEFLATE)
		return img_error(s, "compressAlgorithm", "unknown algorithm %u",
				 v->compress);
	if (!is_pow2(v->grain_sectors) ||
	    v->grain_sectors > VMDK_MAX_GRAIN_SECTORS)
		return img_error(s, "grainSize", "%" PRIu64 " sectors is not a "
				 "power of two up to 1 GiB", v->grain_sectors);
	if (!v->gtes_per_gt || v->gtes_per_gt > VMDK_MAX_GTES)
		return img_error(s, "numGTEsPerGT", "%" PRIu32 " is outside "
				 "1..%d", v->gtes_per_gt, VMDK_MAX_GTES);
	if (v->capacity > VMDK_MAX_CAPACITY)
		return img_error(s, "capacity", "%" PRIu64 " sectors is too "
				 "large", v->capacity);
	gt_span = v->gtes_per_gt * v->grain_sectors;
	v->gd_entries = div_round_up(v->capacity, gt_span);
	if (v->gd_entries > VMDK_MAX_GD_ENTRIES)
		return img_error(s, "capacity", "needs %" PRIu64 " grain "
				 "directory entries, more than %u",
				 v->gd_entries, VMDK_MAX_GD_ENTRIES);
	return 0;
}

static int load_descriptor(struct image *img, struct vmdk *v)
{
	const struct img_src *s = &img->src;
	uint64_t off, len;
	char *text;
	int ret;

	if (!v->desc_offset || !v->desc_size)
		return 0;
	if (v->desc_size > VMDK_MAX_DESC_BYTES / VMDK_SECTOR)
		return img_error(s, "descriptorSize", "%" PRIu64 " sectors, "
				 "more than 1 MiB", v->desc_size);
	if (v->desc_offset > UINT64_MAX / VMDK_SECTOR)
		return img_error(s, "descriptorOffset", "out of range");
	off = v->desc_offset * VMDK_SECTOR;
	len = v->desc_size * VMDK_SECTOR;
	if (!range_inside(off, len, s->size))
		return img_error(s, "descriptorOffset", "descriptor of %" PRIu64
				 " bytes at %" PRIu64 " is past the end of the "
				 "file", len, off);
	if (regions_add(&v->meta, s, off, len, "descriptor", 0))
		return -1;
	text = src_read_table(s, off, len, "descriptor");
	if (!text)
		return -1;
	ret = vmdk_desc_parse(s, text, (size_t)len, &v->desc);
	free(text);
	return ret;
}

/* Bytes of one grain table: tables are addressed in sectors. */
static uint64_t gt_bytes(const struct vmdk *v)
{
	return ((uint64_t)v->gtes_per_gt * 4 + VMDK_SECTOR - 1) &
	       ~(uint64_t)(VMDK_SECTOR - 1);
}

/*
 * Read entries [first, first + n) of the grain directory at byte @gd into
 * @buf (host order). Directories are read a chunk at a time, never whole:
 * one may have 32M entries.
 */
static int read_gd_chunk(const struct img_src *s, uint64_t gd, uint64_t first,
			 size_t n, uint32_t *buf, const char *what)
{
	size_t i;

	if (src_read(s, gd + first * 4, buf, n * 4, what))
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = get_le32(&buf[i]);
	return 0;
}

/* Check one grain directory and record it and its grain tables. */
static int load_gd(struct image *img, struct vmdk *v, uint64_t sector,
		   const char *what, const char *gt_what)
{
	const struct img_src *s = &img->src;
	uint64_t off, bytes = v->gd_entries * 4, first;
	uint32_t chunk[VMDK_GD_CHUNK];

	if (sector > UINT64_MAX / VMDK_SECTOR)
		return img_error(s, what, "offset out of range");
	off = sector * VMDK_SECTOR;
	if (!range_inside(off, bytes, s->size))
		return img_error(s, what, "%" PRIu64 " entries at offset %"
				 PRIu64 " are past the end of the file",
				 v->gd_entries, off);
	if (regions_add(&v->meta, s, off,
			(bytes + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1),
			what, 0))
		return -1;
	for (first = 0; first < v->gd_entries; first += VMDK_GD_CHUNK) {
		size_t n = v->gd_entries - first < VMDK_GD_CHUNK ?
			   (size_t)(v->gd_entries - first) : VMDK_GD_CHUNK;
		size_t i;

		if (read_gd_chunk(s, off, first, n, chunk, what))
			return -1;
		for (i = 0; i < n; i++) {
			uint64_t gt = (uint64_t)chunk[i] * VMDK_SECTOR;

			if (!chunk[i])
				continue;
			if (!range_inside(gt, gt_bytes(v), s->size))
				return img_error(s, gt_what, "grain table %"
						 PRIu64 " at offset %" PRIu64
						 " is past the end of the file",
						 first + i, gt);
			if (regions_add(&v->meta, s, gt, gt_bytes(v), gt_what,
					first + i))
				return -1;
		}
	}
	return 0;
}

static int open_sparse(struct image *img, struct vmdk *v)
{
	const struct img_src *s = &img->src;
	uint8_t h[VMDK_SECTOR];

	v->sparse = true;
	if (src_read(s, 0, h, sizeof(h), "header"))
		return -1;
	if (get_le32(h) == VMDK3_MAGIC)
		return img_error(s, "header", "VMDK version 3 (COWD, ESX "
				 "vmfsSparse) extents are not supported");
	if (regions_add(&v->meta, s, 0, VMDK_SECTOR, "header", 0))
		return -1;
	parse_header_fields(v, h);
	if (v->gd_offset == VMDK_GD_AT_END) {
		if (read_footer(img, v))
			return -1;
		/* The footer's own checks use its copy of the header. */
		if (src_read(s, (s->size & ~(uint64_t)(VMDK_SECTOR - 1)) -
			     2 * VMDK_SECTOR, h, sizeof(h), "footer"))
			return -1;
	}
	if (check_header(img, v, h) || load_descriptor(img, v))
		return -1;
	if (load_gd(img, v, v->gd_offset, "grain directory", "grain table"))
		return -1;
	v->has_rgd = (v->flags & VMDK_FLAG_RGD) && v->rgd_offset;
	if (v->has_rgd &&
	    load_gd(img, v, v->rgd_offset, "redundant grain directory",
		    "redundant grain table"))
		return -1;
	if (regions_check(&v->meta, s))
		return -1;
	img->virtual_size = v->capacity * VMDK_SECTOR;
	img->cluster_size = v->grain_sectors * VMDK_SECTOR;
	return 0;
}

static int open_descriptor_file(struct image *img, struct vmdk *v)
{
	const struct img_src *s = &img->src;
	uint64_t total = 0;
	char *text;
	size_t i;
	int ret;

	if (s->size > VMDK_MAX_DESC_BYTES)
		return img_error(s, "descriptor", "descriptor file of %" PRIu64
				 " bytes, more than 1 MiB", s->size);
	text = src_read_table(s, 0, s->size, "descriptor");
	if (!text)
		return -1;
	ret = vmdk_desc_parse(s, text, (size_t)s->size, &v->desc);
	free(text);
	if (ret)
		return -1;
	for (i = 0; i < v->desc.nextents; i++)
		if (!add_u64(total, v->desc.extents[i].sectors, &total) ||
		    total > VMDK_MAX_CAPACITY)
			return img_error(s, "descriptor", "extents add up to "
					 "more than %" PRIu64 " sectors",
					 (uint64_t)VMDK_MAX_CAPACITY);
	img->virtual_size = total * VMDK_SECTOR;
	return 0;
}

int vmdk_open(struct image *img)
{
	struct vmdk *v = calloc(1, sizeof(*v));
	uint8_t head[4] = { 0 };
	int ret;

	if (!v)
		return img_error(&img->src, "header", "out of memory");
	img->vmdk = v;
	if (src_read(&img->src, 0, head, img->src.size < 4 ? 0 : 4, "header"))
		return -1;
	if (get_le32(head) == VMDK4_MAGIC || get_le32(head) == VMDK3_MAGIC)
		ret = open_sparse(img, v);
	else
		ret = open_descriptor_file(img, v);
	if (ret)
		return -1;
	if (v->desc.parent_hint) {
		img->backing_file = strdup(v->desc.parent_hint);
		img->backing_format = strdup("vmdk");
		if (!img->backing_file || !img->backing_format)
			return img_error(&img->src, "parentFileNameHint",
					 "out of memory");
	}
	return 0;
}

void vmdk_close(struct image *img)
{
	struct vmdk *v = img->vmdk;

	if (!v)
		return;
	vmdk_desc_free(&v->desc);
	regions_free(&v->meta);
	free(v);
	img->vmdk = NULL;
}

/*------------------------------------------------------------------------*/
/* Map walk */

/*
 * The walk in guest order. Unallocated grains, empty grain tables and
 * tables in a hole of the file are merged into one pending run, so the
 * work follows what is allocated, not the size of the directory.
 */
struct gd_walk {
	struct image *img;
	map_fn fn;
	void *ctx;
	uint64_t run_start;	/* pending unallocated run */
	uint64_t run_len;
};

/* Pass @e on, clipped to the virtual size. */
static int emit_extent(struct gd_walk *w, struct map_extent *e)
{
	uint64_t size = w->img->virtual_size;

	if (e->start >= size)
		return 0;
	if (e->length > size - e->start)
		e->length = size - e->start;
	return w->fn(w->ctx, e);
}

static int emit(struct gd_walk *w, uint64_t start, uint64_t len,
		unsigned int flags, uint64_t offset)
{
	struct map_extent e = {
		.start = start, .length = len, .offset = offset, .flags = flags,
	};

	return emit_extent(w, &e);
}

static void unallocated(struct gd_walk *w, uint64_t start, uint64_t len)
{
	if (!w->run_len)
		w->run_start = start;
	w->run_len += len;
}

static int flush(struct gd_walk *w)
{
	uint64_t len = w->run_len;

	w->run_len = 0;
	return len ? emit(w, w->run_start, len, 0, MAP_NO_OFFSET) : 0;
}

/*
 * A compressed grain starts with a marker naming the sector it holds and
 * the length of its deflate stream: both must agree with the grain table.
 */
static int check_grain_marker(struct image *img, const char *field,
			      uint64_t host, uint64_t guest,
			      uint32_t *stream_len)
{
	uint8_t m[VMDK_GRAIN_MARKER];
	uint64_t lba;
	uint32_t len;

	if (src_read(&img->src, host, m, sizeof(m), field))
		return -1;
	lba = get_le64(m);
	len = get_le32(m + 8);
	if (lba != guest / VMDK_SECTOR)
		return img_error(&img->src, field, "grain marker at offset %"
				 PRIu64 " is for sector %" PRIu64 ", not %"
				 PRIu64, host, lba, guest / VMDK_SECTOR);
	if (!len || len > img->src.size - host - sizeof(m))
		return img_error(&img->src, field, "grain marker at offset %"
				 PRIu64 " has a compressed size of %" PRIu32
				 " bytes, outside the file", host, len);
	*stream_len = len;
	return 0;
}

static int emit_compressed(struct gd_walk *w, uint64_t guest, uint64_t len,
			   uint64_t stream, uint32_t stream_len)
{
	struct map_extent e = {
		.start = guest, .length = len, .offset = MAP_NO_OFFSET,
		.flags = MAP_PRESENT | MAP_DATA | MAP_COMPRESSED | MAP_TOP,
		.compressed_offset = stream, .compressed_len = stream_len,
	};

	return emit_extent(w, &e);
}

static int walk_grain(struct gd_walk *w, uint64_t gt, uint64_t j,
		      uint32_t gte, uint64_t guest)
{
	struct image *img = w->img;
	struct vmdk *v = img->vmdk;
	uint64_t grain = v->grain_sectors * VMDK_SECTOR;
	uint64_t host = (uint64_t)gte * VMDK_SECTOR;
	bool compressed = v->compress == VMDK_COMPRESS_DEFLATE;
	const struct region *r;
	uint32_t stream_len = 0;
	char field[64];

	if (!gte) {
		unallocated(w, guest, grain);
		return 0;
	}
	if (flush(w))
		return -1;
	if (gte == VMDK_GTE_ZERO && (v->flags & VMDK_FLAG_ZERO_GRAIN))
		return emit(w, guest, grain, MAP_PRESENT | MAP_ZERO | MAP_TOP,
			    MAP_NO_OFFSET);
	snprintf(field, sizeof(field), "grain table %" PRIu64 " entry %"
		 PRIu64, gt, j);
	if (host >= img->src.size)
		return img_error(&img->src, field, "grain at offset %" PRIu64
				 " is past the end of the file (%" PRIu64
				 " bytes)", host, img->src.size);
	/* A compressed grain starts with its marker: check that sector. */
	r = regions_find(&v->meta, host, compressed ? VMDK_SECTOR :
			 (grain < img->src.size - host ? grain :
			  img->src.size - host));
	if (r)
		return img_error(&img->src, field, "grain at offset %" PRIu64
				 " points into the %s at %" PRIu64, host,
				 r->what, r->start);
	if (compressed && (v->flags & VMDK_FLAG_MARKERS) &&
	    check_grain_marker(img, field, host, guest, &stream_len))
		return -1;
	if (compressed)
		return emit_compressed(w, guest, grain, stream_len ?
				       host + VMDK_GRAIN_MARKER : 0,
				       stream_len);
	return emit(w, guest, grain, MAP_PRESENT | MAP_DATA | MAP_TOP, host);
}

/* Grain table @i (at sector @sector), mapping from guest byte @base. */
static int walk_gt(struct gd_walk *w, uint64_t i, uint32_t sector,
		   uint64_t base, uint8_t *gt)
{
	struct image *img = w->img;
	struct vmdk *v = img->vmdk;
	uint64_t grain = v->grain_sectors * VMDK_SECTOR;
	uint64_t off = (uint64_t)sector * VMDK_SECTOR, j;
	char field[48];
	int ret = 0;

	if (!sector || src_is_hole(&img->src, off, gt_bytes(v))) {
		unallocated(w, base, grain * v->gtes_per_gt);
		return 0;
	}
	snprintf(field, sizeof(field), "grain table %" PRIu64, i);
	if (src_read(&img->src, off, gt, (size_t)v->gtes_per_gt * 4, field))
		return -1;
	for (j = 0; j < v->gtes_per_gt && !ret; j++)
		ret = walk_grain(w, i, j, get_le32(gt + j * 4),
				 base + j * grain);
	return ret;
}

int vmdk_map(struct image *img, map_fn fn, void *ctx)
{
	struct vmdk *v = img->vmdk;
	struct gd_walk w = { .img = img, .fn = fn, .ctx = ctx };
	uint64_t span = v->grain_sectors * VMDK_SECTOR * v->gtes_per_gt;
	uint64_t first, gd = v->gd_offset * VMDK_SECTOR;
	uint32_t chunk[VMDK_GD_CHUNK];
	uint8_t *gt;
	int ret = 0;

	if (!v->sparse)
		return img_error(&img->src, "extent", "this is a descriptor "
				 "file; its extent files are not opened, so "
				 "there is no allocation to show");
	gt = malloc((size_t)v->gtes_per_gt * 4);
	if (!gt)
		return img_error(&img->src, "grain table", "out of memory");
	for (first = 0; first < v->gd_entries && !ret;
	     first += VMDK_GD_CHUNK) {
		size_t n = v->gd_entries - first < VMDK_GD_CHUNK ?
			   (size_t)(v->gd_entries - first) : VMDK_GD_CHUNK;
		size_t i;

		ret = read_gd_chunk(&img->src, gd, first, n, chunk,
				    "grain directory");
		for (i = 0; i < n && !ret; i++)
			ret = walk_gt(&w, first + i, chunk[i],
				      (first + i) * span, gt);
	}
	if (!ret)
		ret = flush(&w);
	free(gt);
	return ret;
}

/*------------------------------------------------------------------------*/
/* Compressed grain data */

int vmdk_read_compressed(struct image *img, const struct map_extent *e,
			 uint8_t *out)
{
	uint64_t grain = img->vmdk->grain_sectors * VMDK_SECTOR;
	char field[64];
	uint8_t *in;
	int ret;

	snprintf(field, sizeof(field), "compressed grain at guest offset %"
		 PRIu64, e->start);
	/* Only streamOptimized's markers say how long a stream is. */
	if (!e->compressed_len)
		return img_error(&img->src, field, "compressed grains without "
				 "grain markers cannot be read");
	in = src_read_table(&img->src, e->compressed_offset,
			    e->compressed_len, field);
	if (!in)
		return -1;
	ret = decompress_vmdk_zlib(in, (size_t)e->compressed_len, out,
				   (size_t)grain);
	free(in);
	if (ret)
		return img_error(&img->src, field, "zlib stream at offset %"
				 PRIu64 " does not inflate to one grain",
				 e->compressed_offset);
	return 0;
}
