/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
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
#include <jansson.h>
#include "diff.h"

/* The Makefile points this at the source tree; a manual build runs from the repo root. */
#ifndef TEST_SRCDIR
#define TEST_SRCDIR "tests"
#endif
#define FIXTURES TEST_SRCDIR "/unit/fixtures/diff"

#define T_A "2026-11-29T04:00:00.123Z"
#define T_B "2026-11-29T04:00:20.123Z"

static char tmpdir[] = "/tmp/pw_test_diff.XXXXXX";
static int tmpseq;

/* ---- helpers ---- */

/* A schema 1 line with the given time ("" for none) and sites array body. */
static char *snap(const char *time, const char *sites)
{
	char *s;

	if (*time)
		assert_true(asprintf(&s,
				     "{\"schema\":1,\"time\":\"%s\",\"parked_threads\":62,"
				     "\"parked_goroutines\":0,\"drops\":{\"unwind\":2},"
				     "\"sites\":[%s]}",
				     time, sites) > 0);
	else
		assert_true(asprintf(&s, "{\"schema\":1,\"sites\":[%s]}", sites) > 0);
	return s;
}

/* snap() of a sites() list, which it frees. */
static char *snapf(const char *time, char *body)
{
	char *s = snap(time, body);

	free(body);
	return s;
}

/* A site object with the fields the diff reads. */
static char *site(const char *id, long count)
{
	char *s;

	assert_true(asprintf(&s,
			     "{\"id\":\"%s\",\"kind\":\"thread\",\"pid\":4242,\"comm\":\"leaky\","
			     "\"wait\":\"futex\",\"site\":\"site_%s\",\"frames\":[],\"count\":%ld,"
			     "\"oldest_age_s\":%ld.5}",
			     id, id, count, count) > 0);
	return s;
}

/* Joins up to 16 site() strings with commas, freeing them. NULL ends the list. */
static char *sites(const char *first, ...)
{
	char *out = strdup(""), *tmp, *s;
	va_list ap;

	va_start(ap, first);
	for (s = (char *)first; s; s = va_arg(ap, char *)) {
		assert_true(asprintf(&tmp, "%s%s%s", out, *out ? "," : "", s) > 0);
		free(out);
		free(s);
		out = tmp;
	}
	va_end(ap);
	return out;
}

static json_t *parse_ok(const char *text)
{
	char err[1024] = "";
	json_t *j = NULL;
	int ret = pw_diff_parse_buffer(text, strlen(text), &j, err, sizeof(err));

	if (ret)
		fail_msg("parse failed (%d): %s", ret, err);
	assert_non_null(j);
	return j;
}

/* Parses text, expects failure with ret and a message containing want. */
static void parse_fails(const char *text, size_t len, int want_ret, const char *want)
{
	char err[1024] = "";
	json_t *j = (json_t *)0x1;
	int ret = pw_diff_parse_buffer(text, len, &j, err, sizeof(err));

	assert_int_equal(ret, want_ret);
	assert_null(j);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
}

static void diff_of(const char *a_text, const char *b_text, struct pw_diff *d)
{
	json_t *a = parse_ok(a_text), *b = parse_ok(b_text);
	char err[1024] = "";
	int ret = pw_diff_compute(a, b, d, err, sizeof(err));

	if (ret)
		fail_msg("compute failed (%d): %s", ret, err);
	json_decref(a);
	json_decref(b);
}

static const struct pw_diff_site *find(const struct pw_diff *d, const char *id)
{
	int i;

	for (i = 0; i < d->n; i++) {
		if (!strcmp(d->sites[i].id, id))
			return &d->sites[i];
	}
	fail_msg("site %s not in the diff", id);
	return NULL;
}

static char *write_tmp(const void *data, size_t len)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/f%d.json", tmpdir, tmpseq++) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *print_to_string(const struct pw_diff *d, bool json, bool all)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(json ? pw_diff_print_json(f, d) : pw_diff_print_text(f, d, all), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static bool line_matches(const char *text, const char *pattern)
{
	regex_t re;
	bool ok;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	ok = !regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	return ok;
}

