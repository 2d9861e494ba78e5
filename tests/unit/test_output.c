/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "output.h"
#include "util.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LEAKY "/work/build/workloads/leaky"
/* 2026-11-29T04:00:00.123Z */
#define T0 1795924800.123

/* ---- fixtures ---- */

static struct pw_frame leaky_frames[] = {
	{.addr = 0x7f1c2a291d36,
	 .offset = 0x91d36,
	 .module = LIBC,
	 .func = "__futex_abstimed_wait_common",
	 .func_off = 0x126},
	{.addr = 0x7f1c2a294558,
	 .offset = 0x94558,
	 .module = LIBC,
	 .func = "___pthread_cond_wait",
	 .func_off = 0x208},
	{.addr = 0x55d0c0a0129a,
	 .offset = 0x129a,
	 .module = LEAKY,
	 .func = "fetch_worker",
	 .file = "/src/tests/workloads/leaky.c",
	 .line = 88},
	{.addr = 0x55d0c0a01300,
	 .offset = 0x1300,
	 .module = LEAKY,
	 .func = "worker_main",
	 .file = "/src/tests/workloads/leaky.c",
	 .line = 120},
	{.addr = 0x7f1c2a295044, .offset = 0x95044, .module = LIBC, .func = "start_thread"},
};

static const char *leaky_kframes[] = {"__schedule", "schedule", "futex_wait", "do_syscall_64",
				      "entry_SYSCALL_64_after_hwframe"};

static struct pw_site site_leaky(void)
{
	struct pw_site s = {
		.id = 0x00c0ffee12345678ULL,
		.kind = PW_KIND_THREAD,
		.pid = 4242,
		.ns_pid = 7,
		.comm = "leaky",
		.wait = "futex",
		.frames = leaky_frames,
		.nframes = 5,
		.kframes = leaky_kframes,
		.nkframes = 5,
		.count = 420,
		.futex_words = 420,
		.oldest_age_s = 41.0,
		.median_age_s = 20.5,
	};

	return s;
}

static struct pw_snapshot snap_of(struct pw_site *sites, int n)
{
	struct pw_snapshot s = {.time = T0,
				.elapsed_s = 12.0,
				.interval_s = 1.0,
				.parked_threads = 1234,
				.sites = sites,
				.nsites = n};

	return s;
}

/* ---- helpers ---- */

