/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DWARF unwinding of parked threads' stack copies and symbolization, with
 * libdwfl (perf's util/unwind-libdw.c is the model for the unwinding part).
 *
 * Unwinding: one Dwfl per process. Each executable file mapping is reported
 * as a module range only; our find_elf callback opens its ELF the first time
 * a pc needs it, so the libraries that never show up in a parked stack cost
 * nothing. dwfl_attach_state() can be called once per Dwfl, so the thread
 * callbacks read the thread being unwound from ps->cur, set before each
 * dwfl_getthread_frames(). Frames without CFI are walked through rbp by
 * libdw's own x86-64 fallback (backends/x86_64_unwind.c, elfutils >= 0.178),
 * fed by our memory_read; frame_cb rejects what that walk invents.
 *
 * Symbolization: per binary, shared by every process that maps it (keyed by
 * device, inode, size and mtime), in a Dwfl of its own with the file at its
 * ELF addresses. Loading libc's debug info (libc6-dbg) means inflating ~4 MB
 * of compressed DWARF: 40-80 ms measured on an idle machine, which a host
 * with a few hundred processes would otherwise pay a few hundred times.
 * Frames are cached per ELF address in the binary and per pc in the process.
 *
 * A pc outside every known mapping makes a live process's maps be re-read
 * (dlopen after we first looked), at most once a second.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "procmaps.h"
#include "unwind.h"

/* DWARF numbering on x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then rip. */
#define X86_64_NREGS 17
#define DW_REG_RSP 7

/* Inlining depth kept per pc; deeper chains lose their innermost calls. */
#define MAX_INLINE 16

#define PAGE_SZ 4096ULL

struct sym_ent {
	uint64_t key;
	uint32_t first; /* index in frames */
	uint16_t n;
	bool used, is_ret;
};

/* (address, is_ret) -> frames, open addressing; never shrinks. */
struct frame_cache {
	struct sym_ent *tab;
	size_t cap, len;
	struct pw_frame *frames;
	size_t nframes, frames_cap;
};

struct cu_range {
	uint64_t lo, hi; /* DWARF addresses */
	Dwarf_Die die;
};

/* Symbols of one binary, at its ELF addresses. */
struct file_syms {
	struct file_syms *next;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int refs;
	char *debuginfo_path;
	Dwfl_Callbacks cbs;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Elf *elf;
	int main_symtab; /* main ELF has .symtab: -1 unknown, 0, 1 */
	Elf *other_elf;	 /* the separate debug file symbols came from, if any */
	int other_symtab;
	bool cus_built;
	struct cu_range *cus;
	int ncus;
	struct frame_cache cache;
};

/* Every binary some live pw_proc_syms maps; not thread-safe, like libdw. */
static struct file_syms *files;

struct seg {
	uint64_t vaddr, filesz, offset;
	bool writable;
};

/* One loaded binary in one process. */
struct module {
	struct pw_proc_syms *ps;
	Dwfl_Module *mod;
	const char *name; /* the maps path, interned */
	int map0;	  /* the file's first mapping in ps->maps */
	uint64_t lo, hi;  /* reported range; libdwfl derives its load bias from lo */
	uint64_t bias;	  /* load bias computed from the mappings and phdrs */
	bool elf_tried;
	Elf *elf; /* owned by libdwfl */
	struct seg *segs;
	int nsegs;
	struct file_syms *file;
	bool bad; /* could not be read: counted in nbad once */
};

/* The thread being unwound: read by the Dwfl_Thread_Callbacks. */
struct cur_thread {
	pid_t tid;
	const struct pw_regs *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t base;
	uint64_t stk_lo, stk_hi; /* the mapping holding sp: /proc/PID/mem may read it */
	uint64_t *pcs;
	int max, n;
	uint64_t last_sp;
	bool cut_unmapped;  /* the walk met a pc in no mapping we know */
	uint64_t page_addr; /* one page of /proc/PID/mem, for frames past the copy */
	bool page_valid;
	uint8_t page[PAGE_SZ];
};

struct pw_proc_syms {
	pid_t pid; /* 0: built from recorded maps, no live process */
	char *root;
	char *debuginfo_path;
	struct pw_maps *maps;
	Dwfl_Callbacks cbs;
	Dwfl *dwfl;
	Elf *arch_elf; /* tells dwfl_attach_state the architecture without opening a module */
	Elf64_Ehdr arch_ehdr;
	bool attached;
	struct module *mods;
	int nmods;
	int nbad;
	int mem_fd; /* /proc/PID/mem, opened on first need; -1 */
	uint64_t refreshed_ns;
	struct frame_cache cache;
	struct cur_thread cur;
};

static const Dwfl_Thread_Callbacks thread_cbs;

/* Frame caches */

static size_t hash_key(uint64_t key, bool is_ret)
{
	uint64_t h = (key ^ is_ret) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

static struct sym_ent *fc_slot(struct sym_ent *tab, size_t cap, uint64_t key, bool is_ret)
{
	size_t j;

	for (j = hash_key(key, is_ret) & (cap - 1); tab[j].used; j = (j + 1) & (cap - 1))
		if (tab[j].key == key && tab[j].is_ret == is_ret)
			break;
	return &tab[j];
}

/* Cached frames of key, or NULL. */
static const struct pw_frame *fc_get(struct frame_cache *c, uint64_t key, bool is_ret, int *n)
{
	struct sym_ent *e;

	if (!c->cap)
		return NULL;
	e = fc_slot(c->tab, c->cap, key, is_ret);
	if (!e->used)
		return NULL;
	*n = e->n;
	return c->frames + e->first;
}

/* On ENOMEM the result is just not cached. */
static void fc_put(struct frame_cache *c, uint64_t key, bool is_ret, const struct pw_frame *fr,
		   int n)
{
	struct sym_ent *e;
	size_t i;

	if ((c->len + 1) * 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct sym_ent *t = calloc(cap, sizeof(*t));

		if (!t)
			return;
		for (i = 0; i < c->cap; i++)
			if (c->tab[i].used)
				*fc_slot(t, cap, c->tab[i].key, c->tab[i].is_ret) = c->tab[i];
		free(c->tab);
		c->tab = t;
		c->cap = cap;
	}
	if (c->nframes + n > c->frames_cap) {
		size_t cap = c->frames_cap ? c->frames_cap * 2 : 256;
		struct pw_frame *nf;

		while (cap < c->nframes + n)
			cap *= 2;
		if (cap > UINT32_MAX)
			return;
		nf = realloc(c->frames, cap * sizeof(*nf));
		if (!nf)
			return;
		c->frames = nf;
		c->frames_cap = cap;
	}
	e = fc_slot(c->tab, c->cap, key, is_ret);
	e->used = true;
	e->key = key;
	e->is_ret = is_ret;
	e->first = c->nframes;
	e->n = n;
	memcpy(c->frames + c->nframes, fr, n * sizeof(*fr));
	c->nframes += n;
	c->len++;
}

static void fc_reset(struct frame_cache *c)
{
	if (c->tab)
		memset(c->tab, 0, c->cap * sizeof(*c->tab));
	c->len = 0;
	c->nframes = 0;
}

static void fc_free(struct frame_cache *c)
{
	free(c->tab);
	free(c->frames);
}

/* Per-binary symbols */

/* The file Dwfl gets its one module with an open fd: nothing to find. */
static int no_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	return -1;
}

/* Debug files */

/* path, if it is a regular file: never blocks on a FIFO, never reads a device. */
static int open_regular(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool crc_matches(int fd, uint32_t want)
{
	unsigned char buf[65536];
	uLong crc = crc32(0, NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crc = crc32(crc, buf, n);
		off += n;
	}
	return n == 0 && crc == want;
}

static bool build_id_matches(int fd, const void *id, int len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *got;
	bool ok;

	if (!elf)
		return false;
	ok = len > 0 && dwelf_elf_gnu_build_id(elf, &got) == len && !memcmp(got, id, len);
	elf_end(elf);
	return ok;
}

/* Opens path if it is a regular file that passes the check (crc, else build-id, else none). */
static int try_debug(const char *path, const char *self, bool check_crc, uint32_t crc,
		     const void *id, int idlen, char **out)
{
	int fd;

	if (self && !strcmp(path, self))
		return -1;
	fd = open_regular(path);
	if (fd < 0)
		return -1;
	if ((check_crc && !crc_matches(fd, crc)) ||
	    (!check_crc && idlen > 0 && !build_id_matches(fd, id, idlen)) ||
	    !(*out = strdup(path))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * libdwfl's find_debuginfo callback. Debug files are looked for where the
 * binary's owner can write: next to it, in its .debug/, in a container's
 * /usr/lib/debug; and its .gnu_debuglink (or .gnu_debugaltlink) names them.
 * elfutils 0.188's dwfl_standard_find_debuginfo() open()s each candidate
 * blocking: a FIFO named like the debug file of a stripped binary ("prog.debug"
 * next to "prog") hung parkwatch for good. Same places, same order (build-id,
 * then debuglink), but every candidate is opened non-blocking, must be a
 * regular file and must match the build-id or the debuglink's CRC; names with
 * a '/' (or "..") cannot leave the directories searched.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink, GElf_Word crc, char **out)
{
	char root[64] = "", dir[PATH_MAX], path[PATH_MAX + 256], name[NAME_MAX + 1];
	const char *rel = file_name, *slash, *dirs[2];
	const unsigned char *id = NULL;
	GElf_Addr id_vaddr;
	int idlen, i, n, fd, pid;

	*out = NULL;
	if (!file_name)
		return -1;
	/* /proc/PID/root/usr/bin/x: the debug dirs are the container's too. */
	n = 0; /* %n is not stored when "root" does not match (map_files) */
	if (sscanf(file_name, "/proc/%d/root%n", &pid, &n) == 1 && n > 0 && file_name[n] == '/') {
		snprintf(root, sizeof(root), "%.*s", n, file_name);
		rel = file_name + n;
	} else if (!strncmp(file_name, "/proc/", 6)) {
		rel = NULL; /* map_files: no directory of its own */
	}
	idlen = dwfl_module_build_id(mod, &id, &id_vaddr);
	/* .gnu_debugaltlink (dwz): an absolute path and no CRC: a regular file is all we ask. */
	if (debuglink && debuglink[0] == '/') {
		if (strstr(debuglink, "/../") || crc)
			return -1;
		if (snprintf(path, sizeof(path), "%s%s", root, debuglink) >= (int)sizeof(path))
			return -1;
		fd = try_debug(path, NULL, false, 0, NULL, 0, out);
		return fd >= 0 || !root[0] ? fd
					   : try_debug(debuglink, NULL, false, 0, NULL, 0, out);
	}
	dirs[0] = "/usr/lib/debug";
	dirs[1] = root[0] ? root : NULL;
	for (i = 0; i < 2 && idlen > 1; i++) {
		char hex[2 * 64 + 1];
		int k;

		if (!dirs[i] || idlen > 64)
			continue;
		for (k = 0; k < idlen; k++)
			sprintf(hex + 2 * k, "%02x", id[k]);
		if (snprintf(path, sizeof(path), "%s%s/.build-id/%.2s/%s.debug", dirs[i],
			     i ? "/usr/lib/debug" : "", hex, hex + 2) >= (int)sizeof(path))
			continue;
		fd = try_debug(path, NULL, false, 0, id, idlen, out);
		if (fd >= 0)
			return fd;
	}
	if (!rel || !(slash = strrchr(file_name, '/')))
		return -1;
	n = debuglink ? snprintf(name, sizeof(name), "%s", debuglink)
		      : snprintf(name, sizeof(name), "%s.debug", slash + 1);
	if (n >= (int)sizeof(name) || strchr(name, '/') || !strcmp(name, "..") ||
	    !strcmp(name, ".") ||
	    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file_name), file_name) >=
		    (int)sizeof(dir))
		return -1;
	slash = strrchr(rel, '/');
	for (i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s%s/%s", dir, i ? "/.debug" : "", name) >=
		    (int)sizeof(path))
			continue;
		fd = try_debug(path, file_name, debuglink, crc, id, idlen, out);
		if (fd >= 0)
			return fd;
	}
	/* /usr/lib/debug/usr/bin/x.debug, on the host and in the container. */
	for (i = 0; i < 2; i++) {
		if (i && !root[0])
			break;
		if (snprintf(path, sizeof(path), "%s/usr/lib/debug%.*s/%s", i ? root : "",
			     (int)(slash - rel), rel, name) >= (int)sizeof(path))
			continue;
		fd = try_debug(path, NULL, debuglink, crc, id, idlen, out);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

static void file_put(struct file_syms *f)
{
	struct file_syms **pp;

	if (!f || --f->refs > 0)
		return;
	for (pp = &files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	if (f->dwfl)
		dwfl_end(f->dwfl);
	free(f->cus);
	fc_free(&f->cache);
	free(f->debuginfo_path);
	free(f);
}

/* The shared symbols of the file open at fd, loading them on first use. */
static struct file_syms *file_get(int fd, const char *name, const char *debuginfo_path)
{
	struct file_syms *f;
	GElf_Addr bias;
	struct stat st;
	int dfd;

	if (fstat(fd, &st))
		return NULL;
	for (f = files; f; f = f->next)
		if (f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
		    f->mtime.tv_sec == st.st_mtim.tv_sec &&
		    f->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			f->refs++;
			return f;
		}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	f->refs = 1;
	f->main_symtab = f->other_symtab = -1;
	f->next = files;
	files = f;
	/* The first process's root decides where its debug files are looked for. */
	f->debuginfo_path = strdup(debuginfo_path);
	if (!f->debuginfo_path)
		goto fail;
	f->cbs.find_elf = no_find_elf;
	f->cbs.find_debuginfo = find_debuginfo;
	f->cbs.debuginfo_path = &f->debuginfo_path;
	f->dwfl = dwfl_begin(&f->cbs);
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (!f->dwfl || dfd < 0)
		goto fail;
	dwfl_report_begin(f->dwfl);
	/* Base 0: addresses in this Dwfl are the ELF file's own. */
	f->mod = dwfl_report_elf(f->dwfl, name, name, dfd, 0, true);
	if (!f->mod)
		close(dfd);
	if (dwfl_report_end(f->dwfl, NULL, NULL) || !f->mod)
		goto fail;
	f->elf = dwfl_module_getelf(f->mod, &bias);
	if (!f->elf)
		goto fail;
	return f;
fail:
	file_put(f);
	return NULL;
}

static int cmp_cu(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * clang-14 emits no .debug_aranges and elfutils 0.188 then finds no CU for
 * any address (DESIGN.md §5): index the CUs' own ranges instead.
 */
static void build_cu_index(struct file_syms *f, Dwarf *dw)
{
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Addr base, lo, hi;
	Dwarf_Die cudie;
	uint8_t type;
	ptrdiff_t off;
	int cap = 0;

	f->cus_built = true;
	while (dwarf_get_units(dw, cu, &next, NULL, &type, &cudie, NULL) == 0) {
		cu = next;
		if (type != DW_UT_compile)
			continue;
		off = 0;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			/* Code dropped by --gc-sections keeps ranges at 0. */
			if (!lo || lo >= hi)
				continue;
			if (f->ncus == cap) {
				int ncap = cap ? cap * 2 : 64;
				struct cu_range *n = realloc(f->cus, ncap * sizeof(*n));

				if (!n)
					goto out;
				f->cus = n;
				cap = ncap;
			}
			f->cus[f->ncus].lo = lo;
			f->cus[f->ncus].hi = hi;
			f->cus[f->ncus].die = cudie;
			f->ncus++;
		}
	}
out:
	if (f->ncus) /* qsort(NULL, 0) is undefined behaviour */
		qsort(f->cus, f->ncus, sizeof(*f->cus), cmp_cu);
}

static Dwarf_Die *cu_from_index(struct file_syms *f, Dwarf *dw, Dwarf_Addr a)
{
	int lo = 0, hi, mid, i;

	if (!f->cus_built)
		build_cu_index(f, dw);
	if (!f->ncus || a < f->cus[0].lo)
		return NULL;
	hi = f->ncus;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (f->cus[mid].lo <= a)
			lo = mid;
		else
			hi = mid;
	}
	/* Ranges of different CUs should not overlap; tolerate a few that do. */
	for (i = lo; i >= 0 && i > lo - 8; i--)
		if (f->cus[i].lo <= a && a < f->cus[i].hi)
			return &f->cus[i].die;
	return NULL;
}

static Dwarf_Die *find_cu(struct file_syms *f, Dwarf *dw, Dwarf_Addr addr, Dwarf_Addr dwbias)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(f->mod, addr, &bias);
	Dwarf_Die *alt;
	int has = cu ? dwarf_haspc(cu, addr - bias) : 0;

	/*
	 * libdwfl treats the gaps between aranges as part of the CU before
	 * them, so a CU without aranges comes back as its neighbour.
	 */
	if (has > 0)
		return cu;
	alt = cu_from_index(f, dw, addr - dwbias);
	if (alt)
		return alt;
	return has < 0 ? cu : NULL;
}

static bool elf_has_symtab(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB && sh.sh_entsize &&
		    sh.sh_size > sh.sh_entsize)
			return true;
	return false;
}

