/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMDK on-disk constants (VMware's "Virtual Disk Format 5.0" describes the
 * format) and the parsed, validated state of one image: a hosted sparse
 * extent (monolithicSparse or streamOptimized) with its embedded
 * descriptor, or a descriptor file on its own.
 */
#ifndef COWBACKUP_VMDK_H
#define COWBACKUP_VMDK_H

#include <stdbool.h>
#include <stdint.h>

#include "image/image.h"

#define VMDK4_MAGIC		0x564d444bU	/* "KDMV" little-endian */
#define VMDK3_MAGIC		0x44574f43U	/* "COWD" little-endian */
#define VMDK_SECTOR		512

#define VMDK_FLAG_NL_DETECT	(1u << 0)
#define VMDK_FLAG_RGD		(1u << 1)
#define VMDK_FLAG_ZERO_GRAIN	(1u << 2)
#define VMDK_FLAG_COMPRESSED	(1u << 16)
#define VMDK_FLAG_MARKERS	(1u << 17)
#define VMDK_COMPRESS_NONE	0
#define VMDK_COMPRESS_DEFLATE	1
#define VMDK_GD_AT_END		UINT64_MAX
#define VMDK_GTE_ZERO		1	/* zeroed grain, with the flag */
#define VMDK_GRAIN_MARKER	12	/* u64 sector, u32 stream length */

/* Stream markers. */
#define VMDK_MARKER_EOS		0
#define VMDK_MARKER_GT		1
#define VMDK_MARKER_GD		2
#define VMDK_MARKER_FOOTER	3

/* Header field offsets. */
#define VMDK_H_MAGIC		0
#define VMDK_H_VERSION		4
#define VMDK_H_FLAGS		8
#define VMDK_H_CAPACITY		12
#define VMDK_H_GRAIN		20
#define VMDK_H_DESC_OFFSET	28
#define VMDK_H_DESC_SIZE	36
#define VMDK_H_GTES		44
#define VMDK_H_RGD		48
#define VMDK_H_GD		56
#define VMDK_H_OVERHEAD		64
#define VMDK_H_UNCLEAN		72
#define VMDK_H_NL_CHARS		73	/* '\n', ' ', '\r', '\n' */
#define VMDK_H_COMPRESS		77

/* Limits: QEMU's where it has them. */
#define VMDK_MAX_DESC_BYTES	(1u << 20)
#define VMDK_MAX_GTES		512
#define VMDK_MAX_GRAIN_SECTORS	0x200000ULL	/* 1 GiB */
#define VMDK_MAX_GD_ENTRIES	(32u << 20)
#define VMDK_GD_CHUNK		4096	/* entries read at a time (16 KiB) */
#define VMDK_MAX_CAPACITY	(1ULL << 54)	/* sectors: 8 EiB in bytes */
#define VMDK_MAX_LINE		8192
#define VMDK_MAX_EXTENTS	256
#define VMDK_MAX_PATH		4096

struct vmdk_extent_line {
	char access[10];	/* RW, RDONLY, NOACCESS */
	char type[12];		/* FLAT, SPARSE, ZERO, VMFS, ... */
	uint64_t sectors;
	char *filename;		/* printable copy, NULL for ZERO */
	bool has_offset;
	uint64_t offset;	/* sectors, FLAT only */
};

struct vmdk_desc {
	bool present;
	uint32_t version;
	char *create_type;	/* printable */
	bool has_cid, has_parent_cid;
	uint32_t cid, parent_cid;
	char *parent_hint;	/* raw bytes */
	char *adapter_type;	/* printable */
	bool has_cylinders, has_heads, has_sectors;
	uint64_t cylinders, heads, sectors;
	struct vmdk_extent_line *extents;
	size_t nextents;
};

struct vmdk {
	bool sparse;		/* has a KDMV header */
	bool from_footer;	/* header fields came from a stream footer */
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;	/* sectors */
	uint64_t grain_sectors;
	uint64_t desc_offset;	/* sectors */
	uint64_t desc_size;
	uint32_t gtes_per_gt;
	uint64_t rgd_offset;
	uint64_t gd_offset;
	uint64_t overhead;
	bool unclean;
	uint16_t compress;

	uint64_t gd_entries;	/* directories are read in chunks, not kept */
	bool has_rgd;		/* a redundant grain directory was checked */
	struct vmdk_desc desc;
	struct region_set meta;
};

/*
 * Parse a descriptor of @len bytes (stops at the first NUL) line by line
 * into @d. Errors name @s and the line.
 */
int vmdk_desc_parse(const struct img_src *s, const char *text, size_t len,
		    struct vmdk_desc *d);
void vmdk_desc_free(struct vmdk_desc *d);

/* Does @head start a text descriptor file? */
bool vmdk_desc_probe(const uint8_t *head, size_t len);

#endif /* COWBACKUP_VMDK_H */