static char *render(int (*fn)(FILE *, const struct pw_snapshot *), const struct pw_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, s), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static char *render_table(const struct pw_snapshot *s, int width, int max_frames)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(pw_output_table(f, s, width, max_frames), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * Python's json module as the reference parser, made strict: the bytes must
 * be UTF-8, NaN/Infinity and duplicate keys are rejected, and there must be
 * exactly one line. `checks` are Python statements run on the parsed `o`.
 */
static const char py_prelude[] =
	"import json, sys\n"
	"raw = sys.stdin.buffer.read()\n"
	"text = raw.decode('utf-8')\n"
	"assert text.endswith('\\n') and text.count('\\n') == 1, 'not one line'\n"
	"def no_const(c):\n"
	"    raise ValueError('non-finite ' + c)\n"
	"def pairs(kv):\n"
	"    keys = [k for k, _ in kv]\n"
	"    assert len(keys) == len(set(keys)), 'duplicate key'\n"
	"    return dict(kv)\n"
	"o = json.loads(text, parse_constant=no_const, object_pairs_hook=pairs)\n";

static void py_check(const char *json, const char *checks)
{
	char path[] = "/tmp/pw_test_output_XXXXXX.py", cmd[128];
	FILE *script, *p;
	int fd, rc;

	fd = mkstemps(path, 3);
	assert_true(fd >= 0);
	script = fdopen(fd, "w");
	assert_non_null(script);
	fputs(py_prelude, script);
	fputs(checks, script);
	assert_int_equal(fclose(script), 0);
	snprintf(cmd, sizeof(cmd), "python3 %s", path);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(json, p);
	rc = pclose(p);
	unlink(path);
	if (!WIFEXITED(rc) || WEXITSTATUS(rc))
		fail_msg("python3 rejected the JSON (status %d): %s", rc, json);
}

/* Display columns of a UTF-8 line (one per character; the table never emits wide ones). */
static int columns(const char *s, size_t n)
{
	int cols = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			cols++;
	return cols;
}

/* ---- JSON ---- */

static void test_json_contract(void **state)
{
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	char *out;

	snap.drops.n[PW_DROP_UNWIND] = 3;
	out = render(pw_output_json, &snap);
	py_check(out,
		 "assert list(o) == ['schema', 'time', 'elapsed_s', 'interval_s', 'parked_threads',"
		 " 'parked_goroutines', 'drops', 'sites'], list(o)\n"
		 "assert o['schema'] == 1\n"
		 "assert o['time'] == '2026-11-29T04:00:00.123Z', o['time']\n"
		 "assert o['elapsed_s'] == 12.0 and o['interval_s'] == 1.0\n"
		 "assert o['parked_threads'] == 1234 and o['parked_goroutines'] == 0\n"
		 "assert list(o['drops']) == ['task_storage', 'futex_map', 'user_stack',"
		 " 'kernel_stack', 'scan_record', 'unwind', 'module', 'proc_gone', 'site_table',"
		 " 'go_proc', 'goroutine']\n"
		 "assert o['drops']['unwind'] == 3 and sum(o['drops'].values()) == 3\n"
		 "s = o['sites'][0]\n"
		 "assert list(s) == ['id', 'kind', 'pid', 'ns_pid', 'comm', 'wait', 'site', "
		 "'frames',"
		 " 'kernel_frames', 'count', 'futex_words', 'futex_op', 'timed_waits', "
		 "'futex_waits', 'futex_wakes',"
		 " 'oldest_age_s', 'median_age_s',"
		 " 'age_is_lower_bound', 'growth_per_min', 'trend', 'leak_suspect'], list(s)\n"
		 "assert s['id'] == '00c0ffee12345678'\n"
		 "assert s['kind'] == 'thread' and s['pid'] == 4242 and s['ns_pid'] == 7\n"
		 "assert s['comm'] == 'leaky' and s['wait'] == 'futex'\n"
		 "assert s['site'] == 'fetch_worker (leaky.c:88)', s['site']\n"
		 "assert len(s['frames']) == 5\n"
		 "f = s['frames'][2]\n"
		 "assert list(f) == ['func', 'module', 'file', 'line', 'addr', 'offset'], list(f)\n"
		 "assert f == {'func': 'fetch_worker', 'module': '" LEAKY "',"
		 " 'file': '/src/tests/workloads/leaky.c', 'line': 88, 'addr': '0x55d0c0a0129a',"
		 " 'offset': '0x129a'}, f\n"
		 "assert s['frames'][0]['file'] is None and s['frames'][0]['line'] is None\n"
		 "assert s['kernel_frames'][0] == '__schedule' and len(s['kernel_frames']) == 5\n"
		 "assert s['count'] == 420 and s['futex_words'] == 420\n"
		 "assert s['oldest_age_s'] == 41.0 and s['median_age_s'] == 20.5\n"
		 "assert s['age_is_lower_bound'] is False\n"
		 "assert s['growth_per_min'] is None and s['trend'] is None\n"
		 "assert s['leak_suspect'] is None\n");
	free(out);
}

static void test_json_hostile_strings(void **state)
{
	struct pw_frame frames[] = {
		{.addr = 0x1000,
		 .offset = 0x10,
		 .module = "/tmp/we\"ird\\dir/bin\n",
		 .func = "f\"q\\b\n\t\x01\x1f\x7f",
		 .file = "caf\xc3\xa9.c",
		 .line = 1},
		/* Invalid UTF-8: lone continuation, overlong '/', surrogate, past U+10FFFF, cut. */
		{.addr = 0x2000,
		 .offset = 0x20,
		 .module = LEAKY,
		 .func = "a\x80"
			 "b\xc0\xaf"
			 "c\xed\xa0\x80"
			 "d\xf4\x90\x80\x80"
			 "e\xe2\x82"},
		/* Valid multi-byte characters survive untouched. */
		{.addr = 0x3000,
		 .offset = 0x30,
		 .module = LEAKY,
		 .func = "\xe2\x82\xac\xf0\x9f\x98\x80"},
	};
	const char *kf[] = {"k\"f"};
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	char *out;

	/* 16 bytes and no NUL, as the kernel may hand comm over. */
	memcpy(s.comm, "\"\\\n\xff<script>ABCD", 16);
	s.wait = "chan send\"";
	s.frames = frames;
	s.nframes = 3;
	s.kframes = kf;
	s.nkframes = 1;
	out = render(pw_output_json, &snap);
	py_check(out,
		 "s = o['sites'][0]\n"
		 "assert s['comm'] == '\"\\\\\\n\\ufffd<script>ABCD', repr(s['comm'])\n"
		 "assert s['wait'] == 'chan send\"'\n"
		 "assert s['frames'][0]['func'] == 'f\"q\\\\b\\n\\t\\x01\\x1f\\x7f'\n"
		 "assert s['frames'][0]['module'] == '/tmp/we\"ird\\\\dir/bin\\n'\n"
		 "assert s['frames'][0]['file'] == 'caf\\u00e9.c'\n"
		 "assert s['frames'][1]['func'] == 'a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd'"
		 " '\\ufffd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd', repr(s['frames'][1]['func'])\n"
		 "assert s['frames'][2]['func'] == '\\u20ac\\U0001f600'\n"
		 "assert s['kernel_frames'] == ['k\"f']\n"
		 "assert s['site'] == s['frames'][0]['func'] + ' (caf\\u00e9.c:1)', s['site']\n");
	/* Raw output: no control byte and no byte >= 0x80 outside valid sequences. */
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("raw control byte 0x%02x in JSON", *p);
	free(out);
}

static void test_json_unknowns_and_nulls(void **state)
{
	struct pw_frame unknown[] = {
		{.addr = 0x7f00deadbeef}, /* no module, nothing known */
		{.addr = 0x55d0c0a01234, .offset = 0x1234, .module = LEAKY},
		{.addr = 0x55d0c0a01300,
		 .offset = 0x1300,
		 .module = LEAKY,
		 .func = "inl",
		 .file = "leaky.c",
		 .line = 0,
		 .inlined = true},
	};
	struct pw_frame all_libc[] = {
		{.addr = 1,
		 .offset = 0x91d36,
		 .module = LIBC,
		 .func = "__futex_abstimed_wait_common"},
		{.addr = 2, .offset = 0x94558, .module = LIBC, .func = "___pthread_cond_wait"},
	};
	struct pw_site s[4];
	struct pw_snapshot snap = snap_of(s, 4);
	char *out;

	s[0] = site_leaky();
	s[0].frames = unknown;
	s[0].nframes = 3;
	s[0].oldest_age_s = NAN;
	s[0].median_age_s = INFINITY;
	s[0].age_is_lower_bound = true;
	s[0].wait = NULL;
	/* No user frames at all: site is null. */
	s[1] = site_leaky();
	s[1].frames = NULL;
	s[1].nframes = 0;
	s[1].kind = PW_KIND_GOROUTINE;
	/* Unwind stopped in libc: the outermost frame is the best label there is. */
	s[2] = site_leaky();
	s[2].frames = all_libc;
	s[2].nframes = 2;
	s[2].has_trend = true;
	s[2].growth_per_min = 598.2;
	s[2].trend = "rising";
	s[2].leak_suspect = true;
	/* The collector's label wins over recomputing it. */
	s[3] = site_leaky();
	s[3].label = "from_collector";
	s[3].has_trend = true;
	s[3].growth_per_min = -0.0001;
	s[3].trend = NULL;
	snap.elapsed_s = NAN;
	snap.interval_s = -INFINITY;
	snap.parked_goroutines = UINT64_MAX;
	out = render(pw_output_json, &snap);
	py_check(out,
		 "assert o['elapsed_s'] is None and o['interval_s'] is None\n"
		 "assert o['parked_goroutines'] == 2**64 - 1\n"
		 "a, b, c, d = o['sites']\n"
		 "assert a['frames'][0] == {'func': None, 'module': None, 'file': None, 'line': "
		 "None,"
		 " 'addr': '0x7f00deadbeef', 'offset': None}, a['frames'][0]\n"
		 "assert a['frames'][1] == {'func': None, 'module': '" LEAKY "', 'file': None,"
		 " 'line': None, 'addr': '0x55d0c0a01234', 'offset': '0x1234'}\n"
		 "assert a['frames'][2]['inlined'] is True and a['frames'][2]['line'] is None\n"
		 "assert 'inlined' not in a['frames'][0]\n"
		 "assert a['site'] == '0x7f00deadbeef', a['site']\n"
		 "assert a['oldest_age_s'] is None and a['median_age_s'] is None\n"
		 "assert a['age_is_lower_bound'] is True and a['wait'] is None\n"
		 "assert b['site'] is None and b['frames'] == [] and b['kind'] == 'goroutine'\n"
		 "assert c['site'] == '___pthread_cond_wait', c['site']\n"
		 "assert c['growth_per_min'] == 598.2 and c['trend'] == 'rising'\n"
		 "assert c['leak_suspect'] is True\n"
		 "assert d['site'] == 'from_collector'\n"
		 "assert d['growth_per_min'] == 0.0 and d['trend'] is None\n"
		 "assert d['leak_suspect'] is False\n");
	free(out);
}

static void test_json_number_text(void **state)
{
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	char *out;

	s.oldest_age_s = 0.1234;
	s.median_age_s = 1e20;
	snap.elapsed_s = 12;
	snap.interval_s = 0;
	snap.time = 0;
	out = render(pw_output_json, &snap);
	assert_non_null(strstr(out, "\"time\":\"1970-01-01T00:00:00.000Z\""));
	assert_non_null(strstr(out, "\"elapsed_s\":12.0,"));
	assert_non_null(strstr(out, "\"interval_s\":0.0,"));
	assert_non_null(strstr(out, "\"oldest_age_s\":0.123,"));
	assert_null(strstr(out, "nan"));
	py_check(out, "assert o['sites'][0]['median_age_s'] == 1e20\n");
	free(out);
}

static void test_json_empty_snapshot(void **state)
{
	struct pw_snapshot snap = snap_of(NULL, 0);
	char *out = render(pw_output_json, &snap);

	py_check(out, "assert o['sites'] == [] and len(o['drops']) == 11\n");
	free(out);
}

static void test_json_write_error(void **state)
{
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	FILE *f = fopen("/dev/full", "w");

	assert_non_null(f);
	/* Unbuffered, so the failure shows before the caller's fflush. */
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(pw_output_json(f, &snap), -ENOSPC);
	assert_int_equal(pw_output_folded(f, &snap), -ENOSPC);
	assert_int_equal(pw_output_table(f, &snap, 100, 3), -ENOSPC);
	assert_int_equal(pw_output_drops_line(f, &snap.drops), -ENOSPC);
	fclose(f);
	assert_int_equal(pw_output_json(NULL, &snap), -EINVAL);
	assert_int_equal(pw_output_json(stdout, NULL), -EINVAL);
}

/*
 * A sample larger than stdio's buffer still reaches the fd in one write: on a SEQPACKET
 * socket every write is one message, so one recv() gets the whole line or it was split.
 */
static void test_json_fd_one_write(void **state)
{
	static struct pw_site sites[64];
	struct pw_snapshot snap;
	char *want, *got;
	int sv[2], i, fd;
	ssize_t n;

	for (i = 0; i < 64; i++) {
		sites[i] = site_leaky();
		sites[i].id += i;
	}
	snap = snap_of(sites, 64);
	want = render(pw_output_json, &snap);
	assert_true(strlen(want) > 4 * 4096);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	i = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &i, sizeof(i));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &i, sizeof(i));
	assert_int_equal(pw_output_json_fd(sv[0], &snap), 0);
	got = calloc(1, 1 << 20);
	assert_non_null(got);
	n = recv(sv[1], got, 1 << 20, MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(got, want, n);
	/* Nothing else was sent. */
	assert_int_equal(recv(sv[1], got, 1 << 20, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(sv[0]);
	close(sv[1]);
	fd = open("/dev/full", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pw_output_json_fd(fd, &snap), -ENOSPC);
	close(fd);
	free(got);
	free(want);
}

/* ---- folded ---- */

static void assert_folded_lines(const char *out, int want_lines)
{
	regex_t re;
	const char *p = out;
	int lines = 0;

	assert_int_equal(regcomp(&re, "^[^ ]+ [0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	while (*p) {
		const char *nl = strchr(p, '\n');
		char *line;

		assert_non_null(nl);
		line = strndup(p, nl - p);
		if (regexec(&re, line, 0, NULL, 0))
			fail_msg("folded line does not parse: '%s'", line);
		free(line);
		lines++;
		p = nl + 1;
	}
	regfree(&re);
	assert_int_equal(lines, want_lines);
}

static void test_folded_order(void **state)
{
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	char *out = render(pw_output_folded, &snap);

	assert_string_equal(out, "leaky;start_thread;worker_main;fetch_worker;___pthread_cond_wait;"
				 "__futex_abstimed_wait_common;[futex];"
				 "entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];"
				 "futex_wait_[k];schedule_[k];__schedule_[k] 420\n");
	assert_folded_lines(out, 1);
	free(out);
}

static void test_folded_hostile(void **state)
{
	struct pw_frame frames[] = {
		{.addr = 0x1000, .module = LEAKY, .func = "operator new(unsigned long)"},
		{.addr = 0x2000, .module = LEAKY, .func = "a;b c\td\ne\r\x01\x7f\xff\xc0\xaf"},
		{.addr = 0x3000, .offset = 0x30, .module = "/opt/my app/bin x"},
		{.addr = 0x7f0000004000},
		{.addr = 0x5000, .module = LEAKY, .func = ""},
		{.addr = 0x6000, .module = LEAKY, .func = "caf\xc3\xa9", .inlined = true},
	};
	const char *kf[] = {"k;1 2", ""};
	struct pw_site s[3];
	struct pw_snapshot snap = snap_of(s, 3);
	char *out;

	s[0] = site_leaky();
	memcpy(s[0].comm,
	       "my proc;x\n\xff"
	       "12345678",
	       16);
	s[0].frames = frames;
	s[0].nframes = 6;
	s[0].kframes = kf;
	s[0].nkframes = 2;
	s[0].wait = "chan send";
	s[0].count = 3;
	s[1] = site_leaky();
	s[1].count = 0; /* drained: nothing to draw */
	s[2] = site_leaky();
	memset(s[2].comm, 0, sizeof(s[2].comm));
	s[2].frames = NULL;
	s[2].nframes = 0;
	s[2].kframes = NULL;
	s[2].nkframes = 0;
	s[2].wait = NULL;
	s[2].count = 1;
	out = render(pw_output_folded, &snap);
	assert_folded_lines(out, 2);
	assert_string_equal(out, "my_proc_x__12345;caf\xc3\xa9;[unknown];0x7f0000004000;"
				 "bin_x+0x30;a_b_c_d_e______;operator_new(unsigned_long);"
				 "[chan_send];[unknown]_[k];k_1_2_[k] 3\n"
				 "[unknown];[[unknown]] 1\n");
	free(out);
}

static void test_drops_line(void **state)
{
	struct pw_drops d = {{0}};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	d.n[PW_DROP_SITE_TABLE] = 7;
	d.n[PW_DROP_TASK_STORAGE] = UINT64_MAX;
	assert_int_equal(pw_output_drops_line(f, &d), 0);
	fclose(f);
	assert_string_equal(buf, "drops: task_storage=18446744073709551615 futex_map=0 "
				 "user_stack=0 kernel_stack=0 scan_record=0 unwind=0 module=0 "
				 "proc_gone=0 site_table=7 go_proc=0 goroutine=0\n");
	free(buf);
}

/* ---- table ---- */

static void test_table_layout(void **state)
{
	struct pw_site s[3];
	struct pw_snapshot snap = snap_of(s, 3);
	char *out, *p;
	int lines = 0;

	s[0] = site_leaky();
	s[0].count = 3;
	s[0].oldest_age_s = 2 * 3600 + 13 * 60 + 5;
	s[0].age_is_lower_bound = true;
	s[1] = site_leaky();
	s[1].id = 2;
	s[1].label = "a_really_long_function_name_that_cannot_possibly_fit_in_the_site_column"
		     "_of_a_hundred_column_terminal";
	s[1].wait = "epoll_pwait2_but_longer";
	s[2] = site_leaky();
	s[2].count = 0;
	pw_snapshot_sort(&snap);
	out = render_table(&snap, 100, 3);

	/* Every line fits; none carries a control byte other than its newline. */
	for (p = out; *p; lines++) {
		char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (columns(p, nl - p) > 100)
			fail_msg("line wider than 100: '%.*s'", (int)(nl - p), p);
		for (char *q = p; q < nl; q++)
			assert_true((unsigned char)*q >= 0x20 && *q != 0x7f);
		p = nl + 1;
	}
	assert_true(strncmp(out,
			    " COUNT WAIT          WORDS    OLDEST      PID COMM             SITE\n",
			    67) == 0);
	/* Sorted by count: the 420 row first, the long label cut with "…". */
	p = strchr(out, '\n') + 1;
	assert_true(strncmp(p, "   420 epoll_pwait\xe2\x80\xa6 ", 22) == 0);
	p = strstr(p, " a_really_long_function_name_that_can\xe2\x80\xa6\n");
	assert_non_null(p);
	/* The cut row uses the full width, not one column more or less. */
	assert_int_equal(columns(p + 1, strlen("a_really_long_function_name_that_can") + 3), 37);
	assert_non_null(strstr(out, "\xe2\x89\xa5 2h13m"));
	assert_non_null(strstr(out, "    at __futex_abstimed_wait_common (libc.so.6)\n"));
	assert_non_null(strstr(out, "    at fetch_worker (leaky.c:88)\n"));
	assert_non_null(strstr(out, "    \xe2\x80\xa6 2 more\n"));
	assert_non_null(strstr(out, "fetch_worker (leaky.c:88)\n    at"));
	assert_non_null(strstr(out, "423 parked threads in 3 sites (2 shown)\ndrops: none\n"));
	/* 2 rows + 2x(3 frames + "more") + header + summary + drops. */
	assert_int_equal(lines, 13);
	free(out);
}

static void test_table_hostile_comm_and_drops(void **state)
{
	struct pw_site s[2];
	struct pw_snapshot snap = snap_of(s, 2);
	char *out, *p;

	s[0] = site_leaky();
	/* ESC sequence, C1 CSI (U+009B), BEL, invalid byte, no NUL terminator. */
	memcpy(s[0].comm,
	       "\x1b]0;pwn\x07\xc2\x9b"
	       "2J\xff"
	       "abc",
	       16);
	s[0].kind = PW_KIND_GOROUTINE;
	s[0].count = 1;
	s[0].wait = "chan send";
	s[1] = site_leaky();
	s[1].frames = NULL;
	s[1].nframes = 0;
	s[1].count = 1;
	snap.drops.n[PW_DROP_UNWIND] = 2;
	snap.drops.n[PW_DROP_PROC_GONE] = 1;
	out = render_table(&snap, 0, 2);
	for (p = out; *p; p++)
		assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	assert_null(strstr(out, "\xc2\x9b"));
	assert_non_null(strstr(out, "?]0;pwn??2J?abc"));
	assert_non_null(strstr(out, "[no user stack]\n    at __schedule [kernel]\n"
				    "    at schedule [kernel]\n"));
	assert_non_null(strstr(out, "1 parked thread and 1 parked goroutine in 2 sites (2 shown)\n"
				    "drops: unwind=2 proc_gone=1\n"));
	free(out);
}

static void test_table_no_frames_and_narrow(void **state)
{
	struct pw_site s = site_leaky();
	struct pw_snapshot snap = snap_of(&s, 1);
	char *out = render_table(&snap, 20, 0);

	assert_null(strstr(out, "    at"));
	/* Too narrow for the fixed columns: the site keeps a minimum of 10 columns. */
	assert_non_null(strstr(out, " fetch_wor\xe2\x80\xa6\n"));
	free(out);
	snap.nsites = 0;
	out = render_table(&snap, 100, 5);
	assert_non_null(strstr(out, "0 parked threads in 0 sites (0 shown)\ndrops: none\n"));
	free(out);
}

/* ---- sort ---- */

static void test_sort(void **state)
{
	struct pw_site s[6];
	struct pw_snapshot snap = snap_of(s, 6);
	static const uint64_t want[] = {5, 4, 1, 2, 6, 3};
	int i;

	for (i = 0; i < 6; i++) {
		s[i] = site_leaky();
		s[i].id = i + 1;
	}
	s[0].count = 10, s[0].oldest_age_s = 5;
	s[1].count = 10, s[1].oldest_age_s = 5;
	s[2].count = 1, s[2].oldest_age_s = 100;
	s[3].count = 10, s[3].oldest_age_s = 50;
	s[4].count = 99, s[4].oldest_age_s = 1;
	s[5].count = 10, s[5].oldest_age_s = NAN;
	pw_snapshot_sort(&snap);
	for (i = 0; i < 6; i++)
		if (s[i].id != want[i])
			fail_msg("position %d: id %d, want %d", i, (int)s[i].id, (int)want[i]);
	pw_snapshot_sort(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_contract),
		cmocka_unit_test(test_json_hostile_strings),
		cmocka_unit_test(test_json_unknowns_and_nulls),
		cmocka_unit_test(test_json_number_text),
		cmocka_unit_test(test_json_empty_snapshot),
		cmocka_unit_test(test_json_write_error),
		cmocka_unit_test(test_json_fd_one_write),
		cmocka_unit_test(test_folded_order),
		cmocka_unit_test(test_folded_hostile),
		cmocka_unit_test(test_drops_line),
		cmocka_unit_test(test_table_layout),
		cmocka_unit_test(test_table_hostile_comm_and_drops),
		cmocka_unit_test(test_table_no_frames_and_narrow),
		cmocka_unit_test(test_sort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
