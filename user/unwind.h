/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User stacks of parked threads: DWARF CFI unwinding of a copy of the top of
 * the stack (taken by the scan iterator, DESIGN.md §4) and symbolization of
 * the resulting pcs, with elfutils' libdwfl. One pw_proc_syms per process
 * caches its modules' ELF and CFI and the frames of every pc it symbolized;
 * symbol tables and DWARF are loaded once per binary and shared by all the
 * pw_proc_syms that map it (freed with the last one). Not thread-safe:
 * libdw is not.
 */
#ifndef PW_UNWIND_H
#define PW_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "parkwatch.h"
#include "pw.h"

struct pw_maps;
struct pw_proc_syms;

/*
 * Symbols of a live process. Binaries are opened lazily, when a pc first
 * needs them, through /proc/pid/root (containers) or, when that path does not
 * hold the mapped file (deleted, replaced, another mount namespace), through
 * /proc/pid/map_files. A pc in no known mapping re-reads the maps (dlopen),
 * at most once a second. NULL + errno on failure: ESRCH if pid is gone.
 */
struct pw_proc_syms *pw_proc_syms__new(pid_t pid);
/*
 * Same, from a recorded maps (copied: the caller keeps maps) whose paths are
 * resolved under root ("" or NULL: host paths). Without a live process,
 * memory outside the stack copy is read from the ELF files only.
 */
struct pw_proc_syms *pw_proc_syms__new_from_maps(const struct pw_maps *maps, const char *root);
void pw_proc_syms__free(struct pw_proc_syms *ps);

/*
 * Unwinds thread tid from its saved registers and stack_len bytes of its
 * stack copied from stack_base (== regs->sp). pcs[0] = regs->ip; pcs[i > 0]
 * are return addresses (symbolize them with is_return_addr = true). Frames
 * without CFI are walked through the rbp chain. Returns 0 with *npcs >= 1
 * even when unwinding stops early; -ENOENT when nothing past frame 0 was found
 * and ip is in no mapping, -ENOEXEC when nothing past frame 0 was found and the
 * binary mapped at ip could not be read (both still set pcs[0], *npcs = 1);
 * -EINVAL on bad arguments.
 */
int pw_proc_syms__unwind(struct pw_proc_syms *ps, pid_t tid, const struct pw_regs *regs,
			 const void *stack, size_t stack_len, uint64_t stack_base, uint64_t *pcs,
			 int max_pcs, int *npcs);

/*
 * Fills out[] with the frames of one pc, innermost first: more than one when
 * DWARF shows the pc inside inlined calls (inlined = true on all but the last,
 * the real function). A return address is looked up at pc - 1, the call
 * instruction. offset is the address in the ELF file (pc - load bias), or
 * the file offset when the ELF could not be read; for a pc in no mapping,
 * module is NULL and offset = pc. func comes from .symtab, the DWARF
 * subprogram, or .dynsym (dynsym_only = true) in that order; unknown stays
 * NULL / 0. When max_out is too small the innermost inlined frames are
 * dropped. Results are cached per pc. Returns frames written (>= 1), or
 * -EINVAL.
 */
int pw_proc_syms__symbolize(struct pw_proc_syms *ps, uint64_t pc, bool is_return_addr,
			    struct pw_frame *out, int max_out);

/* Mapped executable binaries found so far that could not be opened or read. */
int pw_proc_syms__nbad_modules(const struct pw_proc_syms *ps);

#endif /* PW_UNWIND_H */
