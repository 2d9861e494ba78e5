// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "diff.h"
#include "export.h"
#include "top.h"
#include "watch.h"

static const char usage[] =
	"Usage: parkwatch [COMMAND] [OPTIONS]\n"
	"\n"
	"Find thread leaks on a live Linux host: which threads are parked, where, for how long.\n"
	"\n"
	"Commands:\n"
	"  top         live view: sites, sparklines, growth, suspects first (default on a tty)\n"
	"  snapshot    one scan of every parked thread, grouped by wait site (default when piped)\n"
	"  watch       scan every interval: growth per site, leak suspects, summary at the end\n"
	"  export      write parkwatch.prom for node_exporter's textfile collector, every "
	"interval\n"
	"  diff        what appeared, grew, shrank and vanished between two JSON snapshots\n"
	"  help        this text; 'parkwatch COMMAND --help' for a command's options\n"
	"  version     print the version (also --version, -V)\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch                          # live view of the whole host\n"
	"  sudo parkwatch | less                   # snapshot of the whole host\n"
	"  sudo parkwatch snapshot -p 4242 --json  # one process, machine-readable\n"
	"  sudo parkwatch snapshot --folded | flamegraph.pl > parked.svg\n"
	"  sudo parkwatch watch -p 4242 -d 60s          # is it a staircase?\n"
	"  sudo parkwatch export --textfile-dir /var/lib/prometheus/node-exporter\n"
	"  parkwatch diff before.json after.json\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	/* A tool on a production host must not fetch debug info over the network behind our back.
	 */
	unsetenv("DEBUGINFOD_URLS");
	if (cmd && (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))) {
		fputs(usage, stdout);
		return PW_EXIT_OK;
	}
	if (cmd && (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V"))) {
		printf("parkwatch %s\n", PW_VERSION);
		return PW_EXIT_OK;
	}
	/* Like top(1): a live view on a terminal, a snapshot when piped. */
	if (!cmd || cmd[0] == '-')
		return isatty(STDOUT_FILENO) ? pw_cmd_top(argc, argv) : pw_cmd_snapshot(argc, argv);
	if (!strcmp(cmd, "top"))
		return pw_cmd_top(argc - 1, argv + 1);
	if (!strcmp(cmd, "snapshot"))
		return pw_cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(cmd, "watch"))
		return pw_cmd_watch(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return pw_cmd_export(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return pw_cmd_diff(argc - 1, argv + 1);
	fprintf(stderr, "parkwatch: unknown command '%s' (see 'parkwatch help')\n", cmd);
	return PW_EXIT_USAGE;
}
