// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus text exposition of a snapshot (see prom.h for the contract). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"
#include "sitelabel.h"
#include "util.h"

/* U+FFFD REPLACEMENT CHARACTER, spelled in UTF-8 bytes. */
#define REPLACEMENT "\xef\xbf\xbd"

struct series {
	int pid;
	enum pw_kind kind;
	bool other; /* the sum of the sites past max_sites */
	char comm[16];
	const char *wait;
	char *site; /* owned */
	long long count;
	long long futex_words;
	double oldest_age_s; /* NaN when unknown */
	bool has_trend;
	double growth_per_min;
	bool leak_suspect;
};

void pw_prom_escape(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n && p[i]) {
		unsigned char c = p[i];

		if (c == '\\' || c == '"') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			/* Legal in a label value, but a CR or ESC in the file misleads readers. */
			fputs(REPLACEMENT, f);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else if ((k = pw_utf8_decode(p + i, strnlen(s + i, n - i), NULL))) {
			fwrite(p + i, 1, k, f);
			i += k;
		} else {
			fputs(REPLACEMENT, f);
			i++;
		}
	}
}

/* ---- series: sites folded by label set, cut to max_sites per process and kind ---- */

/* The site's label: the collector's, else the best frame we have (output.c's rule). */
static char *site_name(const struct pw_site *s)
{
	char buf[512];
	int i;

	if (s->label)
		return strdup(s->label);
	if (!s->frames || s->nframes <= 0)
		return strdup("unknown");
	i = pw_site_label_index(s->frames, s->nframes);
	pw_site_label_format(&s->frames[i >= 0 ? i : s->nframes - 1], buf, sizeof(buf));
	return strdup(buf);
}

static int cmp_labels(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->other != y->other)
		return x->other ? 1 : -1;
	c = strncmp(x->comm, y->comm, sizeof(x->comm));
	if (c)
		return c;
	c = strcmp(x->site, y->site);
	if (c)
		return c;
	return strcmp(x->wait, y->wait);
}

static double age_rank(double v)
{
	return isnan(v) ? -INFINITY : v;
}

/* Which sites keep their own series: most threads, then oldest, then label order. */
static int cmp_rank(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a;
	const struct series *y = *(const struct series *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (age_rank(x->oldest_age_s) != age_rank(y->oldest_age_s))
		return age_rank(x->oldest_age_s) > age_rank(y->oldest_age_s) ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void fold(struct series *dst, const struct series *src)
{
	dst->count += src->count;
	dst->futex_words += src->futex_words;
	if (isnan(dst->oldest_age_s) || src->oldest_age_s > dst->oldest_age_s)
		dst->oldest_age_s = src->oldest_age_s;
	if (src->has_trend) {
		/* Slopes of a sum add up; one suspect among them makes the sum one. */
		dst->has_trend = true;
		dst->growth_per_min += src->growth_per_min;
		dst->leak_suspect |= src->leak_suspect;
	}
}

static void series_free(struct series *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i].site);
	free(v);
}

