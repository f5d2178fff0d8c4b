// SPDX-License-Identifier: GPL-2.0
/* Decompressors for compressed image units (see decompress.h). */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/decompress.h"

/*
 * Inflate all of @in into exactly @out_len bytes. zlib counts in uInt;
 * image units are at most a few MiB. @need_end: the stream must end
 * there too (a VMDK grain is one whole zlib stream). A qcow2 stream may
 * lack its final block inside the sectors it claims (Z_BUF_ERROR once
 * the output is full), which QEMU accepts.
 */
static int inflate_all(const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len, int window_bits, bool need_end)
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
	if (z.avail_out)
		return -1;
	return ret == Z_STREAM_END || (!need_end && ret == Z_BUF_ERROR) ?
	       0 : -1;
}

int decompress_qcow2_deflate(const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t out_len)
{
	return inflate_all(in, in_len, out, out_len, -12, false);
}

int decompress_vmdk_zlib(const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t out_len)
{
	return inflate_all(in, in_len, out, out_len, 15, true);
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
