// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line parts of the host shim: allocation accounting and failure
 * injection, the kstrto*() family with kernel semantics, and the few
 * string helpers the kernel has and libc lacks.
 */
#include <linux/ctype.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <stdlib.h>

#include "shim.h"

static unsigned long fail_countdown;
static long live_allocs;

void shim_fail_alloc_after(unsigned long n)
{
	fail_countdown = n;
}

long shim_live_allocs(void)
{
	return live_allocs;
}

void *shim_alloc(size_t size, gfp_t gfp)
{
	void *p;

	if (fail_countdown && --fail_countdown == 0)
		return NULL;
	if (size == SIZE_MAX)		/* size_mul()/size_add() overflowed */
		return NULL;
	p = (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1)
			       : malloc(size ? size : 1);
	if (p)
		live_allocs++;
	return p;
}

void shim_free(const void *p)
{
	if (!p)
		return;
	live_allocs--;
	free((void *)p);
}

void shim_bug(const char *kind, const char *cond, const char *file, int line)
{
	fprintf(stderr, "%s:%d: %s(%s) triggered\n", file, line, kind, cond);
	abort();
}

int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!size)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	return (size_t)n >= size ? (int)(size - 1) : n;
}

/* kstrtox.c semantics: base 0 means 0x -> 16, leading 0 -> 8, else 10. */
static const char *fixup_radix(const char *s, unsigned int *base)
{
	if (*base == 0) {
		if (s[0] == '0') {
			if (tolower((unsigned char)s[1]) == 'x' &&
			    isxdigit((unsigned char)s[2]))
				*base = 16;
			else
				*base = 8;
		} else {
			*base = 10;
		}
	}
	if (*base == 16 && s[0] == '0' && tolower((unsigned char)s[1]) == 'x')
		s += 2;
	return s;
}

static int parse_ull(const char *s, unsigned int base, unsigned long long *res)
{
	unsigned long long v = 0;
	bool overflow = false;
	const char *start;

	s = fixup_radix(s, &base);
	start = s;
	for (;; s++) {
		unsigned int d;
		char c = (char)tolower((unsigned char)*s);

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else
			break;
		if (d >= base)
			break;
		if (__builtin_mul_overflow(v, base, &v) ||
		    __builtin_add_overflow(v, d, &v))
			overflow = true;
	}
	if (s == start)
		return -EINVAL;
	if (overflow)
		return -ERANGE;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = v;
	return 0;
}

int kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	if (s[0] == '+')
		s++;
	return parse_ull(s, base, res);
}

int kstrtoll(const char *s, unsigned int base, long long *res)
{
	unsigned long long tmp;
	int rv;

	if (s[0] == '-') {
		rv = parse_ull(s + 1, base, &tmp);
		if (rv)
			return rv;
		if ((long long)-tmp > 0)
			return -ERANGE;
		*res = (long long)-tmp;
	} else {
		rv = kstrtoull(s, base, &tmp);
		if (rv)
			return rv;
		if ((long long)tmp < 0)
			return -ERANGE;
		*res = (long long)tmp;
	}
	return 0;
}

/*
 * The narrower conversions: parse as the widest type of the same
 * signedness, then refuse what does not fit.
 */
#define KSTRTO_NARROW(name, type, wide, parse)				\
int name(const char *s, unsigned int base, type *res)			\
{									\
	wide tmp;							\
	int rv = parse(s, base, &tmp);					\
									\
	if (rv)								\
		return rv;						\
	if (tmp != (type)tmp)						\
		return -ERANGE;						\
	*res = (type)tmp;						\
	return 0;							\
}

KSTRTO_NARROW(kstrtoul, unsigned long, unsigned long long, kstrtoull)
KSTRTO_NARROW(kstrtol, long, long long, kstrtoll)
KSTRTO_NARROW(kstrtouint, unsigned int, unsigned long long, kstrtoull)
KSTRTO_NARROW(kstrtoint, int, long long, kstrtoll)
KSTRTO_NARROW(kstrtou16, u16, unsigned long long, kstrtoull)
KSTRTO_NARROW(kstrtou8, u8, unsigned long long, kstrtoull)

int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = false;
			return 0;
		}
		break;
	}
	return -EINVAL;
}

ssize_t strscpy(char *dst, const char *src, size_t size)
{
	size_t len;

	if (!size)
		return -E2BIG;
	len = strnlen(src, size);
	if (len == size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -E2BIG;
	}
	memcpy(dst, src, len + 1);
	return (ssize_t)len;
}

char *skip_spaces(const char *str)
{
	while (isspace((unsigned char)*str))
		str++;
	return (char *)str;
}

char *strim(char *s)
{
	size_t size = strlen(s);
	char *end;

	if (!size)
		return s;
	end = s + size - 1;
	while (end >= s && isspace((unsigned char)*end))
		end--;
	end[1] = '\0';
	return skip_spaces(s);
}
