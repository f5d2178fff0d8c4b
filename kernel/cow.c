// SPDX-License-Identifier: GPL-2.0
/*
 * The copy engine and write interception.
 *
 * Every copy, whether a copy-out for a guest write or a background copy,
 * goes through the same three steps: claim, copy, finish. Claiming takes a
 * run of dirty clusters out of the dirty bitmap and puts a cell over it
 * (range_lock.c), under cb->lock. So a cluster is claimed at most once
 * (the bit is gone), and a guest write that touches a dirty cluster or a
 * cell waits; it reaches the source only after the old data is on the
 * target. That is the one place where "never copy twice" and "never copy
 * newer data" hold.
 *
 * A first write claims and submits its copy-outs from map() and parks on
 * the copy's cell; the copy's completion routes exactly those writes
 * again and submits them. Writes that found every copy buffer busy and
 * are under no cell park on cb->starved until a buffer frees. At most
 * CB_MAX_WAITING writes park at once; map() waits (back-pressure) beyond
 * that.
 *
 * A copy's stages (read, write, finish) follow each other at once when the
 * device completed the I/O inside submit_bio(), and a lone writer's
 * copy-out also runs them from a completion in the writer's own task
 * (copy_completion_may_run()); otherwise the completion queues the next
 * stage, on the completing CPU for a lone writer's copy-out and on any
 * CPU for the rest (copy_out_local()).
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/ioprio.h>
#include <linux/vmalloc.h>

#include "cowbackup.h"
#include "trace.h"

/*----------------------------------------------------------------*/

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
	copy = list_first_entry(&cb->free_copies, struct cb_copy, node);
	list_del(&copy->node);
	cb->nr_free_copies--;

	copy->kind = kind;
	copy->local = false;
	copy->error = CB_COPY_OK;
	copy->zeroes_retried = false;
	copy->nr_zero = 0;
	copy->io_error = 0;

	hbitmap_reset(cb->dirty, first, count);
	cb_cell_add(cb, &copy->cell, first, count);
	cb->inflight_clusters += count;
	if (kind == CB_COPY_BACKGROUND)
		cb->bg_inflight++;
	return copy;
}

static u64 copy_first(const struct cb_copy *copy)
{
	return copy->cell.first;
}

static u64 copy_count(const struct cb_copy *copy)
{
	return copy->cell.last - copy->cell.first + 1;
}

/*----------------------------------------------------------------*/

void cb_copy_stage_work(struct work_struct *ws)
{
	struct cb_copy *copy = container_of(ws, struct cb_copy, work);

	/* A worker holds no lock and is nobody's caller: any stage may run. */
	copy->finish_here = true;
	copy->next_stage(copy);
}

/* Bits of cb_copy.io_error. */
#define CB_IO_FAILED		0	/* a read or a data write failed */
#define CB_IO_ZEROES_FAILED	1	/* a REQ_OP_WRITE_ZEROES failed */

static void copy_queue_stage(struct cb_copy *copy)
{
	struct cowbackup *cb = copy->cb;

	queue_work(copy->local ? cb->local_wq : cb->wq, &copy->work);
}

/*
 * Drop a reference on the stage's I/O; the last one starts the next stage:
 * here if @run_here, else on a workqueue (completions: copy_io_end()).
 * The submitter's own reference may be the last (brd, pmem and zram
 * complete bios inside submit_bio()): running the stage at once then
 * saves a trip through the workqueue, which costs a first write more
 * than the copy itself.
 */
static void copy_io_put(struct cb_copy *copy, bool run_here)
{
	if (!atomic_dec_and_test(&copy->pending))
		return;
	if (run_here)
		copy->next_stage(copy);
	else
		copy_queue_stage(copy);
}

/*
 * May an I/O completion run the copy's next stage itself? Only for a lone
 * writer's copy-out (copy_out_local()), and only in a task, inside the
 * block layer's submission loop (current->bio_list), with nothing atomic
 * held: brd, pmem and zram complete the bios that map() submitted there,
 * in the writer's own context. The loop defers whatever the stage
 * submits, so stages never nest, and the writer needs no worker at all.
 * Completions anywhere else defer to a workqueue.
 */
