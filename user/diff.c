/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "diff.h"
#include "util.h"

#define TEXT_WIDTH 100
/* Enough for any message built here: names and values in messages are clipped. */
#define MSG_MAX 1024
/* How much of an outside string (id, time) a message quotes. */
#define QUOTE_MAX 40

static const char usage[] =
	"Usage: parkwatch diff [--json] [--all] A.json B.json\n"
	"\n"
	"What appeared, grew, shrank and vanished between two snapshots, per wait site:\n"
	"counts in A and B and the delta, biggest changes first.\n"
	"\n"
	"A and B are outputs of 'parkwatch snapshot --json' or 'parkwatch watch --json'.\n"
	"Only the LAST non-blank line of each file is read: for a watch file that is its\n"
	"latest sample. '-' reads standard input. Sites are matched by id, which is\n"
	"stable for a given process and stack.\n"
	"\n"
	"Options:\n"
	"  -j, --json   one JSON object on one line (schema 1) instead of the table\n"
	"  -a, --all    also list sites whose count did not change\n"
	"  -h, --help   this text\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch snapshot -p 42 --json > a.json; sleep 60\n"
	"  sudo parkwatch snapshot -p 42 --json > b.json\n"
	"  parkwatch diff a.json b.json           # what grew in that minute\n"
	"  parkwatch diff --json a.json b.json | jq '.sites[] | select(.change == \"grew\")'\n"
	"  sudo parkwatch snapshot -p 42 --json | parkwatch diff a.json -\n"
	"\n"
	"Exit status: 0 ok, 1 a file cannot be read or is not a schema 1 snapshot,\n"
	"2 bad usage.\n";

/* ---- small helpers ---- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Prepends "prefix" to the message already in err (snprintf cannot alias its source). */
static void prefix_err(char *err, size_t errlen, const char *prefix)
{
	char tmp[MSG_MAX];

	if (!err || !errlen)
		return;
	snprintf(tmp, sizeof(tmp), "%s", err);
	snprintf(err, errlen, "%s%s", prefix, tmp);
}

/*
 * Code points a terminal acts on instead of drawing: C0/C1 controls, DEL,
 * line/paragraph separators and the bidi overrides that can make a name
 * read as something else ("Trojan Source").
 */
static bool cp_is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * Copies at most max columns of s into out (NUL-terminated, out must hold
 * 4 * max + 4 bytes), controls and malformed bytes as '?', ending with "…"
 * when cut. Returns the columns used; every code point counts as one.
 */
static size_t clip(const char *s, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, cols = 0, total = 0, k;
	uint32_t cp;

	/* First pass: does it fit? Then the cut leaves one column for "…". */
	for (i = 0; i < n; i += k, total++)
		k = pw_utf8_decode(p + i, n - i, &cp) ?: 1;
	for (i = 0; i < n && max; i += k) {
		if (total > max && cols == max - 1) {
			memcpy(out + o, "…", 3);
			o += 3;
			cols++;
			break;
		}
		k = pw_utf8_decode(p + i, n - i, &cp);
		if (!k || cp_is_control(cp)) {
			out[o++] = '?';
			k = k ?: 1;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
		}
		cols++;
	}
	out[o] = '\0';
	return cols;
}

/* A message-safe rendering of an outside string: printable, at most QUOTE_MAX columns. */
static const char *quote(const char *s, char buf[4 * QUOTE_MAX + 4])
{
	clip(s, QUOTE_MAX, buf);
	return buf;
}

static bool is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strchr(" \t\r\n\v\f", s[i]) || !s[i])
			return false;
	}
	return true;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

const char *pw_diff_change_name(enum pw_diff_change c)
{
	switch (c) {
	case PW_DIFF_APPEARED:
		return "appeared";
	case PW_DIFF_GREW:
		return "grew";
	case PW_DIFF_SHRANK:
		return "shrank";
	case PW_DIFF_VANISHED:
		return "vanished";
	case PW_DIFF_SAME:
		return "same";
	}
	return "?";
}

/* ---- RFC 3339 ---- */

static bool digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Leap years in [1, y). */
static long long leaps_before(long long y)
{
	y -= 1;
	return y / 4 - y / 100 + y / 400;
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" to unix seconds + ns. Done by hand:
 * timegm() goes through time_t and the C library's notion of range, and
 * strptime() does not take fractions or offsets.
 */
static bool parse_rfc3339(const char *s, long long *sec, long *nsec)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, i, yday;
	long ns = 0, scale = 100000000;
	long long days;

	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &se))
		return false;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return false;
		/* Digits past nanoseconds are accepted and ignored. */
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			ns += scale ? (*s - '0') * scale : 0;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (!digits(s + 1, 2, &oh) || s[3] != ':' || !digits(s + 4, 2, &om))
			return false;
		s += 6;
	} else {
		return false;
	}
	if (*s || y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60 || oh > 23 ||
	    om > 59)
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return false;
	for (yday = d - 1, i = 0; i < mo - 1; i++)
		yday += mdays[i] + (i == 1 && is_leap(y));
	days = 365LL * (y - 1970) + leaps_before(y) - leaps_before(1970) + yday;
	*sec = days * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60);
	*nsec = ns;
	return true;
}

/* ---- one snapshot, checked ---- */

