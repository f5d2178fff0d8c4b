// SPDX-License-Identifier: GPL-2.0
/*
 * cowbackup-track: persistent changed-block tracking.
 *
 *	<start> <len> cowbackup-track <dev> <meta dev> [<#opt> cluster_size <sectors>]
 *
 * A pass-through to <dev> (like dm-linear at offset 0) that records, per
 * cluster, whether a write-like bio (WRITE, WRITE_ZEROES, DISCARD,
 * SECURE_ERASE: every op_is_write() bio that carries sectors) touched it
 * in the *current* map. The "checkpoint" message, sent while the device is
 * suspended, turns the current map into the *frozen* map of epoch N and
 * starts an empty current map for epoch N + 1; an incremental backup
 * taken at that point in time copies the frozen map's clusters.
 *
 * The invariant: a map is either complete or marked invalid, never
 * silently incomplete. The maps persist on <meta dev> (format in
 * track_meta.c) under this sequence, serialised by meta_lock:
 *
 *	preresume	first one of this table: read the metadata (a bad or
 *			unclean header, a length or cluster size change:
 *			both maps invalid, a new history starts empty);
 *			then the header with clean=0, REQ_FUA, waited for.
 *			No bio reaches map() before preresume returns, so no
 *			write ever precedes its clean=0 on stable storage.
 *			If that header cannot be written the resume fails.
 *	postsuspend	no bio in flight any more: both maps, then the
 *			header with clean=1 in one REQ_PREFLUSH | REQ_FUA
 *			write (the flush orders the maps before it).
 *	checkpoint	only while suspended: swap the maps, bump the epoch,
 *			and save as postsuspend does, so the table that is
 *			resumed next (this one or a reload) reads it back.
 *	dtr		saves only if this table wrote clean=0 and did not
 *			save since (never, as dm suspends before dtr); and
 *			if the device lives on with a table that does not
 *			track on this metadata (a reload that bypasses the
 *			tracker), marks both maps invalid ("bypassed"):
 *			writes from now on are not seen.
 *
 * The metadata is read at the first resume, not in the constructor: a
 * table loaded over a live tracker (a reload) would otherwise read the
 * clean=0 that the live table wrote and call its own maps invalid. By
 * the new table's preresume the old table has been suspended and saved.
 *
 * Hot path: a write to clusters already marked costs a lockless test of
 * their bits (hbitmap_range_full_lockless()); only a write that finds a
 * clear bit takes the spinlock to set it. Bits are set before the bio is
 * remapped. They are only ever cleared by a checkpoint, which runs while
 * no bio is in flight, so a lockless "all set" is never stale.
 */
#include <linux/dm-io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "../include/uapi/dm-cowbackup.h"
#include "cowbackup.h"
#include "track_meta.h"

/* Map I/O goes through a staging buffer of at most this size. */
#define TRACK_IO_BYTES		(256U << 10)

struct track {
	struct dm_target *ti;
	struct dm_dev *dev;
	struct dm_dev *meta_dev;
	struct mapped_device *md;
	struct list_head node;		/* on track_devices */

	/* Geometry, fixed at ctr. */
	u32 cluster_sectors;
	unsigned int cluster_shift;
	u64 nr_clusters;
	u64 map_sectors;		/* one map region on meta_dev */

	struct dm_io_client *io_client;
	void *hdr_buf;			/* TRACK_BLOCK_BYTES, kmalloc()ed */
	void *io_buf;			/* io_bytes of a map, vmalloc()ed */
	unsigned int io_bytes;

	struct mutex meta_lock;		/* metadata I/O and the flags below */
	bool loaded;			/* metadata read by a preresume */
	bool suspended;			/* postsuspend ran, no resume since */
	bool meta_dirty;		/* we wrote clean=0 and did not save */

	/*
	 * Guards setting bits in @cur (map()) and, with meta_lock also
	 * held, every change of the maps and of @meta (status reads them).
	 */
	spinlock_t lock;
	struct hbitmap *cur;
	struct hbitmap *frozen;
	/* uuid, epoch and validity; counts and csums are filled on save. */
	struct track_meta meta;
};

/*----------------------------------------------------------------*/

/*
 * One metadata device carries the maps of one mapped device only; a
 * reload of the same device may open it again.
 */
static LIST_HEAD(track_devices);
static DEFINE_SPINLOCK(track_devices_lock);

