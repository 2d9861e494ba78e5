/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * wl.h - what the test workloads share: errors and the command line, threads, time, and "is this
 * thread parked where it should be" from /proc/self/task/TID/{stat,syscall}.
 *
 * Define WL_NAME (the program's name, for messages) before including this header. It includes
 * the C library headers every workload uses (pthread, stdio, syscall numbers, ...).
 *
 * Nothing here is a park point: the functions that park are the sites the tests look for, so they
 * call nanosleep() or pthread_cond_wait() themselves, or use a macro (WL_SLEEP_UNTIL).
 */
#ifndef WL_H
#define WL_H

#ifndef WL_NAME
#error "define WL_NAME before including wl.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* noipa (GCC): no inlining, no .constprop/.isra clones, no identical-code folding. */
#if defined(__has_attribute) && __has_attribute(noipa)
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif

/* ---- errors and the command line ---- */

/* Prints "ERROR @what: <strerror(@err)>" on stdout and exits 1. */
static inline __attribute__((noreturn)) void wl_die(const char *what, int err)
{
	printf("ERROR %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

/* Prints @text (the usage lines) on stderr and exits 2. */
static inline __attribute__((noreturn)) void wl_usage(const char *text)
{
	fputs(text, stderr);
	exit(2);
}

/* Parses all of @s (base 10) into *@v; false if @s is empty or has anything after the number. */
static inline bool wl_strtol(const char *s, long *v)
{
	char *end;

	*v = strtol(s, &end, 10);
	return end != s && !*end;
}

static inline bool wl_strtod(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && !*end;
}

/*
 * Exits 2 with "WL_NAME: bad value for --@opt: @s" unless the value @s is @ok and errno is 0
 * (errno = 0 before parsing it, for out of range).
 */
static inline void wl_check_value(bool ok, const char *opt, const char *s)
{
	if (!ok || errno) {
		fprintf(stderr, WL_NAME ": bad value for --%s: %s\n", opt, s);
		exit(2);
	}
}

/* The value @s of option --@opt: a whole number in range and >= @min, or wl_check_value() exits. */
static inline long wl_parse_long(const char *opt, const char *s, long min)
{
	long v;

	errno = 0;
	wl_check_value(wl_strtol(s, &v) && v >= min, opt, s);
	return v;
}

static inline double wl_parse_double(const char *opt, const char *s, double min)
{
	double v;

	errno = 0;
	wl_check_value(wl_strtod(s, &v) && v >= min, opt, s);
	return v;
}

/*
 * The command line "[--@count_opt N] [--duration S]": sets *@count and *@duration (both >= 0)
 * from the options given, or wl_usage(@usage) if there is anything else.
 */
static inline void wl_parse_count_duration(int argc, char **argv, const char *count_opt,
					   long *count, double *duration, const char *usage)
{
	const struct option opts[] = {
		{count_opt, required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && wl_strtol(optarg, count) && *count >= 0)
			continue;
		if (c == 'd' && wl_strtod(optarg, duration) && *duration >= 0)
			continue;
		wl_usage(usage);
	}
	if (optind != argc)
		wl_usage(usage);
}

/* ---- memory and threads ---- */

/* calloc() of @n (at least 1) elements, or wl_die(). */
static inline void *wl_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		wl_die("calloc", ENOMEM);
	return p;
}

static inline void wl_thread_attr(pthread_attr_t *attr, size_t stack_size)
{
	pthread_attr_init(attr);
	pthread_attr_setstacksize(attr, stack_size);
}

/* pthread_create(), or wl_die(). */
static inline void wl_start_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
				   void *arg)
{
	int err = pthread_create(t, attr, fn, arg);

	if (err)
		wl_die("pthread_create", err);
}

/* ---- time ---- */

/* CLOCK_MONOTONIC, in seconds. */
static inline double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* When a run of --duration @duration (-1: until killed) started at @start ends. */
static inline double wl_deadline(double start, double duration)
{
	return duration < 0 ? HUGE_VAL : start + duration;
}

/* @secs (>= 0) as a timespec, rounded up so that a sleep of it does not end early. */
static inline struct timespec wl_ts(double secs)
{
	struct timespec ts = {.tv_sec = (time_t)secs};

	ts.tv_nsec = (long)((secs - ts.tv_sec) * 1e9) + 1;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	return ts;
}

/*
 * Sleeps until wl_now() reaches @deadline, in nanosleep()s of at most an hour, so that a signal
 * cannot cut it short. A macro, not a function: the caller is the function that parks.
 */
#define WL_SLEEP_UNTIL(deadline)                                                                   \
	do {                                                                                       \
		double wl_end_ = (deadline), wl_left_;                                             \
		struct timespec wl_ts_;                                                            \
                                                                                                   \
		while ((wl_left_ = wl_end_ - wl_now()) > 0) {                                      \
			wl_ts_ = wl_ts(wl_left_ > 3600 ? 3600 : wl_left_);                         \
			nanosleep(&wl_ts_, NULL);                                                  \
		}                                                                                  \
	} while (0)

/* ---- is this thread parked? ---- */

/* Reads /proc/self/task/@tid/@file into @buf, NUL-terminated; its length, or -1. */
static inline ssize_t wl_task_read(pid_t tid, const char *file, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Thread @tid's state letter from its stat ('R', 'S', 'D', ...), or 0 if unreadable. */
static inline char wl_task_state(pid_t tid)
{
	char buf[512], *p;

	if (wl_task_read(tid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')'); /* after comm, which may hold anything */
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Is thread @tid parked: asleep (state S or D) in syscall @nr, and unless @obj is NULL, with its
 * first argument (the futex word, for futex waits) inside the @size bytes at @obj?
 */
static inline bool wl_task_parked(pid_t tid, long nr, const void *obj, size_t size)
{
	char state = wl_task_state(tid), buf[512];
	unsigned long arg0;
	long sys;

	if ((state != 'S' && state != 'D') || wl_task_read(tid, "syscall", buf, sizeof(buf)) < 0)
		return false;
	if (sscanf(buf, "%ld %lx", &sys, &arg0) != 2 || sys != nr)
		return false;
	return !obj || (arg0 >= (uintptr_t)obj && arg0 - (uintptr_t)obj < size);
}

/*
 * Waits, polling every millisecond, until *@tid is set (by the thread itself) and that thread is
 * wl_task_parked(*@tid, @nr, @obj, @size).
 */
static inline void wl_wait_parked(volatile pid_t *tid, long nr, const void *obj, size_t size)
{
	struct timespec ms = {.tv_nsec = 1000000};

	while (!*tid || !wl_task_parked(*tid, nr, obj, size))
		nanosleep(&ms, NULL);
}

#endif /* WL_H */
