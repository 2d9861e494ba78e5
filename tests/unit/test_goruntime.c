/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * user/goruntime.c: build info, pclntab, moduledata and allgs discovery on
 * the Go workload built three ways (plain, -ldflags=-w, -ldflags='-s -w'),
 * hostile copies of them, scans of synthetic and garbage "process memory",
 * and one scan of a live child.
 *
 * The binaries come from $(OUTPUT)/workloads/goseed* when `make` built them,
 * else they are built here with `go build` into a temporary directory. Without
 * Go the tests that need them skip, except in CI (CI=true) where they fail.
 */
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "goruntime.h"
#include "sitelabel.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "tests"
#endif
#ifndef TEST_BUILDDIR
#define TEST_BUILDDIR "build"
#endif
#define SEED_DIR TEST_SRCDIR "/workloads/go/seed"

enum { PLAIN, NODWARF, STRIPPED, NBINS };
static const char *const suffix[NBINS] = {"", "-w", "-sw"};
static const char *const ldflags[NBINS] = {"", "-w", "-s -w"};
static char bins[NBINS][512];
static char tmpdir[64];
static bool have_bins;

/* ---- helpers ---- */

static bool file_exists(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

static int group_setup(void **state)
{
	char cmd[8192];
	const char *cache = getenv("GOCACHE");
	int i, ok = 0;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pw-gotest.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	for (i = 0; i < NBINS; i++) {
		snprintf(bins[i], sizeof(bins[i]), TEST_BUILDDIR "/workloads/goseed%s", suffix[i]);
		ok += file_exists(bins[i]);
	}
	if (ok == NBINS) {
		have_bins = true;
		return 0;
	}
	if (system("command -v go >/dev/null 2>&1"))
		return 0;
	for (i = 0; i < NBINS; i++) {
		snprintf(bins[i], sizeof(bins[i]), "%s/goseed%s", tmpdir, suffix[i]);
		/* Build caches stay out of the repository. */
		if (snprintf(cmd, sizeof(cmd),
			     "cd %s && GOCACHE=%s GOPATH=%s/gopath GO111MODULE=off GOFLAGS= "
			     "go build -ldflags='%s' -o %s . >&2",
			     SEED_DIR, cache ? cache : "/tmp/pw-gocache", tmpdir, ldflags[i],
			     bins[i]) >= (int)sizeof(cmd) ||
		    system(cmd))
			return 0;
	}
	have_bins = true;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	/* Not system("rm -rf"): the tests may run with any PATH. */
	if (tmpdir[0] && nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
		return -1;
	return 0;
}

static void need_bins(void)
{
	const char *ci = getenv("CI");

	if (have_bins)
		return;
	if (ci && !strcmp(ci, "true"))
		fail_msg("Go workload binaries missing and go cannot build them (CI)");
	skip();
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A section's address, file offset and a copy of its bytes. */
static uint8_t *section(const char *path, const char *name, uint64_t *addr, uint64_t *off,
			size_t *len)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	uint8_t *copy = NULL;
	size_t shstr;
	Elf *e;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstr), 0);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		assert_non_null(gelf_getshdr(scn, &sh));
		if (strcmp(elf_strptr(e, shstr, sh.sh_name), name))
			continue;
		d = elf_rawdata(scn, NULL);
		assert_non_null(d);
		copy = malloc(d->d_size);
		assert_non_null(copy);
		memcpy(copy, d->d_buf, d->d_size);
		*len = d->d_size;
		if (addr)
			*addr = sh.sh_addr;
		if (off)
			*off = sh.sh_offset;
		break;
	}
	elf_end(e);
	close(fd);
	return copy;
}

/* A .symtab symbol's value, 0 if absent. */
static uint64_t symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	uint64_t v = 0;
	Elf *e;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < d->d_size / sizeof(Elf64_Sym); i++) {
			GElf_Sym s;

			if (gelf_getsym(d, (int)i, &s) &&
			    !strcmp(elf_strptr(e, sh.sh_link, s.st_name), name))
				v = s.st_value;
		}
	}
	elf_end(e);
	close(fd);
	return v;
}

