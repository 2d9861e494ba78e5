/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unwinding and symbolization against recorded stacks of a known binary
 * (tests/unit/fixtures, made by record.sh; gdb's backtrace of each recording
 * is in its .bt file) and against live copies of the same program.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "procmaps.h"
#include "unwind.h"

#define FIX TEST_SRCDIR "/unit/fixtures"
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define MAXF 64

struct rec {
	struct pw_regs regs;
	char *stack;
	size_t stack_len;
	struct pw_maps *maps;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 1 << 16, n = 0, k;
	char *buf = malloc(cap + 1);

	assert_non_null(f);
	assert_non_null(buf);
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Replaces every "from" in text; returns a new string. */
static char *subst(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p, *q;
	char *out, *o;

	for (p = text; (q = strstr(p, from)); p = q + fl)
		n++;
	out = malloc(strlen(text) + n * tl + 1);
	assert_non_null(out);
	for (o = out, p = text; (q = strstr(p, from)); p = q + fl) {
		memcpy(o, p, q - p);
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
	}
	strcpy(o, p);
	return out;
}

/* Line of the "MARK:name" comment in the fixture source. */
static int mark_line(const char *name)
{
	char *src = slurp(FIX "/park_fixture.c", NULL), want[64], *p, *hit;
	int line = 1;

	snprintf(want, sizeof(want), "/* MARK:%s */", name);
	hit = strstr(src, want);
	assert_non_null(hit);
	for (p = src; p < hit; p++)
		line += *p == '\n';
	free(src);
	return line;
}

static void parse_regs(const char *path, struct pw_regs *r)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{"rax", offsetof(struct pw_regs, ax)},	{"rbx", offsetof(struct pw_regs, bx)},
		{"rcx", offsetof(struct pw_regs, cx)},	{"rdx", offsetof(struct pw_regs, dx)},
		{"rsi", offsetof(struct pw_regs, si)},	{"rdi", offsetof(struct pw_regs, di)},
		{"rbp", offsetof(struct pw_regs, bp)},	{"rsp", offsetof(struct pw_regs, sp)},
		{"r8", offsetof(struct pw_regs, r8)},	{"r9", offsetof(struct pw_regs, r9)},
		{"r10", offsetof(struct pw_regs, r10)}, {"r11", offsetof(struct pw_regs, r11)},
		{"r12", offsetof(struct pw_regs, r12)}, {"r13", offsetof(struct pw_regs, r13)},
		{"r14", offsetof(struct pw_regs, r14)}, {"r15", offsetof(struct pw_regs, r15)},
		{"rip", offsetof(struct pw_regs, ip)},
	};
	unsigned long long v;
	char name[16];
	int seen = 0;
	size_t i;
	FILE *f = fopen(path, "re");

	assert_non_null(f);
	memset(r, 0, sizeof(*r));
	r->orig_ax = 202; /* futex */
	while (fscanf(f, "%15s %llx", name, &v) == 2)
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(name, names[i].name)) {
				memcpy((char *)r + names[i].off, &(uint64_t){v}, 8);
				seen++;
			}
	fclose(f);
	assert_int_equal(seen, 17);
}

/* Loads a recording; its binary is found at bin_path (as maps says). */
static void load_rec(const char *variant, const char *bin_path, struct rec *r)
{
	char path[PATH_MAX], from[64], *text, *maps;

	snprintf(path, sizeof(path), FIX "/%s.regs", variant);
	parse_regs(path, &r->regs);
	snprintf(path, sizeof(path), FIX "/%s.stack", variant);
	r->stack = slurp(path, &r->stack_len);
	assert_true(r->stack_len >= 64 && r->stack_len <= 8192);
	snprintf(path, sizeof(path), FIX "/%s.maps", variant);
	text = slurp(path, NULL);
	snprintf(from, sizeof(from), "@FIXTURES@/%s", variant);
	maps = subst(text, from, bin_path);
	assert_int_equal(pw_maps__parse(maps, strlen(maps), &r->maps), 0);
	assert_int_equal(r->maps->nbad, 0);
	free(maps);
	free(text);
}

