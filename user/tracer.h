/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF side of parkwatch: load, attach, scan, counters. */
#ifndef PW_TRACER_H
#define PW_TRACER_H

#include <stdbool.h>
#include <sys/types.h>
#include "parkwatch.h"

struct pw_tracer;

struct pw_tracer_opts {
	bool futex_events; /* attach the futex syscall tracepoints */
	double min_age_s;  /* stacks only for threads parked at least this long */
	const pid_t *pids; /* NULL: every process on the host */
	int npids;
	unsigned futex_words; /* max entries of the per-word futex map */
	bool verbose;	      /* libbpf's own messages */
};

/* Called once per parked thread; stack is NULL unless PW_F_HAS_USTACK. */
typedef int (*pw_rec_fn)(const struct pw_task_rec *rec, const void *stack, void *ctx);

int pw_tracer__new(const struct pw_tracer_opts *opts, struct pw_tracer **out);
int pw_tracer__scan(struct pw_tracer *t, pw_rec_fn fn, void *ctx);
/* Sums of the per-CPU counters, indexed by enum pw_stat. */
int pw_tracer__stats(struct pw_tracer *t, __u64 stats[PW_STAT_MAX]);
/* Waits and wakes seen on one futex word (futex events only); -ENOENT if none. */
int pw_tracer__futex_word(struct pw_tracer *t, __u32 tgid, __u64 uaddr, struct pw_futex_val *v);
void pw_tracer__free(struct pw_tracer *t);

/* Parse one buffer of iterator output; exported for tests. Returns records or -EINVAL. */
int pw_parse_records(const void *buf, size_t len, pw_rec_fn fn, void *ctx);

#endif /* PW_TRACER_H */
