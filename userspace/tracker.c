// SPDX-License-Identifier: GPL-2.0
#include "tracker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap_reply.h"
#include "blockdev.h"
#include "devuuid.h"
#include "job.h"
#include "steps.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

int tracker_parse_status(const char *line, struct tracker_status *st)
{
	char valid[16], tail;
	int n;

	memset(st, 0, sizeof(*st));
	n = sscanf(line, "%15s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %31s %31s %39s %c", valid, &st->epoch, &st->dirty_current,
		   &st->dirty_frozen, &st->cluster_sectors, st->frozen_reason,
		   st->current_reason, st->uuid, &tail);
	/* Fields may be appended: more than 8 is fine, fewer is not. */
	if (n < COWBACKUP_TRACK_STATUS_FIELDS || !st->epoch ||
	    !st->cluster_sectors)
		return -1;
	if (!strcmp(valid, COWBACKUP_TRACK_VALID))
		st->valid = true;
	else if (strcmp(valid, COWBACKUP_TRACK_INVALID))
		return -1;
	return 0;
}

int tracker_refresh(struct tracker *t)
{
	struct dm_table_lines s = { 0 };
	int r = -1;

	if (dm_get_status(t->dev, &s)) {
		err_msg("%s: cannot read the status of %s: %s", t->vol, t->dev,
			dm_last_error());
		return -1;
	}
	if (s.count != 1 ||
	    strcmp(s.lines[0].type, COWBACKUP_TRACK_TARGET_NAME) ||
	    tracker_parse_status(s.lines[0].params, &t->st))
		err_msg("%s: %s does not report a cowbackup-track status",
			t->vol, t->dev);
	else
		r = 0;
	dm_table_free(&s);
	return r;
}

/* Does @name's live table map @major:@minor linearly? */
static bool routes_through(const char *name, uint32_t major, uint32_t minor)
{
	struct dm_table_lines t = { 0 };
	bool yes;

	if (dm_get_table(name, false, &t))
		return false;
	yes = table_is_linear_over(&t, major, minor);
	dm_table_free(&t);
	return yes;
}

int tracker_load(const char *vol, struct tracker *t)
{
	char uuid[DMUUID_MAX], ouuid[DMUUID_MAX], meta[32], lower[32];
	struct dm_table_lines tab = { 0 };
	struct blockdev bd;
	struct job job;
	int r = -1;

	memset(t, 0, sizeof(*t));
	snprintf(t->vol, sizeof(t->vol), "%s", vol);
	if (track_dev_name(vol, t->dev, sizeof(t->dev), uuid, sizeof(uuid)) ||
	    track_orig_name(vol, t->orig, sizeof(t->orig), ouuid,
			    sizeof(ouuid)))
		return 1;	/* names too long: it cannot have one */
	if (dm_get_info(t->dev, &t->info)) {
		err_msg("%s: %s", t->dev, dm_last_error());
		return -1;
	}
	if (!t->info.exists || !devuuid_is(t->info.uuid, ROLE_TRACK, vol))
		return 1;
	if (dm_get_table(t->dev, false, &tab)) {
		err_msg("%s: cannot read the table of %s: %s", vol, t->dev,
			dm_last_error());
		return -1;
	}
	if (tab.count != 1 ||
	    strcmp(tab.lines[0].type, COWBACKUP_TRACK_TARGET_NAME) ||
	    sscanf(tab.lines[0].params, "%31s %31s", lower, meta) != 2 ||
	    parse_devno(meta, &t->meta_major, &t->meta_minor)) {
		err_msg("%s: %s has no cowbackup-track table (an interrupted 'track' command? run 'cowbackup-ctl recover')",
			vol, t->dev);
		goto out;
	}
	t->sectors = tab.lines[0].len;
	if (blockdev_from_devno(t->meta_major, t->meta_minor, &bd))
		snprintf(t->meta_path, sizeof(t->meta_path), "%s", meta);
	else
		snprintf(t->meta_path, sizeof(t->meta_path), "%s", bd.path);
	/* X routes through the tracker directly, or through its job. */
	t->attached = routes_through(vol, t->info.major, t->info.minor);
	if (!t->attached && job_load(vol, &job) == 0 && job.hidden[0] &&
	    !job.detached)
		t->attached = routes_through(job.hidden, t->info.major,
					     t->info.minor);
	r = tracker_refresh(t);
out:
	dm_table_free(&tab);
	return r;
}

