// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the cowbackup-track metadata reader
 * (kernel/track_meta.c, the code the module runs) on hostile bytes. The
 * input is a control byte, a header block (zero-padded to 512 bytes) and
 * map bytes. Control bit 1 writes the right magic and version, bit 0 the
 * right checksum, so that the checks behind them get fuzzed too. A header that decodes must be consistent and survive an encode
 * and decode unchanged; map bytes must unpack without touching anything
 * past the map's end, and pack back to the same bytes when accepted.
 */
#include "track_meta.c"

#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

/* Maps larger than this many clusters are only decoded, not built. */
#define MAX_FUZZ_CLUSTERS	(1U << 16)

static void check_header(const struct track_meta *m)
{
	unsigned char blk[TRACK_HEADER_BYTES];
	struct track_meta d;

	CHECK(m->epoch >= 1);
	CHECK(cluster_size_ok(m->cluster_sectors));
	CHECK(m->nr_clusters == track_nr_clusters(m->dev_sectors,
						  m->cluster_sectors));
	CHECK(m->frozen.count <= m->nr_clusters);
	CHECK(m->cur.count <= m->nr_clusters);
	CHECK(m->frozen.valid == (m->frozen.reason == TRACK_OK));
	CHECK(m->cur.valid == (m->cur.reason == TRACK_OK));
	CHECK(strcmp(track_reason_name(m->frozen.reason), "?"));
	CHECK(track_meta_sectors(m->dev_sectors, m->cluster_sectors) >=
	      TRACK_BLOCK_SECTORS + 2 * track_map_sectors(m->nr_clusters));

	track_meta_encode(m, blk);
	CHECK(track_meta_decode(blk, &d) == TRACK_OK);
	CHECK(!memcmp(m->uuid, d.uuid, sizeof(d.uuid)));
	CHECK(d.dev_sectors == m->dev_sectors && d.epoch == m->epoch &&
	      d.clean == m->clean && d.cluster_sectors == m->cluster_sectors);
	CHECK(d.frozen.count == m->frozen.count &&
	      d.frozen.csum == m->frozen.csum &&
	      d.frozen.reason == m->frozen.reason);
	CHECK(d.cur.count == m->cur.count && d.cur.csum == m->cur.csum &&
	      d.cur.reason == m->cur.reason);
}

static void check_map(u64 nr, const uint8_t *bytes, size_t len)
{
	struct hbitmap *hb = hbitmap_alloc(nr, 0);
	unsigned char *back;

	if (!hb)
		return;
	back = malloc(len ? len : 1);
	CHECK(back);
	if (!track_map_unpack(hb, 0, bytes, len)) {
		track_map_pack(hb, 0, back, len);
		CHECK(!memcmp(back, bytes, len));
	}
	CHECK(hbitmap_count(hb) <= nr);
	free(back);
	hbitmap_free(hb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char blk[TRACK_HEADER_BYTES];
	struct track_meta m;
	enum track_reason r;
	uint8_t ctl;
	u64 nr;

	if (!size)
		return 0;
	ctl = *data++;
	size--;
	memset(blk, 0, sizeof(blk));
	memcpy(blk, data, size < sizeof(blk) ? size : sizeof(blk));
	if (ctl & 2) {
		memcpy(blk + OFF_MAGIC, track_magic, sizeof(track_magic));
		put_unaligned_le32(TRACK_META_VERSION, blk + OFF_VERSION);
	}
	if (ctl & 1)
		put_unaligned_le32(header_csum(blk), blk + OFF_CSUM);
	r = track_meta_decode(blk, &m);
	CHECK(r < TRACK_NR_REASONS);
	if (r == TRACK_OK)
		check_header(&m);

	/* The rest as a map of a size taken from the input's first bytes. */
	if (size > sizeof(blk)) {
		nr = (blk[0] | blk[1] << 8) % MAX_FUZZ_CLUSTERS;
		check_map(nr, data + sizeof(blk), size - sizeof(blk));
	}
	return 0;
}
