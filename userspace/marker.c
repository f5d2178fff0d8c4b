// SPDX-License-Identifier: GPL-2.0
/* The incomplete-backup marker and the staging device; see marker.h. */
#include "marker.h"
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devuuid.h"
#include "dm.h"
#include "image/incomplete.h"
#include "job.h"
#include "steps.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

#define REGION_SECTORS	2048ULL		/* 1 MiB at each end */
#define IO_BYTES	(1u << 20)

static int staging_name(const char *job, char *name, size_t nlen,
			char *uuid, size_t ulen)
{
	int n = snprintf(name, nlen, "%s%s-tgt", STACKED_NAME_PREFIX, job);

	if (n < 0 || (size_t)n >= nlen)
		return -1;
	return devuuid_format(ROLE_STAGING, job, uuid, ulen);
}

/* Head sectors and start of the tail for a job of @sectors. */
static void layout(uint64_t sectors, uint64_t *head, uint64_t *tail_start)
{
	*head = sectors / 4 & ~7ULL;
	if (*head > REGION_SECTORS)
		*head = REGION_SECTORS;
	*tail_start = (sectors - *head) & ~7ULL;
}

/* Run a command; its first output line in @out (may be NULL). */
static int run(char *const argv[], char *out, size_t len)
{
	if (run_program(argv, false, out, len))
		return -1;
	if (out && len)
		out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* pread or pwrite all of it, O_DIRECT-aligned buffers; -1 with errno. */
static int rw_all(int fd, uint8_t *buf, size_t len, uint64_t off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) :
				    pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Open a block device for writing, O_DIRECT where it takes it. */
static int open_direct(const char *path, int flags, bool *direct)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);

	*direct = fd >= 0;
	if (fd < 0)
		fd = open(path, flags | O_CLOEXEC);
	return fd;
}

