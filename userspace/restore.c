// SPDX-License-Identifier: GPL-2.0
/*
 * `cowbackup-ctl restore IMAGE DEVICE`: write the guest-visible contents
 * of a raw, qcow2 (with its backing chain) or VMDK image to a block
 * device. In order:
 *
 *   1. open IMAGE and its backing chain (image/chain.h has the rules);
 *      every refusal about the image comes here, before any device is
 *      looked at, and the chain is printed;
 *   2. refuse an incomplete backup in the chain (the marker a job leaves
 *      on its target) unless --force;
 *   3. check DEVICE as a backup target is checked (safety.c), with the
 *      devices holding the chain's files in place of a backup's source,
 *      and keep it open with O_EXCL to the end;
 *   4. one pass in 4 MiB chunks (image/chain_read.c): data with O_DIRECT
 *      writes, runs of zeroes (unallocated, zero clusters, or data that
 *      is all zero) with BLKZEROOUT, which the kernel turns into
 *      WRITE_ZEROES where the device has it and into zero writes where
 *      not; zero writes from here if even that fails; nothing at all with
 *      --target-is-zero. A tail shorter than a logical block is written
 *      by reading its block, patching it and writing it back;
 *   5. fsync (the device's write cache) and BLKFLSBUF (stale page cache
 *      from the signature probe), so what mounts next sees the image;
 *   6. with --verify, a second pass reads the device back with O_DIRECT
 *      and compares every byte, naming the first one that differs.
 *
 * Bytes of DEVICE past the image's size are not touched. Interrupted (a
 * signal, an I/O error), the device holds a partial restore, and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blockdev.h"
#include "commands.h"
#include "image/chain.h"
#include "image/incomplete.h"
#include "json.h"
#include "progress.h"
#include "safety.h"
#include "util.h"

#define CHUNK_BYTES	(4u << 20)
/* Zeroing is issued in slices this big, so progress and ^C keep up. */
#define ZERO_SLICE	(1ULL << 30)
#define BUF_ALIGN	4096

enum { OPT_INTERVAL = 256, OPT_VERIFY, OPT_NO_BACKING, OPT_TARGET_IS_ZERO };

struct restore_opts {
	const char *image;
	const char *device;
	bool force;
	bool verify;
	bool follow_backing;
	bool target_is_zero;
	bool json;
	bool quiet;
	double interval;
};

/* How runs of zeroes reached the device. */
enum zero_method {
	ZERO_NONE,		/* there were none */
	ZERO_ZEROOUT,		/* BLKZEROOUT */
	ZERO_WRITES,		/* zero buffers written from here */
	ZERO_SKIPPED,		/* --target-is-zero */
};

static const char *const zero_method_names[] = {
	[ZERO_NONE] = "none",
	[ZERO_ZEROOUT] = "zeroout",
	[ZERO_WRITES] = "write",
	[ZERO_SKIPPED] = "skipped",
};