/* The line of main.go holding text (the workload is the test's oracle). */
static int seed_line(const char *text)
{
	FILE *f = fopen(SEED_DIR "/main.go", "r");
	char buf[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		n++;
		if (strstr(buf, text)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	fail_msg("%s not in main.go", text);
	return 0;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suf);

	return s && a >= b && !strcmp(s + a - b, suf);
}

/* Deterministic PRNG (xorshift64*): failures reproduce. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static struct pw_go_binary *open_bin(int which)
{
	struct pw_go_binary *b = NULL;
	char err[256] = "";
	int rc = pw_go_binary__open(bins[which], &b, err, sizeof(err));

	if (rc)
		fail_msg("%s: %d %s", bins[which], rc, err);
	return b;
}

static uint64_t func_entry(const struct pw_gopclntab *t, const char *name)
{
	uint64_t e = 0;

	assert_int_equal(pw_gopclntab__find_func(t, name, &e), 0);
	return e;
}

/* Every string a lookup returns must be readable: strlen would fault otherwise. */
static void check_frames(const struct pw_frame *f, int n)
{
	int i;

	assert_true(n >= 1 && n <= PW_MAX_FRAMES);
	for (i = 0; i < n; i++) {
		if (f[i].func)
			assert_true(strlen(f[i].func) < 1 << 20);
		if (f[i].file)
			assert_true(strlen(f[i].file) < 1 << 20);
		else
			assert_int_equal(f[i].line, 0);
	}
}

/* ---- build info ---- */

static void test_buildinfo_binaries(void **state)
{
	char v[NBINS][64];
	int i;

	need_bins();
	for (i = 0; i < NBINS; i++) {
		struct pw_go_binary *b = open_bin(i);
		size_t len;
		uint8_t *d = section(bins[i], ".go.buildinfo", NULL, NULL, &len);

		assert_non_null(d);
		assert_int_equal(pw_go_buildinfo_parse(d, len, v[i], sizeof(v[i])), 0);
		assert_true(!strncmp(v[i], "go1.19", 6));
		assert_string_equal(pw_go_binary__info(b)->version, v[i]);
		assert_int_equal(pw_go_buildinfo_parse(d, len, v[i], 4), -ENOSPC);
		assert_int_equal(pw_go_buildinfo_parse(d, len, v[i], sizeof(v[i])), 0);
		free(d);
		pw_go_binary__free(b);
	}
	assert_string_equal(v[PLAIN], v[STRIPPED]);
}

static void test_buildinfo_synthetic(void **state)
{
	uint8_t blob[128];
	char v[32];

	memset(blob, 0, sizeof(blob));
	memcpy(blob + 16, "\xff Go buildinf:", 14);
	blob[16 + 14] = 8;
	blob[16 + 15] = 2;
	blob[48] = 8;
	memcpy(blob + 49, "go1.19.8", 8);
	assert_int_equal(pw_go_buildinfo_parse(blob, sizeof(blob), v, sizeof(v)), 0);
	assert_string_equal(v, "go1.19.8");
	/* The blob is 16-byte aligned: a copy at offset 8 is not one. */
	assert_int_equal(pw_go_buildinfo_parse(blob + 8, sizeof(blob) - 8, v, sizeof(v)), -ENOTSUP);
	/* Header cut short. */
	assert_int_equal(pw_go_buildinfo_parse(blob, 40, v, sizeof(v)), -ENOTSUP);
	/* Length past the end, unterminated varint, control characters, empty. */
	assert_int_equal(pw_go_buildinfo_parse(blob, 52, v, sizeof(v)), -ENOEXEC);
	blob[48] = 0x80;
	assert_int_equal(pw_go_buildinfo_parse(blob, 49, v, sizeof(v)), -ENOEXEC);
	blob[48] = 8;
	blob[50] = '\n';
	assert_int_equal(pw_go_buildinfo_parse(blob, sizeof(blob), v, sizeof(v)), -ENOEXEC);
	blob[50] = 'o';
	blob[48] = 0;
	assert_int_equal(pw_go_buildinfo_parse(blob, sizeof(blob), v, sizeof(v)), -ENOEXEC);
	blob[48] = 8;
	/* Go < 1.18: pointers, not strings; a bad pointer size. */
	blob[16 + 15] = 0;
	assert_int_equal(pw_go_buildinfo_parse(blob, sizeof(blob), v, sizeof(v)), -ENOEXEC);
	blob[16 + 15] = 2;
	blob[16 + 14] = 3;
	assert_int_equal(pw_go_buildinfo_parse(blob, sizeof(blob), v, sizeof(v)), -ENOEXEC);
	assert_int_equal(pw_go_buildinfo_parse(NULL, 0, v, sizeof(v)), -EINVAL);
	assert_int_equal(pw_go_buildinfo_parse("", 0, v, sizeof(v)), -ENOTSUP);
}

/* ---- what the binaries say about themselves ---- */

static void test_binary_info(void **state)
{
	const struct pw_go_info *in[NBINS];
	struct pw_go_binary *b[NBINS];
	int i, k;

	need_bins();
	for (i = 0; i < NBINS; i++) {
		b[i] = open_bin(i);
		in[i] = pw_go_binary__info(b[i]);
		assert_true(in[i]->text && in[i]->etext > in[i]->text);
		assert_true(in[i]->moduledata && in[i]->gofunc && in[i]->pclntab);
		assert_true(in[i]->allgs && in[i]->allglen && in[i]->allgptr);
		assert_true(in[i]->nwait_reasons > 20);
		assert_string_equal(in[i]->wait_reasons[15], "chan send");
	}
	assert_true(in[PLAIN]->has_symtab && in[PLAIN]->has_dwarf);
	assert_true(in[NODWARF]->has_symtab && !in[NODWARF]->has_dwarf);
	assert_true(!in[STRIPPED]->has_symtab && !in[STRIPPED]->has_dwarf);
	assert_true(in[PLAIN]->layout.from_dwarf);
	assert_false(in[NODWARF]->layout.from_dwarf);
	assert_true(in[PLAIN]->allgs_from_symtab && in[NODWARF]->allgs_from_symtab);
	assert_false(in[STRIPPED]->allgs_from_symtab);
	assert_true(in[PLAIN]->wait_reasons_from_binary && in[NODWARF]->wait_reasons_from_binary);
	assert_false(in[STRIPPED]->wait_reasons_from_binary);

	/* Symbols agree with what the reader found by other means. */
	for (i = PLAIN; i <= NODWARF; i++) {
		assert_int_equal(in[i]->moduledata, symbol(bins[i], "runtime.firstmoduledata"));
		assert_int_equal(in[i]->gofunc, symbol(bins[i], "go.func.*"));
		assert_int_equal(in[i]->text, symbol(bins[i], "runtime.text"));
		assert_int_equal(in[i]->etext, symbol(bins[i], "runtime.etext"));
		assert_int_equal(in[i]->allgs, symbol(bins[i], "runtime.allgs"));
	}
	/*
	 * -s -w only drops .symtab and DWARF, after layout: its twin built with
	 * -w has the same addresses, so allgadd's decoding is checked against
	 * the twin's symbols (DESIGN.md §4: checked with go tool objdump).
	 */
	assert_int_equal(in[STRIPPED]->allgs, symbol(bins[NODWARF], "runtime.allgs"));
	assert_int_equal(in[STRIPPED]->allglen, symbol(bins[NODWARF], "runtime.allglen"));
	assert_int_equal(in[STRIPPED]->allgptr, symbol(bins[NODWARF], "runtime.allgptr"));
	assert_int_equal(in[STRIPPED]->moduledata, in[NODWARF]->moduledata);

	/* The go1.19 table is what the binary's own waitReasonStrings says. */
	assert_int_equal(in[STRIPPED]->nwait_reasons, in[PLAIN]->nwait_reasons);
	for (k = 0; k < in[PLAIN]->nwait_reasons; k++)
		assert_string_equal(in[STRIPPED]->wait_reasons[k], in[PLAIN]->wait_reasons[k]);
	for (i = 0; i < NBINS; i++)
		pw_go_binary__free(b[i]);
}

/* The go1.19 layout table (used without DWARF) equals DWARF's runtime.g. */
static void test_layout_table_matches_dwarf(void **state)
{
	struct pw_go_binary *d, *t;
	struct pw_go_layout a, c;

	need_bins();
	d = open_bin(PLAIN);
	t = open_bin(NODWARF);
	a = pw_go_binary__info(d)->layout;
	c = pw_go_binary__info(t)->layout;
	assert_true(a.from_dwarf && !c.from_dwarf);
	assert_int_equal(a.stack_lo, c.stack_lo);
	assert_int_equal(a.stack_hi, c.stack_hi);
	assert_int_equal(a.sched_sp, c.sched_sp);
	assert_int_equal(a.sched_pc, c.sched_pc);
	assert_int_equal(a.sched_bp, c.sched_bp);
	assert_int_equal(a.status, c.status);
	assert_int_equal(a.status_size, c.status_size);
	assert_int_equal(a.goid, c.goid);
	assert_int_equal(a.waitsince, c.waitsince);
	assert_int_equal(a.waitreason, c.waitreason);
	assert_int_equal(a.waitreason_size, c.waitreason_size);
	assert_int_equal(a.gopc, c.gopc);
	assert_int_equal(a.startpc, c.startpc);
	assert_int_equal(a.size, c.size);
	pw_go_binary__free(d);
	pw_go_binary__free(t);
}

static void test_decode_allgadd(void **state)
{
	const struct pw_gopclntab *t;
	struct pw_go_binary *b;
	uint64_t entry, end, off, txt, a, l, p;
	uint8_t *text, junk[512];
	size_t len;
	uint64_t s = 0x1234;
	int i;

	need_bins();
	/* The plain build's own allgadd decodes to its own symbols. */
	b = open_bin(PLAIN);
	t = pw_go_binary__pclntab(b);
	entry = func_entry(t, "runtime.allgadd");
	assert_int_equal(pw_gopclntab__func_range(t, entry + 3, &entry, &end), 0);
	text = section(bins[PLAIN], ".text", &txt, &off, &len);
	assert_non_null(text);
	assert_true(entry >= txt && end <= txt + len);
	assert_int_equal(pw_go_decode_allgadd(text + (entry - txt), end - entry, entry, &a, &l, &p),
			 0);
	assert_int_equal(a, symbol(bins[PLAIN], "runtime.allgs"));
	assert_int_equal(l, symbol(bins[PLAIN], "runtime.allglen"));
	assert_int_equal(p, symbol(bins[PLAIN], "runtime.allgptr"));
	/* Truncated code: what was decoded so far, never a wrong answer. */
	for (len = 0; len < end - entry; len += 7) {
		int rc = pw_go_decode_allgadd(text + (entry - txt), len, entry, &a, &l, &p);

		if (!rc)
			assert_int_equal(a, symbol(bins[PLAIN], "runtime.allgs"));
		else
			assert_int_equal(rc, -ENOENT);
	}
	/* Another function has no such slice. */
	entry = func_entry(t, "main.receiver");
	assert_int_equal(pw_gopclntab__func_range(t, entry, &entry, &end), 0);
	assert_int_equal(pw_go_decode_allgadd(text + (entry - txt), end - entry, entry, &a, &l, &p),
			 -ENOENT);
	free(text);
	pw_go_binary__free(b);
	for (i = 0; i < 2000; i++) {
		size_t k;

		for (k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)rnd(&s);
		pw_go_decode_allgadd(junk, rnd(&s) % sizeof(junk), rnd(&s), &a, &l, &p);
	}
	assert_int_equal(pw_go_decode_allgadd(junk, 0, 0, &a, &l, &p), -ENOENT);
	assert_int_equal(pw_go_decode_allgadd(NULL, 0, 0, &a, &l, &p), -EINVAL);
}

/* ---- pclntab ---- */

static struct pw_gopclntab *section_table(int which)
{
	struct pw_gopclntab *t;
	size_t len;
	uint8_t *d = section(bins[which], ".gopclntab", NULL, NULL, &len);

	assert_non_null(d);
	assert_int_equal(pw_gopclntab__new(d, len, 0, &t), 0);
	free(d);
	return t;
}

/* The first pc in f's range whose innermost frame is on line. */
static uint64_t pc_for_line(const struct pw_gopclntab *t, const char *f, int line,
			    struct pw_frame *out, int *n)
{
	uint64_t e, end, pc;

	e = func_entry(t, f);
	assert_int_equal(pw_gopclntab__func_range(t, e, &e, &end), 0);
	for (pc = e; pc < end; pc++) {
		*n = pw_gopclntab__lookup(t, pc, false, out, PW_MAX_FRAMES);
		assert_true(*n >= 1);
		if (out[0].line == line)
			return pc;
	}
	fail_msg("no pc of %s on line %d", f, line);
	return 0;
}

static void test_pclntab_lookup(void **state)
{
	int send = seed_line("ch <- fetch()"), lock = seed_line("mu.Lock()"), n, i;
	struct pw_frame fr[PW_MAX_FRAMES];
	struct pw_go_binary *b;
	const struct pw_gopclntab *t;
	uint64_t e, end, pc;

	need_bins();
	for (i = 0; i < NBINS; i++) {
		b = open_bin(i);
		t = pw_go_binary__pclntab(b);
		assert_true(pw_gopclntab__nfunc(t) > 1000);

		/* The leaked goroutine's send, as pprof names it. */
		pc = pc_for_line(t, "main.handle.func1", send, fr, &n);
		assert_string_equal(fr[n - 1].func, "main.handle.func1");
		assert_true(ends_with(fr[n - 1].file, "tests/workloads/go/seed/main.go"));
		assert_false(fr[n - 1].inlined);
		assert_null(fr[0].module);
		assert_int_equal(fr[0].addr, pc);
		/* A return address is looked up at the call: pc + 1 gives the same line. */
		assert_true(pw_gopclntab__lookup(t, pc + 1, true, fr, PW_MAX_FRAMES) >= 1);
		assert_int_equal(fr[0].line, send);

		/* sync.(*Mutex).Lock is inlined into main.mutexWaiter at mu.Lock(). */
		e = func_entry(t, "main.mutexWaiter");
		assert_int_equal(pw_gopclntab__func_range(t, e, &e, &end), 0);
		for (pc = e; pc < end; pc++) {
			n = pw_gopclntab__lookup(t, pc, false, fr, PW_MAX_FRAMES);
			if (n == 2 && !strcmp(fr[0].func, "sync.(*Mutex).Lock"))
				break;
		}
		assert_int_equal(n, 2);
		check_frames(fr, n);
		assert_string_equal(fr[0].func, "sync.(*Mutex).Lock");
		assert_true(fr[0].inlined);
		assert_true(ends_with(fr[0].file, "sync/mutex.go"));
		assert_string_equal(fr[1].func, "main.mutexWaiter");
		assert_false(fr[1].inlined);
		assert_int_equal(fr[1].line, lock);
		assert_int_equal(fr[1].func_off, pc - e);
		/* No room: the innermost inlined frame goes, the real function stays. */
		assert_int_equal(pw_gopclntab__lookup(t, pc, false, fr, 1), 1);
		assert_string_equal(fr[0].func, "main.mutexWaiter");

		/* time.Sleep is the runtime's (linkname): its file says so. */
		e = func_entry(t, "time.Sleep");
		assert_int_equal(pw_gopclntab__lookup(t, e, false, fr, PW_MAX_FRAMES), 1);
		assert_true(ends_with(fr[0].file, "runtime/time.go"));
		assert_int_equal(fr[0].func_off, 0);

		/* Outside the text, before it, at its end. */
		assert_int_equal(pw_gopclntab__lookup(t, 0, false, fr, 4), -ENOENT);
		assert_int_equal(
			pw_gopclntab__lookup(t, pw_go_binary__info(b)->text - 1, false, fr, 4),
			-ENOENT);
		assert_int_equal(pw_gopclntab__lookup(t, ~0ULL, false, fr, 4), -ENOENT);
		assert_int_equal(pw_gopclntab__lookup(t, pc, false, fr, 0), -EINVAL);
		assert_int_equal(pw_gopclntab__find_func(t, "main.nosuchfunc", &e), -ENOENT);
		assert_int_equal(pw_gopclntab__func_range(t, 0, &e, &end), -ENOENT);
		pw_go_binary__free(b);
	}
}

/* The bare table (no gofunc): same functions and lines, no inline expansion. */
static void test_pclntab_bare(void **state)
{
	struct pw_frame fr[PW_MAX_FRAMES], fr2[PW_MAX_FRAMES];
	struct pw_gopclntab *t[NBINS];
	int send = seed_line("ch <- fetch()"), n, n2, i;
	struct pw_go_binary *b;
	uint64_t pc, e, end;

	need_bins();
	for (i = 0; i < NBINS; i++)
		t[i] = section_table(i);
	assert_int_equal(pw_gopclntab__nfunc(t[PLAIN]), pw_gopclntab__nfunc(t[STRIPPED]));
	pc = pc_for_line(t[STRIPPED], "main.handle.func1", send, fr, &n);
	assert_int_equal(n, 1);
	assert_string_equal(fr[0].func, "main.handle.func1");
	/* With and without gofunc, the real function and its line agree everywhere. */
	b = open_bin(STRIPPED);
	e = func_entry(t[STRIPPED], "main.mutexWaiter");
	assert_int_equal(pw_gopclntab__func_range(t[STRIPPED], e, &e, &end), 0);
	for (pc = e; pc < end; pc++) {
		n = pw_gopclntab__lookup(t[STRIPPED], pc, false, fr, PW_MAX_FRAMES);
		n2 = pw_gopclntab__lookup(pw_go_binary__pclntab(b), pc, false, fr2, PW_MAX_FRAMES);
		assert_int_equal(n, 1);
		assert_true(n2 >= 1);
		assert_string_equal(fr[0].func, fr2[n2 - 1].func);
		assert_int_equal(fr[0].line, fr2[0].line);
	}
	pw_go_binary__free(b);
	for (i = 0; i < NBINS; i++)
		pw_gopclntab__free(t[i]);
}

/* Parse then look up pcs all over the text: must not crash, strings must be sane. */
static void hammer(const uint8_t *d, size_t len, uint64_t text, uint64_t *s)
{
	struct pw_frame fr[PW_MAX_FRAMES];
	struct pw_gopclntab *t;
	uint64_t e, end;
	int k, n;

	if (pw_gopclntab__new(d, len, 0, &t))
		return;
	/* A gofunc blob of the same garbage: inline trees read from it. */
	assert_int_equal(pw_gopclntab__set_gofunc(t, d, len), 0);
	for (k = 0; k < 64; k++) {
		uint64_t pc = text + rnd(s) % 0x280000;

		n = pw_gopclntab__lookup_raw(t, pc, k & 1, fr, PW_MAX_FRAMES);
		if (n > 0)
			check_frames(fr, n);
		else
			assert_int_equal(n, -ENOENT);
		if (!pw_gopclntab__func_range(t, pc, &e, &end))
			assert_true(e <= pc && pc < end);
	}
	pw_gopclntab__find_func(t, "main.handle.func1", &e);
	pw_gopclntab__free(t);
}

static void test_pclntab_truncated(void **state)
{
	uint64_t addr, off, s = 7;
	size_t len, cut;
	uint8_t *d;

	need_bins();
	d = section(bins[STRIPPED], ".gopclntab", &addr, &off, &len);
	assert_non_null(d);
	for (cut = 0; cut < 512; cut++)
		assert_int_not_equal(pw_gopclntab__new(d, cut, 0, &(struct pw_gopclntab *){0}), 0);
	for (cut = 512; cut < len; cut += len / 97)
		hammer(d, cut, 0x401000, &s);
	free(d);
}

static void test_pclntab_flips(void **state)
{
	uint64_t addr, off, s = 42;
	size_t len, i;
	uint8_t *d, *c;
	int round;

	need_bins();
	d = section(bins[STRIPPED], ".gopclntab", &addr, &off, &len);
	assert_non_null(d);
	c = malloc(len);
	assert_non_null(c);
	for (round = 0; round < 300; round++) {
		memcpy(c, d, len);
		/* Headers and tables first: that is where a flip changes the most. */
		for (i = 0; i < 1 + rnd(&s) % 8; i++) {
			size_t at = round % 3 == 0   ? rnd(&s) % 128
				    : round % 3 == 1 ? rnd(&s) % 65536
						     : rnd(&s) % len;

			c[at] ^= (uint8_t)(1 + rnd(&s) % 255);
		}
		hammer(c, len, 0x401000, &s);
	}
	free(c);
	free(d);
}

/* ---- hostile binaries ---- */

static int open_copy(const uint8_t *d, size_t len, char *err, size_t errlen)
{
	char path[128];
	struct pw_go_binary *b = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/hostile", tmpdir);
	write_file(path, d, len);
	err[0] = '\0';
	rc = pw_go_binary__open(path, &b, err, errlen);
	if (rc) {
		assert_true(rc < 0);
		assert_null(b);
		assert_true(err[0] && !strchr(err, '\n'));
	} else {
		const struct pw_go_info *in = pw_go_binary__info(b);
		struct pw_frame fr[PW_MAX_FRAMES];
		int n = pw_gopclntab__lookup(pw_go_binary__pclntab(b), in->text + 0x100, false, fr,
					     PW_MAX_FRAMES);

		if (n > 0)
			check_frames(fr, n);
		assert_true(in->nwait_reasons > 0 && in->layout.size > 0);
		pw_go_binary__free(b);
	}
	return rc;
}

static void test_binary_hostile(void **state)
{
	static const char *const interesting[] = {".gopclntab", ".go.buildinfo", ".noptrdata",
						  ".text"};
	uint8_t *d, *c;
	size_t len, sl, i;
	uint64_t s = 99, addr, off;
	char err[256];
	int round, k;

	need_bins();
	d = read_file(bins[STRIPPED], &len);
	c = malloc(len);
	assert_non_null(c);
	/* Untouched, it opens. */
	assert_int_equal(open_copy(d, len, err, sizeof(err)), 0);
	/* Truncated: headers, section table, inside every interesting section. */
	for (i = 0; i < 80; i++)
		open_copy(d, i * 13, err, sizeof(err));
	for (k = 0; k < 4; k++) {
		free(section(bins[STRIPPED], interesting[k], &addr, &off, &sl));
		for (i = 0; i < 6; i++)
			open_copy(d, off + i * (sl / 6) + rnd(&s) % 64, err, sizeof(err));
	}
	open_copy(d, len - 1, err, sizeof(err));
	/* Byte flips in the ELF headers and the sections the reader uses. */
	for (round = 0; round < 60; round++) {
		memcpy(c, d, len);
		k = round % 5;
		if (k == 4) {
			off = 0;
			sl = 4096;
		} else {
			free(section(bins[STRIPPED], interesting[k], &addr, &off, &sl));
			sl = sl < 65536 ? sl : 65536;
		}
		for (i = 0; i < 1 + rnd(&s) % 4; i++)
			c[off + rnd(&s) % sl] ^= (uint8_t)(1 + rnd(&s) % 255);
		open_copy(c, len, err, sizeof(err));
	}
	free(c);
	free(d);
}

/* A release without a layout table is refused by name, not guessed. */
static void test_binary_unsupported(void **state)
{
	struct pw_go_binary *b = NULL;
	uint8_t *d, *bi;
	size_t len, blen;
	uint64_t off;
	char err[256], *v;

	need_bins();
	d = read_file(bins[STRIPPED], &len);
	bi = section(bins[STRIPPED], ".go.buildinfo", NULL, &off, &blen);
	v = (char *)memmem(d + off, blen, "go1.19", 6);
	assert_non_null(v);
	memcpy(v, "go1.20", 6);
	assert_int_equal(open_copy(d, len, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "go1.20"));
	memcpy(v, "go1.190", 7);
	assert_int_equal(open_copy(d, len, err, sizeof(err)), -EPROTONOSUPPORT);
	free(bi);
	free(d);

	/* Not Go, not ELF, not there. */
	assert_int_equal(pw_go_binary__open("/proc/self/exe", &b, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "not a Go binary"));
	assert_int_equal(pw_go_binary__open(SEED_DIR "/main.go", &b, err, sizeof(err)), -ENOTSUP);
	assert_int_equal(pw_go_binary__open("/nonexistent/x", &b, err, sizeof(err)), -ENOENT);
	assert_int_equal(pw_go_binary__open("/proc/self", &b, err, sizeof(err)), -ENOTSUP);
	assert_null(b);
	assert_int_equal(pw_go_binary__open(NULL, &b, err, sizeof(err)), -EINVAL);
}

/* ---- scans of synthetic memory ---- */

#define MAXREG 16

struct region {
	uint64_t addr;
	size_t len;
	uint8_t *data;
};

struct fakemem {
	struct region r[MAXREG];
	int n;
	/* Hooks: run before each read of addr (count = reads of it so far). */
	void (*before)(struct fakemem *m, uint64_t addr, int count);
	uint64_t watch;
	int count;
	/* Garbage mode: bytes of regions >= garbage_from are random, per seed. */
	int garbage_from;
	uint64_t seed;
};

static uint8_t *region(struct fakemem *m, uint64_t addr, size_t len)
{
	struct region *r = &m->r[m->n++];

	assert_true(m->n <= MAXREG);
	r->addr = addr;
	r->len = len;
	r->data = calloc(1, len);
	assert_non_null(r->data);
	return r->data;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fakemem *m = ctx;
	int i;

	if (m->before && addr == m->watch)
		m->before(m, addr, m->count++);
	for (i = 0; i < m->n; i++) {
		struct region *r = &m->r[i];

		if (addr < r->addr || addr - r->addr > r->len || len > r->len - (addr - r->addr))
			continue;
		memcpy(buf, r->data + (addr - r->addr), len);
		if (i >= m->garbage_from) {
			uint64_t s = m->seed ^ addr ^ (len << 40);
			size_t k;

			/* Keep some bytes: half-garbage reaches deeper than pure noise. */
			for (k = 0; k < len; k++)
				if (rnd(&s) % 4 == 0)
					((uint8_t *)buf)[k] = (uint8_t)rnd(&s);
		}
		return 0;
	}
	return -EFAULT;
}

static void fake_free(struct fakemem *m)
{
	int i;

	for (i = 0; i < m->n; i++)
		free(m->r[i].data);
	memset(m, 0, sizeof(*m));
}

#define GARR 0xc000100000ULL
#define GARR2 0xc000180000ULL
#define G1 0xc000200000ULL
#define G2 0xc000201000ULL
#define G3 0xc000202000ULL
#define STK1 0xc000300000ULL
#define STK2 0xc000310000ULL
#define STKSZ 0x800

struct synth {
	struct pw_go_binary *b;
	const struct pw_go_info *in;
	uint64_t func1, goexit, bgsweep, handle;
	uint64_t ret1; /* a return address in main.handle.func1, on the send's line */
	uint64_t park; /* a return address in runtime.gopark, outside inlined code */
};

static uint64_t plain_ret(const struct pw_gopclntab *t, const char *f)
{
	struct pw_frame fr[PW_MAX_FRAMES];
	uint64_t e = func_entry(t, f), end, pc;

	assert_int_equal(pw_gopclntab__func_range(t, e, &e, &end), 0);
	for (pc = e + 16; pc < end; pc++)
		if (pw_gopclntab__lookup(t, pc, true, fr, PW_MAX_FRAMES) == 1)
			return pc;
	fail_msg("%s is all inlined code", f);
	return 0;
}

static void synth_g(const struct synth *sy, uint8_t *g, uint64_t lo, uint64_t status, uint64_t goid,
		    uint64_t reason, uint64_t startpc, uint64_t sp, uint64_t bp)
{
	const struct pw_go_layout *l = &sy->in->layout;

	put64(g + l->stack_lo, lo);
	put64(g + l->stack_hi, lo + STKSZ);
	put64(g + l->sched_sp, sp);
	put64(g + l->sched_pc, sy->park);
	put64(g + l->sched_bp, bp);
	memcpy(g + l->status, &status, l->status_size);
	put64(g + l->goid, goid);
	put64(g + l->waitsince, 123456789);
	memcpy(g + l->waitreason, &reason, l->waitreason_size);
	put64(g + l->gopc, sy->handle + 8);
	put64(g + l->startpc, startpc);
}

/*
 * allgs = [G1 (parked in main.handle.func1 on "chan send"), G2 (system:
 * runtime.bgsweep), G3 (running), 0x13 (not a pointer)], each parked one with
 * gopark -> its function -> goexit on a frame-pointer chain.
 */
static void synth_build(struct synth *sy, struct fakemem *m)
{
	const struct pw_gopclntab *t;
	uint8_t *p, *stk;
	uint64_t sp, bp;
	int i;

	memset(m, 0, sizeof(*m));
	m->garbage_from = MAXREG;
	sy->b = open_bin(STRIPPED);
	sy->in = pw_go_binary__info(sy->b);
	t = pw_go_binary__pclntab(sy->b);
	sy->func1 = func_entry(t, "main.handle.func1");
	sy->goexit = func_entry(t, "runtime.goexit");
	sy->bgsweep = func_entry(t, "runtime.bgsweep");
	sy->handle = func_entry(t, "main.handle");
	sy->park = plain_ret(t, "runtime.gopark");
	{
		struct pw_frame fr[PW_MAX_FRAMES];
		int n;

		sy->ret1 =
			pc_for_line(t, "main.handle.func1", seed_line("ch <- fetch()"), fr, &n) + 1;
		assert_int_equal(n, 1);
	}

	p = region(m, sy->in->allgs, 24);
	put64(p, GARR);
	put64(p + 8, 4);
	put64(p + 16, 4);
	put64(region(m, sy->in->allglen, 8), 4);
	put64(region(m, sy->in->allgptr, 8), GARR);
	p = region(m, GARR, 32);
	put64(p, G1);
	put64(p + 8, G2);
	put64(p + 16, G3);
	put64(p + 24, 0x13);
	for (i = 0; i < 2; i++) {
		uint64_t lo = i ? STK2 : STK1;

		sp = lo + STKSZ - 0x100;
		bp = sp + 0x40;
		stk = region(m, lo, STKSZ);
		/* gopark's frame -> the start function's frame -> goexit. */
		put64(stk + (bp - lo), bp + 0x40);
		put64(stk + (bp - lo) + 8, i ? sy->bgsweep + 0x30 : sy->ret1);
		put64(stk + (bp + 0x40 - lo), 0);
		put64(stk + (bp + 0x40 - lo) + 8, sy->goexit + 1);
		synth_g(sy, region(m, i ? G2 : G1, 512), lo, PW_G_WAITING, 42 + i, i ? 12 : 15,
			i ? sy->bgsweep : sy->func1, sp, bp);
	}
	synth_g(sy, region(m, G3, 512), STK2, PW_G_RUNNING, 50, 0, sy->func1, STK2 + 0x700,
		STK2 + 0x740);
}

static struct pw_go_proc *synth_proc(struct synth *sy, struct fakemem *m)
{
	struct pw_go_proc *p = NULL;
	char err[256] = "";
	int rc = pw_go_proc__new_from(bins[STRIPPED], 0, fake_read, m, &p, err, sizeof(err));

	if (rc)
		fail_msg("new_from: %d %s", rc, err);
	return p;
}

static void test_scan_synthetic(void **state)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	struct pw_go_proc *p;
	struct fakemem m;
	struct synth sy;
	int n, i;

	need_bins();
	synth_build(&sy, &m);
	p = synth_proc(&sy, &m);
	assert_string_equal(pw_go_proc__version(p), sy.in->version);
	assert_int_equal(pw_go_proc__scan(p, &g, &n, &st), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st.goroutines, 3);
	assert_int_equal(st.system, 1);
	assert_int_equal(st.bad_g, 1);
	assert_int_equal(st.unwind_errors, 0);
	assert_int_equal(st.retries, 0);
	assert_int_equal(g[0].goid, 42);
	assert_int_equal(g[0].status, PW_G_WAITING);
	assert_string_equal(g[0].wait_reason, "chan send");
	assert_int_equal(g[0].waitsince_ns, 123456789);
	assert_int_equal(g[0].startpc, sy.func1);
	assert_int_equal(g[0].gopc, sy.handle + 8);
	assert_true(g[0].stack_complete);
	check_frames(g[0].frames, g[0].nframes);
	assert_string_equal(g[0].frames[0].func, "runtime.gopark");
	assert_int_equal(g[0].frames[0].addr, sy.park);
	assert_string_equal(g[0].frames[0].module, bins[STRIPPED]);
	assert_string_equal(g[0].frames[g[0].nframes - 1].func, "runtime.goexit");
	for (i = 1; i < g[0].nframes - 1; i++)
		if (!strcmp(g[0].frames[i].func, "main.handle.func1") && !g[0].frames[i].inlined)
			break;
	assert_true(i < g[0].nframes - 1);
	i = pw_site_label_index(g[0].frames, g[0].nframes);
	assert_true(i > 0);
	assert_true(!strncmp(g[0].frames[i].func, "main.", 5));
	free(g);

	/* A broken frame chain is reported as far as it goes, and counted. */
	put64(m.r[4].data + (STKSZ - 0x100 + 0x40), STK1 + 0x10); /* G1's bp -> below its sp */
	assert_int_equal(pw_go_proc__scan(p, &g, &n, &st), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st.unwind_errors, 1);
	assert_false(g[0].stack_complete);
	assert_int_equal(g[0].nframes, 2);
	free(g);
	pw_go_proc__free(p);
	pw_go_binary__free(sy.b);
	fake_free(&m);
}

