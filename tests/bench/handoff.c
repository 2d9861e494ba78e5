/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * handoff - a futex-heavy benchmark workload: thread pairs hand a token back and forth through a
 * mutex and a condition variable. Both threads of a pair are pinned to the same core, so every
 * hand-off is a futex wake, a futex wait and a context switch on that core.
 *
 * Usage: handoff [--pairs N] [--handoffs N] [--first-cpu C] [--no-pin] [--start-delay-ms MS]
 *   --pairs N           thread pairs (default 2); pair i runs on CPU (C + i) % ncpus
 *   --first-cpu C       the CPU of pair 0 (default 0)
 *   --handoffs N        token passes per pair (default 250000)
 *   --no-pin            do not pin the pairs
 *   --start-delay-ms MS print READY, wait MS milliseconds, then start (default: no READY line)
 *
 * stdout, one line each, flushed:
 *   READY pid=<pid>                                    (with --start-delay-ms)
 *   RESULT handoffs=<total> elapsed_s=<s> rate=<handoffs per s>
 * The time runs from the moment every thread is pinned and waiting at a barrier to the moment
 * the last pair finishes: thread creation and exit are not measured.
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
#include <unistd.h>

struct pair {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int turn;
	long passes; /* per thread */
	int cpu;
};

struct side {
	struct pair *p;
	int me;
};

static pthread_barrier_t start_barrier;
static int pin = 1;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *hand_off(void *arg)
{
	struct side *s = arg;
	struct pair *p = s->p;
	long i;

	if (pin) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(p->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < p->passes; i++) {
		pthread_mutex_lock(&p->mu);
		while (p->turn != s->me)
			pthread_cond_wait(&p->cv, &p->mu);
		p->turn = !s->me;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: handoff [--pairs N] [--handoffs N] [--first-cpu C] [--no-pin] "
			"[--start-delay-ms MS]\n");
	exit(2);
}

static long parse_long(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"pairs", required_argument, NULL, 'p'},
					     {"handoffs", required_argument, NULL, 'n'},
					     {"no-pin", no_argument, NULL, 'P'},
					     {"first-cpu", required_argument, NULL, 'c'},
					     {"start-delay-ms", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	long npairs = 2, handoffs = 250000, delay_ms = -1, first_cpu = 0, i;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct pair *pairs;
	struct side *sides;
	pthread_t *tids;
	double t0, t1;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			npairs = parse_long(optarg, 1);
			break;
		case 'n':
			handoffs = parse_long(optarg, 2);
			break;
		case 'P':
			pin = 0;
			break;
		case 'c':
			first_cpu = parse_long(optarg, 0);
			break;
		case 'd':
			delay_ms = parse_long(optarg, 0);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (ncpus < 1)
		ncpus = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pairs = calloc(npairs, sizeof(*pairs));
	sides = calloc(2 * npairs, sizeof(*sides));
	tids = calloc(2 * npairs, sizeof(*tids));
	if (!pairs || !sides || !tids) {
		fprintf(stderr, "handoff: out of memory\n");
		return 1;
	}
	pthread_barrier_init(&start_barrier, NULL, 2 * npairs + 1);
	for (i = 0; i < npairs; i++) {
		pthread_mutex_init(&pairs[i].mu, NULL);
		pthread_cond_init(&pairs[i].cv, NULL);
		pairs[i].passes = handoffs / 2;
		pairs[i].cpu = (first_cpu + i) % ncpus;
	}
	for (i = 0; i < 2 * npairs; i++) {
		sides[i].p = &pairs[i / 2];
		sides[i].me = i % 2;
		err = pthread_create(&tids[i], NULL, hand_off, &sides[i]);
		if (err) {
			fprintf(stderr, "handoff: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	if (delay_ms >= 0) {
		struct timespec ts = {.tv_sec = delay_ms / 1000,
				      .tv_nsec = (delay_ms % 1000) * 1000000L};

		printf("READY pid=%d\n", getpid());
		nanosleep(&ts, NULL);
	}
	pthread_barrier_wait(&start_barrier);
	t0 = now_s();
	for (i = 0; i < 2 * npairs; i++)
		pthread_join(tids[i], NULL);
	t1 = now_s();
	printf("RESULT handoffs=%ld elapsed_s=%.6f rate=%.1f\n", npairs * (handoffs / 2) * 2,
	       t1 - t0, npairs * (handoffs / 2) * 2 / (t1 - t0));
	return 0;
}
