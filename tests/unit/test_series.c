/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "series.h"

static struct pw_series *new_series(int capacity)
{
	struct pw_series *s = NULL;

	assert_int_equal(pw_series__new(capacity, &s), 0);
	assert_non_null(s);
	return s;
}

/* A staircase: count and oldest age both grow linearly with t. */
static struct pw_sample line(double t)
{
	return (struct pw_sample){t, 3 * t + 7, t};
}

static void assert_time_ordered(const struct pw_sample *v, int n)
{
	int i;

	for (i = 1; i < n; i++)
		if (!(v[i].t > v[i - 1].t))
			fail_msg("sample %d (t=%f) not after sample %d (t=%f)", i, v[i].t, i - 1,
				 v[i - 1].t);
}

static void test_new_bad_args(void **state)
{
	struct pw_series *s = (void *)1;

	assert_int_equal(pw_series__new(16, NULL), -EINVAL);
	assert_int_equal(pw_series__new(0, &s), -EINVAL);
	assert_int_equal(pw_series__new(1, &s), -EINVAL);
	assert_int_equal(pw_series__new(-5, &s), -EINVAL);
	assert_int_equal(pw_series__new(PW_SERIES_MAX_CAPACITY + 1, &s), -EINVAL);
	/* Untouched on failure. */
	assert_ptr_equal(s, (void *)1);
	pw_series__free(NULL);
}

static void test_empty(void **state)
{
	struct pw_series *s = new_series(8);
	struct pw_sample out[4];
	double c[4];

	assert_int_equal(pw_series__len(s), 0);
	assert_true(isnan(pw_series__last_t(s)));
	assert_true(isnan(pw_series__last_t(NULL)));
	assert_int_equal(pw_series__len(NULL), 0);
	assert_int_equal(pw_series__samples(s, -INFINITY, out, 4), 0);
	assert_int_equal(pw_series__last_counts(s, 4, c), 0);
	pw_series__free(s);
}

static void test_push_and_read_back(void **state)
{
	struct pw_series *s = new_series(16);
	struct pw_sample out[16];
	double c[16];
	int i;

	for (i = 0; i < 5; i++) {
		struct pw_sample x = line(i);

		assert_int_equal(pw_series__push(s, &x), 0);
	}
	assert_int_equal(pw_series__len(s), 5);
	assert_true(pw_series__last_t(s) == 4);
	assert_int_equal(pw_series__samples(s, -INFINITY, out, 16), 5);
	for (i = 0; i < 5; i++)
		assert_true(out[i].t == i && out[i].count == 3 * i + 7 && out[i].oldest_age_s == i);
	/* since_t is inclusive. */
	assert_int_equal(pw_series__samples(s, 2, out, 16), 3);
	assert_true(out[0].t == 2 && out[2].t == 4);
	assert_int_equal(pw_series__samples(s, 4.5, out, 16), 0);
	/* Too many qualify: the latest max, still in time order. */
	assert_int_equal(pw_series__samples(s, -INFINITY, out, 2), 2);
	assert_true(out[0].t == 3 && out[1].t == 4);
	assert_int_equal(pw_series__samples(s, -INFINITY, NULL, 0), 0);
	/* Sparkline: the last n counts, oldest first. */
	assert_int_equal(pw_series__last_counts(s, 3, c), 3);
	assert_true(c[0] == 13 && c[1] == 16 && c[2] == 19);
	assert_int_equal(pw_series__last_counts(s, 16, c), 5);
	assert_true(c[0] == 7);
	assert_int_equal(pw_series__last_counts(s, 0, NULL), 0);
	pw_series__free(s);
}

static void test_bad_push_leaves_series_alone(void **state)
{
	struct pw_series *s = new_series(8);
	struct pw_sample x = line(10), out[8];
	double c[2];

	assert_int_equal(pw_series__push(s, &x), 0);
	x.t = 9; /* backwards */
	assert_int_equal(pw_series__push(s, &x), -EINVAL);
	x.t = NAN;
	assert_int_equal(pw_series__push(s, &x), -EINVAL);
	x = line(11);
	x.count = -1;
	assert_int_equal(pw_series__push(s, &x), -EINVAL);
	x.count = INFINITY;
	assert_int_equal(pw_series__push(s, &x), -EINVAL);
	x = line(11);
	x.oldest_age_s = -0.5;
	assert_int_equal(pw_series__push(s, &x), -EINVAL);
	assert_int_equal(pw_series__push(s, NULL), -EINVAL);
	assert_int_equal(pw_series__push(NULL, &x), -EINVAL);
	assert_int_equal(pw_series__len(s), 1);
	assert_true(pw_series__last_t(s) == 10);
	/* Two scans stamped alike are fine. */
	x = line(10);
	assert_int_equal(pw_series__push(s, &x), 0);
	assert_int_equal(pw_series__len(s), 2);
	assert_int_equal(pw_series__samples(NULL, 0, out, 8), -EINVAL);
	assert_int_equal(pw_series__samples(s, NAN, out, 8), -EINVAL);
	assert_int_equal(pw_series__samples(s, 0, out, -1), -EINVAL);
	assert_int_equal(pw_series__samples(s, 0, NULL, 8), -EINVAL);
	assert_int_equal(pw_series__last_counts(s, -1, NULL), -EINVAL);
	assert_int_equal(pw_series__last_counts(s, 2, NULL), -EINVAL);
	assert_int_equal(pw_series__last_counts(NULL, 2, c), -EINVAL);
	pw_series__free(s);
}

