// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 version 3 writer, in one pass, in guest order:
 *
 *   cluster 0          header, backing format extension, backing name
 *   then, as they come data clusters (or compressed data, packed byte
 *                      after byte), each L2 table once put() has moved
 *                      past its range, and each refcount block once the
 *                      file has grown past the clusters it counts
 *   at the end         L1 table, refcount table, last refcount block
 *
 * Only the L2 tables that map something are written: a range with no data
 * and no zero cluster has no L2 table at all. Every normal cluster is used
 * once (refcount 1, COPIED flag); a cluster holding compressed data counts
 * the compressed clusters that touch it, as QEMU does. Memory is the L1
 * table (the format's own), one L2 table, one refcount block and the
 * refcount table, whatever the virtual size; `qemu-img check` finds
 * neither errors nor leaks.
 *
 * With --compress, put() queues each cluster to a work pool that
 * compresses on worker threads; the results come back in order and are
 * placed by qw_place() on this thread. A cluster that does not compress
 * to less than a cluster is stored as is.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/compress.h"
#include "image/export.h"
#include "image/image.h"
#include "image/qcow2.h"
#include "image/workpool.h"
#include "util.h"

#define REFCOUNT_ORDER	4	/* 16-bit refcounts, QEMU's default */
#define REFCOUNT_MAX	0xffffu
#define HEADER_LEN	112	/* v3 with the compression type, padded */
#define COMPRESSION_ZSTD 1

struct qcow2_writer {
	struct writer w;
	const struct out_file *o;
	const struct export_params *p;
	unsigned int cluster_bits;
	uint64_t cluster;
	uint64_t l2_entries;
	uint64_t l1_size;
	uint64_t *l1;		/* host offsets of the written L2 tables */
	uint64_t *l2;		/* the L2 table being filled */
	uint64_t l2_index;	/* its L1 index, or UINT64_MAX */
	uint64_t last_index;	/* last unit put, for the order check */
	uint8_t *buf;		/* one cluster, for tables */
	uint64_t next;		/* next free cluster of the file (bytes) */
	uint64_t cpos;		/* next free byte after compressed data */

	/* Refcounts: the block being counted, and the table so far. */
	uint64_t per_block;	/* clusters counted by one block */
	uint16_t *rc;
	uint64_t rc_index;	/* which block rc is */
	uint64_t *rt;
	uint64_t rt_len, rt_cap;
	uint64_t *pending;	/* clusters of flushed blocks, to count */
	size_t npending, pending_cap;

	/* Compression */
	enum codec_kind codec;
	struct codec **codecs;
	unsigned int ncodecs;
	struct workpool *pool;
	unsigned int csize_shift;
};

/*------------------------------------------------------------------------*/
/* Refcounts, written as the file grows */

static int push_u64(uint64_t **v, uint64_t *len, uint64_t *cap, uint64_t x)
{
	if (*len == *cap) {
		uint64_t n = *cap ? *cap * 2 : 64;
		uint64_t *nv = realloc(*v, n * sizeof(**v));

		if (!nv)
			return -1;
		*v = nv;
		*cap = n;
	}
	(*v)[(*len)++] = x;
	return 0;
}

static int write_rc_block(struct qcow2_writer *q, uint64_t at)
{
	uint64_t i;

	memset(q->buf, 0, q->cluster);
	for (i = 0; i < q->per_block; i++)
		put_be16(q->buf + i * 2, q->rc[i]);
	if (out_write(q->o, q->buf, q->cluster, at))
		return -1;
	if (q->rt_len * 8 >= QCOW2_MAX_REFTABLE_BYTES) {
		err_msg("%s: image too large for an 8 MiB refcount table",
			q->o->path);
		return -1;
	}
	if (push_u64(&q->rt, &q->rt_len, &q->rt_cap, at)) {
		err_msg("%s: out of memory for the refcount table",
			q->o->path);
		return -1;
	}
	memset(q->rc, 0, q->per_block * sizeof(*q->rc));
	q->rc_index++;
	return 0;
}

/*
 * The file has grown past block rc_index: write it in the next free
 * cluster. That cluster is in a later block; it is counted once the
 * allocation being counted is done (pending).
 */
static int flush_rc_block(struct qcow2_writer *q)
{
	uint64_t at = div_round_up(q->next, q->cluster) * q->cluster;
	uint64_t n = q->npending;

	q->next = at + q->cluster;
	if (write_rc_block(q, at))
		return -1;
	if (push_u64(&q->pending, &n, (uint64_t *)&q->pending_cap,
		     at >> q->cluster_bits)) {
		err_msg("%s: out of memory", q->o->path);
		return -1;
	}
	q->npending = (size_t)n;
	return 0;
}

static int count_one(struct qcow2_writer *q, uint64_t c)
{
	while (c / q->per_block > q->rc_index)
		if (flush_rc_block(q))
			return -1;
	q->rc[c % q->per_block]++;
	return 0;
}

/* One more reference to clusters [first, first + n). */
static int count(struct qcow2_writer *q, uint64_t first, uint64_t n)
{
	uint64_t c;
	size_t i;

	for (c = first; c < first + n; c++)
		if (count_one(q, c))
			return -1;
	/* Blocks flushed on the way sit in clusters counted only now. */
	for (i = 0; i < q->npending; i++)
		if (count_one(q, q->pending[i]))
			return -1;
	q->npending = 0;
	return 0;
}

/* @n whole clusters; returns their byte offset in *at. */
static int alloc_clusters(struct qcow2_writer *q, uint64_t n, uint64_t *at)
{
	*at = div_round_up(q->next, q->cluster) * q->cluster;
	q->next = *at + n * q->cluster;
	return count(q, *at >> q->cluster_bits, n);
}

/*
 * @len bytes of compressed data: in the room left in the cluster of the
 * previous compressed data when there is some, running on into new
 * clusters when that cluster is the last of the file, else from a new
 * cluster. Normal clusters are allocated past it, so data that does not
 * compress wastes no partial cluster.
 */
static int alloc_bytes(struct qcow2_writer *q, uint64_t len, uint64_t *at)
{
	uint64_t c = q->cpos >> q->cluster_bits, end, first;
	bool room = q->cpos % q->cluster && c / q->per_block == q->rc_index &&
		    q->rc[c % q->per_block] < REFCOUNT_MAX;

	if (room && q->cpos + len <= (c + 1) << q->cluster_bits) {
		*at = q->cpos;
		q->cpos += len;
		return count(q, c, 1);
	}
	if (room && (c + 1) << q->cluster_bits == q->next) {
		/* Run on from the last cluster of the file. */
		*at = q->cpos;
		first = c;
	} else {
		*at = q->next;
		first = q->next >> q->cluster_bits;
	}
	end = *at + len;
	q->cpos = end;
	q->next = div_round_up(end, q->cluster) << q->cluster_bits;
	return count(q, first, (q->next >> q->cluster_bits) - first);
}

/*------------------------------------------------------------------------*/
/* L2 tables */

static int write_table(struct qcow2_writer *q, const uint64_t *v, uint64_t n,
		       uint64_t at)
{
	uint64_t i;

	memset(q->buf, 0, q->cluster);
	for (i = 0; i < n; i++)
		put_be64(q->buf + i * 8, v[i]);
	return out_write(q->o, q->buf, q->cluster, at);
}

static int flush_l2(struct qcow2_writer *q)
{
	uint64_t at;

	if (q->l2_index == UINT64_MAX)
		return 0;
	if (alloc_clusters(q, 1, &at) ||
	    write_table(q, q->l2, q->l2_entries, at))
		return -1;
	q->l1[q->l2_index] = at | QCOW2_OFLAG_COPIED;
	q->l2_index = UINT64_MAX;
	return 0;
}

/* The L2 entry for unit @index, after writing out any finished table. */
static uint64_t *l2_entry(struct qcow2_writer *q, uint64_t index)
{
	uint64_t l1i = index / q->l2_entries;

	if (l1i != q->l2_index) {
		if (flush_l2(q))
			return NULL;
		memset(q->l2, 0, q->l2_entries * sizeof(*q->l2));
		q->l2_index = l1i;
	}
	return &q->l2[index % q->l2_entries];
}

/*------------------------------------------------------------------------*/
/* Units */

static int check_index(struct qcow2_writer *q, uint64_t index)
{
	if (index / q->l2_entries >= q->l1_size) {
		err_msg("%s: cluster %" PRIu64 " is past the end of the image",
			q->o->path, index);
		return -1;
	}
	if (q->last_index != UINT64_MAX && index <= q->last_index) {
		err_msg("%s: internal error: clusters out of order",
			q->o->path);
		return -1;
	}
	q->last_index = index;
	return 0;
}

/* Place one unit: @data NULL for zeroes; @z/@zlen its compressed form. */
static int qw_place(struct qcow2_writer *q, uint64_t index,
		    const uint8_t *data, const uint8_t *z, size_t zlen)
{
	uint64_t *e = l2_entry(q, index), at;

	if (!e)
		return -1;
	if (!data) {
		*e = QCOW2_OFLAG_ZERO;
		q->w.zero_units++;
		return 0;
	}
	q->w.data_units++;
	if (zlen) {
		if (alloc_bytes(q, zlen, &at) || out_write(q->o, z, zlen, at))
			return -1;
		*e = QCOW2_OFLAG_COMPRESSED | at |
		     (((at + zlen - 1) >> 9) - (at >> 9)) << q->csize_shift;
		q->w.compressed_units++;
		return 0;
	}
	if (alloc_clusters(q, 1, &at) || out_write(q->o, data, q->cluster, at))
		return -1;
	*e = at | QCOW2_OFLAG_COPIED;
	return 0;
}

static size_t qw_compress(void *tctx, const uint8_t *in, size_t len,
			  uint8_t *out, size_t cap)
{
	/* Worth it only below a cluster, as QEMU decides. */
	return codec_compress(tctx, in, len, out, cap < len ? cap : len - 1);
}

static int qw_done(void *dctx, uint64_t index, const uint8_t *in, size_t len,
		   uint8_t *out, size_t out_len)
{
	return qw_place(dctx, index, len ? in : NULL, out, out_len);
}

static int qw_put(struct writer *w, uint64_t index, const uint8_t *data)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;
	uint8_t *in;

	if (check_index(q, index))
		return -1;
	if (!q->pool)
		return qw_place(q, index, data, NULL, 0);
	in = workpool_input(q->pool);
	if (!in)
		return -1;
	if (data)
		memcpy(in, data, q->cluster);
	return workpool_submit(q->pool, index, data ? q->cluster : 0);
}

