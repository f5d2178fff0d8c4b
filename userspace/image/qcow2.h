/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qcow2 on-disk constants (docs/interop/qcow2.txt in QEMU describes the
 * format) and the parsed, validated state of one image.
 */
#ifndef COWBACKUP_QCOW2_H
#define COWBACKUP_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#include "image/image.h"

#define QCOW2_MAGIC		0x514649fbU	/* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN	72
#define QCOW2_V3_HEADER_LEN	104
#define QCOW2_MIN_CLUSTER_BITS	9
#define QCOW2_MAX_CLUSTER_BITS	21

/* Limits QEMU enforces, so we accept what it accepts and nothing larger. */
#define QCOW2_MAX_L1_BYTES	(32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS	65536
#define QCOW2_MAX_SNAPSHOT_TABLE (64u << 20)
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024
#define QCOW2_MAX_BACKING_NAME	1023
#define QCOW2_MAX_BACKING_FMT	15

/* Header extension types. */
#define QCOW2_EXT_END		0
#define QCOW2_EXT_BACKING_FMT	0xe2792acaU
#define QCOW2_EXT_FEATURE_NAMES	0x6803f857U
#define QCOW2_EXT_BITMAPS	0x23852875U
#define QCOW2_EXT_CRYPTO	0x0537be77U
#define QCOW2_EXT_DATA_FILE	0x44415441U

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY		(1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT		(1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE	(1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION	(1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2		(1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN		0x1fULL
/* Compatible and autoclear bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS	(1ULL << 0)
#define QCOW2_AUTOCLEAR_BITMAPS		(1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW	(1ULL << 1)

/* L1/L2 entry layout. */
#define QCOW2_OFLAG_COPIED	(1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED	(1ULL << 62)
#define QCOW2_OFLAG_ZERO	(1ULL << 0)
#define QCOW2_L1_OFFSET_MASK	0x00fffffffffffe00ULL
#define QCOW2_L1_RESERVED	0x7f000000000001ffULL
#define QCOW2_L2_OFFSET_MASK	0x00fffffffffffe00ULL
#define QCOW2_L2_RESERVED	0x3f000000000001feULL
#define QCOW2_REFT_OFFSET_MASK	0xfffffffffffffe00ULL

struct qcow2_feature_name {
	uint8_t type;		/* 0 incompatible, 1 compatible, 2 autoclear */
	uint8_t bit;
	char name[47];
};

struct qcow2_snapshot {
	char *id;		/* printable copies */
	char *name;
	uint64_t l1_table_offset;
	uint32_t l1_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	uint64_t disk_size;	/* 0 when the extra data does not say */
	bool has_icount;
	uint64_t icount;
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible;
	uint64_t compatible;
	uint64_t autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;	/* 0 zlib, 1 zstd */

	bool extended_l2;
	uint32_t l2_entry_bytes;	/* 8, or 16 with extended L2 */
	uint64_t l2_entries;		/* entries per L2 table */
	uint64_t subcluster_size;

	uint64_t *l1;			/* host order */
	char *data_file;		/* raw name from the extension */
	bool has_backing_fmt_ext;
	struct qcow2_feature_name *names;
	size_t nnames;
	struct qcow2_snapshot *snapshots;
	struct region_set meta;
};

/* "compression type" -> "zlib"/"zstd"; "lazy refcounts" etc. for info. */
const char *qcow2_feature_name(const struct qcow2 *q, unsigned int type,
			       unsigned int bit);

#endif /* COWBACKUP_QCOW2_H */
