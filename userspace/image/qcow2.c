// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 reader: header, feature bits, header extensions, refcount table,
 * snapshot table and the active L1/L2 tables, versions 2 and 3 with
 * compressed clusters, the zero flag and extended L2 (subclusters).
 *
 * Opening validates everything that is table-sized: the header, the L1
 * table, the refcount table, the snapshot table and every L2 table offset,
 * and it records each of them as a metadata region. The map walk then
 * validates each L2 entry as it goes (aligned, inside the file, not inside
 * metadata). Nothing named by the image (backing file, data file) is ever
 * opened.
 */
#include "image/qcow2.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/decompress.h"

#define HDR_MAGIC		0
#define HDR_VERSION		4
#define HDR_BACKING_OFFSET	8
#define HDR_BACKING_SIZE	16
#define HDR_CLUSTER_BITS	20
#define HDR_SIZE		24
#define HDR_CRYPT_METHOD	32
#define HDR_L1_SIZE		36
#define HDR_L1_OFFSET		40
#define HDR_REFT_OFFSET		48
#define HDR_REFT_CLUSTERS	56
#define HDR_NB_SNAPSHOTS	60
#define HDR_SNAPSHOTS_OFFSET	64
#define HDR_INCOMPAT		72
#define HDR_COMPAT		80
#define HDR_AUTOCLEAR		88
#define HDR_REFCOUNT_ORDER	96
#define HDR_HEADER_LENGTH	100
#define HDR_COMPRESSION_TYPE	104

bool qcow2_probe(const uint8_t *head, size_t len)
{
	return len >= 4 && get_be32(head) == QCOW2_MAGIC;
}

const char *qcow2_feature_name(const struct qcow2 *q, unsigned int type,
			       unsigned int bit)
{
	size_t i;

	for (i = 0; i < q->nnames; i++)
		if (q->names[i].type == type && q->names[i].bit == bit)
			return q->names[i].name;
	return NULL;
}

/* Check that a table of @bytes at @off is cluster aligned and in the file. */
static int check_table(const struct image *img, const struct qcow2 *q,
		       const char *field, uint64_t off, uint64_t bytes)
{
	if (off & (q->cluster_size - 1))
		return img_error(&img->src, field,
				 "offset %" PRIu64 " is not aligned to the "
				 "cluster size (%" PRIu64 ")", off,
				 q->cluster_size);
	if (!range_inside(off, bytes, img->src.size))
		return img_error(&img->src, field,
				 "%" PRIu64 " bytes at offset %" PRIu64
				 " are past the end of the file (%" PRIu64
				 " bytes)", bytes, off, img->src.size);
	return 0;
}

/*------------------------------------------------------------------------*/
/* Header */

static int parse_incompatible(struct image *img, struct qcow2 *q)
{
	uint64_t unknown = q->incompatible & ~QCOW2_INCOMPAT_KNOWN;

	if (unknown) {
		unsigned int bit = (unsigned int)__builtin_ctzll(unknown);
		const char *name = qcow2_feature_name(q, 0, bit);
		char *text = name ? img_printable(name, strlen(name)) : NULL;
		int ret;

		ret = img_error(&img->src, "incompatible_features",
				"unsupported feature bit %u%s%s%s", bit,
				text ? " (" : "", text ? text : "",
				text ? ")" : "");
		free(text);
		return ret;
	}
	if (q->incompatible & QCOW2_INCOMPAT_CORRUPT)
		return img_error(&img->src, "incompatible_features",
				 "the image is marked corrupt (bit 1); "
				 "'qemu-img check -r all' may repair it");
	if ((q->incompatible & QCOW2_INCOMPAT_DATA_FILE) && !q->data_file)
		return img_error(&img->src, "incompatible_features",
				 "external data file bit set but no data "
				 "file name extension");
	if (q->compression_type > 1)
		return img_error(&img->src, "compression_type",
				 "unknown compression type %u",
				 q->compression_type);
	if (q->compression_type &&
	    !(q->incompatible & QCOW2_INCOMPAT_COMPRESSION))
		return img_error(&img->src, "compression_type",
				 "compression type %u without the "
				 "compression type feature bit",
				 q->compression_type);
	return 0;
}

