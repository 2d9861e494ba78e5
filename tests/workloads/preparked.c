/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * preparked - many threads that are already parked (for a long time) when parkwatch starts.
 *
 * --threads N threads with 64 KiB stacks, created alternately:
 *   parked_worker_a   a = ceil(N/2) threads in pthread_cond_wait on ONE shared condvar
 *   parked_worker_b   b = floor(N/2) threads in nanosleep(3600 s) in a loop
 * None of them ever wakes. The main thread parks in main() (nanosleep).
 *
 * Usage: preparked [--threads N] [--duration S]
 *   --threads N    default 5000; tested up to 30000 (needs kernel.pid_max and
 *                  kernel.threads-max above N, and vm.max_map_count above about 2*N)
 *   --duration S   exit(0) after S seconds (default: run until killed)
 *
 * stdout, one line each, flushed:
 *   READY pid=<pid> a=<n> b=<n>      all N threads created and asleep where they should be
 *   ERROR pthread_create: <strerror> creating a thread failed (details on stderr); exit 1
 *   EXIT                             --duration elapsed, exiting
 * stderr gets how long creating and parking took.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* noipa (GCC): no inlining, no .constprop/.isra clones, no identical-code folding. */
#if defined(__has_attribute) && __has_attribute(noipa)
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif
#define STACK_SIZE (64 * 1024)

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int park_go;		/* never set */
static volatile pid_t *tids;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Is thread @tid asleep in syscall @nr (with arg 0 in [lo, hi) unless lo is 0)? */
static int task_parked(pid_t tid, long nr, uintptr_t lo, uintptr_t hi)
{
	char path[64], buf[512], *p;
	unsigned long arg0;
	long sys;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || (p[2] != 'S' && p[2] != 'D'))
		return 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %lx", &sys, &arg0) != 2 || sys != nr)
		return 0;
	return !lo || (arg0 >= lo && arg0 < hi);
}

static NOINLINE void *parked_worker_a(void *arg)
{
	tids[(intptr_t)arg] = gettid();
	pthread_mutex_lock(&park_mu);
	while (!park_go)
		pthread_cond_wait(&park_cv, &park_mu);
	pthread_mutex_unlock(&park_mu);
	return NULL;
}

static NOINLINE void *parked_worker_b(void *arg)
{
	struct timespec hour = { .tv_sec = 3600 };

	tids[(intptr_t)arg] = gettid();
	for (;;)
		nanosleep(&hour, NULL);
	return NULL;
}

static long read_sysctl(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: preparked [--threads N] [--duration S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	double duration = -1, start, created, left;
	struct timespec ms = { .tv_nsec = 1000000 }, ts;
	long nthreads = 5000, na, nb, i;
	pthread_attr_t attr;
	struct rlimit rl;
	pthread_t t;
	char *end;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nthreads = strtol(optarg, &end, 10);
			if (*end || end == optarg || nthreads < 0)
				usage();
			break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || end == optarg || duration < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	setvbuf(stdout, NULL, _IOLBF, 0);
	start = now_s();
	na = (nthreads + 1) / 2;
	nb = nthreads / 2;
	tids = calloc(nthreads ? nthreads : 1, sizeof(pid_t));
	if (!tids) {
		printf("ERROR calloc: %s\n", strerror(ENOMEM));
		return 1;
	}

	/* Root usually bypasses RLIMIT_NPROC, but raise the soft limit anyway. */
	if (!getrlimit(RLIMIT_NPROC, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)nthreads + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NPROC, &rl);
	}

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&t, &attr, i % 2 ? parked_worker_b : parked_worker_a,
				     (void *)(intptr_t)i);
		if (err) {
			getrlimit(RLIMIT_NPROC, &rl);
			fprintf(stderr,
				"preparked: pthread_create #%ld of %ld failed: %s (RLIMIT_NPROC %ld, "
				"kernel.threads-max %ld, kernel.pid_max %ld, vm.max_map_count %ld)\n",
				i + 1, nthreads, strerror(err),
				rl.rlim_cur == RLIM_INFINITY ? -1L : (long)rl.rlim_cur,
				read_sysctl("/proc/sys/kernel/threads-max"),
				read_sysctl("/proc/sys/kernel/pid_max"),
				read_sysctl("/proc/sys/vm/max_map_count"));
			printf("ERROR pthread_create: %s\n", strerror(err));
			fflush(stdout);
			exit(1);
		}
	}
	created = now_s();

	for (i = 0; i < nthreads; i++) {
		uintptr_t cv = (uintptr_t)&park_cv;

		while (!tids[i] || !(i % 2 ? task_parked(tids[i], SYS_clock_nanosleep, 0, 0) :
				      task_parked(tids[i], SYS_futex, cv, cv + sizeof(park_cv))))
			nanosleep(&ms, NULL);
	}
	fprintf(stderr, "preparked: %ld threads created in %.3f s, all parked after %.3f s\n",
		nthreads, created - start, now_s() - start);
	printf("READY pid=%d a=%ld b=%ld\n", getpid(), na, nb);
	fflush(stdout);

	for (;;) {
		left = duration < 0 ? 3600 : start + duration - now_s();
		if (left <= 0)
			break;
		if (left > 3600)
			left = 3600;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9) + 1;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		nanosleep(&ts, NULL);
	}
	printf("EXIT\n");
	fflush(stdout);
	exit(0);
}