struct restore {
	const struct restore_opts *o;
	struct blockdev dev;
	int fd;			/* O_EXCL, O_DIRECT when the device takes it */
	int read_fd;		/* O_DIRECT, for verify and tail blocks */
	uint32_t block;		/* logical block size */
	uint64_t size;		/* the image's virtual size */
	uint8_t *chunk;		/* CHUNK_BYTES, aligned */
	uint8_t *scratch;	/* CHUNK_BYTES, aligned: reads and zeroes */
	uint64_t written;	/* data bytes written */
	uint64_t zeroed;	/* bytes zeroed on the device */
	uint64_t skipped;	/* zero bytes left to --target-is-zero */
	enum zero_method zero_method;
	bool verify_failed;
	uint64_t mismatch;	/* first differing byte */
	struct progress progress;
	const char *phase;	/* "writing", "verifying" */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void restore_usage(FILE *out)
{
	fprintf(out,
		"Usage: cowbackup-ctl restore IMAGE DEVICE [options]\n"
		"\n"
		"Write the contents of IMAGE (raw, qcow2 with its backing chain,\n"
		"or VMDK monolithicSparse/streamOptimized) to block device\n"
		"DEVICE. DEVICE is checked as a backup target is: never a\n"
		"mounted, held or in-use device, one holding the image, or one\n"
		"smaller than the image; one with a signature only with --force.\n"
		"qcow2 backing files are followed relative to the image that\n"
		"names them; the chain is printed before anything is written.\n"
		"\n"
		"  -f, --force            write over a filesystem, LVM or partition\n"
		"                         signature; restore an incomplete backup\n"
		"      --verify           read DEVICE back (O_DIRECT) and compare\n"
		"      --no-backing       refuse an image that has a backing file\n"
		"      --target-is-zero   DEVICE already reads as zeroes: do not\n"
		"                         write the image's zero ranges\n"
		"      --json             print a JSON summary on standard output\n"
		"  -q, --quiet            no progress output\n"
		"      --interval SECS    seconds between plain progress lines (5)\n"
		"  -h, --help             show this help\n"
		"\n"
		"Exit status: 0 restored (and verified), 1 failure or a verify\n"
		"mismatch, 2 usage error.\n");
}

static int parse_restore_args(int argc, char **argv, struct restore_opts *o)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "no-backing", no_argument, NULL, OPT_NO_BACKING },
		{ "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fqh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->force = true;
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case OPT_NO_BACKING:
			o->follow_backing = false;
			break;
		case OPT_TARGET_IS_ZERO:
			o->target_is_zero = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_INTERVAL:
			if (parse_seconds(optarg, 0.1, 3600, &o->interval))
				return usage_error("restore", "--interval: '%s' is not a number of seconds from 0.1 to 3600",
						   optarg);
			break;
		case 'h':
			restore_usage(stdout);
			return EXIT_OK;
		default:
			return usage_error("restore", "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return usage_error("restore", "expected IMAGE and DEVICE");
	o->image = argv[optind];
	o->device = argv[optind + 1];
	return -1;
}

/*------------------------------------------------------------------*/
/* The chain, shown */

static void print_chain(const struct chain *c, FILE *out)
{
	char size[64];
	unsigned int i;

	fprintf(out, "Backing chain (%u image%s, top first):\n", c->count,
		c->count == 1 ? "" : "s");
	for (i = 0; i < c->count; i++) {
		const struct chain_layer *l = &c->layer[i];

		fprintf(out, "  %u  %s  %s  %s", i, l->path,
			img_format_name(l->img.format),
			format_size_long(l->img.virtual_size, size,
					 sizeof(size)));
		if (l->recorded && strcmp(l->recorded, l->path))
			fprintf(out, "  (recorded as %s)", l->recorded);
		fputc('\n', out);
	}
}

static void json_chain(struct json *j, const struct chain *c)
{
	unsigned int i;

	json_array_begin(j, "chain");
	for (i = 0; i < c->count; i++) {
		const struct chain_layer *l = &c->layer[i];

		json_object_begin(j, NULL);
		json_str(j, "path", l->path);
		json_str(j, "format", img_format_name(l->img.format));
		json_u64(j, "virtual_size", l->img.virtual_size);
		if (l->recorded)
			json_str(j, "recorded_as", l->recorded);
		else
			json_null(j, "recorded_as");
		json_object_end(j);
	}
	json_array_end(j);
}

/* An incomplete backup anywhere in the chain: refused unless --force. */
static int refuse_incomplete(const struct chain *c, bool force)
{
	unsigned int i;

	for (i = 0; i < c->count; i++)
		if (incomplete_refuse(c->layer[i].path,
				      c->layer[i].img.src.fd, force,
				      "restore"))
			return -1;
	return 0;
}

/*------------------------------------------------------------------*/
/* The device */

/* The devices holding the chain's files, which DEVICE must not touch. */
struct origins {
	struct blockdev dev[CHAIN_MAX_LAYERS];
	struct safety_origin o[CHAIN_MAX_LAYERS];
	char is[CHAIN_MAX_LAYERS][PATH_MAX + 64];
	size_t count;
};

static void find_origins(const struct chain *c, struct origins *og)
{
	unsigned int i;

	og->count = 0;
	for (i = 0; i < c->count; i++) {
		const struct chain_layer *l = &c->layer[i];
		bool bdev = l->img.src.is_blockdev;
		dev_t d = bdev ? l->img.src.rdev : l->dev;
		struct blockdev *bd = &og->dev[og->count];

		/* tmpfs, 9p, NFS: files on no block device of ours. */
		if (!sysfs_exists(major(d), minor(d), "dev") ||
		    blockdev_from_devno(major(d), minor(d), bd))
			continue;
		snprintf(og->is[og->count], sizeof(og->is[0]), "%s %s",
			 bdev ? "the image" : "the device holding image file",
			 l->path);
		og->o[og->count].dev = bd;
		og->o[og->count].is = og->is[og->count];
		og->o[og->count].overlaps = og->is[og->count];
		og->count++;
	}
}

static int open_device(struct restore *r, const struct chain *c)
{
	struct origins *og = calloc(1, sizeof(*og));
	int flags;

	if (!og) {
		err_msg("%s: out of memory", r->o->device);
		return -1;
	}
	if (blockdev_resolve(r->o->device, &r->dev)) {
		free(og);
		return -1;
	}
	find_origins(c, og);
	r->fd = safety_check_write_target(&r->dev, r->size, "the image",
					  og->o, og->count, r->o->force);
	free(og);
	if (r->fd < 0)
		return -1;
	if (ioctl(r->fd, BLKSSZGET, &flags) || flags < 512 ||
	    flags > BUF_ALIGN || (flags & (flags - 1))) {
		err_msg("%s: cannot get a usable logical block size",
			r->dev.path);
		return -1;
	}
	r->block = (uint32_t)flags;
	/* Without O_DIRECT (some drivers) the page cache takes the data. */
	flags = fcntl(r->fd, F_GETFL);
	if (flags >= 0)
		fcntl(r->fd, F_SETFL, flags | O_DIRECT);
	r->read_fd = open(r->dev.path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (r->read_fd < 0)
		r->read_fd = open(r->dev.path, O_RDONLY | O_CLOEXEC);
	if (r->read_fd < 0) {
		err_msg("%s: cannot open it for reading: %s", r->dev.path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* All of @len bytes at @off, read or written; one error line if not. */
static int device_io(struct restore *r, bool write, uint8_t *buf, size_t len,
		     uint64_t off)
{
	while (len) {
		ssize_t n = write ? pwrite(r->fd, buf, len, (off_t)off) :
				    pread(r->read_fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_msg("%s: %s at byte %" PRIu64 " failed: %s",
				r->dev.path, write ? "write" : "read", off,
				n < 0 ? strerror(errno) : "end of device");
			return -1;
		}
		buf += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(struct restore *r, const uint8_t *buf, size_t len,
		     uint64_t off)
{
	/* pwrite() does not write through the pointer. */
	return device_io(r, true, (uint8_t *)buf, len, off);
}

static int read_all(struct restore *r, uint8_t *buf, size_t len, uint64_t off)
{
	return device_io(r, false, buf, len, off);
}

/* @len < one block at block-aligned @off: read, patch, write the block. */
static int write_tail(struct restore *r, const uint8_t *buf, size_t len,
		      uint64_t off)
{
	if (read_all(r, r->scratch, r->block, off))
		return -1;
	if (buf)
		memcpy(r->scratch, buf, len);
	else
		memset(r->scratch, 0, len);
	return write_all(r, r->scratch, r->block, off);
}

static void show_progress(struct restore *r, uint64_t done)
{
	struct progress_sample s = {
		.name = "restore", .done = done, .total = r->size,
		.state = r->phase,
	};

	progress_show_sample(&r->progress, &s);
}

static int check_interrupted(struct restore *r)
{
	if (!interrupted)
		return 0;
	progress_break(&r->progress);
	err_msg("%s: interrupted", r->dev.path);
	return -1;
}

/*------------------------------------------------------------------*/
/* Writing */

static int put_data(void *ctx, uint64_t off, const uint8_t *buf, size_t len)
{
	struct restore *r = ctx;
	size_t whole = len - len % r->block;

	if (check_interrupted(r))
		return -1;
	if (whole && write_all(r, buf, whole, off))
		return -1;
	if (whole < len && write_tail(r, buf + whole, len - whole, off + whole))
		return -1;
	r->written += len;
	show_progress(r, off + len);
	return 0;
}

/* BLKZEROOUT, or 1 when the device cannot do it (zero writes then). */
static int zero_out(struct restore *r, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };

	if (r->zero_method == ZERO_WRITES)
		return 1;
	if (!ioctl(r->fd, BLKZEROOUT, range)) {
		r->zero_method = ZERO_ZEROOUT;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL) {
		r->zero_method = ZERO_WRITES;
		return 1;
	}
	err_msg("%s: zeroing %" PRIu64 " bytes at byte %" PRIu64
		" failed: %s", r->dev.path, len, off, strerror(errno));
	return -1;
}

static int write_zeroes(struct restore *r, uint64_t off, uint64_t len)
{
	memset(r->scratch, 0, CHUNK_BYTES);
	while (len) {
		size_t n = len < CHUNK_BYTES ? (size_t)len : CHUNK_BYTES;

		if (check_interrupted(r) || write_all(r, r->scratch, n, off))
			return -1;
		off += n;
		len -= n;
		show_progress(r, off);
	}
	return 0;
}

static int put_zero(void *ctx, uint64_t off, uint64_t len)
{
	struct restore *r = ctx;
	uint64_t end = off + len, whole = len - len % r->block;

	if (r->o->target_is_zero) {
		r->zero_method = ZERO_SKIPPED;
		r->skipped += len;
		show_progress(r, end);
		return 0;
	}
	while (whole) {
		uint64_t n = whole < ZERO_SLICE ? whole : ZERO_SLICE;
		int z;

		if (check_interrupted(r))
			return -1;
		z = zero_out(r, off, n);
		if (z < 0 || (z > 0 && write_zeroes(r, off, n)))
			return -1;
		off += n;
		whole -= n;
		r->zeroed += n;
		show_progress(r, off);
	}
	if (off < end) {
		if (write_tail(r, NULL, (size_t)(end - off), off))
			return -1;
		r->zeroed += end - off;
	}
	show_progress(r, end);
	return 0;
}

static int restore_write(struct restore *r, struct chain *c)
{
	const struct chain_sink sink = {
		.zero = put_zero, .data = put_data, .ctx = r,
	};

	r->phase = "writing";
	if (chain_read_chunks(c, CHUNK_BYTES, r->chunk, &sink))
		return -1;
	if (fsync(r->fd)) {
		err_msg("%s: flushing the device failed: %s", r->dev.path,
			strerror(errno));
		return -1;
	}
	/* Needs CAP_SYS_ADMIN; without it the cache is merely stale-free. */
	ioctl(r->fd, BLKFLSBUF, 0);
	return 0;
}

/*------------------------------------------------------------------*/
/* Verifying */

static int mismatch_at(struct restore *r, uint64_t at)
{
	r->verify_failed = true;
	r->mismatch = at;
	return 1;	/* stops the walk; not an error line */
}

static int check_data(void *ctx, uint64_t off, const uint8_t *buf, size_t len)
{
	struct restore *r = ctx;
	size_t rounded = (len + r->block - 1) / r->block * r->block;
	size_t i;

	if (check_interrupted(r) || read_all(r, r->scratch, rounded, off))
		return -1;
	if (memcmp(r->scratch, buf, len)) {
		for (i = 0; r->scratch[i] == buf[i]; i++)
			;
		return mismatch_at(r, off + i);
	}
	show_progress(r, off + len);
	return 0;
}

static int check_zero(void *ctx, uint64_t off, uint64_t len)
{
	struct restore *r = ctx;

	while (len) {
		size_t n = len < CHUNK_BYTES ? (size_t)len : CHUNK_BYTES;
		size_t rounded = (n + r->block - 1) / r->block * r->block;
		size_t i;

		if (check_interrupted(r) ||
		    read_all(r, r->scratch, rounded, off))
			return -1;
		for (i = 0; i < n; i++)
			if (r->scratch[i])
				return mismatch_at(r, off + i);
		off += n;
		len -= n;
		show_progress(r, off);
	}
	return 0;
}

static int restore_verify(struct restore *r, struct chain *c)
{
	const struct chain_sink sink = {
		.zero = check_zero, .data = check_data, .ctx = r,
	};
	struct progress_sample s = {
		.name = "restore", .done = r->size, .total = r->size,
		.state = "written", .final = true,
	};
	int ret;

	progress_end_sample(&r->progress, &s);
	progress_init(&r->progress, r->progress.out, r->o->interval,
		      r->o->quiet);
	r->phase = "verifying";
	ret = chain_read_chunks(c, CHUNK_BYTES, r->chunk, &sink);
	return ret < 0 ? -1 : 0;
}

/*------------------------------------------------------------------*/

static void print_summary(const struct restore *r, const struct chain *c)
{
	char a[64], b[64];

	if (r->o->json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_str(&j, "image", r->o->image);
		json_str(&j, "device", r->dev.path);
		json_u64(&j, "virtual_size", r->size);
		json_chain(&j, c);
		json_u64(&j, "bytes_written", r->written);
		json_u64(&j, "bytes_zeroed", r->zeroed);
		json_u64(&j, "bytes_skipped", r->skipped);
		json_str(&j, "zero_method", zero_method_names[r->zero_method]);
		json_str(&j, "verify", !r->o->verify ? "skipped" :
			 r->verify_failed ? "failed" : "passed");
		if (r->verify_failed)
			json_u64(&j, "verify_mismatch_offset", r->mismatch);
		else
			json_null(&j, "verify_mismatch_offset");
		json_object_end(&j);
		json_finish(&j);
		return;
	}
	printf("Restored %s to %s: %s written, %s zeroed (%s)", r->o->image,
	       r->dev.path, format_size_long(r->written, a, sizeof(a)),
	       format_size_long(r->zeroed, b, sizeof(b)),
	       zero_method_names[r->zero_method]);
	if (r->skipped)
		printf(", %s left as they were (--target-is-zero)",
		       format_size_long(r->skipped, a, sizeof(a)));
	printf("\n");
	if (r->o->verify && !r->verify_failed)
		printf("Verified: %s read back and identical to the image\n",
		       format_size_long(r->size, a, sizeof(a)));
}

static int run_restore(struct restore *r, struct chain *c)
{
	FILE *out = r->o->json ? stderr : stdout;
	struct progress_sample s = {
		.name = "restore", .total = r->size, .final = true,
	};

	if (posix_memalign((void **)&r->chunk, BUF_ALIGN, CHUNK_BYTES) ||
	    posix_memalign((void **)&r->scratch, BUF_ALIGN, CHUNK_BYTES)) {
		err_msg("%s: out of memory", r->o->device);
		return -1;
	}
	if (!r->o->json)
		print_chain(c, stdout);
	if (refuse_incomplete(c, r->o->force) || open_device(r, c))
		return -1;
	progress_init(&r->progress, out, r->o->interval, r->o->quiet);
	if (restore_write(r, c)) {
		progress_break(&r->progress);
		err_msg("%s: restore failed; the device holds a partial image",
			r->dev.path);
		return -1;
	}
	if (r->o->verify && restore_verify(r, c)) {
		progress_break(&r->progress);
		return -1;
	}
	s.done = r->size;
	s.state = r->o->verify ? (r->verify_failed ? "mismatch" : "verified") :
				 "written";
	progress_end_sample(&r->progress, &s);
	print_summary(r, c);
	if (r->verify_failed) {
		err_msg("%s: verify failed: byte %" PRIu64 " differs from the image",
			r->dev.path, r->mismatch);
		return -1;
	}
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = { .follow_backing = true, .interval = 5.0 };
	struct restore r = { .o = &o, .fd = -1, .read_fd = -1 };
	struct sigaction sa;
	struct chain *c;
	int ret;

	ret = parse_restore_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	c = malloc(sizeof(*c));
	if (!c) {
		err_msg("%s: out of memory", o.image);
		return EXIT_FAIL;
	}
	if (chain_open(c, o.image, o.follow_backing)) {
		free(c);
		return EXIT_FAIL;
	}
	r.size = chain_size(c);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = run_restore(&r, c);
	if (r.fd >= 0)
		close(r.fd);
	if (r.read_fd >= 0)
		close(r.read_fd);
	free(r.chunk);
	free(r.scratch);
	chain_close(c);
	free(c);
	return ret ? EXIT_FAIL : EXIT_OK;
}
