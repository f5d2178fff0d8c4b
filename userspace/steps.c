// SPDX-License-Identifier: GPL-2.0
/*
 * What makes start/finish/recover sequences crash-safe besides their
 * order: the kill-injection hook for tests, signals blocked while a
 * sequence runs, and LVM's volume-group lock held meanwhile.
 */
#include "steps.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "blockdev.h"

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
	sigprocmask(SIG_BLOCK, &block, &c->old_mask);
	c->lock_fd = dm_name ? lvm_lock(dm_name, uuid) : -1;
}

void critical_leave(struct critical *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
}