/* Write @bytes of @buf (zeroes beyond @buf's 1 MiB) at @off, flushed. */
static int put_region(int fd, const char *path, const uint8_t *buf,
		      uint64_t off, uint64_t bytes)
{
	while (bytes) {
		size_t n = bytes > IO_BYTES ? IO_BYTES : (size_t)bytes;

		/* pwrite() only reads the buffer. */
		if (rw_all(fd, (uint8_t *)buf, n, off, true)) {
			err_msg("%s: cannot write at offset %" PRIu64 ": %s",
				path, off, strerror(errno));
			return -1;
		}
		off += n;
		bytes -= n;
	}
	if (fsync(fd)) {
		err_msg("%s: flush failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_marker(const char *job, const struct blockdev *tgt,
			uint64_t sectors, uint64_t head, uint64_t tail_start)
{
	struct incomplete_hdr h = { 0 };
	uint8_t *buf;
	bool direct;
	int fd, r = -1;

	if (posix_memalign((void **)&buf, 4096, IO_BYTES)) {
		err_msg("%s: out of memory", tgt->path);
		return -1;
	}
	memset(buf, 0, IO_BYTES);
	h.job_bytes = sectors * 512;
	h.start_time = (uint64_t)time(NULL);
	h.head_bytes = head * 512;
	h.tail_offset = tail_start * 512;
	snprintf(h.job, sizeof(h.job), "%s", job);
	incomplete_encode(&h, buf);
	fd = open_direct(tgt->path, O_RDWR, &direct);
	if (fd < 0) {
		err_msg("%s: cannot open to mark it incomplete: %s", tgt->path,
			strerror(errno));
		goto out;
	}
	/* The header first, with the head; then the tail. */
	if (put_region(fd, tgt->path, buf, 0, head * 512))
		goto out_close;
	memset(buf, 0, INCOMPLETE_HDR_SIZE);
	if (put_region(fd, tgt->path, buf, tail_start * 512,
		       (sectors - tail_start) * 512))
		goto out_close;
	r = 0;
out_close:
	close(fd);
out:
	free(buf);
	return r;
}

/* A RAM-backed loop device of @bytes (@init or zeroes); its path in @loop. */
static int staging_loop(uint64_t bytes, const uint8_t *init, char *loop,
			size_t len)
{
	static const char *const dirs[] = { "/run", "/dev/shm", "/tmp" };
	char file[64];
	size_t i;
	int fd = -1, r;

	for (i = 0; i < 3 && fd < 0; i++) {
		snprintf(file, sizeof(file), "%s/cowbackup-staging-XXXXXX",
			 dirs[i]);
		fd = mkostemp(file, O_CLOEXEC);
	}
	if (fd < 0) {
		err_msg("cannot create a staging file in /run: %s",
			strerror(errno));
		return -1;
	}
	/* pwrite() only reads the buffer. */
	if (ftruncate(fd, (off_t)bytes) ||
	    (init && rw_all(fd, (uint8_t *)init, bytes, 0, true))) {
		err_msg("%s: %s", file, strerror(errno));
		close(fd);
		unlink(file);
		return -1;
	}
	close(fd);
	{
		char *argv[] = { "losetup", "--find", "--show", file, NULL };

		r = run(argv, loop, len);
		if (r && access("/dev/loop-control", F_OK)) {
			char *mp[] = { "modprobe", "loop", NULL };

			run(mp, NULL, 0);
			r = run(argv, loop, len);
		}
	}
	/* The loop device keeps the file; nothing to clean up later. */
	unlink(file);
	if (r || strncmp(loop, "/dev/", 5)) {
		err_msg("cannot set up a loop device for the staging area (losetup --find --show failed; is the loop module available?)");
		return -1;
	}
	return 0;
}

/*
 * The head and tail regions of @path for a job of @sectors, into one
 * malloc'd buffer (head, then tail). -1 after one error line.
 */
static int read_ends(const char *path, uint64_t sectors, uint8_t **out,
		     uint64_t *bytes)
{
	uint64_t head, tail_start;
	uint8_t *buf;
	int fd;

	layout(sectors, &head, &tail_start);
	*bytes = (head + sectors - tail_start) * 512;
	buf = malloc(*bytes);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0 ||
	    rw_all(fd, buf, head * 512, 0, false) ||
	    rw_all(fd, buf + head * 512, (sectors - tail_start) * 512,
		   tail_start * 512, false)) {
		err_msg("%s: cannot read its first and last MiB: %s", path,
			buf ? strerror(errno) : "out of memory");
		if (fd >= 0)
			close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	*out = buf;
	return 0;
}

int marker_ends_digest(const char *path, uint64_t sectors, uint64_t *digest)
{
	uint64_t bytes, i, h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	uint8_t *buf;

	if (sectors < 64 || read_ends(path, sectors, &buf, &bytes))
		return -1;
	for (i = 0; i < bytes; i++)
		h = (h ^ buf[i]) * 0x100000001b3ULL;
	free(buf);
	*digest = h;
	return 0;
}

int marker_begin(const char *job, const struct blockdev *tgt,
		 uint64_t sectors, bool keep_ends, int *tgt_fd,
		 struct blockdev *staged)
{
	uint8_t *ends = NULL;
	uint64_t ends_bytes;
	char name[DMNAME_MAX], uuid[DMUUID_MAX], loop[256], params[128];
	struct dm_table_lines t = { 0 };
	uint64_t head, tail_start;
	struct dm_dev_info info;
	struct stat st;
	int r = -1;

	if (staging_name(job, name, sizeof(name), uuid, sizeof(uuid))) {
		err_msg("%s: name too long for the staging device", job);
		return -1;
	}
	if (sectors < 64) {
		err_msg("%s: too small (%" PRIu64 " sectors) for the incomplete-backup marker",
			tgt->path, sectors);
		return -1;
	}
	if (dm_get_info(name, &info)) {
		err_msg("%s: %s", name, dm_last_error());
		return -1;
	}
	if (info.exists) {
		if (info.open_count > 0) {
			err_msg("%s: staging device of job %s is still in use",
				name, job);
			return -1;
		}
		if (dm_remove(name)) {
			err_msg("%s: cannot remove the old staging device: %s",
				name, dm_last_error());
			return -1;
		}
	}
	layout(sectors, &head, &tail_start);
	/* An incremental job updates the target: its ends stay as they are. */
	if (keep_ends && read_ends(tgt->path, sectors, &ends, &ends_bytes))
		return -1;
	if (write_marker(job, tgt, sectors, head, tail_start)) {
		free(ends);
		return -1;
	}
	/* The dm device claims the target exclusively: drop our claim. */
	if (*tgt_fd >= 0)
		close(*tgt_fd);
	*tgt_fd = -1;
	r = staging_loop((head + sectors - tail_start) * 512, ends, loop,
			 sizeof(loop));
	free(ends);
	if (r)
		return -1;
	r = -1;
	if (stat(loop, &st) || !S_ISBLK(st.st_mode)) {
		err_msg("%s: not a block device", loop);
		goto out_loop;
	}
	snprintf(params, sizeof(params), "%u:%u 0", major(st.st_rdev),
		 minor(st.st_rdev));
	if (dm_table_add(&t, 0, head, "linear", params))
		goto out_loop;
	snprintf(params, sizeof(params), "%u:%u %" PRIu64, tgt->major,
		 tgt->minor, head);
	if (dm_table_add(&t, head, tail_start - head, "linear", params))
		goto out_loop;
	snprintf(params, sizeof(params), "%u:%u %" PRIu64, major(st.st_rdev),
		 minor(st.st_rdev), head);
	if (dm_table_add(&t, tail_start, sectors - tail_start, "linear",
			 params))
		goto out_loop;
	if (dm_create(name, uuid, &t, false, DM_NODE_HIDDEN)) {
		err_msg("%s: cannot create the staging device over %s: %s",
			name, tgt->path, dm_last_error());
		goto out_loop;
	}
	if (dm_get_info(name, &info) || !info.exists) {
		err_msg("%s: %s", name, dm_last_error());
		goto out_loop;
	}
	*staged = *tgt;
	staged->major = info.major;
	staged->minor = info.minor;
	staged->size_bytes = sectors * 512;
	dm_dev_path(name, staged->path, sizeof(staged->path));
	r = 0;
out_loop:
	{
		/* Autoclear: the loop device goes with its last user. */
		char *argv[] = { "losetup", "--detach", loop, NULL };

		run(argv, NULL, 0);
	}
	dm_table_free(&t);
	return r;
}

/* The staging device's table, checked: loop, target, loop. */
static int staging_table(uint32_t major, uint32_t minor,
			 struct dm_table_lines *t, uint32_t *tmaj,
			 uint32_t *tmin, char *name, size_t nlen)
{
	struct dm_dev_info info;
	uint64_t off;
	char dev[32];

	if (dm_get_info_by_devno(major, minor, &info) || !info.exists ||
	    devuuid_parse(info.uuid, NULL) != ROLE_STAGING)
		return 1;
	if (name)
		snprintf(name, nlen, "%s", info.name);
	if (dm_get_table(info.name, false, t))
		return -1;
	if (t->count != 3 || strcmp(t->lines[1].type, "linear") ||
	    sscanf(t->lines[1].params, "%31s %" SCNu64, dev, &off) != 2 ||
	    parse_devno(dev, tmaj, tmin) || off != t->lines[1].start) {
		dm_table_free(t);
		return -1;
	}
	return 0;
}

bool marker_staging_target(uint32_t major, uint32_t minor,
			   uint32_t *tgt_major, uint32_t *tgt_minor)
{
	struct dm_table_lines t;

	if (staging_table(major, minor, &t, tgt_major, tgt_minor, NULL, 0))
		return false;
	dm_table_free(&t);
	return true;
}

/* Copy [@start, +@len) sectors from @vfd to @tfd, flushed. */
static int copy_region(int vfd, int tfd, const char *vpath, const char *tpath,
		       uint8_t *buf, uint64_t start, uint64_t len)
{
	uint64_t off = start * 512, end = (start + len) * 512;

	while (off < end) {
		size_t n = end - off > IO_BYTES ? IO_BYTES : (size_t)(end - off);

		if (rw_all(vfd, buf, n, off, false)) {
			err_msg("%s: cannot read at offset %" PRIu64 ": %s",
				vpath, off, strerror(errno));
			return -1;
		}
		if (rw_all(tfd, buf, n, off, true)) {
			err_msg("%s: cannot write at offset %" PRIu64 ": %s",
				tpath, off, strerror(errno));
			return -1;
		}
		off += n;
	}
	if (fsync(tfd)) {
		err_msg("%s: flush failed: %s", tpath, strerror(errno));
		return -1;
	}
	return 0;
}

int marker_complete(const struct job *job)
{
	char vname[DMNAME_MAX], vpath[PATH_MAX];
	struct dm_table_lines t;
	const struct dm_target_line *hd, *tl;
	struct blockdev tgt;
	uint32_t tmaj, tmin;
	uint64_t first;
	uint8_t *buf = NULL;
	bool d1, d2;
	int vfd = -1, tfd = -1, r;

	if (job->detached || strcmp(job->st.state, COWBACKUP_STATE_COMPLETED))
		return 0;
	r = staging_table(job->tgt_major, job->tgt_minor, &t, &tmaj, &tmin,
			  vname, sizeof(vname));
	if (r > 0)
		return 0;	/* a job made without cowbackup-ctl */
	if (r < 0) {
		err_msg("%s: the staging device's table is not what cowbackup-ctl made; the target stays marked incomplete",
			job->name);
		return -1;
	}
	r = -1;
	hd = &t.lines[0];
	tl = &t.lines[2];
	if (blockdev_from_devno(tmaj, tmin, &tgt)) {
		err_msg("%s: cannot find the target %u:%u", job->name, tmaj,
			tmin);
		goto out;
	}
	dm_dev_path(vname, vpath, sizeof(vpath));
	if (posix_memalign((void **)&buf, 4096, IO_BYTES)) {
		err_msg("%s: out of memory", job->name);
		goto out;
	}
	vfd = open_direct(vpath, O_RDONLY, &d1);
	tfd = open_direct(tgt.path, O_RDWR, &d2);
	if (vfd < 0 || tfd < 0) {
		err_msg("%s: cannot open: %s", vfd < 0 ? vpath : tgt.path,
			strerror(errno));
		goto out;
	}
	/*
	 * Tail, then the head but for its first 4 KiB, then those (the
	 * header): until that last write the marker stands.
	 */
	first = hd->len > 8 ? 8 : hd->len;
	if (copy_region(vfd, tfd, vpath, tgt.path, buf, tl->start, tl->len))
		goto out;
	kill_point("finish-tail-written");
	if (copy_region(vfd, tfd, vpath, tgt.path, buf, first,
			hd->len - first))
		goto out;
	kill_point("finish-head-written");
	if (copy_region(vfd, tfd, vpath, tgt.path, buf, 0, first))
		goto out;
	kill_point("finish-marker-replaced");
	r = 0;
out:
	if (vfd >= 0)
		close(vfd);
	if (tfd >= 0)
		close(tfd);
	free(buf);
	dm_table_free(&t);
	return r;
}

void marker_cleanup(const char *job)
{
	char name[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info info;

	if (staging_name(job, name, sizeof(name), uuid, sizeof(uuid)) ||
	    dm_get_info(name, &info) || !info.exists ||
	    !devuuid_is(info.uuid, ROLE_STAGING, job) || info.open_count > 0)
		return;
	if (dm_remove(name))
		err_msg("%s: cannot remove the staging device: %s", name,
			dm_last_error());
}

int marker_cleanup_orphans(bool dry_run)
{
	struct dm_dev_info info;
	char **names;
	size_t n, i;
	int count = 0, failed = 0;

	if (dm_list_names(&names, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (dm_get_info(names[i], &info) || !info.exists ||
		    devuuid_parse(info.uuid, NULL) != ROLE_STAGING ||
		    (info.open_count > 0 &&
		     !(dry_run && recover_held_only_by_removed(&info))))
			continue;
		count++;
		printf("recover: %s: %sremove the staging device of a job that is gone (its target stays marked incomplete)\n",
		       names[i], dry_run ? "would " : "");
		if (!dry_run && dm_remove(names[i])) {
			err_msg("%s: cannot remove: %s", names[i],
				dm_last_error());
			failed++;
		}
	}
	dm_free_names(names, n);
	return failed ? -1 : count;
}
