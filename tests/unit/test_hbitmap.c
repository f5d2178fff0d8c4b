// SPDX-License-Identifier: GPL-2.0
/*
 * Property tests of kernel/hbitmap.c against a naive flat-bitmap model.
 *
 * White-box: the kernel source is included directly (instead of being
 * linked through a "kernel-sources:" line) so the checker can read
 * struct hbitmap and verify the level invariants after operations.
 */
#include "hbitmap.c"

#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "shim.h"

/*------------------------------------------------------------------------*/
/* The model: one byte per bit, every query a plain scan. */

struct model {
	u64 n;
	u64 count;		/* kept by model_fill(), rechecked by scans */
	unsigned char *bit;
};

static void model_init(struct model *m, u64 n)
{
	m->n = n;
	m->count = 0;
	m->bit = calloc(n ? n : 1, 1);
}

static void model_fini(struct model *m)
{
	free(m->bit);
}

/* Same clipping rule as the bitmap: the range is cut at the end. */
static void model_fill(struct model *m, u64 start, u64 count, int v)
{
	u64 i;

	if (start >= m->n)
		return;
	if (count > m->n - start)
		count = m->n - start;
	for (i = start; i < start + count; i++) {
		m->count += v - m->bit[i];
		m->bit[i] = v;
	}
}

static u64 model_count(const struct model *m)
{
	u64 i, c = 0;

	for (i = 0; i < m->n; i++)
		c += m->bit[i];
	return c;
}

static u64 model_next(const struct model *m, u64 from, int v)
{
	for (; from < m->n; from++)
		if (m->bit[from] == v)
			return from;
	return m->n;
}

static bool model_dirty_area(const struct model *m, u64 from, u64 end,
			     u64 max_len, u64 *start, u64 *len)
{
	u64 s, e;

	if (end > m->n)
		end = m->n;
	if (from >= end || !max_len)
		return false;
	s = model_next(m, from, 1);
	if (s >= end)
		return false;
	for (e = s; e < end && m->bit[e] && e - s < max_len; e++)
		;
	*start = s;
	*len = e - s;
	return true;
}

/*------------------------------------------------------------------------*/
/* Random numbers: splitmix64, seeded per test case for reproducibility. */

static u64 rng_state;