static int parse_fixed_header(struct image *img, struct qcow2 *q,
			      const uint8_t *h)
{
	const struct img_src *s = &img->src;

	q->version = get_be32(h + HDR_VERSION);
	if (q->version != 2 && q->version != 3)
		return img_error(s, "version", "unsupported qcow2 version %"
				 PRIu32, q->version);
	q->cluster_bits = get_be32(h + HDR_CLUSTER_BITS);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return img_error(s, "cluster_bits", "%" PRIu32 " is outside "
				 "%d..%d", q->cluster_bits,
				 QCOW2_MIN_CLUSTER_BITS,
				 QCOW2_MAX_CLUSTER_BITS);
	q->cluster_size = 1ULL << q->cluster_bits;
	q->size = get_be64(h + HDR_SIZE);
	q->crypt_method = get_be32(h + HDR_CRYPT_METHOD);
	if (q->crypt_method > 2)
		return img_error(s, "crypt_method", "unknown encryption "
				 "method %" PRIu32, q->crypt_method);
	q->l1_size = get_be32(h + HDR_L1_SIZE);
	q->l1_table_offset = get_be64(h + HDR_L1_OFFSET);
	q->refcount_table_offset = get_be64(h + HDR_REFT_OFFSET);
	q->refcount_table_clusters = get_be32(h + HDR_REFT_CLUSTERS);
	q->nb_snapshots = get_be32(h + HDR_NB_SNAPSHOTS);
	q->snapshots_offset = get_be64(h + HDR_SNAPSHOTS_OFFSET);

	if (q->version == 2) {
		q->header_length = QCOW2_V2_HEADER_LEN;
		q->refcount_order = 4;
		return 0;
	}
	q->incompatible = get_be64(h + HDR_INCOMPAT);
	q->compatible = get_be64(h + HDR_COMPAT);
	q->autoclear = get_be64(h + HDR_AUTOCLEAR);
	q->refcount_order = get_be32(h + HDR_REFCOUNT_ORDER);
	if (q->refcount_order > 6)
		return img_error(s, "refcount_order", "%" PRIu32 " is larger "
				 "than 6 (64-bit refcounts)",
				 q->refcount_order);
	q->header_length = get_be32(h + HDR_HEADER_LENGTH);
	if (q->header_length < QCOW2_V3_HEADER_LEN)
		return img_error(s, "header_length", "%" PRIu32 " is shorter "
				 "than the version 3 header (%d bytes)",
				 q->header_length, QCOW2_V3_HEADER_LEN);
	if (q->header_length > q->cluster_size)
		return img_error(s, "header_length", "%" PRIu32 " bytes do "
				 "not fit in cluster 0 (%" PRIu64 " bytes)",
				 q->header_length, q->cluster_size);
	q->extended_l2 = q->incompatible & QCOW2_INCOMPAT_EXTL2;
	if (q->extended_l2 && q->cluster_bits < 14)
		return img_error(s, "incompatible_features", "extended L2 "
				 "needs clusters of 16 KiB or more, not %"
				 PRIu64, q->cluster_size);
	return 0;
}

/*------------------------------------------------------------------------*/
/* Header extensions and the backing file name, all inside cluster 0 */

