/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Options shared by the subcommands, and the glue from scan to output. */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <stdbool.h>
#include <sys/types.h>
#include "pw.h"

#define PW_MAX_PIDS 1024

enum pw_exit {
	PW_EXIT_OK = 0,
	PW_EXIT_FAIL = 1,  /* runtime failure */
	PW_EXIT_USAGE = 2, /* bad usage */
};

/*
 * --ages: lower bounds from the scheduler's stamps (the default: nothing runs per context
 * switch), or exact, from the hot path that times each park (README "Ages").
 */
enum pw_ages {
	PW_AGES_BOUND = 0,
	PW_AGES_EXACT,
};

struct pw_cli {
	pid_t pids[PW_MAX_PIDS];
	int npids;
	const char *comm;
	double min_age_s;
	double interval_s;
	double duration_s; /* 0: until stopped */
	double window_s;
	bool interval_set;
	bool json;
	bool folded;
	bool futex_events;
	bool verbose;
	int max_frames;	      /* frames shown per site in the table */
	unsigned futex_words; /* capacity of the per-word futex map, 0 = default */
	enum pw_go_mode goroutines;
	bool writes_files; /* export: keeps CAP_DAC_OVERRIDE for its textfile directory */
	bool one_shot;	   /* snapshot: one scan right after set-up, no hot path */
	enum pw_ages ages; /* --ages: how parks are timed */
};

/* Parses the common options; returns PW_EXIT_OK, or an exit code after printing why. */
int pw_cli_parse(int argc, char **argv, const char *cmd, const char *usage, struct pw_cli *cli);
/* One line naming the capabilities that are missing, or 0 when all are there. */
int pw_check_privileges(const struct pw_cli *cli);
/*
 * After set-up (BPF attached, kallsyms open): keep only CAP_BPF, CAP_SYS_PTRACE,
 * CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN without it), CAP_DAC_READ_SEARCH and,
 * when asked, CAP_DAC_OVERRIDE, of those the process has; set no_new_privs. 0 or -errno.
 */
int pw_drop_privileges(bool keep_dac_override);

int pw_cmd_snapshot(int argc, char **argv);

struct pw_tracer;
struct pw_collector;
struct pw_ksyms;

struct pw_session {
	struct pw_tracer *tracer;
	struct pw_collector *coll;
	struct pw_ksyms *ksyms;
};

/* Load BPF, kernel symbols and a collector for cli; 0, or -errno after one line on stderr. */
int pw_session__open(const struct pw_cli *cli, bool quiet, struct pw_session *s);
void pw_session__close(struct pw_session *s);
/* One scan: records -> sites, with BPF drop counters folded into snap->drops. */
int pw_scan_once(struct pw_tracer *t, struct pw_collector *c, struct pw_snapshot *snap);

#endif /* PW_CLI_H */
