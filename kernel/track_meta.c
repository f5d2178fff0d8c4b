// SPDX-License-Identifier: GPL-2.0
/*
 * cowbackup-track metadata: the on-disk format and its pure logic.
 *
 * Layout of the metadata device (512-byte sectors; N = clusters tracked,
 * M = track_map_sectors(N) = ceil(N / 8) bytes rounded up to 4 KiB):
 *
 *	sector 0 .. 7		header block (4 KiB; the header is its first
 *				512 bytes, the rest is zero)
 *	sector 8 .. 8+M-1	frozen map: the map of epoch - 1
 *	sector 8+M .. 8+2M-1	current map: the map of epoch
 *
 * A map is a little-endian bit array: cluster i is bit i % 8 of byte
 * i / 8; bits past N are zero. Every region is 4 KiB aligned so that
 * metadata devices with 4 KiB logical blocks work.
 *
 * Header, all integers little-endian:
 *
 *	 0  8	magic "CBTRACK\0"
 *	 8  4	version (1)
 *	12  4	CRC32C of the 512 header bytes with this field zero
 *	16 16	UUID of the tracking history (see below)
 *	32  8	tracked length in sectors (the table's length)
 *	40  4	cluster size in sectors
 *	44  4	flags: bit 0 = clean; other bits must be zero
 *	48  8	N, clusters tracked
 *	56  8	epoch: number of the current epoch, >= 1
 *	64  8	frozen map: set bits
 *	72  4	frozen map: CRC32C of its M sectors
 *	76  1	frozen map: valid (0 or 1)
 *	77  1	frozen map: reason it is invalid (enum track_reason)
 *	80  8	current map: set bits
 *	88  4	current map: CRC32C of its M sectors
 *	92  1	current map: valid
 *	93  1	current map: reason
 *	94 ..	zero
 *
 * The UUID names a history: it is generated when the history starts
 * (fresh metadata, or metadata found unusable) and kept across clean
 * restarts and checkpoints, whose count is the epoch. The pair (UUID,
 * epoch) therefore names one map for good.
 *
 * The invariant: clean=1 is written only after both maps are on stable
 * storage (map writes, then a flush, then the header with FUA), and the
 * header is rewritten with clean=0 (FUA, waited for) before the first
 * write after a resume reaches the device. So a header that says clean
 * has maps that saw every write made while the tracker was in the stack.
 * The sequence lives in track.c.
 */
#include <asm/unaligned.h>
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "../include/uapi/dm-cowbackup.h"
#include "hbitmap.h"
#include "track_meta.h"

static const char track_magic[8] = "CBTRACK";	/* and its NUL */

#define TRACK_FLAG_CLEAN	1U

/* Byte offsets in the header. */
#define OFF_MAGIC		0
#define OFF_VERSION		8
#define OFF_CSUM		12
#define OFF_UUID		16
#define OFF_DEV_SECTORS		32
#define OFF_CLUSTER_SECTORS	40
#define OFF_FLAGS		44
#define OFF_NR_CLUSTERS		48
#define OFF_EPOCH		56
#define OFF_FROZEN		64
#define OFF_CURRENT		80
/* Within a map entry. */
#define MAP_COUNT		0
#define MAP_CSUM		8
#define MAP_VALID		12
#define MAP_REASON		13

static const char * const reason_names[TRACK_NR_REASONS] = {
	[TRACK_OK] = "-",
	[TRACK_NEW] = "new",
	[TRACK_UNCLEAN] = "unclean",
	[TRACK_BAD_MAGIC] = "bad_magic",
	[TRACK_BAD_VERSION] = "bad_version",
	[TRACK_BAD_CHECKSUM] = "bad_checksum",
	[TRACK_BAD_HEADER] = "bad_header",
	[TRACK_LENGTH_CHANGED] = "length_changed",
	[TRACK_CLUSTER_SIZE_CHANGED] = "cluster_size_changed",
	[TRACK_BAD_BITMAP] = "bad_bitmap",
	[TRACK_IO_ERROR] = "io_error",
	[TRACK_UNLOADED] = "unloaded",
	[TRACK_BYPASSED] = "bypassed",
};

const char *track_reason_name(enum track_reason reason)
{
	return reason < TRACK_NR_REASONS ? reason_names[reason] : "?";
}

