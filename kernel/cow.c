// SPDX-License-Identifier: GPL-2.0
/*
 * The copy engine and write interception.
 *
 * Every copy, whether a copy-out for a guest write or a background copy,
 * goes through the same three steps: claim, copy, finish. Claiming takes a
 * run of dirty clusters out of the dirty bitmap and puts it on the single
 * in-flight list, under cb->lock. So a cluster is claimed at most once (the
 * bit is gone), and a guest write that touches a dirty or in-flight cluster
 * waits; it reaches the source only after the old data is on the target.
 * That is the one place where "never copy twice" and "never copy newer
 * data" hold.
 *
 * Waiting writes sit on one list. After any copy finishes they are all
 * looked at again by cb_cow_work(): simple, and bounded by the number of
 * writes in flight, which the block layer bounds.
 */
#include <linux/vmalloc.h>

#include "cowbackup.h"
#include "trace.h"

/*----------------------------------------------------------------*/

/* Caller holds cb->lock. */
bool cb_range_busy(struct cowbackup *cb, u64 first, u64 count)
{
	struct cb_range *r;

	list_for_each_entry(r, &cb->inflight, node)
		if (r->first < first + count && first < r->first + r->count)
			return true;
	return false;
}

/*
 * Take @count dirty clusters from @first for one copy. Returns NULL when no
 * buffer is free. Caller holds cb->lock.
 */
struct cb_copy *cb_copy_claim(struct cowbackup *cb, u64 first, u64 count,
			      enum cb_copy_kind kind)
{
	struct cb_copy *copy;

	if (list_empty(&cb->free_copies))
		return NULL;
	copy = list_first_entry(&cb->free_copies, struct cb_copy, range.node);
	list_move_tail(&copy->range.node, &cb->inflight);
	cb->nr_free_copies--;

	copy->range.first = first;
	copy->range.count = count;
	copy->kind = kind;
	copy->error = CB_COPY_OK;
	copy->zeroes_retried = false;
	copy->nr_zero = 0;
	copy->io_error = 0;

	hbitmap_reset(cb->dirty, first, count);
	cb->inflight_clusters += count;
	if (kind == CB_COPY_BACKGROUND)
		cb->bg_inflight++;
	return copy;
}

/*----------------------------------------------------------------*/

void cb_copy_stage_work(struct work_struct *ws)
{
	struct cb_copy *copy = container_of(ws, struct cb_copy, work);

	copy->next_stage(copy);
}

/* Bits of cb_copy.io_error. */
#define CB_IO_FAILED		0	/* a read or a data write failed */
#define CB_IO_ZEROES_FAILED	1	/* a REQ_OP_WRITE_ZEROES failed */

static void copy_io_put(struct cb_copy *copy)
{
	if (atomic_dec_and_test(&copy->pending))
		queue_work(copy->cb->wq, &copy->work);
}

/* dm-io callbacks, maybe in interrupt context: only count and defer. */
static void copy_io_done(unsigned long error, void *context)
{
	struct cb_copy *copy = context;

	if (error)
		set_bit(CB_IO_FAILED, &copy->io_error);
	copy_io_put(copy);
}

static void copy_zeroes_done(unsigned long error, void *context)
{
	struct cb_copy *copy = context;

	if (error)
		set_bit(CB_IO_ZEROES_FAILED, &copy->io_error);
	copy_io_put(copy);
}

static sector_t copy_sectors(struct cb_copy *copy, u64 first, u64 count)
{
	struct cowbackup *cb = copy->cb;
	sector_t start = cb_cluster_to_sector(cb, first);
	sector_t end = cb_cluster_to_sector(cb, first + count);

	/* The last cluster may be cut short by the device end. */
	return min_t(sector_t, end, cb->len) - start;
}

