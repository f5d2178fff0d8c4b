// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for tests/images/run: the image commands linked with the
 * stub job_get_extents() (stub_job.c), plus `topmap IMAGE CLUSTER_BYTES
 * NCLUSTERS`, which prints topmap_unallocated()'s result as START+LEN
 * lines, the way `start --sync top` would send skip messages.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "image/topmap.h"
#include "util.h"

static int cmd_topmap(int argc, char **argv)
{
	struct cluster_extent *ext;
	uint64_t cluster, n;
	size_t count, i;

	if (argc != 4 || parse_u64(argv[2], &cluster) ||
	    parse_u64(argv[3], &n))
		return usage_error("topmap", "IMAGE CLUSTER_BYTES NCLUSTERS");
	if (topmap_unallocated(argv[1], cluster, n, &ext, &count))
		return EXIT_FAIL;
	for (i = 0; i < count; i++)
		printf("%" PRIu64 "+%" PRIu64 "\n", ext[i].start, ext[i].len);
	free(ext);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error(NULL, "expected a command");
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "map"))
		return cmd_map(argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(argv[1], "topmap"))
		return cmd_topmap(argc - 1, argv + 1);
	return usage_error(NULL, "unknown command '%s'", argv[1]);
}