static u64 rnd(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

/* A position: biased towards the edges, where the bugs live. */
static u64 rnd_pos(u64 n)
{
	switch (rnd() % 8) {
	case 0:
		return 0;
	case 1:
		return n ? n - 1 : 0;
	case 2:
		return n + rnd_below(3);	/* past the end */
	case 3:
		/* Around a word boundary; may wrap to U64_MAX at 0. */
		return rnd_below(n / 64 + 1) * 64 + rnd_below(3) - 1;
	default:
		return rnd_below(n + 1);
	}
}

/* A length: mostly short, sometimes word-sized, sometimes huge. */
static u64 rnd_len(u64 n)
{
	switch (rnd() % 10) {
	case 0:
		return 0;
	case 1:
		return U64_MAX;
	case 2:
		return n;
	case 3:
		return 64 * (1 + rnd_below(3)) + rnd_below(3) - 1;
	case 4:
		return rnd_below(n / 4 + 2);
	default:
		return 1 + rnd_below(70);
	}
}

/*------------------------------------------------------------------------*/
/* Checkers. */

static void check_invariants(struct __test_metadata *_metadata,
			     const struct hbitmap *hb)
{
	u64 count = 0, w;
	unsigned int l;

	ASSERT_GE(hb->nlevels, 1);
	ASSERT_LE(hb->bits[hb->nlevels - 1], 64);
	ASSERT_EQ(hb->bits[0], hb->nbits);
	for (l = 0; l < hb->nlevels; l++) {
		u64 bits = hb->bits[l];
		u64 nwords = max_t(u64, hb_words(bits), 1);

		/* Nothing set past the end of a level. */
		if (bits & HB_MASK)
			ASSERT_EQ(0, hb->words[l][nwords - 1] >> (bits & HB_MASK));
		if (!bits)
			ASSERT_EQ(0, hb->words[l][0]);
		if (l + 1 < hb->nlevels) {
			ASSERT_EQ(hb->bits[l + 1], hb_words(bits));
		}
		for (w = 0; w < nwords; w++) {
			if (l == 0)
				count += hweight64(hb->words[0][w]);
			if (l + 1 < hb->nlevels) {
				bool summary = (hb->words[l + 1][w >> 6] >>
						(w & 63)) & 1;

				if (summary != (hb->words[l][w] != 0))
					TH_LOG("level %u word %llu: summary %d, word %#llx",
					       l, w, summary, hb->words[l][w]);
				ASSERT_EQ(summary, hb->words[l][w] != 0);
			}
		}
	}
	ASSERT_EQ(count, hb->count);
}

/*
 * Compare everything: every position's test/next_set/next_zero (from
 * next-bit tables built in one backward sweep), the count, the iterator
 * and the level invariants.
 */
static void check_equal(struct __test_metadata *_metadata,
			const struct hbitmap *hb, const struct model *m)
{
	u64 *next1 = malloc((m->n + 1) * sizeof(u64));
	u64 *next0 = malloc((m->n + 1) * sizeof(u64));
	struct hbitmap_iter it;
	u64 i, b, expect;

	check_invariants(_metadata, hb);
	ASSERT_EQ(model_count(m), m->count);
	ASSERT_EQ(m->count, hbitmap_count(hb));
	next1[m->n] = next0[m->n] = m->n;
	for (i = m->n; i-- > 0;) {
		next1[i] = m->bit[i] ? i : next1[i + 1];
		next0[i] = m->bit[i] ? next0[i + 1] : i;
	}
	/*
	 * next_zero costs O(run / 64): query every position of small maps,
	 * but only samples plus both ends of large ones (else O(n^2)).
	 */
	for (u64 k = 0; k <= m->n; k++) {
		if (m->n <= 20000)
			i = k;
		else if (k < 3000)
			i = k < 1000 ? k : k < 2000 ? m->n - (k - 1000) :
			    rnd_below(m->n + 1);
		else
			break;
		ASSERT_EQ(i < m->n && m->bit[i], hbitmap_test(hb, i));
		ASSERT_EQ(next1[i], hbitmap_next_set(hb, i));
		ASSERT_EQ(next0[i], hbitmap_next_zero(hb, i));
	}
	for (i = 0; i < m->n; i++)
		ASSERT_EQ(m->bit[i], hbitmap_test(hb, i));
	ASSERT_EQ(m->n, hbitmap_next_set(hb, m->n + 1));
	ASSERT_EQ(m->n, hbitmap_next_zero(hb, U64_MAX));
	ASSERT_FALSE(hbitmap_test(hb, U64_MAX));
	/* The iterator visits exactly the set bits, in order. */
	hbitmap_iter_init(&it, hb, 0);
	expect = next1[0];
	for (;;) {
		b = hbitmap_iter_next(&it);
		ASSERT_EQ(expect, b);
		if (b >= m->n)
			break;
		expect = next1[b + 1];
	}
	ASSERT_EQ(m->n, hbitmap_iter_next(&it));
	free(next1);
	free(next0);
}

/* Page through the whole map with @buflen-byte buffers; the text. */
static char *format_all(struct __test_metadata *_metadata,
			const struct hbitmap *hb, size_t buflen)
{
	size_t cap = 64, used = 0, n;
	char *all = malloc(cap), *buf = malloc(buflen + 8);
	u64 from = 0, next;

	all[0] = '\0';
	for (;;) {
		memset(buf, 0x5a, buflen + 8);
		n = hbitmap_format_extents(hb, from, buf, buflen, &next);
		/* Never a byte past buflen; always terminated. */
		for (size_t i = buflen; i < buflen + 8; i++)
			ASSERT_EQ(0x5a, (unsigned char)buf[i]);
		if (buflen)
			ASSERT_LT(strlen(buf), buflen);
		ASSERT_GE(next, from);
		ASSERT_LE(next, hbitmap_size(hb));
		if (n == 0) {
			if (buflen)
				ASSERT_EQ(0, buf[0]);
			/* No room for even one extent: no progress possible. */
			if (next != hbitmap_size(hb))
				break;
		}
		if (buflen && buf[0]) {
			size_t len = strlen(buf);

			while (used + len + 2 > cap)
				cap *= 2;
			all = realloc(all, cap);
			if (used)
				all[used++] = ' ';
			memcpy(all + used, buf, len + 1);
			used += len;
		}
		if (next == hbitmap_size(hb))
			break;
		ASSERT_GT(next, from);
		from = next;
	}
	free(buf);
	return all;
}

/* The expected text straight from the model. */
static char *model_format(const struct model *m)
{
	size_t cap = 64, used = 0;
	char *s = malloc(cap);
	u64 start, len, from = 0;

	s[0] = '\0';
	while (model_dirty_area(m, from, m->n, U64_MAX, &start, &len)) {
		char word[48];
		int w = snprintf(word, sizeof(word), "%s%llu+%llu",
				 used ? " " : "", start, len);

		while (used + w + 1 > cap)
			cap *= 2;
		s = realloc(s, cap);
		memcpy(s + used, word, w + 1);
		used += w;
		from = start + len;
	}
	return s;
}

/*------------------------------------------------------------------------*/
/* Tests. */

static const u64 sizes[] = {
	0, 1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 64 * 64 + 1,
	64 * 64 * 64 - 1, 64 * 64 * 64 + 1, 1000000,
};

TEST(alloc_sizes_and_memory)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 n = sizes[i];
		struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);

		ASSERT_NE(NULL, hb);
		ASSERT_EQ(n, hbitmap_size(hb));
		ASSERT_EQ(0, hbitmap_count(hb));
		ASSERT_EQ(n, hbitmap_next_set(hb, 0));
		ASSERT_EQ(0, hbitmap_next_zero(hb, 0));
		ASSERT_FALSE(hbitmap_test(hb, 0) && n == 0);
		/* At most 1.02 * n/8 bytes plus a small constant. */
		ASSERT_LE(hbitmap_memory(hb), n / 8 * 102 / 100 + 512);
		check_invariants(_metadata, hb);
		hbitmap_free(hb);
	}
	hbitmap_free(NULL);
	ASSERT_EQ(0, shim_live_allocs());
}

