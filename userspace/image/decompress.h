/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decompressors for the codecs `export` writes (compress.h), used to read
 * compressed qcow2 clusters and streamOptimized VMDK grains back. Each
 * takes the stored bytes and the one unit they must expand to: anything
 * that is not exactly @out_len bytes of output is an error, as in QEMU.
 * They return 0, or -1 without printing: the caller names the field.
 */
#ifndef COWBACKUP_DECOMPRESS_H
#define COWBACKUP_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Raw deflate (RFC 1951) with a 4 KiB window: compression_type=zlib. */
int decompress_qcow2_deflate(const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t out_len);
/*
 * zstd frames: compression_type=zstd. The output ends when the cluster
 * is full: the sector padding after the frame is not looked at.
 */
int decompress_qcow2_zstd(const uint8_t *in, size_t in_len, uint8_t *out,
			  size_t out_len);
/* zlib format (RFC 1950): a streamOptimized VMDK grain. */
int decompress_vmdk_zlib(const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t out_len);

#endif /* COWBACKUP_DECOMPRESS_H */
