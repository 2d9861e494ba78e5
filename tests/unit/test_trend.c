/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trend math on synthetic series. The series come from a small simulator of
 * parked members (each with its own park time), so count and oldest age are
 * consistent the way a real scan would see them: when a pool drains, its
 * oldest age really resets. Randomness is a seeded splitmix64: every run sees
 * the same series, and a failure names its seed.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "trend.h"

#define WINDOW_S 300.0 /* the --window default */
/* Seeds per shape and sampling; -DNSEEDS=200 for a longer soak. */
#ifndef NSEEDS
#define NSEEDS 8
#endif

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double urand(struct rng *r)
{
	return (rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static int irand(struct rng *r, int lo, int hi)
{
	return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Parked members in park-time order; the first `pinned` never leave. */
struct pop {
	double *park;
	int head, len, cap, pinned;
};

static void pop_add(struct pop *p, double t)
{
	if (p->head + p->len == p->cap) {
		if (p->head > p->cap / 2) {
			memmove(p->park, p->park + p->head, sizeof(double) * p->len);
			p->head = 0;
		} else {
			p->cap = p->cap ? 2 * p->cap : 64;
			p->park = realloc(p->park, sizeof(double) * p->cap);
			assert_non_null(p->park);
		}
	}
	p->park[p->head + p->len++] = t;
}

static void pop_remove_fifo(struct pop *p)
{
	if (p->len > p->pinned) {
		/* The pinned ones sit at the front: the next oldest leaves. */
		double *b = p->park + p->head;

		memmove(b + 1, b, sizeof(double) * p->pinned);
		p->head++;
		p->len--;
	}
}

static void pop_remove_lifo(struct pop *p)
{
	if (p->len > p->pinned)
		p->len--;
}

static void pop_remove_random(struct pop *p, struct rng *r)
{
	if (p->len > p->pinned) {
		int i = p->head + irand(r, p->pinned, p->len - 1);

		memmove(p->park + i, p->park + i + 1, sizeof(double) * (p->head + p->len - i - 1));
		p->len--;
	}
}

static double pop_oldest_age(const struct pop *p, double t)
{
	return p->len ? t - p->park[p->head] : 0;
}

enum comp_kind {
	C_LEAK,	    /* arrivals at `rate` per s in [t0, t1), nobody leaves */
	C_CONST,    /* n idle members parked long before the run */
	C_NOISE,    /* each scan: n +- amp members, random ones leave */
	C_SLEEPERS, /* n threads in sleep(period) loops */
	C_READERS,  /* n threads in read(), each woken at random every ~period */
	C_BURST,    /* 0 -> n (200) over 20 s, drains over 10 s; from t0, every period */
	C_SAWTOOTH, /* 0 -> n over period, then everyone leaves; repeat */
	C_STEP,	    /* n members arrive at once at t0 and stay */
	C_BACKLOG,  /* arrivals at rate, FIFO service at rate2: a queue growing */
};

struct comp {
	enum comp_kind kind;
	double rate, rate2, t0, t1, period;
	int n, amp, pinned;
	bool lifo;
	/* simulation state */
	struct pop pop;
	struct rng rng;
	long k, k2, round;
	double *aux, *aux2;
};

static void comp_init(struct comp *c, uint64_t seed)
{
	int i;

	memset(&c->pop, 0, sizeof(c->pop));
	c->rng.s = seed * 0x2545f4914f6cdd1dULL + (uint64_t)c->kind;
	c->k = c->k2 = c->round = 0;
	c->aux = c->aux2 = NULL;
	switch (c->kind) {
	case C_CONST:
		for (i = 0; i < c->n; i++)
			pop_add(&c->pop, -3600);
		break;
	case C_NOISE:
		for (i = 0; i < c->pinned; i++)
			pop_add(&c->pop, 0);
		c->pop.pinned = c->pinned;
		break;
	case C_SLEEPERS:
	case C_READERS:
		c->aux = calloc(c->n, sizeof(double));
		c->aux2 = calloc(c->n, sizeof(double));
		assert_non_null(c->aux);
		assert_non_null(c->aux2);
		for (i = 0; i < c->n; i++) {
			c->aux[i] = urand(&c->rng) * c->period;		   /* phase, or last park */
			c->aux2[i] = -log(1 - urand(&c->rng)) * c->period; /* next wake */
		}
		if (c->kind == C_READERS)
			for (i = 0; i < c->n; i++)
				c->aux[i] = 0;
		break;
	default:
		break;
	}
}

static void comp_fini(struct comp *c)
{
	free(c->pop.park);
	free(c->aux);
	free(c->aux2);
}

/* Advances c to scan time t (dt since the previous scan); returns count, sets *age. */
static double comp_scan(struct comp *c, double t, double dt, double *age)
{
	const int peak = c->n ? c->n : 200;
	const double rise = 20, drain = 10;
	double next, count, a, oldest = 0;
	int i, target, running = 0;

	switch (c->kind) {
	case C_LEAK:
		for (;;) {
			next = c->t0 + (c->k + 1) / c->rate;
			if (next > t || next >= c->t1)
				break;
			pop_add(&c->pop, next);
			c->k++;
		}
		break;
	case C_BACKLOG:
		for (;;) {
			next = c->t0 + (c->k + 1) / c->rate;
			if (next > t)
				break;
			pop_add(&c->pop, next);
			c->k++;
		}
		for (;;) {
			next = c->t0 + (c->k2 + 1) / c->rate2;
			if (next > t)
				break;
			pop_remove_fifo(&c->pop);
			c->k2++;
		}
		break;
	case C_CONST:
		break;
	case C_NOISE:
		target = c->n + irand(&c->rng, -c->amp, c->amp);
		while (c->pop.len > target && c->pop.len > c->pinned)
			pop_remove_random(&c->pop, &c->rng);
		while (c->pop.len < target)
			pop_add(&c->pop, t - urand(&c->rng) * dt);
		break;
	case C_SLEEPERS:
		/* Each sleeper re-parks every period and is running 2% of the time. */
		for (i = 0; i < c->n; i++) {
			if (urand(&c->rng) < 0.02) {
				running++;
				continue;
			}
			a = fmod(t - c->aux[i] + 100 * c->period, c->period);
			if (a > oldest)
				oldest = a;
		}
		*age = oldest;
		return c->n - running;
	case C_READERS:
		for (i = 0; i < c->n; i++) {
			while (c->aux2[i] <= t) {
				c->aux[i] = c->aux2[i];
				c->aux2[i] += -log(1 - urand(&c->rng)) * c->period;
			}
			if (t - c->aux[i] > oldest)
				oldest = t - c->aux[i];
		}
		*age = oldest;
		return c->n;
	case C_BURST:
		for (;;) {
			double sb = c->t0 + c->round * c->period;

			if (c->k < peak) {
				next = sb + (c->k + 1) * rise / peak;
				if (next > t)
					break;
				pop_add(&c->pop, next);
				c->k++;
			} else if (c->k2 < peak) {
				next = sb + rise + (c->k2 + 1) * drain / peak;
				if (next > t)
					break;
				if (c->lifo)
					pop_remove_lifo(&c->pop);
				else
					pop_remove_fifo(&c->pop);
				c->k2++;
			} else if (isfinite(c->period)) {
				c->round++;
				c->k = c->k2 = 0;
			} else {
				break;
			}
		}
		break;
	case C_SAWTOOTH:
		/* k counts this tooth's arrivals; the n-th tick is everyone leaving. */
		for (;;) {
			next = c->round * c->period + (c->k + 1) * c->period / c->n;
			if (next > t)
				break;
			if (++c->k < c->n) {
				pop_add(&c->pop, next);
			} else {
				c->pop.head = c->pop.len = 0;
				c->round++;
				c->k = 0;
			}
		}
		break;
	case C_STEP:
		if (!c->k && t >= c->t0) {
			for (i = 0; i < c->n; i++)
				pop_add(&c->pop, c->t0);
			c->k = 1;
		}
		break;
	}
	count = c->pop.len;
	*age = pop_oldest_age(&c->pop, t);
	return count;
}

struct sampling {
	double duration, interval, jitter, miss;
};

static const struct sampling EVERY_1S = {600, 1, 0, 0};
/* Scan intervals jitter by +-15% and 5% of scans are skipped. */
static const struct sampling ROUGH_1S = {600, 1, 0.15, 0.05};

struct eval {
	double t;
	struct pw_trend tr;
};

/*
 * Scans comps (summed: count adds up, oldest is the oldest of all) from t = 0
 * for smp->duration and evaluates the trend after every recorded sample, the
 * way `watch` would. Returns the number of evaluations, stored in *evs.
 */
static int simulate(struct comp *comps, int nc, uint64_t seed, const struct sampling *smp,
		    struct eval **evs)
{
	int cap = (int)(smp->duration / (smp->interval * (1 - smp->jitter))) + 2;
	struct pw_sample *s = calloc(cap, sizeof(*s));
	struct eval *ev = calloc(cap, sizeof(*ev));
	struct rng r = {seed};
	double t = 0, prev = 0;
	int i, n = 0;

	assert_non_null(s);
	assert_non_null(ev);
	for (i = 0; i < nc; i++)
		comp_init(&comps[i], seed + 1 + i);
	while (t <= smp->duration && n < cap) {
		double count = 0, oldest = 0, age;

		for (i = 0; i < nc; i++) {
			count += comp_scan(&comps[i], t, t - prev, &age);
			if (age > oldest)
				oldest = age;
		}
		if (n == 0 || urand(&r) >= smp->miss) {
			s[n] = (struct pw_sample){t, count, oldest};
			n++;
			ev[n - 1].t = t;
			assert_int_equal(pw_trend_compute(s, n, WINDOW_S, &ev[n - 1].tr), 0);
		}
		prev = t;
		t += smp->interval * (1 + smp->jitter * (2 * urand(&r) - 1));
	}
	for (i = 0; i < nc; i++)
		comp_fini(&comps[i]);
	free(s);
	*evs = ev;
	return n;
}

/* Time of the first suspect verdict, or -1. */
static double first_flag(const struct eval *ev, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ev[i].tr.leak_suspect)
			return ev[i].t;
	return -1;
}

/* Runs a healthy shape with NSEEDS seeds under both samplings: never a suspect. */
static void assert_never_suspect(const struct comp *proto, int nc, const char *what)
{
	const struct sampling *smps[] = {&EVERY_1S, &ROUGH_1S};
	struct comp comps[2];
	struct eval *ev;
	int seed, j, i, n;

	for (j = 0; j < 2; j++) {
		for (seed = 1; seed <= NSEEDS; seed++) {
			memcpy(comps, proto, sizeof(*proto) * nc);
			n = simulate(comps, nc, seed, smps[j], &ev);
			for (i = 0; i < n; i++)
				if (ev[i].tr.leak_suspect)
					fail_msg("%s (seed %d, sampling %d): suspect at t=%.1f: "
						 "growth "
						 "%.1f/min env %.1f/min coverage %.2f stall %.1f "
						 "age %.1f",
						 what, seed, j, ev[i].t, ev[i].tr.growth_per_min,
						 ev[i].tr.envelope_growth_per_min,
						 ev[i].tr.rise_coverage, ev[i].tr.stall_s,
						 ev[i].tr.oldest_age_s);
			free(ev);
		}
	}
}

/*
 * A leak of `rate` per second from t = 0: flagged by max_flag_s, and from
 * settle_s on flagged at every sample with growth within 15% of the truth.
 */
static void check_leak(double rate, double duration, double max_flag_s, double settle_s)
{
	struct sampling smps[2] = {EVERY_1S, ROUGH_1S};
	double worst_flag = 0, worst_err = 0, worst_err_at_flag = 0;
	int seed, j, i, n;

	for (j = 0; j < 2; j++) {
		smps[j].duration = duration;
		for (seed = 1; seed <= NSEEDS; seed++) {
			struct comp c = {.kind = C_LEAK, .rate = rate, .t0 = 0, .t1 = INFINITY};
			struct eval *ev;
			double tf, err;

			n = simulate(&c, 1, seed, &smps[j], &ev);
			tf = first_flag(ev, n);
			if (tf < 0 || tf > max_flag_s)
				fail_msg("leak %g/s (seed %d, sampling %d): first flagged at %.1f "
					 "s, "
					 "want <= %.0f s",
					 rate, seed, j, tf, max_flag_s);
			if (tf > worst_flag)
				worst_flag = tf;
			for (i = 0; i < n; i++) {
				err = fabs(ev[i].tr.growth_per_min / (60 * rate) - 1);
				if (ev[i].t == tf && err > worst_err_at_flag)
					worst_err_at_flag = err;
				if (ev[i].t < settle_s && ev[i].t != tf)
					continue;
				if (!ev[i].tr.leak_suspect || err > 0.15)
					fail_msg("leak %g/s (seed %d, sampling %d) at t=%.1f: "
						 "suspect "
						 "%d, growth %.2f/min vs %.2f/min",
						 rate, seed, j, ev[i].t, ev[i].tr.leak_suspect,
						 ev[i].tr.growth_per_min, 60 * rate);
				assert_string_equal(ev[i].tr.trend, "rising");
				assert_true(ev[i].tr.age_keeps_pace);
				if (err > worst_err)
					worst_err = err;
			}
			free(ev);
		}
	}
	print_message("leak %6.1f/s: worst time-to-flag %5.1f s, growth error at flag %4.1f%%, "
		      "after %3.0f s %4.1f%%\n",
		      rate, worst_flag, 100 * worst_err_at_flag, settle_s, 100 * worst_err);
}

static void test_leak_10_per_s(void **state)
{
	/* The acceptance bar: flagged within 30 s, growth within 15% from then on. */
	check_leak(10, 180, 30, 30);
}

static void test_leak_100_per_s(void **state)
{
	check_leak(100, 120, 30, 30);
}

static void test_leak_1_per_s(void **state)
{
	check_leak(1, 300, 40, 40);
}

static void test_leak_1_per_10s(void **state)
{
	/* A slow leak: one thread per 10 s, over 5 minutes; flagged within 2-3 min. */
	check_leak(0.1, 300, 150, 180);
}

static void test_leak_on_busy_pool(void **state)
{
	/* The leak shares its site with a busy pool swinging by +-20. */
	struct comp proto[2] = {{.kind = C_LEAK, .rate = 1, .t0 = 0, .t1 = INFINITY},
				{.kind = C_NOISE, .n = 20, .amp = 20}};
	struct comp comps[2];
	struct eval *ev;
	int seed, n;

	for (seed = 1; seed <= NSEEDS; seed++) {
		double tf;

		memcpy(comps, proto, sizeof(proto));
		n = simulate(comps, 2, seed, &ROUGH_1S, &ev);
		tf = first_flag(ev, n);
		if (tf < 0 || tf > 180)
			fail_msg("leak on busy pool (seed %d): first flagged at %.1f s", seed, tf);
		assert_true(ev[n - 1].tr.leak_suspect);
		assert_true(fabs(ev[n - 1].tr.growth_per_min / 60 - 1) <= 0.15);
		free(ev);
	}
}

static void test_leak_starts_mid_run(void **state)
{
	/*
	 * Four minutes of a healthy 8+-3 pool, then a leak: a late minority of the
	 * 5 min window, found through a trailing sub-window as fast as at start.
	 */
	const double rates[] = {10, 1};
	/* Until the leak fills the window, when the slope must be within 15%. */
	const struct sampling smp = {240 + WINDOW_S + 30, 1, 0.15, 0.05};
	int seed, r, i, n;

	for (r = 0; r < 2; r++) {
		double worst = 0;

		for (seed = 1; seed <= NSEEDS; seed++) {
			struct comp comps[2] = {
				{.kind = C_NOISE, .n = 8, .amp = 3},
				{.kind = C_LEAK, .rate = rates[r], .t0 = 240, .t1 = INFINITY}};
			struct eval *ev;
			double tf = -1;

			n = simulate(comps, 2, seed, &smp, &ev);
			for (i = 0; i < n; i++) {
				if (ev[i].t < 240) {
					assert_false(ev[i].tr.leak_suspect);
					continue;
				}
				if (tf < 0 && ev[i].tr.leak_suspect) {
					tf = ev[i].t - 240;
					/*
					 * The evidence is the trailing window's that
					 * flagged. At 1/s on this pool that window
					 * still holds up to half of the flat pool, and
					 * its slope reads up to ~35% low (300 seeds).
					 */
					assert_true(ev[i].tr.span_s < WINDOW_S);
					assert_true(fabs(ev[i].tr.growth_per_min / (60 * rates[r]) -
							 1) <= (rates[r] >= 10 ? 0.15 : 0.4));
					/* Never before the leak could pass for a burst. */
					assert_true(ev[i].t - 240 >= 0.9 * PW_LEAK_MIN_RISE_S);
				}
			}
			if (tf < 0 || tf > (rates[r] >= 10 ? 40 : 60))
				fail_msg("leak %g/s from 240 s (seed %d): flagged %.1f s after "
					 "start",
					 rates[r], seed, tf);
			assert_true(ev[n - 1].tr.leak_suspect);
			assert_true(fabs(ev[n - 1].tr.growth_per_min / (60 * rates[r]) - 1) <=
				    0.15);
			if (tf > worst)
				worst = tf;
			free(ev);
		}
		print_message("leak %g/s after 4 min of a flat pool: flagged %.1f s after start "
			      "at worst\n",
			      rates[r], worst);
	}
}

static void test_flat_constant(void **state)
{
	struct comp c = {.kind = C_CONST, .n = 16};
	struct eval *ev;
	int i, n;

	assert_never_suspect(&c, 1, "constant pool");
	n = simulate(&c, 1, 1, &EVERY_1S, &ev);
	for (i = 0; i < n; i++) {
		assert_string_equal(ev[i].tr.trend, "flat");
		assert_true(ev[i].tr.growth_per_min == 0);
		/* Idle members never leave: the age criterion alone cannot tell. */
		if (i)
			assert_true(ev[i].tr.age_keeps_pace);
	}
	free(ev);
}

static void test_flat_noisy(void **state)
{
	struct comp c = {.kind = C_NOISE, .n = 8, .amp = 3};
	struct eval *ev;
	int i, n, rising = 0;

	assert_never_suspect(&c, 1, "noisy pool 8+-3");
	/* Worst case: one member never leaves, so the age keeps pace throughout. */
	c.pinned = 1;
	assert_never_suspect(&c, 1, "noisy pool 8+-3 with a stuck member");
	n = simulate(&c, 1, 3, &ROUGH_1S, &ev);
	for (i = 0; i < n; i++)
		rising += !strcmp(ev[i].tr.trend, "rising");
	assert_true(ev[n - 1].tr.age_keeps_pace);
	assert_true(rising <= n / 100);
	free(ev);
}

static void test_busy_pool(void **state)
{
	/* Swinging 0..40 at random from one scan to the next. */
	struct comp c = {.kind = C_NOISE, .n = 20, .amp = 20};

	assert_never_suspect(&c, 1, "busy pool 0..40");
	c.pinned = 1;
	c.n = 21;
	assert_never_suspect(&c, 1, "busy pool 1..41 with a stuck member");
}

static void test_sleepers_and_readers(void **state)
{
	struct comp sleepers = {.kind = C_SLEEPERS, .n = 32, .period = 1};
	struct comp readers = {.kind = C_READERS, .n = 16, .period = 5};

	assert_never_suspect(&sleepers, 1, "sleepers");
	assert_never_suspect(&readers, 1, "readers");
}

static void test_burst_drains(void **state)
{
	/* 0 -> 200 over 20 s, back to 0 over 10 s, at t = 30 s. */
	struct comp c = {.kind = C_BURST, .t0 = 30, .period = INFINITY};

	assert_never_suspect(&c, 1, "burst, FIFO drain");
	c.lifo = true;
	assert_never_suspect(&c, 1, "burst, LIFO drain");
	/* A burst at the very first scan: the whole run so far is the burst. */
	c.t0 = 0;
	assert_never_suspect(&c, 1, "burst at start, LIFO drain");
	c.lifo = false;
	c.period = 60;
	assert_never_suspect(&c, 1, "bursts every 60 s");
}

static void test_burst_on_pools(void **state)
{
	/* Bursts at a site that also has a healthy pool: the noise hides where they start. */
	struct comp c[2] = {{.kind = C_BURST, .t0 = 90, .period = 120},
			    {.kind = C_NOISE, .n = 8, .amp = 3}};

	assert_never_suspect(c, 2, "bursts on a noisy pool");
	c[0].n = 30;
	assert_never_suspect(c, 2, "small bursts on a noisy pool");
	c[0].n = 0;
	c[1].n = c[1].amp = 20;
	assert_never_suspect(c, 2, "bursts on a busy pool");
	/* Rises 20 s, then stays: flat afterwards, never a suspect. */
	c[0] = (struct comp){.kind = C_LEAK, .rate = 10, .t0 = 90, .t1 = 110};
	c[1] = (struct comp){.kind = C_NOISE, .n = 8, .amp = 3};
	assert_never_suspect(c, 2, "burst then flat on a noisy pool");
	c[0].rate = 1.5;
	assert_never_suspect(c, 2, "small burst then flat on a noisy pool");
}

static void test_burst_then_flat(void **state)
{
	/*
	 * Rises 0 -> 200 over 20 s and stays there for minutes. Our rule never
	 * flags it: it stops rising before a rise is long enough to be a leak,
	 * and after that the floor stalls.
	 */
	struct comp c = {.kind = C_LEAK, .rate = 10, .t0 = 30, .t1 = 50};

	assert_never_suspect(&c, 1, "burst then flat");
	c.t0 = 0;
	c.t1 = 20;
	assert_never_suspect(&c, 1, "burst at start then flat");
}

static void test_sawtooth(void **state)
{
	/* Rises 0 -> 50 over 10 s, everyone leaves, repeat. */
	struct comp c = {.kind = C_SAWTOOTH, .n = 50, .period = 10};

	assert_never_suspect(&c, 1, "sawtooth");
	/* Teeth of 20 s: still shorter than a rise has to last to be a leak. */
	c.period = 20;
	assert_never_suspect(&c, 1, "slow sawtooth");
}

static void test_single_step(void **state)
{
	/* 0 -> 100 at once, then flat: the floor rises in one interval. */
	struct comp c = {.kind = C_STEP, .n = 100, .t0 = 30};
	struct eval *ev;
	int i, n;

	assert_never_suspect(&c, 1, "step at 30 s");
	c.t0 = 0.5;
	assert_never_suspect(&c, 1, "step after the first scan");
	c.t0 = 30;
	n = simulate(&c, 1, 1, &EVERY_1S, &ev);
	for (i = 0; i < n; i++) {
		if (ev[i].t > 31)
			assert_true(ev[i].tr.rise_coverage < 0.05);
		/* Once the flat part outnumbers the rest, the robust slope is 0. */
		if (ev[i].t > 120)
			assert_true(ev[i].tr.growth_per_min == 0);
	}
	free(ev);
}

static void test_leak_that_stops(void **state)
{
	/* 10/s for 60 s, then nothing new for 10 minutes; the 600 stay parked. */
	struct comp c = {.kind = C_LEAK, .rate = 10, .t0 = 0, .t1 = 60};
	const struct sampling smp = {660, 1, 0.15, 0.05};
	double worst_clear = 0;
	struct eval *ev;
	int seed, i, n;

	for (seed = 1; seed <= NSEEDS; seed++) {
		double last = -1;

		n = simulate(&c, 1, seed, &smp, &ev);
		assert_true(first_flag(ev, n) > 0 && first_flag(ev, n) <= 30);
		for (i = 0; i < n; i++)
			if (ev[i].tr.leak_suspect)
				last = ev[i].t;
		/* Must clear once the window has passed; our stall rule does it sooner. */
		assert_true(last < 60 + WINDOW_S);
		if (last > worst_clear)
			worst_clear = last;
		assert_string_equal(ev[n - 1].tr.trend, "flat");
		assert_true(ev[n - 1].tr.growth_per_min == 0);
		free(ev);
	}
	print_message("leak stopped at 60 s: last suspect at %.1f s at worst\n", worst_clear);
}

static void test_growing_backlog(void **state)
{
	/* Arrivals 10/s, served 5/s oldest first: count climbs but members leave. */
	struct comp c = {.kind = C_BACKLOG, .rate = 10, .rate2 = 5, .t0 = 0};
	struct eval *ev;
	int n;

	assert_never_suspect(&c, 1, "growing FIFO backlog");
	n = simulate(&c, 1, 1, &EVERY_1S, &ev);
	assert_string_equal(ev[n - 1].tr.trend, "rising");
	assert_false(ev[n - 1].tr.age_keeps_pace);
	free(ev);
}

static void test_staircase_needs_old_members(void **state)
{
	/* The same perfect staircase, once with its first member staying, once not. */
	struct pw_sample s[60];
	struct pw_trend tr;
	int i;

	for (i = 0; i < 60; i++)
		s[i] = (struct pw_sample){i, 2 * i, i};
	assert_int_equal(pw_trend_compute(s, 60, WINDOW_S, &tr), 0);
	assert_true(tr.leak_suspect);
	assert_true(tr.age_keeps_pace);
	assert_true(fabs(tr.growth_per_min - 120) < 1e-9);
	assert_true(fabs(tr.envelope_growth_per_min - 120) < 1e-9);
	assert_true(tr.rise_coverage > 0.95);
	assert_int_equal(tr.nsamples, 60);
	assert_true(tr.span_s == 59);
	assert_true(tr.oldest_age_s == 59);
	for (i = 0; i < 60; i++)
		s[i].oldest_age_s = 3;
	assert_int_equal(pw_trend_compute(s, 60, WINDOW_S, &tr), 0);
	assert_false(tr.leak_suspect);
	assert_false(tr.age_keeps_pace);
	assert_string_equal(tr.trend, "rising");
}

static void test_evidence_minimums(void **state)
{
	/* A fast, clean staircase with ages keeping pace, cut short. */
	struct pw_sample s[40];
	struct pw_trend tr;
	int i;

	for (i = 0; i < 40; i++)
		s[i] = (struct pw_sample){i, 10 * i, i};
	/*
	 * The floor is 10% of the way up (24 threads) at t = 2.4, so at t = 24
	 * the rise has lasted (24 - 2.4) / 0.9 = 24 s: too short to be a leak but
	 * long enough to be a rising trend. At t = 26, 26 s.
	 */
	assert_int_equal(pw_trend_compute(s, 25, WINDOW_S, &tr), 0);
	assert_true(fabs(tr.rise_s - 24) < 1e-9);
	assert_false(tr.leak_suspect);
	assert_string_equal(tr.trend, "rising");
	assert_int_equal(pw_trend_compute(s, 27, WINDOW_S, &tr), 0);
	assert_true(fabs(tr.rise_s - 26) < 1e-9);
	assert_true(tr.leak_suspect);
	assert_true(tr.stall_s == 2);
	/* 4 samples over 3 s: no trend at all yet. */
	assert_int_equal(pw_trend_compute(s, 4, WINDOW_S, &tr), 0);
	assert_string_equal(tr.trend, "flat");
	assert_true(fabs(tr.growth_per_min - 600) < 1e-9);
	/* A rise of 2 threads is under the integer-noise floor, however clean. */
	for (i = 0; i < 40; i++)
		s[i] = (struct pw_sample){i, i >= 20 ? (i >= 30 ? 2 : 1) : 0, i};
	assert_int_equal(pw_trend_compute(s, 40, WINDOW_S, &tr), 0);
	assert_string_equal(tr.trend, "flat");
	assert_false(tr.leak_suspect);
	/* A short --window lowers the rise needed (0.9 x window). */
	for (i = 0; i < 40; i++)
		s[i] = (struct pw_sample){i, 10 * i, i};
	assert_int_equal(pw_trend_compute(s, 16, 15, &tr), 0);
	assert_true(tr.leak_suspect);
}

static void test_window_selects_recent(void **state)
{
	/* Rising for 100 s, then flat for 200 s; a 60 s window sees only flat. */
	struct pw_sample s[301];
	struct pw_trend tr;
	int i;

	for (i = 0; i <= 300; i++)
		s[i] = (struct pw_sample){1000 + i, i < 100 ? i : 100, i};
	assert_int_equal(pw_trend_compute(s, 301, 60, &tr), 0);
	assert_int_equal(tr.nsamples, 61);
	assert_true(tr.span_s == 60);
	assert_string_equal(tr.trend, "flat");
	assert_true(tr.growth_per_min == 0);
	assert_false(tr.leak_suspect);
	/* INFINITY is the run so far. */
	assert_int_equal(pw_trend_compute(s, 301, INFINITY, &tr), 0);
	assert_int_equal(tr.nsamples, 301);
	assert_false(tr.leak_suspect);
	/* The window closes on the latest sample: only its first 100 s rose. */
	assert_int_equal(pw_trend_compute(s, 100, 60, &tr), 0);
	assert_int_equal(tr.nsamples, 61);
	assert_true(tr.leak_suspect);
}

static void test_outliers_and_thinning(void **state)
{
	/*
	 * 5000 samples in the window (more than PW_TS_MAX_POINTS are thinned),
	 * a 2/s staircase with 20% wild scans: the robust slope holds.
	 */
	enum { N = 5000 };
	struct pw_sample *s = calloc(N, sizeof(*s));
	struct rng r = {42};
	struct pw_trend tr;
	int i;

	assert_non_null(s);
	for (i = 0; i < N; i++) {
		double t = i * 0.05;

		s[i] = (struct pw_sample){t, floor(2 * t), t};
		if (urand(&r) < 0.2)
			s[i].count += irand(&r, 0, 500);
	}
	assert_int_equal(pw_trend_compute(s, N, WINDOW_S, &tr), 0);
	assert_int_equal(tr.nsamples, N);
	assert_true(fabs(tr.growth_per_min / 120 - 1) < 0.05);
	assert_true(tr.leak_suspect);
	free(s);
}

static void test_falling(void **state)
{
	struct pw_sample s[60];
	struct pw_trend tr;
	int i;

	for (i = 0; i < 60; i++)
		s[i] = (struct pw_sample){i, 300 - 5 * i, 1};
	assert_int_equal(pw_trend_compute(s, 60, WINDOW_S, &tr), 0);
	assert_string_equal(tr.trend, "falling");
	assert_true(fabs(tr.growth_per_min + 300) < 1e-9);
	assert_false(tr.leak_suspect);
	/* The floor fell; the suffix minima never rose. */
	assert_true(tr.envelope_rise < 0);
	assert_true(tr.rise_coverage == 0);
}

static void test_empty_and_one(void **state)
{
	struct pw_sample one = {5, 42, 3};
	struct pw_trend tr;

	memset(&tr, 0xff, sizeof(tr));
	assert_int_equal(pw_trend_compute(NULL, 0, WINDOW_S, &tr), 0);
	assert_string_equal(tr.trend, "flat");
	assert_int_equal(tr.nsamples, 0);
	assert_true(tr.growth_per_min == 0);
	assert_false(tr.leak_suspect);
	memset(&tr, 0xff, sizeof(tr));
	assert_int_equal(pw_trend_compute(&one, 1, WINDOW_S, &tr), 0);
	assert_string_equal(tr.trend, "flat");
	assert_int_equal(tr.nsamples, 1);
	assert_true(tr.span_s == 0);
	assert_true(tr.growth_per_min == 0);
	assert_true(tr.oldest_age_s == 3);
	assert_false(tr.leak_suspect);
}

static void test_equal_times(void **state)
{
	/* Two scans stamped alike carry no slope between them; no division by 0. */
	struct pw_sample s[3] = {{1, 5, 0}, {1, 9, 0}, {1, 7, 0}};
	struct pw_sample st[80];
	struct pw_trend tr;
	int i;

	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), 0);
	assert_true(tr.growth_per_min == 0);
	assert_string_equal(tr.trend, "flat");
	assert_false(tr.leak_suspect);
	/* A staircase where every scan is recorded twice: the same verdict. */
	for (i = 0; i < 80; i++)
		st[i] = (struct pw_sample){i / 2, 5 * (i / 2), i / 2};
	assert_int_equal(pw_trend_compute(st, 80, WINDOW_S, &tr), 0);
	assert_true(isfinite(tr.growth_per_min) && fabs(tr.growth_per_min - 300) < 1e-9);
	assert_true(tr.age_keeps_pace);
	assert_true(tr.leak_suspect);
}

