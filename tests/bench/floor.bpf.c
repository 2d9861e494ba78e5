/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Floor programs for the benchmark: what a BPF program on sched_switch costs before parkwatch
 * does anything of its own. Each program is a strict subset of pw_sched_switch (bpf/park.bpf.c),
 * with the same attach point and signature, so that their run times, side by side, show which
 * part bounds parkwatch's per-event cost:
 *
 *   floor_empty    returns at once: the trampoline dispatch and the stats bookkeeping
 *   floor_filter   + the sleeping/kthread/preempt test (a load from prev, no helper)
 *   floor_clock    + bpf_ktime_get_ns() into a per-CPU slot, on a filter hit
 *   floor_storage  + a task-storage get-or-create and an increment, on a filter hit, no clock
 *
 * Loaded one at a time by tests/bench/floor.c. Never part of parkwatch itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "../../bpf/compat.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Two __u64, like the fields of park_state that the hot path writes. */
struct floor_state {
	__u64 since_ns;
	__u64 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct floor_state);
} floor_tstore SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} floor_clock_slot SEC(".maps");

/* pw_sched_switch's test: prev goes to sleep of its own accord and is not a kernel thread. */
static __always_inline bool floor_parks(bool preempt, struct task_struct *prev,
					unsigned int prev_state)
{
	return PW_SLEEPING(prev_state) && !(prev->flags & PF_KTHREAD) && !preempt;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_empty, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_filter, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	/* The empty asm keeps the test: without it clang drops the unused result and the loads. */
	if (floor_parks(preempt, prev, prev_state))
		barrier();
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_clock, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 zero = 0;
	__u64 *slot;

	if (floor_parks(preempt, prev, prev_state)) {
		slot = bpf_map_lookup_elem(&floor_clock_slot, &zero);
		if (slot)
			*slot = bpf_ktime_get_ns();
	}
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_storage, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct floor_state *s;

	if (floor_parks(preempt, prev, prev_state)) {
		s = bpf_task_storage_get(&floor_tstore, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (s)
			s->seq++;
	}
	return 0;
}

/* The futex syscall tracepoint's floor: parkwatch's pw_enter_futex attaches here. */
/*
 * pw_sched_switch's record of a park (bpf/park_state.bpf.h): one word per tid in a plain array,
 * the clock above the tid, one store. slot: the tid's bits rotated (the layout parkwatch uses),
 * slot_adjacent: indexed by the tid itself, so that the hand-off pairs' neighbouring tids share
 * a cache line across the two CPUs.
 */
#define FLOOR_SLOT_BITS 15

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << FLOOR_SLOT_BITS);
	__type(key, __u32);
	__type(value, __u64);
} floor_slots SEC(".maps");

static __always_inline void floor_slot_write(struct task_struct *prev, __u32 idx)
{
	__u64 *slot = bpf_map_lookup_elem(&floor_slots, &idx);

	if (slot)
		*slot = bpf_jiffies64() << 22 | (__u32)prev->pid;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_slot, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 t = prev->pid & ((1 << FLOOR_SLOT_BITS) - 1);

	if (floor_parks(preempt, prev, prev_state))
		floor_slot_write(prev, ((t << 3) | (t >> (FLOOR_SLOT_BITS - 3))) &
					       ((1 << FLOOR_SLOT_BITS) - 1));
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_slot_adjacent, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (floor_parks(preempt, prev, prev_state))
		floor_slot_write(prev, prev->pid & ((1 << FLOOR_SLOT_BITS) - 1));
	return 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_empty(void *ctx)
{
	return 0;
}