TEST(alloc_huge_fails_cleanly)
{
	static const u64 too_big[] = {
		1ULL << 34, 1ULL << 40, (1ULL << 40) + 1, 1ULL << 63,
		U64_MAX - 63, U64_MAX,
	};

	for (size_t i = 0; i < ARRAY_SIZE(too_big); i++)
		ASSERT_EQ(NULL, hbitmap_alloc(too_big[i], GFP_KERNEL));
	ASSERT_EQ(0, shim_live_allocs());
}

TEST(alloc_failure_leaks_nothing)
{
	/* 1e6 bits: header + 4 levels = 5 allocations. */
	for (unsigned long k = 1; k <= 6; k++) {
		struct hbitmap *hb;

		shim_fail_alloc_after(k);
		hb = hbitmap_alloc(1000000, GFP_KERNEL);
		shim_fail_alloc_after(0);
		if (k <= 5) {
			ASSERT_EQ(NULL, hb);
		} else {
			ASSERT_NE(NULL, hb);
		}
		hbitmap_free(hb);
		ASSERT_EQ(0, shim_live_allocs());
	}
}

/* 16 TiB at 4 KiB clusters: 2^32 bits, 512 MiB at level 0. */
TEST(alloc_16tib_at_4k)
{
	const u64 n = 1ULL << 32;
	struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
	u64 start, len;

	if (!hb)
		SKIP(return, "512 MiB not available: NULL returned cleanly");
	ASSERT_LE(hbitmap_memory(hb), n / 8 * 102 / 100 + 512);
	hbitmap_set(hb, n - 1, 1);
	ASSERT_EQ(1, hbitmap_count(hb));
	ASSERT_EQ(n - 1, hbitmap_next_set(hb, 0));
	ASSERT_TRUE(hbitmap_next_dirty_area(hb, 0, U64_MAX, 8, &start, &len));
	ASSERT_EQ(n - 1, start);
	ASSERT_EQ(1, len);
	hbitmap_set_all(hb);
	ASSERT_EQ(n, hbitmap_count(hb));
	ASSERT_EQ(n, hbitmap_next_zero(hb, n - 1000));
	hbitmap_reset(hb, 1ULL << 31, U64_MAX);
	ASSERT_EQ(1ULL << 31, hbitmap_count(hb));
	ASSERT_EQ(n, hbitmap_next_set(hb, 1ULL << 31));
	hbitmap_free(hb);
	ASSERT_EQ(0, shim_live_allocs());
}

