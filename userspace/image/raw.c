// SPDX-License-Identifier: GPL-2.0
/*
 * Raw images: regular files and block devices that carry no qcow2 or VMDK
 * header. libblkid says what they contain (a filesystem, a partition
 * table). Allocation comes from SEEK_DATA/SEEK_HOLE on the file; for a
 * loop device, on the file behind it, found through sysfs and checked
 * against the device's own idea of its inode and offset.
 */
#include "image/image.h"

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "image/raw.h"

static void probe_content(struct image *img, struct raw *r)
{
	const char *value = NULL;
	blkid_probe pr;

	pr = blkid_new_probe();
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, img->src.fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
		blkid_probe_enable_partitions(pr, 1);
		if (blkid_do_safeprobe(pr) == 0 &&
		    (blkid_probe_lookup_value(pr, "TYPE", &value, NULL) == 0 ||
		     blkid_probe_lookup_value(pr, "PTTYPE", &value, NULL) == 0))
			snprintf(r->content, sizeof(r->content), "%s", value);
	}
	blkid_free_probe(pr);
}

/*
 * The file behind loop device @img, opened read-only. 0 and data_fd = -1
 * when the device is not a loop device; -1 after an error line.
 */
static int open_loop_backing(struct image *img, struct raw *r)
{
	struct loop_info64 info;
	char sys[96], path[4096 + 16];
	struct stat st;
	ssize_t n;
	int fd;

	/*
	 * Only a loop device itself: device-mapper passes ioctls through
	 * to the device below, so an LV over a loop device would answer
	 * LOOP_GET_STATUS64 with the loop's status.
	 */
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/loop",
		 major(img->src.rdev), minor(img->src.rdev));
	if (access(sys, F_OK))
		return 0;
	if (ioctl(img->src.fd, LOOP_GET_STATUS64, &info) < 0)
		return 0;	/* not a loop device, or an unbound one */
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/loop/backing_file",
		 major(img->src.rdev), minor(img->src.rdev));
	fd = open(sys, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return img_error(&img->src, "loop", "cannot read %s: %s", sys,
				 strerror(errno));
	n = read(fd, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return img_error(&img->src, "loop", "cannot read %s", sys);
	path[n] = '\0';
	if (path[n - 1] == '\n')
		path[n - 1] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return img_error(&img->src, "loop", "backing file %s: %s", path,
				 strerror(errno));
	/* The name may have been reused since the loop was set up. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != info.lo_inode || st.st_dev != info.lo_device) {
		close(fd);
		return img_error(&img->src, "loop", "backing file %s is not "
				 "the file the loop device uses", path);
	}
	r->data_fd = fd;
	r->data_offset = info.lo_offset;
	r->loop_backing = strdup(path);
	return 0;
}

int raw_open(struct image *img)
{
	struct raw *r = calloc(1, sizeof(*r));

	if (!r)
		return img_error(&img->src, "raw", "out of memory");
	img->raw = r;
	r->data_fd = -1;
	img->virtual_size = img->src.size;
	if (img->src.fd < 0)
		return img_error(&img->src, "header", "not a qcow2 or VMDK "
				 "image");
	probe_content(img, r);
	if (img->src.is_blockdev)
		return open_loop_backing(img, r);
	r->data_fd = img->src.fd;
	return 0;
}

void raw_close(struct image *img)
{
	struct raw *r = img->raw;

	if (!r)
		return;
	if (r->data_fd >= 0 && r->data_fd != img->src.fd)
		close(r->data_fd);
	free(r->loop_backing);
	free(r);
	img->raw = NULL;
}

static int emit(map_fn fn, void *ctx, uint64_t start, uint64_t len,
		bool data)
{
	struct map_extent e = {
		.start = start,
		.length = len,
		.offset = start,
		.flags = data ? MAP_PRESENT | MAP_DATA | MAP_TOP :
				MAP_PRESENT | MAP_ZERO,
	};

	return len ? fn(ctx, &e) : 0;
}

int raw_map(struct image *img, map_fn fn, void *ctx)
{
	struct raw *r = img->raw;
	uint64_t pos = 0, end = img->virtual_size;
	int ret;

	/* A plain block device: everything is data. */
	if (r->data_fd < 0)
		return emit(fn, ctx, 0, end, true);
	while (pos < end) {
		off_t at = (off_t)(pos + r->data_offset), data, hole;

		data = lseek(r->data_fd, at, SEEK_DATA);
		if (data < 0 && errno == ENXIO) {
			/* Only a hole up to the end of the file. */
			return emit(fn, ctx, pos, end - pos, false);
		}
		if (data < 0) {
			/* No SEEK_DATA here: call all of it data. */
			return emit(fn, ctx, pos, end - pos, true);
		}
		hole = lseek(r->data_fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)(end + r->data_offset);
		data -= (off_t)r->data_offset;
		hole -= (off_t)r->data_offset;
		if ((uint64_t)data > end)
			data = (off_t)end;
		if ((uint64_t)hole > end)
			hole = (off_t)end;
		ret = emit(fn, ctx, pos, (uint64_t)data - pos, false);
		if (!ret)
			ret = emit(fn, ctx, (uint64_t)data,
				   (uint64_t)(hole - data), true);
		if (ret)
			return ret;
		if ((uint64_t)hole <= pos)
			break;	/* no progress: give up on the rest */
		pos = (uint64_t)hole;
	}
	if (pos < end)
		return emit(fn, ctx, pos, end - pos, true);
	return 0;
}
