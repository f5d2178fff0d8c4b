/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Block devices as the user names them ("vg0/data", "/dev/vg0/data",
 * "/dev/mapper/vg0-data", "vg0-data", "/dev/vdb1") resolved to a device
 * number, a /dev path and, for device-mapper devices, the dm name. Facts
 * about a device come from sysfs (/sys/dev/block/MAJ:MIN).
 */
#ifndef COWBACKUP_BLOCKDEV_H
#define COWBACKUP_BLOCKDEV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"

struct blockdev {
	char path[PATH_MAX];		/* /dev/mapper/NAME or /dev/KNAME */
	uint32_t major;
	uint32_t minor;
	uint64_t size_bytes;
	bool is_dm;
	char dm_name[DMNAME_MAX];	/* dm devices only */
	char dm_uuid[DMUUID_MAX];
	char kname[64];			/* kernel name: "dm-3", "vdb1" */
};

/*
 * Resolve @arg; on failure print one line naming @arg and the reason and
 * return -1.
 */
int blockdev_resolve(const char *arg, struct blockdev *bd);
int blockdev_from_devno(uint32_t major, uint32_t minor, struct blockdev *bd);

/* "vg0/data" -> "vg0-data" (LVM doubles '-' inside names); -1 if not vg/lv. */
int lvm_dm_name(const char *vg_lv, char *buf, size_t len);
/* "vg0-data" -> vg "vg0"; -1 if @dm_name is no LVM-style name. */
int lvm_vg_of_dm_name(const char *dm_name, char *vg, size_t len);

/*
 * True if @bd is an LVM-internal device: a sub-LV (thin pool _tdata and
 * _tmeta, RAID _rimage_N and _rmeta_N, mirror _mimage_N and _mlog, cache
 * _cdata, _cmeta, _corig, _cpool, _cvol, writecache _wcorig, integrity
 * _imeta and _iorig, VDO _vdata, _vorigin, _pmspare, pvmove) or a layer
 * device whose dm UUID carries a suffix (-tpool, -pool, -real, -cow, ...).
 * @why gets the part of the name or UUID that says so.
 */
bool lvm_internal_device(const struct blockdev *bd, char *why, size_t len);

/* /sys/dev/block/MAJ:MIN/<attr>, one line, newline stripped. */
int sysfs_read_str(uint32_t major, uint32_t minor, const char *attr,
		   char *buf, size_t len);
int sysfs_read_u64(uint32_t major, uint32_t minor, const char *attr,
		   uint64_t *value);
bool sysfs_exists(uint32_t major, uint32_t minor, const char *attr);

/* Parse "MAJ:MIN". */
int parse_devno(const char *text, uint32_t *major, uint32_t *minor);

#endif /* COWBACKUP_BLOCKDEV_H */
