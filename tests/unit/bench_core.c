// SPDX-License-Identifier: GPL-2.0
// kernel-sources: kernel/hbitmap.c
/*
 * Benchmark of kernel/hbitmap.c (make bench-core): next-set-bit iteration
 * over 2^24 bits (1 TiB at 64 KiB clusters) at several densities against a
 * flat bitmap scanned word by word, set/reset throughput, the copier's
 * walk (next dirty area + reset), and memory per TiB. Not a pass/fail
 * test: it prints a table. Each figure is the best of several runs.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbitmap.h"

#define NBITS		(1ULL << 24)
#define MIN_RUN_NS	(200ULL * 1000 * 1000)

static volatile u64 sink;
static u64 rng = 0x243f6a8885a308d3ULL;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The baseline: find_next_bit() over a flat array of u64 words. */
static inline u64 flat_next(const u64 *words, u64 nbits, u64 pos)
{
	u64 w, word, nwords = (nbits + 63) / 64;

	if (pos >= nbits)
		return nbits;
	w = pos / 64;
	word = words[w] & (~0ULL << (pos % 64));
	while (!word) {
		if (++w >= nwords)
			return nbits;
		word = words[w];
	}
	return min(w * 64 + __builtin_ctzll(word), nbits);
}

static u64 walk_flat(const u64 *words)
{
	u64 b, sum = 0;

	for (b = flat_next(words, NBITS, 0); b < NBITS;
	     b = flat_next(words, NBITS, b + 1))
		sum += b;
	return sum;
}

/* The same walk through hbitmap_next_set(), as next_dirty_area does. */
static u64 walk_next_set(const struct hbitmap *hb)
{
	u64 b, sum = 0;

	for (b = hbitmap_next_set(hb, 0); b < NBITS;
	     b = hbitmap_next_set(hb, b + 1))
		sum += b;
	return sum;
}

static u64 walk_hbitmap(const struct hbitmap *hb)
{
	struct hbitmap_iter it;
	u64 b, sum = 0;

	hbitmap_iter_init(&it, hb, 0);
	while ((b = hbitmap_iter_next(&it)) < NBITS)
		sum += b;
	return sum;
}

/* Best time of one call, repeated for at least MIN_RUN_NS in total. */
#define BEST_NS(expr) ({						\
	u64 __best = ~0ULL, __total = 0;				\
	int __runs = 0;							\
	while (__total < MIN_RUN_NS || __runs < 3) {			\
		u64 __t = ktime_get_ns();				\
		sink += (expr);						\
		__t = ktime_get_ns() - __t;				\
		__best = min(__best, __t);				\
		__total += __t;						\
		__runs++;						\
	}								\
	__best; })

static void fill(struct hbitmap *hb, u64 *flat, const char *density)
{
	u64 i;

	hbitmap_reset(hb, 0, NBITS);
	memset(flat, 0, NBITS / 8);
	if (!strcmp(density, "100%")) {
		hbitmap_set_all(hb);
		memset(flat, 0xff, NBITS / 8);
		return;
	}
	if (!strcmp(density, "1 bit")) {
		hbitmap_set(hb, NBITS - 1, 1);
		flat[NBITS / 64 - 1] |= 1ULL << 63;
		return;
	}
	for (i = 0; i < NBITS; i++) {
		bool on = !strcmp(density, "1%") ? rnd() % 100 == 0
						 : rnd() % 10000 == 0;
		if (on) {
			hbitmap_set(hb, i, 1);
			flat[i / 64] |= 1ULL << (i % 64);
		}
	}
}

static u64 copier_walk(struct hbitmap *hb, const u64 *flat)
{
	u64 start, len, n = 0, from = 0;

	/* Refill from the flat copy (not timed separately: it's cheap). */
	while (from < NBITS) {
		u64 b = flat_next(flat, NBITS, from);

		if (b >= NBITS)
			break;
		hbitmap_set(hb, b, 1);
		from = b + 1;
	}
	while (hbitmap_next_dirty_area(hb, 0, NBITS, 16, &start, &len)) {
		hbitmap_reset(hb, start, len);
		n++;
	}
	return n;
}

