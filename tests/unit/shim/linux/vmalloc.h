/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHIM_LINUX_VMALLOC_H
#define SHIM_LINUX_VMALLOC_H

#include <linux/slab.h>

static inline void *vmalloc(size_t size)
{
	return shim_alloc(size, GFP_KERNEL);
}

static inline void *vzalloc(size_t size)
{
	return shim_alloc(size, GFP_KERNEL | __GFP_ZERO);
}

static inline void vfree(const void *p)
{
	shim_free(p);
}

#endif
