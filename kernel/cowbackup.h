/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cowbackup internals shared by target.c (life cycle, status, messages),
 * cow.c (copy engine and write interception), copier.c (background copy)
 * and view.c (the cowbackup-snap view).
 */
#ifndef DM_COWBACKUP_INTERNAL_H
#define DM_COWBACKUP_INTERNAL_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/percpu-refcount.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "hbitmap.h"
#include "ratelimit.h"
#include "table_args.h"

#define DM_MSG_PREFIX "cowbackup"

/* Memory for copy buffers of one job; the pool never grows after ctr. */
#define CB_COPY_POOL_BYTES	(64U << 20)
/* Preferred size of one copy: runs of small clusters are merged up to it. */
#define CB_COPY_BYTES		(1U << 20)
/* Buffers kept back from the background copier for guest copy-outs. */
#define CB_COW_RESERVE		1
/* Writes waiting for copies or holds before map() applies back-pressure. */
#define CB_MAX_WAITING		1024
/*
 * Copy-outs claimed in a row with no other write waiting before they run
 * on the CPU that completed their I/O; every CB_LOCAL_PROBE-th still runs
 * anywhere, to notice writers queueing up again (cow.c, copy_out_local()).
 */
#define CB_LONE_WRITES		8
#define CB_LOCAL_PROBE		16
/* Pause before the copier retries clusters whose copy failed. */
#define CB_RETRY_DELAY		(HZ / 10)

enum cb_state {
	CB_RUNNING,
	CB_PAUSED,
	CB_COMPLETED,
	CB_CANCELLED,
	CB_FAILED,
};

/*
 * A range of clusters that guest writes must not touch yet: a copy in
 * flight (exclusive) or a view read of the source in flight (shared).
 * Writes that meet a cell wait on it and are looked at again when it goes.
 * See range_lock.c.
 */
struct cb_cell {
	struct rb_node rb;		/* in cowbackup->cells */
	u64 first;
	u64 last;			/* inclusive */
	u64 subtree_last;		/* interval tree bookkeeping */
	struct bio_list waiters;
};

/* States of the gate that lets writes to settled clusters skip the lock. */
enum cb_gate {
	CB_GATE_OPEN,		/* fast path on */
	CB_GATE_CLOSING,	/* fast path off, fast writes draining */
	CB_GATE_CLOSED,		/* no fast write in flight */
};

enum cb_copy_kind {
	CB_COPY_OUT,		/* for a waiting guest write */
	CB_COPY_BACKGROUND,
};

enum cb_copy_error {
	CB_COPY_OK,
	CB_COPY_SOURCE_ERROR,
	CB_COPY_TARGET_ERROR,
};

/* One copy of a run of clusters, source to target; preallocated. */
struct cb_copy {
	struct cb_cell cell;		/* in cells while in flight */
	struct list_head node;		/* on free_copies, or claimed batch */
	struct cowbackup *cb;
	enum cb_copy_kind kind;
	enum cb_copy_error error;
	bool zeroes_retried;		/* WRITE_ZEROES fell back to data */
	u64 nr_zero;			/* all-zero clusters in this copy */
	void *buf;			/* copy_clusters long, vmalloc()ed */
	struct bio_vec *bvecs;		/* buf's pages, one bvec each */
	struct bio bio;			/* a stage's first bio */
	bool bio_busy;			/* bio is taken in this stage */
	atomic_t pending;		/* bios outstanding + 1 */
	bool finish_here;		/* the last stage may run inline */
	bool local;			/* stages on the completing CPU */
	unsigned long io_error;		/* bio error bits, or'ed */
	struct work_struct work;
	void (*next_stage)(struct cb_copy *copy);
};

struct cowbackup {
	struct dm_target *ti;
	struct dm_dev *source;
	struct dm_dev *target;
	struct cb_args args;

	/* Geometry, fixed at ctr. */
	unsigned int cluster_shift;	/* log2(cluster sectors) */
	sector_t len;			/* ti->len, for views after dtr */
	u64 nr_clusters;
	unsigned int copy_clusters;	/* clusters one copy may span */
	unsigned int nr_copies;		/* size of the copy pool */

	struct kref kref;		/* the table, plus view lookups */
	struct mapped_device *md;	/* the device whose table this is */
	struct list_head job_node;	/* cb_jobs: every constructed job */
	bool live;			/* resumed: views may find it */

	struct workqueue_struct *wq;
	struct workqueue_struct *local_wq;	/* bound: lone copy-outs' stages */
	unsigned int lone_copy_outs;	/* claimed in a row, nobody else waiting */
	struct work_struct cow_work;	/* retries writes on cb->retry */
	struct work_struct gate_work;	/* reopens the fast path */
	struct delayed_work copier_work;
	struct work_struct event_work;	/* dm_table_event() may sleep */
	struct work_struct complete_work; /* flush target, then complete */
	struct bio_set bios;		/* a stage's further bios */
	wait_queue_head_t drain_wait;	/* copies and holds reaching zero */
	wait_queue_head_t gate_wait;	/* the gate reaching CLOSED */
	wait_queue_head_t waiting_wait;	/* nr_waiting dropping */
	atomic_t nr_waiting;		/* writes parked, for back-pressure */
	struct percpu_ref fast_writes;	/* writes that skipped the lock */
	struct cb_copy *copies;

