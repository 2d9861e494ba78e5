/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the ELF side of user/goruntime.c: pw_go_binary__open()
 * (build info through .go.buildinfo or the first writable segment, in line or
 * out of line, the pclntab by section or by magic, runtime.firstmoduledata
 * by symbol or by search, .symtab, runtime.allgadd decoding, the DWARF layout
 * of runtime.g, runtime.waitReasonStrings) and pw_go_proc__new_from() + a
 * scan on what it found, memory read through a fake reader. fuzz_gopclntab
 * covers the pure parsers on their own; here they get the bytes of a whole
 * binary that anyone may have crafted and then run, as parkwatch opens the
 * executable of every process it scans.
 *
 * Real Go binaries are megabytes and 5-90 ms to open, so most inputs are
 * patches of one: the bases are build/workloads/goseed-sw (no symbols, no
 * DWARF: allgadd decoding, moduledata search), goseed-w (symbols) and
 * goseed with its DWARF kept but only .debug_info/.debug_abbrev, decompressed
 * (objcopy at start-up into a temp file; without objcopy the full goseed).
 * $PW_FUZZ_GODIR replaces build/workloads. Each base is kept in a memfd that
 * is patched before and restored after every input; a patch names a region
 * (ELF headers, section table, .go.buildinfo, pclntab header/ftab/whole,
 * moduledata, runtime.allgadd's code, the runtime symbols' .symtab entries,
 * waitReasonStrings, DWARF, gofunc...) and an offset in it, so mutations hit
 * the bytes the reader looks at. A missing base makes its inputs no-ops.
 *
 * Input: byte 0: bits 0-1 = mode, bit 2 = scan too.
 *   mode 0-2: patch base 0-2. byte 1 = number of patches (% 17); each patch
 *     is u8 region, u8 len (% 64), u32 offset (LE, % region size), len
 *     bytes. Region NREG (region byte % (NREG + 1)) truncates the file at
 *     offset % file size instead.
 *   mode 3: raw file: u32 n (LE), then n bytes are the whole file.
 *   Then, with the scan bit: byte = goroutine count (% 64), the rest is
 *   process memory at 0xc000000000 (runtime.allgs points there).
 *
 * Inputs of mode 3 make small runs fast: tests/fuzz/gobinary_seeds.py writes
 * the seeds, among them a 15 KiB go1.19 binary that opens and scans fully
 * (synthetic pclntab, moduledata, DWARF, optional .symtab). $PW_FUZZ_VERBOSE
 * prints what each input did.
 *
 *   tests/fuzz/run.sh build 60 fuzz_gobinary
 *   PW_FUZZ_VERBOSE=1 build/fuzz/fuzz_gobinary INPUT...
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "goruntime.h"

#define MEM_BASE 0xc000000000ULL
#define NBASE 3
#define MAX_PATCHES 16

enum {
	R_HEAD,	    /* ELF header, program headers: the first 4 KiB */
	R_SHDRS,    /* section header table */
	R_SHSTRTAB, /* section names */
	R_BUILDINFO,
	R_PCLN_HDR, /* the pcHeader */
	R_PCLN_FTAB,
	R_PCLN, /* the whole pclntab */
	R_MODULEDATA,
	R_ALLGADD,   /* code of runtime.allgadd */
	R_SYM_ALLGS, /* .symtab entries of the runtime symbols the reader looks up */
	R_SYM_ALLGLEN,
	R_SYM_ALLGPTR,
	R_SYM_WAITREASONS,
	R_SYM_MODULEDATA,
	R_WAITREASONS, /* runtime.waitReasonStrings: {ptr, len} pairs */
	R_DEBUG_INFO,
	R_DEBUG_ABBREV,
	R_GOFUNC, /* first 64 KiB of the funcdata */
	R_FILE,	  /* anywhere */
	NREG,
};

struct range {
	uint64_t off, len;
};

struct base {
	uint8_t *data; /* pristine copy */
	size_t len;
	int fd;
	char path[64];
	struct range reg[NREG];
	uint64_t allgs, allglen, allgptr;
};

static struct base bases[NBASE];
static volatile size_t sink; /* keeps the string reads */
static bool verbose;	     /* $PW_FUZZ_VERBOSE: say what each input did */
static int rawfd = -1;
static char rawpath[64];

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

