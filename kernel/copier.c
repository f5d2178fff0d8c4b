// SPDX-License-Identifier: GPL-2.0
/*
 * The background copier: walks the dirty bitmap from a cursor, claims runs
 * of adjacent dirty clusters (up to one copy buffer) and keeps at most
 * max_workers of them in flight, paced by the rate limiter. It claims
 * through the same engine as copy-outs (cow.c), so the two never overlap,
 * and spreads the copies it starts over workers (cb_copy_submit_spread()).
 */
#include "cowbackup.h"
#include "trace.h"

/* Caller holds cb->lock. */
static bool copier_may_claim(struct cowbackup *cb)
{
	return cb->state == CB_RUNNING && !cb->suspended && !cb->dead &&
	       cb->args.sync != CB_SYNC_NONE &&
	       cb->bg_inflight < cb->args.max_workers &&
	       cb->nr_free_copies > CB_COW_RESERVE;
}

/*
 * Clusters one background copy may take: a whole buffer, but at a low
 * speed no more than one slice's quota, so that no window of time sees
 * much more than the set rate. Caller holds cb->lock.
 */
static u64 copier_max_run(struct cowbackup *cb)
{
	u64 quota_clusters;

	if (!cb->rl.speed)
		return cb->copy_clusters;
	quota_clusters = cb->rl.slice_quota >>
			 (cb->cluster_shift + SECTOR_SHIFT);
	return clamp_t(u64, quota_clusters, 1, cb->copy_clusters);
}

/* Find the next dirty run from the cursor, wrapping once. */
static bool copier_next_run(struct cowbackup *cb, u64 *start, u64 *len)
{
	u64 max_run = copier_max_run(cb);

	if (hbitmap_next_dirty_area(cb->dirty, cb->cursor, cb->nr_clusters,
				    max_run, start, len))
		return true;
	cb->cursor = 0;
	return hbitmap_next_dirty_area(cb->dirty, 0, cb->nr_clusters,
				       max_run, start, len);
}

void cb_copier_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(to_delayed_work(ws),
					    struct cowbackup, copier_work);
	unsigned long delay = 0;
	struct cb_copy *copy;
	LIST_HEAD(claimed);
	u64 start, len, wait_ns;

	spin_lock_irq(&cb->lock);
	if (copier_may_claim(cb) && time_before(jiffies, cb->retry_at))
		delay = cb->retry_at - jiffies;
	while (!delay && copier_may_claim(cb) &&
	       copier_next_run(cb, &start, &len)) {
		wait_ns = cb_ratelimit_delay(&cb->rl,
					     len << (cb->cluster_shift +
						     SECTOR_SHIFT),
					     ktime_get_ns());
		if (wait_ns) {
			trace_cowbackup_throttle(wait_ns);
			delay = max_t(unsigned long, 1,
				      nsecs_to_jiffies(wait_ns));
			break;
		}
		copy = cb_copy_claim(cb, start, len, CB_COPY_BACKGROUND);
		cb->cursor = start + len;
		list_add_tail(&copy->node, &claimed);
	}
	if (delay && !cb->dead)
		mod_delayed_work(cb->wq, &cb->copier_work, delay);
	spin_unlock_irq(&cb->lock);

	cb_copy_submit_spread(&claimed);
}

/* Make the copier look for work after @delay jiffies (0: now). */
void cb_copier_kick(struct cowbackup *cb, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&cb->lock, flags);
	if (copier_may_claim(cb))
		mod_delayed_work(cb->wq, &cb->copier_work, delay);
	spin_unlock_irqrestore(&cb->lock, flags);
}

/* Start no new background copies until the next resume. */
void cb_copier_stop(struct cowbackup *cb)
{
	spin_lock_irq(&cb->lock);
	cb->suspended = true;
	spin_unlock_irq(&cb->lock);
	cancel_delayed_work_sync(&cb->copier_work);
}