u64 track_nr_clusters(u64 dev_sectors, u32 cluster_sectors)
{
	/* No "+ cluster_sectors - 1": a hostile length may be near 2^64. */
	return dev_sectors / cluster_sectors +
	       (dev_sectors % cluster_sectors != 0);
}

u64 track_map_sectors(u64 nr_clusters)
{
	u64 blocks = nr_clusters / (TRACK_BLOCK_BYTES * 8) +
		     (nr_clusters % (TRACK_BLOCK_BYTES * 8) != 0);

	return blocks * TRACK_BLOCK_SECTORS;
}

u64 track_meta_sectors(u64 dev_sectors, u32 cluster_sectors)
{
	u64 map = track_map_sectors(track_nr_clusters(dev_sectors,
						      cluster_sectors));

	return TRACK_BLOCK_SECTORS + 2 * map;
}

u64 track_map_offset(u64 nr_clusters, unsigned int which)
{
	return TRACK_BLOCK_SECTORS + which * track_map_sectors(nr_clusters);
}

u32 track_csum_update(u32 crc, const void *buf, size_t len)
{
	return __crc32c_le(crc, buf, len);
}

static u32 header_csum(const u8 *hdr)
{
	static const u8 zero[4];
	u32 crc = TRACK_CSUM_INIT;

	crc = track_csum_update(crc, hdr, OFF_CSUM);
	crc = track_csum_update(crc, zero, sizeof(zero));
	crc = track_csum_update(crc, hdr + OFF_CSUM + 4,
				TRACK_HEADER_BYTES - OFF_CSUM - 4);
	return track_csum_final(crc);
}

static void encode_map(const struct track_map_meta *map, u8 *p)
{
	put_unaligned_le64(map->count, p + MAP_COUNT);
	put_unaligned_le32(map->csum, p + MAP_CSUM);
	p[MAP_VALID] = map->valid;
	p[MAP_REASON] = map->valid ? TRACK_OK : map->reason;
}

void track_meta_encode(const struct track_meta *m, void *block)
{
	u8 *hdr = block;

	memset(hdr, 0, TRACK_HEADER_BYTES);
	memcpy(hdr + OFF_MAGIC, track_magic, sizeof(track_magic));
	put_unaligned_le32(TRACK_META_VERSION, hdr + OFF_VERSION);
	memcpy(hdr + OFF_UUID, m->uuid, sizeof(m->uuid));
	put_unaligned_le64(m->dev_sectors, hdr + OFF_DEV_SECTORS);
	put_unaligned_le32(m->cluster_sectors, hdr + OFF_CLUSTER_SECTORS);
	put_unaligned_le32(m->clean ? TRACK_FLAG_CLEAN : 0, hdr + OFF_FLAGS);
	put_unaligned_le64(m->nr_clusters, hdr + OFF_NR_CLUSTERS);
	put_unaligned_le64(m->epoch, hdr + OFF_EPOCH);
	encode_map(&m->frozen, hdr + OFF_FROZEN);
	encode_map(&m->cur, hdr + OFF_CURRENT);
	put_unaligned_le32(header_csum(hdr), hdr + OFF_CSUM);
}

static bool decode_map(const u8 *p, u64 nr_clusters,
		       struct track_map_meta *map)
{
	map->count = get_unaligned_le64(p + MAP_COUNT);
	map->csum = get_unaligned_le32(p + MAP_CSUM);
	map->valid = p[MAP_VALID] == 1;
	map->reason = p[MAP_REASON];
	if (p[MAP_VALID] > 1 || map->reason >= TRACK_NR_REASONS ||
	    map->valid != (map->reason == TRACK_OK))
		return false;
	return map->count <= nr_clusters;
}

