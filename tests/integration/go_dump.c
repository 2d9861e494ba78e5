/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test driver for user/goruntime.c until `parkwatch snapshot` reports
 * goroutines: scans one Go process and prints its parked goroutines.
 *
 *   go_dump PID        one line per site: COUNT \t WAIT \t LABEL
 *   go_dump -g PID     one line per goroutine: WAIT \t LABEL \t STACK \t AGE, STACK
 *                      as pprof's debug=1 prints it ("func file:line" joined by
 *                      " ; ", leading runtime.* frames and runtime.goexit hidden),
 *                      AGE = seconds since g.waitsince, "-" when unset
 *   go_dump -b N PID   N back-to-back scans; prints goroutines/s on stderr
 *
 * Stats ("stats goroutines=... retries=...") go to stderr. Exit 0, or 1 with
 * the library's one-line reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "goruntime.h"
#include "sitelabel.h"

struct site {
	const char *wait, *label;
	int count;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void label_of(const struct pw_goroutine *g, char *buf, size_t len)
{
	int i = pw_site_label_index(g->frames, g->nframes);

	if (i < 0)
		snprintf(buf, len, "-");
	else
		pw_site_label_format(&g->frames[i], buf, len);
}

/* pprof's printStackRecord: hide runtime.goexit and the leading runtime.* frames. */
static void print_stack(const struct pw_goroutine *g, bool all)
{
	bool show = all, first = true;
	int i;

	for (i = 0; i < g->nframes; i++) {
		const struct pw_frame *f = &g->frames[i];

		if (!f->func) {
			show = true;
			printf("%s%#llx", first ? "" : " ; ", (unsigned long long)f->addr);
			first = false;
			continue;
		}
		if (!strcmp(f->func, "runtime.goexit") ||
		    (!show && !strncmp(f->func, "runtime.", 8)))
			continue;
		show = true;
		printf("%s%s %s:%d", first ? "" : " ; ", f->func, f->file ? f->file : "?", f->line);
		first = false;
	}
	if (!show)
		print_stack(g, true);
}

int main(int argc, char **argv)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *gs = NULL;
	struct pw_go_proc *p;
	struct site *sites = NULL;
	const char **labels = NULL;
	int opt, n = 0, nsites = 0, i, j, err, bench = 0;
	bool per_g = false;
	char errbuf[256] = "", label[256];
	double t0;

	while ((opt = getopt(argc, argv, "gb:")) != -1) {
		if (opt == 'g')
			per_g = true;
		else if (opt == 'b')
			bench = atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 1)
		return 2;
	err = pw_go_proc__new(atoi(argv[optind]), &p, errbuf, sizeof(errbuf));
	if (err) {
		fprintf(stderr, "go_dump: %s (%s)\n", errbuf, strerror(-err));
		return 1;
	}
	if (bench > 0) {
		uint64_t total = 0;

		t0 = now_s();
		for (i = 0; i < bench; i++) {
			free(gs);
			err = pw_go_proc__scan(p, &gs, &n, &st);
			if (err)
				break;
			total += st.goroutines;
			st.goroutines = 0;
		}
		fprintf(stderr, "bench scans=%d parked=%d goroutines/s=%.0f ms/scan=%.2f\n", i, n,
			total / (now_s() - t0), (now_s() - t0) * 1e3 / (i ? i : 1));
	} else {
		err = pw_go_proc__scan(p, &gs, &n, &st);
	}
	if (err) {
		fprintf(stderr, "go_dump: scan failed: %s\n", strerror(-err));
		return 1;
	}
	fprintf(stderr,
		"stats version=%s goroutines=%llu parked=%d system=%llu retries=%llu bad_g=%llu "
		"read_errors=%llu unwind_errors=%llu\n",
		pw_go_proc__version(p), (unsigned long long)st.goroutines, n,
		(unsigned long long)st.system, (unsigned long long)st.retries,
		(unsigned long long)st.bad_g, (unsigned long long)st.read_errors,
		(unsigned long long)st.unwind_errors);
	/* Goroutines with one stack share one label: compute it once per stack. */
	sites = calloc(n ? n : 1, sizeof(*sites));
	labels = calloc(n ? n : 1, sizeof(*labels));
	for (i = 0; i < n; i++) {
		const char *w = gs[i].wait_reason ? gs[i].wait_reason : "-";
		uint32_t id = gs[i].stack_id;

		if (id < (uint32_t)n && !labels[id]) {
			label_of(&gs[i], label, sizeof(label));
			labels[id] = pw_intern(label);
		}
		if (per_g) {
			printf("%s\t%s\t", w, labels[id]);
			print_stack(&gs[i], false);
			if (gs[i].waitsince_ns)
				printf("\t%.3f\n", now_s() - gs[i].waitsince_ns / 1e9);
			else
				printf("\t-\n");
			continue;
		}
		for (j = 0; j < nsites; j++)
			if (!strcmp(sites[j].wait, w) && sites[j].label == labels[id])
				break;
		if (j == nsites) {
			sites[j].wait = w;
			sites[j].label = labels[id];
			nsites++;
		}
		sites[j].count++;
	}
	for (j = 0; j < nsites; j++)
		printf("%d\t%s\t%s\n", sites[j].count, sites[j].wait, sites[j].label);
	free(sites);
	free(labels);
	free(gs);
	pw_go_proc__free(p);
	return 0;
}
