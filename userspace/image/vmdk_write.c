// SPDX-License-Identifier: GPL-2.0
/*
 * VMDK writers.
 *
 * monolithicSparse, laid out as QEMU and VMware do:
 *
 *   sector 0   sparse header
 *   1..        embedded descriptor
 *   then       redundant GD, its GTs, GD, its GTs (all GTs preallocated,
 *              so VMware and QEMU can later write anywhere)
 *   overhead   grains, appended as put() hands them over
 *
 * Each grain table is written to both of its places once put() has moved
 * past it; tables that map nothing are never written and stay holes.
 *
 * Zero units become zeroed-grain entries (GTE 1, header flag bit 2).
 *
 * streamOptimized, in stream order:
 *
 *   header (GD offset "at end"), descriptor, then per grain a grain
 *   marker (LBA, size) and its deflated data padded to a sector; after
 *   the grains of each grain table a GT marker and the GT; then a GD
 *   marker and the GD, a footer marker with a copy of the header that
 *   has the real GD offset, and the end-of-stream marker. QEMU finds the
 *   footer in the last three sectors. Grains are deflated (zlib format,
 *   libdeflate) by a work pool on worker threads and written back in
 *   order here.
 *
 * Memory is one grain table (the one being filled) and, for streams, the
 * grain directory, whatever the virtual size.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "image/compress.h"
#include "image/export.h"
#include "image/image.h"
#include "image/vmdk.h"
#include "image/workpool.h"
#include "util.h"

#define GT_SECTORS	4		/* 512 entries of 4 bytes */
#define MIN_DESC_SECTORS 20

struct vmdk_writer {
	struct writer w;
	const struct out_file *o;
	const struct export_params *p;
	uint64_t grain_sectors;
	uint64_t capacity;	/* sectors */
	uint64_t ngts;		/* grain tables for the whole disk */
	uint64_t gd_sectors;
	uint64_t desc_sectors;
	uint64_t rgd_offset;	/* sectors; sparse only */
	uint64_t gd_offset;
	uint64_t overhead;
	uint64_t next;		/* next free sector */
	uint32_t *gt;		/* the GT being filled: VMDK_MAX_GTES entries */
	uint64_t cur_gt;	/* which one, or UINT64_MAX */
	bool gt_used;		/* it maps something */
	uint32_t *gd;		/* stream: where each written GT went */
	struct codec **codecs;	/* stream: one per thread */
	unsigned int ncodecs;
	struct workpool *pool;	/* stream */
	uint32_t cid;
	char *desc;
	size_t desc_len;
};

static uint32_t new_cid(void)
{
	uint32_t cid;

	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	/* ffffffff means "no parent" in parentCID: never use it. */
	return cid >= 0xfffffffeU ? 0x12345678U : cid;
}

static int build_descriptor(struct vmdk_writer *v)
{
	const struct export_params *p = v->p;
	unsigned int heads = strcmp(p->adapter_type, "ide") ? 255 : 16;
	uint64_t cylinders = p->size / ((uint64_t)heads * 63 * 512);
	char parent[VMDK_MAX_PATH + 32] = "";
	int n;

	if (p->backing)
		snprintf(parent, sizeof(parent),
			 "parentFileNameHint=\"%s\"\n", p->backing);
	n = asprintf(&v->desc,
		     "# Disk DescriptorFile\n"
		     "version=1\n"
		     "CID=%08" PRIx32 "\n"
		     "parentCID=%08" PRIx32 "\n"
		     "createType=\"%s\"\n"
		     "%s"
		     "\n"
		     "# Extent description\n"
		     "RW %" PRIu64 " SPARSE \"%s\"\n"
		     "\n"
		     "# The Disk Data Base\n"
		     "#DDB\n"
		     "\n"
		     "ddb.virtualHWVersion = \"4\"\n"
		     "ddb.geometry.cylinders = \"%" PRIu64 "\"\n"
		     "ddb.geometry.heads = \"%u\"\n"
		     "ddb.geometry.sectors = \"63\"\n"
		     "ddb.adapterType = \"%s\"\n",
		     v->cid, p->backing ? p->backing_cid : 0xffffffffU,
		     p->stream ? "streamOptimized" : "monolithicSparse",
		     parent, v->capacity, p->extent_name, cylinders, heads,
		     p->adapter_type);
	if (n < 0) {
		err_msg("%s: out of memory", v->o->path);
		return -1;
	}
	v->desc_len = (size_t)n;
	v->desc_sectors = div_round_up(v->desc_len, VMDK_SECTOR);
	if (v->desc_sectors < MIN_DESC_SECTORS)
		v->desc_sectors = MIN_DESC_SECTORS;
	return 0;
}

