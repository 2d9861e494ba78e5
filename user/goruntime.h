/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Goroutines of a live Go process, read from outside without stopping it
 * (DESIGN.md §4 "Go"): the runtime's goroutine list (runtime.allgs), each
 * goroutine's status, wait reason, waitsince and saved registers, the stacks
 * of the parked ones walked through Go's frame pointers and symbolized with
 * the binary's own .gopclntab (inlined calls included).
 *
 * Where things come from:
 *  - "is this Go": the build info blob ("\xff Go buildinf:", .go.buildinfo),
 *    which also names the toolchain release;
 *  - struct layouts (runtime.g, runtime.gobuf, runtime.stack): the binary's
 *    DWARF when present, else a table per Go release read from that
 *    release's runtime source (only releases listed in
 *    pw_go_supported_releases);
 *  - runtime.allgs/allglen/allgptr: .symtab when present, else decoded from
 *    the RIP-relative operands of runtime.allgadd's first instructions
 *    (.gopclntab names every function even under -ldflags='-s -w');
 *  - wait reason strings: the binary's runtime.waitReasonStrings when it has
 *    a symbol table, else the release's table.
 *
 * Every parser here is fed bytes another program chose (the binary, the
 * target's memory): all of them bound every read and fail with -errno.
 * Not thread-safe (pw_intern is not).
 */
#ifndef PW_GORUNTIME_H
#define PW_GORUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pw.h"

/* The runtime's goroutine states (runtime2.go, stable since Go 1.14). */
#define PW_G_IDLE 0
#define PW_G_RUNNABLE 1
#define PW_G_RUNNING 2
#define PW_G_SYSCALL 3
#define PW_G_WAITING 4
#define PW_G_DEAD 6
#define PW_G_COPYSTACK 8
#define PW_G_PREEMPTED 9
#define PW_G_SCAN 0x1000 /* or'ed in while the GC scans the stack */

/* Releases with a built-in layout table, for binaries without DWARF (-w). */
extern const char *const pw_go_supported_releases[];

struct pw_go_proc;
struct pw_go_binary;
struct pw_gopclntab;

struct pw_goroutine {
	uint64_t goid;
	uint32_t status;	 /* runtime _G* value as read (may carry PW_G_SCAN) */
	const char *wait_reason; /* interned (pw_intern), NULL if none */
	/*
	 * g.waitsince in the scanning process's CLOCK_MONOTONIC ns, 0 when the
	 * runtime has not set it. It is the runtime's own approximation of when
	 * the goroutine blocked (what a traceback's "[chan send, 5 minutes]"
	 * shows): the first GC cycle that finds it blocked stamps it with the
	 * start of the previous cycle's mark termination (mgcmark.go markroot,
	 * mgc.go gcMark; still 0 during the process's first GC), and running
	 * clears it (proc.go execute). So it is unset until a GC has looked,
	 * and off by up to one GC interval either way: an estimate, not a
	 * bound (forcegc runs a GC at least every 2 minutes).
	 */
	int64_t waitsince_ns;
	uint64_t pc, sp, bp; /* g.sched */
	/*
	 * Innermost first: frames[0] is inside runtime.gopark. module = the
	 * executable's path as the process sees it; func/file/line from
	 * .gopclntab; inlined = an inlined call inside the next frame. Shared by
	 * all goroutines of the scan with the same stack (same stack_id), owned
	 * by the pw_go_proc: valid until its next scan or free. (Tens of
	 * thousands of leaked goroutines share a handful of stacks; a copy each
	 * would cost 4.6 KiB per goroutine.)
	 */
	const struct pw_frame *frames;
	int nframes;
	uint32_t stack_id;   /* equal within one scan <=> identical pcs */
	bool stack_complete; /* the walk reached runtime.goexit (or PW_MAX_FRAMES) */
	uint64_t gopc;	     /* pc of the go statement that created it */
	uint64_t startpc;    /* its start function */
};

struct pw_go_stats {
	uint64_t retries;	/* goroutine list or a goroutine changed under us: re-read */
	uint64_t bad_g;		/* g pointers or g contents that failed validation: skipped */
	uint64_t read_errors;	/* remote reads that failed */
	uint64_t unwind_errors; /* stacks whose frame-pointer chain broke before goexit */
	uint64_t goroutines;	/* live goroutines seen (all states, system ones included) */
	uint64_t system;	/* parked goroutines left out as the runtime's own */
};

/*
 * Attaches to pid: reads /proc/PID/exe (the binary the process runs, even in
 * another mount namespace or deleted), checks it is a supported Go binary,
 * finds the runtime's data in it and reads the goroutine list's header once.
 * Costs a few ms (the pclntab is copied, DWARF read when present): keep one
 * per process. Returns 0; -ENOTSUP when the binary is not Go (or there is
 * none: a kernel thread); -EPROTONOSUPPORT when it is Go but not a supported
 * release; -ESRCH when the process is gone; -EPERM
 * when its memory may not be read; other -errno when it is unreadable or
 * corrupt. errbuf gets a one-line reason on failure (may be NULL).
 */
int pw_go_proc__new(pid_t pid, struct pw_go_proc **out, char *errbuf, size_t errlen);
/* "go1.19.8", from the build info. */
const char *pw_go_proc__version(const struct pw_go_proc *p);
/*
 * Parked goroutines: _Gwaiting, the runtime's own (system goroutines, as
 * pprof's goroutine profile leaves them out) excluded. *out is malloc'd
 * (NULL when *n == 0), the caller frees it. st (may be NULL) is added to.
 * Returns 0 (even when some goroutines could not be read: see st), -ESRCH
 * when the process is gone, other -errno when its goroutine list cannot be
 * read at all.
 */
int pw_go_proc__scan(struct pw_go_proc *p, struct pw_goroutine **out, int *n,
		     struct pw_go_stats *st);
void pw_go_proc__free(struct pw_go_proc *p);

/*
 * Memory of a process that is not live (tests, fuzzing): read len bytes at
 * the target's address addr into buf; 0 or -errno (-EFAULT for unmapped).
 */
typedef int (*pw_go_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
/*
 * Like pw_go_proc__new but for the binary at path, loaded with bias
 * (runtime address - link address), its memory read through read(ctx).
 * waitsince is reported unconverted.
 */
int pw_go_proc__new_from(const char *path, uint64_t bias, pw_go_read_fn read, void *ctx,
			 struct pw_go_proc **out, char *errbuf, size_t errlen);

/* What a Go binary says about itself. Addresses are link-time (bias 0). */
struct pw_go_layout {
	/* Offsets in runtime.g; sched_* are g.sched.{sp,pc,bp} (gobuf offset included). */
	uint32_t stack_lo, stack_hi, sched_sp, sched_pc, sched_bp;
	uint32_t status, goid, waitsince, waitreason, gopc, startpc;
	uint8_t status_size, waitreason_size; /* bytes: 4 and 1 in Go 1.19 */
	uint32_t size;			      /* bytes worth reading: past the last field used */
	bool from_dwarf;		      /* else the release table */
};

struct pw_go_info {
	char version[64];	/* "go1.19.8" */
	uint64_t text, etext;	/* runtime.text .. runtime.etext */
	uint64_t pclntab;	/* pcHeader */
	uint64_t moduledata;	/* runtime.firstmoduledata, 0 if not found */
	uint64_t gofunc;	/* moduledata.gofunc: base of funcdata, 0 if unknown */
	uint64_t allgs;		/* runtime.allgs slice header (ptr, len, cap) */
	uint64_t allglen;	/* runtime.allglen, 0 if unknown */
	uint64_t allgptr;	/* runtime.allgptr, 0 if unknown */
	bool allgs_from_symtab; /* else decoded from runtime.allgadd */
	bool has_symtab, has_dwarf;
	struct pw_go_layout layout;
	const char *const *wait_reasons; /* index = runtime waitReason; interned */
	int nwait_reasons;
	bool wait_reasons_from_binary; /* runtime.waitReasonStrings, else the release table */
};

/* Opens and analyses a Go executable file; errors as pw_go_proc__new. */
int pw_go_binary__open(const char *path, struct pw_go_binary **out, char *errbuf, size_t errlen);
const struct pw_go_info *pw_go_binary__info(const struct pw_go_binary *b);
const struct pw_gopclntab *pw_go_binary__pclntab(const struct pw_go_binary *b);
void pw_go_binary__free(struct pw_go_binary *b);

/* Pure parsers, exposed for unit tests and fuzzing. */

/*
 * Finds the build info blob in data (the .go.buildinfo section, or the start
 * of the first writable segment) and copies the Go version into version.
 * 0; -ENOTSUP if there is no blob; -ENOEXEC if it is malformed or stores its
 * strings out of line (Go < 1.18: the ELF reader resolves those itself);
 * -ENOSPC if vlen is too small.
 */
int pw_go_buildinfo_parse(const void *data, size_t len, char *version, size_t vlen);

/*
 * Parses a pclntab blob (Go 1.18+ format, as found in .gopclntab or through
 * moduledata.pcHeader); the blob is copied. text_start: runtime.text in the
 * address space lookups will use, 0 to take the header's. 0, -ENOEXEC
 * (malformed or unsupported format), -ENOMEM.
 */
int pw_gopclntab__new(const void *data, size_t len, uint64_t text_start, struct pw_gopclntab **out);
/*
 * Funcdata (inline trees) live outside the pclntab, at offsets from
 * moduledata.gofunc: data is a copy of the image from gofunc on (len bytes).
 * Without it lookups still work but do not expand inlined calls.
 */
int pw_gopclntab__set_gofunc(struct pw_gopclntab *t, const void *data, size_t len);
/*
 * The frames of pc, innermost first: the inlined calls (inlined = true) then
 * the real function. is_return_addr: pc follows a call; look up pc - 1. Sets
 * addr = offset = pc, module = NULL. Returns frames written (>= 1), -ENOENT
 * when pc is in no function, -EINVAL on bad arguments. When max is too small
 * the innermost inlined frames are dropped, so the real function stays.
 */
int pw_gopclntab__lookup(const struct pw_gopclntab *t, uint64_t pc, bool is_return_addr,
			 struct pw_frame *out, int max);
/* Like pw_gopclntab__lookup, strings pointing into t (valid until it is freed): for fuzzing. */
int pw_gopclntab__lookup_raw(const struct pw_gopclntab *t, uint64_t pc, bool is_return_addr,
			     struct pw_frame *out, int max);
/* Entry address of the function named name: 0 or -ENOENT. */
int pw_gopclntab__find_func(const struct pw_gopclntab *t, const char *name, uint64_t *entry);
/* [entry, end) of the function containing pc: 0 or -ENOENT. */
int pw_gopclntab__func_range(const struct pw_gopclntab *t, uint64_t pc, uint64_t *entry,
			     uint64_t *end);
/* Functions in the table. */
uint64_t pw_gopclntab__nfunc(const struct pw_gopclntab *t);
void pw_gopclntab__free(struct pw_gopclntab *t);

/*
 * Decodes the x86-64 code of runtime.allgadd (len bytes loaded at addr) and
 * finds the addresses of runtime.allgs (the slice whose ptr, len and cap
 * words are all addressed), runtime.allgptr and runtime.allglen (the two
 * words stored with XCHG, in that order). 0, or -ENOENT when the code does
 * not have that shape; allglen/allgptr are 0 when not found.
 */
int pw_go_decode_allgadd(const void *code, size_t len, uint64_t addr, uint64_t *allgs,
			 uint64_t *allglen, uint64_t *allgptr);

#endif /* PW_GORUNTIME_H */
