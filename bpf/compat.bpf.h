/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-version differences live here and nowhere else (STYLE.md), like
 * bcc's core_fixes.bpf.h.
 */
#ifndef PW_COMPAT_BPF_H
#define PW_COMPAT_BPF_H

#include <bpf/bpf_core_read.h>

/* From include/linux/sched.h; not in vmlinux.h because they are macros. */
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define PF_KTHREAD 0x00200000
#define PF_EXITING 0x00000004

/* Sleeping = either sleep bit set. 6.18 sets TASK_FREEZABLE (0x2000) too, so never test with ==. */
#define PW_SLEEPING(state) ((state) & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE))

/* task_struct::state was renamed __state in 5.14 (commit 2f064a59a11f). */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int pw_task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

#endif /* PW_COMPAT_BPF_H */