/*------------------------------------------------------------------------*/
/* Finish */

/*
 * The refcount table and the last refcount block go at the end, in the
 * block being counted; when they do not fit there, that block is written
 * first and the file moves on to the next.
 */
static int write_refcounts(struct qcow2_writer *q, uint64_t *rt_offset,
			   uint64_t *rt_clusters)
{
	for (;;) {
		uint64_t n = div_round_up((q->rt_len + 1) * 8, q->cluster);
		uint64_t first = div_round_up(q->next, q->cluster);
		uint64_t end = first + n + 1, i;
		uint64_t *table;
		int ret;

		if (first / q->per_block > q->rc_index) {
			/* The file ends right at the end of this block. */
			if (flush_rc_block(q) || count(q, 0, 0))
				return -1;
			continue;
		}
		if ((end - 1) / q->per_block > q->rc_index) {
			/*
			 * Table and block do not fit: close this block in
			 * its own first free cluster and go on in the next
			 * (the clusters between stay unused holes).
			 */
			q->rc[first % q->per_block]++;
			if (write_rc_block(q, first << q->cluster_bits))
				return -1;
			q->next = q->rc_index * q->per_block << q->cluster_bits;
			continue;
		}
		for (i = first; i < end; i++)
			q->rc[i % q->per_block]++;
		q->next = end << q->cluster_bits;
		if (write_rc_block(q, (end - 1) << q->cluster_bits))
			return -1;
		table = calloc(n * q->cluster / 8, sizeof(*table));
		if (!table) {
			err_msg("%s: out of memory for refcounts", q->o->path);
			return -1;
		}
		memcpy(table, q->rt, q->rt_len * sizeof(*table));
		for (i = 0, ret = 0; i < n && !ret; i++)
			ret = write_table(q, table + i * q->cluster / 8,
					  q->cluster / 8,
					  (first + i) << q->cluster_bits);
		free(table);
		*rt_offset = first << q->cluster_bits;
		*rt_clusters = n;
		return ret;
	}
}

