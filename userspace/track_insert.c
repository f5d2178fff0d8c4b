// SPDX-License-Identifier: GPL-2.0
/*
 * Live insertion of the change tracker under a dm volume X and its
 * removal, the way insert.c does it for jobs. Every step changes one
 * thing in the kernel, in an order such that the dm tables alone tell
 * how far a killed run got (recover.c, "Recovery" in
 * Documentation/cowbackup-ctl.rst):
 *
 *   enable:  create O = X's table (cowbackup-X-trackorig) -> track-orig-created
 *            create T = cowbackup-track O META ...        -> track-dev-created
 *            load "linear T" into X (inactive)            -> track-table-loaded
 *            suspend X                                    -> track-suspended
 *            [writes before the tracker: mark bypassed]
 *            resume X: tracking starts                    -> track-resumed
 *   disable: mark the history bypassed                    -> untrack-bypassed
 *            load O's table into X                        -> untrack-table-loaded
 *            suspend X                                    -> untrack-suspended
 *            resume X: the original table is back         -> untrack-resumed
 *            remove T (a clean remove saves the maps)     -> untrack-dev-removed
 *            remove O
 *
 * Writes that reach X without passing the tracker go unseen: those made
 * before the tracker was armed (at boot; /sys/dev/block/X/stat counts
 * them), and those after a disable. Both mark the history bypassed, so
 * no incremental backup is ever taken from a map that missed a write.
 */
#include "track_insert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devuuid.h"
#include "insert.h"
#include "job.h"
#include "recover.h"
#include "safety.h"
#include "stack_insert.h"
#include "steps.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

#define TRACK_MAGIC		"CBTRACK\0"
#define TRACK_MAGIC_LEN		8
#define TRACK_DEFAULT_CLUSTER	128

/*------------------------------------------------------------------*/
/* Names */

/* "vg--a-lv--b" -> "vg-a/lv-b"; -1 if @dm is no LVM-style name. */
static int dm_to_vg_lv(const char *dm, char *buf, size_t len)
{
	char vg[DMNAME_MAX], lv[DMNAME_MAX];
	const char *p = dm;
	size_t o = 0;

	if (lvm_vg_of_dm_name(dm, vg, sizeof(vg)))
		return -1;
	/* Skip the VG part (its '-' doubled) and the separator. */
	while (*p && !(p[0] == '-' && p[1] != '-'))
		p += p[0] == '-' ? 2 : 1;
	if (!*p)
		return -1;
	for (p++; *p && o + 1 < sizeof(lv); p++) {
		if (p[0] == '-' && p[1] == '-')
			p++;
		lv[o++] = *p;
	}
	lv[o] = '\0';
	if (!o || snprintf(buf, len, "%s/%s", vg, lv) >= (int)len)
		return -1;
	return 0;
}

/* An LVM LV's own dm UUID: "LVM-" + VG UUID + LV UUID, nothing more. */
static bool is_lv(const struct blockdev *bd)
{
	return bd->is_dm && !strncmp(bd->dm_uuid, "LVM-", 4) &&
	       strlen(bd->dm_uuid) == 4 + 32 + 32;
}

int track_vol_names(const char *vol, struct blockdev *bd, char *display,
		    size_t len)
{
	if (blockdev_resolve(vol, bd))
		return -1;
	if (!bd->is_dm) {
		err_msg("%s: not a device-mapper device; only dm volumes (LVM LVs) can be tracked",
			vol);
		return -1;
	}
	track_display_name(bd->dm_name, bd->dm_uuid, display, len);
	return 0;
}

void track_display_name(const char *dm_name, const char *dm_uuid, char *buf,
			size_t len)
{
	if (strncmp(dm_uuid, "LVM-", 4) || strlen(dm_uuid) != 4 + 32 + 32 ||
	    dm_to_vg_lv(dm_name, buf, len))
		snprintf(buf, len, "%s", dm_name);
}

void track_stable_path(const struct blockdev *bd, const char *typed,
		       char *buf, size_t len)
{
	char vglv[2 * DMNAME_MAX];

	if (is_lv(bd) && !dm_to_vg_lv(bd->dm_name, vglv, sizeof(vglv)))
		snprintf(buf, len, "/dev/%s", vglv);
	else if (!strncmp(typed, "/dev/disk/", 10) ||
		 !strncmp(typed, "/dev/mapper/", 12))
		snprintf(buf, len, "%s", typed);	/* stable already */
	else if (bd->is_dm)
		snprintf(buf, len, "/dev/mapper/%s", bd->dm_name);
	else
		snprintf(buf, len, "%s", bd->path);
}

