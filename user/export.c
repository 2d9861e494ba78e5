// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * parkwatch export: scan every interval and keep DIR/parkwatch.prom, the
 * Prometheus textfile of the parked threads per wait site, for node_exporter's
 * textfile collector. A service: a scan or a write that fails is logged and
 * retried at the next interval; only a stop signal (or --duration) ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "collect.h"
#include "export.h"
#include "ksyms.h"
#include "prom.h"
#include "tracer.h"
#include "util.h"
#include "watch.h"

#ifndef PW_VERSION
#define PW_VERSION "0.1.0"
#endif

#define DEFAULT_INTERVAL_S 15.0
#define MAX_SITES_LIMIT 100000
/* Sites followed for trends; the tracker counts the rest as site_table drops (as watch). */
#define TRACKED_SITES 4096

static const char usage[] =
	"Usage: parkwatch export --textfile-dir DIR [-i DUR] [-p PID]... [-c NAME] [--max-sites "
	"N]\n"
	"                        [--once]\n"
	"\n"
	"Scan every interval and write DIR/parkwatch.prom for node_exporter's textfile\n"
	"collector: parked threads per wait site, the oldest park age, growth per minute and\n"
	"leak verdicts, drop counters. The file is replaced atomically (temp file, fsync,\n"
	"rename): a scrape sees the previous scan or the new one, never a part. A failed scan\n"
	"or write is logged and retried at the next interval; SIGTERM/SIGINT end it cleanly.\n"
	"\n"
	"Options:\n"
	"      --textfile-dir DIR  where to write parkwatch.prom (required)\n"
	"  -i, --interval DUR      time between scans (default 15s); with --once, how often\n"
	"                          cron runs it (exported for the staleness alert)\n"
	"  -p, --pid PID           only this process (repeat, or PID,PID,...)\n"
	"  -c, --comm NAME         only processes whose comm is NAME\n"
	"  -m, --min-age DUR       only threads parked this long form sites (default 1s)\n"
	"  -w, --window DUR        window of the growth and leak verdicts (default 5m)\n"
	"      --max-sites N       series per process before the rest is summed into\n"
	"                          site=\"other\" (default 20; 0: only \"other\")\n"
	"      --once              write one file and exit (cron, tests): no history, so no\n"
	"                          growth or leak-suspect series\n"
	"  -d, --duration DUR      stop after this long (default: until SIGTERM)\n"
	"      --futex-events      also trace futex syscalls (see 'parkwatch snapshot --help')\n"
	"      --ages MODE         bound (default): lower bounds (>=) from the scheduler's\n"
	"                          stamps; exact: time every park from its start (~5-10%\n"
	"                          on context-switch-heavy work)\n"
	"      --goroutines MODE   auto (Go processes), on (say which are not Go), off\n"
	"  -v, --verbose           libbpf's messages\n"
	"  -h, --help              this text\n"
	"\n"
	"Examples:\n"
	"  sudo parkwatch export --textfile-dir /var/lib/prometheus/node-exporter\n"
	"  sudo parkwatch export --textfile-dir /var/lib/node_exporter -i 30s -p 4242\n"
	"  */5 * * * * root parkwatch export --once -i 5m --textfile-dir /var/lib/node_exporter\n"
	"\n"
	"Exit status: 0 ok (also after SIGTERM), 1 runtime failure (e.g. DIR not writable),\n"
	"2 bad usage.\n";

struct export_opts {
	const char *dir;
	int max_sites;
	bool once;
};

/* ---- the atomic write ---- */

