// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cli.h"
#include "util.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

enum {
	OPT_FUTEX_EVENTS = 256,
	OPT_NO_FUTEX_EVENTS,
	OPT_FRAMES,
	OPT_FUTEX_WORDS,
	OPT_GOROUTINES,
	OPT_AGES,
};

static int add_pids(struct pw_cli *cli, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	long v;

	if (!copy)
		return PW_EXIT_FAIL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (pw_parse_int(tok, 1, 4194304, &v)) {
			pw_err("invalid pid '%s': expected a number from 1 to 4194304", tok);
			free(copy);
			return PW_EXIT_USAGE;
		}
		if (cli->npids == PW_MAX_PIDS) {
			pw_err("too many pids (at most %d)", PW_MAX_PIDS);
			free(copy);
			return PW_EXIT_USAGE;
		}
		cli->pids[cli->npids++] = v;
	}
	free(copy);
	return PW_EXIT_OK;
}

int pw_cli_parse(int argc, char **argv, const char *cmd, const char *usage, struct pw_cli *cli)
{
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"comm", required_argument, NULL, 'c'},
		{"min-age", required_argument, NULL, 'm'},
		{"interval", required_argument, NULL, 'i'},
		{"duration", required_argument, NULL, 'd'},
		{"window", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},
		{"folded", no_argument, NULL, 'f'},
		{"futex-events", no_argument, NULL, OPT_FUTEX_EVENTS},
		{"no-futex-events", no_argument, NULL, OPT_NO_FUTEX_EVENTS},
		{"frames", required_argument, NULL, OPT_FRAMES},
		{"futex-words", required_argument, NULL, OPT_FUTEX_WORDS},
		{"goroutines", required_argument, NULL, OPT_GOROUTINES},
		{"ages", required_argument, NULL, OPT_AGES},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	int opt, err, i;
	long v;

	memset(cli, 0, sizeof(*cli));
	cli->min_age_s = 1.0;
	cli->max_frames = 4;
	cli->interval_s = 1.0;
	cli->window_s = 300.0;
	/* 0, not 1: glibc's full reset, even after a parse that stopped inside "-abc" */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:c:m:i:d:w:jfvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			err = add_pids(cli, optarg);
			if (err)
				return err;
			break;
		case 'c':
			cli->comm = optarg;
			break;
		case 'm':
			if (pw_parse_duration(optarg, &cli->min_age_s)) {
				pw_err("invalid --min-age '%s': expected a duration like 500ms, "
				       "2s, 5m",
				       optarg);
				return PW_EXIT_USAGE;
			}
			break;
		case 'i':
		case 'd':
		case 'w': {
			const char *name = opt == 'i'	? "--interval"
					   : opt == 'd' ? "--duration"
							: "--window";
			double *dst = opt == 'i'   ? &cli->interval_s
				      : opt == 'd' ? &cli->duration_s
						   : &cli->window_s;

			if (pw_parse_duration(optarg, dst) || (opt != 'd' && *dst < 0.01)) {
				pw_err("invalid %s '%s': expected a duration like 500ms, 2s, 5m",
				       name, optarg);
				return PW_EXIT_USAGE;
			}
			if (opt == 'i')
				cli->interval_set = true;
			break;
		}
		case 'j':
			cli->json = true;
			break;
		case 'f':
			cli->folded = true;
			break;
		case OPT_FUTEX_EVENTS:
			cli->futex_events = true;
			break;
		case OPT_NO_FUTEX_EVENTS:
			cli->futex_events = false;
			break;
		case OPT_FRAMES:
			if (pw_parse_int(optarg, 0, 64, &v)) {
				pw_err("invalid --frames '%s': expected 0 to 64", optarg);
				return PW_EXIT_USAGE;
			}
			cli->max_frames = v;
			break;
		case OPT_FUTEX_WORDS:
			if (pw_parse_int(optarg, 1, 1 << 24, &v)) {
				pw_err("invalid --futex-words '%s': expected 1 to 16777216",
				       optarg);
				return PW_EXIT_USAGE;
			}
			cli->futex_words = v;
			break;
		case OPT_GOROUTINES:
			if (!strcmp(optarg, "auto")) {
				cli->goroutines = PW_GO_AUTO;
			} else if (!strcmp(optarg, "on")) {
				cli->goroutines = PW_GO_ON;
			} else if (!strcmp(optarg, "off")) {
				cli->goroutines = PW_GO_OFF;
			} else {
				pw_err("invalid --goroutines '%s': expected auto, on or off",
				       optarg);
				return PW_EXIT_USAGE;
			}
			break;
		case OPT_AGES:
			if (!strcmp(optarg, "exact")) {
				cli->ages = PW_AGES_EXACT;
			} else if (!strcmp(optarg, "bound")) {
				cli->ages = PW_AGES_BOUND;
			} else {
				pw_err("invalid --ages '%s': expected exact or bound", optarg);
				return PW_EXIT_USAGE;
			}
			break;
		case 'v':
			cli->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(PW_EXIT_OK);
		case ':':
			pw_err("option '%s' needs a value (see 'parkwatch %s --help')",
			       argv[optind - 1], cmd);
			return PW_EXIT_USAGE;
		default:
			pw_err("unknown option '%s' (see 'parkwatch %s --help')", argv[optind - 1],
			       cmd);
			return PW_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pw_err("unexpected argument '%s' (see 'parkwatch %s --help')", argv[optind], cmd);
		return PW_EXIT_USAGE;
	}
	if (cli->json && cli->folded) {
		pw_err("--json and --folded are exclusive: pick one output format");
		return PW_EXIT_USAGE;
	}
	for (i = 0; i < cli->npids; i++) {
		char path[32];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d", cli->pids[i]);
		if (stat(path, &st)) {
			pw_err("no process with pid %d", cli->pids[i]);
			return PW_EXIT_FAIL;
		}
	}
	return PW_EXIT_OK;
}

