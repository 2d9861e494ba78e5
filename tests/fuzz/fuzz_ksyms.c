/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for pw_ksyms__load(): a kallsyms-format file. The real
 * /proc/kallsyms is the kernel's, but the loader takes any path (tests, a
 * copy from another host), and module symbols carry names chosen by module
 * authors. The input is written to a memfd and loaded through
 * /proc/self/fd/N, then addresses taken from the input are looked up.
 *
 *   tests/fuzz/run.sh build 60 fuzz_ksyms
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ksyms.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_ksyms *k = NULL;
	const char *name;
	uint64_t a;
	size_t i;

	if (fd < 0) {
		fd = memfd_create("fuzz_kallsyms", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (pw_ksyms__load(path, &k)) {
		if (k)
			abort();
		return 0;
	}
	if (!k)
		abort();
	for (i = 0; i + 8 <= size && i < 256; i += 8) {
		memcpy(&a, data + i, 8);
		name = pw_ksyms__name(k, a);
		if (name && strlen(name) > 255) /* names are read with %255s */
			abort();
	}
	pw_ksyms__name(k, UINT64_MAX);
	pw_ksyms__name(k, 1);
	pw_ksyms__free(k);
	return 0;
}