static void fill_header(const struct vmdk_writer *v, uint8_t *h,
			uint64_t gd_offset)
{
	uint32_t flags = VMDK_FLAG_NL_DETECT;

	if (v->p->stream)
		flags |= VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS;
	else
		flags |= VMDK_FLAG_RGD;
	/* Zeroed grains: always for sparse; for streams only over a parent. */
	if (!v->p->stream || v->p->backing)
		flags |= VMDK_FLAG_ZERO_GRAIN;
	memset(h, 0, VMDK_SECTOR);
	put_le32(h + VMDK_H_MAGIC, VMDK4_MAGIC);
	put_le32(h + VMDK_H_VERSION, v->p->stream ? 3 : 1);
	put_le32(h + VMDK_H_FLAGS, flags);
	put_le64(h + VMDK_H_CAPACITY, v->capacity);
	put_le64(h + VMDK_H_GRAIN, v->grain_sectors);
	put_le64(h + VMDK_H_DESC_OFFSET, 1);
	put_le64(h + VMDK_H_DESC_SIZE, v->desc_sectors);
	put_le32(h + VMDK_H_GTES, VMDK_MAX_GTES);
	put_le64(h + VMDK_H_RGD, v->rgd_offset);
	put_le64(h + VMDK_H_GD, gd_offset);
	put_le64(h + VMDK_H_OVERHEAD, v->overhead);
	memcpy(h + VMDK_H_NL_CHARS, "\n \r\n", 4);
	put_le16(h + VMDK_H_COMPRESS, v->p->stream ? VMDK_COMPRESS_DEFLATE :
						     VMDK_COMPRESS_NONE);
}

static int write_header_and_descriptor(struct vmdk_writer *v,
				       uint64_t gd_offset)
{
	uint8_t h[VMDK_SECTOR];
	char *d = calloc(v->desc_sectors, VMDK_SECTOR);
	int ret;

	if (!d) {
		err_msg("%s: out of memory", v->o->path);
		return -1;
	}
	memcpy(d, v->desc, v->desc_len);
	fill_header(v, h, gd_offset);
	ret = out_write(v->o, h, sizeof(h), 0);
	if (!ret)
		ret = out_write(v->o, d, v->desc_sectors * VMDK_SECTOR,
				VMDK_SECTOR);
	free(d);
	return ret;
}

/* GTEs are 32-bit sector numbers: the file cannot grow past 2 TiB. */
static int check_room(struct vmdk_writer *v, uint64_t sectors)
{
	if (v->next + sectors > UINT32_MAX) {
		err_msg("%s: VMDK grain offsets are 32-bit sectors; the image "
			"would pass 2 TiB", v->o->path);
		return -1;
	}
	return 0;
}

static int write_gt_le(struct vmdk_writer *v, const uint32_t *gt,
		       uint64_t sector)
{
	uint8_t buf[GT_SECTORS * VMDK_SECTOR];
	unsigned int i;

	for (i = 0; i < VMDK_MAX_GTES; i++)
		put_le32(buf + i * 4, gt[i]);
	return out_write(v->o, buf, sizeof(buf), sector * VMDK_SECTOR);
}

static int stream_flush_gt(struct vmdk_writer *v);