/* libdwfl falls back to .dynsym when no file has a .symtab: say so. */
static bool from_symtab(struct file_syms *f, Elf *elf)
{
	if (!elf)
		return false;
	if (elf == f->elf) {
		if (f->main_symtab < 0)
			f->main_symtab = elf_has_symtab(elf);
		return f->main_symtab;
	}
	if (elf != f->other_elf) {
		f->other_elf = elf;
		f->other_symtab = elf_has_symtab(elf);
	}
	return f->other_symtab;
}

/* "pthread_cond_wait@@GLIBC_2.3.2" -> "pthread_cond_wait" */
static const char *intern_sym(const char *name)
{
	const char *at = strchr(name, '@');
	char buf[512];

	if (!at || at == name || (size_t)(at - name) >= sizeof(buf))
		return pw_intern(name);
	memcpy(buf, name, at - name);
	buf[at - name] = '\0';
	return pw_intern(buf);
}

static void call_site(Dwarf_Die *die, const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word idx, ln;
	Dwarf_Files *files;
	Dwarf_Die cudie;
	size_t nfiles;
	const char *f;

	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &ln) || !ln || ln > INT_MAX)
		return;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &idx) ||
	    !dwarf_diecu(die, &cudie, NULL, NULL) || dwarf_getsrcfiles(&cudie, &files, &nfiles) ||
	    idx >= nfiles)
		return;
	f = dwarf_filesrc(files, idx, NULL, NULL);
	if (!f)
		return;
	*file = pw_intern(f);
	*line = ln;
}

