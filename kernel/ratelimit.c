// SPDX-License-Identifier: GPL-2.0
/*
 * Rate limiter for the background copy, with QEMU's ratelimit semantics.
 *
 * Time is cut into slices of fixed length (COWBACKUP_RATELIMIT_SLICE_NS);
 * each slice may carry slice_quota = speed * slice_ns / 1s bytes. Bytes are
 * charged when a request is *submitted*: measuring completions instead lets
 * a deep queue run far ahead of the limit. The slice length never changes
 * at run time, because adapting it made throughput oscillate.
 *
 * A request is admitted while the bytes charged in the current slice are
 * below the quota, so a request may overdraw the slice (a single request
 * can be larger than a whole quota, e.g. 8 MiB requests at 1 MiB/s). The
 * overdraw is debt: when a slice ends, one quota is paid back per slice
 * that has passed and the rest is carried into the next slice, keeping the
 * slice grid. A caller refused with a delay therefore wakes up exactly in
 * the slice where its debt has dropped below one quota, and the long-run
 * rate is the set speed whatever the request size. When the debt was fully
 * paid back before the caller returned (it was idle), a fresh slice starts
 * at "now": idle time is not saved up for a later burst.
 *
 * Bounds: at most quota + one request - 1 bytes can be charged without
 * waiting, so any window of T seconds carries at most speed * T plus about
 * one request (for requests no larger than a quota, within one quota).
 *
 * A speed change applies at once to the current slice: debt beyond the
 * current slice is forgiven (capped at the new quota), so the new speed
 * governs from the next slice boundary at the latest. Speed 0 means
 * unlimited: nothing is counted and no call ever waits.
 *
 * Integer arithmetic only; no locking (the caller serialises); no state
 * but the struct, so every function is safe in atomic context.
 */
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/time64.h>

#include "ratelimit.h"

static u64 rl_quota(u64 speed, u64 slice_ns)
{
	/* At least one byte, so that tiny speeds still make progress. */
	return max_t(u64, mul_u64_u64_div_u64(speed, slice_ns, NSEC_PER_SEC),
		     1);
}

static void rl_new_slice(struct cb_ratelimit *rl, u64 now_ns)
{
	rl->slice_start = now_ns;
	rl->slice_end = now_ns + rl->slice_ns;
	rl->dispatched = 0;
}

/* Move to the slice holding @now_ns, paying back one quota per slice. */
static void rl_advance(struct cb_ratelimit *rl, u64 now_ns)
{
	u64 passed, debt_slices;

	if (now_ns < rl->slice_end)
		return;
	passed = div64_u64(now_ns - rl->slice_start, rl->slice_ns);
	debt_slices = div64_u64(rl->dispatched, rl->slice_quota);
	if (passed > debt_slices) {
		/* All paid back and idle since: start afresh. */
		rl_new_slice(rl, now_ns);
		return;
	}
	/* passed <= debt_slices, so neither product can overflow. */
	rl->dispatched -= passed * rl->slice_quota;
	rl->slice_start += passed * rl->slice_ns;
	rl->slice_end = rl->slice_start + rl->slice_ns;
}

static void rl_add(struct cb_ratelimit *rl, u64 bytes)
{
	if (check_add_overflow(rl->dispatched, bytes, &rl->dispatched))
		rl->dispatched = U64_MAX;
}

void cb_ratelimit_init(struct cb_ratelimit *rl, u64 speed, u64 now_ns)
{
	rl->slice_ns = COWBACKUP_RATELIMIT_SLICE_NS;
	rl->speed = speed;
	rl->slice_quota = speed ? rl_quota(speed, rl->slice_ns) : 0;
	rl_new_slice(rl, now_ns);
}

void cb_ratelimit_set_speed(struct cb_ratelimit *rl, u64 speed, u64 now_ns)
{
	if (!speed || !rl->speed) {
		/* To or from unlimited: nothing was or will be counted. */
		cb_ratelimit_init(rl, speed, now_ns);
		return;
	}
	rl_advance(rl, now_ns);
	rl->speed = speed;
	rl->slice_quota = rl_quota(speed, rl->slice_ns);
	/* Forgive debt past this slice: the new speed rules from the next. */
	rl->dispatched = min(rl->dispatched, rl->slice_quota);
}

u64 cb_ratelimit_delay(struct cb_ratelimit *rl, u64 bytes, u64 now_ns)
{
	u64 slices, wake;

	if (!rl->speed)
		return 0;
	rl_advance(rl, now_ns);
	if (rl->dispatched < rl->slice_quota) {
		rl_add(rl, bytes);
		return 0;
	}
	/* Wake in the slice where the debt falls below one quota. */
	slices = div64_u64(rl->dispatched, rl->slice_quota);
	if (check_mul_overflow(slices, rl->slice_ns, &wake) ||
	    check_add_overflow(wake, rl->slice_start, &wake))
		wake = U64_MAX;
	return wake > now_ns ? wake - now_ns : 1;
}

void cb_ratelimit_charge(struct cb_ratelimit *rl, u64 bytes, u64 now_ns)
{
	if (!rl->speed)
		return;
	rl_advance(rl, now_ns);
	rl_add(rl, bytes);
}
