// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cowbackup: point-in-time backup of a live block device.
 *
 * The "cowbackup" target sits in front of a source device. From the moment
 * its table goes live, a write to a cluster whose old data is not yet on
 * the target device waits until that data has been copied there
 * (copy-before-write, cow.c), while a background copier copies the rest
 * (copier.c, sync=full and sync=top). When every cluster is settled the
 * target holds the source as it was at that moment.
 *
 * This file holds the job life cycle: constructor and destructor, map,
 * status, messages, suspend and resume, the registry the view target uses
 * to find a live job, and module init.
 */
#include <linux/module.h>
#include <linux/vmalloc.h>

#include "../include/uapi/dm-cowbackup.h"
#include "cowbackup.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static const char * const state_names[] = {
	[CB_RUNNING] = COWBACKUP_STATE_RUNNING,
	[CB_PAUSED] = COWBACKUP_STATE_PAUSED,
	[CB_COMPLETED] = COWBACKUP_STATE_COMPLETED,
	[CB_CANCELLED] = COWBACKUP_STATE_CANCELLED,
	[CB_FAILED] = COWBACKUP_STATE_FAILED,
};

const char *cb_state_name(enum cb_state state)
{
	return state_names[state];
}

/*----------------------------------------------------------------*/

/*
 * Every constructed job, live or not: one target device takes the jobs of
 * one mapped device only. The live ones (resumed, not yet replaced) are
 * what cowbackup-snap views find.
 */
static LIST_HEAD(cb_jobs);
static DEFINE_SPINLOCK(cb_jobs_lock);

static dev_t cb_source_dev(const struct cowbackup *cb)
{
	return cb->source->bdev->bd_dev;
}

static dev_t cb_target_dev(const struct cowbackup *cb)
{
	return cb->target->bdev->bd_dev;
}

/*
 * Add a new job, unless another mapped device has a job on its target
 * (a reload of the same device may). Returns the other device or NULL.
 */
static struct mapped_device *cb_register(struct cowbackup *cb)
{
	struct mapped_device *other = NULL;
	struct cowbackup *j;

	spin_lock(&cb_jobs_lock);
	list_for_each_entry(j, &cb_jobs, job_node) {
		if (j->md != cb->md &&
		    (cb_target_dev(j) == cb_target_dev(cb) ||
		     cb_source_dev(j) == cb_target_dev(cb) ||
		     cb_target_dev(j) == cb_source_dev(cb))) {
			other = j->md;
			break;
		}
	}
	if (!other)
		list_add(&cb->job_node, &cb_jobs);
	spin_unlock(&cb_jobs_lock);
	return other;
}

static void cb_unregister(struct cowbackup *cb)
{
	spin_lock(&cb_jobs_lock);
	if (!list_empty(&cb->job_node))
		list_del_init(&cb->job_node);
	cb->live = false;
	spin_unlock(&cb_jobs_lock);
}

static void cb_set_live(struct cowbackup *cb, bool live)
{
	spin_lock(&cb_jobs_lock);
	cb->live = live;
	spin_unlock(&cb_jobs_lock);
}

/*
 * The live job on this device pair, with a reference, or NULL. With @md,
 * only that device's job (table handover).
 */
static struct cowbackup *cb_job_find(dev_t source, dev_t target,
				     struct mapped_device *md)
{
	struct cowbackup *cb, *found = NULL;

	spin_lock(&cb_jobs_lock);
	list_for_each_entry(cb, &cb_jobs, job_node) {
		if (cb->live && cb_source_dev(cb) == source &&
		    cb_target_dev(cb) == target && (!md || cb->md == md)) {
			kref_get(&cb->kref);
			found = cb;
			break;
		}
	}
	spin_unlock(&cb_jobs_lock);
	return found;
}

struct cowbackup *cb_job_get(dev_t source, dev_t target)
{
	return cb_job_find(source, target, NULL);
}

/* Only the struct itself: views may drop the last reference in IRQ. */
static void cb_release(struct kref *kref)
{
	kfree(container_of(kref, struct cowbackup, kref));
}