static uint64_t die_entry(Dwarf_Die *die)
{
	Dwarf_Addr e;

	if (!dwarf_entrypc(die, &e) || !dwarf_lowpc(die, &e))
		return e;
	return UINT64_MAX;
}

/*
 * Frames of ELF address va, innermost first (fr has room for MAX_INLINE):
 * func, func_off, file, line, inlined, dynsym_only; the rest is the caller's.
 */
static int file_resolve(struct file_syms *f, uint64_t va, bool is_ret, struct pw_frame *fr)
{
	/* The call instruction, not what follows it (maybe another function or line). */
	uint64_t a = is_ret && va ? va - 1 : va;
	int nchain = 0, nscopes = 0, ndies = 0, i, n;
	Dwarf_Die *cu = NULL, *scopes = NULL, *dies = NULL;
	const char *symname, *dwname, *file = NULL;
	Dwarf_Die chain[MAX_INLINE];
	bool symdyn;
	Dwarf_Addr dwbias = 0;
	GElf_Off symoff = 0;
	Elf *symelf = NULL;
	Dwarf *dw = NULL;
	Dwarf_Line *line;
	int lineno = 0;
	GElf_Sym sym;

	symname = dwfl_module_addrinfo(f->mod, a, &symoff, &sym, NULL, &symelf, NULL);
	dw = dwfl_module_getdwarf(f->mod, &dwbias);
	if (dw)
		cu = find_cu(f, dw, a, dwbias);
	if (cu) {
		line = dwarf_getsrc_die(cu, a - dwbias);
		if (line && !dwarf_lineno(line, &lineno) && lineno > 0)
			file = dwarf_linesrc(line, NULL, NULL);
		if (!file)
			lineno = 0;
		nscopes = dwarf_getscopes(cu, a - dwbias, &scopes);
	}
	/*
	 * dwarf_getscopes() stops at the innermost inlined call; the chain of
	 * calls it is inlined into comes from its DIE's own scopes.
	 */
	for (i = 0; i < nscopes; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_subprogram) {
			chain[nchain++] = scopes[i];
			break;
		}
		if (tag == DW_TAG_inlined_subroutine) {
			ndies = dwarf_getscopes_die(&scopes[i], &dies);
			break;
		}
	}
	/* Deeper than MAX_INLINE: keep the outer calls, which name the site. */
	for (i = 0; i < ndies; i++) {
		int tag = dwarf_tag(&dies[i]);

		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		if (nchain == MAX_INLINE) {
			memmove(chain, chain + 1, (MAX_INLINE - 1) * sizeof(*chain));
			nchain--;
		}
		chain[nchain++] = dies[i];
		if (tag == DW_TAG_subprogram)
			break;
	}
	symdyn = symname && !from_symtab(f, symelf);
	n = nchain ? nchain : 1;
	for (i = 0; i < n; i++) {
		struct pw_frame *fi = &fr[i];
		bool outer = i == n - 1;

		memset(fi, 0, sizeof(*fi));
		fi->inlined = !outer;
		if (i == 0) {
			fi->file = file ? pw_intern(file) : NULL;
			fi->line = fi->file ? lineno : 0;
		} else {
			call_site(&chain[i - 1], &fi->file, &fi->line);
		}
		dwname = nchain ? dwarf_diename(&chain[i]) : NULL;
		/* .symtab, then DWARF, then .dynsym: the nearest export may be far off. */
		if (outer && symname && (!symdyn || !dwname)) {
			fi->func = intern_sym(symname);
			fi->func_off = symoff + (va - a);
			fi->dynsym_only = symdyn;
		} else if (dwname) {
			uint64_t entry = die_entry(&chain[i]);

			fi->func = pw_intern(dwname);
			if (fi->func && entry != UINT64_MAX && a - dwbias >= entry)
				fi->func_off = a - dwbias - entry + (va - a);
		}
	}
	free(scopes);
	free(dies);
	return n;
}

