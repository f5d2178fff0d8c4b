/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing of the cowbackup table arguments that follow the two devices:
 * <sync> [<#opt args> <opt arg>...]. Pure logic, no device access, so
 * the host unit tests run this very code.
 */
#ifndef DM_COWBACKUP_TABLE_ARGS_H
#define DM_COWBACKUP_TABLE_ARGS_H

#include <linux/types.h>

enum cb_sync { CB_SYNC_FULL, CB_SYNC_TOP, CB_SYNC_NONE };
enum cb_policy { CB_POLICY_REPORT, CB_POLICY_IGNORE, CB_POLICY_STOP };
enum cb_cow_error { CB_COW_BREAK_SNAPSHOT, CB_COW_BREAK_WRITE };

struct cb_args {
	enum cb_sync sync;
	u32 cluster_sectors;
	u64 speed;			/* bytes per second, 0 = unlimited */
	u32 max_workers;
	enum cb_policy on_source_error;
	enum cb_policy on_target_error;
	enum cb_cow_error cow_error;
	bool paused;
};

/*
 * Parse @argc words. On failure returns -EINVAL and points *@error at a
 * static message suitable for ti->error; @args is then undefined.
 */
int cb_parse_args(unsigned int argc, char **argv, struct cb_args *args,
		  char **error);

/* The words after cowbackup-track's <dev> <meta dev>. */
struct cb_track_args {
	u32 cluster_sectors;
};

int cb_parse_track_args(unsigned int argc, char **argv,
			struct cb_track_args *args, char **error);

/* Parse a whole decimal u64 (no sign, no suffix); -EINVAL otherwise. */
int cb_parse_u64(const char *word, u64 *value);

const char *cb_sync_name(enum cb_sync sync);
const char *cb_policy_name(enum cb_policy policy);
const char *cb_cow_error_name(enum cb_cow_error mode);

#endif /* DM_COWBACKUP_TABLE_ARGS_H */