void cb_job_put(struct cowbackup *cb)
{
	kref_put(&cb->kref, cb_release);
}

/*----------------------------------------------------------------*/

static const char *cb_dev_name(struct cowbackup *cb)
{
	return dm_device_name(dm_table_get_md(cb->ti->table));
}

static void cb_event_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(ws, struct cowbackup, event_work);

	dm_table_event(cb->ti->table);
}

/* Caller holds cb->lock. Every state change raises a dm event. */
void cb_set_state(struct cowbackup *cb, enum cb_state state)
{
	if (cb->state == state)
		return;
	cb->state = state;
	if (!cb->dead)
		queue_work(cb->wq, &cb->event_work);
	/* Writes waiting for a copy buffer go through once the job ended. */
	if (!cb_intercepting(cb))
		cb_retry_later(cb, &cb->starved);
}

/*
 * Caller holds cb->lock. Everything is settled: flush the target's cache
 * before the job is reported completed, so "completed" means durable.
 */
void cb_check_completed(struct cowbackup *cb)
{
	if (cb_intercepting(cb) && cb->args.sync != CB_SYNC_NONE &&
	    !hbitmap_count(cb->dirty) && !cb->inflight_clusters && !cb->dead)
		queue_work(cb->wq, &cb->complete_work);
}

static void cb_complete_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(ws, struct cowbackup,
					    complete_work);
	int r = blkdev_issue_flush(cb->target->bdev);

	spin_lock_irq(&cb->lock);
	if (cb_intercepting(cb) && !hbitmap_count(cb->dirty) &&
	    !cb->inflight_clusters) {
		if (r) {
			DMERR("%s: flushing the target failed (%d): backup not durable",
			      cb_dev_name(cb), r);
			cb->errors++;
			cb_set_state(cb, CB_FAILED);
		} else {
			cb_set_state(cb, CB_COMPLETED);
		}
	}
	spin_unlock_irq(&cb->lock);
}

/*----------------------------------------------------------------*/

/* The bvecs of every bio of a copy: one per page of its buffer. */
static void cb_map_copy_buffer(struct cb_copy *copy, u32 copy_bytes)
{
	unsigned int i;

	for (i = 0; i < copy_bytes >> PAGE_SHIFT; i++) {
		copy->bvecs[i].bv_page =
			vmalloc_to_page(copy->buf + (i << PAGE_SHIFT));
		copy->bvecs[i].bv_len = PAGE_SIZE;
		copy->bvecs[i].bv_offset = 0;
	}
}

static int cb_alloc_copies(struct cowbackup *cb)
{
	u32 cluster_bytes = cb->args.cluster_sectors << SECTOR_SHIFT;
	u32 copy_bytes = max_t(u32, cluster_bytes, CB_COPY_BYTES);
	unsigned int i;

	cb->copy_clusters = copy_bytes / cluster_bytes;
	/* max_workers background copies plus the copy-out reserve. */
	cb->nr_copies = min_t(unsigned int,
			      cb->args.max_workers + CB_COW_RESERVE,
			      CB_COPY_POOL_BYTES / copy_bytes);
	cb->nr_copies = max_t(unsigned int, cb->nr_copies,
			      CB_COW_RESERVE + 1);
	cb->copies = kcalloc(cb->nr_copies, sizeof(*cb->copies), GFP_KERNEL);
	if (!cb->copies)
		return -ENOMEM;
	for (i = 0; i < cb->nr_copies; i++) {
		struct cb_copy *copy = &cb->copies[i];

		copy->buf = vmalloc(copy_bytes);
		copy->bvecs = kvmalloc_array(copy_bytes >> PAGE_SHIFT,
					     sizeof(*copy->bvecs), GFP_KERNEL);
		if (!copy->buf || !copy->bvecs)
			return -ENOMEM;
		cb_map_copy_buffer(copy, copy_bytes);
		copy->cb = cb;
		INIT_WORK(&copy->work, cb_copy_stage_work);
		list_add_tail(&copy->node, &cb->free_copies);
	}
	cb->nr_free_copies = cb->nr_copies;
	return 0;
}