static void test_merge_keeps_lines_straight(void **state)
{
	/*
	 * Capacity 20: 10 full-rate samples, the merge in progress, 9 merged.
	 * Means of points on a line stay on it, one per PW_SERIES_MERGE.
	 */
	enum { CAP = 20, N = 1000 };
	struct pw_series *s = new_series(CAP);
	struct pw_sample out[CAP];
	int i, n;

	for (i = 0; i < N; i++) {
		struct pw_sample x = line(i);

		assert_int_equal(pw_series__push(s, &x), 0);
		assert_true(pw_series__len(s) <= CAP);
	}
	n = pw_series__samples(s, -INFINITY, out, CAP);
	assert_int_equal(n, pw_series__len(s));
	assert_time_ordered(out, n);
	for (i = 0; i < n; i++) {
		assert_true(fabs(out[i].count - (3 * out[i].t + 7)) < 1e-9);
		assert_true(fabs(out[i].oldest_age_s - out[i].t) < 1e-9);
	}
	/* The newest 10 are the raw samples. */
	for (i = 0; i < 10; i++)
		assert_true(out[n - 1 - i].t == N - 1 - i);
	/* The 9 merged ones are PW_SERIES_MERGE apart. */
	for (i = 1; i < 9; i++)
		assert_true(fabs(out[i].t - out[i - 1].t - PW_SERIES_MERGE) < 1e-9);
	assert_int_equal(n, 9 + ((N - 10) % PW_SERIES_MERGE != 0) + 10);
	pw_series__free(s);
}

static void test_merge_in_progress_is_visible(void **state)
{
	/* Capacity 4: 2 full-rate, the merge in progress, 1 merged. */
	struct pw_series *s = new_series(4);
	struct pw_sample out[4];
	int i;

	for (i = 0; i < 5; i++) {
		struct pw_sample x = {i, 10 * i, 0};

		assert_int_equal(pw_series__push(s, &x), 0);
	}
	/* t=0,1,2 pushed out of the 2 full-rate slots: merged so far, mean t=1. */
	assert_int_equal(pw_series__samples(s, -INFINITY, out, 4), 3);
	assert_true(out[0].t == 1 && out[0].count == 10);
	assert_true(out[1].t == 3 && out[2].t == 4);
	pw_series__free(s);
}

static void test_smallest_capacity(void **state)
{
	/* Capacity 2: one full-rate slot and the merge in progress; no room for more. */
	struct pw_series *s = new_series(PW_SERIES_MIN_CAPACITY);
	struct pw_sample out[2];
	int i;

	for (i = 0; i < 100; i++) {
		struct pw_sample x = line(i);

		assert_int_equal(pw_series__push(s, &x), 0);
		assert_true(pw_series__len(s) <= 2);
	}
	assert_int_equal(pw_series__samples(s, -INFINITY, out, 2), 2);
	assert_time_ordered(out, 2);
	assert_true(out[1].t == 99);
	pw_series__free(s);
}

static void test_million_pushes_bounded(void **state)
{
	/*
	 * 11.5 days of 1 s scans into the default-sized series: the heap does not
	 * grow, the length never passes the capacity, time stays ordered, and
	 * the history reaches back as far as the layout promises.
	 */
	enum { CAP = 600, N = 1000000 };
	struct pw_series *s = new_series(CAP);
	struct pw_sample *out = calloc(CAP, sizeof(*out));
	size_t heap_before, heap_after;
	double t = 0, oldest_expected, mean;
	unsigned int r = 1;
	int i, n;

	assert_non_null(out);
	heap_before = mallinfo2().uordblks;
	for (i = 0; i < N; i++) {
		/* Jittered intervals (deterministic LCG): 0.85..1.15 s. */
		struct pw_sample x;

		r = r * 1103515245u + 12345u;
		t += 0.85 + 0.3 * ((r >> 16) & 0x7fff) / 32768.0;
		x = (struct pw_sample){t, (double)(i % 50), (double)(i % 50)};
		assert_int_equal(pw_series__push(s, &x), 0);
		if (pw_series__len(s) > CAP)
			fail_msg("len %d > %d after %d pushes", pw_series__len(s), CAP, i + 1);
	}
	heap_after = mallinfo2().uordblks;
	assert_true(heap_after == heap_before);
	n = pw_series__samples(s, -INFINITY, out, CAP);
	assert_int_equal(n, pw_series__len(s));
	assert_true(n <= CAP && n >= CAP - 1);
	assert_time_ordered(out, n);
	assert_true(out[n - 1].t == t);
	/* 300 raw + up to 8 merging + 299 merged of 8: ~2700 scans back, ~1.0 s each. */
	oldest_expected = t - (300 + 299 * PW_SERIES_MERGE + PW_SERIES_MERGE);
	assert_true(out[0].t > oldest_expected - 0.2 * (t - oldest_expected));
	assert_true(out[0].t < t - 300 - 298 * PW_SERIES_MERGE * 0.85);
	/*
	 * The merged level of a 0..49 sawtooth: full means of 8 lie in
	 * [3.5, 45.5] and average 24.5. (N - 300) % 8 = 4: the merge in
	 * progress, just before the 300 raw ones, holds 4.
	 */
	assert_int_equal(n, 299 + 1 + 300);
	for (i = 0, mean = 0; i < 299; i++) {
		assert_true(out[i].count >= 3.5 && out[i].count <= 45.5);
		mean += out[i].count / 299;
	}
	assert_true(fabs(mean - 24.5) < 1.5);
	free(out);
	pw_series__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad_args),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_push_and_read_back),
		cmocka_unit_test(test_bad_push_leaves_series_alone),
		cmocka_unit_test(test_merge_keeps_lines_straight),
		cmocka_unit_test(test_merge_in_progress_is_visible),
		cmocka_unit_test(test_smallest_capacity),
		cmocka_unit_test(test_million_pushes_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
