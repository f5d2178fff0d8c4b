/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Putting the change tracker (cowbackup-track, tracker.h) under a live dm
 * volume and taking it out again, crash-safely, the way insert.c does it
 * for jobs; recover.c completes or rolls back a killed run from the dm
 * tables alone. The step order is in track_insert.c and in
 * Documentation/cowbackup-ctl.rst ("Change tracking").
 *
 * Also the list of tracked volumes that the boot path re-arms
 * ($COWBACKUP_CONF_DIR/tracked, default /etc/cowbackup/tracked).
 */
#ifndef COWBACKUP_TRACK_INSERT_H
#define COWBACKUP_TRACK_INSERT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "blockdev.h"
#include "dm.h"
#include "tracker.h"

#define TRACK_CONF_DEFAULT_DIR	"/etc/cowbackup"
#define TRACK_CONF_FILE		"tracked"

struct track_request {
	uint64_t cluster_sectors;	/* 0: the target's default (128) */
	bool cluster_set;		/* put cluster_size in the table */
	bool force;			/* a signature on METADEV is fine */
	bool resume;			/* boot re-arm: METADEV must hold a history */
	bool keep_conf;			/* resume --all: the list stays as it is */
};

/*
 * Insert the tracker under dm volume @vol (as the user typed it) with
 * metadata device @meta. On success prints the success line and returns EXIT_OK; otherwise one error line has been
 * printed, nothing is left behind, and EXIT_FAIL is returned.
 */
int track_enable(const char *vol, const char *meta,
		 const struct track_request *req);

/*
 * Take the tracker out from under @vol: its history is marked bypassed,
 * @vol gets its original table back, the tracker devices go. EXIT_OK or
 * EXIT_FAIL (one line printed).
 */
int track_disable(const char *vol);

/*
 * @vol's dm name and its display name: "vg/lv" for an LVM LV, else the
 * dm name. -1 (one line printed) if @vol is no dm device.
 */
int track_vol_names(const char *vol, struct blockdev *bd, char *display,
		    size_t len);

/* "vg/lv" for the LVM LV @dm_name (by its UUID), else @dm_name. */
void track_display_name(const char *dm_name, const char *dm_uuid, char *buf,
			size_t len);

/* The persistent name of block device @bd: /dev/VG/LV for an LV. */
void track_stable_path(const struct blockdev *bd, const char *typed,
		       char *buf, size_t len);

/*
 * The tracker's table: @sectors of cowbackup-track over device @o with
 * metadata device @md (cluster_size only with req->cluster_set).
 * 0, or -1 (out of memory).
 */
int track_table(struct dm_table_lines *t, uint64_t sectors,
		const struct dm_dev_info *o, const struct blockdev *md,
		const struct track_request *req);

/* Metadata size in sectors for @sectors tracked in clusters of @cs. */
uint64_t track_meta_need(uint64_t sectors, uint64_t cs);

/* The config file: one line "VOL METADEV CLUSTER_SECTORS" per volume. */
struct track_conf_entry {
	char vol[PATH_MAX];
	char meta[PATH_MAX];
	uint64_t cluster_sectors;
};

/* $COWBACKUP_CONF_DIR/tracked */
void track_conf_path(char *buf, size_t len);
/*
 * Read the config file into *entries (malloc'd). A missing file is an
 * empty list. -1 (one line printed) on errors; malformed lines are
 * reported and skipped.
 */
int track_conf_read(struct track_conf_entry **entries, size_t *count);
/* Replace (or, with @e NULL, delete) the line of @vol; atomic rewrite. */
int track_conf_set(const char *vol, const struct track_conf_entry *e);

#endif /* COWBACKUP_TRACK_INSERT_H */
