/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The compression codecs `export` writes, each on a maintained library:
 *
 *   CODEC_VMDK_ZLIB      zlib format (RFC 1950) for streamOptimized VMDK
 *                        grains, through libdeflate (QEMU inflates them
 *                        with zlib's uncompress(): 32 KiB window).
 *   CODEC_QCOW2_DEFLATE  raw deflate (RFC 1951) with a 4 KiB window for
 *                        qcow2 compression_type=zlib clusters, through
 *                        zlib: QEMU inflates them with windowBits -12, so
 *                        no match may reach back further than 4 KiB, which
 *                        libdeflate cannot promise.
 *   CODEC_QCOW2_ZSTD     one zstd frame per cluster for qcow2
 *                        compression_type=zstd, through libzstd.
 *
 * A struct codec holds one compressor's state and is used by one thread
 * at a time; the thread pool gives each worker its own.
 */
#ifndef COWBACKUP_COMPRESS_H
#define COWBACKUP_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum codec_kind {
	CODEC_NONE,
	CODEC_VMDK_ZLIB,
	CODEC_QCOW2_DEFLATE,
	CODEC_QCOW2_ZSTD,
};

struct codec;

/* NULL after one error line naming @path. */
struct codec *codec_new(enum codec_kind kind, const char *path);
void codec_free(struct codec *c);
/* @n codecs of @kind, one per worker thread; NULL after one error line. */
struct codec **codecs_new(enum codec_kind kind, unsigned int n,
			  const char *path);
void codecs_free(struct codec **c, unsigned int n);

/* Largest output codec_compress() can produce for @len input bytes. */
size_t codec_bound(enum codec_kind kind, size_t len);

/*
 * Compress @len bytes into @out; returns the compressed length, or 0 when
 * it does not fit in @cap bytes (the caller then stores the data as is).
 */
size_t codec_compress(struct codec *c, const uint8_t *in, size_t len,
		      uint8_t *out, size_t cap);

#endif /* COWBACKUP_COMPRESS_H */
