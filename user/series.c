/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Bounded two-level sample ring per wait site; the layout is described in series.h. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include "series.h"

struct ring {
	struct pw_sample *buf;
	int cap, head, len; /* head: index of the oldest */
};

struct pw_series {
	struct ring recent; /* full rate */
	struct ring old;    /* merged, PW_SERIES_MERGE samples each */
	/* The merge in progress: sums of what was pushed out of recent. */
	double acc_t, acc_count, acc_age;
	int acc_n;
	struct pw_sample slots[]; /* recent.cap then old.cap */
};

static struct pw_sample *ring_at(const struct ring *r, int i)
{
	return &r->buf[(r->head + i) % r->cap];
}

/* Appends smp; a full ring overwrites its oldest. A zero-capacity ring drops it. */
static void ring_push(struct ring *r, const struct pw_sample *smp)
{
	if (!r->cap)
		return;
	if (r->len == r->cap) {
		r->head = (r->head + 1) % r->cap;
		r->len--;
	}
	*ring_at(r, r->len++) = *smp;
}

int pw_series__new(int capacity, struct pw_series **out)
{
	struct pw_series *s;
	int nold;

	if (!out || capacity < PW_SERIES_MIN_CAPACITY || capacity > PW_SERIES_MAX_CAPACITY)
		return -EINVAL;
	s = calloc(1, sizeof(*s) + sizeof(s->slots[0]) * (size_t)capacity);
	if (!s)
		return -ENOMEM;
	/* The older half, one slot of which is the merge in progress. */
	nold = capacity / 2;
	s->recent.cap = capacity - nold;
	s->recent.buf = s->slots;
	s->old.cap = nold - 1;
	s->old.buf = s->slots + s->recent.cap;
	*out = s;
	return 0;
}

void pw_series__free(struct pw_series *s)
{
	free(s);
}

int pw_series__len(const struct pw_series *s)
{
	return s ? s->old.len + (s->acc_n > 0) + s->recent.len : 0;
}

/* The i-th oldest sample, 0 <= i < pw_series__len(s). */
static struct pw_sample get(const struct pw_series *s, int i)
{
	if (i < s->old.len)
		return *ring_at(&s->old, i);
	i -= s->old.len;
	if (s->acc_n) {
		if (!i)
			return (struct pw_sample){s->acc_t / s->acc_n, s->acc_count / s->acc_n,
						  s->acc_age / s->acc_n};
		i--;
	}
	return *ring_at(&s->recent, i);
}

double pw_series__last_t(const struct pw_series *s)
{
	int n = pw_series__len(s);

	return n ? get(s, n - 1).t : NAN;
}

int pw_series__push(struct pw_series *s, const struct pw_sample *smp)
{
	double last;

	if (!s || !smp || !isfinite(smp->t) || !isfinite(smp->count) ||
	    !isfinite(smp->oldest_age_s) || smp->count < 0 || smp->oldest_age_s < 0)
		return -EINVAL;
	last = pw_series__last_t(s);
	if (smp->t < last) /* false while empty: last is NAN */
		return -EINVAL;

	if (s->recent.len == s->recent.cap) {
		const struct pw_sample *gone = ring_at(&s->recent, 0);

		s->acc_t += gone->t;
		s->acc_count += gone->count;
		s->acc_age += gone->oldest_age_s;
		if (++s->acc_n == PW_SERIES_MERGE) {
			struct pw_sample m = {s->acc_t / s->acc_n, s->acc_count / s->acc_n,
					      s->acc_age / s->acc_n};

			ring_push(&s->old, &m);
			s->acc_t = s->acc_count = s->acc_age = 0;
			s->acc_n = 0;
		}
	}
	ring_push(&s->recent, smp);
	return 0;
}

int pw_series__samples(const struct pw_series *s, double since_t, struct pw_sample *out, int max)
{
	int n, first, i;

	if (!s || isnan(since_t) || max < 0 || (max && !out))
		return -EINVAL;
	n = pw_series__len(s);
	/* Time-ordered: walk back from the newest while samples qualify. */
	for (first = n; first > 0 && n - first < max && get(s, first - 1).t >= since_t; first--)
		;
	for (i = first; i < n; i++)
		out[i - first] = get(s, i);
	return n - first;
}

int pw_series__last_counts(const struct pw_series *s, int n, double *out)
{
	int len, first, i;

	if (!s || n < 0 || (n && !out))
		return -EINVAL;
	len = pw_series__len(s);
	first = len > n ? len - n : 0;
	for (i = first; i < len; i++)
		out[i - first] = get(s, i).count;
	return len - first;
}