/* Write the GT being filled, if it maps anything. */
static int flush_gt(struct vmdk_writer *v)
{
	uint64_t t = v->cur_gt;
	int ret;

	if (t == UINT64_MAX || !v->gt_used)
		return 0;
	if (v->p->stream) {
		ret = stream_flush_gt(v);
	} else {
		ret = write_gt_le(v, v->gt, v->rgd_offset + v->gd_sectors +
				  t * GT_SECTORS);
		if (!ret)
			ret = write_gt_le(v, v->gt, v->gd_offset +
					  v->gd_sectors + t * GT_SECTORS);
	}
	v->gt_used = false;
	return ret;
}

/* Make the GT holding unit @index the one being filled. */
static int advance(struct vmdk_writer *v, uint64_t index)
{
	uint64_t t = index / VMDK_MAX_GTES;

	if (v->cur_gt != UINT64_MAX && t < v->cur_gt) {
		err_msg("%s: internal error: grains out of order", v->o->path);
		return -1;
	}
	if (t == v->cur_gt)
		return 0;
	if (flush_gt(v))
		return -1;
	memset(v->gt, 0, VMDK_MAX_GTES * sizeof(*v->gt));
	v->cur_gt = t;
	return 0;
}

/*------------------------------------------------------------------------*/
/* monolithicSparse */

static int sparse_put(struct writer *w, uint64_t index, const uint8_t *data)
{
	struct vmdk_writer *v = (struct vmdk_writer *)w;

	if (advance(v, index))
		return -1;
	v->gt_used = true;
	if (!data) {
		v->gt[index % VMDK_MAX_GTES] = VMDK_GTE_ZERO;
		w->zero_units++;
		return 0;
	}
	if (check_room(v, v->grain_sectors) ||
	    out_write(v->o, data, v->p->unit, v->next * VMDK_SECTOR))
		return -1;
	v->gt[index % VMDK_MAX_GTES] = (uint32_t)v->next;
	v->next += v->grain_sectors;
	w->data_units++;
	return 0;
}

/*
 * One directory (redundant or primary) at @gd; its tables follow it, as
 * written by flush_gt().
 */
static int write_directory(struct vmdk_writer *v, uint64_t gd)
{
	uint64_t tables = gd + v->gd_sectors, t;
	uint8_t *buf = calloc(v->gd_sectors, VMDK_SECTOR);
	int ret = 0;

	if (!buf) {
		err_msg("%s: out of memory", v->o->path);
		return -1;
	}
	for (t = 0; t < v->ngts; t++)
		put_le32(buf + t * 4, (uint32_t)(tables + t * GT_SECTORS));
	ret = out_write(v->o, buf, v->gd_sectors * VMDK_SECTOR,
			gd * VMDK_SECTOR);
	free(buf);
	return ret;
}

static int sparse_finish(struct writer *w)
{
	struct vmdk_writer *v = (struct vmdk_writer *)w;

	if (flush_gt(v) || write_directory(v, v->rgd_offset) ||
	    write_directory(v, v->gd_offset) ||
	    write_header_and_descriptor(v, v->gd_offset))
		return -1;
	/* Unused GTs are holes; make the file reach the first grain. */
	if (v->next == v->overhead && ftruncate(v->o->fd, (off_t)(v->next *
							  VMDK_SECTOR))) {
		err_msg("%s: cannot extend: %m", v->o->path);
		return -1;
	}
	return 0;
}

/*------------------------------------------------------------------------*/
/* streamOptimized */

static int write_marker(struct vmdk_writer *v, uint64_t val, uint32_t type)
{
	uint8_t m[VMDK_SECTOR] = { 0 };

	put_le64(m, val);
	put_le32(m + 12, type);
	if (check_room(v, 1) ||
	    out_write(v->o, m, sizeof(m), v->next * VMDK_SECTOR))
		return -1;
	v->next++;
	return 0;
}

static int stream_flush_gt(struct vmdk_writer *v)
{
	if (write_marker(v, GT_SECTORS, VMDK_MARKER_GT) ||
	    check_room(v, GT_SECTORS) || write_gt_le(v, v->gt, v->next))
		return -1;
	v->gd[v->cur_gt] = (uint32_t)v->next;
	v->next += GT_SECTORS;
	return 0;
}