/* allgs grew into a new array between reading its pointer and re-reading it. */
static void move_list(struct fakemem *m, uint64_t addr, int count)
{
	if (count == 1)
		put64(m->r[2].data, GARR2); /* allgptr */
}

/* G1 wakes up between the walk and the re-check. */
static void wake_g1(struct fakemem *m, uint64_t addr, int count)
{
	if (count == 1)
		m->r[5].data[144] = PW_G_RUNNABLE; /* go1.19 atomicstatus */
}

/* G1's stack is moved (shrunk) under the walk, once. */
static void move_stack(struct fakemem *m, uint64_t addr, int count)
{
	if (count == 1) {
		put64(m->r[5].data + 56, STK1 + STKSZ - 0x100 + 8);	/* sched.sp */
		put64(m->r[5].data + 104, STK1 + STKSZ - 0x100 + 0x40); /* same bp */
	}
}

/* G1 is read as it parks: status already waiting, gobuf still zeroed by gogo. */
static uint64_t torn_sp, torn_bp;
static void torn_g1(struct fakemem *m, uint64_t addr, int count)
{
	if (count == 0) {
		memcpy(&torn_sp, m->r[5].data + 56, 8);
		memcpy(&torn_bp, m->r[5].data + 104, 8);
		put64(m->r[5].data + 56, 0);
		put64(m->r[5].data + 104, 0);
	} else if (count == 1) {
		put64(m->r[5].data + 56, torn_sp);
		put64(m->r[5].data + 104, torn_bp);
	}
}

