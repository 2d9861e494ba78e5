// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What every scanning command sets up the same way: BPF, kernel symbols, a collector. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "collect.h"
#include "ksyms.h"
#include "tracer.h"
#include "util.h"

int pw_session__open(const struct pw_cli *cli, bool quiet, struct pw_session *s)
{
	struct pw_tracer_opts topts = {
		.futex_events = cli->futex_events,
		/* The hot path times parks, when asked to; a one-shot scan has none to time. */
		.park_events = !cli->one_shot && cli->ages == PW_AGES_EXACT,
		.min_age_s = cli->min_age_s,
		.pids = cli->pids,
		.npids = cli->npids,
		.verbose = cli->verbose,
		.futex_words = cli->futex_words,
	};
	struct pw_collect_opts copts = {
		.min_age_s = cli->min_age_s,
		.comm = cli->comm,
		.quiet = quiet,
		.goroutines = cli->goroutines,
	};
	const char *purge = getenv("PARKWATCH_TEST_PURGE_S");
	int err;

	memset(s, 0, sizeof(*s));
	/* Test hook: purge dead processes' futex words sooner than every PW_PURGE_INTERVAL_S. */
	if (purge && pw_parse_duration(purge, &topts.purge_interval_s))
		topts.purge_interval_s = 0;
	/*
	 * Keep freed memory for reuse instead of handing it back. libbpf parses vmlinux BTF
	 * (~11 MB of buffers) once per BPF object and frees it; glibc's defaults unmap such
	 * blocks, so the second object (with the hot path), the collector and the unwinder fault
	 * fresh pages again. On these VMs a first touch costs ~40 us per 4 KiB page: at 10,000
	 * parked threads this saved 5,500 of 12,600 page faults and ~25% of a snapshot's CPU time,
	 * with the same peak RSS (the retained blocks are what the next allocations reuse).
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	err = pw_tracer__new(&topts, &s->tracer); /* says why in one line */
	if (err)
		return err;
	/* Without kernel symbols, kernel frames stay addresses: degraded, not wrong. */
	if (pw_ksyms__load(NULL, &s->ksyms) && cli->verbose)
		pw_err("cannot read /proc/kallsyms: kernel frames shown as addresses");
	copts.ksyms = s->ksyms;
	copts.futex_counts = cli->futex_events ? s->tracer : NULL;
	err = pw_collector__new(&copts, &s->coll);
	if (err) {
		pw_err("failed to set up the collector: %s", strerror(-err));
		pw_session__close(s);
		return err;
	}
	/* BPF is attached and kallsyms open: what only set-up needed goes (README, Privileges). */
	err = pw_drop_privileges(cli->writes_files);
	if (err) {
		pw_err("cannot drop capabilities after set-up: %s", strerror(-err));
		pw_session__close(s);
	}
	return err;
}

void pw_session__close(struct pw_session *s)
{
	pw_collector__free(s->coll);
	pw_ksyms__free(s->ksyms);
	pw_tracer__free(s->tracer);
	memset(s, 0, sizeof(*s));
}
