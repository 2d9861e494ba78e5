/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The human label of a wait site: the first frame, innermost first, that is
 * the program's own code rather than the machinery every wait goes through.
 */
#ifndef PW_SITELABEL_H
#define PW_SITELABEL_H

#include <stdbool.h>
#include <stddef.h>
#include "pw.h"

/*
 * True for glibc's libraries (libc, libpthread, librt, the dynamic loader,
 * any version naming) and musl's, decided by the path's basename.
 */
bool pw_is_c_runtime_module(const char *path);

/*
 * True for Go runtime functions: "runtime.*", the runtime's internal packages
 * ("runtime/internal/...", "internal/runtime/...") and the runtime's
 * go:linkname hooks exported into other packages ("sync.runtime_Semacquire",
 * "internal/poll.runtime_pollWait"), which are runtime code under a foreign
 * package name.
 */
bool pw_is_go_runtime_func(const char *func);

/*
 * Index of the first frame (frames[0] is the innermost) outside the C
 * library, libpthread, the dynamic loader and the Go runtime, or -1 if there
 * is none. libstdc++, libgcc_s and other libraries count as the program's: a
 * wait in std::condition_variable is labelled there. Frames without a module
 * are unknown code, not a library, so they can be the label (by address).
 */
int pw_site_label_index(const struct pw_frame *frames, int n);

/*
 * "fetch_worker (leaky.c:88)" (file basename), "fetch_worker" without line,
 * "fetch_worker+0x1a" when the name is only the nearest dynamic symbol,
 * "leaky+0x1234" (module basename, module-relative offset) without a name,
 * "0x7f12..." without a module. Truncated to len at a UTF-8 boundary.
 */
void pw_site_label_format(const struct pw_frame *f, char *buf, size_t len);

#endif /* PW_SITELABEL_H */
