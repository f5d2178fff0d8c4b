/* SPDX-License-Identifier: GPL-2.0 */
/* Error reporting, exit codes and size parsing shared by every command. */
#ifndef COWBACKUP_UTIL_H
#define COWBACKUP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum exit_status {
	EXIT_OK = 0,		/* success */
	EXIT_FAIL = 1,		/* the operation failed */
	EXIT_USAGE = 2,		/* bad command line */
};

/* One line on stderr: "cowbackup-ctl: <message>". */
void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like err_msg() plus a hint to run --help; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse "512", "64K", "200M", "1.5G", "2T" into bytes. Units follow lvm2's
 * size arguments: a single unit letter, in either case, is binary (k = K =
 * 1024, m = M = 1024^2, ... E), as is <letter>iB ("64KiB"). A unit letter
 * followed by B is decimal (SI): "200MB" = 200 * 10^6, "64kB" = 64000. A
 * bare "B" means bytes. Returns 0, or -1 on malformed input or overflow
 * (*bytes is then untouched).
 */
int parse_size(const char *text, uint64_t *bytes);

/* Smallest background copy limit accepted (0 = unlimited aside). */
#define RATE_MIN_BYTES	(64ULL * 1024)

/*
 * A rate in bytes per second: a size as parse_size() takes it, optionally
 * followed by "/s" ("200M", "200M/s", "100MB/s"); 0 = unlimited. Returns
 * 0, -1 when malformed or overflowing, -2 when not 0 and below
 * RATE_MIN_BYTES (*rate untouched on error).
 */
int parse_rate(const char *text, uint64_t *rate);

/*
 * Seconds as a plain decimal ("5", "0.5", ".5"): no sign, exponent, hex,
 * nan or inf. -1 unless @min <= value <= @max (*secs untouched).
 */
int parse_seconds(const char *text, double min, double max, double *secs);

/*
 * Can device-mapper be used? Prints one line and returns -1 when not:
 * "needs root" (no permission on /dev/mapper/control) or "device-mapper
 * not available" (the kernel has none: not in /proc/misc).
 */
int dm_access_check(void);

/* Parse a plain unsigned decimal integer; -1 on garbage or overflow. */
int parse_u64(const char *text, uint64_t *value);

/* "1.46 GiB (1572864000 bytes)"; plain "512 bytes" below 1 KiB. */
const char *format_size_long(uint64_t bytes, char *buf, size_t len);
/* "1.46 GiB" */
const char *format_size_short(uint64_t bytes, char *buf, size_t len);
/* "4 MiB/s" */
const char *format_rate_short(uint64_t rate, char *buf, size_t len);
/* "4 MiB/s (4194304 bytes/s)"; plain "512 bytes/s" below 1 KiB/s. */
const char *format_rate_long(uint64_t rate, char *buf, size_t len);

/*
 * Run a program (argv[0] looked up in PATH), stdin from /dev/null. Its
 * output (stdout, and stderr too if @with_stderr, else discarded) goes to
 * @out, at most @len - 1 bytes, NUL-terminated (@out may be NULL). Returns
 * the exit status, 128 + the signal that killed it, 127 when it cannot be
 * run, or -1 (errno set) when no process could be made.
 */
int run_program(char *const argv[], bool with_stderr, char *out, size_t len);

/*
 * The first line of file @path, without its newline, in @buf. 0, or -1
 * when the file cannot be opened or is empty.
 */
int read_first_line(const char *path, char *buf, size_t len);

/*
 * Make /run/cowbackup and @dir (a directory under it) with mode @mode;
 * existing ones are fine. 0, or -1 with errno set.
 */
int make_run_dir(const char *dir, unsigned int mode);

/*
 * Replace file @path by @text atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory; the directory is made
 * (mode 0755, with its parents) if missing. 0, or -1 with errno set.
 */
int write_file_atomic(const char *path, const char *text);

#endif /* COWBACKUP_UTIL_H */
