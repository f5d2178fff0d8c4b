// SPDX-License-Identifier: GPL-2.0
/*
 * cowbackup-snap: a read-only view of the point-in-time image of the live
 * cowbackup job on the same source/target pair.
 *
 * A read of clusters whose point-in-time data is on the target goes to the
 * target. A read of other clusters goes to the source while holding them:
 * the read puts a shared cell over them (range_lock.c), the same cells
 * that make guest writes wait for copy-outs, so no write can change those
 * clusters until the read is done, whatever happens to the job meanwhile
 * (completion included: writes honour cells as long as they exist). A bio
 * is trimmed to a run of clusters of one kind, so a read never mixes the
 * two and never sees a half-done copy (clusters are marked copied only
 * after the target write finished).
 *
 * The job's postsuspend and dtr wait for holds and then refuse new ones,
 * so a table swapped in after them never meets a read it cannot see.
 * With no live job for the pair, a cancelled or failed one, or a source
 * read that cannot be held, reads fail with EIO.
 */
#include <linux/module.h>

#include "../include/uapi/dm-cowbackup.h"
#include "cowbackup.h"

struct cb_view {
	struct dm_dev *source;
	struct dm_dev *target;
};

/* Per-bio: the hold on the job while a source read is in flight. */
struct cb_view_io {
	struct cowbackup *job;		/* NULL when nothing is held */
	struct cb_cell hold;
	bool gated;			/* the hold covers settled clusters */
};

static int view_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cb_view *v;
	int r;

	if (argc != 2) {
		ti->error = "Need <source dev> <target dev>";
		return -EINVAL;
	}
	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (!v) {
		ti->error = "Cannot allocate view";
		return -ENOMEM;
	}
	r = dm_get_device(ti, argv[0], FMODE_READ, &v->source);
	if (r) {
		ti->error = "Error opening source device";
		goto bad;
	}
	r = dm_get_device(ti, argv[1], FMODE_READ, &v->target);
	if (r) {
		ti->error = "Error opening target device";
		goto bad;
	}
	r = -EINVAL;
	if (v->source->bdev->bd_dev == v->target->bdev->bd_dev) {
		ti->error = "Source and target are the same device";
		goto bad;
	}
	if (bdev_nr_sectors(v->source->bdev) < ti->len ||
	    bdev_nr_sectors(v->target->bdev) < ti->len) {
		ti->error = "View is longer than the source or target device";
		goto bad;
	}
	r = cb_check_block_sizes(ti, v->source, v->target, 0);
	if (r)
		goto bad;
	ti->private = v;
	ti->per_io_data_size = sizeof(struct cb_view_io);
	ti->num_flush_bios = 1;
	return 0;
bad:
	if (v->target)
		dm_put_device(ti, v->target);
	if (v->source)
		dm_put_device(ti, v->source);
	kfree(v);
	return r;
}

static void view_dtr(struct dm_target *ti)
{
	struct cb_view *v = ti->private;

	dm_put_device(ti, v->target);
	dm_put_device(ti, v->source);
	kfree(v);
}

/*
 * Route a read: trim it to one run of copied or uncopied clusters, then
 * send it to the target, or to the source under a hold.
 */
static int view_route(struct cowbackup *job, struct cb_view *v,
		      struct bio *bio, struct cb_view_io *io)
{
	sector_t sector = bio->bi_iter.bi_sector;
	u64 c0 = cb_sector_to_cluster(job, sector);
	u64 c1 = cb_sector_to_cluster(job, bio_end_sector(bio) - 1);
	u64 start, len, run_end;
	bool copied;

	if (job->dead || job->state == CB_CANCELLED ||
	    job->state == CB_FAILED || bio_end_sector(bio) > job->len)
		return DM_MAPIO_KILL;