static int write_header(struct qcow2_writer *q, uint64_t l1_offset,
			uint64_t rt_offset, uint64_t rt_clusters)
{
	const struct export_params *p = q->p;
	uint8_t *h = q->buf;
	uint64_t off = HEADER_LEN;

	memset(h, 0, q->cluster);
	put_be32(h + 0, QCOW2_MAGIC);
	put_be32(h + 4, 3);
	put_be32(h + 20, q->cluster_bits);
	/* QEMU reads the size in 512-byte sectors: round up, never down. */
	put_be64(h + 24, div_round_up(p->size, 512) * 512);
	put_be32(h + 36, (uint32_t)q->l1_size);
	put_be64(h + 40, l1_offset);
	put_be64(h + 48, rt_offset);
	put_be32(h + 56, (uint32_t)rt_clusters);
	if (q->codec == CODEC_QCOW2_ZSTD) {
		put_be64(h + 72, QCOW2_INCOMPAT_COMPRESSION);
		h[104] = COMPRESSION_ZSTD;
	}
	put_be32(h + 96, REFCOUNT_ORDER);
	put_be32(h + 100, HEADER_LEN);
	if (p->backing_format) {
		size_t n = strlen(p->backing_format);

		put_be32(h + off, QCOW2_EXT_BACKING_FMT);
		put_be32(h + off + 4, (uint32_t)n);
		memcpy(h + off + 8, p->backing_format, n);
		off += 8 + ((n + 7) & ~(size_t)7);
	}
	off += 8;		/* end of extensions: type 0, length 0 */
	if (p->backing) {
		size_t n = strlen(p->backing);

		put_be64(h + 8, off);
		put_be32(h + 16, (uint32_t)n);
		memcpy(h + off, p->backing, n);
	}
	return out_write(q->o, h, q->cluster, 0);
}