/* Columns of the longest line: code points, as a terminal would count them here. */
static size_t max_line_cols(const char *text)
{
	size_t cols = 0, best = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n') {
			best = cols > best ? cols : best;
			cols = 0;
		} else if ((*p & 0xc0) != 0x80) {
			cols++;
		}
	}
	return cols > best ? cols : best;
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/* Runs pw_cmd_diff in a child (it writes to stdout/stderr); returns its exit code. */
static int run_cmd(char **out, char **errout, int argc, ...)
{
	char *argv[16], *opath, *epath;
	va_list ap;
	int i, status;
	pid_t pid;

	assert_true(argc < 15);
	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	assert_true(asprintf(&opath, "%s/out%d", tmpdir, tmpseq) > 0);
	assert_true(asprintf(&epath, "%s/err%d", tmpdir, tmpseq++) > 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(99);
		_exit(pw_cmd_diff(argc, argv));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	*out = slurp(opath);
	*errout = slurp(epath);
	free(opath);
	free(epath);
	return WEXITSTATUS(status);
}

/* One line, "parkwatch: " first: the error contract of DESIGN.md §3. */
static void assert_one_error_line(const char *err)
{
	size_t n = strlen(err);

	if (strncmp(err, "parkwatch: ", 11))
		fail_msg("stderr does not start with \"parkwatch: \": %s", err);
	assert_true(n > 11 && err[n - 1] == '\n');
	assert_ptr_equal(strchr(err, '\n'), err + n - 1);
}

/* For literals: sizeof keeps embedded NUL bytes in the input. */
#define PARSE_FAILS(lit, ret, want) parse_fails(lit, sizeof(lit) - 1, ret, want)

/* ---- classification and order ---- */

static void test_classify(void **state)
{
	char *a = snapf(T_A, sites(site("x", 5), site("y", 10), site("z", 3), site("w", 7),
				   site("zero", 0), NULL));
	char *b = snapf(T_B, sites(site("x", 5), site("y", 15), site("z", 1), site("v", 4), NULL));
	const struct pw_diff_site *s;
	struct pw_diff d;

	diff_of(a, b, &d);
	assert_int_equal(d.n, 6);
	assert_int_equal(d.n_changed, 4);
	assert_int_equal(d.n_appeared, 1);
	assert_int_equal(d.n_grew, 1);
	assert_int_equal(d.n_shrank, 1);
	assert_int_equal(d.n_vanished, 1);
	assert_int_equal(d.n_same, 2);

	s = find(&d, "y");
	assert_int_equal(s->change, PW_DIFF_GREW);
	assert_int_equal(s->count_a, 10);
	assert_int_equal(s->count_b, 15);
	assert_int_equal(s->delta, 5);
	assert_string_equal(s->site, "site_y");
	assert_string_equal(s->wait, "futex");
	assert_string_equal(s->comm, "leaky");
	assert_string_equal(s->kind, "thread");
	assert_int_equal(s->pid, 4242);
	assert_true(s->oldest_age_b == 15.5);

	s = find(&d, "v");
	assert_int_equal(s->change, PW_DIFF_APPEARED);
	assert_int_equal(s->count_a, 0);
	assert_int_equal(s->delta, 4);

	s = find(&d, "z");
	assert_int_equal(s->change, PW_DIFF_SHRANK);
	assert_int_equal(s->delta, -2);

	/* Gone from B: described from A, and B has no age for it. */
	s = find(&d, "w");
	assert_int_equal(s->change, PW_DIFF_VANISHED);
	assert_int_equal(s->count_b, 0);
	assert_int_equal(s->delta, -7);
	assert_string_equal(s->site, "site_w");
	assert_true(isnan(s->oldest_age_b));

	assert_int_equal(find(&d, "x")->change, PW_DIFF_SAME);
	/* Listed with 0 in A and absent in B: nothing happened there. */
	assert_int_equal(find(&d, "zero")->change, PW_DIFF_SAME);
	assert_int_equal(find(&d, "zero")->delta, 0);

	pw_diff_free(&d);
	free(a);
	free(b);
}

static void test_count_zero_counts_as_absent(void **state)
{
	char *a = snapf(T_A, sites(site("q", 0), site("r", 3), NULL));
	char *b = snapf(T_B, sites(site("q", 4), site("r", 0), NULL));
	struct pw_diff d;

	diff_of(a, b, &d);
	assert_int_equal(find(&d, "q")->change, PW_DIFF_APPEARED);
	assert_int_equal(find(&d, "r")->change, PW_DIFF_VANISHED);
	pw_diff_free(&d);
	free(a);
	free(b);
}

static void test_order(void **state)
{
	static const char *const want[] = {"g2", "a1", "g1", "a2", "s2", "s1", "v2", "v1", "k"};
	char *a = snapf(T_A, sites(site("g1", 10), site("g2", 1), site("s1", 10), site("s2", 10),
				   site("v1", 3), site("v2", 9), site("k", 1), NULL));
	char *b = snapf(T_B, sites(site("g1", 13), site("g2", 101), site("a1", 50), site("a2", 3),
				   site("s1", 9), site("s2", 2), site("k", 1), NULL));
	struct pw_diff d;
	size_t i;

	/*
	 * Appeared and grew share a rank by |delta|: g2 +100, a1 +50, then g1 and a2
	 * both +3, split by count in B (13 before 3). Then shrank, vanished, same.
	 */
	diff_of(a, b, &d);
	assert_int_equal(d.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(d.sites[i].id, want[i]);
	assert_int_equal(d.n_changed, 8);
	pw_diff_free(&d);

	/* Ties on everything but the id: ordered by id, whatever the input order. */
	free(a);
	free(b);
	a = snap(T_A, "");
	b = snapf(T_B, sites(site("c", 2), site("a", 2), site("b", 2), NULL));
	diff_of(a, b, &d);
	assert_string_equal(d.sites[0].id, "a");
	assert_string_equal(d.sites[1].id, "b");
	assert_string_equal(d.sites[2].id, "c");
	pw_diff_free(&d);
	free(a);
	free(b);
}

/* ---- input lines ---- */

static void test_multiline_uses_last_line(void **state)
{
	char *l1 = snapf("2026-11-29T04:00:01Z", sites(site("x", 1), NULL));
	char *l2 = snapf("2026-11-29T04:00:02Z", sites(site("x", 2), NULL));
	char *l3 = snapf("2026-11-29T04:00:03Z", sites(site("x", 3), NULL));
	char *a = snapf(T_A, sites(site("x", 1), NULL)), *text, *path;
	char err[1024];
	json_t *ja, *jb;
	struct pw_diff d;

	/* Blank lines, CRLF and trailing spaces after the last sample are not lines. */
	assert_true(asprintf(&text, "%s\n%s\r\n\n%s\r\n  \n\t\n", l1, l2, l3) > 0);
	diff_of(a, text, &d);
	assert_int_equal(d.sites[0].count_b, 3);
	assert_string_equal(d.time_b_str, "2026-11-29T04:00:03Z");
	pw_diff_free(&d);

	path = write_tmp(text, strlen(text));
	assert_int_equal(pw_diff_load(path, &jb, err, sizeof(err)), 0);
	ja = parse_ok(a);
	assert_int_equal(pw_diff_compute(ja, jb, &d, err, sizeof(err)), 0);
	assert_int_equal(d.sites[0].count_b, 3);
	assert_int_equal(d.sites[0].change, PW_DIFF_GREW);
	pw_diff_free(&d);
	json_decref(ja);
	json_decref(jb);
	free(path);
	free(text);

	/* A bad last line is an error even when earlier samples are fine, named by line. */
	assert_true(asprintf(&text, "%s\n%s\n{\"schema\":1,\"sites\":[\n", l1, l2) > 0);
	parse_fails(text, strlen(text), -EBADMSG, "invalid JSON at line 3, column");
	path = write_tmp(text, strlen(text));
	assert_int_equal(pw_diff_load(path, &jb, err, sizeof(err)), -EBADMSG);
	assert_null(jb);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, ": invalid JSON at line 3, column"));
	free(path);
	free(text);

	/* Structural errors past line 1 say which line too. */
	assert_true(asprintf(&text, "%s\n{\"schema\":1}\n", l1) > 0);
	parse_fails(text, strlen(text), -EBADMSG, "line 2: missing \"sites\"");
	free(text);
	free(l1);
	free(l2);
	free(l3);
	free(a);
}

