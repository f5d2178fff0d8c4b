// SPDX-License-Identifier: GPL-2.0
/*
 * libdevmapper wrappers. Each function builds one dm_task, runs it and
 * copies out what the caller needs, so no dm_task escapes this file.
 */
#include "dm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static char last_error[512];
static int last_errno;
static bool log_verbose;

/* libdevmapper's log levels (its private _LOG_ERR .. _LOG_DEBUG). */
#define LIBDM_LOG_ERR		3
#define LIBDM_LOG_LEVEL_MASK	7

__attribute__((format(printf, 5, 6)))
static void libdm_log(int level, const char *file, int line, int dm_errno,
		      const char *fmt, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	level &= LIBDM_LOG_LEVEL_MASK;
	if (level <= LIBDM_LOG_ERR) {
		va_start(ap, fmt);
		vsnprintf(last_error, sizeof(last_error), fmt, ap);
		va_end(ap);
	}
	if (log_verbose) {
		va_start(ap, fmt);
		fputs("cowbackup-ctl: libdevmapper: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
}

void dm_setup(bool verbose)
{
	log_verbose = verbose;
	dm_log_with_errno_init(libdm_log);
}

const char *dm_last_error(void)
{
	return last_error[0] ? last_error : "device-mapper request failed";
}

int dm_last_errno(void)
{
	return last_errno;
}

static void set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

static struct dm_task *task_new(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	last_error[0] = '\0';
	last_errno = 0;
	if (!dmt) {
		set_error("out of memory");
		return NULL;
	}
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* Run @dmt; on failure remember the errno of the ioctl. */
static int task_run(struct dm_task *dmt)
{
	if (dm_task_run(dmt))
		return 0;
	last_errno = dm_task_get_errno(dmt);
	if (!last_error[0] && last_errno)
		set_error("%s", strerror(last_errno));
	return -1;
}

static uint16_t udev_flags(enum dm_node_kind kind)
{
	/*
	 * A hidden device carries the same filesystem as the visible one:
	 * keep it out of /dev/disk/by-*, blkid caches and LVM scanning.
	 */
	if (kind == DM_NODE_HIDDEN)
		return DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG |
		       DM_UDEV_DISABLE_DISK_RULES_FLAG |
		       DM_UDEV_DISABLE_OTHER_RULES_FLAG;
	/*
	 * Same filesystem UUID as the source: let the source own the links.
	 * Its "LVM-" UUID (devuuid.h) is not LVM's: LVM's rules skip it.
	 */
	if (kind == DM_NODE_VIEW)
		return DM_UDEV_LOW_PRIORITY_FLAG |
		       DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG;
	return 0;
}

/*
 * Run a task that produces a uevent (create with table, resume, remove)
 * and wait for udev; without udev, dm_udev_wait() makes the nodes.
 */
static int task_run_udev(struct dm_task *dmt, enum dm_node_kind kind)
{
	uint32_t cookie = 0;
	int r;

	if (!dm_task_set_cookie(dmt, &cookie, udev_flags(kind)))
		return -1;
	r = task_run(dmt);
	(void)dm_udev_wait(cookie);
	return r;
}

static void copy_info(struct dm_task *dmt, struct dm_dev_info *info)
{
	struct dm_info di;
	const char *s;

	memset(info, 0, sizeof(*info));
	if (!dm_task_get_info(dmt, &di) || !di.exists)
		return;
	info->exists = true;
	info->suspended = di.suspended;
	info->live_table = di.live_table;
	info->inactive_table = di.inactive_table;
	info->read_only = di.read_only;
	info->open_count = di.open_count;
	info->event_nr = di.event_nr;
	info->major = di.major;
	info->minor = di.minor;
	s = dm_task_get_name(dmt);
	if (s)
		snprintf(info->name, sizeof(info->name), "%s", s);
	s = dm_task_get_uuid(dmt);
	if (s)
		snprintf(info->uuid, sizeof(info->uuid), "%s", s);
}

int dm_get_info(const char *name, struct dm_dev_info *info)
{
	struct dm_task *dmt = task_new(DM_DEVICE_INFO, name);
	int r;

	memset(info, 0, sizeof(*info));
	if (!dmt)
		return -1;
	r = task_run(dmt);
	if (!r)
		copy_info(dmt, info);
	dm_task_destroy(dmt);
	return r;
}

int dm_get_info_by_devno(uint32_t major, uint32_t minor,
			 struct dm_dev_info *info)
{
	struct dm_task *dmt = task_new(DM_DEVICE_INFO, NULL);
	int r = -1;

	memset(info, 0, sizeof(*info));
	if (!dmt)
		return -1;
	if (dm_task_set_major_minor(dmt, (int)major, (int)minor, 0))
		r = task_run(dmt);
	if (!r)
		copy_info(dmt, info);
	dm_task_destroy(dmt);
	return r;
}

int dm_list_names(char ***names_out, size_t *count_out)
{
	struct dm_task *dmt = task_new(DM_DEVICE_LIST, NULL);
	struct dm_names *n;
	char **names = NULL;
	size_t count = 0;
	unsigned int next = 0;
	int r = -1;

	*names_out = NULL;
	*count_out = 0;
	if (!dmt)
		return -1;
	if (task_run(dmt))
		goto out;
	n = dm_task_get_names(dmt);
	if (!n) {
		set_error("cannot list dm devices");
		goto out;
	}
	if (n->dev) {
		do {
			char **grown;

			n = (struct dm_names *)((char *)n + next);
			grown = realloc(names, (count + 1) * sizeof(*names));
			if (!grown)
				goto out;
			names = grown;
			names[count] = strdup(n->name);
			if (!names[count])
				goto out;
			count++;
			next = n->next;
		} while (next);
	}
	*names_out = names;
	*count_out = count;
	names = NULL;
	count = 0;
	r = 0;
out:
	dm_free_names(names, count);
	dm_task_destroy(dmt);
	return r;
}

void dm_free_names(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int dm_table_add(struct dm_table_lines *table, uint64_t start, uint64_t len,
		 const char *type, const char *params)
{
	struct dm_target_line *grown, *t;

	grown = realloc(table->lines, (table->count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	table->lines = grown;
	t = &table->lines[table->count];
	t->start = start;
	t->len = len;
	t->type = strdup(type);
	t->params = strdup(params ? params : "");
	if (!t->type || !t->params) {
		free(t->type);
		free(t->params);
		return -1;
	}
	table->count++;
	return 0;
}

void dm_table_free(struct dm_table_lines *table)
{
	size_t i;

	for (i = 0; i < table->count; i++) {
		free(table->lines[i].type);
		/* Tables may hold keys (dm-crypt): wipe before freeing. */
		explicit_bzero(table->lines[i].params,
			       strlen(table->lines[i].params));
		free(table->lines[i].params);
	}
	free(table->lines);
	table->lines = NULL;
	table->count = 0;
}

static int get_targets(int type, const char *name, bool inactive,
		       struct dm_table_lines *table)
{
	struct dm_task *dmt = task_new(type, name);
	uint64_t start, len;
	char *ttype, *params;
	void *next = NULL;
	int r = -1;

	table->count = 0;
	table->lines = NULL;
	if (!dmt)
		return -1;
	if (type == DM_DEVICE_TABLE)
		dm_task_secure_data(dmt);
	if (inactive && !dm_task_query_inactive_table(dmt))
		goto out;
	if (task_run(dmt))
		goto out;
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &ttype,
					  &params);
		if (ttype && dm_table_add(table, start, len, ttype, params)) {
			dm_table_free(table);
			goto out;
		}
	} while (next);
	r = 0;
out:
	dm_task_destroy(dmt);
	return r;
}

int dm_get_table(const char *name, bool inactive,
		 struct dm_table_lines *table)
{
	return get_targets(DM_DEVICE_TABLE, name, inactive, table);
}

int dm_get_status(const char *name, struct dm_table_lines *status)
{
	return get_targets(DM_DEVICE_STATUS, name, false, status);
}

bool dm_table_equal(const struct dm_table_lines *a,
		    const struct dm_table_lines *b)
{
	size_t i;

	if (a->count != b->count)
		return false;
	for (i = 0; i < a->count; i++) {
		const struct dm_target_line *x = &a->lines[i];
		const struct dm_target_line *y = &b->lines[i];

		if (x->start != y->start || x->len != y->len ||
		    strcmp(x->type, y->type) || strcmp(x->params, y->params))
			return false;
	}
	return true;
}

uint64_t dm_table_sectors(const struct dm_table_lines *table)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < table->count; i++)
		total += table->lines[i].len;
	return total;
}

static int add_targets(struct dm_task *dmt, const struct dm_table_lines *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (!dm_task_add_target(dmt, t->lines[i].start, t->lines[i].len,
					t->lines[i].type, t->lines[i].params))
			return -1;
	return 0;
}

int dm_create(const char *name, const char *uuid,
	      const struct dm_table_lines *table, bool read_only,
	      enum dm_node_kind kind)
{
	struct dm_task *dmt = task_new(DM_DEVICE_CREATE, name);
	int r = -1;

	if (!dmt)
		return -1;
	dm_task_secure_data(dmt);
	if ((uuid && !dm_task_set_uuid(dmt, uuid)) ||
	    (read_only && !dm_task_set_ro(dmt)) || add_targets(dmt, table))
		goto out;
	/* With a table, libdevmapper creates, loads and resumes. */
	r = task_run_udev(dmt, kind);
out:
	dm_task_destroy(dmt);
	return r;
}

int dm_create_empty(const char *name, const char *uuid, enum dm_node_kind kind)
{
	struct dm_task *dmt = task_new(DM_DEVICE_CREATE, name);
	int r = -1;

	(void)kind;
	if (!dmt)
		return -1;
	if (!uuid || dm_task_set_uuid(dmt, uuid))
		r = task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

int dm_load(const char *name, const struct dm_table_lines *table,
	    bool read_only)
{
	struct dm_task *dmt = task_new(DM_DEVICE_RELOAD, name);
	int r = -1;

	if (!dmt)
		return -1;
	dm_task_secure_data(dmt);
	if ((!read_only || dm_task_set_ro(dmt)) && !add_targets(dmt, table))
		r = task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

static int simple_task(int type, const char *name)
{
	struct dm_task *dmt = task_new(type, name);
	int r;

	if (!dmt)
		return -1;
	r = task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

int dm_clear_inactive(const char *name)
{
	return simple_task(DM_DEVICE_CLEAR, name);
}

int dm_suspend(const char *name)
{
	/* Default flags: flush in-flight I/O and freeze the filesystem. */
	return simple_task(DM_DEVICE_SUSPEND, name);
}

int dm_resume(const char *name, enum dm_node_kind kind)
{
	struct dm_task *dmt = task_new(DM_DEVICE_RESUME, name);
	int r;

	if (!dmt)
		return -1;
	r = task_run_udev(dmt, kind);
	dm_task_destroy(dmt);
	return r;
}

int dm_remove(const char *name)
{
	struct dm_task *dmt = task_new(DM_DEVICE_REMOVE, name);
	int r;

	if (!dmt)
		return -1;
	/* Retry short EBUSY windows caused by udev or blkid scanning. */
	dm_task_retry_remove(dmt);
	r = task_run_udev(dmt, DM_NODE_VISIBLE);
	dm_task_destroy(dmt);
	return r;
}

int dm_message(const char *name, const char *msg, char **reply)
{
	struct dm_task *dmt = task_new(DM_DEVICE_TARGET_MSG, name);
	const char *resp;
	int r = -1;

	if (reply)
		*reply = NULL;
	if (!dmt)
		return -1;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg))
		goto out;
	if (task_run(dmt))
		goto out;
	if (reply) {
		resp = dm_task_get_message_response(dmt);
		*reply = strdup(resp ? resp : "");
		if (!*reply) {
			set_error("out of memory");
			goto out;
		}
	}
	r = 0;
out:
	dm_task_destroy(dmt);
	return r;
}

int dm_wait_event(const char *name, uint32_t event_nr)
{
	struct dm_task *dmt = task_new(DM_DEVICE_WAITEVENT, name);
	int r = -1;

	if (!dmt)
		return -1;
	if (!dm_task_set_event_nr(dmt, event_nr))
		goto out;
	if (!task_run(dmt))
		r = 0;
	else if (last_errno == EINTR)
		r = 1;
out:
	dm_task_destroy(dmt);
	return r;
}

void dm_dev_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dm_dir(), name);
}

/*------------------------------------------------------------------*/
/* udev: the target of a running job stays unprobed (60-cowbackup.rules) */

void dm_udev_announce(uint32_t major, uint32_t minor)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major,
		 minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "change", 6) < 0) {
		/* No uevent: the links change with the next one. */
	}
	close(fd);
}