/* Grain marker room before the compressed data, and sector padding. */
#define MARKER_BYTES	12
#define ZBUF_BYTES(unit) (MARKER_BYTES + codec_bound(CODEC_VMDK_ZLIB, \
				(unit)) + VMDK_SECTOR)

static size_t stream_compress(void *tctx, const uint8_t *in, size_t len,
			      uint8_t *out, size_t cap)
{
	return codec_compress(tctx, in, len, out + MARKER_BYTES,
			      cap - MARKER_BYTES - VMDK_SECTOR);
}

/* One grain in order: @z holds its compressed form after the marker. */
static int stream_place(void *dctx, uint64_t index, const uint8_t *in,
			size_t len, uint8_t *z, size_t n)
{
	struct vmdk_writer *v = dctx;
	uint64_t sectors;

	(void)in;
	if (advance(v, index))
		return -1;
	if (!len && !v->p->backing) {
		v->w.zero_units++;	/* unallocated reads as zeroes */
		return 0;
	}
	v->gt_used = true;
	if (!len) {
		v->gt[index % VMDK_MAX_GTES] = VMDK_GTE_ZERO;
		v->w.zero_units++;
		return 0;
	}
	if (!n) {
		err_msg("%s: internal error: grain %" PRIu64 " did not "
			"compress", v->o->path, index);
		return -1;
	}
	/* Marker: LBA of the grain, compressed size, then the data. */
	put_le64(z, index * v->grain_sectors);
	put_le32(z + 8, (uint32_t)n);
	sectors = div_round_up(MARKER_BYTES + n, VMDK_SECTOR);
	memset(z + MARKER_BYTES + n, 0,
	       sectors * VMDK_SECTOR - MARKER_BYTES - n);
	if (check_room(v, sectors) ||
	    out_write(v->o, z, sectors * VMDK_SECTOR, v->next * VMDK_SECTOR))
		return -1;
	v->gt[index % VMDK_MAX_GTES] = (uint32_t)v->next;
	v->next += sectors;
	v->w.data_units++;
	v->w.compressed_units++;
	return 0;
}

static int stream_put(struct writer *w, uint64_t index, const uint8_t *data)
{
	struct vmdk_writer *v = (struct vmdk_writer *)w;
	uint8_t *in = workpool_input(v->pool);

	if (!in)
		return -1;
	if (data)
		memcpy(in, data, v->p->unit);
	return workpool_submit(v->pool, index, data ? v->p->unit : 0);
}

static int stream_finish(struct writer *w)
{
	struct vmdk_writer *v = (struct vmdk_writer *)w;
	uint8_t *buf, h[VMDK_SECTOR];
	uint64_t gd_at, t;
	int ret;

	if (workpool_drain(v->pool) || flush_gt(v) ||
	    write_marker(v, v->gd_sectors, VMDK_MARKER_GD))
		return -1;
	buf = calloc(v->gd_sectors, VMDK_SECTOR);
	if (!buf) {
		err_msg("%s: out of memory", v->o->path);
		return -1;
	}
	for (t = 0; t < v->ngts; t++)
		put_le32(buf + t * 4, v->gd[t]);
	gd_at = v->next;
	ret = check_room(v, v->gd_sectors) ||
	      out_write(v->o, buf, v->gd_sectors * VMDK_SECTOR,
			gd_at * VMDK_SECTOR);
	free(buf);
	if (ret)
		return -1;
	v->next += v->gd_sectors;
	if (write_marker(v, 1, VMDK_MARKER_FOOTER))
		return -1;
	fill_header(v, h, gd_at);
	if (out_write(v->o, h, sizeof(h), v->next * VMDK_SECTOR))
		return -1;
	v->next++;
	if (write_marker(v, 0, VMDK_MARKER_EOS))
		return -1;
	/* A stream got its header first (vmdk_writer_new). */
	if (v->o->pipe)
		return 0;
	return write_header_and_descriptor(v, VMDK_GD_AT_END);
}

/*------------------------------------------------------------------------*/

