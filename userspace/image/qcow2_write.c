// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 version 3 writer, in linear passes:
 *
 *   cluster 0          header, backing format extension, backing name
 *   data clusters      appended as put() hands them over
 *   L2 tables          only those that map something
 *   L1 table
 *   refcount blocks    every cluster above is in use exactly once
 *   refcount table
 *
 * Because every cluster of the file is used exactly once and nothing is
 * shared, all refcounts are 1, every L1/L2 pointer carries the COPIED
 * flag, and `qemu-img check` finds neither errors nor leaks. Memory holds
 * only the L2 tables that map something (8 bytes per cluster of them).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/export.h"
#include "image/image.h"
#include "image/qcow2.h"
#include "util.h"

#define REFCOUNT_ORDER	4	/* 16-bit refcounts, QEMU's default */

struct qcow2_writer {
	struct writer w;
	const struct out_file *o;
	const struct export_params *p;
	unsigned int cluster_bits;
	uint64_t cluster;
	uint64_t l2_entries;
	uint64_t l1_size;
	uint64_t **l2;		/* per L1 entry: NULL or l2_entries entries */
	uint64_t next;		/* next free host offset */
};

static int qw_put(struct writer *w, uint64_t index, const uint8_t *data)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;
	uint64_t l1i = index / q->l2_entries;

	if (l1i >= q->l1_size) {
		err_msg("%s: cluster %" PRIu64 " is past the end of the image",
			q->o->path, index);
		return -1;
	}
	if (!q->l2[l1i]) {
		q->l2[l1i] = calloc(q->l2_entries, sizeof(uint64_t));
		if (!q->l2[l1i]) {
			err_msg("%s: out of memory for an L2 table",
				q->o->path);
			return -1;
		}
	}
	if (!data) {
		q->l2[l1i][index % q->l2_entries] = QCOW2_OFLAG_ZERO;
		w->zero_units++;
		return 0;
	}
	if (out_write(q->o, data, q->cluster, q->next))
		return -1;
	q->l2[l1i][index % q->l2_entries] = q->next | QCOW2_OFLAG_COPIED;
	q->next += q->cluster;
	w->data_units++;
	return 0;
}

/* Write @n big-endian 64-bit entries as whole clusters at q->next. */
static int write_be64_table(struct qcow2_writer *q, const uint64_t *v,
			    uint64_t n, uint64_t *at)
{
	uint64_t clusters = div_round_up(n * 8, q->cluster), i;
	uint8_t *buf = calloc(clusters, q->cluster);
	int ret;

	if (!buf) {
		err_msg("%s: out of memory for a table", q->o->path);
		return -1;
	}
	for (i = 0; i < n; i++)
		put_be64(buf + i * 8, v[i]);
	*at = q->next;
	ret = out_write(q->o, buf, clusters * q->cluster, q->next);
	q->next += clusters * q->cluster;
	free(buf);
	return ret;
}

static int write_l2_and_l1(struct qcow2_writer *q, uint64_t *l1_offset)
{
	uint64_t *l1 = calloc(q->l1_size, sizeof(*l1)), i, at;
	int ret = 0;

	if (!l1) {
		err_msg("%s: out of memory for the L1 table", q->o->path);
		return -1;
	}
	for (i = 0; i < q->l1_size && !ret; i++) {
		if (!q->l2[i])
			continue;
		ret = write_be64_table(q, q->l2[i], q->l2_entries, &at);
		l1[i] = at | QCOW2_OFLAG_COPIED;
	}
	if (!ret)
		ret = write_be64_table(q, l1, q->l1_size, l1_offset);
	free(l1);
	return ret;
}

/*
 * Refcount blocks and table cover every cluster including themselves:
 * grow both until they cover what is in use.
 */
static int write_refcounts(struct qcow2_writer *q, uint64_t *table_offset,
			   uint64_t *table_clusters)
{
	uint64_t per_block = q->cluster * 8 >> REFCOUNT_ORDER;
	uint64_t used = q->next / q->cluster, blocks = 0, tclusters = 0;
	uint64_t total, b, i, *table;
	uint8_t *buf;
	int ret = 0;

	for (;;) {
		uint64_t nb, nt;

		total = used + blocks + tclusters;
		nb = div_round_up(total, per_block);
		nt = div_round_up(nb * 8, q->cluster);
		if (nb == blocks && nt == tclusters)
			break;
		blocks = nb;
		tclusters = nt;
	}
	if (tclusters * q->cluster > QCOW2_MAX_REFTABLE_BYTES) {
		err_msg("%s: image too large for an 8 MiB refcount table",
			q->o->path);
		return -1;
	}
	buf = malloc(q->cluster);
	table = calloc(tclusters * q->cluster / 8, sizeof(*table));
	if (!buf || !table) {
		free(buf);
		free(table);
		err_msg("%s: out of memory for refcounts", q->o->path);
		return -1;
	}
	for (b = 0; b < blocks && !ret; b++) {
		memset(buf, 0, q->cluster);
		for (i = 0; i < per_block && b * per_block + i < total; i++)
			put_be16(buf + i * 2, 1);
		table[b] = q->next;
		ret = out_write(q->o, buf, q->cluster, q->next);
		q->next += q->cluster;
	}
	free(buf);
	if (!ret)
		ret = write_be64_table(q, table, tclusters * q->cluster / 8,
				       table_offset);
	free(table);
	*table_clusters = tclusters;
	return ret;
}

static int write_header(struct qcow2_writer *q, uint64_t l1_offset,
			uint64_t rt_offset, uint64_t rt_clusters)
{
	const struct export_params *p = q->p;
	uint8_t *h = calloc(1, q->cluster);
	uint64_t off = QCOW2_V3_HEADER_LEN;
	int ret;

	if (!h) {
		err_msg("%s: out of memory", q->o->path);
		return -1;
	}
	put_be32(h + 0, QCOW2_MAGIC);
	put_be32(h + 4, 3);
	put_be32(h + 20, q->cluster_bits);
	/* QEMU reads the size in 512-byte sectors: round up, never down. */
	put_be64(h + 24, div_round_up(p->size, 512) * 512);
	put_be32(h + 36, (uint32_t)q->l1_size);
	put_be64(h + 40, l1_offset);
	put_be64(h + 48, rt_offset);
	put_be32(h + 56, (uint32_t)rt_clusters);
	put_be32(h + 96, REFCOUNT_ORDER);
	put_be32(h + 100, QCOW2_V3_HEADER_LEN);
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
	ret = out_write(q->o, h, q->cluster, 0);
	free(h);
	return ret;
}

static int qw_finish(struct writer *w)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;
	uint64_t l1_offset, rt_offset, rt_clusters;

	if (write_l2_and_l1(q, &l1_offset) ||
	    write_refcounts(q, &rt_offset, &rt_clusters))
		return -1;
	return write_header(q, l1_offset, rt_offset, rt_clusters);
}

static void qw_destroy(struct writer *w)
{
	struct qcow2_writer *q = (struct qcow2_writer *)w;
	uint64_t i;

	for (i = 0; i < q->l1_size; i++)
		free(q->l2[i]);
	free(q->l2);
	free(q);
}

struct writer *qcow2_writer_new(const struct out_file *o,
				const struct export_params *p)
{
	struct qcow2_writer *q;
	uint64_t coverage;

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
	q->l2_entries = q->cluster / 8;
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
	q->l2 = calloc(q->l1_size, sizeof(*q->l2));
	if (!q->l2) {
		err_msg("%s: out of memory", o->path);
		free(q);
		return NULL;
	}
	q->next = q->cluster;	/* cluster 0 is the header */
	return &q->w;
}
