/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turns scan records into wait sites: resolves each long-parked thread once
 * per park (unwind + symbolize, cached by tid, start time and park sequence)
 * and aggregates threads by site.
 */
#ifndef PW_COLLECT_H
#define PW_COLLECT_H

#include "parkwatch.h"
#include "pw.h"

struct pw_collector;
struct pw_ksyms;
struct pw_tracer;

struct pw_collect_opts {
	double min_age_s;	/* threads parked less than this are counted, not sited */
	const char *comm;	/* only processes with this comm; NULL: all */
	struct pw_ksyms *ksyms; /* kernel symbols (borrowed), NULL: addresses only */
	/* With --futex-events: per-word wait/wake counts come from here (borrowed), else NULL. */
	struct pw_tracer *futex_counts;
	bool quiet; /* no warnings on stderr (top: they would tear the screen) */
	enum pw_go_mode
		goroutines; /* read the goroutines of Go processes that have parked threads */
};

int pw_collector__new(const struct pw_collect_opts *opts, struct pw_collector **out);
/* Start a scan: records of the scan are fed to pw_collector__add(). */
void pw_collector__begin(struct pw_collector *c);
int pw_collector__add(const struct pw_task_rec *rec, const void *stack, void *collector);
/* Aggregate the scan into snap (caller frees with pw_snapshot__free); expires stale caches. */
int pw_collector__finish(struct pw_collector *c, struct pw_snapshot *snap);
/* Per-reason drops seen in userspace since the collector was created. */
const struct pw_drops *pw_collector__drops(const struct pw_collector *c);
/* Number of distinct pids seen in the last scan, and whether pid was one of them. */
bool pw_collector__saw_pid(const struct pw_collector *c, int pid);
void pw_collector__free(struct pw_collector *c);

void pw_snapshot__free(struct pw_snapshot *s);

/* Site identity: stable across scans and runs for the same code (exported for tests). */
uint64_t pw_site_key(int pid, uint64_t proc_start, enum pw_kind kind, const char *wait,
		     const struct pw_frame *frames, int nframes, const char *const *kframes,
		     int nkframes);

#endif /* PW_COLLECT_H */
