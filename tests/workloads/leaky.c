/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * leaky - the seed's leak (an abandoned sender on an unbuffered channel), in C with threads,
 * beside flat healthy parked threads.
 *
 * handle_request() makes a per-request channel on the heap, starts fetch_worker() and waits for
 * the answer with chan_recv_timeout(). The fetch is slower than the timeout, so the handler gives
 * up and returns; the worker then blocks forever in its CHAN_SEND, because nobody will ever
 * receive. Each leaked worker waits on the condvar of its own channel: one distinct futex word per
 * leak. Its user stack is: glibc pthread_cond_wait frames -> fetch_worker -> start_thread.
 *
 * Beside it, flat sites that must not be flagged:
 *   pool_worker  --pool N     threads waiting for jobs on ONE shared condvar (one futex word)
 *   sleeper      --sleepers N threads in nanosleep(3600 s) in a loop
 *   reader       --readers N  threads in read() on a pipe nobody writes
 *   burst_worker --burst N    threads parked on one condvar, woken and joined after
 *                             --drain-after S seconds (a burst that drains); the burst is run by
 *                             one extra thread, burst_driver, which exits after the drain
 * The main thread parks in main() (nanosleep) once it is done issuing requests.
 *
 * Usage: leaky [--leaks N] [--rate R] [--pool N] [--sleepers N] [--readers N] [--duration S]
 *              [--burst N] [--drain-after S] [--timeout-ms MS] [--fetch-ms MS]
 *   --leaks N        leak exactly N requests, then stop (default 0; -1 = forever, needs --rate)
 *   --rate R         leaking requests per second (may be fractional; 0 = back to back, default)
 *   --duration S     exit(0) after S seconds, leaking or not (default: run until killed)
 *   --timeout-ms MS  the handler's receive timeout (default 1)
 *   --phases K       leak --leaks N, then N more on each SIGUSR1, K batches in all (default 1)
 *   --fetch-ms MS    how long the fetch takes before the worker sends (default 20, must be
 *                    longer than the timeout)
 *
 * stdout, one line each, flushed:
 *   READY pid=<pid> pool=<n> sleepers=<n> readers=<n>   pool, sleepers and readers all parked
 *   LEAKED <total>          a handler timed out and abandoned its worker (total so far)
 *   LEAKED_DONE <total>     --leaks N reached, and all N leaked workers are parked in CHAN_SEND
 *   BURST_PARKED <n>        the burst's n threads are all parked
 *   BURST_DRAINED <n>       the burst's n threads were woken and joined
 *   EXIT                    --duration elapsed, exiting
 * The count is exact: a request counts as leaked only if the handler really gave up on it (were
 * the worker ever to answer in time, the handler would join it and issue another request).
 * "Parked" is checked in /proc/self/task/TID/{stat,syscall}: state S, in the expected syscall,
 * and for futex waits on the expected futex word.
 */
#define _GNU_SOURCE
#define WL_NAME "leaky"
#include <limits.h>
#include <signal.h>

#include "wl.h"

#define STACK_SIZE (256 * 1024)
#define USAGE                                                                                      \
	"usage: leaky [--leaks N] [--rate R] [--pool N] [--sleepers N] [--readers N]\n"            \
	"             [--duration S] [--burst N] [--drain-after S] [--timeout-ms MS]\n"            \
	"             [--fetch-ms MS] [--phases K]\n"

volatile long leaked_total; /* requests abandoned so far (= leaked threads) */

static long senders_blocked; /* threads inside CHAN_SEND's wait, leaked or not (atomic) */
static long timeout_ms = 1;
static long fetch_ms = 20;
static pthread_attr_t thread_attr;

static struct timespec ms_ts(long ms)
{
	return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
}

/*
 * Park points call nanosleep() themselves, so that the function that parks is the one they are
 * in, not an inlined helper.
 */
static void sleep_ms(long ms)
{
	struct timespec ts = ms_ts(ms);

	nanosleep(&ts, NULL);
}

/* ---- an unbuffered channel of long ---- */

