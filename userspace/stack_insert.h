/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Putting a device M under a live dm volume X without closing X: X's
 * table moves to a hidden device O, M is created over O, and X's table
 * becomes linear over M, swapped in one suspend of X. Both a job's start
 * (M: the cowbackup device) and 'track enable' (M: the tracker) do it.
 *
 * Every dm change is one step with a kill point "<step>-<name>"; a kill
 * while X is suspended rolls back to X's original table (suspend guard),
 * and 'recover' finds every other interrupted state from the dm tables.
 */
#ifndef COWBACKUP_STACK_INSERT_H
#define COWBACKUP_STACK_INSERT_H

#include <stdbool.h>

#include "dm.h"

struct stack_insert {
	const char *x;			/* X's dm name */
	const char *disp;		/* X as messages name it */
	const struct dm_table_lines *orig;	/* X's live table */
	bool read_only;
	const char *o_name, *o_uuid;	/* the hidden device for X's table */
	const char *m_name, *m_uuid;	/* the inserted device */
	const char *m_target;		/* M's target type, for messages */
	const char *m_role;		/* "job", "tracker": for messages */
	const char *step;		/* kill point prefix: "start", "track" */
	const char *m_step;		/* M created: "cow-created", ... */
	/* M's table over O, whose device numbers are in @o. 0 or -1. */
	int (*m_table)(struct dm_table_lines *t, const struct dm_dev_info *o,
		       void *arg);
	/*
	 * Optional: called while X is suspended and its table is checked
	 * unchanged, before X resumes over M. -1 (one line printed) rolls
	 * everything back.
	 */
	int (*frozen)(void *arg);
	void *arg;
};

/* Insert s->m_name under s->x. 0, or -1 (one line printed, rolled back). */
int stack_insert(const struct stack_insert *s);

#endif /* COWBACKUP_STACK_INSERT_H */
