/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "export.h"
#include "prom.h"
#include "util.h"

/* 2026-11-29T04:00:00.123Z */
#define T0 1795924800.123
#define MAXS 64

/* ---- fixtures ---- */

struct fixture {
	struct pw_snapshot snap;
	struct pw_site sites[MAXS];
};

static struct pw_site *add_site(struct fixture *fx, int pid, const char *comm, const char *label,
				const char *wait, int count, double age)
{
	struct pw_site *s = &fx->sites[fx->snap.nsites++];

	memset(s, 0, sizeof(*s));
	s->id = 0x1000 + fx->snap.nsites;
	s->kind = PW_KIND_THREAD;
	s->pid = pid;
	s->ns_pid = pid;
	/* comm is a 16-byte array the kernel need not terminate: copy without the NUL. */
	memcpy(s->comm, comm, strnlen(comm, sizeof(s->comm)));
	s->label = label;
	s->wait = wait;
	s->count = count;
	s->futex_words = !strcmp(wait, "futex") ? count : 0;
	s->oldest_age_s = age;
	fx->snap.sites = fx->sites;
	fx->snap.parked_threads += count;
	return s;
}

static void fixture_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->snap.time = T0;
	fx->snap.sites = fx->sites;
}

static const struct pw_prom_opts default_opts = {
	.max_sites = 20,
	.version = "1.2.3",
	.scan_duration_s = 0.0125,
	.interval_s = 15,
};

/* ---- promtool ---- */

static bool ci(void)
{
	const char *v = getenv("CI");

	return v && !strcmp(v, "true");
}

static bool have_promtool(void)
{
	return system("command -v promtool >/dev/null 2>&1") == 0;
}

/*
 * `promtool check metrics` must print nothing and exit 0 on every file we
 * produce (it also lints names, units, HELP and TYPE). Without promtool this
 * is skipped here; test_promtool_present fails in CI, skips elsewhere.
 */
static void promtool_accepts(const char *text)
{
	char path[] = "/tmp/pw_prom_XXXXXX", cmd[128], out[4096];
	size_t n = 0;
	FILE *p;
	int fd, status;

	if (!have_promtool())
		return;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	status = pclose(p);
	unlink(path);
	if (n || status)
		fprintf(stderr, "promtool (status %d) on:\n%s\nsaid:\n%s\n", status, text, out);
	assert_int_equal(n, 0);
	assert_int_equal(status, 0);
}

/* The exposition of snap, already checked by promtool; free() it. */
static char *render(const struct pw_snapshot *snap, const struct pw_prom_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(pw_prom_write(f, snap, o), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(buf), len);
	promtool_accepts(buf);
	return buf;
}

static char *escaped(const char *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	pw_prom_escape(f, s, n);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Number of lines of text that start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* The value at the end of a sample line. */
static double line_value(const char *line)
{
	const char *sp = line + strcspn(line, "\n");

	while (sp > line && sp[-1] != ' ')
		sp--;
	return strtod(sp, NULL);
}

/* The value of the one sample line that starts with prefix (the name and labels). */
static double sample(const char *text, const char *prefix)
{
	const char *p = text;
	double v = NAN;
	int n = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, strlen(prefix))) {
			v = line_value(p);
			n++;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	assert_int_equal(n, 1);
	return v;
}

#define SERIES(name, pid, comm, site, wait)                                                        \
	name "{pid=\"" #pid "\",comm=\"" comm "\",site=\"" site "\",wait=\"" wait                  \
	     "\",kind=\"thread\"} "

/* ---- escaping ---- */