static int file_symbols(struct file_syms *f, uint64_t va, bool is_ret, struct pw_frame *fr)
{
	const struct pw_frame *c;
	int n;

	c = fc_get(&f->cache, va, is_ret, &n);
	if (c) {
		memcpy(fr, c, n * sizeof(*fr));
		return n;
	}
	n = file_resolve(f, va, is_ret, fr);
	fc_put(&f->cache, va, is_ret, fr, n);
	return n;
}

/* Opening binaries */

static int open_module_file(struct module *m, char **name)
{
	struct pw_proc_syms *ps = m->ps;
	const struct pw_map *map = &ps->maps->maps[m->map0];
	char buf[PATH_MAX];
	struct stat st;
	int fd;

	*name = NULL;
	/* A deleted file's path names nothing, or worse, its replacement. */
	if (!map->deleted || !ps->pid) {
		if (snprintf(buf, sizeof(buf), "%s%s", ps->root, map->path) >= (int)sizeof(buf))
			return -ENAMETOOLONG;
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			/*
			 * A package upgrade replaces libraries under running
			 * processes: only the inode the process mapped is right.
			 * Recorded maps come from another filesystem: no check.
			 */
			if (!ps->pid || (!fstat(fd, &st) && st.st_ino == map->inode))
				goto found;
			close(fd);
		}
	}
	if (!ps->pid)
		return -ENOENT;
	/* Needs CAP_SYS_ADMIN, but always names the very file that is mapped. */
	snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx", (int)ps->pid,
		 (unsigned long long)map->start, (unsigned long long)map->end);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
