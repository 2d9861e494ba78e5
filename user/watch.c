// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * parkwatch watch: scan every interval, follow each site's count over time,
 * and say which sites are staircases (leak suspects).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "collect.h"
#include "ksyms.h"
#include "output.h"
#include "tracer.h"
#include "util.h"
#include "watch.h"

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

void pw_install_stop_handlers(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool pw_stop_requested(void)
{
	return stop_sig != 0;
}

/* Sleep until the monotonic deadline, waking early on a stop signal. */
void pw_sleep_until(double deadline)
{
	while (!stop_sig) {
		double left = deadline - pw_mono_s();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 0.2)
			left = 0.2;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* ---- tracked sites: one series per site id, bounded ---- */

struct tracked {
	uint64_t id;
	struct pw_series *series;
	double last_seen;
	double first_seen;
	struct pw_site site; /* last copy seen, frames owned */
	struct pw_trend trend;
};

struct pw_tracker {
	struct tracked **slot;
	size_t cap, n;
	size_t max_sites;
	int series_cap;
	double window_s;
};

static void site_copy_free(struct pw_site *s)
{
	free(s->frames);
	free(s->kframes);
	s->frames = NULL;
	s->kframes = NULL;
}

static int site_copy(struct pw_site *dst, const struct pw_site *src)
{
	*dst = *src;
	dst->frames = NULL;
	dst->kframes = NULL;
	if (src->nframes) {
		dst->frames = malloc(src->nframes * sizeof(*dst->frames));
		if (!dst->frames)
			return -ENOMEM;
		memcpy(dst->frames, src->frames, src->nframes * sizeof(*dst->frames));
	}
	if (src->nkframes) {
		dst->kframes = malloc(src->nkframes * sizeof(*dst->kframes));
		if (!dst->kframes) {
			free(dst->frames);
			dst->frames = NULL;
			return -ENOMEM;
		}
		memcpy(dst->kframes, src->kframes, src->nkframes * sizeof(*dst->kframes));
	}
	return 0;
}

int pw_tracker__new(double window_s, size_t max_sites, struct pw_tracker **out)
{
	struct pw_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->window_s = window_s;
	t->max_sites = max_sites;
	/*
	 * Full rate for the window at 1 s samples, older history downsampled
	 * by the series itself: memory per site is fixed at creation.
	 */
	t->series_cap = 640;
	*out = t;
	return 0;
}

static size_t slot_of(const struct pw_tracker *t, uint64_t id)
{
	size_t i = (size_t)(id * 0x9E3779B97F4A7C15ULL) & (t->cap - 1);

	while (t->slot[i] && t->slot[i]->id != id)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int rehash(struct pw_tracker *t, size_t cap)
{
	struct tracked **old = t->slot;
	size_t oldcap = t->cap, i;

	t->slot = calloc(cap, sizeof(*t->slot));
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->cap = cap;
	t->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i]) {
			t->slot[slot_of(t, old[i]->id)] = old[i];
			t->n++;
		}
	}
	free(old);
	return 0;
}

static void tracked_free(struct tracked *tr)
{
	pw_series__free(tr->series);
	site_copy_free(&tr->site);
	free(tr);
}

/* Vanished sites linger one window (their zeros matter to the trend), then go. */
static void expire(struct pw_tracker *t, double now)
{
	size_t i, kept = 0;
	bool any = false;

	for (i = 0; i < t->cap; i++) {
		if (t->slot[i] && now - t->slot[i]->last_seen > t->window_s) {
			tracked_free(t->slot[i]);
			t->slot[i] = NULL;
			any = true;
		} else if (t->slot[i]) {
			kept++;
		}
	}
	if (any)
		rehash(t, t->cap);
	t->n = kept;
}

static void fill_trend(struct pw_site *s, const struct pw_trend *tr)
{
	s->has_trend = true;
	s->growth_per_min = tr->growth_per_min;
	s->trend = tr->trend;
	s->leak_suspect = tr->leak_suspect;
	s->envelope_growth_per_min = tr->envelope_growth_per_min;
	s->rise_coverage = tr->rise_coverage;
	s->trend_span_s = tr->span_s;
	s->trend_samples = tr->nsamples;
}

static int compute(struct pw_tracker *t, struct tracked *tr, double now)
{
	struct pw_sample buf[512];
	int n;

	n = pw_series__samples(tr->series, now - t->window_s, buf, 512);
	if (n < 0)
		return n;
	return pw_trend_compute(buf, n, t->window_s, &tr->trend);
}