static void test_escape_hostile(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "plain"},
		{"a\"b", "a\\\"b"},
		{"back\\slash", "back\\\\slash"},
		{"two\nlines", "two\\nlines"},
		{"\\\"\n", "\\\\\\\"\\n"},
		/* Control bytes other than newline: legal, but they would garble the file. */
		{"cr\rtab\tesc\x1b"
		 "del\x7f",
		 "cr\xef\xbf\xbdtab\xef\xbf\xbd"
		 "esc\xef\xbf\xbd"
		 "del\xef\xbf\xbd"},
		/* Valid UTF-8 passes: 2, 3 and 4 bytes. */
		{"f\xc3\xbc\xe2\x89\xa5\xf0\x9f\x90\x9b", "f\xc3\xbc\xe2\x89\xa5\xf0\x9f\x90\x9b"},
		/* Invalid bytes, one U+FFFD each: a lone continuation, 0xff, a lead at the end. */
		{"x\x80y\xffz\xe2", "x\xef\xbf\xbdy\xef\xbf\xbdz\xef\xbf\xbd"},
		/* A truncated sequence followed by ASCII keeps the ASCII. */
		{"\xe2\x89q", "\xef\xbf\xbd\xef\xbf\xbdq"},
		/* Overlong '/', a surrogate, past U+10FFFF: all malformed. */
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"", ""},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in, SIZE_MAX);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static void test_escape_bounded(void **state)
{
	/* A 16-byte comm without a NUL: exactly n bytes, nothing past them. */
	char comm[24] = "0123456789abcdefGARBAGE";
	char *got = escaped(comm, 16);

	assert_string_equal(got, "0123456789abcdef");
	free(got);
	/* A multi-byte sequence cut by n is invalid, never read past n. */
	got = escaped("ab\xc3\xbc", 3);
	assert_string_equal(got, "ab\xef\xbf\xbd");
	free(got);
	/* NUL ends the value before n. */
	got = escaped("ab\0cd", 5);
	assert_string_equal(got, "ab");
	free(got);
}

static void test_hostile_labels_in_file(void **state)
{
	struct fixture fx;
	char *text;

	fixture_init(&fx);
	/* 16 bytes, no NUL: a quote, a backslash, a newline and an invalid byte. */
	add_site(&fx, 7,
		 "ev\"il\\com\nm\xff\xfe"
		 "abc",
		 "main (le\"aky.c:1)", "futex", 3, 1.5);
	add_site(&fx, 7,
		 "ev\"il\\com\nm\xff\xfe"
		 "abc",
		 "std::vector<\xc3\x28>\\::f\n", "read", 2, 2.0);
	text = render(&fx.snap, &default_opts);
	assert_non_null(strstr(text, "parkwatch_parked_threads{pid=\"7\",comm=\"ev\\\"il\\\\com\\nm"
				     "\xef\xbf\xbd\xef\xbf\xbd"
				     "abc\",site=\"main (le\\\"aky.c:1)\",wait=\"futex\","
				     "kind=\"thread\"} 3\n"));
	assert_non_null(
		strstr(text, "site=\"std::vector<\xef\xbf\xbd(>\\\\::f\\n\",wait=\"read\""));
	/* The hostile newline never starts a line. */
	assert_int_equal(count_lines(text, "m\xef\xbf\xbd"), 0);
	free(text);
}

/* ---- series: cardinality, merging, ordering ---- */

