/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parkwatch top: the live full-screen view. The loop is watch's (scan, track,
 * show) with the sleep replaced by getch() with a timeout, so keys are
 * handled between scans and a scan is never delayed by the screen.
 *
 * ncurses, not escape codes: terminfo knows the terminal, refresh() only
 * sends what changed (redrawing four times a second costs a few bytes), and
 * SIGWINCH becomes KEY_RESIZE with LINES/COLS already updated.
 *
 * The terminal is restored on every exit path: one cleanup path after
 * newterm(), plus an atexit() guard for anything that calls exit(). The
 * stop handlers are installed before newterm() so that ncurses leaves
 * SIGINT/SIGTERM to them (it only takes signals still at SIG_DFL) and Ctrl-C
 * ends the loop through the same cleanup as 'q'.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>
#include "cli.h"
#include "collect.h"
#include "ksyms.h"
#include "sitelabel.h"
#include "top.h"
#include "tracer.h"
#include "util.h"
#include "watch.h"

#define SPARK_MAX 16 /* sparkline cells: 16 scans at full width, 8 when narrow */
#define SPARK_MIN 8
#define SITE_MIN 24 /* columns are dropped until the site label gets this many */
#define MIN_COLS 50
#define MIN_LINES 10
#define HEAD_LINES 3	/* totals, settings, column names */
#define FOOT_LINES 2	/* status, keys */
#define MSG_S 3.0	/* how long a transient status message stays */
#define KEY_WAIT_MS 250 /* longest getch() wait: bounds the latency of stop and redraws */
#define PAIR_SUSPECT 1

/* Column widths; the site label takes what is left. */
#define W_MARK 2 /* '>' selected, '!' leak suspect */
#define W_COUNT 6
#define W_GROWTH 10
#define W_OLDEST 9
#define W_WAIT 10
#define W_PID 7
#define W_COMM 15

enum top_sort { SORT_GROWTH, SORT_COUNT, SORT_OLDEST, SORT_MAX };

static const char *const sort_names[SORT_MAX] = {"suspects+growth", "count", "oldest"};

/* What + and - step through; a custom -i value steps to its neighbours. */
static const double interval_steps[] = {0.25, 0.5, 1, 2, 5, 10, 30, 60};

struct lay {
	int spark;
	bool growth, oldest, wait, pid, comm;
	int site_x, site_w;
};

struct top {
	struct pw_cli cli;
	struct pw_tracker *tk;
	/* The tracker's sites as of the last scan: their frames live until the next update. */
	struct pw_site *sites;
	int nsites;
	int *rows; /* indices into sites, filtered and sorted */
	int nrows;
	/* Totals of the last scan. */
	int nscans;
	uint64_t parked_threads, parked_goroutines;
	int live_sites, suspects;
	struct pw_drops drops;
	uint64_t site_table_drops; /* the tracker's own, which it counts per scan */
	double scan_ms;
	time_t scan_time;
	bool gone[PW_MAX_PIDS]; /* cli.pids[i] exited */
	/* View state. */
	double interval_s;
	enum top_sort sort;
	int filter_pid;	 /* 0: every pid */
	uint64_t sel_id; /* the selected site, once the user picked one; else the top row */
	bool picked;
	int sel, scroll;
	bool expanded;
	bool prompting;
	char prompt[8];
	int plen;
	char msg[160];
	double msg_until;
	bool utf8, color;
};

static const char usage[] =
	"Usage: parkwatch top [-p PID]... [-c NAME] [-i DUR] [-w DUR] [-m DUR] [-d DUR]\n"
	"\n"
	"The live view: one row per wait site, refreshed every interval, with its parked count,\n"
	"a sparkline of its recent counts (a staircase is a leak, a flat line a pool), its growth\n"
	"per minute, the oldest thread's age, the wait kind, the process and the code that waits.\n"
	"Leak suspects are highlighted and listed first. When stdin or stdout is not a terminal,\n"
	"or with --json, it prints the lines of 'parkwatch watch' instead.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID        only this process (repeat, or PID,PID,...)\n"
	"  -c, --comm NAME      only processes whose comm is NAME\n"
	"  -i, --interval DUR   time between scans (default 1s; + and - change it live)\n"
	"  -w, --window DUR     window of the growth and leak verdicts (default 5m)\n"
	"  -m, --min-age DUR    only threads parked this long get a site (default 1s)\n"
	"  -d, --duration DUR   quit after this long (default: until q or Ctrl-C)\n"
	"  -j, --json           watch's JSON lines instead of the live view\n"
	"      --futex-events   also trace futex syscalls (see 'parkwatch snapshot --help')\n"
	"      --ages MODE      bound (default): lower bounds (>=) from the scheduler's own\n"
	"                       stamps, nothing run per context switch; exact: time every park\n"
	"                       from its start (~5-10% on context-switch-heavy work)\n"
	"      --goroutines MODE  goroutine sites of Go processes: auto (default), on (also say\n"
	"                       which processes are not Go), off\n"
	"  -v, --verbose        libbpf's messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Keys:\n"
	"  q, Ctrl-C            quit (the terminal is restored)\n"
	"  Up/Down, j/k         move the selection; PgUp/PgDn, Home/End by page, to the ends\n"
	"  Enter, e             show/hide the selected site's whole stack (user and kernel "
	"frames)\n"
	"  s                    sort by: suspects+growth, count, oldest age\n"
	"  p                    filter by pid: type it, Enter applies, an empty pid clears\n"
	"  + / -                longer / shorter interval\n"
	"  Esc                  close the stack pane; Ctrl-L redraws the screen\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch top                        # every process on the host\n"
	"  sudo parkwatch top -p 4242 -i 2s          # one process, a scan every 2 s\n"
	"  sudo parkwatch top -c java -w 30m         # slow leaks in every 'java' process\n"
	"  sudo parkwatch top -p 4242 > top.log      # not a terminal: watch's lines\n";

