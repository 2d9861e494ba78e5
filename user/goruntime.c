/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading a Go process's goroutines from outside (goruntime.h). The formats
 * were learned from the Go 1.19 runtime's source (runtime2.go, symtab.go,
 * proc.go, traceback.go, mprof.go) and debug/buildinfo; every number below
 * that is specific to a release says which.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "goruntime.h"
#include "util.h"

/* The target is x86-64: its words are read with memcpy in host order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host");

const char *const pw_go_supported_releases[] = {"go1.19", NULL};

static void set_err(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* off + n inside [0, len), without overflowing. */
static bool in_range(uint64_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get_n(const uint8_t *p, unsigned size)
{
	switch (size) {
	case 1:
		return p[0];
	case 2:
		return (uint64_t)p[0] | (uint64_t)p[1] << 8;
	case 4:
		return get32(p);
	default:
		return get64(p);
	}
}

/* Unsigned LEB128 as Go's encoding/binary writes it; at most 10 bytes. */
static int uvarint(const uint8_t *p, size_t len, uint64_t *v, size_t *n)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < len && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			*n = i + 1;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- build info (debug/buildinfo) ---- */

#define BI_MAGIC "\xff Go buildinf:"
#define BI_MAGIC_LEN 14
#define BI_HDR 32
#define BI_ALIGN 16
#define BI_FLAG_INLINE 2 /* Go 1.18+: strings follow the header, varint-prefixed */

static const uint8_t *find_buildinfo(const uint8_t *d, size_t len)
{
	size_t off;

	/* The linker aligns the blob to 16 bytes in its section/segment. */
	for (off = 0; in_range(len, off, BI_HDR); off += BI_ALIGN)
		if (!memcmp(d + off, BI_MAGIC, BI_MAGIC_LEN))
			return d + off;
	return NULL;
}

static int copy_version(const uint8_t *s, uint64_t n, char *version, size_t vlen)
{
	uint64_t i;

	/* "go1.19.8", "devel go1.22-abcdef ...": printable ASCII only. */
	if (!n || n > 256)
		return -ENOEXEC;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return -ENOEXEC;
	if (n >= vlen)
		return -ENOSPC;
	memcpy(version, s, n);
	version[n] = '\0';
	return 0;
}

int pw_go_buildinfo_parse(const void *data, size_t len, char *version, size_t vlen)
{
	const uint8_t *d = data, *p;
	uint64_t n;
	size_t used, rest;

	if (!data || !version || !vlen)
		return -EINVAL;
	p = find_buildinfo(d, len);
	if (!p)
		return -ENOTSUP;
	if (p[14] != 8 && p[14] != 4)
		return -ENOEXEC;
	if (!(p[15] & BI_FLAG_INLINE))
		return -ENOEXEC;
	rest = len - (size_t)(p - d) - BI_HDR;
	p += BI_HDR;
	if (uvarint(p, rest, &n, &used) || !in_range(rest, used, n))
		return -ENOEXEC;
	return copy_version(p + used, n, version, vlen);
}

/* ---- pclntab (runtime/symtab.go: pcHeader, functab, _func, pcvalue) ---- */

#define PCLN_MAGIC_118 0xfffffff0u /* Go 1.18 and 1.19 */
#define PCLN_HDR 72
/* Bounds for hostile tables: real programs have < 1M functions, records < 100 bytes. */
#define PCLN_MAX_FUNCS (4u << 20)
#define PCLN_FUNC_MAX 4096
#define PCLN_MAX_TRIES 16
#define GOFUNC_MAX                                                                                 \
	(64u << 20) /* funcdata copied from a binary (goseed: 1.7 MB) */ /* pcHeader look-alikes   \
									    tried in a binary      \
									    without sections */
#define FUNC_HDR 40 /* _func up to nfuncdata; pcdata[] then funcdata[] follow */
#define PCDATA_INLTREEINDEX 2
#define FUNCDATA_INLTREE 3
#define INLCALL_SIZE 20	    /* inlinedCall in Go 1.19 */
#define FUNCFLAG_TOPFRAME 1 /* goexit, mstart...: the stack ends here */
#define MAX_INLINE_DEPTH 64 /* bounds a hostile parentPc cycle */

/* funcID values of Go 1.19 (symtab.go), for pprof's wrapper elision. */
enum {
	FUNCID_GOPANIC_119 = 9,
	FUNCID_PANICWRAP_119 = 14,
	FUNCID_SIGPANIC_119 = 18,
	FUNCID_WRAPPER_119 = 21,
};

struct pw_gopclntab {
	uint8_t *data;
	size_t len;
	uint64_t text;	/* runtime.text in the lookups' address space */
	uint64_t nfunc; /* ftab holds nfunc + 1 entries, the last one is etext */
	/* Regions of data, in the order the linker writes them. */
	size_t names, names_end, cutab, cutab_end, files, files_end, pctab, pctab_end, pcln;
	uint8_t *gofunc;
	size_t gofunc_len;
};

/* One symbolized frame with pointers into the table (not interned yet). */
struct gofr {
	const char *func, *file;
	int line;
	bool inlined;
	uint8_t funcid;
	uint64_t entry;
};

int pw_gopclntab__new(const void *data, size_t len, uint64_t text_start, struct pw_gopclntab **out)
{
	const uint8_t *d = data;
	struct pw_gopclntab *t;
	uint64_t nfunc, off[5], prev, i, end;

	if (!data || !out)
		return -EINVAL;
	*out = NULL;
	if (len < PCLN_HDR || get32(d) != PCLN_MAGIC_118 || d[4] || d[5] || d[6] != 1 || d[7] != 8)
		return -ENOEXEC;
	nfunc = get64(d + 8);
	/* funcnametab, cutab, filetab, pctab, pclntab: increasing, inside the blob. */
	for (i = 0; i < 5; i++) {
		off[i] = get64(d + 32 + 8 * i);
		if (off[i] < PCLN_HDR || off[i] > len || (i && off[i] < off[i - 1]))
			return -ENOEXEC;
	}
	/* nfunc + 1 ftab entries of 8 bytes; more functions than any real program has is hostile.
	 */
	if (!nfunc || nfunc > PCLN_MAX_FUNCS || nfunc >= (len - off[4]) / 8)
		return -ENOEXEC;
	/*
	 * Lookups bisect the ftab: it must be sorted, as the runtime checks too.
	 * Checked in place, before anything is copied, and the copy ends after the
	 * last function's record: a header in front of a huge (or sparse) file
	 * costs a pass over its ftab, not a copy of the file.
	 */
	for (i = 0, prev = 0, end = off[4] + 8 * (nfunc + 1); i <= nfunc; i++) {
		uint32_t e = get32(d + off[4] + 8 * i);

		if (e < prev)
			return -ENOEXEC;
		prev = e;
		if (i < nfunc && off[4] + get32(d + off[4] + 8 * i + 4) + PCLN_FUNC_MAX > end)
			end = off[4] + get32(d + off[4] + 8 * i + 4) + PCLN_FUNC_MAX;
	}
	if (end < len)
		len = end;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->data = malloc(len);
	if (!t->data) {
		free(t);
		return -ENOMEM;
	}
	memcpy(t->data, d, len);
	t->len = len;
	t->nfunc = nfunc;
	t->text = text_start ? text_start : get64(d + 24);
	/* text + any 32-bit entry offset must not wrap around. */
	if (t->text > UINT64_MAX - UINT32_MAX) {
		pw_gopclntab__free(t);
		return -ENOEXEC;
	}
	t->names = off[0];
	t->names_end = off[1];
	t->cutab = off[1];
	t->cutab_end = off[2];
	t->files = off[2];
	t->files_end = off[3];
	t->pctab = off[3];
	t->pctab_end = off[4];
	t->pcln = off[4];
	*out = t;
	return 0;
}

void pw_gopclntab__free(struct pw_gopclntab *t)
{
	if (!t)
		return;
	free(t->data);
	free(t->gofunc);
	free(t);
}

int pw_gopclntab__set_gofunc(struct pw_gopclntab *t, const void *data, size_t len)
{
	uint8_t *c;

	if (!t || (!data && len))
		return -EINVAL;
	c = len ? malloc(len) : NULL;
	if (len && !c)
		return -ENOMEM;
	if (len)
		memcpy(c, data, len);
	free(t->gofunc);
	t->gofunc = c;
	t->gofunc_len = len;
	return 0;
}

uint64_t pw_gopclntab__nfunc(const struct pw_gopclntab *t)
{
	return t ? t->nfunc : 0;
}

static uint32_t ftab_entry(const struct pw_gopclntab *t, uint64_t i)
{
	return get32(t->data + t->pcln + 8 * i);
}

/* The _func of ftab index i, with its pcdata/funcdata arrays in bounds; NULL if corrupt. */
static const uint8_t *func_at(const struct pw_gopclntab *t, uint64_t i)
{
	uint64_t off = (uint64_t)t->pcln + get32(t->data + t->pcln + 8 * i + 4);
	const uint8_t *f;

	if (!in_range(t->len, off, FUNC_HDR))
		return NULL;
	f = t->data + off;
	if (!in_range(t->len, off + FUNC_HDR, 4 * ((uint64_t)get32(f + 28) + f[39])))
		return NULL;
	return f;
}

/* ftab index of the function containing text offset pcoff, or -1. */
static int64_t find_index(const struct pw_gopclntab *t, uint64_t pcoff)
{
	uint64_t lo = 0, hi = t->nfunc;

	if (pcoff < ftab_entry(t, 0) || pcoff >= ftab_entry(t, t->nfunc))
		return -1;
	/* Invariant: entry[lo] <= pcoff < entry[hi]. */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ftab_entry(t, mid) <= pcoff)
			lo = mid;
		else
			hi = mid;
	}
	return (int64_t)lo;
}

/* A NUL-terminated string at off inside [start, end) of the table, or NULL. */
static const char *str_at(const struct pw_gopclntab *t, size_t start, size_t end, uint64_t off)
{
	const char *s;

	if (off >= end - start)
		return NULL;
	s = (const char *)t->data + start + off;
	return memchr(s, '\0', end - start - off) ? s : NULL;
}

static const char *func_name(const struct pw_gopclntab *t, int64_t nameoff)
{
	if (nameoff < 0)
		return NULL;
	return str_at(t, t->names, t->names_end, (uint64_t)nameoff);
}

/*
 * The value of the pc-value table at off for text offset target, in the
 * function starting at entry (symtab.go pcvalue/step): -1 if absent.
 */
static int32_t pcvalue(const struct pw_gopclntab *t, uint32_t off, uint64_t entry, uint64_t target)
{
	const uint8_t *p;
	size_t left, n;
	uint64_t pc = entry, uv, pcd;
	uint32_t val = (uint32_t)-1;
	bool first = true;

	if (!off || off >= t->pctab_end - t->pctab)
		return -1;
	p = t->data + t->pctab + off;
	left = t->pctab_end - t->pctab - off;
	for (;;) {
		if (!left || (!p[0] && !first))
			return -1;
		if (uvarint(p, left, &uv, &n))
			return -1;
		p += n;
		left -= n;
		/* Zig-zag delta, wrapping like Go's int32 arithmetic. */
		val += (uint32_t)(-(int32_t)(uv & 1)) ^ (uint32_t)(uv >> 1);
		if (uvarint(p, left, &pcd, &n))
			return -1;
		p += n;
		left -= n;
		pc += (uint32_t)pcd; /* PCQuantum is 1 on x86 */
		if (target < pc)
			return (int32_t)val;
		first = false;
	}
}

