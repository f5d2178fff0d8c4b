/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host shim: a WARN or BUG in code under test is a test failure, so both
 * report the location and abort (the harness reports the test as failed).
 */
#ifndef SHIM_LINUX_BUG_H
#define SHIM_LINUX_BUG_H

#include <linux/build_bug.h>
#include <linux/compiler.h>

void shim_bug(const char *kind, const char *cond, const char *file, int line)
	__attribute__((__noreturn__));

#define BUG()		shim_bug("BUG", "", __FILE__, __LINE__)
#define BUG_ON(cond)	do { if (unlikely(cond)) \
		shim_bug("BUG_ON", #cond, __FILE__, __LINE__); } while (0)
#define WARN_ON(cond)	({ int __w = !!(cond); if (unlikely(__w)) \
		shim_bug("WARN_ON", #cond, __FILE__, __LINE__); __w; })
#define WARN_ON_ONCE(cond)	WARN_ON(cond)
#define WARN(cond, ...)		WARN_ON(cond)
#define WARN_ONCE(cond, ...)	WARN_ON(cond)

#endif
