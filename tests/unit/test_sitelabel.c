/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "sitelabel.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LEAKY "/work/build/workloads/leaky"

static struct pw_frame fr(const char *module, const char *func, const char *file, int line)
{
	struct pw_frame f = {.addr = 0x7f0000001000,
			     .offset = 0x1000,
			     .module = module,
			     .func = func,
			     .file = file,
			     .line = line};

	return f;
}

static void test_c_runtime_modules(void **state)
{
	static const char *const yes[] = {
		LIBC,
		"libc.so.6",
		"/lib/x86_64-linux-gnu/libc-2.31.so",
		"/lib/x86_64-linux-gnu/libpthread.so.0",
		"/lib/x86_64-linux-gnu/libpthread-2.31.so",
		"/lib64/ld-linux-x86-64.so.2",
		"/lib/ld-linux.so.2",
		"/lib/x86_64-linux-gnu/ld-2.31.so",
		"/lib/ld-musl-x86_64.so.1",
		"/usr/lib/libc.musl-x86_64.so.1",
		"/lib/x86_64-linux-gnu/librt.so.1",
		"/proc/4242/root/usr/lib/x86_64-linux-gnu/libc.so.6",
	};
	static const char *const no[] = {
		LEAKY,
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		"/lib/x86_64-linux-gnu/libgcc_s.so.1",
		"/usr/lib/libc++.so.1",
		"/usr/lib/libc-client.so.2007e",
		"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
		"/usr/lib/x86_64-linux-gnu/libcurl.so.4",
		"/sbin/ldconfig",
		"/opt/libc.so.6/leaky",
		"[vdso]",
		"libc",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!pw_is_c_runtime_module(yes[i]))
			fail_msg("'%s' should be the C runtime", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (pw_is_c_runtime_module(no[i]))
			fail_msg("'%s' should be program code", no[i]);
	assert_false(pw_is_c_runtime_module(NULL));
}

static void test_go_runtime_funcs(void **state)
{
	static const char *const yes[] = {
		"runtime.gopark",
		"runtime.chansend1",
		"runtime.selectgo",
		"runtime/internal/syscall.Syscall6",
		"internal/runtime/syscall.Syscall6",
		"sync.runtime_SemacquireMutex",
		"internal/poll.runtime_pollWait",
	};
	static const char *const no[] = {
		"main.handle.func1",
		"main.main",
		"runtime/pprof.Do",
		"runtime/debug.Stack",
		"sync.(*Mutex).Lock",
		"net/http.(*conn).serve",
		"internal/poll.(*FD).Read",
		"runtime_helper",
		"fetch_worker",
		"runtime",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!pw_is_go_runtime_func(yes[i]))
			fail_msg("'%s' should be the Go runtime", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (pw_is_go_runtime_func(no[i]))
			fail_msg("'%s' should be program code", no[i]);
	assert_false(pw_is_go_runtime_func(NULL));
}

static void test_label_c_thread(void **state)
{
	/* The seed's pattern: a worker parked in pthread_cond_wait. */
	struct pw_frame f[] = {
		fr(LIBC, "__futex_abstimed_wait_common", NULL, 0),
		fr(LIBC, "___pthread_cond_wait", NULL, 0),
		fr(LEAKY, "fetch_worker", "/src/tests/workloads/leaky.c", 88),
		fr(LEAKY, "worker_main", "/src/tests/workloads/leaky.c", 120),
		fr(LIBC, "start_thread", NULL, 0),
		fr(LIBC, "__clone3", NULL, 0),
	};

	assert_int_equal(pw_site_label_index(f, 6), 2);
	/* Only as many frames as the caller says. */
	assert_int_equal(pw_site_label_index(f, 2), -1);
}

static void test_label_skips_loader_and_pthread(void **state)
{
	struct pw_frame f[] = {
		fr("/lib/x86_64-linux-gnu/libpthread.so.0", "pthread_mutex_lock", NULL, 0),
		fr("/lib64/ld-linux-x86-64.so.2", "_dl_runtime_resolve_xsavec", NULL, 0),
		/* Unknown function in a library still counts as that library. */
		fr(LIBC, NULL, NULL, 0),
		fr("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "std::condition_variable::wait",
		   NULL, 0),
		fr(LEAKY, "main", "leaky.c", 10),
	};

	/* libstdc++ is the program's choice of API: it is the label. */
	assert_int_equal(pw_site_label_index(f, 5), 3);
}

static void test_label_go(void **state)
{
	struct pw_frame f[] = {
		fr("/srv/server", "runtime.gopark", "runtime/proc.go", 398),
		fr("/srv/server", "runtime.chansend", "runtime/chan.go", 259),
		fr("/srv/server", "runtime.chansend1", "runtime/chan.go", 145),
		fr("/srv/server", "main.handle.func1", "/src/main.go", 19),
		fr("/srv/server", "runtime.goexit", "runtime/asm_amd64.s", 1650),
	};
	struct pw_frame mutex[] = {
		fr("/srv/server", "runtime.gopark", NULL, 0),
		fr("/srv/server", "runtime.semacquire1", NULL, 0),
		fr("/srv/server", "sync.runtime_SemacquireMutex", NULL, 0),
		fr("/srv/server", "sync.(*Mutex).lockSlow", NULL, 0),
	};

	assert_int_equal(pw_site_label_index(f, 5), 3);
	assert_int_equal(pw_site_label_index(mutex, 4), 3);
}

static void test_label_unknown_module_is_program(void **state)
{
	struct pw_frame f[] = {
		fr(LIBC, "syscall", NULL, 0),
		fr(NULL, NULL, NULL, 0), /* JIT code or a torn mapping */
		fr(LEAKY, "main", NULL, 0),
	};

	assert_int_equal(pw_site_label_index(f, 3), 1);
}

static void test_label_none(void **state)
{
	struct pw_frame f[] = {
		fr(LIBC, "__futex_abstimed_wait_common", NULL, 0),
		fr("/lib64/ld-linux-x86-64.so.2", "_dl_start_user", NULL, 0),
	};

	assert_int_equal(pw_site_label_index(f, 2), -1);
	assert_int_equal(pw_site_label_index(f, 0), -1);
	assert_int_equal(pw_site_label_index(f, -3), -1);
	assert_int_equal(pw_site_label_index(NULL, 5), -1);
}

static void test_label_inlined_frame(void **state)
{
	struct pw_frame f[] = {
		fr(LIBC, "___pthread_cond_wait", NULL, 0),
		fr(LEAKY, "wait_reply", "leaky.c", 60),
		fr(LEAKY, "fetch_worker", "leaky.c", 88),
	};

	f[1].inlined = true;
	/* The inlined call is where the program waits: it names the site. */
	assert_int_equal(pw_site_label_index(f, 3), 1);
}

static void test_label_format(void **state)
{
	char buf[128];
	struct pw_frame f = fr(LEAKY, "fetch_worker", "/src/tests/workloads/leaky.c", 88);

	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fetch_worker (leaky.c:88)");
	f.file = "leaky.c";
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fetch_worker (leaky.c:88)");
	f.line = 0;
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fetch_worker");
	f.file = NULL;
	f.line = 88; /* a line without a file is no location */
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fetch_worker");
	f.dynsym_only = true;
	f.func_off = 0x1a;
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "fetch_worker+0x1a");
	f = fr(LEAKY, NULL, NULL, 0);
	f.offset = 0x1234;
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "leaky+0x1234");
	f.module = NULL;
	f.addr = 0x7f0011223344;
	pw_site_label_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "0x7f0011223344");
}

