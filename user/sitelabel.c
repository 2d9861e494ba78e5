/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdio.h>
#include <string.h>
#include "sitelabel.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* "<name>.so..." or "<name>-<digit>..." (glibc <= 2.33 named files libc-2.31.so). */
static bool is_lib(const char *base, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(base, name, n))
		return false;
	base += n;
	/* A digit after '-': "libc-client.so" (UW IMAP) is somebody's program code. */
	return starts_with(base, ".so") || (base[0] == '-' && base[1] >= '0' && base[1] <= '9');
}

bool pw_is_c_runtime_module(const char *path)
{
	const char *b;

	if (!path)
		return false;
	b = base_name(path);
	/*
	 * librt is glibc too (aio_suspend, mq_timedreceive lived there before
	 * 2.34). libstdc++/libgcc_s are not: their frames name the C++ API the
	 * program called, which is more useful than skipping to its caller.
	 */
	return is_lib(b, "libc") || is_lib(b, "libpthread") || is_lib(b, "librt") ||
	       is_lib(b, "ld") || starts_with(b, "ld-linux") || starts_with(b, "ld-musl-") ||
	       starts_with(b, "libc.musl-");
}

bool pw_is_go_runtime_func(const char *func)
{
	const char *slash, *dot;

	if (!func)
		return false;
	if (starts_with(func, "runtime.") || starts_with(func, "runtime/internal/") ||
	    starts_with(func, "internal/runtime/"))
		return true;
	/* Package path ends at the last '/', the package name at the next '.'. */
	slash = strrchr(func, '/');
	dot = strchr(slash ? slash : func, '.');
	return dot && starts_with(dot + 1, "runtime_");
}

int pw_site_label_index(const struct pw_frame *frames, int n)
{
	int i;

	for (i = 0; frames && i < n; i++) {
		if (pw_is_c_runtime_module(frames[i].module) ||
		    pw_is_go_runtime_func(frames[i].func))
			continue;
		return i;
	}
	return -1;
}

/* snprintf may cut a multi-byte character in half: drop the partial tail. */
static void trim_utf8_tail(char *buf)
{
	size_t n = strlen(buf), i = n, need;
	unsigned char lead;

	/* Walk back over continuation bytes to the last lead byte. */
	while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = buf[i - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < need)
		buf[i - 1] = '\0';
}

void pw_site_label_format(const struct pw_frame *f, char *buf, size_t len)
{
	int w;

	if (!len)
		return;
	if (f->func && f->dynsym_only)
		/* Nearest exported symbol of a stripped binary: the offset shows it is a guess. */
		w = snprintf(buf, len, "%s+0x%llx", f->func, (unsigned long long)f->func_off);
	else if (f->func && f->file && f->line > 0)
		w = snprintf(buf, len, "%s (%s:%d)", f->func, base_name(f->file), f->line);
	else if (f->func)
		w = snprintf(buf, len, "%s", f->func);
	else if (f->module)
		w = snprintf(buf, len, "%s+0x%llx", base_name(f->module),
			     (unsigned long long)f->offset);
	else
		w = snprintf(buf, len, "0x%llx", (unsigned long long)f->addr);
	if (w >= 0 && (size_t)w >= len)
		trim_utf8_tail(buf);
}
