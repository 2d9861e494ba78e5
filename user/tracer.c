// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loader for bpf/park.bpf.c (hot path) and bpf/scan.bpf.c (cold path). The
 * two objects share the task-storage map and the counters through
 * bpf_map__reuse_fd(), so each stays one file per hook family.
 */
#include <errno.h>
#include <fcntl.h>
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

struct pw_tracer {
	struct park_bpf *park;
	struct scan_bpf *scan;
	struct bpf_link *iter;
	char *buf;
	size_t cap;
	int ncpus;
};

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's chatter only with -v: errors are reported by us, in one line. */
	if (!verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, ap);
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
	/* AT_EACCESS: our effective ids and capabilities; access() drops both for a non-root uid. */
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

int pw_tracer__new(const struct pw_tracer_opts *opts, struct pw_tracer **out)
{
	struct pw_tracer *t;
	struct bpf_link *link;
	struct stat st;
	int err, i;

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
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = t->ncpus ? t->ncpus : -EINVAL;
		goto fail;
	}

	t->park = park_bpf__open();
	if (!t->park) {
		err = explain_load_error(-errno, "open BPF object park");
		goto fail;
	}
	if (opts->futex_words)
		bpf_map__set_max_entries(t->park->maps.futex_words, opts->futex_words);
	if (opts->futex_events) {
		err = ensure_tracefs();
		if (err) {
			pw_err("failed to mount tracefs at /sys/kernel/tracing: %s (needed by "
			       "--futex-events)",
			       strerror(-err));
			goto fail;
		}
		/*
		 * tracefs is root's (0700): another uid, even with CAP_BPF and
		 * CAP_PERFMON, finds no tracepoint there and would silently run
		 * without the events it asked for.
		 */
		if (faccessat(AT_FDCWD, "/sys/kernel/tracing/events/syscalls", X_OK, AT_EACCESS)) {
			err = -errno;
			pw_err("cannot read /sys/kernel/tracing/events/syscalls: %s: --futex-events "
			       "needs root or CAP_DAC_READ_SEARCH",
			       strerror(-err));
			goto fail;
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
			{t->park->progs.pw_exit_futex, "sys_exit_futex"},
			{t->park->progs.pw_enter_futex_wait, "sys_enter_futex_wait"},
			{t->park->progs.pw_exit_futex_wait, "sys_exit_futex_wait"},
			{t->park->progs.pw_enter_futex_waitv, "sys_enter_futex_waitv"},
			{t->park->progs.pw_exit_futex_waitv, "sys_exit_futex_waitv"},
		};
		for (i = 0; i < (int)(sizeof(opt) / sizeof(opt[0])); i++)
			bpf_program__set_autoload(
				opt[i].prog, opts->futex_events && tracepoint_exists(opt[i].tp));
	}
	err = park_bpf__load(t->park);
	if (err) {
		err = explain_load_error(err, "load BPF programs");
		goto fail;
	}
	err = park_bpf__attach(t->park);
	if (err) {
		err = explain_load_error(err, "attach BPF programs");
		goto fail;
	}

	t->scan = scan_bpf__open();
	if (!t->scan) {
		err = explain_load_error(-errno, "open BPF object scan");
		goto fail;
	}
	t->scan->rodata->min_age_ns = (__u64)(opts->min_age_s * 1e9);
	t->scan->rodata->filter_pids = opts->npids > 0;
	t->scan->rodata->attach_ns = mono_ns();
	if (opts->npids > 0)
		bpf_map__set_max_entries(t->scan->maps.pids, opts->npids);
	if ((err = bpf_map__reuse_fd(t->scan->maps.park_state,
				     bpf_map__fd(t->park->maps.park_state))) ||
	    (err = bpf_map__reuse_fd(t->scan->maps.stats, bpf_map__fd(t->park->maps.stats)))) {
		err = explain_load_error(err, "share BPF maps");
		goto fail;
	}
	err = scan_bpf__load(t->scan);
	if (err) {
		err = explain_load_error(err, "load the scan iterator");
		goto fail;
	}
	for (i = 0; i < opts->npids; i++) {
		__u32 pid = opts->pids[i];
		__u8 one = 1;

		err = bpf_map_update_elem(bpf_map__fd(t->scan->maps.pids), &pid, &one, BPF_ANY);
		if (err) {
			err = explain_load_error(-errno, "fill the pid filter");
			goto fail;
		}
	}
	link = bpf_program__attach_iter(t->scan->progs.pw_scan, NULL);
	if (!link) {
		err = explain_load_error(-errno, "attach the task iterator");
		goto fail;
	}
	t->iter = link;
	*out = t;
	return 0;
fail:
	pw_tracer__free(t);
	return err;
}

int pw_parse_records(const void *buf, size_t len, pw_rec_fn fn, void *ctx)
{
	const char *p = buf, *end = p + len;
	int n = 0, err;

	while (p < end) {
		struct pw_task_rec rec;

		if ((size_t)(end - p) < sizeof(rec))
			return -EINVAL;
		memcpy(&rec, p, sizeof(rec));
		if (rec.magic != PW_REC_MAGIC || rec.size < sizeof(rec) ||
		    rec.size > (size_t)(end - p) || rec.size - sizeof(rec) != rec.stack_len ||
		    rec.stack_len > PW_USTACK_MAX || rec.kstack_len > sizeof(rec.kstack))
			return -EINVAL;
		err = fn(&rec, rec.stack_len ? p + sizeof(rec) : NULL, ctx);
		if (err)
			return err;
		p += rec.size;
		n++;
	}
	return n;
}

int pw_tracer__scan(struct pw_tracer *t, pw_rec_fn fn, void *ctx)
{
	size_t len = 0;
	ssize_t n;
	int fd, err;

	fd = bpf_iter_create(bpf_link__fd(t->iter));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (t->cap - len < 65536) {
			size_t cap = t->cap ? t->cap * 2 : 1 << 20;
			char *nb = realloc(t->buf, cap);

			if (!nb) {
				close(fd);
				return -ENOMEM;
			}
			t->buf = nb;
			t->cap = cap;
		}
		n = read(fd, t->buf + len, t->cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	return pw_parse_records(t->buf, len, fn, ctx);
}

int pw_tracer__stats(struct pw_tracer *t, __u64 stats[PW_STAT_MAX])
{
	__u64 *vals = calloc(t->ncpus, sizeof(__u64));
	__u32 k;
	int c;

	if (!vals)
		return -ENOMEM;
	for (k = 0; k < PW_STAT_MAX; k++) {
		stats[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(t->park->maps.stats), &k, vals))
			continue;
		for (c = 0; c < t->ncpus; c++)
			stats[k] += vals[c];
	}
	free(vals);
	return 0;
}

int pw_tracer__futex_word(struct pw_tracer *t, __u32 tgid, __u64 uaddr, struct pw_futex_val *v)
{
	struct pw_futex_key key = {.tgid = tgid, .uaddr = uaddr};

	if (bpf_map_lookup_elem(bpf_map__fd(t->park->maps.futex_words), &key, v))
		return -ENOENT;
	return 0;
}

void pw_tracer__free(struct pw_tracer *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->iter);
	scan_bpf__destroy(t->scan);
	park_bpf__destroy(t->park);
	free(t->buf);
	free(t);
}