static struct mapped_device *track_register(struct track *t)
{
	dev_t meta = t->meta_dev->bdev->bd_dev;
	struct mapped_device *other = NULL;
	struct track *o;

	spin_lock(&track_devices_lock);
	list_for_each_entry(o, &track_devices, node) {
		if (o->md != t->md &&
		    (o->meta_dev->bdev->bd_dev == meta ||
		     o->dev->bdev->bd_dev == meta ||
		     o->meta_dev->bdev->bd_dev == t->dev->bdev->bd_dev)) {
			other = o->md;
			break;
		}
	}
	if (!other)
		list_add(&t->node, &track_devices);
	spin_unlock(&track_devices_lock);
	return other;
}

static void track_unregister(struct track *t)
{
	spin_lock(&track_devices_lock);
	if (!list_empty(&t->node))
		list_del_init(&t->node);
	spin_unlock(&track_devices_lock);
}

static const char *track_name(struct track *t)
{
	return dm_device_name(t->md);
}

/*----------------------------------------------------------------*/

/* Synchronous metadata I/O of @sectors at @sector; process context. */
static int track_io(struct track *t, blk_opf_t opf, sector_t sector,
		    void *buf, bool vmalloced, unsigned int sectors)
{
	struct dm_io_region region = {
		.bdev = t->meta_dev->bdev,
		.sector = sector,
		.count = sectors,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = vmalloced ? DM_IO_VMA : DM_IO_KMEM,
		.client = t->io_client,
	};
	unsigned long error_bits = 0;
	int r;

	if (vmalloced)
		req.mem.ptr.vma = buf;
	else
		req.mem.ptr.addr = buf;
	r = dm_io(&req, 1, &region, &error_bits, IOPRIO_DEFAULT);
	if (!r && error_bits)
		r = -EIO;
	return r;
}

static struct hbitmap *track_map_of(struct track *t, unsigned int which)
{
	return which ? t->cur : t->frozen;
}

/*
 * Write both maps, recording count and checksum in t->meta. Only while
 * no bio is in flight: the maps are read without the spinlock.
 */
static int track_write_maps(struct track *t)
{
	u64 bytes = t->map_sectors << SECTOR_SHIFT;
	struct track_map_meta *mm;
	unsigned int which, chunk;
	u64 off;
	u32 crc;
	int r;

	for (which = 0; which < 2; which++) {
		struct hbitmap *hb = track_map_of(t, which);

		crc = TRACK_CSUM_INIT;
		for (off = 0; off < bytes; off += chunk) {
			chunk = min_t(u64, t->io_bytes, bytes - off);
			track_map_pack(hb, off * 8, t->io_buf, chunk);
			crc = track_csum_update(crc, t->io_buf, chunk);
			r = track_io(t, REQ_OP_WRITE,
				     track_map_offset(t->nr_clusters, which) +
				     (off >> SECTOR_SHIFT), t->io_buf, true,
				     chunk >> SECTOR_SHIFT);
			if (r)
				return r;
		}
		mm = which ? &t->meta.cur : &t->meta.frozen;
		mm->csum = track_csum_final(crc);
		mm->count = hbitmap_count(hb);
	}
	return 0;
}

/*
 * Read both maps into the (empty) bitmaps and check them against the
 * header @m: TRACK_OK, TRACK_IO_ERROR or TRACK_BAD_BITMAP.
 */
static enum track_reason track_read_maps(struct track *t,
					 const struct track_meta *m)
{
	u64 bytes = t->map_sectors << SECTOR_SHIFT;
	const struct track_map_meta *mm;
	unsigned int which, chunk;
	u64 off;
	u32 crc;

	for (which = 0; which < 2; which++) {
		struct hbitmap *hb = track_map_of(t, which);

		crc = TRACK_CSUM_INIT;
		for (off = 0; off < bytes; off += chunk) {
			chunk = min_t(u64, t->io_bytes, bytes - off);
			if (track_io(t, REQ_OP_READ,
				     track_map_offset(t->nr_clusters, which) +
				     (off >> SECTOR_SHIFT), t->io_buf, true,
				     chunk >> SECTOR_SHIFT))
				return TRACK_IO_ERROR;
			crc = track_csum_update(crc, t->io_buf, chunk);
			if (track_map_unpack(hb, off * 8, t->io_buf, chunk))
				return TRACK_BAD_BITMAP;
			cond_resched();
		}
		mm = which ? &m->cur : &m->frozen;
		if (track_csum_final(crc) != mm->csum ||
		    hbitmap_count(hb) != mm->count)
			return TRACK_BAD_BITMAP;
	}
	return TRACK_OK;
}

