// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ksyms.h"
#include "pw.h"

struct ksym {
	uint64_t addr;
	const char *name;
};

struct pw_ksyms {
	struct ksym *syms;
	size_t n, cap;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int pw_ksyms__load(const char *path, struct pw_ksyms **out)
{
	struct pw_ksyms *k;
	char line[512], name[256], type;
	unsigned long long addr;
	FILE *f;

	f = fopen(path ? path : "/proc/kallsyms", "re");
	if (!f)
		return -errno;
	k = calloc(1, sizeof(*k));
	if (!k) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		/* Text symbols only; zero addresses mean kptr_restrict hid them. */
		if (!addr || (type != 't' && type != 'T' && type != 'w' && type != 'W'))
			continue;
		if (k->n == k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 65536;
			struct ksym *ns = realloc(k->syms, cap * sizeof(*ns));

			if (!ns) {
				fclose(f);
				pw_ksyms__free(k);
				return -ENOMEM;
			}
			k->syms = ns;
			k->cap = cap;
		}
		k->syms[k->n].addr = addr;
		k->syms[k->n].name = pw_intern(name);
		k->n++;
	}
	fclose(f);
	if (!k->n) {
		pw_ksyms__free(k);
		return -ENOENT;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	*out = k;
	return 0;
}

const char *pw_ksyms__name(const struct pw_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!k || !k->n || addr < k->syms[0].addr)
		return NULL;
	hi = k->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return k->syms[lo].name;
}

void pw_ksyms__free(struct pw_ksyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k);
}