static void cb_free_copies(struct cowbackup *cb)
{
	unsigned int i;

	if (!cb->copies)
		return;
	for (i = 0; i < cb->nr_copies; i++) {
		vfree(cb->copies[i].buf);
		kvfree(cb->copies[i].bvecs);
	}
	kfree(cb->copies);
}

/* Release what ctr acquired; safe on a partly built job. */
static void cb_destroy(struct cowbackup *cb)
{
	struct dm_target *ti = cb->ti;

	cb_unregister(cb);
	cb_gate_exit(cb);
	if (cb->wq)
		destroy_workqueue(cb->wq);
	if (cb->local_wq)
		destroy_workqueue(cb->local_wq);
	if (cb->dirty)
		hbitmap_free(cb->dirty);
	if (cb->copied)
		hbitmap_free(cb->copied);
	if (cb->unsafe)
		hbitmap_free(cb->unsafe);
	bioset_exit(&cb->bios);
	cb_free_copies(cb);
	if (cb->target)
		dm_put_device(ti, cb->target);
	if (cb->source)
		dm_put_device(ti, cb->source);
	cb_job_put(cb);
}

/*
 * Both devices' logical blocks must tile the table and every cluster:
 * copies read the source and write the target cluster by cluster, and
 * the last cluster ends at ti->len. @cluster_sectors 0: no clusters.
 */
int cb_check_block_sizes(struct dm_target *ti, struct dm_dev *source,
			 struct dm_dev *target, unsigned int cluster_sectors)
{
	unsigned int lbs = max(bdev_logical_block_size(source->bdev),
			       bdev_logical_block_size(target->bdev));
	sector_t lbs_sectors = lbs >> SECTOR_SHIFT;

	if (ti->len & (lbs_sectors - 1)) {
		ti->error = "Length is not a multiple of the devices' logical block size";
		return -EINVAL;
	}
	if (cluster_sectors && cluster_sectors < lbs_sectors) {
		ti->error = "Cluster size is smaller than the devices' logical block size";
		return -EINVAL;
	}
	return 0;
}

static int cb_get_devices(struct cowbackup *cb, char **argv)
{
	struct dm_target *ti = cb->ti;
	fmode_t mode = dm_table_get_mode(ti->table);
	int r;

	r = dm_get_device(ti, argv[0], mode, &cb->source);
	if (r) {
		ti->error = "Error opening source device";
		return r;
	}
	r = dm_get_device(ti, argv[1], FMODE_READ | FMODE_WRITE, &cb->target);
	if (r) {
		ti->error = "Error opening target device";
		return r;
	}
	if (cb->source->bdev->bd_dev == cb->target->bdev->bd_dev) {
		ti->error = "Source and target are the same device";
		return -EINVAL;
	}
	if (bdev_nr_sectors(cb->source->bdev) < ti->len) {
		ti->error = "Source device is smaller than the target length";
		return -EINVAL;
	}
	if (bdev_nr_sectors(cb->target->bdev) < ti->len) {
		ti->error = "Target device is smaller than the source";
		return -EINVAL;
	}
	return cb_check_block_sizes(ti, cb->source, cb->target,
				    cb->args.cluster_sectors);
}

static int cb_ctr_bitmaps(struct cowbackup *cb)
{
	cb->dirty = hbitmap_alloc(cb->nr_clusters, GFP_KERNEL);
	cb->copied = hbitmap_alloc(cb->nr_clusters, GFP_KERNEL);
	cb->unsafe = hbitmap_alloc(cb->nr_clusters, GFP_KERNEL);
	if (!cb->dirty || !cb->copied || !cb->unsafe) {
		cb->ti->error = "Cannot allocate cluster bitmaps";
		return -ENOMEM;
	}
	/* Every cluster needs its point-in-time data protected. */
	hbitmap_set_all(cb->dirty);
	hbitmap_set_all(cb->unsafe);
	return 0;
}

