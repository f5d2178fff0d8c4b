/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental jobs: a job on a tracked volume (tracker.h) that copies only
 * the clusters of the tracker's frozen map onto the target of the last
 * completed backup, which then holds the new point in time.
 *
 * One freeze covers both points: while `start` has the volume suspended,
 * the tracker is checkpointed (the map of changes since the last backup
 * becomes the frozen map, a new epoch starts) and the job device, created
 * paused with sync=top, is sent a `skip` for every cluster outside that
 * map. Full jobs (sync=full) of a tracked volume checkpoint too, so that
 * they are the base of the next incremental one.
 *
 * An incremental job runs only when all of these hold, else the job is a
 * full one and the reason is printed (or, with --incremental-only, the
 * start is refused):
 *   - the tracker is attached and its current map is valid;
 *   - the chain record (track_record.h) says the last completed backup was
 *     taken at the checkpoint that started the current epoch, on this
 *     target, which still has the digest recorded at its finish.
 */
#ifndef COWBACKUP_INCREMENTAL_H
#define COWBACKUP_INCREMENTAL_H

#include <stdbool.h>
#include <stdint.h>

#include "blockdev.h"
#include "track_record.h"
#include "tracker.h"

struct job;

struct incr_plan {
	bool checkpoint;	/* an attached tracker: checkpoint in the freeze */
	bool incremental;	/* copy only the frozen map */
	bool wanted;		/* --incremental */
	bool only;		/* --incremental-only */
	char why_full[640];	/* why a wanted incremental is a full backup */
	struct tracker t;
	uint64_t epoch;		/* the epoch the checkpoint starts */
	uint64_t nclusters;
	uint64_t changed;	/* clusters of the frozen map */
	char target_id[TRACK_TARGET_ID_MAX];
	struct track_record rec;
};

/*
 * Before the start, with the VG lock held: decide. @sync is the job's
 * sync mode; *@cluster_bytes (0: default) becomes the tracker's cluster
 * size for an incremental job. Returns 0, or -1 after one error line
 * (--incremental-only without a usable base, a conflicting cluster size).
 */
int incr_plan(const struct blockdev *src, const struct blockdev *tgt,
	      const char *sync, bool wanted, bool only,
	      uint64_t *cluster_bytes, struct incr_plan *p);

/*
 * In the freeze: the volume is suspended, the job device @cow exists,
 * paused. Checkpoint, and for an incremental job send the skips. Returns
 * 0, or -1 after one error line: the start must be rolled back.
 */
int incr_freeze(struct incr_plan *p, const char *cow, const char *job);

/* After the start: what kind of backup this is, and why. */
void incr_report(const struct incr_plan *p, const char *job);

/*
 * At finish of in-place job @job: a completed backup of a tracked volume
 * becomes the base of the next incremental one (the record is written).
 */
void incr_finished(const struct job *job, bool completed, bool new_uuid);

/*
 * For `status --json`: if in-place job @job runs on a tracked volume,
 * load its tracker into @t and say whether the job took the checkpoint
 * of the current epoch (*@base: it will be the next base once completed)
 * and copies only the frozen map (*@incremental). False if untracked.
 */
bool incr_job_info(const struct job *job, struct tracker *t, bool *base,
		   bool *incremental);

/*
 * Whether the next backup of tracker @t onto any target can be
 * incremental as far as the tracker and the record tell (the target is
 * checked at start); the reason in @why if not.
 */
bool incr_base_usable(const struct tracker *t, const struct track_record *rec,
		      char *why, size_t len);

#endif
