// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The iterator's record stream is outside data for userspace: parse it strictly. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "tracer.h"

struct seen {
	int n;
	uint32_t tids[8];
	uint32_t stack_len[8];
	const void *stack[8];
};

static int record(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		s->tids[s->n] = rec->tid;
		s->stack_len[s->n] = rec->stack_len;
		s->stack[s->n] = stack;
	}
	s->n++;
	return 0;
}

/* Appends one record (with stack_len bytes of 0xab) to buf at *off. */
static void put(unsigned char *buf, size_t *off, uint32_t tid, uint32_t stack_len)
{
	struct pw_task_rec r;

	memset(&r, 0, sizeof(r));
	r.magic = PW_REC_MAGIC;
	r.size = sizeof(r) + stack_len;
	r.tid = tid;
	r.stack_len = stack_len;
	memcpy(buf + *off, &r, sizeof(r));
	memset(buf + *off + sizeof(r), 0xab, stack_len);
	*off += r.size;
}

static unsigned char buf[4 * (sizeof(struct pw_task_rec) + PW_USTACK_MAX)];

static void test_parse_valid(void **state)
{
	struct seen s = {0};
	size_t off = 0;

	put(buf, &off, 11, 0);
	put(buf, &off, 12, 100);
	put(buf, &off, 13, PW_USTACK_MAX);
	assert_int_equal(pw_parse_records(buf, off, record, &s), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.tids[0], 11);
	assert_null(s.stack[0]);
	assert_int_equal(s.stack_len[1], 100);
	assert_ptr_equal(s.stack[1], buf + 2 * sizeof(struct pw_task_rec));
	assert_int_equal(((const unsigned char *)s.stack[2])[PW_USTACK_MAX - 1], 0xab);
}

static void test_parse_empty(void **state)
{
	struct seen s = {0};

	assert_int_equal(pw_parse_records(buf, 0, record, &s), 0);
	assert_int_equal(s.n, 0);
}

static void test_parse_truncated(void **state)
{
	struct seen s = {0};
	size_t off = 0, cut;

	put(buf, &off, 11, 64);
	put(buf, &off, 12, 64);
	/* Every cut inside the second record is an error, after the first was delivered. */
	for (cut = off - 1; cut > off - (sizeof(struct pw_task_rec) + 64); cut -= 37) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(pw_parse_records(buf, cut, record, &s), -EINVAL);
		assert_int_equal(s.n, 1);
	}
}

static void test_parse_hostile_headers(void **state)
{
	struct pw_task_rec *r = (struct pw_task_rec *)buf;
	struct seen s = {0};
	size_t off = 0;

	put(buf, &off, 11, 64);
	r->magic ^= 1;
	assert_int_equal(pw_parse_records(buf, off, record, &s), -EINVAL);
	r->magic = PW_REC_MAGIC;
	r->size = sizeof(*r) - 1; /* would loop forever or read backwards */
	assert_int_equal(pw_parse_records(buf, off, record, &s), -EINVAL);
	r->size = sizeof(*r) + 64;
	r->stack_len = 65; /* disagrees with size */
	assert_int_equal(pw_parse_records(buf, off, record, &s), -EINVAL);
	r->stack_len = 64;
	r->kstack_len = sizeof(r->kstack) + 8;
	assert_int_equal(pw_parse_records(buf, off, record, &s), -EINVAL);
	r->kstack_len = 0;
	r->size = 0xffffffff;
	assert_int_equal(pw_parse_records(buf, off, record, &s), -EINVAL);
	assert_int_equal(s.n, 0);
}

static int stop_at_second(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	return ++*(int *)ctx == 2 ? -ECANCELED : 0;
}

static void test_parse_callback_error(void **state)
{
	size_t off = 0;
	int n = 0;

	put(buf, &off, 1, 0);
	put(buf, &off, 2, 0);
	put(buf, &off, 3, 0);
	assert_int_equal(pw_parse_records(buf, off, stop_at_second, &n), -ECANCELED);
	assert_int_equal(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_hostile_headers),
		cmocka_unit_test(test_parse_callback_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
