/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The change tracker of a volume, as the kernel's dm tables show it.
 *
 * `track enable` puts a cowbackup-track target under a dm volume X (an
 * LVM LV) the way `start` puts a job under it, without unmounting:
 *
 *   X                          keeps its name and UUID; live table: linear
 *                              over the tracker, one target per original
 *                              segment (LVM still sees its segments)
 *   cowbackup-X-track          UUID LVM-COWBACKUP_..._-TRACK-X;
 *                              cowbackup-track <orig> <meta> 2 cluster_size S
 *   cowbackup-X-trackorig      UUID LVM-COWBACKUP_..._-TORIG-X; X's
 *                              original table
 *
 * A job on a tracked X stacks above: its hidden device takes X's table
 * (linear over the tracker), so the tracker sees every write the job
 * passes down. The tracker is "attached" while X routes through it,
 * directly or through its job; lvextend or `lvchange --refresh` replace
 * X's table and detach it, and then writes go unseen.
 */
#ifndef COWBACKUP_TRACKER_H
#define COWBACKUP_TRACKER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"
#include "job_extents.h"

/* The INFO status fields of cowbackup-track, in the contract's order. */
struct tracker_status {
	bool valid;			/* the frozen map */
	uint64_t epoch;			/* current; frozen is epoch - 1 */
	uint64_t dirty_current;
	uint64_t dirty_frozen;
	uint64_t cluster_sectors;
	char frozen_reason[32];		/* "-" when valid */
	char current_reason[32];
	char uuid[40];			/* the history */
};

struct tracker {
	char vol[DMNAME_MAX];		/* X */
	char dev[DMNAME_MAX];		/* cowbackup-X-track */
	char orig[DMNAME_MAX];		/* cowbackup-X-trackorig */
	struct dm_dev_info info;	/* of dev */
	bool attached;			/* X routes through dev */
	uint64_t sectors;
	uint32_t meta_major, meta_minor;
	char meta_path[PATH_MAX];	/* /dev/... of the metadata device */
	struct tracker_status st;
};

/* Parse one INFO status line of cowbackup-track; -1 if malformed. */
int tracker_parse_status(const char *line, struct tracker_status *st);

/*
 * Load the tracker of dm volume @vol (its dm name). Returns 0, 1 when @vol
 * has no tracker device, -1 on error (one line printed).
 */
int tracker_load(const char *vol, struct tracker *t);

/*
 * Re-read t->st. The tracker must be loaded. 0 or -1 (one line printed).
 */
int tracker_refresh(struct tracker *t);

/*
 * Suspend the tracker device, send `checkpoint`, resume it, and re-read
 * the status. The caller has suspended everything above it (X), so that
 * no write is in flight: the checkpoint is the point in time. Returns 0 or
 * -1 (one line printed; the tracker is resumed in any case if possible).
 */
int tracker_checkpoint(struct tracker *t);

/*
 * The set clusters of the frozen (@frozen) or current map, as sorted,
 * disjoint extents (malloc'd into *ext). 0 or -1 (one line printed).
 */
int tracker_read_map(const struct tracker *t, bool frozen,
		     struct cluster_extent **ext, size_t *count);

/*
 * End the tracker's history: the maps are marked `bypassed` on the
 * metadata device, so the next checkpoint gives an invalid frozen map.
 * Used when writes went unseen (a detached tracker, writes before the
 * tracker was re-armed at boot). The tracker stays in place.
 */
int tracker_mark_bypassed(struct tracker *t);

/*
 * Make @table the live table of tracker device @dev (of volume @vol):
 * load, suspend, resume, with a suspend guard. 0 or -1 (one line printed).
 */
int tracker_swap_table(const char *vol, const char *dev,
		       const struct dm_table_lines *table);

#endif /* COWBACKUP_TRACKER_H */