TEST(edges_every_size)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 n = sizes[i];
		struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
		struct model m;

		ASSERT_NE(NULL, hb);
		model_init(&m, n);
		/* The last bit alone. */
		hbitmap_set(hb, n - 1, 1);
		model_fill(&m, n - 1, 1, 1);
		check_equal(_metadata, hb, &m);
		/* Past the end, zero counts, huge counts: clipped. */
		hbitmap_set(hb, n, 5);
		hbitmap_set(hb, U64_MAX, U64_MAX);
		hbitmap_set(hb, 0, 0);
		check_equal(_metadata, hb, &m);
		hbitmap_set(hb, n / 2, U64_MAX);
		model_fill(&m, n / 2, U64_MAX, 1);
		check_equal(_metadata, hb, &m);
		hbitmap_reset(hb, n ? n - 1 : 0, U64_MAX);
		model_fill(&m, n ? n - 1 : 0, U64_MAX, 0);
		check_equal(_metadata, hb, &m);
		hbitmap_set_all(hb);
		model_fill(&m, 0, n, 1);
		check_equal(_metadata, hb, &m);
		ASSERT_EQ(n, hbitmap_count(hb));
		hbitmap_reset(hb, 0, 1);
		model_fill(&m, 0, 1, 0);
		check_equal(_metadata, hb, &m);
		hbitmap_reset(hb, 0, U64_MAX);
		model_fill(&m, 0, U64_MAX, 0);
		check_equal(_metadata, hb, &m);
		ASSERT_EQ(0, hbitmap_count(hb));
		model_fini(&m);
		hbitmap_free(hb);
	}
}

/* One random operation, applied to both; queries compared. */
static void random_op(struct __test_metadata *_metadata, struct hbitmap *hb,
		      struct model *m)
{
	u64 n = m->n, a = rnd_pos(n), b = rnd_len(n);
	u64 s1, l1, s2, l2;
	bool r1, r2;

	switch (rnd() % 16) {
	case 0: case 1: case 2: case 3:
		hbitmap_set(hb, a, b);
		model_fill(m, a, b, 1);
		break;
	case 4: case 5: case 6:
		hbitmap_reset(hb, a, b);
		model_fill(m, a, b, 0);
		break;
	case 7:
		if (rnd() % 8 == 0) {
			hbitmap_set_all(hb);
			model_fill(m, 0, n, 1);
		} else {
			hbitmap_reset(hb, 0, U64_MAX);
			model_fill(m, 0, n, 0);
		}
		break;
	case 8:
		ASSERT_EQ(a < n && m->bit[a], hbitmap_test(hb, a));
		break;
	case 9:
		ASSERT_EQ(model_next(m, a, 1), hbitmap_next_set(hb, a));
		break;
	case 10:
		ASSERT_EQ(model_next(m, a, 0), hbitmap_next_zero(hb, a));
		break;
	case 11: {
		/* Clear iff the model's next set bit is past the range. */
		u64 last = b > n - a ? n : a + b;

		ASSERT_EQ(a >= n || !b || model_next(m, a, 1) >= last,
			  hbitmap_range_clear_lockless(hb, a, b));
		break;
	}
	default: {
		u64 end = rnd() % 4 ? rnd_pos(n) : U64_MAX;
		u64 max_len = rnd() % 4 ? rnd_len(n) : U64_MAX;

		s1 = l1 = s2 = l2 = 0xdead;
		r1 = model_dirty_area(m, a, end, max_len, &s1, &l1);
		r2 = hbitmap_next_dirty_area(hb, a, end, max_len, &s2, &l2);
		ASSERT_EQ(r1, r2);
		if (r1) {
			ASSERT_EQ(s1, s2);
			ASSERT_EQ(l1, l2);
		}
		break;
	}
	}
	ASSERT_EQ(m->count, hbitmap_count(hb));
}

