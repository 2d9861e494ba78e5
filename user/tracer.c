// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loader for bpf/park.bpf.c (hot path) and bpf/scan.bpf.c (cold path). The
 * two objects share the task-storage map and the counters through
 * bpf_map__reuse_fd(), so each stays one file per hook family.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "park.skel.h"
#include "scan.skel.h"
#include "tracer.h"
#include "util.h"

/*
 * The scan's read buffer. The kernel fills an iterator read from a 32 KiB seq_file buffer
 * (PAGE_SIZE << 3) and only ever with whole records, so 64 KiB holds one read plus the
 * partial record a short read could leave (a record is at most 8.5 KiB).
 */
#define PW_SCAN_BUF (64 << 10)
_Static_assert(PW_SCAN_BUF >= 2 * PW_REC_MAX, "scan buffer holds a read and a record");

struct pw_tracer {
	struct park_bpf *park;
	struct scan_bpf *scan;
	struct bpf_link **iters; /* one per watched process, or one for the whole host */
	int niters;
	char *buf;	    /* PW_SCAN_BUF bytes */
	__u64 lost_records; /* written by the iterator, never handed to a callback */
	int ncpus;
	/*
	 * Room for one per-CPU value of any of our maps (the largest is a pw_futex_slot): map
	 * reads in steady state allocate nothing.
	 */
	void *percpu;
	__u32 futex_slot_mask; /* park.bpf.c's futex_slots: size - 1 */
	__u32 park_slot_mask;  /* park_state.bpf.h's park_slots: size - 1 */
	int hz;		       /* the park clock's ticks per second; 0: it is in ns */
	bool futex_events;
	__u64 purge_interval_ns;
	__u64 next_purge_ns; /* CLOCK_MONOTONIC: pw_tracer__purge_words_due() */
};

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's chatter only with -v: errors are reported by us, in one line. */
	if (!verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* kernel.pid_max, or the kernel's default when it cannot be read. */
static long read_pid_max(void)
{
	long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 ? v : 32768;
}

/*
 * Park slots for tids below pid_max: one per tid (a power of two) up to PW_PARK_SLOTS_MAX
 * (8 bytes each: 4 MiB). Above that, tids share slots: a thread whose record another live
 * thread overwrote gets a lower bound for its age (park_state.bpf.h).
 */
static __u32 park_slots_for(long pid_max)
{
	__u32 n = 1024;

	while (n < (__u64)pid_max && n < PW_PARK_SLOTS_MAX)
		n <<= 1;
	return n;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* libbpf 1.1 attaches tp/ programs through tracefs; mount it if missing. */
static int ensure_tracefs(void)
{
	struct stat st;

	if (stat("/sys/kernel/tracing/events", &st) == 0)
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return 0;
}

static bool tracepoint_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/syscalls/%s", name);
	/*
	 * AT_EACCESS: our effective ids and capabilities; access() drops both for a non-root
	 * uid.
	 */
	return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0;
}

/* Turn the first failure into the one line a user can act on. */
static int explain_load_error(int err, const char *what)
{
	if (err == -EPERM || err == -EACCES)
		pw_err("failed to %s: %s: needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN "
		       "(run with sudo)",
		       what, strerror(-err));
	else
		pw_err("failed to %s: %s (run with -v for libbpf's log)", what, strerror(-err));
	return err;
}

int pw_patch_imms(struct bpf_insn *insns, size_t n, const __u32 vals[PW_IMM_COUNT])
{
	int patched = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct bpf_insn *in = &insns[i];
		__u32 which;

		if (in->code == (BPF_LD | BPF_DW | BPF_IMM)) {
			i++; /* a 64-bit immediate's second half is no instruction */
			continue;
		}
		if ((in->code != (BPF_ALU64 | BPF_MOV | BPF_K) &&
		     in->code != (BPF_ALU | BPF_MOV | BPF_K)) ||
		    (__u32)in->imm < PW_IMM_BASE || (__u32)in->imm > PW_IMM_BASE + 0xff)
			continue;
		which = (__u32)in->imm - PW_IMM_BASE;
		/* imm is sign-extended into the 64-bit register: the top bit must stay clear. */
		if (!which || which >= PW_IMM_COUNT || vals[which] > INT32_MAX)
			return -EINVAL;
		in->imm = (__s32)vals[which];
		patched++;
	}
	return patched;
}

