// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The iterator's record stream is outside data for userspace: parse it strictly. And the
 * per-word futex counts of a live tracer: one process's, never a reused pid's, and purged
 * when the process is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gelf.h>
#include <linux/bpf.h>
#include <linux/futex.h>
#include <bpf/libbpf.h>
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

/* The incarnation tag: a fold of the whole start time, so near start times differ. */
static void test_proc_tag(void **state)
{
	assert_int_equal(pw_proc_tag(0), 0);
	assert_int_equal(pw_proc_tag(0x12345678), 0x12345678);
	assert_int_equal(pw_proc_tag(0x0000000100000000ULL), 1);
	assert_int_equal(pw_proc_tag(0xdeadbeef00000000ULL | 0xdeadbeef), 0);
	assert_int_equal(pw_proc_tag(0x00000003000000f0ULL), 0xf3);
	/* Two processes started 1 ns or 4.3 s (2^32 ns) apart are told apart. */
	assert_int_not_equal(pw_proc_tag(1000000000123ULL), pw_proc_tag(1000000000124ULL));
	assert_int_not_equal(pw_proc_tag(1000000000123ULL),
			     pw_proc_tag(1000000000123ULL + (1ULL << 32)));
	/* The slot's id is the first 8 bytes of a pw_futex_slot: tgid low, tag high. */
	{
		struct pw_futex_slot sl = {.tgid = 42, .tag = 7};

		assert_true(sl.id == pw_proc_id(42, 7));
	}
}

/* The slot index hashes the tag: a reused pid's words do not land on its predecessor's slots. */
static void test_slot_of_tag(void **state)
{
	uint64_t w = 0x7f0000001000ULL;
	int differ = 0;
	__u32 tag;

	for (tag = 1; tag <= 64; tag++) {
		assert_true(pw_futex_slot_of(100, tag, w, PW_FUTEX_SLOTS - 1) < PW_FUTEX_SLOTS);
		differ += pw_futex_slot_of(100, tag, w, PW_FUTEX_SLOTS - 1) !=
			  pw_futex_slot_of(100, 0, w, PW_FUTEX_SLOTS - 1);
	}
	assert_true(differ >= 60);
	assert_int_equal(pw_futex_slot_of(100, 5, w, 0), 0);
}

/*
 * A live tracer with futex events. Children wake futex words of a shared mapping at a fixed
 * address on command, then park; a second child takes the first one's pid (clone3 set_tid)
 * and wakes the same word: the two incarnations' counts are apart, and a purge after both
 * are gone forgets them.
 */
#define SHARED_ADDR ((void *)0x2f5a00000000UL)
#define SHARED_LEN (1 << 20)
#define WORDS_OFF 4096 /* words: every 4 bytes after the control page */

struct op {
	uint64_t uaddr;
	uint32_t n;
	int32_t cpu; /* -1: n wakes on every CPU in turn */
};

struct ctl {
	struct op ops[4];
	int nops;
	int cpus_ok; /* CPUs the last every-CPU op ran on */
};

struct kid {
	pid_t pid;
	int go, done;
	__u64 start; /* proc_start_time, from a scan */
};