static void copy_submit_io(struct cb_copy *copy, struct dm_dev *dev, blk_opf_t opf,
		    u64 first, u64 count)
{
	struct cowbackup *cb = copy->cb;
	bool op_is_zeroes = (opf & REQ_OP_MASK) == REQ_OP_WRITE_ZEROES;
	struct dm_io_region region = {
		.bdev = dev->bdev,
		.sector = cb_cluster_to_sector(cb, first),
		.count = copy_sectors(copy, first, count),
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = copy->buf + ((first - copy->range.first) <<
					    (cb->cluster_shift + SECTOR_SHIFT)),
		.notify.fn = op_is_zeroes ? copy_zeroes_done : copy_io_done,
		.notify.context = copy,
		.client = cb->io_client,
	};

	atomic_inc(&copy->pending);
	if (dm_io(&req, 1, &region, NULL, IOPRIO_DEFAULT))
		req.notify.fn(1, copy);
}

static void copy_finish(struct cb_copy *copy);
static void copy_write(struct cb_copy *copy);

/* Start a claimed copy. Must not hold cb->lock: dm_io() may sleep. */
void cb_copy_submit(struct cb_copy *copy)
{
	trace_cowbackup_copy_start(copy->range.first, copy->range.count,
				   copy->kind == CB_COPY_OUT);
	copy->next_stage = copy_write;
	atomic_set(&copy->pending, 1);
	copy_submit_io(copy, copy->cb->source, REQ_OP_READ, copy->range.first,
		       copy->range.count);
	copy_io_put(copy);
}

static bool cluster_is_zero(struct cb_copy *copy, u64 cluster)
{
	struct cowbackup *cb = copy->cb;
	size_t off = (cluster - copy->range.first) <<
		     (cb->cluster_shift + SECTOR_SHIFT);
	size_t len = copy_sectors(copy, cluster, 1) << SECTOR_SHIFT;

	return !memchr_inv(copy->buf + off, 0, len);
}

/*
 * The source data is in the buffer: write it to the target, all-zero
 * clusters as REQ_OP_WRITE_ZEROES where the target supports it.
 */
static void copy_write(struct cb_copy *copy)
{
	struct cowbackup *cb = copy->cb;
	u64 end = copy->range.first + copy->range.count;
	u64 run, next;
	bool zero, next_zero, use_zeroes;

	if (copy->io_error) {
		copy->error = CB_COPY_SOURCE_ERROR;
		copy_finish(copy);
		return;
	}

	use_zeroes = READ_ONCE(cb->target_write_zeroes) &&
		     !copy->zeroes_retried;
	copy->next_stage = copy_finish;
	copy->nr_zero = 0;
	atomic_set(&copy->pending, 1);
	/* One write per run of all-zero or all-data clusters. */
	zero = cluster_is_zero(copy, copy->range.first);
	for (run = copy->range.first; run < end; run = next) {
		next_zero = zero;
		for (next = run + 1; next < end; next++) {
			next_zero = cluster_is_zero(copy, next);
			if (next_zero != zero)
				break;
		}
		if (zero)
			copy->nr_zero += next - run;
		copy_submit_io(copy, cb->target,
			       zero && use_zeroes ? REQ_OP_WRITE_ZEROES :
						    REQ_OP_WRITE,
			       run, next - run);
		zero = next_zero;
	}
	copy_io_put(copy);
}

/*----------------------------------------------------------------*/

/* A failed copy-out under break_write fails the writes that needed it. */
static void fail_waiting_writes(struct cowbackup *cb, u64 first, u64 count,
				struct bio_list *failed)
{
	struct bio_list keep = BIO_EMPTY_LIST;
	struct bio *bio;
	u64 c0, c1;

	while ((bio = bio_list_pop(&cb->waiting))) {
		c0 = cb_sector_to_cluster(cb, bio->bi_iter.bi_sector);
		c1 = cb_sector_to_cluster(cb, bio_end_sector(bio) - 1);
		if (c0 < first + count && first <= c1)
			bio_list_add(failed, bio);
		else
			bio_list_add(&keep, bio);
	}
	cb->waiting = keep;
}

