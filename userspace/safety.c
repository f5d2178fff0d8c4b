// SPDX-License-Identifier: GPL-2.0
#include "safety.h"

#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "job.h"
#include "util.h"

/* Refuse, or with --force only warn; returns true when refused. */
static bool refuse(const struct blockdev *tgt, bool force, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static bool refuse(const struct blockdev *tgt, bool force, const char *fmt,
		   ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (force) {
		err_msg("warning: %s: %s (continuing: --force)", tgt->path,
			reason);
		return false;
	}
	err_msg("%s: refusing target: %s (override with --force)", tgt->path,
		reason);
	return true;
}

/*------------------------------------------------------------------*/
/* Mounts and users. */

/* Mount point of MAJ:MIN from /proc/self/mountinfo (field 3). */
static bool find_mount(uint32_t major, uint32_t minor, char *where,
		       size_t len)
{
	char line[4096], mp[4096];
	unsigned int ma, mi;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mp) != 3)
			continue;
		if (ma == major && mi == minor) {
			snprintf(where, len, "%s", mp);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool find_swap(uint32_t major, uint32_t minor)
{
	char line[4096], path[4096];
	struct stat st;
	bool found = false;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%4095s", path) != 1 || path[0] != '/')
			continue;
		if (!stat(path, &st) && S_ISBLK(st.st_mode) &&
		    major(st.st_rdev) == major && minor(st.st_rdev) == minor)
			found = true;
	}
	fclose(f);
	return found;
}

/* Names of the holders of MAJ:MIN ("dm-3" -> dm name when known). */
static bool find_holders(uint32_t major, uint32_t minor, char *buf,
			 size_t len)
{
	char dir[128];
	struct dirent *de;
	size_t pos = 0;
	DIR *d;

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major,
		 minor);
	d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		char attr[512], name[DMNAME_MAX] = "";
		int n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/dm/name", dir, de->d_name);
		FILE *f = fopen(attr, "re");

		if (f) {
			if (fgets(name, sizeof(name), f))
				name[strcspn(name, "\n")] = '\0';
			fclose(f);
		}
		n = snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "",
			     name[0] ? name : de->d_name);
		if (n < 0 || (size_t)n >= len - pos)
			break;
		pos += (size_t)n;
	}
	closedir(d);
	return pos > 0;
}

/* Mounted or held partitions of a whole-disk target. */
static bool partition_busy(const struct blockdev *tgt, char *what,
			   size_t len)
{
	char dir[128], where[4096];
	struct dirent *de;
	bool busy = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", tgt->major,
		 tgt->minor);
	d = opendir(dir);
	if (!d)
		return false;
	while (!busy && (de = readdir(d))) {
		char attr[512], dev[32];
		uint32_t ma, mi;
		FILE *f;

		if (strncmp(de->d_name, tgt->kname, strlen(tgt->kname)))
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/dev", dir, de->d_name);
		f = fopen(attr, "re");
		if (!f)
			continue;
		if (fgets(dev, sizeof(dev), f)) {
			dev[strcspn(dev, "\n")] = '\0';
			if (!parse_devno(dev, &ma, &mi) &&
			    find_mount(ma, mi, where, sizeof(where))) {
				snprintf(what, len, "partition %.64s is mounted on %.1024s",
					 de->d_name, where);
				busy = true;
			}
		}
		fclose(f);
	}
	closedir(d);
	return busy;
}

/*------------------------------------------------------------------*/
/*
 * Overlap: map a device range down to ranges of leaf devices (disks)
 * through partitions and dm tables. Linear targets map exactly; any other
 * target conservatively covers the whole of every device it names.
 */

struct leaf_range {
	uint32_t major, minor;
	uint64_t start, len;	/* sectors */
};

struct leaf_set {
	size_t count;
	struct leaf_range r[256];
	bool truncated;
};