static void test_label_format_truncates_utf8(void **state)
{
	char buf[8];
	struct pw_frame f = fr(LEAKY, "a\xe2\x82\xac\xe2\x82\xac", NULL, 0); /* "a€€" */

	memset(buf, 'x', sizeof(buf));
	pw_site_label_format(&f, buf, 5);
	/* "a€" is 4 bytes: fits exactly. */
	assert_string_equal(buf, "a\xe2\x82\xac");
	pw_site_label_format(&f, buf, 4);
	/* No half of a "€" left behind. */
	assert_string_equal(buf, "a");
	pw_site_label_format(&f, buf, 1);
	assert_string_equal(buf, "");
	buf[0] = 'q';
	pw_site_label_format(&f, buf, 0);
	assert_int_equal(buf[0], 'q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c_runtime_modules),
		cmocka_unit_test(test_go_runtime_funcs),
		cmocka_unit_test(test_label_c_thread),
		cmocka_unit_test(test_label_skips_loader_and_pthread),
		cmocka_unit_test(test_label_go),
		cmocka_unit_test(test_label_unknown_module_is_program),
		cmocka_unit_test(test_label_none),
		cmocka_unit_test(test_label_inlined_frame),
		cmocka_unit_test(test_label_format),
		cmocka_unit_test(test_label_format_truncates_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
