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
 * Parse "512", "64K", "200M", "1.5G", "2T" (IEC: K = 1024) into bytes.
 * Returns 0, or -1 on malformed input or overflow.
 */
int parse_size(const char *text, uint64_t *bytes);

/* Parse a plain unsigned decimal integer; -1 on garbage or overflow. */
int parse_u64(const char *text, uint64_t *value);

/* "1.46 GiB (1572864000 bytes)"; plain "512 bytes" below 1 KiB. */
const char *format_size_long(uint64_t bytes, char *buf, size_t len);
/* "1.46 GiB" */
const char *format_size_short(uint64_t bytes, char *buf, size_t len);

#endif /* COWBACKUP_UTIL_H */