static int qw_finish(struct writer *w)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;
	uint64_t l1_offset, l1_clusters, rt_offset, rt_clusters, i;

	if ((q->pool && workpool_drain(q->pool)) || flush_l2(q))
		return -1;
	l1_clusters = div_round_up(q->l1_size * 8, q->cluster);
	if (alloc_clusters(q, l1_clusters, &l1_offset))
		return -1;
	for (i = 0; i < l1_clusters; i++) {
		uint64_t per = q->cluster / 8, from = i * per;
		uint64_t n = q->l1_size - from < per ? q->l1_size - from : per;

		if (write_table(q, q->l1 + from, n,
				l1_offset + (i << q->cluster_bits)))
			return -1;
	}
	if (write_refcounts(q, &rt_offset, &rt_clusters))
		return -1;
	return write_header(q, l1_offset, rt_offset, rt_clusters);
}

static void qw_destroy(struct writer *w)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;

	workpool_free(q->pool);
	codecs_free(q->codecs, q->ncodecs);
	free(q->l1);
	free(q->l2);
	free(q->buf);
	free(q->rc);
	free(q->rt);
	free(q->pending);
	free(q);
}

static int start_pool(struct qcow2_writer *q)
{
	unsigned int n = q->p->threads ? q->p->threads : 1;

	q->codec = q->p->compress == EXPORT_COMPRESS_ZSTD ? CODEC_QCOW2_ZSTD :
		   CODEC_QCOW2_DEFLATE;
	q->codecs = codecs_new(q->codec, n, q->o->path);
	if (!q->codecs)
		return -1;
	q->ncodecs = n;
	q->pool = workpool_new(n, q->cluster, q->cluster, qw_compress,
			       (void *const *)q->codecs, qw_done, q,
			       q->o->path);
	return q->pool ? 0 : -1;
}

struct writer *qcow2_writer_new(const struct out_file *o,
				const struct export_params *p)
{
	struct qcow2_writer *q;
	uint64_t coverage, at;

	if (!is_pow2(p->unit) || p->unit < 4096 ||
	    p->unit > QCOW2_WRITE_MAX_CLUSTER) {
		err_msg("%s: cluster size %" PRIu64 " is not a power of two "
			"in 4 KiB..2 MiB", o->path, p->unit);
		return NULL;
	}
	if (p->backing && strlen(p->backing) > QCOW2_MAX_BACKING_NAME) {
		err_msg("%s: backing file name longer than %d bytes", o->path,
			QCOW2_MAX_BACKING_NAME);
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		err_msg("%s: out of memory", o->path);
		return NULL;
	}
	q->w.put = qw_put;
	q->w.finish = qw_finish;
	q->w.destroy = qw_destroy;
	q->o = o;
	q->p = p;
	q->cluster = p->unit;
	q->cluster_bits = (unsigned int)__builtin_ctzll(p->unit);
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->l2_entries = q->cluster / 8;
	q->l2_index = UINT64_MAX;
	q->last_index = UINT64_MAX;
	q->per_block = q->cluster * 8 >> REFCOUNT_ORDER;
	coverage = q->l2_entries * q->cluster;
	q->l1_size = div_round_up(p->size, coverage);
	if (!q->l1_size)
		q->l1_size = 1;
	if (q->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		err_msg("%s: %" PRIu64 " bytes need an L1 table larger than "
			"32 MiB with %" PRIu64 "-byte clusters", o->path,
			p->size, q->cluster);
		free(q);
		return NULL;
	}
	q->l1 = calloc(q->l1_size, sizeof(*q->l1));
	q->l2 = calloc(q->l2_entries, sizeof(*q->l2));
	q->buf = malloc(q->cluster);
	q->rc = calloc(q->per_block, sizeof(*q->rc));
	if (!q->l1 || !q->l2 || !q->buf || !q->rc) {
		err_msg("%s: out of memory", o->path);
		qw_destroy(&q->w);
		return NULL;
	}
	/* Cluster 0 is the header, written last. */
	if (alloc_clusters(q, 1, &at) ||
	    (p->compress != EXPORT_COMPRESS_NONE && start_pool(q))) {
		qw_destroy(&q->w);
		return NULL;
	}
	return &q->w;
}