static bool copy_completion_may_run(struct cb_copy *copy)
{
	return copy->local && current->bio_list && preemptible();
}

static void copy_io_end(struct cb_copy *copy, unsigned long error,
			unsigned int error_bit)
{
	if (error)
		set_bit(error_bit, &copy->io_error);
	if (!atomic_dec_and_test(&copy->pending))
		return;
	/* Our submitter has put its reference: this stage nests in no other. */
	if (copy_completion_may_run(copy)) {
		copy->finish_here = true;
		copy->next_stage(copy);
	} else {
		copy_queue_stage(copy);
	}
}

static sector_t copy_sectors(struct cb_copy *copy, u64 first, u64 count)
{
	struct cowbackup *cb = copy->cb;
	sector_t start = cb_cluster_to_sector(cb, first);
	sector_t end = cb_cluster_to_sector(cb, first + count);

	/* The last cluster may be cut short by the device end. */
	return min_t(sector_t, end, cb->len) - start;
}

/* Where @cluster's data sits in the copy's buffer, in bytes. */
static size_t copy_buf_offset(const struct cb_copy *copy, u64 cluster)
{
	return cb_clusters_to_bytes(copy->cb, cluster - copy_first(copy));
}

/* The buffer's span of the copy's clusters, in bytes. */
static size_t copy_bytes(const struct cb_copy *copy)
{
	return cb_clusters_to_bytes(copy->cb, copy_count(copy));
}

/* A copy's bio ends, maybe in interrupt context. */
static void copy_bio_end(struct bio *bio)
{
	struct cb_copy *copy = bio->bi_private;
	unsigned int bit = bio_op(bio) == REQ_OP_WRITE_ZEROES ?
			   CB_IO_ZEROES_FAILED : CB_IO_FAILED;
	blk_status_t status = bio->bi_status;

	/* Before the put: the last bio may start a stage that reuses it. */
	if (bio == &copy->bio)
		bio_uninit(bio);
	else
		bio_put(bio);
	copy_io_end(copy, status != BLK_STS_OK, bit);
}

/*
 * The stage's first bio is the one in the copy; most stages need no
 * other. The rest come from the job's bio_set, without bvecs of their
 * own: every bio points into the copy's bvec table.
 */
static struct bio *copy_bio(struct cb_copy *copy, struct dm_dev *dev,
			    blk_opf_t opf)
{
	struct bio *bio;

	if (!copy->bio_busy) {
		copy->bio_busy = true;
		bio = &copy->bio;
		bio_init(bio, dev->bdev, NULL, 0, opf);
	} else {
		bio = bio_alloc_bioset(dev->bdev, 0, opf, GFP_NOIO,
				       &copy->cb->bios);
	}
	bio->bi_ioprio = IOPRIO_DEFAULT;
	bio->bi_end_io = copy_bio_end;
	bio->bi_private = copy;
	return bio;
}

/*
 * Read or write clusters @first..+@count of the copy, from or to its
 * buffer: in bios of at most BIO_MAX_VECS pages, or of the device's
 * largest REQ_OP_WRITE_ZEROES.
 */
static void copy_submit_io(struct cb_copy *copy, struct dm_dev *dev,
			   blk_opf_t opf, u64 first, u64 count)
{
	struct cowbackup *cb = copy->cb;
	bool zeroes = (opf & REQ_OP_MASK) == REQ_OP_WRITE_ZEROES;
	sector_t sector = cb_cluster_to_sector(cb, first);
	sector_t left = copy_sectors(copy, first, count);
	sector_t max = zeroes ? bdev_write_zeroes_sectors(dev->bdev) :
				BIO_MAX_VECS << PAGE_SECTORS_SHIFT;
	unsigned int page = copy_buf_offset(copy, first) >> PAGE_SHIFT;

	if (!max) {
		set_bit(CB_IO_ZEROES_FAILED, &copy->io_error);
		return;
	}
	while (left) {
		sector_t n = min(left, max);
		struct bio *bio = copy_bio(copy, dev, opf);

		bio->bi_iter.bi_sector = sector;
		bio->bi_iter.bi_size = n << SECTOR_SHIFT;
		if (!zeroes) {
			bio->bi_io_vec = copy->bvecs + page;
			bio->bi_vcnt = DIV_ROUND_UP(n, PAGE_SECTORS);
			page += bio->bi_vcnt;
		}
		atomic_inc(&copy->pending);
		submit_bio(bio);
		sector += n;
		left -= n;
	}
}

