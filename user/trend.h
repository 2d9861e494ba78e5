/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trend math for one wait site: growth per minute, rising/flat/falling, and
 * the leak-suspect verdict that tells a staircase (the parked count keeps
 * rising and the first ones never leave) from a busy pool, a burst that
 * drains or a one-off step. Pure functions of a sample series: no state, no
 * I/O, no clock.
 *
 * growth_per_min is the Theil-Sen slope (median of pairwise slopes) of the
 * count over the window: robust to ~29% wild scans, and it uses the real
 * sample times, so skipped scans and jittered intervals cost nothing.
 *
 * The verdict; all must hold, every threshold is a named constant below:
 *
 *   rising    trend is "rising": slope x span >= PW_TREND_MIN_DELTA threads and
 *             >= PW_TREND_SIGMAS standard errors of the residual noise
 *   floor     the lower envelope rose: the least count of the window's last
 *             third minus that of its first (envelope_rise) is
 *             >= PW_LEAK_MIN_RISE and >= PW_LEAK_FLOOR_SIGMAS x noise, and
 *             its slope is >= PW_LEAK_ENV_SLOPE_FRAC x growth
 *   long      the floor has been rising for rise_s >= PW_LEAK_MIN_RISE_S
 *   spread    rise_coverage >= PW_LEAK_MIN_COVERAGE of the window
 *   ongoing   the median count of the last stretch of the rise is above that
 *             of the stretch before by about what the slope predicts
 *   pace      nobody left: the oldest age is >= PW_AGE_PACE_FRAC x the time
 *             the floor has been rising, and from scan to scan (median over
 *             the rise) it grew at >= PW_AGE_PACE_FRAC of the clock's pace
 *
 * When the whole window is not a suspect, trailing windows of 1/2, 1/4, ... of
 * its span (down to PW_LEAK_MIN_RISE_S) are tried with the same rule, so a
 * leak that began late in a long window is flagged about as fast as one at
 * the start of a run. The fields then describe the window that flagged it
 * (nsamples and span_s say which): those are the numbers that convinced us.
 *
 * Consequences, by design:
 * - A rise shorter than PW_LEAK_MIN_RISE_S (a burst) is never a suspect. A
 *   longer one with nobody leaving is, while it lasts, and clears a few
 *   seconds after it stops ("ongoing"): a leak that stopped, or a burst that
 *   levelled off and stays flat.
 * - A pool that drains resets its oldest age; a busy pool's floor stays in
 *   the band it swings in; a growing backlog served oldest-first has an
 *   oldest age that grows slower than the clock.
 * - A single step (0 -> 100 at once, then flat) is never a suspect: its floor
 *   rises within one interval, so rise_coverage is ~0 and it is not ongoing;
 *   once the flat part is most of the window its growth is 0 too.
 * - Noise buys time, not false alarms: the noisier the site relative to its
 *   slope, the longer the rise it takes ("ongoing" below).
 */
#ifndef PW_TREND_H
#define PW_TREND_H

#include <stdbool.h>

/* Fewer samples than this, or a shorter span, is "flat": no evidence yet. */
#define PW_TREND_MIN_SAMPLES 5
#define PW_TREND_MIN_SPAN_S 10.0
/* Counts are integers: a change under 3 threads over the window is noise. */
#define PW_TREND_MIN_DELTA 3.0
/*
 * Rising/falling also needs the change over the window to stand this many
 * standard errors above the residual scatter (1.4826 x MAD around the fitted
 * line), so a busy pool's random swings do not read as a trend.
 */
#define PW_TREND_SIGMAS 4.0
/*
 * Theil-Sen over m points costs m(m-1)/2 slopes: windows with more samples
 * are thinned to this many points spread evenly in time (8128 pairs).
 */
#define PW_TS_MAX_POINTS 128

/*
 * A rise must have lasted this long before it can be a leak: longer than the
 * bursts a healthy service absorbs (the acceptance bursts rise for 20 s),
 * shorter than the 30 s within which a 10/s leak must be flagged. This and
 * PW_TREND_MIN_SPAN_S shrink to PW_LEAK_MIN_SPAN_FRAC of a shorter --window.
 */
#define PW_LEAK_MIN_RISE_S 25.0
#define PW_LEAK_MIN_SPAN_FRAC 0.9
/* The floor must gain at least this many threads (integer noise is +-1)... */
#define PW_LEAK_MIN_RISE 3.0
/*
 * ... and clear the band the count swings in: a busy pool 0..40 has its floor
 * near 0 and ~12 threads of noise, so it would need a whole third of the
 * window above ~36, while a leak on top of it gets there. 2 sigma was not
 * enough: 26 scans of a 1..41 pool can fit a line so well that the MAD reads 7
 * instead of 12 (found by the unit test run with 150 seeds).
 */
