/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* parkwatch export: the Prometheus textfile exporter (a daemon, or one file with --once). */
#ifndef PW_EXPORT_H
#define PW_EXPORT_H

#include <stddef.h>

/*
 * Replaces DIR/name with buf[0..len) atomically: a temp file with a random
 * name in DIR (O_CREAT|O_EXCL|O_NOFOLLOW, so nothing planted there is
 * followed), fsync, renameat over name (which replaces a symlink rather than
 * following it), fsync of DIR. Readers see the old file or the new one, never
 * a part. Returns 0 or -errno; on failure the old file is untouched and no
 * temp file is left behind.
 */
int pw_export_write_file(const char *dir, const char *name, const void *buf, size_t len);

int pw_cmd_export(int argc, char **argv);

#endif /* PW_EXPORT_H */
