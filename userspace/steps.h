/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash-safety helpers for the start/finish/recover sequences (insert.c,
 * recover.c): each dm change is one step, and only SIGKILL can stop a
 * sequence between steps.
 */
#ifndef COWBACKUP_STEPS_H
#define COWBACKUP_STEPS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

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

/*
 * A bounded suspend window: a forked guard watches us while dm device
 * @name is suspended. Should we die (SIGKILL, OOM) before guard_stop(),
 * the guard resumes the device at once, so writers and a frozen
 * filesystem never wait for someone to run 'recover'. With
 * @drop_inactive it first drops the inactive table (a start rolls back
 * to the original table); without, the loaded table goes live (a finish
 * rolls forward). 'recover' then tidies up the job's devices as after a
 * kill at that step.
 */
struct suspend_guard {
	pid_t pid;
	int fd;
};

void guard_start(struct suspend_guard *g, const char *name,
		 bool drop_inactive);
void guard_stop(struct suspend_guard *g);

#endif /* COWBACKUP_STEPS_H */