int main(void)
{
	static const char *const densities[] = { "100%", "1%", "0.01%", "1 bit" };
	struct hbitmap *hb = hbitmap_alloc(NBITS, GFP_KERNEL);
	u64 *flat = malloc(NBITS / 8);
	u64 i, t, ops;

	if (!hb || !flat) {
		fprintf(stderr, "bench_core: out of memory\n");
		return 1;
	}
	printf("# hbitmap benchmark, %llu bits (1 TiB at 64 KiB clusters), best of runs\n",
	       NBITS);
	printf("# next-set-bit iteration over the whole map\n");
	printf("# (iter = hbitmap_iter_next, next_set = hbitmap_next_set loop;\n"
	       "#  speedup = flat time / hbitmap time)\n");
	printf("%-7s %9s %10s %10s %8s %8s %10s %8s\n", "density",
	       "set bits", "flat ms", "iter ms", "ns/bit", "speedup",
	       "next_set ms", "speedup");
	for (i = 0; i < ARRAY_SIZE(densities); i++) {
		u64 tf, th, tn, bits;

		fill(hb, flat, densities[i]);
		bits = hbitmap_count(hb);
		if (walk_flat(flat) != walk_hbitmap(hb) ||
		    walk_flat(flat) != walk_next_set(hb)) {
			fprintf(stderr, "bench_core: walks disagree\n");
			return 1;
		}
		tf = BEST_NS(walk_flat(flat));
		th = BEST_NS(walk_hbitmap(hb));
		tn = BEST_NS(walk_next_set(hb));
		printf("%-7s %9llu %10.3f %10.3f %8.2f %7.1fx %10.3f %7.1fx\n",
		       densities[i], bits, tf / 1e6, th / 1e6,
		       (double)th / bits, (double)tf / th, tn / 1e6,
		       (double)tf / tn);
	}

	printf("# set/reset throughput\n");
	hbitmap_reset(hb, 0, NBITS);
	ops = 1 << 22;
	t = BEST_NS(({
		for (u64 k = 0; k < ops; k++)
			hbitmap_set(hb, rnd() % NBITS, 1);
		0; }));
	printf("%-40s %8.2f ns/op\n", "set 1 random bit", (double)t / ops);
	t = BEST_NS(({
		for (u64 k = 0; k < ops; k++)
			hbitmap_reset(hb, rnd() % NBITS, 1);
		0; }));
	printf("%-40s %8.2f ns/op\n", "reset 1 random bit", (double)t / ops);
	ops = 1 << 18;
	t = BEST_NS(({
		for (u64 k = 0; k < ops; k++)
			hbitmap_set(hb, rnd() % NBITS, 128);
		0; }));
	printf("%-40s %8.2f ns/op\n", "set 128-bit random range", (double)t / ops);
	t = BEST_NS(({
		for (u64 k = 0; k < ops; k++)
			hbitmap_reset(hb, rnd() % NBITS, 128);
		0; }));
	printf("%-40s %8.2f ns/op\n", "reset 128-bit random range",
	       (double)t / ops);
	t = BEST_NS(({ hbitmap_set_all(hb); 0; }));
	printf("%-40s %8.3f ms\n", "set_all (2^24 bits)", t / 1e6);
	t = BEST_NS(({ hbitmap_reset(hb, 0, NBITS); 0; }));
	printf("%-40s %8.3f ms\n", "reset whole range (2^24 bits)", t / 1e6);

	printf("# copier walk: next_dirty_area(max 16) + reset until empty\n");
	for (i = 0; i < ARRAY_SIZE(densities); i++) {
		u64 areas;

		fill(hb, flat, densities[i]);
		areas = copier_walk(hb, flat);
		t = BEST_NS(copier_walk(hb, flat));
		printf("%-8s %10llu areas %10.3f ms/pass (refill included)\n",
		       densities[i], areas, t / 1e6);
	}

	printf("# memory per TiB of device\n");
	for (i = 0; i < 2; i++) {
		u64 cluster = i ? 4096 : 65536;
		u64 bits = (1ULL << 40) / cluster;
		struct hbitmap *m = hbitmap_alloc(bits, GFP_KERNEL);

		if (!m) {
			printf("%llu KiB clusters: allocation failed\n",
			       cluster / 1024);
			continue;
		}
		printf("%3llu KiB clusters: %10llu bits %12zu bytes (%.4f x bits/8)\n",
		       cluster / 1024, bits, hbitmap_memory(m),
		       (double)hbitmap_memory(m) / (bits / 8));
		hbitmap_free(m);
	}
	hbitmap_free(hb);
	free(flat);
	return 0;
}