/*
 * <source dev> <target dev> <sync> [<#opt args> <opt arg>...]
 */
static int cb_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct mapped_device *other;
	struct cowbackup *cb;
	int r;

	if (argc < 3) {
		ti->error = "Need <source dev> <target dev> <sync> [<#opt args> <opt arg>...]";
		return -EINVAL;
	}
	cb = kzalloc(sizeof(*cb), GFP_KERNEL);
	if (!cb) {
		ti->error = "Cannot allocate job";
		return -ENOMEM;
	}
	cb->ti = ti;
	cb->md = dm_table_get_md(ti->table);
	cb->len = ti->len;
	kref_init(&cb->kref);
	spin_lock_init(&cb->lock);
	cb->cells = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&cb->free_copies);
	INIT_LIST_HEAD(&cb->job_node);
	bio_list_init(&cb->starved);
	bio_list_init(&cb->retry);
	init_waitqueue_head(&cb->drain_wait);
	init_waitqueue_head(&cb->gate_wait);
	init_waitqueue_head(&cb->waiting_wait);
	atomic_set(&cb->nr_waiting, 0);
	INIT_WORK(&cb->cow_work, cb_cow_work);
	INIT_WORK(&cb->gate_work, cb_gate_work);
	INIT_WORK(&cb->event_work, cb_event_work);
	INIT_WORK(&cb->complete_work, cb_complete_work);
	INIT_DELAYED_WORK(&cb->copier_work, cb_copier_work);

	r = cb_parse_args(argc - 2, argv + 2, &cb->args, &ti->error);
	if (r)
		goto bad;
	r = cb_get_devices(cb, argv);
	if (r)
		goto bad;
	other = cb_register(cb);
	if (other) {
		DMERR("%s: target %s is in use by the cowbackup job of %s",
		      dm_device_name(cb->md), cb->target->name,
		      dm_device_name(other));
		ti->error = "Target device is in use by another cowbackup job";
		r = -EBUSY;
		goto bad;
	}

	cb->cluster_shift = __ffs(cb->args.cluster_sectors);
	cb->nr_clusters = DIV_ROUND_UP_ULL(ti->len, cb->args.cluster_sectors);
	r = cb_ctr_bitmaps(cb);
	if (r)
		goto bad;
	r = cb_alloc_copies(cb);
	if (r) {
		ti->error = "Cannot allocate copy buffers";
		goto bad;
	}
	/* A stage's bios beyond its first: rare, one per copy in reserve. */
	r = bioset_init(&cb->bios, cb->nr_copies, 0, 0);
	if (r) {
		ti->error = "Cannot allocate bio set";
		goto bad;
	}
	r = cb_gate_init(cb);
	if (r) {
		ti->error = "Cannot allocate write counter";
		goto bad;
	}
	cb->wq = alloc_workqueue("kcowbackupd/%s", WQ_MEM_RECLAIM | WQ_UNBOUND,
				 0, dm_device_name(cb->md));
	cb->local_wq = alloc_workqueue("kcowbackupd-cpu/%s",
				       WQ_MEM_RECLAIM | WQ_HIGHPRI, 0,
				       dm_device_name(cb->md));
	if (!cb->wq || !cb->local_wq) {
		r = -ENOMEM;
		ti->error = "Cannot allocate workqueue";
		goto bad;
	}

	cb->state = cb->args.paused ? CB_PAUSED : CB_RUNNING;
	cb->target_write_zeroes = bdev_write_zeroes_sectors(cb->target->bdev);
	cb_ratelimit_init(&cb->rl, cb->args.speed, ktime_get_ns());

	ti->private = cb;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct cb_write_io);
	ti->accounts_remapped_io = true;
	return 0;
bad:
	cb_destroy(cb);
	return r;
}

/* True once no view read holds clusters; then none may start. */
static bool cb_holds_freeze(struct cowbackup *cb)
{
	bool frozen;

	spin_lock_irq(&cb->lock);
	frozen = !cb->nr_holds;
	if (frozen)
		cb->frozen = true;
	spin_unlock_irq(&cb->lock);
	return frozen;
}

