/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel symbols from /proc/kallsyms, for the kernel half of a wait site. */
#ifndef PW_KSYMS_H
#define PW_KSYMS_H

#include <stdint.h>

struct pw_ksyms;

/* Loads the symbols of a kallsyms-format file (NULL: /proc/kallsyms). */
int pw_ksyms__load(const char *path, struct pw_ksyms **out);
/* Interned name of the function containing addr, NULL if unknown. */
const char *pw_ksyms__name(const struct pw_ksyms *k, uint64_t addr);
void pw_ksyms__free(struct pw_ksyms *k);

#endif /* PW_KSYMS_H */
