// SPDX-License-Identifier: GPL-2.0
/*
 * `finish --new-uuid` / `backup --new-uuid`: a finished backup is a block
 * copy, with the source's filesystem UUID. Two devices with one UUID make
 * `mount UUID=...` and /dev/disk/by-uuid ambiguous (udev may give the link
 * to the backup), so on request the backup gets a fresh UUID while it is
 * still hidden from udev, with the filesystem's own tools.
 */
#include "newuuid.h"

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util.h"

/* blkid's TYPE and UUID of @path ("" when there is none); -1 on error. */
static int probe(const char *path, char *type, size_t tlen, char *uuid,
		 size_t ulen)
{
	const char *v;
	blkid_probe pr;
	int r;

	type[0] = uuid[0] = '\0';
	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return -1;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
					  BLKID_SUBLKS_UUID);
	r = blkid_do_safeprobe(pr);
	if (r == 0) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL))
			snprintf(type, tlen, "%s", v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL))
			snprintf(uuid, ulen, "%s", v);
	}
	blkid_free_probe(pr);
	return r < 0 && r != -2 ? -1 : 0;
}

/* Drop cached blocks: the job wrote the target below its page cache. */
static void flush_buffers(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)ioctl(fd, BLKFLSBUF, 0);
	close(fd);
}

/* Run a tool; on failure say so with its first output line. */
static int tool(const char *path, char *const argv[], int ok_max)
{
	char out[1024];
	int rc = run_program(argv, true, out, sizeof(out));

	if (rc >= 0 && rc <= ok_max)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	if (rc == 127)
		err_msg("%s: --new-uuid: cannot run %s (not installed?)", path,
			argv[0]);
	else
		err_msg("%s: --new-uuid: %s failed (exit %d)%s%s", path,
			argv[0], rc, out[0] ? ": " : "", out);
	return -1;
}

static int new_uuid_ext(const char *path)
{
	char *fsck[] = { "e2fsck", "-f", "-p", (char *)path, NULL };
	char *tune[] = { "tune2fs", "-U", "random", (char *)path, NULL };

	/*
	 * A copy of a mounted filesystem needs its journal replayed first
	 * (tune2fs refuses otherwise). e2fsck -p exits 1 when it fixed
	 * something harmless; 4 and up is damage it will not repair alone.
	 */
	if (tool(path, fsck, 1))
		return -1;
	return tool(path, tune, 0);
}

static int new_uuid_xfs(const char *path)
{
	char dir[] = "/tmp/cowbackup-newuuid.XXXXXX";
	char *admin[] = { "xfs_admin", "-U", "generate", (char *)path, NULL };
	int r;

	/*
	 * xfs_admin wants a clean log, and only the kernel replays one: a
	 * mount (nouuid: the source with the same UUID is mounted) and an
	 * unmount do it.
	 */
	if (!mkdtemp(dir)) {
		err_msg("%s: --new-uuid: cannot make a mount point: %s", path,
			strerror(errno));
		return -1;
	}
	if (mount(path, dir, "xfs", 0, "nouuid")) {
		err_msg("%s: --new-uuid: cannot mount it to replay its log: %s",
			path, strerror(errno));
		rmdir(dir);
		return -1;
	}
	r = umount(dir);
	rmdir(dir);
	if (r) {
		err_msg("%s: --new-uuid: cannot unmount it after replaying its log: %s",
			path, strerror(errno));
		return -1;
	}
	return tool(path, admin, 0);
}

int target_new_uuid(const char *path)
{
	char type[32], old[64], new[64];
	int r;

	flush_buffers(path);
	if (probe(path, type, sizeof(type), old, sizeof(old))) {
		err_msg("%s: --new-uuid: cannot probe the filesystem", path);
		return -1;
	}
	if (!strcmp(type, "ext2") || !strcmp(type, "ext3") ||
	    !strcmp(type, "ext4")) {
		r = new_uuid_ext(path);
	} else if (!strcmp(type, "xfs")) {
		r = new_uuid_xfs(path);
	} else {
		err_msg("%s: --new-uuid works for ext2/ext3/ext4 and xfs, this is %s",
			path, type[0] ? type : "no filesystem blkid knows");
		return -1;
	}
	if (r)
		return -1;
	flush_buffers(path);
	if (probe(path, type, sizeof(type), new, sizeof(new)) || !new[0] ||
	    !strcmp(old, new)) {
		err_msg("%s: --new-uuid: the UUID did not change (%s)", path,
			old);
		return -1;
	}
	printf("%s: new %s filesystem UUID %s (the source keeps %s)\n", path,
	       type, new, old);
	return 0;
}
