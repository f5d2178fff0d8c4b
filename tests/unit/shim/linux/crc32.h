/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host shim: the kernel's CRC32C (Castagnoli, reflected polynomial
 * 0x82F63B78) without pre- or post-inversion, as lib/crc32.c's
 * __crc32c_le(). Bitwise: slow, but exact.
 */
#ifndef SHIM_LINUX_CRC32_H
#define SHIM_LINUX_CRC32_H

#include <linux/types.h>

static inline u32 __crc32c_le(u32 crc, unsigned char const *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78U & -(crc & 1));
	}
	return crc;
}

#endif
