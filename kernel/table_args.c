// SPDX-License-Identifier: GPL-2.0
/*
 * Table argument parsing for dm-cowbackup. Kept free of device-mapper
 * calls so that tests/unit compiles and exercises it on the host.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "../include/uapi/dm-cowbackup.h"
#include "table_args.h"

static const char * const sync_names[] = {
	[CB_SYNC_FULL] = COWBACKUP_SYNC_FULL,
	[CB_SYNC_TOP] = COWBACKUP_SYNC_TOP,
	[CB_SYNC_NONE] = COWBACKUP_SYNC_NONE,
};

static const char * const policy_names[] = {
	[CB_POLICY_REPORT] = COWBACKUP_POLICY_REPORT,
	[CB_POLICY_IGNORE] = COWBACKUP_POLICY_IGNORE,
	[CB_POLICY_STOP] = COWBACKUP_POLICY_STOP,
};

static const char * const cow_error_names[] = {
	[CB_COW_BREAK_SNAPSHOT] = COWBACKUP_COW_BREAK_SNAPSHOT,
	[CB_COW_BREAK_WRITE] = COWBACKUP_COW_BREAK_WRITE,
};

const char *cb_sync_name(enum cb_sync sync)
{
	return sync_names[sync];
}

const char *cb_policy_name(enum cb_policy policy)
{
	return policy_names[policy];
}

const char *cb_cow_error_name(enum cb_cow_error mode)
{
	return cow_error_names[mode];
}

static int match_name(const char *word, const char * const *names,
		      unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (!strcmp(word, names[i]))
			return i;
	return -EINVAL;
}

int cb_parse_u64(const char *word, u64 *value)
{
	/* kstrtoull() accepts a leading '+' and a trailing newline. */
	if (*word < '0' || *word > '9')
		return -EINVAL;
	if (strchr(word, '\n'))
		return -EINVAL;
	return kstrtoull(word, 10, value) ? -EINVAL : 0;
}

static int parse_u32_range(const char *word, u32 min, u32 max, u32 *value)
{
	u64 v;

	if (cb_parse_u64(word, &v) || v < min || v > max)
		return -EINVAL;
	*value = (u32)v;
	return 0;
}

/* Both targets take the same cluster sizes. */
static int parse_cluster_size(const char *word, u32 *cluster_sectors,
			      char **error)
{
	if (parse_u32_range(word, COWBACKUP_CLUSTER_MIN_SECTORS,
			    COWBACKUP_CLUSTER_MAX_SECTORS, cluster_sectors) ||
	    *cluster_sectors & (*cluster_sectors - 1)) {
		*error = "Invalid cluster_size: need a power of two from 8 to 16384 sectors";
		return -EINVAL;
	}
	return 0;
}

/* Parse one optional argument at argv[*i], advancing *i past its value. */
static int parse_opt(unsigned int argc, char **argv, unsigned int *i,
		     struct cb_args *args, char **error)
{
	const char *key = argv[(*i)++];
	const char *val;
	int r;

	if (!strcmp(key, COWBACKUP_ARG_PAUSED)) {
		args->paused = true;
		return 0;
	}
	if (*i >= argc) {
		*error = "Optional argument is missing its value";
		return -EINVAL;
	}
	val = argv[(*i)++];

	if (!strcmp(key, COWBACKUP_ARG_CLUSTER_SIZE))
		return parse_cluster_size(val, &args->cluster_sectors, error);
	if (!strcmp(key, COWBACKUP_ARG_SPEED)) {
		if (cb_parse_u64(val, &args->speed)) {
			*error = "Invalid speed: need bytes per second";
			return -EINVAL;
		}
	} else if (!strcmp(key, COWBACKUP_ARG_MAX_WORKERS)) {
		if (parse_u32_range(val, COWBACKUP_MAX_WORKERS_MIN,
				    COWBACKUP_MAX_WORKERS_MAX,
				    &args->max_workers)) {
			*error = "Invalid max_workers: need 1 to 1024";
			return -EINVAL;
		}
	} else if (!strcmp(key, COWBACKUP_ARG_ON_SOURCE_ERROR) ||
		   !strcmp(key, COWBACKUP_ARG_ON_TARGET_ERROR)) {
		r = match_name(val, policy_names, ARRAY_SIZE(policy_names));
		if (r < 0) {
			*error = "Invalid error policy: need report, ignore or stop";
			return -EINVAL;
		}
		if (!strcmp(key, COWBACKUP_ARG_ON_SOURCE_ERROR))
			args->on_source_error = r;
		else
			args->on_target_error = r;
	} else if (!strcmp(key, COWBACKUP_ARG_COW_ERROR)) {
		r = match_name(val, cow_error_names,
			       ARRAY_SIZE(cow_error_names));
		if (r < 0) {
			*error = "Invalid cow_error: need break_snapshot or break_write";
			return -EINVAL;
		}
		args->cow_error = r;
	} else {
		*error = "Unknown optional argument";
		return -EINVAL;
	}
	return 0;
}

int cb_parse_args(unsigned int argc, char **argv, struct cb_args *args,
		  char **error)
{
	unsigned int i, end;
	u64 nr_opt;
	int r;

	memset(args, 0, sizeof(*args));
	args->cluster_sectors = COWBACKUP_CLUSTER_DEFAULT_SECTORS;
	args->max_workers = COWBACKUP_MAX_WORKERS_DEFAULT;

	if (argc < 1) {
		*error = "Missing sync mode: need full, top or none";
		return -EINVAL;
	}
	r = match_name(argv[0], sync_names, ARRAY_SIZE(sync_names));
	if (r < 0) {
		*error = "Invalid sync mode: need full, top or none";
		return -EINVAL;
	}
	args->sync = r;
	if (argc == 1)
		return 0;

	if (cb_parse_u64(argv[1], &nr_opt) || nr_opt != argc - 2) {
		*error = "Optional argument count does not match the arguments given";
		return -EINVAL;
	}
	end = argc;
	for (i = 2; i < end;) {
		r = parse_opt(end, argv, &i, args, error);
		if (r)
			return r;
	}
	return 0;
}

/*
 * cowbackup-track: [<#opt args> cluster_size <sectors>], the words after
 * <dev> <meta dev>.
 */
int cb_parse_track_args(unsigned int argc, char **argv,
			struct cb_track_args *args, char **error)
{
	u64 nr_opt;

	args->cluster_sectors = COWBACKUP_CLUSTER_DEFAULT_SECTORS;
	if (!argc)
		return 0;
	if (cb_parse_u64(argv[0], &nr_opt) || nr_opt != argc - 1) {
		*error = "Optional argument count does not match the arguments given";
		return -EINVAL;
	}
	if (argc == 1)
		return 0;
	if (strcmp(argv[1], COWBACKUP_ARG_CLUSTER_SIZE)) {
		*error = "Unknown optional argument: cowbackup-track takes only cluster_size";
		return -EINVAL;
	}
	if (argc != 3) {
		*error = argc == 2 ? "Optional argument is missing its value" :
				     "cluster_size given more than once, or extra arguments";
		return -EINVAL;
	}
	return parse_cluster_size(argv[2], &args->cluster_sectors, error);
}