static void free_rec(struct rec *r)
{
	free(r->stack);
	pw_maps__free(r->maps);
}

/* The recordings walk through the host's libc: only valid for that very build. */
static bool libc_is_recorded_one(void)
{
	char *want = slurp(FIX "/libc.buildid", NULL), got[128] = "";
	const unsigned char *id;
	ssize_t n, i;
	bool same;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(LIBC, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	n = elf ? dwelf_elf_gnu_build_id(elf, (const void **)&id) : -1;
	for (i = 0; i < n && i < 60; i++)
		sprintf(got + 2 * i, "%02x", id[i]);
	want[strcspn(want, "\n")] = '\0';
	same = n > 0 && !strcmp(got, want);
	elf_end(elf);
	close(fd);
	free(want);
	return same;
}

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s ? s + 1 : p;
}

static int symbolize_all(struct pw_proc_syms *ps, const uint64_t *pcs, int npcs,
			 struct pw_frame *fr, int max)
{
	int i, n = 0, k;

	for (i = 0; i < npcs && n < max; i++) {
		k = pw_proc_syms__symbolize(ps, pcs[i], i > 0, fr + n, max - n);
		assert_true(k >= 1);
		n += k;
	}
	return n;
}

static int find_func(const struct pw_frame *fr, int n, const char *func)
{
	int i;

	for (i = 0; i < n; i++)
		if (fr[i].func && !strcmp(fr[i].func, func))
			return i;
	return -1;
}

/*
 * The program's part of the stack, as gdb shows it (V.bt): park_here inlined
 * into inner_fn, then outer_fn and main, each at its MARK line; libc below
 * (futex wait) and above (__libc_start_call_main), _start last.
 */
static void check_full_frames(const struct pw_frame *fr, int n, const char *module, uint64_t ip)
{
	int k = find_func(fr, n, "park_here"), i;

	assert_true(k > 0);
	assert_true(k + 3 < n);
	assert_true(fr[0].addr == ip);
	for (i = 0; i < k; i++)
		assert_string_equal(fr[i].module, LIBC);

	assert_true(fr[k].inlined);
	assert_string_equal(base_name(fr[k].file), "park_fixture.c");
	assert_int_equal(fr[k].line, mark_line("park"));
	assert_string_equal(fr[k].module, module);

	assert_string_equal(fr[k + 1].func, "inner_fn");
	assert_false(fr[k + 1].inlined);
	assert_false(fr[k + 1].dynsym_only);
	assert_true(fr[k + 1].addr == fr[k].addr);
	assert_true(fr[k + 1].func_off > 0);
	assert_string_equal(base_name(fr[k + 1].file), "park_fixture.c");
	assert_int_equal(fr[k + 1].line, mark_line("inner"));
	assert_string_equal(fr[k + 1].module, module);

	assert_string_equal(fr[k + 2].func, "outer_fn");
	assert_int_equal(fr[k + 2].line, mark_line("outer"));
	assert_string_equal(fr[k + 3].func, "main");
	assert_int_equal(fr[k + 3].line, mark_line("main"));
	assert_string_equal(fr[k + 3].module, module);
	assert_false(fr[k + 3].inlined);
	/* ELF address, not the ASLR one: stable across runs. */
	assert_true(fr[k + 3].offset < 0x10000);
	assert_true(fr[k + 3].offset == (fr[k + 3].addr & 0xfff) + 0x1000);

	assert_string_equal(fr[k + 4].module, LIBC);
	assert_string_equal(fr[n - 1].func, "_start");
	assert_string_equal(fr[n - 1].module, module);

	/* With libc's debug info (libc6-dbg), its inlined frames show too. */
	if (fr[0].file) {
		i = find_func(fr, n, "__pthread_cond_wait_common");
		assert_true(i > 0 && i + 1 < k);
		assert_true(fr[i].inlined);
		assert_string_equal(fr[i + 1].func, "pthread_cond_wait");
		assert_false(fr[i + 1].inlined);
		assert_true(fr[i + 1].addr == fr[i].addr);
	}
}