static void test_schema(void **state)
{
	static const char s2[] = "{\"schema\":2,\"sites\":[]}";
	char err[1024];
	json_t *j;
	char *path;

	parse_fails(s2, strlen(s2), -EBADMSG,
		    "unsupported schema 2 (this parkwatch reads schema 1)");
	path = write_tmp(s2, strlen(s2));
	assert_int_equal(pw_diff_load(path, &j, err, sizeof(err)), -EBADMSG);
	assert_true(!strncmp(err, path, strlen(path)) &&
		    !strcmp(err + strlen(path),
			    ": unsupported schema 2 (this parkwatch reads schema 1)"));
	free(path);

	PARSE_FAILS("{\"schema\":0,\"sites\":[]}", -EBADMSG, "unsupported schema 0");
	PARSE_FAILS("{\"schema\":-1,\"sites\":[]}", -EBADMSG, "unsupported schema -1");
	PARSE_FAILS("{\"sites\":[]}", -EBADMSG, "missing \"schema\"");
	PARSE_FAILS("{\"schema\":\"1\",\"sites\":[]}", -EBADMSG,
		    "\"schema\" must be an integer, not a string");
	PARSE_FAILS("{\"schema\":1.0,\"sites\":[]}", -EBADMSG,
		    "\"schema\" must be an integer, not a real number");
	PARSE_FAILS("{\"schema\":null,\"sites\":[]}", -EBADMSG,
		    "\"schema\" must be an integer, not null");
}

static void test_invalid_json(void **state)
{
	static const char pretty[] = "{\n  \"schema\": 1,\n  \"sites\": []\n}\n";

	PARSE_FAILS("{\"schema\":1,\"sites\":[}", -EBADMSG, "invalid JSON at line 1, column 22");
	PARSE_FAILS("{\"schema\":1,\"sites\":[]} trailing", -EBADMSG, "invalid JSON");
	PARSE_FAILS("not json", -EBADMSG, "invalid JSON at line 1");
	/* Valid JSON but not an object: arrays parse, bare values do not. */
	PARSE_FAILS("[1,2]", -EBADMSG, "expected a JSON object");
	PARSE_FAILS("42", -EBADMSG, "invalid JSON");
	/* `jq .` output: the last line is "}", and the message says what to do. */
	parse_fails(pretty, strlen(pretty), -EBADMSG, "use jq -c");
	/* A raw NUL byte would make jansson talk about the end of file. */
	PARSE_FAILS("{\"schema\":1,\0\"sites\":[]}", -EBADMSG, "NUL byte at line 1, byte 13");
	PARSE_FAILS("{\"schema\":1,\"sites\":[],\"schema\":1}", -EBADMSG, "duplicate key");
	/* A byte-order mark is not an error. */
	json_decref(parse_ok("\xef\xbb\xbf{\"schema\":1,\"sites\":[]}"));
}