struct entry {
	const char *id; /* borrowed from the document */
	json_t *site;
	long count;
	size_t idx; /* position in "sites", for messages */
};

struct drop_entry {
	const char *reason;
	long value;
};

struct side {
	const char *time_str;
	bool has_time;
	long long sec;
	long nsec;
	long parked, goroutines;
	struct entry *ents;
	size_t n;
	struct drop_entry *drops;
	size_t ndrops;
};

static void side_free(struct side *s)
{
	free(s->ents);
	free(s->drops);
	memset(s, 0, sizeof(*s));
}

/*
 * Optional integer field: absent and null leave *out alone and return 0;
 * anything but an integer in [min, max] is an error naming the field.
 */
static int get_int(json_t *obj, const char *key, long long min, long long max, bool required,
		   const char *ctx, long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	long long x;

	if (!v || (json_is_null(v) && !required)) {
		if (!required)
			return 0;
		seterr(err, errlen, "%smissing \"%s\"", ctx, key);
		return -EBADMSG;
	}
	if (!json_is_integer(v)) {
		seterr(err, errlen, "%s\"%s\" must be an integer, not %s", ctx, key, type_name(v));
		return -EBADMSG;
	}
	x = json_integer_value(v);
	if (x < min || x > max) {
		seterr(err, errlen, "%s\"%s\" %lld is out of range (%lld..%lld)", ctx, key, x, min,
		       max);
		return -EBADMSG;
	}
	*out = x;
	return 0;
}

/* Optional field that must be a string or null when present. */
static int check_str(json_t *obj, const char *key, const char *ctx, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v) || json_is_string(v))
		return 0;
	seterr(err, errlen, "%s\"%s\" must be a string or null, not %s", ctx, key, type_name(v));
	return -EBADMSG;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

static int cmp_drop_entry(const void *a, const void *b)
{
	return strcmp(((const struct drop_entry *)a)->reason,
		      ((const struct drop_entry *)b)->reason);
}

static int parse_site(json_t *site, size_t idx, struct entry *e, char *err, size_t errlen)
{
	static const char *const strs[] = {"kind", "comm", "wait", "site"};
	char ctx[4 * QUOTE_MAX + 64], q[4 * QUOTE_MAX + 4];
	long long count = 0, pid = 0;
	json_t *id, *age;
	size_t i;
	int ret;

	if (!json_is_object(site)) {
		seterr(err, errlen, "sites[%zu] must be an object, not %s", idx, type_name(site));
		return -EBADMSG;
	}
	snprintf(ctx, sizeof(ctx), "sites[%zu]: ", idx);
	id = json_object_get(site, "id");
	if (!id) {
		seterr(err, errlen, "%smissing \"id\"", ctx);
		return -EBADMSG;
	}
	if (!json_is_string(id) || !json_string_length(id)) {
		seterr(err, errlen, "%s\"id\" must be a non-empty string, not %s", ctx,
		       json_is_string(id) ? "an empty one" : type_name(id));
		return -EBADMSG;
	}
	/* From here on, name the site by its id too: that is what the user can grep for. */
	snprintf(ctx, sizeof(ctx), "sites[%zu] (id %s): ", idx, quote(json_string_value(id), q));
	ret = get_int(site, "count", 0, PW_DIFF_COUNT_MAX, true, ctx, &count, err, errlen);
	if (!ret)
		ret = get_int(site, "pid", 0, INT_MAX, false, ctx, &pid, err, errlen);
	for (i = 0; !ret && i < sizeof(strs) / sizeof(strs[0]); i++)
		ret = check_str(site, strs[i], ctx, err, errlen);
	if (ret)
		return ret;
	age = json_object_get(site, "oldest_age_s");
	if (age && !json_is_null(age) && !json_is_number(age)) {
		seterr(err, errlen, "%s\"oldest_age_s\" must be a number or null, not %s", ctx,
		       type_name(age));
		return -EBADMSG;
	}
	e->id = json_string_value(id);
	e->site = site;
	e->count = count;
	e->idx = idx;
	return 0;
}

static int parse_drops(json_t *doc, struct side *s, char *err, size_t errlen)
{
	json_t *drops = json_object_get(doc, "drops"), *v;
	char q[4 * QUOTE_MAX + 4];
	const char *key;
	long long x;

	if (!drops || json_is_null(drops))
		return 0;
	if (!json_is_object(drops)) {
		seterr(err, errlen, "\"drops\" must be an object, not %s", type_name(drops));
		return -EBADMSG;
	}
	s->drops = calloc(json_object_size(drops) + 1, sizeof(*s->drops));
	if (!s->drops)
		return -ENOMEM;
	json_object_foreach(drops, key, v)
	{
		if (!json_is_integer(v)) {
			seterr(err, errlen, "\"drops\": \"%s\" must be an integer, not %s",
			       quote(key, q), type_name(v));
			return -EBADMSG;
		}
		x = json_integer_value(v);
		if (x < 0 || x > PW_DIFF_COUNT_MAX) {
			seterr(err, errlen, "\"drops\": \"%s\" %lld is out of range (0..%lld)",
			       quote(key, q), x, PW_DIFF_COUNT_MAX);
			return -EBADMSG;
		}
		s->drops[s->ndrops].reason = key;
		s->drops[s->ndrops++].value = x;
	}
	qsort(s->drops, s->ndrops, sizeof(*s->drops), cmp_drop_entry);
	return 0;
}

