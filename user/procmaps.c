/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procmaps.h"

#define DELETED_SUFFIX " (deleted)"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Strict: at least one digit, no sign, fails instead of wrapping past 64 bits. */
static bool parse_hex(const char **pp, const char *e, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int d;

	for (; p < e && (d = hexval(*p)) >= 0; p++) {
		if (v >> 60)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (p == *pp)
		return false;
	*pp = p;
	*out = v;
	return true;
}

static bool parse_dec(const char **pp, const char *e, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		unsigned d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (p == *pp)
		return false;
	*pp = p;
	*out = v;
	return true;
}

static bool expect(const char **pp, const char *e, char c)
{
	if (*pp >= e || **pp != c)
		return false;
	(*pp)++;
	return true;
}

/* One line without its '\n'. false: not a maps line (m is left untouched). */
static bool parse_line(const char *p, const char *e, struct pw_map *m, const char **path,
		       size_t *path_len)
{
	uint64_t start, end, off, maj, min, ino;
	const char *perms;

	if (!parse_hex(&p, e, &start) || !expect(&p, e, '-') || !parse_hex(&p, e, &end) ||
	    !expect(&p, e, ' ') || start >= end)
		return false;
	if (e - p < 5 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's') || p[4] != ' ')
		return false;
	perms = p;
	p += 5;
	if (!parse_hex(&p, e, &off) || !expect(&p, e, ' ') || !parse_hex(&p, e, &maj) ||
	    !expect(&p, e, ':') || !parse_hex(&p, e, &min) || !expect(&p, e, ' ') ||
	    !parse_dec(&p, e, &ino) || maj > UINT_MAX || min > UINT_MAX)
		return false;
	if (p < e && *p != ' ')
		return false;
	/* The kernel pads the path into a column; a path never starts with a space. */
	while (p < e && *p == ' ')
		p++;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->inode = ino;
	m->dev_major = maj;
	m->dev_minor = min;
	memcpy(m->perms, perms, 4);
	m->perms[4] = '\0';
	*path = p;
	/* An embedded NUL ends the path: it must stay a C string. */
	*path_len = strnlen(p, e - p);
	return true;
}

static int cmp_map(const void *a, const void *b)
{
	const struct pw_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int pw_maps__parse(const char *buf, size_t len, struct pw_maps **out)
{
	const char *p = buf, *e = buf + len;
	struct pw_maps *maps;
	bool sorted = true;
	int cap = 0;

	*out = NULL;
	maps = calloc(1, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	while (p < e) {
		const char *nl = memchr(p, '\n', e - p), *le = nl ? nl : e, *path;
		struct pw_map m = {};
		size_t plen;

		if (le == p) { /* blank line: not data, not garbage either */
			p = le + 1;
			continue;
		}
		if (!parse_line(p, le, &m, &path, &plen)) {
			maps->nbad++;
			p = le + 1;
			continue;
		}
		if (plen >= sizeof(DELETED_SUFFIX) - 1 &&
		    !memcmp(path + plen - (sizeof(DELETED_SUFFIX) - 1), DELETED_SUFFIX,
			    sizeof(DELETED_SUFFIX) - 1)) {
			plen -= sizeof(DELETED_SUFFIX) - 1;
			m.deleted = true;
		}
		if (maps->n == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct pw_map *nm;

			if (ncap < cap || ncap > INT_MAX / 2)
				goto nomem;
			nm = realloc(maps->maps, ncap * sizeof(*nm));
			if (!nm)
				goto nomem;
			maps->maps = nm;
			cap = ncap;
		}
		m.path = strndup(path, plen);
		if (!m.path)
			goto nomem;
		if (maps->n && maps->maps[maps->n - 1].start > m.start)
			sorted = false;
		maps->maps[maps->n++] = m;
		p = le + 1;
	}
	/* The kernel emits sorted lines; only hand-made input pays for the sort. */
	if (!sorted)
		qsort(maps->maps, maps->n, sizeof(*maps->maps), cmp_map);
	*out = maps;
	return 0;
nomem:
	pw_maps__free(maps);
	return -ENOMEM;
}

int pw_maps__read(pid_t pid, struct pw_maps **out)
{
	size_t len = 0, cap = 64 * 1024;
	char path[64], *buf, *nb;
	ssize_t n;
	int fd, err;

	*out = NULL;
	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (len == cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* The process exited between open() and read(). */
			err = errno == ENOENT ? -ESRCH : -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	err = pw_maps__parse(buf, len, out);
out:
	free(buf);
	close(fd);
	return err;
}

int pw_maps__dup(const struct pw_maps *maps, struct pw_maps **out)
{
	struct pw_maps *c;
	int i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbad = maps->nbad;
	if (maps->n) {
		c->maps = calloc(maps->n, sizeof(*c->maps));
		if (!c->maps)
			goto nomem;
	}
	for (i = 0; i < maps->n; i++) {
		c->maps[i] = maps->maps[i];
		c->maps[i].path = strdup(maps->maps[i].path ? maps->maps[i].path : "");
		if (!c->maps[i].path)
			goto nomem;
		c->n++;
	}
	*out = c;
	return 0;
nomem:
	pw_maps__free(c);
	return -ENOMEM;
}

const struct pw_map *pw_maps__find(const struct pw_maps *maps, uint64_t addr)
{
	int lo = 0, hi, mid;

	if (!maps || !maps->n)
		return NULL;
	/* Last mapping with start <= addr. */
	hi = maps->n;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (maps->maps[mid].start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (maps->maps[lo].start <= addr && addr < maps->maps[lo].end)
		return &maps->maps[lo];
	return NULL;
}

void pw_maps__free(struct pw_maps *maps)
{
	int i;

	if (!maps)
		return;
	for (i = 0; i < maps->n; i++)
		free(maps->maps[i].path);
	free(maps->maps);
	free(maps);
}
