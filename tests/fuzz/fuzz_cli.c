/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for command-line values: pw_parse_duration(),
 * pw_parse_int() and the option parser that uses them (pw_cli_parse()).
 * Command lines come from scripts, cron lines and unit files written by
 * others; a value either parses strictly into range or is refused, and the
 * parser never reads past an argument.
 *
 * Input: NUL-separated strings. The first is fed to both value parsers; all
 * of them, as argv[1..], to pw_cli_parse() ("-h"/"--help" are skipped: they
 * print the usage and exit, by design).
 *
 *   tests/fuzz/run.sh build 60 fuzz_cli
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "util.h"

#define MAX_ARGS 32

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/*
	 * pw_err() writes through stdio's stderr; the sanitizers and libFuzzer
	 * write to fd 2 directly, so their reports still get out.
	 */
	FILE *null = fopen("/dev/null", "w");

	if (null)
		stderr = null;
	return 0;
}

static void values(const char *s)
{
	char age[PW_AGE_BUFSZ], tiny[4];
	double d = -1;
	long v = 12345;
	int err;

	err = pw_parse_duration(s, &d);
	if (err && (err != -EINVAL && err != -ERANGE))
		abort();
	if (err && d != -1)
		abort(); /* *out_s only written on success */
	if (!err) {
		if (!isfinite(d) || d < 0 || d > PW_DURATION_MAX_S)
			abort();
		pw_format_age(d, true, age, sizeof(age));
		if (strlen(age) >= sizeof(age) - 1)
			abort(); /* PW_AGE_BUFSZ must hold any age */
		pw_format_age(d, false, tiny, sizeof(tiny));
		pw_format_age(-d, false, age, sizeof(age));
	}
	err = pw_parse_int(s, -1000, 4194304, &v);
	if (err && v != 12345)
		abort();
	if (!err && (v < -1000 || v > 4194304))
		abort();
	err = pw_parse_int(s, LONG_MIN, LONG_MAX, &v);
	if (!err && s[0] != '-' && v < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2], *p, *end;
	struct pw_cli cli;
	int argc = 1;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	values(buf);

	argv[0] = "snapshot";
	for (p = buf, end = buf + size; p <= end && argc <= MAX_ARGS; p += strlen(p) + 1) {
		if (!strcmp(p, "-h") || !strncmp(p, "--h", 3) ||
		    (p[0] == '-' && p[1] != '-' && strchr(p, 'h')))
			continue;
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	/*
	 * pw_cli_parse() sets optind = 1, which leaves glibc's getopt inside
	 * the last input's "-abc" cluster if that parse stopped there on an
	 * error: optind = 0 is the full reset (see the report). One process
	 * parses one command line, except top falling back to watch, after a
	 * parse that succeeded.
	 */
	optind = 0;
	getopt(1, (char *[]){"reset", NULL}, "");
	if (pw_cli_parse(argc, argv, "snapshot", "usage\n", &cli) == PW_EXIT_OK) {
		if (cli.npids < 0 || cli.npids > PW_MAX_PIDS || cli.max_frames < 0 ||
		    cli.max_frames > 64 || cli.min_age_s < 0 || cli.interval_s < 0.01 ||
		    cli.window_s < 0.01 || cli.duration_s < 0 || (cli.json && cli.folded))
			abort();
	}
	free(buf);
	return 0;
}
