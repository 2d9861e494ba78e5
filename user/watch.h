/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Following sites over time: per-site sample series and trend verdicts (watch, top, export). */
#ifndef PW_WATCH_H
#define PW_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "pw.h"
#include "series.h"
#include "sitelabel.h"
#include "trend.h"
#include "util.h"

struct pw_tracker;

int pw_tracker__new(double window_s, size_t max_sites, struct pw_tracker **out);
/* Push one scan's counts (absent sites count 0) and fill each site's trend fields. */
int pw_tracker__update(struct pw_tracker *t, struct pw_snapshot *snap, double now);
/* Every tracked site (vanished ones with count 0), suspects first. Free the array only. */
int pw_tracker__sites(struct pw_tracker *t, struct pw_site **out, int *n);
/* The last n counts of a site, oldest first; returns how many. */
int pw_tracker__counts(struct pw_tracker *t, uint64_t id, int n, double *out);
void pw_tracker__free(struct pw_tracker *t);

void pw_install_stop_handlers(void);
bool pw_stop_requested(void);
void pw_sleep_until(double deadline);

int pw_cmd_watch(int argc, char **argv);

#endif /* PW_WATCH_H */
