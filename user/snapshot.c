// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* parkwatch snapshot: one scan, every long-parked thread attributed to its wait site. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "collect.h"
#include "ksyms.h"
#include "output.h"
#include "tracer.h"
#include "util.h"

static const char usage[] =
	"Usage: parkwatch snapshot [-p PID]... [-c NAME] [-m DUR] [--json | --folded]\n"
	"\n"
	"Scan every parked thread once and group the ones parked longer than --min-age by\n"
	"wait site: the first frame of their user stack outside the C library.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID        only this process (repeat, or PID,PID,...)\n"
	"  -c, --comm NAME      only processes whose comm is NAME\n"
	"  -m, --min-age DUR    stacks and sites for threads parked this long (default 1s;\n"
	"                       0 = every parked thread); e.g. 500ms, 2s, 5m\n"
	"  -j, --json           one JSON object (schema 1, see README)\n"
	"  -f, --folded         folded stacks for flamegraph.pl / speedscope; drops on stderr\n"
	"      --futex-events   also trace futex syscalls (word park/wake counts; ~9% cost on\n"
	"                       futex-heavy work, off by default)\n"
	"      --goroutines MODE  goroutine sites of Go processes: auto (default), on (also say\n"
	"                       which processes are not Go), off\n"
	"      --futex-words N  capacity of the per-word futex map (default 65536)\n"
	"      --frames N       frames shown per site in the table (default 4)\n"
	"  -v, --verbose        libbpf's messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch snapshot                        # every process on the host\n"
	"  sudo parkwatch snapshot -p 4242 --json | jq '.sites[] | {site, count}'\n"
	"  sudo parkwatch snapshot -m 0 --folded > parked.folded  # flamegraph.pl parked.folded\n"
	"  sudo parkwatch snapshot -p 4242 --json > before.json; sleep 60;\n"
	"  sudo parkwatch snapshot -p 4242 --json > after.json\n"
	"\n"
	"Exit status: 0 ok, 1 runtime failure (e.g. no such pid), 2 bad usage.\n";

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/*
 * A progress line on stderr when resolving takes long (a first scan of a big host). Only the
 * one-shot snapshot asks for it: in top it would tear the screen, in watch it adds noise.
 */
static bool show_progress;

struct progress {
	struct pw_collector *c;
	double start, last;
	long n;
	bool shown;
};

static int add_with_progress(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	struct progress *p = ctx;
	double now;

	if ((++p->n & 255) == 0) {
		now = now_s();
		if (now - p->start > 1.0 && now - p->last > 0.25) {
			fprintf(stderr, "\rparkwatch: resolving stacks of parked threads... %ld",
				p->n);
			p->last = now;
			p->shown = true;
		}
	}
	return pw_collector__add(rec, stack, p->c);
}

int pw_scan_once(struct pw_tracer *t, struct pw_collector *c, struct pw_snapshot *snap)
{
	struct progress prog = {.c = c, .start = now_s()};
	__u64 st[PW_STAT_MAX];
	int err;

	pw_collector__begin(c);
	if (show_progress)
		err = pw_tracer__scan(t, add_with_progress, &prog);
	else
		err = pw_tracer__scan(t, pw_collector__add, c);
	if (prog.shown)
		fprintf(stderr, "\r\033[K");
	/* A damaged record stream is not an error: its lost records are counted below. */
	if (err < 0)
		return err;
	err = pw_collector__finish(c, snap);
	if (err)
		return err;
	if (pw_tracer__stats(t, st) == 0) {
		snap->drops.n[PW_DROP_TASK_STORAGE] += st[PW_STAT_DROP_STORAGE];
		snap->drops.n[PW_DROP_FUTEX_MAP] += st[PW_STAT_DROP_FUTEX_MAP];
		snap->drops.n[PW_DROP_USER_STACK] += st[PW_STAT_DROP_USTACK];
		snap->drops.n[PW_DROP_KERNEL_STACK] += st[PW_STAT_DROP_KSTACK];
		snap->drops.n[PW_DROP_SCAN_RECORD] += st[PW_STAT_DROP_SEQ];
	}
	/*
	 * Words of exited processes would fill the futex map over a long run (watch, export,
	 * top); a one-shot scan is over long before the first purge is due. A failed purge
	 * costs room in the map, which the futex_map drop counts: the scan stands.
	 */
	pw_tracer__purge_words_due(t);
	snap->time = now_s();
	return 0;
}

static bool proc_alive(pid_t pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return stat(path, &st) == 0;
}

int pw_cmd_snapshot(int argc, char **argv)
{
	struct pw_session ss = {0};
	struct pw_snapshot snap = {0};
	struct pw_cli cli;
	int err, i, gone = 0, ret = PW_EXIT_FAIL;
	double t0 = now_s();

	err = pw_cli_parse(argc, argv, "snapshot", usage, &cli);
	if (err)
		return err;
	if (pw_check_privileges(&cli))
		return PW_EXIT_FAIL;
	if (cli.ages == PW_AGES_EXACT) {
		pw_err("--ages exact: a snapshot times no park from its start (its ages are lower "
		       "bounds); use watch or top");
		return PW_EXIT_USAGE;
	}
	cli.one_shot = true;
	if (pw_session__open(&cli, false, &ss))
		goto out;
	/* Test hook: widen the window in which a watched process can exit. */
	if (getenv("PARKWATCH_TEST_SCAN_DELAY_MS"))
		usleep(1000 * atoi(getenv("PARKWATCH_TEST_SCAN_DELAY_MS")));
	show_progress = isatty(STDERR_FILENO);
	err = pw_scan_once(ss.tracer, ss.coll, &snap);
	if (err) {
		pw_err("failed to scan tasks: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < cli.npids; i++) {
		if (!pw_collector__saw_pid(ss.coll, cli.pids[i]) && !proc_alive(cli.pids[i])) {
			pw_err("pid %d exited during the scan; reporting the rest", cli.pids[i]);
			snap.drops.n[PW_DROP_PROC_GONE]++;
			gone++;
		}
	}
	snap.elapsed_s = snap.time - t0;
	pw_snapshot_sort(&snap);
	if (cli.json)
		err = pw_output_json(stdout, &snap);
	else if (cli.folded) {
		err = pw_output_folded(stdout, &snap);
		pw_output_drops_line(stderr, &snap.drops);
	} else {
		err = pw_output_table(stdout, &snap, isatty(1) ? 100 : 160, cli.max_frames);
	}
	if (fflush(stdout) || err) {
		pw_err("failed to write output: %s", strerror(errno));
		goto out;
	}
	/* Every requested pid vanished: nothing asked for was reported. */
	ret = cli.npids && gone == cli.npids ? PW_EXIT_FAIL : PW_EXIT_OK;
out:
	pw_snapshot__free(&snap);
	pw_session__close(&ss);
	return ret;
}