static int memfd_with(const void *d, size_t len, char *path, size_t plen)
{
	int fd = memfd_create("fuzz_gobinary", 0);
	size_t done = 0;

	if (fd < 0)
		abort();
	while (done < len) {
		ssize_t w = write(fd, (const char *)d + done, len - done);

		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	snprintf(path, plen, "/proc/self/fd/%d", fd);
	return fd;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *d;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size <= 0 || !(d = malloc((size_t)st.st_size)) ||
	    pread(fd, d, (size_t)st.st_size, 0) != st.st_size) {
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return d;
}

/* File offset of vaddr through the PT_LOAD headers; 0 if unmapped. */
static uint64_t file_off(Elf *e, uint64_t vaddr)
{
	size_t n, i;

	if (elf_getphdrnum(e, &n))
		return 0;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr - ph.p_vaddr < ph.p_filesz)
			return ph.p_offset + (vaddr - ph.p_vaddr);
	}
	return 0;
}

static void set_reg(struct base *b, int r, uint64_t off, uint64_t len)
{
	if (!off && r != R_HEAD && r != R_FILE)
		return;
	if (off >= b->len)
		return;
	if (len > b->len - off)
		len = b->len - off;
	b->reg[r].off = off;
	b->reg[r].len = len;
}

/* Where the reader looks, in a base that opens. */
static void find_regions(struct base *b)
{
	static const char *const syms[] = {"runtime.allgs", "runtime.allglen", "runtime.allgptr",
					   "runtime.waitReasonStrings", "runtime.firstmoduledata"};
	const struct pw_go_info *in;
	struct pw_go_binary *gb;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	uint64_t e, end, o;
	Elf *elf;

	if (pw_go_binary__open(b->path, &gb, NULL, 0))
		return;
	in = pw_go_binary__info(gb);
	b->allgs = in->allgs;
	b->allglen = in->allglen;
	b->allgptr = in->allgptr;
	elf = elf_memory((char *)b->data, b->len);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getshdrstrndx(elf, &shstrndx))
		abort();
	set_reg(b, R_HEAD, 0, 4096);
	set_reg(b, R_FILE, 0, b->len);
	set_reg(b, R_SHDRS, eh.e_shoff, (uint64_t)eh.e_shnum * eh.e_shentsize);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh) || !(n = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (elf_ndxscn(scn) == shstrndx)
			set_reg(b, R_SHSTRTAB, sh.sh_offset, sh.sh_size);
		else if (!strcmp(n, ".go.buildinfo"))
			set_reg(b, R_BUILDINFO, sh.sh_offset, sh.sh_size);
		else if (!strcmp(n, ".gopclntab"))
			set_reg(b, R_PCLN, sh.sh_offset, sh.sh_size);
		else if (!strcmp(n, ".debug_info"))
			set_reg(b, R_DEBUG_INFO, sh.sh_offset, sh.sh_size);
		else if (!strcmp(n, ".debug_abbrev"))
			set_reg(b, R_DEBUG_ABBREV, sh.sh_offset, sh.sh_size);
		else if (!strcmp(n, ".symtab") && sh.sh_entsize == sizeof(Elf64_Sym)) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t i, k;

			for (i = 0; d && i < d->d_size / sizeof(Elf64_Sym); i++) {
				GElf_Sym s;
				const char *sn;

				if (!gelf_getsym(d, (int)i, &s) ||
				    !(sn = elf_strptr(elf, sh.sh_link, s.st_name)))
					continue;
				for (k = 0; k < sizeof(syms) / sizeof(syms[0]); k++)
					if (!strcmp(sn, syms[k]))
						set_reg(b, R_SYM_ALLGS + (int)k,
							sh.sh_offset + i * sizeof(Elf64_Sym),
							sizeof(Elf64_Sym));
				if (!strcmp(sn, "runtime.waitReasonStrings"))
					set_reg(b, R_WAITREASONS, file_off(elf, s.st_value),
						s.st_size);
			}
		}
	}
	o = file_off(elf, in->pclntab);
	set_reg(b, R_PCLN_HDR, o, 72);
	if (o && o + 72 <= b->len) {
		uint64_t pcln = rd64(b->data + o + 64), nfunc = rd64(b->data + o + 8);

		set_reg(b, R_PCLN_FTAB, o + pcln, (nfunc + 1) * 8);
	}
	set_reg(b, R_MODULEDATA, file_off(elf, in->moduledata), 0x300);
	set_reg(b, R_GOFUNC, file_off(elf, in->gofunc), 65536);
	if (!pw_gopclntab__find_func(pw_go_binary__pclntab(gb), "runtime.allgadd", &e) &&
	    !pw_gopclntab__func_range(pw_go_binary__pclntab(gb), e, &e, &end))
		set_reg(b, R_ALLGADD, file_off(elf, e), end - e);
	elf_end(elf);
	pw_go_binary__free(gb);
}