static void copy_finish(struct cb_copy *copy);
static void copy_write(struct cb_copy *copy);

/*
 * Start a claimed copy. Must not hold cb->lock: bio allocation may sleep. See
 * cb_copy_submit_list() for @finish_here.
 */
static void copy_submit(struct cb_copy *copy, bool finish_here)
{
	trace_cowbackup_copy_start(copy_first(copy), copy_count(copy),
				   copy->kind == CB_COPY_OUT);
	copy->next_stage = copy_write;
	copy->finish_here = finish_here;
	copy->bio_busy = false;
	atomic_set(&copy->pending, 1);
	flush_kernel_vmap_range(copy->buf, copy_bytes(copy));
	copy_submit_io(copy, copy->cb->source, REQ_OP_READ, copy_first(copy),
		       copy_count(copy));
	copy_io_put(copy, true);
}

/*
 * Start every copy claimed on @claimed (linked by node), plugged. When
 * the devices complete I/O at once, a copy may also finish in this call,
 * releasing its writes, if @finish_here: only for a caller that is not
 * itself a copy's finish, as a finish submits the copies its released
 * writes claim, and nesting there would have no bound.
 */
void cb_copy_submit_list(struct list_head *claimed, bool finish_here)
{
	struct cb_copy *copy, *tmp;
	struct blk_plug plug;

	if (list_empty(claimed))
		return;
	blk_start_plug(&plug);
	list_for_each_entry_safe(copy, tmp, claimed, node) {
		list_del(&copy->node);
		copy_submit(copy, finish_here);
	}
	blk_finish_plug(&plug);
}

static void copy_start(struct cb_copy *copy)
{
	copy_submit(copy, true);
}

/*
 * Start the background copies claimed on @claimed: the first in this
 * task, every other one from a worker of its own. On a device that
 * completes I/O inside submit_bio() (brd, pmem, zram) a copy runs whole
 * in the task that submits it, so copies submitted in a row by one task
 * would run one after another on one CPU.
 */
void cb_copy_submit_spread(struct list_head *claimed)
{
	struct cb_copy *copy, *tmp;
	LIST_HEAD(here);

	if (list_empty(claimed))
		return;
	list_move(claimed->next, &here);
	list_for_each_entry_safe(copy, tmp, claimed, node) {
		list_del(&copy->node);
		copy->next_stage = copy_start;
		copy_queue_stage(copy);
	}
	cb_copy_submit_list(&here, true);
}

static bool cluster_is_zero(struct cb_copy *copy, u64 cluster)
{
	size_t len = copy_sectors(copy, cluster, 1) << SECTOR_SHIFT;

	return !memchr_inv(copy->buf + copy_buf_offset(copy, cluster), 0, len);
}

/*
 * The source data is in the buffer: write it to the target, all-zero
 * clusters as REQ_OP_WRITE_ZEROES where the target supports it.
 */