static void test_missing_fields(void **state)
{
	PARSE_FAILS("{\"schema\":1}", -EBADMSG, "missing \"sites\"");
	PARSE_FAILS("{\"schema\":1,\"sites\":[{\"count\":1}]}", -EBADMSG,
		    "sites[0]: missing \"id\"");
	PARSE_FAILS("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1},{\"id\":\"b\"}]}",
		    -EBADMSG, "sites[1] (id b): missing \"count\"");
	/* Optional fields may be absent: id and count are all a site needs. */
	json_decref(parse_ok("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1}]}"));
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"schema\":1,\"sites\":{}}", "\"sites\" must be an array, not an object"},
		{"{\"schema\":1,\"sites\":null}", "\"sites\" must be an array, not null"},
		{"{\"schema\":1,\"sites\":[7]}", "sites[0] must be an object, not an integer"},
		{"{\"schema\":1,\"sites\":[{\"id\":7,\"count\":1}]}",
		 "\"id\" must be a non-empty string, not an integer"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"\",\"count\":1}]}",
		 "\"id\" must be a non-empty string, not an empty one"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":\"5\"}]}",
		 "\"count\" must be an integer, not a string"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":5.0}]}",
		 "\"count\" must be an integer, not a real number"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":null}]}",
		 "\"count\" must be an integer, not null"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":-1}]}",
		 "\"count\" -1 is out of range (0..9007199254740992)"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1152921504606846976}]}",
		 "\"count\" 1152921504606846976 is out of range"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"pid\":\"42\"}]}",
		 "\"pid\" must be an integer, not a string"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"pid\":4294967296}]}",
		 "\"pid\" 4294967296 is out of range"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"comm\":[]}]}",
		 "\"comm\" must be a string or null, not an array"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"site\":true}]}",
		 "\"site\" must be a string or null, not a boolean"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"oldest_age_s\":\"1s\"}]}",
		 "\"oldest_age_s\" must be a number or null, not a string"},
		{"{\"schema\":1,\"time\":5,\"sites\":[]}",
		 "\"time\" must be a string, not an integer"},
		{"{\"schema\":1,\"time\":\"2026-02-30T00:00:00Z\",\"sites\":[]}",
		 "\"time\" is not an RFC 3339 time: \"2026-02-30T00:00:00Z\""},
		{"{\"schema\":1,\"time\":\"2026-11-29 04:00:00\",\"sites\":[]}",
		 "is not an RFC 3339 time"},
		{"{\"schema\":1,\"parked_threads\":-3,\"sites\":[]}",
		 "\"parked_threads\" -3 is out of range"},
		{"{\"schema\":1,\"parked_goroutines\":\"0\",\"sites\":[]}",
		 "\"parked_goroutines\" must be an integer, not a string"},
		{"{\"schema\":1,\"drops\":[],\"sites\":[]}",
		 "\"drops\" must be an object, not an array"},
		{"{\"schema\":1,\"drops\":{\"unwind\":\"x\"},\"sites\":[]}",
		 "\"drops\": \"unwind\" must be an integer, not a string"},
		{"{\"schema\":1,\"drops\":{\"unwind\":-1},\"sites\":[]}",
		 "\"drops\": \"unwind\" -1 is out of range"},
		{"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1},{\"id\":\"a\",\"count\":2}]}",
		 "duplicate site id a (sites[0] and sites[1])"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].json, strlen(cases[i].json), -EBADMSG, cases[i].want);
	/* null is "unknown" for every optional field, as the writer emits it. */
	json_decref(parse_ok("{\"schema\":1,\"time\":null,\"parked_threads\":null,\"drops\":null,"
			     "\"sites\":[{\"id\":\"a\",\"count\":1,\"pid\":null,\"comm\":null,"
			     "\"wait\":null,\"site\":null,\"kind\":null,\"oldest_age_s\":null}]}"));
}

static void test_compute_checks_its_input(void **state)
{
	json_t *good = parse_ok("{\"schema\":1,\"sites\":[]}");
	json_t *bad =
		json_pack("{s:i,s:[{s:s,s:s}]}", "schema", 1, "sites", "id", "a", "count", "many");
	char err[1024];
	struct pw_diff d;

	/* pw_diff_compute() may get documents that did not come through the loader. */
	assert_non_null(bad);
	assert_int_equal(pw_diff_compute(good, bad, &d, err, sizeof(err)), -EBADMSG);
	assert_string_equal(
		err, "snapshot B: sites[0] (id a): \"count\" must be an integer, not a string");
	assert_int_equal(d.n, 0);
	assert_null(d.sites);
	pw_diff_free(&d);
	assert_int_equal(pw_diff_compute(bad, good, &d, err, sizeof(err)), -EBADMSG);
	assert_true(!strncmp(err, "snapshot A: ", 12));
	assert_int_equal(pw_diff_compute(NULL, good, &d, err, sizeof(err)), -EINVAL);
	json_decref(good);
	json_decref(bad);
}

static void test_empty_input(void **state)
{
	char err[1024], *path;
	json_t *j;

	PARSE_FAILS("", -ENODATA, "empty");
	PARSE_FAILS(" \n\r\n\t\n", -ENODATA, "empty");

	path = write_tmp("", 0);
	assert_int_equal(pw_diff_load(path, &j, err, sizeof(err)), -ENODATA);
	assert_null(j);
	assert_non_null(strstr(err, ": empty file: expected the output of 'parkwatch snapshot"));
	free(path);
	path = write_tmp("\n\n   \n", 6);
	assert_int_equal(pw_diff_load(path, &j, err, sizeof(err)), -ENODATA);
	free(path);
}

