// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hot path: which threads are parked, since when, and (with --futex-events)
 * on which futex word. O(1) work per event, no stack walks, no per-event
 * output (DESIGN.md §5): the shape of this file decides the slowdown of
 * every context switch on the host.
 */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "compat.bpf.h"
#define PW_HOT_PATH /* load-time constants as patched immediates (park_state.bpf.h) */
#include "park_state.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Futex commands (uapi/linux/futex.h); the op's high bits are flags. */
#define FUTEX_CMD_MASK 0x7f
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_CMP_REQUEUE_PI 12
#define FUTEX_LOCK_PI2 13

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by the loader (--futex-words) */
	__type(key, struct pw_futex_key);
	__type(value, struct pw_futex_val);
} futex_words SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(pw_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 tid, idx;
	__u64 *slot;

	/*
	 * Only the task leaving the CPU is looked at: a park starts when a task
	 * switches out asleep, and every real sleep does so with preempt false.
	 * Its end needs no event: the scan sees from the task's state whether it
	 * is still asleep, and the next park overwrites the record.
	 */
	if (!PW_SLEEPING(prev_state) || (prev->flags & PF_KTHREAD))
		return 0;
	tid = prev->pid;
	idx = park_slot_of(tid);
	slot = bpf_map_lookup_elem(&park_slots, &idx);
	if (!slot)
		return 0;
	if (!preempt) {
		*slot = pw_slot_clock() << PARK_SLOT_TID_BITS | tid;
		stat_inc(PW_STAT_PARKS);
		return 0;
	}
	/*
	 * Preempted between set_current_state() and schedule(): still runnable,
	 * yet its state says asleep. Its last park is over; if the scan finds it
	 * before it runs, it is a new park whose start we did not see (a lower
	 * bound), not the old one: its record is void. (A pre-attach bound the
	 * scan keeps in task storage is void by itself: the switch counts moved.)
	 */
	if ((*slot & PARK_SLOT_TID_MASK) == tid)
		*slot = tid;
	return 0;
}

/* Free the state as the thread exits instead of when the task is reaped. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(pw_process_exit, struct task_struct *p)
{
	bpf_task_storage_delete(&park_state, p);
	return 0;
}

/* The per-CPU front of futex_words; its size - 1 is pw_imm(FUTEX_SLOT_MASK), set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_FUTEX_SLOTS);
	__type(key, __u32);
	__type(value, struct pw_futex_slot);
} futex_slots SEC(".maps");

/* The slow path: a word whose per-CPU slot another word holds. */
static __noinline void count_word_hashed(__u32 tgid, __u32 tag, __u64 uaddr, bool wake)
{
	struct pw_futex_key key = {.tgid = tgid, .tag = tag, .uaddr = uaddr};
	struct pw_futex_val zero = {}, *v;

	v = bpf_map_lookup_elem(&futex_words, &key);
	if (!v) {
		if (bpf_map_update_elem(&futex_words, &key, &zero, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&futex_words, &key)) {
			stat_inc(PW_STAT_DROP_FUTEX_MAP);
			return;
		}
		v = bpf_map_lookup_elem(&futex_words, &key);
		if (!v)
			return;
	}
	if (wake)
		__sync_fetch_and_add(&v->wakes, 1);
	else
		__sync_fetch_and_add(&v->waits, 1);
}

/*
 * A shared hash costs ~70 ns per futex call (hashing, bucket walk, an atomic
 * on a shared line); the per-CPU slot is an inlined array lookup and a plain
 * increment. No two programs on one CPU touch a slot at once.
 *
 * A word is (tgid, tag, uaddr): the tag (pw_proc_tag) tells a pid's
 * incarnations apart. The task pointer gives the tgid and the leader's start
 * time for one helper call, as bpf_get_current_pid_tgid() alone did. A slot
 * is claimed only while its counts are zero; one a dead process holds is
 * never written again, and userspace frees it (pw_tracer__purge_words).
 */
static __always_inline void count_word(__u64 uaddr, bool wake)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid, tag = pw_proc_tag(task->group_leader->start_boottime);
	__u64 id = pw_proc_id(tgid, tag);
	__u32 idx = pw_futex_slot_of(tgid, tag, uaddr, pw_imm(FUTEX_SLOT_MASK));
	struct pw_futex_slot *sl;

	sl = bpf_map_lookup_elem(&futex_slots, &idx);
	if (!sl)
		return;
	if (sl->uaddr != uaddr || sl->id != id) {
		if (sl->v.waits || sl->v.wakes) {
			count_word_hashed(tgid, tag, uaddr, wake);
			return;
		}
		sl->id = id;
		sl->uaddr = uaddr;
	}
	if (wake)
		sl->v.wakes++;
	else
		sl->v.waits++;
}

/*
 * futex(2) and futex_wait(2) waits need no per-thread state: a parked
 * waiter's saved registers name its word and op, which the scan reads. The
 * events only count waits and wakes per word, so there is no exit program.
 */
static __always_inline void futex_enter(__u64 uaddr, bool waits)
{
	count_word(uaddr, !waits);
}

SEC("tp/syscalls/sys_enter_futex")
int pw_enter_futex(struct trace_event_raw_sys_enter *ctx)
{
	__u32 op = ctx->args[1];

	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		futex_enter(ctx->args[0], true);
		break;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
	case FUTEX_CMP_REQUEUE_PI:
	case FUTEX_WAKE_OP:
	case FUTEX_UNLOCK_PI:
		futex_enter(ctx->args[0], false);
		break;
	}
	return 0;
}

/* futex_wait(2) (6.7+): uaddr, val, mask, flags, timeout, clockid. */
SEC("tp/syscalls/sys_enter_futex_wait")
int pw_enter_futex_wait(struct trace_event_raw_sys_enter *ctx)
{
	futex_enter(ctx->args[0], true);
	return 0;
}

/* futex_waitv(2): the first waiter's word stands for the wait. */
struct futex_waitv___pw {
	__u64 val;
	__u64 uaddr;
	__u32 flags;
	__u32 reserved;
};

SEC("tp/syscalls/sys_enter_futex_waitv")
int pw_enter_futex_waitv(struct trace_event_raw_sys_enter *ctx)
{
	struct futex_waitv___pw w = {};
	struct park_state *s;

	/* Its first argument is the waiter array, not a word: note the first word. */
	if (bpf_probe_read_user(&w, sizeof(w), (void *)ctx->args[0]))
		w.uaddr = ctx->args[0];
	futex_enter(w.uaddr, true);
	s = bpf_task_storage_get(&park_state, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		stat_inc(PW_STAT_DROP_STORAGE);
		return 0;
	}
	s->futex_uaddr = w.uaddr;
	s->futex_op = FUTEX_WAIT_BITSET;
	s->flags |= PS_IN_FUTEX;
	return 0;
}

SEC("tp/syscalls/sys_exit_futex_waitv")
int pw_exit_futex_waitv(void *ctx)
{
	struct park_state *s;

	s = bpf_task_storage_get(&park_state, bpf_get_current_task_btf(), 0, 0);
	if (s)
		s->flags &= ~PS_IN_FUTEX;
	return 0;
}