static bool has_cap(const struct __user_cap_data_struct data[2], int c)
{
	return data[c / 32].effective & (1U << (c % 32));
}

int pw_check_privileges(const struct pw_cli *cli)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{CAP_BPF, "CAP_BPF"},
		{CAP_PERFMON, "CAP_PERFMON"},
		/* read other users' /proc/PID/mem and /proc/PID/root */
		{CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
		/* /proc/PID/map_files (deleted binaries); CAP_SYS_ADMIN also opens them */
		{CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE"},
		/* without it /proc/kallsyms reads as zeros: kernel frames would be bare addresses
		 */
		{CAP_SYSLOG, "CAP_SYSLOG"},
	};
	char missing[128] = "";
	size_t i;

	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the load itself fail with its own reason */
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		int c = need[i].cap;

		if (c == CAP_CHECKPOINT_RESTORE && has_cap(data, CAP_SYS_ADMIN))
			continue;
		if (!has_cap(data, c)) {
			if (missing[0])
				strncat(missing, ", ", sizeof(missing) - strlen(missing) - 1);
			strncat(missing, need[i].name, sizeof(missing) - strlen(missing) - 1);
		}
	}
	if (!missing[0])
		return 0;
	pw_err("missing %s (run with sudo)", missing);
	return -EPERM;
}

int pw_drop_privileges(bool keep_dac_override)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {}, keep[2] = {};
	/*
	 * What scans still need once BPF is loaded and attached and the kernel
	 * symbols file is open (kallsyms decided at open time what it shows):
	 * bpf() for the iterator and the maps, ptrace access to read processes'
	 * memory, binaries and map_files, and reading files of other users.
	 */
	int want[] = {CAP_BPF,	     CAP_SYS_PTRACE,  CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH,
		      CAP_SYS_ADMIN, CAP_DAC_OVERRIDE};
	size_t i;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int c = want[i];

		/* map_files: CAP_SYS_ADMIN only where there is no CAP_CHECKPOINT_RESTORE. */
		if (c == CAP_SYS_ADMIN && has_cap(data, CAP_CHECKPOINT_RESTORE))
			continue;
		/* Writing a textfile into a directory another user owns (export). */
		if (c == CAP_DAC_OVERRIDE && !keep_dac_override)
			continue;
		if (has_cap(data, c)) {
			keep[c / 32].effective |= 1U << (c % 32);
			keep[c / 32].permitted |= 1U << (c % 32);
		}
	}
	/* Gone from the permitted set too, and no exec can bring them back. */
	if (syscall(SYS_capset, &hdr, keep))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
