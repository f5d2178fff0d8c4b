// SPDX-License-Identifier: GPL-2.0
#include "incremental.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insert.h"
#include "job.h"
#include "marker.h"
#include "steps.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

/* The kernel's reasons for an invalid map, as an administrator reads them. */
static const char *reason_text(const char *reason)
{
	static const struct {
		const char *reason, *text;
	} texts[] = {
		{ "new", "tracking has just started: a full backup is its first base" },
		{ "unclean", "the tracker was not shut down cleanly (a crash or power cut)" },
		{ "bypassed", "writes bypassed the tracker (its table was replaced, tracking was disabled, or the volume was written before tracking was re-armed)" },
		{ "length_changed", "the volume's size changed" },
		{ "cluster_size_changed", "the tracker's cluster size changed" },
		{ "io_error", "the metadata device failed" },
		{ "unloaded", "the tracker was not resumed yet" },
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!strcmp(reason, texts[i].reason))
			return texts[i].text;
	return "the metadata device is damaged";
}

bool incr_base_usable(const struct tracker *t, const struct track_record *rec,
		      char *why, size_t len)
{
	if (!t->attached) {
		snprintf(why, len, "the tracker is detached: %s's table was replaced (lvextend, lvchange --refresh), so writes since then were not tracked; run 'cowbackup-ctl track enable' again",
			 t->vol);
		return false;
	}
	if (strcmp(t->st.current_reason, "-")) {
		snprintf(why, len, "the change map since epoch %" PRIu64 " is invalid (%s: %s)",
			 t->st.epoch, t->st.current_reason,
			 reason_text(t->st.current_reason));
		return false;
	}
	if (!rec->epoch) {
		snprintf(why, len, "no completed backup of tracking history %s is recorded",
			 t->st.uuid);
		return false;
	}
	if (rec->epoch != t->st.epoch) {
		snprintf(why, len, "changes are tracked since epoch %" PRIu64 ", but the last completed backup was taken at epoch %" PRIu64 " (a backup after it did not complete)",
			 t->st.epoch, rec->epoch);
		return false;
	}
	if (rec->sectors != t->sectors) {
		snprintf(why, len, "the last backup has %" PRIu64 " sectors, the volume %" PRIu64,
			 rec->sectors, t->sectors);
		return false;
	}
	return true;
}

/* Is @tgt the unchanged target of the last completed backup? */
static bool target_is_base(const struct incr_plan *p, const struct blockdev *tgt,
			   char *why, size_t len)
{
	uint64_t digest;

	if (strcmp(p->target_id, p->rec.target)) {
		snprintf(why, len, "%.200s does not hold the last backup (an incremental backup updates the last backup's target, %.200s)",
			 tgt->path, p->rec.target);
		return false;
	}
	if (marker_ends_digest(tgt->path, p->t.sectors, &digest))
		return false;
	if (digest != p->rec.target_digest) {
		snprintf(why, len, "%.200s changed since the last backup was written to it (mounted, or written by something else)",
			 tgt->path);
		return false;
	}
	return true;
}

int incr_plan(const struct blockdev *src, const struct blockdev *tgt,
	      const char *sync, bool wanted, bool only,
	      uint64_t *cluster_bytes, struct incr_plan *p)
{
	char *why = p->why_full;
	int r;

	memset(p, 0, sizeof(*p));	/* why: "" */
	p->wanted = wanted || only;
	p->only = only;
	r = src->is_dm ? tracker_load(src->dm_name, &p->t) : 1;
	if (r < 0)
		return -1;
	if (r > 0) {
		snprintf(why, sizeof(p->why_full), "%.200s is not tracked (see 'cowbackup-ctl track enable')",
			 src->path);
	} else {
		/* Only a full copy can be a base; top and none jobs leave the map. */
		p->checkpoint = p->t.attached &&
				(p->wanted || !strcmp(sync, COWBACKUP_SYNC_FULL));
		p->nclusters = (p->t.sectors + p->t.st.cluster_sectors - 1) /
			       p->t.st.cluster_sectors;
		track_target_id(tgt, p->target_id, sizeof(p->target_id));
		track_record_load(p->t.st.uuid, &p->rec);
		if (p->wanted && incr_base_usable(&p->t, &p->rec, why, sizeof(p->why_full)) &&
		    target_is_base(p, tgt, why, sizeof(p->why_full)))
			p->incremental = true;
	}
	if (!p->wanted)
		return 0;
	if (!p->incremental) {
		if (!why[0])	/* target_is_base() printed its read error */
			snprintf(why, sizeof(p->why_full), "%.200s cannot be read",
				 tgt->path);
		if (only) {
			err_msg("%s: no incremental backup possible: %s",
				src->path, why);
			return -1;
		}
		return 0;
	}
	if (*cluster_bytes &&
	    *cluster_bytes != p->t.st.cluster_sectors * 512) {
		err_msg("%s: --cluster-size must be the tracker's, %" PRIu64 " KiB, for an incremental backup",
			src->path, p->t.st.cluster_sectors / 2);
		return -1;
	}
	*cluster_bytes = p->t.st.cluster_sectors * 512;
	return 0;
}

