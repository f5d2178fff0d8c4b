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
#include <time.h>
#include <unistd.h>

#include "devuuid.h"
#include "job.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

/*
 * The two kinds of refusal. refuse() is for what --force may override (a
 * signature: an earlier backup being reused): with --force it only warns.
 * refuse_always() is for what could destroy the source or another live
 * device: no flag overrides it.
 */
static bool refuse(const struct blockdev *tgt, bool force, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));
static void refuse_always(const char *path, const char *what, bool force,
			  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

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

static void refuse_always(const char *path, const char *what, bool force,
			  const char *fmt, ...)
{
	char reason[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	err_msg("%s: refusing %s: %s%s", path, what, reason,
		force ? " (--force does not override this)" : "");
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
		if (read_first_line(attr, name, sizeof(name)))
			name[0] = '\0';
		n = snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "",
			     name[0] ? name : de->d_name);
		if (n < 0 || (size_t)n >= len - pos)
			break;
		pos += (size_t)n;
	}
	closedir(d);
	return pos > 0;
}

/* Mounted, swap or held partitions of a whole-disk target. */
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

		if (strncmp(de->d_name, tgt->kname, strlen(tgt->kname)))
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/dev", dir, de->d_name);
		if (read_first_line(attr, dev, sizeof(dev)) ||
		    parse_devno(dev, &ma, &mi))
			continue;	/* not a partition */
		if (find_mount(ma, mi, where, sizeof(where))) {
			snprintf(what, len, "partition %.64s is mounted on %.1024s",
				 de->d_name, where);
			busy = true;
		} else if (find_swap(ma, mi)) {
			snprintf(what, len, "partition %.64s is in use as swap",
				 de->d_name);
			busy = true;
		} else if (find_holders(ma, mi, where, sizeof(where))) {
			snprintf(what, len, "partition %.64s is in use by %.1024s",
				 de->d_name, where);
			busy = true;
		}
	}
	closedir(d);
	return busy;
}

/*------------------------------------------------------------------*/
/*
 * Overlap: map a device range down to ranges of leaf devices (disks)
 * through partitions and dm tables. Linear targets map exactly; a thin
 * device maps to its own space inside its pool (two thin devices of one
 * pool never share blocks); any other target conservatively covers the
 * whole of every device it names.
 */

struct leaf_range {
	uint32_t major, minor;
	uint64_t space;		/* 0: the device itself; thin: id + 1 */
	uint64_t start, len;	/* sectors */
};

#define LEAF_MAX	1024
#define VISITED_MAX	64

struct leaf_set {
	size_t count;
	bool truncated;
	/* Devices the mapping went through (the device's own stack). */
	size_t nvisited;
	uint32_t visited[VISITED_MAX][2];
	struct leaf_range r[LEAF_MAX];
};

static void leaf_add(struct leaf_set *s, uint32_t major, uint32_t minor,
		     uint64_t space, uint64_t start, uint64_t len)
{
	if (s->count == LEAF_MAX) {
		s->truncated = true;
		return;
	}
	s->r[s->count++] = (struct leaf_range){ major, minor, space, start,
						len };
}

static void visit(struct leaf_set *s, uint32_t major, uint32_t minor)
{
	size_t i;

	for (i = 0; i < s->nvisited; i++)
		if (s->visited[i][0] == major && s->visited[i][1] == minor)
			return;
	if (s->nvisited < VISITED_MAX) {
		s->visited[s->nvisited][0] = major;
		s->visited[s->nvisited][1] = minor;
		s->nvisited++;
	}
}