/* The same, for good: the g stays inconsistent however often it is read. */
static void torn_g1_always(struct fakemem *m, uint64_t addr, int count)
{
	if (count == 0) {
		memcpy(&torn_sp, m->r[5].data + 56, 8);
		put64(m->r[5].data + 56, 0);
	}
}

/* One scan with hook run before each read of watch; its stats from zero. */
static struct pw_goroutine *race_scan(struct pw_go_proc *p, struct fakemem *m,
				      void (*hook)(struct fakemem *, uint64_t, int), uint64_t watch,
				      int *n, struct pw_go_stats *st)
{
	struct pw_goroutine *g = NULL;

	memset(st, 0, sizeof(*st));
	m->before = hook;
	m->watch = watch;
	m->count = 0;
	assert_int_equal(pw_go_proc__scan(p, &g, n, st), 0);
	return g;
}

static void test_scan_races(void **state)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	struct pw_go_proc *p;
	struct fakemem m;
	struct synth sy;
	uint8_t *arr2;
	int n, nreg;

	need_bins();
	synth_build(&sy, &m);
	assert_int_equal(sy.in->layout.status, 144);
	arr2 = region(&m, GARR2, 32);
	memcpy(arr2, m.r[3].data, 32);
	p = synth_proc(&sy, &m);

	g = race_scan(p, &m, move_list, sy.in->allgptr, &n, &st);
	assert_int_equal(n, 1);
	assert_true(st.retries >= 1);
	free(g);

	g = race_scan(p, &m, wake_g1, G1, &n, &st);
	assert_int_equal(n, 0);
	free(g);
	m.r[5].data[144] = PW_G_WAITING;

	g = race_scan(p, &m, move_stack, G1, &n, &st);
	assert_int_equal(n, 1);
	assert_int_equal(st.retries, 1);
	assert_int_equal(g[0].sp, STK1 + STKSZ - 0x100 + 8);
	assert_true(g[0].stack_complete);
	free(g);

	/* Torn once: read again, reported, not a bad g. */
	g = race_scan(p, &m, torn_g1, G1, &n, &st);
	assert_int_equal(n, 1);
	assert_int_equal(st.bad_g, 1); /* the synthetic list's misaligned entry, as ever */
	assert_int_equal(st.retries, 1);
	assert_int_equal(g[0].goid, 42);
	assert_true(g[0].stack_complete);
	free(g);

	/* Torn for good: a bad g, after the retries; the others are still read. */
	g = race_scan(p, &m, torn_g1_always, G1, &n, &st);
	assert_int_equal(n, 0);
	assert_int_equal(st.bad_g, 2);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.goroutines, 2);
	free(g);
	put64(m.r[5].data + 56, torn_sp);

	/* The process's memory went away. */
	m.before = NULL;
	nreg = m.n;
	m.n = 0;
	assert_int_equal(pw_go_proc__scan(p, &g, &n, &st), -EIO);
	assert_null(g);
	assert_int_equal(n, 0);
	m.n = nreg;
	pw_go_proc__free(p);
	pw_go_binary__free(sy.b);
	fake_free(&m);
}

