/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "output.h"
#include "sitelabel.h"
#include "util.h"

#define LABEL_MAX 512

/* ---- shared helpers ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* comm is a fixed 16-byte array that the kernel fills without a guaranteed NUL. */
static size_t comm_len(const struct pw_site *s)
{
	return strnlen(s->comm, sizeof(s->comm));
}

/*
 * The site's label: the collector's, else the label frame's, else (every
 * frame in libc/ld.so/runtime: the unwind stopped there) the outermost frame,
 * which is the closest we got to the program. NULL without any user frame.
 */
static const char *site_label(const struct pw_site *s, char *buf, size_t len)
{
	int i;

	if (s->label)
		return s->label;
	if (!s->frames || s->nframes <= 0)
		return NULL;
	i = pw_site_label_index(s->frames, s->nframes);
	pw_site_label_format(&s->frames[i >= 0 ? i : s->nframes - 1], buf, len);
	return buf;
}

/* The caller checks ferror() once at the end: stdio errors are sticky. */
static int finish(FILE *f)
{
	if (ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

static double age_key(double v)
{
	return isnan(v) ? -INFINITY : v;
}

static int cmp_site(const void *a, const void *b)
{
	const struct pw_site *x = a, *y = b;
	double ax = age_key(x->oldest_age_s), ay = age_key(y->oldest_age_s);

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (ax != ay)
		return ax > ay ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	/* Same id in two processes cannot happen (pid is hashed), but stay total. */
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void pw_snapshot_sort(struct pw_snapshot *s)
{
	if (s && s->sites && s->nsites > 1)
		qsort(s->sites, s->nsites, sizeof(*s->sites), cmp_site);
}

/* ---- JSON ---- */

static void json_strn(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (i < n && p[i]) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			/* DEL is legal JSON, escaped anyway so `jq -r` cannot emit it raw. */
			fprintf(f, "\\u%04x", c);
			i++;
		} else if ((k = pw_utf8_decode(p + i, n - i, NULL))) {
			fwrite(p + i, 1, k, f);
			i += k;
		} else {
			/* One replacement per bad byte, as a decoder with errors="replace" would.
			 */
			fputs("\\ufffd", f);
			i++;
		}
	}
	fputc('"', f);
}

static void json_str(FILE *f, const char *s)
{
	json_strn(f, s, s ? strlen(s) : 0);
}

/* Finite numbers with at most 3 decimals ("12.0", "0.125"); NaN/inf are null. */
static void json_num(FILE *f, double v)
{
	char buf[64];
	size_t n;

	if (!isfinite(v)) {
		fputs("null", f);
		return;
	}
	/* %.3f of 1e300 is 300 digits: past 1e15 the decimals are noise anyway. */
	if (fabs(v) >= 1e15) {
		snprintf(buf, sizeof(buf), "%.17g", v);
		fputs(buf, f);
		return;
	}
	snprintf(buf, sizeof(buf), "%.3f", v);
	n = strlen(buf);
	while (buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	fputs(strcmp(buf, "-0.0") ? buf : "0.0", f);
}

static void json_hex(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%" PRIx64 "\"", v);
}

static void json_time(FILE *f, double t)
{
	struct tm tm;
	long long ms;
	time_t sec;

	/* Year 0000..9999 is all RFC 3339 can spell; anything else is a caller bug. */
	if (!isfinite(t) || t < 0 || t > 253402300799.0)
		t = 0;
	ms = llround(t * 1000);
	sec = ms / 1000;
	if (!gmtime_r(&sec, &tm)) {
		fputs("null", f);
		return;
	}
	fprintf(f, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

static void json_frame(FILE *f, const struct pw_frame *fr)
{
	fputs("{\"func\":", f);
	json_str(f, fr->func);
	fputs(",\"module\":", f);
	json_str(f, fr->module);
	fputs(",\"file\":", f);
	json_str(f, fr->file);
	if (fr->line > 0)
		fprintf(f, ",\"line\":%d", fr->line);
	else
		fputs(",\"line\":null", f);
	fputs(",\"addr\":", f);
	json_hex(f, fr->addr);
	/* A module-relative offset without a module means nothing. */
	fputs(",\"offset\":", f);
	if (fr->module)
		json_hex(f, fr->offset);
	else
		fputs("null", f);
	if (fr->inlined)
		fputs(",\"inlined\":true", f);
	fputc('}', f);
}

static void json_site(FILE *f, const struct pw_site *s)
{
	char label[LABEL_MAX];
	int i;

	fprintf(f, "{\"id\":\"%016" PRIx64 "\",\"kind\":\"%s\",\"pid\":%d,\"ns_pid\":%d,\"comm\":",
		s->id, s->kind == PW_KIND_GOROUTINE ? "goroutine" : "thread", s->pid, s->ns_pid);
	json_strn(f, s->comm, comm_len(s));
	fputs(",\"wait\":", f);
	json_str(f, s->wait);
	fputs(",\"site\":", f);
	json_str(f, site_label(s, label, sizeof(label)));
	fputs(",\"frames\":[", f);
	for (i = 0; s->frames && i < s->nframes; i++) {
		if (i)
			fputc(',', f);
		json_frame(f, &s->frames[i]);
	}
	fputs("],\"kernel_frames\":[", f);
	for (i = 0; s->kframes && i < s->nkframes; i++) {
		if (i)
			fputc(',', f);
		json_str(f, s->kframes[i]);
	}
	fprintf(f, "],\"count\":%d,\"futex_words\":%d,\"futex_op\":", s->count, s->futex_words);
	json_str(f, s->futex_op);
	fprintf(f, ",\"timed_waits\":%d", s->timed_waits);
	if (s->has_futex_counts)
		fprintf(f, ",\"futex_waits\":%" PRIu64 ",\"futex_wakes\":%" PRIu64, s->futex_waits,
			s->futex_wakes);
	else
		fputs(",\"futex_waits\":null,\"futex_wakes\":null", f);
	fputs(",\"oldest_age_s\":", f);
	json_num(f, s->oldest_age_s);
	fputs(",\"median_age_s\":", f);
	json_num(f, s->median_age_s);
	fprintf(f, ",\"age_is_lower_bound\":%s", s->age_is_lower_bound ? "true" : "false");
	if (s->has_trend) {
		fputs(",\"growth_per_min\":", f);
		json_num(f, s->growth_per_min);
		fputs(",\"trend\":", f);
		json_str(f, s->trend);
		fprintf(f, ",\"leak_suspect\":%s", s->leak_suspect ? "true" : "false");
		fputs(",\"evidence\":{\"envelope_growth_per_min\":", f);
		json_num(f, s->envelope_growth_per_min);
		fputs(",\"rise_coverage\":", f);
		json_num(f, s->rise_coverage);
		fputs(",\"span_s\":", f);
		json_num(f, s->trend_span_s);
		fprintf(f, ",\"samples\":%d}}", s->trend_samples);
	} else {
		fputs(",\"growth_per_min\":null,\"trend\":null,\"leak_suspect\":null}", f);
	}
}

int pw_output_json(FILE *f, const struct pw_snapshot *s)
{
	int i;

	if (!f || !s)
		return -EINVAL;
	errno = 0;
	fprintf(f, "{\"schema\":%d,\"time\":", PW_JSON_SCHEMA);
	json_time(f, s->time);
	fputs(",\"elapsed_s\":", f);
	json_num(f, s->elapsed_s);
	fputs(",\"interval_s\":", f);
	json_num(f, s->interval_s);
	fprintf(f, ",\"parked_threads\":%" PRIu64 ",\"parked_goroutines\":%" PRIu64 ",\"drops\":{",
		s->parked_threads, s->parked_goroutines);
	for (i = 0; i < PW_DROP_MAX; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", pw_drop_name(i), s->drops.n[i]);
	fputs("},\"sites\":[", f);
	for (i = 0; s->sites && i < s->nsites; i++) {
		if (i)
			fputc(',', f);
		json_site(f, &s->sites[i]);
	}
	fputs("]}\n", f);
	return finish(f);
}

int pw_output_json_fd(int fd, const struct pw_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	err = pw_output_json(f, s);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (!err)
		err = pw_write_all(fd, buf, len);
	free(buf);
	return err;
}

/* ---- folded ---- */

/* Writes n bytes of s as one folded-stack frame; "[unknown]" when nothing is left. */
static void folded_name(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	if (!s || !n || !*s) {
		fputs("[unknown]", f);
		return;
	}
	while (i < n && p[i]) {
		/* ';' separates frames and the last space separates the count. */
		if (p[i] <= ' ' || p[i] == ';' || p[i] == 0x7f) {
			fputc('_', f);
			i++;
		} else if ((k = pw_utf8_decode(p + i, n - i, NULL))) {
			fwrite(p + i, 1, k, f);
			i += k;
		} else {
			fputc('_', f);
			i++;
		}
	}
}

static void folded_frame(FILE *f, const struct pw_frame *fr)
{
	char buf[LABEL_MAX];

	if (fr->func) {
		folded_name(f, fr->func, strlen(fr->func));
		return;
	}
	if (fr->module)
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, base_name(fr->module), fr->offset);
	else
		snprintf(buf, sizeof(buf), "0x%" PRIx64, fr->addr);
	folded_name(f, buf, strlen(buf));
}

int pw_output_folded(FILE *f, const struct pw_snapshot *s)
{
	int i, j;

	if (!f || !s)
		return -EINVAL;
	errno = 0;
	for (i = 0; s->sites && i < s->nsites; i++) {
		const struct pw_site *site = &s->sites[i];

		/* flamegraph.pl draws nothing for 0; a negative count would not parse. */
		if (site->count <= 0)
			continue;
		folded_name(f, site->comm, comm_len(site));
		for (j = site->frames ? site->nframes - 1 : -1; j >= 0; j--) {
			fputc(';', f);
			folded_frame(f, &site->frames[j]);
		}
		fputs(";[", f);
		folded_name(f, site->wait, site->wait ? strlen(site->wait) : 0);
		fputc(']', f);
		for (j = site->kframes ? site->nkframes - 1 : -1; j >= 0; j--) {
			fputc(';', f);
			folded_name(f, site->kframes[j],
				    site->kframes[j] ? strlen(site->kframes[j]) : 0);
			fputs("_[k]", f);
		}
		fprintf(f, " %d\n", site->count);
	}
	return finish(f);
}

int pw_output_drops_line(FILE *f, const struct pw_drops *d)
{
	int i;

	if (!f || !d)
		return -EINVAL;
	errno = 0;
	fputs("drops:", f);
	for (i = 0; i < PW_DROP_MAX; i++)
		fprintf(f, " %s=%" PRIu64, pw_drop_name(i), d->n[i]);
	fputc('\n', f);
	return finish(f);
}

/* ---- table ---- */

#define COL_COUNT 6
#define COL_WAIT 12
#define COL_WORDS 6
#define COL_OLDEST 9
#define COL_PID 8
#define COL_COMM 16
#define COLS_FIXED (COL_COUNT + COL_WAIT + COL_WORDS + COL_OLDEST + COL_PID + COL_COMM + 6)
#define COL_SITE_MIN 10
#define FRAME_INDENT "    at "
#define ELLIPSIS "\xe2\x80\xa6" /* "…" */

/*
 * Terminal-safe copy of n bytes of s into out: C0/C1 controls, DEL and
 * invalid UTF-8 become '?', so a hostile comm cannot move the cursor or
 * retitle the terminal. Returns the number of characters (columns).
 */
static int term_sanitize(const char *s, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, k;
	int cols = 0;

	while (s && i < n && p[i] && o + 5 <= outlen) {
		k = pw_utf8_decode(p + i, n - i, NULL);
		/* U+0080..U+009F: C1 controls, CSI (U+009B) among them. */
		if (!k || p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			out[o++] = '?';
			i += k ? k : 1;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
		cols++;
	}
	if (outlen)
		out[o] = '\0';
	return cols;
}

/*
 * Prints s (sanitized) in a cell of width columns: cut with "…" when longer,
 * padded with spaces (left or right) unless pad is false. width < 0: no limit.
 */
static void put_cell(FILE *f, const char *s, size_t n, int width, bool right, bool pad)
{
	char buf[2048];
	int cols = term_sanitize(s, n, buf, sizeof(buf)), i;
	const unsigned char *p = (const unsigned char *)buf;

	if (width < 0 || cols <= width) {
		for (i = cols; pad && right && i < width; i++)
			fputc(' ', f);
		fputs(buf, f);
		for (i = cols; pad && !right && i < width; i++)
			fputc(' ', f);
		return;
	}
	if (width == 0)
		return;
	/* width - 1 characters, then the ellipsis. */
	for (i = 0; i < width - 1; i++) {
		size_t k = pw_utf8_decode(p, strlen((const char *)p), NULL);

		fwrite(p, 1, k, f);
		p += k;
	}
	fputs(ELLIPSIS, f);
}

static void put_str(FILE *f, const char *s, int width, bool right, bool pad)
{
	put_cell(f, s, s ? strlen(s) : 0, width, right, pad);
}

static void table_frame(FILE *f, const struct pw_frame *fr, int width)
{
	char buf[LABEL_MAX + 64];
	const char *mod = fr->module ? base_name(fr->module) : NULL;

	if (fr->func && fr->dynsym_only)
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64 " (%s)", fr->func, fr->func_off,
			 mod ? mod : "?");
	else if (fr->func && fr->file && fr->line > 0)
		snprintf(buf, sizeof(buf), "%s (%s:%d)", fr->func, base_name(fr->file), fr->line);
	else if (fr->func && mod)
		snprintf(buf, sizeof(buf), "%s (%s)", fr->func, mod);
	else if (fr->func)
		snprintf(buf, sizeof(buf), "%s", fr->func);
	else if (mod)
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, mod, fr->offset);
	else
		snprintf(buf, sizeof(buf), "0x%" PRIx64, fr->addr);
	if (fr->inlined)
		strncat(buf, " [inlined]", sizeof(buf) - strlen(buf) - 1);
	fputs(FRAME_INDENT, f);
	put_str(f, buf, width, false, false);
	fputc('\n', f);
}

static void table_row(FILE *f, const struct pw_site *s, int site_w, int max_frames, int frame_w)
{
	char num[32], age[PW_AGE_BUFSZ], label[LABEL_MAX];
	const char *l = site_label(s, label, sizeof(label));
	int i, shown;

	snprintf(num, sizeof(num), "%d", s->count);
	put_str(f, num, COL_COUNT, true, true);
	fputc(' ', f);
	put_str(f, s->wait ? s->wait : "?", COL_WAIT, false, true);
	fputc(' ', f);
	/* 0 words: not a futex wait, or no word known; "-" rather than a false 0. */
	snprintf(num, sizeof(num), "%d", s->futex_words);
	put_str(f, s->futex_words > 0 ? num : "-", COL_WORDS, true, true);
	fputc(' ', f);
	pw_format_age(s->oldest_age_s, s->age_is_lower_bound, age, sizeof(age));
	put_str(f, age, COL_OLDEST, true, true);
	fputc(' ', f);
	/* A process in another pid namespace (a container): host pid/its own pid. */
	if (s->ns_pid > 0 && s->ns_pid != s->pid)
		snprintf(num, sizeof(num), "%d/%d", s->pid, s->ns_pid);
	else
		snprintf(num, sizeof(num), "%d", s->pid);
	fprintf(f, "%*s", COL_PID, num);
	fputc(' ', f);
	put_cell(f, s->comm, comm_len(s), COL_COMM, false, true);
	fputc(' ', f);
	put_str(f, l ? l : "[no user stack]", site_w, false, false);
	fputc('\n', f);

	if (max_frames <= 0)
		return;
	if (s->frames && s->nframes > 0) {
		shown = s->nframes < max_frames ? s->nframes : max_frames;
		for (i = 0; i < shown; i++)
			table_frame(f, &s->frames[i], frame_w);
		if (s->nframes > shown)
			fprintf(f, "    " ELLIPSIS " %d more\n", s->nframes - shown);
		return;
	}
	/* No user stack (kernel thread, failed copy): the kernel stack is all we have. */
	shown = s->kframes && s->nkframes > 0 ? s->nkframes : 0;
	shown = shown < max_frames ? shown : max_frames;
	for (i = 0; i < shown; i++) {
		char buf[LABEL_MAX];

		snprintf(buf, sizeof(buf), "%s [kernel]", s->kframes[i] ? s->kframes[i] : "?");
		fputs(FRAME_INDENT, f);
		put_str(f, buf, frame_w, false, false);
		fputc('\n', f);
	}
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int pw_output_table(FILE *f, const struct pw_snapshot *s, int width, int max_frames)
{
	uint64_t threads = 0, goroutines = 0, shown = 0;
	int site_w, frame_w, i;
	bool any_drop = false;

	if (!f || !s)
		return -EINVAL;
	errno = 0;
	site_w = width <= 0 ? -1 : width - COLS_FIXED;
	if (width > 0 && site_w < COL_SITE_MIN)
		site_w = COL_SITE_MIN;
	frame_w = width <= 0 ? -1 : width - (int)strlen(FRAME_INDENT);
	if (width > 0 && frame_w < COL_SITE_MIN)
		frame_w = COL_SITE_MIN;

	put_str(f, "COUNT", COL_COUNT, true, true);
	fputc(' ', f);
	put_str(f, "WAIT", COL_WAIT, false, true);
	fputc(' ', f);
	put_str(f, "WORDS", COL_WORDS, true, true);
	fputc(' ', f);
	put_str(f, "OLDEST", COL_OLDEST, true, true);
	fputc(' ', f);
	put_str(f, "PID", COL_PID, true, true);
	fputc(' ', f);
	put_str(f, "COMM", COL_COMM, false, true);
	fputs(" SITE\n", f);

	for (i = 0; s->sites && i < s->nsites; i++) {
		const struct pw_site *site = &s->sites[i];

		if (site->count <= 0)
			continue;
		if (site->kind == PW_KIND_GOROUTINE)
			goroutines += site->count;
		else
			threads += site->count;
		shown++;
		table_row(f, site, site_w, max_frames, frame_w);
	}

	fprintf(f, "%" PRIu64 " parked %s", threads, plural(threads, "thread", "threads"));
	if (goroutines)
		fprintf(f, " and %" PRIu64 " parked %s", goroutines,
			plural(goroutines, "goroutine", "goroutines"));
	fprintf(f, " in %d %s (%" PRIu64 " shown)\n", s->nsites > 0 ? s->nsites : 0,
		plural(s->nsites, "site", "sites"), shown);

	fputs("drops:", f);
	for (i = 0; i < PW_DROP_MAX; i++) {
		if (!s->drops.n[i])
			continue;
		fprintf(f, " %s=%" PRIu64, pw_drop_name(i), s->drops.n[i]);
		any_drop = true;
	}
	fputs(any_drop ? "\n" : " none\n", f);
	return finish(f);
}
