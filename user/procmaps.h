/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/PID/maps as data. The parser is a pure function of a buffer so the
 * unwinder can be fed a recorded maps file, and so it can be fuzzed: the text
 * comes from another process (paths are chosen by whoever created the files).
 */
#ifndef PW_PROCMAPS_H
#define PW_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pw_map {
	uint64_t start, end; /* [start, end), start < end */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5]; /* "r-xp", NUL-terminated */
	bool deleted;  /* the kernel appended " (deleted)": stripped from path */
	char *path;    /* "" for anonymous mappings; "[stack]", "[vdso]", ... */
};

struct pw_maps {
	struct pw_map *maps; /* sorted by start */
	int n;
	int nbad; /* lines that did not parse and were skipped */
};

/* Parses len bytes of maps text (need not be NUL-terminated). 0 or -ENOMEM. */
int pw_maps__parse(const char *buf, size_t len, struct pw_maps **out);
/* Reads /proc/pid/maps. -ESRCH when the process is gone, else 0 or -errno. */
int pw_maps__read(pid_t pid, struct pw_maps **out);
/* Deep copy. 0 or -ENOMEM. */
int pw_maps__dup(const struct pw_maps *maps, struct pw_maps **out);
/*
 * The mapping containing addr, or NULL. If hostile input had overlapping
 * ranges (the kernel never produces them), the one starting last wins.
 */
const struct pw_map *pw_maps__find(const struct pw_maps *maps, uint64_t addr);
void pw_maps__free(struct pw_maps *maps);

#endif /* PW_PROCMAPS_H */
