// SPDX-License-Identifier: GPL-2.0
/*
 * Live insertion of the cowbackup target and its removal.
 *
 * Every step changes exactly one thing in the kernel, in an order such
 * that the dm tables alone tell how far a killed run got (see "Recovery"
 * in Documentation/cowbackup-ctl.rst). For a dm source X (job X):
 *
 *   start:  create H = X's table (hidden)           -> start-orig-created
 *           create C = cowbackup H T ... paused      -> start-cow-created
 *           load "linear C" into X (inactive)        -> start-table-loaded
 *           suspend X: flush, freeze the filesystem  -> start-suspended
 *           resume X: the point in time              -> start-resumed
 *           resume the background copy (message)
 *           [create the view]                        -> start-view-created
 *   finish: [remove the view]                        -> finish-view-removed
 *           load H's table into X                    -> finish-table-loaded
 *           suspend X                                -> finish-suspended
 *           resume X: the original table is back     -> finish-resumed
 *           remove C                                 -> finish-cow-removed
 *           remove H
 *
 * C starts paused because it is live before X routes through it: a
 * background copy in that window could copy data that X's old table
 * still overwrites before the point in time. Until X's swap, nothing
 * reaches C, so nothing is copied.
 *
 * Signals that would end the tool (Ctrl-C, SIGTERM, SIGHUP) are blocked
 * while a sequence runs, so only SIGKILL can interrupt one (steps.c).
 */
#include "insert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blockdev.h"
#include "devuuid.h"
#include "incremental.h"
#include "job.h"
#include "marker.h"
#include "nbd_export.h"
#include "nbd_target.h"
#include "newuuid.h"
#include "recover.h"
#include "safety.h"
#include "stack_insert.h"
#include "steps.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

/*------------------------------------------------------------------*/
/* Tables. */

static const char *const in_place_targets[] = {
	/*
	 * Targets whose table can be live on two devices at once, which is
	 * what the hidden device does. Targets owning metadata or a
	 * single-opener resource (snapshot, raid, cache, thin-pool, ...)
	 * cannot be doubled.
	 */
	"linear", "striped", "thin", "crypt", "zero", "error",
};

static const char *unsupported_target(const struct dm_table_lines *t)
{
	size_t i, k;

	for (i = 0; i < t->count; i++) {
		bool ok = false;

		for (k = 0; k < sizeof(in_place_targets) /
				sizeof(in_place_targets[0]); k++)
			if (!strcmp(t->lines[i].type, in_place_targets[k]))
				ok = true;
		if (!ok)
			return t->lines[i].type;
	}
	return NULL;
}

int insert_check_movable(const struct dm_table_lines *t, const char *disp)
{
	const char *bad = unsupported_target(t);

	if (!bad)
		return 0;
	err_msg("%s: its table uses the '%s' target, which cannot be moved to a hidden device; only linear, striped, thin, crypt, zero and error tables can",
		disp, bad);
	return -1;
}

int insert_check_idle(const char *x, const char *disp, bool *read_only)
{
	struct dm_dev_info info;

	if (dm_get_info(x, &info) || !info.exists) {
		err_msg("%s: %s", disp, dm_last_error());
		return -1;
	}
	if (!info.live_table || info.suspended || info.inactive_table) {
		err_msg("%s: busy: %s", disp,
			!info.live_table ? "it has no live table" :
			info.suspended ? "it is suspended" :
			"another table is loaded and not yet active");
		return -1;
	}
	*read_only = info.read_only;
	return 0;
}

