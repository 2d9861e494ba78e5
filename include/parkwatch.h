/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Everything that crosses the BPF <-> userspace boundary is defined here,
 * once. Both the BPF programs and userspace include this file; nobody redefines
 * these structs (see STYLE.md: perf's off_cpu_key drift is the bug to avoid).
 */
#ifndef PARKWATCH_H
#define PARKWATCH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PW_COMM_LEN 16
#define PW_KSTACK_MAX 32 /* kernel frames kept per parked thread */
/*
 * Bytes of user stack copied per park. 8 KiB holds the glibc wait path plus
 * a handful of program frames; measured at 3-4 us per thread (DESIGN.md §4).
 */
#define PW_USTACK_MAX 8192
#define PW_REC_MAGIC 0x3150574bU /* "KWP1" little-endian */

/* pw_task_rec.flags */
enum pw_rec_flags {
	PW_F_AGE_LOWER_BOUND = 1 << 0, /* parked before we attached: age is a lower bound */
	PW_F_HAS_USTACK = 1 << 1,      /* regs + stack_len bytes of user stack follow */
	PW_F_USTACK_FAILED = 1 << 2,   /* wanted the user stack, copy failed */
	PW_F_KSTACK_FAILED = 1 << 3,
	PW_F_FUTEX_EVENT = 1 << 4, /* futex_uaddr/futex_op seen by sys_enter_futex */
	PW_F_IN_SYSCALL = 1 << 5,  /* regs.orig_ax is a syscall number */
	PW_F_USTACK_DONE = 1 << 6, /* stack already emitted for this park_seq */
	PW_F_NO_STORAGE = 1 << 7,  /* task storage could not be created */
};

/* Counters in the BPF "stats" array map, one slot per reason. */
enum pw_stat {
	PW_STAT_PARKS = 0,	/* sched_switch: a thread went to sleep */
	PW_STAT_WOKE_IN_SCAN,	/* scan: the thread ran while its stacks were copied; left out */
	PW_STAT_FUTEX_WAITS,	/* unused: nothing read per-event futex totals */
	PW_STAT_FUTEX_WAKES,	/* unused (numbering kept: the soak bench reads keys 0, 4-8) */
	PW_STAT_DROP_STORAGE,	/* task storage create failed (ENOMEM) */
	PW_STAT_DROP_FUTEX_MAP, /* per-word futex map full */
	PW_STAT_DROP_USTACK,	/* bpf_copy_from_user_task failed */
	PW_STAT_DROP_KSTACK,	/* bpf_get_task_stack failed */
	PW_STAT_DROP_SEQ,	/* bpf_seq_write failed (record lost) */
	PW_STAT_SCANNED,	/* tasks visited by the last scans (cumulative) */
	PW_STAT_MAX,
};

/* Saved user registers of a parked thread (x86-64 pt_regs subset). */
struct pw_regs {
	__u64 ip, sp, bp, bx;
	__u64 r12, r13, r14, r15;
	__u64 ax, cx, dx, si, di;
	__u64 r8, r9, r10, r11;
	__u64 orig_ax; /* syscall number, or (u64)-1 outside a syscall */
};
_Static_assert(sizeof(struct pw_regs) == 18 * 8, "pw_regs layout");

/*
 * One record per visited thread, written by the scan iterator with
 * bpf_seq_write() and read back from the iterator fd. When
 * PW_F_HAS_USTACK is set, stack_len bytes of user stack (starting at user
 * address stack_base == regs.sp) follow the fixed part; size covers both.
 */
struct pw_task_rec {
	__u32 magic;
	__u32 size;
	__u32 tgid, tid;       /* host pid namespace */
	__u32 ns_tgid, ns_tid; /* in the task's own pid namespace */
	__u32 state;	       /* task->__state */
	__u32 flags;	       /* enum pw_rec_flags */
	__u64 start_time;      /* thread's start_time (ns since boot) */
	__u64 proc_start_time; /* group leader's start_time: keys a process */
	__u64 park_seq;	       /* the thread's context switches: changes between two parks */
	__u64 age_ns;	       /* how long parked (lower bound if flagged) */
	__u64 futex_uaddr;     /* only with PW_F_FUTEX_EVENT */
	__u32 futex_op;	       /* only with PW_F_FUTEX_EVENT */
	__u32 kstack_len;      /* bytes in kstack[] */
	__u64 stack_base;      /* user address of the first copied byte */
	__u32 stack_len;       /* bytes of user stack that follow */
	__u32 exec_id;	       /* self_exec_id: changes when the process execs a new binary */
	char comm[PW_COMM_LEN];
	struct pw_regs regs; /* valid when PW_F_HAS_USTACK or PW_F_IN_SYSCALL */
	__u64 kstack[PW_KSTACK_MAX];
};
_Static_assert(sizeof(struct pw_task_rec) == 512, "pw_task_rec layout");

/* Per futex word counts kept by the futex tracepoints (--futex-events). */
struct pw_futex_key {
	__u32 tgid;
	__u32 tag; /* pw_proc_tag() of the process: a reused pid is another process */
	__u64 uaddr;
};
_Static_assert(sizeof(struct pw_futex_key) == 16, "pw_futex_key layout");

struct pw_futex_val {
	__u64 waits;
	__u64 wakes;
};
_Static_assert(sizeof(struct pw_futex_val) == 16, "pw_futex_val layout");

/*
 * The per-CPU front of the per-word counts: a direct-mapped table, one slot
 * per hash of (tgid, tag, word), counted without atomics by the CPU it runs on. A
 * word whose slot another word holds is counted in the futex_words hash. A
 * word's counts are the sum of its slot over every CPU plus its hash entry.
 */
#define PW_FUTEX_SLOTS 4096 /* at most; fewer when --futex-words is smaller */
/* The hot path's park slots (park_state.bpf.h): one per tid below kernel.pid_max, at most this. */
#define PW_PARK_SLOTS_MAX (1U << 19)

struct pw_futex_slot {
	union {
		struct {
			__u32 tgid;
			__u32 tag; /* as in pw_futex_key */
		};
		__u64 id; /* pw_proc_id(tgid, tag): the hot path compares and sets both at once */
	};
	__u64 uaddr;
	struct pw_futex_val v;
};
_Static_assert(sizeof(struct pw_futex_slot) == 32, "pw_futex_slot layout");

/*
 * The incarnation of a process in the futex word keys: its group leader's start_boottime
 * (pw_task_rec.proc_start_time), folded to 32 bits. A pid reused by a new process, with the
 * same word address, is another word; neither inherits the other's counts.
 */
static inline __u32 pw_proc_tag(__u64 start_boottime)
{
	return (__u32)(start_boottime ^ (start_boottime >> 32));
}

/* pw_futex_slot.id of a process: its tgid and tag as the two sit in memory. */
static inline __u64 pw_proc_id(__u32 tgid, __u32 tag)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)tag << 32 | tgid;
#else
	return (__u64)tgid << 32 | tag;
