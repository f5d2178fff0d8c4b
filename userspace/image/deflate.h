/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small zlib-format (RFC 1950/1951) compressor for streamOptimized VMDK
 * grains, so cowbackup-ctl needs no zlib at link time. Greedy LZ77 with
 * hash chains and the fixed Huffman code: a fraction of zlib's ratio on
 * text, but any inflate (QEMU uses zlib's uncompress()) reads it.
 */
#ifndef COWBACKUP_DEFLATE_H
#define COWBACKUP_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

/* Output size that zlib_compress() never exceeds for @len input bytes. */
size_t zlib_bound(size_t len);

/*
 * Compress @len bytes into @out (at least zlib_bound(len) bytes) as one
 * zlib stream; returns its length. Never fails: input that does not
 * compress is stored.
 */
size_t zlib_compress(const uint8_t *in, size_t len, uint8_t *out);

#endif /* COWBACKUP_DEFLATE_H */