/* Apply the error policy to a failed copy. Caller holds cb->lock. */
static void copy_failed(struct cb_copy *copy, struct bio_list *failed)
{
	struct cowbackup *cb = copy->cb;
	u64 first = copy->range.first, count = copy->range.count;
	enum cb_policy policy;

	cb->errors++;
	trace_cowbackup_error(first, count, copy->kind == CB_COPY_OUT,
			      copy->error == CB_COPY_SOURCE_ERROR);
	/* Whatever the policy, these clusters are not settled. */
	hbitmap_set(cb->dirty, first, count);
	if (!cb_intercepting(cb))
		return;

	if (copy->kind == CB_COPY_OUT) {
		if (cb->args.cow_error == CB_COW_BREAK_SNAPSHOT) {
			DMERR("copy-out of clusters %llu+%llu failed: backup broken, writes go through",
			      first, count);
			cb_set_state(cb, CB_FAILED);
		} else {
			fail_waiting_writes(cb, first, count, failed);
		}
		return;
	}

	policy = copy->error == CB_COPY_SOURCE_ERROR ?
		 cb->args.on_source_error : cb->args.on_target_error;
	if (policy == CB_POLICY_REPORT) {
		DMERR("background copy of clusters %llu+%llu failed on the %s device",
		      first, count,
		      copy->error == CB_COPY_SOURCE_ERROR ? "source" : "target");
		cb_set_state(cb, CB_FAILED);
		return;
	}
	cb->retry_at = jiffies + CB_RETRY_DELAY;
	if (policy == CB_POLICY_STOP && cb->state == CB_RUNNING)
		cb_set_state(cb, CB_PAUSED);
}

static void copy_finish(struct cb_copy *copy)
{
	struct cowbackup *cb = copy->cb;
	struct bio_list failed = BIO_EMPTY_LIST;
	u64 first = copy->range.first, count = copy->range.count;
	unsigned long flags;
	struct bio *bio;

	if (copy->error == CB_COPY_OK && copy->io_error) {
		if (copy->io_error == BIT(CB_IO_ZEROES_FAILED) &&
		    !copy->zeroes_retried) {
			/* Some targets refuse WRITE_ZEROES: write zeros. */
			copy->zeroes_retried = true;
			WRITE_ONCE(cb->target_write_zeroes, false);
			copy->io_error = 0;
			copy_write(copy);
			return;
		}
		copy->error = CB_COPY_TARGET_ERROR;
	}
	trace_cowbackup_copy_done(first, count, copy->kind == CB_COPY_OUT,
				  copy->nr_zero, copy->error);

	spin_lock_irqsave(&cb->lock, flags);
	cb->inflight_clusters -= count;
	if (copy->kind == CB_COPY_BACKGROUND)
		cb->bg_inflight--;
	if (copy->error == CB_COPY_OK && !cb_intercepting(cb)) {
		/* Writes no longer wait: the source may have moved on. */
		hbitmap_set(cb->dirty, first, count);
	} else if (copy->error == CB_COPY_OK) {
		hbitmap_set(cb->copied, first, count);
		/* Zero clusters are counted apart from data copies. */
		if (copy->kind == CB_COPY_OUT)
			cb->cow_copies += count - copy->nr_zero;
		else
			cb->background_copies += count - copy->nr_zero;
		cb->zero_clusters += copy->nr_zero;
	} else {
		copy_failed(copy, &failed);
	}
	list_move(&copy->range.node, &cb->free_copies);
	cb->nr_free_copies++;
	cb_check_completed(cb);
	if (!cb->dead && !bio_list_empty(&cb->waiting))
		queue_work(cb->wq, &cb->cow_work);
	spin_unlock_irqrestore(&cb->lock, flags);

	while ((bio = bio_list_pop(&failed)))
		bio_io_error(bio);
	wake_up(&cb->drain_wait);
	cb_copier_kick(cb, 0);
}

/*----------------------------------------------------------------*/

/*
 * Claim copy-outs for the dirty clusters under @bio. Returns true when the
 * bio must keep waiting. Caller holds cb->lock.
 */
