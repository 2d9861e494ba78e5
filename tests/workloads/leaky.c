/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * leaky - the seed's leak (an abandoned sender on an unbuffered channel), in C with threads,
 * beside flat healthy parked threads.
 *
 * handle_request() makes a per-request channel on the heap, starts fetch_worker() and waits for
 * the answer with chan_recv_timeout(). The fetch is slower than the timeout, so the handler gives
 * up and returns; the worker then blocks forever in its CHAN_SEND, because nobody will ever receive.
 * Each leaked worker waits on the condvar of its own channel: one distinct futex word per leak.
 * Its user stack is: glibc pthread_cond_wait frames -> fetch_worker -> start_thread.
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
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
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

volatile long leaked_total;	/* requests abandoned so far (= leaked threads) */

static long senders_blocked;	/* threads inside CHAN_SEND's wait, leaked or not (atomic) */
static long timeout_ms = 1;
static long fetch_ms = 20;
static pthread_attr_t thread_attr;

static void die(const char *what, int err)
{
	printf("ERROR %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

static struct timespec ms_ts(long ms)
{
	return (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void start_thread_or_die(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, &thread_attr, fn, arg);

	if (err)
		die("pthread_create", err);
}

/*
 * Is thread @tid parked in syscall @nr (with its first argument, the futex word for futex
 * waits, in [lo, hi) unless lo is 0)?
 */
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

static void wait_parked(volatile pid_t *tid, long nr, const void *obj, size_t size)
{
	uintptr_t lo = (uintptr_t)obj;

	while (!*tid || !task_parked(*tid, nr, lo, lo + size))
		sleep_ms(1);
}

/* ---- an unbuffered channel of long ---- */

struct chan {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* the sender and the receiver wait here */
	int full;		/* a value is waiting for a receiver */
	int taken;		/* the receiver took it */
	long val;
	volatile pid_t sender_tid;	/* bookkeeping for LEAKED_DONE only */
};

static struct chan *chan_new(void)
{
	struct chan *ch = calloc(1, sizeof(*ch));
	pthread_condattr_t ca;

	if (!ch)
		die("calloc", ENOMEM);
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
	if (ch->full) {		/* even if the wait timed out: a value that arrived is taken */
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

	nanosleep(&ts, NULL);	/* the slow backend */
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

	start_thread_or_die(&t, fetch_worker, ch);
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
static int pool_jobs;		/* never set: the pool stays idle */
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
	struct timespec hour = { .tv_sec = 3600 };

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
	pthread_t *t = calloc(burst_n, sizeof(*t));
	struct timespec ts = ms_ts((long)(drain_after * 1000));
	long i;

	if (!t)
		die("calloc", ENOMEM);
	for (i = 0; i < burst_n; i++)
		start_thread_or_die(&t[i], burst_worker, (void *)(intptr_t)i);
	for (i = 0; i < burst_n; i++)
		wait_parked(&burst_tids[i], SYS_futex, &burst_cv, sizeof(burst_cv));
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

static long parse_long(const char *s, const char *opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "leaky: bad value for --%s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static double parse_double(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || v < 0) {
		fprintf(stderr, "leaky: bad value for --%s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: leaky [--leaks N] [--rate R] [--pool N] [--sleepers N] [--readers N]\n"
		"             [--duration S] [--burst N] [--drain-after S] [--timeout-ms MS]\n"
		"             [--fetch-ms MS] [--phases K]\n");
	exit(2);
}

static volatile pid_t *tid_array(long n)
{
	volatile pid_t *a = calloc(n ? n : 1, sizeof(pid_t));

	if (!a)
		die("calloc", ENOMEM);
	return a;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "leaks", required_argument, NULL, 'l' },
		{ "rate", required_argument, NULL, 'r' },
		{ "pool", required_argument, NULL, 'p' },
		{ "sleepers", required_argument, NULL, 's' },
		{ "readers", required_argument, NULL, 'R' },
		{ "duration", required_argument, NULL, 'd' },
		{ "burst", required_argument, NULL, 'b' },
		{ "drain-after", required_argument, NULL, 'D' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "fetch-ms", required_argument, NULL, 'f' },
		{ "phases", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
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
			leaks = parse_long(optarg, "leaks");
			break;
		case 'r':
			rate = parse_double(optarg, "rate");
			break;
		case 'p':
			npool = parse_long(optarg, "pool");
			break;
		case 's':
			nsleepers = parse_long(optarg, "sleepers");
			break;
		case 'R':
			nreaders = parse_long(optarg, "readers");
			break;
		case 'd':
			duration = parse_double(optarg, "duration");
			break;
		case 'b':
			burst_n = parse_long(optarg, "burst");
			break;
		case 'D':
			drain_after = parse_double(optarg, "drain-after");
			break;
		case 't':
			timeout_ms = parse_long(optarg, "timeout-ms");
			break;
		case 'f':
			fetch_ms = parse_long(optarg, "fetch-ms");
			break;
		case 'P':
			phases = parse_long(optarg, "phases");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || leaks < -1 || npool < 0 || nsleepers < 0 || nreaders < 0 ||
	    burst_n < 0 || timeout_ms < 0 || fetch_ms <= timeout_ms || (leaks < 0 && rate <= 0) ||
	    phases < 1 || (phases > 1 && leaks <= 0))
		usage();

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked in every thread (they inherit it), taken with sigwait() between phases. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	start = now_s();
	pthread_attr_init(&thread_attr);
	pthread_attr_setstacksize(&thread_attr, STACK_SIZE);
	if (pipe(pipe_fd))
		die("pipe", errno);	/* the write end stays open and unused */

	pool_tids = tid_array(npool);
	sleeper_tids = tid_array(nsleepers);
	reader_tids = tid_array(nreaders);
	burst_tids = tid_array(burst_n);
	for (i = 0; i < npool; i++)
		start_thread_or_die(&t, pool_worker, (void *)(intptr_t)i);
	for (i = 0; i < nsleepers; i++)
		start_thread_or_die(&t, sleeper, (void *)(intptr_t)i);
	for (i = 0; i < nreaders; i++)
		start_thread_or_die(&t, reader, (void *)(intptr_t)i);
	for (i = 0; i < npool; i++)
		wait_parked(&pool_tids[i], SYS_futex, &pool_cv, sizeof(pool_cv));
	for (i = 0; i < nsleepers; i++)
		wait_parked(&sleeper_tids[i], SYS_clock_nanosleep, NULL, 0);
	for (i = 0; i < nreaders; i++)
		wait_parked(&reader_tids[i], SYS_read, NULL, 0);
	printf("READY pid=%d pool=%ld sleepers=%ld readers=%ld\n", getpid(), npool, nsleepers,
	       nreaders);
	fflush(stdout);

	if (burst_n)
		start_thread_or_die(&t, burst_driver, NULL);

	if (leaks > 0) {
		leaked = calloc(leaks * phases, sizeof(*leaked));
		if (!leaked)
			die("calloc", ENOMEM);
	}
	deadline = duration >= 0 ? start + duration : 1e300;
	for (phase = 0; phase < phases; phase++) {
		if (phase > 0) {
			int sig;

			/* --phases: the next batch of --leaks starts on SIGUSR1. */
			sigwait(&usr1, &sig);
		}
		goal = leaks * (phase + 1);
		t0 = now_s();
		for (i = 0; leaks < 0 || leaked_total < goal; i++) {
			struct chan *ch;

			if (rate > 0) {
				double next = t0 + i / rate, now = now_s();
				struct timespec ts;

				if (next > deadline)
					next = deadline;
				ts = ms_ts((long)((next - now) * 1000));
				if (next > now)
					nanosleep(&ts, NULL);
			}
			if (now_s() >= deadline)
				goto out;
			if (handle_request(&ch) == 0)
				continue;	/* answered in time: nothing leaked, try again */
			if (leaked)
				leaked[leaked_total] = ch;
			leaked_total++;
			printf("LEAKED %ld\n", leaked_total);
			fflush(stdout);
		}
		if (leaks <= 0)
			break;
		for (i = 0; i < goal; i++)
			wait_parked(&leaked[i]->sender_tid, SYS_futex, &leaked[i]->cv,
				    sizeof(leaked[i]->cv));
		while (__atomic_load_n(&senders_blocked, __ATOMIC_SEQ_CST) != goal) {
			if (now_s() >= deadline)
				goto out;
			sleep_ms(1);
		}
		printf("LEAKED_DONE %ld\n", leaked_total);
		fflush(stdout);
	}

	for (;;) {
		double left = deadline - now_s();
		struct timespec ts;

		if (left <= 0)
			break;
		ts = ms_ts(left > 3600 ? 3600000 : (long)(left * 1000) + 1);
		nanosleep(&ts, NULL);
	}
out:
	printf("EXIT\n");
	fflush(stdout);
	exit(0);
}