struct chan {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the sender and the receiver wait here */
	int full;	   /* a value is waiting for a receiver */
	int taken;	   /* the receiver took it */
	long val;
	volatile pid_t sender_tid; /* bookkeeping for LEAKED_DONE only */
};

static struct chan *chan_new(void)
{
	struct chan *ch = wl_calloc(1, sizeof(*ch));
	pthread_condattr_t ca;

	pthread_mutex_init(&ch->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ch->cv, &ca);
	pthread_condattr_destroy(&ca);
	return ch;
}

static void chan_free(struct chan *ch)
{
	pthread_cond_destroy(&ch->cv);
	pthread_mutex_destroy(&ch->mu);
	free(ch);
}

/*
 * Send @v and block until a receiver has taken it (forever, if no receiver comes). A macro, not a
 * function: like Go's `ch <- v` it is a statement of the sender, so the sender's own function
 * (fetch_worker) is the first frame outside the C library, as main.handle.func1 is in the seed.
 */
#define CHAN_SEND(ch, v)                                                                           \
	do {                                                                                       \
		pthread_mutex_lock(&(ch)->mu);                                                     \
		(ch)->val = (v);                                                                   \
		(ch)->full = 1;                                                                    \
		pthread_cond_broadcast(&(ch)->cv);                                                 \
		__atomic_add_fetch(&senders_blocked, 1, __ATOMIC_SEQ_CST);                         \
		while (!(ch)->taken)                                                               \
			pthread_cond_wait(&(ch)->cv, &(ch)->mu);                                   \
		__atomic_sub_fetch(&senders_blocked, 1, __ATOMIC_SEQ_CST);                         \
		pthread_mutex_unlock(&(ch)->mu);                                                   \
	} while (0)

/* Receive into @v, waiting at most @ms milliseconds. 0 or -ETIMEDOUT. */
static NOINLINE int chan_recv_timeout(struct chan *ch, long *v, long ms)
{
	struct timespec dl;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ch->mu);
	while (!ch->full && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&ch->cv, &ch->mu, &dl);
	if (ch->full) { /* even if the wait timed out: a value that arrived is taken */
		*v = ch->val;
		ch->full = 0;
		ch->taken = 1;
		pthread_cond_broadcast(&ch->cv);
		err = 0;
	}
	pthread_mutex_unlock(&ch->mu);
	return err ? -ETIMEDOUT : 0;
}

/* ---- the leaking request path ---- */

static NOINLINE long fetch(long seed)
{
	struct timespec ts = ms_ts(fetch_ms);

	nanosleep(&ts, NULL); /* the slow backend */
	return seed * 2654435761L;
}

static NOINLINE void *fetch_worker(void *arg)
{
	struct chan *ch = arg;
	long result;

	ch->sender_tid = gettid();
	result = fetch((long)(uintptr_t)arg);
	CHAN_SEND(ch, result); /* the leak: blocks forever once the handler has gone */
	return NULL;
}

/* Returns 0 if answered in time, or -ETIMEDOUT and *@leaked = the abandoned channel. */
static NOINLINE int handle_request(struct chan **leaked)
{
	struct chan *ch = chan_new();
	pthread_t t;
	long v;

	wl_start_thread(&t, &thread_attr, fetch_worker, ch);
	if (chan_recv_timeout(ch, &v, timeout_ms) == 0) {
		pthread_join(t, NULL);
		chan_free(ch);
		return 0;
	}
	/* The bug: we leave; nobody will ever receive, and fetch_worker never returns. */
	pthread_detach(t);
	*leaked = ch;
	return -ETIMEDOUT;
}

/* ---- flat, healthy parked threads ---- */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static int pool_jobs; /* never set: the pool stays idle */
static int pipe_fd[2];
static volatile pid_t *pool_tids, *sleeper_tids, *reader_tids;

static NOINLINE void *pool_worker(void *arg)
{
	pool_tids[(intptr_t)arg] = gettid();
	pthread_mutex_lock(&pool_mu);
	for (;;) {
		while (!pool_jobs)
			pthread_cond_wait(&pool_cv, &pool_mu);
		pool_jobs--;
	}
	return NULL;
}