/*
 * Wait for copies and view holds. After this no view read can see the
 * source change under it, whatever table comes next.
 */
static void cb_quiesce(struct cowbackup *cb)
{
	cb_copy_drain(cb);
	wait_event(cb->drain_wait, cb_holds_freeze(cb));
}

static void cb_dtr(struct dm_target *ti)
{
	struct cowbackup *cb = ti->private;

	cb_copier_stop(cb);
	cb_quiesce(cb);
	spin_lock_irq(&cb->lock);
	cb->dead = true;
	spin_unlock_irq(&cb->lock);
	cb_destroy(cb);
}

/*----------------------------------------------------------------*/

static int cb_map(struct dm_target *ti, struct bio *bio)
{
	struct cowbackup *cb = ti->private;
	struct cb_write_io *io = dm_per_bio_data(bio, sizeof(*io));

	io->fast = false;
	bio_set_dev(bio, cb->source->bdev);
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = dm_target_offset(ti,
							  bio->bi_iter.bi_sector);
	/* Reads and empty flushes pass straight through. */
	if (!op_is_write(bio_op(bio)) || !bio_sectors(bio))
		return DM_MAPIO_REMAPPED;
	return cb_map_write(cb, bio);
}

static int cb_end_io(struct dm_target *ti, struct bio *bio,
		     blk_status_t *error)
{
	struct cb_write_io *io = dm_per_bio_data(bio, sizeof(*io));

	if (io->fast)
		cb_fast_write_end(ti->private);
	return DM_ENDIO_DONE;
}

/*----------------------------------------------------------------*/

static void cb_status_table(struct cowbackup *cb, char *result,
			    unsigned int maxlen)
{
	const struct cb_args *a = &cb->args;
	unsigned int sz = 0, nr = 2;
	bool paused;

	nr += a->speed ? 2 : 0;
	nr += a->max_workers != COWBACKUP_MAX_WORKERS_DEFAULT ? 2 : 0;
	nr += a->on_source_error != CB_POLICY_REPORT ? 2 : 0;
	nr += a->on_target_error != CB_POLICY_REPORT ? 2 : 0;
	nr += a->cow_error != CB_COW_BREAK_SNAPSHOT ? 2 : 0;
	/* A job paused now reloads paused; one resumed reloads running. */
	paused = READ_ONCE(cb->state) == CB_PAUSED;
	nr += paused ? 1 : 0;

	DMEMIT("%s %s %s %u %s %u", cb->source->name, cb->target->name,
	       cb_sync_name(a->sync), nr, COWBACKUP_ARG_CLUSTER_SIZE,
	       a->cluster_sectors);
	if (a->speed)
		DMEMIT(" %s %llu", COWBACKUP_ARG_SPEED, a->speed);
	if (a->max_workers != COWBACKUP_MAX_WORKERS_DEFAULT)
		DMEMIT(" %s %u", COWBACKUP_ARG_MAX_WORKERS, a->max_workers);
	if (a->on_source_error != CB_POLICY_REPORT)
		DMEMIT(" %s %s", COWBACKUP_ARG_ON_SOURCE_ERROR,
		       cb_policy_name(a->on_source_error));
	if (a->on_target_error != CB_POLICY_REPORT)
		DMEMIT(" %s %s", COWBACKUP_ARG_ON_TARGET_ERROR,
		       cb_policy_name(a->on_target_error));
	if (a->cow_error != CB_COW_BREAK_SNAPSHOT)
		DMEMIT(" %s %s", COWBACKUP_ARG_COW_ERROR,
		       cb_cow_error_name(a->cow_error));
	if (paused)
		DMEMIT(" %s", COWBACKUP_ARG_PAUSED);
}