/* Unwinds the recording of variant, with binary bin_variant mapped in its place. */
static void unwind_variant(const char *variant, const char *bin_variant)
{
	char bin[PATH_MAX];
	struct pw_frame fr[MAXF];
	struct pw_proc_syms *ps;
	uint64_t pcs[MAXF];
	struct rec r;
	int npcs = 0, n;

	if (!libc_is_recorded_one())
		skip();
	snprintf(bin, sizeof(bin), FIX "/%s", bin_variant);
	load_rec(variant, bin, &r);
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      MAXF, &npcs),
			 0);
	assert_int_equal(npcs, 8);
	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	check_full_frames(fr, n, bin, r.regs.ip);
	assert_int_equal(pw_proc_syms__nbad_modules(ps), 0);
	pw_proc_syms__free(ps);
	free_rec(&r);
}

static void test_unwind_gcc(void **state)
{
	unwind_variant("park_fixture", "park_fixture");
}

/* No .debug_aranges: lines come from the CU range index. */
static void test_unwind_clang(void **state)
{
	unwind_variant("park_fixture-clang", "park_fixture-clang");
}

/* No CFI for the program's own functions: the rbp chain carries the walk. */
static void test_unwind_nocfi(void **state)
{
	unwind_variant("park_fixture-nocfi", "park_fixture-nocfi");
}

/* No .symtab but DWARF: names come from the DWARF subprograms, not .dynsym. */
static void test_unwind_nosymtab(void **state)
{
	unwind_variant("park_fixture", "park_fixture-nosymtab");
}

/* strip --strip-all keeps .eh_frame and .dynsym: same pcs, dynamic names only. */
static void test_unwind_stripped(void **state)
{
	struct pw_proc_syms *ps, *full;
	struct rec r, rf;
	uint64_t pcs[MAXF], fpcs[MAXF];
	struct pw_frame fr[MAXF];
	int npcs, nf, n, i, k;

	if (!libc_is_recorded_one())
		skip();
	load_rec("park_fixture", FIX "/park_fixture-stripped", &r);
	load_rec("park_fixture", FIX "/park_fixture", &rf);
	ps = pw_proc_syms__new_from_maps(r.maps, NULL);
	full = pw_proc_syms__new_from_maps(rf.maps, NULL);
	assert_non_null(ps);
	assert_non_null(full);
	assert_int_equal(pw_proc_syms__unwind(ps, 7, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      MAXF, &npcs),
			 0);
	assert_int_equal(pw_proc_syms__unwind(full, 7, &rf.regs, rf.stack, rf.stack_len, rf.regs.sp,
					      fpcs, MAXF, &nf),
			 0);
	assert_int_equal(npcs, nf);
	assert_memory_equal(pcs, fpcs, npcs * sizeof(*pcs));

	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	k = find_func(fr, n, "inner_fn");
	assert_true(k > 0 && k + 2 < n);
	for (i = k; i <= k + 2; i++) {
		assert_true(fr[i].dynsym_only); /* linked with -rdynamic */
		assert_null(fr[i].file);
		assert_int_equal(fr[i].line, 0);
		assert_false(fr[i].inlined);
		assert_string_equal(fr[i].module, FIX "/park_fixture-stripped");
	}
	assert_string_equal(fr[k + 1].func, "outer_fn");
	assert_string_equal(fr[k + 2].func, "main");
	assert_int_equal(find_func(fr, n, "park_here"), -1);
	pw_proc_syms__free(ps);
	pw_proc_syms__free(full);
	free_rec(&r);
	free_rec(&rf);
}