	spinlock_t lock;		/* guards everything below */
	enum cb_state state;
	bool suspended;			/* no new background copies */
	bool frozen;			/* postsuspend ran: no new holds */
	bool dead;			/* dtr ran: queue no more work */
	bool superseded;		/* a reloaded table took the job over */
	bool target_write_zeroes;	/* target takes REQ_OP_WRITE_ZEROES */
	struct hbitmap *dirty;		/* clusters still to copy, unclaimed */
	struct hbitmap *copied;		/* clusters whose PIT data is on target */
	/* Clusters a write must look at under the lock: dirty or in a cell. */
	struct hbitmap *unsafe;
	struct rb_root_cached cells;	/* struct cb_cell, by cluster range */
	unsigned int nr_holds;		/* view reads holding clusters */
	unsigned int gate_users;	/* holds on settled clusters */
	enum cb_gate gate;
	u64 inflight_clusters;		/* clusters claimed by copies */
	struct list_head free_copies;
	unsigned int nr_free_copies;
	unsigned int bg_inflight;
	struct bio_list starved;	/* writes that found no free copy */
	struct bio_list retry;		/* writes released in atomic context */
	u64 cursor;			/* where the copier looks next */
	unsigned long retry_at;		/* jiffies: copier backs off errors */
	struct cb_ratelimit rl;

	/* Counters reported by status, in clusters. */
	u64 cow_copies;
	u64 background_copies;
	u64 zero_clusters;
	u64 errors;
};

static inline u64 cb_sector_to_cluster(const struct cowbackup *cb,
				       sector_t sector)
{
	return sector >> cb->cluster_shift;
}

static inline sector_t cb_cluster_to_sector(const struct cowbackup *cb,
					    u64 cluster)
{
	return (sector_t)cluster << cb->cluster_shift;
}

static inline u64 cb_clusters_to_bytes(const struct cowbackup *cb, u64 n)
{
	return n << (cb->cluster_shift + SECTOR_SHIFT);
}

/* Per-bio data of the cowbackup target. */
struct cb_write_io {
	bool fast;		/* holds a fast_writes reference */
};

/* Writes must wait for copy-out only while the job is live. */
static inline bool cb_intercepting(const struct cowbackup *cb)
{
	return cb->state == CB_RUNNING || cb->state == CB_PAUSED;
}

const char *cb_state_name(enum cb_state state);

/* target.c */
void cb_set_state(struct cowbackup *cb, enum cb_state state);
void cb_check_completed(struct cowbackup *cb);
struct cowbackup *cb_job_get(dev_t source, dev_t target);
int cb_check_block_sizes(struct dm_target *ti, struct dm_dev *source,
			 struct dm_dev *target, unsigned int cluster_sectors);
void cb_job_put(struct cowbackup *cb);
int cb_bitmap_reply(const char *dev_name, const char *what,
		    const struct hbitmap *hb, spinlock_t *lock,
		    const char *arg, char *result, unsigned int maxlen);

/* range_lock.c */
void cb_cell_add(struct cowbackup *cb, struct cb_cell *cell, u64 first,
		 u64 count);
void cb_cell_del(struct cowbackup *cb, struct cb_cell *cell,
		 struct bio_list *released);
struct cb_cell *cb_cell_find(struct cowbackup *cb, u64 first, u64 last);
void cb_unsafe_clear(struct cowbackup *cb, u64 first, u64 count);
int cb_gate_init(struct cowbackup *cb);
void cb_gate_exit(struct cowbackup *cb);
bool cb_fast_write_begin(struct cowbackup *cb, u64 first, u64 last);
void cb_fast_write_end(struct cowbackup *cb);
bool cb_gate_enter(struct cowbackup *cb);
void cb_gate_wait(struct cowbackup *cb);
void cb_gate_leave(struct cowbackup *cb);
void cb_gate_work(struct work_struct *ws);

/* cow.c */
struct cb_copy *cb_copy_claim(struct cowbackup *cb, u64 first, u64 count,
			      enum cb_copy_kind kind);
void cb_copy_submit_list(struct list_head *claimed, bool finish_here);
void cb_copy_submit_spread(struct list_head *claimed);
void cb_copy_stage_work(struct work_struct *ws);
void cb_copy_drain(struct cowbackup *cb);
int cb_map_write(struct cowbackup *cb, struct bio *bio);
void cb_retry_later(struct cowbackup *cb, struct bio_list *bios);
void cb_cow_work(struct work_struct *ws);

/* copier.c */
void cb_copier_work(struct work_struct *ws);
void cb_copier_kick(struct cowbackup *cb, unsigned long delay);
void cb_copier_stop(struct cowbackup *cb);

/* view.c */
int cb_view_register(void);
void cb_view_unregister(void);

/* track.c */
int cb_track_register(void);
void cb_track_unregister(void);

#endif /* DM_COWBACKUP_INTERNAL_H */
