/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Park state shared by park.bpf.c (hot path) and scan.bpf.c (cold path). It
 * never crosses to userspace, so it lives here rather than in include/. Two
 * records: the hot path's park slots (below: one store per park), and task
 * storage for what the scan keeps per thread (the stacks it already emitted,
 * the bound it gave a park from before attach) and futex_waitv's word: freed
 * with the task, no stale entries, no fixed thread limit (DESIGN.md §5).
 */
#ifndef PW_PARK_STATE_BPF_H
#define PW_PARK_STATE_BPF_H

#include "parkwatch.h"

enum ps_flags {
	PS_IN_FUTEX = 1 << 2, /* between sys_enter and sys_exit of a waiting futex op */
};

struct park_state {
	__u64 since;	   /* pw_slot_clock(): a lower bound of a park from before attach */
	__u64 seq;	   /* that park's identity (pw_scan: switch counts); 0: none */
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

/*
 * Load-time constants. The scan (cold path) reads them from .rodata. The hot path cannot
 * afford to: a load from the .rodata map's page cost pw_sched_switch ~19 ns per context switch
 * on these VMs (floor rows slot and slot_rodata of make bench: the page is cold by the next
 * switch), a fifth of its run time. There each is an immediate: pw_imm() moves a placeholder
 * into a register, and the loader writes the value over the placeholder in the program's
 * instructions before load (pw_patch_imms in user/tracer.c), so the verifier and the JIT see
 * a constant and drop the branches it decides. pw_imm() must only be used in programs and
 * __always_inline functions: the loader patches programs, not __noinline subprograms.
 */
#ifdef PW_HOT_PATH
static __always_inline __u32 pw_imm_(const int placeholder)
{
	__u32 v;

	asm volatile("%0 = %1" : "=r"(v) : "i"(placeholder));
	return v;
}
#define pw_imm(name) pw_imm_(PW_IMM_##name)
#define PW_HZ() pw_imm(HZ)
#define PW_PARK_SLOT_MASK() pw_imm(PARK_SLOT_MASK)
#define PW_PARK_SLOT_BITS() pw_imm(PARK_SLOT_BITS)
#else
/* Slots in park_slots - 1, and log2 of their number (below). */
const volatile __u32 park_slot_mask = 0;
const volatile __u32 park_slot_bits = 0;
/* The park clock's HZ (pw_slot_clock below). */
const volatile __u32 pw_hz = 0;
#define PW_HZ() pw_hz
#define PW_PARK_SLOT_MASK() park_slot_mask
#define PW_PARK_SLOT_BITS() park_slot_bits
#endif

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/*
 * The hot path's record of a park: one 64-bit word per slot of a plain array indexed by tid:
 * the tid in the low PARK_SLOT_TID_BITS bits, the park clock (pw_slot_clock()) above it. The
 * verifier inlines the lookup, and the record is one store: no helper call, no lock, no atomic
 * (task storage, a helper call, cost the hot path ~50 ns per context switch on these VMs: the
 * BPF floor rows of make bench). One word cannot tear: a scan reads a whole park or none.
 *
 * A slot is the last writer's. The scan takes it only for the thread it names, and a thread
 * always overwrites its slot when it parks, so a slot naming a thread that is parked now
 * describes that very park; when the thread is preempted while its state still says asleep,
 * it writes its tid with clock 0 (no record): that park is over, and a scan that finds the
 * thread before it runs sees a park whose start it does not know (a lower bound). Slots
 * cover every tid below kernel.pid_max up to PW_PARK_SLOTS_MAX; above that, two live threads
 * can share one, and the one whose record was overwritten gets a lower bound, never the
 * other's age. 0: never written.
 */
#define PARK_SLOT_TID_BITS 22 /* PID_MAX_LIMIT is 4M: every tid fits */
#define PARK_SLOT_TID_MASK ((1ULL << PARK_SLOT_TID_BITS) - 1)
#define PARK_SLOT_CLOCK_MASK ((1ULL << (64 - PARK_SLOT_TID_BITS)) - 1)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set by the loader: a power of two, from kernel.pid_max */
	__type(key, __u32);
	__type(value, __u64);
} park_slots SEC(".maps");

/*
 * A thread's slot: its tid rotated left by 3 within the table, a bijection that puts threads
 * with consecutive tids (a pool started together) 8 slots, i.e. one cache line, apart. Side by
 * side, two threads on two CPUs bounced one line on every context switch (the slot_adjacent
 * floor row).
 */
static __always_inline __u32 park_slot_of(__u32 tid)
{
	__u32 mask = PW_PARK_SLOT_MASK(), bits = PW_PARK_SLOT_BITS(), t = tid & mask;

	if (bits < 4)
		return t;
	return ((t << 3) | (t >> (bits - 3))) & mask;
}

/*
 * The park clock, of the hot path's records and of the bounds the scan keeps. The kernel's HZ
 * (CONFIG_HZ, set by the loader from the kernel's config): the clock is jiffies, one load of a
 * global. 0 when the config cannot be read: it is bpf_ktime_get_ns() / 2^20 (~1 ms). A clock
 * read on every park is a fifth of the hot path on these VMs (kvm-clock with an unstable TSC:
 * ~30-45 ns per read, measured against jiffies), so ages recorded by the hot path are exact to
 * one tick (4 ms at HZ=250). 42 bits (above the tid in a slot) last 139 years at HZ=1000 and
 * 146 years in ns / 2^20; differences are taken modulo 2^42.
 */
static __always_inline __u64 pw_slot_clock(void)
{
	return (PW_HZ() ? bpf_jiffies64() : bpf_ktime_get_ns() >> 20) & PARK_SLOT_CLOCK_MASK;
}

/* A pw_slot_clock() interval (modulo 2^42) in ns, and ns in its units (rounded down). */
static __always_inline __u64 pw_slot_clock_ns(__u64 d)
{
	d &= PARK_SLOT_CLOCK_MASK;
	return PW_HZ() ? d * (1000000000ULL / PW_HZ()) : d << 20;
}

static __always_inline __u64 pw_ns_slot_clock(__u64 ns)
{
	return PW_HZ() ? ns / (1000000000ULL / PW_HZ()) : ns >> 20;
}

#endif /* PW_PARK_STATE_BPF_H */
