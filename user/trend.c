/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Growth, trend and leak-suspect verdicts over a site's sample window; the
 * rule and its thresholds are described in trend.h.
 *
 * Why these estimators: a parked count is an integer that a busy pool swings
 * by tens from one scan to the next, scans get skipped and their intervals
 * jitter. Theil-Sen (median of pairwise slopes) shrugs off up to ~29% wild
 * points and uses the real sample times, so gaps and jitter cost nothing. The
 * lower envelope is the least count over a stretch of time: a leak's floor
 * only rises because its members never leave, while a pool that ever comes
 * back down pulls the floor down with it.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "trend.h"

static const char TREND_RISING[] = "rising";
static const char TREND_FLAT[] = "flat";
static const char TREND_FALLING[] = "falling";

/* 1.4826 x MAD estimates sigma for Gaussian noise. */
#define MAD_TO_SIGMA 1.4826

static int check_samples(const struct pw_sample *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!isfinite(s[i].t) || !isfinite(s[i].count) || !isfinite(s[i].oldest_age_s))
			return -EINVAL;
		if (s[i].count < 0 || s[i].oldest_age_s < 0)
			return -EINVAL;
		if (i && s[i].t < s[i - 1].t)
			return -EINVAL;
	}
	return 0;
}

/*
 * k-th smallest of a[0..n), reordering a. Three-way partitioning keeps the
 * all-equal case (a flat pool: every pairwise slope is 0) linear.
 */
static double select_kth(double *a, int n, int k)
{
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi], pivot, tmp;
		int lt = lo, i = lo, gt = hi;

		/* Median of three: sorted or reversed windows stay O(n). */
		pivot = (x < y) ? ((y < z) ? y : (x < z ? z : x)) : ((x < z) ? x : (y < z ? z : y));
		while (i <= gt) {
			if (a[i] < pivot) {
				tmp = a[lt], a[lt] = a[i], a[i] = tmp;
				lt++, i++;
			} else if (a[i] > pivot) {
				tmp = a[gt], a[gt] = a[i], a[i] = tmp;
				gt--;
			} else {
				i++;
			}
		}
		if (k < lt)
			hi = lt - 1;
		else if (k > gt)
			lo = gt + 1;
		else
			return pivot;
	}
	return a[k];
}

/* Median of a[0..n), n > 0, reordering a. */
static double median(double *a, int n)
{
	double hi = select_kth(a, n, n / 2), lo;
	int i;

	if (n & 1)
		return hi;
	/* select_kth left everything below index n/2 at or under a[n/2]. */
	lo = a[0];
	for (i = 1; i < n / 2; i++)
		if (a[i] > lo)
			lo = a[i];
	return (lo + hi) / 2;
}

/* Median of the pairwise slopes of (x, y)[0..m); pairs at equal x carry no slope. */
static double theil_sen(const double *x, const double *y, int m, double *buf)
{
	int i, j, np = 0;

	for (i = 0; i < m; i++)
		for (j = i + 1; j < m; j++)
			if (x[j] > x[i])
				buf[np++] = (y[j] - y[i]) / (x[j] - x[i]);
	return np ? median(buf, np) : 0;
}

/* Robust scatter of y around the line of slope b through the median intercept. */
static double residual_sigma(const double *x, const double *y, int m, double b, double *buf)
{
	double a;
	int i;

	for (i = 0; i < m; i++)
		buf[i] = y[i] - b * x[i];
	a = median(buf, m);
	for (i = 0; i < m; i++)
		buf[i] = fabs(y[i] - b * x[i] - a);
	return MAD_TO_SIGMA * median(buf, m);
}

/*
 * Scatter of one count from the next, as sigma of iid noise: mean |d - median
 * d| over successive differences d, / 1.128 (E|d| of a difference of two
 * Gaussian draws is 1.128 sigma). Unlike the residuals around one line, it
 * does not grow when a window holds a flat stretch and then a rise. Not the
 * MAD alone: on integer counts most differences are within +-2, and the MAD of
 * 30 of them read 1.0 for a pool whose sigma is 2. Each |d - median| is capped
 * at PW_NOISE_CLIP MADs (at least one thread) so that a few wild scans, which
 * spoil two differences each, cannot pass for noise.
 */
