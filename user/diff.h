/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `parkwatch diff A.json B.json`: what appeared, grew, shrank and vanished
 * between two `snapshot --json` (or `watch --json`) outputs, per site id.
 *
 * The input is outside data: files may be truncated, edited, or hostile.
 * Parsing goes through jansson (depth-limited, rejects invalid UTF-8 and
 * numbers that do not fit), then every field the diff uses is checked for
 * type and range before it is trusted. Functions return 0 or -errno and,
 * on failure, leave one line without the "parkwatch: " prefix in err.
 */
#ifndef PW_DIFF_H
#define PW_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* Schema of both the snapshots read and the diff written (DESIGN.md §3). */
#define PW_DIFF_SCHEMA 1

/*
 * Largest count accepted in a snapshot: 2^53 keeps every count and delta
 * exact in a double (jq, JavaScript) and far from long overflow when summed.
 */
#define PW_DIFF_COUNT_MAX (1LL << 53)

/*
 * Longest line handed to jansson (its tree takes several times the text); a
 * snapshot of 30k threads is tens of MB. getline() still reads it whole first.
 */
#define PW_DIFF_LINE_MAX (1UL << 30)

enum pw_diff_change {
	PW_DIFF_APPEARED, /* count 0 (or absent) in A, > 0 in B */
	PW_DIFF_GREW,
	PW_DIFF_SHRANK,
	PW_DIFF_VANISHED, /* count > 0 in A, 0 (or absent) in B */
	PW_DIFF_SAME,
};

struct pw_diff_site {
	char *id;
	/* Descriptive fields come from B, or from A for a site that is not in B. NULL = unknown. */
	char *site; /* label, e.g. "fetch_worker (leaky.c:88)" */
	char *wait;
	char *comm;
	char *kind;		      /* "thread" | "goroutine" */
	int pid;		      /* -1 when unknown */
	long count_a, count_b, delta; /* an absent site counts 0 */
	enum pw_diff_change change;
	double oldest_age_b; /* seconds; NaN when not in B or unknown */
};

struct pw_diff_drop {
	char *reason;
	long a, b, delta; /* a reason absent from one side counts 0 there */
};

struct pw_diff {
	/* Changed sites first (see pw_diff_compute), unchanged ones last. */
	struct pw_diff_site *sites;
	int n;
	int n_changed; /* sites[0..n_changed) are the ones that changed */
	int n_appeared, n_grew, n_shrank, n_vanished, n_same;
	char *time_a_str, *time_b_str;	 /* RFC 3339 as written in the input; NULL when absent */
	double time_a, time_b;		 /* unix seconds; NaN when absent */
	double interval_s;		 /* time_b - time_a; NaN when either is absent */
	long parked_a, parked_b;	 /* parked_threads; -1 when absent */
	long goroutines_a, goroutines_b; /* parked_goroutines; -1 when absent */
	struct pw_diff_drop *drops;	 /* union of both sides' reasons, sorted by name */
	int ndrops;
	/* Not owned, not set by pw_diff_compute: file names for the text header. */
	const char *name_a, *name_b;
};

/*
 * Reads path ("-" is stdin) and parses its last non-blank line: a `snapshot
 * --json` file has one line, a `watch --json` file one per sample and the
 * last one is the latest state. The object is checked as pw_diff_compute()
 * would, so a bad file is reported with its name. err: "<path>: <what>".
 * Returns 0, -ENOENT/-EACCES/... (cannot open or read), -ENODATA (no
 * line), -EBADMSG (not JSON / not a schema 1 snapshot), -EFBIG or -ENOMEM.
 */
int pw_diff_load(const char *path, json_t **out, char *err, size_t errlen);

/*
 * pw_diff_load() on a buffer already in memory (the fuzz target's entry):
 * the last non-blank line of buf[0..len) is parsed and checked. err has no
 * file name.
 */
int pw_diff_parse_buffer(const char *buf, size_t len, json_t **out, char *err, size_t errlen);

/*
 * Matches sites of a and b by "id" and classifies them. Order: appeared and
 * grew together by |delta| descending, then shrank, then vanished (each by
 * |delta| descending), then unchanged; ties by id, so output is stable.
 * a and b are only read. On error out is left empty (safe to free).
 */
int pw_diff_compute(json_t *a, json_t *b, struct pw_diff *out, char *err, size_t errlen);

void pw_diff_free(struct pw_diff *d);

/* Change as written in both outputs: "appeared", "grew", "shrank", "vanished", "same". */
const char *pw_diff_change_name(enum pw_diff_change c);

/*
 * Human table, lines at most 100 columns:
 *   CHANGE DELTA A→B WAIT PID COMM SITE
 * after a header (both times, the interval) and followed by totals and the
 * drops delta. Unchanged sites only with all. Control characters in names
 * are printed as '?': a comm must not be able to move the cursor.
 */
int pw_diff_print_text(FILE *f, const struct pw_diff *d, bool all);

/*
 * One line, every site in d->sites[0..n) (callers that want only changes
 * pass a copy with n = n_changed):
 *   {"schema":1,"a":{"time":..,"parked_threads":..,"parked_goroutines":..},
 *    "b":{..},"interval_s":..,"summary":{"appeared":..,..},
 *    "sites":[{"id","kind","pid","comm","wait","site","change","count_a",
 *              "count_b","delta","oldest_age_s"}],"drops_delta":{"<reason>":..}}
 * Unknown values are null.
 */
int pw_diff_print_json(FILE *f, const struct pw_diff *d);

/* `parkwatch diff [--json] [--all] A.json B.json`; returns the exit code (0, 1 or 2). */
int pw_cmd_diff(int argc, char **argv);

#endif /* PW_DIFF_H */
