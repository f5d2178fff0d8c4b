// SPDX-License-Identifier: GPL-2.0
/*
 * Hierarchical bitmap: one bit per cluster ("still needs copying"), plus
 * summary levels that make "where is the next set bit?" cheap.
 *
 * Layout
 * ------
 * Level 0 holds the real bits, 64 to a u64 word. Level k + 1 holds one bit
 * per *word* of level k: the bit is set exactly when that word is non-zero.
 * Levels are added until a level fits in a single word, so a bitmap of
 * n bits has ceil(log64(n)) + 1 levels at most: 1 level up to 64 bits,
 * 5 levels for 2^24 bits (1 TiB at 64 KiB clusters), 7 for 2^34.
 *
 * Invariants (checked by the host property tests after every operation):
 *  - bit j of word w at level k + 1 is set iff word (64 * w + j) of
 *    level k is non-zero;
 *  - bits at or past the end of every level are zero, so a search never
 *    needs to clip its answer;
 *  - count equals the number of set bits at level 0.
 *
 * Costs (L = number of levels, W = words touched at level 0)
 * ----------------------------------------------------------
 *  - test: O(1).
 *  - set/reset of a range: O(W) at level 0, then O(W / 64^k) at level k.
 *    Upper levels are only visited while some word at the level below
 *    went from zero to non-zero (set) or from non-zero to zero (reset), so
 *    touching an already dirty word costs one word.
 *  - set_all: one memset per level.
 *  - count: O(1), maintained by set/reset/merge with popcounts.
 *  - next_set: O(L). Climb while the current word has nothing at or after
 *    the position, then descend following the lowest set summary bit.
 *    Empty regions of any size are skipped 64^k bits at a time.
 *  - next_zero: O(length of the run of set bits / 64); the levels only
 *    summarise "some bit set", not "all bits set". Callers that walk dirty
 *    areas bound this with max_len.
 *  - merge: O(words of all levels); every level is simply OR-ed, since
 *    "word a | b is non-zero" is "a non-zero or b non-zero".
 *  - memory: n/8 bytes at level 0, 1/64 of that for level 1 and so on:
 *    under 1.016 * n/8 bytes plus one word per level and the header.
 *
 * Size limits
 * -----------
 * Every level is one kvmalloc() array, and kvmalloc() refuses anything
 * above INT_MAX bytes, so level 0 is limited to 2^34 - 64 bits (16 Gi
 * clusters: 1 PiB at 64 KiB clusters, 64 TiB at 4 KiB clusters). Larger
 * sizes (up to 2^64 - 1 bits) are refused cleanly with NULL. All
 * arithmetic is on u64 bit numbers and clipped without overflow.
 *
 * Context
 * -------
 * No locking inside. Only hbitmap_alloc() allocates (and may sleep if
 * its gfp allows); everything else runs in atomic context. Iteration
 * keeps no state beyond a bit position, so bits may be reset (or set)
 * between calls: the iterator reports exactly the bits that are set when
 * it reaches them.
 */
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "hbitmap.h"

#define HB_SHIFT	6
#define HB_BITS		64U
#define HB_MASK		((u64)HB_BITS - 1)
/* 64^11 > 2^64, so no bitmap ever needs more levels. */
#define HB_MAX_LEVELS	HBITMAP_MAX_LEVELS
/* kvmalloc() rejects (with a warning) anything larger than this. */
#define HB_MAX_LEVEL_WORDS	((u64)INT_MAX / sizeof(u64))

struct hbitmap {
	u64 nbits;
	u64 count;			/* set bits at level 0 */
	u64 set_gen;			/* bumped when bits may have been set */
	unsigned int nlevels;
	size_t memory;			/* bytes allocated, header included */
	u64 bits[HB_MAX_LEVELS];	/* bits in each level */
	u64 *words[HB_MAX_LEVELS];	/* words[0]: the real bits */
};

static u64 hb_words(u64 bits)
{
	return (bits >> HB_SHIFT) + ((bits & HB_MASK) != 0);
}

/* Mask of bits [first % 64, last % 64] for word @w of range [first, last]. */
static u64 hb_mask(u64 w, u64 first, u64 last)
{
	u64 mask = ~0ULL;

	if (w == first >> HB_SHIFT)
		mask &= ~0ULL << (first & HB_MASK);
	if (w == last >> HB_SHIFT)
		mask &= ~0ULL >> (HB_MASK - (last & HB_MASK));
	return mask;
}

struct hbitmap *hbitmap_alloc(u64 nbits, gfp_t gfp)
{
	struct hbitmap *hb;
	u64 bits = nbits;
	unsigned int l;