static NOINLINE void *sleeper(void *arg)
{
	struct timespec hour = {.tv_sec = 3600};

	sleeper_tids[(intptr_t)arg] = gettid();
	for (;;)
		nanosleep(&hour, NULL);
	return NULL;
}

static NOINLINE void *reader(void *arg)
{
	char c;

	reader_tids[(intptr_t)arg] = gettid();
	for (;;)
		if (read(pipe_fd[0], &c, 1) == 0)
			break;
	return NULL;
}

/* ---- a burst that drains ---- */

static pthread_mutex_t burst_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t burst_cv = PTHREAD_COND_INITIALIZER;
static int burst_go;
static long burst_n;
static double drain_after = 10;
static volatile pid_t *burst_tids;

static NOINLINE void *burst_worker(void *arg)
{
	burst_tids[(intptr_t)arg] = gettid();
	pthread_mutex_lock(&burst_mu);
	while (!burst_go)
		pthread_cond_wait(&burst_cv, &burst_mu);
	pthread_mutex_unlock(&burst_mu);
	return NULL;
}

static NOINLINE void *burst_driver(void *arg __attribute__((unused)))
{
	pthread_t *t = wl_calloc(burst_n, sizeof(*t));
	struct timespec ts = ms_ts((long)(drain_after * 1000));
	long i;

	for (i = 0; i < burst_n; i++)
		wl_start_thread(&t[i], &thread_attr, burst_worker, (void *)(intptr_t)i);
	for (i = 0; i < burst_n; i++)
		wl_wait_parked(&burst_tids[i], SYS_futex, &burst_cv, sizeof(burst_cv));
	printf("BURST_PARKED %ld\n", burst_n);
	fflush(stdout);
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&burst_mu);
	burst_go = 1;
	pthread_cond_broadcast(&burst_cv);
	pthread_mutex_unlock(&burst_mu);
	for (i = 0; i < burst_n; i++)
		pthread_join(t[i], NULL);
	printf("BURST_DRAINED %ld\n", burst_n);
	fflush(stdout);
	free(t);
	return NULL;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"leaks", required_argument, NULL, 'l'},
		{"rate", required_argument, NULL, 'r'},
		{"pool", required_argument, NULL, 'p'},
		{"sleepers", required_argument, NULL, 's'},
		{"readers", required_argument, NULL, 'R'},
		{"duration", required_argument, NULL, 'd'},
		{"burst", required_argument, NULL, 'b'},
		{"drain-after", required_argument, NULL, 'D'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"fetch-ms", required_argument, NULL, 'f'},
		{"phases", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	long leaks = 0, npool = 0, nsleepers = 0, nreaders = 0, i, phases = 1, phase, goal;
	sigset_t usr1;
	double rate = 0, duration = -1, start, deadline, t0;
	struct chan **leaked = NULL;
	pthread_t t;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			leaks = wl_parse_long("leaks", optarg, LONG_MIN);
			break;
		case 'r':
			rate = wl_parse_double("rate", optarg, 0);
			break;
		case 'p':
			npool = wl_parse_long("pool", optarg, LONG_MIN);
			break;
		case 's':
			nsleepers = wl_parse_long("sleepers", optarg, LONG_MIN);
			break;
		case 'R':
			nreaders = wl_parse_long("readers", optarg, LONG_MIN);
			break;
		case 'd':
			duration = wl_parse_double("duration", optarg, 0);
			break;
		case 'b':
			burst_n = wl_parse_long("burst", optarg, LONG_MIN);
			break;
		case 'D':
			drain_after = wl_parse_double("drain-after", optarg, 0);
			break;
		case 't':
			timeout_ms = wl_parse_long("timeout-ms", optarg, LONG_MIN);
			break;
		case 'f':
			fetch_ms = wl_parse_long("fetch-ms", optarg, LONG_MIN);
			break;
		case 'P':
			phases = wl_parse_long("phases", optarg, LONG_MIN);
			break;
		default:
			wl_usage(USAGE);
		}
	}
	if (optind != argc || leaks < -1 || npool < 0 || nsleepers < 0 || nreaders < 0 ||
	    burst_n < 0 || timeout_ms < 0 || fetch_ms <= timeout_ms || (leaks < 0 && rate <= 0) ||
	    phases < 1 || (phases > 1 && leaks <= 0))
		wl_usage(USAGE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked in every thread (they inherit it), taken with sigwait() between phases. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	start = wl_now();
	wl_thread_attr(&thread_attr, STACK_SIZE);
	if (pipe(pipe_fd))
		wl_die("pipe", errno); /* the write end stays open and unused */

	pool_tids = wl_calloc(npool, sizeof(pid_t));
	sleeper_tids = wl_calloc(nsleepers, sizeof(pid_t));
	reader_tids = wl_calloc(nreaders, sizeof(pid_t));
	burst_tids = wl_calloc(burst_n, sizeof(pid_t));
	for (i = 0; i < npool; i++)
		wl_start_thread(&t, &thread_attr, pool_worker, (void *)(intptr_t)i);
	for (i = 0; i < nsleepers; i++)
		wl_start_thread(&t, &thread_attr, sleeper, (void *)(intptr_t)i);
	for (i = 0; i < nreaders; i++)
		wl_start_thread(&t, &thread_attr, reader, (void *)(intptr_t)i);
	for (i = 0; i < npool; i++)
		wl_wait_parked(&pool_tids[i], SYS_futex, &pool_cv, sizeof(pool_cv));
	for (i = 0; i < nsleepers; i++)
		wl_wait_parked(&sleeper_tids[i], SYS_clock_nanosleep, NULL, 0);
	for (i = 0; i < nreaders; i++)
		wl_wait_parked(&reader_tids[i], SYS_read, NULL, 0);
	printf("READY pid=%d pool=%ld sleepers=%ld readers=%ld\n", getpid(), npool, nsleepers,
	       nreaders);
	fflush(stdout);

	if (burst_n)
		wl_start_thread(&t, &thread_attr, burst_driver, NULL);

	if (leaks > 0)
		leaked = wl_calloc(leaks * phases, sizeof(*leaked));
	deadline = wl_deadline(start, duration);
	for (phase = 0; phase < phases; phase++) {
		if (phase > 0) {
			int sig;

			/* --phases: the next batch of --leaks starts on SIGUSR1. */
			sigwait(&usr1, &sig);
		}
		goal = leaks * (phase + 1);
		t0 = wl_now();
		for (i = 0; leaks < 0 || leaked_total < goal; i++) {
			struct chan *ch;

			if (rate > 0) {
				double next = t0 + i / rate, now = wl_now();
				struct timespec ts;

				if (next > deadline)
					next = deadline;
				ts = ms_ts((long)((next - now) * 1000));
				if (next > now)
					nanosleep(&ts, NULL);
			}
			if (wl_now() >= deadline)
				goto out;
			if (handle_request(&ch) == 0)
				continue; /* answered in time: nothing leaked, try again */
			if (leaked)
				leaked[leaked_total] = ch;
			leaked_total++;
			printf("LEAKED %ld\n", leaked_total);
			fflush(stdout);
		}
		if (leaks <= 0)
			break;
		for (i = 0; i < goal; i++)
			wl_wait_parked(&leaked[i]->sender_tid, SYS_futex, &leaked[i]->cv,
				       sizeof(leaked[i]->cv));
		while (__atomic_load_n(&senders_blocked, __ATOMIC_SEQ_CST) != goal) {
			if (wl_now() >= deadline)
				goto out;
			sleep_ms(1);
		}
		printf("LEAKED_DONE %ld\n", leaked_total);
		fflush(stdout);
	}

	WL_SLEEP_UNTIL(deadline);
out:
	printf("EXIT\n");
	fflush(stdout);
	exit(0);
}