static void test_load_errors(void **state)
{
	char err[1024], *path;
	json_t *j;

	assert_true(asprintf(&path, "%s/does-not-exist.json", tmpdir) > 0);
	assert_int_equal(pw_diff_load(path, &j, err, sizeof(err)), -ENOENT);
	assert_null(j);
	assert_true(!strncmp(err, path, strlen(path)));
	assert_non_null(strstr(err, ": cannot open: No such file or directory"));
	free(path);

	assert_int_equal(pw_diff_load(tmpdir, &j, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, ": cannot read: Is a directory"));
}

/* ---- hostile input ---- */

static void test_deep_nesting(void **state)
{
	size_t len = 1 << 20;
	char *buf = malloc(len), err[1024], *path;
	json_t *j;

	assert_non_null(buf);
	memset(buf, '[', len);
	parse_fails(buf, len, -EBADMSG, "JSON nested too deeply at line 1");
	path = write_tmp(buf, len);
	assert_int_equal(pw_diff_load(path, &j, err, sizeof(err)), -EBADMSG);
	assert_null(j);
	assert_non_null(strstr(err, "nested too deeply"));
	free(path);

	/* Objects too, and a deep value inside an otherwise valid snapshot. */
	for (size_t i = 0; i + 5 <= len; i += 5)
		memcpy(buf + i, "{\"a\":", 5);
	parse_fails(buf, len - len % 5, -EBADMSG, "nested too deeply");
	free(buf);
}

static void test_non_utf8(void **state)
{
	static const char *const bad[] = {
		"{\"schema\":1,\"sites\":[{\"id\":\"\xff\",\"count\":1}]}",
		/* overlong '/' */
		"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"comm\":\"\xc0\xaf\"}]}",
		/* UTF-16 surrogate encoded as UTF-8 */
		"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,\"site\":\"\xed\xa0\x80\"}]}",
		/* truncated sequence */
		"{\"schema\":1,\"sites\":[{\"id\":\"a\xe2\x82\",\"count\":1}]}",
	};
	char err[1024];
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const unsigned char *p;

		assert_int_equal(pw_diff_parse_buffer(bad[i], strlen(bad[i]), &j, err, sizeof(err)),
				 -EBADMSG);
		assert_non_null(strstr(err, "invalid UTF-8 at line 1, column"));
		/* The message itself must be safe to print. */
		for (p = (const unsigned char *)err; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
	/* Escaped non-BMP and escaped controls are valid JSON and load. */
	json_decref(parse_ok("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1,"
			     "\"comm\":\"\\ud83d\\ude00\\u001b\"}]}"));
}

static void test_huge_numbers(void **state)
{
	PARSE_FAILS("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":1e400}]}", -EBADMSG,
		    "number out of range at line 1");
	PARSE_FAILS("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":99999999999999999999}]}",
		    -EBADMSG, "number out of range");
	PARSE_FAILS("{\"schema\":99999999999999999999,\"sites\":[]}", -EBADMSG,
		    "number out of range");
	PARSE_FAILS("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":9007199254740993}]}",
		    -EBADMSG, "out of range");
	/* The largest accepted count still diffs exactly. */
	{
		struct pw_diff d;

		diff_of("{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":9007199254740992}]}",
			"{\"schema\":1,\"sites\":[{\"id\":\"a\",\"count\":0}]}", &d);
		assert_int_equal(d.sites[0].delta, -9007199254740992L);
		pw_diff_free(&d);
	}
}

/* ---- outputs ---- */

static void leak_pair(struct pw_diff *d)
{
	char *a = snapf(T_A, sites(site("leak", 50), site("pool", 8), site("gone", 4), NULL));
	char *b = strdup("{\"schema\":1,\"time\":\"" T_B "\",\"parked_threads\":262,"
			 "\"parked_goroutines\":0,\"drops\":{\"unwind\":5,\"module\":1},"
			 "\"sites\":[{\"id\":\"leak\",\"kind\":\"thread\",\"pid\":4242,"
			 "\"comm\":\"leaky\",\"wait\":\"futex\",\"site\":\"fetch_worker "
			 "(leaky.c:88)\",\"count\":250,\"oldest_age_s\":61.0},"
			 "{\"id\":\"pool\",\"pid\":4242,\"comm\":\"leaky\",\"wait\":\"nanosleep\","
			 "\"site\":\"pool_idle (leaky.c:40)\",\"count\":8},"
			 "{\"id\":\"new\",\"kind\":\"thread\",\"pid\":4242,"
			 "\"comm\":\"evil\\u001b[2J\\u202e\",\"wait\":\"poll\",\"site\":null,"
			 "\"count\":4}]}");

	diff_of(a, b, d);
	d->name_a = "a.json";
	d->name_b = "b.json";
	free(a);
	free(b);
}