/* goseed with DWARF, trimmed to what pw_go_binary__open reads (10 ms an open, not 90). */
static uint8_t *dwarf_base(const char *dir, size_t *len)
{
	char src[512], tmp[] = "/tmp/fuzz_gobinary.XXXXXX", cmd[1200];
	uint8_t *d = NULL;
	int fd;

	snprintf(src, sizeof(src), "%s/goseed", dir);
	if (access(src, R_OK))
		return NULL;
	fd = mkstemp(tmp);
	if (fd >= 0) {
		close(fd);
		snprintf(cmd, sizeof(cmd),
			 "objcopy --decompress-debug-sections -R .debug_line -R .debug_frame "
			 "-R .debug_loc -R .debug_ranges -R .debug_gdb_scripts '%s' '%s' "
			 ">/dev/null 2>&1",
			 src, tmp);
		if (system(cmd) == 0)
			d = slurp(tmp, len);
		unlink(tmp);
	}
	return d ? d : slurp(src, len);
}

static void init(void)
{
	static const char *const names[NBASE] = {"goseed-sw", "goseed-w", NULL};
	const char *dir = getenv("PW_FUZZ_GODIR");
	char path[512];
	int i;

	dir = dir ? dir : "build/workloads";
	verbose = getenv("PW_FUZZ_VERBOSE");
	elf_version(EV_CURRENT);
	for (i = 0; i < NBASE; i++) {
		struct base *b = &bases[i];

		b->fd = -1;
		if (names[i]) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			b->data = slurp(path, &b->len);
		} else {
			b->data = dwarf_base(dir, &b->len);
		}
		if (!b->data)
			continue;
		b->fd = memfd_with(b->data, b->len, b->path, sizeof(b->path));
		find_regions(b);
		if (verbose) {
			int r;

			fprintf(stderr, "base %d: %zu bytes, regions", i, b->len);
			for (r = 0; r < NREG; r++)
				fprintf(stderr, " %d:%#llx+%#llx", r,
					(unsigned long long)b->reg[r].off,
					(unsigned long long)b->reg[r].len);
			fprintf(stderr, "\n");
		}
	}
	rawfd = memfd_with("", 0, rawpath, sizeof(rawpath));
}

static struct {
	const uint8_t *mem;
	size_t len;
	uint64_t ngs, allgs, allglen, allgptr;
} fm;

/* The runtime's list variables say: ngs goroutines, array at MEM_BASE; the rest is the input. */
static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	uint64_t hdr[3] = {MEM_BASE, fm.ngs, fm.ngs};

	if (addr == fm.allgs && len <= sizeof(hdr)) {
		memcpy(buf, hdr, len);
		return 0;
	}
	if ((addr == fm.allglen || addr == fm.allgptr) && len == 8) {
		memcpy(buf, addr == fm.allglen ? &hdr[1] : &hdr[0], 8);
		return 0;
	}
	if (addr < MEM_BASE || addr - MEM_BASE > fm.len || len > fm.len - (addr - MEM_BASE))
		return -EFAULT;
	memcpy(buf, fm.mem + (addr - MEM_BASE), len);
	return 0;
}

/* Touch every byte of a returned string: ASan flags one that runs off its buffer. */
static size_t touch(const struct pw_frame *f, int n)
{
	size_t sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		sum += f[i].func ? strlen(f[i].func) : 0;
		sum += f[i].file ? strlen(f[i].file) : 0;
	}
	return sum;
}

