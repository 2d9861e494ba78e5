/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF side of parkwatch: load, attach, scan, counters. */
#ifndef PW_TRACER_H
#define PW_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "parkwatch.h"

struct pw_tracer;

struct pw_tracer_opts {
	bool futex_events; /* attach the futex syscall tracepoints */
	/*
	 * Attach the hot path (sched_switch, exit). A one-shot snapshot scans right after
	 * set-up: a park starting in that window is all the hot path could add, while attaching
	 * and detaching it patches kernel text (function-call IPIs on every CPU, ~12 per
	 * snapshot on the target's) and adds its cost to every context switch meanwhile. Off,
	 * every age comes from the scheduler's own stamps and is a lower bound.
	 */
	bool park_events;
	double min_age_s;  /* stacks only for threads parked at least this long */
	const pid_t *pids; /* NULL: every process on the host */
	int npids;
	unsigned futex_words;	 /* max entries of the per-word futex map */
	double purge_interval_s; /* pw_tracer__purge_words_due(); 0: PW_PURGE_INTERVAL_S */
	bool verbose;		 /* libbpf's own messages */
};

/* Called once per parked thread; stack is NULL unless PW_F_HAS_USTACK. */
typedef int (*pw_rec_fn)(const struct pw_task_rec *rec, const void *stack, void *ctx);

/* Longest record of the stream: the fixed part and a whole user stack copy. */
#define PW_REC_MAX (sizeof(struct pw_task_rec) + PW_USTACK_MAX)

int pw_tracer__new(const struct pw_tracer_opts *opts, struct pw_tracer **out);
/*
 * One pass of the task iterator. Each record is handed to fn as soon as it is read, with its
 * stack copy (valid during the call only); memory stays bounded whatever the number of
 * threads. Returns the records handed over, or the first error of read() or fn. Records the
 * iterator wrote that could not be read back (a malformed or truncated stream) are counted
 * in stats[PW_STAT_DROP_SEQ].
 */
int pw_tracer__scan(struct pw_tracer *t, pw_rec_fn fn, void *ctx);
/*
 * Sums of the per-CPU counters, indexed by enum pw_stat; PW_STAT_DROP_SEQ also counts the
 * records lost between the iterator and the parser (see pw_tracer__scan).
 */
int pw_tracer__stats(struct pw_tracer *t, __u64 stats[PW_STAT_MAX]);
/*
 * Waits and wakes seen on one futex word (futex events only); -ENOENT if none. The word is
 * the process's: proc_start_time (pw_task_rec.proc_start_time, ns) tells it from an earlier
 * process that had the same pid and word address.
 */
int pw_tracer__futex_word(struct pw_tracer *t, __u32 tgid, __u64 proc_start_time, __u64 uaddr,
			  struct pw_futex_val *v);
/*
 * Forget the futex words of processes that no longer exist: their futex_words entries, and
 * the per-CPU slot indexes whose every CPU's slot a dead process holds. Returns the entries
 * and indexes removed, or -errno.
 */
int pw_tracer__purge_words(struct pw_tracer *t);
/*
 * Every CPU's copy of one per-CPU futex slot, into per_cpu[libbpf_num_possible_cpus()];
 * exported for tests. 0 or -errno.
 */
int pw_tracer__futex_slot(struct pw_tracer *t, __u32 idx, struct pw_futex_slot *per_cpu);
/* Long-running commands: the purge, with futex events only, at most once per interval. */
#define PW_PURGE_INTERVAL_S 60
/*
 * pw_tracer__purge_words() when futex events are on and an interval has passed since the
 * tracer was made or last purged, else 0.
 */
int pw_tracer__purge_words_due(struct pw_tracer *t);
void pw_tracer__free(struct pw_tracer *t);

struct bpf_insn;
/*
 * Writes the hot path's load-time constants over their placeholders (PW_IMM_* in
 * parkwatch.h) in n instructions: every `mov reg, PW_IMM_x` becomes `mov reg, vals[x -
 * PW_IMM_BASE]`. Returns the instructions patched, or -EINVAL for a placeholder it has no value
 * for or a value that does not fit an immediate (the program would run with a wrong
 * constant). Exported for tests.
 */
int pw_patch_imms(struct bpf_insn *insns, size_t n, const __u32 vals[PW_IMM_COUNT]);

/* Parse one buffer of iterator output; exported for tests. Returns records or -EINVAL. */
int pw_parse_records(const void *buf, size_t len, pw_rec_fn fn, void *ctx);
/*
 * Read a record stream from fd through buf (cap >= PW_REC_MAX bytes, reused: nothing else is
 * allocated) and hand each complete record to fn as it arrives; exported for tests. Returns
 * the records handed over, or -errno of read(), or the first error of fn. On bytes that
 * cannot be a record, or a stream ending inside one, *malformed is set and the rest of the
 * stream is read and discarded (so the iterator finishes its pass).
 */
int pw_read_records(int fd, void *buf, size_t cap, pw_rec_fn fn, void *ctx, bool *malformed);

#endif /* PW_TRACER_H */