/* The header block from t->meta with @clean; @opf adds FUA/PREFLUSH. */
static int track_write_header(struct track *t, bool clean, blk_opf_t opf)
{
	t->meta.clean = clean;
	memset(t->hdr_buf, 0, TRACK_BLOCK_BYTES);
	track_meta_encode(&t->meta, t->hdr_buf);
	return track_io(t, REQ_OP_WRITE | REQ_SYNC | opf, 0, t->hdr_buf,
			false, TRACK_BLOCK_SECTORS);
}

/* Caller holds both locks. Why a map is invalid, or it is valid. */
static void track_set_validity(struct track_map_meta *mm,
			       enum track_reason reason)
{
	mm->valid = reason == TRACK_OK;
	mm->reason = reason;
}

static void track_invalidate(struct track *t, enum track_reason reason)
{
	spin_lock_irq(&t->lock);
	track_set_validity(&t->meta.frozen, reason);
	track_set_validity(&t->meta.cur, reason);
	spin_unlock_irq(&t->lock);
}

/*
 * Caller holds meta_lock; no bio in flight. Maps, then clean=1 after a
 * flush that makes them durable first. On failure the maps are invalid
 * from now on and the header on disk stays clean=0 (or the last clean
 * state, whose next resume writes clean=0 again).
 */
static int track_save(struct track *t)
{
	int r = track_write_maps(t);

	if (!r)
		r = track_write_header(t, true, REQ_PREFLUSH | REQ_FUA);
	if (r) {
		DMERR("%s: cowbackup-track: saving the maps failed (%d): maps invalid",
		      track_name(t), r);
		track_invalidate(t, TRACK_IO_ERROR);
		t->meta_dirty = true;
		return r;
	}
	t->meta_dirty = false;
	return 0;
}

/* A new history: empty maps, both invalid for @reason, epoch 1. */
static void track_new_history(struct track *t, enum track_reason reason)
{
	spin_lock_irq(&t->lock);
	hbitmap_reset(t->frozen, 0, t->nr_clusters);
	hbitmap_reset(t->cur, 0, t->nr_clusters);
	generate_random_uuid(t->meta.uuid);
	t->meta.epoch = 1;
	track_set_validity(&t->meta.frozen, reason);
	track_set_validity(&t->meta.cur, reason);
	spin_unlock_irq(&t->lock);
	if (reason == TRACK_NEW)
		DMINFO("%s: cowbackup-track: fresh metadata on %s: no history yet, maps invalid (new)",
		       track_name(t), t->meta_dev->name);
	else
		DMWARN("%s: cowbackup-track: metadata on %s unusable (%s): maps invalid, a new history starts now",
		       track_name(t), t->meta_dev->name,
		       track_reason_name(reason));
}

/* Caller holds meta_lock. The first preresume: take over the metadata. */
static void track_load(struct track *t)
{
	struct track_meta m;
	enum track_reason reason;

	if (track_io(t, REQ_OP_READ, 0, t->hdr_buf, false,
		     TRACK_BLOCK_SECTORS))
		reason = TRACK_IO_ERROR;
	else
		reason = track_meta_decode(t->hdr_buf, &m);
	if (reason == TRACK_OK)
		reason = track_meta_check(&m, t->ti->len, t->cluster_sectors);
	if (reason == TRACK_OK && !m.clean)
		reason = TRACK_UNCLEAN;
	if (reason == TRACK_OK)
		reason = track_read_maps(t, &m);
	if (reason != TRACK_OK) {
		track_new_history(t, reason);
		return;
	}
	spin_lock_irq(&t->lock);
	memcpy(t->meta.uuid, m.uuid, sizeof(m.uuid));
	t->meta.epoch = m.epoch;
	t->meta.frozen = m.frozen;
	t->meta.cur = m.cur;
	spin_unlock_irq(&t->lock);
}

/*----------------------------------------------------------------*/

