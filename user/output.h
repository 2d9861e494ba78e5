/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Output formats of a snapshot: JSON lines (the contract of DESIGN.md §3),
 * folded stacks for flamegraph.pl / speedscope, and the human table. All of
 * them treat comm and symbol names as hostile outside data: JSON is always
 * valid, folded lines always parse, the table never writes control bytes.
 * Functions return 0, or -errno when writing to f failed.
 */
#ifndef PW_OUTPUT_H
#define PW_OUTPUT_H

#include <stdio.h>
#include "pw.h"

/* Schema of the JSON object; bumped on any incompatible change (DESIGN.md §3). */
#define PW_JSON_SCHEMA 1

/*
 * Orders sites by count (desc), oldest age (desc), then id (asc): every
 * format prints sites in this order, so outputs are stable between runs.
 */
void pw_snapshot_sort(struct pw_snapshot *s);

/*
 * Exactly one line: the schema 1 object, keys in documented order, every
 * drop reason present. Unknown values are null, never invented; NaN and
 * infinities are null too.
 */
int pw_output_json(FILE *f, const struct pw_snapshot *s);

/*
 * The same line written to fd with one write(2) (as far as the kernel takes it whole): a
 * reader tailing the file never sees half a sample, as stdio's 4 KiB buffer would show it.
 * 0 or -errno.
 */
int pw_output_json_fd(int fd, const struct pw_snapshot *s);

/*
 * One line per site with a positive count, "stack count", root first:
 *   comm;outermost;...;innermost;[wait];kernel_outermost_[k];...;kernel_innermost_[k] 420
 * A frame is its function name, "module+0xoff" or "0xaddr" when unknown;
 * inlined frames are frames. The wait kind sits between user and kernel frames,
 * where the program entered the kernel; kernel frames carry flamegraph.pl's
 * "_[k]" suffix (drawn in kernel colours by --color=java). Bytes that would
 * break the format (';', whitespace, control, invalid UTF-8) become '_'.
 * Drops cannot be carried in this format: see pw_output_drops_line().
 */
int pw_output_folded(FILE *f, const struct pw_snapshot *s);

/* "drops: task_storage=0 futex_map=0 ... site_table=0\n", every reason. */
int pw_output_drops_line(FILE *f, const struct pw_drops *d);

/*
 * Human table, one row per site with a positive count:
 *   COUNT WAIT WORDS OLDEST PID COMM SITE
 * then up to max_frames frames per site, innermost first, a summary line
 * "N parked threads in M sites (K shown)" and a drops line ("drops: none",
 * or the non-zero reasons). Lines fit in width columns (long text ends with
 * "…"; the fixed columns take 63, so below ~75 the site column stays at 10);
 * width <= 0 means no limit. Non-ASCII characters are counted as one column.
 */
int pw_output_table(FILE *f, const struct pw_snapshot *s, int width, int max_frames);

#endif /* PW_OUTPUT_H */
