// SPDX-License-Identifier: GPL-2.0
// kernel-sources: kernel/table_args.c
/*
 * Table-line parsing of the cowbackup target: the exact code the module
 * runs (kernel/table_args.c), built against the shim.
 */
#include <string.h>

#include "kselftest_harness.h"

#include "../../kernel/table_args.h"

#define MAX_WORDS 32

/* Split @line into words (modified in place) and parse them. */
static int parse_line(char *line, struct cb_args *args, char **error)
{
	char *argv[MAX_WORDS];
	unsigned int argc = 0;
	char *save = NULL, *w;

	for (w = strtok_r(line, " ", &save); w && argc < MAX_WORDS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	*error = NULL;
	return cb_parse_args(argc, argv, args, error);
}

static int parse_str(const char *text, struct cb_args *args, char **error)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", text);
	return parse_line(buf, args, error);
}

TEST(defaults)
{
	struct cb_args a;
	char *err;

	ASSERT_EQ(0, parse_str("full", &a, &err));
	EXPECT_EQ(CB_SYNC_FULL, a.sync);
	EXPECT_EQ(128, a.cluster_sectors);
	EXPECT_EQ(0, a.speed);
	EXPECT_EQ(16, a.max_workers);
	EXPECT_EQ(CB_POLICY_REPORT, a.on_source_error);
	EXPECT_EQ(CB_POLICY_REPORT, a.on_target_error);
	EXPECT_EQ(CB_COW_BREAK_SNAPSHOT, a.cow_error);
	EXPECT_FALSE(a.paused);
	ASSERT_EQ(0, parse_str("top", &a, &err));
	EXPECT_EQ(CB_SYNC_TOP, a.sync);
	ASSERT_EQ(0, parse_str("none 0", &a, &err));
	EXPECT_EQ(CB_SYNC_NONE, a.sync);
}

TEST(every_option)
{
	struct cb_args a;
	char *err;

	ASSERT_EQ(0, parse_str("top 13 cluster_size 2048 speed 209715200 max_workers 1024 on_source_error stop on_target_error ignore cow_error break_write paused",
			       &a, &err));
	EXPECT_EQ(CB_SYNC_TOP, a.sync);
	EXPECT_EQ(2048, a.cluster_sectors);
	EXPECT_EQ(209715200ULL, a.speed);
	EXPECT_EQ(1024, a.max_workers);
	EXPECT_EQ(CB_POLICY_STOP, a.on_source_error);
	EXPECT_EQ(CB_POLICY_IGNORE, a.on_target_error);
	EXPECT_EQ(CB_COW_BREAK_WRITE, a.cow_error);
	EXPECT_TRUE(a.paused);
	EXPECT_STREQ("top", cb_sync_name(a.sync));
	EXPECT_STREQ("stop", cb_policy_name(a.on_source_error));
	EXPECT_STREQ("break_write", cb_cow_error_name(a.cow_error));
}

TEST(cluster_size_bounds)
{
	struct cb_args a;
	char *err;

	ASSERT_EQ(0, parse_str("full 2 cluster_size 8", &a, &err));
	EXPECT_EQ(8, a.cluster_sectors);
	ASSERT_EQ(0, parse_str("full 2 cluster_size 16384", &a, &err));
	EXPECT_EQ(16384, a.cluster_sectors);
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size 4", &a, &err));
	EXPECT_NE(NULL, strstr(err, "cluster_size"));
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size 32768", &a, &err));
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size 96", &a, &err));
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size 0", &a, &err));
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size -8", &a, &err));
	EXPECT_EQ(-EINVAL, parse_str("full 2 cluster_size 4294967304", &a, &err));
}

