// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel symbols, read lazily and stored compactly. /proc/kallsyms has ~122k text symbols
 * (5.4 MB of text); interning all of them up front cost ~15 MB of fresh heap (a hash slot
 * and a strdup per name), while a host's parked threads wait in a few dozen kernel functions.
 * So the file is read on the first lookup, names go into one blob and only the names actually
 * returned are interned. Half the text symbols of a 6.x kernel are "__pfx_NAME" (the padding
 * in front of NAME, CONFIG_FUNCTION_PADDING_ALIGNMENT): they keep their address but borrow
 * NAME's bytes, which halves the blob (~1.5 MB). Fresh pages are what a snapshot pays for on
 * these VMs (~40 us per first touch of a 4 KiB page, measured): memory here is also time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ksyms.h"
#include "pw.h"

#define KSYM_NAME_MAX 255 /* longer names are cut, as the old "%255s" reader did */
#define PFX "__pfx_"
#define PFX_LEN (sizeof(PFX) - 1)
#define NAME_PFX (1U << 31)		 /* name is PFX + the name at (name & ~NAME_PFX) */
#define NAME_PENDING (NAME_PFX - 1)	 /* a PFX symbol waiting for the next line */
#define NAMES_MAX ((size_t)NAME_PFX - 1) /* blob offsets below NAME_PENDING */

/* 12 bytes, not 16: x86-64 reads the unaligned address for free. */
struct ksym {
	uint64_t addr;
	uint32_t name; /* offset of the NUL-terminated name in the blob, with NAME_PFX */
} __attribute__((packed));

/* A name handed out: a few dozen symbols on a typical host, interned once each. */
struct seen {
	uint32_t idx1; /* symbol index + 1; 0: empty slot */
	const char *name;
};

struct pw_ksyms {
	int fd; /* open from load to the first lookup; -1 after */
	bool loaded;
	struct ksym *syms;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	struct seen *seen; /* open addressing, seen_cap a power of 2 */
	size_t seen_n, seen_cap;
	size_t hint_syms, hint_names; /* first allocations, from the file's size if it has one */
	/* The last "__pfx_NAME" read, until the next symbol says whether it is NAME. */
	bool pending;
	size_t pend_idx, pend_len;
	char pend[KSYM_NAME_MAX];
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	uint32_t xn = x->name & ~NAME_PFX, yn = y->name & ~NAME_PFX;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/*
	 * Ties keep the file's order (blob offsets grow with it); a PFX symbol comes just
	 * before the one it borrows from.
	 */
	if (xn != yn)
		return xn < yn ? -1 : 1;
	return (y->name & NAME_PFX) ? 1 : (x->name & NAME_PFX) ? -1 : 0;
}