static void leaf_add(struct leaf_set *s, uint32_t major, uint32_t minor,
		     uint64_t start, uint64_t len)
{
	if (s->count == sizeof(s->r) / sizeof(s->r[0])) {
		s->truncated = true;
		return;
	}
	s->r[s->count++] = (struct leaf_range){ major, minor, start, len };
}

static void map_down(uint32_t major, uint32_t minor, uint64_t start,
		     uint64_t len, struct leaf_set *s, int depth);

static void map_dm(const char *name, uint64_t start, uint64_t len,
		   struct leaf_set *s, int depth)
{
	struct dm_table_lines t;
	size_t i;

	if (dm_get_table(name, false, &t)) {
		s->truncated = true;
		return;
	}
	for (i = 0; i < t.count; i++) {
		const struct dm_target_line *l = &t.lines[i];
		uint64_t lo = start > l->start ? start : l->start;
		uint64_t hi = start + len < l->start + l->len ?
			      start + len : l->start + l->len;
		uint32_t ma, mi;
		uint64_t off;
		char dev[32], *save = NULL, *w, *copy;

		if (lo >= hi)
			continue;
		if (!strcmp(l->type, "linear") &&
		    sscanf(l->params, "%31s %" SCNu64, dev, &off) == 2 &&
		    !parse_devno(dev, &ma, &mi)) {
			map_down(ma, mi, off + (lo - l->start), hi - lo, s,
				 depth + 1);
			continue;
		}
		copy = strdup(l->params);
		if (!copy) {
			s->truncated = true;
			continue;
		}
		for (w = strtok_r(copy, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			uint64_t sectors;

			if (parse_devno(w, &ma, &mi) ||
			    sysfs_read_u64(ma, mi, "size", &sectors))
				continue;
			map_down(ma, mi, 0, sectors, s, depth + 1);
		}
		free(copy);
	}
	dm_table_free(&t);
}

static void map_down(uint32_t major, uint32_t minor, uint64_t start,
		     uint64_t len, struct leaf_set *s, int depth)
{
	char name[DMNAME_MAX], parent[32];
	uint32_t pma, pmi;
	uint64_t pstart;

	if (depth > 16) {
		s->truncated = true;
		return;
	}
	if (!sysfs_read_str(major, minor, "dm/name", name, sizeof(name))) {
		map_dm(name, start, len, s, depth);
		return;
	}
	/* A partition: its disk is the sysfs directory above it. */
	if (sysfs_exists(major, minor, "partition") &&
	    !sysfs_read_u64(major, minor, "start", &pstart) &&
	    !sysfs_read_str(major, minor, "../dev", parent, sizeof(parent)) &&
	    !parse_devno(parent, &pma, &pmi)) {
		leaf_add(s, pma, pmi, pstart + start, len);
		return;
	}
	leaf_add(s, major, minor, start, len);
}

static bool ranges_overlap(const struct leaf_set *a, const struct leaf_set *b,
			   char *what, size_t len)
{
	size_t i, k;

	for (i = 0; i < a->count; i++) {
		for (k = 0; k < b->count; k++) {
			const struct leaf_range *x = &a->r[i], *y = &b->r[k];
			struct blockdev bd;

			if (x->major != y->major || x->minor != y->minor)
				continue;
			if (x->start >= y->start + y->len ||
			    y->start >= x->start + x->len)
				continue;
			if (blockdev_from_devno(x->major, x->minor, &bd))
				snprintf(bd.path, sizeof(bd.path), "%u:%u",
					 x->major, x->minor);
			snprintf(what, len, "it overlaps the source on %.1024s",
				 bd.path);
			return true;
		}
	}
	return false;
}

/*------------------------------------------------------------------*/
/* Signatures. */

static bool find_signature(int fd, char *what, size_t len)
{
	const char *type = NULL, *usage = NULL;
	blkid_probe pr = blkid_new_probe();
	bool found = false;
	int rc;

	if (!pr)
		return false;
	if (blkid_probe_set_device(pr, fd, 0, 0))
		goto out;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
					  BLKID_SUBLKS_USAGE);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	if (rc == -2) {
		snprintf(what, len, "it carries several conflicting signatures");
		found = true;
	} else if (rc == 0) {
		found = true;
		if (!blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL))
			snprintf(what, len, "it carries a %s partition table",
				 type);
		else if (!blkid_probe_lookup_value(pr, "TYPE", &type, NULL)) {
			blkid_probe_lookup_value(pr, "USAGE", &usage, NULL);
			if (!strcmp(type, "LVM2_member"))
				snprintf(what, len,
					 "it carries an LVM physical volume signature");
			else if (usage && !strcmp(usage, "filesystem"))
				snprintf(what, len,
					 "it carries a %s filesystem signature",
					 type);
			else
				snprintf(what, len, "it carries a %s signature",
					 type);
		} else {
			snprintf(what, len, "it carries a signature");
		}
	}