static const char *file_name(const struct pw_gopclntab *t, const uint8_t *f, int32_t fileno)
{
	uint64_t i = (uint64_t)get32(f + 32) + (uint32_t)fileno;
	uint32_t fo;

	if (fileno < 0 || !in_range(t->cutab_end - t->cutab, 4 * i, 4))
		return NULL;
	fo = get32(t->data + t->cutab + 4 * i);
	if (fo == UINT32_MAX)
		return NULL;
	return str_at(t, t->files, t->files_end, fo);
}

static void file_line(const struct pw_gopclntab *t, const uint8_t *f, uint64_t entry,
		      uint64_t target, const char **file, int *line)
{
	int32_t fileno = pcvalue(t, get32(f + 20), entry, target);
	int32_t ln = pcvalue(t, get32(f + 24), entry, target);

	*file = fileno >= 0 ? file_name(t, f, fileno) : NULL;
	*line = ln > 0 ? ln : 0;
	if (!*file)
		*line = 0;
}

/*
 * Frames of pc, innermost first, pointing into t. *flag gets the real
 * function's funcFlag. Returns frames written (>= 1) or -ENOENT.
 */
static int lookup_raw(const struct pw_gopclntab *t, uint64_t pc, bool is_ret, struct gofr *out,
		      int max, uint8_t *flag)
{
	struct gofr tmp[MAX_INLINE_DEPTH + 1];
	uint64_t pcoff, entry, tracepc, inl = 0;
	const uint8_t *f;
	int64_t idx;
	int n = 0, i, skip;
	uint32_t npcdata, nfuncdata, fd = UINT32_MAX;

	if (!t || !out || max < 1)
		return -EINVAL;
	if (is_ret)
		pc--; /* the call instruction, still inside the caller */
	if (pc < t->text || pc - t->text > UINT32_MAX)
		return -ENOENT;
	pcoff = pc - t->text;
	idx = find_index(t, pcoff);
	if (idx < 0)
		return -ENOENT;
	f = func_at(t, (uint64_t)idx);
	if (!f)
		return -ENOENT;
	entry = get32(f);
	if (entry != ftab_entry(t, (uint64_t)idx))
		return -ENOENT;
	npcdata = get32(f + 28);
	nfuncdata = f[39];
	if (nfuncdata > FUNCDATA_INLTREE)
		fd = get32(f + FUNC_HDR + 4 * (npcdata + FUNCDATA_INLTREE));
	tracepc = pcoff;
	/* Inlined calls (symtab.go FuncForPC / traceback.go gentraceback). */
	if (t->gofunc && fd != UINT32_MAX && npcdata > PCDATA_INLTREEINDEX) {
		uint32_t ixoff = get32(f + FUNC_HDR + 4 * PCDATA_INLTREEINDEX);

		while (n < MAX_INLINE_DEPTH) {
			int32_t ix = pcvalue(t, ixoff, entry, tracepc);
			const uint8_t *ic;

			if (ix < 0)
				break;
			inl = (uint64_t)fd + (uint64_t)ix * INLCALL_SIZE;
			if (!in_range(t->gofunc_len, inl, INLCALL_SIZE))
				break;
			ic = t->gofunc + inl;
			tmp[n].func = func_name(t, (int32_t)get32(ic + 12));
			file_line(t, f, entry, tracepc, &tmp[n].file, &tmp[n].line);
			tmp[n].inlined = true;
			tmp[n].funcid = ic[2];
			tmp[n].entry = t->text + entry;
			n++;
			/* Back up to an instruction whose position is the call site. */
			tracepc = entry + (uint32_t)get32(ic + 16);
		}
	}
	tmp[n].func = func_name(t, (int32_t)get32(f + 4));
	file_line(t, f, entry, tracepc, &tmp[n].file, &tmp[n].line);
	tmp[n].inlined = false;
	tmp[n].funcid = f[36];
	tmp[n].entry = t->text + entry;
	n++;
	if (flag)
		*flag = f[37];
	/* Short of room: drop the innermost inlined frames, keep the real function. */
	skip = n > max ? n - max : 0;
	for (i = skip; i < n; i++)
		out[i - skip] = tmp[i];
	return n - skip;
}

static void to_frame(const struct gofr *g, uint64_t pc, struct pw_frame *fr, bool intern)
{
	memset(fr, 0, sizeof(*fr));
	fr->addr = pc;
	fr->offset = pc;
	fr->func = intern ? pw_intern(g->func) : g->func;
	fr->func_off = g->func ? pc - g->entry : 0;
	fr->file = intern ? pw_intern(g->file) : g->file;
	fr->line = fr->file ? g->line : 0;
	fr->inlined = g->inlined;
}

static int lookup_frames(const struct pw_gopclntab *t, uint64_t pc, bool is_ret,
			 struct pw_frame *out, int max, bool intern)
{
	struct gofr g[MAX_INLINE_DEPTH + 1];
	int n, i;

	if (!out || max < 1)
		return -EINVAL;
	n = lookup_raw(t, pc, is_ret, g, max < MAX_INLINE_DEPTH + 1 ? max : MAX_INLINE_DEPTH + 1,
		       NULL);
	for (i = 0; i < n; i++)
		to_frame(&g[i], pc, &out[i], intern);
	return n;
}

int pw_gopclntab__lookup(const struct pw_gopclntab *t, uint64_t pc, bool is_return_addr,
			 struct pw_frame *out, int max)
{
	return lookup_frames(t, pc, is_return_addr, out, max, true);
}

int pw_gopclntab__lookup_raw(const struct pw_gopclntab *t, uint64_t pc, bool is_return_addr,
			     struct pw_frame *out, int max)
{
	return lookup_frames(t, pc, is_return_addr, out, max, false);
}

int pw_gopclntab__find_func(const struct pw_gopclntab *t, const char *name, uint64_t *entry)
{
	uint64_t i;

	if (!t || !name || !entry)
		return -EINVAL;
	for (i = 0; i < t->nfunc; i++) {
		const uint8_t *f = func_at(t, i);
		const char *s = f ? func_name(t, (int32_t)get32(f + 4)) : NULL;

		if (s && !strcmp(s, name)) {
			*entry = t->text + ftab_entry(t, i);
			return 0;
		}
	}
	return -ENOENT;
}

int pw_gopclntab__func_range(const struct pw_gopclntab *t, uint64_t pc, uint64_t *entry,
			     uint64_t *end)
{
	int64_t i;

	if (!t || !entry || !end)
		return -EINVAL;
	if (pc < t->text || pc - t->text > UINT32_MAX)
		return -ENOENT;
	i = find_index(t, pc - t->text);
	if (i < 0)
		return -ENOENT;
	*entry = t->text + ftab_entry(t, (uint64_t)i);
	*end = t->text + ftab_entry(t, (uint64_t)i + 1);
	return 0;
}

/* ---- x86-64 decoding of runtime.allgadd ---- */

struct insn {
	size_t len;
	bool modrm, riprel;
	uint8_t op;	      /* one-byte opcode; 0x0f for the two-byte map */
	uint8_t op2;	      /* second byte after 0x0f */
	uint8_t mod, reg, rm; /* reg and rm include REX.R/REX.B */
	uint64_t target;      /* RIP-relative memory operand */
};

/*
 * Operand shape of the one-byte opcodes in 64-bit mode: OP_MODRM when a ModRM
 * byte follows, plus the immediate's kind. Prefixes, REX, 0x0f and VEX are
 * consumed before the table is consulted, so their slots say OP_BAD too.
 */
enum {
	OP_NONE = 0,
	OP_I8 = 1,
	OP_I16 = 2,
	OP_IZ = 3,  /* 16 or 32 bits (operand size) */
	OP_I32 = 4, /* rel32 */
	OP_IV = 5,  /* 16, 32 or 64 bits: mov r64, imm64 */
	OP_I24 = 6, /* enter imm16, imm8 */
	OP_M64 = 7, /* moffs64 */
	OP_MODRM = 0x40,
	OP_BAD = 0x80,
};

#define N_ OP_NONE
#define X_ OP_BAD
#define R_ OP_MODRM
#define B_ OP_I8
#define Z_ OP_IZ
#define W_ OP_I16
#define J_ OP_I32
#define V_ OP_IV
#define E_ OP_I24
#define M_ OP_M64
#define RB (OP_MODRM | OP_I8)
#define RZ (OP_MODRM | OP_IZ)

static const uint8_t op1[256] = {
	/*       0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f */
	/* 0 */ R_, R_, R_, R_, B_, Z_, X_, X_, R_, R_, R_, R_, B_, Z_, X_, X_,
	/* 1 */ R_, R_, R_, R_, B_, Z_, X_, X_, R_, R_, R_, R_, B_, Z_, X_, X_,
	/* 2 */ R_, R_, R_, R_, B_, Z_, X_, X_, R_, R_, R_, R_, B_, Z_, X_, X_,
	/* 3 */ R_, R_, R_, R_, B_, Z_, X_, X_, R_, R_, R_, R_, B_, Z_, X_, X_,
	/* 4 */ X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_, X_,
	/* 5 */ N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, N_,
	/* 6 */ X_, X_, X_, R_, X_, X_, X_, X_, Z_, RZ, B_, RB, N_, N_, N_, N_,
	/* 7 */ B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_, B_,
	/* 8 */ RB, RZ, X_, RB, R_, R_, R_, R_, R_, R_, R_, R_, R_, R_, R_, R_,
	/* 9 */ N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, X_, N_, N_, N_, N_, N_,
	/* a */ M_, M_, M_, M_, N_, N_, N_, N_, B_, Z_, N_, N_, N_, N_, N_, N_,
	/* b */ B_, B_, B_, B_, B_, B_, B_, B_, V_, V_, V_, V_, V_, V_, V_, V_,
	/* c */ RB, RB, W_, N_, X_, X_, RB, RZ, E_, N_, W_, N_, N_, B_, X_, N_,
	/* d */ R_, R_, R_, R_, X_, X_, X_, X_, R_, R_, R_, R_, R_, R_, R_, R_,
	/* e */ B_, B_, B_, B_, B_, B_, B_, B_, J_, J_, X_, B_, N_, N_, N_, N_,
	/* f */ X_, N_, X_, X_, N_, N_, R_, R_, N_, N_, N_, N_, N_, N_, R_, R_,
};

#undef N_
#undef X_
#undef R_
#undef B_
#undef Z_
#undef W_
#undef J_
#undef V_
#undef E_
#undef M_
#undef RB
#undef RZ

/* The 0x0f map: ModRM and no immediate, but for these. */
static uint8_t op_0f(uint8_t op)
{
	if (op >= 0x80 && op <= 0x8f)
		return OP_I32; /* jcc rel32 */
	if ((op >= 0x05 && op <= 0x09) || op == 0x0b || (op >= 0x30 && op <= 0x35) || op == 0x77 ||
	    (op >= 0xa0 && op <= 0xa2) || op == 0xa8 || op == 0xa9 || (op >= 0xc8 && op <= 0xcf))
		return OP_NONE; /* syscall, ud2, rdtsc, cpuid, push/pop fs/gs, bswap... */
	if ((op >= 0x70 && op <= 0x73) || op == 0xa4 || op == 0xac || op == 0xba || op == 0xc2 ||
	    (op >= 0xc4 && op <= 0xc6))
		return OP_MODRM | OP_I8;
	return OP_MODRM;
}