/* Half-garbage goroutine list, gs and stacks: errors or sane results, never a crash. */
static void test_scan_garbage(void **state)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	struct pw_go_proc *p;
	struct fakemem m;
	struct synth sy;
	int n, i, k, rc;

	need_bins();
	synth_build(&sy, &m);
	p = synth_proc(&sy, &m);
	for (i = 0; i < 1500; i++) {
		m.seed = 0x9e3779b97f4a7c15ULL * (i + 1);
		/* Regions from 3 on (the array, stacks, gs), sometimes the list header too. */
		m.garbage_from = i % 5 ? 3 : 0;
		rc = pw_go_proc__scan(p, &g, &n, &st);
		if (rc) {
			assert_int_equal(rc, -EIO);
			continue;
		}
		assert_true(n >= 0 && n <= 4);
		for (k = 0; k < n; k++) {
			check_frames(g[k].frames, g[k].nframes);
			assert_true(g[k].goid > 0);
			assert_true(!g[k].wait_reason || strlen(g[k].wait_reason) < 64);
		}
		free(g);
	}
	assert_true(st.bad_g > 0);
	pw_go_proc__free(p);
	pw_go_binary__free(sy.b);
	fake_free(&m);
}

/* ---- a live child ---- */

static pid_t start_seed(const char *bin, const char *args, FILE **out)
{
	char cmd[1024], line[256];
	pid_t pid = 0;

	assert_true(snprintf(cmd, sizeof(cmd), "exec %s %s", bin, args) < (int)sizeof(cmd));
	*out = popen(cmd, "r");
	assert_non_null(*out);
	while (fgets(line, sizeof(line), *out))
		if (sscanf(line, "READY pid=%d", &pid) == 1)
			break;
	assert_true(pid > 0);
	return pid;
}

