// SPDX-License-Identifier: GPL-2.0
/*
 * recover: the dm tables tell how far a killed start/finish got, and
 * this completes or rolls it back.
 *
 * In place, job X with hidden H (original table) and/or COW device C:
 *   X live = linear over C, inactive = H's table   -> finish again
 *   X live = linear over C, suspended               -> resume X
 *   X live = linear over C                          -> a healthy job
 *   X inactive = linear over C (live = original)    -> undo the start
 *   X live = H's table                              -> remove C and H
 *   X live = something else                         -> its table was
 *                                   replaced behind our back (lvextend,
 *                                   lvchange --refresh): report, remove
 *   X gone                                          -> remove C and H
 * Stacked (COWBACKUP-TOP-*): no live table -> remove; inactive table ->
 * complete the finish; linear and unused -> remove.
 * Views (COWBACKUP-SNAP-J) without a live job J -> remove.
 *
 * The change tracker of volume X (track_insert.c), T = cowbackup-X-track
 * and/or O = cowbackup-X-trackorig (X's original table):
 *   X live = linear over T, inactive = O's table   -> complete the disable
 *   X live = linear over T, other inactive table   -> drop it, resume X
 *   X live = linear over T, suspended               -> resume X
 *   X routes through T (directly or via its job)    -> healthy
 *   X inactive = linear over T (live = original)    -> undo the enable
 *   X live = O's table                              -> remove T and O
 *   X gone                                          -> remove T and O
 *   X live = something else                         -> detached (lvextend,
 *                 lvchange --refresh): the history is marked bypassed, the
 *                 devices stay for 'track status' and 'track enable'
 * Before T goes, or when it is detached, its history is marked bypassed:
 * X took writes T did not see.
 */

#include "recover.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "blockdev.h"
#include "devuuid.h"
#include "job.h"
#include "steps.h"
#include "track_insert.h"
#include "tracker.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

struct recovery {
	bool dry_run;
	bool quiet;
	int actions;
	int failures;
};

static void say(struct recovery *rc, const char *dev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct recovery *rc, const char *dev, const char *fmt, ...)
{
	va_list ap;

	rc->actions++;
	if (rc->quiet)
		return;
	printf("recover: %s: %s", dev, rc->dry_run ? "would " : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void fail(struct recovery *rc, const char *dev, const char *what)
{
	rc->failures++;
	if (!rc->quiet)
		err_msg("recover: %s: %s: %s", dev, what, dm_last_error());
}

/* One dm attribute of a holder in @dir ("name", "uuid"); "" if none. */
static void holder_attr(const char *dir, const char *holder, const char *key,
			char *buf, size_t size)
{
	char attr[512];

	snprintf(attr, sizeof(attr), "%s/%s/dm/%s", dir, holder, key);
	if (read_first_line(attr, buf, size))
		buf[0] = '\0';
}

/*
 * Opens of @info that recover itself drops before it removes the device,
 * so that a dry run, which drops none, predicts the same: each holder
 * that is job @job's visible device (whose table no longer points here
 * by then), its COW device or its view, or the tracker of volume @job.
 */
static int own_opens(const struct dm_dev_info *info, const char *job)
{
	char dir[128], name[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dirent *de;
	enum dev_role role;
	const char *base;
	int n = 0;
	DIR *d;

	if (!job)
		return 0;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", info->major,
		 info->minor);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		holder_attr(dir, de->d_name, "name", name, sizeof(name));
		holder_attr(dir, de->d_name, "uuid", uuid, sizeof(uuid));
		role = devuuid_parse(uuid, &base);
		if (!strcmp(name, job) ||
		    ((role == ROLE_COW || role == ROLE_VIEW ||
		      role == ROLE_TRACK) && !strcmp(base, job)))
			n++;
	}
	closedir(d);
	return n;
}

/* Devices this run removed, or (dry run) would remove. */
static char **gone;
static size_t ngone;

static void record_gone(const char *name)
{
	char **g = realloc(gone, (ngone + 1) * sizeof(*gone));

	if (!g)
		return;
	gone = g;
	gone[ngone] = strdup(name);
	if (gone[ngone])
		ngone++;
}

static void forget_gone(void)
{
	while (ngone)
		free(gone[--ngone]);
	free(gone);
	gone = NULL;
}

bool recover_held_only_by_removed(const struct dm_dev_info *info)
{
	char dir[128], name[DMNAME_MAX];
	struct dirent *de;
	int n = 0;
	size_t i;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", info->major,
		 info->minor);
	d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		holder_attr(dir, de->d_name, "name", name, sizeof(name));
		for (i = 0; i < ngone; i++)
			if (!strcmp(gone[i], name))
				n++;
	}
	closedir(d);
	return n >= info->open_count;
}