static void test_json_output_roundtrip(void **state)
{
	json_t *j, *s, *site;
	json_error_t je;
	struct pw_diff d, view;
	char *out;
	size_t i;

	leak_pair(&d);
	out = print_to_string(&d, true, false);
	/* One object, one line. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	j = json_loads(out, 0, &je);
	if (!j)
		fail_msg("output does not parse: %s: %s", je.text, out);
	assert_int_equal(json_integer_value(json_object_get(j, "schema")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "a"), "time")),
			    T_A);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "b"), "parked_threads")),
		262);
	assert_true(json_is_real(json_object_get(j, "interval_s")));
	assert_true(json_real_value(json_object_get(j, "interval_s")) == 20.0);
	assert_non_null(strstr(out, "\"interval_s\":20.0,"));

	s = json_object_get(j, "sites");
	assert_int_equal(json_array_size(s), 4);
	site = json_array_get(s, 0);
	assert_string_equal(json_string_value(json_object_get(site, "id")), "leak");
	assert_string_equal(json_string_value(json_object_get(site, "change")), "grew");
	assert_int_equal(json_integer_value(json_object_get(site, "count_a")), 50);
	assert_int_equal(json_integer_value(json_object_get(site, "count_b")), 250);
	assert_int_equal(json_integer_value(json_object_get(site, "delta")), 200);
	assert_string_equal(json_string_value(json_object_get(site, "site")),
			    "fetch_worker (leaky.c:88)");
	assert_int_equal(json_integer_value(json_object_get(site, "pid")), 4242);

	site = json_array_get(s, 1);
	assert_string_equal(json_string_value(json_object_get(site, "change")), "appeared");
	assert_int_equal(json_integer_value(json_object_get(site, "delta")), 4);
	assert_true(json_is_null(json_object_get(site, "site")));
	/* Escaped on the way out, the same bytes on the way back. */
	assert_string_equal(json_string_value(json_object_get(site, "comm")),
			    "evil\x1b[2J\xe2\x80\xae");

	site = json_array_get(s, 2);
	assert_string_equal(json_string_value(json_object_get(site, "change")), "vanished");
	assert_int_equal(json_integer_value(json_object_get(site, "delta")), -4);
	assert_true(json_is_null(json_object_get(site, "oldest_age_s")));

	site = json_array_get(s, 3);
	assert_string_equal(json_string_value(json_object_get(site, "change")), "same");
	assert_true(json_is_null(json_object_get(site, "kind")));

	for (i = 0; i < json_array_size(s); i++) {
		static const char *const keys[] = {"id",      "kind",  "pid",	      "comm",
						   "wait",    "site",  "change",      "count_a",
						   "count_b", "delta", "oldest_age_s"};
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			assert_non_null(json_object_get(json_array_get(s, i), keys[k]));
	}
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "drops_delta"), "unwind")),
		3);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "drops_delta"), "module")),
		1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"), "same")),
			 1);
	json_decref(j);
	free(out);

	/* The command's view without --all: same object, unchanged sites left out. */
	view = d;
	view.n = d.n_changed;
	out = print_to_string(&view, true, false);
	j = json_loads(out, 0, &je);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "sites")), 3);
	json_decref(j);
	free(out);
	pw_diff_free(&d);
}

static void test_json_output_unknowns(void **state)
{
	struct pw_diff d;
	json_error_t je;
	json_t *j;
	char *out;

	diff_of("{\"schema\":1,\"sites\":[]}", "{\"schema\":1,\"sites\":[]}", &d);
	out = print_to_string(&d, true, true);
	j = json_loads(out, 0, &je);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "interval_s")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "a"), "time")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "a"), "parked_threads")));
	assert_int_equal(json_array_size(json_object_get(j, "sites")), 0);
	assert_int_equal(json_object_size(json_object_get(j, "drops_delta")), 0);
	json_decref(j);
	free(out);
	pw_diff_free(&d);

	/* A hand-built diff with bytes jansson would refuse still gives valid JSON. */
	{
		struct pw_diff_site s = {.id = "x",
					 .comm = "bad\xff",
					 .pid = -1,
					 .count_b = 1,
					 .delta = 1,
					 .oldest_age_b = NAN};
		struct pw_diff h = {.sites = &s,
				    .n = 1,
				    .interval_s = NAN,
				    .parked_a = -1,
				    .parked_b = -1,
				    .goroutines_a = -1,
				    .goroutines_b = -1};

		out = print_to_string(&h, true, true);
		j = json_loads(out, 0, &je);
		assert_non_null(j);
		assert_string_equal(
			json_string_value(json_object_get(
				json_array_get(json_object_get(j, "sites"), 0), "comm")),
			"bad\xef\xbf\xbd");
		json_decref(j);
		free(out);
	}
}