static char *dup_bytes(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

static int parse_feature_names(struct image *img, struct qcow2 *q,
			       const uint8_t *p, uint32_t len)
{
	size_t n = len / 48, i;

	free(q->names);
	q->names = calloc(n ? n : 1, sizeof(*q->names));
	if (!q->names)
		return img_error(&img->src, "feature name table",
				 "out of memory");
	for (i = 0; i < n; i++) {
		q->names[i].type = p[i * 48];
		q->names[i].bit = p[i * 48 + 1];
		memcpy(q->names[i].name, p + i * 48 + 2, 46);
		q->names[i].name[46] = '\0';
	}
	q->nnames = n;
	return 0;
}

/* A name-carrying extension: at most once, and at most @max bytes. */
static int check_name_ext(const struct img_src *s, const char *what,
			  bool seen, uint32_t len, int max)
{
	if (seen)
		return img_error(s, what, "appears twice");
	if (len > (uint32_t)max)
		return img_error(s, what, "%" PRIu32 " bytes, more than %d",
				 len, max);
	return 0;
}

static int parse_one_extension(struct image *img, struct qcow2 *q,
			       uint32_t type, const uint8_t *p, uint32_t len)
{
	const struct img_src *s = &img->src;

	switch (type) {
	case QCOW2_EXT_BACKING_FMT:
		if (check_name_ext(s, "backing format extension",
				   q->has_backing_fmt_ext, len,
				   QCOW2_MAX_BACKING_FMT))
			return -1;
		q->has_backing_fmt_ext = true;
		img->backing_format = dup_bytes(p, len);
		break;
	case QCOW2_EXT_FEATURE_NAMES:
		return parse_feature_names(img, q, p, len);
	case QCOW2_EXT_DATA_FILE:
		if (check_name_ext(s, "data file extension", q->data_file != NULL,
				   len, QCOW2_MAX_BACKING_NAME))
			return -1;
		q->data_file = dup_bytes(p, len);
		break;
	default:
		/* Bitmaps, encryption and unknown ones: not needed here. */
		break;
	}
	return 0;
}

/*
 * Extensions follow the header and end with type 0, or where the backing
 * file name starts (old version 2 images put the name right after the
 * header, with no extensions and no end marker).
 */
static int parse_extensions(struct image *img, struct qcow2 *q,
			    const uint8_t *h, const uint8_t *c0,
			    uint64_t c0_len)
{
	uint64_t off = q->header_length;
	uint64_t end = get_be64(h + HDR_BACKING_OFFSET);

	if (!end || end > c0_len)
		end = c0_len;
	while (off + 8 <= end) {
		uint32_t type, len;

		type = get_be32(c0 + off);
		len = get_be32(c0 + off + 4);
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off - 8)
			return img_error(&img->src, "header extension",
					 "extension 0x%08" PRIx32 " of %" PRIu32
					 " bytes runs past cluster 0", type,
					 len);
		if (parse_one_extension(img, q, type, c0 + off + 8, len))
			return -1;
		/* Each extension is padded to 8 bytes. */
		off += 8 + (((uint64_t)len + 7) & ~7ULL);
	}
	if (q->version >= 3 && off < end && end == c0_len)
		return img_error(&img->src, "header extension", "no end "
				 "marker inside cluster 0");
	return 0;
}

static int parse_backing_name(struct image *img, struct qcow2 *q,
			      const uint8_t *h, const uint8_t *c0,
			      uint64_t c0_len)
{
	uint64_t off = get_be64(h + HDR_BACKING_OFFSET);
	uint32_t len = get_be32(h + HDR_BACKING_SIZE);

	if (!off)
		return 0;
	if (len > QCOW2_MAX_BACKING_NAME)
		return img_error(&img->src, "backing_file_size", "%" PRIu32
				 " bytes, more than %d", len,
				 QCOW2_MAX_BACKING_NAME);
	if (!range_inside(off, len, c0_len) || off < q->header_length)
		return img_error(&img->src, "backing_file_offset",
				 "name at offset %" PRIu64 " (%" PRIu32
				 " bytes) is not inside cluster 0 after the "
				 "header", off, len);
	img->backing_file = dup_bytes(c0 + off, len);
	if (!img->backing_file)
		return img_error(&img->src, "backing_file", "out of memory");
	return 0;
}

/*------------------------------------------------------------------------*/
/* Tables */

static int load_l1(struct image *img, struct qcow2 *q)
{
	uint64_t coverage, needed, tables = 0, bytes = (uint64_t)q->l1_size * 8;
	uint32_t i;

	if (bytes > QCOW2_MAX_L1_BYTES)
		return img_error(&img->src, "l1_size", "%" PRIu32 " entries "
				 "(%" PRIu64 " bytes) exceed the 32 MiB limit",
				 q->l1_size, bytes);
	/* Bytes one L2 table maps; cannot overflow with cluster_bits <= 21. */
	coverage = q->l2_entries * q->cluster_size;
	needed = div_round_up(q->size, coverage);
	if (needed > q->l1_size)
		return img_error(&img->src, "l1_size", "%" PRIu32 " entries "
				 "cannot map the virtual size of %" PRIu64
				 " bytes (%" PRIu64 " needed)", q->l1_size,
				 q->size, needed);
	if (!q->l1_size)
		return 0;
	if (check_table(img, q, "l1_table_offset", q->l1_table_offset, bytes))
		return -1;
	if (regions_add(&q->meta, &img->src, q->l1_table_offset, bytes,
			"L1 table", 0))
		return -1;
	/* Converted in place: malloc'd memory is aligned for uint64_t. */
	q->l1 = src_read_table(&img->src, q->l1_table_offset, bytes,
			       "L1 table");
	if (!q->l1)
		return -1;
	for (i = 0; i < q->l1_size; i++) {
		q->l1[i] = get_be64(&q->l1[i]);
		if ((q->l1[i] & QCOW2_L1_OFFSET_MASK) && (uint64_t)i < needed)
			tables++;
	}
	/* One allocation for all L2 tables, or the limit before any. */
	if (regions_reserve(&q->meta, &img->src, tables, "L2 table"))
		return -1;

	for (i = 0; i < q->l1_size; i++) {
		uint64_t e = q->l1[i], l2 = e & QCOW2_L1_OFFSET_MASK;
		char field[48];

		if (e & QCOW2_L1_RESERVED) {
			snprintf(field, sizeof(field), "L1 entry %" PRIu32, i);
			return img_error(&img->src, field, "reserved bits set "
					 "(0x%016" PRIx64 ")", e);
		}
		if (!l2)
			continue;
		if ((uint64_t)i >= needed)
			continue;	/* beyond the disk: never read */
		snprintf(field, sizeof(field), "L1 entry %" PRIu32, i);
		if (check_table(img, q, field, l2, q->cluster_size))
			return -1;
		if (regions_add(&q->meta, &img->src, l2, q->cluster_size,
				"L2 table", i))
			return -1;
	}
	return 0;
}

