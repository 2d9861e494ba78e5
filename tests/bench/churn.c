/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * churn - a thread create/exit benchmark workload: W worker threads each create a thread that
 * returns at once and join it, over and over. Every cycle is a clone, an exit, a park of the
 * joiner (futex wait on the child's tid) and a wake-up: the sched_switch, task storage and
 * process-exit paths of a tracer, under the highest thread turnover a program reaches.
 *
 * Usage: churn [--threads N] [--workers W] [--no-pin]
 *   --threads N   threads created (and joined) in all (default 20000)
 *   --workers W   creating threads, each doing N/W cycles (default 2)
 *   --no-pin      leave placement to the scheduler. By default worker i is pinned to the i-th
 *                 allowed CPU and its children inherit that: unpinned, a child started on the
 *                 other CPU or not swings the rate by 2x between runs (21k..47k threads/s seen
 *                 on one 2-core VM), which hides a 5% effect under any number of repeats.
 *
 * stdout: RESULT threads=<n> elapsed_s=<s> rate=<threads per s>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long cycles;
static int pin = 1;
static cpu_set_t allowed;
static pthread_barrier_t start_barrier;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *child(void *arg)
{
	return arg;
}

/* The n-th CPU of the allowed set, wrapping around. */
static int nth_allowed_cpu(long n)
{
	int cpu, count = CPU_COUNT(&allowed), k = -1;

	n %= count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed) && ++k == n)
			return cpu;
	return -1;
}

static void *worker(void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	long i;
	int err, cpu;

	if (pin && (cpu = nth_allowed_cpu((long)arg)) >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		err = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
		if (err) {
			fprintf(stderr, "churn: pinning to CPU %d: %s\n", cpu, strerror(err));
			exit(1);
		}
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < cycles; i++) {
		err = pthread_create(&t, &attr, child, NULL);
		if (err) {
			fprintf(stderr, "churn: pthread_create: %s\n", strerror(err));
			exit(1);
		}
		pthread_join(t, NULL);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn [--threads N] [--workers W] [--no-pin]\n");
	exit(2);
}

static long parse_long(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"threads", required_argument, NULL, 'n'},
					     {"workers", required_argument, NULL, 'w'},
					     {"no-pin", no_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	long nthreads = 20000, nworkers = 2, i;
	pthread_t *tids;
	double t0, t1;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nthreads = parse_long(optarg);
			break;
		case 'w':
			nworkers = parse_long(optarg);
			break;
		case 'P':
			pin = 0;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	cycles = nthreads / nworkers;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) || CPU_COUNT(&allowed) == 0) {
		fprintf(stderr, "churn: sched_getaffinity: %s\n", strerror(errno));
		return 1;
	}
	tids = calloc(nworkers, sizeof(*tids));
	if (!tids) {
		fprintf(stderr, "churn: out of memory\n");
		return 1;
	}
	pthread_barrier_init(&start_barrier, NULL, nworkers + 1);
	for (i = 0; i < nworkers; i++) {
		err = pthread_create(&tids[i], NULL, worker, (void *)i);
		if (err) {
			fprintf(stderr, "churn: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	pthread_barrier_wait(&start_barrier);
	t0 = now_s();
	for (i = 0; i < nworkers; i++)
		pthread_join(tids[i], NULL);
	t1 = now_s();
	printf("RESULT threads=%ld elapsed_s=%.6f rate=%.1f\n", cycles * nworkers, t1 - t0,
	       cycles * nworkers / (t1 - t0));
	return 0;
}