found:
	*name = strdup(buf);
	if (!*name) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/*
 * Caches the PT_LOAD segments (memory_read serves read-only ones from the
 * file) and checks that the bias libdwfl will derive from our reported start
 * (start - first PT_LOAD's aligned p_vaddr) is the one the mappings imply.
 */
static int load_segments(struct module *m, Elf *elf, uint64_t fsize)
{
	const struct pw_map *map = &m->ps->maps->maps[m->map0];
	uint64_t first_vaddr = 0;
	bool have_bias = false, first = true;
	GElf_Phdr ph;
	size_t phnum, i;

	if (elf_getphdrnum(elf, &phnum) || !phnum || phnum > 4096)
		return -ENOEXEC;
	m->segs = calloc(phnum, sizeof(*m->segs));
	if (!m->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD)
			continue;
		/* A truncated file: the kernel could not have mapped it whole. */
		if (ph.p_offset > fsize || fsize - ph.p_offset < ph.p_filesz)
			return -ENOEXEC;
		if (first) {
			first_vaddr = ph.p_vaddr & -(ph.p_align ? ph.p_align : 1);
			first = false;
		}
		m->segs[m->nsegs].vaddr = ph.p_vaddr;
		m->segs[m->nsegs].filesz = ph.p_filesz;
		m->segs[m->nsegs].offset = ph.p_offset;
		m->segs[m->nsegs].writable = ph.p_flags & PF_W;
		m->nsegs++;
		/*
		 * The first mapping starts at file offset map->offset, which
		 * this segment loads at p_vaddr + (map->offset - p_offset).
		 */
		if (!have_bias && (ph.p_offset & -PAGE_SZ) <= map->offset &&
		    map->offset < ph.p_offset + ph.p_filesz) {
			m->bias = map->start - map->offset - (ph.p_vaddr - ph.p_offset);
			have_bias = true;
		}
	}
	if (!have_bias || m->lo - first_vaddr != m->bias)
		return -ENOEXEC;
	return 0;
}

/*
 * True once the process has released its memory (exited, or exiting): its
 * /proc/PID/root and map_files name nothing then, whatever the binaries were.
 */
static bool ps_gone(const struct pw_proc_syms *ps)
{
	char path[64], exe[8];

	if (!ps->pid)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)ps->pid);
	return readlink(path, exe, sizeof(exe)) < 0 && (errno == ENOENT || errno == ESRCH);
}

static bool looks_like_elf(int fd)
{
	char magic[SELFMAG];

	return pread(fd, magic, SELFMAG, 0) == SELFMAG && !memcmp(magic, ELFMAG, SELFMAG);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	struct module *m = *userdata;
	struct stat st;
	GElf_Ehdr eh;
	char *name;
	Elf *elf;
	int fd;

	*elfp = NULL;
	if (m->bad)
		return -1;
	fd = open_module_file(m, &name);
	/* A process that exits under us is not a broken binary: not a drop. */
	if (fd < 0 && ps_gone(m->ps))
		return -1;
	if (fd < 0)
		goto bad;
	/*
	 * Not ELF at all (a JIT's executable memfd, /dev/zero): not a
	 * binary, so not a drop either.
	 */
	if (!looks_like_elf(fd))
		goto out;
	if (fstat(fd, &st))
		goto bad_fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		goto bad_fd;
	/* libelf accepts a file cut after its headers; the section table must be there. */
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    gelf_getclass(elf) != ELFCLASS64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
	    (eh.e_shoff &&
	     (eh.e_shoff > (uint64_t)st.st_size ||
	      ((uint64_t)st.st_size - eh.e_shoff) / (eh.e_shentsize ?: 1) < eh.e_shnum)) ||
	    load_segments(m, elf, st.st_size)) {
		elf_end(elf);
		goto bad_fd;
	}
	/* Without it frames get module + offset but no names. */
	if (!m->file)
		m->file = file_get(fd, name, m->ps->debuginfo_path);
	*file_name = name;
	*elfp = elf;
	return fd;
bad_fd:
	close(fd);
	free(name);
bad:
	m->bad = true;
	m->ps->nbad++;
	return -1;
out:
	close(fd);
	free(name);
	return -1;
}

/* ELF of a module, opening it on first use; NULL if it cannot be read. */
static Elf *module_elf(struct module *m)
{
	GElf_Addr bias;

	if (!m->elf_tried) {
		m->elf_tried = true;
		m->elf = dwfl_module_getelf(m->mod, &bias);
	}
	return m->elf;
}

static struct module *module_at(struct pw_proc_syms *ps, uint64_t addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(ps->dwfl, addr);
	void **ud = NULL;

	if (!mod)
		return NULL;
	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	return ud ? *ud : NULL;
}

/* Thread callbacks */

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct pw_proc_syms *ps = arg;

	if (*thread_argp)
		return 0;
	*thread_argp = ps;
	return ps->cur.tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct pw_proc_syms *ps = arg;

	if (tid != ps->cur.tid)
		return false;
	*thread_argp = ps;
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct pw_proc_syms *ps = arg;
	const struct pw_regs *r = ps->cur.regs;
	Dwarf_Word w[X86_64_NREGS] = {
		r->ax, r->dx,  r->cx,  r->bx,  r->si,  r->di,  r->bp,  r->sp, r->r8,
		r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->ip,
	};

	return dwfl_thread_state_registers(thread, 0, X86_64_NREGS, w);
}