static bool visited(const struct leaf_set *s, uint32_t major, uint32_t minor)
{
	size_t i;

	for (i = 0; i < s->nvisited; i++)
		if (s->visited[i][0] == major && s->visited[i][1] == minor)
			return true;
	return false;
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
		/* thin <pool dev> <dev id> [<external origin>] */
		if (!strcmp(l->type, "thin") &&
		    sscanf(l->params, "%31s %" SCNu64, dev, &off) == 2 &&
		    !parse_devno(dev, &ma, &mi) && off < UINT64_MAX) {
			leaf_add(s, ma, mi, off + 1, lo - l->start, hi - lo);
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
	visit(s, major, minor);
	if (!sysfs_read_str(major, minor, "dm/name", name, sizeof(name))) {
		map_dm(name, start, len, s, depth);
		return;
	}
	/* A partition: its disk is the sysfs directory above it. */
	if (sysfs_exists(major, minor, "partition") &&
	    !sysfs_read_u64(major, minor, "start", &pstart) &&
	    !sysfs_read_str(major, minor, "../dev", parent, sizeof(parent)) &&
	    !parse_devno(parent, &pma, &pmi)) {
		leaf_add(s, pma, pmi, 0, pstart + start, len);
		return;
	}
	leaf_add(s, major, minor, 0, start, len);
}

/* Map all of MAJ:MIN into @s (emptied first). */
static void map_device(uint32_t major, uint32_t minor, struct leaf_set *s)
{
	uint64_t sectors = 0;

	s->count = 0;
	s->nvisited = 0;
	s->truncated = false;
	if (sysfs_read_u64(major, minor, "size", &sectors)) {
		s->truncated = true;
		return;
	}
	map_down(major, minor, 0, sectors, s, 0);
}

/* Where @a and @b share blocks: the leaf device's path in @where. */
static bool ranges_overlap(const struct leaf_set *a, const struct leaf_set *b,
			   char *where, size_t len)
{
	size_t i, k;

	for (i = 0; i < a->count; i++) {
		for (k = 0; k < b->count; k++) {
			const struct leaf_range *x = &a->r[i], *y = &b->r[k];
			struct blockdev bd;

			if (x->major != y->major || x->minor != y->minor ||
			    x->space != y->space)
				continue;
			if (x->start >= y->start + y->len ||
			    y->start >= x->start + x->len)
				continue;
			if (blockdev_from_devno(x->major, x->minor, &bd))
				snprintf(bd.path, sizeof(bd.path), "%u:%u",
					 x->major, x->minor);
			if (x->space)
				snprintf(where, len, "%.1024s (thin device %" PRIu64 ")",
					 bd.path, x->space - 1);
			else
				snprintf(where, len, "%.1024s", bd.path);
			return true;
		}
	}
	return false;
}

/*------------------------------------------------------------------*/
/* Other cowbackup jobs and other live dm devices. */

/* The job a cowbackup device belongs to, from its UUID or name. */
static void job_of(const struct dm_dev_info *info, char *job, size_t len)
{
	const char *base;

	switch (devuuid_parse(info->uuid, &base)) {
	case ROLE_COW:
	case ROLE_ORIG:
	case ROLE_VIEW:
		snprintf(job, len, "%s", base);
		return;
	default:
		snprintf(job, len, "%s", info->name);
	}
}

/*
 * Is @tgt (mapped to @lt) the source or target of any cowbackup job (any
 * dm device with a cowbackup or cowbackup-snap table), or does it share
 * blocks with one? @scratch is a work buffer. Prints the refusal.
 */
static bool held_by_job(const struct blockdev *tgt, const struct leaf_set *lt,
			struct leaf_set *scratch, bool force)
{
	char **names, where[1200], job[DMNAME_MAX];
	bool held = false;
	size_t i, k, n;

	if (dm_list_names(&names, &n))
		return false;
	for (i = 0; i < n && !held; i++) {
		struct dm_dev_info info;
		struct dm_table_lines t;

		if (dm_get_info(names[i], &info) || !info.exists ||
		    !info.live_table || dm_get_table(names[i], false, &t))
			continue;
		for (k = 0; k < t.count && !held; k++) {
			const struct dm_target_line *l = &t.lines[k];
			char dev[2][32];
			uint32_t ma, mi;
			int role;

			if (strcmp(l->type, COWBACKUP_TARGET_NAME) &&
			    strcmp(l->type, COWBACKUP_VIEW_TARGET_NAME))
				continue;
			if (sscanf(l->params, "%31s %31s", dev[0], dev[1]) != 2)
				continue;
			job_of(&info, job, sizeof(job));
			/* The target first: that is where a job writes. */
			for (role = 1; role >= 0 && !held; role--) {
				const char *what = role ? "target" : "source";

				if (parse_devno(dev[role], &ma, &mi))
					continue;
				map_device(ma, mi, scratch);
				/* Directly, or under a staging device. */
				if (visited(scratch, tgt->major, tgt->minor)) {
					refuse_always(tgt->path, "target", force,
						      "it is the %s of cowbackup job %s",
						      what, job);
					held = true;
				} else if (ranges_overlap(lt, scratch, where,
							  sizeof(where))) {
					refuse_always(tgt->path, "target", force,
						      "it overlaps the %s of cowbackup job %s on %s",
						      what, job, where);
					held = true;
				}
			}
		}
		dm_table_free(&t);
	}
	dm_free_names(names, n);
	return held;
}

/*
 * Does @tgt share blocks with a live dm device outside its own stack (an
 * LV of an active VG, any other mapping)? Writing there would corrupt
 * that device.
 */
static bool overlaps_live_dm(const struct blockdev *tgt,
			     const struct leaf_set *lt,
			     struct leaf_set *scratch, bool force)
{
	char **names, where[1200];
	bool hit = false;
	size_t i, n;

	if (dm_list_names(&names, &n))
		return false;
	for (i = 0; i < n && !hit; i++) {
		struct dm_dev_info info;

		if (dm_get_info(names[i], &info) || !info.exists ||
		    !info.live_table ||
		    (info.major == tgt->major && info.minor == tgt->minor) ||
		    visited(lt, info.major, info.minor))
			continue;
		map_device(info.major, info.minor, scratch);
		/* Devices stacked on the target are its users: in use. */
		if (visited(scratch, tgt->major, tgt->minor)) {
			refuse_always(tgt->path, "target", force,
				      "it is in use by %s", info.name);
			hit = true;
		} else if (ranges_overlap(lt, scratch, where, sizeof(where))) {
			refuse_always(tgt->path, "target", force,
				      "it overlaps %s (a live device) on %s",
				      info.name, where);
			hit = true;
		}
	}
	dm_free_names(names, n);
	return hit;
}

/*------------------------------------------------------------------*/
/* Signatures. */

bool safety_find_signature(int fd, char *what, size_t len)
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
	const struct safety_origin origin = {
		.dev = src, .is = "the source device", .overlaps = "the source",
	};
	char what[4096];

	if (lvm_internal_device(src, what, sizeof(what))) {
		refuse_always(src->path, "source", force, "it is %s", what);
		return -1;
	}
	return safety_check_write_target(tgt, src->size_bytes, "the source",
					 &origin, 1, force);
}

