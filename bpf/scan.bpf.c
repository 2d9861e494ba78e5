// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Cold path: a sleepable task iterator run once per scan. For every parked
 * thread it writes one struct pw_task_rec to the iterator's seq_file; for a
 * thread parked longer than min_age whose stacks were not emitted yet in this
 * park, the record also carries its kernel stack and a copy of the top of its
 * user stack (userspace unwinds it with DWARF CFI, DESIGN.md §4).
 */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "compat.bpf.h"
#include "park_state.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 min_age_ns = 1000000000ULL;
const volatile bool filter_pids = false;
/*
 * bpf_ktime_get_ns() when the hot path was attached: parks before it are unknown. UINT64_MAX
 * when it is not attached (one-shot snapshots), or when a thread without a record may have
 * parked since (shared park slots): then it bounds nothing.
 */
const volatile __u64 attach_ns = 0;

/*
 * Records written to the seq_file, ever: userspace compares it with the records it read back,
 * so a record lost on the way (a malformed or truncated stream) is counted, not silent.
 */
__u64 records_emitted = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct scratch {
	struct pw_task_rec rec;
	__u8 stack[PW_USTACK_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct vma_ctx {
	__u64 end;
};

static long vma_end_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_ctx *c = data;

	c->end = vma->vm_end;
	return 0;
}

static __always_inline __u32 pid_in_ns(struct pid *p)
{
	unsigned int level = BPF_CORE_READ(p, level);

	return BPF_CORE_READ(p, numbers[level & 31].nr);
}

/*
 * How long has a thread been asleep whose park the hot path did not see start?
 * The scheduler stamped se.exec_start (its rq's clock_task) when it last stopped
 * running. clock_task is the rq's clock less the IRQ and steal time it has left
 * out so far (clock - clock_task), which is at least what it had left out at
 * the park: exec_start + (clock - clock_task) is the park, in rq clock time, or
 * later. "Now" is the freshest rq clock at hand, the thread's or ours (sched_clock
 * is one clock across CPUs; the rq of an idle CPU stops updating, so the thread's
 * alone can lag by as long as that CPU has idled). Both only shorten the
 * difference: a lower bound. Also, with the hot path attached, it has been
 * parked at least since attach.
 */
static __always_inline __u64 preparked_age(struct task_struct *task, __u64 now)
{
	__u64 lb = now > attach_ns ? now - attach_ns : 0;
	__u64 exec_start = BPF_CORE_READ(task, se.exec_start);
	struct task_struct *self = bpf_get_current_task_btf();
	struct rq *rq = NULL, *ours = NULL;
	__u64 nowc = 0;

	/*
	 * The task's rq through its cfs_rq (CONFIG_FAIR_GROUP_SCHED): the
	 * per-CPU 'runqueues' ksym needs CONFIG_KALLSYMS_ALL, which these
	 * kernels lack.
	 */
	if (bpf_core_field_exists(task->se.cfs_rq)) {
		rq = BPF_CORE_READ(task, se.cfs_rq, rq);
		ours = BPF_CORE_READ(self, se.cfs_rq, rq);
	}
	if (ours)
		nowc = BPF_CORE_READ(ours, clock);
	if (rq && exec_start) {
		/*
		 * clock_task first: the rq may be updating both as we read (clock, then
		 * clock_task). Read in this order a torn pair can only overstate what was
		 * left out (a later park, a shorter age); the other order could understate
		 * it, or put clock below clock_task where nothing is left out at all.
		 */
		__u64 task_clock = BPF_CORE_READ(rq, clock_task);
		__u64 clock = BPF_CORE_READ(rq, clock);
		__u64 park = exec_start + (clock > task_clock ? clock - task_clock : 0);

		if (clock > nowc)
			nowc = clock;
		if (nowc > park && nowc - park > lb)
			lb = nowc - park;
	} else if (rq && bpf_core_field_exists(task->sched_info.last_arrival)) {
		/*
		 * exec_start is 0 when the task was migrated while asleep:
		 * with DELAY_DEQUEUE (6.12+) a task that blocks can stay
		 * queued, the load balancer moves it, and the enqueue on the
		 * new rq zeroes exec_start. Without this the age fell back to
		 * "since attach", under --min-age in a snapshot, and the
		 * thread was counted but had no site. sched_info still has
		 * when it last got the CPU (rq clock) and sum - prev_sum how
		 * long it ran then (both reset on that switch-in): it left the
		 * CPU at their sum, exactly what exec_start said. Compared
		 * with "now" as above (the freshest rq clock). The run is in clock_task time, so
		 * with IRQ-time or steal accounting this is long by the IRQ and steal time of that
		 * last run only.
		 */
		__u64 arrival = BPF_CORE_READ(task, sched_info.last_arrival);
		__u64 ran = BPF_CORE_READ(task, se.sum_exec_runtime) -
			    BPF_CORE_READ(task, se.prev_sum_exec_runtime);
		__u64 clock = BPF_CORE_READ(rq, clock);

		if (nowc > clock)
			clock = nowc;
		if (arrival && clock > arrival && clock - arrival > ran &&
		    clock - arrival - ran > lb)
			lb = clock - arrival - ran;
	}
	return lb;
}

/*
 * Plain loads, not BPF_CORE_READ: bpf_task_pt_regs() returns a BTF pointer, so the verifier
 * turns each into an inline fault-safe load (with its CO-RE offset) instead of a call to
 * bpf_probe_read_kernel(); 18 helper calls per parked thread were ~5% of a re-scan.
 */
static __always_inline void read_regs(struct task_struct *task, struct pw_regs *r)
{
	struct pt_regs *p = (struct pt_regs *)bpf_task_pt_regs(task);

	if (!p)
		return;
	r->ip = p->ip;
	r->sp = p->sp;
	r->bp = p->bp;
	r->bx = p->bx;
	r->r12 = p->r12;
	r->r13 = p->r13;
	r->r14 = p->r14;
	r->r15 = p->r15;
	r->ax = p->ax;
	r->cx = p->cx;
	r->dx = p->dx;
	r->si = p->si;
	r->di = p->di;
	r->r8 = p->r8;
	r->r9 = p->r9;
	r->r10 = p->r10;
	r->r11 = p->r11;
	r->orig_ax = p->orig_ax;
}

/*
 * bpf_copy_from_user_task() is all-or-nothing: a glibc thread's sp can sit
 * under 5 KiB below the end of its stack mapping, so clamp the copy to the
 * mapping's end or it faults on the guard page (DESIGN.md §4).
 */
static __always_inline __u32 copy_ustack(struct task_struct *task, __u64 sp, __u8 *buf)
{
	struct vma_ctx vc = {};
	__u64 len = PW_USTACK_MAX;

	if (bpf_find_vma(task, sp, vma_end_cb, &vc, 0) == 0 && vc.end > sp && vc.end - sp < len)
		len = vc.end - sp;
	if (len == 0 || len > PW_USTACK_MAX)
		return 0;
	if (bpf_copy_from_user_task(buf, len, (void *)sp, task, 0) == 0)
		return len;
	/* mmap lock contended or a stranger layout: settle for the rest of the page. */
	len = 4096 - (sp & 4095);
	if (len == 0 || len > PW_USTACK_MAX)
		return 0;
	if (bpf_copy_from_user_task(buf, len, (void *)sp, task, 0) == 0)
		return len;
	return 0;
}

SEC("iter.s/task")
int pw_scan(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct park_state *s;
	__u64 *slot;
	struct pw_task_rec *rec;
	struct scratch *sc;
	__u32 zero = 0, state, tgid, len = 0, idx;
	__u64 now, nowc, size, park;
	bool dump, known = false;

	if (!task)
		return 0;
	if (task->flags & (PF_KTHREAD | PF_EXITING))
		return 0;
	tgid = task->tgid;
	if (filter_pids && !bpf_map_lookup_elem(&pids, &tgid))
		return 0;
	stat_inc(PW_STAT_SCANNED);
	state = pw_task_state(task);
	if (!PW_SLEEPING(state) || task->on_cpu)
		return 0;

	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	rec = &sc->rec;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->magic = PW_REC_MAGIC;
	rec->tgid = tgid;
	rec->tid = task->pid;
	rec->state = state;
	rec->ns_tid = pid_in_ns(task->thread_pid);
	rec->ns_tgid = pid_in_ns(task->group_leader->thread_pid);
	rec->start_time = task->start_boottime;
	rec->proc_start_time = task->group_leader->start_boottime;
	rec->exec_id = task->group_leader->self_exec_id;
	bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), task->comm);

	now = bpf_ktime_get_ns();
	nowc = pw_slot_clock();
	/*
	 * The park's identity: the thread's context switches so far. Every switch-out counts
	 * one, so a thread with the same count is still in the park it was in; one that ran
	 * (even preempted, with its state already asleep) has another. Never 0 once parked.
	 */
	park = task->nvcsw + task->nivcsw;
	idx = park_slot_of(rec->tid);
	slot = bpf_map_lookup_elem(&park_slots, &idx);
	if (slot) {
		__u64 w = *slot;

		/* The hot path's record of this very park (park_state.bpf.h). */
		if ((w & PARK_SLOT_TID_MASK) == rec->tid && (w >> PARK_SLOT_TID_BITS)) {
			rec->age_ns = pw_slot_clock_ns(nowc - (w >> PARK_SLOT_TID_BITS));
			known = true;
		}
	}
	s = bpf_task_storage_get(&park_state, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		stat_inc(PW_STAT_DROP_STORAGE);
	if (!known && s && s->seq == park) {
		/* A park from before we attached, which an earlier scan bounded. */
		rec->age_ns = pw_slot_clock_ns(nowc - s->since);
		rec->flags |= PW_F_AGE_LOWER_BOUND;
		known = true;
	}
	if (!known) {
		/* Asleep, yet no park seen: it parked before we attached (or its slot was reused).
		 */
		__u64 age = preparked_age(task, now);

		rec->flags |= PW_F_AGE_LOWER_BOUND;
		/* Rounded down to the clock's unit: still a lower bound. */
		age = pw_ns_slot_clock(age);
		rec->age_ns = pw_slot_clock_ns(age);
		if (s) {
			s->since = (nowc - age) & PARK_SLOT_CLOCK_MASK;
			s->seq = park;
		} else {
			rec->flags |= PW_F_NO_STORAGE;
		}
	}
	rec->park_seq = park;
	if (s && (s->flags & PS_IN_FUTEX)) {
		rec->flags |= PW_F_FUTEX_EVENT;
		rec->futex_uaddr = s->futex_uaddr;
		rec->futex_op = s->futex_op;
	}

	read_regs(task, &rec->regs);
	if ((__s64)rec->regs.orig_ax >= 0)
		rec->flags |= PW_F_IN_SYSCALL;

	/* Stacks once per park: a thread parked for hours is copied once. */
	dump = rec->age_ns >= min_age_ns && (!s || s->dumped_seq != park + 1);
	if (s && s->dumped_seq == park + 1)
		rec->flags |= PW_F_USTACK_DONE;
	if (dump) {
		long n = bpf_get_task_stack(task, rec->kstack, sizeof(rec->kstack), 0);

		if (n > 0)
			rec->kstack_len = n;
		else
			rec->flags |= PW_F_KSTACK_FAILED;
		len = copy_ustack(task, rec->regs.sp, sc->stack);
		if (len) {
			rec->flags |= PW_F_HAS_USTACK;
			rec->stack_base = rec->regs.sp;
			rec->stack_len = len;
		} else {
			rec->flags |= PW_F_USTACK_FAILED;
		}
		/*
		 * The copies take time (they may fault pages in) and the thread may be woken
		 * meanwhile: then its registers, stacks and this park no longer agree, and it
		 * is not parked. It is left out, as a thread that was running would be, and a
		 * copy that failed because it ran is no drop.
		 */
		if (task->nvcsw + task->nivcsw != park || task->on_cpu ||
		    !PW_SLEEPING(pw_task_state(task))) {
			stat_inc(PW_STAT_WOKE_IN_SCAN);
			return 0;
		}
		if (rec->flags & PW_F_KSTACK_FAILED)
			stat_inc(PW_STAT_DROP_KSTACK);
		if (rec->flags & PW_F_USTACK_FAILED)
			stat_inc(PW_STAT_DROP_USTACK);
	}
	size = sizeof(*rec) + len;
	if (size > sizeof(*sc))
		return 0;
	rec->size = size;
	if (bpf_seq_write(seq, sc, size)) {
		/*
		 * The seq buffer overflowed: the kernel shows this task again
		 * in the next read(), so commit nothing now.
		 */
		return 0;
	}
	__sync_fetch_and_add(&records_emitted, 1);
	if (s && (rec->flags & PW_F_HAS_USTACK))
		s->dumped_seq = park + 1;
	return 0;
}
