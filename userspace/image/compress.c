// SPDX-License-Identifier: GPL-2.0
/*
 * Codecs for `export` on libdeflate, zlib and libzstd (see compress.h for
 * which format needs which and why).
 */
#include <libdeflate.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "image/compress.h"
#include "util.h"

/* The levels qemu-img uses: zlib's default (6) and zstd's default (3). */
#define DEFLATE_LEVEL	6
#define ZSTD_LEVEL	3
/* QEMU inflates qcow2 clusters with windowBits -12. */
#define QCOW2_WINDOW_BITS 12

struct codec {
	enum codec_kind kind;
	struct libdeflate_compressor *ld;
	z_stream z;
	ZSTD_CCtx *zstd;
};

struct codec *codec_new(enum codec_kind kind, const char *path)
{
	struct codec *c = calloc(1, sizeof(*c));
	bool ok = false;

	if (!c) {
		err_msg("%s: out of memory for a compressor", path);
		return NULL;
	}
	c->kind = kind;
	switch (kind) {
	case CODEC_VMDK_ZLIB:
		c->ld = libdeflate_alloc_compressor(DEFLATE_LEVEL);
		ok = c->ld != NULL;
		break;
	case CODEC_QCOW2_DEFLATE:
		ok = deflateInit2(&c->z, DEFLATE_LEVEL, Z_DEFLATED,
				  -QCOW2_WINDOW_BITS, 9,
				  Z_DEFAULT_STRATEGY) == Z_OK;
		if (!ok)
			c->kind = CODEC_NONE;	/* nothing to end */
		break;
	case CODEC_QCOW2_ZSTD:
		c->zstd = ZSTD_createCCtx();
		ok = c->zstd && !ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd,
					ZSTD_c_compressionLevel, ZSTD_LEVEL));
		break;
	case CODEC_NONE:
		break;
	}
	if (!ok) {
		err_msg("%s: cannot set up the compressor (out of memory)",
			path);
		codec_free(c);
		return NULL;
	}
	return c;
}

void codec_free(struct codec *c)
{
	if (!c)
		return;
	if (c->ld)
		libdeflate_free_compressor(c->ld);
	if (c->kind == CODEC_QCOW2_DEFLATE)
		deflateEnd(&c->z);
	ZSTD_freeCCtx(c->zstd);
	free(c);
}

struct codec **codecs_new(enum codec_kind kind, unsigned int n,
			  const char *path)
{
	struct codec **c = calloc(n, sizeof(*c));
	unsigned int i;

	if (!c) {
		err_msg("%s: out of memory for the compressors", path);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		c[i] = codec_new(kind, path);
		if (!c[i]) {
			codecs_free(c, i);
			return NULL;
		}
	}
	return c;
}

void codecs_free(struct codec **c, unsigned int n)
{
	unsigned int i;

	for (i = 0; c && i < n; i++)
		codec_free(c[i]);
	free(c);
}

size_t codec_bound(enum codec_kind kind, size_t len)
{
	switch (kind) {
	case CODEC_VMDK_ZLIB:
		return libdeflate_zlib_compress_bound(NULL, len);
	case CODEC_QCOW2_DEFLATE:
		return deflateBound(NULL, (uLong)len);
	case CODEC_QCOW2_ZSTD:
		return ZSTD_compressBound(len);
	case CODEC_NONE:
		break;
	}
	return len;
}

static size_t qcow2_deflate(struct codec *c, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap)
{
	int ret;

	if (deflateReset(&c->z) != Z_OK)
		return 0;
	c->z.next_in = (Bytef *)in;
	c->z.avail_in = (uInt)len;
	c->z.next_out = out;
	c->z.avail_out = (uInt)cap;
	ret = deflate(&c->z, Z_FINISH);
	return ret == Z_STREAM_END ? cap - c->z.avail_out : 0;
}

size_t codec_compress(struct codec *c, const uint8_t *in, size_t len,
		      uint8_t *out, size_t cap)
{
	size_t n;

	switch (c->kind) {
	case CODEC_VMDK_ZLIB:
		return libdeflate_zlib_compress(c->ld, in, len, out, cap);
	case CODEC_QCOW2_DEFLATE:
		return qcow2_deflate(c, in, len, out, cap);
	case CODEC_QCOW2_ZSTD:
		n = ZSTD_compress2(c->zstd, out, cap, in, len);
		return ZSTD_isError(n) ? 0 : n;
	case CODEC_NONE:
		break;
	}
	return 0;
}