/* One skip per run of clusters outside the frozen map. */
static int send_skips(const struct incr_plan *p, const char *cow,
		      const char *job, const struct cluster_extent *map,
		      size_t count)
{
	struct cluster_extent *gaps = calloc(count + 1, sizeof(*gaps));
	uint64_t next = 0;
	size_t i, n = 0;
	int r;

	if (!gaps) {
		err_msg("%s: out of memory", job);
		return -1;
	}
	for (i = 0; i <= count; i++) {
		uint64_t end = i < count ? map[i].start : p->nclusters;

		if (end > next) {
			gaps[n].start = next;
			gaps[n++].len = end - next;
		}
		if (i < count)
			next = map[i].start + map[i].len;
	}
	r = job_send_skips(cow, job, gaps, n);
	free(gaps);
	return r;
}

int incr_freeze(struct incr_plan *p, const char *cow, const char *job)
{
	struct cluster_extent *map = NULL;
	uint64_t before = p->t.st.epoch;
	size_t count = 0, i;
	int r = -1;

	if (!p->checkpoint)
		return 0;
	if (tracker_checkpoint(&p->t)) {
		if (p->only)
			return -1;
		/* The backup itself is still good; it just is no base. */
		p->checkpoint = false;
		if (p->incremental)
			snprintf(p->why_full, sizeof(p->why_full),
				 "the tracker's checkpoint failed");
		p->incremental = false;
		return 0;
	}
	kill_point("start-checkpointed");
	p->epoch = p->t.st.epoch;
	if (p->incremental && (!p->t.st.valid || p->epoch != before + 1)) {
		/* Someone else checkpointed in between, or the map broke. */
		snprintf(p->why_full, sizeof(p->why_full),
			 "the frozen map is not the one checked before the start (epoch %" PRIu64 " -> %" PRIu64 ", %s)",
			 before, p->epoch, p->t.st.frozen_reason);
		p->incremental = false;
		if (p->only) {
			err_msg("%s: no incremental backup possible: %s", job,
				p->why_full);
			return -1;
		}
	}
	if (p->incremental) {
		if (tracker_read_map(&p->t, true, &map, &count) ||
		    send_skips(p, cow, job, map, count))
			goto out;
		for (i = 0; i < count; i++)
			p->changed += map[i].len;
	}
	/* The job runs from here on: say where its backup will be. */
	p->rec.pending_epoch = p->epoch;
	snprintf(p->rec.pending_target, sizeof(p->rec.pending_target), "%s",
		 p->target_id);
	snprintf(p->rec.volume, sizeof(p->rec.volume), "%s", p->t.vol);
	/* Without the record the job is no base, which is safe. */
	track_record_save(p->t.st.uuid, &p->rec);
	r = 0;
out:
	free(map);
	return r;
}

void incr_report(const struct incr_plan *p, const char *job)
{
	char size[64];

	if (p->incremental)
		printf("%s: incremental backup: %" PRIu64 " of %" PRIu64 " clusters (%s) changed since the backup at epoch %" PRIu64 "; only those are copied\n",
		       job, p->changed, p->nclusters,
		       format_size_short(p->changed * p->t.st.cluster_sectors * 512,
					 size, sizeof(size)),
		       p->epoch - 1);
	else if (p->wanted)
		printf("%s: full backup: %s\n", job, p->why_full);
	if (p->checkpoint)
		printf("%s: tracking checkpoint: epoch %" PRIu64 " starts; once completed, this backup is the base of the next incremental one\n",
		       job, p->epoch);
}

/*
 * Load the tracker of in-place job @job's volume and the chain record.
 * Returns -1 when the volume is not tracked, 1 when @job is the pending
 * job of the record (it took the checkpoint that started the current
 * epoch, on its target, resolved into @tgt), else 0.
 */
static int job_pending(const struct job *job, struct tracker *t,
		       struct track_record *rec, struct blockdev *tgt)
{
	char id[TRACK_TARGET_ID_MAX];

	if (job->kind != JOB_IN_PLACE || tracker_load(job->name, t))
		return -1;
	if (track_record_load(t->st.uuid, rec) ||
	    rec->pending_epoch != t->st.epoch ||
	    blockdev_resolve(job->target_path, tgt))
		return 0;
	track_target_id(tgt, id, sizeof(id));
	return !strcmp(id, rec->pending_target);
}

bool incr_job_info(const struct job *job, struct tracker *t, bool *base,
		   bool *incremental)
{
	struct track_record rec;
	struct blockdev tgt;
	int r = job_pending(job, t, &rec, &tgt);

	*base = r == 1;
	*incremental = *base && !strcmp(job->st.sync, COWBACKUP_SYNC_TOP);
	return r >= 0;
}

void incr_finished(const struct job *job, bool completed, bool new_uuid)
{
	struct track_record rec;
	struct blockdev tgt;
	struct tracker t;

	if (job_pending(job, &t, &rec, &tgt) != 1)
		return;	/* untracked, or not this job's checkpoint */
	rec.pending_epoch = 0;
	rec.pending_target[0] = '\0';
	if (!completed || new_uuid) {
		if (new_uuid)
			printf("%s: --new-uuid changed the backup, so it is no base for an incremental one\n",
			       job->name);
		track_record_save(t.st.uuid, &rec);
		return;
	}
	if (marker_ends_digest(tgt.path, t.sectors, &rec.target_digest))
		return;
	rec.epoch = t.st.epoch;
	rec.sectors = t.sectors;
	track_target_id(&tgt, rec.target, sizeof(rec.target));
	if (track_record_save(t.st.uuid, &rec) == 0)
		printf("%s: recorded as the base of the next incremental backup (history %s, epoch %" PRIu64 ")\n",
		       job->name, t.st.uuid, rec.epoch);
}
