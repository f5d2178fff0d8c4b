/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash-safety helpers for the start/finish/recover sequences (insert.c,
 * recover.c): each dm change is one step, and only SIGKILL can stop a
 * sequence between steps.
 */
#ifndef COWBACKUP_STEPS_H
#define COWBACKUP_STEPS_H

#include <signal.h>

/*
 * The kill-injection hook for tests: COWBACKUP_CTL_KILL_AT=<step> makes
 * the tool SIGKILL itself right after <step>; COWBACKUP_CTL_TRACE=1 prints
 * every step passed.
 */
void kill_point(const char *step);

/* A sequence: termination signals blocked, LVM's VG lock held. */
struct critical {
	sigset_t old_mask;
	int lock_fd;
};

/*
 * Enter a sequence on dm device @dm_name with UUID @uuid (NULL name: no
 * LVM lock). The VG lock is taken only for LVM volumes, best effort.
 */
void critical_enter(struct critical *c, const char *dm_name,
		    const char *uuid);
void critical_leave(struct critical *c);

#endif /* COWBACKUP_STEPS_H */
