/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checks on a backup source and target before a job starts. Refused
 * always (they could destroy the source or another live device): an
 * LVM-internal sub-LV as source or target, the target being the source,
 * a cowbackup-ctl device, the source or target of any cowbackup job, or
 * sharing blocks with one, overlapping the source through dm tables,
 * partitions or PVs, mounted, swap, held (also its partitions), sharing
 * blocks with any other live dm device (an LV of an active VG),
 * smaller than the source, read-only, opened exclusively elsewhere.
 * Refused unless --force: a filesystem, LVM or partition-table signature
 * (libblkid), e.g. an earlier backup being reused.
 */
#ifndef COWBACKUP_SAFETY_H
#define COWBACKUP_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"

/*
 * Check @tgt against @src. On success returns a file descriptor of @tgt
 * opened with O_EXCL, which the caller holds until just before the dm
 * table that claims the target is loaded (the kernel then holds its own
 * exclusive claim for the life of the job). A refusal prints one line
 * naming the device and the reason and returns -1. With @force the
 * signature refusal becomes a warning; nothing else is overridable.
 */
int safety_check_target(const struct blockdev *src, const struct blockdev *tgt,
			bool force);

/*
 * A device the target must neither be nor share blocks with: a backup's
 * source, or the device holding an image file being restored.
 */
struct safety_origin {
	const struct blockdev *dev;
	const char *is;		/* "it is <is>": "the source device" */
	const char *overlaps;	/* "it overlaps <overlaps> on vda" */
};

/*
 * The same checks for any device about to be written with @need_bytes
 * (a backup target, a restore's device): @origins replace the source,
 * @need_name says what the size is of ("the source", "the image").
 */
int safety_check_write_target(const struct blockdev *tgt, uint64_t need_bytes,
			      const char *need_name,
			      const struct safety_origin *origins,
			      size_t norigins, bool force);

/*
 * Does open device @fd carry a filesystem, LVM or partition-table
 * signature (libblkid)? @what gets "it carries a ... signature".
 */
bool safety_find_signature(int fd, char *what, size_t len);

/*
 * Why the kernel refused the table of the last failed dm load/create: the
 * target's own error line from the kernel log ("cowbackup: Target device
 * is smaller than the source (-EINVAL)"), or libdevmapper's message and a
 * pointer to dmesg when the log cannot be read. A static buffer.
 */
const char *kernel_refusal(void);

#endif /* COWBACKUP_SAFETY_H */
