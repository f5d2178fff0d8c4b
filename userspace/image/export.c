// SPDX-License-Identifier: GPL-2.0
/*
 * `cowbackup-ctl export JOB OUTPUT --format qcow2|vmdk`: write a backup as
 * a sparse image.
 *
 * The source is either a job (its target device, read only where the
 * kernel's `bitmap` says clusters were copied) or, with --all, a plain
 * device or file holding a completed full backup. Either way it is read
 * once, in order, in chunks; each cluster is handed to the format writer
 * as data or, when it is all zeroes, as a zero cluster. Clusters the job
 * never copied stay unallocated, so they read from --backing.
 *
 * The image is written under a temporary name in OUTPUT's directory,
 * fsynced, and renamed over OUTPUT only when complete; an existing OUTPUT
 * is replaced only with --force.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "image/export.h"
#include "image/image.h"
#include "image/incomplete.h"
#include "image/vmdk.h"
#include "job_extents.h"
#include "util.h"

#define CHUNK_BYTES	(1u << 20)
#define MAX_THREADS	64u

static const char *const adapter_types[] = {
	"ide", "buslogic", "lsilogic", "legacyESX",
};
static const char *const subformats[] = {
	"monolithicSparse", "streamOptimized",
};

struct export_opts {
	const char *job;
	const char *output;
	const char *format;
	const char *backing;
	const char *subformat;
	const char *adapter_type;
	enum export_compress compress;
	unsigned int threads;
	bool all;
	bool force;
};

/* What is read: a device or file, and which of its clusters. */
struct source {
	const char *path;
	int fd;
	bool direct;			/* opened with O_DIRECT */
	bool seek_data;			/* regular file: SEEK_DATA/SEEK_HOLE */
	bool holes_are_zero;		/* holes must be written as zeroes */
	uint64_t size;
	uint64_t cluster_bytes;
	struct cluster_extent *ext;
	size_t count;
	struct cluster_extent whole;	/* --all: one extent */
	struct job_extents je;
	bool have_je;
	dev_t dev;
	ino_t ino;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void export_usage(FILE *out)
{
	fprintf(out,
		"Usage: cowbackup-ctl export JOB OUTPUT --format qcow2|vmdk|raw "
		"[options]\n"
		"\n"
		"Write the backup of JOB as a sparse image OUTPUT. Only clusters\n"
		"the job copied become data; all-zero clusters become zero\n"
		"entries; the rest stays unallocated (read from --backing).\n"
		"\n"
		"  --format qcow2|vmdk|raw image format (required); OUTPUT '-'\n"
		"                          is standard output, for raw and\n"
		"                          VMDK streamOptimized\n"
		"  --backing FILE          record FILE as the backing image (for\n"
		"                          sync=top/none); qcow2 also records its\n"
		"                          format, VMDK needs a VMDK parent\n"
		"  --subformat monolithicSparse|streamOptimized\n"
		"                          VMDK kind (default monolithicSparse)\n"
		"  --adapter-type ide|buslogic|lsilogic|legacyESX\n"
		"                          VMDK adapter type (default ide)\n"
		"  --compress[=zlib|zstd]  qcow2: compress every cluster (zlib\n"
		"                          when no codec is named; `--compress\n"
		"                          zstd` works too); VMDK\n"
		"                          streamOptimized is always compressed\n"
		"  --threads N             compression threads (default: the\n"
		"                          number of online CPUs, at most %u)\n"
		"  --all                   JOB is a device or file holding a\n"
		"                          completed full backup: export all of it\n"
		"  --force                 replace an existing OUTPUT; export an\n"
		"                          incomplete backup\n"
		"  --help                  show this help\n", MAX_THREADS);
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

static int parse_args(int argc, char **argv, struct export_opts *o)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "backing", required_argument, NULL, 'b' },
		{ "subformat", required_argument, NULL, 's' },
		{ "adapter-type", required_argument, NULL, 'a' },
		{ "compress", optional_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'A' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *codec = NULL;
	bool compress = false;
	uint64_t threads;
	long cpus;
	int c;

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS :
		     (unsigned int)cpus;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->format = optarg;
			break;
		case 'b':
			o->backing = optarg;
			break;
		case 's':
			o->subformat = optarg;
			break;
		case 'a':
			o->adapter_type = optarg;
			break;
		case 'c':
			compress = true;
			codec = optarg;
			/* `--compress zstd`: the codec as the next word. */
			if (!codec && optind < argc &&
			    (!strcmp(argv[optind], "zlib") ||
			     !strcmp(argv[optind], "zstd")))
				codec = argv[optind++];
			break;
		case 't':
			if (parse_u64(optarg, &threads) || !threads ||
			    threads > MAX_THREADS)
				return usage_error("export", "--threads '%s' is "
						   "not a number in 1..%u",
						   optarg, MAX_THREADS);
			o->threads = (unsigned int)threads;
			break;
		case 'A':
			o->all = true;
			break;
		case 'F':
			o->force = true;
			break;
		case 'h':
			export_usage(stdout);
			return 1;
		case ':':
			return usage_error("export", "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("export", "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return usage_error("export", "expected JOB and OUTPUT");
	o->job = argv[optind];
	o->output = argv[optind + 1];
	if (!o->format)
		return usage_error("export", "--format qcow2|vmdk is required");
	if (strcmp(o->format, "qcow2") && strcmp(o->format, "vmdk") &&
	    strcmp(o->format, "raw"))
		return usage_error("export", "--format '%s' is not qcow2, vmdk "
				   "or raw", o->format);
	if (strcmp(o->format, "vmdk") && (o->subformat || o->adapter_type))
		return usage_error("export", "--subformat and --adapter-type "
				   "apply to --format vmdk only");
	if (!strcmp(o->format, "raw") && o->backing)
		return usage_error("export", "--backing needs --format qcow2 or "
				   "vmdk: a raw image has no backing file");
	if (!strcmp(o->output, "-") &&
	    (!strcmp(o->format, "qcow2") || (!strcmp(o->format, "vmdk") &&
	     (!o->subformat || strcmp(o->subformat, "streamOptimized")))))
		return usage_error("export", "OUTPUT '-' (standard output) needs a streamable format: --format raw, or --format vmdk --subformat streamOptimized; %s is written out of order",
				   strcmp(o->format, "qcow2") ?
				   "VMDK monolithicSparse" : "qcow2");
	if (compress && strcmp(o->format, "qcow2"))
		return usage_error("export", "--compress applies to --format "
				   "qcow2 only (VMDK streamOptimized is always "
				   "zlib-compressed)");
	if (codec && strcmp(codec, "zlib") && strcmp(codec, "zstd"))
		return usage_error("export", "--compress '%s' is not zlib or "
				   "zstd", codec);
	if (compress)
		o->compress = codec && !strcmp(codec, "zstd") ?
			      EXPORT_COMPRESS_ZSTD : EXPORT_COMPRESS_ZLIB;
	if (o->subformat && !in_list(o->subformat, subformats, 2))
		return usage_error("export", "--subformat '%s' is not one of "
				   "monolithicSparse, streamOptimized",
				   o->subformat);
	if (o->adapter_type && !in_list(o->adapter_type, adapter_types, 4))
		return usage_error("export", "--adapter-type '%s' is not one "
				   "of ide, buslogic, lsilogic, legacyESX",
				   o->adapter_type);
	if (!*o->output)
		return usage_error("export", "OUTPUT is empty");
	return 0;
}

/*------------------------------------------------------------------------*/
/* Source */

static int open_device(struct source *s)
{
	struct stat st;

	s->fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		err_msg("%s: %s", s->path, strerror(errno));
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (S_ISBLK(st.st_mode)) {
		int direct;

		if (ioctl(s->fd, BLKGETSIZE64, &s->size) < 0) {
			err_msg("%s: cannot get the device size: %s", s->path,
				strerror(errno));
			return -1;
		}
		/*
		 * The target was written below any page cache we could share:
		 * read it with O_DIRECT where the device allows.
		 */
		direct = open(s->path, O_RDONLY | O_CLOEXEC | O_DIRECT);
		if (direct >= 0) {
			close(s->fd);
			s->fd = direct;
			s->direct = true;
		}
	} else if (S_ISREG(st.st_mode)) {
		s->size = (uint64_t)st.st_size;
		s->seek_data = true;
	} else {
		err_msg("%s: not a block device or regular file", s->path);
		return -1;
	}
	if (!s->direct && fcntl(s->fd, F_SETFL, 0) < 0) {
		err_msg("%s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_source_all(struct source *s, const char *path, bool force)
{
	s->path = path;
	if (open_device(s))
		return -1;
	if (incomplete_refuse(path, s->fd, force, "export"))
		return -1;
	if (!s->size) {
		err_msg("%s: empty, nothing to export", path);
		return -1;
	}
	s->cluster_bytes = EXPORT_DEFAULT_UNIT;
	s->whole.start = 0;
	s->whole.len = div_round_up(s->size, s->cluster_bytes);
	s->ext = &s->whole;
	s->count = 1;
	return 0;
}

static int check_job(struct source *s, const char *job, bool force)
{
	const struct job_extents *je = &s->je;
	uint64_t end = 0, limit;
	size_t i;

	if (!is_pow2(je->cluster_bytes) || je->cluster_bytes < 4096 ||
	    !je->size_bytes) {
		err_msg("%s: job has cluster size %" PRIu64 " and size %" PRIu64
			"; cannot export", job, je->cluster_bytes,
			je->size_bytes);
		return -1;
	}
	limit = div_round_up(je->size_bytes, je->cluster_bytes);
	for (i = 0; i < je->count; i++) {
		const struct cluster_extent *x = &je->extents[i];

		if (x->start < end || !x->len || x->len > limit ||
		    x->start > limit - x->len) {
			err_msg("%s: extent %" PRIu64 "+%" PRIu64 " is out of "
				"order or past the end", job, x->start, x->len);
			return -1;
		}
		end = x->start + x->len;
	}
	/*
	 * A full or top job's backup is incomplete until it completed with
	 * every write seen; sync=none is by design the copied clusters over
	 * a backing image.
	 */
	if (je->detached && !force) {
		err_msg("%s: incomplete backup: the job was detached (its device's table was replaced); refusing to export it without --force",
			job);
		return -1;
	}
	if (strcmp(je->state, "completed") && strcmp(je->sync, "none") &&
	    !force) {
		err_msg("%s: incomplete backup: the job is %s; refusing to export it without --force",
			job, je->state);
		return -1;
	}
	if (je->detached)
		fprintf(stderr, "cowbackup-ctl: %s: warning: job was detached; "
			"exporting the clusters it copied\n", job);
	else if (!strcmp(je->state, "failed") ||
		 !strcmp(je->state, "cancelled"))
		fprintf(stderr, "cowbackup-ctl: %s: warning: job is %s; "
			"exporting the clusters it copied\n", job, je->state);
	else if (!strcmp(je->state, "running") && strcmp(je->sync, "none"))
		fprintf(stderr, "cowbackup-ctl: %s: warning: job is still "
			"running; the image holds the clusters copied so far\n",
			job);
	return 0;
}

static int open_source_job(struct source *s, const char *job, bool force)
{
	if (job_get_extents(job, &s->je))
		return -1;
	s->have_je = true;
	if (check_job(s, job, force))
		return -1;
	s->path = s->je.target_path;
	if (open_device(s))
		return -1;
	if (s->size < s->je.size_bytes) {
		err_msg("%s: target %s (%" PRIu64 " bytes) is smaller than the "
			"job (%" PRIu64 " bytes)", job, s->path, s->size,
			s->je.size_bytes);
		return -1;
	}
	s->size = s->je.size_bytes;
	s->cluster_bytes = s->je.cluster_bytes;
	s->ext = s->je.extents;
	s->count = s->je.count;
	return 0;
}

static void close_source(struct source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->have_je)
		job_extents_free(&s->je);
}

/* Read @len bytes at @off; a short read at the end of the source is zeroed. */
static int read_at(struct source *s, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(s->fd, buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && s->direct) {
			/* The device refused O_DIRECT after all. */
			int fd = open(s->path, O_RDONLY | O_CLOEXEC);

			if (fd < 0)
				break;
			close(s->fd);
			s->fd = fd;
			s->direct = false;
			continue;
		}
		if (n < 0) {
			err_msg("%s: read at offset %" PRIu64 " failed: %s",
				s->path, off + done, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done < len)
		memset(buf + done, 0, len - done);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	static const uint8_t zero[16];

	if (len < 16)
		return !memcmp(p, zero, len);
	/* Zero at the start, and every byte equal to the one 16 before. */
	return !memcmp(p, zero, 16) && !memcmp(p, p + 16, len - 16);
}

/*------------------------------------------------------------------------*/
/* The copy loop */

/* Bytes read at a time: 1 MiB, or one unit when units are larger. */
static uint64_t chunk_bytes(uint64_t unit)
{
	return unit > CHUNK_BYTES ? unit : CHUNK_BYTES;
}

/* Units [first, last) are read and handed over as data or zeroes. */
static int copy_units(struct source *s, struct writer *w, uint64_t unit,
		      uint64_t first, uint64_t last, uint8_t *buf)
{
	uint64_t pos = first * unit;
	uint64_t end = last * unit < s->size ? last * unit : s->size;

	while (pos < end) {
		uint64_t chunk = chunk_bytes(unit);
		uint64_t n = end - pos < chunk ? end - pos : chunk;
		uint64_t units = div_round_up(n, unit), u;

		if (interrupted) {
			err_msg("export: interrupted");
			return -1;
		}
		if (read_at(s, buf, (size_t)(units * unit), pos))
			return -1;
		/* Past the end of the disk, the last unit reads as zeroes. */
		if (units * unit > n)
			memset(buf + n, 0, (size_t)(units * unit - n));
		for (u = 0; u < units; u++) {
			const uint8_t *p = buf + u * unit;

			if (w->put(w, pos / unit + u,
				   all_zero(p, (size_t)unit) ? NULL : p))
				return -1;
		}
		pos += n;
	}
	return 0;
}

/*
 * Units [first, last) lie in a hole of the source file: nothing to read.
 * Over a backing file they must read as zeroes; otherwise they stay
 * unallocated, which reads as zeroes too.
 */
static int skip_hole(struct source *s, struct writer *w, uint64_t first,
		     uint64_t last)
{
	uint64_t u;

	if (!s->holes_are_zero)
		return 0;
	for (u = first; u < last; u++) {
		if (interrupted) {
			err_msg("export: interrupted");
			return -1;
		}
		if (w->put(w, u, NULL))
			return -1;
	}
	return 0;
}

/*
 * Where the next data at or after @pos starts and ends, from the file's
 * own map; *data = *hole = @end when the rest is a hole. A file system
 * without SEEK_DATA makes everything data.
 */
static int next_data(struct source *s, uint64_t pos, uint64_t end,
		     uint64_t *data, uint64_t *hole)
{
	off_t d, h;

	d = lseek(s->fd, (off_t)pos, SEEK_DATA);
	if (d < 0 && errno == ENXIO) {
		*data = *hole = end;
		return 0;
	}
	if (d < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
		s->seek_data = false;
		*data = pos;
		*hole = end;
		return 0;
	}
	if (d < 0) {
		err_msg("%s: cannot find data (SEEK_DATA at %" PRIu64 "): %s",
			s->path, pos, strerror(errno));
		return -1;
	}
	h = lseek(s->fd, d, SEEK_HOLE);
	if (h < 0) {
		err_msg("%s: cannot find a hole (SEEK_HOLE at %" PRIu64 "): %s",
			s->path, (uint64_t)d, strerror(errno));
		return -1;
	}
	*data = (uint64_t)d < end ? (uint64_t)d : end;
	*hole = (uint64_t)h < end ? (uint64_t)h : end;
	return 0;
}

/*
 * One extent of copied clusters. A regular file is read only where it
 * has data (SEEK_DATA/SEEK_HOLE), so work follows the data, not the
 * virtual size; a block device is read in full and zero-detected.
 */
static int copy_extent(struct source *s, struct writer *w, uint64_t unit,
		       const struct cluster_extent *x, uint8_t *buf)
{
	uint64_t first = x->start * s->cluster_bytes / unit;
	uint64_t last = div_round_up((x->start + x->len) * s->cluster_bytes,
				     unit);
	uint64_t nunits = div_round_up(s->size, unit);

	if (last > nunits)
		last = nunits;
	while (first < last) {
		uint64_t data, hole, dfirst, dlast;

		if (!s->seek_data)
			return copy_units(s, w, unit, first, last, buf);
		if (next_data(s, first * unit, s->size, &data, &hole))
			return -1;
		dfirst = data / unit < last ? data / unit : last;
		dlast = div_round_up(hole, unit) < last ?
			div_round_up(hole, unit) : last;
		if (dlast < dfirst)
			dlast = dfirst;
		if (skip_hole(s, w, first, dfirst) ||
		    copy_units(s, w, unit, dfirst, dlast, buf))
			return -1;
		first = dlast;
	}
	return 0;
}

static int copy_all(struct source *s, struct writer *w, uint64_t unit)
{
	uint8_t *buf;
	size_t i;
	int ret = 0;

	/* Aligned for O_DIRECT; a whole number of units. */
	if (posix_memalign((void **)&buf, 4096, chunk_bytes(unit))) {
		err_msg("export: out of memory");
		return -1;
	}
	for (i = 0; i < s->count && !ret; i++)
		ret = copy_extent(s, w, unit, &s->ext[i], buf);
	free(buf);
	return ret;
}

/* In order, to a pipe: zeroes up to @off first. */
static int pipe_write(const struct out_file *o, const void *buf, size_t len,
		      uint64_t off)
{
	static const uint8_t zero[65536];
	const uint8_t *p = buf;

	if (off < *o->pos) {
		err_msg("%s: the format needs to seek back, which a stream cannot",
			o->path);
		return -1;
	}
	while (*o->pos < off || len) {
		const uint8_t *from = *o->pos < off ? zero : p;
		uint64_t want = *o->pos < off ? off - *o->pos : len;
		size_t n = want > sizeof(zero) && from == zero ? sizeof(zero) :
			   (size_t)want;
		ssize_t w = write(o->fd, from, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_msg("%s: write failed: %s", o->path,
				w < 0 ? strerror(errno) : "no progress");
			return -1;
		}
		*o->pos += (uint64_t)w;
		if (from == p) {
			p += w;
			len -= (size_t)w;
		}
	}
	return 0;
}

int out_write(const struct out_file *o, const void *buf, size_t len,
	      uint64_t off)
{
	const uint8_t *p = buf;

	if (o->pipe)
		return pipe_write(o, buf, len, off);

	while (len) {
		ssize_t n = pwrite(o->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_msg("%s: write at offset %" PRIu64 " failed: %s",
				o->path, off, n < 0 ? strerror(errno) :
				"no progress");
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*------------------------------------------------------------------------*/
/* Backing file, output file */

/* Probe --backing the way QEMU will resolve it: relative to OUTPUT. */
static int probe_backing(const struct export_opts *o, struct export_params *p,
			 char **fmt)
{
	char *dir_copy = strdup(o->output), *path = NULL;
	struct image img;
	int ret = -1;

	if (!dir_copy)
		return -1;
	if (o->backing[0] == '/' ||
	    asprintf(&path, "%s/%s", dirname(dir_copy), o->backing) < 0)
		path = strdup(o->backing);
	free(dir_copy);
	if (!path)
		return -1;
	if (image_open(&img, path))
		goto out;
	*fmt = strdup(img_format_name(img.format));
	if (!strcmp(o->format, "vmdk")) {
		if (img.format != IMG_VMDK) {
			err_msg("%s: a VMDK parent must be VMDK, this is %s",
				path, img_format_name(img.format));
		} else if (!img.vmdk->desc.has_cid) {
			err_msg("%s: CID: the parent has no CID", path);
		} else {
			p->backing_cid = img.vmdk->desc.cid;
			ret = 0;
		}
	} else {
		ret = *fmt ? 0 : -1;
	}
	image_close(&img);
out:
	free(path);
	return ret;
}

static int check_output(const struct export_opts *o, const struct source *s)
{
	struct stat st;

	if (lstat(o->output, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		err_msg("%s: %s", o->output, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		err_msg("%s: is a symbolic link; refusing to write through it (give the real path)",
			o->output);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_msg("%s: exists and is not a regular file", o->output);
		return -1;
	}
	if (st.st_dev == s->dev && st.st_ino == s->ino) {
		err_msg("%s: is the source of the export", o->output);
		return -1;
	}
	if (!o->force) {
		err_msg("%s: already exists (use --force to replace it)",
			o->output);
		return -1;
	}
	return 0;
}

static int make_temp(const char *output, char **tmp, int *fd)
{
	char *a = strdup(output), *b = strdup(output);
	int ret = -1;

	if (!a || !b ||
	    asprintf(tmp, "%s/.%s.XXXXXX", dirname(a), basename(b)) < 0) {
		*tmp = NULL;
		err_msg("export: out of memory");
		goto out;
	}
	*fd = mkostemp(*tmp, O_CLOEXEC);
	if (*fd < 0) {
		err_msg("%s: cannot create a temporary file: %s", *tmp,
			strerror(errno));
		free(*tmp);
		*tmp = NULL;
		goto out;
	}
	/* A whole disk: owner only, whatever the umask (mkostemp: 0600). */
	if (fchmod(*fd, 0600) < 0) {
		err_msg("%s: %s", *tmp, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(a);
	free(b);
	return ret;
}

/* fsync, rename over OUTPUT, fsync the directory. */
static int commit_output(const char *tmp, int fd, const char *output)
{
	char *d = strdup(output);
	int dfd;

	if (fsync(fd) < 0) {
		err_msg("%s: fsync failed: %s", output, strerror(errno));
		free(d);
		return -1;
	}
	if (rename(tmp, output) < 0) {
		err_msg("%s: cannot rename %s into place: %s", output, tmp,
			strerror(errno));
		free(d);
		return -1;
	}
	if (d) {
		dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(d);
	}
	return 0;
}

/*------------------------------------------------------------------------*/

static int run_export(const struct export_opts *o, struct source *s)
{
	struct export_params p = { 0 };
	bool to_stdout = !strcmp(o->output, "-");
	uint64_t pos = 0;
	struct out_file out = { .fd = -1, .path = to_stdout ?
				"standard output" : o->output,
				.pipe = to_stdout, .pos = &pos };
	char *tmp = NULL, *fmt = NULL;
	char *name = strdup(to_stdout ? "export.vmdk" : o->output);
	bool vmdk = !strcmp(o->format, "vmdk");
	bool raw = !strcmp(o->format, "raw");
	struct writer *w = NULL;
	uint64_t max_unit = vmdk ? VMDK_WRITE_MAX_GRAIN : raw ? CHUNK_BYTES :
				   QCOW2_WRITE_MAX_CLUSTER;
	int ret = -1;

	if (!name)
		return -1;
	if (to_stdout && isatty(1)) {
		err_msg("export: standard output is a terminal; redirect it or name an OUTPUT file");
		goto out;
	}
	if (!to_stdout && check_output(o, s))
		goto out;
	if (o->backing) {
		if (probe_backing(o, &p, &fmt))
			goto out;
		p.backing = o->backing;
		p.backing_format = vmdk ? NULL : fmt;
	} else if (s->have_je && strcmp(s->je.sync, "full")) {
		fprintf(stderr, "cowbackup-ctl: %s: warning: sync=%s without "
			"--backing: clusters not copied will read as zeroes\n",
			o->job, s->je.sync);
	}
	s->holes_are_zero = o->backing != NULL;
	p.size = s->size;
	if (!raw && s->size % 512)
		fprintf(stderr, "cowbackup-ctl: %s: note: %" PRIu64 " bytes is "
			"not a multiple of 512; the image's virtual size is "
			"rounded up to %" PRIu64 " (the tail reads as zeroes)\n",
			s->path, s->size, div_round_up(s->size, 512) * 512);
	p.unit = s->cluster_bytes < max_unit ? s->cluster_bytes : max_unit;
	p.adapter_type = o->adapter_type ? o->adapter_type : "ide";
	p.compress = o->compress;
	p.threads = o->threads;
	p.stream = o->subformat && !strcmp(o->subformat, "streamOptimized");
	p.extent_name = basename(name);

	if (to_stdout) {
		out.fd = dup(1);
		signal(SIGPIPE, SIG_IGN);	/* EPIPE: one error line */
	} else if (make_temp(o->output, &tmp, &out.fd)) {
		goto out;
	}
	w = vmdk ? vmdk_writer_new(&out, &p) : raw ? raw_writer_new(&out, &p) :
	    qcow2_writer_new(&out, &p);
	if (!w || copy_all(s, w, p.unit) || w->finish(w) ||
	    (!to_stdout && commit_output(tmp, out.fd, o->output)))
		goto out;
	/* The summary must not go into the image. */
	fprintf(to_stdout ? stderr : stdout,
		"%s: %s, %" PRIu64 " data and %" PRIu64 " zero clusters of %"
		PRIu64 " bytes", to_stdout ? "-" : o->output, vmdk ?
		(p.stream ? "vmdk streamOptimized" : "vmdk monolithicSparse") :
		raw ? "raw" : "qcow2", w->data_units, w->zero_units, p.unit);
	if (p.compress || p.stream)
		fprintf(to_stdout ? stderr : stdout, "; %" PRIu64 " compressed "
			"(%s)", w->compressed_units, p.compress ==
			EXPORT_COMPRESS_ZSTD ? "zstd" : "zlib");
	fputc('\n', to_stdout ? stderr : stdout);
	free(tmp);
	tmp = NULL;
	ret = 0;
out:
	if (w)
		w->destroy(w);
	if (out.fd >= 0)
		close(out.fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(fmt);
	free(name);
	return ret;
}

int cmd_export(int argc, char **argv)
{
	struct export_opts o = { 0 };
	struct source s = { .fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal }, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	int ret, i;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret == 1 ? EXIT_OK : ret;
	ret = o.all ? open_source_all(&s, o.job, o.force) :
		      open_source_job(&s, o.job, o.force);
	if (ret) {
		close_source(&s);
		return EXIT_FAIL;
	}
	/* Ctrl-C stops between chunks and removes the temporary file. */
	interrupted = 0;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	ret = run_export(&o, &s);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	close_source(&s);
	return ret ? EXIT_FAIL : EXIT_OK;
}
