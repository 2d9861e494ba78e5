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
#define WL_NAME "deadlock"
#include "wl.h"

#define STACK_SIZE (256 * 1024)
#define USAGE "usage: deadlock [--convoy N] [--duration S]\n"

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;
static volatile pid_t ab_tid, ba_tid, *convoy_tids;

/* Waits until thread *@tid sleeps in futex() on @mutex's word (its __data.__lock, at offset 0). */
static void wait_on_mutex(volatile pid_t *tid, pthread_mutex_t *mutex)
{
	wl_wait_parked(tid, SYS_futex, mutex, sizeof(int));
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

int main(int argc, char **argv)
{
	double duration = -1, start;
	pthread_attr_t attr;
	long nconvoy = 3, i;
	pthread_t t;

	wl_parse_count_duration(argc, argv, "convoy", &nconvoy, &duration, USAGE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	start = wl_now();
	convoy_tids = wl_calloc(nconvoy, sizeof(pid_t));
	wl_thread_attr(&attr, STACK_SIZE);
	pthread_barrier_init(&both_hold, NULL, 2);

	wl_start_thread(&t, &attr, lock_ab, NULL);
	wl_start_thread(&t, &attr, lock_ba, NULL);
	wait_on_mutex(&ab_tid, &mutex_b);
	wait_on_mutex(&ba_tid, &mutex_a);

	for (i = 0; i < nconvoy; i++)
		wl_start_thread(&t, &attr, convoy, (void *)(intptr_t)i);
	for (i = 0; i < nconvoy; i++)
		wait_on_mutex(&convoy_tids[i], &mutex_a);

	printf("WORDS mutex_a=%p mutex_b=%p\n", (void *)&mutex_a, (void *)&mutex_b);
	printf("READY pid=%d convoy=%ld\n", getpid(), nconvoy);
	fflush(stdout);

	WL_SLEEP_UNTIL(wl_deadline(start, duration));
	printf("EXIT\n");
	fflush(stdout);
	exit(0);
}
