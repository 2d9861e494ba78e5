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
	PS_LOWER_BOUND = 1 << 1, /* since is a lower bound (parked before attach) */
	PS_IN_FUTEX = 1 << 2,	 /* between sys_enter and sys_exit of a waiting futex op */
};

struct park_state {
	__u64 since;	   /* pw_clock() at park (or a lower bound) */
	__u64 seq;	   /* the thread's nvcsw at that park: which park this is */
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
 * The hot path's own record of a park, in a plain array indexed by tid & park_slot_mask: the
 * verifier inlines its lookup, where a task-storage get is a helper call that cost the hot path
 * ~50 ns per context switch on these VMs (tests/bench, BPF floor rows). A slot belongs to the
 * thread that claimed it (compare-and-swap from 0 to its tid) until that thread exits; a
 * thread whose slot another live thread holds keeps its parks in park_state instead.
 *
 * key is the tid in the low half and, in the high half, the thread's voluntary context-switch
 * count at the park (the kernel counts it before the tracepoint; 0: no park recorded). One
 * 64-bit word, written after since: the scan takes since only if key still names the thread
 * and its current count, so no slot is ever read for a park it did not record.
 */
struct park_slot {
	__u64 key;
	__u64 since; /* pw_clock() at the park */
};

static __always_inline __u64 park_key(__u32 tid, __u64 nvcsw)
{
	return (__u64)(__u32)nvcsw << 32 | tid;
}

/* Slots in park_slots - 1, and log2 of their number. */
const volatile __u32 park_slot_mask = 0;
const volatile __u32 park_slot_bits = 0;

/*
 * A thread's slot: its tid rotated left by 2 within the table, a bijection that puts threads
 * with consecutive tids (a pool started together) 4 slots, i.e. one cache line, apart. Side by
 * side, two threads on two CPUs would bounce one line on every context switch.
 */
static __always_inline __u32 park_slot_of(__u32 tid)
{
	__u32 t = tid & park_slot_mask;

	if (park_slot_bits < 3)
		return t;
	return ((t << 2) | (t >> (park_slot_bits - 2))) & park_slot_mask;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set by the loader: a power of two, from kernel.pid_max */
	__type(key, __u32);
	__type(value, struct park_slot);
} park_slots SEC(".maps");

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

/*
 * The park clock. The kernel's HZ (CONFIG_HZ, set by the loader from the kernel's config): the
 * clock is jiffies, one load of a global. 0 when the config cannot be read: it is
 * bpf_ktime_get_ns(). A clock read on every park is a fifth of the hot path on these VMs
 * (kvm-clock with an unstable TSC: ~30-45 ns per read, measured against jiffies), so ages
 * recorded by the hot path are exact to one tick (4 ms at HZ=250) instead of to the ns. The
 * verifier sees a read-only constant and keeps one branch.
 */
const volatile __u32 pw_hz = 0;

static __always_inline __u64 pw_clock(void)
{
	return pw_hz ? bpf_jiffies64() : bpf_ktime_get_ns();
}

/* A pw_clock() interval in ns, and an interval in ns in pw_clock() units (rounded down). */
static __always_inline __u64 pw_clock_ns(__u64 d)
{
	return pw_hz ? d * (1000000000ULL / pw_hz) : d;
}

static __always_inline __u64 pw_ns_clock(__u64 ns)
{
	return pw_hz ? ns / (1000000000ULL / pw_hz) : ns;
}

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

#endif /* PW_PARK_STATE_BPF_H */
