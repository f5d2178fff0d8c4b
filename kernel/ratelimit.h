/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slice-based rate limiter for the background copy, with QEMU's
 * ratelimit semantics: bytes are charged when submitted, the slice length
 * is fixed, and a speed change applies from the next slice at the latest.
 *
 * Time is passed in by the caller (nanoseconds, any monotonic origin) so
 * host tests can run on a simulated clock. No locking inside; every
 * function is safe in atomic context.
 */
#ifndef DM_COWBACKUP_RATELIMIT_H
#define DM_COWBACKUP_RATELIMIT_H

#include <linux/types.h>

#define COWBACKUP_RATELIMIT_SLICE_NS	(100ULL * 1000 * 1000)	/* 100 ms */

struct cb_ratelimit {
	u64 speed;		/* bytes per second, 0 = unlimited */
	u64 slice_ns;		/* fixed slice length */
	u64 slice_quota;	/* bytes allowed per slice at this speed */
	u64 slice_start;	/* start of the current slice (ns) */
	u64 slice_end;		/* end of the current slice (ns) */
	u64 dispatched;		/* bytes charged in the current slice */
};

void cb_ratelimit_init(struct cb_ratelimit *rl, u64 speed, u64 now_ns);
/*
 * Debt beyond the current slice is forgiven, so a caller sleeping on an
 * earlier (long) delay should ask again after a speed change.
 */
void cb_ratelimit_set_speed(struct cb_ratelimit *rl, u64 speed, u64 now_ns);

/*
 * Ask to submit @bytes now. If the current slice's quota is already used
 * up, nothing is charged and the wait (ns) until the caller may ask again
 * is returned. Otherwise @bytes are charged (possibly overdrawing the
 * slice, which later slices pay back) and 0 is returned: submit now.
 */
u64 cb_ratelimit_delay(struct cb_ratelimit *rl, u64 bytes, u64 now_ns);

/* Charge @bytes that are never delayed (copy-on-write for guest writes). */
void cb_ratelimit_charge(struct cb_ratelimit *rl, u64 bytes, u64 now_ns);

#endif /* DM_COWBACKUP_RATELIMIT_H */
