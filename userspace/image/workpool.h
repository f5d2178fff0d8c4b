/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An ordered work pool: the caller fills input slots in order, worker
 * threads transform them (compress) in any order, and the results are
 * handed back to the caller's done() in submission order, on the caller's
 * thread, so output needs no locking. The ring has a fixed number of
 * slots (4 per thread), so memory is bounded whatever the input size: a
 * submit waits for the oldest slot when all are busy.
 *
 * With one thread nothing is started: work() runs inline at submit.
 */
#ifndef COWBACKUP_WORKPOOL_H
#define COWBACKUP_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Transform @len input bytes into @out (@cap bytes); returns its length. */
typedef size_t (*workpool_work_fn)(void *tctx, const uint8_t *in, size_t len,
				   uint8_t *out, size_t cap);
/* Consume one result, in submission order; nonzero stops the pool. */
/* @out may be changed in place (a writer adds its framing). */
typedef int (*workpool_done_fn)(void *dctx, uint64_t tag, const uint8_t *in,
				size_t len, uint8_t *out, size_t out_len);

struct workpool;

/*
 * @threads workers, each calling @work with its own @tctx[i]. Slots hold
 * @in_cap input and @out_cap output bytes. NULL after one error line
 * naming @path.
 */
struct workpool *workpool_new(unsigned int threads, size_t in_cap,
			      size_t out_cap, workpool_work_fn work,
			      void *const *tctx, workpool_done_fn done,
			      void *dctx, const char *path);

/*
 * The input buffer of the next slot (@in_cap bytes), retiring finished
 * slots as needed; NULL when done() has failed.
 */
uint8_t *workpool_input(struct workpool *wp);
/* Queue the slot workpool_input() returned, with @len bytes; -1 as above. */
int workpool_submit(struct workpool *wp, uint64_t tag, size_t len);
/* Wait for every queued slot and hand it to done(); -1 as above. */
int workpool_drain(struct workpool *wp);
/* Stop the workers (dropping queued work) and free everything. */
void workpool_free(struct workpool *wp);

#endif /* COWBACKUP_WORKPOOL_H */