/* What the scan relies on, for any binary that opened. */
static void check_binary(const struct pw_go_binary *b)
{
	const struct pw_go_info *in = pw_go_binary__info(b);
	const struct pw_gopclntab *t = pw_go_binary__pclntab(b);
	const struct pw_go_layout *l = &in->layout;
	struct pw_frame fr[PW_MAX_FRAMES];
	uint64_t pcs[6], e, end;
	int i, n;

	if (!memchr(in->version, '\0', sizeof(in->version)) || strncmp(in->version, "go", 2))
		abort();
	if (in->nwait_reasons <= 0 || !in->wait_reasons)
		abort();
	for (i = 0; i < in->nwait_reasons; i++) {
		if (!in->wait_reasons[i])
			abort();
		sink += strlen(in->wait_reasons[i]);
	}
	if (!l->size || l->size > 4096 || l->stack_lo + 8 > l->size || l->stack_hi + 8 > l->size ||
	    l->sched_sp + 8 > l->size || l->sched_pc + 8 > l->size || l->sched_bp + 8 > l->size ||
	    l->status + l->status_size > l->size || l->goid + 8 > l->size ||
	    l->waitsince + 8 > l->size || l->waitreason + l->waitreason_size > l->size ||
	    l->gopc + 8 > l->size || l->startpc + 8 > l->size || !l->status_size ||
	    l->status_size > 8 || !l->waitreason_size || l->waitreason_size > 8)
		abort();
	if (!t || !in->allgs)
		abort();
	pcs[0] = in->text;
	pcs[1] = in->text + 0x100;
	pcs[2] = in->etext - 1;
	pcs[3] = in->etext;
	pcs[4] = pw_gopclntab__find_func(t, "runtime.gopark", &e) ? 0 : e + 0x20;
	pcs[5] = pw_gopclntab__find_func(t, "main.main", &e) ? 0 : e + 0x10;
	for (i = 0; i < 6; i++) {
		n = pw_gopclntab__lookup_raw(t, pcs[i], i & 1, fr, PW_MAX_FRAMES);
		if (n > 0)
			sink += touch(fr, n);
		if (!pw_gopclntab__func_range(t, pcs[i], &e, &end) && (e > pcs[i] || pcs[i] >= end))
			abort();
	}
}

/*
 * pw_go_proc__new_from(path) over fake memory d whose list variables are at
 * allgs/allglen/allgptr, then a scan; version (may be NULL) is what the
 * binary said when it was opened.
 */
static void scan(const char *path, uint64_t allgs, uint64_t allglen, uint64_t allgptr,
		 const char *version, const uint8_t *d, size_t len)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *g;
	struct pw_go_proc *p;
	char err[256];
	int n, i, rc;

	if (!len)
		return;
	fm.ngs = d[0] % 64;
	fm.mem = d + 1;
	fm.len = len - 1;
	fm.allgs = allgs;
	fm.allglen = allglen;
	fm.allgptr = allgptr;
	err[0] = '\0';
	rc = pw_go_proc__new_from(path, 0, fake_read, NULL, &p, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "new_from: %d %s\n", rc, rc ? err : "");
	if (rc)
		return;
	if (version && strcmp(pw_go_proc__version(p), version))
		abort();
	rc = pw_go_proc__scan(p, &g, &n, &st);
	if (verbose)
		fprintf(stderr, "scan: %d, %d parked, %llu bad_g, %llu unwind errors\n", rc,
			rc ? 0 : n, (unsigned long long)st.bad_g,
			(unsigned long long)st.unwind_errors);
	if (!rc) {
		for (i = 0; i < n; i++) {
			if (verbose)
				fprintf(stderr, "  goroutine %llu: %d frames, innermost %s\n",
					(unsigned long long)g[i].goid, g[i].nframes,
					g[i].nframes > 0 && g[i].frames[0].func
						? g[i].frames[0].func
						: "?");
			if (g[i].nframes < 1 || g[i].nframes > PW_MAX_FRAMES)
				abort();
			sink += touch(g[i].frames, g[i].nframes);
			sink += g[i].wait_reason ? strlen(g[i].wait_reason) : 0;
		}
		free(g);
	}
	pw_go_proc__free(p);
}