static void copy_write(struct cb_copy *copy)
{
	struct cowbackup *cb = copy->cb;
	u64 end = copy_first(copy) + copy_count(copy);
	u64 run, next;
	bool zero, next_zero, use_zeroes;

	copy->next_stage = copy_finish;
	copy->bio_busy = false;
	atomic_set(&copy->pending, 1);
	/* A failed read finishes like a write would: here only if allowed. */
	if (copy->io_error) {
		copy->error = CB_COPY_SOURCE_ERROR;
		goto out;
	}
	invalidate_kernel_vmap_range(copy->buf, copy_bytes(copy));

	use_zeroes = READ_ONCE(cb->target_write_zeroes) &&
		     !copy->zeroes_retried;
	copy->nr_zero = 0;
	/* One write per run of all-zero or all-data clusters. */
	zero = cluster_is_zero(copy, copy_first(copy));
	for (run = copy_first(copy); run < end; run = next) {
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
out:
	copy_io_put(copy, copy->finish_here);
}

/*----------------------------------------------------------------*/

/* Apply the error policy to a failed copy. Caller holds cb->lock. */
static void copy_failed(struct cb_copy *copy, struct bio_list *failed)
{
	struct cowbackup *cb = copy->cb;
	u64 first = copy_first(copy), count = copy_count(copy);
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
			/* break_write: the writes that needed it fail. */
			bio_list_merge(failed, &copy->cell.waiters);
			bio_list_init(&copy->cell.waiters);
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

static void route_again(struct cowbackup *cb, struct bio_list *bios);
static void end_waiting(struct cowbackup *cb, struct bio *bio,
			blk_status_t status);

static void copy_finish(struct cb_copy *copy)
{
	struct cowbackup *cb = copy->cb;
	struct bio_list failed = BIO_EMPTY_LIST;
	struct bio_list released = BIO_EMPTY_LIST;
	u64 first = copy_first(copy), count = copy_count(copy);
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

	spin_lock_irq(&cb->lock);
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
	cb_cell_del(cb, &copy->cell, &released);
	list_add(&copy->node, &cb->free_copies);
	cb->nr_free_copies++;
	/* A buffer is free: the writes that found none may claim it. */
	bio_list_merge(&released, &cb->starved);
	bio_list_init(&cb->starved);
	cb_check_completed(cb);
	spin_unlock_irq(&cb->lock);

	while ((bio = bio_list_pop(&failed)))
		end_waiting(cb, bio, BLK_STS_IOERR);
	route_again(cb, &released);
	wake_up(&cb->drain_wait);
	cb_copier_kick(cb, 0);
}

/*----------------------------------------------------------------*/

enum cb_route {
	CB_ROUTE_GO,		/* nothing to wait for: to the source */
	CB_ROUTE_PARKED,	/* waits on a cell or for a copy buffer */
};

/*
 * Where a copy-out's stages run. A lone writer sleeps until its copy-out
 * ends, so the CPU that completed the copy's I/O is idle and the nearest:
 * waking a worker on another CPU costs more than the stage (a bound
 * worker). Writers that queue up are throughput: their copies run on any
 * CPU, beside the next submissions. Running locally hides a queue (the
 * submitter waits for the worker on its CPU), so a probe runs anywhere
 * now and then. Caller holds cb->lock.
 */
static bool copy_out_local(struct cowbackup *cb)
{
	/* Counts the writes parked before this one (map() counts it later). */
	if (atomic_read(&cb->nr_waiting)) {
		cb->lone_copy_outs = 0;
		return false;
	}
	cb->lone_copy_outs++;
	return cb->lone_copy_outs >= CB_LONE_WRITES &&
	       cb->lone_copy_outs % CB_LOCAL_PROBE;
}

/*
 * Where does a write go now? Claims copy-outs for the dirty clusters under
 * it (onto @claimed, to submit after unlock), then parks it on the first
 * cell it meets. A write that runs out of buffers waits on a cell too if
 * it overlaps one, its own copies' first: so it fails with a copy-out it
 * needed (break_write) rather than claiming the failed clusters again
 * and again. Only a write under no cell waits for any buffer to free.
 * Caller holds cb->lock.
 */
static enum cb_route route_write(struct cowbackup *cb, struct bio *bio,
				 struct list_head *claimed)
{
	u64 c0 = cb_sector_to_cluster(cb, bio->bi_iter.bi_sector);
	u64 c1 = cb_sector_to_cluster(cb, bio_end_sector(bio) - 1);
	u64 start, len, pos = c0;
	struct cb_copy *copy;
	struct cb_cell *cell;
	bool starved = false;

	while (cb_intercepting(cb) &&
	       hbitmap_next_dirty_area(cb->dirty, pos, c1 + 1,
				       cb->copy_clusters, &start, &len)) {
		copy = cb_copy_claim(cb, start, len, CB_COPY_OUT);
		if (!copy) {
			starved = true;
			break;
		}
		copy->local = copy_out_local(cb);
		/* Copy-outs count against the rate but never wait for it. */
		cb_ratelimit_charge(&cb->rl,
				    cb_clusters_to_bytes(cb, len),
				    ktime_get_ns());
		list_add_tail(&copy->node, claimed);
		pos = start + len;
	}
	cell = cb_cell_find(cb, c0, c1);
	if (cell)
		bio_list_add(&cell->waiters, bio);
	else if (starved)
		bio_list_add(&cb->starved, bio);
	else
		return CB_ROUTE_GO;
	return CB_ROUTE_PARKED;
}

/*
 * A parked write leaves the job: submitted, or failed. It stops counting
 * first, so that its writer's next write does not see it as another
 * writer waiting (copy_out_local()).
 */
static void end_waiting(struct cowbackup *cb, struct bio *bio,
			blk_status_t status)
{
	if (atomic_dec_return(&cb->nr_waiting) < CB_MAX_WAITING)
		wake_up(&cb->waiting_wait);
	if (status) {
		bio->bi_status = status;
		bio_endio(bio);
	} else {
		dm_submit_bio_remap(bio, NULL);
	}
}

/* Route parked writes again, in process context, plugged. */
static void route_again(struct cowbackup *cb, struct bio_list *bios)
{
	enum cb_route route;
	struct blk_plug plug;
	LIST_HEAD(claimed);
	struct bio *bio;

	if (bio_list_empty(bios))
		return;
	blk_start_plug(&plug);
	while ((bio = bio_list_pop(bios))) {
		spin_lock_irq(&cb->lock);
		route = route_write(cb, bio, &claimed);
		spin_unlock_irq(&cb->lock);
		cb_copy_submit_list(&claimed, false);
		if (route == CB_ROUTE_GO)
			end_waiting(cb, bio, BLK_STS_OK);
	}
	blk_finish_plug(&plug);
}

/*
 * Writes released where they cannot be submitted (a view read's
 * completion, a state change): route them from cow_work. Caller holds
 * cb->lock.
 */
void cb_retry_later(struct cowbackup *cb, struct bio_list *bios)
{
	if (bio_list_empty(bios))
		return;
	bio_list_merge(&cb->retry, bios);
	bio_list_init(bios);
	if (!cb->dead)
		queue_work(cb->wq, &cb->cow_work);
}

void cb_cow_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(ws, struct cowbackup, cow_work);
	struct bio_list bios;

	spin_lock_irq(&cb->lock);
	bios = cb->retry;
	bio_list_init(&cb->retry);
	spin_unlock_irq(&cb->lock);
	route_again(cb, &bios);
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

static bool may_park(struct cowbackup *cb)
{
	return atomic_read(&cb->nr_waiting) < CB_MAX_WAITING;
}

/*
 * map() for write-like bios: straight through, lock-free, when no cluster
 * under the bio is dirty or under a cell; else route it under the lock.
 */
int cb_map_write(struct cowbackup *cb, struct bio *bio)
{
	struct cb_write_io *io = dm_per_bio_data(bio, sizeof(*io));
	u64 c0 = cb_sector_to_cluster(cb, bio->bi_iter.bi_sector);
	u64 c1 = cb_sector_to_cluster(cb, bio_end_sector(bio) - 1);
	enum cb_route route;
	LIST_HEAD(claimed);

	if (cb_fast_write_begin(cb, c0, c1)) {
		io->fast = true;
		return DM_MAPIO_REMAPPED;
	}
	if (!may_park(cb)) {
		if (bio->bi_opf & REQ_NOWAIT) {
			bio_wouldblock_error(bio);
			return DM_MAPIO_SUBMITTED;
		}
		wait_event(cb->waiting_wait, may_park(cb));
	}

	spin_lock_irq(&cb->lock);
	route = route_write(cb, bio, &claimed);
	if (route == CB_ROUTE_PARKED)
		atomic_inc(&cb->nr_waiting);
	spin_unlock_irq(&cb->lock);
	cb_copy_submit_list(&claimed, true);
	return route == CB_ROUTE_GO ? DM_MAPIO_REMAPPED : DM_MAPIO_SUBMITTED;
}