#endif
}

/*
 * mask = slots - 1, slots a power of two. The tag is hashed too: a pid reused by a process
 * with the same word addresses (a non-PIE binary's globals) does not land on the slots its
 * dead predecessor still holds.
 */
static inline __u32 pw_futex_slot_of(__u32 tgid, __u32 tag, __u64 uaddr, __u32 mask)
{
	__u64 h = (uaddr >> 2) ^ pw_proc_id(tgid, tag);

	return (__u32)((h * 0x9E3779B97F4A7C15ULL) >> 40) & mask;
}

/*
 * Placeholders of the hot path's load-time constants (pw_imm() in bpf/park_state.bpf.h): the
 * immediates of `mov` instructions that the loader overwrites with the values before load. In
 * a range no program uses for anything else; every one found must be patched.
 */
#define PW_IMM_BASE 0x7e5a0000
#define PW_IMM_HZ (PW_IMM_BASE + 1)
#define PW_IMM_PARK_SLOT_MASK (PW_IMM_BASE + 2)
#define PW_IMM_PARK_SLOT_BITS (PW_IMM_BASE + 3)
#define PW_IMM_FUTEX_SLOT_MASK (PW_IMM_BASE + 4)
#define PW_IMM_COUNT 5

#endif /* PARKWATCH_H */