out:
	blkid_free_probe(pr);
	return found;
}

/*------------------------------------------------------------------*/

int safety_check_target(const struct blockdev *src, const struct blockdev *tgt,
			bool force)
{
	char what[4096], size_a[64], size_b[64];
	struct leaf_set *ls_src, *ls_tgt;
	bool overlap;
	int fd;

	/* Never overridable: the job would copy a device onto itself. */
	if (src->major == tgt->major && src->minor == tgt->minor) {
		err_msg("%s: refusing target: it is the source device",
			tgt->path);
		return -1;
	}
	if (tgt->is_dm && !strncmp(tgt->dm_uuid, OWN_UUID_PREFIX,
				   strlen(OWN_UUID_PREFIX))) {
		err_msg("%s: refusing target: it is a cowbackup-ctl device",
			tgt->path);
		return -1;
	}
	if (find_mount(tgt->major, tgt->minor, what, sizeof(what)) &&
	    refuse(tgt, force, "it is mounted on %s", what))
		return -1;
	if (partition_busy(tgt, what, sizeof(what)) &&
	    refuse(tgt, force, "%s", what))
		return -1;
	if (find_swap(tgt->major, tgt->minor) &&
	    refuse(tgt, force, "it is in use as swap"))
		return -1;
	if (find_holders(tgt->major, tgt->minor, what, sizeof(what)) &&
	    refuse(tgt, force, "it is in use by %s", what))
		return -1;
	if (tgt->size_bytes < src->size_bytes &&
	    refuse(tgt, force, "it is smaller than the source (%s < %s)",
		   format_size_long(tgt->size_bytes, size_a, sizeof(size_a)),
		   format_size_long(src->size_bytes, size_b, sizeof(size_b))))
		return -1;

	ls_src = calloc(1, sizeof(*ls_src));
	ls_tgt = calloc(1, sizeof(*ls_tgt));
	if (!ls_src || !ls_tgt) {
		free(ls_src);
		free(ls_tgt);
		err_msg("out of memory");
		return -1;
	}
	map_down(src->major, src->minor, 0, src->size_bytes / 512, ls_src, 0);
	map_down(tgt->major, tgt->minor, 0, tgt->size_bytes / 512, ls_tgt, 0);
	overlap = ranges_overlap(ls_src, ls_tgt, what, sizeof(what));
	free(ls_src);
	free(ls_tgt);
	if (overlap && refuse(tgt, force, "%s", what))
		return -1;

	fd = open(tgt->path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY && !force) {
			err_msg("%s: refusing target: it is in use (cannot open it exclusively)",
				tgt->path);
			return -1;
		}
		if (errno != EBUSY) {
			err_msg("%s: cannot open: %s", tgt->path,
				strerror(errno));
			return -1;
		}
		err_msg("warning: %s: in use (continuing: --force)", tgt->path);
		fd = open(tgt->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err_msg("%s: cannot open: %s", tgt->path,
				strerror(errno));
			return -1;
		}
	}
	if (find_signature(fd, what, sizeof(what)) &&
	    refuse(tgt, force, "%s", what)) {
		close(fd);
		return -1;
	}
	return fd;
}