static void test_live_scan(void **state)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	struct pw_go_proc *p;
	int n, i, k, recv = 0, sleep = 0, rc, which;
	char err[256], label[256];
	FILE *out;
	pid_t pid;

	need_bins();
	for (which = 0; which < NBINS; which += STRIPPED) {
		pid = start_seed(bins[which], "-receivers 7 -sleepers 2", &out);
		rc = pw_go_proc__new(pid, &p, err, sizeof(err));
		if (rc == -EPERM || rc == -EIO) {
			kill(pid, SIGKILL);
			pclose(out);
			skip(); /* ptrace access to a child refused by the host's policy */
		}
		assert_int_equal(rc, 0);
		recv = sleep = 0;
		assert_int_equal(pw_go_proc__scan(p, &g, &n, &st), 0);
		for (i = 0; i < n; i++) {
			assert_string_equal(g[i].frames[0].func, "runtime.gopark");
			assert_true(g[i].stack_complete);
			k = pw_site_label_index(g[i].frames, g[i].nframes);
			assert_true(k >= 0);
			pw_site_label_format(&g[i].frames[k], label, sizeof(label));
			if (!strncmp(label, "main.receiver (main.go:", 23)) {
				assert_string_equal(g[i].wait_reason, "chan receive");
				recv++;
			}
			if (g[i].wait_reason && !strcmp(g[i].wait_reason, "sleep"))
				sleep++;
		}
		assert_int_equal(recv, 7);
		assert_int_equal(sleep, 2);
		assert_int_equal(st.unwind_errors + st.bad_g, 0);
		free(g);
		kill(pid, SIGKILL);
		/* Gone: the next scan says so. */
		waitpid(pid, NULL, 0);
		pclose(out);
		assert_int_equal(pw_go_proc__scan(p, &g, &n, &st), -ESRCH);
		pw_go_proc__free(p);
	}
}

