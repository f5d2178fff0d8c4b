/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: kernel integer types on top of the uapi ones. */
#ifndef SHIM_LINUX_TYPES_H
#define SHIM_LINUX_TYPES_H

#include_next <linux/types.h>	/* __u8 .. __u64 (uapi) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;		/* unsigned long long, as in the kernel */
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

typedef unsigned int gfp_t;
typedef u64 sector_t;

#endif