/*
 * Remove device @name (a device of job @job, or NULL) unless it is open;
 * true when gone (or would be).
 */
static bool remove_unused(struct recovery *rc, const char *name,
			  const char *job)
{
	struct dm_dev_info info;

	if (dm_get_info(name, &info) || !info.exists)
		return true;
	if (rc->dry_run)
		info.open_count -= own_opens(&info, job);
	if (info.open_count > 0) {
		rc->failures++;
		if (!rc->quiet)
			err_msg("recover: %s: still open (open count %d); close it and run recover again",
				name, info.open_count);
		return false;
	}
	if (rc->dry_run) {
		record_gone(name);
		return true;
	}
	if (dm_remove(name)) {
		fail(rc, name, "cannot remove");
		return false;
	}
	record_gone(name);
	return true;
}

static void remove_view_of(struct recovery *rc, const char *job)
{
	char name[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info info;

	if (job_view_name(job, name, sizeof(name), uuid, sizeof(uuid)) ||
	    dm_get_info(name, &info) || !info.exists ||
	    !devuuid_is(info.uuid, ROLE_VIEW, job))
		return;
	if (remove_unused(rc, name, NULL))
		say(rc, name, "remove the view of a finished job");
}

static void resume_dev(struct recovery *rc, const char *x)
{
	if (!rc->dry_run && dm_resume(x, DM_NODE_VISIBLE))
		fail(rc, x, "cannot resume");
}

/* Remove the view, C and H of job @x (in that order: users first). */
static bool remove_job_devices(struct recovery *rc, const char *x,
			       const char *cow, const char *hidden)
{
	remove_view_of(rc, x);
	return remove_unused(rc, cow, x) && remove_unused(rc, hidden, x);
}

/*
 * X's live and inactive tables, and whether each routes through the
 * middle device @mi (linear over it). 0, or -1 if a table cannot be read.
 */
static int x_tables(const char *x, const struct dm_dev_info *xi,
		    const struct dm_dev_info *mi, struct dm_table_lines *live,
		    struct dm_table_lines *inactive, bool *live_on_m,
		    bool *inactive_on_m)
{
	if ((xi->live_table && dm_get_table(x, false, live)) ||
	    (xi->inactive_table && dm_get_table(x, true, inactive)))
		return -1;
	*live_on_m = mi->exists &&
		     table_is_linear_over(live, mi->major, mi->minor);
	*inactive_on_m = mi->exists && xi->inactive_table &&
			 table_is_linear_over(inactive, mi->major, mi->minor);
	return 0;
}

/* What differs between a job's stack and a tracker's, for x_on_middle(). */
struct stack_kind {
	const char *removal;	/* the command that loads O's table into X */
	const char *goes_on;	/* what an untouched stack keeps doing */
	const char *o_role;	/* what O is, for a missing O */
	/* Before X's original table goes live again, and after. */
	void (*before_restore)(struct recovery *rc, const char *x);
	void (*after_restore)(struct recovery *rc, const char *x);
};

/*
 * X's live table routes through the middle device @m (a job's C, a
 * tracker's T) over @o, which holds X's original table @orig (empty when
 * @o has none): an interrupted removal completes, anything else is
 * settled so that the stack goes on.
 */
static void x_on_middle(struct recovery *rc, const char *x,
			const struct dm_dev_info *xi,
			const struct dm_table_lines *inactive,
			const struct dm_table_lines *orig, bool o_exists,
			const char *m, const char *o,
			const struct stack_kind *k)
{
	if (xi->inactive_table && orig->count &&
	    dm_table_equal(inactive, orig)) {
		if (k->before_restore)
			k->before_restore(rc, x);
		if (!rc->dry_run && !xi->suspended && dm_suspend(x)) {
			fail(rc, x, "cannot suspend");
			return;
		}
		resume_dev(rc, x);
		if (k->after_restore)
			k->after_restore(rc, x);
		if (remove_unused(rc, m, x) && remove_unused(rc, o, x))
			say(rc, x, "complete an interrupted %s: original table restored, %s and %s removed",
			    k->removal, m, o);
	} else if (xi->inactive_table) {
		if (!rc->dry_run && dm_clear_inactive(x))
			fail(rc, x, "cannot clear the inactive table");
		if (xi->suspended)
			resume_dev(rc, x);
		say(rc, x, "drop an unexpected inactive table; %s", k->goes_on);
	} else if (xi->suspended) {
		resume_dev(rc, x);
		say(rc, x, "resume the device, left suspended by an interrupted command; %s",
		    k->goes_on);
	} else if (!o_exists || !orig->count) {
		rc->failures++;
		if (!rc->quiet)
			err_msg("recover: %s: %s %s is missing; the original table is lost",
				x, k->o_role, o);
	}
}

static const struct stack_kind job_stack = {
	.removal = "finish", .goes_on = "the job goes on",
	.o_role = "the job's hidden device", .before_restore = remove_view_of,
};

static void recover_in_place(struct recovery *rc, const char *x)
{
	struct dm_table_lines orig = { 0 }, live = { 0 }, inactive = { 0 };
	char hidden[DMNAME_MAX], cow[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info hi, ci, xi;
	bool x_on_c, inactive_on_c;

	if (job_hidden_name(x, hidden, sizeof(hidden), uuid, sizeof(uuid)) ||
	    dm_get_info(hidden, &hi) ||
	    job_cow_name(x, cow, sizeof(cow), uuid, sizeof(uuid)) ||
	    dm_get_info(cow, &ci) || dm_get_info(x, &xi))
		goto fail;
	if (hi.exists && hi.live_table && dm_get_table(hidden, false, &orig))
		goto fail;
	if (!xi.exists) {
		if (remove_job_devices(rc, x, cow, hidden))
			say(rc, x, "remove the leftovers of a job on a device that no longer exists (deactivated?)");
		goto out;
	}
	if (x_tables(x, &xi, &ci, &live, &inactive, &x_on_c, &inactive_on_c))
		goto fail;

	if (x_on_c) {
		x_on_middle(rc, x, &xi, &inactive, &orig, hi.exists, cow,
			    hidden, &job_stack);
		goto out;
	}

	if (inactive_on_c) {
		if (!rc->dry_run && dm_clear_inactive(x)) {
			fail(rc, x, "cannot clear the inactive table");
			goto out;
		}
		if (xi.suspended)
			resume_dev(rc, x);
		if (remove_job_devices(rc, x, cow, hidden))
			say(rc, x, "roll back an interrupted start: original table kept, %s and %s removed",
			    cow, hidden);
	} else if (orig.count && dm_table_equal(&live, &orig)) {
		if (xi.suspended && !xi.inactive_table)
			resume_dev(rc, x);
		if (remove_job_devices(rc, x, cow, hidden))
			say(rc, x, "original table in place (a start or finish was interrupted, or LVM reloaded the LV during a job, which is then lost); remove the leftover %s%s%s",
			    ci.exists ? cow : "", ci.exists && hi.exists ?
			    " and " : "", hi.exists ? hidden : "");
	} else if (!hi.exists || !hi.live_table) {
		/* No original table to compare: only our half-made devices. */
		if (remove_job_devices(rc, x, cow, hidden))
			say(rc, x, "remove half-created job devices (start interrupted)");
	} else {
		if (remove_job_devices(rc, x, cow, hidden))
			say(rc, x, "its table was replaced by another program (lvextend, lvchange --refresh?): the job is lost and its backup incomplete; remove %s and %s",
			    cow, hidden);
	}
	goto out;
fail:
	fail(rc, x, "cannot inspect");
out:
	dm_table_free(&orig);
	dm_table_free(&live);
	dm_table_free(&inactive);
}

static void recover_stacked(struct recovery *rc, const char *s)
{
	struct dm_table_lines live = { 0 };
	struct dm_dev_info si;

	if (dm_get_info(s, &si) || !si.exists)
		return;
	if (!si.live_table) {
		if (remove_unused(rc, s, NULL))
			say(rc, s, "remove a half-created job device (start interrupted)");
		return;
	}
	if (dm_get_table(s, false, &live)) {
		fail(rc, s, "cannot inspect");
		return;
	}
	if (live.count == 1 &&
	    !strcmp(live.lines[0].type, COWBACKUP_TARGET_NAME)) {
		if (si.inactive_table) {
			/* Only finish loads a second table: complete it. */
			remove_view_of(rc, s);
			if (!rc->dry_run && !si.suspended && dm_suspend(s))
				fail(rc, s, "cannot suspend");
			else
				resume_dev(rc, s);
			say(rc, s, "complete an interrupted finish: left as a linear mapping of its source");
		} else if (si.suspended) {
			resume_dev(rc, s);
			say(rc, s, "resume the job device, left suspended by an interrupted command");
		}
	} else if (si.suspended) {
		resume_dev(rc, s);
		say(rc, s, "resume a finished job device left suspended");
	} else if (si.open_count == 0) {
		if (remove_unused(rc, s, NULL))
			say(rc, s, "remove the device of a finished job");
	}
	dm_table_free(&live);
}

static void recover_view(struct recovery *rc, const char *v, const char *job)
{
	struct job j;

	if (job_load(job, &j) == 0)
		return;	/* the job lives: the view stays */
	if (remove_unused(rc, v, NULL))
		say(rc, v, "remove the view of a job that no longer exists");
}

/* A tracker device half way through tracker_mark_bypassed(): finish it. */
static void settle_tracker(struct recovery *rc, const char *t)
{
	struct dm_dev_info ti;

	if (dm_get_info(t, &ti) || !ti.exists || !ti.live_table)
		return;
	if (ti.suspended || ti.inactive_table) {
		resume_dev(rc, t);
		say(rc, t, "resume the tracker device, left suspended by an interrupted command");
	}
}

/*
 * Tracker device @t with a linear table over @o: a command was killed
 * between the two table swaps of tracker_mark_bypassed(). The kernel
 * marked the history bypassed when the linear table went live; load the
 * tracking table back, from X's line in the list of tracked volumes, so
 * that X is tracked again (its next backup is a full one).
 */
static void rearm_linear_tracker(struct recovery *rc, const char *x,
				 const char *t, const struct dm_dev_info *o,
				 const struct dm_dev_info *xi)
{
	struct dm_table_lines tt = { 0 }, track = { 0 };
	struct track_conf_entry *e = NULL;
	struct track_request req = { .cluster_set = true };
	char disp[PATH_MAX];
	struct blockdev md;
	struct stat st;
	size_t n = 0, i;

	if (dm_get_table(t, false, &tt) ||
	    !table_is_linear_over(&tt, o->major, o->minor) || tt.count != 1)
		goto out;
	if (track_conf_read(&e, &n)) {
		rc->failures++;
		goto out;
	}
	track_display_name(x, xi->uuid, disp, sizeof(disp));
	for (i = 0; i < n; i++)
		if (!strcmp(e[i].vol, disp) ||
		    (e[i].vol[0] == '/' && !stat(e[i].vol, &st) &&
		     S_ISBLK(st.st_mode) && major(st.st_rdev) == xi->major &&
		     minor(st.st_rdev) == xi->minor))
			break;
	if (i == n || blockdev_resolve(e[i].meta, &md)) {
		rc->failures++;
		if (!rc->quiet)
			err_msg("recover: %s: the tracker %s has a linear table (an interrupted command) and %s names no usable metadata device for it; run 'cowbackup-ctl track enable' again",
				x, t, "the list of tracked volumes");
		goto out;
	}
	req.cluster_sectors = e[i].cluster_sectors;
	if (track_table(&track, tt.lines[0].len, o, &md, &req)) {
		rc->failures++;
		err_msg("recover: %s: out of memory", x);
		goto out;
	}
	if (!rc->dry_run && tracker_swap_table(x, t, &track)) {
		rc->failures++;
		goto out;
	}
	say(rc, x, "load the tracking table back into %s (on %s), left linear by an interrupted command; the history is marked bypassed",
	    t, e[i].meta);
out:
	free(e);
	dm_table_free(&tt);
	dm_table_free(&track);
}

/* Mark the history of X's tracker bypassed (X took unseen writes). */
static void bypass_history(struct recovery *rc, const char *x)
{
	struct tracker t;

	if (rc->dry_run)
		return;
	/* A tracker already saying so needs no new history. */
	if (tracker_load(x, &t) != 0 ||
	    !strcmp(t.st.current_reason, "bypassed"))
		return;
	if (tracker_mark_bypassed(&t))
		rc->failures++;
}

static bool routes_via_job(const char *x, const struct dm_dev_info *ti)
{
	struct dm_table_lines h = { 0 };
	struct job job;
	bool yes = false;

	if (job_load(x, &job) || !job.hidden[0] || job.detached ||
	    dm_get_table(job.hidden, false, &h))
		return false;
	yes = table_is_linear_over(&h, ti->major, ti->minor);
	dm_table_free(&h);
	return yes;
}

static const struct stack_kind tracker_stack = {
	.removal = "'track disable'", .goes_on = "tracking goes on",
	.o_role = "the tracker's original-table device",
	.after_restore = bypass_history,
};

static void recover_tracked(struct recovery *rc, const char *x)
{
	struct dm_table_lines orig = { 0 }, live = { 0 }, inactive = { 0 };
	char tdev[DMNAME_MAX], odev[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info ti, oi, xi;
	bool x_on_t, inactive_on_t;

	if (track_dev_name(x, tdev, sizeof(tdev), uuid, sizeof(uuid)) ||
	    track_orig_name(x, odev, sizeof(odev), uuid, sizeof(uuid)) ||
	    dm_get_info(tdev, &ti) || dm_get_info(odev, &oi) ||
	    dm_get_info(x, &xi))
		goto fail;
	settle_tracker(rc, tdev);
	if (ti.exists && ti.live_table && oi.exists && xi.exists)
		rearm_linear_tracker(rc, x, tdev, &oi, &xi);
	if (oi.exists && oi.live_table && dm_get_table(odev, false, &orig))
		goto fail;
	if (!xi.exists) {
		bypass_history(rc, x);
		if (remove_unused(rc, tdev, NULL) && remove_unused(rc, odev, NULL))
			say(rc, x, "remove the tracker of a device that no longer exists (deactivated?)");
		goto out;
	}
	if (x_tables(x, &xi, &ti, &live, &inactive, &x_on_t, &inactive_on_t))
		goto fail;

	if (x_on_t) {
		/* Only 'track disable' loads O's table, after the bypass. */
		x_on_middle(rc, x, &xi, &inactive, &orig, oi.exists, tdev, odev,
			    &tracker_stack);
		goto out;
	}
	if (ti.exists && routes_via_job(x, &ti))
		goto out;	/* a job on a tracked volume */
	if (inactive_on_t) {
		if (!rc->dry_run && dm_clear_inactive(x)) {
			fail(rc, x, "cannot clear the inactive table");
			goto out;
		}
		if (xi.suspended)
			resume_dev(rc, x);
		bypass_history(rc, x);
		if (remove_unused(rc, tdev, x) && remove_unused(rc, odev, x))
			say(rc, x, "roll back an interrupted 'track enable': original table kept, %s and %s removed",
			    tdev, odev);
	} else if (!oi.exists || !oi.live_table ||
		   (orig.count && dm_table_equal(&live, &orig))) {
		if (xi.suspended && !xi.inactive_table)
			resume_dev(rc, x);
		bypass_history(rc, x);
		if (remove_unused(rc, tdev, x) && remove_unused(rc, odev, x))
			say(rc, x, "original table in place (a 'track' command was interrupted, or LVM reloaded the LV): history marked bypassed; remove the leftover tracker devices");
	} else if (ti.exists) {
		/* Detached: not an interrupted command, no action counted. */
		bypass_history(rc, x);
	}
	goto out;
fail:
	fail(rc, x, "cannot inspect");
out:
	dm_table_free(&orig);
	dm_table_free(&live);
	dm_table_free(&inactive);
}

static bool seen(char **done, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (done[i] && !strcmp(done[i], name))
			return true;
	return false;
}

/*
 * Recover volume @base with @fn, once: @key marks it done in @done (of
 * @n device names, the current one @i). Under the volume's lock.
 */
static void recover_once(struct recovery *rc, char **done, size_t i,
			 size_t n, const char *key, const char *base,
			 void (*fn)(struct recovery *rc, const char *x))
{
	struct dm_dev_info xi;
	struct critical crit;

	if (seen(done, n, key))
		return;
	free(done[i]);
	done[i] = strdup(key);
	dm_get_info(base, &xi);
	/* A dry run changes nothing: no lock. */
	if (!rc->dry_run)
		critical_enter(&crit, base, xi.exists ? xi.uuid : "");
	fn(rc, base);
	if (!rc->dry_run)
		critical_leave(&crit);
}

int job_recover(bool dry_run, bool quiet, const char *only)
{
	struct recovery rc = { .dry_run = dry_run, .quiet = quiet };
	struct dm_dev_info info;
	struct critical crit;
	size_t i, n;
	char **names, **done;
	int pass;

	if (!dry_run && !only)
		dm_udev_cleanup_cookies();	/* left by killed runs */
	forget_gone();
	if (dm_list_names(&names, &n)) {
		if (!quiet)
			err_msg("recover: cannot list dm devices: %s",
				dm_last_error());
		return -1;
	}
	done = calloc(n + 1, sizeof(*done));
	if (!done) {
		dm_free_names(names, n);
		return -1;
	}
	/* Jobs first, views second: a view's fate depends on its job. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			const char *base = NULL;
			enum dev_role role;

			if (dm_get_info(names[i], &info) || !info.exists)
				continue;
			role = devuuid_parse(info.uuid, &base);
			if (pass == 0 &&
			    (role == ROLE_ORIG || role == ROLE_COW)) {
				/* H and C both lead to job X: once. */
				if (!only || !strcmp(only, base))
					recover_once(&rc, done, i, n, base, base,
						     recover_in_place);
			} else if (pass == 0 && role == ROLE_TOP) {
				if (only && strcmp(only, base))
					continue;
				if (!dry_run)
					critical_enter(&crit, NULL, "");
				recover_stacked(&rc, names[i]);
				if (!dry_run)
					critical_leave(&crit);
			} else if (pass == 1 &&
				   (role == ROLE_TRACK ||
				    role == ROLE_TRACK_ORIG)) {
				char key[DMNAME_MAX + 8];

				/* T and O both lead to volume X: once. */
				snprintf(key, sizeof(key), "track:%s", base);
				if (!only || !strcmp(only, base))
					recover_once(&rc, done, i, n, key, base,
						     recover_tracked);
			} else if (pass == 1 && role == ROLE_VIEW) {
				if (only && strcmp(only, base))
					continue;
				recover_view(&rc, names[i], base);
			}
		}
	}
	for (i = 0; i < n; i++)
		free(done[i]);
	free(done);
	dm_free_names(names, n);
	if (rc.failures)
		return -1;
	return rc.actions;
}

void recover_hint(void)
{
	int n = job_recover(true, true, NULL);

	/* -1 (cannot even look) is no evidence of pending operations. */
	if (n > 0)
		err_msg("note: interrupted start/finish operations are pending; run 'cowbackup-ctl recover' (see 'recover --dry-run')");
}