static SCREEN *screen; /* non-NULL while curses owns the terminal */

static void leave_curses(void)
{
	if (screen && !isendwin())
		endwin();
}

static void set_msg(struct top *tp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_msg(struct top *tp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tp->msg, sizeof(tp->msg), fmt, ap);
	va_end(ap);
	tp->msg_until = pw_mono_s() + MSG_S;
}

/* ---- drawing primitives ---- */

/*
 * Draws s at (y, x) in exactly w columns, padded with spaces (on the left if
 * right). Labels and comms are outside data: unprintable characters and bytes
 * that do not decode in the locale become '?', and what does not fit ends
 * with an ellipsis. Widths are wcwidth()'s, so CJK names line up too.
 */
static void put(const struct top *tp, int y, int x, int w, const char *s, bool right)
{
	wchar_t wc[260];
	int cw[260];
	int n = 0, cols = 0, keep, used, i;
	size_t len = strlen(s);
	mbstate_t st;

	if (w <= 0)
		return;
	memset(&st, 0, sizeof(st));
	while (len && n < 256) {
		wchar_t c;
		size_t k = mbrtowc(&c, s, len, &st);
		int width;

		if (k == (size_t)-1 || k == (size_t)-2) {
			c = L'?';
			k = 1;
			memset(&st, 0, sizeof(st));
		} else if (k == 0) {
			break;
		}
		s += k;
		len -= k;
		width = wcwidth(c);
		if (width < 0 || !iswprint(c)) {
			c = L'?';
			width = 1;
		}
		wc[n] = c;
		cw[n++] = width;
		cols += width;
	}
	if (len)
		cols = w + 1; /* more than we decoded: it does not fit */
	keep = n;
	used = cols;
	if (cols > w) {
		for (keep = 0, used = 0; keep < n && used + cw[keep] <= w - 1; keep++)
			used += cw[keep];
		wc[keep++] = tp->utf8 ? L'\u2026' : L'~';
		used++;
	}
	wc[keep] = 0;
	move(y, x);
	for (i = 0; right && i < w - used; i++)
		addch(' ');
	addnwstr(wc, keep);
	for (i = 0; !right && i < w - used; i++)
		addch(' ');
}

/* "≥ 41s" is not ASCII: outside a UTF-8 locale a lower bound is ">=41s". */
static void age_text(const struct top *tp, double age, bool lower, char *buf, size_t len)
{
	static const char ge[] = "\u2265 ";

	pw_format_age(age, lower, buf, len);
	if (!tp->utf8 && !strncmp(buf, ge, strlen(ge))) {
		memmove(buf + 2, buf + strlen(ge), strlen(buf + strlen(ge)) + 1);
		memcpy(buf, ">=", 2);
	}
}

/*
 * The last w counts of a site, right-aligned so the newest is always in the
 * last cell, each scaled between the row's own least and greatest count: the
 * shape is what matters (a staircase climbs left to right whatever its size,
 * the COUNT column gives the size). A flat line is all one level: the bottom
 * one when it is flat at zero, the middle one otherwise.
 */
static void put_spark(const struct top *tp, int y, int x, int w, uint64_t id)
{
	static const wchar_t blocks[] = L"\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588";
	static const wchar_t ascii[] = L"_.-=#";
	const wchar_t *lv = tp->utf8 ? blocks : ascii;
	int nlv = tp->utf8 ? 8 : 5;
	double c[SPARK_MAX], lo = INFINITY, hi = -INFINITY;
	wchar_t out[SPARK_MAX + 1];
	int n, i;

	if (w > SPARK_MAX)
		w = SPARK_MAX;
	n = pw_tracker__counts(tp->tk, id, w, c);
	if (n < 0)
		n = 0;
	for (i = 0; i < n; i++) {
		lo = fmin(lo, c[i]);
		hi = fmax(hi, c[i]);
	}
	for (i = 0; i < w - n; i++)
		out[i] = L' ';
	for (i = 0; i < n; i++) {
		int l;

		if (hi > lo)
			l = (int)lround((c[i] - lo) / (hi - lo) * (nlv - 1));
		else
			l = hi > 0 ? (nlv - 1) / 2 : 0;
		out[w - n + i] = lv[l];
	}
	out[w] = 0;
	mvaddnwstr(y, x, out, w);
}