static void test_bad_args(void **state)
{
	struct pw_sample s[3] = {{0, 1, 0}, {1, 2, 1}, {2, 3, 2}};
	struct pw_trend tr;

	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, NULL), -EINVAL);
	assert_int_equal(pw_trend_compute(NULL, 3, WINDOW_S, &tr), -EINVAL);
	assert_int_equal(pw_trend_compute(s, -1, WINDOW_S, &tr), -EINVAL);
	assert_int_equal(pw_trend_compute(s, 3, 0, &tr), -EINVAL);
	assert_int_equal(pw_trend_compute(s, 3, -5, &tr), -EINVAL);
	assert_int_equal(pw_trend_compute(s, 3, NAN, &tr), -EINVAL);
	s[1].t = 3; /* out of order */
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), -EINVAL);
	s[1].t = NAN;
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), -EINVAL);
	s[1].t = 1;
	s[1].count = INFINITY;
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), -EINVAL);
	s[1].count = -1;
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), -EINVAL);
	s[1].count = 2;
	s[1].oldest_age_s = NAN;
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), -EINVAL);
	s[1].oldest_age_s = 1;
	assert_int_equal(pw_trend_compute(s, 3, WINDOW_S, &tr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leak_10_per_s),
		cmocka_unit_test(test_leak_100_per_s),
		cmocka_unit_test(test_leak_1_per_s),
		cmocka_unit_test(test_leak_1_per_10s),
		cmocka_unit_test(test_leak_on_busy_pool),
		cmocka_unit_test(test_leak_starts_mid_run),
		cmocka_unit_test(test_flat_constant),
		cmocka_unit_test(test_flat_noisy),
		cmocka_unit_test(test_busy_pool),
		cmocka_unit_test(test_sleepers_and_readers),
		cmocka_unit_test(test_burst_drains),
		cmocka_unit_test(test_burst_on_pools),
		cmocka_unit_test(test_burst_then_flat),
		cmocka_unit_test(test_sawtooth),
		cmocka_unit_test(test_single_step),
		cmocka_unit_test(test_leak_that_stops),
		cmocka_unit_test(test_growing_backlog),
		cmocka_unit_test(test_staircase_needs_old_members),
		cmocka_unit_test(test_evidence_minimums),
		cmocka_unit_test(test_window_selects_recent),
		cmocka_unit_test(test_outliers_and_thinning),
		cmocka_unit_test(test_falling),
		cmocka_unit_test(test_empty_and_one),
		cmocka_unit_test(test_equal_times),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
