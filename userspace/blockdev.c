// SPDX-License-Identifier: GPL-2.0
#include "blockdev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devuuid.h"
#include "util.h"

int sysfs_read_str(uint32_t major, uint32_t minor, const char *attr,
		   char *buf, size_t len)
{
	char path[128];
	size_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major, minor,
		 attr);
	if (read_first_line(path, buf, len))
		return -1;
	n = strlen(buf);
	while (n && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return 0;
}

int sysfs_read_u64(uint32_t major, uint32_t minor, const char *attr,
		   uint64_t *value)
{
	char buf[64];

	if (sysfs_read_str(major, minor, attr, buf, sizeof(buf)))
		return -1;
	return parse_u64(buf, value);
}

bool sysfs_exists(uint32_t major, uint32_t minor, const char *attr)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major, minor,
		 attr);
	return access(path, F_OK) == 0;
}

int parse_devno(const char *text, uint32_t *major, uint32_t *minor)
{
	unsigned int ma, mi;
	int end = 0;

	if (sscanf(text, "%u:%u%n", &ma, &mi, &end) != 2 || text[end])
		return -1;
	*major = ma;
	*minor = mi;
	return 0;
}

/* The kernel name from the uevent file: "DEVNAME=vdb1". */
static int kernel_name(uint32_t major, uint32_t minor, char *buf, size_t len)
{
	char path[128], line[256];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major,
		 minor);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 8) < len) {
			memcpy(buf, line + 8, strlen(line + 8) + 1);
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}

int blockdev_from_devno(uint32_t major, uint32_t minor, struct blockdev *bd)
{
	struct dm_dev_info info;
	uint64_t sectors = 0;

	memset(bd, 0, sizeof(*bd));
	bd->major = major;
	bd->minor = minor;
	if (kernel_name(major, minor, bd->kname, sizeof(bd->kname)))
		return -1;
	if (!sysfs_read_u64(major, minor, "size", &sectors))
		bd->size_bytes = sectors * 512;
	if (sysfs_exists(major, minor, "dm")) {
		if (dm_get_info_by_devno(major, minor, &info) || !info.exists)
			return -1;
		bd->is_dm = true;
		snprintf(bd->dm_name, sizeof(bd->dm_name), "%s", info.name);
		snprintf(bd->dm_uuid, sizeof(bd->dm_uuid), "%s", info.uuid);
		dm_dev_path(info.name, bd->path, sizeof(bd->path));
	} else {
		snprintf(bd->path, sizeof(bd->path), "/dev/%s", bd->kname);
	}
	return 0;
}

static int append_mangled(char *buf, size_t len, size_t *pos, const char *s,
			  size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int reps = s[i] == '-' ? 2 : 1;

		while (reps--) {
			if (*pos + 1 >= len)
				return -1;
			buf[(*pos)++] = s[i];
		}
	}
	buf[*pos] = '\0';
	return 0;
}

int lvm_dm_name(const char *vg_lv, char *buf, size_t len)
{
	const char *slash = strchr(vg_lv, '/');
	size_t pos = 0;

	if (!slash || slash == vg_lv || !slash[1] || strchr(slash + 1, '/'))
		return -1;
	if (append_mangled(buf, len, &pos, vg_lv, (size_t)(slash - vg_lv)) ||
	    pos + 2 >= len)
		return -1;
	buf[pos++] = '-';
	return append_mangled(buf, len, &pos, slash + 1, strlen(slash + 1));
}

int lvm_vg_of_dm_name(const char *dm_name, char *vg, size_t len)
{
	size_t i, o = 0;

	for (i = 0; dm_name[i]; i++) {
		if (dm_name[i] == '-') {
			if (dm_name[i + 1] != '-')
				return o ? 0 : -1;	/* the separator */
			i++;	/* "--" is one '-' of the name */
		}
		if (o + 1 >= len)
			return -1;
		vg[o++] = dm_name[i];
		vg[o] = '\0';
	}
	return -1;
}

