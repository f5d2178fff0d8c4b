/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host shim: kmalloc/kvmalloc families map to malloc/calloc through
 * shim.c, which counts live allocations and can inject failures
 * (see ../shim.h).
 */
#ifndef SHIM_LINUX_SLAB_H
#define SHIM_LINUX_SLAB_H

#include <linux/gfp.h>
#include <linux/overflow.h>
#include <linux/types.h>

void *shim_alloc(size_t size, gfp_t gfp);
void shim_free(const void *p);

static inline void *kmalloc(size_t size, gfp_t gfp)
{
	return shim_alloc(size, gfp);
}

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	return shim_alloc(size, gfp | __GFP_ZERO);
}

static inline void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	return shim_alloc(size_mul(n, size), gfp);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	return shim_alloc(size_mul(n, size), gfp | __GFP_ZERO);
}

/* Like the kernel: kvmalloc() refuses sizes above INT_MAX. */
static inline void *kvmalloc(size_t size, gfp_t gfp)
{
	if (size > 0x7fffffffUL)
		return NULL;
	return shim_alloc(size, gfp);
}

static inline void *kvzalloc(size_t size, gfp_t gfp)
{
	return kvmalloc(size, gfp | __GFP_ZERO);
}

static inline void *kvmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	return kvmalloc(size_mul(n, size), gfp);
}

static inline void *kvcalloc(size_t n, size_t size, gfp_t gfp)
{
	return kvmalloc(size_mul(n, size), gfp | __GFP_ZERO);
}

static inline void kfree(const void *p)
{
	shim_free(p);
}

static inline void kvfree(const void *p)
{
	shim_free(p);
}

#endif
