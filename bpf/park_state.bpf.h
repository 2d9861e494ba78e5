/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-thread park state, shared by park.bpf.c (hot path, writer) and
 * scan.bpf.c (cold path, reader). It never crosses to userspace, so it lives
 * here rather than in include/. Kept in task storage: freed with the task,
 * no stale entries, no fixed thread limit (DESIGN.md §5).
 */
#ifndef PW_PARK_STATE_BPF_H
#define PW_PARK_STATE_BPF_H

#include "parkwatch.h"

enum ps_flags {
	PS_PARKED = 1 << 0,	 /* off-CPU in a sleeping state */
	PS_LOWER_BOUND = 1 << 1, /* since_ns is a lower bound (parked before attach) */
	PS_IN_FUTEX = 1 << 2,	 /* between sys_enter and sys_exit of a waiting futex op */
};

struct park_state {
	__u64 since_ns;	   /* bpf_ktime_get_ns() at park (or a lower bound) */
	__u64 seq;	   /* park sequence number of this thread */
	__u64 dumped_seq;  /* seq whose stacks the scan already emitted, +1 */
	__u64 futex_uaddr; /* valid with PS_IN_FUTEX */
	__u32 futex_op;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct park_state);
} park_state SEC(".maps");

/*
 * Per-CPU counters: the hot path never bounces a shared cache line, and
 * lookups into per-CPU arrays are inlined by the verifier on recent kernels.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

#endif /* PW_PARK_STATE_BPF_H */