static void test_cardinality_other(void **state)
{
	static char labels[25][32];
	struct fixture fx;
	struct pw_site *s;
	char *text;
	int i;

	fixture_init(&fx);
	/* pid 100: 25 sites with 1..25 threads, site_07 is a suspect with an old member. */
	for (i = 0; i < 25; i++) {
		snprintf(labels[i], sizeof(labels[i]), "site_%02d", i + 1);
		s = add_site(&fx, 100, "big", labels[i], i % 2 ? "futex" : "nanosleep", i + 1,
			     10 + i);
		s->has_trend = true;
		s->growth_per_min = 0.5;
		s->trend = "flat";
	}
	fx.sites[6].oldest_age_s = 999;
	fx.sites[6].leak_suspect = true;
	/* pid 200: 3 sites, under the limit: no "other". */
	for (i = 0; i < 3; i++) {
		s = add_site(&fx, 200, "small", labels[i], "futex", 5, 1);
		s->has_trend = true;
	}
	text = render(&fx.snap, &default_opts);
	/* 20 kept + other for pid 100, 3 for pid 200. */
	assert_int_equal(count_lines(text, "parkwatch_parked_threads{"), 24);
	assert_int_equal(count_lines(text, "parkwatch_parked_threads{pid=\"100\""), 21);
	/* The 5 smallest (1..5) are summed: 15 threads, their oldest age, their growth. */
	assert_int_equal(count_lines(text, SERIES("parkwatch_parked_threads", 100, "big", "site_05",
						  "nanosleep")),
			 0);
	assert_int_equal(count_lines(text, SERIES("parkwatch_parked_threads", 100, "big", "site_06",
						  "futex")),
			 1);
	assert_true(sample(text,
			   SERIES("parkwatch_parked_threads", 100, "big", "other", "other")) == 15);
	assert_true(sample(text, SERIES("parkwatch_site_oldest_park_age_seconds", 100, "big",
					"other", "other")) == 14);
	assert_true(sample(text, SERIES("parkwatch_site_growth_per_minute", 100, "big", "other",
					"other")) == 2.5);
	assert_true(sample(text, SERIES("parkwatch_site_futex_words", 100, "big", "other",
					"other")) == 2 + 4);
	/* site_07's 7 threads are kept, with its verdict. */
	assert_true(sample(text, SERIES("parkwatch_site_leak_suspect", 100, "big", "site_07",
					"nanosleep")) == 1);
	assert_true(sample(text, SERIES("parkwatch_site_leak_suspect", 100, "big", "other",
					"other")) == 0);
	assert_int_equal(count_lines(text, "parkwatch_parked_threads{pid=\"200\""), 3);
	assert_int_equal(count_lines(text, "parkwatch_parked_threads{pid=\"200\",comm=\"small\","
					   "site=\"other\""),
			 0);
	free(text);
}

static void test_cardinality_sum_preserved(void **state)
{
	struct pw_prom_opts o = default_opts;
	struct fixture fx;
	static char labels[40][16];
	int i, max, total = 0;

	fixture_init(&fx);
	for (i = 0; i < 40; i++) {
		snprintf(labels[i], sizeof(labels[i]), "f%d", i);
		/* Ties on purpose: the cut must still be deterministic. */
		add_site(&fx, 4242, "svc", labels[i], "futex", 1 + i % 7, i % 3);
		total += 1 + i % 7;
	}
	for (max = 0; max <= 41; max += 1) {
		char *text, *again, *line;
		double sum = 0;
		int n = 0;

		o.max_sites = max;
		text = render(&fx.snap, &o);
		again = render(&fx.snap, &o);
		assert_string_equal(text, again);
		for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
			if (!strncmp(line, "parkwatch_parked_threads{", 25)) {
				sum += line_value(line);
				n++;
			}
		}
		assert_true(sum == total);
		assert_int_equal(n, max >= 40 ? 40 : max + 1);
		assert_int_equal(count_lines(text,
					     "parkwatch_parked_threads{pid=\"4242\",comm=\"svc\","
					     "site=\"other\""),
				 max >= 40 ? 0 : 1);
		free(text);
		free(again);
	}
}

static void test_duplicate_labels_merged(void **state)
{
	struct fixture fx;
	char *text;

	fixture_init(&fx);
	/* Two stacks (ids) with the same first program frame: one series, or Prometheus rejects. */
	add_site(&fx, 5, "leaky", "fetch_worker (leaky.c:88)", "futex", 30, 40);
	add_site(&fx, 5, "leaky", "fetch_worker (leaky.c:88)", "futex", 10, 90);
	add_site(&fx, 5, "leaky", "fetch_worker (leaky.c:88)", "nanosleep", 1, 5);
	text = render(&fx.snap, &default_opts);
	assert_true(sample(text, SERIES("parkwatch_parked_threads", 5, "leaky",
					"fetch_worker (leaky.c:88)", "futex")) == 40);
	assert_true(sample(text, SERIES("parkwatch_site_oldest_park_age_seconds", 5, "leaky",
					"fetch_worker (leaky.c:88)", "futex")) == 90);
	assert_true(sample(text, SERIES("parkwatch_parked_threads", 5, "leaky",
					"fetch_worker (leaky.c:88)", "nanosleep")) == 1);
	free(text);
}