static int imm_bytes(uint8_t kind, bool o16, bool rexw)
{
	static const int8_t sz[8] = {0, 1, 2, 4, 4, 4, 3, 8};

	kind &= 7;
	if (kind == OP_IZ)
		return o16 ? 2 : 4;
	if (kind == OP_IV)
		return rexw ? 8 : o16 ? 2 : 4;
	return sz[kind];
}

/* Decodes one instruction at c[0..n), loaded at ip. 0 or -1 (unknown/truncated). */
static int decode_insn(const uint8_t *c, size_t n, uint64_t ip, struct insn *in)
{
	size_t i = 0, disp = 0;
	bool o16 = false, rexw = false;
	uint8_t rex = 0, m, sib;
	int imm;

	memset(in, 0, sizeof(*in));
	for (; i < n && i < 4; i++) {
		uint8_t b = c[i];

		if (b == 0x66)
			o16 = true;
		else if (b != 0xf2 && b != 0xf3 && b != 0xf0 && b != 0x2e && b != 0x3e &&
			 b != 0x26 && b != 0x36 && b != 0x64 && b != 0x65 && b != 0x67)
			break;
	}
	if (i < n && (c[i] & 0xf0) == 0x40) {
		rex = c[i++];
		rexw = rex & 8;
	}
	if (i >= n)
		return -1;
	in->op = c[i++];
	if (in->op == 0xc4 || in->op == 0xc5) {
		/* VEX (Go's memmove/memclr use AVX): map from the prefix, then ModRM. */
		uint8_t map = 1;

		if (in->op == 0xc4) {
			if (i + 2 > n)
				return -1;
			map = c[i] & 0x1f;
			/* R and B are stored inverted. */
			rex = 0x40 | ((c[i] & 0x80) ? 0 : 4) | ((c[i] & 0x20) ? 0 : 1);
			i += 2;
		} else {
			if (i + 1 > n)
				return -1;
			rex = 0x40 | ((c[i] & 0x80) ? 0 : 4);
			i += 1;
		}
		if (i >= n || map < 1 || map > 3)
			return -1;
		in->op2 = c[i++];
		in->op = 0x0f;
		in->modrm = true;
		imm = map == 3 ? 1 : 0;
	} else if (in->op == 0x0f) {
		uint8_t k;

		if (i >= n)
			return -1;
		in->op2 = c[i++];
		if (in->op2 == 0x38 || in->op2 == 0x3a) {
			imm = in->op2 == 0x3a ? 1 : 0;
			if (i >= n)
				return -1;
			i++;
			in->modrm = true;
		} else {
			k = op_0f(in->op2);
			in->modrm = k & OP_MODRM;
			imm = imm_bytes(k, o16, rexw);
		}
	} else {
		uint8_t k = op1[in->op];

		if (k & OP_BAD)
			return -1;
		in->modrm = k & OP_MODRM;
		imm = imm_bytes(k, o16, rexw);
	}
	if (in->modrm) {
		if (i >= n)
			return -1;
		m = c[i++];
		in->mod = m >> 6;
		in->reg = ((m >> 3) & 7) | ((rex & 4) ? 8 : 0);
		in->rm = (m & 7) | ((rex & 1) ? 8 : 0);
		if (in->mod != 3 && (m & 7) == 4) {
			if (i >= n)
				return -1;
			sib = c[i++];
			if (in->mod == 0 && (sib & 7) == 5)
				disp = 4;
		}
		if (in->mod == 0 && (m & 7) == 5) {
			in->riprel = true;
			disp = 4;
		} else if (in->mod == 1) {
			disp = 1;
		} else if (in->mod == 2) {
			disp = 4;
		}
		/* test r/m, imm: only /0 and /1 of the F6/F7 group carry an immediate. */
		if ((in->op == 0xf6 || in->op == 0xf7) && ((m >> 3) & 7) < 2)
			imm = in->op == 0xf6 ? 1 : (o16 ? 2 : 4);
	}
	if (i + disp + (size_t)imm > n)
		return -1;
	in->len = i + disp + (size_t)imm;
	if (in->riprel) {
		int32_t d32;

		memcpy(&d32, c + i, 4);
		in->target = ip + in->len + (int64_t)d32;
	}
	return 0;
}

#define MAX_REFS 64

int pw_go_decode_allgadd(const void *code, size_t len, uint64_t addr, uint64_t *allgs,
			 uint64_t *allglen, uint64_t *allgptr)
{
	const uint8_t *c = code;
	uint64_t refs[MAX_REFS], lea[16] = {0}, xchg[2] = {0};
	int nrefs = 0, nxchg = 0, i, j, k;
	size_t off = 0;

	if (!code || !allgs || !allglen || !allgptr)
		return -EINVAL;
	*allgs = *allglen = *allgptr = 0;
	/* allgadd is ~350 bytes in Go 1.19; a runaway length means a bad range. */
	if (len > 4096)
		len = 4096;
	while (off < len) {
		struct insn in;

		if (decode_insn(c + off, len - off, addr + off, &in))
			break;
		if (in.riprel && nrefs < MAX_REFS)
			refs[nrefs++] = in.target;
		if (in.op == 0x8d) {
			lea[in.reg & 15] = in.riprel ? in.target : 0;
		} else if (in.op == 0xe8) {
			/* Go's ABI has no callee-saved registers. */
			memset(lea, 0, sizeof(lea));
		} else if (in.op == 0x87 && in.mod == 0 && (in.rm & 7) != 4 && (in.rm & 7) != 5) {
			/* XCHG reg, (base): an atomic store to what base was LEA'd from. */
			uint64_t dst = lea[in.rm & 15];

			if (dst && nxchg < 2 && (!nxchg || xchg[0] != dst))
				xchg[nxchg++] = dst;
		} else if (in.modrm && in.mod == 3) {
			/* The register is overwritten by something else: forget its LEA. */
			if (in.op == 0x89 || in.op == 0x31)
				lea[in.rm & 15] = 0;
			else if (in.op == 0x8b)
				lea[in.reg & 15] = 0;
		} else if (in.op == 0x8b) {
			lea[in.reg & 15] = 0;
		}
		off += in.len;
	}
	/* allgs = append(allgs, gp) touches the slice's ptr, len and cap words. */
	for (i = 0; i < nrefs && !*allgs; i++) {
		bool has8 = false, has16 = false;

		for (j = 0; j < nrefs; j++) {
			has8 |= refs[j] == refs[i] + 8;
			has16 |= refs[j] == refs[i] + 16;
		}
		if (has8 && has16)
			*allgs = refs[i];
	}
	if (!*allgs)
		return -ENOENT;
	/* allgadd stores allgptr, then allglen, both with atomic XCHG. */
	for (k = 0; k < nxchg; k++)
		if (xchg[k] >= *allgs && xchg[k] < *allgs + 24)
			return 0;
	if (nxchg == 2) {
		*allgptr = xchg[0];
		*allglen = xchg[1];
	}
	return 0;
}

/* ---- what each supported release needs that the binary may not say ---- */

/* runtime2.go waitReasonStrings, Go 1.19. */
static const char *const wait_reasons_119[] = {
	"",
	"GC assist marking",
	"IO wait",
	"chan receive (nil chan)",
	"chan send (nil chan)",
	"dumping heap",
	"garbage collection",
	"garbage collection scan",
	"panicwait",
	"select",
	"select (no cases)",
	"GC assist wait",
	"GC sweep wait",
	"GC scavenge wait",
	"chan receive",
	"chan send",
	"finalizer wait",
	"force gc (idle)",
	"semacquire",
	"sleep",
	"sync.Cond.Wait",
	"timer goroutine (idle)",
	"trace reader (blocked)",
	"wait for GC cycle",
	"GC worker (idle)",
	"preempted",
	"debug call",
};

/* Field offsets of moduledata (symtab.go) that the reader validates or uses. */
struct md_layout {
	uint32_t funcnametab, cutab, filetab, pctab, pclntable, ftab, text, etext, gofunc, size;
};

struct go_release {
	const char *prefix; /* "go1.19": matches go1.19, go1.19.8, go1.19rc1 */
	struct pw_go_layout layout;
	struct md_layout md;
	const char *const *wait_reasons;
	int nwait_reasons;
	uint8_t funcid_wrapper, funcid_gopanic, funcid_sigpanic, funcid_panicwrap;
};

static const struct go_release releases[] = {
	{
		.prefix = "go1.19",
		/*
		 * runtime2.go type g: stack{lo,hi} 0, sched gobuf 56 (sp +0, pc +8,
		 * bp +48), atomicstatus 144, goid 152, waitsince 168, waitreason
		 * (uint8) 176, gopc 296, startpc 312. test_goruntime.c checks this
		 * against the DWARF of a binary built by go1.19.
		 */
		.layout = {.stack_lo = 0,
			   .stack_hi = 8,
			   .sched_sp = 56,
			   .sched_pc = 64,
			   .sched_bp = 104,
			   .status = 144,
			   .goid = 152,
			   .waitsince = 168,
			   .waitreason = 176,
			   .gopc = 296,
			   .startpc = 312,
			   .status_size = 4,
			   .waitreason_size = 1,
			   .size = 320},
		.md = {.funcnametab = 8,
		       .cutab = 32,
		       .filetab = 56,
		       .pctab = 80,
		       .pclntable = 104,
		       .ftab = 128,
		       .text = 176,
		       .etext = 184,
		       .gofunc = 304,
		       .size = 312},
		.wait_reasons = wait_reasons_119,
		.nwait_reasons = sizeof(wait_reasons_119) / sizeof(wait_reasons_119[0]),
		.funcid_wrapper = FUNCID_WRAPPER_119,
		.funcid_gopanic = FUNCID_GOPANIC_119,
		.funcid_sigpanic = FUNCID_SIGPANIC_119,
		.funcid_panicwrap = FUNCID_PANICWRAP_119,
	},
};

static const struct go_release *find_release(const char *version)
{
	size_t i, n;

	for (i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
		n = strlen(releases[i].prefix);
		/* go1.19 must not match go1.190. */
		if (!strncmp(version, releases[i].prefix, n) &&
		    !(version[n] >= '0' && version[n] <= '9'))
			return &releases[i];
	}
	return NULL;
}

/* ---- the executable file ---- */

#define MAX_SEGS 16
#define MAX_WAIT_REASONS 256
#define G_MAX_OFFSET 4096 /* a runtime.g bigger than this is not a runtime.g */

struct seg {
	uint64_t vaddr, memsz, filesz, off;
	uint32_t flags;
};

/* The file while it is being analysed; nothing here outlives pw_go_binary__open. */
struct img {
	int fd;
	Elf *elf;
	const uint8_t *raw;
	size_t rawlen;
	GElf_Ehdr eh;
	struct seg segs[MAX_SEGS];
	int nsegs;
	size_t shstrndx;
	bool have_shstrndx;
};

struct pw_go_binary {
	struct pw_go_info info;
	uint64_t e_entry;
	bool pie;
	struct pw_gopclntab *tab;
	const char **wr;
	const struct go_release *rel;
};