	hb = kzalloc(sizeof(*hb), gfp);
	if (!hb)
		return NULL;
	hb->nbits = nbits;
	hb->memory = sizeof(*hb);
	for (l = 0; l < HB_MAX_LEVELS; l++) {
		/* An empty bitmap still gets a word: lookups stay simple. */
		u64 nwords = max_t(u64, hb_words(bits), 1);

		if (nwords > HB_MAX_LEVEL_WORDS)
			goto fail;
		hb->bits[l] = bits;
		hb->words[l] = kvcalloc((size_t)nwords, sizeof(u64), gfp);
		if (!hb->words[l])
			goto fail;
		hb->memory += (size_t)nwords * sizeof(u64);
		hb->nlevels = l + 1;
		if (nwords == 1)
			return hb;
		bits = nwords;
	}
fail:
	hbitmap_free(hb);
	return NULL;
}

void hbitmap_free(struct hbitmap *hb)
{
	unsigned int l;

	if (!hb)
		return;
	for (l = 0; l < HB_MAX_LEVELS; l++)
		kvfree(hb->words[l]);
	kfree(hb);
}

u64 hbitmap_size(const struct hbitmap *hb)
{
	return hb->nbits;
}

size_t hbitmap_memory(const struct hbitmap *hb)
{
	return hb->memory;
}

u64 hbitmap_count(const struct hbitmap *hb)
{
	return hb->count;
}

bool hbitmap_test(const struct hbitmap *hb, u64 bit)
{
	if (bit >= hb->nbits)
		return false;
	return (hb->words[0][bit >> HB_SHIFT] >> (bit & HB_MASK)) & 1;
}

/* Clip [start, start + *count) to the bitmap; false if nothing is left. */
static bool hb_clip(const struct hbitmap *hb, u64 start, u64 *count)
{
	if (start >= hb->nbits || !*count)
		return false;
	*count = min_t(u64, *count, hb->nbits - start);
	return true;
}

void hbitmap_set(struct hbitmap *hb, u64 start, u64 count)
{
	u64 first = start, last, w;
	unsigned int l;

	if (!hb_clip(hb, start, &count))
		return;
	hb->set_gen++;
	last = start + count - 1;
	for (l = 0; l < hb->nlevels; l++) {
		u64 *words = hb->words[l];
		bool woke = false;	/* a word went from zero to non-zero */
		u64 added = 0;

		for (w = first >> HB_SHIFT; w <= last >> HB_SHIFT; w++) {
			u64 mask = hb_mask(w, first, last);

			added += hweight64(mask & ~words[w]);
			woke |= !words[w];
			/* Level 0 may be read by hbitmap_range_clear_lockless(). */
			WRITE_ONCE(words[w], words[w] | mask);
		}
		if (l == 0)
			hb->count += added;
		if (!woke)
			break;
		/* The words just touched are non-zero: mark them above. */
		first >>= HB_SHIFT;
		last >>= HB_SHIFT;
	}
}

void hbitmap_reset(struct hbitmap *hb, u64 start, u64 count)
{
	u64 first = start, last, w;
	unsigned int l;

	if (!hb_clip(hb, start, &count))
		return;
	last = start + count - 1;
	for (l = 0; l < hb->nlevels; l++) {
		u64 *words = hb->words[l];
		bool emptied = false;	/* a word went from non-zero to zero */
		u64 removed = 0;

		for (w = first >> HB_SHIFT; w <= last >> HB_SHIFT; w++) {
			u64 mask = hb_mask(w, first, last);

			removed += hweight64(mask & words[w]);
			emptied |= words[w] && !(words[w] & ~mask);
			WRITE_ONCE(words[w], words[w] & ~mask);
		}
		if (l == 0)
			hb->count -= removed;
		if (!emptied)
			break;
		/*
		 * Inner words of the range are now zero; the two edge words
		 * may still hold bits outside the range and keep their
		 * summary bit. Some word in the range was emptied, so the
		 * narrowed range still holds it: first <= last, and last
		 * cannot underflow.
		 */
		w = first >> HB_SHIFT;
		first = w + (words[w] != 0);
		w = last >> HB_SHIFT;
		last = w - (words[w] != 0);
	}
}

void hbitmap_set_all(struct hbitmap *hb)
{
	unsigned int l;

	for (l = 0; l < hb->nlevels; l++) {
		u64 bits = hb->bits[l];
		u64 nwords = hb_words(bits);

		if (!nwords)
			continue;
		memset(hb->words[l], 0xff, (size_t)nwords * sizeof(u64));
		/* Keep the bits past the end clear. */
		if (bits & HB_MASK)
			hb->words[l][nwords - 1] =
				~0ULL >> (HB_BITS - (bits & HB_MASK));
	}
	hb->count = hb->nbits;
	hb->set_gen++;
}