#define PW_LEAK_FLOOR_SIGMAS 3.0
/* A staircase's floor climbs as fast as its median; a busy pool's does not. */
#define PW_LEAK_ENV_SLOPE_FRAC 0.5
/* The floor's rise must be spread over most of the window, not one jump. */
#define PW_LEAK_MIN_COVERAGE 0.6
/*
 * Where the floor rose, on the suffix minima (the least count from each sample
 * on, which can only rise). The rise starts when the floor is PW_ENV_LO_Q of
 * the way up from the window's least count, and ends when it is PW_ENV_HI_Q of
 * the way up to the latest; rise_s is the time since the start / (1 -
 * PW_ENV_LO_Q), rise_coverage the time between the two over (PW_ENV_HI_Q -
 * PW_ENV_LO_Q) x span. Both levels stay PW_ENV_BAND_SIGMAS x the scan-to-scan
 * noise inside: the least count sits ~2 sigma under the mean and the latest
 * up to ~2 sigma over it, so on a plateau the floor of the last few scans
 * creeps up by ~4 sigma with the noise alone.
 */
#define PW_ENV_LO_Q 0.1
#define PW_ENV_HI_Q 0.9
#define PW_ENV_BAND_SIGMAS 4.0
/* Scan-to-scan noise caps each difference at this many MADs (wild scans). */
#define PW_NOISE_CLIP 5.0
/*
 * "Ongoing": the median count of the last h seconds is at least
 * PW_LEAK_RECENT_GAIN of what the slope predicts above the median of the h
 * before, with h = PW_LEAK_RECENT_FRAC x rise_s, widened to
 * PW_LEAK_RECENT_STEPS expected arrivals (2 / slope: a 1 per 10 s leak is flat
 * for 10 s between steps) and to a gain of PW_LEAK_RECENT_SIGMAS x the
 * scan-to-scan noise. A widened h needs a longer rise, rise_s - 2h >=
 * (1 - 2 x PW_LEAK_RECENT_FRAC) x PW_LEAK_MIN_RISE_S (20 s, scaled like it
 * for a short --window), so that both stretches lie past a 20 s burst's rise
 * and see only its flat top. A leak that stops clears within ~1.5 h.
 */
#define PW_LEAK_RECENT_FRAC 0.1
#define PW_LEAK_RECENT_STEPS 2.0
#define PW_LEAK_RECENT_SIGMAS 4.0
#define PW_LEAK_RECENT_GAIN 0.5
/*
 * Members do not leave. A backlog still served oldest-first grows its oldest
 * age at only 1 - service/arrival of the clock's pace, however old it is.
 */
#define PW_AGE_PACE_FRAC 0.8

struct pw_sample {
	double t; /* seconds, monotonic */
	double count;
	double oldest_age_s;
};

struct pw_trend {
	int nsamples;			/* samples used (inside the window) */
	double span_s;			/* time covered by them */
	double growth_per_min;		/* Theil-Sen slope of count, per minute */
	double envelope_growth_per_min; /* slope between the floors of the first and last thirds */
	double rise_coverage;		/* fraction of the window the floor's rise spans, 0..1 */
	double oldest_age_s;		/* latest sample's oldest age */
	bool age_keeps_pace;		/* oldest age keeps pace with the rise: nobody left */
	const char *trend;		/* "rising" | "flat" | "falling" (static strings) */
	bool leak_suspect;
	/* More evidence, for users who want to judge for themselves. */
	double envelope_rise; /* least count of the last third minus that of the first */
	double stall_s;	      /* time since the floor last reached PW_ENV_HI_Q of its rise */
	double noise;	      /* robust residual scatter (threads, 1 sigma) */
	double rise_s;	      /* how long the floor has been rising */
};

/*
 * Computes the trend of s[0..n) over its last window_s seconds (the samples
 * with t >= s[n-1].t - window_s; INFINITY means the run so far). Samples must
 * be in time order (equal times allowed), with finite t, and finite counts
 * and ages >= 0. Returns 0, -EINVAL (bad arguments or samples) or -ENOMEM.
 * Empty and one-sample series give trend "flat", growth 0, no suspect.
 */
int pw_trend_compute(const struct pw_sample *s, int n, double window_s, struct pw_trend *out);

#endif /* PW_TREND_H */