/* pw_patch_imms() over every program of obj that will be loaded. */
static int patch_object_imms(struct bpf_object *obj, const __u32 vals[PW_IMM_COUNT])
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
	{
		size_t n = bpf_program__insn_cnt(prog);
		struct bpf_insn *copy;
		int err;

		if (!bpf_program__autoload(prog))
			continue;
		/*
		 * Before load: libbpf relocates and appends subprograms later, by instruction
		 * index, so only immediates are changed here, never the count. (libbpf documents
		 * set_insns for its prepare-load callback; the instructions it hands back before
		 * load are the ones it will load.)
		 */
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, bpf_program__insns(prog), n * sizeof(*copy));
		err = pw_patch_imms(copy, n, vals);
		if (err > 0)
			err = bpf_program__set_insns(prog, copy, n);
		free(copy);
		if (err < 0) {
			pw_err("BPF program %s: cannot set its load-time constants: %s",
			       bpf_program__name(prog), strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * With -p, one iterator per process (Linux 6.1's bpf_iter_link_info.task.pid): a pass then
 * visits that process's threads only, not every task of the host. The BPF pid filter stays:
 * a kernel that ignored the link info would still report only the processes asked for.
 */
static int attach_iters(struct pw_tracer *t, const struct pw_tracer_opts *opts)
{
	int i, j, n = opts->npids > 0 ? opts->npids : 1;

	t->iters = calloc(n, sizeof(*t->iters));
	if (!t->iters)
		return -ENOMEM;
	if (opts->npids <= 0) {
		t->iters[0] = bpf_program__attach_iter(t->scan->progs.pw_scan, NULL);
		if (!t->iters[0])
			return -errno;
		t->niters = 1;
		return 0;
	}
	for (i = 0; i < opts->npids; i++) {
		DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, o);
		union bpf_iter_link_info linfo;

		for (j = 0; j < i && opts->pids[j] != opts->pids[i]; j++)
			;
		if (j < i)
			continue; /* -p 42,42: one pass, or its threads would count twice */
		memset(&linfo, 0, sizeof(linfo));
		linfo.task.pid = opts->pids[i];
		o.link_info = &linfo;
		o.link_info_len = sizeof(linfo);
		t->iters[t->niters] = bpf_program__attach_iter(t->scan->progs.pw_scan, &o);
		if (!t->iters[t->niters])
			return -errno;
		t->niters++;
	}
	return 0;
}

/* The hot path and the futex events (park.bpf.c): loaded and attached. */
static int load_park(struct pw_tracer *t, const struct pw_tracer_opts *opts)
{
	__u32 imms[PW_IMM_COUNT] = {0};
	int err, i;

	t->park = park_bpf__open();
	if (!t->park)
		return explain_load_error(-errno, "open BPF object park");
	if (opts->futex_words)
		bpf_map__set_max_entries(t->park->maps.futex_words, opts->futex_words);
	/* Without the events nothing writes the word maps: a preallocated 64k-entry hash costs
	 * ~0.17 s to create, per snapshot. */
	if (!opts->futex_events)
		bpf_map__set_max_entries(t->park->maps.futex_words, 1);
	/* The per-CPU front: the largest power of two <= --futex-words, at most PW_FUTEX_SLOTS. */
	t->futex_slot_mask = opts->futex_events ? PW_FUTEX_SLOTS - 1 : 0;
	while (opts->futex_words && t->futex_slot_mask + 1 > opts->futex_words)
		t->futex_slot_mask >>= 1;
	bpf_map__set_max_entries(t->park->maps.futex_slots, t->futex_slot_mask + 1);
	bpf_map__set_max_entries(t->park->maps.park_slots, t->park_slot_mask + 1);
	if (opts->futex_events) {
		err = ensure_tracefs();
		if (err) {
			pw_err("failed to mount tracefs at /sys/kernel/tracing: %s (needed by "
			       "--futex-events)",
			       strerror(-err));
			return err;
		}
		/*
		 * tracefs is root's (0700): another uid, even with CAP_BPF and
		 * CAP_PERFMON, finds no tracepoint there and would silently run
		 * without the events it asked for.
		 */
		if (faccessat(AT_FDCWD, "/sys/kernel/tracing/events/syscalls", X_OK, AT_EACCESS)) {
			err = -errno;
			pw_err("cannot read /sys/kernel/tracing/events/syscalls: %s: "
			       "--futex-events needs root or CAP_DAC_READ_SEARCH",
			       strerror(-err));
			return err;
		}
	}
	{
		/* Optional programs: futex events on request, and only where the tracepoint exists.
		 */
		struct {
			struct bpf_program *prog;
			const char *tp;
		} opt[] = {
			{t->park->progs.pw_enter_futex, "sys_enter_futex"},
			{t->park->progs.pw_enter_futex_wait, "sys_enter_futex_wait"},
			{t->park->progs.pw_enter_futex_waitv, "sys_enter_futex_waitv"},
			{t->park->progs.pw_exit_futex_waitv, "sys_exit_futex_waitv"},
		};
		for (i = 0; i < (int)(sizeof(opt) / sizeof(opt[0])); i++)
			bpf_program__set_autoload(
				opt[i].prog, opts->futex_events && tracepoint_exists(opt[i].tp));
	}
	bpf_program__set_autoload(t->park->progs.pw_sched_switch, opts->park_events);
	bpf_program__set_autoload(t->park->progs.pw_process_exit, opts->park_events);
	imms[PW_IMM_HZ - PW_IMM_BASE] = t->hz;
	imms[PW_IMM_PARK_SLOT_MASK - PW_IMM_BASE] = t->park_slot_mask;
	imms[PW_IMM_PARK_SLOT_BITS - PW_IMM_BASE] = __builtin_popcount(t->park_slot_mask);
	imms[PW_IMM_FUTEX_SLOT_MASK - PW_IMM_BASE] = t->futex_slot_mask;
	err = patch_object_imms(t->park->obj, imms);
	if (err)
		return err;
	err = park_bpf__load(t->park);
	if (err)
		return explain_load_error(err, "load BPF programs");
	err = park_bpf__attach(t->park);
	if (err)
		return explain_load_error(err, "attach BPF programs");
	return 0;
}

/* The scan iterator (scan.bpf.c), on the park object's maps where there is one. */
static int load_scan(struct pw_tracer *t, const struct pw_tracer_opts *opts, long pid_max)
{
	int err, i;

	t->scan = scan_bpf__open();
	if (!t->scan)
		return explain_load_error(-errno, "open BPF object scan");
	t->scan->rodata->min_age_ns = (__u64)(opts->min_age_s * 1e9);
	t->scan->rodata->filter_pids = opts->npids > 0;
	t->scan->rodata->pw_hz = t->hz;
	t->scan->rodata->park_slot_mask = t->park_slot_mask;
	t->scan->rodata->park_slot_bits = __builtin_popcount(t->park_slot_mask);
	/*
	 * Without the hot path, "asleep since attach" is no bound at all; nor is it where threads
	 * share park slots (pid_max above the table): a thread with no record may have parked
	 * since, and had its record overwritten.
	 */
	t->scan->rodata->attach_ns = opts->park_events && t->park_slot_mask + 1 >= (__u64)pid_max
					     ? mono_ns()
					     : UINT64_MAX;
	if (opts->npids > 0)
		bpf_map__set_max_entries(t->scan->maps.pids, opts->npids);
	if (t->park) {
		err = bpf_map__reuse_fd(t->scan->maps.park_state,
					bpf_map__fd(t->park->maps.park_state));
		err = err
			      ?: bpf_map__reuse_fd(t->scan->maps.park_slots,
						   bpf_map__fd(t->park->maps.park_slots));
		err = err
			      ?: bpf_map__reuse_fd(t->scan->maps.stats,
						   bpf_map__fd(t->park->maps.stats));
		if (err)
			return explain_load_error(err, "share BPF maps");
	}
	err = scan_bpf__load(t->scan);
	if (err)
		return explain_load_error(err, "load the scan iterator");
	for (i = 0; i < opts->npids; i++) {
		__u32 pid = opts->pids[i];
		__u8 one = 1;

		err = bpf_map_update_elem(bpf_map__fd(t->scan->maps.pids), &pid, &one, BPF_ANY);
		if (err)
			return explain_load_error(-errno, "fill the pid filter");
	}
	err = attach_iters(t, opts);
	if (err)
		return explain_load_error(err, "attach the task iterator");
	return 0;
}

int pw_tracer__new(const struct pw_tracer_opts *opts, struct pw_tracer **out)
{
	struct pw_tracer *t;
	struct stat st;
	long pid_max;
	int err;

	verbose_libbpf = opts->verbose;
	libbpf_set_print(libbpf_print);
	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		pw_err("kernel BTF not found at /sys/kernel/btf/vmlinux: parkwatch needs a kernel "
		       "built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	if (geteuid() != 0 && access("/sys/kernel/btf/vmlinux", R_OK)) {
		pw_err("cannot read kernel BTF: needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN "
		       "(run with sudo)");
		return -EPERM;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->buf = malloc(PW_SCAN_BUF);
	if (!t->buf) {
		err = -ENOMEM;
		goto fail;
	}
	t->futex_events = opts->futex_events;
	t->purge_interval_ns =
		(opts->purge_interval_s > 0 ? opts->purge_interval_s : PW_PURGE_INTERVAL_S) * 1e9;
	t->next_purge_ns = mono_ns() + t->purge_interval_ns;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = t->ncpus ? t->ncpus : -EINVAL;
		goto fail;
	}
	t->percpu = calloc(t->ncpus, sizeof(struct pw_futex_slot));
	if (!t->percpu) {
		err = -ENOMEM;
		goto fail;
	}
	/* The park clock: jiffies where the kernel's HZ is known (park_state.bpf.h). */
	t->hz = getenv("PARKWATCH_TEST_NS_CLOCK") ? 0
						  : pw_kernel_hz(); /* test hook: the fallback */
	/* The hot path's park slots (park_state.bpf.h); one-shot scans record no parks. */
	pid_max = read_pid_max();
	t->park_slot_mask = opts->park_events ? park_slots_for(pid_max) - 1 : 0;
	/* Test hook: one slot for every thread, as if all of them shared it. */
	if (getenv("PARKWATCH_TEST_PARK_SLOTS_SHARED"))
		t->park_slot_mask = 0;
	/*
	 * A one-shot scan runs no program of the park object, yet loading it would parse the
	 * kernel's BTF a second time (for its CO-RE relocations) and create its maps: the scan
	 * object's own maps do instead.
	 */
	if (opts->park_events || opts->futex_events) {
		err = load_park(t, opts);
		if (err)
			goto fail;
	}
	err = load_scan(t, opts, pid_max);
	if (err)
		goto fail;
	*out = t;
	return 0;
fail:
	pw_tracer__free(t);
	return err;
}

/*
 * Checks the record at p, of which avail bytes are at hand: 1 and a copy in *rec when it is
 * complete and sane, 0 when more bytes are needed, -EINVAL when it cannot be a record.
 */
static int check_rec(const char *p, size_t avail, struct pw_task_rec *rec)
{
	if (avail < sizeof(*rec))
		return 0;
	memcpy(rec, p, sizeof(*rec)); /* p need not be aligned */
	if (rec->magic != PW_REC_MAGIC || rec->size < sizeof(*rec) || rec->size > PW_REC_MAX ||
	    rec->size - sizeof(*rec) != rec->stack_len || rec->stack_len > PW_USTACK_MAX ||
	    rec->kstack_len > sizeof(rec->kstack))
		return -EINVAL;
	return rec->size <= avail;
}

/*
 * Hands every complete record of buf[0..len) to fn; *used is the bytes they covered, *bad
 * whether parsing stopped at bytes that cannot be a record. 0, or the first error of fn.
 */
static int parse_some(const char *buf, size_t len, size_t *used, bool *bad, pw_rec_fn fn, void *ctx,
		      long *n)
{
	struct pw_task_rec rec;
	size_t off = 0;
	int ok = 0, err = 0;

	while (off < len && (ok = check_rec(buf + off, len - off, &rec)) > 0) {
		err = fn(&rec, rec.stack_len ? buf + off + sizeof(rec) : NULL, ctx);
		if (err)
			break;
		off += rec.size;
		(*n)++;
	}
	*used = off;
	*bad = ok < 0;
	return err;
}

int pw_parse_records(const void *buf, size_t len, pw_rec_fn fn, void *ctx)
{
	size_t used;
	long n = 0;
	bool bad;
	int err;

	err = parse_some(buf, len, &used, &bad, fn, ctx, &n);
	if (err)
		return err;
	/* Bytes that are not a record, or left over: a record cut short. */
	return bad || used != len ? -EINVAL : (int)n;
}

int pw_read_records(int fd, void *buffer, size_t cap, pw_rec_fn fn, void *ctx, bool *malformed)
{
	char *buf = buffer;
	size_t len = 0, used;
	long n = 0;
	ssize_t r;
	int err;

	*malformed = false;
	if (cap < PW_REC_MAX)
		return -EINVAL;
	for (;;) {
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		if (*malformed)
			continue; /* drain: the iterator still runs, and counts, the rest */
		len += r;
		err = parse_some(buf, len, &used, malformed, fn, ctx, &n);
		if (err)
			return err;
		if (*malformed) {
			/* No next record boundary to find: the rest is lost, and counted. */
			len = 0;
			continue;
		}
		/* At most one partial record stays: the buffer never grows. */
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	if (len)
		*malformed = true; /* the stream ended inside a record */
	return n > INT_MAX ? INT_MAX : (int)n;
}

int pw_tracer__scan(struct pw_tracer *t, pw_rec_fn fn, void *ctx)
{
	__u64 before, emitted;
	bool malformed, any_malformed = false;
	long total = 0;
	int fd, n, i;

	/*
	 * Records are handed over as they are read: the stream holds up to 8.5 KiB per thread
	 * (a stack copy), which for 30,000 parked threads was ~200 MB read into one buffer.
	 */
	before = *(volatile __u64 *)&t->scan->bss->records_emitted;
	for (i = 0; i < t->niters; i++) {
		fd = bpf_iter_create(bpf_link__fd(t->iters[i]));
		if (fd < 0)
			return -errno;
		n = pw_read_records(fd, t->buf, PW_SCAN_BUF, fn, ctx, &malformed);
		close(fd);
		if (n < 0)
			return n;
		total += n;
		any_malformed |= malformed;
	}
	/* Whatever the iterator wrote and no callback saw is a scan_record drop. */
	emitted = *(volatile __u64 *)&t->scan->bss->records_emitted - before;
	if (emitted > (__u64)total)
		t->lost_records += emitted - total;
	else if (any_malformed)
		t->lost_records++;
	return total > INT_MAX ? INT_MAX : (int)total;
}

int pw_tracer__stats(struct pw_tracer *t, __u64 stats[PW_STAT_MAX])
{
	__u64 *vals = t->percpu;
	__u32 k;
	int c;

	for (k = 0; k < PW_STAT_MAX; k++) {
		stats[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(t->scan->maps.stats), &k, vals))
			continue;
		for (c = 0; c < t->ncpus; c++)
			stats[k] += vals[c];
	}
	stats[PW_STAT_DROP_SEQ] += t->lost_records;
	return 0;
}

int pw_tracer__futex_word(struct pw_tracer *t, __u32 tgid, __u64 proc_start_time, __u64 uaddr,
			  struct pw_futex_val *v)
{
	__u32 tag = pw_proc_tag(proc_start_time);
	struct pw_futex_key key = {.tgid = tgid, .tag = tag, .uaddr = uaddr};
	__u32 idx = pw_futex_slot_of(tgid, tag, uaddr, t->futex_slot_mask);
	struct pw_futex_slot *sl = t->percpu;
	struct pw_futex_val h;
	bool found = false;
	int c;

	/* The word's per-CPU slots (park.bpf.c count_word), plus its hash entry. */
	memset(v, 0, sizeof(*v));
	if (!t->park)
		return -ENOENT; /* no futex events: no counts */
	if (!bpf_map_lookup_elem(bpf_map__fd(t->park->maps.futex_slots), &idx, sl)) {
		for (c = 0; c < t->ncpus; c++) {
			if (sl[c].tgid != tgid || sl[c].tag != tag || sl[c].uaddr != uaddr)
				continue;
			v->waits += sl[c].v.waits;
			v->wakes += sl[c].v.wakes;
			found = true;
		}
	}
	if (!bpf_map_lookup_elem(bpf_map__fd(t->park->maps.futex_words), &key, &h)) {
		v->waits += h.waits;
		v->wakes += h.wakes;
		found = true;
	}
	return found ? 0 : -ENOENT;
}

int pw_tracer__futex_slot(struct pw_tracer *t, __u32 idx, struct pw_futex_slot *per_cpu)
{
	if (!t->park)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(t->park->maps.futex_slots), &idx, per_cpu))
		return -errno;
	return 0;
}

