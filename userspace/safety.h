/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checks on a backup target before a job starts: not the source nor
 * overlapping it, not mounted, not in use, large enough, and carrying no
 * filesystem, LVM or partition-table signature (libblkid).
 */
#ifndef COWBACKUP_SAFETY_H
#define COWBACKUP_SAFETY_H

#include <stdbool.h>

#include "blockdev.h"

/*
 * Check @tgt against @src. On success returns a file descriptor of @tgt
 * opened with O_EXCL, which the caller holds until just before the dm
 * table that claims the target is loaded (the kernel then holds its own
 * exclusive claim for the life of the job). A refusal prints one line
 * naming the device and the reason and returns -1. With @force the
 * overridable refusals become warnings.
 */
int safety_check_target(const struct blockdev *src, const struct blockdev *tgt,
			bool force);

#endif /* COWBACKUP_SAFETY_H */
