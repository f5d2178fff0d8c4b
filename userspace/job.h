/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The job model. A job device is a dm device whose live table is one
 * `cowbackup` target. Everything about a job is derived from the kernel's
 * dm tables, nothing from files, so a killed cowbackup-ctl loses no state:
 *
 *   in place (dm source, e.g. the LVM LV vg0-data; job name "vg0-data"):
 *     vg0-data                  visible, keeps its own UUID (LVM-...);
 *                               live table: linear over the COW device,
 *                               one target per original segment, so LVM
 *                               still sees the segments it expects
 *     cowbackup-vg0-data-cow    job device, UUID LVM-COWBACKUP_..._-COW-vg0-data;
 *                               cowbackup <orig> <target> ...
 *     cowbackup-vg0-data-orig   UUID LVM-COWBACKUP_..._-ORIG-vg0-data; the
 *                               LV's original table
 *   stacked (any other block device, e.g. /dev/vdb1; job "cowbackup-vdb1"):
 *     cowbackup-vdb1            job device, UUID COWBACKUP-TOP-cowbackup-vdb1;
 *                               cowbackup <vdb1> <target> ...
 *   view (--snapshot), either kind:
 *     <job>-snap                UUID LVM-COWBACKUP_..._-SNAP-<job>, read-only;
 *                               cowbackup-snap <source> <target>
 *
 * devuuid.h says why the UUIDs look like that.
 *
 * Any other dm device with a cowbackup table (made with dmsetup) is shown
 * as a stacked job named after the device.
 */
#ifndef COWBACKUP_JOB_H
#define COWBACKUP_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "blockdev.h"
#include "dm.h"

#define STACKED_NAME_PREFIX	"cowbackup-"

enum job_kind {
	JOB_IN_PLACE,		/* a dm source: target inserted under it */
	JOB_STACKED,		/* any other source: new dm device on top */
};

/* The INFO status fields, in the contract's order. */
struct job_status {
	char state[16];
	char sync[8];
	uint64_t cluster_sectors;
	uint64_t settled;
	uint64_t total;
	uint64_t cow_copies;
	uint64_t background_copies;
	uint64_t zero_clusters;
	uint64_t errors;
	uint64_t speed;		/* bytes per second, 0 = unlimited */
};

struct job {
	char name[DMNAME_MAX];		/* the job: what users type */
	char dev[DMNAME_MAX];		/* the job device: status, messages */
	enum job_kind kind;
	struct dm_dev_info info;	/* of the job device */
	struct dm_dev_info visible;	/* of the device users open */
	uint64_t sectors;
	uint32_t src_major, src_minor;	/* from the table */
	uint32_t tgt_major, tgt_minor;
	char device_path[PATH_MAX];	/* /dev/mapper/<name> */
	char source_path[PATH_MAX];	/* what is backed up */
	char target_path[PATH_MAX];	/* the backup device itself */
	/*
	 * What the job writes to: target_path, or the staging device that
	 * keeps the target's first and last MiB apart until finish (marker.h).
	 */
	char target_data_path[PATH_MAX];
	bool staged;
	char hidden[DMNAME_MAX];	/* in place: the original-table device */
	/*
	 * In place: the visible device no longer routes through the job
	 * device (its table was replaced, e.g. by lvextend).
	 */
	bool detached;
	char view[DMNAME_MAX];		/* "" when there is no view device */
	char view_path[PATH_MAX];
	struct job_status st;
};

/* Names of the devices belonging to job @job; -1 when too long for dm. */
int job_hidden_name(const char *job, char *name, size_t nlen,
		    char *uuid, size_t ulen);
int job_cow_name(const char *job, char *name, size_t nlen,
		 char *uuid, size_t ulen);
int job_view_name(const char *job, char *name, size_t nlen,
		  char *uuid, size_t ulen);
int job_stacked_name(const char *kname, char *name, size_t nlen,
		     char *uuid, size_t ulen);
/* The change tracker's devices under volume @vol (tracker.h). */
int track_dev_name(const char *vol, char *name, size_t nlen,
		   char *uuid, size_t ulen);
int track_orig_name(const char *vol, char *name, size_t nlen,
		    char *uuid, size_t ulen);

/* Parse one INFO status line of the cowbackup target. */
int job_parse_status(const char *line, struct job_status *st);
/*
 * True if @t maps MAJ:MIN one to one with linear targets (one per segment
 * of the original table, so LVM still finds the segments it expects).
 */
bool table_is_linear_over(const struct dm_table_lines *t, uint32_t major,
			  uint32_t minor);
/*
 * Append to @lin the table of a device that routes through MAJ:MIN: the
 * segments of @orig, each mapped linearly onto the same offsets of
 * MAJ:MIN. LVM compares the live segments with its metadata; one big
 * segment would show as a mismatch. Used for jobs and the tracker.
 */
int table_linear_over(struct dm_table_lines *lin,
		      const struct dm_table_lines *orig, uint32_t major,
		      uint32_t minor);
/* Parse "<src> <target> <sync> ..." of a cowbackup table line. */
int job_parse_table(const char *params, uint32_t *src_major,
		    uint32_t *src_minor, uint32_t *tgt_major,
		    uint32_t *tgt_minor);

/*
 * Load job @name: a job name, or the name of any of its devices. Returns
 * 0, 1 when there is no such job (job->visible.exists tells whether a dm
 * device @name exists), -1 on error (with dm_last_error()).
 */
int job_load(const char *name, struct job *job);

/*
 * Resolve what a user typed as JOB ("vg0-data", "vg0/data", a /dev path of
 * the job device or of a stacked job's source) to a loaded job. Prints one
 * error line and returns -1 if it is no job.
 */
int job_find(const char *arg, struct job *job);

/* Every job, sorted by name; *jobs is malloc'd. */
int job_list(struct job **jobs, size_t *count);

bool job_state_final(const char *state);
/*
 * The state users see: the kernel's, or "detached" for a job whose
 * device no longer routes through it (a failed backup).
 */
const char *job_state_shown(const struct job *job);
/* "incomplete", or "ready" for a completed job 'finish' makes whole. */
const char *job_backup_state(const struct job *job);
uint64_t job_settled_bytes(const struct job *job);
double job_percent(const struct job *job);

#endif /* COWBACKUP_JOB_H */