static void test_unlabelled_sites(void **state)
{
	struct pw_frame frames[] = {
		{.addr = 0x7f0000001000,
		 .module = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		 .func = "__futex_abstimed_wait_common"},
		{.addr = 0x55d0c0a0129a, .offset = 0x129a, .module = "/opt/app/bin/app"},
	};
	struct fixture fx;
	struct pw_site *s;
	char *text;

	fixture_init(&fx);
	/* No user frame at all, no wait kind: "unknown", never an empty or missing label. */
	add_site(&fx, 9, "app", NULL, "futex", 2, 1)->wait = NULL;
	/* Frames but no collector label: the first program frame, as the table shows it. */
	s = add_site(&fx, 9, "app", NULL, "futex", 3, 1);
	s->frames = frames;
	s->nframes = 2;
	text = render(&fx.snap, &default_opts);
	assert_true(sample(text, SERIES("parkwatch_parked_threads", 9, "app", "unknown",
					"unknown")) == 2);
	assert_true(sample(text, SERIES("parkwatch_parked_threads", 9, "app", "app+0x129a",
					"futex")) == 3);
	free(text);
}

static void test_stable_ordering(void **state)
{
	struct fixture a, b;
	char *ta, *tb, *p10, *p9;
	int i;

	fixture_init(&a);
	fixture_init(&b);
	add_site(&a, 10, "ten", "zeta", "futex", 1, 1);
	add_site(&a, 9, "nine", "beta", "futex", 50, 1);
	add_site(&a, 9, "nine", "alpha", "read", 2, 1);
	add_site(&a, 10, "ten", "alpha", "futex", 7, 1);
	add_site(&a, 9, "nine", "alpha", "futex", 2, 1);
	/* Same sites, reversed input order: the same bytes out. */
	for (i = a.snap.nsites - 1; i >= 0; i--)
		b.sites[b.snap.nsites++] = a.sites[i];
	b.snap.parked_threads = a.snap.parked_threads;
	ta = render(&a.snap, &default_opts);
	tb = render(&b.snap, &default_opts);
	assert_string_equal(ta, tb);
	/* pid numerically (9 < 10, not "10" < "9"), then site, then wait; not by count. */
	p9 = strstr(ta, SERIES("parkwatch_parked_threads", 9, "nine", "alpha", "futex"));
	assert_non_null(p9);
	assert_true(p9 <
		    strstr(ta, SERIES("parkwatch_parked_threads", 9, "nine", "alpha", "read")));
	assert_true(strstr(ta, SERIES("parkwatch_parked_threads", 9, "nine", "alpha", "read")) <
		    strstr(ta, SERIES("parkwatch_parked_threads", 9, "nine", "beta", "futex")));
	p10 = strstr(ta, SERIES("parkwatch_parked_threads", 10, "ten", "alpha", "futex"));
	assert_true(strstr(ta, SERIES("parkwatch_parked_threads", 9, "nine", "beta", "futex")) <
		    p10);
	assert_true(p10 <
		    strstr(ta, SERIES("parkwatch_parked_threads", 10, "ten", "zeta", "futex")));
	/* Counts change, order does not: diffs of the file show values only. */
	a.sites[0].count = 1000;
	free(tb);
	tb = render(&a.snap, &default_opts);
	assert_true(strstr(tb, SERIES("parkwatch_parked_threads", 10, "ten", "alpha", "futex")) <
		    strstr(tb, SERIES("parkwatch_parked_threads", 10, "ten", "zeta", "futex")));
	free(ta);
	free(tb);
}

/* ---- families ---- */

/*
 * Every family's HELP and TYPE exactly once, HELP then TYPE, before all of its
 * samples, which are contiguous; no family without samples.
 */
static void check_families(const char *text)
{
	char *copy = strdup(text), *line, *save = NULL;
	char seen[32][64];
	char current[64] = "";
	int nseen = 0, i, samples = 0;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];

		if (!strncmp(line, "# HELP ", 7)) {
			assert_true(current[0] == 0 || samples > 0);
			sscanf(line + 7, "%63s", name);
			for (i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], name);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(current, sizeof(current), "%s", name);
			samples = -1; /* TYPE must follow */
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(samples, -1);
			sscanf(line + 7, "%63s", name);
			assert_string_equal(name, current);
			samples = 0;
			continue;
		}
		assert_true(line[0] != '#');
		assert_int_equal(sscanf(line, "%63[a-z_]", name), 1);
		assert_string_equal(name, current);
		samples++;
	}
	assert_true(samples > 0);
	free(copy);
}