static void test_text_output(void **state)
{
	struct pw_diff d;
	char *out;

	leak_pair(&d);
	out = print_to_string(&d, false, false);
	assert_true(line_matches(out, "^A: a\\.json  " T_A "$"));
	assert_true(line_matches(out, "^B: b\\.json  " T_B "$"));
	assert_true(line_matches(out, "^interval: 20s$"));
	assert_true(line_matches(out, "^CHANGE +DELTA +A→B +WAIT +PID +COMM +SITE$"));
	assert_true(line_matches(
		out,
		"^grew +\\+200 +50→250 +futex +4242 +leaky +fetch_worker \\(leaky\\.c:88\\)$"));
	assert_true(line_matches(
		out, "^appeared +\\+4 +0→4 +poll +4242 +evil\\?\\[2J\\? +\\[unknown\\]$"));
	assert_true(line_matches(out, "^vanished +-4 +4→0 +futex +4242 +leaky +site_gone$"));
	assert_false(line_matches(out, "pool_idle"));
	assert_true(line_matches(out, "^parked threads: 62 → 262 \\(\\+200\\)$"));
	assert_true(line_matches(out, "^sites: 1 appeared, 1 grew, 0 shrank, 1 vanished, 1 "
				      "unchanged \\(--all lists them\\)$"));
	assert_true(line_matches(out, "^drops delta: module \\+1, unwind \\+3$"));
	/* The comm's escape sequence and bidi override never reach the terminal. */
	assert_null(strchr(out, '\x1b'));
	assert_null(strstr(out, "\xe2\x80\xae"));
	assert_true(max_line_cols(out) <= 100);
	free(out);

	out = print_to_string(&d, false, true);
	assert_true(line_matches(
		out, "^same +0 +8→8 +nanosleep +4242 +leaky +pool_idle \\(leaky\\.c:40\\)$"));
	assert_true(line_matches(out, "^sites: .* 1 unchanged$"));
	free(out);
	pw_diff_free(&d);
}

static void test_text_output_edges(void **state)
{
	char label[600], *a, *b, *out;
	struct pw_diff d;

	/* Nothing changed, no times: said plainly, no empty table. */
	a = snapf("", sites(site("x", 3), NULL));
	diff_of(a, a, &d);
	out = print_to_string(&d, false, false);
	assert_true(line_matches(out, "^interval: unknown"));
	assert_true(line_matches(out, "^A: A  time unknown$"));
	assert_true(line_matches(out, "^no site changed$"));
	assert_false(line_matches(out, "^CHANGE"));
	assert_true(line_matches(out, "^drops delta: none$"));
	free(out);
	pw_diff_free(&d);
	free(a);

	/* Long names are cut to fit 100 columns, with a visible ellipsis. */
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_true(asprintf(&b,
			     "{\"schema\":1,\"time\":\"" T_B "\",\"sites\":[{\"id\":\"l\","
			     "\"comm\":\"%.80s\",\"wait\":\"%.50s\",\"site\":\"%s\",\"count\":9}]}",
			     label, label, label) > 0);
	diff_of("{\"schema\":1,\"time\":\"2026-11-29T05:00:00+01:00\",\"sites\":[]}", b, &d);
	assert_true(fabs(d.interval_s - 20.123) < 1e-9);
	d.name_b = label;
	out = print_to_string(&d, false, false);
	assert_true(max_line_cols(out) <= 100);
	assert_true(line_matches(out, "^appeared .*x…$"));
	assert_true(line_matches(out, "^interval: 20\\.123s$"));
	free(out);
	pw_diff_free(&d);
	free(b);

	/* B older than A: the interval is negative and the output says so. */
	a = snap(T_B, "");
	b = snap(T_A, "");
	diff_of(a, b, &d);
	assert_true(d.interval_s == -20.0);
	out = print_to_string(&d, false, false);
	assert_true(line_matches(out, "^interval: -20s$"));
	assert_true(line_matches(out, "B was taken before A"));
	assert_true(line_matches(out, "^no sites in either snapshot$"));
	free(out);
	pw_diff_free(&d);
	free(a);
	free(b);
}

static void test_time_and_interval(void **state)
{
	struct pw_diff d;
	char *a, *b;

	a = snap("2026-11-29T05:00:00.250+01:00", "");
	b = snap("2026-11-29T04:01:02.5z", "");
	diff_of(a, b, &d);
	assert_true(d.interval_s == 62.25);
	assert_true(fabs(d.time_b - 1795924862.5) < 1e-6);
	pw_diff_free(&d);
	free(a);
	free(b);

	/* Leap day, and a year of ms precision without drift. */
	a = snap("2024-02-29T00:00:00Z", "");
	b = snap("2025-02-28T00:00:00.001Z", "");
	diff_of(a, b, &d);
	assert_true(d.interval_s == 365 * 86400 + 0.001);
	assert_true(d.time_a == 1709164800.0);
	pw_diff_free(&d);
	free(a);
	free(b);

	PARSE_FAILS("{\"schema\":1,\"time\":\"2025-02-29T00:00:00Z\",\"sites\":[]}", -EBADMSG,
		    "RFC 3339");
	PARSE_FAILS("{\"schema\":1,\"time\":\"2026-11-29T24:00:00Z\",\"sites\":[]}", -EBADMSG,
		    "RFC 3339");
	PARSE_FAILS("{\"schema\":1,\"time\":\"2026-11-29T04:00:00.Z\",\"sites\":[]}", -EBADMSG,
		    "RFC 3339");
}

