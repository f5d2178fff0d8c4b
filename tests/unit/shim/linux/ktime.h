/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: monotonic clock in nanoseconds. */
#ifndef SHIM_LINUX_KTIME_H
#define SHIM_LINUX_KTIME_H

#include <linux/time64.h>
#include <time.h>

typedef s64 ktime_t;

static inline u64 ktime_get_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

#endif