/* A container: maps paths are resolved under its root, reported as in maps. */
static void test_container_root(void **state)
{
	char root[] = "/tmp/pw-root-XXXXXX", path[PATH_MAX], *bin;
	struct pw_frame fr[MAXF];
	struct pw_proc_syms *ps;
	uint64_t pcs[MAXF];
	size_t len;
	struct rec r;
	int npcs, n, k, fd;

	if (!libc_is_recorded_one())
		skip();
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/opt", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/usr", root);
	assert_int_equal(symlink("/usr", path), 0);
	bin = slurp(FIX "/park_fixture", &len);
	snprintf(path, sizeof(path), "%s/opt/app", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bin, len), (ssize_t)len);
	close(fd);
	free(bin);

	load_rec("park_fixture", "/opt/app", &r);
	ps = pw_proc_syms__new_from_maps(r.maps, root);
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      MAXF, &npcs),
			 0);
	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	check_full_frames(fr, n, "/opt/app", r.regs.ip);
	pw_proc_syms__free(ps);

	/* Same maps without the root: the binary is not there. */
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      MAXF, &npcs),
			 0);
	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	k = find_func(fr, n, "inner_fn");
	assert_int_equal(k, -1);
	assert_int_equal(pw_proc_syms__nbad_modules(ps), 1);
	pw_proc_syms__free(ps);

	unlink(path);
	snprintf(path, sizeof(path), "%s/usr", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/opt", root);
	rmdir(path);
	rmdir(root);
	free_rec(&r);
}

/* Less stack than the frames need: stops early, no error, a prefix of the truth. */
static void test_short_copy(void **state)
{
	struct pw_proc_syms *ps;
	uint64_t pcs[MAXF], full[MAXF];
	int npcs, nfull;
	struct rec r;

	if (!libc_is_recorded_one())
		skip();
	load_rec("park_fixture", FIX "/park_fixture", &r);
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, full,
					      MAXF, &nfull),
			 0);
	assert_int_equal(
		pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, 72, r.regs.sp, pcs, MAXF, &npcs), 0);
	assert_true(npcs >= 1 && npcs < nfull);
	assert_memory_equal(pcs, full, npcs * sizeof(*pcs));
	/* No stack at all: frame 0 only. */
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, NULL, 0, r.regs.sp, pcs, MAXF, &npcs),
			 0);
	assert_int_equal(npcs, 1);
	assert_true(pcs[0] == r.regs.ip);
	/* max_pcs bounds the walk. */
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      3, &npcs),
			 0);
	assert_int_equal(npcs, 3);
	assert_memory_equal(pcs, full, 3 * sizeof(*pcs));
	pw_proc_syms__free(ps);
	free_rec(&r);
}

static void test_unmapped(void **state)
{
	struct pw_proc_syms *ps;
	struct pw_frame fr[4];
	struct pw_regs regs = {.ip = 0x10, .sp = 0x7ffee0390000ULL};
	uint64_t pcs[4];
	struct rec r;
	int npcs = 0;

	load_rec("park_fixture", FIX "/park_fixture", &r);
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__symbolize(ps, 0x10, false, fr, 4), 1);
	assert_null(fr[0].module);
	assert_null(fr[0].func);
	assert_null(fr[0].file);
	assert_int_equal(fr[0].line, 0);
	assert_true(fr[0].addr == 0x10);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &regs, NULL, 0, regs.sp, pcs, 4, &npcs),
			 -ENOENT);
	assert_int_equal(npcs, 1);
	assert_true(pcs[0] == 0x10);

	/* Mapped but no ELF behind it ([vdso] is not reported): named, not known. */
	assert_int_equal(pw_proc_syms__symbolize(ps, pw_maps__find(r.maps, r.regs.sp)->start + 8,
						 true, fr, 4),
			 1);
	assert_string_equal(fr[0].module, "[stack]");
	assert_null(fr[0].func);
	assert_true(fr[0].offset == 8);
	pw_proc_syms__free(ps);
	free_rec(&r);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Broken binaries: no crash, the module is named but unknown, and counted. */
