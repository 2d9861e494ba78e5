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
 *   floor_slot     + parkwatch's park record (below), table size a compile-time constant
 *   floor_slot_rodata  the same with the table size read from .rodata, as parkwatch did
 *                  before it patched its constants in as immediates
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

/* The table's size as pw_sched_switch gets it: read-only data set at load. */
const volatile __u32 floor_slot_mask = (1 << FLOOR_SLOT_BITS) - 1;
const volatile __u32 floor_slot_bits = FLOOR_SLOT_BITS;

static __always_inline void floor_slot_rodata_write(struct task_struct *prev)
{
	__u32 t = prev->pid & floor_slot_mask;

	floor_slot_write(prev, ((t << 3) | (t >> (floor_slot_bits - 3))) & floor_slot_mask);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_slot_rodata, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (floor_parks(preempt, prev, prev_state))
		floor_slot_rodata_write(prev);
	return 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_empty(void *ctx)
{
	return 0;
}

/*
 * pw_enter_futex's ladder, each a strict subset of it (bpf/park.bpf.c), on the hand-off
 * workload's FUTEX_WAIT and FUTEX_WAKE calls:
 *
 *   futex_op       the op switch on the syscall's arguments, nothing else
 *   futex_task     + the caller's tgid and its leader's start time (the word's tag)
 *   futex_counter  the op switch, then a per-CPU counter (one per-CPU array element)
 *   futex_cpu      the op switch, then a counter in a plain array indexed by the CPU number
 *   futex_slot     the op switch, then the word's per-CPU slot as pw_enter_futex finds and
 *                  bumps it, with the tgid for an id (no leader start time)
 */
#define FLOOR_FUTEX_SLOTS 4096

struct floor_futex_slot {
	__u64 id;
	__u64 uaddr;
	__u64 waits;
	__u64 wakes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOOR_FUTEX_SLOTS);
	__type(key, __u32);
	__type(value, struct floor_futex_slot);
} floor_futex_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct floor_futex_slot);
} floor_futex_bycpu SEC(".maps");

/* 1: a wait, 2: a wake, 0: neither (pw_enter_futex's switch, folded). */
static __always_inline int floor_futex_kind(struct trace_event_raw_sys_enter *ctx)
{
	switch ((__u32)ctx->args[1] & 0x7f) {
	case 0:
	case 9:
	case 6:
	case 13:
	case 11:
		return 1;
	case 1:
	case 10:
	case 3:
	case 4:
	case 12:
	case 5:
	case 7:
		return 2;
	}
	return 0;
}

static __always_inline void floor_bump(struct floor_futex_slot *sl, int kind)
{
	if (kind == 2)
		sl->wakes++;
	else
		sl->waits++;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_op(struct trace_event_raw_sys_enter *ctx)
{
	int kind = floor_futex_kind(ctx);

	if (kind == 1)
		barrier();
	else if (kind == 2)
		barrier();
	return 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_task(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task;
	__u64 id;

	if (!floor_futex_kind(ctx))
		return 0;
	task = bpf_get_current_task_btf();
	id = task->group_leader->start_boottime ^ task->tgid;
	asm volatile("" ::"r"(id) : "memory");
	return 0;
}

/* A counter in slot key of map (either counter table), by the call's kind. */
static __always_inline int floor_count_at(void *map, __u32 key, int kind)
{
	struct floor_futex_slot *sl = bpf_map_lookup_elem(map, &key);

	if (sl)
		floor_bump(sl, kind);
	return 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_counter(struct trace_event_raw_sys_enter *ctx)
{
	int kind = floor_futex_kind(ctx);

	return kind ? floor_count_at(&floor_futex_slots, 0, kind) : 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_cpu(struct trace_event_raw_sys_enter *ctx)
{
	int kind = floor_futex_kind(ctx);

	/* 128 bytes apart: no cache line shared between CPUs. */
	return kind ? floor_count_at(&floor_futex_bycpu, (bpf_get_smp_processor_id() & 15) << 2,
				     kind)
		    : 0;
}

SEC("tp/syscalls/sys_enter_futex")
int floor_futex_slot(struct trace_event_raw_sys_enter *ctx)
{
	int kind = floor_futex_kind(ctx);
	struct floor_futex_slot *sl;
	__u64 uaddr = ctx->args[0], id;
	__u32 idx;

	if (!kind)
		return 0;
	id = bpf_get_current_pid_tgid() >> 32;
	idx = (__u32)((((uaddr >> 2) ^ id) * 0x9E3779B97F4A7C15ULL) >> 40) &
	      (FLOOR_FUTEX_SLOTS - 1);
	sl = bpf_map_lookup_elem(&floor_futex_slots, &idx);
	if (!sl)
		return 0;
	if (sl->uaddr != uaddr || sl->id != id) {
		sl->id = id;
		sl->uaddr = uaddr;
	}
	floor_bump(sl, kind);
	return 0;
}
