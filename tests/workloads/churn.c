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
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* noipa (GCC): no inlining, no clones, no identical-code folding: the names are the sites. */
#if defined(__has_attribute) && __has_attribute(noipa)
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif
#define STACK_SIZE (64 * 1024)

static volatile int stop;
static long park_us = 100;
static int park_cond;
static long created, joined; /* atomic */
static pthread_mutex_t never_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER;
static pthread_attr_t attr;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	printf("ERROR %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

static NOINLINE void *short_lived(void *arg)
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

static NOINLINE void *spawner(void *arg)
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
			die("pthread_create", err);
		__atomic_add_fetch(&created, 1, __ATOMIC_RELAXED);
		err = pthread_join(t, NULL);
		if (err)
			die("pthread_join", err);
		__atomic_add_fetch(&joined, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Parks until the deadline: nanosleep in a loop, so a signal cannot cut it short. */
static NOINLINE void park_until(double deadline)
{
	struct timespec ts;
	double left;

	while ((left = deadline - now_s()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Its own loop, so that the site is before_exec and not park_until. */
static NOINLINE void before_exec(double secs)
{
	double deadline = now_s() + secs, left;
	struct timespec ts;

	while ((left = deadline - now_s()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static double parse_num(const char *s, const char *opt, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min) {
		fprintf(stderr, "churn: bad value for --%s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn [--threads N] [--duration S] [--park-us US] "
			"[--park sleep|cond]\n"
			"       churn [--threads N] --exec-after S PROG [ARG...]\n");
	exit(2);
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
	int c, err;

	/* "+": options stop at PROG, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			nthreads = (long)parse_num(optarg, "threads", 0);
			break;
		case 'd':
			duration = parse_num(optarg, "duration", 0);
			break;
		case 'u':
			park_us = (long)parse_num(optarg, "park-us", 1);
			break;
		case 'k':
			if (strcmp(optarg, "sleep") && strcmp(optarg, "cond"))
				usage();
			park_cond = !strcmp(optarg, "cond");
			break;
		case 'e':
			exec_after = parse_num(optarg, "exec-after", 0);
			break;
		default:
			usage();
		}
	}
	if ((exec_after >= 0) != (optind < argc))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	sp = calloc(nthreads ? nthreads : 1, sizeof(*sp));
	if (!sp)
		die("calloc", ENOMEM);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&sp[i], &attr, spawner, NULL);
		if (err)
			die("pthread_create", err);
	}
	printf("READY pid=%d threads=%ld\n", getpid(), nthreads);
	fflush(stdout);

	if (exec_after >= 0) {
		before_exec(exec_after);
		printf("EXEC %s\n", argv[optind]);
		fflush(stdout);
		execv(argv[optind], argv + optind);
		die("execv", errno);
	}
	end = now_s() + duration;
	park_until(end);
	stop = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(sp[i], NULL);
	printf("DONE created=%ld joined=%ld\n", created, joined);
	fflush(stdout);
	free(sp);
	return 0;
}