static void test_corrupt_elf(void **state)
{
	static const struct {
		const char *name;
		size_t len; /* 0: the whole file */
		bool bad_phoff;
		bool garbage;
		int nbad;
	} cases[] = {
		{"trunc16", 16, false, false, 1},   {"trunc100", 100, false, false, 1},
		{"trunc2k", 2048, false, false, 1}, {"half", 10000, false, false, 1},
		{"badphoff", 0, true, false, 1},    {"garbage", 4096, false, true, 0},
		{"empty", 0, false, true, 0},
	};
	char dir[] = "/tmp/pw-corrupt-XXXXXX", path[256], maps[1024];
	size_t len, i;
	char *bin = slurp(FIX "/park_fixture", &len), *buf;

	assert_non_null(mkdtemp(dir));
	buf = malloc(len);
	assert_non_null(buf);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pw_regs regs = {.ip = 0x401100, .sp = 0x7ffee0390000ULL};
		size_t n = cases[i].len ? cases[i].len : len;
		static char stack[256];
		struct pw_proc_syms *ps;
		struct pw_maps *m;
		struct pw_frame fr[4];
		uint64_t pcs[8];
		int npcs = 0, err;

		memcpy(buf, bin, len);
		if (cases[i].bad_phoff)
			((Elf64_Ehdr *)buf)->e_phoff = 0xffffff00;
		if (cases[i].garbage) {
			memset(buf, 0xab, len);
			if (!strcmp(cases[i].name, "empty"))
				n = 0;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		write_file(path, buf, n);
		snprintf(maps, sizeof(maps),
			 "400000-401000 r--p 00000000 08:01 7 %s\n"
			 "401000-402000 r-xp 00001000 08:01 7 %s\n"
			 "7ffee0380000-7ffee03a1000 rw-p 00000000 00:00 0 [stack]\n",
			 path, path);
		assert_int_equal(pw_maps__parse(maps, strlen(maps), &m), 0);
		ps = pw_proc_syms__new_from_maps(m, "");
		assert_non_null(ps);
		assert_int_equal(pw_proc_syms__symbolize(ps, 0x401100, false, fr, 4), 1);
		assert_string_equal(fr[0].module, path);
		err = pw_proc_syms__unwind(ps, 1, &regs, stack, sizeof(stack), regs.sp, pcs, 8,
					   &npcs);
		/* Unreadable: where, never what. */
		assert_null(fr[0].func);
		assert_null(fr[0].file);
		assert_int_equal(fr[0].line, 0);
		assert_true(fr[0].offset == 0x1100);
		assert_int_equal(err, -ENOEXEC);
		assert_int_equal(npcs, 1);
		/* Not ELF at all (a JIT's memfd, say) is not a binary: no drop. */
		assert_int_equal(pw_proc_syms__nbad_modules(ps), cases[i].nbad);
		pw_proc_syms__free(ps);
		pw_maps__free(m);
		unlink(path);
	}
	rmdir(dir);
	free(buf);
	free(bin);
}

static void test_symbolize_cache_and_room(void **state)
{
	struct pw_frame a[4], b[4], one;
	struct pw_proc_syms *ps;
	uint64_t pcs[MAXF];
	struct rec r;
	int npcs, i, k, n;

	if (!libc_is_recorded_one())
		skip();
	load_rec("park_fixture", FIX "/park_fixture", &r);
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &r.regs, r.stack, r.stack_len, r.regs.sp, pcs,
					      MAXF, &npcs),
			 0);
	/* The return address into inner_fn, inside the inlined park_here. */
	for (k = 1; k < npcs; k++) {
		n = pw_proc_syms__symbolize(ps, pcs[k], true, a, 4);
		if (n == 2 && a[1].func && !strcmp(a[1].func, "inner_fn"))
			break;
	}
	assert_true(k < npcs);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(pw_proc_syms__symbolize(ps, pcs[k], true, b, 4), 2);
		assert_memory_equal(a, b, sizeof(a[0]) * 2);
	}
	/* One slot: the real function is kept, the inlined call dropped. */
	assert_int_equal(pw_proc_syms__symbolize(ps, pcs[k], true, &one, 1), 1);
	assert_string_equal(one.func, "inner_fn");
	assert_false(one.inlined);
	/* As a pc (not a return address) it is the next instruction: a new entry. */
	assert_true(pw_proc_syms__symbolize(ps, pcs[k], false, b, 4) >= 1);
	assert_true(b[0].addr == pcs[k]);
	pw_proc_syms__free(ps);
	free_rec(&r);
}

