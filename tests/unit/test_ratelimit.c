// SPDX-License-Identifier: GPL-2.0
// kernel-sources: kernel/ratelimit.c
/*
 * kernel/ratelimit.c on a simulated clock: a copier submits fixed-size
 * requests as fast as the limiter admits them, sleeping exactly the
 * returned delay (optionally waking late), and every admission is logged.
 */
#include <linux/kernel.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "ratelimit.h"

#define KiB	1024ULL
#define MiB	(1024 * KiB)
#define GiB	(1024 * MiB)
#define SEC	1000000000ULL
#define SLICE	COWBACKUP_RATELIMIT_SLICE_NS

struct admission {
	u64 t;
	u64 bytes;
};

struct sim {
	struct cb_ratelimit rl;
	struct admission *log;
	size_t n, cap;
	u64 now;
	u64 rng;
};

static u64 sim_rnd(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void sim_init(struct sim *s, u64 speed)
{
	s->n = 0;
	s->cap = 1024;
	s->log = malloc(s->cap * sizeof(*s->log));
	s->now = 1000;		/* any origin */
	s->rng = 88172645463325252ULL;
	cb_ratelimit_init(&s->rl, speed, s->now);
}

static void sim_log(struct sim *s, u64 bytes)
{
	if (s->n == s->cap) {
		s->cap *= 2;
		s->log = realloc(s->log, s->cap * sizeof(*s->log));
	}
	s->log[s->n].t = s->now;
	s->log[s->n].bytes = bytes;
	s->n++;
}

/*
 * Submit @req-byte requests until the first admission at or after @until;
 * a refused caller sleeps the delay plus up to @late_ns of wake-up lag.
 */
static void sim_run(struct sim *s, u64 req, u64 until, u64 late_ns)
{
	for (;;) {
		u64 d = cb_ratelimit_delay(&s->rl, req, s->now);

		if (!d) {
			sim_log(s, req);
			if (s->now >= until)
				return;
			continue;
		}
		s->now += d + (late_ns ? sim_rnd(s) % late_ns : 0);
	}
}

/*
 * Long-run rate over [t0, T) where T is the last logged admission (at or
 * after the end of the run): every byte charged before T has had its time.
 */
static double sim_rate(const struct sim *s, u64 t0)
{
	u64 bytes = 0, t_end = s->log[s->n - 1].t;

	for (size_t i = 0; i + 1 < s->n; i++)
		if (s->log[i].t >= t0)
			bytes += s->log[i].bytes;
	return (double)bytes * SEC / (double)(t_end - t0);
}

/* Most bytes admitted in any window [t, t + len) with t >= t0. */
static u64 sim_max_window(const struct sim *s, u64 t0, u64 len)
{
	u64 best = 0, sum = 0;
	size_t i, j = 0;

	for (i = 0; i < s->n; i++) {
		if (s->log[i].t < t0)
			continue;
		if (j < i) {
			j = i;
			sum = 0;
		}
		while (j < s->n && s->log[j].t < s->log[i].t + len)
			sum += s->log[j++].bytes;
		best = max(best, sum);
		sum -= s->log[i].bytes;
	}
	return best;
}

static const u64 speeds[] = { 1 * MiB, 10 * MiB, 100 * MiB, 1 * GiB };
static const u64 requests[] = { 4 * KiB, 64 * KiB, 1 * MiB, 8 * MiB };

static void rate_case(struct __test_metadata *_metadata, u64 late_ns)
{
	for (size_t i = 0; i < ARRAY_SIZE(speeds); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(requests); j++) {
			u64 speed = speeds[i], req = requests[j];
			struct sim s;
			double rate, err;

			if (req == 4 * KiB && speed == 1 * GiB)
				continue;	/* 2.6M requests: slow, adds nothing */
			sim_init(&s, speed);
			sim_run(&s, req, s.now + 10 * SEC, late_ns);
			rate = sim_rate(&s, 1000);
			err = (rate - (double)speed) / (double)speed;
			TH_LOG("speed %llu req %llu late %llu: %.4f%%", speed,
			       req, late_ns, 100 * err);
			ASSERT_LT(err, 0.02);
			ASSERT_GT(err, -0.02);
			free(s.log);
		}
	}
}

TEST(long_run_rate_within_2_percent)
{
	rate_case(_metadata, 0);
}

TEST(long_run_rate_with_late_wakeups)
{
	/* Worker wake-up lag up to 2 ms, much less than a slice. */
	rate_case(_metadata, 2000000);
}

