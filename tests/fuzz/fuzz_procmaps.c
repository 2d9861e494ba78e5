/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for pw_maps__parse(): /proc/PID/maps text is written by
 * the kernel, but its paths are chosen by whoever created the mapped files
 * (a path may end in " (deleted)", hold spaces or escaped bytes like "\012").
 * Whatever parses must satisfy what the unwinder relies on: sorted, start <
 * end, perms a 4-char string, paths C strings that never start with a space,
 * and find() returning the mapping that holds the address.
 *
 *   tests/fuzz/run.sh build 60 fuzz_procmaps
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "procmaps.h"

static void check_maps(const struct pw_maps *m)
{
	int i;

	if (m->n < 0 || m->nbad < 0 || (m->n && !m->maps))
		abort();
	for (i = 0; i < m->n; i++) {
		const struct pw_map *x = &m->maps[i];
		size_t plen;

		if (x->start >= x->end || strlen(x->perms) != 4 || !x->path)
			abort();
		if (i && m->maps[i - 1].start > x->start)
			abort();
		plen = strlen(x->path); /* ASan: the path is a terminated string */
		if (plen && x->path[0] == ' ')
			abort();
	}
}

static void check_find(const struct pw_maps *m, uint64_t addr)
{
	const struct pw_map *f = pw_maps__find(m, addr);
	int i;

	if (f) {
		if (f < m->maps || f >= m->maps + m->n || addr < f->start || addr >= f->end)
			abort();
		return;
	}
	/*
	 * NULL is allowed only when no mapping holds addr, or when hostile
	 * overlapping ranges hide it (documented: the one starting last wins).
	 */
	for (i = 0; i < m->n; i++)
		if (m->maps[i].start <= addr && addr < m->maps[i].end &&
		    (i + 1 == m->n || m->maps[i + 1].start > addr))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_maps *m = NULL, *d = NULL;
	int i;

	/* Not NUL-terminated on purpose: the parser takes a length. */
	if (pw_maps__parse((const char *)data, size, &m)) {
		if (m)
			abort();
		return 0;
	}
	check_maps(m);
	for (i = 0; i < m->n && i < 64; i++) {
		check_find(m, m->maps[i].start);
		check_find(m, m->maps[i].end - 1);
		check_find(m, m->maps[i].end);
		check_find(m, m->maps[i].start + (m->maps[i].end - m->maps[i].start) / 2);
	}
	check_find(m, 0);
	check_find(m, UINT64_MAX);
	if (size >= 8) {
		uint64_t a;

		memcpy(&a, data, 8);
		check_find(m, a);
	}
	if (pw_maps__dup(m, &d) == 0) {
		if (d->n != m->n || d->nbad != m->nbad)
			abort();
		for (i = 0; i < m->n; i++)
			if (d->maps[i].start != m->maps[i].start ||
			    strcmp(d->maps[i].path, m->maps[i].path))
				abort();
		pw_maps__free(d);
	}
	pw_maps__free(m);
	return 0;
}