static void random_run(struct __test_metadata *_metadata, u64 n, u64 seed,
		       unsigned int ops)
{
	struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
	struct model m;

	ASSERT_NE(NULL, hb);
	model_init(&m, n);
	rng_state = seed * 1000003 + n;
	for (unsigned int i = 0; i < ops; i++) {
		random_op(_metadata, hb, &m);
		if (i % (n > 100000 ? 64 : 16) == 0)
			check_equal(_metadata, hb, &m);
		if (_metadata->passed == 0) {
			TH_LOG("n=%llu seed=%llu op=%u", n, seed, i);
			break;
		}
	}
	check_equal(_metadata, hb, &m);
	model_fini(&m);
	hbitmap_free(hb);
}

TEST(random_ops_small_sizes)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > 5000)
			continue;
		for (u64 seed = 1; seed <= 24; seed++)
			random_run(_metadata, sizes[i], seed, 400);
	}
}

TEST(random_ops_odd_sizes)
{
	for (u64 seed = 1; seed <= 40; seed++) {
		rng_state = seed;
		random_run(_metadata, 1 + rnd_below(20000), seed, 300);
	}
}

TEST(random_ops_large_sizes)
{
	random_run(_metadata, 64 * 64 * 64 + 1, 1, 1000);
	random_run(_metadata, 64 * 64 * 64 - 1, 2, 1000);
	random_run(_metadata, 1000000, 3, 1000);
}

/* Reset (and set) bits ahead of and behind the iterator while it runs. */
TEST(iterator_with_concurrent_changes)
{
	static const u64 n_list[] = { 1, 64, 65, 4097, 100000 };

	for (size_t i = 0; i < ARRAY_SIZE(n_list); i++) {
		for (u64 seed = 1; seed <= 20; seed++) {
			u64 n = n_list[i], pos;
			struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
			struct hbitmap_iter it;
			struct model m;

			ASSERT_NE(NULL, hb);
			model_init(&m, n);
			rng_state = seed;
			for (int k = 0; k < 40; k++) {
				u64 a = rnd_pos(n), b = rnd_len(n) % (n + 1);

				hbitmap_set(hb, a, b);
				model_fill(&m, a, b, 1);
			}
			hbitmap_iter_init(&it, hb, 0);
			pos = 0;
			for (;;) {
				u64 got = hbitmap_iter_next(&it);

				ASSERT_EQ(model_next(&m, pos, 1), got);
				if (got >= n)
					break;
				pos = got + 1;
				/* Changes anywhere; the iterator must follow. */
				if (rnd() % 3 == 0) {
					u64 a = rnd_pos(n), b = rnd_len(n) % 300;
					int v = rnd() % 4 != 0 ? 0 : 1;

					if (v)
						hbitmap_set(hb, a, b);
					else
						hbitmap_reset(hb, a, b);
					model_fill(&m, a, b, v);
				}
			}
			check_equal(_metadata, hb, &m);
			model_fini(&m);
			hbitmap_free(hb);
		}
	}
}

/*
 * Resets only: the iterator's cached summary bits go stale (whole words
 * and level-1 groups emptied ahead of it) and must be skipped.
 */