static bool read_from_file(struct pw_proc_syms *ps, uint64_t addr, Dwarf_Word *out)
{
	struct module *m = module_at(ps, addr);
	const char *raw;
	size_t rawlen;
	uint64_t va;
	int i;

	if (!m || !module_elf(m))
		return false;
	va = addr - m->bias;
	for (i = 0; i < m->nsegs; i++) {
		const struct seg *s = &m->segs[i];

		/* Relocated data differs from the file: only read-only segments. */
		if (s->writable || va < s->vaddr || s->filesz < sizeof(*out) ||
		    va - s->vaddr > s->filesz - sizeof(*out))
			continue;
		raw = elf_rawfile(m->elf, &rawlen);
		if (!raw || s->offset + (va - s->vaddr) + sizeof(*out) > rawlen)
			return false;
		memcpy(out, raw + s->offset + (va - s->vaddr), sizeof(*out));
		return true;
	}
	return false;
}

/*
 * Past the copy, a parked thread's stack is still frozen: read it from the
 * live process, a page at a time (one pread serves a frame's loads).
 */
static bool read_from_proc(struct pw_proc_syms *ps, uint64_t addr, Dwarf_Word *out)
{
	struct cur_thread *c = &ps->cur;
	uint64_t page = addr & -PAGE_SZ;
	char path[64];

	if (!ps->pid || addr < c->stk_lo || addr >= c->stk_hi || c->stk_hi - addr < sizeof(*out))
		return false;
	if (ps->mem_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)ps->pid);
		ps->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ps->mem_fd < 0)
			return false;
	}
	if (addr - page > PAGE_SZ - sizeof(*out))
		return pread(ps->mem_fd, out, sizeof(*out), addr) == sizeof(*out);
	if (!c->page_valid || c->page_addr != page) {
		c->page_valid = pread(ps->mem_fd, c->page, PAGE_SZ, page) == PAGE_SZ;
		c->page_addr = page;
		if (!c->page_valid)
			return false;
	}
	memcpy(out, c->page + (addr - page), sizeof(*out));
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct pw_proc_syms *ps = arg;
	struct cur_thread *c = &ps->cur;

	if (addr >= c->base && c->len >= sizeof(*result) &&
	    addr - c->base <= c->len - sizeof(*result)) {
		memcpy(result, c->stack + (addr - c->base), sizeof(*result));
		return true;
	}
	return read_from_file(ps, addr, result) || read_from_proc(ps, addr, result);
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* Construction */

static bool is_exec(const struct pw_map *m)
{
	return m->perms[2] == 'x';
}

static bool same_file(const struct pw_map *a, const struct pw_map *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && !strcmp(a->path, b->path);
}

/*
 * Groups each loaded file's mappings (contiguous, ascending offsets, maybe
 * with an anonymous .bss between them) into one module. A second load of the
 * same file restarts at a lower offset and gets its own module.
 */
static int collect_modules(struct pw_proc_syms *ps)
{
	const struct pw_maps *maps = ps->maps;
	int i = 0, j, first, last, cap = 0;

	while (i < maps->n) {
		const struct pw_map *m0 = &maps->maps[i];
		uint64_t hi = m0->end;
		bool exec = is_exec(m0);
		struct module *m;

		if (m0->path[0] != '/') {
			i++;
			continue;
		}
		first = last = i;
		/* ld.so maps a file's whole span at once: its mappings are contiguous. */
		for (j = i + 1; j < maps->n && maps->maps[j].start == maps->maps[j - 1].end; j++) {
			const struct pw_map *mj = &maps->maps[j];

			if (!mj->path[0])
				continue;
			if (!same_file(mj, m0) || mj->offset < maps->maps[last].offset)
				break;
			hi = mj->end;
			exec |= is_exec(mj);
			last = j;
		}
		i = last + 1;
		if (!exec)
			continue;
		if (ps->nmods == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct module *nm = realloc(ps->mods, ncap * sizeof(*nm));

			if (!nm)
				return -ENOMEM;
			ps->mods = nm;
			cap = ncap;
		}
		m = &ps->mods[ps->nmods++];
		memset(m, 0, sizeof(*m));
		m->ps = ps;
		m->map0 = first;
		m->name = pw_intern(m0->path);
		/*
		 * The file's first page is normally mapped (offset 0) and
		 * p_vaddr == p_offset there; find_elf checks the guess.
		 */
		m->lo = m0->start - m0->offset;
		m->hi = hi;
		if (!m->name)
			return -ENOMEM;
	}
	return 0;
}

static int report_modules(struct pw_proc_syms *ps)
{
	int i;

	dwfl_report_begin(ps->dwfl);
	for (i = 0; i < ps->nmods; i++) {
		struct module *m = &ps->mods[i];
		void **ud = NULL;

		/* lo wraps below 0 only for a hostile offset. */
		m->mod = m->lo <= ps->maps->maps[m->map0].start
				 ? dwfl_report_module(ps->dwfl, m->name, m->lo, m->hi)
				 : NULL;
		if (!m->mod) {
			/* Overlaps another module: hostile or very unusual maps. */
			m->elf_tried = true;
			ps->nbad++;
			continue;
		}
		dwfl_module_info(m->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
		if (ud)
			*ud = m;
	}
	return dwfl_report_end(ps->dwfl, NULL, NULL) ? -EINVAL : 0;
}

static void unload_modules(struct module *mods, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(mods[i].segs);
		file_put(mods[i].file);
	}
	free(mods);
}

/*
 * After a refresh, a module mapped exactly as before keeps its shared symbols
 * and its verdict: a broken binary is not counted twice.
 */
static void carry_over(struct pw_proc_syms *ps, const struct module *old, int nold,
		       const struct pw_maps *old_maps)
{
	int i, j;

	for (i = 0; i < ps->nmods; i++) {
		struct module *m = &ps->mods[i];
		const struct pw_map *a = &ps->maps->maps[m->map0];

		for (j = 0; j < nold; j++) {
			const struct module *o = &old[j];
			const struct pw_map *b = &old_maps->maps[o->map0];

			if (o->name != m->name || o->lo != m->lo || o->hi != m->hi ||
			    a->start != b->start || !same_file(a, b))
				continue;
			m->bad = o->bad;
			m->file = o->file;
			if (m->file)
				m->file->refs++;
			break;
		}
	}
}