/*
 * Whether tgid is gone (kill() says ESRCH), asked once per run of equal tgids: *memo holds the
 * last answer. EPERM (another uid, capabilities dropped) is a process that exists. A tgid
 * outside 1..INT_MAX is no process kill() could name (0 and negative pids are process groups):
 * never called gone.
 */
struct gone_memo {
	__u32 tgid;
	bool gone, valid;
};

static bool tgid_gone(struct gone_memo *memo, __u32 tgid)
{
	if (tgid == 0 || tgid > INT_MAX)
		return false;
	if (!memo->valid || memo->tgid != tgid) {
		memo->tgid = tgid;
		memo->gone = kill((pid_t)tgid, 0) && errno == ESRCH;
		memo->valid = true;
	}
	return memo->gone;
}

static int key_tgid_cmp(const void *a, const void *b)
{
	const struct pw_futex_key *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* Every key of the futex_words hash, in *out (caller frees). Returns how many, or -errno. */
static long collect_word_keys(struct pw_tracer *t, struct pw_futex_key **out)
{
	int fd = bpf_map__fd(t->park->maps.futex_words);
	/* The hash holds at most max_entries keys: the bound ends a walk that restarted. */
	size_t limit = (size_t)bpf_map__max_entries(t->park->maps.futex_words) * 2, n = 0, cap = 0;
	struct pw_futex_key *keys = NULL, *prev = NULL;

	*out = NULL;
	while (n < limit) {
		if (n == cap) {
			struct pw_futex_key *nk;

			cap = cap ? cap * 2 : 1024;
			nk = realloc(keys, cap * sizeof(*keys));
			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
		prev = n ? &keys[n - 1] : NULL;
		if (bpf_map_get_next_key(fd, prev, &keys[n])) {
			if (errno == ENOENT)
				break;
			free(keys);
			return -errno;
		}
		n++;
	}
	*out = keys;
	return n;
}

int pw_tracer__purge_words(struct pw_tracer *t)
{
	struct gone_memo memo = {0};
	struct pw_futex_key *keys = NULL;
	struct pw_futex_slot *sl;
	long nkeys, i;
	int removed = 0, c, hfd, sfd;
	__u32 idx;

	if (!t->park)
		return 0; /* no word maps */
	hfd = bpf_map__fd(t->park->maps.futex_words);
	sfd = bpf_map__fd(t->park->maps.futex_slots);
	/* The hash: keys first, then deletes (a walk restarts when its current key goes). */
	nkeys = collect_word_keys(t, &keys);
	if (nkeys < 0)
		return (int)nkeys;
	/* By tgid: one kill() per process. */
	qsort(keys, nkeys, sizeof(*keys), key_tgid_cmp);
	for (i = 0; i < nkeys; i++) {
		/*
		 * The key names the incarnation (its tag): a process that took the pid since
		 * the check counts under another key, which this delete cannot touch.
		 */
		if (tgid_gone(&memo, keys[i].tgid) && bpf_map_delete_elem(hfd, &keys[i]) == 0)
			removed++;
	}
	/*
	 * The per-CPU slots. park.bpf.c claims a slot only when its counts are zero, and a dead
	 * process writes none: a slot a dead process holds never changes again. An index is
	 * reset (one update writes every CPU's copy) only when every CPU's copy is such a slot;
	 * one free copy could be claimed by a live word between our read and our write, and
	 * its counts would be lost.
	 */
	sl = t->percpu;
	for (idx = 0; idx <= t->futex_slot_mask; idx++) {
		if (bpf_map_lookup_elem(sfd, &idx, sl))
			continue;
		for (c = 0; c < t->ncpus; c++) {
			if ((!sl[c].v.waits && !sl[c].v.wakes) || !tgid_gone(&memo, sl[c].tgid))
				break;
		}
		if (c < t->ncpus)
			continue;
		memset(sl, 0, t->ncpus * sizeof(*sl));
		if (bpf_map_update_elem(sfd, &idx, sl, BPF_ANY) == 0)
			removed++;
	}
	free(keys);
	return removed;
}

int pw_tracer__purge_words_due(struct pw_tracer *t)
{
	__u64 now;

	if (!t->futex_events)
		return 0;
	now = mono_ns();
	if (now < t->next_purge_ns)
		return 0;
	/* A failed purge waits its turn too: the next one retries the whole map. */
	t->next_purge_ns = now + t->purge_interval_ns;
	return pw_tracer__purge_words(t);
}

void pw_tracer__free(struct pw_tracer *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < t->niters; i++)
		bpf_link__destroy(t->iters[i]);
	free(t->iters);
	scan_bpf__destroy(t->scan);
	park_bpf__destroy(t->park);
	free(t->buf);
	free(t->percpu);
	free(t);
}
