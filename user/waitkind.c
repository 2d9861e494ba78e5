/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdio.h>
#include "pw.h"
#include "waitkind.h"

/*
 * x86-64 numbers from arch/x86/entry/syscalls/syscall_64.tbl, written out
 * rather than taken from <sys/syscall.h>: the records come from the running
 * kernel, which can be newer than the build host's headers (futex_wait and
 * friends, 6.7, are missing from Debian 12's). The unit test checks every
 * number the headers do know. Listed: everything a thread can block in for
 * long, plus the calls that sleep in D state on locks or I/O (mmap_lock,
 * inode locks, writeback); anything else shows as "syscall:<nr>".
 * -Woverride-init (in -Wextra) catches a number listed twice.
 */
static const char *const syscall_names[] = {
	[0] = "read",
	[1] = "write",
	[2] = "open",
	[3] = "close",
	[4] = "stat",
	[5] = "fstat",
	[6] = "lstat",
	[7] = "poll",
	[9] = "mmap",
	[10] = "mprotect",
	[11] = "munmap",
	[12] = "brk",
	[16] = "ioctl",
	[17] = "pread",
	[18] = "pwrite",
	[19] = "readv",
	[20] = "writev",
	[23] = "select",
	[24] = "sched_yield",
	[25] = "mremap",
	[26] = "msync",
	[28] = "madvise",
	[34] = "pause",
	[35] = "nanosleep",
	[40] = "sendfile",
	[42] = "connect",
	[43] = "accept",
	[44] = "sendto",
	[45] = "recvfrom",
	[46] = "sendmsg",
	[47] = "recvmsg",
	[48] = "shutdown",
	[56] = "clone",
	[57] = "fork",
	[58] = "vfork",
	[59] = "execve",
	[60] = "exit",
	[61] = "wait4",
	[65] = "semop",
	[69] = "msgsnd",
	[70] = "msgrcv",
	[72] = "fcntl",
	[73] = "flock",
	[74] = "fsync",
	[75] = "fdatasync",
	[76] = "truncate",
	[77] = "ftruncate",
	[82] = "rename",
	[83] = "mkdir",
	[84] = "rmdir",
	[85] = "creat",
	[87] = "unlink",
	[101] = "ptrace",
	[128] = "rt_sigtimedwait",
	[130] = "rt_sigsuspend",
	[162] = "sync",
	[165] = "mount",
	[166] = "umount2",
	[202] = "futex",
	[208] = "io_getevents",
	[209] = "io_submit",
	[217] = "getdents64",
	[220] = "semtimedop",
	/* Same wait as nanosleep(2); glibc's nanosleep() is a clock_nanosleep call. */
	[230] = "nanosleep",
	[231] = "exit_group",
	[232] = "epoll_wait",
	[242] = "mq_timedsend",
	[243] = "mq_timedreceive",
	[247] = "waitid",
	[257] = "openat",
	[262] = "newfstatat",
	[270] = "pselect6",
	[271] = "ppoll",
	[275] = "splice",
	[276] = "tee",
	[277] = "sync_file_range",
	[278] = "vmsplice",
	[281] = "epoll_pwait",
	[285] = "fallocate",
	[288] = "accept4",
	[295] = "preadv",
	[296] = "pwritev",
	[299] = "recvmmsg",
	[306] = "syncfs",
	[307] = "sendmmsg",
	[318] = "getrandom",
	[322] = "execveat",
	[327] = "preadv2",
	[328] = "pwritev2",
	[332] = "statx",
	[333] = "io_pgetevents",
	[426] = "io_uring_enter",
	[435] = "clone3",
	[437] = "openat2",
	[441] = "epoll_pwait2",
	[449] = "futex_waitv",
	[454] = "futex_wake",
	[455] = "futex_wait",
	[456] = "futex_requeue",
};

/* Interned so equal kinds share one pointer; the static name still works on ENOMEM. */
static const char *intern_or(const char *s, const char *fallback)
{
	const char *r = pw_intern(s);

	return r ? r : fallback;
}

const char *pw_wait_kind(long syscall_nr)
{
	char buf[32];

	/* orig_ax is -1 when the task is not in a syscall: it slept in a fault or was preempted. */
	if (syscall_nr < 0)
		return intern_or("sleep", "sleep");
	if ((unsigned long)syscall_nr < sizeof(syscall_names) / sizeof(syscall_names[0]) &&
	    syscall_names[syscall_nr])
		return intern_or(syscall_names[syscall_nr], syscall_names[syscall_nr]);
	snprintf(buf, sizeof(buf), "syscall:%ld", syscall_nr);
	return intern_or(buf, "syscall:?");
}

/* include/uapi/linux/futex.h */
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256

static const struct {
	const char *name;
	bool waits;
} futex_cmds[] = {
	[0] = {"FUTEX_WAIT", true},
	[1] = {"FUTEX_WAKE", false},
	[2] = {"FUTEX_FD", false}, /* removed in 2.6.26; named so old binaries decode */
	[3] = {"FUTEX_REQUEUE", false},
	[4] = {"FUTEX_CMP_REQUEUE", false},
	[5] = {"FUTEX_WAKE_OP", false},
	[6] = {"FUTEX_LOCK_PI", true},
	[7] = {"FUTEX_UNLOCK_PI", false},
	/* Never sleeps: it fails with EAGAIN instead of blocking. */
	[8] = {"FUTEX_TRYLOCK_PI", false},
	[9] = {"FUTEX_WAIT_BITSET", true},
	[10] = {"FUTEX_WAKE_BITSET", false},
	[11] = {"FUTEX_WAIT_REQUEUE_PI", true},
	[12] = {"FUTEX_CMP_REQUEUE_PI", false},
	[13] = {"FUTEX_LOCK_PI2", true},
};

void pw_futex_decode(uint32_t op, struct pw_futex_op *out)
{
	/*
	 * Like do_futex(): the command is everything but the two flags. Masking
	 * with 127 instead would decode an op the kernel rejects (ENOSYS) as a
	 * valid one.
	 */
	uint32_t cmd = op & ~(uint32_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

	out->private_ = op & FUTEX_PRIVATE_FLAG;
	out->clock_realtime = op & FUTEX_CLOCK_REALTIME;
	if (cmd < sizeof(futex_cmds) / sizeof(futex_cmds[0])) {
		out->cmd = futex_cmds[cmd].name;
		out->waits = futex_cmds[cmd].waits;
	} else {
		char buf[24];

		snprintf(buf, sizeof(buf), "op:%u", cmd);
		out->cmd = intern_or(buf, "op:?");
		out->waits = false;
	}
}

void pw_futex_op_format(uint32_t op, char *buf, size_t len)
{
	struct pw_futex_op d;

	if (!len)
		return;
	pw_futex_decode(op, &d);
	snprintf(buf, len, "%s%s%s", d.cmd, d.private_ ? "|PRIVATE" : "",
		 d.clock_realtime ? "|CLOCK_REALTIME" : "");
}