static void test_proc_errors(void **state)
{
	struct pw_go_proc *p = NULL;
	char err[256];

	assert_int_equal(pw_go_proc__new(getpid(), &p, err, sizeof(err)), -ENOTSUP);
	assert_null(p);
	assert_int_equal(pw_go_proc__new(INT32_MAX - 1, &p, err, sizeof(err)), -ESRCH);
	assert_int_equal(pw_go_proc__new(0, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_go_proc__new(1, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_go_proc__scan(NULL, NULL, NULL, NULL), -EINVAL);
	assert_null(pw_go_proc__version(NULL));
	pw_go_proc__free(NULL);
	pw_go_binary__free(NULL);
	pw_gopclntab__free(NULL);
	assert_int_equal(pw_gopclntab__new(NULL, 0, 0, &(struct pw_gopclntab *){0}), -EINVAL);
}

/*
 * Resource bounds against hostile files (found by fuzz_gobinary): a file of
 * pcHeader decoys without sections, and a .gopclntab whose size claims 2 GiB
 * of a sparse file. Both must be turned down or opened without copying (or
 * even walking) megabytes per decoy: the collector opens /proc/PID/exe of any
 * local user's process.
 */
static void test_binary_resource_bounds(void **state)
{
	char dir[] = "/tmp/pw-godos.XXXXXX", cmd[512], path[256], err[256];
	struct pw_go_binary *b = NULL;
	struct rusage ru0, ru1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "python3 " TEST_SRCDIR "/fuzz/repro_goruntime_dos.py scan 16777216 %s/scan && "
		 "python3 " TEST_SRCDIR "/fuzz/repro_goruntime_dos.py sparse 2 %s/sparse",
		 dir, dir);
	assert_int_equal(system(cmd), 0);
	/* 16 MiB of decoys: at most PCLN_MAX_TRIES walks, never one copy per decoy. */
	snprintf(path, sizeof(path), "%s/scan", dir);
	assert_int_equal(pw_go_binary__open(path, &b, err, sizeof(err)), -ENOEXEC);
	assert_null(b);
	/* 2 GiB claimed, a few KiB real: opened, and the copy ends after the last function. */
	snprintf(path, sizeof(path), "%s/sparse", dir);
	getrusage(RUSAGE_SELF, &ru0);
	assert_int_equal(pw_go_binary__open(path, &b, err, sizeof(err)), 0);
	getrusage(RUSAGE_SELF, &ru1);
	assert_true(ru1.ru_maxrss - ru0.ru_maxrss < 64 * 1024); /* KiB */
	pw_go_binary__free(b);
	/* A 1 GiB sparse read-only segment after gofunc: the funcdata copy is bounded too. */
	snprintf(cmd, sizeof(cmd),
		 "python3 " TEST_SRCDIR "/fuzz/repro_goruntime_dos.py sparse-segment 1024 %s/seg",
		 dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/seg", dir);
	b = NULL;
	getrusage(RUSAGE_SELF, &ru0);
	pw_go_binary__open(path, &b, err, sizeof(err));
	getrusage(RUSAGE_SELF, &ru1);
	assert_true(ru1.ru_maxrss - ru0.ru_maxrss < 256 * 1024); /* KiB: was 2 GiB */
	pw_go_binary__free(b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buildinfo_binaries),
		cmocka_unit_test(test_buildinfo_synthetic),
		cmocka_unit_test(test_binary_info),
		cmocka_unit_test(test_layout_table_matches_dwarf),
		cmocka_unit_test(test_decode_allgadd),
		cmocka_unit_test(test_pclntab_lookup),
		cmocka_unit_test(test_pclntab_bare),
		cmocka_unit_test(test_pclntab_truncated),
		cmocka_unit_test(test_pclntab_flips),
		cmocka_unit_test(test_binary_hostile),
		cmocka_unit_test(test_binary_unsupported),
		cmocka_unit_test(test_binary_resource_bounds),
		cmocka_unit_test(test_scan_synthetic),
		cmocka_unit_test(test_scan_races),
		cmocka_unit_test(test_scan_garbage),
		cmocka_unit_test(test_live_scan),
		cmocka_unit_test(test_proc_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
