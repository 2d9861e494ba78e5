/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parkwatch top: the live full-screen view (ncurses). One row per wait site
 * with a sparkline of its recent counts, refreshed every interval; keys to
 * move, sort, filter by pid and expand a site to its stack. Not on a terminal
 * (or with --json) it prints the lines of `parkwatch watch` instead.
 */
#ifndef PW_TOP_H
#define PW_TOP_H

/* Returns an exit code (enum pw_exit); the terminal is restored on every path. */
int pw_cmd_top(int argc, char **argv);

#endif /* PW_TOP_H */