static int load_refcount_table(struct image *img, struct qcow2 *q)
{
	uint64_t bytes = (uint64_t)q->refcount_table_clusters * q->cluster_size;
	uint64_t i;
	uint8_t *raw;

	if (!q->refcount_table_clusters)
		return img_error(&img->src, "refcount_table_clusters",
				 "is 0");
	if (bytes > QCOW2_MAX_REFTABLE_BYTES)
		return img_error(&img->src, "refcount_table_clusters",
				 "%" PRIu32 " clusters (%" PRIu64 " bytes) "
				 "exceed the 8 MiB limit",
				 q->refcount_table_clusters, bytes);
	if (check_table(img, q, "refcount_table_offset",
			q->refcount_table_offset, bytes))
		return -1;
	if (regions_add(&q->meta, &img->src, q->refcount_table_offset, bytes,
			"refcount table", 0))
		return -1;
	raw = src_read_table(&img->src, q->refcount_table_offset, bytes,
			     "refcount table");
	if (!raw)
		return -1;
	for (i = 0; i < bytes / 8; i++) {
		uint64_t e = get_be64(raw + i * 8);
		uint64_t off = e & QCOW2_REFT_OFFSET_MASK;
		char field[48];

		if (!e)
			continue;
		snprintf(field, sizeof(field), "refcount table entry %" PRIu64,
			 i);
		if (e & ~QCOW2_REFT_OFFSET_MASK) {
			free(raw);
			return img_error(&img->src, field, "reserved bits set "
					 "(0x%016" PRIx64 ")", e);
		}
		if (check_table(img, q, field, off, q->cluster_size) ||
		    regions_add(&q->meta, &img->src, off, q->cluster_size,
				"refcount block", i)) {
			free(raw);
			return -1;
		}
	}
	free(raw);
	return 0;
}

static void free_snapshots(struct qcow2 *q)
{
	uint32_t i;

	if (!q->snapshots)
		return;
	for (i = 0; i < q->nb_snapshots; i++) {
		free(q->snapshots[i].id);
		free(q->snapshots[i].name);
	}
	free(q->snapshots);
	q->snapshots = NULL;
}

