// SPDX-License-Identifier: GPL-2.0
/*
 * Ordered work pool (see workpool.h). Slots are a ring indexed by a
 * sequence number: [retired, queued) are submitted and not yet handed to
 * done(); workers take them in order from `taken`; each is marked done
 * when its work has finished.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "image/workpool.h"
#include "util.h"

#define SLOTS_PER_THREAD 4

struct slot {
	uint8_t *in;
	uint8_t *out;
	size_t len;
	size_t out_len;
	uint64_t tag;
	bool done;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t work_cond;	/* a slot was queued, or stop */
	pthread_cond_t done_cond;	/* a slot's work finished */
	struct slot *slots;
	size_t nslots;
	size_t in_cap, out_cap;
	uint64_t retired, taken, queued;
	workpool_work_fn work;
	workpool_done_fn done;
	void *dctx;
	void *inline_tctx;		/* one thread: work runs inline */
	pthread_t *threads;
	unsigned int nthreads;		/* started */
	void *const *tctx;
	unsigned int next_tctx;
	bool stop;
	bool failed;
};

static void *worker(void *arg)
{
	struct workpool *wp = arg;
	void *tctx;

	pthread_mutex_lock(&wp->lock);
	tctx = wp->tctx[wp->next_tctx++];
	for (;;) {
		struct slot *s;

		while (!wp->stop && wp->taken == wp->queued)
			pthread_cond_wait(&wp->work_cond, &wp->lock);
		if (wp->stop)
			break;
		s = &wp->slots[wp->taken++ % wp->nslots];
		pthread_mutex_unlock(&wp->lock);
		s->out_len = s->len ? wp->work(tctx, s->in, s->len, s->out,
					      wp->out_cap) : 0;
		pthread_mutex_lock(&wp->lock);
		s->done = true;
		pthread_cond_broadcast(&wp->done_cond);
	}
	pthread_mutex_unlock(&wp->lock);
	return NULL;
}

/* Hand the oldest queued slot to done(), waiting for its work. */
static int retire_one(struct workpool *wp)
{
	struct slot *s = &wp->slots[wp->retired % wp->nslots];

	pthread_mutex_lock(&wp->lock);
	while (!s->done)
		pthread_cond_wait(&wp->done_cond, &wp->lock);
	pthread_mutex_unlock(&wp->lock);
	if (!wp->failed && wp->done(wp->dctx, s->tag, s->in, s->len, s->out,
				    s->out_len))
		wp->failed = true;
	s->done = false;
	wp->retired++;
	return wp->failed ? -1 : 0;
}

uint8_t *workpool_input(struct workpool *wp)
{
	if (wp->failed)
		return NULL;
	if (wp->queued - wp->retired == wp->nslots && retire_one(wp))
		return NULL;
	return wp->slots[wp->queued % wp->nslots].in;
}

int workpool_submit(struct workpool *wp, uint64_t tag, size_t len)
{
	struct slot *s = &wp->slots[wp->queued % wp->nslots];

	if (wp->failed)
		return -1;
	s->tag = tag;
	s->len = len;
	if (!wp->nthreads) {
		s->out_len = len ? wp->work(wp->inline_tctx, s->in, len,
					    s->out, wp->out_cap) : 0;
		s->done = true;
		wp->queued++;
		return retire_one(wp);
	}
	pthread_mutex_lock(&wp->lock);
	wp->queued++;
	pthread_cond_signal(&wp->work_cond);
	pthread_mutex_unlock(&wp->lock);
	return 0;
}

int workpool_drain(struct workpool *wp)
{
	while (wp->retired != wp->queued)
		if (retire_one(wp))
			return -1;
	return wp->failed ? -1 : 0;
}

void workpool_free(struct workpool *wp)
{
	unsigned int i;

	if (!wp)
		return;
	pthread_mutex_lock(&wp->lock);
	wp->stop = true;
	pthread_cond_broadcast(&wp->work_cond);
	pthread_mutex_unlock(&wp->lock);
	for (i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	for (i = 0; wp->slots && i < wp->nslots; i++) {
		free(wp->slots[i].in);
		free(wp->slots[i].out);
	}
	free(wp->slots);
	free(wp->threads);
	pthread_mutex_destroy(&wp->lock);
	pthread_cond_destroy(&wp->work_cond);
	pthread_cond_destroy(&wp->done_cond);
	free(wp);
}

struct workpool *workpool_new(unsigned int threads, size_t in_cap,
			      size_t out_cap, workpool_work_fn work,
			      void *const *tctx, workpool_done_fn done,
			      void *dctx, const char *path)
{
	struct workpool *wp = calloc(1, sizeof(*wp));
	unsigned int i;
	int err;

	if (!wp) {
		err_msg("%s: out of memory for the work pool", path);
		return NULL;
	}
	pthread_mutex_init(&wp->lock, NULL);
	pthread_cond_init(&wp->work_cond, NULL);
	pthread_cond_init(&wp->done_cond, NULL);
	wp->nslots = threads > 1 ? (size_t)threads * SLOTS_PER_THREAD : 1;
	wp->in_cap = in_cap;
	wp->out_cap = out_cap;
	wp->work = work;
	wp->done = done;
	wp->dctx = dctx;
	wp->tctx = tctx;
	wp->inline_tctx = tctx[0];
	wp->slots = calloc(wp->nslots, sizeof(*wp->slots));
	if (!wp->slots)
		goto oom;
	for (i = 0; i < wp->nslots; i++) {
		wp->slots[i].in = malloc(in_cap);
		wp->slots[i].out = malloc(out_cap);
		if (!wp->slots[i].in || !wp->slots[i].out)
			goto oom;
	}
	if (threads <= 1)
		return wp;
	wp->threads = calloc(threads, sizeof(*wp->threads));
	if (!wp->threads)
		goto oom;
	for (i = 0; i < threads; i++) {
		err = pthread_create(&wp->threads[i], NULL, worker, wp);
		if (err) {
			err_msg("%s: cannot start a compression thread: %s",
				path, strerror(err));
			workpool_free(wp);
			return NULL;
		}
		wp->nthreads++;
	}
	return wp;
oom:
	err_msg("%s: out of memory for the work pool", path);
	workpool_free(wp);
	return NULL;
}