static void cb_status(struct dm_target *ti, status_type_t type,
		      unsigned int status_flags, char *result,
		      unsigned int maxlen)
{
	struct cowbackup *cb = ti->private;
	unsigned int sz = 0;
	u64 settled;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&cb->lock);
		settled = cb->nr_clusters - hbitmap_count(cb->dirty) -
			  cb->inflight_clusters;
		DMEMIT("%s %s %u %llu/%llu %llu %llu %llu %llu %llu",
		       cb_state_name(cb->state), cb_sync_name(cb->args.sync),
		       cb->args.cluster_sectors, settled, cb->nr_clusters,
		       cb->cow_copies, cb->background_copies,
		       cb->zero_clusters, cb->errors, cb->rl.speed);
		spin_unlock_irq(&cb->lock);
		break;
	case STATUSTYPE_TABLE:
		cb_status_table(cb, result, maxlen);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",source_name=%s,target_name=%s,sync=%s,cluster_size=%u;",
		       cb->source->name, cb->target->name,
		       cb_sync_name(cb->args.sync), cb->args.cluster_sectors);
		break;
	}
}

/*----------------------------------------------------------------*/

static int msg_pause_resume(struct cowbackup *cb, bool pause)
{
	int r = 0;

	spin_lock_irq(&cb->lock);
	if (!cb_intercepting(cb))
		r = -EINVAL;
	else
		cb_set_state(cb, pause ? CB_PAUSED : CB_RUNNING);
	spin_unlock_irq(&cb->lock);
	if (r)
		DMERR("%s: cannot %s a job that is %s", cb_dev_name(cb),
		      pause ? "pause" : "resume", cb_state_name(cb->state));
	else if (!pause)
		cb_copier_kick(cb, 0);
	return r;
}

static int msg_cancel(struct cowbackup *cb)
{
	int r = 0;

	spin_lock_irq(&cb->lock);
	if (cb_intercepting(cb))
		cb_set_state(cb, CB_CANCELLED);
	else
		r = -EINVAL;
	spin_unlock_irq(&cb->lock);
	if (r)
		DMERR("%s: cannot cancel a job that is %s", cb_dev_name(cb),
		      cb_state_name(cb->state));
	return r;
}

static int msg_speed(struct cowbackup *cb, const char *arg)
{
	u64 speed;

	if (cb_parse_u64(arg, &speed)) {
		DMERR("%s: speed: '%s' is not a number of bytes per second",
		      cb_dev_name(cb), arg);
		return -EINVAL;
	}
	spin_lock_irq(&cb->lock);
	cb_ratelimit_set_speed(&cb->rl, speed, ktime_get_ns());
	cb->args.speed = speed;
	spin_unlock_irq(&cb->lock);
	cb_copier_kick(cb, 0);
	return 0;
}

static int msg_skip(struct cowbackup *cb, const char *arg_first,
		    const char *arg_count)
{
	const char *why = NULL;
	u64 first, count;

	if (cb_parse_u64(arg_first, &first) || cb_parse_u64(arg_count, &count))
		why = "need <first cluster> <count> as numbers";
	else if (first > cb->nr_clusters || count > cb->nr_clusters - first)
		why = "range is past the last cluster";
	else if (cb->args.sync != CB_SYNC_TOP)
		why = "only sync=top jobs take skip";
	if (why) {
		DMERR("%s: skip: %s", cb_dev_name(cb), why);
		return -EINVAL;
	}

	spin_lock_irq(&cb->lock);
	if (cb_intercepting(cb) && count) {
		/* Clusters in flight or copied are not dirty: left alone. */
		hbitmap_reset(cb->dirty, first, count);
		cb_unsafe_clear(cb, first, count);
		cb_check_completed(cb);
	}
	spin_unlock_irq(&cb->lock);
	return 0;
}

/*
 * The "bitmap" reply of both targets: the set extents of @hb from the
 * cluster in @arg on, as "<start>+<len>" words and a final "next=<cluster>"
 * or "next=end", for paging. @lock guards @hb; @what names the message
 * in the error line.
 */