/* ---- rows: filter, sort, selection ---- */

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct top *tp = arg;
	const struct pw_site *x = &tp->sites[*(const int *)a];
	const struct pw_site *y = &tp->sites[*(const int *)b];

	/* Sites that are gone (count 0, kept while they matter to trends) sink in every order. */
	if ((x->count > 0) != (y->count > 0))
		return x->count > 0 ? -1 : 1;
	switch (tp->sort) {
	case SORT_GROWTH:
		if (x->leak_suspect != y->leak_suspect)
			return x->leak_suspect ? -1 : 1;
		if (x->growth_per_min != y->growth_per_min)
			return x->growth_per_min > y->growth_per_min ? -1 : 1;
		break;
	case SORT_OLDEST:
		if (x->oldest_age_s != y->oldest_age_s)
			return x->oldest_age_s > y->oldest_age_s ? -1 : 1;
		break;
	default:
		break;
	}
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	/* Last, the id: equal rows keep their places between refreshes. */
	return x->id < y->id ? -1 : x->id > y->id;
}

static int build_rows(struct top *tp)
{
	int *rows = realloc(tp->rows, (tp->nsites ? tp->nsites : 1) * sizeof(*rows));
	int i, n = 0;

	if (!rows)
		return -ENOMEM;
	tp->rows = rows;
	for (i = 0; i < tp->nsites; i++)
		if (!tp->filter_pid || tp->sites[i].pid == tp->filter_pid)
			rows[n++] = i;
	qsort_r(rows, n, sizeof(*rows), cmp_rows, tp);
	tp->nrows = n;
	/*
	 * A picked selection follows its site, not its row number (rows move as
	 * counts change); until then the top row, the likeliest suspect, is it.
	 */
	for (i = 0; tp->picked && i < n; i++) {
		if (tp->sites[rows[i]].id == tp->sel_id) {
			tp->sel = i;
			break;
		}
	}
	if (!tp->picked)
		tp->sel = 0;
	if (tp->sel >= n)
		tp->sel = n - 1;
	if (tp->sel < 0)
		tp->sel = 0;
	if (n)
		tp->sel_id = tp->sites[rows[tp->sel]].id;
	return 0;
}

static const struct pw_site *selected(const struct top *tp)
{
	return tp->nrows ? &tp->sites[tp->rows[tp->sel]] : NULL;
}

static void select_row(struct top *tp, int sel)
{
	if (sel >= tp->nrows)
		sel = tp->nrows - 1;
	if (sel < 0)
		sel = 0;
	tp->sel = sel;
	tp->picked = true;
	if (tp->nrows)
		tp->sel_id = tp->sites[tp->rows[sel]].id;
}

/* ---- scanning ---- */

