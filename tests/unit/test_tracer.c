// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The iterator's record stream is outside data for userspace: parse it strictly. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
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

/* Writes buf[0..len) to a fresh unlinked file and returns it open at offset 0. */
static int stream_of(const void *data, size_t len)
{
	char path[] = "/tmp/pw-records-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static unsigned char rbuf[PW_REC_MAX + 100];

/* Records straddle every read: a short buffer splits them anywhere, nothing is lost. */
static void test_read_chunked(void **state)
{
	static const uint32_t lens[] = {0, 100, PW_USTACK_MAX, 7, 0, 4096, 1};
	size_t off = 0, i, cap;
	struct seen s;
	bool bad;
	int fd;

	for (i = 0; i < 7; i++) {
		assert_true(off + sizeof(struct pw_task_rec) + lens[i] <= sizeof(buf));
		put(buf, &off, 20 + i, lens[i]);
	}
	for (cap = PW_REC_MAX; cap <= sizeof(rbuf); cap += 33) {
		memset(&s, 0, sizeof(s));
		fd = stream_of(buf, off);
		assert_int_equal(pw_read_records(fd, rbuf, cap, record, &s, &bad), 7);
		close(fd);
		assert_false(bad);
		assert_int_equal(s.n, 7);
		assert_int_equal(s.tids[6], 26);
		assert_int_equal(s.stack_len[2], PW_USTACK_MAX);
		assert_null(s.stack[0]);
	}
	/* The buffer must hold the longest record. */
	fd = stream_of(buf, off);
	assert_int_equal(pw_read_records(fd, rbuf, PW_REC_MAX - 1, record, &s, &bad), -EINVAL);
	close(fd);
}

/* The stack a callback gets is the record's own bytes, wherever the record was split. */
static int check_stack(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	const unsigned char *b = stack;
	uint32_t i;

	for (i = 0; i < rec->stack_len; i++)
		if (b[i] != 0xab)
			return -EBADMSG;
	++*(int *)ctx;
	return 0;
}

static void test_read_stack_bytes(void **state)
{
	size_t off = 0;
	bool bad;
	int fd, n = 0;

	put(buf, &off, 1, 3000);
	put(buf, &off, 2, PW_USTACK_MAX);
	put(buf, &off, 3, 5);
	fd = stream_of(buf, off);
	assert_int_equal(pw_read_records(fd, rbuf, PW_REC_MAX + 1, check_stack, &n, &bad), 3);
	close(fd);
	assert_int_equal(n, 3);
}

/*
 * A malformed record stops the parse; the rest of the stream is still read (the iterator
 * must finish its pass) but never handed to the callback.
 */
static void test_read_malformed(void **state)
{
	struct pw_task_rec *r;
	struct seen s = {0};
	size_t off = 0, second;
	bool bad;
	int fd;

	put(buf, &off, 11, 64);
	second = off;
	put(buf, &off, 12, 64);
	put(buf, &off, 13, 64);
	r = (struct pw_task_rec *)(buf + second);
	r->magic ^= 0x100;
	fd = stream_of(buf, off);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), record, &s, &bad), 1);
	assert_true(bad);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.tids[0], 11);
	/* Drained: nothing is left for a later read. */
	assert_int_equal(read(fd, rbuf, 1), 0);
	close(fd);
}

static void test_read_truncated(void **state)
{
	struct seen s = {0};
	size_t off = 0;
	bool bad;
	int fd;

	put(buf, &off, 11, 64);
	put(buf, &off, 12, 2000);
	fd = stream_of(buf, off - 10);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), record, &s, &bad), 1);
	close(fd);
	assert_true(bad);
	assert_int_equal(s.n, 1);
	/* Cut inside the fixed part too. */
	memset(&s, 0, sizeof(s));
	fd = stream_of(buf, 200);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), record, &s, &bad), 0);
	close(fd);
	assert_true(bad);
	assert_int_equal(s.n, 0);
	/* An empty stream is a clean one. */
	fd = stream_of(buf, 0);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), record, &s, &bad), 0);
	close(fd);
	assert_false(bad);
}

static int reject(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	return -EINVAL;
}

static void test_read_callback_error(void **state)
{
	size_t off = 0;
	bool bad;
	int fd, n = 0;

	put(buf, &off, 1, 0);
	put(buf, &off, 2, 0);
	put(buf, &off, 3, 0);
	fd = stream_of(buf, off);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), stop_at_second, &n, &bad),
			 -ECANCELED);
	close(fd);
	assert_int_equal(n, 2);
	assert_false(bad);
	/* A callback's -EINVAL is its own error, not a malformed stream. */
	fd = stream_of(buf, off);
	assert_int_equal(pw_read_records(fd, rbuf, sizeof(rbuf), reject, NULL, &bad), -EINVAL);
	close(fd);
	assert_false(bad);
}

/* read() errors are returned as they are. */
static void test_read_error(void **state)
{
	struct seen s = {0};
	bool bad;

	assert_int_equal(pw_read_records(-1, rbuf, sizeof(rbuf), record, &s, &bad), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_hostile_headers),
		cmocka_unit_test(test_parse_callback_error),
		cmocka_unit_test(test_read_chunked),
		cmocka_unit_test(test_read_stack_bytes),
		cmocka_unit_test(test_read_malformed),
		cmocka_unit_test(test_read_truncated),
		cmocka_unit_test(test_read_callback_error),
		cmocka_unit_test(test_read_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