static void test_invalid_args(void **state)
{
	struct pw_regs regs = {.ip = 0x1000};
	struct pw_maps *m;
	struct pw_proc_syms *ps;
	struct pw_frame fr;
	uint64_t pcs[2];
	int npcs;

	assert_int_equal(pw_maps__parse("", 0, &m), 0);
	ps = pw_proc_syms__new_from_maps(m, "");
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(NULL, 1, &regs, NULL, 0, 0, pcs, 2, &npcs), -EINVAL);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, NULL, NULL, 0, 0, pcs, 2, &npcs), -EINVAL);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &regs, NULL, 0, 0, pcs, 0, &npcs), -EINVAL);
	assert_int_equal(pw_proc_syms__unwind(ps, 1, &regs, NULL, 8, 0, pcs, 2, &npcs), -EINVAL);
	assert_int_equal(pw_proc_syms__symbolize(ps, 1, false, &fr, 0), -EINVAL);
	assert_int_equal(pw_proc_syms__symbolize(NULL, 1, false, &fr, 1), -EINVAL);
	assert_int_equal(pw_proc_syms__nbad_modules(NULL), 0);
	pw_proc_syms__free(NULL);
	pw_proc_syms__free(ps);
	pw_maps__free(m);
	assert_null(pw_proc_syms__new_from_maps(NULL, ""));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pw_proc_syms__new(0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pw_proc_syms__new(INT_MAX));
	assert_int_equal(errno, ESRCH);
}

/* The live fixture, killed by the teardown even when an assertion failed. */
static pid_t live_child;
static char live_tmp[64];

static int kill_live_child(void **state)
{
	if (live_child > 0) {
		kill(live_child, SIGKILL);
		waitpid(live_child, NULL, 0);
	}
	live_child = 0;
	if (live_tmp[0])
		unlink(live_tmp);
	live_tmp[0] = '\0';
	return 0;
}

/* Live: run the fixture, wait until it parks. */
static pid_t spawn_parked(const char *bin)
{
	char path[64], sc[256];
	pid_t pid = fork();
	int i, fd, devnull;
	ssize_t n;

	assert_true(pid >= 0);
	if (!pid) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (i = 0; i < 500; i++) {
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, sc, sizeof(sc) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 4 && !strncmp(sc, "202 ", 4)) {
			live_child = pid;
			return pid;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not park", bin);
	return -1;
}

/* What the scan iterator hands over: saved registers, top of the stack. */
static void grab(pid_t pid, struct pw_regs *r, char *stack, size_t *len, struct pw_maps *maps)
{
	struct user_regs_struct u;
	const struct pw_map *sm;
	char path[64];
	int st, fd;

	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(waitpid(pid, &st, __WALL), pid);
	assert_int_equal(ptrace(PTRACE_GETREGS, pid, 0, &u), 0);
	*r = (struct pw_regs){
		.ip = u.rip,
		.sp = u.rsp,
		.bp = u.rbp,
		.bx = u.rbx,
		.r12 = u.r12,
		.r13 = u.r13,
		.r14 = u.r14,
		.r15 = u.r15,
		.ax = u.rax,
		.cx = u.rcx,
		.dx = u.rdx,
		.si = u.rsi,
		.di = u.rdi,
		.r8 = u.r8,
		.r9 = u.r9,
		.r10 = u.r10,
		.r11 = u.r11,
		.orig_ax = u.orig_rax,
	};
	sm = pw_maps__find(maps, r->sp);
	assert_non_null(sm);
	*len = sm->end - r->sp < 8192 ? sm->end - r->sp : 8192;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, stack, *len, r->sp), (ssize_t)*len);
	close(fd);
	assert_int_equal(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
}

