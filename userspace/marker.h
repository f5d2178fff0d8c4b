/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every target is marked incomplete from the moment a job starts until it
 * completed and was finished, in a way a power cut cannot undo:
 *
 *   start:  write the marker on the target T: a header at byte 0
 *           (image/incomplete.h), the rest of the first MiB and the last
 *           MiB of the job's length zeroed, flushed. Filesystem, LVM,
 *           partition and RAID signatures live there, so blkid and mount
 *           no longer recognise T. Then create the staging device
 *           cowbackup-JOB-tgt (UUID LVM-COWBACKUP_..._-TGT-JOB, devuuid.h):
 *           T, except that its first and last MiB map to a RAM-backed
 *           loop device. The job's
 *           table names that device as its target, so the kernel's
 *           point-in-time copy of those two regions never reaches T.
 *   finish: only for a completed job that still routed every write: copy
 *           the two regions from the staging device to T, the header's
 *           4 KiB last, flushing in between. Then the staging device goes.
 *
 * A crash, power cut or kill at any moment leaves either the marker or
 * the complete backup on T, never a half-copied image that looks whole.
 */
#ifndef COWBACKUP_MARKER_H
#define COWBACKUP_MARKER_H

#include <stdbool.h>
#include <stdint.h>

#include "blockdev.h"

struct job;

/*
 * Mark @tgt incomplete for job @job of @sectors and create its staging
 * device; *@tgt_fd (the safety check's claim) is closed and set to -1 so
 * the device can claim @tgt. On success @staged describes the staging
 * device, to be used as the job's target. With @keep_ends (an incremental
 * job, which copies only changed clusters over the last backup) the
 * staging device starts with the target's own first and last MiB instead
 * of zeroes. Prints one line and returns -1 on failure.
 */
int marker_begin(const char *job, const struct blockdev *tgt,
		 uint64_t sectors, bool keep_ends, int *tgt_fd,
		 struct blockdev *staged);

/*
 * A digest (FNV-1a) of the regions the marker overwrites: what tells an
 * incremental job whether the target changed since the backup it holds
 * (a mount, a marker, another job). -1 after one error line.
 */
int marker_ends_digest(const char *path, uint64_t sectors, uint64_t *digest);

/*
 * If @job is completed, not detached and has a staging device, write the
 * point-in-time head and tail to the real target, replacing the marker.
 * 0 when done or nothing to do, -1 after one error line.
 */
int marker_complete(const struct job *job);

/* Remove job @job's staging device if nothing holds it any more. */
void marker_cleanup(const char *job);

/*
 * recover: remove (or with @dry_run only name) every staging device
 * nothing holds, one "recover: ..." line each. Returns how many, or -1.
 */
int marker_cleanup_orphans(bool dry_run);

/*
 * If MAJ:MIN is a staging device, fill the real target's device number
 * and return true.
 */
bool marker_staging_target(uint32_t major, uint32_t minor,
			   uint32_t *tgt_major, uint32_t *tgt_minor);

#endif /* COWBACKUP_MARKER_H */
