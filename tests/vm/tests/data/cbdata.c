// SPDX-License-Identifier: GPL-2.0
/*
 * Fast path of cbdata.py for the guest tests: `stamp`, `verify` and
 * `readerr` in C, because under TCG every Python start costs most of a
 * second and these run dozens of times per test. Same command line, same
 * data pattern, same diagnostics; any other subcommand is handed to
 * cbdata.py (found next to this file's binary through CBDATA_PY).
 *
 * Pattern: every 512-byte sector of image <seed> holds the pair
 * (seed, sector) as two little-endian u64, repeated 32 times; with
 * --holes K every K-th MiB is zeros; --shift N offsets the sector numbers.
 *
 * Built at test time by target-lib.sh into build/tests/; not installed.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#define SECTOR		512
#define MIB_SECTORS	2048
#define CHUNK		2048		/* sectors per I/O */
#define MAX_REPORT	8

struct opts {
	const char *dev;
	bool have_seed, zero;
	uint64_t seed, holes, shift, first, count, cluster;
	bool have_count;
	const char *image, *extents;
	uint64_t offset, length;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "cbdata: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		die("bad number '%s'", s);
	return v;
}

static void fill_sector(unsigned char *p, uint64_t seed, uint64_t sector,
			uint64_t holes)
{
	uint64_t pair[2] = { htole64(seed), htole64(sector) };
	int i;

	if (holes && (sector / MIB_SECTORS) % holes == holes - 1) {
		memset(p, 0, SECTOR);
		return;
	}
	for (i = 0; i < SECTOR / 16; i++)
		memcpy(p + i * 16, pair, 16);
}

static void describe(const unsigned char *p, char *out, size_t len)
{
	static const unsigned char zero[SECTOR];
	unsigned char want[SECTOR];
	uint64_t seed, sec;

	if (!memcmp(p, zero, SECTOR)) {
		snprintf(out, len, "zeros");
		return;
	}
	memcpy(&seed, p, 8);
	memcpy(&sec, p + 8, 8);
	seed = le64toh(seed);
	sec = le64toh(sec);
	fill_sector(want, seed, sec, 0);
	if (!memcmp(p, want, SECTOR))
		snprintf(out, len, "seed %#" PRIx64 " sector %" PRIu64,
			 seed, sec);
	else {
		size_t n = snprintf(out, len, "foreign data ");
		int i;

		for (i = 0; i < 16 && n + 3 < len; i++)
			n += snprintf(out + n, len - n, "%02x", p[i]);
	}
}

static int open_dev(const char *path, int flags, uint64_t *sectors)
{
	int fd = open(path, flags | O_DIRECT);
	uint64_t bytes;

	if (fd < 0) {
		fprintf(stderr, "cbdata: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (sectors) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			struct stat st;

			if (fstat(fd, &st) < 0)
				die("cannot size %s", path);
			bytes = st.st_size;
		}
		*sectors = bytes / SECTOR;
	}
	return fd;
}

static void *aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("out of memory%s", "");
	return p;
}

/* The ranges a command covers: --extents clusters, or first/count. */
struct range {
	uint64_t first, count;
};