/* One snapshot entry at *off; advances *off past it. */
static int load_one_snapshot(struct image *img, struct qcow2 *q, uint32_t i,
			     uint64_t *off)
{
	struct qcow2_snapshot *sn = &q->snapshots[i];
	uint8_t h[40], extra[QCOW2_MAX_SNAPSHOT_EXTRA];
	uint32_t extra_len;
	uint16_t id_len, name_len;
	uint64_t l1_bytes, entry_len;
	char field[48];

	snprintf(field, sizeof(field), "snapshot %" PRIu32, i);
	if (src_read(&img->src, *off, h, sizeof(h), field))
		return -1;
	sn->l1_table_offset = get_be64(h);
	sn->l1_size = get_be32(h + 8);
	id_len = get_be16(h + 12);
	name_len = get_be16(h + 14);
	sn->date_sec = get_be32(h + 16);
	sn->date_nsec = get_be32(h + 20);
	sn->vm_clock_nsec = get_be64(h + 24);
	sn->vm_state_size = get_be32(h + 32);
	extra_len = get_be32(h + 36);
	if (extra_len > QCOW2_MAX_SNAPSHOT_EXTRA)
		return img_error(&img->src, field, "%" PRIu32 " bytes of extra "
				 "data, more than %d", extra_len,
				 QCOW2_MAX_SNAPSHOT_EXTRA);
	if (src_read(&img->src, *off + 40, extra, extra_len, field))
		return -1;
	if (extra_len >= 8)
		sn->vm_state_size = get_be64(extra);
	if (extra_len >= 16)
		sn->disk_size = get_be64(extra + 8);
	if (extra_len >= 24) {
		sn->icount = get_be64(extra + 16);
		sn->has_icount = sn->icount != UINT64_MAX;
	}

	/* The last entry's padding to 8 bytes may lie past the end. */
	entry_len = 40 + (uint64_t)extra_len + id_len + name_len;
	if (!range_inside(*off, entry_len, img->src.size))
		return img_error(&img->src, field, "runs past the end of the "
				 "file");
	{
		uint8_t *names = malloc((size_t)id_len + name_len + 1);

		if (!names)
			return img_error(&img->src, field, "out of memory");
		if (src_read(&img->src, *off + 40 + extra_len, names,
			     (size_t)id_len + name_len, field)) {
			free(names);
			return -1;
		}
		sn->id = img_printable((char *)names, id_len);
		sn->name = img_printable((char *)names + id_len, name_len);
		free(names);
		if (!sn->id || !sn->name)
			return img_error(&img->src, field, "out of memory");
	}
	*off += (entry_len + 7) & ~7ULL;
	if (*off - q->snapshots_offset > QCOW2_MAX_SNAPSHOT_TABLE)
		return img_error(&img->src, "snapshot table", "larger than "
				 "64 MiB");

	l1_bytes = (uint64_t)sn->l1_size * 8;
	if (l1_bytes > QCOW2_MAX_L1_BYTES)
		return img_error(&img->src, field, "L1 table of %" PRIu32
				 " entries exceeds the 32 MiB limit",
				 sn->l1_size);
	if (l1_bytes && check_table(img, q, field, sn->l1_table_offset,
				    l1_bytes))
		return -1;
	if (regions_add(&q->meta, &img->src, sn->l1_table_offset, l1_bytes,
			"snapshot L1 table", i))
		return -1;
	return 0;
}

static int load_snapshots(struct image *img, struct qcow2 *q)
{
	uint64_t off = q->snapshots_offset;
	uint32_t i;

	if (!q->nb_snapshots)
		return 0;
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return img_error(&img->src, "nb_snapshots", "%" PRIu32
				 " snapshots, more than %d", q->nb_snapshots,
				 QCOW2_MAX_SNAPSHOTS);
	/* Each entry is at least 40 bytes: cheap bound before allocating. */
	if (check_table(img, q, "snapshots_offset", off,
			(uint64_t)q->nb_snapshots * 40))
		return -1;
	q->snapshots = calloc(q->nb_snapshots, sizeof(*q->snapshots));
	if (!q->snapshots)
		return img_error(&img->src, "snapshot table", "out of memory");
	for (i = 0; i < q->nb_snapshots; i++)
		if (load_one_snapshot(img, q, i, &off))
			return -1;
	if (off > img->src.size)
		off = img->src.size;
	if (regions_add(&q->meta, &img->src, q->snapshots_offset,
			off - q->snapshots_offset, "snapshot table", 0))
		return -1;
	return 0;
}

/*------------------------------------------------------------------------*/

int qcow2_open(struct image *img)
{
	uint8_t h[QCOW2_V3_HEADER_LEN];
	struct qcow2 *q;
	uint8_t *c0;
	uint64_t c0_len;

	q = calloc(1, sizeof(*q));
	if (!q)
		return img_error(&img->src, "header", "out of memory");
	img->qcow2 = q;
	if (src_read(&img->src, 0, h, QCOW2_V2_HEADER_LEN, "header"))
		return -1;
	if (get_be32(h + HDR_VERSION) >= 3 &&
	    src_read(&img->src, 0, h, QCOW2_V3_HEADER_LEN, "header"))
		return -1;
	if (parse_fixed_header(img, q, h))
		return -1;

	/* Everything the header points at in cluster 0 stays inside it. */
	c0_len = q->cluster_size < img->src.size ? q->cluster_size :
						   img->src.size;
	c0 = src_read_table(&img->src, 0, c0_len, "header");
	if (!c0)
		return -1;
	if (q->header_length > c0_len) {
		free(c0);
		return img_error(&img->src, "header_length", "%" PRIu32
				 " bytes run past the end of the file",
				 q->header_length);
	}
	if (q->header_length > HDR_COMPRESSION_TYPE)
		q->compression_type = c0[HDR_COMPRESSION_TYPE];
	if (parse_extensions(img, q, h, c0, c0_len) ||
	    parse_backing_name(img, q, h, c0, c0_len)) {
		free(c0);
		return -1;
	}
	free(c0);
	if (parse_incompatible(img, q))
		return -1;

	q->l2_entry_bytes = q->extended_l2 ? 16 : 8;
	q->l2_entries = q->cluster_size / q->l2_entry_bytes;
	q->subcluster_size = q->extended_l2 ? q->cluster_size / 32 :
					      q->cluster_size;
	img->virtual_size = q->size;
	img->cluster_size = q->cluster_size;

	if (regions_add(&q->meta, &img->src, 0,
			q->cluster_size < img->src.size ? q->cluster_size :
			img->src.size, "header cluster", 0))
		return -1;
	if (load_l1(img, q) || load_refcount_table(img, q) ||
	    load_snapshots(img, q))
		return -1;
	return regions_check(&q->meta, &img->src);
}