int pw_tracker__update(struct pw_tracker *t, struct pw_snapshot *snap, double now)
{
	struct pw_sample zero = {.t = now};
	size_t i;
	int k, err;

	if ((t->n + snap->nsites + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap : 64;

		while ((t->n + snap->nsites + 1) * 2 > cap)
			cap *= 2;
		err = rehash(t, cap);
		if (err)
			return err;
	}
	for (k = 0; k < snap->nsites; k++) {
		struct pw_site *s = &snap->sites[k];
		size_t pos = slot_of(t, s->id);
		struct tracked *tr = t->slot[pos];
		struct pw_sample smp = {
			.t = now, .count = s->count, .oldest_age_s = s->oldest_age_s};

		if (!tr) {
			if (t->n >= t->max_sites) {
				snap->drops.n[PW_DROP_SITE_TABLE]++;
				continue;
			}
			tr = calloc(1, sizeof(*tr));
			if (!tr)
				return -ENOMEM;
			err = pw_series__new(t->series_cap, &tr->series);
			if (err) {
				free(tr);
				return err;
			}
			tr->id = s->id;
			tr->first_seen = now;
			t->slot[pos] = tr;
			t->n++;
		}
		site_copy_free(&tr->site);
		if (site_copy(&tr->site, s))
			return -ENOMEM;
		tr->last_seen = now;
		pw_series__push(tr->series, &smp);
		if (compute(t, tr, now) == 0)
			fill_trend(s, &tr->trend);
		fill_trend(&tr->site, &tr->trend);
	}
	/* Absent this time: the count is zero, which is what drains look like. */
	for (i = 0; i < t->cap; i++) {
		struct tracked *tr = t->slot[i];

		if (!tr || tr->last_seen == now)
			continue;
		pw_series__push(tr->series, &zero);
		if (compute(t, tr, now) == 0)
			fill_trend(&tr->site, &tr->trend);
		tr->site.count = 0;
	}
	expire(t, now);
	return 0;
}

static int cmp_summary(const void *a, const void *b)
{
	const struct pw_site *x = a, *y = b;

	if (x->leak_suspect != y->leak_suspect)
		return y->leak_suspect - x->leak_suspect;
	if (x->growth_per_min != y->growth_per_min)
		return y->growth_per_min > x->growth_per_min ? 1 : -1;
	return y->count - x->count;
}

/* All tracked sites, suspects first; the caller frees the array, not the frames. */
int pw_tracker__sites(struct pw_tracker *t, struct pw_site **out, int *n)
{
	struct pw_site *v = calloc(t->n ? t->n : 1, sizeof(*v));
	size_t i;
	int k = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i])
			v[k++] = t->slot[i]->site;
	qsort(v, k, sizeof(*v), cmp_summary);
	*out = v;
	*n = k;
	return 0;
}

int pw_tracker__counts(struct pw_tracker *t, uint64_t id, int n, double *out)
{
	struct tracked *tr;

	if (!t->cap)
		return 0;
	tr = t->slot[slot_of(t, id)];
	return tr ? pw_series__last_counts(tr->series, n, out) : 0;
}

void pw_tracker__free(struct pw_tracker *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i])
			tracked_free(t->slot[i]);
	free(t->slot);
	free(t);
}

/* ---- the command ---- */

static const char usage[] =
	"Usage: parkwatch watch [-p PID]... [-i DUR] [-d DUR] [-w DUR] [--json]\n"
	"\n"
	"Scan every interval and follow each wait site's parked count: its growth per minute,\n"
	"its trend, and whether it is a leak suspect (a staircase: the count's floor keeps\n"
	"rising and the oldest members never leave). Ends after --duration or on Ctrl-C with\n"
	"a summary: suspects first, with their full stacks.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID        only this process (repeat, or PID,PID,...)\n"
	"  -c, --comm NAME      only processes whose comm is NAME\n"
	"  -i, --interval DUR   time between scans (default 1s)\n"
	"  -d, --duration DUR   stop after this long (default: until Ctrl-C)\n"
	"  -w, --window DUR     window of the growth and leak verdicts (default 5m)\n"
	"  -m, --min-age DUR    only threads parked this long count (default 1s)\n"
	"  -j, --json           one JSON object per sample (schema 1, see README)\n"
	"      --futex-events   also trace futex syscalls (see 'parkwatch snapshot --help')\n"
	"      --ages MODE      bound (default): lower bounds (>=) from the scheduler's own\n"
	"                       stamps, nothing run per context switch; exact: time every park\n"
	"                       from its start (~5-10% on context-switch-heavy work)\n"
	"      --goroutines MODE  goroutine sites of Go processes: auto (default), on (also say\n"
	"                       which processes are not Go), off\n"
	"  -v, --verbose        libbpf's messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch watch -p 4242                       # a line per second, summary at ^C\n"
	"  sudo parkwatch watch -p 4242 -i 1s -d 30s --json | jq -c '.sites[] | "
	"select(.leak_suspect)'\n"
	"  sudo parkwatch watch -i 10s -w 30m                 # the whole host, slow leaks\n";

static void print_line(const struct pw_snapshot *snap, double elapsed)
{
	const struct pw_site *top = NULL;
	int i, suspects = 0;

	for (i = 0; i < snap->nsites; i++) {
		const struct pw_site *s = &snap->sites[i];

		if (s->leak_suspect)
			suspects++;
		if (!top || (s->leak_suspect && !top->leak_suspect) ||
		    (s->leak_suspect == top->leak_suspect &&
		     s->growth_per_min > top->growth_per_min))
			top = s;
	}
	printf("%7.1fs  parked=%llu sites=%d suspects=%d", elapsed,
	       (unsigned long long)snap->parked_threads, snap->nsites, suspects);
	if (top && top->growth_per_min > 0)
		printf("  fastest: %s %d %+.1f/min%s", top->label ? top->label : "?", top->count,
		       top->growth_per_min, top->leak_suspect ? " LEAK?" : "");
	putchar('\n');
	fflush(stdout);
}