int safety_check_write_target(const struct blockdev *tgt, uint64_t need_bytes,
			      const char *need_name,
			      const struct safety_origin *origins,
			      size_t norigins, bool force)
{
	char what[4096], size_a[64], size_b[64];
	struct leaf_set *ls_src = NULL, *ls_tgt = NULL, *scratch = NULL;
	uint64_t ro = 0;
	struct job job;
	bool refused = true;
	size_t i;
	int fd;

	/*
	 * Always refused, whatever the flags: these would destroy the
	 * source or another live device.
	 */
	if (lvm_internal_device(tgt, what, sizeof(what))) {
		refuse_always(tgt->path, "target", force, "it is %s", what);
		return -1;
	}
	for (i = 0; i < norigins; i++) {
		if (origins[i].dev->major == tgt->major &&
		    origins[i].dev->minor == tgt->minor) {
			refuse_always(tgt->path, "target", force, "it is %s",
				      origins[i].is);
			return -1;
		}
	}
	if (tgt->is_dm && devuuid_parse(tgt->dm_uuid, NULL) != ROLE_NONE) {
		refuse_always(tgt->path, "target", force,
			      "it is a cowbackup-ctl device");
		return -1;
	}
	if (tgt->is_dm && job_load(tgt->dm_name, &job) == 0) {
		refuse_always(tgt->path, "target", force,
			      "it is the source of cowbackup job %s", job.name);
		return -1;
	}

	ls_src = calloc(1, sizeof(*ls_src));
	ls_tgt = calloc(1, sizeof(*ls_tgt));
	scratch = calloc(1, sizeof(*scratch));
	if (!ls_src || !ls_tgt || !scratch) {
		err_msg("%s: cannot check the target: out of memory", tgt->path);
		goto out;
	}
	map_device(tgt->major, tgt->minor, ls_tgt);
	if (held_by_job(tgt, ls_tgt, scratch, force))
		goto out;
	for (i = 0; i < norigins; i++) {
		map_device(origins[i].dev->major, origins[i].dev->minor,
			   ls_src);
		if (ranges_overlap(ls_src, ls_tgt, what, sizeof(what))) {
			refuse_always(tgt->path, "target", force,
				      "it overlaps %s on %s",
				      origins[i].overlaps, what);
			goto out;
		}
	}
	if (find_mount(tgt->major, tgt->minor, what, sizeof(what))) {
		refuse_always(tgt->path, "target", force, "it is mounted on %s",
			      what);
		goto out;
	}
	if (partition_busy(tgt, what, sizeof(what))) {
		refuse_always(tgt->path, "target", force, "%s", what);
		goto out;
	}
	if (find_swap(tgt->major, tgt->minor)) {
		refuse_always(tgt->path, "target", force,
			      "it is in use as swap");
		goto out;
	}
	if (find_holders(tgt->major, tgt->minor, what, sizeof(what))) {
		refuse_always(tgt->path, "target", force, "it is in use by %s",
			      what);
		goto out;
	}
	if (overlaps_live_dm(tgt, ls_tgt, scratch, force))
		goto out;
	if (tgt->size_bytes < need_bytes) {
		refuse_always(tgt->path, "target", force,
			      "it is smaller than %s (%s < %s)", need_name,
			      format_size_long(tgt->size_bytes, size_a,
					       sizeof(size_a)),
			      format_size_long(need_bytes, size_b,
					       sizeof(size_b)));
		goto out;
	}
	if (!sysfs_read_u64(tgt->major, tgt->minor, "ro", &ro) && ro) {
		refuse_always(tgt->path, "target", force, "it is read-only");
		goto out;
	}
	refused = false;
out:
	free(ls_src);
	free(ls_tgt);
	free(scratch);
	if (refused)
		return -1;

	fd = open(tgt->path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			refuse_always(tgt->path, "target", force,
				      "it is in use (cannot open it exclusively)");
		else
			err_msg("%s: cannot open the target: %s", tgt->path,
				strerror(errno));
		return -1;
	}
	/*
	 * Only this may --force override: an earlier backup, reused. A
	 * target holding just the incomplete-backup marker (an interrupted
	 * job) carries nothing of value and is reused without --force.
	 */
	if (safety_find_signature(fd, what, sizeof(what)) &&
	    refuse(tgt, force, "%s", what)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*------------------------------------------------------------------*/
/* Why the kernel refused a table. */

/*
 * The kernel logs a refused table line as "device-mapper: table:
 * MAJ:MIN: <target>: <ti->error> (<errno>)". Find the latest such record
 * of MAJ:MIN in /dev/kmsg, if it is recent, and copy what follows.
 */
static bool kmsg_table_error(uint32_t major, uint32_t minor, char *buf,
			     size_t len)
{
	char rec[2048], key[64];
	struct timespec now;
	bool found = false;
	int fd;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(key, sizeof(key), "device-mapper: table: %u:%u: ", major,
		 minor);
	for (;;) {
		unsigned long long usec;
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *msg, *hit;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten while we read */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg || sscanf(rec, "%*u,%*u,%llu", &usec) != 1)
			continue;
		msg[strcspn(msg, "\n")] = '\0';
		hit = strstr(msg, key);
		/* Only from the last minute: minors are reused. */
		if (!hit || (unsigned long long)now.tv_sec > usec / 1000000 + 60)
			continue;
		snprintf(buf, len, "%s", hit + strlen(key));
		found = true;
	}
	close(fd);
	return found;
}

const char *kernel_refusal(void)
{
	static char reason[1024];
	const char *e = dm_last_error(), *p;
	char why[512];
	unsigned int ma, mi;

	for (p = strchr(e, '('); p; p = strchr(p + 1, '(')) {
		if (sscanf(p, "(%u:%u)", &ma, &mi) == 2 &&
		    kmsg_table_error(ma, mi, why, sizeof(why))) {
			snprintf(reason, sizeof(reason), "%s", why);
			return reason;
		}
	}
	snprintf(reason, sizeof(reason), "%s (see dmesg)", e);
	return reason;
}
