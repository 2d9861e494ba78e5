/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel symbols from /proc/kallsyms, for the kernel half of a wait site. */
#ifndef PW_KSYMS_H
#define PW_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct pw_ksyms;

/*
 * Opens a kallsyms-format file (NULL: /proc/kallsyms); 0 or -errno. The file is read on the
 * first lookup, not here: a scan that finds no long-parked thread never pays for it.
 */
int pw_ksyms__load(const char *path, struct pw_ksyms **out);
/*
 * Interned name of the function containing addr, NULL if unknown (or the file holds no text
 * symbols: kptr_restrict shows them as zeros). Not thread-safe: the first call reads the file.
 */
const char *pw_ksyms__name(struct pw_ksyms *k, uint64_t addr);
/* Text symbols read so far (0 before the first lookup); for tests. */
size_t pw_ksyms__count(const struct pw_ksyms *k);
void pw_ksyms__free(struct pw_ksyms *k);

#endif /* PW_KSYMS_H */