/* First set bit >= @pos at level @l, or the size of that level. */
static u64 hb_next_set(const struct hbitmap *hb, unsigned int l, u64 pos)
{
	unsigned int k = l;
	u64 word;

	/* Climb until some word has a set bit at or after the position. */
	for (;;) {
		if (pos >= hb->bits[k])
			return hb->bits[l];
		word = hb->words[k][pos >> HB_SHIFT] &
		       (~0ULL << (pos & HB_MASK));
		if (word)
			break;
		if (k + 1 == hb->nlevels)
			return hb->bits[l];
		pos = (pos >> HB_SHIFT) + 1;
		k++;
	}
	pos = (pos & ~HB_MASK) + __ffs64(word);
	/* Descend: every summary bit names a non-empty word below. */
	while (k > l) {
		k--;
		pos = (pos << HB_SHIFT) + __ffs64(hb->words[k][pos]);
	}
	return pos;
}

/* First zero bit in [pos, end) at level 0, or @end; end <= nbits. */
static u64 hb_next_zero(const struct hbitmap *hb, u64 pos, u64 end)
{
	const u64 *words = hb->words[0];
	u64 w, word;

	if (pos >= end)
		return end;
	w = pos >> HB_SHIFT;
	word = ~words[w] & (~0ULL << (pos & HB_MASK));
	while (!word) {
		w++;
		if (w >= hb_words(end))
			return end;
		word = ~words[w];
	}
	return min_t(u64, (w << HB_SHIFT) + __ffs64(word), end);
}

bool hbitmap_range_clear_lockless(const struct hbitmap *hb, u64 start,
				  u64 count)
{
	u64 last, w;

	if (!hb_clip(hb, start, &count))
		return true;
	last = start + count - 1;
	for (w = start >> HB_SHIFT; w <= last >> HB_SHIFT; w++)
		if (READ_ONCE(hb->words[0][w]) & hb_mask(w, start, last))
			return false;
	return true;
}

bool hbitmap_range_full_lockless(const struct hbitmap *hb, u64 start,
				 u64 count)
{
	u64 last, w, mask;

	if (!hb_clip(hb, start, &count))
		return true;
	last = start + count - 1;
	for (w = start >> HB_SHIFT; w <= last >> HB_SHIFT; w++) {
		mask = hb_mask(w, start, last);
		if ((READ_ONCE(hb->words[0][w]) & mask) != mask)
			return false;
	}
	return true;
}

u64 hbitmap_next_set(const struct hbitmap *hb, u64 from)
{
	return hb_next_set(hb, 0, from);
}

u64 hbitmap_next_zero(const struct hbitmap *hb, u64 from)
{
	return hb_next_zero(hb, from, hb->nbits);
}

bool hbitmap_next_dirty_area(const struct hbitmap *hb, u64 from, u64 end,
			     u64 max_len, u64 *start, u64 *len)
{
	u64 first, limit;

	end = min_t(u64, end, hb->nbits);
	if (from >= end || !max_len)
		return false;
	first = hb_next_set(hb, 0, from);
	if (first >= end)
		return false;
	limit = end - first > max_len ? first + max_len : end;
	*start = first;
	*len = hb_next_zero(hb, first, limit) - first;
	return true;
}

#ifndef __KERNEL__
/*
 * Host-only: the module never iterates, merges or parses maps; the unit
 * tests, the fuzzer and bench_core do.
 */
/*
 * Fill the iterator's cursor from it->pos: per level, the bits of the
 * current word not yet visited. At levels above 0 the bit of the word
 * being walked below is dropped too: the level below covers it.
 */
static void hb_iter_fill(struct hbitmap_iter *it)
{
	const struct hbitmap *hb = it->hb;
	u64 idx = it->pos;
	unsigned int l;

	it->set_gen = hb->set_gen;
	it->word = 0;
	memset(it->cur, 0, sizeof(it->cur));
	if (idx >= hb->nbits)
		return;
	it->word = idx >> HB_SHIFT;
	for (l = 0; l < hb->nlevels; l++) {
		u64 bit = idx & HB_MASK;

		idx >>= HB_SHIFT;
		it->cur[l] = hb->words[l][idx] & (~0ULL << bit);
		if (l)
			it->cur[l] &= ~(1ULL << bit);
	}
}

/*
 * The current level-0 word is used up: climb the cursor to the nearest
 * level with unvisited summary bits, then descend along the lowest one,
 * reading the live words. A summary bit may be stale (its word emptied by
 * a reset since the cursor was filled): then climb again from there.
 * Returns the new level-0 word's bits, or 0 at the end.
 */