/* Cut one (pid, kind) group in[0..n) to max series plus "other", appended to out. */
static int cut_group(struct series *in, int n, int max, struct series *out, int *nout)
{
	struct series **rank, other;
	int i;

	if (n <= max) {
		memcpy(out + *nout, in, n * sizeof(*in));
		*nout += n;
		return 0;
	}
	rank = malloc(n * sizeof(*rank));
	memset(&other, 0, sizeof(other));
	other.site = strdup("other");
	if (!rank || !other.site) {
		free(rank);
		free(other.site);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		rank[i] = &in[i];
	qsort(rank, n, sizeof(*rank), cmp_rank);
	other.pid = in[0].pid;
	other.kind = in[0].kind;
	other.other = true;
	memcpy(other.comm, in[0].comm, sizeof(other.comm));
	other.wait = "other";
	other.oldest_age_s = NAN;
	for (i = max; i < n; i++) {
		fold(&other, rank[i]);
		free(rank[i]->site);
		rank[i]->site = NULL; /* marks it folded */
	}
	free(rank);
	/* Kept series stay in label order, "other" last. */
	for (i = 0; i < n; i++)
		if (in[i].site)
			out[(*nout)++] = in[i];
	out[(*nout)++] = other;
	return 0;
}

static int build_series(const struct pw_snapshot *snap, int max, struct series **outp, int *nout)
{
	struct series *v, *out;
	int i, j, m = 0, n = 0, err;

	*outp = NULL;
	*nout = 0;
	if (snap->nsites <= 0)
		return 0;
	v = calloc(snap->nsites, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < snap->nsites; i++) {
		const struct pw_site *s = &snap->sites[i];
		struct series *d = &v[i];

		d->pid = s->pid;
		d->kind = s->kind;
		memcpy(d->comm, s->comm, sizeof(d->comm));
		d->wait = s->wait ? s->wait : "unknown";
		d->site = site_name(s);
		d->count = s->count;
		d->futex_words = s->futex_words;
		d->oldest_age_s = s->oldest_age_s;
		d->has_trend = s->has_trend;
		d->growth_per_min = s->has_trend ? s->growth_per_min : 0;
		d->leak_suspect = s->has_trend && s->leak_suspect;
		if (!d->site) {
			series_free(v, i);
			return -ENOMEM;
		}
	}
	qsort(v, snap->nsites, sizeof(*v), cmp_labels);
	/* Equal label sets would be duplicate series, which Prometheus rejects: sum them. */
	for (i = 0; i < snap->nsites; i++) {
		if (m && cmp_labels(&v[m - 1], &v[i]) == 0) {
			fold(&v[m - 1], &v[i]);
			free(v[i].site);
		} else {
			v[m++] = v[i];
		}
	}
	/* At most one "other" per group, and there are at most m groups. */
	out = calloc(2 * m, sizeof(*out));
	if (!out) {
		series_free(v, m);
		return -ENOMEM;
	}
	for (i = 0; i < m; i = j) {
		for (j = i + 1; j < m && v[j].pid == v[i].pid && v[j].kind == v[i].kind; j++)
			;
		err = cut_group(&v[i], j - i, max, out, &n);
		if (err) {
			/* Groups before i moved to out; this one and the rest are still in v. */
			for (; i < m; i++)
				free(v[i].site);
			free(v);
			series_free(out, n);
			return err;
		}
	}
	free(v);
	*outp = out;
	*nout = n;
	return 0;
}

/* ---- writing ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(FILE *f, double v, const char *fmt)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, fmt, v);
}

static void labels(FILE *f, const struct series *s)
{
	fprintf(f, "{pid=\"%d\",comm=\"", s->pid);
	pw_prom_escape(f, s->comm, sizeof(s->comm));
	fputs("\",site=\"", f);
	pw_prom_escape(f, s->site, strlen(s->site));
	fputs("\",wait=\"", f);
	pw_prom_escape(f, s->wait, strlen(s->wait));
	fprintf(f, "\",kind=\"%s\"}", s->kind == PW_KIND_GOROUTINE ? "goroutine" : "thread");
}

enum field { F_COUNT, F_WORDS, F_AGE, F_GROWTH, F_LEAK };

struct site_family {
	const char *name;
	const char *help;
	enum field field;
	int kind; /* -1: every kind */
	bool trend;
};

static const struct site_family site_families[] = {
	{"parkwatch_parked_threads",
	 "Threads parked at a wait site for at least --min-age (site=\"other\": the sum of the "
	 "sites past --max-sites).",
	 F_COUNT, PW_KIND_THREAD, false},
	{"parkwatch_parked_goroutines", "Goroutines parked at a wait site.", F_COUNT,
	 PW_KIND_GOROUTINE, false},
	{"parkwatch_site_futex_words",
	 "Distinct futex words the threads of a site wait on (many: abandoned per-request "
	 "objects; one: a pool or a convoy).",
	 F_WORDS, PW_KIND_THREAD, false},
	{"parkwatch_site_oldest_park_age_seconds",
	 "How long the oldest member of a site has been parked (a lower bound unless --ages exact "
	 "saw its park start).",
	 F_AGE, -1, false},
	{"parkwatch_site_growth_per_minute",
	 "Robust slope of a site's parked count over --window, per minute (absent with --once).",
	 F_GROWTH, -1, true},
	{"parkwatch_site_leak_suspect",
	 "1 when a site's count rises like a staircase that never drains (absent with --once).",
	 F_LEAK, -1, true},
};

