/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <time.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include "util.h"

#define FNV_PRIME 0x100000001b3ULL

void pw_err(const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Callers sometimes pass strerror() text ending in a newline: keep it one line. */
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* One fprintf: a concurrent writer cannot split the line. */
	fprintf(stderr, "parkwatch: %s\n", msg);
	errno = saved;
}

uint64_t pw_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/*
 * Interned strings: open addressing, power-of-two capacity, at most half
 * full. Entries are never removed, so there are no tombstones.
 */
struct intern_slot {
	uint64_t hash;
	char *str;
};

static struct intern_slot *intern_tab;
static size_t intern_cap, intern_len;

static int intern_grow(void)
{
	size_t cap = intern_cap ? intern_cap * 2 : 1024, i;
	struct intern_slot *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < intern_cap; i++) {
		size_t j;

		if (!intern_tab[i].str)
			continue;
		for (j = intern_tab[i].hash & (cap - 1); tab[j].str; j = (j + 1) & (cap - 1))
			;
		tab[j] = intern_tab[i];
	}
	free(intern_tab);
	intern_tab = tab;
	intern_cap = cap;
	return 0;
}

const char *pw_intern(const char *s)
{
	uint64_t h;
	size_t j;
	char *dup;

	if (!s)
		return NULL;
	if ((intern_len + 1) * 2 > intern_cap && intern_grow())
		return NULL;
	h = pw_hash64(s, strlen(s), PW_HASH_SEED);
	for (j = h & (intern_cap - 1); intern_tab[j].str; j = (j + 1) & (intern_cap - 1))
		if (intern_tab[j].hash == h && !strcmp(intern_tab[j].str, s))
			return intern_tab[j].str;
	dup = strdup(s);
	if (!dup)
		return NULL;
	intern_tab[j].hash = h;
	intern_tab[j].str = dup;
	intern_len++;
	return dup;
}

static const char *const drop_names[] = {
	[PW_DROP_TASK_STORAGE] = "task_storage",
	[PW_DROP_FUTEX_MAP] = "futex_map",
	[PW_DROP_USER_STACK] = "user_stack",
	[PW_DROP_KERNEL_STACK] = "kernel_stack",
	[PW_DROP_SCAN_RECORD] = "scan_record",
	[PW_DROP_UNWIND] = "unwind",
	[PW_DROP_MODULE] = "module",
	[PW_DROP_PROC_GONE] = "proc_gone",
	[PW_DROP_SITE_TABLE] = "site_table",
	[PW_DROP_GO_PROC] = "go_proc",
	[PW_DROP_GOROUTINE] = "goroutine",
};

/* A drop appended to the enum without a name breaks the build; the unit test checks the rest. */
_Static_assert(sizeof(drop_names) / sizeof(drop_names[0]) == PW_DROP_MAX, "drop names");

const char *pw_drop_name(enum pw_drop d)
{
	if ((unsigned)d >= PW_DROP_MAX || !drop_names[d])
		return "unknown";
	return drop_names[d];
}

int pw_parse_int(const char *s, long min, long max, long *out)
{
	const char *p = s;
	char *end;
	long v;

	if (!s)
		return -EINVAL;
	/* strtol would also take leading spaces and '+': a typo should not parse. */
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int pw_parse_duration(const char *s, double *out_s)
{
	double v = 0, scale = 1, unit;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/*
	 * Digits are accumulated by hand rather than with strtod(): strtod follows
	 * LC_NUMERIC (a TUI calling setlocale() would make "1.5s" fail on a
	 * de_DE host) and accepts hex, exponents, "inf" and leading spaces.
	 */
	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9') {
			scale /= 10;
			v += (*p++ - '0') * scale;
		}
	}
	if (!*p || !strcmp(p, "s"))
		unit = 1;
	else if (!strcmp(p, "ms"))
		unit = 1e-3;
	else if (!strcmp(p, "m"))
		unit = 60;
	else if (!strcmp(p, "h"))
		unit = 3600;
	else
		return -EINVAL;
	v *= unit;
	if (!isfinite(v) || v > PW_DURATION_MAX_S)
		return -ERANGE;
	*out_s = v;
	return 0;
}

void pw_format_age(double secs, bool lower_bound, char *buf, size_t len)
{
	/* "≥ " spelled in UTF-8 bytes: independent of the compiler's execution charset. */
	const char *pfx = lower_bound ? "\xe2\x89\xa5 " : "";
	unsigned long long ms, s;

	if (!len)
		return;
	if (isnan(secs)) {
		snprintf(buf, len, "%s?", pfx);
		return;
	}
	if (secs < 0)
		secs = 0;
	/* Clamp so the conversion below is defined: 1e12 s is ~31700 years. */
	if (secs > 1e12)
		secs = 1e12;
	/* +1 ns absorbs binary representation error (1.005 * 1000 == 1004.9999...). */
	ms = (unsigned long long)floor(secs * 1000 + 1e-6);
	s = ms / 1000;
	if (s < 1)
		snprintf(buf, len, "%s%llums", pfx, ms);
	else if (s < 60)
		snprintf(buf, len, "%s%llus", pfx, s);
	else if (s < 3600)
		snprintf(buf, len, "%s%llum%02llus", pfx, s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%s%lluh%02llum", pfx, s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%s%llud%02lluh", pfx, s / 86400, s % 86400 / 3600);
}

size_t pw_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80) {
		len = 1;
		c = p[0];
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp)
		*cp = c;
	return len;
}

double pw_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int pw_config_hz(const char *path)
{
	char line[256];
	gzFile f;
	long hz = 0;

	f = gzopen(path, "r");
	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line))) {
		char *end;

		if (strncmp(line, "CONFIG_HZ=", 10))
			continue;
		hz = strtol(line + 10, &end, 10);
		if (end == line + 10 || (*end && *end != '\n') || hz < 1 || hz > 100000)
			hz = 0;
		break;
	}
	gzclose(f);
	return (int)hz;
}

int pw_kernel_hz(void)
{
	struct utsname u;
	char path[128 + sizeof(u.release)];
	int hz = 0;

	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		hz = pw_config_hz(path);
	}
	return hz ? hz : pw_config_hz("/proc/config.gz");
}

int pw_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}
