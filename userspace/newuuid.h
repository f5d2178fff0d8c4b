/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COWBACKUP_NEWUUID_H
#define COWBACKUP_NEWUUID_H

/*
 * Give the filesystem on @path (a complete backup, no longer used by its
 * job) a new random UUID: ext2/ext3/ext4 (e2fsck -f -p to replay the
 * journal, then tune2fs -U random) or xfs (a mount and unmount to replay
 * the log, then xfs_admin -U generate). Prints the new UUID; 0 or -1 with
 * one error line.
 */
int target_new_uuid(const char *path);

#endif