TEST(iterator_with_resets_ahead)
{
	static const u64 n_list[] = { 4097, 100000, 64 * 64 * 64 + 1 };

	for (size_t i = 0; i < ARRAY_SIZE(n_list); i++) {
		for (u64 seed = 1; seed <= 20; seed++) {
			u64 n = n_list[i], pos = 0;
			struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
			struct hbitmap_iter it;
			struct model m;

			ASSERT_NE(NULL, hb);
			model_init(&m, n);
			rng_state = seed;
			for (int k = 0; k < 400; k++) {
				u64 a = rnd_below(n), b = 1 + rnd_below(64);

				hbitmap_set(hb, a, b);
				model_fill(&m, a, b, 1);
			}
			hbitmap_iter_init(&it, hb, rnd() % 2 ? 0 : rnd_below(n));
			pos = it.pos;
			for (;;) {
				u64 got = hbitmap_iter_next(&it);

				ASSERT_EQ(model_next(&m, pos, 1), got);
				if (got >= n)
					break;
				pos = got + 1;
				if (rnd() % 3 == 0) {
					u64 a = pos + rnd_below(5000);
					u64 b = rnd() % 4 ? rnd_below(70)
							  : rnd_below(20000);

					hbitmap_reset(hb, a, b);
					model_fill(&m, a, b, 0);
				}
			}
			check_equal(_metadata, hb, &m);
			model_fini(&m);
			hbitmap_free(hb);
		}
	}
}

TEST(iterator_from_positions)
{
	struct hbitmap *hb = hbitmap_alloc(200, GFP_KERNEL);
	struct hbitmap_iter it;

	ASSERT_NE(NULL, hb);
	hbitmap_set(hb, 3, 2);
	hbitmap_set(hb, 199, 1);
	hbitmap_iter_init(&it, hb, 4);
	ASSERT_EQ(4, hbitmap_iter_next(&it));
	ASSERT_EQ(199, hbitmap_iter_next(&it));
	ASSERT_EQ(200, hbitmap_iter_next(&it));
	ASSERT_EQ(200, hbitmap_iter_next(&it));
	hbitmap_iter_init(&it, hb, 1000);
	ASSERT_EQ(200, hbitmap_iter_next(&it));
	hbitmap_free(hb);
}

TEST(next_dirty_area_caps)
{
	struct hbitmap *hb = hbitmap_alloc(1000, GFP_KERNEL);
	u64 s = 7, l = 7;

	ASSERT_NE(NULL, hb);
	hbitmap_set(hb, 100, 300);
	ASSERT_TRUE(hbitmap_next_dirty_area(hb, 0, 1000, 64, &s, &l));
	ASSERT_EQ(100, s);
	ASSERT_EQ(64, l);
	ASSERT_TRUE(hbitmap_next_dirty_area(hb, 150, 200, 1000, &s, &l));
	ASSERT_EQ(150, s);
	ASSERT_EQ(50, l);
	ASSERT_TRUE(hbitmap_next_dirty_area(hb, 0, U64_MAX, U64_MAX, &s, &l));
	ASSERT_EQ(100, s);
	ASSERT_EQ(300, l);
	ASSERT_FALSE(hbitmap_next_dirty_area(hb, 0, 100, 10, &s, &l));
	ASSERT_FALSE(hbitmap_next_dirty_area(hb, 400, 1000, 10, &s, &l));
	ASSERT_FALSE(hbitmap_next_dirty_area(hb, 120, 110, 10, &s, &l));
	ASSERT_FALSE(hbitmap_next_dirty_area(hb, 120, 1000, 0, &s, &l));
	hbitmap_set(hb, 999, 1);
	ASSERT_TRUE(hbitmap_next_dirty_area(hb, 400, U64_MAX, 5, &s, &l));
	ASSERT_EQ(999, s);
	ASSERT_EQ(1, l);
	hbitmap_free(hb);
}

