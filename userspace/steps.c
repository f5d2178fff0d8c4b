// SPDX-License-Identifier: GPL-2.0
/*
 * What makes start/finish/recover sequences crash-safe besides their
 * order: the kill-injection hook for tests, signals blocked while a
 * sequence runs, and LVM's volume-group lock held meanwhile.
 */
#include "steps.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blockdev.h"
#include "dm.h"

void kill_point(const char *step)
{
	const char *at = getenv("COWBACKUP_CTL_KILL_AT");

	if (getenv("COWBACKUP_CTL_TRACE"))
		fprintf(stderr, "cowbackup-ctl: step %s\n", step);
	if (at && !strcmp(at, step)) {
		fflush(NULL);
		kill(getpid(), SIGKILL);
	}
}

/*------------------------------------------------------------------*/
/* Critical sections: no Ctrl-C, and LVM kept out of the volume group. */

/*
 * LVM serialises its commands with flock() on <locking_dir>/V_<vg>.
 * Holding it while we swap tables keeps lvextend/lvchange from reloading
 * the LV half way through. Best effort: no lock directory, no lock.
 */
static int lvm_lock(const char *dm_name, const char *uuid)
{
	const char *dir = getenv("COWBACKUP_LVM_LOCK_DIR");
	char vg[DMNAME_MAX], path[PATH_MAX];
	int fd;

	if (strncmp(uuid, "LVM-", 4) ||
	    lvm_vg_of_dm_name(dm_name, vg, sizeof(vg)))
		return -1;
	if (!dir)
		dir = "/run/lock/lvm";
	if (access(dir, W_OK))
		return -1;
	snprintf(path, sizeof(path), "%s/V_%s", dir, vg);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -1;
	}
	return fd;
}

void critical_enter(struct critical *c, const char *dm_name,
			   const char *uuid)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	/*
	 * The lock first: waiting for it (an LVM command holds it) can take
	 * long, and Ctrl-C must still work then; nothing was changed yet.
	 */
	c->lock_fd = dm_name ? lvm_lock(dm_name, uuid) : -1;
	sigprocmask(SIG_BLOCK, &block, &c->old_mask);
}

void critical_leave(struct critical *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
}

/*------------------------------------------------------------------*/
/* The suspend guard */

static void guard_run(int fd, const char *name, bool drop_inactive)
{
	struct dm_dev_info info;
	char c;
	ssize_t n;

	/* Ctrl-C on the terminal must not take the guard with us. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);	/* guard_stop(): the sequence went on */
	/* EOF without a word: our parent died inside the window. */
	if (dm_get_info(name, &info) || !info.exists || !info.suspended)
		_exit(0);
	if (drop_inactive && info.inactive_table)
		dm_clear_inactive(name);
	if (dm_resume(name, DM_NODE_VISIBLE)) {
		fprintf(stderr, "cowbackup-ctl: %s: left suspended by a killed run and could not resume it: %s; run 'cowbackup-ctl recover'\n",
			name, dm_last_error());
		_exit(1);
	}
	fprintf(stderr, "cowbackup-ctl: %s: resumed after cowbackup-ctl was killed while it was suspended; run 'cowbackup-ctl recover'\n",
		name);
	_exit(0);
}

void guard_start(struct suspend_guard *g, const char *name,
		 bool drop_inactive)
{
	int p[2];

	g->pid = -1;
	g->fd = -1;
	if (pipe2(p, O_CLOEXEC))
		return;		/* best effort: recover still works */
	fflush(NULL);
	g->pid = fork();
	if (g->pid == 0) {
		close(p[1]);
		guard_run(p[0], name, drop_inactive);
	}
	close(p[0]);
	if (g->pid < 0) {
		close(p[1]);
		return;
	}
	g->fd = p[1];
}

void guard_stop(struct suspend_guard *g)
{
	if (g->fd >= 0) {
		if (write(g->fd, "d", 1) != 1) {
			/* The guard is gone already. */
		}
		close(g->fd);
	}
	if (g->pid > 0)
		waitpid(g->pid, NULL, 0);
	g->fd = -1;
	g->pid = -1;
}
