/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the parsers of user/goruntime.c that read bytes a Go
 * binary chose: the pclntab (+ the funcdata blob its inline trees live in),
 * the build info blob and the x86 decoding of runtime.allgadd.
 *
 * Input: byte 0 picks the parser (% 4).
 *   0  bytes 1..4 = n (LE), then an n-byte pclntab, then the gofunc blob
 *   1  a .go.buildinfo section
 *   2  code of runtime.allgadd loaded at 0x401000
 *   3  a goroutine scan of "process memory": byte 1 = goroutine count (% 64),
 *      the rest is memory at 0xc000000000 (allgs points there), for the
 *      go1.19 binary $PW_FUZZ_GOBIN (default build/workloads/goseed-sw;
 *      without it this mode does nothing)
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *       -Iinclude -Iuser tests/fuzz/fuzz_gopclntab.c user/goruntime.c user/util.c \
 *       -ldw -lelf -lz -o /tmp/fuzz_gopclntab
 *   cp -r tests/fuzz/corpus/gopclntab /tmp/corpus-go
 *   /tmp/fuzz_gopclntab -max_total_time=30 /tmp/corpus-go
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "goruntime.h"

#define MEM_BASE 0xc000000000ULL

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Touch every byte of a returned string: ASan flags one that runs off its buffer. */
static size_t touch(const struct pw_frame *f, int n)
{
	size_t sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		sum += f[i].func ? strlen(f[i].func) : 0;
		sum += f[i].file ? strlen(f[i].file) : 0;
		if (!f[i].file && f[i].line)
			abort();
	}
	return sum;
}

static void lookups(const struct pw_gopclntab *t, uint64_t pc, volatile size_t *sink)
{
	struct pw_frame fr[PW_MAX_FRAMES];
	uint64_t e, end;
	int n, k;

	for (k = 0; k < 2; k++) {
		n = pw_gopclntab__lookup_raw(t, pc, k, fr, k ? 2 : PW_MAX_FRAMES);
		if (n > 0)
			*sink += touch(fr, n);
	}
	if (!pw_gopclntab__func_range(t, pc, &e, &end) && (e > pc || pc >= end))
		abort();
}

static void fuzz_pclntab(const uint8_t *d, size_t len)
{
	struct pw_gopclntab *t;
	volatile size_t sink = 0;
	uint64_t text, pcln, nfunc, i, e;
	size_t n;

	if (len < 4)
		return;
	n = rd32(d);
	d += 4;
	len -= 4;
	if (n > len)
		n = len;
	if (pw_gopclntab__new(d, n, 0, &t))
		return;
	if (pw_gopclntab__set_gofunc(t, d + n, len - n))
		abort();
	/* Where the functions are, read the way the runtime does (bounds checked here). */
	text = rd64(d + 24);
	pcln = rd64(d + 64);
	nfunc = pw_gopclntab__nfunc(t);
	for (i = 0; i <= nfunc && i < 64 && pcln + 8 * i + 8 <= n; i++) {
		uint64_t entry = text + rd32(d + pcln + 8 * i);

		lookups(t, entry, &sink);
		lookups(t, entry + 1, &sink);
		lookups(t, entry + 0x33, &sink);
		lookups(t, entry - 1, &sink);
	}
	lookups(t, 0, &sink);
	lookups(t, ~0ULL, &sink);
	if (pw_gopclntab__find_func(t, "main.handle.func1", &e) == 0)
		lookups(t, e, &sink);
	pw_gopclntab__free(t);
}

static struct {
	const uint8_t *mem;
	size_t len;
	uint64_t ngs;
	const struct pw_go_info *info;
} fm;

/* The runtime's list variables say: ngs goroutines, array at MEM_BASE; the rest is the input. */
static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	uint64_t hdr[3] = {MEM_BASE, fm.ngs, fm.ngs};

	if (fm.info && addr == fm.info->allgs && len <= sizeof(hdr)) {
		memcpy(buf, hdr, len);
		return 0;
	}
	if (fm.info && (addr == fm.info->allglen || addr == fm.info->allgptr) && len == 8) {
		memcpy(buf, addr == fm.info->allglen ? &hdr[1] : &hdr[0], 8);
		return 0;
	}
	if (addr < MEM_BASE || addr - MEM_BASE > fm.len || len > fm.len - (addr - MEM_BASE))
		return -EFAULT;
	memcpy(buf, fm.mem + (addr - MEM_BASE), len);
	return 0;
}

static void fuzz_scan(const uint8_t *d, size_t len)
{
	static struct pw_go_proc *p;
	static bool tried;
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	volatile size_t sink = 0;
	int n, i;

	if (!tried) {
		const char *bin = getenv("PW_FUZZ_GOBIN");
		struct pw_go_binary *b;

		tried = true;
		bin = bin ? bin : "build/workloads/goseed-sw";
		if (pw_go_binary__open(bin, &b, NULL, 0))
			return;
		fm.info = pw_go_binary__info(b);
		if (pw_go_proc__new_from(bin, 0, fake_read, NULL, &p, NULL, 0))
			p = NULL;
		/* Its own copy of the info outlives b: keep b for the process's life. */
	}
	if (!p || !len)
		return;
	fm.ngs = d[0] % 64;
	fm.mem = d + 1;
	fm.len = len - 1;
	if (pw_go_proc__scan(p, &g, &n, &st))
		return;
	for (i = 0; i < n; i++) {
		if (g[i].nframes < 1 || g[i].nframes > PW_MAX_FRAMES)
			abort();
		sink += touch(g[i].frames, g[i].nframes);
		sink += g[i].wait_reason ? strlen(g[i].wait_reason) : 0;
	}
	free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char version[64];
	uint64_t a, l, p;

	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_pclntab(data + 1, size - 1);
		break;
	case 1:
		if (!pw_go_buildinfo_parse(data + 1, size - 1, version, sizeof(version)) &&
		    strlen(version) >= sizeof(version))
			abort();
		break;
	case 2:
		if (!pw_go_decode_allgadd(data + 1, size - 1, 0x401000, &a, &l, &p) && !a)
			abort();
		break;
	default:
		fuzz_scan(data + 1, size - 1);
		break;
	}
	return 0;
}