/* File bytes at vaddr, at least len of them; *avail (may be NULL) = bytes to the segment's end. */
static const uint8_t *img_ptr(const struct img *im, uint64_t vaddr, uint64_t len, uint64_t *avail)
{
	int i;

	for (i = 0; i < im->nsegs; i++) {
		const struct seg *s = &im->segs[i];
		uint64_t rel;

		if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
			continue;
		rel = vaddr - s->vaddr;
		if (!in_range(s->filesz, rel, len))
			return NULL;
		if (avail)
			*avail = s->filesz - rel;
		return im->raw + s->off + rel;
	}
	return NULL;
}

static bool img_u64(const struct img *im, uint64_t vaddr, uint64_t *v)
{
	const uint8_t *p = img_ptr(im, vaddr, 8, NULL);

	if (p)
		*v = get64(p);
	return p != NULL;
}

static int img_open(struct img *im, const char *path, char *err, size_t errlen)
{
	struct stat st;
	size_t phnum, i;
	int fd;

	memset(im, 0, sizeof(*im));
	im->fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		set_err(err, errlen, "cannot open %s: %s", path, strerror(e));
		return e == ENOENT && !strncmp(path, "/proc/", 6) ? -ESRCH : -e;
	}
	im->fd = fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s is not a regular file", path);
		return -ENOTSUP;
	}
	elf_version(EV_CURRENT);
	im->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!im->elf || elf_kind(im->elf) != ELF_K_ELF) {
		set_err(err, errlen, "%s is not an ELF file", path);
		return -ENOTSUP;
	}
	im->raw = (const uint8_t *)elf_rawfile(im->elf, &im->rawlen);
	if (!im->raw || !gelf_getehdr(im->elf, &im->eh) || gelf_getclass(im->elf) != ELFCLASS64 ||
	    im->eh.e_machine != EM_X86_64 ||
	    (im->eh.e_type != ET_EXEC && im->eh.e_type != ET_DYN)) {
		set_err(err, errlen, "%s is not an x86-64 ELF executable", path);
		return -ENOTSUP;
	}
	if (elf_getphdrnum(im->elf, &phnum)) {
		set_err(err, errlen, "%s: no program headers", path);
		return -ENOEXEC;
	}
	for (i = 0; i < phnum && im->nsegs < MAX_SEGS; i++) {
		GElf_Phdr ph;
		struct seg *s;

		if (!gelf_getphdr(im->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		s = &im->segs[im->nsegs++];
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
		s->off = ph.p_offset;
		s->flags = ph.p_flags;
		/* A truncated file keeps what it still has: reads past it fail cleanly. */
		s->filesz = ph.p_offset >= im->rawlen ? 0 : ph.p_filesz;
		if (s->filesz > im->rawlen - ph.p_offset)
			s->filesz = im->rawlen - ph.p_offset;
	}
	im->have_shstrndx = !elf_getshdrstrndx(im->elf, &im->shstrndx);
	return 0;
}

static void img_close(struct img *im)
{
	if (im->elf)
		elf_end(im->elf);
	if (im->fd >= 0)
		close(im->fd);
}

/* Section by name; *data points at its file bytes (NULL for NOBITS/compressed/out of file). */
static Elf_Scn *img_section(const struct img *im, const char *name, GElf_Shdr *sh,
			    const uint8_t **data)
{
	Elf_Scn *scn = NULL;

	if (data)
		*data = NULL;
	if (!im->have_shstrndx)
		return NULL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(im->elf, im->shstrndx, sh->sh_name);
		if (!n || strcmp(n, name))
			continue;
		if (data && sh->sh_type != SHT_NOBITS && !(sh->sh_flags & SHF_COMPRESSED) &&
		    in_range(im->rawlen, sh->sh_offset, sh->sh_size))
			*data = im->raw + sh->sh_offset;
		return scn;
	}
	return NULL;
}

enum {
	SYM_ALLGS,
	SYM_ALLGLEN,
	SYM_ALLGPTR,
	SYM_WAITREASONS,
	SYM_MODULEDATA,
	SYM_MAX,
};

static const char *const sym_names[SYM_MAX] = {
	[SYM_ALLGS] = "runtime.allgs",
	[SYM_ALLGLEN] = "runtime.allglen",
	[SYM_ALLGPTR] = "runtime.allgptr",
	[SYM_WAITREASONS] = "runtime.waitReasonStrings",
	[SYM_MODULEDATA] = "runtime.firstmoduledata",
};

/* The runtime's symbols from .symtab; false when there is none (-s). */
static bool read_symbols(const struct img *im, GElf_Sym *syms)
{
	GElf_Shdr sh;
	Elf_Scn *scn = img_section(im, ".symtab", &sh, NULL);
	Elf_Data *d;
	size_t n, i;
	int k;

	memset(syms, 0, sizeof(*syms) * SYM_MAX);
	if (!scn || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
		return false;
	d = elf_getdata(scn, NULL);
	if (!d)
		return false;
	n = d->d_size / sizeof(Elf64_Sym);
	for (i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s) || !s.st_value)
			continue;
		name = elf_strptr(im->elf, sh.sh_link, s.st_name);
		if (!name || strncmp(name, "runtime.", 8))
			continue;
		for (k = 0; k < SYM_MAX; k++)
			if (!strcmp(name, sym_names[k]))
				syms[k] = s;
	}
	return true;
}

/* Go < 1.18 stored pointers to the strings, not the strings (debug/buildinfo). */
static int buildinfo_outofline(const struct img *im, const uint8_t *d, size_t len, char *version,
			       size_t vlen)
{
	const uint8_t *p = find_buildinfo(d, len), *s;
	uint64_t hdr, sptr, slen;

	if (!p || p[14] != 8 || (p[15] & BI_FLAG_INLINE))
		return -ENOEXEC;
	hdr = get64(p + 16);
	if (!img_u64(im, hdr, &sptr) || !img_u64(im, hdr + 8, &slen) || slen > 256)
		return -ENOEXEC;
	s = img_ptr(im, sptr, slen, NULL);
	if (!s)
		return -ENOEXEC;
	return copy_version(s, slen, version, vlen);
}

static int read_version(const struct img *im, char *version, size_t vlen)
{
	const uint8_t *d = NULL;
	GElf_Shdr sh;
	size_t len = 0;
	int i, err;

	if (img_section(im, ".go.buildinfo", &sh, &d) && d)
		len = sh.sh_size;
	if (!d) {
		/* No section headers: the linker puts the blob at the start of the data. */
		for (i = 0; i < im->nsegs; i++) {
			if ((im->segs[i].flags & PF_W) && im->segs[i].filesz) {
				d = im->raw + im->segs[i].off;
				len = im->segs[i].filesz < 65536 ? im->segs[i].filesz : 65536;
				break;
			}
		}
	}
	if (!d)
		return -ENOTSUP;
	err = pw_go_buildinfo_parse(d, len, version, vlen);
	if (err == -ENOEXEC)
		err = buildinfo_outofline(im, d, len, version, vlen);
	return err;
}

/* The pclntab: .gopclntab, or the header's magic in a read-only segment. */
static int find_pclntab(const struct img *im, struct pw_gopclntab **tab, uint64_t *vaddr)
{
	static const uint8_t magic[8] = {0xf0, 0xff, 0xff, 0xff, 0, 0, 1, 8};
	const uint8_t *d;
	GElf_Shdr sh;
	int i, tries = 0;

	/* PIEs keep it in relro data: relocations apply to the moduledata, not to it. */
	if (((img_section(im, ".gopclntab", &sh, &d) && d) ||
	     (img_section(im, ".data.rel.ro.gopclntab", &sh, &d) && d)) &&
	    !pw_gopclntab__new(d, sh.sh_size, 0, tab)) {
		*vaddr = sh.sh_addr;
		return 0;
	}
	for (i = 0; i < im->nsegs; i++) {
		const struct seg *s = &im->segs[i];
		uint64_t off;

		if ((s->flags & PF_X) || s->filesz < PCLN_HDR)
			continue;
		for (off = 0; off + PCLN_HDR <= s->filesz; off += 8) {
			d = im->raw + s->off + off;
			if (memcmp(d, magic, sizeof(magic)))
				continue;
			/* Each try walks a whole ftab: a file of decoys gets a few, not thousands.
			 */
			if (++tries > PCLN_MAX_TRIES)
				return -ENOEXEC;
			if (!pw_gopclntab__new(d, s->filesz - off, 0, tab)) {
				*vaddr = s->vaddr + off;
				return 0;
			}
		}
	}
	return -ENOEXEC;
}

/* Does vaddr hold a moduledata (md layout) whose pcHeader is the pclntab at pcl? */
static bool is_moduledata(const struct img *im, const struct md_layout *md, uint64_t vaddr,
			  uint64_t pcl, const uint8_t *hdr)
{
	const uint8_t *p = img_ptr(im, vaddr, md->size, NULL);

	if (!p || get64(p) != pcl)
		return false;
	return get64(p + md->funcnametab) == pcl + get64(hdr + 32) &&
	       get64(p + md->cutab) == pcl + get64(hdr + 40) &&
	       get64(p + md->filetab) == pcl + get64(hdr + 48) &&
	       get64(p + md->pctab) == pcl + get64(hdr + 56) &&
	       get64(p + md->pclntable) == pcl + get64(hdr + 64) &&
	       get64(p + md->ftab) == pcl + get64(hdr + 64) &&
	       get64(p + md->text) == get64(hdr + 24) && get64(p + md->etext) > get64(p + md->text);
}

/*
 * runtime.firstmoduledata: its symbol, or (stripped) the word in the data
 * segments that points at the pclntab and is followed by its sub-slices.
 */
static uint64_t find_moduledata(const struct img *im, const struct md_layout *md,
				const GElf_Sym *sym, uint64_t pcl)
{
	const uint8_t *hdr = img_ptr(im, pcl, PCLN_HDR, NULL);
	int i;

	if (!hdr)
		return 0;
	if (sym->st_value && is_moduledata(im, md, sym->st_value, pcl, hdr))
		return sym->st_value;
	for (i = 0; i < im->nsegs; i++) {
		const struct seg *s = &im->segs[i];
		uint64_t off;

		if (!(s->flags & PF_W))
			continue;
		for (off = 0; off + md->size <= s->filesz; off += 8)
			if (get64(im->raw + s->off + off) == pcl &&
			    is_moduledata(im, md, s->vaddr + off, pcl, hdr))
				return s->vaddr + off;
	}
	return 0;
}

/* Offset and byte size of member name of the struct at st; -ENOENT. */
static int dw_member(Dwarf_Die *st, const char *name, uint32_t *off, uint32_t *size,
		     Dwarf_Die *type)
{
	Dwarf_Die m, ty;
	Dwarf_Attribute a;
	Dwarf_Word w, sz;

	if (dwarf_child(st, &m))
		return -ENOENT;
	do {
		const char *n;

		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		n = dwarf_diename(&m);
		if (!n || strcmp(n, name))
			continue;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &a) || dwarf_formudata(&a, &w) ||
		    w > G_MAX_OFFSET)
			return -ENOENT;
		if (!dwarf_attr(&m, DW_AT_type, &a) || !dwarf_formref_die(&a, &ty) ||
		    dwarf_aggregate_size(&ty, &sz) || sz > G_MAX_OFFSET)
			return -ENOENT;
		*off = (uint32_t)w;
		if (size)
			*size = (uint32_t)sz;
		/* Go names its types with typedefs: runtime.stack -> struct runtime.stack. */
		if (type && dwarf_peel_type(&ty, type))
			return -ENOENT;
		return 0;
	} while (dwarf_siblingof(&m, &m) == 0);
	return -ENOENT;
}