static void test_drops_delta(void **state)
{
	struct pw_diff d;

	diff_of("{\"schema\":1,\"drops\":{\"a_only\":3,\"both\":1},\"sites\":[]}",
		"{\"schema\":1,\"drops\":{\"both\":4,\"b_only\":2},\"sites\":[]}", &d);
	assert_int_equal(d.ndrops, 3);
	assert_string_equal(d.drops[0].reason, "a_only");
	assert_int_equal(d.drops[0].delta, -3);
	assert_string_equal(d.drops[1].reason, "b_only");
	assert_int_equal(d.drops[1].delta, 2);
	assert_string_equal(d.drops[2].reason, "both");
	assert_int_equal(d.drops[2].a, 1);
	assert_int_equal(d.drops[2].b, 4);
	assert_int_equal(d.drops[2].delta, 3);
	pw_diff_free(&d);
}

/* The acceptance shape: a snapshot, then a watch file 20 s later with the leak grown by 200. */
static void test_fixture_files(void **state)
{
	char err[1024];
	json_t *a, *b;
	struct pw_diff d;

	if (pw_diff_load(FIXTURES "/leak_a.json", &a, err, sizeof(err)))
		fail_msg("%s", err);
	if (pw_diff_load(FIXTURES "/leak_b.json", &b, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(pw_diff_compute(a, b, &d, err, sizeof(err)), 0);
	assert_string_equal(d.sites[0].id, "8f3a6c21d90b44e7");
	assert_string_equal(d.sites[0].site, "fetch_worker (leaky.c:88)");
	assert_int_equal(d.sites[0].change, PW_DIFF_GREW);
	assert_int_equal(d.sites[0].delta, 200);
	assert_int_equal(d.n_vanished, 1);
	assert_int_equal(d.n_same, 1);
	assert_true(d.interval_s == 20.0);
	assert_int_equal(d.parked_b - d.parked_a, 250 + 8 - 59);
	pw_diff_free(&d);
	json_decref(a);
	json_decref(b);
}

/* ---- the command ---- */

static void test_cmd(void **state)
{
	char *a_text = snapf(T_A, sites(site("x", 5), site("y", 1), NULL));
	char *b_text = snapf(T_B, sites(site("x", 9), site("y", 1), NULL));
	char *a = write_tmp(a_text, strlen(a_text)), *b = write_tmp(b_text, strlen(b_text));
	char *bad = write_tmp("{\"schema\":2,\"sites\":[]}\n", 24), *out, *err;
	json_error_t je;
	json_t *j;

	assert_int_equal(run_cmd(&out, &err, 3, "diff", a, b), 0);
	assert_true(line_matches(out, "^grew +\\+4 +5→9 "));
	assert_false(line_matches(out, "^same"));
	assert_string_equal(err, "");
	free(out);
	free(err);

	assert_int_equal(run_cmd(&out, &err, 5, "diff", a, "--all", b, "--json"), 0);
	j = json_loads(out, 0, &je);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "sites")), 2);
	json_decref(j);
	free(out);
	free(err);

	assert_int_equal(run_cmd(&out, &err, 2, "diff", "--help"), 0);
	assert_true(line_matches(out, "^Usage: parkwatch diff"));
	assert_true(line_matches(out, "parkwatch diff a\\.json b\\.json"));
	assert_true(line_matches(out, "LAST"));
	free(out);
	free(err);

	/* Bad usage: 2, one line, nothing on stdout. */
	assert_int_equal(run_cmd(&out, &err, 2, "diff", a), 2);
	assert_one_error_line(err);
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(run_cmd(&out, &err, 4, "diff", a, b, b), 2);
	assert_one_error_line(err);
	free(out);
	free(err);
	assert_int_equal(run_cmd(&out, &err, 4, "diff", "--frobnicate", a, b), 2);
	assert_one_error_line(err);
	assert_non_null(strstr(err, "'--frobnicate'"));
	free(out);
	free(err);
	assert_int_equal(run_cmd(&out, &err, 4, "diff", "-z", a, b), 2);
	assert_non_null(strstr(err, "'-z'"));
	free(out);
	free(err);
	assert_int_equal(run_cmd(&out, &err, 3, "diff", "-", "-"), 2);
	assert_one_error_line(err);
	free(out);
	free(err);

	/* Runtime failure: 1, naming the file. */
	assert_int_equal(run_cmd(&out, &err, 3, "diff", a, bad), 1);
	assert_one_error_line(err);
	assert_non_null(strstr(err, bad));
	assert_non_null(strstr(err, "unsupported schema 2 (this parkwatch reads schema 1)"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(run_cmd(&out, &err, 3, "diff", "/nonexistent/a.json", b), 1);
	assert_one_error_line(err);
	free(out);
	free(err);

	free(a);
	free(b);
	free(bad);
	free(a_text);
	free(b_text);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char *cmd;
	int ret;

	if (asprintf(&cmd, "rm -rf '%s'", tmpdir) < 0)
		return -1;
	ret = system(cmd);
	free(cmd);
	return ret ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_count_zero_counts_as_absent),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_multiline_uses_last_line),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_compute_checks_its_input),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_non_utf8),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_json_output_roundtrip),
		cmocka_unit_test(test_json_output_unknowns),
		cmocka_unit_test(test_text_output),
		cmocka_unit_test(test_text_output_edges),
		cmocka_unit_test(test_time_and_interval),
		cmocka_unit_test(test_drops_delta),
		cmocka_unit_test(test_fixture_files),
		cmocka_unit_test(test_cmd),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
