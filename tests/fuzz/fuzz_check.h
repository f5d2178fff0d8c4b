/* SPDX-License-Identifier: GPL-2.0 */
/* CHECK(cond): a fuzzer's invariant; a failure aborts, which libFuzzer
 * reports as a crash with the input that caused it. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

#endif
