/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * deadlock - an ABBA deadlock with a convoy behind it.
 *
 * lock_ab() takes mutex_a then mutex_b; lock_ba() takes mutex_b then mutex_a. A barrier between
 * the two lock calls makes sure each holds its first mutex before asking for the second, so they
 * deadlock every time. Then --convoy N threads call pthread_mutex_lock(&mutex_a) in convoy() and
 * queue behind them forever.
 *
 * Futex words (both mutexes are default, non-robust, non-PI mutexes: a waiter sleeps in
 * futex(FUTEX_WAIT_PRIVATE) on the mutex's __data.__lock, at offset 0, i.e. on &mutex_x itself):
 *   lock_ab thread       holds A, waits on &mutex_b  -> site lock_ab, 1 thread,  futex_words 1
 *   lock_ba thread       holds B, waits on &mutex_a  -> site lock_ba, 1 thread,  futex_words 1
 *   convoy threads (N)   wait on &mutex_a            -> site convoy,  N threads, futex_words 1
 * so the lock_ba thread and the convoy share one word (&mutex_a). The main thread parks in main()
 * (nanosleep).
 *
 * Usage: deadlock [--convoy N] [--duration S]
 *   --convoy N     threads queued on mutex_a behind the deadlock (default 3)
 *   --duration S   exit(0) after S seconds (default: run until killed)
 *
 * stdout, one line each, flushed:
 *   WORDS mutex_a=0x<addr> mutex_b=0x<addr>
 *   READY pid=<pid> convoy=<n>       every thread above is asleep in futex on its word
 *   EXIT                             --duration elapsed, exiting
 * READY is printed only after /proc/self/task/TID/syscall shows each thread in futex() on the
 * word listed above.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* noipa (GCC): no inlining, no .constprop/.isra clones, no identical-code folding. */
#if defined(__has_attribute) && __has_attribute(noipa)
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif
#define STACK_SIZE (256 * 1024)

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;
static volatile pid_t ab_tid, ba_tid, *convoy_tids;

static void die(const char *what, int err)
{
	printf("ERROR %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

/* Is thread @tid asleep in futex() on the word at @word? */
static int task_in_futex(pid_t tid, const void *word)
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
	return sscanf(buf, "%ld %lx", &sys, &arg0) == 2 && sys == SYS_futex &&
	       arg0 == (uintptr_t)word;
}

static void wait_in_futex(volatile pid_t *tid, const void *word)
{
	struct timespec ms = { .tv_nsec = 1000000 };

	while (!*tid || !task_in_futex(*tid, word))
		nanosleep(&ms, NULL);
}

/* Holds A, then blocks forever on B (futex word &mutex_b). */
static NOINLINE void *lock_ab(void *arg __attribute__((unused)))
{
	ab_tid = gettid();
	pthread_mutex_lock(&mutex_a);
	pthread_barrier_wait(&both_hold);
	pthread_mutex_lock(&mutex_b);
	pthread_mutex_unlock(&mutex_b);
	pthread_mutex_unlock(&mutex_a);
	return NULL;
}

/* Holds B, then blocks forever on A (futex word &mutex_a). */
static NOINLINE void *lock_ba(void *arg __attribute__((unused)))
{
	ba_tid = gettid();
	pthread_mutex_lock(&mutex_b);
	pthread_barrier_wait(&both_hold);
	pthread_mutex_lock(&mutex_a);
	pthread_mutex_unlock(&mutex_a);
	pthread_mutex_unlock(&mutex_b);
	return NULL;
}

/* Queues behind the deadlock on A (futex word &mutex_a). */
static NOINLINE void *convoy(void *arg)
{
	convoy_tids[(intptr_t)arg] = gettid();
	pthread_mutex_lock(&mutex_a);
	pthread_mutex_unlock(&mutex_a);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: deadlock [--convoy N] [--duration S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "convoy", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	double duration = -1, left;
	struct timespec start, now, ts;
	pthread_attr_t attr;
	long nconvoy = 3, i;
	pthread_t t;
	char *end;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			nconvoy = strtol(optarg, &end, 10);
			if (*end || end == optarg || nconvoy < 0)
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
	clock_gettime(CLOCK_MONOTONIC, &start);
	convoy_tids = calloc(nconvoy ? nconvoy : 1, sizeof(pid_t));
	if (!convoy_tids)
		die("calloc", ENOMEM);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_barrier_init(&both_hold, NULL, 2);

	err = pthread_create(&t, &attr, lock_ab, NULL);
	if (!err)
		err = pthread_create(&t, &attr, lock_ba, NULL);
	if (err)
		die("pthread_create", err);
	wait_in_futex(&ab_tid, &mutex_b);
	wait_in_futex(&ba_tid, &mutex_a);

	for (i = 0; i < nconvoy; i++) {
		err = pthread_create(&t, &attr, convoy, (void *)(intptr_t)i);
		if (err)
			die("pthread_create", err);
	}
	for (i = 0; i < nconvoy; i++)
		wait_in_futex(&convoy_tids[i], &mutex_a);

	printf("WORDS mutex_a=%p mutex_b=%p\n", (void *)&mutex_a, (void *)&mutex_b);
	printf("READY pid=%d convoy=%ld\n", getpid(), nconvoy);
	fflush(stdout);

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = duration < 0 ? 3600 : duration - (now.tv_sec - start.tv_sec) -
					     (now.tv_nsec - start.tv_nsec) / 1e9;
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
