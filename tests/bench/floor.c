/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * floor - loads one of the floor programs of tests/bench/floor.bpf.c (on sched_switch, or
 * sys_enter_futex) and holds it attached, so that the benchmark can read its run time per event
 * (kernel.bpf_stats_enabled) beside parkwatch's pw_sched_switch. Each variant is a strict subset of
 * pw_sched_switch, so the ladder empty, filter, then clock or storage shows what bounds parkwatch's
 * cost per context switch.
 *
 * Usage: floor VARIANT
 *   VARIANT  empty    returns at once (the dispatch floor)
 *            filter   pw_sched_switch's sleeping/kthread/preempt test, nothing else
 *            clock    the test, then bpf_ktime_get_ns() into a per-CPU slot
 *            storage  the test, then a task-storage get-or-create and an increment
 *            slot     the test, then pw_sched_switch's park slot written (array, tid rotated)
 *            slot_adjacent  the same with the slot indexed by the tid as it is
 *            slot_rodata  slot, with the table's size read from .rodata
 *            futex_empty  an empty program on sys_enter_futex (pw_enter_futex's floor)
 *            empty_both  empty and futex_empty at once (what --futex-events attaches to)
 *            futex_op, futex_task, futex_counter, futex_cpu, futex_slot  pw_enter_futex's
 *                     ladder (floor.bpf.c says what each adds)
 *
 * The object is read from floor.bpf.o beside the executable (plain libbpf, no skeleton). Once the
 * program is attached, stdout gets one line, flushed:
 *   READY prog_id=<id>
 * Then it waits for SIGINT or SIGTERM, detaches and exits 0. Errors: one line "floor: ..." on
 * stderr, last (after libbpf's own warnings, such as a verifier log), exit 1; bad usage: exit 2.
 * libbpf's debug output is shown only with FLOOR_VERBOSE set.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static const char *const variants[] = {
	"empty",	 "filter",	  "clock",	 "storage",    "slot",
	"slot_adjacent", "slot_rodata",	  "futex_empty", "empty_both", "futex_op",
	"futex_task",	 "futex_counter", "futex_cpu",	 "futex_slot"};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FLOOR_VERBOSE") != NULL;
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(void)
{
	fprintf(stderr, "usage: floor empty|filter|clock|storage|slot|slot_adjacent|slot_rodata|\n"
			"             "
			"futex_empty|empty_both|futex_op|futex_task|futex_counter|futex_cpu|\n"
			"             futex_slot\n");
	exit(2);
}

/* err: a negative errno, as libbpf returns them. */
static int fail(const char *what, int err)
{
	char buf[128];

	libbpf_strerror(err, buf, sizeof(buf));
	fprintf(stderr, "floor: %s: %s\n", what, buf);
	return 1;
}

/* The object file: floor.bpf.o in the directory of /proc/self/exe. */
static int object_path(char *buf, size_t size)
{
	static const char name[] = "/floor.bpf.o";
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)(slash - buf) + sizeof(name) > size)
		return -ENAMETOOLONG;
	strcat(buf, name);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct bpf_program *prog, *prog2 = NULL, *p;
	struct bpf_object *obj = NULL;
	struct bpf_link *link = NULL, *link2 = NULL;
	char path[PATH_MAX], pname[32];
	bool both;
	sigset_t mask, waitmask;
	struct sigaction sa = {};
	size_t i;
	int err, ret = 1;

	if (argc != 2)
		usage();
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (!strcmp(argv[1], variants[i]))
			break;
	if (i == sizeof(variants) / sizeof(variants[0]))
		usage();
	/* empty_both: the two empty programs at once, the bound of parkwatch --futex-events. */
	both = !strcmp(variants[i], "empty_both");
	snprintf(pname, sizeof(pname), "floor_%s", both ? "empty" : variants[i]);

	/*
	 * Blocked from here on, so that a signal that comes before the wait still ends in a
	 * clean detach. A handler, not SIG_DFL: a shell starts background jobs with SIGINT
	 * ignored, and the handler overrides that.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	libbpf_set_print(libbpf_print);

	err = object_path(path, sizeof(path));
	if (err)
		return fail("/proc/self/exe", err);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return fail(path, -errno);
	prog = bpf_object__find_program_by_name(obj, pname);
	if (!prog) {
		ret = fail(pname, -ENOENT);
		goto out;
	}
	if (both && !(prog2 = bpf_object__find_program_by_name(obj, "floor_futex_empty"))) {
		ret = fail("floor_futex_empty", -ENOENT);
		goto out;
	}
	for (p = bpf_object__next_program(obj, NULL); p; p = bpf_object__next_program(obj, p)) {
		err = bpf_program__set_autoload(p, p == prog || p == prog2);
		if (err) {
			ret = fail("set_autoload", err);
			goto out;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		ret = fail("load", err);
		goto out;
	}
	link = bpf_program__attach(prog);
	if (!link) {
		ret = fail("attach", -errno);
		goto out;
	}
	if (prog2 && !(link2 = bpf_program__attach(prog2))) {
		ret = fail("attach", -errno);
		goto out;
	}
	err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &info_len);
	if (err) {
		ret = fail("prog info", err);
		goto out;
	}

	printf("READY prog_id=%u\n", info.id);
	fflush(stdout);
	while (!stop)
		sigsuspend(&waitmask);
	ret = 0;
out:
	bpf_link__destroy(link2);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return ret;
}