int cb_bitmap_reply(const char *dev_name, const char *what,
		    const struct hbitmap *hb, spinlock_t *lock,
		    const char *arg, char *result, unsigned int maxlen)
{
	/* Room kept for " next=<20 digits>" and the NUL. */
	const unsigned int tail = 32;
	u64 nr = hbitmap_size(hb);
	unsigned int sz;
	u64 first, next;

	if (cb_parse_u64(arg, &first) || first > nr) {
		DMERR("%s: %s: need a first cluster from 0 to %llu",
		      dev_name, what, nr);
		return -EINVAL;
	}
	if (maxlen <= tail)
		return -ENOSPC;
	spin_lock_irq(lock);
	hbitmap_format_extents(hb, first, result, maxlen - tail, &next);
	spin_unlock_irq(lock);
	sz = strlen(result);
	if (sz)
		DMEMIT(" ");
	if (next >= nr)
		DMEMIT("next=end");
	else
		DMEMIT("next=%llu", next);
	return 1;
}

static int cb_message(struct dm_target *ti, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen)
{
	struct cowbackup *cb = ti->private;
	const char *cmd = argc ? argv[0] : "";

	if (argc == 1 && !strcasecmp(cmd, COWBACKUP_MSG_PAUSE))
		return msg_pause_resume(cb, true);
	if (argc == 1 && !strcasecmp(cmd, COWBACKUP_MSG_RESUME))
		return msg_pause_resume(cb, false);
	if (argc == 1 && !strcasecmp(cmd, COWBACKUP_MSG_CANCEL))
		return msg_cancel(cb);
	if (argc == 2 && !strcasecmp(cmd, COWBACKUP_MSG_SPEED))
		return msg_speed(cb, argv[1]);
	if (argc == 3 && !strcasecmp(cmd, COWBACKUP_MSG_SKIP))
		return msg_skip(cb, argv[1], argv[2]);
	if (argc == 2 && !strcasecmp(cmd, COWBACKUP_MSG_BITMAP))
		return cb_bitmap_reply(cb_dev_name(cb), COWBACKUP_MSG_BITMAP,
				       cb->copied, &cb->lock, argv[1], result,
				       maxlen);

	DMERR("%s: unknown message '%s' with %u argument(s); expected pause, resume, cancel, speed <B/s>, skip <first> <count> or bitmap <first>",
	      cb_dev_name(cb), cmd, argc ? argc - 1 : 0);
	return -EINVAL;
}

/*----------------------------------------------------------------*/

static void cb_presuspend(struct dm_target *ti)
{
	cb_copier_stop(ti->private);
}

/* A suspend that failed or was interrupted leaves the device live. */
static void cb_presuspend_undo(struct dm_target *ti)
{
	struct cowbackup *cb = ti->private;

	spin_lock_irq(&cb->lock);
	cb->suspended = false;
	spin_unlock_irq(&cb->lock);
	cb_copier_kick(cb, 0);
}

static void cb_postsuspend(struct dm_target *ti)
{
	cb_quiesce(ti->private);
}

/* Exchange two bitmaps of the same size: O(1), not a copy. */
#define cb_swap_maps(a, b, field) swap((a)->field, (b)->field)

/*
 * A reloaded table of the same device on the same source/target pair
 * continues a running or paused job instead of starting a new point in
 * time, and keeps a completed one completed; after cancel or failure it
 * starts anew. The old table is suspended here, so its maps are still and
 * no copy or hold is in flight. Returns the old job, referenced, or NULL.
 */
static struct cowbackup *cb_adopt(struct cowbackup *cb)
{
	struct cowbackup *old;
	bool same;

	old = cb_job_find(cb_source_dev(cb), cb_target_dev(cb), cb->md);
	if (!old)
		return NULL;
	/* The old job may be completing: let it finish deciding. */
	flush_work(&old->complete_work);