static uint64_t random64(void)
{
	static uint64_t counter;
	uint64_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
		return r;
	/* Early boot without entropy: unpredictable enough, O_EXCL keeps it safe anyway. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = pw_hash64(&ts, sizeof(ts), PW_HASH_SEED);
	r = pw_hash64(&counter, sizeof(counter), r);
	counter++;
	return r ^ (uint64_t)getpid() << 32;
}

/*
 * A new file with a random name that does not end in ".prom" (node_exporter
 * reads only *.prom). O_EXCL fails on anything already there, a planted
 * symlink included; O_NOFOLLOW says so again.
 */
static int create_temp(int dfd, const char *name, char *tmp, size_t len)
{
	int try, fd;

	for (try = 0; try < 16; try++) {
		snprintf(tmp, len, ".%s.%016llx.tmp", name, (unsigned long long)random64());
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int pw_export_write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char tmp[NAME_MAX + 1];
	int dfd, fd, err;

	/* Opened per write: a directory removed and recreated is written again, not a ghost. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = create_temp(dfd, name, tmp, sizeof(tmp));
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	err = pw_write_all(fd, buf, len);
	/* Exact mode whatever the umask: node_exporter runs as another user. */
	if (!err && fchmod(fd, 0644))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, name))
		err = -errno;
	if (err) {
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return err;
	}
	/* The rename survives a crash only once the directory is synced. */
	if (fsync(dfd) && errno != EINVAL)
		err = -errno;
	close(dfd);
	return err;
}

/* Startup check, before BPF is loaded: create and remove a temp file as a write would. */
static int probe_dir(const char *dir)
{
	char tmp[NAME_MAX + 1];
	int dfd, fd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = create_temp(dfd, PW_PROM_FILE, tmp, sizeof(tmp));
	if (fd >= 0) {
		close(fd);
		unlinkat(dfd, tmp, 0);
	}
	close(dfd);
	return fd < 0 ? fd : 0;
}

/* ---- options ---- */

/*
 * pw_cli_parse() knows only the common options, so ours are taken out of argv
 * first. The values of common options are skipped, never read as ours (in
 * "-c --once", "--once" is a comm): keep these lists in sync with cli.c.
 */
static const char common_short_with_value[] = "pcmidw";
static const char *const common_long_with_value[] = {
	"pid",	  "comm",   "min-age",	   "interval",	 "duration",
	"window", "frames", "futex-words", "goroutines", "ages",
};

static bool common_long_takes_value(const char *name)
{
	size_t i, n = strlen(name);

	/* getopt_long accepts unambiguous prefixes: "--inter 5s". */
	for (i = 0; n && i < sizeof(common_long_with_value) / sizeof(char *); i++)
		if (!strncmp(common_long_with_value[i], name, n))
			return true;
	return false;
}

/* 1 when argv[*i] is --name or --name=VALUE (value in *val), 0 when not, -1 on error. */
static int own_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i] + 2;
	size_t n = strlen(name);

	if (strncmp(a, name, n) || (a[n] && a[n] != '='))
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (*i + 1 >= argc) {
		pw_err("option '--%s' needs a value (see 'parkwatch export --help')", name);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

static int split_args(int argc, char **argv, struct export_opts *xo, char **rest, int *nrest)
{
	const char *val;
	int i, j, n = 0, r;
	long v;

	rest[n++] = argv[0];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < argc)
				rest[n++] = argv[i++];
			break;
		}
		if (!strncmp(a, "--", 2)) {
			if ((r = own_value(argc, argv, &i, "textfile-dir", &val))) {
				if (r < 0)
					return PW_EXIT_USAGE;
				xo->dir = val;
				continue;
			}
			if ((r = own_value(argc, argv, &i, "max-sites", &val))) {
				if (r < 0)
					return PW_EXIT_USAGE;
				if (pw_parse_int(val, 0, MAX_SITES_LIMIT, &v)) {
					pw_err("invalid --max-sites '%s': expected 0 to %d", val,
					       MAX_SITES_LIMIT);
					return PW_EXIT_USAGE;
				}
				xo->max_sites = v;
				continue;
			}
			if (!strcmp(a, "--once")) {
				xo->once = true;
				continue;
			}
			rest[n++] = argv[i];
			if (!strchr(a, '=') && common_long_takes_value(a + 2) && i + 1 < argc)
				rest[n++] = argv[++i];
			continue;
		}
		rest[n++] = argv[i];
		if (a[0] != '-')
			continue;
		/* A cluster of short options: the first one taking a value ends it. */
		for (j = 1; a[j]; j++) {
			if (strchr(common_short_with_value, a[j])) {
				if (!a[j + 1] && i + 1 < argc)
					rest[n++] = argv[++i];
				break;
			}
		}
	}
	rest[n] = NULL;
	*nrest = n;
	return PW_EXIT_OK;
}