/* Builds the Dwfl and modules of ps->maps; ps->mods etc. are empty on entry. */
static int load(struct pw_proc_syms *ps, const struct module *old, int nold,
		const struct pw_maps *old_maps)
{
	int err;

	ps->dwfl = dwfl_begin(&ps->cbs);
	if (!ps->dwfl)
		return -ENOMEM;
	err = collect_modules(ps);
	if (err)
		return err;
	carry_over(ps, old, nold, old_maps);
	err = report_modules(ps);
	if (err)
		return err;
	/* Without it only frame 0 is known; symbolization still works. */
	ps->attached =
		dwfl_attach_state(ps->dwfl, ps->arch_elf, ps->pid ? ps->pid : 1, &thread_cbs, ps);
	return 0;
}

static bool maps_equal(const struct pw_maps *a, const struct pw_maps *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct pw_map *x = &a->maps[i], *y = &b->maps[i];

		if (x->start != y->start || x->end != y->end || x->offset != y->offset ||
		    strcmp(x->perms, y->perms) || !same_file(x, y))
			return false;
	}
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/*
 * A pc in no mapping we know: the process may have mapped code since we read
 * its maps (dlopen). Re-read them, at most once a second, so that threads
 * with garbage pcs cannot make every unwind pay for it. true if they changed
 * and everything was rebuilt (the per-pc cache is dropped, per-binary
 * symbols are kept).
 */
static bool refresh(struct pw_proc_syms *ps)
{
	struct pw_maps *maps, *old_maps = ps->maps;
	struct module *old = ps->mods;
	Dwfl *old_dwfl = ps->dwfl;
	bool old_attached = ps->attached;
	int nold = ps->nmods;
	uint64_t now = now_ns();

	if (!ps->pid || (ps->refreshed_ns && now - ps->refreshed_ns < 1000000000ULL))
		return false;
	ps->refreshed_ns = now;
	if (pw_maps__read(ps->pid, &maps))
		return false;
	if (!maps->n || maps_equal(maps, old_maps)) {
		pw_maps__free(maps);
		return false;
	}
	ps->maps = maps;
	ps->mods = NULL;
	ps->nmods = 0;
	ps->dwfl = NULL;
	ps->attached = false;
	if (load(ps, old, nold, old_maps)) {
		/* Keep what worked before. */
		if (ps->dwfl)
			dwfl_end(ps->dwfl);
		unload_modules(ps->mods, ps->nmods);
		pw_maps__free(maps);
		ps->maps = old_maps;
		ps->mods = old;
		ps->nmods = nold;
		ps->dwfl = old_dwfl;
		ps->attached = old_attached;
		return false;
	}
	dwfl_end(old_dwfl);
	unload_modules(old, nold);
	pw_maps__free(old_maps);
	fc_reset(&ps->cache);
	return true;
}

static struct pw_proc_syms *proc_syms_new(pid_t pid, struct pw_maps *maps, const char *root)
{
	struct pw_proc_syms *ps;
	int err = -ENOMEM;

	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		pw_maps__free(maps);
		errno = ENOMEM;
		return NULL;
	}
	ps->pid = pid;
	ps->maps = maps;
	ps->mem_fd = -1;
	ps->root = strdup(root ? root : "");
	if (!ps->root)
		goto fail;
	/* Debug files by build-id or debuglink: the host's, and a container's own. */
	if (asprintf(&ps->debuginfo_path, ":.debug:/usr/lib/debug%s%s%s", ps->root[0] ? ":" : "",
		     ps->root, ps->root[0] ? "/usr/lib/debug" : "") < 0) {
		ps->debuginfo_path = NULL;
		goto fail;
	}
	elf_version(EV_CURRENT);
	ps->cbs.find_elf = find_elf;
	ps->cbs.find_debuginfo = find_debuginfo;
	ps->cbs.debuginfo_path = &ps->debuginfo_path;
	memcpy(ps->arch_ehdr.e_ident, ELFMAG, SELFMAG);
	ps->arch_ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	ps->arch_ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	ps->arch_ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	ps->arch_ehdr.e_type = ET_EXEC;
	ps->arch_ehdr.e_machine = EM_X86_64;
	ps->arch_ehdr.e_version = EV_CURRENT;
	ps->arch_ehdr.e_ehsize = sizeof(Elf64_Ehdr);
	ps->arch_elf = elf_memory((char *)&ps->arch_ehdr, sizeof(ps->arch_ehdr));
	if (!ps->arch_elf)
		goto fail;
	err = load(ps, NULL, 0, NULL);
	if (err)
		goto fail;
	return ps;
fail:
	pw_proc_syms__free(ps);
	errno = -err;
	return NULL;
}

struct pw_proc_syms *pw_proc_syms__new(pid_t pid)
{
	struct pw_maps *maps;
	char root[32];
	int err;

	if (pid <= 0) {
		errno = EINVAL;
		return NULL;
	}
	err = pw_maps__read(pid, &maps);
	if (err) {
		errno = -err;
		return NULL;
	}
	/* A zombie (or an exiting process) has no mappings left. */
	if (!maps->n) {
		pw_maps__free(maps);
		errno = ESRCH;
		return NULL;
	}
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	return proc_syms_new(pid, maps, root);
}

struct pw_proc_syms *pw_proc_syms__new_from_maps(const struct pw_maps *maps, const char *root)
{
	struct pw_maps *copy;
	int err;

	if (!maps) {
		errno = EINVAL;
		return NULL;
	}
	err = pw_maps__dup(maps, &copy);
	if (err) {
		errno = -err;
		return NULL;
	}
	return proc_syms_new(0, copy, root);
}

void pw_proc_syms__free(struct pw_proc_syms *ps)
{
	if (!ps)
		return;
	if (ps->dwfl)
		dwfl_end(ps->dwfl);
	unload_modules(ps->mods, ps->nmods);
	/* After dwfl_end(): libdwfl's backend was opened from it. */
	if (ps->arch_elf)
		elf_end(ps->arch_elf);
	if (ps->mem_fd >= 0)
		close(ps->mem_fd);
	fc_free(&ps->cache);
	free(ps->debuginfo_path);
	free(ps->root);
	pw_maps__free(ps->maps);
	free(ps);
}