/*
 * Checks everything the diff reads and indexes the sites by id. Fields the
 * diff does not use (frames, trend, ...) are not looked at: a newer writer
 * may add fields within schema 1.
 */
static int side_parse(json_t *doc, struct side *s, char *err, size_t errlen)
{
	char q[4 * QUOTE_MAX + 4];
	long long schema = 0, parked = -1, gor = -1;
	json_t *sites, *t;
	size_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(doc)) {
		seterr(err, errlen,
		       "expected a JSON object (a 'parkwatch snapshot --json' line), not %s",
		       type_name(doc));
		return -EBADMSG;
	}
	if (!json_object_get(doc, "schema")) {
		seterr(err, errlen,
		       "missing \"schema\": not the output of 'parkwatch snapshot --json'");
		return -EBADMSG;
	}
	ret = get_int(doc, "schema", LLONG_MIN, LLONG_MAX, true, "", &schema, err, errlen);
	if (ret)
		return ret;
	if (schema != PW_DIFF_SCHEMA) {
		seterr(err, errlen, "unsupported schema %lld (this parkwatch reads schema %d)",
		       schema, PW_DIFF_SCHEMA);
		return -EBADMSG;
	}

	t = json_object_get(doc, "time");
	if (t && !json_is_null(t)) {
		if (!json_is_string(t)) {
			seterr(err, errlen, "\"time\" must be a string, not %s", type_name(t));
			return -EBADMSG;
		}
		if (!parse_rfc3339(json_string_value(t), &s->sec, &s->nsec)) {
			seterr(err, errlen, "\"time\" is not an RFC 3339 time: \"%s\"",
			       quote(json_string_value(t), q));
			return -EBADMSG;
		}
		s->has_time = true;
		s->time_str = json_string_value(t);
	}
	ret = get_int(doc, "parked_threads", 0, PW_DIFF_COUNT_MAX, false, "", &parked, err, errlen);
	if (!ret)
		ret = get_int(doc, "parked_goroutines", 0, PW_DIFF_COUNT_MAX, false, "", &gor, err,
			      errlen);
	if (ret)
		return ret;
	s->parked = parked;
	s->goroutines = gor;

	sites = json_object_get(doc, "sites");
	if (!sites) {
		seterr(err, errlen, "missing \"sites\"");
		return -EBADMSG;
	}
	if (!json_is_array(sites)) {
		seterr(err, errlen, "\"sites\" must be an array, not %s", type_name(sites));
		return -EBADMSG;
	}
	/* Two sides are merged into one int-indexed array later. */
	if (json_array_size(sites) > INT_MAX / 2) {
		seterr(err, errlen, "too many sites (%zu)", json_array_size(sites));
		return -E2BIG;
	}
	s->ents = calloc(json_array_size(sites) + 1, sizeof(*s->ents));
	if (!s->ents)
		goto nomem;
	for (i = 0; i < json_array_size(sites); i++) {
		ret = parse_site(json_array_get(sites, i), i, &s->ents[i], err, errlen);
		if (ret)
			goto fail;
	}
	s->n = i;
	qsort(s->ents, s->n, sizeof(*s->ents), cmp_entry);
	for (i = 1; i < s->n; i++) {
		if (strcmp(s->ents[i - 1].id, s->ents[i].id))
			continue;
		/* Ids hash the whole site: a repeat is a broken or edited file, not two sites. */
		seterr(err, errlen, "duplicate site id %s (sites[%zu] and sites[%zu])",
		       quote(s->ents[i].id, q), s->ents[i - 1].idx, s->ents[i].idx);
		ret = -EBADMSG;
		goto fail;
	}
	ret = parse_drops(doc, s, err, errlen);
	if (ret == -ENOMEM)
		goto nomem;
	if (ret)
		goto fail;
	return 0;
nomem:
	seterr(err, errlen, "out of memory");
	ret = -ENOMEM;
fail:
	side_free(s);
	return ret;
}

/* ---- reading ---- */

/* Only closing brackets and commas: the tail of `jq .` output, not a JSON line. */
static bool looks_pretty_printed(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strchr("}], \t\r\n", s[i]) || !s[i])
			return false;
	}
	return true;
}