static void test_help_type_once(void **state)
{
	struct fixture fx;
	struct pw_site *s;
	char *text;

	fixture_init(&fx);
	add_site(&fx, 1, "a", "x", "futex", 1, 1);
	add_site(&fx, 2, "b", "y", "futex", 1, 1);
	text = render(&fx.snap, &default_opts);
	check_families(text);
	assert_int_equal(count_lines(text, "# TYPE parkwatch_parked_threads gauge"), 1);
	assert_int_equal(count_lines(text, "# TYPE parkwatch_drops_total counter"), 1);
	/* No goroutine sites: no goroutine family, but the host total is always there. */
	assert_int_equal(count_lines(text, "# HELP parkwatch_parked_goroutines "), 0);
	assert_true(sample(text, "parkwatch_host_parked_goroutines ") == 0);
	free(text);

	s = add_site(&fx, 3, "gosvc", "main.handle.func1 (main.go:19)", "chan send", 1000, 60);
	s->kind = PW_KIND_GOROUTINE;
	fx.snap.parked_goroutines = 1000;
	text = render(&fx.snap, &default_opts);
	check_families(text);
	assert_true(sample(text, "parkwatch_parked_goroutines{pid=\"3\",comm=\"gosvc\","
				 "site=\"main.handle.func1 (main.go:19)\",wait=\"chan send\","
				 "kind=\"goroutine\"} ") == 1000);
	/* Goroutines are not threads, and have no futex words. */
	assert_int_equal(count_lines(text, "parkwatch_parked_threads{pid=\"3\""), 0);
	assert_int_equal(count_lines(text, "parkwatch_site_futex_words{pid=\"3\""), 0);
	assert_int_equal(count_lines(text, "parkwatch_site_oldest_park_age_seconds{pid=\"3\""), 1);
	assert_true(sample(text, "parkwatch_host_parked_goroutines ") == 1000);
	free(text);

	/* An empty scan is still a valid file with every fixed family. */
	fixture_init(&fx);
	text = render(&fx.snap, &default_opts);
	check_families(text);
	assert_int_equal(count_lines(text, "# HELP parkwatch_parked_threads "), 0);
	free(text);
}

static void test_trends_only_with_history(void **state)
{
	struct pw_prom_opts once = default_opts;
	struct fixture fx;
	struct pw_site *s;
	char *text;

	fixture_init(&fx);
	add_site(&fx, 1, "a", "x", "futex", 4, 1);
	once.interval_s = 0;
	once.scan_duration_s = -1;
	/* --once: no history, so no growth or verdict, rather than a made-up 0. */
	text = render(&fx.snap, &once);
	assert_null(strstr(text, "parkwatch_site_growth_per_minute"));
	assert_null(strstr(text, "parkwatch_site_leak_suspect"));
	assert_null(strstr(text, "parkwatch_scan_interval_seconds"));
	assert_null(strstr(text, "parkwatch_scan_duration_seconds"));
	free(text);

	s = &fx.sites[0];
	s->has_trend = true;
	s->growth_per_min = 598.25;
	s->leak_suspect = true;
	s->trend = "rising";
	text = render(&fx.snap, &default_opts);
	assert_true(sample(text, SERIES("parkwatch_site_growth_per_minute", 1, "a", "x",
					"futex")) == 598.25);
	assert_true(sample(text, SERIES("parkwatch_site_leak_suspect", 1, "a", "x", "futex")) == 1);
	assert_true(sample(text, "parkwatch_scan_interval_seconds ") == 15);
	assert_true(sample(text, "parkwatch_scan_duration_seconds ") == 0.0125);
	free(text);
}

