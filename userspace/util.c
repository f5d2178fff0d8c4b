// SPDX-License-Identifier: GPL-2.0
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void err_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("cowbackup-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("cowbackup-ctl: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'cowbackup-ctl %s%s--help')\n",
		cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* Is there a line "<minor> <name>" in /proc/misc? */
static bool misc_device_exists(const char *name)
{
	char line[256], n[128];
	bool found = false;
	FILE *f = fopen("/proc/misc", "re");

	if (!f)
		return true;	/* cannot tell: let libdevmapper try */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*u %127s", n) == 1 && !strcmp(n, name);
	fclose(f);
	return found;
}

int dm_access_check(void)
{
	static const char control[] = "/dev/mapper/control";
	int fd = open(control, O_RDWR | O_CLOEXEC);
	int e = errno;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (e == EACCES || e == EPERM) {
		err_msg("needs root: cannot open %s: %s", control, strerror(e));
		return -1;
	}
	if (e == ENOENT || e == ENODEV || e == ENXIO) {
		if (!misc_device_exists("device-mapper")) {
			err_msg("device-mapper not available (no device-mapper in /proc/misc; load dm-mod)");
			return -1;
		}
		if (geteuid() != 0) {
			err_msg("needs root: cannot open %s: %s", control,
				strerror(e));
			return -1;
		}
		return 0;	/* libdevmapper creates the node itself */
	}
	err_msg("cannot open %s: %s", control, strerror(e));
	return -1;
}

int parse_u64(const char *text, uint64_t *value)
{
	unsigned long long v;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		return -1;
	*value = v;
	return 0;
}

/*
 * The unit: "" or "B" = bytes; a letter K M G T P E (either case) or the
 * letter + "iB" = 1024^n (lvm2: input units are binary whatever the
 * case); the letter + "B" = 1000^n (SI, as in "200MB").
 */
static int parse_unit(const char *suffix, unsigned int *power, bool *si)
{
	static const char units[] = "KMGTPE";
	const char *u;

	*power = 0;
	*si = false;
	if (!*suffix || !strcmp(suffix, "B") || !strcmp(suffix, "b"))
		return *suffix && suffix[1] ? -1 : 0;
	u = strchr(units, toupper((unsigned char)suffix[0]));
	if (!u || !*u)
		return -1;
	*power = (unsigned int)(u - units) + 1;
	suffix++;
	if (!*suffix || !strcasecmp(suffix, "ib"))
		return 0;
	if (!strcasecmp(suffix, "b")) {
		*si = true;
		return 0;
	}
	return -1;
}

int parse_size(const char *text, uint64_t *bytes)
{
	uint64_t whole = 0, frac_num = 0, frac_den = 1, mult = 1;
	unsigned int power, i;
	const char *p = text;
	bool si;

	if (!text || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (frac_den >= 1000000000ULL)
				continue;	/* ignore digits past 1e-9 */
			frac_num = frac_num * 10 + (uint64_t)(*p - '0');
			frac_den *= 10;
		}
	}
	if (parse_unit(p, &power, &si))
		return -1;
	for (i = 0; i < power; i++)
		mult *= si ? 1000 : 1024;	/* at most 1024^6 = 2^60 */
	if (__builtin_mul_overflow(whole, mult, &whole))
		return -1;
	if (frac_num) {
		/* frac_num / frac_den < 1, so this stays below mult. */
		unsigned __int128 f = (unsigned __int128)frac_num * mult;
		uint64_t add = (uint64_t)(f / frac_den);

		if (whole > UINT64_MAX - add)
			return -1;
		whole += add;
	}
	*bytes = whole;
	return 0;
}

int parse_rate(const char *text, uint64_t *rate)
{
	char buf[64];
	size_t n;
	uint64_t v;

	if (!text)
		return -1;
	n = strlen(text);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n + 1);
	if (n > 2 && !strcmp(buf + n - 2, "/s"))
		buf[n - 2] = '\0';
	if (parse_size(buf, &v))
		return -1;
	if (v && v < RATE_MIN_BYTES)
		return -2;
	*rate = v;
	return 0;
}

int parse_seconds(const char *text, double min, double max, double *secs)
{
	const char *p = text;
	int digits = 0, dots = 0;
	char *end;
	double v;

	if (!text)
		return -1;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (*p == '.' && !dots)
			dots++;
		else
			return -1;
	}
	/* "1." is refused as in parse_size(); ".5" is fine. */
	if (!digits || (dots && text[strlen(text) - 1] == '.'))
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno || *end || !(v >= min && v <= max))
		return -1;
	*secs = v;
	return 0;
}

const char *format_size_short(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {
		"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	unsigned int i = 0;
	double v = (double)bytes;

	/* Past 1 KiB switch units at 1000, so "%.3g" needs no exponent. */
	while (bytes >= 1024 && v >= 1000.0 && i < 6) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.3g %s", v, units[i]);
	return buf;
}

/* "4 MiB<unit> (4194304 bytes<unit>)", or plain bytes below 1 KiB. */
static const char *format_long(uint64_t bytes, const char *unit, char *buf,
			       size_t len)
{
	char s[32];

	if (bytes < 1024)
		snprintf(buf, len, "%" PRIu64 " bytes%s", bytes, unit);
	else
		snprintf(buf, len, "%s%s (%" PRIu64 " bytes%s)",
			 format_size_short(bytes, s, sizeof(s)), unit, bytes,
			 unit);
	return buf;
}

const char *format_size_long(uint64_t bytes, char *buf, size_t len)
{
	return format_long(bytes, "", buf, len);
}

const char *format_rate_short(uint64_t rate, char *buf, size_t len)
{
	char s[32];

	snprintf(buf, len, "%s/s", format_size_short(rate, s, sizeof(s)));
	return buf;
}

const char *format_rate_long(uint64_t rate, char *buf, size_t len)
{
	return format_long(rate, "/s", buf, len);
}

int run_program(char *const argv[], bool with_stderr, char *out, size_t len)
{
	int pfd[2], status, null;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		dup2(pfd[1], 1);
		if (with_stderr)
			dup2(pfd[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	/* Read to the end: a full pipe would block the program. */
	for (;;) {
		char sink[512];

		if (out && got + 1 < len)
			n = read(pfd[0], out + got, len - 1 - got);
		else
			n = read(pfd[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < len)
			got += (size_t)n;
	}
	if (out && len)
		out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = -1;

	if (!f)
		return -1;
	if (fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		r = 0;
	}
	fclose(f);
	return r;
}

int make_run_dir(const char *dir, unsigned int mode)
{
	if ((mkdir("/run/cowbackup", 0755) && errno != EEXIST) ||
	    (mkdir(dir, (mode_t)mode) && errno != EEXIST))
		return -1;
	return 0;
}

/* mkdir -p @dir (mode 0755). */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX], *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

int write_file_atomic(const char *path, const char *text)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16], *slash;
	size_t len = strlen(text), done = 0;
	int fd, dfd, saved;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		*slash = '\0';
		if (slash != dir && make_dirs(dir))
			return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fchmod(fd, 0644) || fsync(fd) || close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	dfd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY |
		   O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