int dm_udev_hide(uint32_t major, uint32_t minor, const char *job)
{
	char path[sizeof(DM_HIDE_DIR) + 32];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%u:%u", DM_HIDE_DIR, major, minor);
	if (make_run_dir(DM_HIDE_DIR, 0755))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, job, strlen(job)) != (ssize_t)strlen(job))
		r = -1;
	close(fd);
	dm_udev_announce(major, minor);
	return r;
}

void dm_udev_unhide(const char *job)
{
	char path[sizeof(DM_HIDE_DIR) + 300], owner[DMNAME_MAX];
	struct dirent *d;
	DIR *dir = opendir(DM_HIDE_DIR);
	ssize_t n;
	int fd;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", DM_HIDE_DIR, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, owner, sizeof(owner) - 1);
		close(fd);
		owner[n > 0 ? n : 0] = '\0';
		if (!strcmp(owner, job))
			unlink(path);
	}
	closedir(dir);
}

/*------------------------------------------------------------------*/
/* udev cookies left by killed runs */

#define DM_COOKIE_KEY_PREFIX	0x0D4D	/* libdevmapper's DM_COOKIE_MAGIC */

union cb_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

int dm_udev_cleanup_cookies(void)
{
	const char *env = getenv("COWBACKUP_COOKIE_MIN_AGE");
	long min_age = env ? strtol(env, NULL, 10) : 300;
	time_t now = time(NULL);
	struct seminfo si;
	union cb_semun arg;
	int i, max, removed = 0;

	arg.__buf = &si;
	max = semctl(0, 0, SEM_INFO, arg);
	for (i = 0; i <= max; i++) {
		struct semid_ds ds;
		time_t last;
		int id;

		arg.buf = &ds;
		id = semctl(i, 0, SEM_STAT, arg);
		if (id < 0 ||
		    ((uint32_t)ds.sem_perm.__key >> 16) != DM_COOKIE_KEY_PREFIX)
			continue;
		last = ds.sem_otime > ds.sem_ctime ? ds.sem_otime :
		       ds.sem_ctime;
		if (now - last < min_age)
			continue;
		if (semctl(id, 0, IPC_RMID) == 0)
			removed++;
	}
	return removed;
}