TEST(merge_random)
{
	for (u64 seed = 1; seed <= 30; seed++) {
		u64 n = seed < 10 ? sizes[seed] : 1 + seed * 977;
		struct hbitmap *a = hbitmap_alloc(n, GFP_KERNEL);
		struct hbitmap *b = hbitmap_alloc(n, GFP_KERNEL);
		struct hbitmap *c = hbitmap_alloc(n + 1, GFP_KERNEL);
		struct model ma, mb;

		ASSERT_NE(NULL, a);
		ASSERT_NE(NULL, b);
		ASSERT_NE(NULL, c);
		model_init(&ma, n);
		model_init(&mb, n);
		rng_state = seed;
		for (int k = 0; k < 20; k++) {
			u64 p = rnd_pos(n), l = rnd_len(n) % 500;

			hbitmap_set(a, p, l);
			model_fill(&ma, p, l, 1);
			p = rnd_pos(n);
			l = rnd_len(n) % 500;
			hbitmap_set(b, p, l);
			model_fill(&mb, p, l, 1);
		}
		ASSERT_EQ(-EINVAL, hbitmap_merge(a, c));
		check_equal(_metadata, a, &ma);
		ASSERT_EQ(0, hbitmap_merge(a, b));
		for (u64 i = 0; i < n; i++)
			if (mb.bit[i])
				model_fill(&ma, i, 1, 1);
		check_equal(_metadata, a, &ma);
		check_equal(_metadata, b, &mb);
		ASSERT_EQ(0, hbitmap_merge(a, a));
		check_equal(_metadata, a, &ma);
		model_fini(&ma);
		model_fini(&mb);
		hbitmap_free(a);
		hbitmap_free(b);
		hbitmap_free(c);
	}
}

TEST(format_exact_text)
{
	struct hbitmap *hb = hbitmap_alloc(200, GFP_KERNEL);
	char buf[64];
	u64 next = 0;

	ASSERT_NE(NULL, hb);
	ASSERT_EQ(0, hbitmap_format_extents(hb, 0, buf, sizeof(buf), &next));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(200, next);
	hbitmap_set(hb, 0, 3);
	hbitmap_set(hb, 5, 1);
	hbitmap_set(hb, 63, 2);
	hbitmap_set(hb, 199, 1);
	ASSERT_EQ(4, hbitmap_format_extents(hb, 0, buf, sizeof(buf), &next));
	ASSERT_STREQ("0+3 5+1 63+2 199+1", buf);
	ASSERT_EQ(200, next);
	/* Starting inside an extent describes its remainder. */
	ASSERT_EQ(4, hbitmap_format_extents(hb, 1, buf, sizeof(buf), &next));
	ASSERT_STREQ("1+2 5+1 63+2 199+1", buf);
	ASSERT_EQ(200, next);
	/* Exactly enough room for "0+3 5+1" plus the NUL. */
	ASSERT_EQ(2, hbitmap_format_extents(hb, 0, buf, 8, &next));
	ASSERT_STREQ("0+3 5+1", buf);
	ASSERT_EQ(63, next);
	/* One byte less: the second word no longer fits. */
	ASSERT_EQ(1, hbitmap_format_extents(hb, 0, buf, 7, &next));
	ASSERT_STREQ("0+3", buf);
	ASSERT_EQ(5, next);
	/* Too small for anything: empty string, next is the first extent. */
	ASSERT_EQ(0, hbitmap_format_extents(hb, 0, buf, 3, &next));
	ASSERT_STREQ("", buf);
	ASSERT_EQ(0, next);
	ASSERT_EQ(0, hbitmap_format_extents(hb, 64, NULL, 0, &next));
	ASSERT_EQ(64, next);
	ASSERT_EQ(0, hbitmap_format_extents(hb, 500, buf, 3, &next));
	ASSERT_EQ(200, next);
	hbitmap_free(hb);
}

TEST(format_parse_round_trip_paged)
{
	static const size_t buflens[] = { 0, 1, 4, 5, 9, 16, 23, 64, 4096 };

	for (u64 seed = 1; seed <= 40; seed++) {
		u64 n = seed % 5 == 0 ? sizes[seed % ARRAY_SIZE(sizes)]
				      : 1 + (seed * 7919) % 30000;
		struct hbitmap *hb = hbitmap_alloc(n, GFP_KERNEL);
		struct hbitmap *copy = hbitmap_alloc(n, GFP_KERNEL);
		struct model m;
		char *expect;

		ASSERT_NE(NULL, hb);
		ASSERT_NE(NULL, copy);
		model_init(&m, n);
		rng_state = seed;
		for (int k = 0; k < 60; k++) {
			u64 p = rnd_pos(n), l = rnd_len(n) % 200;

			hbitmap_set(hb, p, l);
			model_fill(&m, p, l, 1);
		}
		expect = model_format(&m);
		for (size_t i = 0; i < ARRAY_SIZE(buflens); i++) {
			size_t bl = buflens[i];
			char *text = format_all(_metadata, hb, bl);

			/* A buffer that fits each word pages through it all. */
			if (bl >= 2 * 20 + 3 || (n < 10000 && bl >= 9 + 2))
				ASSERT_STREQ(expect, text);
			free(text);
		}
		hbitmap_reset(copy, 0, U64_MAX);
		ASSERT_EQ(0, hbitmap_parse_extents(copy, expect));
		check_equal(_metadata, copy, &m);
		free(expect);
		model_fini(&m);
		hbitmap_free(hb);
		hbitmap_free(copy);
	}
}

