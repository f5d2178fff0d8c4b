// SPDX-License-Identifier: GPL-2.0
/* Decompressors for compressed image units (see decompress.h). */
#include <limits.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/decompress.h"

/* zlib counts in uInt; image units are at most a few MiB. */
static int inflate_all(const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len, int window_bits)
{
	z_stream z;
	int ret;

	if (in_len > UINT_MAX || out_len > UINT_MAX)
		return -1;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, window_bits) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	z.next_out = out;
	z.avail_out = (uInt)out_len;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	/*
	 * Full output is what counts: a qcow2 stream may lack its final
	 * block marker inside the sectors it claims (Z_BUF_ERROR), as QEMU
	 * accepts.
	 */
	if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && !z.avail_out)
		return 0;
	return -1;
}

int decompress_qcow2_deflate(const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t out_len)
{
	return inflate_all(in, in_len, out, out_len, -12);
}

int decompress_vmdk_zlib(const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t out_len)
{
	z_stream z;
	int ret;

	/* A grain is exactly one complete zlib stream of one grain. */
	if (in_len > UINT_MAX || out_len > UINT_MAX)
		return -1;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	z.next_out = out;
	z.avail_out = (uInt)out_len;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return ret == Z_STREAM_END && !z.avail_out ? 0 : -1;
}

int decompress_qcow2_zstd(const uint8_t *in, size_t in_len, uint8_t *out,
			  size_t out_len)
{
	ZSTD_inBuffer src = { .src = in, .size = in_len, .pos = 0 };
	ZSTD_outBuffer dst = { .dst = out, .size = out_len, .pos = 0 };
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t ret = 0;

	if (!d)
		return -1;
	while (dst.pos < dst.size) {
		size_t in_before = src.pos, out_before = dst.pos;

		ret = ZSTD_decompressStream(d, &dst, &src);
		if (ZSTD_isError(ret))
			break;
		/* Neither input taken nor output made: truncated. */
		if (src.pos == in_before && dst.pos == out_before)
			break;
	}
	ZSTD_freeDCtx(d);
	return !ZSTD_isError(ret) && dst.pos == dst.size ? 0 : -1;
}