TEST(bad_lines)
{
	static const char * const bad[] = {
		"",			/* no sync mode */
		"fuLL",
		"incremental",
		"full 1",		/* count does not match */
		"full 3 paused",
		"full x paused",
		"full -1",
		"full 1 turbo",		/* unknown keyword */
		"full 1 speed",		/* missing value */
		"full 2 speed fast",
		"full 2 speed 18446744073709551616",	/* overflow */
		"full 2 speed +5",
		"full 2 speed 5k",
		"full 2 max_workers 0",
		"full 2 max_workers 1025",
		"full 2 on_source_error retry",
		"full 2 on_target_error",
		"full 2 cow_error break",
		"full 1 cow_error",
	};
	struct cb_args a;
	unsigned int i;
	char *err;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, parse_str(bad[i], &a, &err)) {
			TH_LOG("accepted: '%s'", bad[i]);
		}
		EXPECT_NE(NULL, err) {
			TH_LOG("no error text for '%s'", bad[i]);
		}
	}
}

TEST(speed_limits)
{
	struct cb_args a;
	char *err;

	ASSERT_EQ(0, parse_str("full 2 speed 18446744073709551615", &a, &err));
	EXPECT_EQ(18446744073709551615ULL, a.speed);
	ASSERT_EQ(0, parse_str("full 2 speed 0", &a, &err));
	EXPECT_EQ(0, a.speed);
}

TEST(parse_u64_strict)
{
	u64 v;

	EXPECT_EQ(0, cb_parse_u64("0", &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(0, cb_parse_u64("123", &v));
	EXPECT_EQ(123, v);
	EXPECT_EQ(-EINVAL, cb_parse_u64("", &v));
	EXPECT_EQ(-EINVAL, cb_parse_u64("+1", &v));
	EXPECT_EQ(-EINVAL, cb_parse_u64("1\n", &v));
	EXPECT_EQ(-EINVAL, cb_parse_u64("0x10", &v));
	EXPECT_EQ(-EINVAL, cb_parse_u64("12 ", &v));
}

/* cowbackup-track: [<#opt args> cluster_size <sectors>] */
static int parse_track(const char *text, struct cb_track_args *args,
		       char **error)
{
	char buf[256], *argv[MAX_WORDS], *save = NULL, *w;
	unsigned int argc = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	for (w = strtok_r(buf, " ", &save); w && argc < MAX_WORDS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	*error = NULL;
	return cb_parse_track_args(argc, argv, args, error);
}

TEST(track_args)
{
	struct cb_track_args a;
	char *err;

	ASSERT_EQ(0, parse_track("", &a, &err));
	EXPECT_EQ(128, a.cluster_sectors);
	ASSERT_EQ(0, parse_track("0", &a, &err));
	EXPECT_EQ(128, a.cluster_sectors);
	ASSERT_EQ(0, parse_track("2 cluster_size 8", &a, &err));
	EXPECT_EQ(8, a.cluster_sectors);
	ASSERT_EQ(0, parse_track("2 cluster_size 16384", &a, &err));
	EXPECT_EQ(16384, a.cluster_sectors);
	EXPECT_EQ(-EINVAL, parse_track("2 cluster_size 96", &a, &err));
	EXPECT_NE(NULL, strstr(err, "power of two"));
	EXPECT_EQ(-EINVAL, parse_track("2 cluster_size 4", &a, &err));
	EXPECT_EQ(-EINVAL, parse_track("2 cluster_size 32768", &a, &err));
	EXPECT_EQ(-EINVAL, parse_track("2 cluster_size x", &a, &err));
	EXPECT_EQ(-EINVAL, parse_track("1 cluster_size", &a, &err));
	EXPECT_NE(NULL, strstr(err, "missing its value"));
	EXPECT_EQ(-EINVAL, parse_track("2 speed 5", &a, &err));
	EXPECT_NE(NULL, strstr(err, "only cluster_size"));
	EXPECT_EQ(-EINVAL, parse_track("4 cluster_size 8 cluster_size 16", &a,
				       &err));
	EXPECT_NE(NULL, strstr(err, "more than once"));
	EXPECT_EQ(-EINVAL, parse_track("3 cluster_size 8", &a, &err));
	EXPECT_NE(NULL, strstr(err, "count does not match"));
	EXPECT_EQ(-EINVAL, parse_track("cluster_size 8", &a, &err));
}

TEST_HARNESS_MAIN