static void live_check(const char *bin, bool delete_bin)
{
	static char stack[8192];
	struct pw_frame fr[MAXF];
	struct pw_proc_syms *ps;
	struct pw_maps *maps;
	uint64_t pcs[MAXF];
	struct pw_regs r;
	size_t len, olen;
	int npcs, n, k, fd;
	char *other;
	pid_t pid;

	pid = spawn_parked(bin);
	if (delete_bin) {
		/* An upgrade: the path now holds another binary. */
		assert_int_equal(unlink(bin), 0);
		other = slurp(FIX "/park_fixture-clang", &olen);
		fd = open(bin, O_WRONLY | O_CREAT | O_EXCL, 0755);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, other, olen), (ssize_t)olen);
		close(fd);
		free(other);
	}
	assert_int_equal(pw_maps__read(pid, &maps), 0);
	grab(pid, &r, stack, &len, maps);
	ps = pw_proc_syms__new(pid);
	assert_non_null(ps);
	assert_int_equal(pw_proc_syms__unwind(ps, pid, &r, stack, len, r.sp, pcs, MAXF, &npcs), 0);
	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	/* maps says "<bin> (deleted)"; the module is still named bin. */
	check_full_frames(fr, n, bin, r.ip);
	/*
	 * 72 bytes hold frame 0's registers only: the rest of the walk reads
	 * the frozen stack through /proc/PID/mem and still gets to main.
	 */
	assert_int_equal(pw_proc_syms__unwind(ps, pid, &r, stack, 72, r.sp, pcs, MAXF, &npcs), 0);
	n = symbolize_all(ps, pcs, npcs, fr, MAXF);
	k = find_func(fr, n, "main");
	assert_true(k > 0);
	assert_int_equal(pw_proc_syms__nbad_modules(ps), 0);
	pw_proc_syms__free(ps);
	pw_maps__free(maps);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	live_child = 0;
	errno = 0;
	assert_null(pw_proc_syms__new(pid));
	assert_int_equal(errno, ESRCH);
}

static void test_live(void **state)
{
	live_check(FIX "/park_fixture", false);
}

/*
 * A process that exits between the scan and the unwind: its binaries can no
 * longer be opened, which is not a broken binary (no drop, no error line).
 */
static void test_live_exited(void **state)
{
	static char stack[8192];
	struct pw_proc_syms *ps;
	struct pw_maps *maps;
	uint64_t pcs[MAXF];
	struct pw_regs r;
	size_t len;
	int npcs;
	pid_t pid;

	pid = spawn_parked(FIX "/park_fixture");
	assert_int_equal(pw_maps__read(pid, &maps), 0);
	grab(pid, &r, stack, &len, maps);
	ps = pw_proc_syms__new(pid);
	assert_non_null(ps);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	live_child = 0;
	/* Whatever the walk gets from the copy, no module is counted as bad. */
	(void)pw_proc_syms__unwind(ps, pid, &r, stack, len, r.sp, pcs, MAXF, &npcs);
	assert_int_equal(pw_proc_syms__nbad_modules(ps), 0);
	pw_proc_syms__free(ps);
	pw_maps__free(maps);
}

/* Replaced (upgraded) binary: only /proc/PID/map_files still has the mapped one. */
static void test_live_deleted(void **state)
{
	size_t len;
	char *bin;
	int fd;

	if (geteuid() != 0)
		skip(); /* map_files needs CAP_SYS_ADMIN */
	bin = slurp(FIX "/park_fixture", &len);
	strcpy(live_tmp, "/tmp/pw-deleted-XXXXXX");
	fd = mkstemp(live_tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bin, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, 0755), 0);
	close(fd);
	free(bin);
	live_check(live_tmp, true);
}

