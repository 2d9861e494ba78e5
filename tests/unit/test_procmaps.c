/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "procmaps.h"

/* Lines as the kernel prints them, one of each kind. */
static const char sample[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 5308646                    /usr/bin/app\n"
	"55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:00 5308646                    /usr/bin/app\n"
	"55d0c1b6e000-55d0c1b8f000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f2f535c0000-7f2f535c3000 rw-p 00000000 00:00 0 \n"
	"7f2f535e9000-7f2f5373f000 r-xp 00026000 fe:00 332835                     "
	"/usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f2f53700000-7f2f53701000 r-xp 00000000 103:02 18446744073709551615       "
	"/tmp/my lib (deleted).so (deleted)\n"
	"7f2f537b8000-7f2f537ba000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffee0380000-7ffee03a1000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void test_parse_kinds(void **state)
{
	struct pw_maps *m;
	const struct pw_map *x;

	assert_int_equal(pw_maps__parse(sample, strlen(sample), &m), 0);
	assert_int_equal(m->n, 9);
	assert_int_equal(m->nbad, 0);

	x = &m->maps[1];
	assert_true(x->start == 0x55d0c0a01000ULL && x->end == 0x55d0c0a02000ULL);
	assert_true(x->offset == 0x1000 && x->inode == 5308646);
	assert_int_equal(x->dev_major, 0xfe);
	assert_int_equal(x->dev_minor, 0);
	assert_string_equal(x->perms, "r-xp");
	assert_string_equal(x->path, "/usr/bin/app");
	assert_false(x->deleted);

	/* Anonymous: empty path, not NULL. */
	assert_string_equal(m->maps[3].path, "");
	assert_string_equal(m->maps[2].path, "[heap]");

	/* Spaces inside a path, only the final " (deleted)" is the kernel's. */
	x = &m->maps[5];
	assert_string_equal(x->path, "/tmp/my lib (deleted).so");
	assert_true(x->deleted);
	assert_int_equal(x->dev_major, 0x103);
	assert_int_equal(x->dev_minor, 2);
	assert_true(x->inode == UINT64_MAX);

	assert_string_equal(m->maps[6].path, "[vdso]");
	assert_string_equal(m->maps[7].path, "[stack]");
	/* The top of the address space parses without overflow. */
	assert_true(m->maps[8].end == 0xffffffffff601000ULL);
	assert_string_equal(m->maps[8].perms, "--xp");
	pw_maps__free(m);
}

static void test_find(void **state)
{
	struct pw_maps *m;
	const struct pw_map *x;

	assert_int_equal(pw_maps__parse(sample, strlen(sample), &m), 0);
	assert_null(pw_maps__find(m, 0));
	assert_null(pw_maps__find(m, 0x55d0c09fffffULL));
	x = pw_maps__find(m, 0x55d0c0a00000ULL); /* start is inside */
	assert_non_null(x);
	assert_string_equal(x->perms, "r--p");
	x = pw_maps__find(m, 0x55d0c0a01000ULL); /* end is not */
	assert_string_equal(x->perms, "r-xp");
	assert_null(pw_maps__find(m, 0x55d0c0a02000ULL)); /* gap */
	x = pw_maps__find(m, 0x7ffee03a0fffULL);
	assert_string_equal(x->path, "[stack]");
	assert_non_null(pw_maps__find(m, 0xffffffffff600fffULL));
	assert_null(pw_maps__find(m, UINT64_MAX));
	assert_null(pw_maps__find(NULL, 1));
	pw_maps__free(m);
}

static void test_hostile_lines(void **state)
{
	static const char text[] =
		"garbage\n"
		"\n"
		"1000-2000 r-xp 0 fe:00 1 /ok/one\n"
		"2000-1000 r-xp 0 fe:00 1 /reversed\n"
		"3000-3000 r-xp 0 fe:00 1 /empty\n"
		"10000000000000000-10000000000000001 r-xp 0 fe:00 1 /too-wide\n"
		"4000-5000 rwzp 0 fe:00 1 /bad-perms\n"
		"4000-5000 r-xp 0 fe 1 /no-minor\n"
		"4000-5000 r-xp 0 fe:00 /no-inode\n"
		"4000-5000 r-xp 0 fe:00 99999999999999999999999 /inode-overflow\n"
		"4000-5000 r-xp 0 1ffffffff:00 1 /dev-overflow\n"
		"-5000 r-xp 0 fe:00 1 /no-start\n"
		"4000-5000 r-xp 0 fe:00 1x /junk-after-inode\n"
		"4000-5000\n"
		"4000-5000 r-xp\n"
		"6000-7000 r--s 00000010 00:05 42\n"
		"7000-8000 ---p 0 0:0 0 /no-newline-at-end";
	struct pw_maps *m;

	assert_int_equal(pw_maps__parse(text, sizeof(text) - 1, &m), 0);
	assert_int_equal(m->n, 3);
	assert_int_equal(m->nbad, 13);
	assert_string_equal(m->maps[0].path, "/ok/one");
	assert_string_equal(m->maps[1].path, "");
	assert_true(m->maps[1].offset == 0x10);
	assert_string_equal(m->maps[2].path, "/no-newline-at-end");
	pw_maps__free(m);

	/* Nothing at all is an empty, valid result. */
	assert_int_equal(pw_maps__parse("", 0, &m), 0);
	assert_int_equal(m->n, 0);
	assert_null(pw_maps__find(m, 0x1000));
	pw_maps__free(m);
}

static void test_nul_bytes_and_length(void **state)
{
	/* Not NUL-terminated, a NUL inside a path, and bytes past len ignored. */
	static const char text[] = "1000-2000 r-xp 0 fe:00 1 /a\0hidden\n"
				   "2000-3000 r-xp 0 fe:00 1 /b\n"
				   "3000-4000 r-xp 0 fe:00 1 /c\n";
	size_t len = sizeof(text) - 1 - strlen("3000-4000 r-xp 0 fe:00 1 /c\n");
	struct pw_maps *m;

	assert_int_equal(pw_maps__parse(text, len, &m), 0);
	assert_int_equal(m->n, 2);
	assert_string_equal(m->maps[0].path, "/a");
	assert_string_equal(m->maps[1].path, "/b");
	pw_maps__free(m);
}

static void test_unsorted_input_is_sorted(void **state)
{
	static const char text[] = "5000-6000 r-xp 0 fe:00 1 /c\n"
				   "1000-2000 r-xp 0 fe:00 1 /a\n"
				   "3000-4000 r-xp 0 fe:00 1 /b\n";
	struct pw_maps *m;

	assert_int_equal(pw_maps__parse(text, sizeof(text) - 1, &m), 0);
	assert_int_equal(m->n, 3);
	assert_string_equal(m->maps[0].path, "/a");
	assert_string_equal(m->maps[2].path, "/c");
	assert_string_equal(pw_maps__find(m, 0x3abc)->path, "/b");
	assert_null(pw_maps__find(m, 0x4000));
	pw_maps__free(m);
}

static void test_dup(void **state)
{
	struct pw_maps *m, *c;

	assert_int_equal(pw_maps__parse(sample, strlen(sample), &m), 0);
	assert_int_equal(pw_maps__dup(m, &c), 0);
	assert_int_equal(c->n, m->n);
	assert_ptr_not_equal(c->maps[0].path, m->maps[0].path);
	assert_string_equal(c->maps[5].path, m->maps[5].path);
	assert_true(c->maps[5].deleted);
	pw_maps__free(m);
	/* The copy does not share anything with the freed original. */
	assert_string_equal(pw_maps__find(c, 0x7f2f535e9000ULL)->path,
			    "/usr/lib/x86_64-linux-gnu/libc.so.6");
	pw_maps__free(c);
}

static void test_read_self(void **state)
{
	int local = 0;
	struct pw_maps *m;
	const struct pw_map *x;

	assert_int_equal(pw_maps__read(getpid(), &m), 0);
	assert_true(m->n > 5);
	assert_int_equal(m->nbad, 0);
	x = pw_maps__find(m, (uint64_t)(uintptr_t)test_read_self);
	assert_non_null(x);
	assert_int_equal(x->perms[2], 'x');
	assert_non_null(strstr(x->path, "test_procmaps"));
	x = pw_maps__find(m, (uint64_t)(uintptr_t)&local);
	assert_non_null(x);
	assert_string_equal(x->path, "[stack]");
	pw_maps__free(m);
}

static void test_read_errors(void **state)
{
	struct pw_maps *m = (void *)1;

	/* Above any pid_max: the process is gone. */
	assert_int_equal(pw_maps__read(INT_MAX, &m), -ESRCH);
	assert_null(m);
	assert_int_equal(pw_maps__read(0, &m), -EINVAL);
	assert_int_equal(pw_maps__read(-1, &m), -EINVAL);
}

/* Random maps-alphabet noise: never crashes, invariants always hold. */
static void test_noise(void **state)
{
	static const char alpha[] = "0123456789abcdefx-: rwps\n/[]()deleted\0";
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char buf[512];
	int round, i;

	for (round = 0; round < 20000; round++) {
		size_t len = 0;
		struct pw_maps *m;

		/* Mostly valid lines with mutations, so the deep branches run too. */
		len = snprintf(buf, sizeof(buf), "%x-%x r-xp %x fe:%x %d /p\n", round * 16,
			       round * 16 + 8, round, round & 0xff, round);
		for (i = 0; i < 40; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			if (seed % 3 == 0 && len)
				buf[seed % len] = alpha[(seed >> 20) % (sizeof(alpha) - 1)];
			else if (len < sizeof(buf))
				buf[len++] = alpha[(seed >> 20) % (sizeof(alpha) - 1)];
		}
		assert_int_equal(pw_maps__parse(buf, len, &m), 0);
		for (i = 0; i < m->n; i++) {
			assert_true(m->maps[i].start < m->maps[i].end);
			assert_non_null(m->maps[i].path);
			assert_true(i == 0 || m->maps[i - 1].start <= m->maps[i].start);
		}
		pw_maps__free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_kinds),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_nul_bytes_and_length),
		cmocka_unit_test(test_unsorted_input_is_sorted),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_noise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
