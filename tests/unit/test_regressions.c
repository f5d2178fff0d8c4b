// SPDX-License-Identifier: GPL-2.0
/*
 * Replays the saved fuzzer inputs in tests/unit/regressions/hbitmap/
 * through the fuzzer's own checker (tests/fuzz/fuzz_hbitmap.c, which
 * includes kernel/hbitmap.c), so every input that once found a bug, or
 * that reaches a corner worth keeping, runs on every make check. A failed
 * check aborts the test.
 */
#include "../fuzz/fuzz_hbitmap.c"

#include <dirent.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "shim.h"

#define REGRESSION_DIR	TOP_DIR "/tests/unit/regressions/hbitmap"

static int replay_all(struct __test_metadata *_metadata)
{
	struct dirent *de;
	int replayed = 0;
	DIR *dir = opendir(REGRESSION_DIR);

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		char path[4096], *data;
		FILE *f;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", REGRESSION_DIR,
			 de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		data = malloc(len ? len : 1);
		if (fread(data, 1, len, f) != (size_t)len)
			len = 0;
		fclose(f);
		/* Names the input in the log if the checker aborts. */
		fprintf(stderr, "# replay %s\n", de->d_name);
		LLVMFuzzerTestOneInput((const u8 *)data, len);
		free(data);
		replayed++;
	}
	closedir(dir);
	return replayed;
}

TEST(replay_hbitmap_fuzz_inputs)
{
	int n = replay_all(_metadata);

	ASSERT_GT(n, 0);
	TH_LOG("%d inputs replayed", n);
	ASSERT_EQ(0, shim_live_allocs());
}

TEST_HARNESS_MAIN
