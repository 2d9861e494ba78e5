/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the scan iterator's record stream: pw_parse_records()
 * (user/tracer.c) and everything downstream of it that needs no live
 * process: the collector (caches, site aggregation, wait kinds, kernel
 * frames), then the JSON, table, folded and Prometheus outputs. A record's
 * comm, registers and stack bytes are whatever the parked thread chose.
 *
 * The pids of every record are moved above the largest pid_max (4194304), so
 * no real process is ever looked up: the collector sees processes that are
 * gone, as it does when a process exits mid-scan. Each input is collected
 * twice, so the second pass runs on the per-thread caches of the first.
 * Every JSON line must parse (jansson) and every output must be complete.
 *
 *   tests/fuzz/run.sh build 60 fuzz_records
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <jansson.h>
#include "collect.h"
#include "ksyms.h"
#include "output.h"
#include "prom.h"
#include "tracer.h"

#define NO_PID_BASE 4194305u /* above PID_MAX_LIMIT: never a live process */

/* Every kernel address names a symbol: nothing new is interned per input. */
static const char kallsyms[] = "0000000000000001 T fuzz_low_text\n"
			       "ffffffff81000000 T _stext\n"
			       "ffffffff81100000 t futex_wait_queue\n"
			       "ffffffff81200000 T schedule\n";

static struct pw_ksyms *ksyms;
static FILE *null_out;

struct ctx {
	struct pw_collector *c;
	size_t nrec, bytes;
};

static int on_rec(const struct pw_task_rec *rec, const void *stack, void *arg)
{
	struct ctx *x = arg;
	struct pw_task_rec r = *rec;
	volatile uint8_t sum = 0;
	uint32_t i;

	/* What pw_parse_records() promises its callbacks. */
	if (rec->magic != PW_REC_MAGIC || rec->size < sizeof(*rec) ||
	    rec->size - sizeof(*rec) != rec->stack_len || rec->stack_len > PW_USTACK_MAX ||
	    rec->kstack_len > sizeof(rec->kstack) || (!stack) != (!rec->stack_len))
		abort();
	for (i = 0; i < rec->stack_len; i++) /* ASan: the stack bytes are in the buffer */
		sum += ((const uint8_t *)stack)[i];
	x->nrec++;
	x->bytes += rec->size;
	r.tgid = NO_PID_BASE + (r.tgid & 0xff);
	r.tid = NO_PID_BASE + (r.tid & 0xfff);
	return pw_collector__add(&r, stack, x->c);
}

static char *mem_out(void (*fn)(FILE *, const struct pw_snapshot *, void *),
		     const struct pw_snapshot *s, void *arg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	fn(f, s, arg);
	if (fclose(f))
		abort();
	return buf;
}

static void out_json(FILE *f, const struct pw_snapshot *s, void *arg)
{
	if (pw_output_json(f, s))
		abort();
}

static void out_prom(FILE *f, const struct pw_snapshot *s, void *arg)
{
	struct pw_prom_opts o = {.max_sites = *(int *)arg,
				 .version = "fuzz",
				 .scan_duration_s = 0.5,
				 .interval_s = 15};

	if (pw_prom_write(f, s, &o))
		abort();
}

static void check_outputs(struct pw_snapshot *s, int max_sites)
{
	json_error_t jerr;
	json_t *j;
	size_t len;
	char *buf;

	pw_snapshot_sort(s);
	buf = mem_out(out_json, s, NULL, &len);
	/* One object, one line. */
	if (!len || buf[len - 1] != '\n' || memchr(buf, '\n', len - 1))
		abort();
	j = json_loadb(buf, len, 0, &jerr);
	if (!j || json_integer_value(json_object_get(j, "schema")) != 1 ||
	    json_array_size(json_object_get(j, "sites")) != (size_t)s->nsites)
		abort();
	json_decref(j);
	free(buf);

	buf = mem_out(out_prom, s, &max_sites, &len);
	/* The timestamp is always the last line: a reader that sees it saw the file. */
	if (len < 2 || buf[len - 1] != '\n')
		abort();
	buf[len - 1] = '\0';
	if (strncmp(strrchr(buf, '\n') + 1, "parkwatch_last_scan_timestamp_seconds ", 38))
		abort();
	free(buf);

	pw_output_table(null_out, s, 100, 4);
	pw_output_table(null_out, s, 20, 64);
	pw_output_folded(null_out, s);
	pw_output_drops_line(null_out, &s->drops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_collect_opts o = {.quiet = true};
	struct ctx x = {0};
	struct pw_snapshot snap;
	int pass, n, err, i;
	uint64_t sum;

	if (!ksyms) {
		int fd = memfd_create("fuzz_kallsyms", MFD_CLOEXEC);
		char path[64];

		null_out = fopen("/dev/null", "w");
		if (fd < 0 || !null_out ||
		    write(fd, kallsyms, sizeof(kallsyms) - 1) != sizeof(kallsyms) - 1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (pw_ksyms__load(path, &ksyms))
			abort();
		close(fd);
	}
	o.ksyms = ksyms;
	/* The first byte picks --min-age: 0 (every thread gets a site) or 1 s. */
	o.min_age_s = size && (data[0] & 1) ? 1.0 : 0;
	if (pw_collector__new(&o, &x.c))
		abort();
	for (pass = 0; pass < 2; pass++) {
		x.nrec = x.bytes = 0;
		pw_collector__begin(x.c);
		n = pw_parse_records(data, size, on_rec, &x);
		if (n >= 0 && ((size_t)n != x.nrec || x.bytes != size))
			abort(); /* a complete parse accounts for every byte */
		if (n < 0 && n != -EINVAL && n != -ENOMEM)
			abort();
		err = pw_collector__finish(x.c, &snap);
		if (err && err != -ENOMEM)
			abort();
		if (!err) {
			sum = 0;
			for (i = 0; i < snap.nsites; i++) {
				if (snap.sites[i].count <= 0 || snap.sites[i].futex_words < 0 ||
				    snap.sites[i].futex_words > snap.sites[i].count)
					abort();
				sum += snap.sites[i].count;
			}
			if (sum > snap.parked_threads)
				abort();
			check_outputs(&snap, size > 1 ? data[1] % 4 : 20);
		}
		pw_snapshot__free(&snap);
	}
	pw_collector__free(x.c);
	return 0;
}
