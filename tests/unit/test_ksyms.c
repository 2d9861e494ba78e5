// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel symbols: read on first use, stored compactly, the same answers as a plain reader. */
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
#include "ksyms.h"

static char path[] = "/tmp/pw-ksyms-XXXXXX";

/* A kallsyms-format file with the given text; its path is in path[]. */
static void write_file(const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/pw-ksyms-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static struct pw_ksyms *load(const char *text)
{
	struct pw_ksyms *k;

	write_file(text, strlen(text));
	assert_int_equal(pw_ksyms__load(path, &k), 0);
	unlink(path);
	return k;
}

static void test_lazy(void **state)
{
	struct pw_ksyms *k;
	FILE *f;

	write_file("", 0);
	assert_int_equal(pw_ksyms__load(path, &k), 0);
	assert_int_equal(pw_ksyms__count(k), 0);
	/* Written after the load, read at the first lookup: nothing was read before. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ffffffff81000000 T _stext\nffffffff81001000 t schedule\n", f);
	fclose(f);
	unlink(path);
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81001234ULL), "schedule");
	assert_int_equal(pw_ksyms__count(k), 2);
	/* The same pointer every time: names are interned. */
	assert_ptr_equal(pw_ksyms__name(k, 0xffffffff81001000ULL),
			 pw_ksyms__name(k, 0xffffffff81001fffULL));
	pw_ksyms__free(k);
	/* Freed before any lookup: the open file is closed, nothing leaks (ASan). */
	k = load("ffffffff81000000 T _stext\n");
	pw_ksyms__free(k);
	pw_ksyms__free(NULL);
	assert_null(pw_ksyms__name(NULL, 1));
}

static void test_missing_and_empty(void **state)
{
	struct pw_ksyms *k = (struct pw_ksyms *)1;

	assert_int_equal(pw_ksyms__load("/nonexistent/kallsyms", &k), -ENOENT);
	assert_null(k);
	/* kptr_restrict: every address reads as zero, so no symbol is usable. */
	k = load("0000000000000000 T _stext\n0000000000000000 t schedule\n");
	assert_null(pw_ksyms__name(k, 0xffffffff81000000ULL));
	assert_int_equal(pw_ksyms__count(k), 0);
	pw_ksyms__free(k);
	k = load("");
	assert_null(pw_ksyms__name(k, 0xffffffff81000000ULL));
	pw_ksyms__free(k);
}

/* "__pfx_NAME" borrows NAME's bytes when NAME follows it; it still names its own addresses. */
static void test_pfx(void **state)
{
	struct pw_ksyms *k = load("ffffffff81000ff0 t __pfx_futex_wait_queue\n"
				  "ffffffff81001000 t futex_wait_queue\n"
				  "ffffffff81001ff0 T __pfx_lonely\n"
				  "ffffffff81002000 T other\n"
				  "ffffffff81002ff0 t __pfx_a\n"
				  "ffffffff81002ff8 t __pfx_b\n"
				  "ffffffff81003000 t b\n"
				  "ffffffff81004000 t __pfx_\n"
				  "ffffffff81005000 t __pfx_last");

	assert_string_equal(pw_ksyms__name(k, 0xffffffff81000ff4ULL), "__pfx_futex_wait_queue");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81001004ULL), "futex_wait_queue");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81001ff0ULL), "__pfx_lonely");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002001ULL), "other");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002ff0ULL), "__pfx_a");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002ff8ULL), "__pfx_b");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81003000ULL), "b");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81004000ULL), "__pfx_");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81005000ULL), "__pfx_last");
	assert_int_equal(pw_ksyms__count(k), 9);
	pw_ksyms__free(k);
}

/* Other files need not be sorted; ties keep the file's order (the last one wins). */
static void test_unsorted(void **state)
{
	struct pw_ksyms *k = load("ffffffff81003000 T do_syscall_64\t[kernel]\n"
				  "ffffffff81002ff0 t __pfx_do_syscall_64\n"
				  "ffffffff81001000 t futex_wait_queue\n"
				  "ffffffff81000000 T _stext\n"
				  "ffffffff81000000 T _text\n"
				  "ffffffff81000ff0 t __pfx_futex_wait_queue\n"
				  "ffffffff82000000 D some_data\n"
				  "garbage line\n"
				  "ffffffff8100zz00 t bad_hex\n"
				  "ffffffff81007000 tt two_letter_type\n"
				  "ffffffff81008000 t\n"
				  "ffffffffffffffff00 t too_long_address\n");

	assert_string_equal(pw_ksyms__name(k, 0xffffffff81000010ULL), "_text");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81000ff0ULL), "__pfx_futex_wait_queue");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81001010ULL), "futex_wait_queue");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002ff1ULL), "__pfx_do_syscall_64");
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81003fffULL), "do_syscall_64");
	/* Data symbols are no boundary: the last text symbol goes on. */
	assert_string_equal(pw_ksyms__name(k, 0xffffffff82000001ULL), "do_syscall_64");
	assert_null(pw_ksyms__name(k, 0xffffffff80ffffffULL));
	assert_int_equal(pw_ksyms__count(k), 6);
	pw_ksyms__free(k);
}

