/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Putting the cowbackup target into the I/O path of a live device and
 * taking it out again, crash-safely; recover.h completes or rolls back
 * whatever a killed start/finish left behind. The step order is in
 * insert.c and Documentation/cowbackup-ctl.rst.
 */
#ifndef COWBACKUP_INSERT_H
#define COWBACKUP_INSERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"
#include "job_extents.h"

struct start_request {
	const char *sync;		/* "full", "top", "none" */
	uint64_t cluster_bytes;		/* 0: the target's default */
	bool speed_set;
	uint64_t speed;			/* bytes per second, 0 = unlimited */
	uint64_t max_workers;		/* 0: the target's default */
	const char *on_source_error;	/* NULL: the target's default */
	const char *on_target_error;
	const char *cow_error;
	bool paused;
	bool snapshot;
	bool force;
	/*
	 * sync=top: clusters that need no copy (start paused, skip,
	 * resume), computed for @cluster_bytes and @map_nclusters.
	 */
	bool have_map;
	uint64_t map_nclusters;
	const struct cluster_extent *unallocated;
	size_t n_unallocated;
	/*
	 * --incremental, --incremental-only: copy only what the volume's
	 * tracker saw change since the last backup (incremental.h).
	 */
	bool incremental;
	bool incremental_only;
};

/*
 * Start a job. On success the job name is copied to @job (DMNAME_MAX) and
 * EXIT_OK is returned; otherwise one error line has been printed and
 * nothing is left behind.
 */
int job_start(const char *source, const char *target,
	      const struct start_request *req, char *job);

/*
 * Send job device @dev a `skip` for each extent (sync=top: no copy
 * needed). 0, or -1 after one error line naming @who.
 */
int job_send_skips(const char *dev, const char *who,
		   const struct cluster_extent *ext, size_t count);

/*
 * Remove the interception of job @arg and restore the original table.
 * A running job needs @force (it is cancelled first). With @new_uuid, a
 * completed backup's filesystem gets a new UUID (newuuid.h) before udev
 * may probe the target again; a failure there is reported and returns
 * EXIT_FAIL, but the job is finished all the same.
 */
int job_finish(const char *arg, bool force, bool new_uuid);

/*
 * Checks shared by the job and tracker insertions on dm volume @x, each
 * printing one line naming @disp and returning -1 on refusal:
 * insert_check_idle: @x exists, has a live table, is not suspended and
 * has no inactive table (*@read_only is set from it);
 * insert_check_movable: every target of @t can be live on two devices at
 * once (so can move to a hidden device): linear, striped, thin, crypt,
 * zero and error.
 */
int insert_check_idle(const char *x, const char *disp, bool *read_only);
int insert_check_movable(const struct dm_table_lines *t, const char *disp);

#endif /* COWBACKUP_INSERT_H */