int tracker_checkpoint(struct tracker *t)
{
	struct suspend_guard guard;
	int r = 0;

	/* Killed while the tracker is suspended: the guard resumes it. */
	guard_start(&guard, t->dev, true);
	if (dm_suspend(t->dev)) {
		err_msg("%s: cannot suspend %s for the checkpoint: %s", t->vol,
			t->dev, dm_last_error());
		guard_stop(&guard);
		return -1;
	}
	if (dm_message(t->dev, COWBACKUP_TRACK_MSG_CHECKPOINT, NULL)) {
		err_msg("%s: checkpoint of %s failed: %s", t->vol, t->dev,
			dm_last_error());
		r = -1;
	}
	if (dm_resume(t->dev, DM_NODE_HIDDEN)) {
		err_msg("%s: cannot resume %s after the checkpoint: %s; run 'cowbackup-ctl recover'",
			t->vol, t->dev, dm_last_error());
		guard_stop(&guard);
		return -1;
	}
	guard_stop(&guard);
	if (r)
		return r;
	return tracker_refresh(t);
}

int tracker_read_map(const struct tracker *t, bool frozen,
		     struct cluster_extent **ext, size_t *count)
{
	uint64_t cs = t->st.cluster_sectors;
	char msg[64];

	snprintf(msg, sizeof(msg), "%s %s", COWBACKUP_MSG_BITMAP,
		 frozen ? COWBACKUP_TRACK_MAP_FROZEN :
		 COWBACKUP_TRACK_MAP_CURRENT);
	return bitmap_reply_read(t->dev, t->vol, msg, (t->sectors + cs - 1) / cs,
				 ext, count);
}

int tracker_swap_table(const char *vol, const char *dev,
		       const struct dm_table_lines *table)
{
	struct suspend_guard guard;
	int r = 0;

	if (dm_load(dev, table, false)) {
		err_msg("%s: cannot load a table into %s: %s", vol, dev,
			dm_last_error());
		return -1;
	}
	/* Killed while suspended: the new table goes live all the same. */
	guard_start(&guard, dev, false);
	if (dm_suspend(dev)) {
		err_msg("%s: cannot suspend %s: %s", vol, dev, dm_last_error());
		dm_clear_inactive(dev);
		r = -1;
	} else if (dm_resume(dev, DM_NODE_HIDDEN)) {
		err_msg("%s: cannot resume %s: %s; run 'cowbackup-ctl recover'",
			vol, dev, dm_last_error());
		r = -1;
	}
	guard_stop(&guard);
	return r;
}

int tracker_mark_bypassed(struct tracker *t)
{
	struct dm_table_lines track = { 0 }, lin = { 0 };
	char params[48];
	uint32_t ma, mi;
	int r = -1;

	if (dm_get_table(t->dev, false, &track) || track.count != 1 ||
	    sscanf(track.lines[0].params, "%u:%u", &ma, &mi) != 2) {
		err_msg("%s: cannot read the table of %s: %s", t->vol, t->dev,
			dm_last_error());
		goto out;
	}
	/*
	 * The kernel marks the maps bypassed when a tracker's table is
	 * replaced by one that does not track; the tracker's table loaded
	 * again then reads that and starts a new history.
	 */
	snprintf(params, sizeof(params), "%u:%u 0", ma, mi);
	if (dm_table_add(&lin, 0, track.lines[0].len, "linear", params)) {
		err_msg("%s: out of memory", t->vol);
		goto out;
	}
	if (tracker_swap_table(t->vol, t->dev, &lin))
		goto out;
	/* Killed here: 'recover' loads the tracking table back. */
	kill_point("bypass-linear");
	if (tracker_swap_table(t->vol, t->dev, &track))
		goto out;
	r = tracker_refresh(t);
out:
	dm_table_free(&track);
	dm_table_free(&lin);
	return r;
}
