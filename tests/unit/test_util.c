/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>
#include "util.h"

static void test_intern_dedups(void **state)
{
	char a[] = "fetch_worker", b[] = "fetch_worker";
	const char *p = pw_intern(a), *q = pw_intern(b);

	assert_non_null(p);
	assert_ptr_equal(p, q);
	/* A copy, not the caller's buffer. */
	assert_ptr_not_equal(p, a);
	a[0] = 'X';
	assert_string_equal(p, "fetch_worker");
	assert_ptr_not_equal(pw_intern("fetch_worker2"), p);
	assert_null(pw_intern(NULL));
	assert_string_equal(pw_intern(""), "");
	assert_ptr_equal(pw_intern(""), pw_intern(""));
}

static void test_intern_survives_growth(void **state)
{
	enum { N = 20000 };
	const char **ptrs = calloc(N, sizeof(*ptrs));
	char buf[32];
	int i;

	assert_non_null(ptrs);
	for (i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "sym_%d", i);
		ptrs[i] = pw_intern(buf);
		assert_non_null(ptrs[i]);
	}
	/* Pointers handed out before the table grew must stay valid and canonical. */
	for (i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "sym_%d", i);
		assert_string_equal(ptrs[i], buf);
		assert_ptr_equal(pw_intern(buf), ptrs[i]);
	}
	free(ptrs);
}

static void test_drop_names(void **state)
{
	static const char *const want[] = {
		"task_storage", "futex_map", "user_stack", "kernel_stack", "scan_record", "unwind",
		"module",	"proc_gone", "site_table", "go_proc",	   "goroutine"};
	int i, j;

	assert_int_equal(sizeof(want) / sizeof(want[0]), PW_DROP_MAX);
	for (i = 0; i < PW_DROP_MAX; i++) {
		assert_string_equal(pw_drop_name(i), want[i]);
		for (j = 0; j < i; j++)
			assert_string_not_equal(pw_drop_name(i), pw_drop_name(j));
	}
	assert_string_equal(pw_drop_name(PW_DROP_MAX), "unknown");
	assert_string_equal(pw_drop_name((enum pw_drop) - 1), "unknown");
}

static void test_parse_duration_ok(void **state)
{
	static const struct {
		const char *in;
		double want;
	} cases[] = {
		{"500ms", 0.5}, {"2s", 2},	{"5m", 300},	{"1h", 3600},
		{"1.5s", 1.5},	{"30", 30},	{"0", 0},	{"0s", 0},
		{"0ms", 0},	{"1ms", 0.001}, {"0.25", 0.25}, {"007s", 7},
		{"1.5m", 90},	{"2.5h", 9000}, {"100ms", 0.1}, {"876000h", PW_DURATION_MAX_S},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -1;

		if (pw_parse_duration(cases[i].in, &v))
			fail_msg("'%s' rejected", cases[i].in);
		if (fabs(v - cases[i].want) > 1e-9)
			fail_msg("'%s' -> %g, want %g", cases[i].in, v, cases[i].want);
	}
}

static void test_parse_duration_rejects(void **state)
{
	static const struct {
		const char *in;
		int err;
	} cases[] = {
		{"", -EINVAL},	      {"-1s", -EINVAL},
		{"+1s", -EINVAL},     {" 1s", -EINVAL},
		{"1s ", -EINVAL},     {"1 s", -EINVAL},
		{"s", -EINVAL},	      {"ms", -EINVAL},
		{"1.", -EINVAL},      {".5s", -EINVAL},
		{"1..5s", -EINVAL},   {"1.5.2s", -EINVAL},
		{"1e3", -EINVAL},     {"0x10", -EINVAL},
		{"inf", -EINVAL},     {"nan", -EINVAL},
		{"1d", -EINVAL},      {"1S", -EINVAL},
		{"1sec", -EINVAL},    {"1msx", -EINVAL},
		{"1m1s", -EINVAL},    {"1\n", -EINVAL},
		{"abc", -EINVAL},     {"1,5s", -EINVAL},
		{"876001h", -ERANGE}, {"99999999999999999999h", -ERANGE},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = 42;
		int err = pw_parse_duration(cases[i].in, &v);

		if (err != cases[i].err)
			fail_msg("'%s' -> %d, want %d", cases[i].in, err, cases[i].err);
		/* Output untouched on failure. */
		assert_true(v == 42);
	}
	assert_int_equal(pw_parse_duration(NULL, &(double){0}), -EINVAL);
}