static int dw_find_struct(Dwarf *dw, const char *name, Dwarf_Die *out)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, c;

		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &c) == 0) {
			do {
				const char *n;

				if (dwarf_tag(&c) != DW_TAG_structure_type)
					continue;
				n = dwarf_diename(&c);
				if (n && !strcmp(n, name)) {
					*out = c;
					return 0;
				}
			} while (dwarf_siblingof(&c, &c) == 0);
		}
		off = next;
	}
	return -ENOENT;
}

/* runtime.g's layout from DWARF; -ENOENT when the binary has none or it is odd. */
static int dwarf_layout(const struct img *im, struct pw_go_layout *l)
{
	Dwarf *dw = dwarf_begin_elf(im->elf, DWARF_C_READ, NULL);
	Dwarf_Die g, stack, gobuf;
	uint32_t s_off, b_off, lo, hi, sp, pc, bp, sz[8], last;
	int err = -ENOENT;

	if (!dw)
		return -ENOENT;
	memset(l, 0, sizeof(*l));
	if (dw_find_struct(dw, "runtime.g", &g) || dw_member(&g, "stack", &s_off, NULL, &stack) ||
	    dw_member(&stack, "lo", &lo, &sz[0], NULL) ||
	    dw_member(&stack, "hi", &hi, &sz[1], NULL) ||
	    dw_member(&g, "sched", &b_off, NULL, &gobuf) ||
	    dw_member(&gobuf, "sp", &sp, &sz[2], NULL) ||
	    dw_member(&gobuf, "pc", &pc, &sz[3], NULL) ||
	    dw_member(&gobuf, "bp", &bp, &sz[4], NULL) ||
	    dw_member(&g, "atomicstatus", &l->status, &sz[5], NULL) ||
	    dw_member(&g, "goid", &l->goid, &sz[6], NULL) ||
	    dw_member(&g, "waitsince", &l->waitsince, &sz[7], NULL) ||
	    dw_member(&g, "waitreason", &l->waitreason, &last, NULL) ||
	    dw_member(&g, "gopc", &l->gopc, NULL, NULL) ||
	    dw_member(&g, "startpc", &l->startpc, NULL, NULL))
		goto out;
	if (sz[0] != 8 || sz[1] != 8 || sz[2] != 8 || sz[3] != 8 || sz[4] != 8 || sz[5] != 4 ||
	    sz[6] != 8 || sz[7] != 8 || (last != 1 && last != 2 && last != 4))
		goto out;
	l->stack_lo = s_off + lo;
	l->stack_hi = s_off + hi;
	l->sched_sp = b_off + sp;
	l->sched_pc = b_off + pc;
	l->sched_bp = b_off + bp;
	l->status_size = 4;
	l->waitreason_size = (uint8_t)last;
	l->from_dwarf = true;
	l->size = 0;
	{
		uint32_t ends[] = {l->stack_hi + 8,  l->sched_sp + 8,	   l->sched_pc + 8,
				   l->sched_bp + 8,  l->status + 4,	   l->goid + 8,
				   l->waitsince + 8, l->waitreason + last, l->gopc + 8,
				   l->startpc + 8};
		size_t i;

		for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			if (ends[i] > l->size)
				l->size = ends[i];
	}
	l->size = (l->size + 7) & ~7u;
	err = l->size <= G_MAX_OFFSET ? 0 : -ENOENT;
out:
	dwarf_end(dw);
	return err;
}

/* runtime.waitReasonStrings: an array of Go strings {ptr, len} in .data. */
static int binary_wait_reasons(struct pw_go_binary *b, const struct img *im, const GElf_Sym *s)
{
	uint64_t n = s->st_size / 16, i;
	const uint8_t *arr = img_ptr(im, s->st_value, s->st_size, NULL);

	if (!arr || !n || n > MAX_WAIT_REASONS)
		return -ENOENT;
	b->wr = calloc(n, sizeof(*b->wr));
	if (!b->wr)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t p = get64(arr + 16 * i), len = get64(arr + 16 * i + 8);
		const uint8_t *str = len ? img_ptr(im, p, len, NULL) : (const uint8_t *)"";
		char buf[65];

		if (!str || len >= sizeof(buf) || copy_version(str, len, buf, sizeof(buf))) {
			/* Index 0 is "": copy_version refuses empty strings. */
			if (len || !str)
				goto bad;
			buf[0] = '\0';
		}
		b->wr[i] = pw_intern(buf);
		if (!b->wr[i])
			goto bad;
	}
	b->info.wait_reasons = b->wr;
	b->info.nwait_reasons = (int)n;
	b->info.wait_reasons_from_binary = true;
	return 0;
bad:
	free(b->wr);
	b->wr = NULL;
	return -ENOENT;
}

static int release_wait_reasons(struct pw_go_binary *b)
{
	int i, n = b->rel->nwait_reasons;

	b->wr = calloc((size_t)n, sizeof(*b->wr));
	if (!b->wr)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		b->wr[i] = pw_intern(b->rel->wait_reasons[i]);
		if (!b->wr[i])
			return -ENOMEM;
	}
	b->info.wait_reasons = b->wr;
	b->info.nwait_reasons = n;
	return 0;
}

static int find_allgs(struct pw_go_binary *b, const struct img *im, const GElf_Sym *syms)
{
	uint64_t entry, end;
	const uint8_t *code;

	if (syms[SYM_ALLGS].st_value) {
		b->info.allgs = syms[SYM_ALLGS].st_value;
		b->info.allglen = syms[SYM_ALLGLEN].st_value;
		b->info.allgptr = syms[SYM_ALLGPTR].st_value;
		b->info.allgs_from_symtab = true;
		return 0;
	}
	/* -s: .gopclntab still names runtime.allgadd, whose code addresses them. */
	if (pw_gopclntab__find_func(b->tab, "runtime.allgadd", &entry) ||
	    pw_gopclntab__func_range(b->tab, entry, &entry, &end) || end <= entry)
		return -ENOENT;
	code = img_ptr(im, entry, end - entry, NULL);
	if (!code)
		return -ENOENT;
	return pw_go_decode_allgadd(code, end - entry, entry, &b->info.allgs, &b->info.allglen,
				    &b->info.allgptr);
}

/* Is addr inside a writable segment (where the runtime's globals live)? */
static bool in_data(const struct img *im, uint64_t addr, uint64_t len)
{
	int i;

	for (i = 0; i < im->nsegs; i++) {
		const struct seg *s = &im->segs[i];

		if ((s->flags & PF_W) && addr >= s->vaddr &&
		    in_range(s->memsz, addr - s->vaddr, len))
			return true;
	}
	return false;
}

int pw_go_binary__open(const char *path, struct pw_go_binary **out, char *errbuf, size_t errlen)
{
	struct pw_go_binary *b;
	GElf_Sym syms[SYM_MAX];
	GElf_Shdr sh;
	struct img im;
	uint64_t avail;
	const uint8_t *p;
	int err;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	err = img_open(&im, path, errbuf, errlen);
	if (err)
		goto fail;
	b->e_entry = im.eh.e_entry;
	b->pie = im.eh.e_type == ET_DYN;
	err = read_version(&im, b->info.version, sizeof(b->info.version));
	if (err) {
		set_err(errbuf, errlen, "%s: %s", path,
			err == -ENOTSUP ? "not a Go binary (no build info)"
					: "unreadable Go build info");
		err = err == -ENOTSUP ? -ENOTSUP : -ENOEXEC;
		goto fail;
	}
	b->rel = find_release(b->info.version);
	if (!b->rel) {
		set_err(errbuf, errlen, "%s: built by %s; goroutines are supported for go1.19 only",
			path, b->info.version);
		err = -EPROTONOSUPPORT;
		goto fail;
	}
	err = find_pclntab(&im, &b->tab, &b->info.pclntab);
	if (err) {
		set_err(errbuf, errlen, "%s: no usable .gopclntab", path);
		goto fail;
	}
	b->info.text = b->tab->text;
	b->info.has_symtab = read_symbols(&im, syms);
	b->info.has_dwarf = img_section(&im, ".debug_info", &sh, NULL) != NULL;
	b->info.moduledata =
		find_moduledata(&im, &b->rel->md, &syms[SYM_MODULEDATA], b->info.pclntab);
	if (b->info.moduledata) {
		p = img_ptr(&im, b->info.moduledata, b->rel->md.size, NULL);
		b->info.etext = get64(p + b->rel->md.etext);
		b->info.gofunc = get64(p + b->rel->md.gofunc);
		/* Funcdata (inline trees) sit after gofunc in the read-only data. */
		p = b->info.gofunc ? img_ptr(&im, b->info.gofunc, 1, &avail) : NULL;
		/*
		 * Bounded: a sparse segment would otherwise cost its whole size per
		 * open. Inline trees past the bound are not expanded (lookups check).
		 */
		if (p && avail > GOFUNC_MAX)
			avail = GOFUNC_MAX;
		if (p && pw_gopclntab__set_gofunc(b->tab, p, avail)) {
			err = -ENOMEM;
			goto fail;
		}
	}
	if (!b->info.etext)
		b->info.etext = b->tab->text + ftab_entry(b->tab, b->tab->nfunc);
	err = find_allgs(b, &im, syms);
	if (err || !in_data(&im, b->info.allgs, 24) ||
	    (b->info.allglen && !in_data(&im, b->info.allglen, 8)) ||
	    (b->info.allgptr && !in_data(&im, b->info.allgptr, 8))) {
		set_err(errbuf, errlen, "%s: cannot find runtime.allgs (%s)", path,
			b->info.has_symtab ? "symbol outside the data"
					   : "runtime.allgadd not decoded");
		err = -ENOEXEC;
		goto fail;
	}
	if (!b->info.has_dwarf || dwarf_layout(&im, &b->info.layout))
		b->info.layout = b->rel->layout;
	if (!syms[SYM_WAITREASONS].st_value ||
	    binary_wait_reasons(b, &im, &syms[SYM_WAITREASONS])) {
		err = release_wait_reasons(b);
		if (err)
			goto fail;
	}
	img_close(&im);
	*out = b;
	return 0;
fail:
	img_close(&im);
	pw_go_binary__free(b);
	if (err == -ENOMEM)
		set_err(errbuf, errlen, "out of memory");
	return err;
}

const struct pw_go_info *pw_go_binary__info(const struct pw_go_binary *b)
{
	return b ? &b->info : NULL;
}

const struct pw_gopclntab *pw_go_binary__pclntab(const struct pw_go_binary *b)
{
	return b ? b->tab : NULL;
}

void pw_go_binary__free(struct pw_go_binary *b)
{
	if (!b)
		return;
	pw_gopclntab__free(b->tab);
	free(b->wr);
	free(b);
}

/* ---- a live process ---- */

#define CHUNK 256	  /* goroutines read per batch of remote reads */
#define STACK_WINDOW 4096 /* bytes of stack read from sp in the batch */
#define MAX_GS (1u << 24) /* more goroutines than this is a corrupt length */
#define LIST_ATTEMPTS 4
#define G_ATTEMPTS 3
#define USER_ADDR_MAX (1ULL << 47)
#define MAX_STACK (1ULL << 30) /* the runtime's maxstacksize on 64-bit */