static void vw_destroy(struct writer *w)
{
	struct vmdk_writer *v = (struct vmdk_writer *)w;

	workpool_free(v->pool);
	codecs_free(v->codecs, v->ncodecs);
	free(v->gt);
	free(v->gd);
	free(v->desc);
	free(v);
}

static bool name_fits_descriptor(const char *name)
{
	return !strpbrk(name, "\"\n\r") && strlen(name) <= VMDK_MAX_PATH;
}

static int plan_layout(struct vmdk_writer *v)
{
	const struct export_params *p = v->p;
	uint64_t ngrains;

	v->grain_sectors = p->unit / VMDK_SECTOR;
	v->capacity = div_round_up(p->size, VMDK_SECTOR);
	ngrains = div_round_up(v->capacity, v->grain_sectors);
	v->ngts = div_round_up(ngrains, VMDK_MAX_GTES);
	if (!v->ngts)
		v->ngts = 1;
	v->gd_sectors = div_round_up(v->ngts * 4, VMDK_SECTOR);
	if (build_descriptor(v))
		return -1;
	if (p->stream) {
		v->overhead = 1 + v->desc_sectors;
	} else {
		v->rgd_offset = 1 + v->desc_sectors;
		v->gd_offset = v->rgd_offset + v->gd_sectors +
			       v->ngts * GT_SECTORS;
		v->overhead = v->gd_offset + v->gd_sectors +
			      v->ngts * GT_SECTORS;
	}
	v->overhead = div_round_up(v->overhead, v->grain_sectors) *
		      v->grain_sectors;
	v->next = v->overhead;
	if (v->next > UINT32_MAX) {
		err_msg("%s: too large for VMDK", v->o->path);
		return -1;
	}
	return 0;
}

struct writer *vmdk_writer_new(const struct out_file *o,
			       const struct export_params *p)
{
	struct vmdk_writer *v;

	if (!is_pow2(p->unit) || p->unit < VMDK_SECTOR ||
	    p->unit > VMDK_WRITE_MAX_GRAIN) {
		err_msg("%s: grain size %" PRIu64 " is not a power of two up "
			"to 64 KiB", o->path, p->unit);
		return NULL;
	}
	if (!name_fits_descriptor(p->extent_name) ||
	    (p->backing && !name_fits_descriptor(p->backing))) {
		err_msg("%s: a file name with a quote or newline, or longer "
			"than 4096 bytes, cannot go into a VMDK descriptor",
			o->path);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		err_msg("%s: out of memory", o->path);
		return NULL;
	}
	v->o = o;
	v->p = p;
	v->cid = new_cid();
	v->cur_gt = UINT64_MAX;
	v->w.destroy = vw_destroy;
	v->w.put = p->stream ? stream_put : sparse_put;
	v->w.finish = p->stream ? stream_finish : sparse_finish;
	if (plan_layout(v))
		goto fail;
	v->gt = calloc(VMDK_MAX_GTES, sizeof(*v->gt));
	if (!v->gt)
		goto oom;
	if (p->stream) {
		unsigned int n = p->threads ? p->threads : 1;

		v->gd = calloc(v->ngts, sizeof(*v->gd));
		if (!v->gd)
			goto oom;
		v->codecs = codecs_new(CODEC_VMDK_ZLIB, n, o->path);
		if (!v->codecs)
			goto fail;
		v->ncodecs = n;
		v->pool = workpool_new(n, p->unit, ZBUF_BYTES(p->unit),
				       stream_compress,
				       (void *const *)v->codecs, stream_place,
				       v, o->path);
		if (!v->pool)
			goto fail;
	}
	/*
	 * To standard output everything goes in order: the header (it
	 * does not depend on the grains: the GD is "at end") comes first.
	 */
	if (o->pipe && (!p->stream ||
			write_header_and_descriptor(v, VMDK_GD_AT_END)))
		goto fail;
	return &v->w;
oom:
	err_msg("%s: out of memory", o->path);
fail:
	vw_destroy(&v->w);
	return NULL;
}