static bool pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static void wake_n(uint64_t uaddr, uint32_t n)
{
	uint32_t i;

	/* No waiter: each call is one sys_enter_futex with a waking op, nothing else. */
	for (i = 0; i < n; i++)
		syscall(SYS_futex, (uint32_t *)uaddr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static __attribute__((noreturn)) void kid_main(int go, int done, struct ctl *ctl, int ncpus)
{
	char b;
	int i, c, ok;

	/* A failed assertion in the parent leaves no child parked behind it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Parked in read() until the parent has its start time. */
	if (read(go, &b, 1) != 1)
		_exit(1);
	for (i = 0; i < ctl->nops; i++) {
		if (ctl->ops[i].cpu >= 0) {
			if (!pin(ctl->ops[i].cpu))
				_exit(2);
			wake_n(ctl->ops[i].uaddr, ctl->ops[i].n);
			continue;
		}
		for (c = 0, ok = 0; c < ncpus; c++) {
			if (!pin(c))
				continue; /* offline */
			wake_n(ctl->ops[i].uaddr, ctl->ops[i].n);
			ok++;
		}
		ctl->cpus_ok = ok;
	}
	if (write(done, "d", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

struct find_start {
	pid_t pid;
	__u64 start;
	bool found;
};

static int find_start_cb(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	struct find_start *f = ctx;

	if (rec->tgid == (__u32)f->pid) {
		f->start = rec->proc_start_time;
		f->found = true;
	}
	return 0;
}

/* struct clone_args of clone3(2), up to set_tid_size (CLONE_ARGS_SIZE_VER1). */
struct clone_args_v1 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size;
};

/* A child parked in read(); with want, it takes that pid. */
static void kid_start(struct pw_tracer *t, struct kid *k, pid_t want, struct ctl *ctl, int ncpus)
{
	struct find_start f = {0};
	int go[2], done[2], i;
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	if (want) {
		struct clone_args_v1 a = {.exit_signal = SIGCHLD};
		pid_t tid = want;

		a.set_tid = (uint64_t)(uintptr_t)&tid;
		a.set_tid_size = 1;
		pid = syscall(SYS_clone3, &a, sizeof(a));
	} else {
		pid = fork();
	}
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		kid_main(go[0], done[1], ctl, ncpus);
	}
	if (pid < 0)
		fail_msg("%s: %s", want ? "clone3 with set_tid" : "fork", strerror(errno));
	close(go[0]);
	close(done[1]);
	k->pid = pid;
	k->go = go[1];
	k->done = done[0];
	/* Its start time as the scan reports it, once it is parked. */
	f.pid = pid;
	for (i = 0; i < 250 && !f.found; i++) {
		assert_true(pw_tracer__scan(t, find_start_cb, &f) >= 0);
		if (!f.found)
			usleep(20000);
	}
	assert_true(f.found);
	k->start = f.start;
}

static void kid_run(struct kid *k)
{
	char b;

	assert_int_equal(write(k->go, "g", 1), 1);
	assert_int_equal(read(k->done, &b, 1), 1);
}

static void kid_kill(struct kid *k)
{
	int st;

	kill(k->pid, SIGKILL);
	assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
	close(k->go);
	close(k->done);
}

static __u64 word_at(unsigned i)
{
	return (uintptr_t)SHARED_ADDR + WORDS_OFF + 4 * (__u64)i;
}

#define NWORDS ((SHARED_LEN - WORDS_OFF) / 4)

/* Whether every CPU's copy of slot idx is free (zero counts). */
static bool slot_free(struct pw_tracer *t, __u32 idx, struct pw_futex_slot *sl, int ncpus)
{
	int c;

	assert_int_equal(pw_tracer__futex_slot(t, idx, sl), 0);
	for (c = 0; c < ncpus; c++)
		if (sl[c].v.waits || sl[c].v.wakes)
			return false;
	return true;
}

/* A word of the mapping whose slot is free on every CPU and is not avoid's. */
static __u64 free_word(struct pw_tracer *t, __u32 tgid, __u32 tag, __u32 avoid,
		       struct pw_futex_slot *sl, int ncpus)
{
	unsigned i;

	for (i = 0; i < NWORDS; i += 7) {
		__u32 idx = pw_futex_slot_of(tgid, tag, word_at(i), PW_FUTEX_SLOTS - 1);

		if (idx != avoid && slot_free(t, idx, sl, ncpus))
			return word_at(i);
	}
	fail_msg("no free futex slot");
	return 0;
}

static void expect_wakes(struct pw_tracer *t, pid_t pid, __u64 start, __u64 w, __u64 wakes)
{
	struct pw_futex_val v;

	assert_int_equal(pw_tracer__futex_word(t, pid, start, w, &v), 0);
	assert_int_equal(v.waits, 0);
	assert_int_equal(v.wakes, wakes);
}

static void test_futex_words_live(void **state)
{
	struct pw_tracer_opts o = {.futex_events = true, .min_age_s = 1e6, .futex_words = 65536};
	const char *ci = getenv("CI");
	struct pw_tracer *t = NULL;
	struct pw_futex_slot *sl;
	struct pw_futex_val v;
	struct kid a, b;
	struct ctl *ctl;
	__u64 w, w2, w3;
	__u32 tag, idx;
	unsigned i;
	int ncpus, k, c, r;
	const uint32_t N = 7, M = 5;

	if (pw_tracer__new(&o, &t)) {
		if (ci && !strcmp(ci, "true"))
			fail_msg("no live tracer with futex events in CI (needs root and BPF)");
		skip();
	}
	ncpus = libbpf_num_possible_cpus();
	assert_true(ncpus > 0);
	sl = calloc(ncpus, sizeof(*sl));
	assert_non_null(sl);
	/* The same word address in both incarnations: a fixed shared mapping, inherited. */
	ctl = mmap(SHARED_ADDR, SHARED_LEN, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(ctl, SHARED_ADDR);

	kid_start(t, &a, 0, ctl, ncpus);
	tag = pw_proc_tag(a.start);
	/* w: a free slot on every CPU; w2: another word of that slot (the hash); w3: another. */
	w = free_word(t, a.pid, tag, UINT32_MAX, sl, ncpus);
	idx = pw_futex_slot_of(a.pid, tag, w, PW_FUTEX_SLOTS - 1);
	for (i = 0, w2 = 0; i < NWORDS && !w2; i++)
		if (word_at(i) != w &&
		    pw_futex_slot_of(a.pid, tag, word_at(i), PW_FUTEX_SLOTS - 1) == idx)
			w2 = word_at(i);
	assert_true(w2 != 0);
	w3 = free_word(t, a.pid, tag, idx, sl, ncpus);
	ctl->ops[0] = (struct op){w, N, -1};
	ctl->ops[1] = (struct op){w2, N, -1};
	ctl->ops[2] = (struct op){w3, N, 0};
	ctl->nops = 3;
	kid_run(&a);
	k = ctl->cpus_ok;
	assert_true(k >= 1);
	expect_wakes(t, a.pid, a.start, w, (__u64)N * k);
	expect_wakes(t, a.pid, a.start, w2, (__u64)N * k);
	expect_wakes(t, a.pid, a.start, w3, N);
	/* Another process with this pid and word (another start time) has none of them. */
	assert_int_equal(pw_tracer__futex_word(t, a.pid, a.start ^ 1, w, &v), -ENOENT);

	/* The pid reused for real: a new process, the same word address. */
	kid_kill(&a);
	kid_start(t, &b, a.pid, ctl, ncpus);
	assert_int_equal(b.pid, a.pid);
	assert_true(pw_proc_tag(b.start) != tag);
	ctl->ops[0] = (struct op){w, M, 0};
	ctl->nops = 1;
	kid_run(&b);
	expect_wakes(t, b.pid, b.start, w, M); /* not N * k + M */
	expect_wakes(t, a.pid, a.start, w, (__u64)N * k);

	/* The pid exists: nothing under it is purged, whichever process counted it. */
	assert_true(pw_tracer__purge_words(t) >= 0);
	expect_wakes(t, b.pid, b.start, w, M);
	expect_wakes(t, a.pid, a.start, w, (__u64)N * k);
	expect_wakes(t, a.pid, a.start, w2, (__u64)N * k);

	/* Gone: its hash entries go, and the slot every CPU's copy of which it held. */
	kid_kill(&b);
	r = pw_tracer__purge_words(t);
	assert_true(r >= 1 + (k == ncpus));
	assert_int_equal(pw_tracer__futex_word(t, a.pid, a.start, w2, &v), -ENOENT);
	assert_int_equal(pw_tracer__futex_slot(t, idx, sl), 0);
	if (k == ncpus) {
		assert_int_equal(pw_tracer__futex_word(t, a.pid, a.start, w, &v), -ENOENT);
		for (c = 0; c < ncpus; c++)
			assert_true(sl[c].id == 0 && sl[c].uaddr == 0 && !sl[c].v.wakes);
	} else {
		/* A CPU it never ran on has a free copy there, which a live word may claim. */
		expect_wakes(t, a.pid, a.start, w, (__u64)N * k);
	}
	if (ncpus > 1) {
		/* w3 was counted on CPU 0 only: the other copies are free, so the slot stays. */
		expect_wakes(t, a.pid, a.start, w3, N);
		idx = pw_futex_slot_of(a.pid, tag, w3, PW_FUTEX_SLOTS - 1);
		assert_int_equal(pw_tracer__futex_slot(t, idx, sl), 0);
		assert_true(sl[0].tgid == (__u32)a.pid && sl[0].tag == tag && sl[0].uaddr == w3);
	}
	/* Nothing left to purge of theirs: a second purge finds none of these. */
	assert_true(pw_tracer__purge_words(t) >= 0);
	assert_int_equal(pw_tracer__futex_word(t, a.pid, a.start, w2, &v), -ENOENT);

	munmap(ctl, SHARED_LEN);
	free(sl);
	pw_tracer__free(t);
}

static struct bpf_insn mov(__u8 code, __u8 dst, __s32 imm)
{
	struct bpf_insn in = {.code = code, .dst_reg = dst, .imm = imm};

	return in;
}

/* The hot path's placeholders become the loader's values; nothing else changes. */
static void test_patch_imms(void **state)
{
	const __u8 mov64 = BPF_ALU64 | BPF_MOV | BPF_K, mov32 = BPF_ALU | BPF_MOV | BPF_K;
	__u32 vals[PW_IMM_COUNT] = {0};
	struct bpf_insn in[8], want[8];

	(void)state;
	vals[PW_IMM_HZ - PW_IMM_BASE] = 250;
	vals[PW_IMM_PARK_SLOT_MASK - PW_IMM_BASE] = (1 << 19) - 1;
	vals[PW_IMM_PARK_SLOT_BITS - PW_IMM_BASE] = 19;
	in[0] = mov(mov64, 1, PW_IMM_PARK_SLOT_MASK);
	in[1] = mov(mov32, 2, PW_IMM_HZ);
	in[2] = mov(mov64, 3, 42); /* an ordinary constant */
	/* A 64-bit immediate whose halves look like placeholders is data, not a mov. */
	in[3] = mov(BPF_LD | BPF_DW | BPF_IMM, 4, PW_IMM_HZ);
	in[4] = mov(0, 0, PW_IMM_HZ);
	in[4].code = mov64; /* its second half, whatever its bytes */
	in[5] = mov(BPF_ALU64 | BPF_ADD | BPF_K, 1, PW_IMM_HZ); /* not a mov */
	in[6] = mov(mov64, 5, PW_IMM_PARK_SLOT_BITS);
	in[7] = mov(BPF_JMP | BPF_EXIT, 0, 0);
	memcpy(want, in, sizeof(in));
	want[0].imm = (1 << 19) - 1;
	want[1].imm = 250;
	want[6].imm = 19;
	assert_int_equal(pw_patch_imms(in, 8, vals), 3);
	assert_memory_equal(in, want, sizeof(in));
	/* Patched once, nothing is left to patch. */
	assert_int_equal(pw_patch_imms(in, 8, vals), 0);
}

/* A placeholder the loader has no value for, or a value no immediate holds, is an error. */
static void test_patch_imms_refuses(void **state)
{
	const __u8 mov64 = BPF_ALU64 | BPF_MOV | BPF_K;
	__u32 vals[PW_IMM_COUNT] = {0};
	struct bpf_insn in[1];

	(void)state;
	in[0] = mov(mov64, 1, PW_IMM_BASE + PW_IMM_COUNT);
	assert_int_equal(pw_patch_imms(in, 1, vals), -EINVAL);
	in[0] = mov(mov64, 1, PW_IMM_BASE);
	assert_int_equal(pw_patch_imms(in, 1, vals), -EINVAL);
	in[0] = mov(mov64, 1, PW_IMM_HZ);
	vals[PW_IMM_HZ - PW_IMM_BASE] = 0x80000000u; /* would sign-extend into the register */
	assert_int_equal(pw_patch_imms(in, 1, vals), -EINVAL);
	vals[PW_IMM_HZ - PW_IMM_BASE] = 0; /* 0 is a value: the ns clock */
	assert_int_equal(pw_patch_imms(in, 1, vals), 1);
	assert_int_equal(in[0].imm, 0);
}

/*
 * The built hot-path object: its programs use the placeholders (the hot path's constants are
 * immediates, not .rodata loads), and its subprograms (.text) do not, since the loader patches
 * programs only: a placeholder left there would run as a wrong constant.
 */
static void test_patch_imms_object(void **state)
{
	const char *path = TEST_BUILDDIR "/park.bpf.o";
	int fd, in_switch = 0, in_text = 0;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	(void)state;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;
		size_t i, n;

		assert_non_null(gelf_getshdr(scn, &sh));
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		d = elf_getdata(scn, NULL);
		assert_non_null(name);
		assert_non_null(d);
		n = d->d_size / sizeof(struct bpf_insn);
		for (i = 0; i < n; i++) {
			const struct bpf_insn *in = (const struct bpf_insn *)d->d_buf + i;

			if ((__u32)in->imm <= PW_IMM_BASE ||
			    (__u32)in->imm >= PW_IMM_BASE + PW_IMM_COUNT)
				continue;
			if (!strcmp(name, ".text"))
				in_text++;
			else if (!strcmp(name, "tp_btf/sched_switch"))
				in_switch++;
		}
	}
	elf_end(elf);
	close(fd);
	assert_int_equal(in_text, 0);
	/* The table's mask and bits, and HZ. */
	assert_true(in_switch >= 3);
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
		cmocka_unit_test(test_proc_tag),
		cmocka_unit_test(test_slot_of_tag),
		cmocka_unit_test(test_futex_words_live),
		cmocka_unit_test(test_patch_imms),
		cmocka_unit_test(test_patch_imms_refuses),
		cmocka_unit_test(test_patch_imms_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