static void site_value(FILE *f, const struct series *s, enum field field)
{
	switch (field) {
	case F_COUNT:
		fprintf(f, "%lld", s->count);
		break;
	case F_WORDS:
		fprintf(f, "%lld", s->futex_words);
		break;
	case F_AGE:
		number(f, s->oldest_age_s, "%.3f");
		break;
	case F_GROWTH:
		number(f, s->growth_per_min, "%.6g");
		break;
	case F_LEAK:
		fputc(s->leak_suspect ? '1' : '0', f);
		break;
	}
}

static void write_site_family(FILE *f, const struct site_family *fam, const struct series *v, int n)
{
	bool head = false;
	int i;

	for (i = 0; i < n; i++) {
		const struct series *s = &v[i];

		if ((fam->kind >= 0 && (int)s->kind != fam->kind) || (fam->trend && !s->has_trend))
			continue;
		/* No HELP/TYPE without samples: an empty family is noise in every scrape. */
		if (!head) {
			family(f, fam->name, "gauge", fam->help);
			head = true;
		}
		fputs(fam->name, f);
		labels(f, s);
		fputc(' ', f);
		site_value(f, s, fam->field);
		fputc('\n', f);
	}
}

static int cmp_drop_name(const void *a, const void *b)
{
	return strcmp(pw_drop_name(*(const int *)a), pw_drop_name(*(const int *)b));
}

static void write_drops(FILE *f, const struct pw_drops *d)
{
	int order[PW_DROP_MAX], i;

	for (i = 0; i < PW_DROP_MAX; i++)
		order[i] = i;
	qsort(order, PW_DROP_MAX, sizeof(order[0]), cmp_drop_name);
	family(f, "parkwatch_drops_total", "counter",
	       "Data parkwatch could not collect since the exporter started, by reason (see "
	       "README, "
	       "Limits and drops).");
	for (i = 0; i < PW_DROP_MAX; i++)
		fprintf(f, "parkwatch_drops_total{reason=\"%s\"} %llu\n", pw_drop_name(order[i]),
			(unsigned long long)d->n[order[i]]);
}

int pw_prom_write(FILE *f, const struct pw_snapshot *snap, const struct pw_prom_opts *o)
{
	struct series *v;
	size_t i;
	int n, err;

	err = build_series(snap, o->max_sites < 0 ? 0 : o->max_sites, &v, &n);
	if (err)
		return err;
	family(f, "parkwatch_build_info", "gauge", "Always 1; the version of parkwatch.");
	fputs("parkwatch_build_info{version=\"", f);
	pw_prom_escape(f, o->version ? o->version : "unknown", SIZE_MAX);
	fputs("\"} 1\n", f);
	family(f, "parkwatch_host_parked_threads", "gauge",
	       "Parked threads in the scanned processes (the whole host without -p/-c), young ones "
	       "included.");
	fprintf(f, "parkwatch_host_parked_threads %llu\n",
		(unsigned long long)snap->parked_threads);
	family(f, "parkwatch_host_parked_goroutines", "gauge",
	       "Parked goroutines in the scanned processes.");
	fprintf(f, "parkwatch_host_parked_goroutines %llu\n",
		(unsigned long long)snap->parked_goroutines);
	for (i = 0; i < sizeof(site_families) / sizeof(site_families[0]); i++)
		write_site_family(f, &site_families[i], v, n);
	write_drops(f, o->drops ? o->drops : &snap->drops);
	if (o->scan_duration_s >= 0) {
		family(f, "parkwatch_scan_duration_seconds", "gauge",
		       "Wall time of the last scan: BPF pass, unwinding, aggregation.");
		fputs("parkwatch_scan_duration_seconds ", f);
		number(f, o->scan_duration_s, "%.6f");
		fputc('\n', f);
	}
	if (o->interval_s > 0) {
		family(f, "parkwatch_scan_interval_seconds", "gauge",
		       "Time between scans (-i): the file is stale after a few of these.");
		fputs("parkwatch_scan_interval_seconds ", f);
		number(f, o->interval_s, "%.3f");
		fputc('\n', f);
	}
	/* Always last: a reader that sees this line has seen the whole file. */
	family(f, "parkwatch_last_scan_timestamp_seconds", "gauge",
	       "Unix time at which the last scan completed.");
	fputs("parkwatch_last_scan_timestamp_seconds ", f);
	number(f, snap->time, "%.3f");
	fputc('\n', f);
	series_free(v, n);
	if (fflush(f) || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}
