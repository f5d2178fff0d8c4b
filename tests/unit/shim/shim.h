/* SPDX-License-Identifier: GPL-2.0 */
/* Test-side controls of the host shim (not a kernel header). */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

#include <stddef.h>

/* Make the @n-th allocation from now fail (1 = the next); 0 disarms. */
void shim_fail_alloc_after(unsigned long n);
/* Allocations made through the shim and not yet freed. */
long shim_live_allocs(void);

#endif