static int parse_line(const char *line, size_t len, long lineno, json_t **out, char *err,
		      size_t errlen)
{
	char msg[MSG_MAX], text[4 * JSON_ERROR_TEXT_LENGTH + 4], where[64];
	const char *what, *nul;
	struct side s;
	json_error_t je;
	int bom = 0, ret;
	json_t *j;

	if (len > PW_DIFF_LINE_MAX) {
		seterr(err, errlen, "line %ld is longer than %lu MiB: not a parkwatch snapshot",
		       lineno, PW_DIFF_LINE_MAX >> 20);
		return -EFBIG;
	}
	/* getline() keeps the newline; jansson would count it and blame line N + 1. */
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	/* Editors on some systems add a byte-order mark; jansson rejects it. */
	if (lineno == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3;
		len -= 3;
		bom = 1;
	}
	/* jansson stops at a raw NUL with a confusing "end of file expected". */
	nul = memchr(line, '\0', len);
	if (nul) {
		seterr(err, errlen, "NUL byte at line %ld, byte %zu: not a JSON text file", lineno,
		       (size_t)(nul - line) + 1 + bom * 3);
		return -EBADMSG;
	}
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(where, sizeof(where), "at line %ld, column %d", lineno + je.line - 1,
			 je.column + bom);
		clip(je.text, JSON_ERROR_TEXT_LENGTH, text);
		switch (json_error_code(&je)) {
		case json_error_out_of_memory:
			seterr(err, errlen, "out of memory parsing line %ld", lineno);
			return -ENOMEM;
		case json_error_invalid_utf8:
			what = "invalid UTF-8";
			break;
		case json_error_stack_overflow:
			what = "JSON nested too deeply";
			break;
		case json_error_numeric_overflow:
			what = "number out of range";
			break;
		case json_error_duplicate_key:
			what = "duplicate key";
			break;
		default:
			what = "invalid JSON";
			break;
		}
		seterr(err, errlen, "%s %s: %s%s", what, where, text,
		       looks_pretty_printed(line, len)
			       ? " (pretty-printed JSON? diff reads one object per line: use jq -c)"
			       : "");
		return -EBADMSG;
	}
	ret = side_parse(j, &s, msg, sizeof(msg));
	if (ret) {
		json_decref(j);
		if (lineno > 1)
			seterr(err, errlen, "line %ld: %s", lineno, msg);
		else
			seterr(err, errlen, "%s", msg);
		return ret;
	}
	side_free(&s);
	*out = j;
	return 0;
}

int pw_diff_parse_buffer(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
	size_t start = 0, lstart = 0, llen = 0, end;
	long lineno = 0, lastno = 0;
	const char *nl;

	if (!out || (!buf && len))
		return -EINVAL;
	*out = NULL;
	while (start < len) {
		nl = memchr(buf + start, '\n', len - start);
		end = nl ? (size_t)(nl - buf) : len;
		lineno++;
		if (!is_blank(buf + start, end - start)) {
			lstart = start;
			llen = end - start;
			lastno = lineno;
		}
		start = end + 1;
	}
	if (!lastno) {
		seterr(err, errlen, "empty: expected the output of 'parkwatch snapshot --json'");
		return -ENODATA;
	}
	return parse_line(buf + lstart, llen, lastno, out, err, errlen);
}

int pw_diff_load(const char *path, json_t **out, char *err, size_t errlen)
{
	char *cur = NULL, *last = NULL, *tp, prefix[PATH_MAX + 8];
	size_t ccap = 0, lcap = 0, llen = 0, tc;
	long lineno = 0, lastno = 0;
	const char *name;
	bool is_stdin;
	ssize_t len;
	int ret;
	FILE *f;

	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	is_stdin = !strcmp(path, "-");
	name = is_stdin ? "stdin" : path;
	f = is_stdin ? stdin : fopen(path, "re");
	if (!f) {
		ret = -errno;
		seterr(err, errlen, "%s: cannot open: %s", name, strerror(-ret));
		return ret;
	}
	/*
	 * Streamed, keeping only the last non-blank line: a watch file grows by a
	 * sample per interval and only its end matters. Swapping buffers instead of
	 * copying keeps this one pass over the file.
	 */
	errno = 0;
	while ((len = getline(&cur, &ccap, f)) >= 0) {
		lineno++;
		if (is_blank(cur, len))
			continue;
		tp = cur, cur = last, last = tp;
		tc = ccap, ccap = lcap, lcap = tc;
		llen = len;
		lastno = lineno;
	}
	if (ferror(f)) {
		ret = errno ? -errno : -EIO;
		seterr(err, errlen, "%s: cannot read: %s", name, strerror(-ret));
	} else if (!lastno) {
		ret = -ENODATA;
		seterr(err, errlen,
		       "%s: empty file: expected the output of 'parkwatch snapshot --json'", name);
	} else {
		ret = parse_line(last, llen, lastno, out, err, errlen);
		if (ret) {
			snprintf(prefix, sizeof(prefix), "%s: ", name);
			prefix_err(err, errlen, prefix);
		}
	}
	free(cur);
	free(last);
	if (!is_stdin)
		fclose(f);
	return ret;
}

/* ---- the diff ---- */

static int change_rank(enum pw_diff_change c)
{
	/* Appeared and grew are the same news (more parked), so they rank together. */
	switch (c) {
	case PW_DIFF_APPEARED:
	case PW_DIFF_GREW:
		return 0;
	case PW_DIFF_SHRANK:
		return 1;
	case PW_DIFF_VANISHED:
		return 2;
	default:
		return 3;
	}
}