static int cowbackup_table(struct dm_table_lines *t, uint64_t sectors,
			   uint32_t src_major, uint32_t src_minor,
			   const struct blockdev *tgt,
			   const struct start_request *req, bool paused)
{
	char params[512], opt[384] = "";
	size_t pos = 0;
	int nargs = 0;

#define OPT(...) do {							\
		pos += (size_t)snprintf(opt + pos, sizeof(opt) - pos,	\
					__VA_ARGS__);			\
	} while (0)
	if (req->cluster_bytes) {
		OPT(" %s %" PRIu64, COWBACKUP_ARG_CLUSTER_SIZE,
		    req->cluster_bytes / 512);
		nargs += 2;
	}
	if (req->speed_set) {
		OPT(" %s %" PRIu64, COWBACKUP_ARG_SPEED, req->speed);
		nargs += 2;
	}
	if (req->max_workers) {
		OPT(" %s %" PRIu64, COWBACKUP_ARG_MAX_WORKERS,
		    req->max_workers);
		nargs += 2;
	}
	if (req->on_source_error) {
		OPT(" %s %s", COWBACKUP_ARG_ON_SOURCE_ERROR,
		    req->on_source_error);
		nargs += 2;
	}
	if (req->on_target_error) {
		OPT(" %s %s", COWBACKUP_ARG_ON_TARGET_ERROR,
		    req->on_target_error);
		nargs += 2;
	}
	if (req->cow_error) {
		OPT(" %s %s", COWBACKUP_ARG_COW_ERROR, req->cow_error);
		nargs += 2;
	}
	if (paused) {
		OPT(" %s", COWBACKUP_ARG_PAUSED);
		nargs += 1;
	}
#undef OPT
	if (nargs)
		snprintf(params, sizeof(params), "%u:%u %u:%u %s %d%s",
			 src_major, src_minor, tgt->major, tgt->minor,
			 req->sync, nargs, opt);
	else
		snprintf(params, sizeof(params), "%u:%u %u:%u %s", src_major,
			 src_minor, tgt->major, tgt->minor, req->sync);
	t->count = 0;
	t->lines = NULL;
	return dm_table_add(t, 0, sectors, COWBACKUP_TARGET_NAME, params);
}

static int view_table(struct dm_table_lines *t, uint64_t sectors,
		      uint32_t src_major, uint32_t src_minor,
		      uint32_t tgt_major, uint32_t tgt_minor)
{
	char params[64];

	snprintf(params, sizeof(params), "%u:%u %u:%u", src_major, src_minor,
		 tgt_major, tgt_minor);
	t->count = 0;
	t->lines = NULL;
	return dm_table_add(t, 0, sectors, COWBACKUP_VIEW_TARGET_NAME, params);
}

/*------------------------------------------------------------------*/
/* start */

int job_send_skips(const char *dev, const char *who,
		   const struct cluster_extent *ext, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		char msg[96];

		snprintf(msg, sizeof(msg), "%s %" PRIu64 " %" PRIu64,
			 COWBACKUP_MSG_SKIP, ext[i].start, ext[i].len);
		if (dm_message(dev, msg, NULL)) {
			err_msg("%s: skip %" PRIu64 "+%" PRIu64 " failed: %s",
				who, ext[i].start, ext[i].len, dm_last_error());
			return -1;
		}
	}
	return 0;
}

/* One skip message per unallocated extent of the top layer. */
static int send_skips(const struct job *job, const struct start_request *req)
{
	uint64_t skipped = 0;
	size_t i;

	/* The map was computed before the start for this geometry. */
	if (job->st.total != req->map_nclusters ||
	    (req->cluster_bytes &&
	     job->st.cluster_sectors * 512 != req->cluster_bytes)) {
		err_msg("%s: the job's geometry (%" PRIu64 " clusters) does not match the allocation map (%" PRIu64 ")",
			job->name, job->st.total, req->map_nclusters);
		return -1;
	}
	if (job_send_skips(job->dev, job->name, req->unallocated,
			   req->n_unallocated))
		return -1;
	for (i = 0; i < req->n_unallocated; i++)
		skipped += req->unallocated[i].len;
	printf("%s: %" PRIu64 " of %" PRIu64 " clusters unallocated in the top layer, skipped\n",
	       job->name, skipped, job->st.total);
	return 0;
}

struct in_place {
	const struct blockdev *tgt;
	const struct start_request *req;
	struct incr_plan *incr;
	const char *cow, *x;
	uint64_t sectors;
};

