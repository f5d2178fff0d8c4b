// SPDX-License-Identifier: GPL-2.0
#include "stack_insert.h"

#include <inttypes.h>
#include <stdio.h>

#include "job.h"
#include "safety.h"
#include "steps.h"
#include "util.h"

static void step(const struct stack_insert *s, const char *what)
{
	char name[64];

	snprintf(name, sizeof(name), "%s-%s", s->step, what);
	kill_point(name);
}

/* Roll back a failed insertion: X's live table is still the original. */
static void undo(const struct stack_insert *s, bool m_exists, bool loaded,
		 bool suspended)
{
	if (loaded && dm_clear_inactive(s->x))
		err_msg("%s: could not drop the new table: %s", s->disp,
			dm_last_error());
	if (suspended && dm_resume(s->x, DM_NODE_VISIBLE))
		err_msg("%s: could not resume: %s; run 'cowbackup-ctl recover'",
			s->disp, dm_last_error());
	if (m_exists && dm_remove(s->m_name))
		err_msg("%s: could not remove: %s; run 'cowbackup-ctl recover'",
			s->m_name, dm_last_error());
	if (dm_remove(s->o_name))
		err_msg("%s: could not remove: %s; run 'cowbackup-ctl recover'",
			s->o_name, dm_last_error());
}

int stack_insert(const struct stack_insert *s)
{
	struct dm_table_lines mt = { 0 }, lin = { 0 }, now = { 0 };
	uint64_t sectors = dm_table_sectors(s->orig);
	struct suspend_guard guard;
	struct dm_dev_info oi, mi;
	int r = -1;

	if (dm_create(s->o_name, s->o_uuid, s->orig, s->read_only,
		      DM_NODE_HIDDEN)) {
		err_msg("%s: cannot create hidden device %s: %s", s->disp,
			s->o_name, dm_last_error());
		return -1;
	}
	step(s, "orig-created");
	if (dm_get_info(s->o_name, &oi) || !oi.exists ||
	    s->m_table(&mt, &oi, s->arg)) {
		err_msg("%s: cannot query %s: %s", s->disp, s->o_name,
			dm_last_error());
		undo(s, false, false, false);
		goto out;
	}
	if (dm_create(s->m_name, s->m_uuid, &mt, s->read_only,
		      DM_NODE_HIDDEN)) {
		err_msg("%s: the %s table was rejected: %s", s->disp,
			s->m_target, kernel_refusal());
		/* A failed create may leave the empty device behind. */
		undo(s, dm_get_info(s->m_name, &mi) == 0 && mi.exists, false,
		     false);
		goto out;
	}
	step(s, s->m_step);
	if (dm_get_info(s->m_name, &mi) || !mi.exists) {
		err_msg("%s: cannot query %s: %s", s->disp, s->m_name,
			dm_last_error());
		undo(s, true, false, false);
		goto out;
	}
	if (table_linear_over(&lin, s->orig, mi.major, mi.minor) ||
	    dm_load(s->x, &lin, s->read_only)) {
		err_msg("%s: cannot load the new table: %s", s->disp,
			dm_last_error());
		undo(s, true, false, false);
		goto out;
	}
	step(s, "table-loaded");
	/* Killed while suspended: the guard rolls back to the old table. */
	guard_start(&guard, s->x, true);
	if (dm_suspend(s->x)) {
		err_msg("%s: cannot suspend: %s", s->disp, dm_last_error());
		guard_stop(&guard);
		undo(s, true, true, false);
		goto out;
	}
	step(s, "suspended");
	/*
	 * LVM cannot have changed the table (we hold its VG lock), but
	 * anything else could have: the live table must still be the one
	 * M was built from, else M would map a stale layout.
	 */
	if (dm_get_table(s->x, false, &now) || !dm_table_equal(&now, s->orig)) {
		err_msg("%s: its table changed while the %s was being set up (%" PRIu64 " sectors, now %" PRIu64 "); nothing done, try again",
			s->disp, s->m_role, sectors, dm_table_sectors(&now));
		goto undo_suspended;
	}
	if (s->frozen && s->frozen(s->arg))
		goto undo_suspended;
	if (dm_resume(s->x, DM_NODE_VISIBLE)) {
		err_msg("%s: cannot resume with the new table: %s", s->disp,
			dm_last_error());
		goto undo_suspended;
	}
	guard_stop(&guard);
	step(s, "resumed");
	r = 0;
	goto out;
undo_suspended:
	undo(s, true, true, true);
	guard_stop(&guard);
out:
	dm_table_free(&mt);
	dm_table_free(&lin);
	dm_table_free(&now);
	return r;
}
