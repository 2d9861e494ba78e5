/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A wait site's sample history for `watch` and the live view: a bounded ring
 * of (time, count, oldest age) samples whose memory is fixed at creation, so
 * a run of weeks costs what a run of minutes does.
 *
 * Two levels. The newer half of the capacity keeps samples at full rate; a
 * sample pushed out of it is merged with the next PW_SERIES_MERGE - 1 into one
 * mean sample (mean time, count and oldest age) kept in the older half, and
 * the oldest merged samples are dropped when that is full. One slot of the
 * older half is the merge in progress, shown as the mean of what it holds so
 * the history has no hole. Size the capacity to twice the trend window over
 * the interval and the window stays at full rate (600 for 5 min at 1 s; the
 * older half then reaches back 5 x PW_SERIES_MERGE minutes more).
 *
 * Means, not every k-th sample: the mean of points on a line is on the line,
 * so slopes read the same across the two levels, and a periodic pool cannot
 * alias into a slow fake ramp the way decimation can (10 s sawtooth, kept
 * every 11 s). A minimum would bias old counts low and fake a rising floor.
 *
 * Not thread-safe: one owner per series.
 */
#ifndef PW_SERIES_H
#define PW_SERIES_H

#include "trend.h"

/* Samples per merged sample in the older level. */
#define PW_SERIES_MERGE 8
/* Smallest capacity: one full-rate slot and the merge in progress. */
#define PW_SERIES_MIN_CAPACITY 2
/* Largest capacity accepted (32 MiB of samples); more is a caller bug. */
#define PW_SERIES_MAX_CAPACITY (1 << 20)

struct pw_series;

/* Allocates a series of at most capacity samples. Returns 0, -EINVAL or -ENOMEM. */
int pw_series__new(int capacity, struct pw_series **out);

/* Frees s; NULL is a no-op. */
void pw_series__free(struct pw_series *s);

/*
 * Appends a copy of *smp. Times must not go backwards (equal is fine), all
 * fields must be finite, count and age >= 0; otherwise -EINVAL and s is left
 * as it was. Never allocates. Returns 0 or -EINVAL.
 */
int pw_series__push(struct pw_series *s, const struct pw_sample *smp);

/*
 * Copies the samples with t >= since_t (-INFINITY: all), in time order, into
 * out[0..max); when more qualify, the latest max of them. Returns how many
 * were written, or -EINVAL.
 */
int pw_series__samples(const struct pw_series *s, double since_t, struct pw_sample *out, int max);

/*
 * Copies the counts of the last n samples (fewer if the series holds fewer),
 * oldest first, into out, e.g. for a sparkline. Returns how many, or -EINVAL.
 */
int pw_series__last_counts(const struct pw_series *s, int n, double *out);

/* Time of the latest sample; NAN when s is empty or NULL. */
double pw_series__last_t(const struct pw_series *s);

/* Number of samples held (merged ones count once), <= capacity; 0 for NULL. */
int pw_series__len(const struct pw_series *s);

#endif /* PW_SERIES_H */