TEST(random_speeds_and_request_sizes)
{
	struct sim s;

	sim_init(&s, 1);
	for (int k = 0; k < 40; k++) {
		u64 speed = 1 * MiB + sim_rnd(&s) % (1 * GiB);
		u64 req = 4 * KiB << (sim_rnd(&s) % 12);	/* 4K..8M */
		u64 late = sim_rnd(&s) % 2 ? sim_rnd(&s) % (5 * 1000000) : 0;
		double rate, err;

		if (speed / req > 20000)
			req *= 64;	/* keep the run short */
		free(s.log);
		sim_init(&s, speed);
		s.rng += k;
		sim_run(&s, req, s.now + 10 * SEC, late);
		rate = sim_rate(&s, 1000);
		err = (rate - (double)speed) / (double)speed;
		if (err >= 0.02 || err <= -0.02)
			TH_LOG("speed %llu req %llu late %llu: %.4f%%", speed,
			       req, late, 100 * err);
		ASSERT_LT(err, 0.02);
		ASSERT_GT(err, -0.02);
	}
	free(s.log);
}

TEST(no_window_exceeds_speed_plus_one_quota)
{
	for (size_t i = 0; i < ARRAY_SIZE(speeds); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(requests); j++) {
			u64 speed = speeds[i], req = requests[j];
			u64 quota = speed / 10, worst;
			struct sim s;

			if (req == 4 * KiB && speed == 1 * GiB)
				continue;
			sim_init(&s, speed);
			sim_run(&s, req, s.now + 10 * SEC, 0);
			worst = sim_max_window(&s, 0, SEC);
			/*
			 * A request larger than a quota is one indivisible
			 * overdraw: the bound is then one request.
			 */
			TH_LOG("speed %llu req %llu: worst 1 s window %llu",
			       speed, req, worst);
			ASSERT_LE(worst, speed + max(quota, req));
			free(s.log);
		}
	}
}

static void speed_change_case(struct __test_metadata *_metadata, u64 from,
			      u64 to, u64 req)
{
	struct sim s;
	u64 change, first, worst, quota = to / 10;
	size_t i;
	double rate, err;

	sim_init(&s, from);
	sim_run(&s, req, s.now + 5 * SEC, 0);
	/* The copier re-asks right after the change (it is kicked). */
	change = s.now + 1234567;
	s.now = change;
	cb_ratelimit_set_speed(&s.rl, to, s.now);
	sim_run(&s, req, change + 10 * SEC, 0);
	/* The first admission under the new speed comes within one slice... */
	for (i = 0; s.log[i].t < change; i++)
		;
	first = s.log[i].t;
	ASSERT_LE(first - change, SLICE);
	/* ...and from there on the new speed rules. */
	rate = sim_rate(&s, first);
	err = (rate - (double)to) / (double)to;
	TH_LOG("%llu -> %llu req %llu: first after %llu ns, then %.4f%%",
	       from, to, req, first - change, 100 * err);
	ASSERT_LT(err, 0.02);
	ASSERT_GT(err, -0.02);
	worst = sim_max_window(&s, first, SEC);
	ASSERT_LE(worst, to + max(quota, req));
	free(s.log);
}

TEST(speed_change_takes_effect_within_one_slice)
{
	speed_change_case(_metadata, 100 * MiB, 10 * MiB, 64 * KiB);
	speed_change_case(_metadata, 10 * MiB, 100 * MiB, 64 * KiB);
	speed_change_case(_metadata, 1 * GiB, 1 * MiB, 64 * KiB);
	speed_change_case(_metadata, 1 * MiB, 1 * GiB, 1 * MiB);
	speed_change_case(_metadata, 100 * MiB, 1 * MiB, 1 * MiB);
	speed_change_case(_metadata, 1 * MiB, 10 * MiB, 8 * MiB);
	speed_change_case(_metadata, 1 * GiB, 1 * MiB, 8 * MiB);
}

/* A big overdraw at the old speed must not stall the new one. */
TEST(speed_change_forgives_old_debt)
{
	struct cb_ratelimit rl;
	u64 t = 0, d;

	cb_ratelimit_init(&rl, 1 * MiB, t);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 64 * MiB, t));
	d = cb_ratelimit_delay(&rl, 64 * KiB, t);
	ASSERT_GE(d, 60 * SEC);		/* 64 MiB at 1 MiB/s */
	t += 10 * 1000 * 1000;
	cb_ratelimit_set_speed(&rl, 1 * GiB, t);
	/* Quota of the new speed not used up: admitted at once. */
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 64 * KiB, t));

	cb_ratelimit_init(&rl, 1 * GiB, 0);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 1 * GiB, 0));
	cb_ratelimit_set_speed(&rl, 1 * MiB, 0);
	/* Slowing down: wait for the end of this slice, no longer. */
	d = cb_ratelimit_delay(&rl, 64 * KiB, 0);
	ASSERT_GT(d, 0);
	ASSERT_LE(d, SLICE);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 64 * KiB, d));
}

