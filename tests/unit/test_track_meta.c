// SPDX-License-Identifier: GPL-2.0
// kernel-sources: kernel/track_meta.c kernel/hbitmap.c
/*
 * The cowbackup-track metadata format: the exact code the module runs
 * (kernel/track_meta.c), built against the shim. Header round trips,
 * every way a header is refused, the sizes the admin guide quotes, and
 * map packing against the hierarchical bitmap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "../../kernel/hbitmap.h"
#include "../../kernel/track_meta.h"

static void sample(struct track_meta *m)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < sizeof(m->uuid); i++)
		m->uuid[i] = 0xa0 + i;
	m->dev_sectors = 1000001;
	m->cluster_sectors = 128;
	m->nr_clusters = track_nr_clusters(m->dev_sectors, 128);
	m->epoch = 7;
	m->clean = true;
	m->frozen.valid = true;
	m->frozen.count = 12;
	m->frozen.csum = 0x12345678;
	m->cur.valid = false;
	m->cur.reason = TRACK_UNCLEAN;
	m->cur.count = 3;
	m->cur.csum = 0x9abcdef0;
}

/* Re-seal a header after a test edited a field behind the checksum. */
static void reseal(unsigned char *blk)
{
	u32 crc;

	memset(blk + 12, 0, 4);
	crc = track_csum_final(track_csum_update(TRACK_CSUM_INIT, blk,
						 TRACK_HEADER_BYTES));
	blk[12] = crc;
	blk[13] = crc >> 8;
	blk[14] = crc >> 16;
	blk[15] = crc >> 24;
}

TEST(crc32c_check_value)
{
	/* The standard CRC-32C check value. */
	EXPECT_EQ(0xE3069283U,
		  track_csum_final(track_csum_update(TRACK_CSUM_INIT,
						     "123456789", 9)));
}

TEST(sizes)
{
	/* 1 TiB at the default 64 KiB clusters: 2^24 clusters, 2 MiB maps. */
	EXPECT_EQ(1ULL << 24, track_nr_clusters(1ULL << 31, 128));
	EXPECT_EQ(4096, track_map_sectors(1ULL << 24));
	EXPECT_EQ(8 + 2 * 4096, track_meta_sectors(1ULL << 31, 128));
	/* 1 TiB at 4 KiB clusters: 2^28 clusters, 32 MiB maps. */
	EXPECT_EQ(8 + 2 * 65536, track_meta_sectors(1ULL << 31, 8));
	/* 1 TiB at 8 MiB clusters: 131072 clusters, 16 KiB maps. */
	EXPECT_EQ(8 + 2 * 32, track_meta_sectors(1ULL << 31, 16384));
	/* Tiny devices still get a whole 4 KiB block per map. */
	EXPECT_EQ(1, track_nr_clusters(1, 128));
	EXPECT_EQ(8 + 2 * 8, track_meta_sectors(1, 128));
	EXPECT_EQ(0, track_map_sectors(0));
	EXPECT_EQ(8, track_map_offset(1000, 0));
	EXPECT_EQ(16, track_map_offset(1000, 1));
	/* No overflow for a hostile length near 2^64. */
	EXPECT_EQ((~0ULL >> 3) + 1, track_nr_clusters(~0ULL, 8));
}

TEST(header_round_trip)
{
	unsigned char blk[TRACK_BLOCK_BYTES];
	struct track_meta m, d;

	sample(&m);
	memset(blk, 0, sizeof(blk));
	track_meta_encode(&m, blk);
	EXPECT_EQ(0, memcmp(blk, "CBTRACK", 8));
	ASSERT_EQ(TRACK_OK, track_meta_decode(blk, &d));
	EXPECT_EQ(0, memcmp(m.uuid, d.uuid, 16));
	EXPECT_EQ(m.dev_sectors, d.dev_sectors);
	EXPECT_EQ(m.cluster_sectors, d.cluster_sectors);
	EXPECT_EQ(m.nr_clusters, d.nr_clusters);
	EXPECT_EQ(7, d.epoch);
	EXPECT_TRUE(d.clean);
	EXPECT_TRUE(d.frozen.valid);
	EXPECT_EQ(TRACK_OK, d.frozen.reason);
	EXPECT_EQ(12, d.frozen.count);
	EXPECT_EQ(0x12345678U, d.frozen.csum);
	EXPECT_FALSE(d.cur.valid);
	EXPECT_EQ(TRACK_UNCLEAN, d.cur.reason);
	EXPECT_EQ(3, d.cur.count);
	EXPECT_EQ(0x9abcdef0U, d.cur.csum);
	EXPECT_EQ(TRACK_OK, track_meta_check(&d, 1000001, 128));
	EXPECT_EQ(TRACK_LENGTH_CHANGED, track_meta_check(&d, 1000000, 128));
	EXPECT_EQ(TRACK_CLUSTER_SIZE_CHANGED,
		  track_meta_check(&d, 1000001, 256));

	m.clean = false;
	track_meta_encode(&m, blk);
	ASSERT_EQ(TRACK_OK, track_meta_decode(blk, &d));
	EXPECT_FALSE(d.clean);
	/* The fixed offsets of the documented layout. */
	EXPECT_EQ(0, blk[44]);
	EXPECT_EQ(7, blk[56]);
	EXPECT_EQ(1, blk[76]);
	EXPECT_EQ(TRACK_UNCLEAN, blk[93]);
}

