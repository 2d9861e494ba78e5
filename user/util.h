/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Small helpers every module uses: strict parsers for command-line values,
 * a stable hash for site ids, age formatting and the one error printer.
 * pw_intern() and pw_drop_name() are declared in pw.h.
 */
#ifndef PW_UTIL_H
#define PW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pw.h"

/* FNV-1a 64 offset basis: the seed that makes pw_hash64() plain FNV-1a. */
#define PW_HASH_SEED 0xcbf29ce484222325ULL

/* Longest duration pw_parse_duration() accepts: 100 years, far below u64 ns overflow. */
#define PW_DURATION_MAX_S (100.0 * 365 * 24 * 3600)

/* Room for any pw_format_age() output, "≥ " prefix and NUL included. */
#define PW_AGE_BUFSZ 32

/* Prints "parkwatch: <msg>\n" on stderr as one write; preserves errno. */
void pw_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Strict duration: digits with an optional fraction ("1.5"), then an optional
 * unit "ms", "s", "m" or "h"; a bare number is seconds. No sign, no spaces, no
 * exponent. Returns 0, -EINVAL (malformed) or -ERANGE (> PW_DURATION_MAX_S);
 * *out_s is only written on success.
 */
int pw_parse_duration(const char *s, double *out_s);

/*
 * Strict base-10 integer in [min, max]: optional '-', digits, nothing else.
 * Returns 0, -EINVAL (malformed) or -ERANGE; *out only written on success.
 */
int pw_parse_int(const char *s, long min, long max, long *out);

/*
 * FNV-1a 64 over len bytes, starting from seed (PW_HASH_SEED for a fresh
 * hash). Chaining h = pw_hash64(b, n, pw_hash64(a, m, seed)) equals hashing a
 * then b, so ids are stable across runs; integers are hashed in host byte order.
 */
uint64_t pw_hash64(const void *data, size_t len, uint64_t seed);

/*
 * Decodes the well-formed UTF-8 sequence at p (at most n bytes, n >= 1): its
 * length, and its code point in *cp when cp is not NULL; 0 when malformed.
 * Overlong forms, surrogates and code points past U+10FFFF are malformed: JSON
 * parsers and Prometheus' (Go's utf8.ValidString) reject them, a terminal may not.
 */
size_t pw_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* CLOCK_MONOTONIC in seconds. */
double pw_mono_s(void);

/*
 * Human age: "850ms", "41s", "2m05s", "2h13m", "3d04h"; prefixed by "≥ " when
 * the age is a lower bound. Truncates (never rounds up) so an age is never
 * overstated. Negative ages print as "0ms", NaN as "?".
 */
void pw_format_age(double secs, bool lower_bound, char *buf, size_t len);

/*
 * CONFIG_HZ from a kernel config file (plain or gzip), or 0 when it is missing or says nothing
 * sane. pw_kernel_hz(): the running kernel's, from /boot/config-$(uname -r) or /proc/config.gz.
 */
int pw_config_hz(const char *path);
int pw_kernel_hz(void);

/* Writes all of buf to fd, retrying short writes and EINTR: 0 or -errno. */
int pw_write_all(int fd, const void *buf, size_t len);

#endif /* PW_UTIL_H */