static int cmp_diff_site(const void *a, const void *b)
{
	const struct pw_diff_site *x = a, *y = b;
	long ax = labs(x->delta), ay = labs(y->delta);
	int rx = change_rank(x->change), ry = change_rank(y->change);

	if (rx != ry)
		return rx - ry;
	if (ax != ay)
		return ax > ay ? -1 : 1;
	if (x->count_b != y->count_b)
		return x->count_b > y->count_b ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int dup_field(json_t *site, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(site, key));

	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int fill_site(struct pw_diff_site *d, const struct entry *ea, const struct entry *eb)
{
	const struct entry *e = eb ? eb : ea;
	json_t *pid = json_object_get(e->site, "pid");
	json_t *age = eb ? json_object_get(eb->site, "oldest_age_s") : NULL;
	int ret;

	d->id = strdup(e->id);
	if (!d->id)
		return -ENOMEM;
	ret = dup_field(e->site, "site", &d->site);
	if (!ret)
		ret = dup_field(e->site, "wait", &d->wait);
	if (!ret)
		ret = dup_field(e->site, "comm", &d->comm);
	if (!ret)
		ret = dup_field(e->site, "kind", &d->kind);
	if (ret)
		return ret;
	d->pid = json_is_integer(pid) ? (int)json_integer_value(pid) : -1;
	d->count_a = ea ? ea->count : 0;
	d->count_b = eb ? eb->count : 0;
	d->delta = d->count_b - d->count_a;
	/* By counts, not presence: a site listed with count 0 is as gone as an absent one. */
	if (d->count_a == d->count_b)
		d->change = PW_DIFF_SAME;
	else if (!d->count_a)
		d->change = PW_DIFF_APPEARED;
	else if (!d->count_b)
		d->change = PW_DIFF_VANISHED;
	else
		d->change = d->delta > 0 ? PW_DIFF_GREW : PW_DIFF_SHRANK;
	d->oldest_age_b = json_is_number(age) ? json_number_value(age) : NAN;
	return 0;
}

static int merge_drops(struct pw_diff *out, const struct side *a, const struct side *b)
{
	size_t i = 0, j = 0;
	int c;

	out->drops = calloc(a->ndrops + b->ndrops + 1, sizeof(*out->drops));
	if (!out->drops)
		return -ENOMEM;
	while (i < a->ndrops || j < b->ndrops) {
		struct pw_diff_drop *d = &out->drops[out->ndrops];

		if (i == a->ndrops)
			c = 1;
		else if (j == b->ndrops)
			c = -1;
		else
			c = strcmp(a->drops[i].reason, b->drops[j].reason);
		d->reason = strdup(c <= 0 ? a->drops[i].reason : b->drops[j].reason);
		if (!d->reason)
			return -ENOMEM;
		d->a = c <= 0 ? a->drops[i++].value : 0;
		d->b = c >= 0 ? b->drops[j++].value : 0;
		d->delta = d->b - d->a;
		out->ndrops++;
	}
	return 0;
}

int pw_diff_compute(json_t *a, json_t *b, struct pw_diff *out, char *err, size_t errlen)
{
	struct side sa, sb;
	size_t i = 0, j = 0;
	int ret, c;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!a || !b)
		return -EINVAL;
	ret = side_parse(a, &sa, err, errlen);
	if (ret) {
		prefix_err(err, errlen, "snapshot A: ");
		return ret;
	}
	ret = side_parse(b, &sb, err, errlen);
	if (ret) {
		prefix_err(err, errlen, "snapshot B: ");
		side_free(&sa);
		return ret;
	}

	out->sites = calloc(sa.n + sb.n + 1, sizeof(*out->sites));
	if (!out->sites)
		goto nomem;
	/* Both sides are sorted by id: one merge pass pairs them. */
	while (i < sa.n || j < sb.n) {
		if (i == sa.n)
			c = 1;
		else if (j == sb.n)
			c = -1;
		else
			c = strcmp(sa.ents[i].id, sb.ents[j].id);
		ret = fill_site(&out->sites[out->n], c <= 0 ? &sa.ents[i] : NULL,
				c >= 0 ? &sb.ents[j] : NULL);
		out->n++;
		if (ret)
			goto nomem;
		i += c <= 0;
		j += c >= 0;
	}
	qsort(out->sites, out->n, sizeof(*out->sites), cmp_diff_site);
	for (c = 0; c < out->n; c++) {
		switch (out->sites[c].change) {
		case PW_DIFF_APPEARED:
			out->n_appeared++;
			break;
		case PW_DIFF_GREW:
			out->n_grew++;
			break;
		case PW_DIFF_SHRANK:
			out->n_shrank++;
			break;
		case PW_DIFF_VANISHED:
			out->n_vanished++;
			break;
		case PW_DIFF_SAME:
			out->n_same++;
			break;
		}
	}
	out->n_changed = out->n - out->n_same;
	if (merge_drops(out, &sa, &sb))
		goto nomem;

	out->time_a = sa.has_time ? sa.sec + sa.nsec / 1e9 : NAN;
	out->time_b = sb.has_time ? sb.sec + sb.nsec / 1e9 : NAN;
	/* From the integer parts: unix seconds in a double lose the microseconds. */
	out->interval_s = sa.has_time && sb.has_time
				  ? (double)(sb.sec - sa.sec) + (sb.nsec - sa.nsec) / 1e9
				  : NAN;
	if ((sa.time_str && !(out->time_a_str = strdup(sa.time_str))) ||
	    (sb.time_str && !(out->time_b_str = strdup(sb.time_str))))
		goto nomem;
	out->parked_a = sa.parked;
	out->parked_b = sb.parked;
	out->goroutines_a = sa.goroutines;
	out->goroutines_b = sb.goroutines;
	side_free(&sa);
	side_free(&sb);
	return 0;
nomem:
	side_free(&sa);
	side_free(&sb);
	pw_diff_free(out);
	seterr(err, errlen, "out of memory");
	return -ENOMEM;
}