	spin_lock_irq(&old->lock);
	spin_lock_nested(&cb->lock, SINGLE_DEPTH_NESTING);
	old->superseded = true;
	same = old->len == cb->len && old->cluster_shift == cb->cluster_shift &&
	       old->args.sync == cb->args.sync && old->frozen &&
	       !old->inflight_clusters &&
	       (cb_intercepting(old) || old->state == CB_COMPLETED);
	if (same) {
		cb_swap_maps(cb, old, dirty);
		cb_swap_maps(cb, old, copied);
		cb_swap_maps(cb, old, unsafe);
		/* The table line says paused or not; ended states stay. */
		if (old->state == CB_COMPLETED)
			cb->state = CB_COMPLETED;
		cb->cow_copies = old->cow_copies;
		cb->background_copies = old->background_copies;
		cb->zero_clusters = old->zero_clusters;
		cb->errors = old->errors;
		cb->cursor = old->cursor;
		cb_check_completed(cb);
	}
	spin_unlock(&cb->lock);
	spin_unlock_irq(&old->lock);
	if (!same)
		DMINFO("%s: reloaded table starts a new point in time (the old job was %s, or size, cluster size or sync mode differ)",
		       cb_dev_name(cb), cb_state_name(old->state));
	return old;
}

static void cb_resume(struct dm_target *ti)
{
	struct cowbackup *cb = ti->private;
	struct cowbackup *old;

	if (!cb->live) {
		old = cb_adopt(cb);
		cb_set_live(cb, true);
		if (old) {
			/* Views that raced with the swap retry on this job. */
			cb_set_live(old, false);
			cb_job_put(old);
		}
	}
	spin_lock_irq(&cb->lock);
	cb->suspended = false;
	cb->frozen = false;
	spin_unlock_irq(&cb->lock);
	cb_copier_kick(cb, 0);
}

static int cb_iterate_devices(struct dm_target *ti,
			      iterate_devices_callout_fn fn, void *data)
{
	struct cowbackup *cb = ti->private;

	int r = fn(ti, cb->source, 0, ti->len, data);

	/* The target's limits too: copies write it cluster by cluster. */
	return r ? r : fn(ti, cb->target, 0, ti->len, data);
}

static void cb_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	/* Cluster-aligned I/O avoids needless partial copy-outs. */
	limits->io_opt = max_t(unsigned int, limits->io_opt,
			       to_bytes(((struct cowbackup *)ti->private)
					->args.cluster_sectors));
}

static struct target_type cowbackup_target = {
	.name = COWBACKUP_TARGET_NAME,
	.version = { COWBACKUP_VERSION_MAJOR, COWBACKUP_VERSION_MINOR,
		     COWBACKUP_VERSION_PATCH },
	.module = THIS_MODULE,
	.ctr = cb_ctr,
	.dtr = cb_dtr,
	.map = cb_map,
	.end_io = cb_end_io,
	.status = cb_status,
	.message = cb_message,
	.presuspend = cb_presuspend,
	.presuspend_undo = cb_presuspend_undo,
	.postsuspend = cb_postsuspend,
	.resume = cb_resume,
	.iterate_devices = cb_iterate_devices,
	.io_hints = cb_io_hints,
};

static int __init dm_cowbackup_init(void)
{
	int r;

	r = dm_register_target(&cowbackup_target);
	if (r < 0) {
		DMERR("register failed %d", r);
		return r;
	}
	r = cb_view_register();
	if (r < 0)
		goto bad_view;
	r = cb_track_register();
	if (r < 0)
		goto bad_track;
	return 0;
bad_track:
	cb_view_unregister();
bad_view:
	dm_unregister_target(&cowbackup_target);
	return r;
}

static void __exit dm_cowbackup_exit(void)
{
	cb_track_unregister();
	cb_view_unregister();
	dm_unregister_target(&cowbackup_target);
}

module_init(dm_cowbackup_init);
module_exit(dm_cowbackup_exit);

MODULE_DESCRIPTION(DM_NAME " point-in-time backup of live block devices");
MODULE_LICENSE("GPL");
/* A table of any of the targets loads the module. */
MODULE_ALIAS("dm-" COWBACKUP_VIEW_TARGET_NAME);
MODULE_ALIAS("dm-" COWBACKUP_TRACK_TARGET_NAME);
