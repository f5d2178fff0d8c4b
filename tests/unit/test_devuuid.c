// SPDX-License-Identifier: GPL-2.0
// userspace-sources: userspace/devuuid.c
/* userspace/devuuid.c: the dm UUIDs of cowbackup-ctl's devices. */
#include <string.h>

#include "kselftest_harness.h"
#include "devuuid.h"
#include "dm.h"

/* What lvm2's device filter skips as an LV's internal layer. */
static int lvm_skips(const char *uuid)
{
	return !strncmp(uuid, "LVM-", 4) && strlen(uuid) > 69;
}

TEST(hidden_roles_round_trip_and_lvm_skips_them)
{
	static const enum dev_role hidden[] = {
		ROLE_ORIG, ROLE_COW, ROLE_VIEW, ROLE_STAGING,
	};
	static const char *const jobs[] = {
		"a", "vg0-data", "my--vg-lv_1.x",
		/* 109 characters: the longest that fits */
		"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678",
	};
	char uuid[DMUUID_MAX];
	const char *base;

	for (size_t r = 0; r < sizeof(hidden) / sizeof(hidden[0]); r++) {
		for (size_t j = 0; j < sizeof(jobs) / sizeof(jobs[0]); j++) {
			ASSERT_EQ(0, devuuid_format(hidden[r], jobs[j], uuid,
						    sizeof(uuid)));
			ASSERT_TRUE(lvm_skips(uuid));
			ASSERT_EQ(hidden[r], devuuid_parse(uuid, &base));
			ASSERT_STREQ(jobs[j], base);
		}
	}
}

TEST(too_long_is_refused)
{
	char job[DMUUID_MAX], uuid[DMUUID_MAX];

	memset(job, 'j', 110);
	job[110] = 0;
	/* "LVM-COWBACKUP-SNAP-" + 110 = 129: no room for the NUL */
	ASSERT_EQ(-1, devuuid_format(ROLE_VIEW, job, uuid, sizeof(uuid)));
	ASSERT_EQ(-1, devuuid_format(ROLE_COW, "x", uuid, 40));
}

TEST(stacked_job_device_keeps_its_uuid)
{
	char uuid[DMUUID_MAX];
	const char *base;

	ASSERT_EQ(0, devuuid_format(ROLE_TOP, "cowbackup-vdb1", uuid,
				    sizeof(uuid)));
	ASSERT_STREQ("COWBACKUP-TOP-cowbackup-vdb1", uuid);
	ASSERT_EQ(ROLE_TOP, devuuid_parse(uuid, &base));
	ASSERT_STREQ("cowbackup-vdb1", base);
}

TEST(earlier_versions_and_others)
{
	const char *base = NULL;

	ASSERT_EQ(ROLE_COW, devuuid_parse("COWBACKUP-COW-vg0-data", &base));
	ASSERT_STREQ("vg0-data", base);
	ASSERT_EQ(ROLE_ORIG, devuuid_parse("COWBACKUP-ORIG-x", NULL));
	ASSERT_EQ(ROLE_VIEW, devuuid_parse("COWBACKUP-SNAP-x", NULL));
	ASSERT_EQ(ROLE_STAGING, devuuid_parse("COWBACKUP-TGT-x", NULL));
	/* LVM's own LVs and layers, other tools, near misses */
	ASSERT_EQ(ROLE_NONE, devuuid_parse(
		"LVM-abcdefghijABCDEFGHIJ0123456789ab"
		"abcdefghijABCDEFGHIJ0123456789ab-real", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("CRYPT-LUKS2-abc-x", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("COWBACKUP-COW-", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("COWBACKUP-XYZ-a", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("LVM-COWBACKUP___COW-a", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("LVM-COWBACKUP_-TOP-a", NULL));
	ASSERT_EQ(ROLE_NONE, devuuid_parse("LVM-COWBACKUPX-COW-a", NULL));
}

TEST(is_matches_role_and_job_in_either_form)
{
	char uuid[DMUUID_MAX];

	ASSERT_EQ(0, devuuid_format(ROLE_VIEW, "vg0-data", uuid, sizeof(uuid)));
	ASSERT_TRUE(devuuid_is(uuid, ROLE_VIEW, "vg0-data"));
	ASSERT_FALSE(devuuid_is(uuid, ROLE_VIEW, "vg0-dat"));
	ASSERT_FALSE(devuuid_is(uuid, ROLE_COW, "vg0-data"));
	ASSERT_TRUE(devuuid_is("COWBACKUP-SNAP-vg0-data", ROLE_VIEW, "vg0-data"));
	ASSERT_FALSE(devuuid_is("COWBACKUP-SNAP-vg0-data2", ROLE_VIEW, "vg0-data"));
}

TEST_HARNESS_MAIN
