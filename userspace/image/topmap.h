/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sync=top allocation: which clusters of a device need no copy because
 * the top layer of the image (or the sparse file behind a loop device)
 * does not allocate them.
 */
#ifndef COWBACKUP_TOPMAP_H
#define COWBACKUP_TOPMAP_H

#include <stddef.h>
#include <stdint.h>

#include "job_extents.h"

/*
 * Open @image_or_device (qcow2 or VMDK file or device, a sparse raw file,
 * or a loop device over one) and return in *@out (malloc'd, sorted,
 * disjoint, *@count entries) the ranges of clusters of @cluster_bytes, out
 * of @nclusters, that hold no byte allocated in the top layer: qcow2
 * allocated, compressed and zero-flagged clusters and VMDK allocated and
 * zeroed grains count as allocated; for raw files, data (not holes).
 * Clusters past the image's virtual size are never reported (they are
 * copied). Returns 0, or -1 after printing one error line.
 */
int topmap_unallocated(const char *image_or_device, uint64_t cluster_bytes,
		       uint64_t nclusters, struct cluster_extent **out,
		       size_t *count);

#endif /* COWBACKUP_TOPMAP_H */