static void test_parse_duration_overflow_digits(void **state)
{
	char big[400];
	double v = 42;

	/* 399 digits: inf after accumulation, must be -ERANGE and not inf. */
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pw_parse_duration(big, &v), -ERANGE);
	assert_true(v == 42);
	/* Long fraction underflows harmlessly. */
	memset(big, '0', sizeof(big) - 1);
	big[1] = '.';
	big[sizeof(big) - 2] = '1';
	assert_int_equal(pw_parse_duration(big, &v), 0);
	assert_true(v >= 0 && v < 1e-300);
}

static void test_parse_int(void **state)
{
	char buf[64];
	long v = 7;

	assert_int_equal(pw_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(pw_parse_int("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(pw_parse_int("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pw_parse_int("08", 0, 10, &v), 0);
	assert_int_equal(v, 8);
	snprintf(buf, sizeof(buf), "%ld", LONG_MAX);
	assert_int_equal(pw_parse_int(buf, LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MAX);
	snprintf(buf, sizeof(buf), "%ld", LONG_MIN);
	assert_int_equal(pw_parse_int(buf, LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MIN);

	v = 7;
	assert_int_equal(pw_parse_int("101", 0, 100, &v), -ERANGE);
	assert_int_equal(pw_parse_int("-1", 0, 100, &v), -ERANGE);
	assert_int_equal(pw_parse_int("0", 1, 4194304, &v), -ERANGE);
	assert_int_equal(pw_parse_int("99999999999999999999999", LONG_MIN, LONG_MAX, &v), -ERANGE);
	assert_int_equal(pw_parse_int("-99999999999999999999999", LONG_MIN, LONG_MAX, &v), -ERANGE);
	assert_int_equal(pw_parse_int("", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("-", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("+5", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int(" 5", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("5 ", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("5\n", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int("1e3", 0, 10000, &v), -EINVAL);
	assert_int_equal(pw_parse_int("--5", -10, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_int("12abc", 0, 100, &v), -EINVAL);
	assert_int_equal(pw_parse_int(NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_hash64_vectors(void **state)
{
	uint64_t h;

	/* Published FNV-1a 64 test vectors: the ids must match on every machine. */
	assert_true(pw_hash64("", 0, PW_HASH_SEED) == 0xcbf29ce484222325ULL);
	assert_true(pw_hash64("a", 1, PW_HASH_SEED) == 0xaf63dc4c8601ec8cULL);
	assert_true(pw_hash64("foobar", 6, PW_HASH_SEED) == 0x85944171f73967e8ULL);
	/* Chaining equals hashing the concatenation. */
	h = pw_hash64("foo", 3, PW_HASH_SEED);
	assert_true(pw_hash64("bar", 3, h) == 0x85944171f73967e8ULL);
	assert_true(pw_hash64("a", 1, 1) != pw_hash64("a", 1, 2));
	assert_true(pw_hash64(NULL, 0, 99) == 99);
}

static void test_format_age(void **state)
{
	static const struct {
		double in;
		bool lb;
		const char *want;
	} cases[] = {
		{0, false, "0ms"},
		{0.85, false, "850ms"},
		{0.001, false, "1ms"},
		{0.0009, false, "0ms"},
		{0.9999, false, "999ms"},
		{1, false, "1s"},
		{1.005, false, "1s"},
		{41.9, false, "41s"},
		{59.999, false, "59s"},
		{60, false, "1m00s"},
		{125, false, "2m05s"},
		{3599.9, false, "59m59s"},
		{3600, false, "1h00m"},
		{2 * 3600 + 13 * 60 + 59, false, "2h13m"},
		{86399, false, "23h59m"},
		{86400, false, "1d00h"},
		{3 * 86400 + 4 * 3600 + 59 * 60, false, "3d04h"},
		{400 * 86400.0, false, "400d00h"},
		{2 * 3600 + 13 * 60, true, "\xe2\x89\xa5 2h13m"},
		{0.5, true, "\xe2\x89\xa5 500ms"},
		{-5, false, "0ms"},
		{-INFINITY, false, "0ms"},
		{NAN, false, "?"},
		{NAN, true, "\xe2\x89\xa5 ?"},
		{INFINITY, false, "11574074d01h"},
	};
	char buf[PW_AGE_BUFSZ];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pw_format_age(cases[i].in, cases[i].lb, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want))
			fail_msg("%g -> '%s', want '%s'", cases[i].in, buf, cases[i].want);
	}
}

static void test_format_age_small_buffer(void **state)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	pw_format_age(7980, true, buf, 4);
	assert_int_equal(strlen(buf), 3);
	/* len 0 must not write at all. */
	buf[0] = 'q';
	pw_format_age(1, false, buf, 0);
	assert_int_equal(buf[0], 'q');
}

static void test_err_format(void **state)
{
	char out[256] = "";
	FILE *tmp = tmpfile();
	int saved, n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	errno = EBUSY;
	pw_err("failed to %s: %d", "attach", 42);
	assert_int_equal(errno, EBUSY);
	/* A trailing newline from the caller does not make a second line. */
	pw_err("strerror-like\n");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	assert_string_equal(out, "parkwatch: failed to attach: 42\nparkwatch: strerror-like\n");
}

/* Writes text to a temporary file, gzip-compressed when asked; returns its path. */
static const char *config_file(const char *text, bool gz)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/pw-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	if (gz) {
		gzFile f = gzdopen(fd, "w");

		assert_non_null(f);
		assert_int_equal(gzputs(f, text), (int)strlen(text));
		assert_int_equal(gzclose(f), Z_OK);
	} else {
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
		close(fd);
	}
	return path;
}

static void test_config_hz(void **state)
{
	static const struct {
		const char *text;
		bool gz;
		int hz;
	} cases[] = {
		{"CONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_SCHED_HRTICK=y\n", false, 250},
		{"# comment\nCONFIG_HZ=1000\n", true, 1000}, /* /proc/config.gz */
		{"CONFIG_HZ=300", false, 300},		     /* no final newline */
		{"CONFIG_HZ_100=y\n", false, 0},	     /* no CONFIG_HZ= line */
		{"CONFIG_HZ=abc\n", false, 0},
		{"CONFIG_HZ=250x\n", false, 0},
		{"CONFIG_HZ=0\n", false, 0},
		{"CONFIG_HZ=-250\n", false, 0},
		{"CONFIG_HZ=99999999999999999999\n", false, 0},
		{"", false, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = config_file(cases[i].text, cases[i].gz);

		assert_int_equal(pw_config_hz(path), cases[i].hz);
		unlink(path);
	}
	assert_int_equal(pw_config_hz("/nonexistent/config"), 0);
	/* Whatever this kernel says, it is 0 or a sane HZ. */
	assert_true(pw_kernel_hz() == 0 || (pw_kernel_hz() >= 24 && pw_kernel_hz() <= 10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_dedups),
		cmocka_unit_test(test_intern_survives_growth),
		cmocka_unit_test(test_drop_names),
		cmocka_unit_test(test_parse_duration_ok),
		cmocka_unit_test(test_parse_duration_rejects),
		cmocka_unit_test(test_parse_duration_overflow_digits),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_hash64_vectors),
		cmocka_unit_test(test_format_age),
		cmocka_unit_test(test_format_age_small_buffer),
		cmocka_unit_test(test_err_format),
		cmocka_unit_test(test_config_hz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