int pw_ksyms__load(const char *path, struct pw_ksyms **out)
{
	struct pw_ksyms *k;
	int fd;

	*out = NULL;
	/*
	 * Opened now, read later: a missing file fails here, and kallsyms decides whether to show
	 * addresses by the credentials of the opener, which are ours now.
	 */
	fd = open(path ? path : "/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	k->fd = fd;
	*out = k;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Appends a name (len bytes, pre-cut) made of prefix + s; *off is where it went. */
static int put_name(struct pw_ksyms *k, const char *prefix, const char *s, size_t len,
		    uint32_t *off)
{
	size_t plen = strlen(prefix), need = plen + len + 1;

	if (k->names_len + need > NAMES_MAX)
		return -E2BIG;
	if (k->names_cap - k->names_len < need) {
		size_t cap = k->names_cap ? k->names_cap * 2 : k->hint_names;
		char *nb;

		while (cap - k->names_len < need)
			cap *= 2;
		nb = realloc(k->names, cap);
		if (!nb)
			return -ENOMEM;
		k->names = nb;
		k->names_cap = cap;
	}
	*off = k->names_len;
	memcpy(k->names + k->names_len, prefix, plen);
	memcpy(k->names + k->names_len + plen, s, len);
	k->names[k->names_len + plen + len] = 0;
	k->names_len += need;
	return 0;
}

/* The pending PFX symbol was not followed by its function: it keeps a name of its own. */
static int flush_pending(struct pw_ksyms *k)
{
	uint32_t off;
	int err;

	if (!k->pending)
		return 0;
	k->pending = false;
	err = put_name(k, PFX, k->pend, k->pend_len, &off);
	if (!err)
		k->syms[k->pend_idx].name = off;
	return err;
}

static int add_sym(struct pw_ksyms *k, uint64_t addr, const char *name, size_t len)
{
	struct ksym *s;
	uint32_t off;
	int err;

	if (k->n >= UINT32_MAX)
		return -E2BIG;
	if (k->n == k->cap) {
		/* Generous: pages never written are never faulted in. */
		size_t cap = k->cap ? k->cap * 2 : k->hint_syms;
		struct ksym *ns = realloc(k->syms, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		k->syms = ns;
		k->cap = cap;
	}
	s = &k->syms[k->n];
	s->addr = addr;
	if (len > PFX_LEN && !memcmp(name, PFX, PFX_LEN)) {
		err = flush_pending(k);
		if (err)
			return err;
		s->name = NAME_PENDING;
		k->pending = true;
		k->pend_idx = k->n++;
		k->pend_len = len - PFX_LEN;
		memcpy(k->pend, name + PFX_LEN, k->pend_len);
		return 0;
	}
	/*
	 * A pending PFX symbol that this one does not follow gets its name first: blob offsets
	 * then grow in file order, which the sort uses to keep ties in the file's order.
	 */
	if (k->pending && (k->pend_len != len || memcmp(k->pend, name, len))) {
		err = flush_pending(k);
		if (err)
			return err;
	}
	err = put_name(k, "", name, len, &off);
	if (err)
		return err;
	s->name = off;
	if (k->pending) {
		k->syms[k->pend_idx].name = off | NAME_PFX;
		k->pending = false;
	}
	k->n++;
	return 0;
}

/* One line "ADDR TYPE NAME[\t[module]]" without its newline; text symbols are kept. */
static int add_line(struct pw_ksyms *k, const char *p, const char *end)
{
	const char *name;
	uint64_t addr = 0;
	size_t len;
	int digits = 0, v;
	char type;

	while (p < end && is_space(*p))
		p++;
	for (; p < end && (v = hexval(*p)) >= 0; p++, digits++)
		addr = addr << 4 | v;
	if (!digits || digits > 16 || p == end || !is_space(*p))
		return 0;
	while (p < end && is_space(*p))
		p++;
	if (p == end)
		return 0;
	type = *p++;
	if (p == end || !is_space(*p))
		return 0;
	while (p < end && is_space(*p))
		p++;
	for (name = p; p < end && !is_space(*p); p++)
		;
	len = p - name;
	/* Text symbols only; zero addresses mean kptr_restrict hid them. */
	if (!len || !addr || (type != 't' && type != 'T' && type != 'w' && type != 'W'))
		return 0;
	return add_sym(k, addr, name, len > KSYM_NAME_MAX ? KSYM_NAME_MAX : len);
}

/* Reads the whole file in 64 KiB chunks; lines longer than that are skipped. */
static int read_all(struct pw_ksyms *k)
{
	enum { BUF = 64 << 10 };
	char *buf = malloc(BUF);
	size_t len = 0, off;
	bool skipping = false, sorted = true;
	struct stat st;
	ssize_t r;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	/* /proc/kallsyms has no size: room for ~262k symbols and 4 MB of names. */
	k->hint_syms = 1 << 18;
	k->hint_names = 4 << 20;
	if (fstat(k->fd, &st) == 0 && st.st_size > 0 && st.st_size < (4 << 20)) {
		k->hint_syms = st.st_size / 6 + 1; /* "1 t x\n": the shortest useful line */
		k->hint_names = st.st_size + 1;
	}
	for (;;) {
		r = read(k->fd, buf + len, BUF - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		len += r;
		for (off = 0;;) {
			char *nl = memchr(buf + off, '\n', len - off);

			if (!nl && r > 0)
				break;
			if (!nl)
				nl = buf + len; /* the last line may lack its newline */
			if (!skipping && nl > buf + off)
				err = add_line(k, buf + off, nl);
			skipping = false;
			off = nl - buf + (nl < buf + len);
			if (err || off >= len)
				break;
		}
		if (err || r == 0)
			break;
		memmove(buf, buf + off, len - off);
		len -= off;
		if (len == BUF) { /* a line longer than the buffer: drop it */
			len = 0;
			skipping = true;
		}
	}
	free(buf);
	if (!err)
		err = flush_pending(k);
	if (err)
		return err;
	for (off = 1; off < k->n && sorted; off++)
		sorted = k->syms[off - 1].addr <= k->syms[off].addr;
	/* /proc/kallsyms is sorted by address already; other files need not be. */
	if (!sorted)
		qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	return 0;
}

static void ensure_loaded(struct pw_ksyms *k)
{
	if (k->loaded)
		return;
	k->loaded = true;
	if (read_all(k)) {
		/* Degraded, not wrong: kernel frames stay addresses. */
		free(k->syms);
		free(k->names);
		k->syms = NULL;
		k->names = NULL;
		k->n = 0;
	}
	close(k->fd);
	k->fd = -1;
}

static size_t seen_pos(const struct pw_ksyms *k, uint32_t idx1)
{
	size_t i = (idx1 * 0x9E3779B1u) & (k->seen_cap - 1);

	while (k->seen[i].idx1 && k->seen[i].idx1 != idx1)
		i = (i + 1) & (k->seen_cap - 1);
	return i;
}

/* The interned name of symbol idx, interned once. */
static const char *sym_name(struct pw_ksyms *k, size_t idx)
{
	char buf[PFX_LEN + KSYM_NAME_MAX + 1];
	uint32_t idx1 = idx + 1, name = k->syms[idx].name;
	const char *s;
	size_t i;

	if (k->seen_cap) {
		i = seen_pos(k, idx1);
		if (k->seen[i].idx1)
			return k->seen[i].name;
	}
	if (name & NAME_PFX) {
		snprintf(buf, sizeof(buf), PFX "%s", k->names + (name & ~NAME_PFX));
		s = pw_intern(buf);
	} else {
		s = pw_intern(k->names + name);
	}
	if (!s)
		return NULL;
	if ((k->seen_n + 1) * 2 > k->seen_cap) {
		size_t cap = k->seen_cap ? k->seen_cap * 2 : 64, old = k->seen_cap;
		struct seen *prev = k->seen;

		k->seen = calloc(cap, sizeof(*k->seen));
		if (!k->seen) {
			k->seen = prev; /* uncached, still right */
			return s;
		}
		k->seen_cap = cap;
		for (i = 0; i < old; i++)
			if (prev[i].idx1)
				k->seen[seen_pos(k, prev[i].idx1)] = prev[i];
		free(prev);
	}
	i = seen_pos(k, idx1);
	k->seen[i].idx1 = idx1;
	k->seen[i].name = s;
	k->seen_n++;
	return s;
}

const char *pw_ksyms__name(struct pw_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!k)
		return NULL;
	ensure_loaded(k);
	if (!k->n || addr < k->syms[0].addr)
		return NULL;
	hi = k->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return sym_name(k, lo);
}

size_t pw_ksyms__count(const struct pw_ksyms *k)
{
	return k ? k->n : 0;
}

void pw_ksyms__free(struct pw_ksyms *k)
{
	if (!k)
		return;
	if (k->fd >= 0)
		close(k->fd);
	free(k->syms);
	free(k->names);
	free(k->seen);
	free(k);
}
