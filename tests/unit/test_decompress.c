// SPDX-License-Identifier: GPL-2.0
// userspace-sources: userspace/image/decompress.c
// libs: -lz -lzstd
/*
 * userspace/image/decompress.c: a compressed unit decompresses to exactly
 * one unit or is refused (short, long, truncated, garbage), for the three
 * codecs restore reads back. The streams are made here with zlib and
 * libzstd directly, not with export's compressors.
 */
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/decompress.h"
#include "kselftest_harness.h"

#define UNIT 65536

static void fill_text(uint8_t *p, size_t len)
{
	static const char words[] = "restore the chain of a backup, cluster by cluster; ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(words[i % (sizeof(words) - 1)] + (i / 4099) % 3);
}

/* Raw deflate with the 4 KiB window qcow2 uses; returns the length. */
static size_t deflate_raw(const uint8_t *in, size_t len, uint8_t *out,
			  size_t cap)
{
	z_stream z;
	size_t n;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	n = deflate(&z, Z_FINISH) == Z_STREAM_END ? cap - z.avail_out : 0;
	deflateEnd(&z);
	return n;
}

static uint8_t in[UNIT], packed[2 * UNIT], out[2 * UNIT];

TEST(qcow2_deflate)
{
	size_t n;

	fill_text(in, UNIT);
	n = deflate_raw(in, UNIT, packed, sizeof(packed));
	ASSERT_NE(0, n);
	/* The sectors a qcow2 entry claims may run past the stream. */
	memset(packed + n, 0, 511);
	ASSERT_EQ(0, decompress_qcow2_deflate(packed, n + 511, out, UNIT));
	ASSERT_EQ(0, memcmp(in, out, UNIT));
	/* A unit larger than the stream holds, truncated input, garbage. */
	ASSERT_EQ(-1, decompress_qcow2_deflate(packed, n, out, UNIT + 512));
	ASSERT_EQ(-1, decompress_qcow2_deflate(packed, n / 2, out, UNIT));
	memset(packed, 0xff, 64);
	ASSERT_EQ(-1, decompress_qcow2_deflate(packed, n, out, UNIT));
}

TEST(qcow2_zstd)
{
	size_t n;

	fill_text(in, UNIT);
	n = ZSTD_compress(packed, sizeof(packed), in, UNIT, 3);
	ASSERT_FALSE(ZSTD_isError(n));
	memset(packed + n, 0, 511);
	ASSERT_EQ(0, decompress_qcow2_zstd(packed, n + 511, out, UNIT));
	ASSERT_EQ(0, memcmp(in, out, UNIT));
	ASSERT_EQ(-1, decompress_qcow2_zstd(packed, n, out, UNIT + 512));
	ASSERT_EQ(-1, decompress_qcow2_zstd(packed, n / 2, out, UNIT));
	memset(packed, 0xff, 64);
	ASSERT_EQ(-1, decompress_qcow2_zstd(packed, n, out, UNIT));
}

TEST(vmdk_zlib)
{
	uLongf n = sizeof(packed);

	fill_text(in, UNIT);
	ASSERT_EQ(Z_OK, compress2(packed, &n, in, UNIT, 6));
	ASSERT_EQ(0, decompress_vmdk_zlib(packed, n, out, UNIT));
	ASSERT_EQ(0, memcmp(in, out, UNIT));
	/* One grain exactly: a stream of half a grain is refused too. */
	ASSERT_EQ(-1, decompress_vmdk_zlib(packed, n, out, UNIT + 512));
	ASSERT_EQ(-1, decompress_vmdk_zlib(packed, n, out, UNIT / 2));
	ASSERT_EQ(-1, decompress_vmdk_zlib(packed, n - 8, out, UNIT));
}

TEST_HARNESS_MAIN