void pw_diff_free(struct pw_diff *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; d->sites && i < d->n; i++) {
		free(d->sites[i].id);
		free(d->sites[i].site);
		free(d->sites[i].wait);
		free(d->sites[i].comm);
		free(d->sites[i].kind);
	}
	for (i = 0; d->drops && i < d->ndrops; i++)
		free(d->drops[i].reason);
	free(d->sites);
	free(d->drops);
	free(d->time_a_str);
	free(d->time_b_str);
	memset(d, 0, sizeof(*d));
}

/* ---- text ---- */

#define COL_CHANGE 8
#define COL_WAIT_MAX 14
#define COL_COMM_MAX 16
#define COL_SITE_MIN 10
#define COL_NAME_MAX 60
#define COL_TIME_MAX 35
#define SEP "  "

/* The widest a clip() of max columns can be, in bytes. */
#define CLIP_BUF(max) (4 * (max) + 4)

static size_t text_cols(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i, k, cols = 0;
	uint32_t cp;

	for (i = 0; i < n; i += k, cols++)
		k = pw_utf8_decode(p + i, n - i, &cp) ?: 1;
	return cols;
}

/* One cell of w columns: clipped, padded unless it is the last one on the line. */
static void put_cell(FILE *f, const char *s, size_t w, bool right, bool last)
{
	char buf[CLIP_BUF(TEXT_WIDTH)];
	size_t cols;

	if (w > TEXT_WIDTH)
		w = TEXT_WIDTH;
	cols = clip(s, w, buf);
	if (right)
		fprintf(f, "%*s", (int)(w - cols), "");
	fputs(buf, f);
	if (!right && !last)
		fprintf(f, "%*s", (int)(w - cols), "");
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

static void fmt_delta(long v, char *buf, size_t len)
{
	if (v)
		snprintf(buf, len, "%+ld", v);
	else
		snprintf(buf, len, "0");
}

static void fmt_count(long v, char *buf, size_t len)
{
	if (v >= 0)
		snprintf(buf, len, "%ld", v);
	else
		snprintf(buf, len, "?");
}

/* "850ms" "20s" "20.5s" "1m05s" "2h13m05s" "3d04h05m": the interval's magnitude. */
static void fmt_interval(double s, char *buf, size_t len)
{
	long long t;
	size_t n;

	s = fabs(s);
	if (s < 1 && s > 0) {
		snprintf(buf, len, "%.0fms", s * 1000);
		return;
	}
	if (s < 60) {
		snprintf(buf, len, "%.3f", s);
		n = strlen(buf);
		while (n && buf[n - 1] == '0')
			buf[--n] = '\0';
		if (n && buf[n - 1] == '.')
			buf[--n] = '\0';
		snprintf(buf + n, len - n, "s");
		return;
	}
	/* Past 100 years the value is garbage anyway; keep the arithmetic in range. */
	t = s > 3.2e9 ? 3200000000LL : (long long)s;
	if (t < 3600)
		snprintf(buf, len, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lldh%02lldm%02llds", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lldd%02lldh%02lldm", t / 86400, t / 3600 % 24, t / 60 % 60);
}

static void header_line(FILE *f, const char *tag, const char *name, const char *time)
{
	fprintf(f, "%s: ", tag);
	put_cell(f, name ? name : tag, COL_NAME_MAX, false, true);
	fputs(SEP, f);
	put_cell(f, time ? time : "time unknown", COL_TIME_MAX, false, true);
	fputc('\n', f);
}

static void totals_part(FILE *f, const char *what, long a, long b)
{
	char sa[24], sb[24], sd[24];

	fmt_count(a, sa, sizeof(sa));
	fmt_count(b, sb, sizeof(sb));
	if (a >= 0 && b >= 0)
		fmt_delta(b - a, sd, sizeof(sd));
	else
		snprintf(sd, sizeof(sd), "?");
	fprintf(f, "%s: %s → %s (%s)", what, sa, sb, sd);
}

int pw_diff_print_text(FILE *f, const struct pw_diff *d, bool all)
{
	size_t w_delta = strlen("DELTA"), w_ab = strlen("A→B") - 2, w_wait = 4, w_pid = 3;
	size_t w_comm = 4, w_site, used;
	char num[48], iv[48];
	int i, n, ndrops = 0;

	if (!f || !d)
		return -EINVAL;
	n = all ? d->n : d->n_changed;
	if (n > d->n || n < 0)
		n = d->n;

	header_line(f, "A", d->name_a, d->time_a_str);
	header_line(f, "B", d->name_b, d->time_b_str);
	if (isnan(d->interval_s)) {
		fputs("interval: unknown (a snapshot has no time)\n", f);
	} else {
		fmt_interval(d->interval_s, iv, sizeof(iv));
		fprintf(f, "interval: %s%s\n", d->interval_s < 0 ? "-" : "", iv);
		if (d->interval_s < 0)
			fputs("note: B was taken before A; swap the files to see growth as +\n", f);
	}

	for (i = 0; i < n; i++) {
		const struct pw_diff_site *s = &d->sites[i];

		fmt_delta(s->delta, num, sizeof(num));
		w_delta = max_sz(w_delta, strlen(num));
		snprintf(num, sizeof(num), "%ld→%ld", s->count_a, s->count_b);
		w_ab = max_sz(w_ab, strlen(num) - 2);
		snprintf(num, sizeof(num), "%d", s->pid);
		w_pid = max_sz(w_pid, s->pid >= 0 ? strlen(num) : 1);
		w_wait = max_sz(w_wait, s->wait ? text_cols(s->wait) : 1);
		w_comm = max_sz(w_comm, s->comm ? text_cols(s->comm) : 1);
	}
	w_wait = w_wait > COL_WAIT_MAX ? COL_WAIT_MAX : w_wait;
	w_comm = w_comm > COL_COMM_MAX ? COL_COMM_MAX : w_comm;
	used = COL_CHANGE + w_delta + w_ab + w_wait + w_pid + w_comm + 6 * strlen(SEP);
	w_site = used + COL_SITE_MIN < TEXT_WIDTH ? TEXT_WIDTH - used : COL_SITE_MIN;

	if (n) {
		put_cell(f, "CHANGE", COL_CHANGE, false, false);
		fputs(SEP, f);
		put_cell(f, "DELTA", w_delta, true, false);
		fputs(SEP, f);
		put_cell(f, "A→B", w_ab, true, false);
		fputs(SEP, f);
		put_cell(f, "WAIT", w_wait, false, false);
		fputs(SEP, f);
		put_cell(f, "PID", w_pid, true, false);
		fputs(SEP, f);
		put_cell(f, "COMM", w_comm, false, false);
		fputs(SEP "SITE\n", f);
	} else {
		fputs(d->n_changed + d->n_same ? "no site changed\n"
					       : "no sites in either snapshot\n",
		      f);
	}
	for (i = 0; i < n; i++) {
		const struct pw_diff_site *s = &d->sites[i];

		put_cell(f, pw_diff_change_name(s->change), COL_CHANGE, false, false);
		fputs(SEP, f);
		fmt_delta(s->delta, num, sizeof(num));
		put_cell(f, num, w_delta, true, false);
		fputs(SEP, f);
		snprintf(num, sizeof(num), "%ld→%ld", s->count_a, s->count_b);
		put_cell(f, num, w_ab, true, false);
		fputs(SEP, f);
		put_cell(f, s->wait ? s->wait : "?", w_wait, false, false);
		fputs(SEP, f);
		snprintf(num, sizeof(num), "%d", s->pid);
		put_cell(f, s->pid >= 0 ? num : "?", w_pid, true, false);
		fputs(SEP, f);
		put_cell(f, s->comm ? s->comm : "?", w_comm, false, false);
		fputs(SEP, f);
		put_cell(f, s->site ? s->site : "[unknown]", w_site, false, true);
		fputc('\n', f);
	}

	totals_part(f, "parked threads", d->parked_a, d->parked_b);
	if (d->goroutines_a > 0 || d->goroutines_b > 0) {
		fputs("; ", f);
		totals_part(f, "parked goroutines", d->goroutines_a, d->goroutines_b);
	}
	fprintf(f, "\nsites: %d appeared, %d grew, %d shrank, %d vanished, %d unchanged%s\n",
		d->n_appeared, d->n_grew, d->n_shrank, d->n_vanished, d->n_same,
		!all && d->n_same ? " (--all lists them)" : "");

	fputs("drops delta:", f);
	for (i = 0; d->drops && i < d->ndrops; i++) {
		if (!d->drops[i].delta)
			continue;
		fputs(ndrops++ ? ", " : " ", f);
		put_cell(f, d->drops[i].reason, 32, false, true);
		fmt_delta(d->drops[i].delta, num, sizeof(num));
		fprintf(f, " %s", num);
	}
	fputs(ndrops ? "\n" : " none\n", f);
	if (ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- JSON ---- */

/*
 * A JSON string, or null. Strings that came through pw_diff_compute() are
 * valid UTF-8 already; a hand-built diff may not be, and jansson refuses
 * those, so malformed bytes become U+FFFD rather than failing the output.
 */
static json_t *jstr(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i, o = 0, k;
	json_t *j;
	uint32_t cp;
	char *buf;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	n = strlen(s);
	buf = malloc(3 * n + 1);
	if (!buf)
		return NULL;
	for (i = 0; i < n; i += k) {
		k = pw_utf8_decode(p + i, n - i, &cp);
		if (k) {
			memcpy(buf + o, p + i, k);
			o += k;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		}
	}
	buf[o] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

static json_t *jcount(long v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

static json_t *jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Sets key even when v failed to allocate, recording the failure once for the caller. */
static void put(json_t *o, const char *key, json_t *v, bool *bad)
{
	if (!o || !v) {
		json_decref(v);
		*bad = true;
	} else if (json_object_set_new(o, key, v)) {
		*bad = true;
	}
}

static json_t *side_json(const char *time, long parked, long goroutines, bool *bad)
{
	json_t *o = json_object();

	put(o, "time", jstr(time), bad);
	put(o, "parked_threads", jcount(parked), bad);
	put(o, "parked_goroutines", jcount(goroutines), bad);
	return o;
}

static json_t *site_json(const struct pw_diff_site *s, bool *bad)
{
	json_t *o = json_object();

	put(o, "id", jstr(s->id), bad);
	put(o, "kind", jstr(s->kind), bad);
	put(o, "pid", s->pid >= 0 ? json_integer(s->pid) : json_null(), bad);
	put(o, "comm", jstr(s->comm), bad);
	put(o, "wait", jstr(s->wait), bad);
	put(o, "site", jstr(s->site), bad);
	put(o, "change", json_string(pw_diff_change_name(s->change)), bad);
	put(o, "count_a", json_integer(s->count_a), bad);
	put(o, "count_b", json_integer(s->count_b), bad);
	put(o, "delta", json_integer(s->delta), bad);
	put(o, "oldest_age_s", jreal(s->oldest_age_b), bad);
	return o;
}

int pw_diff_print_json(FILE *f, const struct pw_diff *d)
{
	json_t *root, *sites, *drops, *sum, *site;
	bool bad = false;
	int i, ret = 0;

	if (!f || !d)
		return -EINVAL;
	root = json_object();
	put(root, "schema", json_integer(PW_DIFF_SCHEMA), &bad);
	put(root, "a", side_json(d->time_a_str, d->parked_a, d->goroutines_a, &bad), &bad);
	put(root, "b", side_json(d->time_b_str, d->parked_b, d->goroutines_b, &bad), &bad);
	/* Rounded to the microsecond so 20 s prints as 20.0, not 19.999999999999996. */
	put(root, "interval_s", jreal(round(d->interval_s * 1e6) / 1e6), &bad);
	sum = json_object();
	put(sum, "appeared", json_integer(d->n_appeared), &bad);
	put(sum, "grew", json_integer(d->n_grew), &bad);
	put(sum, "shrank", json_integer(d->n_shrank), &bad);
	put(sum, "vanished", json_integer(d->n_vanished), &bad);
	put(sum, "same", json_integer(d->n_same), &bad);
	put(root, "summary", sum, &bad);
	sites = json_array();
	for (i = 0; sites && d->sites && i < d->n && !bad; i++) {
		site = site_json(&d->sites[i], &bad);
		if (!site || json_array_append_new(sites, site))
			bad = true;
	}
	put(root, "sites", sites, &bad);
	drops = json_object();
	for (i = 0; drops && d->drops && i < d->ndrops && !bad; i++)
		put(drops, d->drops[i].reason, json_integer(d->drops[i].delta), &bad);
	put(root, "drops_delta", drops, &bad);

	if (bad || !root) {
		ret = -ENOMEM;
	} else if (json_dumpf(root, f, JSON_COMPACT | JSON_REAL_PRECISION(15)) ||
		   fputc('\n', f) == EOF || ferror(f)) {
		ret = errno ? -errno : -EIO;
	}
	json_decref(root);
	return ret;
}

/* ---- the command ---- */

int pw_cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	char err[MSG_MAX];
	struct pw_diff d, view;
	json_t *a = NULL, *b = NULL;
	bool json = false, all = false;
	int c, ret;

	/* 0, not 1: glibc then resets its state, so a second call in one process parses too. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jah", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return fflush(stdout) ? 1 : 0;
		default:
			/* Long options (and "--json=x") are named by argv, short ones by optopt. */
			if (optind > 0 && optind <= argc && !strncmp(argv[optind - 1], "--", 2))
				fprintf(stderr,
					"parkwatch: diff: invalid option '%s' (see 'parkwatch diff "
					"--help')\n",
					argv[optind - 1]);
			else
				fprintf(stderr,
					"parkwatch: diff: invalid option '-%c' (see 'parkwatch "
					"diff "
					"--help')\n",
					optopt);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"parkwatch: diff needs exactly two files, got %d (usage: parkwatch diff "
			"[--json] [--all] A.json B.json)\n",
			argc - optind);
		return 2;
	}
	if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-")) {
		fputs("parkwatch: diff: only one of A and B can be '-' (standard input)\n", stderr);
		return 2;
	}

	if (pw_diff_load(argv[optind], &a, err, sizeof(err)) ||
	    pw_diff_load(argv[optind + 1], &b, err, sizeof(err))) {
		fprintf(stderr, "parkwatch: %s\n", err);
		json_decref(a);
		return 1;
	}
	ret = pw_diff_compute(a, b, &d, err, sizeof(err));
	json_decref(a);
	json_decref(b);
	if (ret) {
		fprintf(stderr, "parkwatch: diff: %s\n", err);
		return 1;
	}
	d.name_a = strcmp(argv[optind], "-") ? argv[optind] : "stdin";
	d.name_b = strcmp(argv[optind + 1], "-") ? argv[optind + 1] : "stdin";
	view = d;
	/* Unchanged sites sort last, so hiding them is a shorter view of the same array. */
	if (!all)
		view.n = d.n_changed;
	ret = json ? pw_diff_print_json(stdout, &view) : pw_diff_print_text(stdout, &view, all);
	if (!ret && fflush(stdout))
		ret = -errno;
	pw_diff_free(&d);
	if (ret) {
		fprintf(stderr, "parkwatch: failed to write the diff: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