TEST(parse_strict)
{
	static const struct {
		const char *text;
		int ret;
	} cases[] = {
		{ "", 0 }, { " ", 0 }, { "0+1", 0 }, { "  3+4\t9+1\n", 0 },
		{ "99+1", 0 }, { "0+100", 0 }, { "007+1", 0 },
		{ "1", -EINVAL }, { "1+", -EINVAL }, { "+1", -EINVAL },
		{ "+1+2", -EINVAL }, { "-1+2", -EINVAL }, { "1+-2", -EINVAL },
		{ "1++2", -EINVAL }, { "1+2+3", -EINVAL }, { "1+2x", -EINVAL },
		{ "a+1", -EINVAL }, { "1 +2", -EINVAL }, { "1+ 2", -EINVAL },
		{ "1+0", -EINVAL }, { "0x1+1", -EINVAL }, { "1+2,3+4", -EINVAL },
		{ "1+2 junk", -EINVAL }, { "+", -EINVAL }, { "1+2 +", -EINVAL },
		{ "1+2\r", -EINVAL },
		{ "99+2", -ERANGE }, { "100+1", -ERANGE }, { "0+101", -ERANGE },
		{ "18446744073709551615+1", -ERANGE },
		{ "1+18446744073709551615", -ERANGE },
		{ "18446744073709551616+1", -ERANGE },
		{ "1+99999999999999999999999", -ERANGE },
		{ "0+1 5+2 100+1", -ERANGE }, { "0+1 5+2 x", -EINVAL },
	};
	struct hbitmap *hb = hbitmap_alloc(100, GFP_KERNEL);
	char before[256], after[256];
	u64 next;
	int ret;

	ASSERT_NE(NULL, hb);
	ASSERT_EQ(-EINVAL, hbitmap_parse_extents(hb, NULL));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		hbitmap_reset(hb, 0, U64_MAX);
		hbitmap_set(hb, 50, 2);
		hbitmap_format_extents(hb, 0, before, sizeof(before), &next);
		ret = hbitmap_parse_extents(hb, cases[i].text);
		if (ret != cases[i].ret)
			TH_LOG("case %zu: got %d", i, ret);
		ASSERT_EQ(cases[i].ret, ret);
		hbitmap_format_extents(hb, 0, after, sizeof(after), &next);
		if (cases[i].ret)
			ASSERT_STREQ(before, after);	/* untouched */
	}
	hbitmap_reset(hb, 0, U64_MAX);
	ASSERT_EQ(0, hbitmap_parse_extents(hb, "  3+4\t9+1\n0+1 99+1"));
	hbitmap_format_extents(hb, 0, after, sizeof(after), &next);
	ASSERT_STREQ("0+1 3+4 9+1 99+1", after);
	ASSERT_EQ(7, hbitmap_count(hb));
	hbitmap_free(hb);

	/* Empty bitmap: every extent is past the end. */
	hb = hbitmap_alloc(0, GFP_KERNEL);
	ASSERT_NE(NULL, hb);
	ASSERT_EQ(0, hbitmap_parse_extents(hb, ""));
	ASSERT_EQ(-ERANGE, hbitmap_parse_extents(hb, "0+1"));
	hbitmap_free(hb);
}

TEST_HARNESS_MAIN