static bool claim_copy_outs(struct cowbackup *cb, struct bio *bio,
			    struct list_head *claimed)
{
	u64 c0 = cb_sector_to_cluster(cb, bio->bi_iter.bi_sector);
	u64 c1 = cb_sector_to_cluster(cb, bio_end_sector(bio) - 1);
	u64 start, len, pos = c0;
	struct cb_copy *copy;
	bool wait = false;

	while (hbitmap_next_dirty_area(cb->dirty, pos, c1 + 1,
				       cb->copy_clusters, &start, &len)) {
		wait = true;
		copy = cb_copy_claim(cb, start, len, CB_COPY_OUT);
		if (!copy)
			break;	/* retried when a copy frees a buffer */
		/* Copy-outs count against the rate but never wait for it. */
		cb_ratelimit_charge(&cb->rl,
				    len << (cb->cluster_shift + SECTOR_SHIFT),
				    ktime_get_ns());
		list_add_tail(&copy->batch, claimed);
		pos = start + len;
	}
	return wait || cb_range_busy(cb, c0, c1 - c0 + 1);
}

void cb_cow_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(ws, struct cowbackup, cow_work);
	struct bio_list ready = BIO_EMPTY_LIST;
	struct cb_copy *copy, *tmp;
	struct bio_list pending;
	LIST_HEAD(claimed);
	struct bio *bio;

	spin_lock_irq(&cb->lock);
	pending = cb->waiting;
	bio_list_init(&cb->waiting);
	while ((bio = bio_list_pop(&pending))) {
		if (cb_intercepting(cb) && claim_copy_outs(cb, bio, &claimed))
			bio_list_add(&cb->waiting, bio);
		else
			bio_list_add(&ready, bio);
	}
	spin_unlock_irq(&cb->lock);

	list_for_each_entry_safe(copy, tmp, &claimed, batch) {
		list_del(&copy->batch);
		cb_copy_submit(copy);
	}
	while ((bio = bio_list_pop(&ready)))
		submit_bio_noacct(bio);
}

static bool copies_drained(struct cowbackup *cb)
{
	bool drained;

	spin_lock_irq(&cb->lock);
	drained = cb->nr_free_copies == cb->nr_copies;
	spin_unlock_irq(&cb->lock);
	return drained;
}

/*
 * Wait until no copy of either kind is in flight. Copy-outs can outlive
 * the writes that asked for them (cancel, a failed job, break_write), so
 * waiting for the guest's bios is not enough before suspend or dtr.
 */
void cb_copy_drain(struct cowbackup *cb)
{
	wait_event(cb->drain_wait, copies_drained(cb));
}

/* Queue cb_cow_work() unless the job is being torn down. */
void cb_kick_waiting(struct cowbackup *cb)
{
	unsigned long flags;

	spin_lock_irqsave(&cb->lock, flags);
	if (!cb->dead && !bio_list_empty(&cb->waiting))
		queue_work(cb->wq, &cb->cow_work);
	spin_unlock_irqrestore(&cb->lock, flags);
}

/*
 * map() for write-like bios: straight through when every cluster under
 * the bio is settled, else wait for copy-outs.
 */
int cb_map_write(struct cowbackup *cb, struct bio *bio)
{
	u64 c0 = cb_sector_to_cluster(cb, bio->bi_iter.bi_sector);
	u64 c1 = cb_sector_to_cluster(cb, bio_end_sector(bio) - 1);
	unsigned long flags;

	spin_lock_irqsave(&cb->lock, flags);
	if (!cb_intercepting(cb) ||
	    (hbitmap_next_set(cb->dirty, c0) > c1 &&
	     !cb_range_busy(cb, c0, c1 - c0 + 1))) {
		spin_unlock_irqrestore(&cb->lock, flags);
		return DM_MAPIO_REMAPPED;
	}
	bio_list_add(&cb->waiting, bio);
	queue_work(cb->wq, &cb->cow_work);
	spin_unlock_irqrestore(&cb->lock, flags);
	return DM_MAPIO_SUBMITTED;
}