/* ---- the loop ---- */

/*
 * A failure that repeats every interval is logged on its 1st, 2nd, 4th, 8th...
 * occurrence and whenever its error changes: a service must not flood the
 * journal, nor hide that it is still failing.
 */
struct streak {
	int n;
	int err;
};

static bool streak_log(struct streak *s, int err)
{
	bool log = s->n == 0 || err != s->err || !(s->n & (s->n + 1));

	s->n++;
	s->err = err;
	return log;
}

static bool proc_alive(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0;
}

static int render(const struct pw_snapshot *snap, const struct pw_prom_opts *po, char **buf,
		  size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int err;

	if (!f)
		return -errno;
	err = pw_prom_write(f, snap, po);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

struct exporter {
	struct export_opts xo;
	struct pw_cli cli;
	struct pw_tracer *tracer;
	struct pw_collector *coll;
	struct pw_tracker *tk; /* NULL with --once: no history, no trends */
	struct pw_drops own;   /* drops counted here: site table full, requested pid gone */
	bool *gone;	       /* per requested pid: its exit was reported */
	int ngone;
	struct streak scan_fail, write_fail;
};

/* One scan and one file. Returns 0, or -errno of what failed (already logged). */
static int export_once(struct exporter *ex)
{
	struct pw_prom_opts po = {.max_sites = ex->xo.max_sites, .version = PW_VERSION};
	struct pw_snapshot snap = {0};
	struct pw_drops total;
	double start = pw_mono_s();
	char *buf = NULL;
	size_t len = 0;
	uint64_t before;
	int err, i;

	err = pw_scan_once(ex->tracer, ex->coll, &snap);
	if (err) {
		if (ex->xo.once)
			pw_err("failed to scan tasks: %s", strerror(-err));
		else if (streak_log(&ex->scan_fail, err))
			pw_err("failed to scan tasks: %s (%d in a row; retrying)", strerror(-err),
			       ex->scan_fail.n);
		goto out;
	}
	ex->scan_fail.n = 0;
	if (ex->tk) {
		before = snap.drops.n[PW_DROP_SITE_TABLE];
		err = pw_tracker__update(ex->tk, &snap, start);
		if (err) {
			pw_err("failed to track sites: %s", strerror(-err));
			goto out;
		}
		/* The tracker adds this scan's overflow: the counter is ours to accumulate. */
		ex->own.n[PW_DROP_SITE_TABLE] += snap.drops.n[PW_DROP_SITE_TABLE] - before;
	}
	for (i = 0; i < ex->cli.npids; i++) {
		pid_t pid = ex->cli.pids[i];

		if (ex->gone[i] || pw_collector__saw_pid(ex->coll, pid) || proc_alive(pid))
			continue;
		ex->gone[i] = true;
		ex->ngone++;
		ex->own.n[PW_DROP_PROC_GONE]++;
		pw_err("pid %d exited; %s", pid,
		       ex->xo.once		   ? "reporting the rest"
		       : ex->ngone < ex->cli.npids ? "exporting the others"
						   : "none of the requested processes is left");
	}
	/* Collector and BPF counters are cumulative since they were created: add ours. */
	total = snap.drops;
	for (i = 0; i < PW_DROP_MAX; i++)
		total.n[i] += ex->own.n[i];
	po.drops = &total;
	po.scan_duration_s = pw_mono_s() - start;
	po.interval_s = !ex->xo.once || ex->cli.interval_set ? ex->cli.interval_s : 0;
	/* Stopping: the file in place is complete; exit promptly instead. */
	if (!ex->xo.once && pw_stop_requested())
		goto out;
	err = render(&snap, &po, &buf, &len);
	if (!err)
		err = pw_export_write_file(ex->xo.dir, PW_PROM_FILE, buf, len);
	if (err) {
		if (ex->xo.once)
			pw_err("failed to write %s/%s: %s", ex->xo.dir, PW_PROM_FILE,
			       strerror(-err));
		else if (streak_log(&ex->write_fail, err))
			pw_err("failed to write %s/%s: %s (%d in a row; keeping the previous file)",
			       ex->xo.dir, PW_PROM_FILE, strerror(-err), ex->write_fail.n);
	} else {
		ex->write_fail.n = 0;
	}
out:
	free(buf);
	pw_snapshot__free(&snap);
	return err;
}

int pw_cmd_export(int argc, char **argv)
{
	struct pw_session ss = {0};
	struct exporter ex = {.xo.max_sites = PW_PROM_DEFAULT_MAX_SITES};
	char **rest;
	int nrest, err, ret = PW_EXIT_FAIL;
	double t0, next;

	rest = calloc(argc + 1, sizeof(*rest));
	if (!rest) {
		pw_err("out of memory");
		return PW_EXIT_FAIL;
	}
	err = split_args(argc, argv, &ex.xo, rest, &nrest);
	if (!err)
		err = pw_cli_parse(nrest, rest, "export", usage, &ex.cli);
	free(rest);
	if (err)
		return err;
	if (ex.cli.json || ex.cli.folded) {
		pw_err("--json and --folded do not apply to export: it writes Prometheus text");
		return PW_EXIT_USAGE;
	}
	if (!ex.xo.dir) {
		pw_err("export needs --textfile-dir DIR (see 'parkwatch export --help')");
		return PW_EXIT_USAGE;
	}
	if (ex.xo.once && ex.cli.ages == PW_AGES_EXACT) {
		pw_err("--ages exact: --once times no park from its start (its ages are lower "
		       "bounds)");
		return PW_EXIT_USAGE;
	}
	if (!ex.cli.interval_set)
		ex.cli.interval_s = DEFAULT_INTERVAL_S;
	/* Before BPF: a service that cannot write should say so at once, not after a load. */
	err = probe_dir(ex.xo.dir);
	if (err) {
		pw_err("cannot write %s: %s", ex.xo.dir, strerror(-err));
		return PW_EXIT_FAIL;
	}
	if (pw_check_privileges(&ex.cli))
		return PW_EXIT_FAIL;
	ex.gone = calloc(ex.cli.npids + 1, sizeof(*ex.gone));
	if (!ex.gone) {
		pw_err("out of memory");
		return PW_EXIT_FAIL;
	}
	pw_install_stop_handlers();
	ex.cli.writes_files = true;
	/* One scan right after set-up, as a snapshot: no park of its own to time. */
	ex.cli.one_shot = ex.xo.once;
	if (pw_session__open(&ex.cli, false, &ss))
		goto out;
	ex.tracer = ss.tracer;
	ex.coll = ss.coll;
	if (!ex.xo.once) {
		err = pw_tracker__new(ex.cli.window_s, TRACKED_SITES, &ex.tk);
		if (err) {
			pw_err("failed to set up the site tracker: %s", strerror(-err));
			goto out;
		}
	}
	if (ex.xo.once) {
		err = export_once(&ex);
		/* Every requested pid vanished: nothing asked for was reported (as snapshot). */
		if (!err && !(ex.cli.npids && ex.ngone == ex.cli.npids))
			ret = PW_EXIT_OK;
		goto out;
	}
	t0 = pw_mono_s();
	next = t0;
	while (!pw_stop_requested()) {
		export_once(&ex);
		if (ex.cli.duration_s > 0 && pw_mono_s() - t0 + 1e-3 >= ex.cli.duration_s)
			break;
		next += ex.cli.interval_s;
		/* Behind schedule (a slow scan, a suspended VM): skip, never burst to catch up. */
		if (next < pw_mono_s())
			next = pw_mono_s();
		pw_sleep_until(next);
	}
	ret = PW_EXIT_OK;
out:
	pw_tracker__free(ex.tk);
	pw_session__close(&ss);
	free(ex.gone);
	return ret;
}