int pw_proc_syms__nbad_modules(const struct pw_proc_syms *ps)
{
	return ps ? ps->nbad : 0;
}

/* Unwinding */

static bool exec_mapped(const struct pw_proc_syms *ps, uint64_t addr)
{
	const struct pw_map *m = pw_maps__find(ps->maps, addr);

	return m && is_exec(m);
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct pw_proc_syms *ps = arg;
	struct cur_thread *c = &ps->cur;
	Dwarf_Word sp = 0;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(state, &pc, NULL))
		return DWARF_CB_ABORT;
	if (dwfl_frame_reg(state, DW_REG_RSP, &sp) != 0)
		sp = 0;
	if (c->n == 0) { /* frame 0: pcs[0] = regs->ip is already there */
		c->n = 1;
		c->last_sp = sp;
		return c->n < c->max ? DWARF_CB_OK : DWARF_CB_ABORT;
	}
	/*
	 * The frame-pointer fallback (libdw's x86-64 backend, for frames
	 * without CFI) trusts whatever rbp holds; code built without frame
	 * pointers leaves data there. A return address must point into code,
	 * and the stack only grows back up towards the callers.
	 */
	if (!pc || !exec_mapped(ps, pc - 1) || (sp && c->last_sp && sp <= c->last_sp)) {
		c->cut_unmapped = pc && !pw_maps__find(ps->maps, pc - 1);
		return DWARF_CB_ABORT;
	}
	c->pcs[c->n++] = pc;
	c->last_sp = sp;
	return c->n < c->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static void walk(struct pw_proc_syms *ps, pid_t tid, const struct pw_regs *regs, const void *stack,
		 size_t stack_len, uint64_t stack_base, uint64_t *pcs, int max_pcs)
{
	struct cur_thread *c = &ps->cur;
	const struct pw_map *sm;

	c->n = 0;
	c->cut_unmapped = false;
	if (!ps->attached || max_pcs < 2)
		return;
	c->tid = tid;
	c->regs = regs;
	c->stack = stack;
	c->len = stack_len;
	c->base = stack_base;
	c->pcs = pcs;
	c->max = max_pcs;
	c->last_sp = 0;
	c->page_valid = false;
	sm = pw_maps__find(ps->maps, regs->sp);
	c->stk_lo = sm ? sm->start : 0;
	c->stk_hi = sm ? sm->end : 0;
	/* Where it stops (outermost frame, no CFI, end of copy) is not an error. */
	dwfl_getthread_frames(ps->dwfl, tid, frame_cb, ps);
	c->regs = NULL;
	c->stack = NULL;
	c->pcs = NULL;
}

int pw_proc_syms__unwind(struct pw_proc_syms *ps, pid_t tid, const struct pw_regs *regs,
			 const void *stack, size_t stack_len, uint64_t stack_base, uint64_t *pcs,
			 int max_pcs, int *npcs)
{
	struct module *m;

	if (!ps || !regs || !pcs || !npcs || max_pcs < 1 || (!stack && stack_len))
		return -EINVAL;
	pcs[0] = regs->ip;
	walk(ps, tid, regs, stack, stack_len, stack_base, pcs, max_pcs);
	if ((ps->cur.cut_unmapped || !pw_maps__find(ps->maps, regs->ip)) && refresh(ps))
		walk(ps, tid, regs, stack, stack_len, stack_base, pcs, max_pcs);
	*npcs = ps->cur.n > 1 ? ps->cur.n : 1;
	if (*npcs > 1)
		return 0;
	if (!pw_maps__find(ps->maps, regs->ip))
		return -ENOENT;
	m = module_at(ps, regs->ip);
	if (m && !module_elf(m))
		return -ENOEXEC;
	return 0;
}

/* Symbolization */

/* Frames of one pc, innermost first; fr has room for MAX_INLINE. */
static int resolve(struct pw_proc_syms *ps, uint64_t pc, bool is_ret, struct pw_frame *fr)
{
	uint64_t a = is_ret && pc ? pc - 1 : pc;
	const struct pw_map *map = pw_maps__find(ps->maps, a);
	struct module *m;
	int n, i;

	memset(fr, 0, sizeof(*fr));
	fr->addr = pc;
	if (!map && refresh(ps))
		map = pw_maps__find(ps->maps, a);
	if (!map) {
		fr->offset = pc;
		return 1;
	}
	m = module_at(ps, a);
	if (!m || !module_elf(m)) {
		/* [vdso], JIT code, unreadable binaries: where, but not what. */
		fr->module = map->path[0] ? pw_intern(map->path) : NULL;
		fr->offset = pc - map->start + map->offset;
		return 1;
	}
	n = m->file ? file_symbols(m->file, pc - m->bias, is_ret, fr) : 1;
	for (i = 0; i < n; i++) {
		fr[i].addr = pc;
		fr[i].module = m->name;
		fr[i].offset = pc - m->bias;
	}
	return n;
}

int pw_proc_syms__symbolize(struct pw_proc_syms *ps, uint64_t pc, bool is_return_addr,
			    struct pw_frame *out, int max_out)
{
	struct pw_frame fr[MAX_INLINE];
	const struct pw_frame *src;
	int n, skip;

	if (!ps || !out || max_out < 1)
		return -EINVAL;
	src = fc_get(&ps->cache, pc, is_return_addr, &n);
	if (!src) {
		n = resolve(ps, pc, is_return_addr, fr);
		/* An unmapped pc may be mapped later: ask again then. */
		if (fr[0].module || !ps->pid)
			fc_put(&ps->cache, pc, is_return_addr, fr, n);
		src = fr;
	}
	/* Too little room: drop inner inlined calls, keep the real function. */
	skip = n > max_out ? n - max_out : 0;
	memcpy(out, src + skip, (n - skip) * sizeof(*out));
	return n - skip;
}
