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
#define WL_NAME "preparked"
#include <sys/resource.h>

#include "wl.h"

#define STACK_SIZE (64 * 1024)
#define USAGE "usage: preparked [--threads N] [--duration S]\n"

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int park_go; /* never set */
static volatile pid_t *tids;

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
	struct timespec hour = {.tv_sec = 3600};

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

int main(int argc, char **argv)
{
	double duration = -1, start, created;
	long nthreads = 5000, na, nb, i;
	pthread_attr_t attr;
	struct rlimit rl;
	pthread_t t;
	int err;

	wl_parse_count_duration(argc, argv, "threads", &nthreads, &duration, USAGE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	start = wl_now();
	na = (nthreads + 1) / 2;
	nb = nthreads / 2;
	tids = wl_calloc(nthreads, sizeof(pid_t));

	/* Root usually bypasses RLIMIT_NPROC, but raise the soft limit anyway. */
	if (!getrlimit(RLIMIT_NPROC, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)nthreads + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NPROC, &rl);
	}

	wl_thread_attr(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&t, &attr, i % 2 ? parked_worker_b : parked_worker_a,
				     (void *)(intptr_t)i);
		if (err) {
			getrlimit(RLIMIT_NPROC, &rl);
			fprintf(stderr,
				"preparked: pthread_create #%ld of %ld failed: %s "
				"(RLIMIT_NPROC %ld, kernel.threads-max %ld, kernel.pid_max %ld, "
				"vm.max_map_count %ld)\n",
				i + 1, nthreads, strerror(err),
				rl.rlim_cur == RLIM_INFINITY ? -1L : (long)rl.rlim_cur,
				read_sysctl("/proc/sys/kernel/threads-max"),
				read_sysctl("/proc/sys/kernel/pid_max"),
				read_sysctl("/proc/sys/vm/max_map_count"));
			wl_die("pthread_create", err);
		}
	}
	created = wl_now();

	for (i = 0; i < nthreads; i++) {
		if (i % 2)
			wl_wait_parked(&tids[i], SYS_clock_nanosleep, NULL, 0);
		else
			wl_wait_parked(&tids[i], SYS_futex, &park_cv, sizeof(park_cv));
	}
	fprintf(stderr, "preparked: %ld threads created in %.3f s, all parked after %.3f s\n",
		nthreads, created - start, wl_now() - start);
	printf("READY pid=%d a=%ld b=%ld\n", getpid(), na, nb);
	fflush(stdout);

	WL_SLEEP_UNTIL(wl_deadline(start, duration));
	printf("EXIT\n");
	fflush(stdout);
	exit(0);
}