void qcow2_close(struct image *img)
{
	struct qcow2 *q = img->qcow2;

	if (!q)
		return;
	free(q->l1);
	free(q->data_file);
	free(q->names);
	free_snapshots(q);
	regions_free(&q->meta);
	free(q);
	img->qcow2 = NULL;
}

/*------------------------------------------------------------------------*/
/* Map walk */

struct l2_walk {
	struct image *img;
	struct qcow2 *q;
	map_fn fn;
	void *ctx;
	uint32_t l1_index;	/* the entry being walked, for messages */
	uint64_t l2_index;
	char field[64];
};

/* An error in the entry being walked: "L2 entry J of L1 entry I: ...". */
static int entry_error(struct l2_walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int entry_error(struct l2_walk *w, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(w->field, sizeof(w->field),
		 "L2 entry %" PRIu64 " of L1 entry %" PRIu32, w->l2_index,
		 w->l1_index);
	return img_error(&w->img->src, w->field, "%s", reason);
}

/* Pass @e on, clipped to the virtual size. */
static int emit_extent(struct l2_walk *w, struct map_extent *e)
{
	if (e->start >= w->q->size)
		return 0;
	if (e->length > w->q->size - e->start)
		e->length = w->q->size - e->start;
	return w->fn(w->ctx, e);
}

static int emit(struct l2_walk *w, uint64_t start, uint64_t len,
		unsigned int flags, uint64_t offset)
{
	struct map_extent e = {
		.start = start,
		.length = len,
		.offset = offset,
		.flags = flags,
	};

	return emit_extent(w, &e);
}

/* A host data cluster must be aligned, in the file, and not metadata. */
static int check_data_offset(struct l2_walk *w, uint64_t host)
{
	const struct region *r;

	if (host & (w->q->cluster_size - 1))
		return entry_error(w, "data offset %" PRIu64 " is not cluster "
				   "aligned", host);
	if (w->q->data_file)
		return 0;	/* offsets refer to the external file */
	if (host >= w->img->src.size)
		return entry_error(w, "data offset %" PRIu64 " is past the end "
				   "of the file (%" PRIu64 " bytes)", host,
				   w->img->src.size);
	r = regions_find(&w->q->meta, host, w->q->cluster_size);
	if (r)
		return entry_error(w, "data offset %" PRIu64 " points into "
				   "the %s at %" PRIu64, host, r->what,
				   r->start);
	return 0;
}

/*
 * The bytes a compressed entry may use: its sector count, less the part
 * of the first sector before @host, and never past the end of the file
 * (QEMU's last compressed cluster may claim a sector the file lacks;
 * reads past the end are zeroes to it, and inflate stops early anyway).
 */
static uint64_t compressed_len(const struct l2_walk *w, uint64_t e,
			       uint64_t host)
{
	unsigned int x = 62 - (w->q->cluster_bits - 8);
	uint64_t sectors = ((e >> x) & ((1ULL << (w->q->cluster_bits - 8)) -
					1)) + 1;
	uint64_t len = sectors * 512 - (host & 511);

	return len < w->img->src.size - host ? len :
					       w->img->src.size - host;
}

static int emit_compressed(struct l2_walk *w, uint64_t guest, uint64_t host,
			   uint64_t len)
{
	struct map_extent e = {
		.start = guest,
		.length = w->q->cluster_size,
		.offset = MAP_NO_OFFSET,
		.flags = MAP_PRESENT | MAP_DATA | MAP_COMPRESSED | MAP_TOP,
		.compressed_offset = host,
		.compressed_len = len,
	};

	return emit_extent(w, &e);
}

static int walk_compressed(struct l2_walk *w, uint64_t e, uint64_t guest)
{
	struct qcow2 *q = w->q;
	unsigned int x = 62 - (q->cluster_bits - 8);
	uint64_t host = e & ((1ULL << x) - 1);
	const struct region *r;

	if (q->data_file)
		return entry_error(w, "compressed cluster in an image with "
				   "an external data file");
	if (e & QCOW2_OFLAG_COPIED)
		return entry_error(w, "compressed cluster with the COPIED "
				   "flag");
	if (host >= w->img->src.size)
		return entry_error(w, "compressed data at %" PRIu64 " is past "
				   "the end of the file", host);
	r = regions_find(&q->meta, host, 1);
	if (r)
		return entry_error(w, "compressed data at %" PRIu64 " points "
				   "into the %s at %" PRIu64, host, r->what,
				   r->start);
	return emit_compressed(w, guest, host, compressed_len(w, e, host));
}

/*
 * Does a (not compressed) L2 entry allocate its cluster? Host offset 0 is
 * the header in the image file, so it means "unallocated" there. With an
 * external data file, offset 0 is the data file's first cluster: every
 * cluster there has refcount 1, so the COPIED flag tells the two apart.
 */
static bool cluster_allocated(const struct qcow2 *q, uint64_t e)
{
	if (e & QCOW2_L2_OFFSET_MASK)
		return true;
	return q->data_file && (e & QCOW2_OFLAG_COPIED);
}

static int walk_standard(struct l2_walk *w, uint64_t e, uint64_t guest)
{
	struct qcow2 *q = w->q;
	uint64_t host = e & QCOW2_L2_OFFSET_MASK;

	if (e & QCOW2_L2_RESERVED)
		return entry_error(w, "reserved bits set (0x%016" PRIx64 ")",
				   e);
	if ((e & QCOW2_OFLAG_ZERO) && q->version < 3)
		return entry_error(w, "zero flag in a version 2 image");
	if (host && check_data_offset(w, host))
		return -1;
	/* Zero flag with offset 0 is a plain zero cluster, data file or not. */
	if (e & QCOW2_OFLAG_ZERO)
		return emit(w, guest, q->cluster_size,
			    MAP_PRESENT | MAP_ZERO | MAP_TOP,
			    host ? host : MAP_NO_OFFSET);
	if (cluster_allocated(q, e))
		return emit(w, guest, q->cluster_size,
			    MAP_PRESENT | MAP_DATA | MAP_TOP, host);
	return emit(w, guest, q->cluster_size, 0, MAP_NO_OFFSET);
}

/* Extended L2: 32 subclusters, each allocated, zero or unallocated. */
static int walk_extended(struct l2_walk *w, uint64_t e, uint64_t bitmap,
			 uint64_t guest)
{
	struct qcow2 *q = w->q;
	uint64_t host = e & QCOW2_L2_OFFSET_MASK;
	uint32_t alloc = (uint32_t)bitmap, zero = (uint32_t)(bitmap >> 32);
	bool allocated = cluster_allocated(q, e);
	unsigned int i;
	int ret;

	if (e & (QCOW2_L2_RESERVED | QCOW2_OFLAG_ZERO))
		return entry_error(w, "reserved bits set (0x%016" PRIx64 ")",
				   e);
	if (alloc & zero)
		return entry_error(w, "subcluster both allocated and zero "
				   "(bitmap 0x%016" PRIx64 ")", bitmap);
	if (!allocated && alloc)
		return entry_error(w, "allocated subclusters in an "
				   "unallocated cluster");
	if (allocated && check_data_offset(w, host))
		return -1;
	for (i = 0; i < 32; i++) {
		uint64_t start = guest + i * q->subcluster_size;
		uint64_t off = allocated ? host + i * q->subcluster_size :
					   MAP_NO_OFFSET;
		unsigned int flags = 0;

		if (alloc & (1u << i))
			flags = MAP_PRESENT | MAP_DATA | MAP_TOP;
		else if (zero & (1u << i))
			flags = MAP_PRESENT | MAP_ZERO | MAP_TOP;
		ret = emit(w, start, q->subcluster_size, flags, off);
		if (ret)
			return ret;
	}
	return 0;
}

/* Entries that are all zero: unallocated, no bitmap; merged into runs. */
static bool entry_empty(const struct qcow2 *q, const uint8_t *p)
{
	return !get_be64(p) && (!q->extended_l2 || !get_be64(p + 8));
}

static int walk_l2(struct l2_walk *w, uint32_t l1_index, const uint8_t *l2)
{
	struct qcow2 *q = w->q;
	uint64_t j, base = (uint64_t)l1_index * q->l2_entries;
	uint64_t run_start = 0, run_len = 0;
	int ret;

	w->l1_index = l1_index;
	for (j = 0; j < q->l2_entries; j++) {
		uint64_t guest = (base + j) << q->cluster_bits;
		const uint8_t *p = l2 + j * q->l2_entry_bytes;
		uint64_t e = get_be64(p);

		if (guest >= q->size)
			break;
		if (entry_empty(q, p)) {
			if (!run_len)
				run_start = guest;
			run_len += q->cluster_size;
			continue;
		}
		if (run_len) {
			ret = emit(w, run_start, run_len, 0, MAP_NO_OFFSET);
			if (ret)
				return ret;
			run_len = 0;
		}
		w->l2_index = j;
		if (e & QCOW2_OFLAG_COMPRESSED) {
			if (q->extended_l2 && get_be64(p + 8))
				return entry_error(w, "compressed cluster "
						   "with a subcluster bitmap");
			ret = walk_compressed(w, e, guest);
		} else if (q->extended_l2) {
			ret = walk_extended(w, e, get_be64(p + 8), guest);
		} else {
			ret = walk_standard(w, e, guest);
		}
		if (ret)
			return ret;
	}
	return run_len ? emit(w, run_start, run_len, 0, MAP_NO_OFFSET) : 0;
}

/*
 * One L2 table at a time, in L1 order: memory is one cluster whatever the
 * L1 says. An L2 table in a hole of the image file reads as zeroes (all
 * unallocated), so it is not read at all; with the table count bounded by
 * IMG_MAX_REGIONS, the work follows the data in the file.
 */
int qcow2_map(struct image *img, map_fn fn, void *ctx)
{
	struct qcow2 *q = img->qcow2;
	struct l2_walk w = { .img = img, .q = q, .fn = fn, .ctx = ctx };
	uint64_t coverage = q->l2_entries * q->cluster_size;
	uint8_t *l2;
	uint32_t i;
	int ret = 0;

	if (!q->size)
		return 0;
	l2 = malloc(q->cluster_size);
	if (!l2)
		return img_error(&img->src, "L2 table", "out of memory");
	for (i = 0; i < q->l1_size && (uint64_t)i * coverage < q->size; i++) {
		uint64_t off = q->l1[i] & QCOW2_L1_OFFSET_MASK;

		if (!off || src_is_hole(&img->src, off, q->cluster_size)) {
			ret = emit(&w, (uint64_t)i * coverage, coverage, 0,
				   MAP_NO_OFFSET);
		} else {
			snprintf(w.field, sizeof(w.field), "L1 entry %" PRIu32,
				 i);
			ret = src_read(&img->src, off, l2, q->cluster_size,
				       w.field);
			if (!ret)
				ret = walk_l2(&w, i, l2);
		}
		if (ret)
			break;
	}
	free(l2);
	return ret;
}

/*------------------------------------------------------------------------*/
/* Compressed cluster data */

int qcow2_read_compressed(struct image *img, const struct map_extent *e,
			  uint8_t *out)
{
	struct qcow2 *q = img->qcow2;
	char field[64];
	uint8_t *in;
	int ret;

	snprintf(field, sizeof(field), "compressed cluster at guest offset %"
		 PRIu64, e->start);
	in = src_read_table(&img->src, e->compressed_offset,
			    e->compressed_len, field);
	if (!in)
		return -1;
	if (q->compression_type == 1)
		ret = decompress_qcow2_zstd(in, (size_t)e->compressed_len, out,
					    (size_t)q->cluster_size);
	else
		ret = decompress_qcow2_deflate(in, (size_t)e->compressed_len,
					       out, (size_t)q->cluster_size);
	free(in);
	if (ret)
		return img_error(&img->src, field, "%s data at offset %"
				 PRIu64 " does not decompress to one cluster",
				 q->compression_type == 1 ? "zstd" : "deflate",
				 e->compressed_offset);
	return 0;
}