static double diff_sigma(const double *y, int m, double *buf)
{
	double d, clip, sum = 0;
	int i;

	if (m < 3)
		return 0;
	for (i = 1; i < m; i++)
		buf[i - 1] = y[i] - y[i - 1];
	d = median(buf, m - 1);
	for (i = 1; i < m; i++)
		buf[i - 1] = fabs(y[i] - y[i - 1] - d);
	clip = fmax(PW_NOISE_CLIP * MAD_TO_SIGMA * median(buf, m - 1), 1);
	for (i = 1; i < m; i++)
		sum += fmin(fabs(y[i] - y[i - 1] - d), clip);
	return sum / (m - 1) / 1.128;
}

/*
 * Picks m of the samples lo..hi (m <= hi - lo + 1) spread evenly in time, in
 * order, always both ends: a downsampled past must not outvote the dense recent
 * samples just because it has fewer of them per second, nor the reverse.
 */
static void thin(const struct pw_sample *s, int lo, int hi, int m, int *idx)
{
	double t0 = s[lo].t, span = s[hi].t - s[lo].t;
	int k, next = lo;

	for (k = 0; k < m; k++) {
		double target = m > 1 ? t0 + span * k / (m - 1) : t0;
		int j = next, maxj = hi - (m - 1 - k);

		while (j < maxj && s[j].t < target)
			j++;
		idx[k] = j;
		next = j + 1;
	}
}

/* Index of the earliest least count among samples lo..hi with t in [t0, t1]. */
static int floor_between(const struct pw_sample *s, int lo, int hi, double t0, double t1)
{
	int i, m = -1;

	for (i = lo; i <= hi && s[i].t <= t1; i++)
		if (s[i].t >= t0 && (m < 0 || s[i].count < s[m].count))
			m = i;
	return m;
}

/*
 * Did the count keep rising to the end? The median of the last h seconds
 * against that of the h before must gain PW_LEAK_RECENT_GAIN of what slope b
 * predicts. Medians of whole stretches, not the floor's last step: on a
 * plateau the floor of the last few scans creeps up with the noise alone.
 * h = PW_LEAK_RECENT_FRAC x rise_s, widened to PW_LEAK_RECENT_STEPS arrivals
 * (a 1 per 10 s leak is flat 10 s between steps) and to a gain of
 * PW_LEAK_RECENT_SIGMAS x noise, so that noise cannot pass for a rise. Both
 * stretches must come after the first min_rise_s x (1 - 2 x
 * PW_LEAK_RECENT_FRAC) of the rise: a burst that rose that long and stopped
 * then has only its flat top in them, however wide h is.
 */
static bool still_rising(const double *x, const double *y, int m, double b, double rise_s,
			 double min_rise_s, double noise, double *buf)
{
	double h = PW_LEAK_RECENT_FRAC * rise_s, end = x[m - 1], recent, before, dt;
	int i, r0, b0;

	if (b <= 0)
		return false;
	h = fmax(h, fmax(PW_LEAK_RECENT_STEPS / b, PW_LEAK_RECENT_SIGMAS * noise / b));
	if (rise_s - 2 * h < (1 - 2 * PW_LEAK_RECENT_FRAC) * min_rise_s || x[0] > end - 2 * h)
		return false;
	for (r0 = m - 1; r0 > 0 && x[r0 - 1] > end - h; r0--)
		;
	for (b0 = r0; b0 > 0 && x[b0 - 1] > end - 2 * h; b0--)
		;
	/* Skipped scans can empty the earlier stretch: take the scan just before. */
	if (b0 == r0 && (!r0 || x[--b0] <= end - 3 * h))
		return false;
	/* Time between the stretches' middles: what the slope predicts between them. */
	dt = (x[r0 + (m - 1 - r0) / 2] + x[r0 + (m - r0) / 2]) / 2 -
	     (x[b0 + (r0 - 1 - b0) / 2] + x[b0 + (r0 - b0) / 2]) / 2;
	for (i = b0; i < m; i++)
		buf[i - b0] = y[i];
	before = median(buf, r0 - b0);
	recent = median(buf + (r0 - b0), m - r0);
	return recent - before >= PW_LEAK_RECENT_GAIN * b * dt;
}

/* What one window needs besides its samples; the thresholds follow --window. */
struct limits {
	double trend_span; /* shortest span with a trend */
	double rise_s;	   /* shortest rise that can be a leak */
};

/*
 * Trend of the samples lo..hi (hi > lo, t[hi] > t[lo]) into *out. With quick,
 * gives up as soon as a cheap test rules a leak out (the rest of *out is then
 * incomplete): trailing sub-windows only matter when they flag. buf holds
 * PW_TS_MAX_POINTS * (PW_TS_MAX_POINTS + 1) / 2 doubles.
 */
