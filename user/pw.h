/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Userspace-only types shared by the modules of user/. */
#ifndef PW_H
#define PW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define PW_MAX_FRAMES 64

/*
 * A symbolized user frame. Strings are interned (pw_intern) and live as long
 * as the program: frames can be copied by value. Unknown stays unknown:
 * func/file are NULL and line is 0 when they cannot be known.
 */
struct pw_frame {
	uint64_t addr;	    /* absolute pc in the process */
	uint64_t offset;    /* file offset-relative address inside module (for ids) */
	const char *module; /* path as mapped in the process, NULL if unmapped */
	const char *func;   /* symbol name, NULL when unknown */
	uint64_t func_off;  /* addr - symbol start, valid when func != NULL */
	const char *file;   /* source file, NULL when unknown */
	int line;	    /* 0 when unknown */
	bool inlined;	    /* an inlined call inside the next (outer) frame */
	bool dynsym_only;   /* func is only the nearest dynamic symbol (stripped) */
};

enum pw_kind {
	PW_KIND_THREAD = 0,
	PW_KIND_GOROUTINE = 1,
};

/* --goroutines: read the goroutines of Go processes. */
enum pw_go_mode {
	PW_GO_AUTO = 0, /* Go binaries; one line only for a Go binary we cannot read */
	PW_GO_ON,	/* also one line for each scanned process that is not Go */
	PW_GO_OFF,
};

/* Named drop counters; every output format shows all of them. */
enum pw_drop {
	PW_DROP_TASK_STORAGE = 0, /* BPF task storage could not be created */
	PW_DROP_FUTEX_MAP,	  /* per-word futex map full */
	PW_DROP_USER_STACK,	  /* user stack copy failed in BPF */
	PW_DROP_KERNEL_STACK,	  /* kernel stack read failed in BPF */
	PW_DROP_SCAN_RECORD,	  /* iterator record lost (seq buffer) */
	PW_DROP_UNWIND,		  /* user stack could not be unwound past frame 0 */
	PW_DROP_MODULE,		  /* a mapped binary could not be read */
	PW_DROP_PROC_GONE,	  /* process exited during the scan */
	PW_DROP_SITE_TABLE,	  /* site table full */
	PW_DROP_GO_PROC,	  /* a Go process whose goroutines could not be read */
	PW_DROP_GOROUTINE,	  /* a goroutine that could not be read consistently */
	PW_DROP_MAX,
};

const char *pw_drop_name(enum pw_drop d);

struct pw_drops {
	uint64_t n[PW_DROP_MAX];
};

struct pw_site {
	uint64_t id; /* stable: hash of pid, kind, wait and frame module+offsets */
	enum pw_kind kind;
	int pid;
	int ns_pid; /* pid in the process's own namespace (== pid on the host) */
	char comm[16];
	const char *wait;  /* "futex", "nanosleep", "read", "chan send", ... */
	const char *label; /* first frame outside libc/ld.so/Go runtime, or NULL */
	const char *label_file;
	int label_line;
	struct pw_frame *frames; /* innermost first */
	int nframes;
	const char **kframes; /* kernel symbol names, innermost first */
	int nkframes;
	int count;
	int futex_words;      /* distinct futex addresses, 0 when not a futex wait */
	const char *futex_op; /* e.g. "FUTEX_WAIT_BITSET|PRIVATE", NULL when not a futex wait */
	int timed_waits;      /* members whose wait has a timeout (from the saved arguments) */
	/* With --futex-events: waits and wakes seen on the site's words since attach. */
	bool has_futex_counts;
	uint64_t futex_waits, futex_wakes;
	double oldest_age_s;
	double median_age_s;
	bool age_is_lower_bound; /* the oldest age is a lower bound */
	/* Trend fields; has_trend false in a one-shot snapshot (JSON null). */
	bool has_trend;
	double growth_per_min;
	const char *trend; /* "rising" | "flat" | "falling" */
	bool leak_suspect;
	/* The verdict's evidence, so users can judge (watch/top/export). */
	double envelope_growth_per_min; /* slope of the count's lower envelope */
	double rise_coverage;		/* fraction of the window the rise covers, 0..1 */
	double trend_span_s;		/* time covered by the samples used */
	int trend_samples;
};

struct pw_snapshot {
	double time;	   /* unix seconds, UTC */
	double elapsed_s;  /* since the run started */
	double interval_s; /* 0 for a one-shot snapshot */
	uint64_t parked_threads;
	uint64_t parked_goroutines;
	struct pw_drops drops;
	struct pw_site *sites;
	int nsites;
};

/* Interned strings: returns a pointer that stays valid until exit. */
const char *pw_intern(const char *s);

#endif /* PW_H */