static void test_values_and_last_line(void **state)
{
	struct pw_prom_opts o = default_opts;
	struct pw_drops drops = {0};
	struct fixture fx;
	const char *last;
	char *text, *p;
	int i;

	fixture_init(&fx);
	add_site(&fx, 1, "a", "x", "futex", 4, NAN)->has_trend = true;
	fx.sites[0].growth_per_min = INFINITY;
	fx.snap.drops.n[PW_DROP_UNWIND] = 999; /* ignored: o.drops wins */
	for (i = 0; i < PW_DROP_MAX; i++)
		drops.n[i] = 10 + i;
	o.drops = &drops;
	text = render(&fx.snap, &o);
	/* Unknown stays unknown, in Prometheus' spelling. */
	assert_non_null(strstr(text, "{pid=\"1\",comm=\"a\",site=\"x\",wait=\"futex\","
				     "kind=\"thread\"} NaN\n"));
	assert_non_null(strstr(text, "kind=\"thread\"} +Inf\n"));
	/* Every reason, sorted by name, cumulative values as given. */
	assert_int_equal(count_lines(text, "parkwatch_drops_total{reason=\""), PW_DROP_MAX);
	for (i = 0; i < PW_DROP_MAX; i++) {
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "parkwatch_drops_total{reason=\"%s\"} ",
			 pw_drop_name(i));
		assert_true(sample(text, prefix) == 10 + i);
	}
	p = strstr(text, "parkwatch_drops_total{reason=\"futex_map\"}");
	assert_true(p && p < strstr(text, "parkwatch_drops_total{reason=\"unwind\"}"));
	assert_true(sample(text, "parkwatch_build_info{version=\"1.2.3\"} ") == 1);
	assert_true(sample(text, "parkwatch_host_parked_threads ") == 4);
	/* The last line is the timestamp: a reader that has it has the whole file. */
	assert_true(text[strlen(text) - 1] == '\n');
	text[strlen(text) - 1] = 0;
	last = strrchr(text, '\n') + 1;
	assert_string_equal(last, "parkwatch_last_scan_timestamp_seconds 1795924800.123");
	free(text);
}

/* ---- the atomic write ---- */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_write_file(void **state)
{
	char dir[] = "/tmp/pw_prom_dirXXXXXX", path[128], victim[128], link_target[128];
	struct stat st;
	mode_t old;
	ssize_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/parkwatch.prom", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	/* 0644 whatever the umask: node_exporter runs as another user. */
	old = umask(077);
	assert_int_equal(pw_export_write_file(dir, "parkwatch.prom", "one\n", 4), 0);
	umask(old);
	assert_string_equal(slurp(path), "one\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(pw_export_write_file(dir, "parkwatch.prom", "two\n", 4), 0);
	assert_string_equal(slurp(path), "two\n");
	/* No temp file left behind. */
	assert_int_equal(count_entries(dir), 1);

	/* A symlink planted at the final name is replaced, its target untouched. */
	assert_int_equal(unlink(path), 0);
	fclose(fopen(victim, "w"));
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(pw_export_write_file(dir, "parkwatch.prom", "three\n", 6), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(path), "three\n");
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);
	n = readlink(path, link_target, sizeof(link_target));
	assert_int_equal(n, -1);

	/* A directory at the final name: an error, nothing else changes, no temp left. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(pw_export_write_file(dir, "parkwatch.prom", "four\n", 5) < 0);
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(rmdir(path), 0);

	/* A missing directory is an error, not a crash. */
	assert_int_equal(unlink(victim), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(pw_export_write_file(dir, "parkwatch.prom", "x", 1), -ENOENT);
}

static void test_promtool_present(void **state)
{
	if (have_promtool())
		return;
	if (ci())
		fail_msg("promtool is missing (apt-get install prometheus): CI must check the "
			 "exposition format");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promtool_present),
		cmocka_unit_test(test_escape_hostile),
		cmocka_unit_test(test_escape_bounded),
		cmocka_unit_test(test_hostile_labels_in_file),
		cmocka_unit_test(test_cardinality_other),
		cmocka_unit_test(test_cardinality_sum_preserved),
		cmocka_unit_test(test_duplicate_labels_merged),
		cmocka_unit_test(test_unlabelled_sites),
		cmocka_unit_test(test_stable_ordering),
		cmocka_unit_test(test_help_type_once),
		cmocka_unit_test(test_trends_only_with_history),
		cmocka_unit_test(test_values_and_last_line),
		cmocka_unit_test(test_write_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