static void track_destroy(struct track *t)
{
	struct dm_target *ti = t->ti;

	track_unregister(t);
	if (t->io_client)
		dm_io_client_destroy(t->io_client);
	vfree(t->io_buf);
	kfree(t->hdr_buf);
	if (t->cur)
		hbitmap_free(t->cur);
	if (t->frozen)
		hbitmap_free(t->frozen);
	if (t->meta_dev)
		dm_put_device(ti, t->meta_dev);
	if (t->dev)
		dm_put_device(ti, t->dev);
	kfree(t);
}

static int track_get_devices(struct track *t, char **argv)
{
	struct dm_target *ti = t->ti;
	u64 need;
	int r;

	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &t->dev);
	if (r) {
		ti->error = "Error opening device";
		return r;
	}
	r = dm_get_device(ti, argv[1], FMODE_READ | FMODE_WRITE,
			  &t->meta_dev);
	if (r) {
		ti->error = "Error opening metadata device";
		return r;
	}
	if (t->dev->bdev->bd_dev == t->meta_dev->bdev->bd_dev) {
		ti->error = "Device and metadata device are the same device";
		return -EINVAL;
	}
	if (bdev_nr_sectors(t->dev->bdev) < ti->len) {
		ti->error = "Device is smaller than the target length";
		return -EINVAL;
	}
	if (bdev_logical_block_size(t->meta_dev->bdev) > TRACK_BLOCK_BYTES) {
		ti->error = "Metadata device's logical block size is above 4096 bytes";
		return -EINVAL;
	}
	need = track_meta_sectors(ti->len, t->cluster_sectors);
	if (bdev_nr_sectors(t->meta_dev->bdev) < need) {
		DMERR("%s: cowbackup-track: metadata device %s has %llu sectors, needs %llu for %llu clusters",
		      track_name(t), t->meta_dev->name,
		      (u64)bdev_nr_sectors(t->meta_dev->bdev), need,
		      track_nr_clusters(ti->len, t->cluster_sectors));
		ti->error = "Metadata device is too small for the header and two maps";
		return -EINVAL;
	}
	return cb_check_block_sizes(ti, t->dev, t->dev, t->cluster_sectors);
}

static int track_alloc(struct track *t)
{
	struct dm_target *ti = t->ti;

	t->cur = hbitmap_alloc(t->nr_clusters, GFP_KERNEL);
	t->frozen = hbitmap_alloc(t->nr_clusters, GFP_KERNEL);
	if (!t->cur || !t->frozen) {
		ti->error = "Cannot allocate change maps";
		return -ENOMEM;
	}
	t->io_bytes = min_t(u64, TRACK_IO_BYTES,
			    t->map_sectors << SECTOR_SHIFT);
	t->hdr_buf = kzalloc(TRACK_BLOCK_BYTES, GFP_KERNEL);
	t->io_buf = vmalloc(t->io_bytes);
	if (!t->hdr_buf || !t->io_buf) {
		ti->error = "Cannot allocate metadata buffers";
		return -ENOMEM;
	}
	t->io_client = dm_io_client_create();
	if (IS_ERR(t->io_client)) {
		t->io_client = NULL;
		ti->error = "Cannot create dm-io client";
		return -ENOMEM;
	}
	return 0;
}

/*
 * <dev> <meta dev> [<#opt args> cluster_size <sectors>]
 */
static int track_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cb_track_args args;
	struct mapped_device *other;
	struct track *t;
	int r;

	if (argc < 2) {
		ti->error = "Need <dev> <meta dev> [<#opt args> cluster_size <sectors>]";
		return -EINVAL;
	}
	r = cb_parse_track_args(argc - 2, argv + 2, &args, &ti->error);
	if (r)
		return r;
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t) {
		ti->error = "Cannot allocate tracker";
		return -ENOMEM;
	}
	t->ti = ti;
	t->md = dm_table_get_md(ti->table);
	INIT_LIST_HEAD(&t->node);
	mutex_init(&t->meta_lock);
	spin_lock_init(&t->lock);
	t->cluster_sectors = args.cluster_sectors;
	t->cluster_shift = __ffs(args.cluster_sectors);
	t->nr_clusters = track_nr_clusters(ti->len, t->cluster_sectors);
	t->map_sectors = track_map_sectors(t->nr_clusters);
	t->meta.dev_sectors = ti->len;
	t->meta.cluster_sectors = t->cluster_sectors;
	t->meta.nr_clusters = t->nr_clusters;
	track_set_validity(&t->meta.frozen, TRACK_UNLOADED);
	track_set_validity(&t->meta.cur, TRACK_UNLOADED);

	r = track_get_devices(t, argv);
	if (r)
		goto bad;
	other = track_register(t);
	if (other) {
		DMERR("%s: cowbackup-track: %s is in use by the tracker of %s",
		      track_name(t), t->meta_dev->name, dm_device_name(other));
		ti->error = "Metadata device is in use by another cowbackup-track device";
		r = -EBUSY;
		goto bad;
	}
	r = track_alloc(t);
	if (r)
		goto bad;

	ti->private = t;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	return 0;