/* Names are cut at 255 bytes; a line longer than the read buffer is skipped, not split. */
static void test_long_lines(void **state)
{
	size_t huge = 200 << 10, n = 0;
	char *text = malloc(huge + 1024), *name = malloc(400);
	struct pw_ksyms *k;
	const char *s;

	assert_non_null(text);
	assert_non_null(name);
	memset(name, 'x', 300);
	name[300] = 0;
	n += sprintf(text + n, "ffffffff81000000 T %s\n", name);
	n += sprintf(text + n, "ffffffff81001000 T ");
	memset(text + n, 'y', huge);
	n += huge;
	n += sprintf(text + n, "\nffffffff81002000 T after_the_long_one\n");
	write_file(text, n);
	assert_int_equal(pw_ksyms__load(path, &k), 0);
	unlink(path);
	s = pw_ksyms__name(k, 0xffffffff81000010ULL);
	assert_non_null(s);
	assert_int_equal(strlen(s), 255);
	/* The long line's symbol is gone: its address falls to the one before. */
	assert_ptr_equal(pw_ksyms__name(k, 0xffffffff81001000ULL), s);
	assert_string_equal(pw_ksyms__name(k, 0xffffffff81002000ULL), "after_the_long_one");
	assert_int_equal(pw_ksyms__count(k), 2);
	pw_ksyms__free(k);
	free(text);
	free(name);
}

struct ref {
	uint64_t addr;
	size_t seq;
	char name[256];
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * On this host's own kallsyms (a copy: BPF programs come and go), every answer is the one a
 * plain sscanf reader gives. Without CAP_SYSLOG the addresses are zeros: nothing to compare.
 */
static void test_matches_plain_reader(void **state)
{
	char line[1024], name[256], type;
	struct ref *ref = NULL;
	unsigned long long a;
	size_t n = 0, cap = 0, i, j;
	struct pw_ksyms *k;
	FILE *in = fopen("/proc/kallsyms", "re"), *out;
	int fd;

	if (!in) {
		skip();
		return;
	}
	strcpy(path, "/tmp/pw-ksyms-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	while (fgets(line, sizeof(line), in)) {
		fputs(line, out);
		if (sscanf(line, "%llx %c %255s", &a, &type, name) != 3 || !a ||
		    (type != 't' && type != 'T' && type != 'w' && type != 'W'))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			ref = realloc(ref, cap * sizeof(*ref));
			assert_non_null(ref);
		}
		ref[n].addr = a;
		ref[n].seq = n;
		strcpy(ref[n].name, name);
		n++;
	}
	fclose(in);
	fclose(out);
	assert_int_equal(pw_ksyms__load(path, &k), 0);
	unlink(path);
	if (!n) {
		pw_ksyms__free(k);
		skip();
		return;
	}
	/* kallsyms lists modules and BPF programs after the kernel: sorting matters. */
	qsort(ref, n, sizeof(*ref), cmp_ref);
	for (i = 0; i < n; i = j) {
		const char *got;

		for (j = i; j + 1 < n && ref[j + 1].addr == ref[i].addr; j++)
			;
		/* Of symbols at one address, the last in the file names it. */
		got = pw_ksyms__name(k, ref[i].addr);
		assert_non_null(got);
		assert_string_equal(got, ref[j].name);
		if (j + 1 == n || ref[j + 1].addr > ref[i].addr + 1)
			assert_ptr_equal(pw_ksyms__name(k, ref[i].addr + 1), got);
		j++;
	}
	assert_int_equal(pw_ksyms__count(k), n);
	assert_null(pw_ksyms__name(k, ref[0].addr - 1));
	pw_ksyms__free(k);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy),	   cmocka_unit_test(test_missing_and_empty),
		cmocka_unit_test(test_pfx),	   cmocka_unit_test(test_unsorted),
		cmocka_unit_test(test_long_lines), cmocka_unit_test(test_matches_plain_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