TEST(charge_never_delays_but_counts)
{
	struct cb_ratelimit rl;
	u64 t = 0, d, bg = 0;
	struct sim s;
	double rate;

	cb_ratelimit_init(&rl, 10 * MiB, t);
	/* Charging far past the quota is always accepted... */
	cb_ratelimit_charge(&rl, 5 * MiB, t);
	cb_ratelimit_charge(&rl, 5 * MiB, t);
	ASSERT_EQ(10 * MiB, rl.dispatched);
	/* ...and background work pays for it: 10 MiB at 10 MiB/s. */
	d = cb_ratelimit_delay(&rl, 64 * KiB, t);
	ASSERT_EQ(1 * SEC, d);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 64 * KiB, t + d));

	/* Guest writes charging 3 MiB/s leave about 7 MiB/s to the copier. */
	sim_init(&s, 10 * MiB);
	for (u64 next_cow = s.now; s.now < 1000 + 20 * SEC;) {
		while (next_cow <= s.now) {
			cb_ratelimit_charge(&s.rl, 3 * MiB / 100, next_cow);
			next_cow += SEC / 100;
		}
		d = cb_ratelimit_delay(&s.rl, 64 * KiB, s.now);
		if (d) {
			s.now += min(d, next_cow - s.now);
			continue;
		}
		bg += 64 * KiB;
	}
	rate = (double)bg * SEC / (20.0 * SEC);
	TH_LOG("background rate with 3 MiB/s of charges: %.0f", rate);
	ASSERT_LT(rate, 7.0 * MiB * 1.02 + 3 * MiB * 0.01);
	ASSERT_GT(rate, 7.0 * MiB * 0.98 - 3 * MiB * 0.01);
	free(s.log);
}

TEST(speed_zero_is_unlimited)
{
	struct cb_ratelimit rl;

	cb_ratelimit_init(&rl, 0, 0);
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(0, cb_ratelimit_delay(&rl, 1 * GiB, 0));
	cb_ratelimit_charge(&rl, U64_MAX, 0);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, U64_MAX, 0));

	/* Limited with debt, then unlimited: no wait at all. */
	cb_ratelimit_set_speed(&rl, 1 * MiB, 0);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 100 * MiB, 0));
	ASSERT_NE(0, cb_ratelimit_delay(&rl, 1, 0));
	cb_ratelimit_set_speed(&rl, 0, 0);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 1, 0));

	/* And back to limited: a fresh slice, nothing owed. */
	cb_ratelimit_set_speed(&rl, 1 * MiB, 5 * SEC);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 64 * KiB, 5 * SEC));
}

TEST(idle_time_is_not_saved_up)
{
	struct cb_ratelimit rl;
	u64 t = 0, bytes = 0;

	cb_ratelimit_init(&rl, 10 * MiB, t);
	/* An hour of idleness buys one slice's quota, not an hour's. */
	t += 3600 * SEC;
	while (!cb_ratelimit_delay(&rl, 64 * KiB, t))
		bytes += 64 * KiB;
	ASSERT_LE(bytes, rl.slice_quota + 64 * KiB);
	ASSERT_GE(bytes, rl.slice_quota);
}

TEST(extremes_do_not_overflow)
{
	struct cb_ratelimit rl;
	u64 d;

	cb_ratelimit_init(&rl, U64_MAX, 0);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, U64_MAX, 0));
	ASSERT_NE(0, cb_ratelimit_delay(&rl, 1, 0));
	cb_ratelimit_charge(&rl, U64_MAX, 0);
	ASSERT_EQ(U64_MAX, rl.dispatched);

	/* 1 byte/s: quota rounds up to one byte a slice, still progress. */
	cb_ratelimit_init(&rl, 1, 0);
	ASSERT_EQ(1, rl.slice_quota);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 4096, 0));
	d = cb_ratelimit_delay(&rl, 4096, 0);
	ASSERT_EQ(4096 * SLICE, d);

	/* A debt so large that the wake time overflows: capped. */
	cb_ratelimit_init(&rl, 1, 1);
	cb_ratelimit_charge(&rl, U64_MAX, 1);
	d = cb_ratelimit_delay(&rl, 1, 1);
	ASSERT_EQ(U64_MAX - 1, d);
	/* A clock near its end still works. */
	cb_ratelimit_init(&rl, 1 * MiB, U64_MAX - 10 * SEC);
	ASSERT_EQ(0, cb_ratelimit_delay(&rl, 1 * MiB, U64_MAX - 10 * SEC));
	d = cb_ratelimit_delay(&rl, 1, U64_MAX - 10 * SEC);
	ASSERT_EQ(SLICE * 10, d);
}

TEST_HARNESS_MAIN