bad:
	track_destroy(t);
	return r;
}

/*
 * Did a table of the same device that tracks on the same metadata take
 * over from @t? dm destroys a replaced table after the new one resumed,
 * so a successor has read the metadata (loaded) by now.
 */
static bool track_handed_over(struct track *t)
{
	dev_t meta = t->meta_dev->bdev->bd_dev;
	bool found = false;
	struct track *o;

	spin_lock(&track_devices_lock);
	list_for_each_entry(o, &track_devices, node) {
		if (o != t && o->md == t->md &&
		    o->meta_dev->bdev->bd_dev == meta && READ_ONCE(o->loaded)) {
			found = true;
			break;
		}
	}
	spin_unlock(&track_devices_lock);
	return found;
}

static void track_dtr(struct dm_target *ti)
{
	struct track *t = ti->private;

	mutex_lock(&t->meta_lock);
	/*
	 * A device being removed is suspended here; one whose table was
	 * replaced has been resumed with the new table. Only the latter
	 * goes on taking writes we no longer see.
	 */
	if (t->loaded && !dm_suspended(ti) && !track_handed_over(t)) {
		DMWARN("%s: cowbackup-track: the device's new table does not track on %s: maps invalid (bypassed)",
		       track_name(t), t->meta_dev->name);
		track_invalidate(t, TRACK_BYPASSED);
		t->meta_dirty = true;
	}
	if (t->meta_dirty)
		track_save(t);
	mutex_unlock(&t->meta_lock);
	track_destroy(t);
}

/*----------------------------------------------------------------*/

/* Mark the clusters of [@sector, @sector + @count) in the current map. */
static void track_mark(struct track *t, sector_t sector, unsigned int count)
{
	u64 first = sector >> t->cluster_shift;
	u64 nr = ((sector + count - 1) >> t->cluster_shift) - first + 1;
	unsigned long flags;

	if (hbitmap_range_full_lockless(t->cur, first, nr))
		return;
	spin_lock_irqsave(&t->lock, flags);
	hbitmap_set(t->cur, first, nr);
	spin_unlock_irqrestore(&t->lock, flags);
}

static int track_map(struct dm_target *ti, struct bio *bio)
{
	struct track *t = ti->private;

	bio_set_dev(bio, t->dev->bdev);
	if (bio_sectors(bio)) {
		sector_t sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

		/* An empty flush carries no sectors and changes nothing. */
		if (op_is_write(bio_op(bio)))
			track_mark(t, sector, bio_sectors(bio));
		bio->bi_iter.bi_sector = sector;
	}
	return DM_MAPIO_REMAPPED;
}

/*----------------------------------------------------------------*/

static const char *track_validity(const struct track_map_meta *mm)
{
	return mm->valid ? COWBACKUP_TRACK_VALID : COWBACKUP_TRACK_INVALID;
}

static void track_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct track *t = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&t->lock);
		DMEMIT("%s %llu %llu %llu %u %s %s %pUb",
		       track_validity(&t->meta.frozen), t->meta.epoch,
		       hbitmap_count(t->cur), hbitmap_count(t->frozen),
		       t->cluster_sectors,
		       track_reason_name(t->meta.frozen.reason),
		       track_reason_name(t->meta.cur.reason),
		       t->meta.uuid);
		spin_unlock_irq(&t->lock);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s 2 %s %u", t->dev->name, t->meta_dev->name,
		       COWBACKUP_ARG_CLUSTER_SIZE, t->cluster_sectors);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",dev_name=%s,meta_name=%s,cluster_size=%u;",
		       t->dev->name, t->meta_dev->name, t->cluster_sectors);
		break;
	}
}

/*----------------------------------------------------------------*/

/*
 * Only while suspended: then no write is in flight, so the frozen map is
 * exactly the writes of the epoch, and the save makes the checkpoint
 * what the next resume (of this table or a reload) reads.
 */
