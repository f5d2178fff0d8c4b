/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `export` needs from a job: its geometry, its target device and the
 * extents of clusters present on the target (the kernel's `bitmap` reply).
 */
#ifndef COWBACKUP_JOB_EXTENTS_H
#define COWBACKUP_JOB_EXTENTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_extent {
	uint64_t start;		/* first cluster */
	uint64_t len;		/* clusters */
};

struct job_extents {
	char state[16];			/* "running", "completed", ... */
	char sync[8];			/* "full", "top", "none" */
	char target_path[PATH_MAX];	/* block device holding the copies */
	bool detached;			/* the job no longer saw every write */
	uint64_t cluster_bytes;
	uint64_t size_bytes;		/* source / image size */
	uint64_t nclusters;
	size_t count;
	struct cluster_extent *extents;	/* malloc'd, sorted, disjoint */
};

/*
 * Look up job @job (name as `cowbackup-ctl list` shows) and page through
 * its `bitmap` message replies. Returns 0, or -1 after printing one error
 * line naming the job.
 */
int job_get_extents(const char *job, struct job_extents *out);
void job_extents_free(struct job_extents *je);

#endif /* COWBACKUP_JOB_EXTENTS_H */
