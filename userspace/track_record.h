/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The chain record of a tracking history: which backup an incremental job
 * may build on. The kernel's maps say what changed since a checkpoint; only
 * this record says that a backup taken at that checkpoint completed and
 * still sits, unchanged, on its target.
 *
 * One file per history, $COWBACKUP_STATE_DIR/track/<history UUID>
 * (default /var/lib/cowbackup), "key=value" lines:
 *
 *   volume=vg0-data
 *   epoch=E            the last completed backup was taken at the
 *                      checkpoint that started epoch E
 *   target=dm:<dm UUID> | dev:<path>     where it was written
 *   target_digest=<hex>                  marker_ends_digest() after finish
 *   sectors=N
 *   pending_epoch=E'   a job taken at the checkpoint that started E' runs
 *   pending_target=...
 *
 * A missing, unreadable or foreign file only means "no base": the next
 * backup is a full one.
 */
#ifndef COWBACKUP_TRACK_RECORD_H
#define COWBACKUP_TRACK_RECORD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "blockdev.h"

#define TRACK_TARGET_ID_MAX	(PATH_MAX + 8)

struct track_record {
	char volume[DMNAME_MAX];
	uint64_t epoch;			/* 0: no completed backup */
	char target[TRACK_TARGET_ID_MAX];
	uint64_t target_digest;
	uint64_t sectors;
	uint64_t pending_epoch;		/* 0: none */
	char pending_target[TRACK_TARGET_ID_MAX];
};

/* "dm:<uuid>" for a dm device with a UUID (an LV), else "dev:<path>". */
void track_target_id(const struct blockdev *bd, char *buf, size_t len);

/* 0 (found), 1 (none or unusable: *rec zeroed), never an error. */
int track_record_load(const char *uuid, struct track_record *rec);
/* 0, or -1 after one error line naming the file. */
int track_record_save(const char *uuid, const struct track_record *rec);

#endif
