/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * churn - threads created and exiting as fast as the machine allows, each parking briefly.
 *
 * --threads N spawner() threads loop: pthread_create() one short_lived() thread, pthread_join()
 * it (the spawner parks in the join), again, until --duration S has passed. Each short-lived
 * thread parks once, for --park-us US microseconds: in usleep() (--park sleep, the default) or
 * in pthread_cond_timedwait() on a condvar nobody signals (--park cond). tids are recycled as
 * fast as the kernel hands them out, so a tool that caches per tid meets every kind of reuse.
 * The main thread parks in main() (nanosleep) meanwhile, then joins the spawners and exits 0.
 *
 * --exec-after S PROG [ARG...] instead parks the main thread in before_exec() (nanosleep) for
 * S seconds, then execv()s PROG with the ARGs: the same pid, the same start time, another
 * program (its own output follows on the same stdout). With --threads N the churn runs until
 * the exec, which ends it.
 *
 * Usage: churn [--threads N] [--duration S] [--park-us US] [--park sleep|cond]
 *        churn [--threads N] --exec-after S PROG [ARG...]
 *
 * stdout, one line each, flushed:
 *   READY pid=<pid> threads=<n>       every spawner is running (or, with --exec-after, the
 *                                     main thread is about to park in before_exec)
 *   EXEC <prog>                       about to execv(); ERROR execv: ... if it failed (exit 1)
 *   DONE created=<n> joined=<n>       --duration elapsed, every thread joined; then exit(0)
 */
#define _GNU_SOURCE
#define WL_NAME "churn"
#include "wl.h"

#define STACK_SIZE (64 * 1024)
#define USAGE                                                                                      \
	"usage: churn [--threads N] [--duration S] [--park-us US] [--park sleep|cond]\n"           \
	"       churn [--threads N] --exec-after S PROG [ARG...]\n"

static volatile int stop;
static long park_us = 100;
static int park_cond;
static long created, joined; /* atomic */
static pthread_mutex_t never_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER;
static pthread_attr_t attr;

static NOINLINE void *short_lived(void *arg __attribute__((unused)))
{
	struct timespec until;

	if (!park_cond) {
		usleep(park_us);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += park_us * 1000;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&never_mu);
	pthread_cond_timedwait(&never_cv, &never_mu, &until);
	pthread_mutex_unlock(&never_mu);
	return NULL;
}

static NOINLINE void *spawner(void *arg __attribute__((unused)))
{
	pthread_t t;
	int err;

	while (!stop) {
		err = pthread_create(&t, &attr, short_lived, NULL);
		if (err == EAGAIN) { /* a thread or memory limit: back off, keep churning */
			usleep(1000);
			continue;
		}
		if (err)
			wl_die("pthread_create", err);
		__atomic_add_fetch(&created, 1, __ATOMIC_RELAXED);
		err = pthread_join(t, NULL);
		if (err)
			wl_die("pthread_join", err);
		__atomic_add_fetch(&joined, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Parks until the deadline (WL_SLEEP_UNTIL: a signal cannot cut it short). */
static NOINLINE void park_until(double deadline)
{
	WL_SLEEP_UNTIL(deadline);
}

/* Its own function, so that the site is before_exec and not park_until. */
static NOINLINE void before_exec(double secs)
{
	WL_SLEEP_UNTIL(wl_now() + secs);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"threads", required_argument, NULL, 't'},
		{"duration", required_argument, NULL, 'd'},
		{"park-us", required_argument, NULL, 'u'},
		{"park", required_argument, NULL, 'k'},
		{"exec-after", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	double duration = 10, exec_after = -1, end;
	long nthreads = 4, i;
	pthread_t *sp;
	int c;

	/* "+": options stop at PROG, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			nthreads = (long)wl_parse_double("threads", optarg, 0);
			break;
		case 'd':
			duration = wl_parse_double("duration", optarg, 0);
			break;
		case 'u':
			park_us = (long)wl_parse_double("park-us", optarg, 1);
			break;
		case 'k':
			if (strcmp(optarg, "sleep") && strcmp(optarg, "cond"))
				wl_usage(USAGE);
			park_cond = !strcmp(optarg, "cond");
			break;
		case 'e':
			exec_after = wl_parse_double("exec-after", optarg, 0);
			break;
		default:
			wl_usage(USAGE);
		}
	}
	if ((exec_after >= 0) != (optind < argc))
		wl_usage(USAGE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	wl_thread_attr(&attr, STACK_SIZE);
	sp = wl_calloc(nthreads, sizeof(*sp));
	for (i = 0; i < nthreads; i++)
		wl_start_thread(&sp[i], &attr, spawner, NULL);
	printf("READY pid=%d threads=%ld\n", getpid(), nthreads);
	fflush(stdout);

	if (exec_after >= 0) {
		before_exec(exec_after);
		printf("EXEC %s\n", argv[optind]);
		fflush(stdout);
		execv(argv[optind], argv + optind);
		wl_die("execv", errno);
	}
	end = wl_now() + duration;
	park_until(end);
	stop = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(sp[i], NULL);
	printf("DONE created=%ld joined=%ld\n", created, joined);
	fflush(stdout);
	free(sp);
	return 0;
}