static void analyze(const struct pw_sample *s, int lo, int hi, const struct limits *lim, bool quick,
		    double *buf, struct pw_trend *out)
{
	double x[PW_TS_MAX_POINTS], y[PW_TS_MAX_POINTS];
	int idx[PW_TS_MAX_POINTS];
	double t_first = s[lo].t, t_last = s[hi].t, span = t_last - t_first;
	double b, eb, gmin, up, sd, band, rise, se, thr_lo, thr_hi, e, e_lo = 0;
	int nw = hi - lo + 1, m, i, k, np, i_lo, i_hi, i_ref, f1, f3;

	memset(out, 0, sizeof(*out));
	out->trend = TREND_FLAT;
	out->nsamples = nw;
	out->span_s = span;
	out->oldest_age_s = s[hi].oldest_age_s;

	m = nw < PW_TS_MAX_POINTS ? nw : PW_TS_MAX_POINTS;
	thin(s, lo, hi, m, idx);
	for (k = 0; k < m; k++) {
		x[k] = s[idx[k]].t - t_first;
		y[k] = s[idx[k]].count;
	}

	/*
	 * The floor, as the least count of the window's first and last thirds: a
	 * staircase's least is where each third starts. A whole third has to stay
	 * above the old floor, so one high scan cannot fake a rise (the last
	 * sample alone is its own suffix minimum). The two least counts are at
	 * least span/3 apart, so their slope is well defined.
	 */
	f1 = floor_between(s, lo, hi, t_first, t_first + span / 3);
	f3 = floor_between(s, lo, hi, t_last - span / 3, t_last);
	out->envelope_rise = s[f3].count - s[f1].count;
	eb = out->envelope_rise / (s[f3].t - s[f1].t);
	out->envelope_growth_per_min = 60 * eb;

	/*
	 * When did the floor rise? Suffix minima e_i = min(count_i..count_hi) are
	 * non-decreasing; one backward pass finds the first index from which every
	 * count stays above a level. The rise starts where the floor leaves the
	 * bottom (PW_ENV_LO_Q of the way up) and ends where it reaches the top
	 * (PW_ENV_HI_Q), both at least a noise band inside: a noisy pool ahead of
	 * a leak sits on its least count at random times, and on a plateau the
	 * floor of the last few scans creeps up with the noise alone.
	 */
	sd = diff_sigma(y, m, buf);
	band = PW_ENV_BAND_SIGMAS * sd;
	gmin = s[lo].count;
	for (i = lo + 1; i <= hi; i++)
		if (s[i].count < gmin)
			gmin = s[i].count;
	up = s[hi].count - gmin;
	thr_lo = gmin + fmax(PW_ENV_LO_Q * up, band);
	thr_hi = s[hi].count - fmax((1 - PW_ENV_HI_Q) * up, band);
	i_lo = i_hi = hi;
	e = INFINITY;
	for (i = hi; i >= lo; i--) {
		if (s[i].count < e)
			e = s[i].count;
		if (e >= thr_lo) {
			i_lo = i;
			e_lo = e;
		}
		if (e >= thr_hi)
			i_hi = i;
	}
	if (up > 0 && thr_hi >= thr_lo) {
		double t_lo = s[i_lo].t, c;

		/*
		 * The floor crossed thr_lo between the scan before i_lo (whose count
		 * is its floor, under thr_lo) and i_lo: interpolate, or a skipped
		 * scan there would make every leak look a scan younger.
		 */
		if (i_lo > lo)
			t_lo = s[i_lo - 1].t + (thr_lo - s[i_lo - 1].count) /
						       (e_lo - s[i_lo - 1].count) *
						       (s[i_lo].t - s[i_lo - 1].t);
		c = (s[i_hi].t - t_lo) / ((PW_ENV_HI_Q - PW_ENV_LO_Q) * span);
		out->rise_coverage = c > 1 ? 1 : c;
		out->stall_s = t_last - s[i_hi].t;
		/* A steady rise spends 1 - PW_ENV_LO_Q of its time above that point. */
		out->rise_s = (t_last - t_lo) / (1 - PW_ENV_LO_Q);
		i_ref = i_lo;
	} else {
		/* No rise, or none that stands out of the noise. */
		out->stall_s = span;
		i_ref = lo;
	}
	/*
	 * Nobody left since the rise began: someone parked about then is still
	 * parked, and from one scan to the next the oldest age typically grew as
	 * fast as the clock (median over the rise). The level alone passes a FIFO
	 * backlog older than the window, whose oldest ages at 1 - service/arrival
	 * of the clock at every step. Comparing two instants instead fails a leak
	 * at a site shared with a healthy pool: the pool's oldest member, there
	 * when the rise began, leaves on time, and the oldest age drops once.
	 */
	for (k = 0, np = 0; k + 1 < m; k++) {
		const struct pw_sample *p = &s[idx[k]], *q = &s[idx[k + 1]];

		if (p->t >= s[i_ref].t && q->t > p->t)
			buf[np++] = (q->oldest_age_s - p->oldest_age_s) / (q->t - p->t);
	}
	out->age_keeps_pace = s[hi].oldest_age_s >= PW_AGE_PACE_FRAC * (t_last - s[i_ref].t) &&
			      (!np || median(buf, np) >= PW_AGE_PACE_FRAC);

	if (quick && (nw < PW_TREND_MIN_SAMPLES || out->rise_s < lim->rise_s ||
		      out->envelope_rise < PW_LEAK_MIN_RISE ||
		      out->rise_coverage < PW_LEAK_MIN_COVERAGE || !out->age_keeps_pace))
		return;

	b = theil_sen(x, y, m, buf);
	out->growth_per_min = 60 * b;
	out->noise = m > 2 ? residual_sigma(x, y, m, b, buf) : 0;

	/* Standard error of slope x span for m points spread evenly over the span. */
	se = out->noise * sqrt(12.0 / m);
	rise = b * span;
	if (nw < PW_TREND_MIN_SAMPLES || span < lim->trend_span)
		return;
	if (fabs(rise) >= PW_TREND_MIN_DELTA && fabs(rise) >= PW_TREND_SIGMAS * se)
		out->trend = rise > 0 ? TREND_RISING : TREND_FALLING;
	if (out->trend != TREND_RISING)
		return;

	out->leak_suspect = out->rise_s >= lim->rise_s && out->envelope_rise >= PW_LEAK_MIN_RISE &&
			    out->envelope_rise >= PW_LEAK_FLOOR_SIGMAS * out->noise &&
			    eb >= PW_LEAK_ENV_SLOPE_FRAC * b &&
			    out->rise_coverage >= PW_LEAK_MIN_COVERAGE && out->age_keeps_pace &&
			    still_rising(x, y, m, b, out->rise_s, lim->rise_s, sd, buf);
}