static int in_place_table(struct dm_table_lines *t, const struct dm_dev_info *o,
			  void *arg)
{
	struct in_place *p = arg;

	return cowbackup_table(t, p->sectors, o->major,
			       o->minor, p->tgt, p->req, true);
}

/* A tracked volume: the checkpoint is this same point in time. */
static int in_place_frozen(void *arg)
{
	struct in_place *p = arg;

	return incr_freeze(p->incr, p->cow, p->x);
}

static int start_in_place(const struct blockdev *src, const struct blockdev *tgt,
			  const struct start_request *req,
			  struct dm_table_lines *orig, bool read_only,
			  int tgt_fd, struct incr_plan *incr)
{
	char hidden[DMNAME_MAX], huuid[DMUUID_MAX];
	char cow[DMNAME_MAX], cuuid[DMUUID_MAX];
	const char *x = src->dm_name;
	struct in_place p = { .tgt = tgt, .req = req, .incr = incr,
			      .cow = cow, .x = x,
			      .sectors = dm_table_sectors(orig) };
	struct stack_insert s = {
		.x = x, .disp = x, .orig = orig, .read_only = read_only,
		.o_name = hidden, .o_uuid = huuid, .m_name = cow,
		.m_uuid = cuuid, .m_target = COWBACKUP_TARGET_NAME,
		.m_role = "job", .step = "start", .m_step = "cow-created",
		.m_table = in_place_table, .frozen = in_place_frozen,
		.arg = &p,
	};

	close(tgt_fd);	/* the kernel's exclusive claim takes over */
	if (job_hidden_name(x, hidden, sizeof(hidden), huuid, sizeof(huuid)) ||
	    job_cow_name(x, cow, sizeof(cow), cuuid, sizeof(cuuid))) {
		err_msg("%s: name too long for the job's dm devices", x);
		return -1;
	}
	return stack_insert(&s);
}

static int start_stacked(const char *job, const char *uuid,
			 const struct blockdev *src,
			 const struct blockdev *tgt,
			 const struct start_request *req, bool paused,
			 int tgt_fd)
{
	struct dm_table_lines cb;
	int r = -1;

	close(tgt_fd);
	if (cowbackup_table(&cb, src->size_bytes / 512, src->major,
			    src->minor, tgt, req, paused)) {
		err_msg("out of memory");
		return -1;
	}
	if (dm_create_empty(job, uuid, DM_NODE_VISIBLE)) {
		err_msg("%s: cannot create dm device %s: %s", src->path, job,
			dm_last_error());
		goto out;
	}
	kill_point("start-created");
	if (dm_load(job, &cb, false)) {
		err_msg("%s: the cowbackup table was rejected: %s", job,
			kernel_refusal());
		dm_remove(job);
		goto out;
	}
	kill_point("start-table-loaded");
	if (dm_resume(job, DM_NODE_VISIBLE)) {
		err_msg("%s: cannot resume with the cowbackup table: %s", job,
			dm_last_error());
		dm_remove(job);
		goto out;
	}
	kill_point("start-resumed");
	r = 0;
out:
	dm_table_free(&cb);
	return r;
}