/* st_value of a .symtab symbol. */
static uint64_t sym_value(const char *path, const char *name)
{
	Elf_Scn *scn = NULL;
	uint64_t v = 0;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *d;
	size_t i;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while ((scn = elf_nextscn(elf, scn)) && !v) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getsym(d, i, &sym) &&
			    !strcmp(elf_strptr(elf, sh.sh_link, sym.st_name) ?: "", name))
				v = sym.st_value;
	}
	elf_end(elf);
	close(fd);
	assert_true(v != 0);
	return v;
}

/* Code mapped after pw_proc_syms__new() (dlopen): found by re-reading the maps. */
static void test_refresh_new_mapping(void **state)
{
	uint64_t inner = sym_value(FIX "/park_fixture", "inner_fn");
	struct pw_proc_syms *ps = pw_proc_syms__new(getpid());
	struct pw_frame fr[4];
	struct stat st;
	uint64_t pc;
	void *p;
	int fd;

	assert_non_null(ps);
	fd = open(FIX "/park_fixture", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	assert_true(p != MAP_FAILED);
	/* This fixture's text has file offset == ELF address. */
	pc = (uint64_t)(uintptr_t)p + inner + 4;
	assert_int_equal(pw_proc_syms__symbolize(ps, pc, false, fr, 4), 1);
	assert_string_equal(fr[0].func, "inner_fn");
	assert_true(fr[0].func_off == 4);
	assert_true(fr[0].offset == inner + 4);
	assert_string_equal(fr[0].module, FIX "/park_fixture");
	assert_int_equal(pw_proc_syms__nbad_modules(ps), 0);
	pw_proc_syms__free(ps);
	munmap(p, st.st_size);
	close(fd);
}

/*
 * No CFI: libdw walks rbp, trusting whatever it points at. Return addresses
 * outside code must end the walk instead of becoming frames.
 */
static void test_fp_walk_validated(void **state)
{
	uint64_t inner = sym_value(FIX "/park_fixture-nocfi", "inner_fn");
	uint64_t main_fn = sym_value(FIX "/park_fixture-nocfi", "main");
	struct pw_proc_syms *ps;
	uint64_t stack[8] = {}, pcs[8], base, bias, rets[3];
	struct pw_regs regs = {};
	struct rec r;
	int npcs, i;

	load_rec("park_fixture-nocfi", FIX "/park_fixture-nocfi", &r);
	ps = pw_proc_syms__new_from_maps(r.maps, "");
	assert_non_null(ps);
	bias = r.maps->maps[0].start; /* the binary's first mapping, file offset 0 */
	base = r.regs.sp;
	rets[0] = 0xdead0000;	      /* in no mapping */
	rets[1] = base;		      /* mapped, not code */
	rets[2] = bias + main_fn + 9; /* code */
	for (i = 0; i < 3; i++) {
		regs.ip = bias + inner + 16;
		regs.sp = base;
		regs.bp = base + 16;
		stack[2] = base + 48; /* saved rbp: the outermost frame */
		stack[3] = rets[i];
		assert_int_equal(pw_proc_syms__unwind(ps, 1, &regs, stack, sizeof(stack), base, pcs,
						      8, &npcs),
				 0);
		assert_int_equal(npcs, i < 2 ? 1 : 2);
		assert_true(pcs[0] == regs.ip);
	}
	assert_true(pcs[1] == rets[2]);
	pw_proc_syms__free(ps);
	free_rec(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwind_gcc),
		cmocka_unit_test(test_unwind_clang),
		cmocka_unit_test(test_unwind_nocfi),
		cmocka_unit_test(test_unwind_nosymtab),
		cmocka_unit_test(test_unwind_stripped),
		cmocka_unit_test(test_fp_walk_validated),
		cmocka_unit_test(test_container_root),
		cmocka_unit_test(test_short_copy),
		cmocka_unit_test(test_unmapped),
		cmocka_unit_test(test_corrupt_elf),
		cmocka_unit_test(test_symbolize_cache_and_room),
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_refresh_new_mapping),
		cmocka_unit_test_teardown(test_live, kill_live_child),
		cmocka_unit_test_teardown(test_live_deleted, kill_live_child),
		cmocka_unit_test_teardown(test_live_exited, kill_live_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