bool lvm_internal_device(const struct blockdev *bd, char *why, size_t len)
{
	/* lvm2 reserves these in LV names for its own sub-LVs. */
	static const char *const reserved[] = {
		"_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig",
		"_imeta", "_iorig", "_mimage_", "_mlog", "_pmspare",
		"_rimage_", "_rmeta_", "_tdata", "_tmeta", "_vdata",
		"_vorigin",
	};
	/* "LVM-" + 32 characters of VG UUID + 32 of LV UUID. */
	const size_t lvm_uuid_len = 4 + 32 + 32;
	const char *lv;
	char vg[DMNAME_MAX];
	size_t i;

	/* Ours carry "LVM-" UUIDs too (devuuid.h): refused as ours. */
	if (!bd->is_dm || strncmp(bd->dm_uuid, "LVM-", 4) ||
	    devuuid_parse(bd->dm_uuid, NULL) != ROLE_NONE)
		return false;
	if (lvm_vg_of_dm_name(bd->dm_name, vg, sizeof(vg)))
		goto check_layer;
	/* The LV part follows the VG (with its '-' doubled) and a '-'. */
	lv = bd->dm_name;
	for (i = 0; vg[i]; i++, lv++)
		if (*lv == '-')
			lv++;
	lv++;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strstr(lv, reserved[i])) {
			snprintf(why, len, "an LVM-internal sub-LV (%s)",
				 reserved[i]);
			return true;
		}
	}
	if (!strncmp(lv, "pvmove", 6)) {
		snprintf(why, len, "an LVM-internal sub-LV (pvmove)");
		return true;
	}
check_layer:
	if (strlen(bd->dm_uuid) > lvm_uuid_len &&
	    bd->dm_uuid[lvm_uuid_len] == '-') {
		snprintf(why, len, "an LVM-internal device (layer %s)",
			 bd->dm_uuid + lvm_uuid_len);
		return true;
	}
	return false;
}

static int resolve_path(const char *arg, struct blockdev *bd)
{
	struct stat st;

	if (stat(arg, &st)) {
		err_msg("%s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISBLK(st.st_mode)) {
		err_msg("%s: not a block device", arg);
		return -1;
	}
	if (blockdev_from_devno(major(st.st_rdev), minor(st.st_rdev), bd)) {
		err_msg("%s: cannot identify block device %u:%u", arg,
			major(st.st_rdev), minor(st.st_rdev));
		return -1;
	}
	return 0;
}

static int resolve_dm_name(const char *arg, const char *name,
			   struct blockdev *bd)
{
	struct dm_dev_info info;

	if (dm_get_info(name, &info)) {
		err_msg("%s: %s", arg, dm_last_error());
		return -1;
	}
	if (!info.exists)
		return 1;
	if (blockdev_from_devno(info.major, info.minor, bd)) {
		err_msg("%s: cannot identify dm device %s", arg, name);
		return -1;
	}
	return 0;
}

int blockdev_resolve(const char *arg, struct blockdev *bd)
{
	char name[DMNAME_MAX], path[PATH_MAX];
	int r;

	if (!*arg) {
		err_msg("empty device name");
		return -1;
	}
	if (arg[0] == '/' || !strncmp(arg, "./", 2))
		return resolve_path(arg, bd);
	/* "vg/lv": an LVM logical volume, active as dm device "vg-lv". */
	if (strchr(arg, '/')) {
		if (lvm_dm_name(arg, name, sizeof(name))) {
			err_msg("%s: not a VG/LV name nor a path", arg);
			return -1;
		}
		r = resolve_dm_name(arg, name, bd);
		if (r > 0)
			err_msg("%s: no such active logical volume (no dm device %s)",
				arg, name);
		return r ? -1 : 0;
	}
	/* A dm name, else a kernel name under /dev ("vdb1"). */
	if (strlen(arg) < DMNAME_MAX) {
		r = resolve_dm_name(arg, arg, bd);
		if (r <= 0)
			return r;
	}
	snprintf(path, sizeof(path), "/dev/%s", arg);
	if (access(path, F_OK) == 0)
		return resolve_path(path, bd);
	err_msg("%s: no such dm device or block device", arg);
	return -1;
}
