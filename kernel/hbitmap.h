/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hierarchical bitmap: one bit per cluster, with summary levels so that
 * finding the next set bit costs O(levels). See hbitmap.c for the design.
 *
 * No locking inside: the caller serialises every call on one bitmap.
 * Only hbitmap_alloc() may sleep (it allocates with the gfp it is given);
 * every other function is safe in atomic context and never allocates.
 */
#ifndef DM_COWBACKUP_HBITMAP_H
#define DM_COWBACKUP_HBITMAP_H

#include <linux/types.h>

struct hbitmap;

/* One run of set bits, as used by the "start+len" extent list. */
struct hbitmap_extent {
	u64 start;
	u64 len;
};

/* Enough levels for 2^64 bits at 64 bits per word. */
#define HBITMAP_MAX_LEVELS	11

/*
 * Iterator over set bits; tolerates resets of bits it has not reached
 * (and sets too: it reports exactly the bits set when it reaches them).
 * The fields after @pos are a private cursor that lets consecutive calls
 * skip re-reading the summary levels.
 */
struct hbitmap_iter {
	const struct hbitmap *hb;
	u64 pos;			/* next bit to look at */
	u64 set_gen;			/* hb's set generation of the cursor */
	u64 word;			/* current word at level 0 */
	u64 cur[HBITMAP_MAX_LEVELS];	/* its unvisited bits, per level */
};

/*
 * NULL on -ENOMEM, and for nbits of 2^34 - 63 or more (one level would
 * exceed kvmalloc()'s INT_MAX bytes). Large maps need a GFP_KERNEL-
 * compatible @gfp: only then may kvmalloc() fall back to vmalloc().
 */
struct hbitmap *hbitmap_alloc(u64 nbits, gfp_t gfp);
void hbitmap_free(struct hbitmap *hb);
u64 hbitmap_size(const struct hbitmap *hb);		/* nbits */
size_t hbitmap_memory(const struct hbitmap *hb);	/* bytes allocated */

/* Ranges are clipped at hbitmap_size(); start or count may be huge. */
void hbitmap_set(struct hbitmap *hb, u64 start, u64 count);
void hbitmap_reset(struct hbitmap *hb, u64 start, u64 count);
void hbitmap_set_all(struct hbitmap *hb);
bool hbitmap_test(const struct hbitmap *hb, u64 bit);
u64 hbitmap_count(const struct hbitmap *hb);		/* O(1) */

/*
 * True when no bit of [start, start + count) is set. Reads only level 0,
 * each word once with READ_ONCE(), so it may run concurrently with set and
 * reset: a bit that stays set for the whole call is always seen.
 */
bool hbitmap_range_clear_lockless(const struct hbitmap *hb, u64 start,
				  u64 count);

/*
 * True when every bit of [start, start + count) that lies inside the
 * bitmap is set (the range is clipped first). Lockless like the above: a
 * bit that stays set for the whole call is always seen, so a "false"
 * may be stale but a "true" is not, as long as no reset runs meanwhile.
 */
bool hbitmap_range_full_lockless(const struct hbitmap *hb, u64 start,
				 u64 count);

/* Return the first set (zero) bit >= from, or hbitmap_size() if none. */
u64 hbitmap_next_set(const struct hbitmap *hb, u64 from);
u64 hbitmap_next_zero(const struct hbitmap *hb, u64 from);

/*
 * Find the first run of set bits starting at or after @from and below
 * @end, at most @max_len long. Returns false if there is none.
 */
bool hbitmap_next_dirty_area(const struct hbitmap *hb, u64 from, u64 end,
			     u64 max_len, u64 *start, u64 *len);

#ifndef __KERNEL__ /* host-only: see hbitmap.c */
void hbitmap_iter_init(struct hbitmap_iter *it, const struct hbitmap *hb,
		       u64 from);
/* Next set bit, or hbitmap_size() at the end. */
u64 hbitmap_iter_next(struct hbitmap_iter *it);

/* dst |= src; -EINVAL if the sizes differ. */
int hbitmap_merge(struct hbitmap *dst, const struct hbitmap *src);

#endif

/*
 * Serialise set bits from @from on as "start+len" words separated by
 * single spaces into @buf (always NUL-terminated when @buflen > 0).
 * Stops before the buffer would overflow; *@next receives the first bit
 * not yet described, or hbitmap_size() when everything was written.
 * Returns the number of extents written.
 * A run that @from falls inside is described from @from on. If not even
 * the first word fits (at most 41 bytes + NUL), 0 is returned and *@next
 * is that word's start: the caller needs a bigger buffer.
 */
size_t hbitmap_format_extents(const struct hbitmap *hb, u64 from,
			      char *buf, size_t buflen, u64 *next);

#ifndef __KERNEL__ /* host-only: see hbitmap.c */
/*
 * Parse "start+len" words (separated by blanks) and set those bits.
 * -EINVAL on malformed text, -ERANGE on an extent past the end; the
 * bitmap is unchanged on error.
 * Blanks are space, tab and newline. Numbers are plain decimal digits
 * (no sign); len must be > 0; a number too big for u64 is -ERANGE.
 */
int hbitmap_parse_extents(struct hbitmap *hb, const char *text);
#endif

#endif /* DM_COWBACKUP_HBITMAP_H */
