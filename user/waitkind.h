/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a parked thread waits on, from its saved registers: the syscall it is
 * blocked in (orig_ax) and, for futex(2), the operation (the second argument).
 */
#ifndef PW_WAITKIND_H
#define PW_WAITKIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Wait kind of a thread blocked in x86-64 syscall nr: the syscall's name
 * ("futex", "read", "epoll_wait", ...), with clock_nanosleep folded into
 * "nanosleep" and pread64/pwrite64 shown as "pread"/"pwrite". A negative nr
 * (not in a syscall: preempted or sleeping in a fault) is "sleep"; a number
 * without a name is "syscall:<nr>". The result is interned: never freed, and
 * comparable by pointer with other pw_intern() results.
 */
const char *pw_wait_kind(long syscall_nr);

struct pw_futex_op {
	const char *cmd;     /* "FUTEX_WAIT", ..., or interned "op:<n>" when unknown */
	bool private_;	     /* FUTEX_PRIVATE_FLAG (128) */
	bool clock_realtime; /* FUTEX_CLOCK_REALTIME (256) */
	bool waits;	     /* the op can put the caller to sleep */
};

/* Decodes futex(2)'s op argument the way the kernel does (do_futex()). */
void pw_futex_decode(uint32_t op, struct pw_futex_op *out);

/* "FUTEX_WAIT_BITSET|PRIVATE|CLOCK_REALTIME"; truncated to len (NUL included). */
void pw_futex_op_format(uint32_t op, char *buf, size_t len);

#endif /* PW_WAITKIND_H */