	/* Both searches stop at the bio's end: cost bounded by its size. */
	copied = hbitmap_next_dirty_area(job->copied, c0, c1 + 1,
					 c1 - c0 + 1, &start, &len) &&
		 start == c0;
	if (copied)
		run_end = c0 + len;
	else
		run_end = min(hbitmap_next_set(job->copied, c0), c1 + 1);
	if (run_end <= c1) {
		dm_accept_partial_bio(bio, cb_cluster_to_sector(job, run_end) -
				      sector);
		c1 = run_end - 1;
	}
	if (copied) {
		bio_set_dev(bio, v->target->bdev);
		return DM_MAPIO_REMAPPED;
	}
	/* Suspended for good (or for a swap): the source is not ours. */
	if (job->frozen)
		return DM_MAPIO_KILL;
	bio_set_dev(bio, v->source->bdev);
	/* Keep guest writes off these clusters until we are done. */
	io->gated = hbitmap_next_zero(job->unsafe, c0) <= c1;
	cb_cell_add(job, &io->hold, c0, c1 - c0 + 1);
	if (io->gated)
		cb_gate_enter(job);
	job->nr_holds++;
	io->job = job;
	return DM_MAPIO_REMAPPED;
}

static int view_map(struct dm_target *ti, struct bio *bio)
{
	struct cb_view *v = ti->private;
	struct cb_view_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct cowbackup *job;
	unsigned long flags;
	bool superseded;
	int r;

	io->job = NULL;
	io->gated = false;
	if (op_is_write(bio_op(bio)))
		return DM_MAPIO_KILL;	/* read-only view */
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	if (!bio_sectors(bio)) {
		bio_set_dev(bio, v->source->bdev);
		return DM_MAPIO_REMAPPED;
	}

	do {
		job = cb_job_get(v->source->bdev->bd_dev,
				 v->target->bdev->bd_dev);
		if (!job)
			return DM_MAPIO_KILL;
		spin_lock_irqsave(&job->lock, flags);
		/* Lost a race with a table reload: ask the new job. */
		superseded = job->superseded;
		r = superseded ? DM_MAPIO_KILL : view_route(job, v, bio, io);
		spin_unlock_irqrestore(&job->lock, flags);
		if (!io->job)
			cb_job_put(job);
	} while (superseded);
	/* Settled clusters: the writes that skip the lock must drain. */
	if (io->job && io->gated)
		cb_gate_wait(io->job);
	return r;
}

static int view_end_io(struct dm_target *ti, struct bio *bio,
		       blk_status_t *error)
{
	struct cb_view_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct bio_list released = BIO_EMPTY_LIST;
	struct cowbackup *job = io->job;
	unsigned long flags;

	if (!job)
		return DM_ENDIO_DONE;
	spin_lock_irqsave(&job->lock, flags);
	cb_cell_del(job, &io->hold, &released);
	/* Maybe in IRQ context: the released writes go from cow_work. */
	cb_retry_later(job, &released);
	if (io->gated)
		cb_gate_leave(job);
	job->nr_holds--;
	spin_unlock_irqrestore(&job->lock, flags);
	wake_up(&job->drain_wait);
	io->job = NULL;
	cb_job_put(job);
	return DM_ENDIO_DONE;
}

static void view_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result,
			unsigned int maxlen)
{
	struct cb_view *v = ti->private;
	struct cowbackup *job;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		job = cb_job_get(v->source->bdev->bd_dev,
				 v->target->bdev->bd_dev);
		if (!job) {
			DMEMIT("nojob");
			break;
		}
		spin_lock_irq(&job->lock);
		DMEMIT("%s", cb_state_name(job->state));
		spin_unlock_irq(&job->lock);
		cb_job_put(job);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s", v->source->name, v->target->name);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",source_name=%s,target_name=%s;", v->source->name,
		       v->target->name);
		break;
	}
}

static int view_iterate_devices(struct dm_target *ti,
				iterate_devices_callout_fn fn, void *data)
{
	struct cb_view *v = ti->private;
	int r = fn(ti, v->source, 0, ti->len, data);

	return r ? r : fn(ti, v->target, 0, ti->len, data);
}

static struct target_type cowbackup_view_target = {
	.name = COWBACKUP_VIEW_TARGET_NAME,
	.version = { COWBACKUP_VERSION_MAJOR, COWBACKUP_VERSION_MINOR,
		     COWBACKUP_VERSION_PATCH },
	.module = THIS_MODULE,
	.ctr = view_ctr,
	.dtr = view_dtr,
	.map = view_map,
	.end_io = view_end_io,
	.status = view_status,
	.iterate_devices = view_iterate_devices,
};

int cb_view_register(void)
{
	return dm_register_target(&cowbackup_view_target);
}

void cb_view_unregister(void)
{
	dm_unregister_target(&cowbackup_view_target);
}