static void print_summary(struct pw_tracker *tk, double elapsed, const struct pw_drops *drops)
{
	struct pw_snapshot sum = {0};
	struct pw_site *v;
	int n, i, suspects = 0;

	if (pw_tracker__sites(tk, &v, &n))
		return;
	for (i = 0; i < n; i++)
		suspects += v[i].leak_suspect;
	printf("\n== parkwatch watch: %.0fs, %d sites, %d leak suspect%s\n", elapsed, n, suspects,
	       suspects == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const struct pw_site *s = &v[i];
		int f;

		if (!s->leak_suspect && i >= suspects + 10)
			break;
		printf("%s %s  count %d  growth %+.1f/min  trend %s  oldest %.0fs  pid %d (%s)\n",
		       s->leak_suspect ? "LEAK SUSPECT" : "site", s->label ? s->label : "?",
		       s->count, s->growth_per_min, s->trend ? s->trend : "flat", s->oldest_age_s,
		       s->pid, s->comm);
		if (!s->leak_suspect)
			continue;
		printf("  evidence: floor %+.1f/min over %.0f%% of %.0fs, %d samples\n",
		       s->envelope_growth_per_min, 100 * s->rise_coverage, s->trend_span_s,
		       s->trend_samples);
		for (f = 0; f < s->nframes; f++) {
			const struct pw_frame *fr = &s->frames[f];
			char buf[512];

			pw_site_label_format(fr, buf, sizeof(buf));
			printf("    at %s%s\n", buf, fr->inlined ? " [inlined]" : "");
		}
		for (f = 0; f < s->nkframes; f++)
			printf("    [k] %s\n", s->kframes[f]);
	}
	sum.drops = *drops;
	pw_output_drops_line(stdout, &sum.drops);
	free(v);
}

int pw_cmd_watch(int argc, char **argv)
{
	struct pw_session ss = {0};
	struct pw_tracer *tracer;
	struct pw_collector *coll;
	struct pw_tracker *tk = NULL;
	struct pw_drops last_drops = {0};
	struct pw_cli cli;
	double t0, next;
	int err, ret = PW_EXIT_FAIL, i;

	err = pw_cli_parse(argc, argv, "watch", usage, &cli);
	if (err)
		return err;
	if (pw_check_privileges(&cli))
		return PW_EXIT_FAIL;
	pw_install_stop_handlers();
	if (pw_session__open(&cli, false, &ss))
		goto out;
	tracer = ss.tracer;
	coll = ss.coll;
	if (pw_tracker__new(cli.window_s, 4096, &tk)) {
		pw_err("out of memory");
		goto out;
	}
	t0 = pw_mono_s();
	next = t0;
	while (!pw_stop_requested()) {
		struct pw_snapshot snap = {0};
		double now = pw_mono_s();

		err = pw_scan_once(tracer, coll, &snap);
		if (err) {
			pw_err("failed to scan tasks: %s", strerror(-err));
			pw_snapshot__free(&snap);
			goto out;
		}
		snap.elapsed_s = now - t0;
		snap.interval_s = cli.interval_s;
		err = pw_tracker__update(tk, &snap, now);
		if (err) {
			pw_err("failed to track sites: %s", strerror(-err));
			pw_snapshot__free(&snap);
			goto out;
		}
		pw_snapshot_sort(&snap);
		last_drops = snap.drops;
		if (cli.json) {
			fflush(stdout);
			err = pw_output_json_fd(STDOUT_FILENO, &snap);
		} else {
			print_line(&snap, snap.elapsed_s);
			err = ferror(stdout) ? -(errno ?: EIO) : 0;
		}
		pw_snapshot__free(&snap);
		/* The reader went away (watch | head): the end it asked for, not an error. */
		if (err == -EPIPE) {
			ret = PW_EXIT_OK;
			goto out;
		}
		if (err) {
			pw_err("cannot write the sample: %s", strerror(-err));
			goto out;
		}
		for (i = 0; i < cli.npids; i++) {
			char path[32];

			snprintf(path, sizeof(path), "/proc/%d", cli.pids[i]);
			if (access(path, F_OK) && cli.npids == 1) {
				pw_err("pid %d exited; stopping", cli.pids[i]);
				stop_sig = -1;
			}
		}
		if (cli.duration_s > 0 && pw_mono_s() - t0 + 1e-3 >= cli.duration_s)
			break;
		next += cli.interval_s;
		/* Behind schedule (a slow scan, a starved host): skip, never burst to catch up. */
		if (next < pw_mono_s())
			next = pw_mono_s();
		pw_sleep_until(next);
	}
	if (!cli.json)
		print_summary(tk, pw_mono_s() - t0, &last_drops);
	ret = PW_EXIT_OK;
out:
	pw_tracker__free(tk);
	pw_session__close(&ss);
	return ret;
}
