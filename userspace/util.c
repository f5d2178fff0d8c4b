// SPDX-License-Identifier: GPL-2.0
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int suffix_shift(const char *suffix, unsigned int *shift)
{
	static const char units[] = "BKMGTPE";
	const char *u;

	if (!*suffix) {
		*shift = 0;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)suffix[0]));
	if (!u || !*u)
		return -1;
	*shift = 10 * (unsigned int)(u - units);
	suffix++;
	/* Accept "K", "KB", "KiB", "k". */
	if (*shift && (!strcasecmp(suffix, "ib") || !strcasecmp(suffix, "b")))
		return 0;
	return *suffix ? -1 : 0;
}

int parse_size(const char *text, uint64_t *bytes)
{
	uint64_t whole = 0, frac_num = 0, frac_den = 1;
	unsigned int shift;
	const char *p = text;

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
	if (suffix_shift(p, &shift))
		return -1;
	if (shift && whole > (UINT64_MAX >> shift))
		return -1;
	whole <<= shift;
	if (frac_num) {
		/* frac_num / frac_den < 1, so this cannot overflow 2^60. */
		unsigned __int128 f = (unsigned __int128)frac_num << shift;
		uint64_t add = (uint64_t)(f / frac_den);

		if (whole > UINT64_MAX - add)
			return -1;
		whole += add;
	}
	*bytes = whole;
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

const char *format_size_long(uint64_t bytes, char *buf, size_t len)
{
	char s[32];

	if (bytes < 1024)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%s (%" PRIu64 " bytes)",
			 format_size_short(bytes, s, sizeof(s)), bytes);
	return buf;
}
