/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) of a snapshot, for node_exporter's
 * textfile collector: the metrics contract of DESIGN.md §3.
 *
 * Series: one per (pid, comm, site, wait, kind); sites of one process that
 * share those labels (the same first program frame reached through different
 * call paths) are summed, since two series with equal labels are invalid. Per
 * process and kind, the max_sites series with the most parked threads are kept
 * and the rest are summed into one site="other", wait="other" series, emitted
 * only when something was cut. Families come in a fixed order, series sorted
 * by labels (pid numerically), so that diffs of the file are readable; the
 * last line is always parkwatch_last_scan_timestamp_seconds.
 *
 * Label values are hostile outside data (comm, symbol names): backslash,
 * double quote and newline are escaped, other control bytes and invalid UTF-8
 * become U+FFFD, so the file always parses.
 */
#ifndef PW_PROM_H
#define PW_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "pw.h"

#define PW_PROM_FILE "parkwatch.prom"
#define PW_PROM_DEFAULT_MAX_SITES 20

struct pw_prom_opts {
	int max_sites;	     /* series per process and kind before site="other" */
	const char *version; /* parkwatch_build_info{version} */
	/* Cumulative counters since the exporter started; NULL: snap->drops. */
	const struct pw_drops *drops;
	double scan_duration_s; /* < 0: not exported */
	double interval_s;	/* parkwatch_scan_interval_seconds; <= 0: not exported */
};

/*
 * Writes the whole exposition of snap to f. Growth and leak-suspect series
 * exist only for sites with has_trend (none in a one-shot run: no history).
 * Returns 0, -ENOMEM, or -errno when writing to f failed.
 */
int pw_prom_write(FILE *f, const struct pw_snapshot *snap, const struct pw_prom_opts *o);

/* Writes the first n bytes of s (fewer at a NUL) as an escaped label value, no quotes. */
void pw_prom_escape(FILE *f, const char *s, size_t n);

#endif /* PW_PROM_H */