struct pccache_ent {
	uint64_t key; /* pc << 1 | is_ret; 0 = empty slot */
	uint32_t first, n;
	uint8_t flag;
	bool found;
};

struct cframe {
	struct pw_frame fr;
	uint8_t funcid;
};

struct pw_go_proc {
	struct pw_go_binary *bin;
	const struct pw_go_info *info;
	pid_t pid;
	uint64_t bias;
	const char *module;
	pw_go_read_fn read;
	void *ctx;
	int memfd;
	bool use_mem; /* process_vm_readv refused (seccomp, old kernel): /proc/PID/mem */
	bool gone;
	int last_errno;	  /* of the last failed read, for the one-line error */
	int64_t mono_off; /* target's CLOCK_MONOTONIC - ours (time namespaces) */
	uint64_t allgs, allglen, allgptr, text_lo, text_hi;
	struct pccache_ent *pcc;
	size_t pcc_cap, pcc_len;
	struct cframe *pool;
	size_t pool_len, pool_cap;
	uint64_t *gptrs;
	size_t gptrs_cap;
	/* This scan's distinct stacks: frames handed out point into stk_frames. */
	struct gstack *stacks;
	size_t nstacks, stacks_cap;
	uint32_t *stk_idx; /* open addressing: index + 1 into stacks, 0 = empty */
	size_t stk_idx_cap;
	uint64_t *stk_pcs;
	size_t stk_pcs_len, stk_pcs_cap;
	struct pw_frame *stk_frames;
	size_t stk_frames_len, stk_frames_cap;
	struct walk *w;
	struct req *rq;
	uint8_t *gbuf, *wins;
};

struct gstack {
	uint64_t hash;
	size_t pcs, frames;
	int npcs, nframes;
	bool complete;
};

struct req {
	uint64_t addr;
	void *buf;
	size_t len;
	bool ok;
};

static int proc_mem_fd(struct pw_go_proc *p)
{
	char path[64];

	if (p->memfd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)p->pid);
		p->memfd = open(path, O_RDONLY | O_CLOEXEC);
		if (p->memfd < 0 && errno == ENOENT)
			p->gone = true;
	}
	return p->memfd;
}