/* First index of s[0..hi] with t >= s[hi].t - w. */
static int window_start(const struct pw_sample *s, int hi, double w)
{
	int lo;

	for (lo = hi; lo > 0 && s[lo - 1].t >= s[hi].t - w; lo--)
		;
	return lo;
}

int pw_trend_compute(const struct pw_sample *s, int n, double window_s, struct pw_trend *out)
{
	struct limits lim;
	struct pw_trend sub;
	double span, w, *buf;
	int lo, hi;

	if (!out || n < 0 || (n > 0 && !s) || isnan(window_s) || window_s <= 0)
		return -EINVAL;
	if (check_samples(s, n))
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->trend = TREND_FLAT;
	if (n == 0)
		return 0;
	hi = n - 1;
	lo = window_start(s, hi, window_s);
	span = s[hi].t - s[lo].t;
	out->nsamples = hi - lo + 1;
	out->span_s = span;
	out->oldest_age_s = s[hi].oldest_age_s;
	if (lo == hi || span <= 0)
		return 0;

	buf = malloc(sizeof(*buf) * PW_TS_MAX_POINTS * (PW_TS_MAX_POINTS + 1) / 2);
	if (!buf)
		return -ENOMEM;
	lim.trend_span = fmin(PW_TREND_MIN_SPAN_S, PW_LEAK_MIN_SPAN_FRAC * window_s);
	lim.rise_s = fmin(PW_LEAK_MIN_RISE_S, PW_LEAK_MIN_SPAN_FRAC * window_s);
	analyze(s, lo, hi, &lim, false, buf, out);

	/*
	 * A leak that began late in the window is a minority of it: the robust
	 * slope, the thirds and the coverage all outvote it until it fills most of
	 * the window. Trailing windows of 1/2, 1/4, ... of it, as long as they can
	 * hold a rise of lim.rise_s, find it as fast as at the start of a run.
	 */
	for (w = span / 2; !out->leak_suspect && w >= lim.rise_s; w /= 2) {
		lo = window_start(s, hi, w);
		if (lo == hi || s[hi].t - s[lo].t <= 0)
			break;
		analyze(s, lo, hi, &lim, true, buf, &sub);
		if (sub.leak_suspect)
			*out = sub;
	}
	free(buf);
	return 0;
}
