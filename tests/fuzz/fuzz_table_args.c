// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the cowbackup table parser (kernel/table_args.c, the
 * code the module runs) on arbitrary words. The input is split at spaces,
 * tabs, newlines and NULs into at most 64 words, as dm splits a table
 * line. A rejection must come with an error message; an accepted line
 * must have every field in its documented range, and the canonical line
 * built from it must parse to the same arguments.
 */
#include "table_args.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#define MAX_WORDS 64

static int split(char *buf, char **argv)
{
	int argc = 0;
	char *w;

	for (w = strtok(buf, " \t\n"); w && argc < MAX_WORDS;
	     w = strtok(NULL, " \t\n"))
		argv[argc++] = w;
	return argc;
}

/* The table line the target would show for @a (all optional args). */
static void canonical(const struct cb_args *a, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%s %d %s %u %s %llu %s %u %s %s %s %s %s %s%s",
		 cb_sync_name(a->sync), a->paused ? 13 : 12,
		 COWBACKUP_ARG_CLUSTER_SIZE, a->cluster_sectors,
		 COWBACKUP_ARG_SPEED, (unsigned long long)a->speed,
		 COWBACKUP_ARG_MAX_WORKERS, a->max_workers,
		 COWBACKUP_ARG_ON_SOURCE_ERROR, cb_policy_name(a->on_source_error),
		 COWBACKUP_ARG_ON_TARGET_ERROR, cb_policy_name(a->on_target_error),
		 COWBACKUP_ARG_COW_ERROR, cb_cow_error_name(a->cow_error),
		 a->paused ? " " COWBACKUP_ARG_PAUSED : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4097], line[512], *argv[MAX_WORDS], *error = NULL;
	struct cb_args a, b;
	size_t i;
	int argc, r;

	if (size > 4096)
		return 0;
	for (i = 0; i < size; i++)
		buf[i] = data[i] ? (char)data[i] : ' ';
	buf[size] = '\0';
	argc = split(buf, argv);
	r = cb_parse_args((unsigned int)argc, argv, &a, &error);
	if (r) {
		CHECK(r == -EINVAL);
		CHECK(error && error[0]);
		return 0;
	}
	CHECK(a.sync <= CB_SYNC_NONE);
	CHECK(a.cluster_sectors >= COWBACKUP_CLUSTER_MIN_SECTORS &&
	      a.cluster_sectors <= COWBACKUP_CLUSTER_MAX_SECTORS &&
	      !(a.cluster_sectors & (a.cluster_sectors - 1)));
	CHECK(a.max_workers >= COWBACKUP_MAX_WORKERS_MIN &&
	      a.max_workers <= COWBACKUP_MAX_WORKERS_MAX);
	CHECK(a.on_source_error <= CB_POLICY_STOP);
	CHECK(a.on_target_error <= CB_POLICY_STOP);
	CHECK(a.cow_error <= CB_COW_BREAK_WRITE);

	canonical(&a, line, sizeof(line));
	argc = split(line, argv);
	error = NULL;
	CHECK(cb_parse_args((unsigned int)argc, argv, &b, &error) == 0);
	CHECK(a.sync == b.sync && a.cluster_sectors == b.cluster_sectors &&
	      a.speed == b.speed && a.max_workers == b.max_workers &&
	      a.on_source_error == b.on_source_error &&
	      a.on_target_error == b.on_target_error &&
	      a.cow_error == b.cow_error && a.paused == b.paused);
	return 0;
}
