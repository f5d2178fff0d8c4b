// SPDX-License-Identifier: GPL-2.0
/*
 * Range locks on clusters: who may write where, and when.
 *
 * A guest write may reach the source only when no cluster under it still
 * has point-in-time data to save or to show:
 *
 *  - dirty clusters (cb->dirty) need a copy-out first;
 *  - a cell covers clusters that something is working on: a copy in
 *    flight holds its run exclusively, a view read of the source holds
 *    its clusters shared. Cells live in an interval tree (cb->cells), so
 *    finding the cells under a bio costs O(log cells + overlaps), and a
 *    write that meets one waits on that cell's own list. When the cell
 *    goes, exactly its waiters are looked at again (cow.c routes them
 *    anew, and they may wait on the next cell); nobody else is rescanned.
 *
 * cb->unsafe summarises both: a cluster's bit is set while it is dirty
 * (and the job live) or under a cell. A write whose clusters are all clear
 * there goes straight through without taking cb->lock and without writing
 * any shared cache line: it tests the bits lock-free and takes a per-CPU
 * reference (cb->fast_writes) that its completion drops.
 *
 * That is safe because a cluster only ever goes from clear to set in one
 * way: a view read holding a settled cluster whose point-in-time data is
 * still on the source (sync=top clusters that were skipped). Copies and
 * holds on dirty clusters start from set bits. For that rare transition
 * the view closes the gate: it sets its bits, kills the per-CPU reference
 * so new writes take the locked path, and waits until the fast writes
 * already in flight have completed (CB_GATE_CLOSED) before it reads. The
 * gate reopens when no such hold is left. Between those moments every
 * write takes cb->lock, where the cells are exact.
 *
 * Everything here runs under cb->lock (IRQs off, since view reads release
 * their holds from bio completion) except the fast path and
 * cb_gate_wait(). No lock section is longer than the clusters of one bio
 * or one copy plus O(log cells).
 */
#include <linux/interval_tree_generic.h>

#include "cowbackup.h"

#define CELL_START(c)	((c)->first)
#define CELL_LAST(c)	((c)->last)

INTERVAL_TREE_DEFINE(struct cb_cell, rb, u64, subtree_last, CELL_START,
		     CELL_LAST, static, cell_tree)

/* Set the unsafe bits of @first..@last from the dirty map and the cells. */
static void unsafe_recompute(struct cowbackup *cb, u64 first, u64 last)
{
	u64 start, len, pos = first;
	struct cb_cell *c;

	hbitmap_reset(cb->unsafe, first, last - first + 1);
	/* After the job ended, dirty clusters no longer hold writes back. */
	while (cb_intercepting(cb) &&
	       hbitmap_next_dirty_area(cb->dirty, pos, last + 1,
				       last - first + 1, &start, &len)) {
		hbitmap_set(cb->unsafe, start, len);
		pos = start + len;
	}
	for (c = cell_tree_iter_first(&cb->cells, first, last); c;
	     c = cell_tree_iter_next(c, first, last)) {
		start = max(c->first, first);
		hbitmap_set(cb->unsafe, start, min(c->last, last) - start + 1);
	}
}

void cb_cell_add(struct cowbackup *cb, struct cb_cell *cell, u64 first,
		 u64 count)
{
	cell->first = first;
	cell->last = first + count - 1;
	bio_list_init(&cell->waiters);
	cell_tree_insert(cell, &cb->cells);
	hbitmap_set(cb->unsafe, first, count);
}

/* Drop a cell; its waiting writes move to @released. */
void cb_cell_del(struct cowbackup *cb, struct cb_cell *cell,
		 struct bio_list *released)
{
	cell_tree_remove(cell, &cb->cells);
	bio_list_merge(released, &cell->waiters);
	bio_list_init(&cell->waiters);
	unsafe_recompute(cb, cell->first, cell->last);
}