static bool is_zero(const u8 *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

static bool cluster_size_ok(u32 sectors)
{
	return sectors >= COWBACKUP_CLUSTER_MIN_SECTORS &&
	       sectors <= COWBACKUP_CLUSTER_MAX_SECTORS &&
	       !(sectors & (sectors - 1));
}

enum track_reason track_meta_decode(const void *block, struct track_meta *m)
{
	const u8 *hdr = block;
	u32 flags;

	if (is_zero(hdr, TRACK_HEADER_BYTES))
		return TRACK_NEW;
	if (memcmp(hdr + OFF_MAGIC, track_magic, sizeof(track_magic)))
		return TRACK_BAD_MAGIC;
	if (get_unaligned_le32(hdr + OFF_VERSION) != TRACK_META_VERSION)
		return TRACK_BAD_VERSION;
	if (get_unaligned_le32(hdr + OFF_CSUM) != header_csum(hdr))
		return TRACK_BAD_CHECKSUM;

	/* The checksum matched: anything odd now is a bad writer. */
	memcpy(m->uuid, hdr + OFF_UUID, sizeof(m->uuid));
	m->dev_sectors = get_unaligned_le64(hdr + OFF_DEV_SECTORS);
	m->cluster_sectors = get_unaligned_le32(hdr + OFF_CLUSTER_SECTORS);
	flags = get_unaligned_le32(hdr + OFF_FLAGS);
	m->clean = flags & TRACK_FLAG_CLEAN;
	m->nr_clusters = get_unaligned_le64(hdr + OFF_NR_CLUSTERS);
	m->epoch = get_unaligned_le64(hdr + OFF_EPOCH);
	if (flags & ~TRACK_FLAG_CLEAN || !m->epoch || !m->dev_sectors ||
	    !cluster_size_ok(m->cluster_sectors) ||
	    m->nr_clusters != track_nr_clusters(m->dev_sectors,
						m->cluster_sectors) ||
	    !decode_map(hdr + OFF_FROZEN, m->nr_clusters, &m->frozen) ||
	    !decode_map(hdr + OFF_CURRENT, m->nr_clusters, &m->cur))
		return TRACK_BAD_HEADER;
	return TRACK_OK;
}

enum track_reason track_meta_check(const struct track_meta *m,
				   u64 dev_sectors, u32 cluster_sectors)
{
	if (m->cluster_sectors != cluster_sectors)
		return TRACK_CLUSTER_SIZE_CHANGED;
	if (m->dev_sectors != dev_sectors)
		return TRACK_LENGTH_CHANGED;
	return TRACK_OK;
}

/* Set bits [@from, @from + @count) of the bit array @buf. */
static void set_bits(u8 *buf, u64 from, u64 count)
{
	while (count && (from & 7)) {
		buf[from >> 3] |= 1U << (from & 7);
		from++;
		count--;
	}
	if (count >= 8) {
		memset(buf + (from >> 3), 0xff, count >> 3);
		from += count & ~7ULL;
		count &= 7;
	}
	while (count--) {
		buf[from >> 3] |= 1U << (from & 7);
		from++;
	}
}

void track_map_pack(const struct hbitmap *hb, u64 first, void *buf,
		    size_t bytes)
{
	u64 end = first + (u64)bytes * 8;
	u64 pos = first, start, len;

	memset(buf, 0, bytes);
	while (hbitmap_next_dirty_area(hb, pos, end, end - pos, &start, &len)) {
		set_bits(buf, start - first, len);
		pos = start + len;
	}
}

int track_map_unpack(struct hbitmap *hb, u64 first, const void *buf,
		     size_t bytes)
{
	const u8 *p = buf;
	u64 nbits = hbitmap_size(hb);
	u64 run_start = 0, run_len = 0, bit;
	size_t i;
	unsigned int b;

	/* Bits past the end first: a bad map changes nothing there. */
	for (i = 0; i < bytes; i++) {
		u64 base = first + (u64)i * 8;

		if (!p[i] || base + 8 <= nbits)
			continue;
		for (b = 0; b < 8; b++)
			if (base + b >= nbits && p[i] & (1U << b))
				return -EINVAL;
	}
	for (i = 0; i < bytes; i++) {
		if (!p[i])
			continue;
		for (b = 0; b < 8; b++) {
			if (!(p[i] & (1U << b)))
				continue;
			bit = first + (u64)i * 8 + b;
			if (run_len && run_start + run_len == bit) {
				run_len++;
				continue;
			}
			if (run_len)
				hbitmap_set(hb, run_start, run_len);
			run_start = bit;
			run_len = 1;
		}
	}
	if (run_len)
		hbitmap_set(hb, run_start, run_len);
	return 0;
}
