/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: libc string functions plus the kernel-only helpers. */
#ifndef SHIM_LINUX_STRING_H
#define SHIM_LINUX_STRING_H

#include <linux/types.h>
#include <string.h>
#include <strings.h>

/* Copy with truncation; -E2BIG when @src did not fit, like the kernel. */
ssize_t strscpy(char *dst, const char *src, size_t size);
char *skip_spaces(const char *str);
char *strim(char *s);

#endif