static int msg_checkpoint(struct track *t)
{
	int r;

	mutex_lock(&t->meta_lock);
	if (!t->suspended) {
		mutex_unlock(&t->meta_lock);
		DMERR("%s: cowbackup-track: checkpoint: suspend the device first",
		      track_name(t));
		return -EBUSY;
	}
	spin_lock_irq(&t->lock);
	swap(t->frozen, t->cur);
	hbitmap_reset(t->cur, 0, t->nr_clusters);
	t->meta.frozen = t->meta.cur;
	track_set_validity(&t->meta.cur, TRACK_OK);
	t->meta.epoch++;
	spin_unlock_irq(&t->lock);
	r = track_save(t);
	mutex_unlock(&t->meta_lock);
	return r;
}

static int track_message(struct dm_target *ti, unsigned int argc,
			 char **argv, char *result, unsigned int maxlen)
{
	struct track *t = ti->private;
	const char *cmd = argc ? argv[0] : "";
	struct hbitmap *hb = NULL;
	int r;

	if (argc == 1 && !strcasecmp(cmd, COWBACKUP_TRACK_MSG_CHECKPOINT))
		return msg_checkpoint(t);
	if (argc == 3 && !strcasecmp(cmd, COWBACKUP_MSG_BITMAP)) {
		/* meta_lock: a checkpoint does not swap the maps meanwhile. */
		mutex_lock(&t->meta_lock);
		if (!strcasecmp(argv[1], COWBACKUP_TRACK_MAP_FROZEN))
			hb = t->frozen;
		else if (!strcasecmp(argv[1], COWBACKUP_TRACK_MAP_CURRENT))
			hb = t->cur;
		r = hb ? cb_bitmap_reply(track_name(t), "bitmap", hb, &t->lock,
					 argv[2], result, maxlen) : -EINVAL;
		mutex_unlock(&t->meta_lock);
		if (!hb)
			DMERR("%s: cowbackup-track: bitmap: need frozen or current, not '%s'",
			      track_name(t), argv[1]);
		return r;
	}
	DMERR("%s: cowbackup-track: unknown message '%s' with %u argument(s); expected checkpoint or bitmap frozen|current <first>",
	      track_name(t), cmd, argc ? argc - 1 : 0);
	return -EINVAL;
}

/*----------------------------------------------------------------*/

static int track_preresume(struct dm_target *ti)
{
	struct track *t = ti->private;
	int r;

	mutex_lock(&t->meta_lock);
	if (!t->loaded) {
		track_load(t);
		WRITE_ONCE(t->loaded, true);
	}
	r = track_write_header(t, false, REQ_FUA);
	if (r) {
		DMERR("%s: cowbackup-track: cannot mark %s in use (%d): not resuming, writes would go untracked",
		      track_name(t), t->meta_dev->name, r);
		track_invalidate(t, TRACK_IO_ERROR);
	} else {
		t->meta_dirty = true;
		t->suspended = false;
	}
	mutex_unlock(&t->meta_lock);
	return r;
}

static void track_postsuspend(struct dm_target *ti)
{
	struct track *t = ti->private;

	mutex_lock(&t->meta_lock);
	if (t->meta_dirty)
		track_save(t);
	t->suspended = true;
	mutex_unlock(&t->meta_lock);
}

static int track_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct track *t = ti->private;

	/* The metadata device is not a data device of this table. */
	return fn(ti, t->dev, 0, ti->len, data);
}

static struct target_type track_target = {
	.name = COWBACKUP_TRACK_TARGET_NAME,
	.version = { COWBACKUP_VERSION_MAJOR, COWBACKUP_VERSION_MINOR,
		     COWBACKUP_VERSION_PATCH },
	.module = THIS_MODULE,
	/* map() never waits: at most a spinlock for a first write. */
	.features = DM_TARGET_NOWAIT,
	.ctr = track_ctr,
	.dtr = track_dtr,
	.map = track_map,
	.status = track_status,
	.message = track_message,
	.preresume = track_preresume,
	.postsuspend = track_postsuspend,
	.iterate_devices = track_iterate_devices,
};

int cb_track_register(void)
{
	int r = dm_register_target(&track_target);

	if (r < 0)
		DMERR("register of %s failed %d", track_target.name, r);
	return r;
}

void cb_track_unregister(void)
{
	dm_unregister_target(&track_target);
}