static u64 hb_iter_skip(struct hbitmap_iter *it)
{
	const struct hbitmap *hb = it->hb;
	u64 word = it->word, cur;
	unsigned int l = 0;

	for (;;) {
		do {
			if (++l == hb->nlevels)
				return 0;
			word >>= HB_SHIFT;
			cur = it->cur[l];
		} while (!cur);
		do {
			word = (word << HB_SHIFT) + __ffs64(cur);
			it->cur[l] = cur & (cur - 1);
			cur = hb->words[--l][word];
		} while (cur && l);
		if (cur) {
			it->word = word;
			return cur;
		}
	}
}

void hbitmap_iter_init(struct hbitmap_iter *it, const struct hbitmap *hb,
		       u64 from)
{
	it->hb = hb;
	it->pos = min_t(u64, from, hb->nbits);
	hb_iter_fill(it);
}

u64 hbitmap_iter_next(struct hbitmap_iter *it)
{
	const struct hbitmap *hb = it->hb;
	u64 cur, bit;

	/* Bits may have been set behind the cursor: refill it. */
	if (unlikely(it->set_gen != hb->set_gen))
		hb_iter_fill(it);
	/* Resets need no refill: level 0 is always read live. */
	cur = it->cur[0] & hb->words[0][it->word];
	if (!cur) {
		cur = hb_iter_skip(it);
		if (!cur) {
			it->pos = hb->nbits;
			return hb->nbits;
		}
	}
	it->cur[0] = cur & (cur - 1);
	bit = (it->word << HB_SHIFT) + __ffs64(cur);
	it->pos = bit + 1;
	return bit;
}

int hbitmap_merge(struct hbitmap *dst, const struct hbitmap *src)
{
	unsigned int l;
	u64 w;

	if (dst->nbits != src->nbits)
		return -EINVAL;
	dst->set_gen++;
	for (l = 0; l < dst->nlevels; l++) {
		u64 nwords = hb_words(dst->bits[l]);
		const u64 *s = src->words[l];
		u64 *d = dst->words[l];

		for (w = 0; w < nwords; w++) {
			if (!s[w])
				continue;
			if (l == 0)
				dst->count += hweight64(s[w] & ~d[w]);
			d[w] |= s[w];
		}
	}
	return 0;
}

#endif /* !__KERNEL__ */

size_t hbitmap_format_extents(const struct hbitmap *hb, u64 from,
			      char *buf, size_t buflen, u64 *next)
{
	/* " " + two 20-digit numbers + "+" + NUL */
	char word[44];
	size_t used = 0, n = 0;
	u64 start, len;
	int wlen;

	if (buflen)
		buf[0] = '\0';
	/* Room for the NUL is always kept, so buf stays terminated. */
	while (hbitmap_next_dirty_area(hb, from, hb->nbits, U64_MAX,
				       &start, &len)) {
		wlen = snprintf(word, sizeof(word), "%s%llu+%llu",
				n ? " " : "", start, len);
		if ((size_t)wlen >= buflen - used) {
			*next = start;
			return n;
		}
		memcpy(buf + used, word, (size_t)wlen + 1);
		used += (size_t)wlen;
		n++;
		from = start + len;
	}
	*next = hb->nbits;
	return n;
}

#ifndef __KERNEL__ /* host-only, see above */
static bool hb_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static int hb_parse_u64(const char **text, u64 *value)
{
	const char *p = *text;
	u64 v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (check_mul_overflow(v, 10ULL, &v) ||
		    check_add_overflow(v, (u64)(*p - '0'), &v))
			return -ERANGE;
	}
	*text = p;
	*value = v;
	return 0;
}

/* Validate @text; set the extents too when @apply. */
static int hb_parse(struct hbitmap *hb, const char *text, bool apply)
{
	u64 start, len;
	int ret;

	for (;;) {
		while (hb_is_blank(*text))
			text++;
		if (!*text)
			return 0;
		ret = hb_parse_u64(&text, &start);
		if (ret)
			return ret;
		if (*text++ != '+')
			return -EINVAL;
		ret = hb_parse_u64(&text, &len);
		if (ret)
			return ret;
		if (*text && !hb_is_blank(*text))
			return -EINVAL;
		if (!len)
			return -EINVAL;
		if (start >= hb->nbits || len > hb->nbits - start)
			return -ERANGE;
		if (apply)
			hbitmap_set(hb, start, len);
	}
}

int hbitmap_parse_extents(struct hbitmap *hb, const char *text)
{
	int ret;

	if (!text)
		return -EINVAL;
	/* Check everything first so that a bad word changes nothing. */
	ret = hb_parse(hb, text, false);
	if (ret)
		return ret;
	return hb_parse(hb, text, true);
}
#endif /* !__KERNEL__ */