/* Gone: no such process, or only its zombie, which has no threads left to park. */
static bool pid_gone(int pid)
{
	char path[32], buf[256], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold ')' and spaces */
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static int scan(struct top *tp, struct pw_tracer *tracer, struct pw_collector *coll, double t0)
{
	struct pw_snapshot snap = {0};
	double now = pw_mono_s();
	uint64_t before;
	int err, i;

	err = pw_scan_once(tracer, coll, &snap);
	if (err)
		goto out;
	snap.elapsed_s = now - t0;
	snap.interval_s = tp->interval_s;
	/* The update frees the frames our copies of the sites point at. */
	free(tp->sites);
	tp->sites = NULL;
	tp->nsites = 0;
	tp->nrows = 0;
	before = snap.drops.n[PW_DROP_SITE_TABLE];
	err = pw_tracker__update(tp->tk, &snap, now);
	if (err)
		goto out;
	tp->site_table_drops += snap.drops.n[PW_DROP_SITE_TABLE] - before;
	tp->drops = snap.drops; /* cumulative: the collector's and BPF's counters */
	tp->drops.n[PW_DROP_SITE_TABLE] = before + tp->site_table_drops;
	tp->parked_threads = snap.parked_threads;
	tp->parked_goroutines = snap.parked_goroutines;
	err = pw_tracker__sites(tp->tk, &tp->sites, &tp->nsites);
	if (err)
		goto out;
	tp->live_sites = tp->suspects = 0;
	for (i = 0; i < tp->nsites; i++) {
		if (tp->sites[i].count > 0) {
			tp->live_sites++;
			tp->suspects += tp->sites[i].leak_suspect;
		}
	}
	for (i = 0; i < tp->cli.npids; i++)
		if (!tp->gone[i] && pid_gone(tp->cli.pids[i]))
			tp->gone[i] = true;
	tp->nscans++;
	tp->scan_time = time(NULL);
	tp->scan_ms = (pw_mono_s() - now) * 1e3;
	err = build_rows(tp);
out:
	pw_snapshot__free(&snap);
	return err;
}

/* ---- layout and screen ---- */

static int lay_fixed(const struct lay *l)
{
	return W_MARK + W_COUNT + 1 + l->spark + 1 + (l->growth ? W_GROWTH + 1 : 0) +
	       (l->oldest ? W_OLDEST + 1 : 0) + (l->wait ? W_WAIT + 1 : 0) +
	       (l->pid ? W_PID + 1 : 0) + (l->comm ? W_COMM + 1 : 0);
}

/* Columns give way to the site label, least telling first; the sparkline last but two. */
static void layout(struct lay *l, int cols)
{
	*l = (struct lay){SPARK_MAX, true, true, true, true, true, 0, 0};
	while (lay_fixed(l) + SITE_MIN > cols) {
		if (l->comm)
			l->comm = false;
		else if (l->wait)
			l->wait = false;
		else if (l->pid)
			l->pid = false;
		else if (l->spark > SPARK_MIN)
			l->spark = SPARK_MIN;
		else if (l->oldest)
			l->oldest = false;
		else if (l->growth)
			l->growth = false;
		else
			break;
	}
	l->site_x = lay_fixed(l);
	l->site_w = cols - l->site_x;
}

static void growth_text(const struct pw_site *s, char *buf, size_t len)
{
	double g = s->growth_per_min;

	if (!s->has_trend || !isfinite(g))
		snprintf(buf, len, "-");
	else if (fabs(g) < 0.05)
		snprintf(buf, len, "0");
	else if (fabs(g) >= 1000)
		snprintf(buf, len, "%+.0f", g);
	else
		snprintf(buf, len, "%+.1f", g);
}

static void draw_colnames(const struct top *tp, const struct lay *l, int y)
{
	int x = W_MARK;

	attrset(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	put(tp, y, 0, W_MARK, "", false);
	put(tp, y, x, W_COUNT, "COUNT", true);
	x += W_COUNT + 1;
	put(tp, y, x, l->spark, "TREND", false);
	x += l->spark + 1;
	if (l->growth) {
		put(tp, y, x, W_GROWTH, "GROWTH/min", true);
		x += W_GROWTH + 1;
	}
	if (l->oldest) {
		put(tp, y, x, W_OLDEST, "OLDEST", false);
		x += W_OLDEST + 1;
	}
	if (l->wait) {
		put(tp, y, x, W_WAIT, "WAIT", false);
		x += W_WAIT + 1;
	}
	if (l->pid) {
		put(tp, y, x, W_PID, "PID", true);
		x += W_PID + 1;
	}
	if (l->comm) {
		put(tp, y, x, W_COMM, "COMM", false);
		x += W_COMM + 1;
	}
	put(tp, y, x, l->site_w, "SITE", false);
	attrset(A_NORMAL);
}

static const char *site_label(const struct pw_site *s, char *buf, size_t len)
{
	if (s->label)
		return s->label;
	if (s->nframes) {
		pw_site_label_format(&s->frames[0], buf, len);
		return buf;
	}
	return "?";
}

static void draw_row(const struct top *tp, const struct lay *l, int y, const struct pw_site *s,
		     bool sel)
{
	bool suspect = s->leak_suspect && s->count > 0;
	attr_t a = A_NORMAL;
	short pair = 0;
	char buf[512];
	int x = W_MARK;

	if (suspect) {
		a |= A_BOLD;
		if (tp->color)
			pair = PAIR_SUSPECT;
	}
	if (s->count == 0)
		a |= A_DIM;
	if (sel)
		a |= A_REVERSE;
	attr_set(a, pair, NULL);
	mvhline(y, 0, ' ', COLS);
	snprintf(buf, sizeof(buf), "%c%c", sel ? '>' : ' ', suspect ? '!' : ' ');
	put(tp, y, 0, W_MARK, buf, false);
	snprintf(buf, sizeof(buf), "%d", s->count);
	put(tp, y, x, W_COUNT, buf, true);
	x += W_COUNT + 1;
	put_spark(tp, y, x, l->spark, s->id);
	x += l->spark + 1;
	if (l->growth) {
		growth_text(s, buf, sizeof(buf));
		put(tp, y, x, W_GROWTH, buf, true);
		x += W_GROWTH + 1;
	}
	if (l->oldest) {
		if (s->count > 0)
			age_text(tp, s->oldest_age_s, s->age_is_lower_bound, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "gone");
		put(tp, y, x, W_OLDEST, buf, false);
		x += W_OLDEST + 1;
	}
	if (l->wait) {
		put(tp, y, x, W_WAIT, s->wait ? s->wait : "?", false);
		x += W_WAIT + 1;
	}
	if (l->pid) {
		snprintf(buf, sizeof(buf), "%d", s->pid);
		put(tp, y, x, W_PID, buf, true);
		x += W_PID + 1;
	}
	if (l->comm) {
		put(tp, y, x, W_COMM, s->comm, false);
		x += W_COMM + 1;
	}
	put(tp, y, x, l->site_w, site_label(s, buf, sizeof(buf)), false);
	attrset(A_NORMAL);
}

/* Lines of the stack pane: a title, the trend's evidence, user frames, kernel frames. */
static int pane_nlines(const struct pw_site *s)
{
	return 2 + (s->nframes + s->nkframes ? s->nframes + s->nkframes : 1);
}

static void pane_line(const struct top *tp, const struct pw_site *s, int i, char *buf, size_t len)
{
	char age[PW_AGE_BUFSZ], med[PW_AGE_BUFSZ], words[32] = "", lbl[512];

	if (i == 0) {
		age_text(tp, s->oldest_age_s, s->age_is_lower_bound, age, sizeof(age));
		/* With pre-parked members the median may be a lower bound too: "≥" is always true.
		 */
		age_text(tp, s->median_age_s, s->age_is_lower_bound, med, sizeof(med));
		if (s->futex_words)
			snprintf(words, sizeof(words), " on %d futex word%s", s->futex_words,
				 s->futex_words == 1 ? "" : "s");
		snprintf(buf, len,
			 "stack of %s: pid %d (%s), %s, %d thread%s%s, oldest %s, median %s",
			 site_label(s, lbl, sizeof(lbl)), s->pid, s->comm, s->wait ? s->wait : "?",
			 s->count, s->count == 1 ? "" : "s", words, s->count ? age : "-",
			 s->count ? med : "-");
		return;
	}
	if (i == 1) {
		if (s->leak_suspect)
			snprintf(buf, len,
				 "  LEAK SUSPECT: growth %+.1f/min, floor %+.1f/min, rising over "
				 "%.0f%% of %.0fs (%d scans)",
				 s->growth_per_min, s->envelope_growth_per_min,
				 100 * s->rise_coverage, s->trend_span_s, s->trend_samples);
		else
			snprintf(buf, len, "  trend %s: growth %+.1f/min over %.0fs (%d scans)",
				 s->trend ? s->trend : "flat", s->growth_per_min, s->trend_span_s,
				 s->trend_samples);
		return;
	}
	i -= 2;
	if (i < s->nframes) {
		const struct pw_frame *f = &s->frames[i];
		const char *mod = f->module ? strrchr(f->module, '/') : NULL;

		pw_site_label_format(f, lbl, sizeof(lbl));
		mod = mod ? mod + 1 : f->module;
		/* Library frames have no file:line here: their module says where they are. */
		snprintf(buf, len, "  at %s%s%s%s%s", lbl, f->inlined ? " [inlined]" : "",
			 !f->file && f->func && mod ? "  (" : "",
			 !f->file && f->func && mod ? mod : "",
			 !f->file && f->func && mod ? ")" : "");
		return;
	}
	i -= s->nframes;
	if (i < s->nkframes)
		snprintf(buf, len, "  [k] %s", s->kframes[i]);
	else
		snprintf(buf, len, "  no stack was captured for this site");
}

static void drops_text(const struct pw_drops *d, char *buf, size_t len)
{
	size_t off;
	int i;

	off = snprintf(buf, len, "drops:");
	for (i = 0; i < PW_DROP_MAX && off < len; i++)
		if (d->n[i])
			off += snprintf(buf + off, len - off, " %s=%llu", pw_drop_name(i),
					(unsigned long long)d->n[i]);
	if (!strcmp(buf, "drops:"))
		snprintf(buf, len, "drops: none");
}

static void draw_header(const struct top *tp)
{
	char left[256], right[64], drops[256], ival[PW_AGE_BUFSZ], win[PW_AGE_BUFSZ];
	char filter[48], scope[64], buf[640];
	int rw = 0;

	if (tp->nscans) {
		int off = snprintf(left, sizeof(left),
				   "parkwatch top  %llu parked thread%s in %d site%s, %d leak "
				   "suspect%s",
				   (unsigned long long)tp->parked_threads,
				   tp->parked_threads == 1 ? "" : "s", tp->live_sites,
				   tp->live_sites == 1 ? "" : "s", tp->suspects,
				   tp->suspects == 1 ? "" : "s");
		struct tm tm;

		if (tp->parked_goroutines)
			snprintf(left + off, sizeof(left) - off, ", %llu parked goroutines",
				 (unsigned long long)tp->parked_goroutines);
		localtime_r(&tp->scan_time, &tm);
		rw = strftime(right, sizeof(right), "%H:%M:%S", &tm);
		rw += snprintf(right + rw, sizeof(right) - rw, "  scan %.1fms", tp->scan_ms);
	} else {
		snprintf(left, sizeof(left), "parkwatch top  scanning%s",
			 tp->utf8 ? "\u2026" : "...");
	}
	attrset(A_BOLD);
	if (rw && (int)strlen(left) + rw + 2 <= COLS) {
		put(tp, 0, 0, COLS - rw, left, false);
		put(tp, 0, COLS - rw, rw, right, false);
	} else {
		put(tp, 0, 0, COLS, left, false);
	}
	attrset(A_NORMAL);

	drops_text(&tp->drops, drops, sizeof(drops));
	pw_format_age(tp->interval_s, false, ival, sizeof(ival));
	pw_format_age(tp->cli.window_s, false, win, sizeof(win));
	if (tp->filter_pid)
		snprintf(filter, sizeof(filter), "pid %d (%d of %d sites)", tp->filter_pid,
			 tp->nrows, tp->nsites);
	else
		snprintf(filter, sizeof(filter), "none");
	if (tp->cli.npids == 1)
		snprintf(scope, sizeof(scope), "pid %d", tp->cli.pids[0]);
	else if (tp->cli.npids)
		snprintf(scope, sizeof(scope), "%d pids", tp->cli.npids);
	else if (tp->cli.comm)
		snprintf(scope, sizeof(scope), "comm %s", tp->cli.comm);
	else
		snprintf(scope, sizeof(scope), "host");
	/* Drops right after the interval: a narrow terminal cuts the end of the line. */
	snprintf(buf, sizeof(buf), "interval %s  %s  sort: %s  filter: %s  window %s  scope: %s",
		 ival, drops, sort_names[tp->sort], filter, win, scope);
	put(tp, 1, 0, COLS, buf, false);
}

static void status_text(const struct top *tp, char *buf, size_t len)
{
	size_t off = 0;
	int i, ngone = 0;

	buf[0] = 0;
	if (tp->prompting)
		off = snprintf(buf, len,
			       "filter by pid (Enter applies, empty clears, Esc cancels): %s_",
			       tp->prompt);
	else if (tp->msg[0] && pw_mono_s() < tp->msg_until)
		off = snprintf(buf, len, "%s", tp->msg);
	for (i = 0; i < tp->cli.npids; i++)
		ngone += tp->gone[i];
	if (!ngone || off >= len)
		return;
	off += snprintf(buf + off, len - off, "%spid%s", off ? "  " : "", ngone > 1 ? "s" : "");
	for (i = 0; i < tp->cli.npids && off < len; i++)
		if (tp->gone[i])
			off += snprintf(buf + off, len - off, " %d", tp->cli.pids[i]);
	if (off < len)
		snprintf(buf + off, len - off, " exited%s",
			 ngone == tp->cli.npids ? ": its sites fade out; q quits" : "");
}

static void draw(struct top *tp)
{
	const struct pw_site *cur = selected(tp);
	int rows_h, pane_h = 0, i, y;
	char buf[1024];
	struct lay l;

	erase();
	if (COLS < MIN_COLS || LINES < MIN_LINES) {
		snprintf(buf, sizeof(buf), "terminal too small (%dx%d): parkwatch top needs %dx%d",
			 COLS, LINES, MIN_COLS, MIN_LINES);
		put(tp, 0, 0, COLS, buf, false);
		if (LINES > 1)
			put(tp, 1, 0, COLS, "q quits", false);
		refresh();
		return;
	}
	draw_header(tp);
	layout(&l, COLS);
	draw_colnames(tp, &l, 2);

	rows_h = LINES - HEAD_LINES - FOOT_LINES;
	if (tp->expanded && cur) {
		/* The pane takes what it needs, leaving the rows at least 3 lines. */
		pane_h = pane_nlines(cur);
		if (pane_h > rows_h - 3)
			pane_h = rows_h - 3;
		rows_h -= pane_h;
		/* ... and sits right under the rows when they are few. */
		if (rows_h > tp->nrows + 1)
			rows_h = tp->nrows + 1 > 3 ? tp->nrows + 1 : 3;
	}
	if (tp->sel < tp->scroll)
		tp->scroll = tp->sel;
	if (tp->sel >= tp->scroll + rows_h)
		tp->scroll = tp->sel - rows_h + 1;
	if (tp->scroll > tp->nrows - rows_h)
		tp->scroll = tp->nrows - rows_h;
	if (tp->scroll < 0)
		tp->scroll = 0;
	for (i = 0; i < rows_h && tp->scroll + i < tp->nrows; i++) {
		int r = tp->scroll + i;

		draw_row(tp, &l, HEAD_LINES + i, &tp->sites[tp->rows[r]], r == tp->sel);
	}
	if (!tp->nrows) {
		if (tp->filter_pid)
			snprintf(buf, sizeof(buf),
				 "  no sites of pid %d (p, then Enter: every pid)", tp->filter_pid);
		else if (tp->nscans)
			snprintf(buf, sizeof(buf), "  no thread parked longer than %gs yet",
				 tp->cli.min_age_s);
		else
			snprintf(buf, sizeof(buf), "  scanning%s", tp->utf8 ? "\u2026" : "...");
		put(tp, HEAD_LINES, 0, COLS, buf, false);
	}

	y = HEAD_LINES + rows_h;
	for (i = 0; i < pane_h; i++) {
		int total = pane_nlines(cur);

		if (i == pane_h - 1 && total > pane_h)
			snprintf(buf, sizeof(buf),
				 "  %s %d more line%s: a taller terminal shows them",
				 tp->utf8 ? "\u2026" : "...", total - i, total - i == 1 ? "" : "s");
		else
			pane_line(tp, cur, i, buf, sizeof(buf));
		attrset(i == 0 ? A_BOLD | A_UNDERLINE : A_NORMAL);
		put(tp, y + i, 0, COLS, buf, false);
		attrset(A_NORMAL);
	}

	status_text(tp, buf, sizeof(buf));
	put(tp, LINES - 2, 0, COLS, buf, false);
	attrset(A_REVERSE);
	put(tp, LINES - 1, 0, COLS,
	    tp->utf8 ? " q quit  \u2191\u2193/jk move  Enter/e stack  s sort  p pid filter  "
		       "+/- interval"
		     : " q quit  Up/Down/jk move  Enter/e stack  s sort  p pid filter  "
		       "+/- interval",
	    false);
	attrset(A_NORMAL);
	refresh();
}

/* ---- keys ---- */

static void prompt_key(struct top *tp, int ch)
{
	long pid;

	if (ch >= '0' && ch <= '9') {
		if (tp->plen < (int)sizeof(tp->prompt) - 1) {
			tp->prompt[tp->plen++] = ch;
			tp->prompt[tp->plen] = 0;
		}
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (tp->plen)
			tp->prompt[--tp->plen] = 0;
	} else if (ch == 27) {
		tp->prompting = false;
	} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		tp->prompting = false;
		if (!tp->plen) {
			tp->filter_pid = 0;
			set_msg(tp, "pid filter cleared: every pid");
		} else if (pw_parse_int(tp->prompt, 1, 4194304, &pid)) {
			set_msg(tp, "invalid pid '%s': expected 1 to 4194304", tp->prompt);
		} else {
			tp->filter_pid = pid;
			set_msg(tp, "showing pid %ld only", pid);
		}
		tp->picked = false; /* a new set of rows: start at its top */
		build_rows(tp);
	}
}

static void step_interval(struct top *tp, int dir)
{
	double cur = tp->interval_s, v = cur;
	int n = sizeof(interval_steps) / sizeof(interval_steps[0]), i;
	char buf[PW_AGE_BUFSZ];

	for (i = 0; i < n; i++) {
		double s = interval_steps[dir > 0 ? i : n - 1 - i];

		if (dir > 0 ? s > cur + 1e-9 : s < cur - 1e-9) {
			v = s;
			break;
		}
	}
	tp->interval_s = v;
	pw_format_age(v, false, buf, sizeof(buf));
	set_msg(tp, "interval %s%s", buf, v == cur ? (dir > 0 ? " (longest)" : " (shortest)") : "");
}

/* Returns true to quit. */
static bool on_key(struct top *tp, int ch)
{
	int page = LINES - HEAD_LINES - FOOT_LINES;

	if (tp->prompting) {
		prompt_key(tp, ch);
		return false;
	}
	switch (ch) {
	case 'q':
	case 'Q':
	case 3: /* Ctrl-C arrives as a key only if ISIG was off; SIGINT is the usual way */
		return true;
	case KEY_UP:
	case 'k':
		select_row(tp, tp->sel - 1);
		break;
	case KEY_DOWN:
	case 'j':
		select_row(tp, tp->sel + 1);
		break;
	case KEY_PPAGE:
		select_row(tp, tp->sel - (page > 1 ? page - 1 : 1));
		break;
	case KEY_NPAGE:
		select_row(tp, tp->sel + (page > 1 ? page - 1 : 1));
		break;
	case KEY_HOME:
	case 'g':
		select_row(tp, 0);
		break;
	case KEY_END:
	case 'G':
		select_row(tp, tp->nrows - 1);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 'e':
		tp->expanded = !tp->expanded && tp->nrows;
		select_row(tp, tp->sel); /* the pane keeps showing this site */
		break;
	case 27:
		tp->expanded = false;
		break;
	case 's':
		tp->sort = (tp->sort + 1) % SORT_MAX;
		build_rows(tp);
		set_msg(tp, "sort: %s", sort_names[tp->sort]);
		break;
	case 'p':
		tp->prompting = true;
		tp->plen = 0;
		tp->prompt[0] = 0;
		break;
	case '+':
	case '=':
		step_interval(tp, 1);
		break;
	case '-':
	case '_':
		step_interval(tp, -1);
		break;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default: /* KEY_RESIZE included: the next draw uses the new LINES and COLS */
		break;
	}
	return false;
}

/* What stays on the terminal after the screen is gone: the suspects, if any. */
static void print_suspects(const struct top *tp)
{
	char age[PW_AGE_BUFSZ], lbl[512];
	int i;

	if (!tp->suspects)
		return;
	printf("parkwatch top: %d leak suspect%s at exit\n", tp->suspects,
	       tp->suspects == 1 ? "" : "s");
	for (i = 0; i < tp->nsites; i++) {
		const struct pw_site *s = &tp->sites[i];

		if (!s->leak_suspect || !s->count)
			continue;
		pw_format_age(s->oldest_age_s, s->age_is_lower_bound, age, sizeof(age));
		printf("  %s  count %d  growth %+.1f/min  oldest %s  pid %d (%s)\n",
		       site_label(s, lbl, sizeof(lbl)), s->count, s->growth_per_min, age, s->pid,
		       s->comm);
	}
}

static void free_top(struct top *tp)
{
	if (!tp)
		return;
	pw_tracker__free(tp->tk);
	free(tp->sites);
	free(tp->rows);
	free(tp);
}

int pw_cmd_top(int argc, char **argv)
{
	static bool guard_installed;
	struct pw_session ss = {0};
	struct pw_tracer *tracer = NULL;
	struct pw_collector *coll = NULL;
	char failed[256] = "";
	double t0, due;
	struct top *tp;
	int err, ret = PW_EXIT_FAIL;

	tp = calloc(1, sizeof(*tp));
	if (!tp) {
		pw_err("out of memory");
		return PW_EXIT_FAIL;
	}
	err = pw_cli_parse(argc, argv, "top", usage, &tp->cli);
	if (err) {
		free_top(tp);
		return err;
	}
	if (tp->cli.folded) {
		pw_err("--folded has no live view: use 'parkwatch snapshot --folded'");
		free_top(tp);
		return PW_EXIT_USAGE;
	}
	if (tp->cli.json || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		free_top(tp);
		return pw_cmd_watch(argc, argv);
	}
	tp->interval_s = tp->cli.interval_s;
	if (pw_check_privileges(&tp->cli))
		goto out;
	pw_install_stop_handlers();
	/* Load before the screen exists, so that load errors print as usual. */
	if (pw_session__open(&tp->cli, true, &ss))
		goto out;
	tracer = ss.tracer;
	coll = ss.coll;
	if (pw_tracker__new(tp->cli.window_s, 4096, &tp->tk)) {
		pw_err("out of memory");
		goto out;
	}

	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C"); /* numbers parsed from /proc and printed stay C */
	tp->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	if (!guard_installed) {
		atexit(leave_curses);
		guard_installed = true;
	}
	/* newterm, not initscr: an unknown TERM is an error to handle, not an exit(). */
	screen = newterm(NULL, stdout, stdin);
	if (!screen) {
		pw_err("cannot drive terminal type '%s' (TERM): printing lines instead",
		       getenv("TERM") ? getenv("TERM") : "");
		pw_session__close(&ss);
		free_top(tp);
		return pw_cmd_watch(argc, argv);
	}
	set_term(screen);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	if (has_colors() && start_color() == OK) {
		if (use_default_colors() == OK)
			init_pair(PAIR_SUSPECT, COLOR_RED, -1);
		else
			init_pair(PAIR_SUSPECT, COLOR_RED, COLOR_BLACK);
		tp->color = true;
	}
	draw(tp);

	t0 = pw_mono_s();
	due = t0;
	while (!pw_stop_requested()) {
		double now = pw_mono_s(), old_interval = tp->interval_s;
		int ms, ch;

		if (tp->cli.duration_s > 0 && now - t0 >= tp->cli.duration_s)
			break;
		if (now >= due) {
			err = scan(tp, tracer, coll, t0);
			if (err && pw_stop_requested())
				break; /* a read cut short by Ctrl-C is a stop, not a failure */
			if (err) {
				snprintf(failed, sizeof(failed), "failed to scan tasks: %s",
					 strerror(-err));
				goto out;
			}
			/* On schedule, unless a scan overran its interval: then from now. */
			due += tp->interval_s;
			if (due < pw_mono_s())
				due = pw_mono_s() + tp->interval_s;
			continue;
		}
		draw(tp);
		ms = (int)ceil((due - now) * 1e3);
		timeout(ms < 1 ? 1 : ms > KEY_WAIT_MS ? KEY_WAIT_MS : ms);
		ch = getch();
		if (ch == ERR)
			continue;
		if (on_key(tp, ch))
			break;
		/* A new interval counts from the last scan. */
		due += tp->interval_s - old_interval;
	}
	ret = PW_EXIT_OK;
out:
	leave_curses();
	if (screen) {
		delscreen(screen);
		screen = NULL;
	}
	if (failed[0])
		pw_err("%s", failed);
	if (ret == PW_EXIT_OK)
		print_suspects(tp);
	pw_session__close(&ss);
	free_top(tp);
	return ret;
}
