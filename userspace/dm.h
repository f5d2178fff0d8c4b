/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every device-mapper operation cowbackup-ctl performs, on top of
 * libdevmapper: tables, create/reload/suspend/resume/remove, messages,
 * status and event waits. udev cookies are used when udev runs; with
 * DM_DISABLE_UDEV=1 (or no udev) libdevmapper makes the nodes itself.
 *
 * Functions return 0 on success and -1 on failure; the reason of the last
 * failure is in dm_last_error() (libdevmapper's own message, or ours), so
 * callers can print one line naming the device.
 */
#ifndef COWBACKUP_DM_H
#define COWBACKUP_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMNAME_MAX	128	/* DM_NAME_LEN, including the NUL */
#define DMUUID_MAX	129	/* DM_UUID_LEN, including the NUL */

struct dm_dev_info {
	bool exists;
	bool suspended;
	bool live_table;
	bool inactive_table;
	bool read_only;
	int open_count;
	uint32_t event_nr;
	uint32_t major;
	uint32_t minor;
	char name[DMNAME_MAX];
	char uuid[DMUUID_MAX];
};

/* One target line of a table. */
struct dm_target_line {
	uint64_t start;		/* sectors */
	uint64_t len;		/* sectors */
	char *type;
	char *params;
};

struct dm_table_lines {
	size_t count;
	struct dm_target_line *lines;
};

/* udev handling for the devices we create. */
enum dm_node_kind {
	DM_NODE_VISIBLE,	/* a device users open: full udev rules */
	DM_NODE_HIDDEN,		/* internal: no /dev/disk links, no scanning */
	DM_NODE_VIEW,		/* a second copy of a filesystem: low priority */
};

void dm_setup(bool verbose);
const char *dm_last_error(void);
/* errno of the last failed ioctl (EBUSY, ENXIO, ...), or 0. */
int dm_last_errno(void);

/* Info by name; info->exists is false (and 0 returned) if there is none. */
int dm_get_info(const char *name, struct dm_dev_info *info);
/* Info by device number, for resolving /dev paths to dm names. */
int dm_get_info_by_devno(uint32_t major, uint32_t minor,
			 struct dm_dev_info *info);

/* Every dm device; *names is a malloc'd array of malloc'd strings. */
int dm_list_names(char ***names, size_t *count);
void dm_free_names(char **names, size_t count);

/* The live (or, with @inactive, the inactive) table. */
int dm_get_table(const char *name, bool inactive,
		 struct dm_table_lines *table);
/* The INFO status of every target (same shape as a table). */
int dm_get_status(const char *name, struct dm_table_lines *status);
void dm_table_free(struct dm_table_lines *table);
bool dm_table_equal(const struct dm_table_lines *a,
		    const struct dm_table_lines *b);
uint64_t dm_table_sectors(const struct dm_table_lines *table);
int dm_table_add(struct dm_table_lines *table, uint64_t start, uint64_t len,
		 const char *type, const char *params);

/* Create @name with @uuid and make @table live (create, load, resume). */
int dm_create(const char *name, const char *uuid,
	      const struct dm_table_lines *table, bool read_only,
	      enum dm_node_kind kind);
/* Create @name with no table (first step of a stacked start). */
int dm_create_empty(const char *name, const char *uuid, enum dm_node_kind kind);
/* Load @table as the inactive table of @name. */
int dm_load(const char *name, const struct dm_table_lines *table,
	    bool read_only);
/* Drop the inactive table. */
int dm_clear_inactive(const char *name);
/* Suspend with flush and filesystem freeze: the point in time. */
int dm_suspend(const char *name);
/* Resume: the inactive table, if any, becomes live. */
int dm_resume(const char *name, enum dm_node_kind kind);
int dm_remove(const char *name);

/* Send a target message to sector 0; *reply is malloc'd (maybe ""). */
int dm_message(const char *name, const char *msg, char **reply);

/*
 * Wait until the event counter of @name differs from @event_nr. Returns 0
 * on an event, 1 when a signal interrupted the wait (e.g. the refresh
 * timer or Ctrl-C), -1 on error.
 */
int dm_wait_event(const char *name, uint32_t event_nr);

/*
 * udev: keep block device @major:@minor (a job's target) unprobed while
 * job @job runs, through /run/cowbackup/hide/<major>:<minor> (holding the
 * job name), which udev/60-cowbackup.rules tests. A "change" uevent makes
 * udev drop its /dev/disk/by-uuid and by-label links at once. Without
 * udev this changes nothing. Returns 0, or -1 with errno set.
 */
#define DM_HIDE_DIR	"/run/cowbackup/hide"
int dm_udev_hide(uint32_t major, uint32_t minor, const char *job);
/*
 * Drop every mark of @job. No uevent: the target holds the source's
 * filesystem UUID, and probing it now could hand it the source's links;
 * the next uevent (e.g. after a new UUID) makes it visible again.
 */
void dm_udev_unhide(const char *job);
/* A "change" uevent for @major:@minor: udev probes it again. */
void dm_udev_announce(uint32_t major, uint32_t minor);

/*
 * Remove the udev cookies (SysV semaphores with libdevmapper's key
 * prefix 0x0D4D) a killed run left behind: those untouched for
 * COWBACKUP_COOKIE_MIN_AGE seconds (default 300; no udev event takes that
 * long, a live waiter's cookie is never that old). Returns how many went.
 */
int dm_udev_cleanup_cookies(void);

/* "/dev/mapper/<name>" */
void dm_dev_path(const char *name, char *buf, size_t len);

#endif /* COWBACKUP_DM_H */