uint64_t track_meta_need(uint64_t sectors, uint64_t cs)
{
	uint64_t n = (sectors + cs - 1) / cs;
	uint64_t m = (n + 7) / 8;

	m = (m + 4095) / 4096 * 4096;
	return 8 + 2 * (m / 512);
}

/*------------------------------------------------------------------*/
/* The metadata device */

/* Is MAJ:MIN @a anywhere in @dir's tree (slaves or holders) of @b? */
static bool in_tree(uint32_t ma, uint32_t mi, uint32_t bma, uint32_t bmi,
		    const char *dir, int depth)
{
	char path[128], devpath[512], devno[32];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (depth > 16)
		return false;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", bma, bmi, dir);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		uint32_t cma, cmi;

		if (de->d_name[0] == '.')
			continue;
		snprintf(devpath, sizeof(devpath), "%s/%s/dev", path,
			 de->d_name);
		if (read_first_line(devpath, devno, sizeof(devno)) ||
		    parse_devno(devno, &cma, &cmi))
			continue;
		found = (cma == ma && cmi == mi) ||
			in_tree(ma, mi, cma, cmi, dir, depth + 1);
	}
	closedir(d);
	return found;
}

/* Where MAJ:MIN is mounted, from /proc/self/mountinfo. */
static bool mounted_on(uint32_t ma, uint32_t mi, char *where, size_t len)
{
	char line[4096], want[32], mp[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%u:%u", ma, mi);
	while (!found && fgets(line, sizeof(line), f)) {
		char devno[32];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", devno, mp) == 2 &&
		    !strcmp(devno, want)) {
			snprintf(where, len, "%s", mp);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* The first holder of MAJ:MIN, by dm name when it has one. */
static bool held_by(uint32_t ma, uint32_t mi, char *who, size_t len)
{
	char path[128], attr[512];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", ma, mi);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/dm/name", path, de->d_name);
		if (read_first_line(attr, who, len))
			snprintf(who, len, "%s", de->d_name);
		found = true;
	}
	closedir(d);
	return found;
}

/* The first 8 bytes of the device, read past the page cache. */
static int read_magic(int fd, const char *path, bool *cbtrack)
{
	void *buf;
	int dfd, r = -1;
	char self[64];

	/* The kernel writes the header with bios: skip our page cache. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	dfd = open(self, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0)
		dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		err_msg("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (posix_memalign(&buf, 4096, 4096)) {
		err_msg("%s: out of memory", path);
		close(dfd);
		return -1;
	}
	if (pread(dfd, buf, 4096, 0) != 4096) {
		err_msg("%s: cannot read its first 4 KiB: %s", path,
			strerror(errno ? errno : EIO));
	} else {
		*cbtrack = !memcmp(buf, TRACK_MAGIC, TRACK_MAGIC_LEN);
		r = 0;
	}
	free(buf);
	close(dfd);
	return r;
}

/* Zero the first 4 KiB (the header block): a fresh history. */
static int wipe_header(int fd, const char *path)
{
	void *buf;
	int r = 0;

	if (posix_memalign(&buf, 4096, 4096)) {
		err_msg("%s: out of memory", path);
		return -1;
	}
	memset(buf, 0, 4096);
	if (pwrite(fd, buf, 4096, 0) != 4096 || fsync(fd)) {
		err_msg("%s: cannot clear its first 4 KiB: %s", path,
			strerror(errno ? errno : EIO));
		r = -1;
	}
	free(buf);
	return r;
}

/*
 * Every check on METADEV for tracking @x (@sectors long, clusters of
 * @cs). Returns an O_EXCL fd of it, held until the tracker's table
 * claims it, and says whether it holds a history; -1 after one line.
 */
static int check_meta(const struct blockdev *x, const char *xdisp,
		      const struct blockdev *md, const char *meta_arg,
		      uint64_t sectors, uint64_t cs,
		      const struct track_request *req, bool *history)
{
	char what[4096];
	uint64_t need = track_meta_need(sectors, cs);
	int fd;

	if (md->major == x->major && md->minor == x->minor) {
		err_msg("%s: is %s itself; the metadata needs a device of its own",
			meta_arg, xdisp);
		return -1;
	}
	if (md->is_dm && devuuid_parse(md->dm_uuid, NULL) != ROLE_NONE) {
		err_msg("%s: is a cowbackup-ctl device, not a metadata device",
			meta_arg);
		return -1;
	}
	if (in_tree(md->major, md->minor, x->major, x->minor, "slaves", 0)) {
		err_msg("%s: %s is built on it; the metadata needs a device of its own",
			meta_arg, xdisp);
		return -1;
	}
	if (in_tree(md->major, md->minor, x->major, x->minor, "holders", 0)) {
		err_msg("%s: is built on %s; the metadata needs a device of its own",
			meta_arg, xdisp);
		return -1;
	}
	if (md->size_bytes / 512 < need) {
		char a[64], b[64];

		err_msg("%s: too small for tracking %s in clusters of %" PRIu64 " KiB: needs %" PRIu64 " sectors (%s), has %" PRIu64 " (%s)",
			meta_arg, xdisp, cs / 2, need,
			format_size_short(need * 512, a, sizeof(a)),
			md->size_bytes / 512,
			format_size_short(md->size_bytes, b, sizeof(b)));
		return -1;
	}
	fd = open(md->path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno != EBUSY)
			err_msg("%s: cannot open: %s", meta_arg,
				strerror(errno));
		else if (mounted_on(md->major, md->minor, what, sizeof(what)))
			err_msg("%s: is mounted on %s", meta_arg, what);
		else if (held_by(md->major, md->minor, what, sizeof(what)))
			err_msg("%s: is in use by %s", meta_arg, what);
		else
			err_msg("%s: is in use (cannot open it exclusively)",
				meta_arg);
		return -1;
	}
	if (read_magic(fd, meta_arg, history))
		goto fail;
	if (*history)
		return fd;
	if (req->resume) {
		err_msg("%s: no tracking history on %s; use 'track enable'",
			xdisp, meta_arg);
		goto fail;
	}
	if (safety_find_signature(fd, what, sizeof(what))) {
		if (!req->force) {
			err_msg("%s: refusing metadata device: %s (override with --force)",
				meta_arg, what);
			goto fail;
		}
		err_msg("warning: %s: %s (overwritten: --force)", meta_arg,
			what);
		if (wipe_header(fd, meta_arg))
			goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*------------------------------------------------------------------*/
/* enable */

int track_table(struct dm_table_lines *t, uint64_t sectors,
		const struct dm_dev_info *o, const struct blockdev *md,
		const struct track_request *req)
{
	char params[128];

	if (req->cluster_set)
		snprintf(params, sizeof(params), "%u:%u %u:%u 2 %s %" PRIu64,
			 o->major, o->minor, md->major, md->minor,
			 COWBACKUP_ARG_CLUSTER_SIZE, req->cluster_sectors);
	else
		snprintf(params, sizeof(params), "%u:%u %u:%u", o->major,
			 o->minor, md->major, md->minor);
	t->count = 0;
	t->lines = NULL;
	return dm_table_add(t, 0, sectors, COWBACKUP_TRACK_TARGET_NAME, params);
}

/* Writes completed on MAJ:MIN since it was created (field 5 of stat). */
static int writes_done(uint32_t ma, uint32_t mi, uint64_t *writes)
{
	char line[512];
	unsigned long long f[5];

	if (sysfs_read_str(ma, mi, "stat", line, sizeof(line)) ||
	    sscanf(line, "%llu %llu %llu %llu %llu", &f[0], &f[1], &f[2],
		   &f[3], &f[4]) != 5)
		return -1;
	*writes = f[4];
	return 0;
}

/* What the two callbacks of insert_tracker() need. */
struct tracker_insert {
	const struct blockdev *src, *md;
	const struct track_request *req;
	const char *xdisp;
	uint64_t sectors;
	bool history, bypassed;
};

static int tracker_insert_table(struct dm_table_lines *t,
				const struct dm_dev_info *o, void *arg)
{
	struct tracker_insert *p = arg;

	return track_table(t, p->sectors, o, p->md, p->req);
}

/*
 * X is suspended: every write it ever completed went to the original
 * table, unseen by this history. The history learns it before the
 * tracker goes live, so a kill cannot leave it valid.
 */
static int tracker_insert_frozen(void *arg)
{
	struct tracker_insert *p = arg;
	uint64_t writes = 0;
	struct tracker t;

	if (!p->history)
		return 0;
	if (writes_done(p->src->major, p->src->minor, &writes)) {
		err_msg("%s: cannot read its I/O statistics (/sys/dev/block/%u:%u/stat); nothing done",
			p->xdisp, p->src->major, p->src->minor);
		return -1;
	}
	if (!writes)
		return 0;
	if (tracker_load(p->src->dm_name, &t) != 0 ||
	    tracker_mark_bypassed(&t)) {
		err_msg("%s: could not mark the history on %s as bypassed; nothing done",
			p->xdisp, p->md->path);
		return -1;
	}
	p->bypassed = true;
	return 0;
}

/*
 * The insertion proper. @orig is X's live table, @fd the O_EXCL fd of
 * the metadata device (closed here). *bypassed: writes before the
 * tracker were found and the history marked.
 */
static int insert_tracker(const struct blockdev *src, const char *xdisp,
			  const struct blockdev *md,
			  const struct track_request *req,
			  struct dm_table_lines *orig, bool read_only,
			  bool history, int fd, bool *bypassed)
{
	char tname[DMNAME_MAX], tuuid[DMUUID_MAX];
	char oname[DMNAME_MAX], ouuid[DMUUID_MAX];
	struct tracker_insert p = {
		.src = src, .md = md, .req = req, .xdisp = xdisp,
		.sectors = dm_table_sectors(orig), .history = history,
	};
	struct stack_insert s = {
		.x = src->dm_name, .disp = xdisp, .orig = orig,
		.read_only = read_only, .o_name = oname, .o_uuid = ouuid,
		.m_name = tname, .m_uuid = tuuid,
		.m_target = COWBACKUP_TRACK_TARGET_NAME, .m_role = "tracker",
		.step = "track", .m_step = "dev-created",
		.m_table = tracker_insert_table,
		.frozen = tracker_insert_frozen, .arg = &p,
	};
	int r;

	*bypassed = false;
	close(fd);	/* the kernel's exclusive claim takes over */
	if (track_dev_name(src->dm_name, tname, sizeof(tname), tuuid,
			   sizeof(tuuid)) ||
	    track_orig_name(src->dm_name, oname, sizeof(oname), ouuid,
			    sizeof(ouuid))) {
		err_msg("%s: name too long for the tracker's dm devices", xdisp);
		return -1;
	}
	r = stack_insert(&s);
	*bypassed = p.bypassed;
	return r;
}

/* Checks on X; fills @orig with its live table. */
static int check_vol(const struct blockdev *src, const char *xdisp,
		     struct dm_table_lines *orig, bool *read_only)
{
	const char *x = src->dm_name;
	struct job job;

	if (devuuid_parse(src->dm_uuid, NULL) != ROLE_NONE) {
		err_msg("%s: is a cowbackup-ctl device, not a volume", xdisp);
		return -1;
	}
	if (insert_check_idle(x, xdisp, read_only))
		return -1;
	if (job_load(x, &job) == 0) {
		err_msg("%s: in a cowbackup job (see 'cowbackup-ctl status %s'); finish it first",
			xdisp, job.name);
		return -1;
	}
	if (dm_get_table(x, false, orig)) {
		err_msg("%s: cannot read its table: %s", xdisp, dm_last_error());
		return -1;
	}
	if (insert_check_movable(orig, xdisp)) {
		dm_table_free(orig);
		return -1;
	}
	return 0;
}

/* Remove the devices of a tracker X no longer routes through. */
static int drop_detached(const char *xdisp, struct tracker *t)
{
	if (tracker_mark_bypassed(t))
		return -1;
	if (dm_remove(t->dev) || dm_remove(t->orig)) {
		err_msg("%s: cannot remove the detached tracker: %s", xdisp,
			dm_last_error());
		return -1;
	}
	printf("%s: its detached tracker (the table was replaced, e.g. by lvextend) was removed; history marked bypassed\n",
	       xdisp);
	return 0;
}

int track_enable(const char *vol, const char *meta,
		 const struct track_request *req)
{
	char xdisp[2 * DMNAME_MAX], size[64];
	struct dm_table_lines orig = { 0 };
	struct blockdev src, md;
	struct track_conf_entry e;
	struct critical crit;
	bool read_only = false, history = false, bypassed = false;
	uint64_t cs = req->cluster_set ? req->cluster_sectors :
		      TRACK_DEFAULT_CLUSTER;
	struct tracker t;
	int fd, r;

	if (track_vol_names(vol, &src, xdisp, sizeof(xdisp)) ||
	    blockdev_resolve(meta, &md))
		return EXIT_FAIL;
	/* Finish what a killed run left on this volume first. */
	if (job_recover(false, false, src.dm_name) < 0)
		return EXIT_FAIL;
	critical_enter(&crit, src.dm_name, src.dm_uuid);
	if (blockdev_resolve(vol, &src) ||
	    check_vol(&src, xdisp, &orig, &read_only))
		goto fail;
	r = tracker_load(src.dm_name, &t);
	if (r < 0)
		goto fail;
	if (r == 0 && t.attached) {
		err_msg("%s: already tracked on %s (see 'cowbackup-ctl track status %s')",
			xdisp, t.meta_path, xdisp);
		goto fail;
	}
	if (r == 0 && drop_detached(xdisp, &t))
		goto fail;
	fd = check_meta(&src, xdisp, &md, meta, dm_table_sectors(&orig), cs,
			req, &history);
	if (fd < 0)
		goto fail;
	if (insert_tracker(&src, xdisp, &md, req, &orig, read_only, history,
			   fd, &bypassed))
		goto fail;
	dm_table_free(&orig);
	critical_leave(&crit);

	if (tracker_load(src.dm_name, &t)) {
		err_msg("%s: the tracker vanished right after it was inserted",
			xdisp);
		return EXIT_FAIL;
	}
	{
		const char *reason = t.st.current_reason;

		printf("%s: tracking changes in clusters of %s on %s (history %s, epoch %" PRIu64 ", map %s%s%s)\n",
		       xdisp,
		       format_size_short(t.st.cluster_sectors * 512, size,
					 sizeof(size)),
		       meta, t.st.uuid, t.st.epoch,
		       strcmp(reason, "-") ? "invalid" : "valid",
		       strcmp(reason, "-") ? ": " : "",
		       strcmp(reason, "-") ? reason : "");
		if (bypassed)
			printf("%s: written before tracking was re-armed; the next backup will be a full one\n",
			       xdisp);
	}
	if (req->keep_conf)
		return EXIT_OK;	/* resume --all: the config stays as it is */
	snprintf(e.vol, sizeof(e.vol), "%s", xdisp);
	track_stable_path(&md, meta, e.meta, sizeof(e.meta));
	e.cluster_sectors = t.st.cluster_sectors ? t.st.cluster_sectors : cs;
	if (track_conf_set(xdisp, &e)) {
		err_msg("%s: tracked, but not re-armed at boot: the list of tracked volumes could not be written",
			xdisp);
		return EXIT_FAIL;
	}
	return EXIT_OK;
fail:
	dm_table_free(&orig);
	critical_leave(&crit);
	return EXIT_FAIL;
}

/*------------------------------------------------------------------*/
/* disable */

int track_disable(const char *vol)
{
	char xdisp[2 * DMNAME_MAX];
	struct dm_table_lines orig = { 0 };
	struct suspend_guard guard;
	struct dm_dev_info xi;
	struct blockdev src;
	struct critical crit;
	struct tracker t;
	struct job job;
	const char *x;
	int r;

	if (track_vol_names(vol, &src, xdisp, sizeof(xdisp)))
		return EXIT_FAIL;
	x = src.dm_name;
	if (job_recover(false, false, x) < 0)
		return EXIT_FAIL;
	critical_enter(&crit, x, src.dm_uuid);
	r = tracker_load(x, &t);
	if (r < 0)
		goto fail;
	if (r == 1) {
		err_msg("%s: not tracked", xdisp);
		goto fail;
	}
	if (job_load(x, &job) == 0) {
		err_msg("%s: in a cowbackup job (see 'cowbackup-ctl status %s'); finish it before disabling tracking",
			xdisp, job.name);
		goto fail;
	}
	/* From here on writes go unseen: the history must say so first. */
	if (tracker_mark_bypassed(&t))
		goto fail;
	kill_point("untrack-bypassed");
	if (t.attached) {
		if (dm_get_info(x, &xi) || dm_get_table(t.orig, false, &orig) ||
		    !orig.count) {
			err_msg("%s: cannot read the original table from %s: %s",
				xdisp, t.orig, dm_last_error());
			goto fail;
		}
		if (dm_load(x, &orig, xi.read_only)) {
			err_msg("%s: cannot load the original table: %s", xdisp,
				dm_last_error());
			goto fail;
		}
		kill_point("untrack-table-loaded");
		/* Killed while suspended: the guard makes the old table live. */
		guard_start(&guard, x, false);
		if (dm_suspend(x)) {
			err_msg("%s: cannot suspend: %s", xdisp,
				dm_last_error());
			guard_stop(&guard);
			dm_clear_inactive(x);
			goto fail;
		}
		kill_point("untrack-suspended");
		if (dm_resume(x, DM_NODE_VISIBLE)) {
			err_msg("%s: cannot resume with the original table: %s; run 'cowbackup-ctl recover'",
				xdisp, dm_last_error());
			guard_stop(&guard);
			goto fail;
		}
		guard_stop(&guard);
		kill_point("untrack-resumed");
	}
	if (dm_remove(t.dev)) {
		err_msg("%s: %s could not be removed: %s; run 'cowbackup-ctl recover'",
			xdisp, t.dev, dm_last_error());
		goto fail;
	}
	kill_point("untrack-dev-removed");
	if (dm_remove(t.orig)) {
		err_msg("%s: %s could not be removed: %s; run 'cowbackup-ctl recover'",
			xdisp, t.orig, dm_last_error());
		goto fail;
	}
	dm_table_free(&orig);
	critical_leave(&crit);
	if (t.attached)
		printf("%s: tracking disabled, original table restored (the history on %s is marked bypassed)\n",
		       xdisp, t.meta_path);
	else
		printf("%s: detached tracker removed; its table was already replaced (the history on %s is marked bypassed)\n",
		       xdisp, t.meta_path);
	if (track_conf_set(xdisp, NULL))
		return EXIT_FAIL;
	return EXIT_OK;
fail:
	dm_table_free(&orig);
	critical_leave(&crit);
	return EXIT_FAIL;
}

/*------------------------------------------------------------------*/
/* The list of tracked volumes */

void track_conf_path(char *buf, size_t len)
{
	const char *dir = getenv("COWBACKUP_CONF_DIR");

	snprintf(buf, len, "%s/%s", dir && *dir ? dir : TRACK_CONF_DEFAULT_DIR,
		 TRACK_CONF_FILE);
}

int track_conf_read(struct track_conf_entry **entries, size_t *count)
{
	char path[PATH_MAX], line[2 * PATH_MAX + 64];
	struct track_conf_entry *v = NULL, *g;
	size_t n = 0;
	unsigned int lineno = 0;
	FILE *f;

	*entries = NULL;
	*count = 0;
	track_conf_path(path, sizeof(path));
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		err_msg("%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct track_conf_entry e;
		char *p = line, extra[2];
		unsigned long long cs;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (sscanf(p, "%4095s %4095s %llu %1s", e.vol, e.meta, &cs,
			   extra) != 3 || !cs || (cs & (cs - 1))) {
			err_msg("%s:%u: malformed line (want: VOLUME METADEV CLUSTER_SECTORS); skipped",
				path, lineno);
			continue;
		}
		e.cluster_sectors = cs;
		g = realloc(v, (n + 1) * sizeof(*v));
		if (!g) {
			err_msg("%s: out of memory", path);
			free(v);
			fclose(f);
			return -1;
		}
		v = g;
		v[n++] = e;
	}
	fclose(f);
	*entries = v;
	*count = n;
	return 0;
}

int track_conf_set(const char *vol, const struct track_conf_entry *e)
{
	char path[PATH_MAX], line[8192], *text = NULL;
	size_t len = 0;
	FILE *in, *out;
	int r;

	track_conf_path(path, sizeof(path));
	out = open_memstream(&text, &len);
	if (!out) {
		err_msg("%s: out of memory", path);
		return -1;
	}
	in = fopen(path, "re");
	if (!in)
		fprintf(out, "# Volumes whose change tracker 'cowbackup-ctl track resume --all'\n"
			"# re-arms at boot (cowbackup-track.service). Written by\n"
			"# 'cowbackup-ctl track enable|disable'.\n"
			"# VOLUME METADEV CLUSTER_SECTORS\n");
	while (in && fgets(line, sizeof(line), in)) {
		char first[PATH_MAX];

		if (sscanf(line, "%4095s", first) == 1 && first[0] != '#' &&
		    !strcmp(first, vol))
			continue;	/* replaced below */
		fputs(line, out);
		if (!strchr(line, '\n'))
			fputc('\n', out);
	}
	if (in)
		fclose(in);
	if (e)
		fprintf(out, "%s %s %" PRIu64 "\n", e->vol, e->meta,
			e->cluster_sectors);
	if (fclose(out)) {
		err_msg("%s: out of memory", path);
		free(text);
		return -1;
	}
	r = write_file_atomic(path, text);
	if (r)
		err_msg("%s: cannot write: %s", path, strerror(errno));
	free(text);
	return r;
}