static bool pread_full(int fd, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	if (addr >= (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - addr)
		return false;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(addr + done));

		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/*
 * Reads every request, as many per syscall as process_vm_readv takes. A
 * request that fails (unmapped, the process exited) is marked !ok; the
 * others are still read.
 */
static void read_reqs(struct pw_go_proc *p, struct req *r, size_t n, struct pw_go_stats *st)
{
	struct iovec lv[CHUNK], rv[CHUNK];
	size_t i = 0, k, j;

	for (j = 0; j < n; j++)
		r[j].ok = false;
	while (i < n && !p->gone) {
		ssize_t got;
		size_t left;

		if (!r[i].len) {
			r[i++].ok = true;
			continue;
		}
		if (p->read) {
			r[i].ok = !p->read(p->ctx, r[i].addr, r[i].buf, r[i].len);
			i++;
			continue;
		}
		if (p->use_mem) {
			int fd = proc_mem_fd(p);

			r[i].ok = fd >= 0 && pread_full(fd, r[i].addr, r[i].buf, r[i].len);
			if (!r[i].ok) {
				p->last_errno = errno;
				if (kill(p->pid, 0) && errno == ESRCH)
					p->gone = true;
			}
			i++;
			continue;
		}
		for (k = 0; k < CHUNK && i + k < n && r[i + k].len; k++) {
			lv[k].iov_base = r[i + k].buf;
			lv[k].iov_len = r[i + k].len;
			rv[k].iov_base = (void *)(uintptr_t)r[i + k].addr;
			rv[k].iov_len = r[i + k].len;
		}
		got = process_vm_readv(p->pid, lv, k, rv, k, 0);
		if (got < 0) {
			p->last_errno = errno;
			if (errno == ESRCH)
				p->gone = true;
			else if (errno == ENOSYS || errno == EPERM)
				p->use_mem = true; /* retry this request through /proc/PID/mem */
			else
				i++; /* EFAULT: the first request is unreadable */
			continue;
		}
		/* Partial transfer: whole requests up to the first short one are good. */
		left = (size_t)got;
		for (j = 0; j < k && left >= r[i + j].len; j++) {
			r[i + j].ok = true;
			left -= r[i + j].len;
		}
		i += j < k ? j + 1 : k;
	}
	if (st)
		for (j = 0; j < n; j++)
			st->read_errors += !r[j].ok;
}

static int read1(struct pw_go_proc *p, uint64_t addr, void *buf, size_t len, struct pw_go_stats *st)
{
	struct req r = {.addr = addr, .buf = buf, .len = len};

	read_reqs(p, &r, 1, st);
	if (r.ok)
		return 0;
	return p->gone ? -ESRCH : -EFAULT;
}

/* The frames of pc (cached): index into p->pool, count, funcFlag; -ENOENT outside Go code. */
static int pc_frames(struct pw_go_proc *p, uint64_t pc, bool is_ret, struct pccache_ent **out)
{
	uint64_t key = pc << 1 | is_ret;
	struct gofr g[MAX_INLINE_DEPTH + 1];
	struct pccache_ent *e;
	size_t i, mask;
	int n, k;

	if (!key)
		return -ENOENT;
	if ((p->pcc_len + 1) * 2 > p->pcc_cap) {
		size_t cap = p->pcc_cap ? p->pcc_cap * 2 : 4096;
		struct pccache_ent *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (i = 0; i < p->pcc_cap; i++) {
			size_t j;

			if (!p->pcc[i].key)
				continue;
			for (j = (p->pcc[i].key * 0x9e3779b97f4a7c15ULL >> 20) & (cap - 1);
			     t[j].key; j = (j + 1) & (cap - 1))
				;
			t[j] = p->pcc[i];
		}
		free(p->pcc);
		p->pcc = t;
		p->pcc_cap = cap;
	}
	mask = p->pcc_cap - 1;
	for (i = (key * 0x9e3779b97f4a7c15ULL >> 20) & mask; p->pcc[i].key; i = (i + 1) & mask) {
		if (p->pcc[i].key == key) {
			*out = &p->pcc[i];
			return p->pcc[i].found ? 0 : -ENOENT;
		}
	}
	e = &p->pcc[i];
	memset(e, 0, sizeof(*e));
	e->key = key;
	p->pcc_len++;
	*out = e;
	if (pc < p->text_lo || pc >= p->text_hi)
		return -ENOENT;
	n = lookup_raw(p->bin->tab, pc - p->bias, is_ret, g, MAX_INLINE_DEPTH + 1, &e->flag);
	if (n <= 0)
		return -ENOENT;
	if (p->pool_len + (size_t)n > p->pool_cap) {
		size_t cap = p->pool_cap ? p->pool_cap * 2 : 1024;
		struct cframe *np;

		while (cap < p->pool_len + (size_t)n)
			cap *= 2;
		np = realloc(p->pool, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		p->pool = np;
		p->pool_cap = cap;
	}
	for (k = 0; k < n; k++) {
		struct cframe *c = &p->pool[p->pool_len + (size_t)k];

		to_frame(&g[k], pc - p->bias, &c->fr, true);
		c->fr.addr = pc;
		c->fr.module = p->module;
		c->funcid = g[k].funcid;
	}
	e->first = (uint32_t)p->pool_len;
	e->n = (uint32_t)n;
	e->found = true;
	p->pool_len += (size_t)n;
	return 0;
}

/* The name of the function a goroutine was started with (outermost frame of startpc). */
static const char *start_func(struct pw_go_proc *p, uint64_t startpc)
{
	struct pccache_ent *e;

	if (pc_frames(p, startpc, false, &e))
		return NULL;
	return p->pool[e->first + e->n - 1].fr.func;
}

/*
 * runtime/traceback.go isSystemGoroutine: goroutines started in package
 * runtime, except runtime.main; the finalizer goroutine only while it waits
 * for finalizers (fingRunning is false then). pprof leaves these out.
 */
static bool is_system(struct pw_go_proc *p, uint64_t startpc, const char *reason)
{
	const char *f = start_func(p, startpc);

	if (!f || strncmp(f, "runtime.", 8))
		return false;
	if (!strcmp(f, "runtime.main") || !strcmp(f, "runtime.handleAsyncEvent"))
		return false;
	if (!strcmp(f, "runtime.runfinq"))
		return reason && !strcmp(reason, "finalizer wait");
	return true;
}

static const char *read_exe_path(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return pw_intern(path);
	buf[n] = '\0';
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
		buf[n - 10] = '\0';
	return pw_intern(buf);
}

/* Load bias of a PIE: AT_ENTRY from the auxiliary vector minus e_entry. */
static int read_bias(pid_t pid, uint64_t e_entry, uint64_t *bias)
{
	char path[64];
	uint64_t av[2];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (read(fd, av, sizeof(av)) == (ssize_t)sizeof(av) && av[0]) {
		if (av[0] == 9 /* AT_ENTRY */) {
			close(fd);
			*bias = av[1] - e_entry;
			return 0;
		}
	}
	close(fd);
	return -ENOEXEC;
}

/*
 * CLOCK_MONOTONIC of a process in a time namespace is ours plus the
 * namespace's offset. timens_offsets shows the namespace of the process's
 * future children, which is its own unless it unshared one without forking.
 */
static int64_t read_mono_off(pid_t pid)
{
	char path[64], clk[32];
	long long s, ns;
	int64_t off = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%31s %lld %lld", clk, &s, &ns) == 3)
		if (!strcmp(clk, "monotonic") && s > -(1LL << 40) && s < (1LL << 40))
			off = (int64_t)s * 1000000000 + ns;
	fclose(f);
	return off;
}

/*
 * Runtime addresses, then a first read: confirms the memory is readable and
 * that allglen/allgptr (decoded by position from allgadd under -s) hold a
 * length and a pointer matching the allgs slice, else falls back to it.
 */
static int proc_setup(struct pw_go_proc *p, char *errbuf, size_t errlen)
{
	const struct pw_go_info *in = p->info;
	uint64_t sl[3], a = 0, b = 0;
	int err;

	p->allgs = in->allgs + p->bias;
	p->allglen = in->allglen ? in->allglen + p->bias : 0;
	p->allgptr = in->allgptr ? in->allgptr + p->bias : 0;
	p->text_lo = in->text + p->bias;
	p->text_hi = in->etext + p->bias;
	err = read1(p, p->allgs, sl, sizeof(sl), NULL);
	if (err == -ESRCH) {
		set_err(errbuf, errlen, "pid %d exited", (int)p->pid);
		return -ESRCH;
	}
	if (err && (p->last_errno == EPERM || p->last_errno == EACCES)) {
		set_err(errbuf, errlen,
			"cannot read the memory of pid %d: %s (needs CAP_SYS_PTRACE)", (int)p->pid,
			strerror(p->last_errno));
		return -EPERM;
	}
	if (err) {
		set_err(errbuf, errlen, "cannot read runtime.allgs of pid %d at %#llx", (int)p->pid,
			(unsigned long long)p->allgs);
		return -EIO;
	}
	if (!p->allglen || !p->allgptr || read1(p, p->allglen, &a, 8, NULL) ||
	    read1(p, p->allgptr, &b, 8, NULL))
		goto slice_only;
	if (a == sl[0] && b == sl[1]) {
		uint64_t t = p->allglen;

		p->allglen = p->allgptr;
		p->allgptr = t;
	} else if (!(b == sl[0] && a == sl[1]) && sl[1]) {
		goto slice_only;
	}
	return 0;
slice_only:
	p->allglen = p->allgptr = 0;
	return 0;
}

static struct pw_go_proc *proc_alloc(struct pw_go_binary *b)
{
	struct pw_go_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->bin = b;
	p->info = pw_go_binary__info(b);
	p->memfd = -1;
	return p;
}

int pw_go_proc__new(pid_t pid, struct pw_go_proc **out, char *errbuf, size_t errlen)
{
	struct pw_go_binary *b;
	struct pw_go_proc *p;
	char path[64];
	int err;

	if (!out || pid <= 0)
		return -EINVAL;
	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	err = pw_go_binary__open(path, &b, errbuf, errlen);
	if (err == -ESRCH) {
		/* Kernel threads and zombies have no exe link but do exist. */
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (!access(path, F_OK)) {
			set_err(errbuf, errlen, "pid %d has no executable", (int)pid);
			err = -ENOTSUP;
		}
	}
	if (err)
		return err;
	p = proc_alloc(b);
	if (!p) {
		pw_go_binary__free(b);
		return -ENOMEM;
	}
	p->pid = pid;
	p->module = read_exe_path(pid);
	p->mono_off = read_mono_off(pid);
	if (b->pie) {
		err = read_bias(pid, b->e_entry, &p->bias);
		if (err) {
			set_err(errbuf, errlen, "pid %d: no load address in auxv", (int)pid);
			goto fail;
		}
	}
	err = proc_setup(p, errbuf, errlen);
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	pw_go_proc__free(p);
	return err;
}

int pw_go_proc__new_from(const char *path, uint64_t bias, pw_go_read_fn read, void *ctx,
			 struct pw_go_proc **out, char *errbuf, size_t errlen)
{
	struct pw_go_binary *b;
	struct pw_go_proc *p;
	int err;

	if (!path || !read || !out)
		return -EINVAL;
	*out = NULL;
	err = pw_go_binary__open(path, &b, errbuf, errlen);
	if (err)
		return err;
	p = proc_alloc(b);
	if (!p) {
		pw_go_binary__free(b);
		return -ENOMEM;
	}
	p->read = read;
	p->ctx = ctx;
	p->bias = bias;
	p->module = pw_intern(path);
	err = proc_setup(p, errbuf, errlen);
	if (err) {
		pw_go_proc__free(p);
		return err;
	}
	*out = p;
	return 0;
}

const char *pw_go_proc__version(const struct pw_go_proc *p)
{
	return p ? p->info->version : NULL;
}

void pw_go_proc__free(struct pw_go_proc *p)
{
	if (!p)
		return;
	if (p->memfd >= 0)
		close(p->memfd);
	pw_go_binary__free(p->bin);
	free(p->pcc);
	free(p->pool);
	free(p->gptrs);
	free(p->stacks);
	free(p->stk_idx);
	free(p->stk_pcs);
	free(p->stk_frames);
	free(p->w);
	free(p->rq);
	free(p->gbuf);
	free(p->wins);
	free(p);
}

/*
 * The goroutine list: allglen then allgptr (the order of the runtime's own
 * lock-free reader, atomicAllG: allgadd stores the pointer first, so the
 * array read holds at least that many entries), then the array, then the
 * pointer again: if allgs grew into a new array meanwhile, the old one may
 * already be garbage, so read again.
 */
static int read_glist(struct pw_go_proc *p, size_t *ng, struct pw_go_stats *st)
{
	int attempt, err;

	for (attempt = 0; attempt < LIST_ATTEMPTS; attempt++) {
		uint64_t len, ptr, ptr2, sl[3];

		if (attempt)
			st->retries++;
		if (p->allglen) {
			err = read1(p, p->allglen, &len, 8, st);
			if (!err)
				err = read1(p, p->allgptr, &ptr, 8, st);
			/* allglen <= len(allgs) <= cap(allgs), and cap only grows. */
			if (!err)
				err = read1(p, p->allgs, sl, sizeof(sl), st);
			if (!err && len > sl[2])
				continue;
		} else {
			err = read1(p, p->allgs, sl, sizeof(sl), st);
			ptr = sl[0];
			len = sl[1];
			if (!err && len > sl[2])
				continue; /* torn read of the slice header */
		}
		if (err)
			return err == -ESRCH ? -ESRCH : -EIO;
		if (len > MAX_GS || (len && (!ptr || (ptr & 7) || ptr >= USER_ADDR_MAX)))
			continue;
		if (len > p->gptrs_cap) {
			uint64_t *n = realloc(p->gptrs, len * 2 * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->gptrs = n;
			p->gptrs_cap = len * 2;
		}
		*ng = len;
		if (!len)
			return 0;
		err = read1(p, ptr, p->gptrs, len * 8, st);
		if (err == -ESRCH)
			return err;
		if (err)
			continue;
		err = read1(p, p->allglen ? p->allgptr : p->allgs, &ptr2, 8, st);
		if (err)
			return err == -ESRCH ? -ESRCH : -EIO;
		if (ptr2 == ptr)
			return 0;
	}
	/* Still moving: the last array read is kept; every g in it is validated anyway. */
	return *ng && p->gptrs ? 0 : -EIO;
}

struct gstate {
	uint64_t gaddr, lo, hi, sp, pc, bp, goid, gopc, startpc;
	int64_t waitsince;
	uint32_t status, reason;
};

static bool valid_gptr(uint64_t g)
{
	return g && !(g & 7) && g < USER_ADDR_MAX;
}

/* Decodes a g; false when it cannot be a goroutine (torn, freed, garbage). */
static bool parse_g(const struct pw_go_proc *p, const uint8_t *b, uint64_t gaddr, struct gstate *s)
{
	const struct pw_go_layout *l = &p->info->layout;
	uint32_t base;

	s->gaddr = gaddr;
	s->lo = get64(b + l->stack_lo);
	s->hi = get64(b + l->stack_hi);
	s->sp = get64(b + l->sched_sp);
	s->pc = get64(b + l->sched_pc);
	s->bp = get64(b + l->sched_bp);
	s->status = (uint32_t)get_n(b + l->status, l->status_size);
	s->goid = get64(b + l->goid);
	s->waitsince = (int64_t)get64(b + l->waitsince);
	s->reason = (uint32_t)get_n(b + l->waitreason, l->waitreason_size);
	s->gopc = get64(b + l->gopc);
	s->startpc = get64(b + l->startpc);
	base = s->status & ~(uint32_t)PW_G_SCAN;
	/* Gscan may only be or'ed into a real state; 5 and 7 are unused. */
	if ((s->status & ~(uint32_t)(PW_G_SCAN | 0xf)) || base > PW_G_PREEMPTED || base == 5 ||
	    base == 7)
		return false;
	return true;
}

/* A parked goroutine's saved state must describe a stack it owns. */
static bool valid_parked(const struct pw_go_proc *p, const struct gstate *s)
{
	return s->goid && s->goid < (1ULL << 62) && s->lo >= 4096 && s->lo < s->hi &&
	       s->hi - s->lo <= MAX_STACK && s->hi < USER_ADDR_MAX && s->sp >= s->lo &&
	       s->sp <= s->hi && !(s->sp & 7) &&
	       (!s->bp || (s->bp >= s->sp && s->bp < s->hi && !(s->bp & 7))) &&
	       s->pc >= p->text_lo && s->pc < p->text_hi && (int)s->reason < p->info->nwait_reasons;
}

struct walk {
	struct gstate s;
	uint8_t *win; /* stack from sp, winlen bytes */
	size_t winlen;
	uint64_t pcs[PW_MAX_FRAMES];
	int npcs;
	bool complete;
};

/* 16 bytes (saved bp, return address) of the frame at bp, from the window or the process. */
static int frame_words(struct pw_go_proc *p, const struct walk *w, uint64_t bp, uint64_t v[2],
		       struct pw_go_stats *st)
{
	if (bp >= w->s.sp && bp - w->s.sp + 16 <= w->winlen) {
		memcpy(v, w->win + (bp - w->s.sp), 16);
		return 0;
	}
	return read1(p, bp, v, 16, st);
}

/*
 * Frame-pointer walk (Go keeps rbp on amd64: [bp] = caller's bp, [bp+8] =
 * return address). sched.pc/bp are gopark's, saved by mcall. It is complete
 * at a TOPFRAME function (runtime.goexit): the return address every
 * goroutine's start function got from newproc1.
 */
static void unwind(struct pw_go_proc *p, struct walk *w, struct pw_go_stats *st)
{
	uint64_t bp = w->s.bp, floor = w->s.sp, v[2];
	struct pccache_ent *e;

	w->pcs[0] = w->s.pc;
	w->npcs = 1;
	w->complete = false;
	for (;;) {
		if (!pc_frames(p, w->pcs[w->npcs - 1], true, &e) && (e->flag & FUNCFLAG_TOPFRAME)) {
			w->complete = true;
			return;
		}
		if (w->npcs == PW_MAX_FRAMES) {
			w->complete = true; /* deeper than we keep: not an error */
			return;
		}
		/* Frames are strictly above their callees' on the goroutine's own stack. */
		if (!bp || (bp & 7) || bp < floor || bp > w->s.hi - 16)
			break;
		if (frame_words(p, w, bp, v, st))
			break;
		if (v[1] < p->text_lo || v[1] >= p->text_hi)
			break;
		w->pcs[w->npcs++] = v[1];
		floor = bp + 16;
		bp = v[0];
	}
}

/* Symbolized frames of a walk, eliding wrappers as pprof does (traceback.go). */
static int symbolize(struct pw_go_proc *p, const struct walk *w, struct pw_frame *out)
{
	const struct go_release *r = p->bin->rel;
	uint8_t last = 0;
	int i, n = 0;
	uint32_t k;

	for (i = 0; i < w->npcs && n < PW_MAX_FRAMES; i++) {
		struct pccache_ent *e;

		if (pc_frames(p, w->pcs[i], true, &e)) {
			struct pw_frame *f = &out[n++];

			memset(f, 0, sizeof(*f));
			f->addr = w->pcs[i];
			f->offset = w->pcs[i] - p->bias;
			f->module = p->module;
			last = 0;
			continue;
		}
		for (k = 0; k < e->n && n < PW_MAX_FRAMES; k++) {
			const struct cframe *c = &p->pool[e->first + k];

			/* The innermost frame stays even then: a stack is never empty. */
			if (n && c->funcid == r->funcid_wrapper && last != r->funcid_gopanic &&
			    last != r->funcid_sigpanic && last != r->funcid_panicwrap) {
				last = c->funcid;
				continue;
			}
			last = c->funcid;
			out[n++] = c->fr;
		}
	}
	return n;
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = c;
	return 0;
}

/* The id of w's stack in this scan's table, symbolizing it the first time. */
static int stack_id(struct pw_go_proc *p, const struct walk *w, uint32_t *id)
{
	struct pw_frame fr[PW_MAX_FRAMES];
	uint64_t h = pw_hash64(w->pcs, (size_t)w->npcs * 8, PW_HASH_SEED);
	struct gstack *s;
	size_t i, mask;
	int err;

	if ((p->nstacks + 1) * 2 > p->stk_idx_cap) {
		size_t cap = p->stk_idx_cap ? p->stk_idx_cap * 2 : 1024;
		uint32_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (i = 0; i < p->nstacks; i++) {
			size_t j;

			for (j = p->stacks[i].hash & (cap - 1); t[j]; j = (j + 1) & (cap - 1))
				;
			t[j] = (uint32_t)i + 1;
		}
		free(p->stk_idx);
		p->stk_idx = t;
		p->stk_idx_cap = cap;
	}
	mask = p->stk_idx_cap - 1;
	for (i = h & mask; p->stk_idx[i]; i = (i + 1) & mask) {
		s = &p->stacks[p->stk_idx[i] - 1];
		if (s->hash == h && s->npcs == w->npcs && s->complete == w->complete &&
		    !memcmp(p->stk_pcs + s->pcs, w->pcs, (size_t)w->npcs * 8)) {
			*id = p->stk_idx[i] - 1;
			return 0;
		}
	}
	err = grow((void **)&p->stacks, &p->stacks_cap, p->nstacks + 1, sizeof(*p->stacks));
	err = err
		      ?: grow((void **)&p->stk_pcs, &p->stk_pcs_cap,
			      p->stk_pcs_len + (size_t)w->npcs, sizeof(*p->stk_pcs));
	err = err
		      ?: grow((void **)&p->stk_frames, &p->stk_frames_cap,
			      p->stk_frames_len + PW_MAX_FRAMES, sizeof(*p->stk_frames));
	if (err)
		return err;
	s = &p->stacks[p->nstacks];
	s->hash = h;
	s->npcs = w->npcs;
	s->complete = w->complete;
	s->pcs = p->stk_pcs_len;
	memcpy(p->stk_pcs + s->pcs, w->pcs, (size_t)w->npcs * 8);
	p->stk_pcs_len += (size_t)w->npcs;
	s->nframes = symbolize(p, w, fr);
	s->frames = p->stk_frames_len;
	memcpy(p->stk_frames + s->frames, fr, (size_t)s->nframes * sizeof(*fr));
	p->stk_frames_len += (size_t)s->nframes;
	p->stk_idx[i] = (uint32_t)p->nstacks + 1;
	*id = (uint32_t)p->nstacks++;
	return 0;
}

static bool same_state(const struct gstate *a, const struct gstate *b)
{
	return a->status == b->status && a->goid == b->goid && a->sp == b->sp && a->pc == b->pc &&
	       a->bp == b->bp && a->lo == b->lo && a->hi == b->hi;
}

/* Reads the windows of w[0..n) and unwinds them. */
static void walk_all(struct pw_go_proc *p, struct walk *w, size_t n, struct req *rq,
		     struct pw_go_stats *st)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t len = w[i].s.hi - w[i].s.sp;

		rq[i].addr = w[i].s.sp;
		rq[i].buf = w[i].win;
		rq[i].len = len < STACK_WINDOW ? len : STACK_WINDOW;
	}
	read_reqs(p, rq, n, st);
	for (i = 0; i < n; i++) {
		w[i].winlen = rq[i].ok ? rq[i].len : 0;
		unwind(p, &w[i], st);
	}
}

static int emit(struct pw_go_proc *p, const struct walk *w, struct pw_goroutine **out, int *n,
		size_t *cap)
{
	struct pw_goroutine *g;
	uint32_t id;
	int err;

	if (*n == INT_MAX)
		return -E2BIG;
	err = stack_id(p, w, &id);
	err = err ?: grow((void **)out, cap, (size_t)*n + 1, sizeof(**out));
	if (err)
		return err;
	g = &(*out)[(*n)++];
	memset(g, 0, sizeof(*g));
	g->goid = w->s.goid;
	g->status = w->s.status;
	g->wait_reason = p->info->wait_reasons[w->s.reason];
	if (g->wait_reason && !g->wait_reason[0])
		g->wait_reason = NULL;
	g->waitsince_ns = w->s.waitsince > 0 ? w->s.waitsince - p->mono_off : 0;
	g->pc = w->s.pc;
	g->sp = w->s.sp;
	g->bp = w->s.bp;
	g->gopc = w->s.gopc;
	g->startpc = w->s.startpc;
	g->stack_id = id;
	g->stack_complete = w->complete;
	return 0;
}

enum g_take {
	G_SKIP,	  /* dead: not a goroutine now */
	G_ALIVE,  /* a goroutine, not parked */
	G_SYSTEM, /* parked, the runtime's own */
	G_TAKE,	  /* parked: walk it */
	G_TORN,	  /* unreadable or not self-consistent: read it again */
};

static enum g_take take_g(struct pw_go_proc *p, const struct req *r, struct gstate *s)
{
	uint32_t base;

	if (!r->ok || !parse_g(p, r->buf, r->addr, s))
		return G_TORN;
	base = s->status & ~(uint32_t)PW_G_SCAN;
	if (base == PW_G_DEAD)
		return G_SKIP;
	if (base != PW_G_WAITING)
		return G_ALIVE;
	if (!valid_parked(p, s))
		return G_TORN;
	if (is_system(p, s->startpc, p->info->wait_reasons[s->reason]))
		return G_SYSTEM;
	return G_TAKE;
}

/*
 * One batch of g pointers: read the gs, keep the parked user goroutines,
 * walk their stacks, then read the gs again: a goroutine that woke up is
 * dropped, one that re-parked or whose stack moved (the GC shrinks stacks of
 * parked goroutines) is walked again.
 */
static int scan_chunk(struct pw_go_proc *p, const uint64_t *gp, size_t n, uint8_t *gbuf,
		      struct walk *w, struct req *rq, struct pw_goroutine **out, int *nout,
		      size_t *cap, struct pw_go_stats *st)
{
	const struct pw_go_layout *l = &p->info->layout;
	size_t i, nw = 0, nreq = 0, recheck = 0;
	uint32_t ends[] = {l->stack_lo + 8,	      l->stack_hi + 8, l->sched_sp + 8,
			   l->sched_pc + 8,	      l->sched_bp + 8, l->goid + 8,
			   l->status + l->status_size};
	int err, attempt;

	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (ends[i] > recheck)
			recheck = ends[i];

	for (i = 0; i < n; i++) {
		if (!valid_gptr(gp[i])) {
			st->bad_g++;
			continue;
		}
		rq[nreq].addr = gp[i];
		rq[nreq].buf = gbuf + nreq * l->size;
		rq[nreq].len = l->size;
		nreq++;
	}
	/*
	 * The runtime writes a g as we copy it: a goroutine parking while we read has its
	 * gobuf from one moment and its status from the next (gogo zeroes sched.sp and .bp
	 * when it runs). Such a g is read again; one still unreadable is a bad g.
	 */
	for (attempt = 0; attempt < G_ATTEMPTS && nreq; attempt++) {
		size_t torn = 0;

		if (attempt)
			st->retries++;
		read_reqs(p, rq, nreq, NULL);
		if (p->gone)
			return -ESRCH;
		for (i = 0; i < nreq; i++) {
			struct gstate s;

			switch (take_g(p, &rq[i], &s)) {
			case G_TAKE:
				w[nw++].s = s;
				st->goroutines++;
				break;
			case G_SYSTEM:
				st->system++;
				/* fall through */
			case G_ALIVE:
				st->goroutines++;
				break;
			case G_SKIP:
				break;
			case G_TORN:
				if (attempt == G_ATTEMPTS - 1) {
					st->bad_g++;
					break;
				}
				/* Keep it (and its buffer) for the re-read. */
				rq[torn++] = rq[i];
				break;
			}
		}
		nreq = torn;
	}
	for (attempt = 0; attempt < G_ATTEMPTS && nw; attempt++) {
		size_t again = 0;

		walk_all(p, w, nw, rq, st);
		/* Only what same_state() compares: a third of the g. */
		for (i = 0; i < nw; i++) {
			rq[i].addr = w[i].s.gaddr;
			rq[i].buf = gbuf + i * l->size;
			rq[i].len = recheck;
		}
		read_reqs(p, rq, nw, st);
		if (p->gone)
			return -ESRCH;
		for (i = 0; i < nw; i++) {
			struct gstate s;

			if (!rq[i].ok || !parse_g(p, rq[i].buf, rq[i].addr, &s) ||
			    (s.status & ~(uint32_t)PW_G_SCAN) != PW_G_WAITING) {
				continue; /* no longer parked: not part of this snapshot */
			}
			/*
			 * A goroutine that parks again and again at one spot (a worker's
			 * receive loop) can look unchanged while its stack was read as it
			 * ran in between: a broken walk gets another try.
			 */
			if (same_state(&s, &w[i].s) &&
			    (w[i].complete || attempt == G_ATTEMPTS - 1)) {
				err = emit(p, &w[i], out, nout, cap);
				if (err)
					return err;
				st->unwind_errors += !w[i].complete;
				continue;
			}
			st->retries++;
			if (!valid_parked(p, &s))
				continue;
			/* Walk it again; keep its window buffer (they are per slot). */
			{
				uint8_t *win = w[i].win;

				w[i].win = w[again].win;
				w[again].win = win;
				w[again].s = s;
			}
			again++;
		}
		nw = again;
	}
	return 0;
}

int pw_go_proc__scan(struct pw_go_proc *p, struct pw_goroutine **out, int *n,
		     struct pw_go_stats *st)
{
	struct pw_go_stats local = {0};
	size_t ng = 0, i, cap = 0;
	int err;

	if (!p || !out || !n)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	if (p->gone)
		return -ESRCH;
	p->nstacks = p->stk_pcs_len = p->stk_frames_len = 0;
	if (p->stk_idx)
		memset(p->stk_idx, 0, p->stk_idx_cap * sizeof(*p->stk_idx));
	err = read_glist(p, &ng, &local);
	if (err)
		goto done;
	/* Scratch for one chunk (~1.2 MiB), kept for the next scan. */
	if (!p->w) {
		p->w = calloc(CHUNK, sizeof(*p->w));
		p->rq = calloc(CHUNK, sizeof(*p->rq));
		p->gbuf = malloc((size_t)CHUNK * p->info->layout.size);
		p->wins = malloc((size_t)CHUNK * STACK_WINDOW);
		if (!p->w || !p->rq || !p->gbuf || !p->wins) {
			free(p->w);
			free(p->rq);
			free(p->gbuf);
			free(p->wins);
			p->w = NULL;
			p->rq = NULL;
			p->gbuf = p->wins = NULL;
			err = -ENOMEM;
			goto done;
		}
	}
	for (i = 0; i < CHUNK; i++)
		p->w[i].win = p->wins + i * STACK_WINDOW;
	for (i = 0; i < ng; i += CHUNK) {
		err = scan_chunk(p, p->gptrs + i, ng - i < CHUNK ? ng - i : CHUNK, p->gbuf, p->w,
				 p->rq, out, n, &cap, &local);
		if (err)
			break;
	}
	/* The frame pool has stopped moving: hand out pointers into it. */
	for (i = 0; !err && i < (size_t)*n; i++) {
		const struct gstack *g = &p->stacks[(*out)[i].stack_id];

		(*out)[i].frames = p->stk_frames + g->frames;
		(*out)[i].nframes = g->nframes;
	}
done:
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	if (st) {
		st->retries += local.retries;
		st->bad_g += local.bad_g;
		st->read_errors += local.read_errors;
		st->unwind_errors += local.unwind_errors;
		st->goroutines += local.goroutines;
		st->system += local.system;
	}
	return err;
}
