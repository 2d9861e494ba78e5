// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Site identity and kernel symbol lookup: the pure parts of aggregation. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "collect.h"
#include "ksyms.h"

static void frames(struct pw_frame *f, uint64_t bias)
{
	memset(f, 0, 3 * sizeof(*f));
	f[0].module = pw_intern("/usr/lib/x86_64-linux-gnu/libc.so.6");
	f[0].offset = 0x85f16;
	f[0].addr = bias + 0x85f16;
	f[1].module = pw_intern("/srv/app/leaky");
	f[1].offset = 0x2daf;
	f[1].addr = bias + 0x7000000 + 0x2daf;
	f[2].addr = 0xdeadbeef; /* unmapped: keyed by address */
}

static void test_key_ignores_aslr(void **state)
{
	struct pw_frame a[3], b[3];

	frames(a, 0x7f0000000000ULL);
	frames(b, 0x7f1234560000ULL);
	assert_true(pw_site_key(42, 7, PW_KIND_THREAD, "futex", a, 3, NULL, 0) ==
		    pw_site_key(42, 7, PW_KIND_THREAD, "futex", b, 3, NULL, 0));
}

static void test_key_separates(void **state)
{
	struct pw_frame a[3];
	uint64_t k;

	frames(a, 0);
	k = pw_site_key(42, 7, PW_KIND_THREAD, "futex", a, 3, NULL, 0);
	/* Another process, another incarnation of the pid, kind, wait or stack: another site. */
	assert_true(k != pw_site_key(43, 7, PW_KIND_THREAD, "futex", a, 3, NULL, 0));
	assert_true(k != pw_site_key(42, 8, PW_KIND_THREAD, "futex", a, 3, NULL, 0));
	assert_true(k != pw_site_key(42, 7, PW_KIND_GOROUTINE, "futex", a, 3, NULL, 0));
	assert_true(k != pw_site_key(42, 7, PW_KIND_THREAD, "read", a, 3, NULL, 0));
	assert_true(k != pw_site_key(42, 7, PW_KIND_THREAD, "futex", a, 2, NULL, 0));
	a[1].offset++;
	assert_true(k != pw_site_key(42, 7, PW_KIND_THREAD, "futex", a, 3, NULL, 0));
}

static void test_key_kernel_frames_without_user_frames(void **state)
{
	const char *k1[] = {"futex_wait", "do_futex"}, *k2[] = {"pipe_read", "vfs_read"};

	assert_true(pw_site_key(1, 1, PW_KIND_THREAD, "sleep", NULL, 0, k1, 2) !=
		    pw_site_key(1, 1, PW_KIND_THREAD, "sleep", NULL, 0, k2, 2));
}

static void test_ksyms(void **state)
{
	char path[] = "/tmp/pw-kallsyms-XXXXXX";
	struct pw_ksyms *k;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	/* Unsorted, with data symbols and garbage lines that must be ignored. */
	fputs("ffffffff81002000 T schedule\n"
	      "ffffffff81001000 t futex_wait_queue\n"
	      "ffffffff82000000 D some_data\n"
	      "garbage line\n"
	      "0000000000000000 T hidden_by_kptr_restrict\n"
	      "ffffffff81003000 T do_syscall_64\t[kernel]\n",
	      f);
	fclose(f);
	assert_int_equal(pw_ksyms__load(path, &k), 0);
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81001010ULL), "futex_wait_queue");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002000ULL), "schedule");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81003fffULL), "do_syscall_64");
	assert_null(pw_ksyms__name(k, 0xffffffff80000000ULL));
	pw_ksyms__free(k);
	unlink(path);
	assert_int_equal(pw_ksyms__load("/nonexistent/kallsyms", &k), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_ignores_aslr),
		cmocka_unit_test(test_key_separates),
		cmocka_unit_test(test_key_kernel_frames_without_user_frames),
		cmocka_unit_test(test_ksyms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
