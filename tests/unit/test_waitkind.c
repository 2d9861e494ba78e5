/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <cmocka.h>
#include "pw.h"
#include "waitkind.h"

static void test_wait_kind_names(void **state)
{
	static const struct {
		long nr;
		const char *want;
	} cases[] = {
		{202, "futex"},
		{449, "futex_waitv"},
		{35, "nanosleep"},
		{230, "nanosleep"},
		{0, "read"},
		{19, "readv"},
		{17, "pread"},
		{1, "write"},
		{7, "poll"},
		{271, "ppoll"},
		{23, "select"},
		{270, "pselect6"},
		{232, "epoll_wait"},
		{281, "epoll_pwait"},
		{441, "epoll_pwait2"},
		{43, "accept"},
		{288, "accept4"},
		{42, "connect"},
		{45, "recvfrom"},
		{47, "recvmsg"},
		{299, "recvmmsg"},
		{44, "sendto"},
		{46, "sendmsg"},
		{61, "wait4"},
		{247, "waitid"},
		{34, "pause"},
		{130, "rt_sigsuspend"},
		{128, "rt_sigtimedwait"},
		{208, "io_getevents"},
		{426, "io_uring_enter"},
		{70, "msgrcv"},
		{65, "semop"},
		{220, "semtimedop"},
		{73, "flock"},
		{72, "fcntl"},
		{257, "openat"},
		{24, "sched_yield"},
		{455, "futex_wait"},
		{454, "futex_wake"},
		{456, "futex_requeue"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = pw_wait_kind(cases[i].nr);

		if (!got || strcmp(got, cases[i].want))
			fail_msg("nr %ld -> '%s', want '%s'", cases[i].nr, got, cases[i].want);
	}
}

/*
 * The table hard-codes x86-64 numbers (the kernel can be newer than the
 * headers); every number the build host's headers know must agree with it.
 */
static void test_wait_kind_matches_headers(void **state)
{
#ifdef __x86_64__
	static const struct {
		long nr;
		const char *want;
	} cases[] = {
		{SYS_read, "read"},
		{SYS_write, "write"},
		{SYS_open, "open"},
		{SYS_close, "close"},
		{SYS_stat, "stat"},
		{SYS_fstat, "fstat"},
		{SYS_lstat, "lstat"},
		{SYS_poll, "poll"},
		{SYS_mmap, "mmap"},
		{SYS_mprotect, "mprotect"},
		{SYS_munmap, "munmap"},
		{SYS_brk, "brk"},
		{SYS_ioctl, "ioctl"},
		{SYS_pread64, "pread"},
		{SYS_pwrite64, "pwrite"},
		{SYS_readv, "readv"},
		{SYS_writev, "writev"},
		{SYS_select, "select"},
		{SYS_sched_yield, "sched_yield"},
		{SYS_mremap, "mremap"},
		{SYS_msync, "msync"},
		{SYS_madvise, "madvise"},
		{SYS_pause, "pause"},
		{SYS_nanosleep, "nanosleep"},
		{SYS_sendfile, "sendfile"},
		{SYS_connect, "connect"},
		{SYS_accept, "accept"},
		{SYS_sendto, "sendto"},
		{SYS_recvfrom, "recvfrom"},
		{SYS_sendmsg, "sendmsg"},
		{SYS_recvmsg, "recvmsg"},
		{SYS_shutdown, "shutdown"},
		{SYS_clone, "clone"},
		{SYS_fork, "fork"},
		{SYS_vfork, "vfork"},
		{SYS_execve, "execve"},
		{SYS_exit, "exit"},
		{SYS_wait4, "wait4"},
		{SYS_semop, "semop"},
		{SYS_msgsnd, "msgsnd"},
		{SYS_msgrcv, "msgrcv"},
		{SYS_fcntl, "fcntl"},
		{SYS_flock, "flock"},
		{SYS_fsync, "fsync"},
		{SYS_fdatasync, "fdatasync"},
		{SYS_truncate, "truncate"},
		{SYS_ftruncate, "ftruncate"},
		{SYS_rename, "rename"},
		{SYS_mkdir, "mkdir"},
		{SYS_rmdir, "rmdir"},
		{SYS_creat, "creat"},
		{SYS_unlink, "unlink"},
		{SYS_ptrace, "ptrace"},
		{SYS_rt_sigtimedwait, "rt_sigtimedwait"},
		{SYS_rt_sigsuspend, "rt_sigsuspend"},
		{SYS_sync, "sync"},
		{SYS_mount, "mount"},
		{SYS_umount2, "umount2"},
		{SYS_futex, "futex"},
		{SYS_io_getevents, "io_getevents"},
		{SYS_io_submit, "io_submit"},
		{SYS_getdents64, "getdents64"},
		{SYS_semtimedop, "semtimedop"},
		{SYS_clock_nanosleep, "nanosleep"},
		{SYS_exit_group, "exit_group"},
		{SYS_epoll_wait, "epoll_wait"},
		{SYS_mq_timedsend, "mq_timedsend"},
		{SYS_mq_timedreceive, "mq_timedreceive"},
		{SYS_waitid, "waitid"},
		{SYS_openat, "openat"},
		{SYS_newfstatat, "newfstatat"},
		{SYS_pselect6, "pselect6"},
		{SYS_ppoll, "ppoll"},
		{SYS_splice, "splice"},
		{SYS_tee, "tee"},
		{SYS_sync_file_range, "sync_file_range"},
		{SYS_vmsplice, "vmsplice"},
		{SYS_epoll_pwait, "epoll_pwait"},
		{SYS_fallocate, "fallocate"},
		{SYS_accept4, "accept4"},
		{SYS_preadv, "preadv"},
		{SYS_pwritev, "pwritev"},
		{SYS_recvmmsg, "recvmmsg"},
		{SYS_syncfs, "syncfs"},
		{SYS_sendmmsg, "sendmmsg"},
		{SYS_getrandom, "getrandom"},
		{SYS_execveat, "execveat"},
		{SYS_preadv2, "preadv2"},
		{SYS_pwritev2, "pwritev2"},
		{SYS_statx, "statx"},
		{SYS_io_pgetevents, "io_pgetevents"},
		{SYS_io_uring_enter, "io_uring_enter"},
		{SYS_clone3, "clone3"},
		{SYS_openat2, "openat2"},
		{SYS_epoll_pwait2, "epoll_pwait2"},
		{SYS_futex_waitv, "futex_waitv"},
#ifdef SYS_futex_wait
		{SYS_futex_wake, "futex_wake"},
		{SYS_futex_wait, "futex_wait"},
		{SYS_futex_requeue, "futex_requeue"},
#endif
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = pw_wait_kind(cases[i].nr);

		if (strcmp(got, cases[i].want))
			fail_msg("SYS %ld -> '%s', want '%s'", cases[i].nr, got, cases[i].want);
	}
#else
	skip();
#endif
}

static void test_wait_kind_not_in_syscall(void **state)
{
	assert_string_equal(pw_wait_kind(-1), "sleep");
	assert_string_equal(pw_wait_kind(-2), "sleep");
	assert_string_equal(pw_wait_kind(LONG_MIN), "sleep");
}

static void test_wait_kind_unknown(void **state)
{
	const char *a = pw_wait_kind(9999), *b = pw_wait_kind(9999);

	assert_string_equal(a, "syscall:9999");
	/* Interned: equal kinds share a pointer and outlive the call. */
	assert_ptr_equal(a, b);
	assert_ptr_equal(pw_wait_kind(202), pw_intern("futex"));
	/* Holes in the table (getpid) and the first number past it. */
	assert_string_equal(pw_wait_kind(39), "syscall:39");
	assert_string_equal(pw_wait_kind(457), "syscall:457");
	assert_string_equal(pw_wait_kind(LONG_MAX), "syscall:9223372036854775807");
}

static void test_futex_decode(void **state)
{
	static const struct {
		uint32_t op;
		const char *cmd;
		bool waits;
	} cases[] = {
		{FUTEX_WAIT, "FUTEX_WAIT", true},
		{FUTEX_WAKE, "FUTEX_WAKE", false},
		{FUTEX_FD, "FUTEX_FD", false},
		{FUTEX_REQUEUE, "FUTEX_REQUEUE", false},
		{FUTEX_CMP_REQUEUE, "FUTEX_CMP_REQUEUE", false},
		{FUTEX_WAKE_OP, "FUTEX_WAKE_OP", false},
		{FUTEX_LOCK_PI, "FUTEX_LOCK_PI", true},
		{FUTEX_UNLOCK_PI, "FUTEX_UNLOCK_PI", false},
		{FUTEX_TRYLOCK_PI, "FUTEX_TRYLOCK_PI", false},
		{FUTEX_WAIT_BITSET, "FUTEX_WAIT_BITSET", true},
		{FUTEX_WAKE_BITSET, "FUTEX_WAKE_BITSET", false},
		{FUTEX_WAIT_REQUEUE_PI, "FUTEX_WAIT_REQUEUE_PI", true},
		{FUTEX_CMP_REQUEUE_PI, "FUTEX_CMP_REQUEUE_PI", false},
		{FUTEX_LOCK_PI2, "FUTEX_LOCK_PI2", true},
	};
	struct pw_futex_op d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t flags;

		/* Every flag combination decodes to the same command. */
		for (flags = 0; flags <= (FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
		     flags += FUTEX_PRIVATE_FLAG) {
			pw_futex_decode(cases[i].op | flags, &d);
			assert_string_equal(d.cmd, cases[i].cmd);
			assert_int_equal(d.waits, cases[i].waits);
			assert_int_equal(d.private_, !!(flags & FUTEX_PRIVATE_FLAG));
			assert_int_equal(d.clock_realtime, !!(flags & FUTEX_CLOCK_REALTIME));
		}
	}
	/* glibc's pthread_cond_wait: FUTEX_WAIT_BITSET_PRIVATE. */
	pw_futex_decode(FUTEX_WAIT_BITSET_PRIVATE, &d);
	assert_string_equal(d.cmd, "FUTEX_WAIT_BITSET");
	assert_true(d.private_ && d.waits && !d.clock_realtime);
}

static void test_futex_decode_unknown(void **state)
{
	struct pw_futex_op d;

	pw_futex_decode(14, &d);
	assert_string_equal(d.cmd, "op:14");
	assert_false(d.waits);
	pw_futex_decode(14 | FUTEX_PRIVATE_FLAG, &d);
	assert_string_equal(d.cmd, "op:14");
	assert_true(d.private_);
	/* The kernel rejects stray high bits (ENOSYS): not a FUTEX_WAIT. */
	pw_futex_decode(0x200, &d);
	assert_string_equal(d.cmd, "op:512");
	assert_false(d.waits);
	pw_futex_decode(UINT32_MAX, &d);
	assert_string_equal(d.cmd, "op:4294966911");
	assert_true(d.private_ && d.clock_realtime && !d.waits);
}

static void test_futex_format(void **state)
{
	char buf[64];

	pw_futex_op_format(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME, buf,
			   sizeof(buf));
	assert_string_equal(buf, "FUTEX_WAIT_BITSET|PRIVATE|CLOCK_REALTIME");
	pw_futex_op_format(FUTEX_WAIT, buf, sizeof(buf));
	assert_string_equal(buf, "FUTEX_WAIT");
	pw_futex_op_format(FUTEX_WAKE_PRIVATE, buf, sizeof(buf));
	assert_string_equal(buf, "FUTEX_WAKE|PRIVATE");
	pw_futex_op_format(99 | FUTEX_CLOCK_REALTIME, buf, sizeof(buf));
	assert_string_equal(buf, "op:99|CLOCK_REALTIME");
	/* Truncation stays in bounds and NUL-terminated. */
	memset(buf, 'x', sizeof(buf));
	pw_futex_op_format(FUTEX_WAIT_REQUEUE_PI, buf, 6);
	assert_string_equal(buf, "FUTEX");
	buf[0] = 'q';
	pw_futex_op_format(FUTEX_WAIT, buf, 0);
	assert_int_equal(buf[0], 'q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_kind_names),
		cmocka_unit_test(test_wait_kind_matches_headers),
		cmocka_unit_test(test_wait_kind_not_in_syscall),
		cmocka_unit_test(test_wait_kind_unknown),
		cmocka_unit_test(test_futex_decode),
		cmocka_unit_test(test_futex_decode_unknown),
		cmocka_unit_test(test_futex_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
