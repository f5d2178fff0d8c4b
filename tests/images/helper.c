// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for tests/images/run: the image commands linked with the
 * stub job_get_extents() (stub_job.c), plus `topmap IMAGE CLUSTER_BYTES
 * NCLUSTERS`, which prints topmap_unallocated()'s result as START+LEN
 * lines, the way `start --sync top` would send skip messages, and
 * `chain-raw IMAGE OUTPUT [--no-backing]`, which writes the bytes `restore`
 * would write (chain_read_chunks()) to a new sparse file, so the data path
 * of restore is checked against `qemu-img convert` without a block device.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "image/chain.h"
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

static int raw_data(void *ctx, uint64_t off, const uint8_t *buf, size_t len)
{
	int fd = *(int *)ctx;

	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
		err_msg("chain-raw: write failed");
		return -1;
	}
	return 0;
}

static int raw_zero(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx;
	(void)off;
	(void)len;
	return 0;	/* a new file's holes read as zeroes */
}

static int cmd_chain_raw(int argc, char **argv)
{
	static uint8_t buf[1u << 20];
	struct chain c;
	struct chain_sink sink = { .zero = raw_zero, .data = raw_data };
	bool follow = !(argc == 4 && !strcmp(argv[3], "--no-backing"));
	int fd, ret;

	if (argc != 3 && follow)
		return usage_error("chain-raw", "IMAGE OUTPUT [--no-backing]");
	if (chain_open(&c, argv[1], follow))
		return EXIT_FAIL;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		chain_close(&c);
		return EXIT_FAIL;
	}
	sink.ctx = &fd;
	ret = chain_read_chunks(&c, sizeof(buf), buf, &sink);
	if (!ret && ftruncate(fd, (off_t)chain_size(&c)))
		ret = -1;
	close(fd);
	chain_close(&c);
	return ret ? EXIT_FAIL : EXIT_OK;
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
	if (!strcmp(argv[1], "chain-raw"))
		return cmd_chain_raw(argc - 1, argv + 1);
	return usage_error(NULL, "unknown command '%s'", argv[1]);
}
