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
#include <linux/dm-io.h>
#include <linux/kref.h>
#include <linux/list.h>
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
 * Clusters that guest writes must not touch yet: a copy in flight, or a
 * view read of the source in flight. Kept on cowbackup->inflight.
 */
struct cb_range {
	struct list_head node;
	u64 first;
	u64 count;
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
	struct cb_range range;		/* on inflight, or on free_copies */
	struct list_head batch;		/* claimed, to submit after unlock */
	struct cowbackup *cb;
	enum cb_copy_kind kind;
	enum cb_copy_error error;
	bool zeroes_retried;		/* WRITE_ZEROES fell back to data */
	u64 nr_zero;			/* all-zero clusters in this copy */
	void *buf;			/* copy_clusters long, vmalloc()ed */
	atomic_t pending;		/* dm-io requests outstanding + 1 */
	unsigned long io_error;		/* dm-io error bits, or'ed */
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

	struct kref kref;		/* the table, plus view reads in flight */
	struct list_head job_node;	/* cb_jobs, for view lookup */
	bool registered;

	struct workqueue_struct *wq;
	struct work_struct cow_work;	/* serves the waiting writes */
	struct delayed_work copier_work;
	struct work_struct event_work;	/* dm_table_event() may sleep */
	struct work_struct complete_work; /* flush target, then complete */
	struct dm_io_client *io_client;
	wait_queue_head_t drain_wait;	/* background copies reaching zero */
	struct cb_copy *copies;

	spinlock_t lock;		/* guards everything below */
	enum cb_state state;
	bool suspended;			/* no new background copies */
	bool dead;			/* dtr ran: queue no more work */
	bool superseded;		/* a reloaded table took the job over */
	bool target_write_zeroes;	/* target takes REQ_OP_WRITE_ZEROES */
	struct hbitmap *dirty;		/* clusters still to copy, unclaimed */
	struct hbitmap *copied;		/* clusters whose PIT data is on target */
	struct list_head inflight;	/* struct cb_range */
	u64 inflight_clusters;		/* clusters claimed by copies */
	struct list_head free_copies;
	unsigned int nr_free_copies;
	unsigned int bg_inflight;
	struct bio_list waiting;	/* writes waiting for copy-outs */
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
void cb_job_put(struct cowbackup *cb);

/* cow.c */
bool cb_range_busy(struct cowbackup *cb, u64 first, u64 count);
struct cb_copy *cb_copy_claim(struct cowbackup *cb, u64 first, u64 count,
			      enum cb_copy_kind kind);
void cb_copy_submit(struct cb_copy *copy);
void cb_copy_stage_work(struct work_struct *ws);
void cb_copy_drain(struct cowbackup *cb);
int cb_map_write(struct cowbackup *cb, struct bio *bio);
void cb_cow_work(struct work_struct *ws);
void cb_kick_waiting(struct cowbackup *cb);

/* copier.c */
void cb_copier_work(struct work_struct *ws);
void cb_copier_kick(struct cowbackup *cb, unsigned long delay);
void cb_copier_stop(struct cowbackup *cb);

/* view.c */
int cb_view_register(void);
void cb_view_unregister(void);

#endif /* DM_COWBACKUP_INTERNAL_H */