/*
 * Opens path; on success checks what it found and, with scan, scans memory d.
 * A patched base (pristine, may be NULL) scans without the check: opening a
 * real Go binary costs tens of ms under ASan, and the unpatched base says where
 * the list variables are.
 */
static void open_and_check(const char *path, const struct base *pristine, bool with_scan,
			   const uint8_t *d, size_t len)
{
	struct pw_go_binary *b = NULL;
	const struct pw_go_info *in;
	char err[256];
	int rc;

	if (with_scan && pristine) {
		scan(path, pristine->allgs, pristine->allglen, pristine->allgptr, NULL, d, len);
		return;
	}
	err[0] = '\0';
	rc = pw_go_binary__open(path, &b, err, sizeof(err));
	if (rc) {
		if (verbose)
			fprintf(stderr, "open: %d %s\n", rc, err);
		/* A failure is an -errno with a one-line reason and no binary. */
		if (rc >= 0 || b || !err[0] || strchr(err, '\n'))
			abort();
		return;
	}
	in = pw_go_binary__info(b);
	if (verbose)
		fprintf(stderr,
			"open: 0 %s symtab %d dwarf %d layout from dwarf %d moduledata %#llx "
			"allgs %#llx from symtab %d wait reasons from binary %d\n",
			in->version, in->has_symtab, in->has_dwarf, in->layout.from_dwarf,
			(unsigned long long)in->moduledata, (unsigned long long)in->allgs,
			in->allgs_from_symtab, in->wait_reasons_from_binary);
	check_binary(b);
	if (with_scan)
		scan(path, in->allgs, in->allglen, in->allgptr, in->version, d, len);
	pw_go_binary__free(b);
}

static void full_write(int fd, const void *d, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, (const char *)d + done, len - done, off + (off_t)done);

		if (w <= 0)
			abort();
		done += (size_t)w;
	}
}

static void patched(struct base *b, bool with_scan, const uint8_t *d, size_t len)
{
	struct range dirty[MAX_PATCHES];
	uint64_t trunc = 0;
	int np, i, nd = 0;

	if (b->fd < 0 || len < 1)
		return;
	np = d[0] % (MAX_PATCHES + 1);
	d++;
	len--;
	for (i = 0; i < np && len >= 6; i++) {
		int r = d[0] % (NREG + 1);
		uint64_t plen = d[1] % 64, off = rd32(d + 2);

		d += 6;
		len -= 6;
		if (r == NREG) {
			off %= b->len;
			if (!trunc || off < trunc)
				trunc = off ? off : 1;
			continue;
		}
		if (plen > len)
			plen = len;
		if (!b->reg[r].len) {
			d += plen;
			len -= plen;
			continue;
		}
		off = b->reg[r].off + off % b->reg[r].len;
		if (plen > b->len - off)
			plen = b->len - off;
		full_write(b->fd, d, plen, (off_t)off);
		dirty[nd].off = off;
		dirty[nd++].len = plen;
		d += plen;
		len -= plen;
	}
	if (trunc && ftruncate(b->fd, (off_t)trunc))
		abort();
	open_and_check(b->path, b, with_scan, d, len);
	for (i = 0; i < nd; i++)
		full_write(b->fd, b->data + dirty[i].off, dirty[i].len, (off_t)dirty[i].off);
	if (trunc) {
		if (ftruncate(b->fd, (off_t)b->len))
			abort();
		full_write(b->fd, b->data + trunc, b->len - trunc, (off_t)trunc);
	}
}

static void raw(bool with_scan, const uint8_t *d, size_t len)
{
	size_t n;

	if (len < 4)
		return;
	n = rd32(d);
	d += 4;
	len -= 4;
	if (n > len)
		n = len;
	if (ftruncate(rawfd, 0))
		abort();
	full_write(rawfd, d, n, 0);
	open_and_check(rawpath, NULL, with_scan, d + n, len - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int mode;
	bool with_scan;

	if (!ready) {
		init();
		ready = true;
	}
	if (!size)
		return 0;
	mode = data[0] & 3;
	with_scan = data[0] & 4;
	if (mode < NBASE)
		patched(&bases[mode], with_scan, data + 1, size - 1);
	else
		raw(with_scan, data + 1, size - 1);
	return 0;
}