TEST(header_refusals)
{
	unsigned char blk[TRACK_BLOCK_BYTES], good[TRACK_BLOCK_BYTES];
	struct track_meta m, d;

	memset(blk, 0, sizeof(blk));
	EXPECT_EQ(TRACK_NEW, track_meta_decode(blk, &d));

	sample(&m);
	memset(good, 0, sizeof(good));
	track_meta_encode(&m, good);

	memcpy(blk, good, sizeof(blk));
	blk[0] = 'X';
	EXPECT_EQ(TRACK_BAD_MAGIC, track_meta_decode(blk, &d));

	memcpy(blk, good, sizeof(blk));
	blk[8] = 2;
	EXPECT_EQ(TRACK_BAD_VERSION, track_meta_decode(blk, &d));

	/* Any flipped bit of the 512 header bytes fails the checksum. */
	memcpy(blk, good, sizeof(blk));
	blk[33] ^= 0x10;
	EXPECT_EQ(TRACK_BAD_CHECKSUM, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	blk[511] ^= 1;
	EXPECT_EQ(TRACK_BAD_CHECKSUM, track_meta_decode(blk, &d));

	/* Sealed but inconsistent: a bad writer. */
	memcpy(blk, good, sizeof(blk));
	blk[44] = 2;				/* unknown flag */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	blk[40] = 96;				/* not a power of two */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	memset(blk + 32, 0xff, 8);		/* huge length */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	memset(blk + 56, 0, 8);			/* epoch 0 */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	memset(blk + 64, 0xff, 8);		/* more bits than clusters */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	blk[77] = TRACK_UNCLEAN;		/* valid with a reason */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	memcpy(blk, good, sizeof(blk));
	blk[93] = 200;				/* unknown reason */
	reseal(blk);
	EXPECT_EQ(TRACK_BAD_HEADER, track_meta_decode(blk, &d));
	/* The reseal itself is right: the untouched header still decodes. */
	memcpy(blk, good, sizeof(blk));
	reseal(blk);
	EXPECT_EQ(TRACK_OK, track_meta_decode(blk, &d));
}

TEST(reason_names)
{
	EXPECT_STREQ("-", track_reason_name(TRACK_OK));
	EXPECT_STREQ("new", track_reason_name(TRACK_NEW));
	EXPECT_STREQ("unclean", track_reason_name(TRACK_UNCLEAN));
	EXPECT_STREQ("length_changed",
		     track_reason_name(TRACK_LENGTH_CHANGED));
	EXPECT_STREQ("bypassed", track_reason_name(TRACK_BYPASSED));
	EXPECT_STREQ("?", track_reason_name(TRACK_NR_REASONS));
}

TEST(map_pack_unpack)
{
	const u64 n = 70000;
	const size_t bytes = 4096;	/* 32768 bits per chunk */
	struct hbitmap *hb = hbitmap_alloc(n, 0);
	struct hbitmap *back = hbitmap_alloc(n, 0);
	unsigned char *buf = malloc(bytes);
	u64 first, i;

	ASSERT_NE(NULL, hb);
	ASSERT_NE(NULL, back);
	hbitmap_set(hb, 0, 1);
	hbitmap_set(hb, 5, 20);
	hbitmap_set(hb, 32760, 20);	/* straddles two chunks */
	hbitmap_set(hb, 40000, 9000);
	hbitmap_set(hb, n - 3, 3);
	for (first = 0; first < n; first += bytes * 8) {
		track_map_pack(hb, first, buf, bytes);
		ASSERT_EQ(0, track_map_unpack(back, first, buf, bytes));
	}
	EXPECT_EQ(hbitmap_count(hb), hbitmap_count(back));
	for (i = 0; i < n; i++)
		if (hbitmap_test(hb, i) != hbitmap_test(back, i))
			break;
	EXPECT_EQ(n, i);

	/* Bit order on disk: cluster 5 is bit 5 of byte 0. */
	track_map_pack(hb, 0, buf, bytes);
	EXPECT_EQ(0xe1, buf[0]);
	/* Past the end: zero when packed, refused when unpacked. */
	track_map_pack(hb, 65536, buf, bytes);
	EXPECT_EQ(0x7, buf[(n - 65536 - 3) / 8] >> ((n - 3) % 8) & 0x7);
	EXPECT_EQ(0, buf[(n - 65536) / 8 + 1]);
	buf[bytes - 1] = 0x80;
	EXPECT_EQ(-EINVAL, track_map_unpack(back, 65536, buf, bytes));

	hbitmap_free(hb);
	hbitmap_free(back);
	free(buf);
}

TEST(range_full_lockless)
{
	struct hbitmap *hb = hbitmap_alloc(300, 0);

	ASSERT_NE(NULL, hb);
	EXPECT_FALSE(hbitmap_range_full_lockless(hb, 0, 1));
	hbitmap_set(hb, 60, 80);
	EXPECT_TRUE(hbitmap_range_full_lockless(hb, 60, 80));
	EXPECT_TRUE(hbitmap_range_full_lockless(hb, 64, 1));
	EXPECT_FALSE(hbitmap_range_full_lockless(hb, 59, 2));
	EXPECT_FALSE(hbitmap_range_full_lockless(hb, 139, 2));
	/* Clipped at the end: only bits inside count. */
	hbitmap_set(hb, 290, 10);
	EXPECT_TRUE(hbitmap_range_full_lockless(hb, 290, 1000));
	EXPECT_TRUE(hbitmap_range_full_lockless(hb, 400, 5));
	hbitmap_free(hb);
}

TEST_HARNESS_MAIN
