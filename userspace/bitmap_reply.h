/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The `bitmap` message of the cowbackup and cowbackup-track targets: one
 * reply per message, "<start>+<len> ... next=<cluster>|next=end", paged
 * until next=end.
 */
#ifndef COWBACKUP_BITMAP_REPLY_H
#define COWBACKUP_BITMAP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "job_extents.h"

/*
 * Send "@msg <first>" to dm device @dev until the reply ends with
 * next=end, and collect the extents (sorted, disjoint, merged, all below
 * @nclusters) into malloc'd *ext. Returns 0, or -1 after one error line
 * naming @who.
 */
int bitmap_reply_read(const char *dev, const char *who, const char *msg,
		      uint64_t nclusters, struct cluster_extent **ext,
		      size_t *count);

#endif
