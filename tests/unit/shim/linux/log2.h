/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHIM_LINUX_LOG2_H
#define SHIM_LINUX_LOG2_H

#include <linux/bitops.h>

static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* floor(log2(n)); n must not be 0. */
#define ilog2(n)	(fls64((u64)(n)) - 1)

static inline unsigned long roundup_pow_of_two(unsigned long n)
{
	return 1UL << fls64((u64)n - 1);
}

#endif
