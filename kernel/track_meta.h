/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-disk metadata of the cowbackup-track target: header encoding,
 * validation, checksums, sizes and the packing of a change map into the
 * on-disk bit array. Pure logic, no device access, so the host unit tests
 * (tests/unit/test_track_meta.c) run this very code. The layout is
 * described at the top of track_meta.c.
 */
#ifndef DM_COWBACKUP_TRACK_META_H
#define DM_COWBACKUP_TRACK_META_H

#include <linux/types.h>

struct hbitmap;

/* The header occupies the first 4 KiB block; the maps are 4 KiB aligned. */
#define TRACK_BLOCK_BYTES	4096U
#define TRACK_BLOCK_SECTORS	(TRACK_BLOCK_BYTES >> 9)
/* Bytes of the block covered by the header checksum. */
#define TRACK_HEADER_BYTES	512U
#define TRACK_META_VERSION	1U

/*
 * Why a map cannot be trusted. Persisted in the header (one byte per
 * map) and printed in the status by name; append only.
 */
enum track_reason {
	TRACK_OK,			/* valid */
	TRACK_NEW,			/* fresh metadata: no history yet */
	TRACK_UNCLEAN,			/* clean=0: crash or unclean teardown */
	TRACK_BAD_MAGIC,
	TRACK_BAD_VERSION,
	TRACK_BAD_CHECKSUM,
	TRACK_BAD_HEADER,		/* fields inconsistent with each other */
	TRACK_LENGTH_CHANGED,
	TRACK_CLUSTER_SIZE_CHANGED,
	TRACK_BAD_BITMAP,		/* map checksum, count or tail bits */
	TRACK_IO_ERROR,			/* metadata could not be read/written */
	TRACK_UNLOADED,			/* table not resumed yet */
	TRACK_BYPASSED,			/* table replaced by one without it */
	TRACK_NR_REASONS,
};

/* One map's entry in the header. */
struct track_map_meta {
	bool valid;
	enum track_reason reason;	/* TRACK_OK when valid */
	u64 count;			/* set bits */
	u32 csum;			/* CRC32C of the map region */
};

/* The header, decoded into CPU order. */
struct track_meta {
	u8 uuid[16];			/* the tracking history ("lineage") */
	u64 dev_sectors;		/* tracked length (the table's) */
	u32 cluster_sectors;
	u64 nr_clusters;
	u64 epoch;			/* number of the current epoch, >= 1 */
	bool clean;
	struct track_map_meta frozen;	/* the map of epoch - 1 */
	struct track_map_meta cur;	/* the map of epoch */
};

const char *track_reason_name(enum track_reason reason);

u64 track_nr_clusters(u64 dev_sectors, u32 cluster_sectors);
/* Sectors of one map region: a bit per cluster, rounded up to 4 KiB. */
u64 track_map_sectors(u64 nr_clusters);
/* Sectors the metadata device needs: the header block and two maps. */
u64 track_meta_sectors(u64 dev_sectors, u32 cluster_sectors);
/* First sector of the frozen (0) or current (1) map region. */
u64 track_map_offset(u64 nr_clusters, unsigned int which);

/* CRC32C, standard form (init and final xor ~0), in pieces. */
#define TRACK_CSUM_INIT	(~0U)
u32 track_csum_update(u32 crc, const void *buf, size_t len);
static inline u32 track_csum_final(u32 crc)
{
	return ~crc;
}

/* Encode @m into the first TRACK_HEADER_BYTES of @block (zeroed). */
void track_meta_encode(const struct track_meta *m, void *block);

/*
 * Decode and check the header in @block. TRACK_OK fills @m; TRACK_NEW
 * means an all-zero block (fresh metadata); anything else is the reason
 * the header is unusable (@m is then undefined).
 */
enum track_reason track_meta_decode(const void *block, struct track_meta *m);

/*
 * Compare a decoded header with the table: TRACK_OK, or why its maps do
 * not describe this device.
 */
enum track_reason track_meta_check(const struct track_meta *m,
				   u64 dev_sectors, u32 cluster_sectors);

/*
 * Write bits [@first, @first + @bytes * 8) of @hb into @buf as a little-
 * endian bit array (bit i at byte i / 8, bit i % 8); bits past the end of
 * @hb are zero.
 */
void track_map_pack(const struct hbitmap *hb, u64 first, void *buf,
		    size_t bytes);
/*
 * Set the bits of @buf (as packed above) in @hb from bit @first on.
 * -EINVAL if @buf has a bit set past the end of @hb (nothing set then
 * for those bits; the caller treats the map as bad).
 */
int track_map_unpack(struct hbitmap *hb, u64 first, const void *buf,
		     size_t bytes);

#endif /* DM_COWBACKUP_TRACK_META_H */