static int create_view(const struct job *job)
{
	char name[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_table_lines t;
	int r;

	if (job_view_name(job->name, name, sizeof(name), uuid, sizeof(uuid))) {
		err_msg("%s: name too long for a view device", job->name);
		return -1;
	}
	if (view_table(&t, job->sectors, job->src_major, job->src_minor,
		       job->tgt_major, job->tgt_minor))
		return -1;
	r = dm_create(name, uuid, &t, true, DM_NODE_VIEW);
	if (r)
		err_msg("%s: cannot create view device %s: %s", job->name,
			name, kernel_refusal());
	dm_table_free(&t);
	return r;
}

/*
 * When the job's target is itself a dm device (a staging device over the
 * real target), the devices under it may hold parts of the source's
 * filesystem too: keep them unprobed as well.
 */
static void hide_lower(const struct job *job)
{
	struct dm_table_lines t = { 0 };
	struct dm_dev_info info;
	uint32_t ma, mi;
	size_t i;

	dm_udev_hide(job->tgt_major, job->tgt_minor, job->name);
	if (dm_get_info_by_devno(job->tgt_major, job->tgt_minor, &info) ||
	    !info.exists || dm_get_table(info.name, false, &t))
		return;
	for (i = 0; i < t.count; i++)
		if (!strcmp(t.lines[i].type, "linear") &&
		    sscanf(t.lines[i].params, "%" SCNu32 ":%" SCNu32, &ma,
			   &mi) == 2)
			dm_udev_hide(ma, mi, job->name);
	dm_table_free(&t);
}

/* Checks on a dm source; fills @orig with its live table. */
static int check_dm_source(const struct blockdev *src,
			   struct dm_table_lines *orig, bool *read_only)
{
	const char *x = src->dm_name;
	struct job job;

	if (devuuid_parse(src->dm_uuid, NULL) != ROLE_NONE) {
		err_msg("%s: is a cowbackup-ctl device, not a source", x);
		return -1;
	}
	if (insert_check_idle(x, x, read_only))
		return -1;
	if (job_load(x, &job) == 0) {
		err_msg("%s: already in a cowbackup job (see 'cowbackup-ctl status %s')",
			x, x);
		return -1;
	}
	if (dm_get_table(x, false, orig)) {
		err_msg("%s: cannot read its table: %s", x, dm_last_error());
		return -1;
	}
	if (orig->count == 1 &&
	    !strcmp(orig->lines[0].type, COWBACKUP_TARGET_NAME)) {
		err_msg("%s: already in a cowbackup job (see 'cowbackup-ctl status %s')",
			x, x);
		goto fail;
	}
	if (insert_check_movable(orig, x))
		goto fail;
	return 0;
fail:
	dm_table_free(orig);
	return -1;
}

/* A non-dm source is claimed by the new dm device: it must be unused. */
static int check_plain_source(const struct blockdev *src)
{
	int fd = open(src->path, O_RDONLY | O_EXCL | O_CLOEXEC);

	if (fd < 0) {
		if (errno == EBUSY)
			err_msg("%s: in use (mounted or held); only device-mapper devices (LVM) can be backed up while in use, others need a new dm device on top, which needs them unused",
				src->path);
		else
			err_msg("%s: cannot open: %s", src->path,
				strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static bool job_completed_now(struct job *job)
{
	return !job_load(job->name, job) &&
	       !strcmp(job->st.state, COWBACKUP_STATE_COMPLETED);
}

/*
 * Start the background copy of a job created paused. Skips (an empty
 * incremental map, a top layer with nothing allocated) or guest writes
 * may have settled every cluster already: such a job is completed, which
 * is success, and the kernel refuses to resume it (with an error in its
 * log, hence the look first).
 */
static int resume_copy(struct job *job)
{
	char why[256];

	if (job_completed_now(job) ||
	    !dm_message(job->dev, COWBACKUP_MSG_RESUME, NULL))
		return 0;
	snprintf(why, sizeof(why), "%s", dm_last_error());
	/* Completed between the look and the message. */
	if (job_completed_now(job))
		return 0;
	err_msg("%s: resume failed: %s", job->name, why);
	return -1;
}

int job_start(const char *source, const char *target,
	      const struct start_request *req_in, char *job_name)
{
	struct start_request copy = *req_in, *req = &copy;
	struct dm_table_lines orig = { 0 };
	struct incr_plan incr = { 0 };
	char uuid[DMUUID_MAX], size[64];
	struct blockdev src, tgt, staged;
	/* Stays paused until the skips are in, or the user resumes. */
	bool paused = req->paused || req->have_map;
	bool read_only = false;
	struct critical crit;
	struct job job;
	int fd, r;

	if (blockdev_resolve(source, &src) || blockdev_resolve(target, &tgt))
		return EXIT_FAIL;
	if (src.is_dm) {
		snprintf(job_name, DMNAME_MAX, "%s", src.dm_name);
		/* Finish what a killed run left on this device first. */
		if (job_recover(false, false, job_name) < 0)
			return EXIT_FAIL;
	} else {
		if (job_stacked_name(src.kname, job_name, DMNAME_MAX, uuid,
				     sizeof(uuid))) {
			err_msg("%s: name too long for a dm device", src.path);
			return EXIT_FAIL;
		}
		if (job_recover(false, false, job_name) < 0)
			return EXIT_FAIL;
		if (job_load(job_name, &job) == 0 || job.visible.exists) {
			err_msg("%s: already in a cowbackup job (%s)", src.path,
				job_name);
			return EXIT_FAIL;
		}
		if (check_plain_source(&src))
			return EXIT_FAIL;
	}
	/* A staging device a killed start left holds the target (marker.c). */
	marker_cleanup(job_name);

	/*
	 * LVM changes an LV (lvextend, lvreduce, lvconvert) only under its
	 * VG lock. Take it first, then read the LV's size and table and check
	 * the target against them, so the job never maps a stale table.
	 */
	critical_enter(&crit, src.is_dm ? src.dm_name : NULL, src.dm_uuid);
	if (src.is_dm && (blockdev_resolve(source, &src) ||
			  check_dm_source(&src, &orig, &read_only)))
		goto fail;
	if (incr_plan(&src, &tgt, req->sync, req->incremental,
		      req->incremental_only, &req->cluster_bytes, &incr))
		goto fail;
	if (incr.incremental)
		req->sync = COWBACKUP_SYNC_TOP;
	req->incremental = incr.incremental;
	/*
	 * An incremental job updates the last backup in place: its
	 * signatures are expected (only the graded checks remain).
	 */
	fd = safety_check_target(&src, &tgt, req->force || req->incremental);
	if (fd < 0)
		goto fail;
	/* udev must not probe the half-written target (60-cowbackup.rules). */
	dm_udev_hide(tgt.major, tgt.minor, job_name);
	/* Incomplete-backup marker (marker.c): the job writes to staged. */
	if (marker_begin(job_name, &tgt, src.size_bytes / 512,
			 req->incremental, &fd, &staged)) {
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	/* End of the marker step. */

	if (src.is_dm)
		r = start_in_place(&src, &staged, req, &orig, read_only, fd,
				   &incr);
	else
		r = start_stacked(job_name, uuid, &src, &staged, req, paused, fd);
	dm_table_free(&orig);
	if (r)
		goto fail;
	if (job_load(job_name, &job)) {
		err_msg("%s: the job vanished right after it started", job_name);
		goto fail;
	}
	hide_lower(&job);
	if (req->snapshot) {
		if (create_view(&job)) {
			critical_leave(&crit);
			job_finish(job_name, true, false);
			return EXIT_FAIL;
		}
		kill_point("start-view-created");
		job_load(job_name, &job);
	}
	critical_leave(&crit);

	if (req->have_map && send_skips(&job, req)) {
		err_msg("%s: the job stays paused; 'cancel' and 'finish' it, or 'resume' to copy everything",
			job.name);
		return EXIT_FAIL;
	}
	/* In place, the job device was created paused (see the top). */
	if (!req->paused && (paused || job.kind == JOB_IN_PLACE) &&
	    resume_copy(&job))
		return EXIT_FAIL;
	job_load(job_name, &job);
	incr_report(&incr, job.name);
	printf("%s: job started, %s -> %s, sync %s, %s in clusters of %" PRIu64 " KiB%s\n",
	       job.name, job.source_path, job.target_path, job.st.sync,
	       format_size_long(job.sectors * 512, size, sizeof(size)),
	       job.st.cluster_sectors / 2,
	       strcmp(job.st.state, COWBACKUP_STATE_RUNNING) ?
	       ", paused" : "");
	if (job.kind == JOB_STACKED)
		printf("%s: use %s instead of %s while the job runs\n",
		       job.name, job.device_path, src.path);
	if (job.view[0])
		printf("%s: point-in-time view at %s\n", job.name,
		       job.view_path);
	return EXIT_OK;
fail:
	dm_table_free(&orig);
	dm_udev_unhide(job_name);
	critical_leave(&crit);
	marker_cleanup(job_name);	/* the staging device, if unused */
	return EXIT_FAIL;
}

/*------------------------------------------------------------------*/
/* finish */

static int remove_view(const struct job *job, bool force)
{
	struct dm_dev_info info;

	if (!job->view[0])
		return 0;
	if (dm_get_info(job->view, &info))
		return -1;
	if (info.exists && info.open_count > 0 && !force) {
		err_msg("%s: the view device is in use (open count %d); close it first",
			job->view, info.open_count);
		return -1;
	}
	if (info.exists && dm_remove(job->view)) {
		err_msg("%s: cannot remove the view device: %s", job->view,
			dm_last_error());
		return -1;
	}
	kill_point("finish-view-removed");
	return 0;
}

static int finish_in_place(const struct job *job)
{
	const char *x = job->name, *c = job->dev, *h = job->hidden;
	struct suspend_guard guard;
	struct dm_table_lines orig;
	int r = -1;

	if (!h[0] || dm_get_table(h, false, &orig) || !orig.count) {
		err_msg("%s: cannot read the original table from %s: %s", x,
			h[0] ? h : "the hidden device", dm_last_error());
		return -1;
	}
	if (job->detached) {
		err_msg("%s: its table was replaced behind cowbackup-ctl's back (lvextend, lvchange --refresh?); run 'cowbackup-ctl recover'",
			x);
		goto out;
	}
	if (dm_load(x, &orig, job->visible.read_only)) {
		err_msg("%s: cannot load the original table: %s", x,
			dm_last_error());
		goto out;
	}
	kill_point("finish-table-loaded");
	/* Killed while suspended: the guard makes the old table live. */
	guard_start(&guard, x, false);
	if (dm_suspend(x)) {
		err_msg("%s: cannot suspend: %s", x, dm_last_error());
		guard_stop(&guard);
		dm_clear_inactive(x);
		goto out;
	}
	kill_point("finish-suspended");
	if (dm_resume(x, DM_NODE_VISIBLE)) {
		err_msg("%s: cannot resume with the original table: %s; run 'cowbackup-ctl recover'",
			x, dm_last_error());
		guard_stop(&guard);
		goto out;
	}
	guard_stop(&guard);
	kill_point("finish-resumed");
	if (dm_remove(c)) {
		err_msg("%s: original table restored, but %s could not be removed: %s; run 'cowbackup-ctl recover'",
			x, c, dm_last_error());
		goto out;
	}
	kill_point("finish-cow-removed");
	if (dm_remove(h)) {
		err_msg("%s: original table restored, but %s could not be removed: %s; run 'cowbackup-ctl recover'",
			x, h, dm_last_error());
		goto out;
	}
	r = 0;
out:
	dm_table_free(&orig);
	return r;
}

/*
 * A stacked job device nobody holds open goes away; one still open (a
 * mounted filesystem on it) becomes a plain linear mapping of its source.
 */
static int finish_stacked(const struct job *job, bool *left_linear)
{
	struct dm_table_lines lin = { 0 };
	struct suspend_guard guard;
	char params[64];
	int r = -1;

	*left_linear = false;
	if (job->info.open_count == 0) {
		if (dm_remove(job->name)) {
			err_msg("%s: cannot remove: %s", job->name,
				dm_last_error());
			return -1;
		}
		return 0;
	}
	snprintf(params, sizeof(params), "%u:%u 0", job->src_major,
		 job->src_minor);
	if (dm_table_add(&lin, 0, job->sectors, "linear", params))
		return -1;
	if (dm_load(job->name, &lin, job->info.read_only)) {
		err_msg("%s: cannot load a linear table: %s", job->name,
			dm_last_error());
		goto out;
	}
	kill_point("finish-table-loaded");
	guard_start(&guard, job->name, false);
	if (dm_suspend(job->name)) {
		err_msg("%s: cannot suspend: %s", job->name, dm_last_error());
		guard_stop(&guard);
		dm_clear_inactive(job->name);
		goto out;
	}
	kill_point("finish-suspended");
	if (dm_resume(job->name, DM_NODE_VISIBLE)) {
		err_msg("%s: cannot resume: %s; run 'cowbackup-ctl recover'",
			job->name, dm_last_error());
		guard_stop(&guard);
		goto out;
	}
	guard_stop(&guard);
	kill_point("finish-resumed");
	*left_linear = true;
	r = 0;
out:
	dm_table_free(&lin);
	return r;
}

int job_finish(const char *arg, bool force, bool new_uuid)
{
	bool left_linear = false, all_ok = true;
	struct stat st;
	struct critical crit;
	struct job job;
	int r;

	/* A killed finish is completed by recovery; a killed start undone. */
	if (!strchr(arg, '/') && job_recover(false, false, arg) < 0)
		return EXIT_FAIL;
	if (job_find(arg, &job)) {
		marker_cleanup(arg);	/* left by a recovered job */
		nbd_target_release(arg);
		return EXIT_FAIL;
	}
	if (!job_state_final(job.st.state)) {
		if (!force) {
			err_msg("%s: the job is still %s (%.1f%%); cancel it first or use 'finish --force'",
				job.name, job.st.state, job_percent(&job));
			return EXIT_FAIL;
		}
		if (dm_message(job.dev, COWBACKUP_MSG_CANCEL, NULL)) {
			err_msg("%s: cancel failed: %s", job.name,
				dm_last_error());
			return EXIT_FAIL;
		}
		job_load(job.name, &job);
	}
	/* A completed job's target gets its first and last MiB (marker.c). */
	if (marker_complete(&job))
		return EXIT_FAIL;

	/* The NBD server holds the view open: it goes first. */
	if (nbd_export_stop(job.name))
		return EXIT_FAIL;
	critical_enter(&crit, job.kind == JOB_IN_PLACE ? job.name : NULL,
		       job.visible.uuid);
	r = remove_view(&job, false);
	if (!r)
		r = job.kind == JOB_IN_PLACE ? finish_in_place(&job) :
		    finish_stacked(&job, &left_linear);
	critical_leave(&crit);
	if (r)
		return EXIT_FAIL;
	marker_cleanup(job.name);
	if (new_uuid) {
		if (strcmp(job.st.state, COWBACKUP_STATE_COMPLETED)) {
			err_msg("%s: --new-uuid: the backup is %s, not complete: %s keeps its marker",
				job.name, job.st.state, job.target_path);
			all_ok = false;
		} else if (target_new_uuid(job.target_path)) {
			all_ok = false;
		}
	}
	dm_udev_unhide(job.name);
	/* With its own UUID the backup may have udev's links now. */
	if (new_uuid && all_ok && !stat(job.target_path, &st))
		dm_udev_announce(major(st.st_rdev), minor(st.st_rdev));
	if (nbd_target_release(job.name))
		all_ok = false;	/* said why */

	if (job.kind == JOB_IN_PLACE)
		printf("%s: job finished (%s), original table restored\n",
		       job.name, job.st.state);
	else if (left_linear)
		printf("%s: job finished (%s); the device is still open, left as a linear mapping of %s (remove it with 'dmsetup remove %s' once closed)\n",
		       job.name, job.st.state, job.source_path, job.name);
	else
		printf("%s: job finished (%s), device removed\n", job.name,
		       job.st.state);
	incr_finished(&job, !strcmp(job_backup_state(&job), "ready"),
		      new_uuid);
	return all_ok ? EXIT_OK : EXIT_FAIL;
}
