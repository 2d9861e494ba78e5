/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for `parkwatch diff`: arbitrary bytes are snapshot A (the
 * whole file, so the last-line logic is fuzzed too), a fixed valid snapshot
 * is B, and whatever parses is diffed both ways and printed in both formats.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *       -Iinclude -Iuser tests/fuzz/fuzz_diff.c user/diff.c -ljansson -o /tmp/fuzz_diff
 *   cp -r tests/fuzz/corpus/diff /tmp/corpus && /tmp/fuzz_diff -max_total_time=30 /tmp/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"

static const char fixed_b[] =
	"{\"schema\":1,\"time\":\"2026-11-29T04:00:20.123Z\",\"parked_threads\":262,"
	"\"parked_goroutines\":0,\"drops\":{\"unwind\":5,\"module\":0},\"sites\":["
	"{\"id\":\"8f3a6c21d90b44e7\",\"kind\":\"thread\",\"pid\":4242,\"comm\":\"leaky\","
	"\"wait\":\"futex\",\"site\":\"fetch_worker (leaky.c:88)\",\"count\":250,"
	"\"oldest_age_s\":61.0},"
	"{\"id\":\"1b2c3d4e5f607182\",\"kind\":\"thread\",\"pid\":4242,\"comm\":\"leaky\","
	"\"wait\":\"futex\",\"site\":null,\"count\":8,\"oldest_age_s\":null},"
	"{\"id\":\"0a1b2c3d4e5f6071\",\"kind\":\"goroutine\",\"pid\":777,\"comm\":\"server\","
	"\"wait\":\"chan send\",\"site\":\"main.handle.func1 (main.go:19)\",\"count\":4}]}\n";

static json_t *b;
static FILE *null_out;

static void check(int ret)
{
	/* The printers only fail on write or allocation errors, neither happens on /dev/null. */
	if (ret)
		abort();
}

static void diff_and_print(json_t *x, json_t *y, bool must_succeed)
{
	struct pw_diff d, view;
	char err[1024];
	int ret;

	ret = pw_diff_compute(x, y, &d, err, sizeof(err));
	/* The loader accepted x, so compute must too: their checks are the same code. */
	if (ret && must_succeed)
		abort();
	if (ret)
		return;
	d.name_a = "a.json";
	d.name_b = "b.json";
	check(pw_diff_print_text(null_out, &d, true));
	check(pw_diff_print_text(null_out, &d, false));
	check(pw_diff_print_json(null_out, &d));
	view = d;
	view.n = d.n_changed;
	check(pw_diff_print_json(null_out, &view));
	pw_diff_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	json_t *a = NULL;
	int ret;

	if (!b) {
		null_out = fopen("/dev/null", "w");
		if (!null_out ||
		    pw_diff_parse_buffer(fixed_b, strlen(fixed_b), &b, err, sizeof(err)))
			abort();
	}
	ret = pw_diff_parse_buffer((const char *)data, size, &a, err, sizeof(err));
	if (ret) {
		/* An error is one line of text, never empty, and the output is untouched. */
		if (a || !err[0] || strchr(err, '\n') || ret >= 0)
			abort();
		return 0;
	}
	diff_and_print(a, b, true);
	diff_and_print(b, a, true);
	diff_and_print(a, a, true);
	json_decref(a);
	return 0;
}