/* The first cell overlapping @first..@last, or NULL. */
struct cb_cell *cb_cell_find(struct cowbackup *cb, u64 first, u64 last)
{
	return cell_tree_iter_first(&cb->cells, first, last);
}

/* Clusters that stopped being dirty outside any copy (skip). */
void cb_unsafe_clear(struct cowbackup *cb, u64 first, u64 count)
{
	if (count)
		unsafe_recompute(cb, first, first + count - 1);
}

/*----------------------------------------------------------------*/

/* The last fast write of a closing gate completed. Any context. */
static void fast_writes_drained(struct percpu_ref *ref)
{
	struct cowbackup *cb = container_of(ref, struct cowbackup,
					    fast_writes);
	unsigned long flags;

	spin_lock_irqsave(&cb->lock, flags);
	cb->gate = CB_GATE_CLOSED;
	if (!cb->gate_users && !cb->dead)
		queue_work(cb->wq, &cb->gate_work);
	spin_unlock_irqrestore(&cb->lock, flags);
	wake_up_all(&cb->gate_wait);
}

int cb_gate_init(struct cowbackup *cb)
{
	cb->gate = CB_GATE_OPEN;
	return percpu_ref_init(&cb->fast_writes, fast_writes_drained,
			       PERCPU_REF_ALLOW_REINIT, GFP_KERNEL);
}

static bool gate_settled(struct cowbackup *cb)
{
	bool settled;

	spin_lock_irq(&cb->lock);
	settled = cb->gate != CB_GATE_CLOSING;
	spin_unlock_irq(&cb->lock);
	return settled;
}

/*
 * No write is in flight any more (dtr): let a closing gate finish. Safe
 * on a job whose ctr failed before cb_gate_init() (zeroed ref).
 */
void cb_gate_exit(struct cowbackup *cb)
{
	wait_event(cb->gate_wait, gate_settled(cb));
	percpu_ref_exit(&cb->fast_writes);
}

/*
 * Lock-free: may the write to @first..@last go straight to the source?
 * If so, the caller must call cb_fast_write_end() when the write is done.
 */
bool cb_fast_write_begin(struct cowbackup *cb, u64 first, u64 last)
{
	if (!percpu_ref_tryget_live(&cb->fast_writes))
		return false;
	if (hbitmap_range_clear_lockless(cb->unsafe, first,
					 last - first + 1))
		return true;
	percpu_ref_put(&cb->fast_writes);
	return false;
}

void cb_fast_write_end(struct cowbackup *cb)
{
	percpu_ref_put(&cb->fast_writes);
}

/*
 * A hold is about to cover settled clusters. Caller holds cb->lock and has
 * set their unsafe bits. Returns true when the caller must cb_gate_wait()
 * (without the lock) before reading.
 */
bool cb_gate_enter(struct cowbackup *cb)
{
	cb->gate_users++;
	if (cb->gate == CB_GATE_OPEN) {
		cb->gate = CB_GATE_CLOSING;
		percpu_ref_kill(&cb->fast_writes);
	}
	return cb->gate == CB_GATE_CLOSING;
}

void cb_gate_wait(struct cowbackup *cb)
{
	wait_event(cb->gate_wait, gate_settled(cb));
}

/* Caller holds cb->lock. */
void cb_gate_leave(struct cowbackup *cb)
{
	if (!--cb->gate_users && cb->gate == CB_GATE_CLOSED && !cb->dead)
		queue_work(cb->wq, &cb->gate_work);
}

void cb_gate_work(struct work_struct *ws)
{
	struct cowbackup *cb = container_of(ws, struct cowbackup, gate_work);

	spin_lock_irq(&cb->lock);
	if (cb->gate == CB_GATE_CLOSED && !cb->gate_users && !cb->dead) {
		/* No fast write in flight: the count is zero, as reinit wants. */
		percpu_ref_reinit(&cb->fast_writes);
		cb->gate = CB_GATE_OPEN;
	}
	spin_unlock_irq(&cb->lock);
}