static size_t ranges(const struct opts *o, uint64_t n, struct range **out)
{
	struct range *r = NULL;
	size_t nr = 0;
	char *text, *w, *save;

	if (!o->extents) {
		r = malloc(sizeof(*r));
		r->first = o->first;
		r->count = o->have_count ? o->count :
			   (n > o->first ? n - o->first : 0);
		*out = r;
		return 1;
	}
	text = strdup(o->extents);
	for (w = strtok_r(text, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		char *plus = strchr(w, '+');
		uint64_t a, b;

		if (!plus)
			continue;	/* next=... */
		*plus = 0;
		a = num(w) * o->cluster;
		b = num(plus + 1) * o->cluster;
		if (a >= n)
			die("extent past the end of %s", o->dev);
		if (a + b > n)
			b = n - a;
		r = realloc(r, (nr + 1) * sizeof(*r));
		r[nr].first = a;
		r[nr].count = b;
		nr++;
	}
	free(text);
	*out = r;
	return nr;
}

static int cmd_stamp(const struct opts *o)
{
	unsigned char *buf = aligned(CHUNK * SECTOR);
	struct range *r;
	uint64_t n, s, k, i;
	size_t nr, j;
	int fd;

	if (!o->have_seed)
		die("stamp needs --seed%s", "");
	fd = open_dev(o->dev, O_RDWR, &n);
	nr = ranges(o, n, &r);
	for (j = 0; j < nr; j++) {
		for (s = r[j].first; s < r[j].first + r[j].count; s += k) {
			k = r[j].first + r[j].count - s;
			if (k > CHUNK)
				k = CHUNK;
			for (i = 0; i < k; i++)
				fill_sector(buf + i * SECTOR, o->seed,
					    s + i + o->shift, o->holes);
			if (pwrite(fd, buf, k * SECTOR, s * SECTOR) !=
			    (ssize_t)(k * SECTOR)) {
				fprintf(stderr, "cbdata: %s: write at sector %" PRIu64 ": %s\n",
					o->dev, s, strerror(errno));
				return 1;
			}
		}
	}
	if (fsync(fd) < 0)
		return 1;
	close(fd);
	return 0;
}

static int cmd_verify(const struct opts *o)
{
	unsigned char *got = aligned(CHUNK * SECTOR);
	unsigned char *want = malloc(CHUNK * SECTOR);
	uint64_t n, s, k, i, bad = 0, total = 0;
	struct range *r;
	int fd, img = -1;
	size_t nr, j;
	char d1[80], d2[80];

	if (!o->have_seed && !o->zero && !o->image)
		die("verify needs --seed, --image or --zero%s", "");
	fd = open_dev(o->dev, O_RDONLY, &n);
	if (o->image) {
		img = open(o->image, O_RDONLY);
		if (img < 0)
			die("cannot open image %s", o->image);
	}
	nr = ranges(o, n, &r);
	for (j = 0; j < nr; j++) {
		total += r[j].count;
		for (s = r[j].first; s < r[j].first + r[j].count; s += k) {
			k = r[j].first + r[j].count - s;
			if (k > CHUNK)
				k = CHUNK;
			if (pread(fd, got, k * SECTOR, s * SECTOR) !=
			    (ssize_t)(k * SECTOR)) {
				printf("# %s: read error at sector %" PRIu64 ": %s\n",
				       o->dev, s, strerror(errno));
				return 1;
			}
			if (img >= 0) {
				if (pread(img, want, k * SECTOR, s * SECTOR) !=
				    (ssize_t)(k * SECTOR))
					die("image %s too short", o->image);
			} else if (o->zero) {
				memset(want, 0, k * SECTOR);
			} else {
				for (i = 0; i < k; i++)
					fill_sector(want + i * SECTOR, o->seed,
						    s + i + o->shift, o->holes);
			}
			if (!memcmp(got, want, k * SECTOR))
				continue;
			for (i = 0; i < k; i++) {
				if (!memcmp(got + i * SECTOR, want + i * SECTOR,
					    SECTOR))
					continue;
				if (++bad <= MAX_REPORT) {
					describe(want + i * SECTOR, d1, sizeof(d1));
					describe(got + i * SECTOR, d2, sizeof(d2));
					printf("# %s: sector %" PRIu64 ": expected %s, found %s\n",
					       o->dev, s + i, d1, d2);
				}
			}
		}
	}
	if (bad)
		printf("# %s: %" PRIu64 " of %" PRIu64 " sectors differ\n",
		       o->dev, bad, total);
	return bad ? 1 : 0;
}

static int cmd_readerr(const struct opts *o)
{
	unsigned char *buf = aligned(o->length);
	int fd = open(o->dev, O_RDONLY | O_DIRECT);
	ssize_t r;

	if (fd < 0) {
		printf("# open %s: %s\n", o->dev, strerror(errno));
		return 1;
	}
	r = pread(fd, buf, o->length, o->offset);
	if (r < 0) {
		printf("# read %s at %" PRIu64 ": %s\n", o->dev, o->offset,
		       strerror(errno));
		return errno == EIO ? 0 : 1;
	}
	printf("# read %s at %" PRIu64 " succeeded (%zd bytes)\n", o->dev,
	       o->offset, r);
	return 1;
}

static void to_python(char **argv)
{
	const char *py = getenv("CBDATA_PY");
	char **args;
	int n = 0, i;

	if (!py)
		die("CBDATA_PY is not set%s", "");
	while (argv[n])
		n++;
	args = calloc(n + 3, sizeof(*args));
	args[0] = "python3";
	args[1] = (char *)py;
	for (i = 1; i <= n; i++)
		args[i + 1] = argv[i];
	execvp("python3", args);
	die("cannot run python3: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct opts o = { .cluster = 128, .length = 4096 };
	const char *cmd;
	int i;

	if (argc < 3)
		die("usage: cbdata stamp|verify|readerr DEV [options]%s", "");
	cmd = argv[1];
	if (strcmp(cmd, "stamp") && strcmp(cmd, "verify") &&
	    strcmp(cmd, "readerr"))
		to_python(argv);
	o.dev = argv[2];
	for (i = 3; i < argc; i++) {
		const char *k = argv[i];

		if (!strcmp(k, "--zero")) {
			o.zero = true;
			continue;
		}
		if (i + 1 >= argc)
			die("%s needs a value", k);
		if (!strcmp(k, "--seed")) {
			o.seed = num(argv[++i]);
			o.have_seed = true;
		} else if (!strcmp(k, "--holes")) {
			o.holes = num(argv[++i]);
		} else if (!strcmp(k, "--shift")) {
			o.shift = num(argv[++i]);
		} else if (!strcmp(k, "--first")) {
			o.first = num(argv[++i]);
		} else if (!strcmp(k, "--count")) {
			o.count = num(argv[++i]);
			o.have_count = true;
		} else if (!strcmp(k, "--cluster")) {
			o.cluster = num(argv[++i]);
		} else if (!strcmp(k, "--image")) {
			o.image = argv[++i];
		} else if (!strcmp(k, "--extents")) {
			o.extents = argv[++i];
		} else if (!strcmp(k, "--offset")) {
			o.offset = num(argv[++i]);
		} else if (!strcmp(k, "--length")) {
			o.length = num(argv[++i]);
		} else {
			die("unknown option %s", k);
		}
	}
	if (!strcmp(cmd, "stamp"))
		return cmd_stamp(&o);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(&o);
	return cmd_readerr(&o);
}
