/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for ELF and DWARF handling (user/unwind.c over libelf,
 * libdw and libdwfl): parkwatch runs as root and opens the binaries of every
 * process it scans, and anyone can run a binary they crafted. The fuzzed
 * bytes are a binary, the maps that place it, a thread's registers and a
 * copy of its stack; the code under test builds a pw_proc_syms from the maps
 * (pw_proc_syms__new_from_maps, the binary under a temp root), unwinds the
 * stack and symbolizes every pc it found plus a few chosen by the input.
 *
 * Input layout (all little-endian; short inputs are zero-padded):
 *   u16 maps_len, u16 stack_len (<= 8192), u8 flags, 3 bytes reserved
 *   maps_len bytes of /proc/PID/maps text: "/f" is the fuzzed binary
 *   144 bytes of struct pw_regs
 *   stack_len bytes of stack, copied from regs.sp
 *   the rest: the binary, written to ROOT/f
 * ROOT/usr is a symlink to the host's /usr, so the recorded maps of
 * tests/unit/fixtures find the same libc and ld.so the recordings were made
 * with (tests/unit/fixtures/libc.buildid): the unwind gets through glibc's
 * CFI into the fuzzed binary's. A module held at start-up keeps libc's
 * symbols loaded (they are shared per binary), or each input would pay for
 * libc's DWARF.
 *
 * Seeds (tests/fuzz/corpus/unwind/) are the fixtures' recordings in this
 * layout: park_fixture{,-clang,-nocfi}.{maps,regs,stack} with "@FIXTURES@/
 * VARIANT" replaced by "/f" and the binary appended; -nosymtab and -stripped
 * with park_fixture's recording; and one with an ELF cut after its headers.
 *
 *   tests/fuzz/run.sh build 60 fuzz_unwind
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "procmaps.h"
#include "unwind.h"

#define HDR_LEN 8
#define MAX_PCS 64
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"

static char root[PATH_MAX], elf_path[PATH_MAX + 8];
static struct pw_proc_syms *keeper;

static void cleanup(void)
{
	char path[PATH_MAX + 8];

	pw_proc_syms__free(keeper);
	unlink(elf_path);
	snprintf(path, sizeof(path), "%s/usr", root);
	unlink(path);
	rmdir(root);
}

static void setup(void)
{
	static const char keep_maps[] =
		"7f0000000000-7f0000400000 r-xp 00000000 00:00 1 " LIBC "\n";
	struct pw_frame fr[16];
	struct pw_maps *m;
	char path[PATH_MAX + 8];
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/fuzz_unwind.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		abort();
	snprintf(elf_path, sizeof(elf_path), "%s/f", root);
	snprintf(path, sizeof(path), "%s/usr", root);
	if (symlink("/usr", path))
		abort();
	atexit(cleanup);
	if (pw_maps__parse(keep_maps, sizeof(keep_maps) - 1, &m))
		abort();
	keeper = pw_proc_syms__new_from_maps(m, NULL);
	pw_maps__free(m);
	/* Loads libc's symbols (and libc6-dbg's DWARF) once, for every input. */
	if (keeper)
		pw_proc_syms__symbolize(keeper, 0x7f0000030000, false, fr, 16);
}

static void check_frames(const struct pw_frame *fr, int n, int max)
{
	volatile size_t sum = 0;
	int i;

	if (n < 1 || n > max)
		abort();
	for (i = 0; i < n; i++) {
		/* ASan: every string is a terminated string that stays valid. */
		if (fr[i].module)
			sum += strlen(fr[i].module);
		if (fr[i].func)
			sum += strlen(fr[i].func);
		if (fr[i].file)
			sum += strlen(fr[i].file);
		if (fr[i].line < 0 || (!fr[i].file && fr[i].line))
			abort();
		if (fr[i].inlined && i == n - 1)
			abort(); /* the outermost frame is the real function */
	}
}

static void symbolize(struct pw_proc_syms *ps, uint64_t pc, bool ret)
{
	struct pw_frame fr[16];
	int n;

	n = pw_proc_syms__symbolize(ps, pc, ret, fr, 16);
	check_frames(fr, n, 16);
	/* Too little room keeps the outermost (real) function. */
	n = pw_proc_syms__symbolize(ps, pc, ret, fr, 1);
	check_frames(fr, n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN] = {0};
	struct pw_regs regs = {0};
	size_t maps_len, stack_len, off;
	uint64_t pcs[MAX_PCS];
	struct pw_proc_syms *ps;
	struct pw_maps *maps;
	uint8_t *stack;
	int fd, npcs = 0, err, i;

	if (!root[0])
		setup();
	memcpy(hdr, data, size < HDR_LEN ? size : HDR_LEN);
	off = size < HDR_LEN ? size : HDR_LEN;
	maps_len = hdr[0] | hdr[1] << 8;
	stack_len = (hdr[2] | hdr[3] << 8) % (PW_USTACK_MAX + 1);
	if (maps_len > size - off)
		maps_len = size - off;
	if (pw_maps__parse((const char *)data + off, maps_len, &maps))
		return 0;
	off += maps_len;
	memcpy(&regs, data + off, size - off < sizeof(regs) ? size - off : sizeof(regs));
	off += size - off < sizeof(regs) ? size - off : sizeof(regs);
	if (stack_len > size - off)
		stack_len = size - off;
	/* Its own allocation, so ASan sees a read past the copy. */
	stack = malloc(stack_len ? stack_len : 1);
	if (!stack)
		abort();
	memcpy(stack, data + off, stack_len);
	off += stack_len;

	fd = open(elf_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data + off, size - off) != (ssize_t)(size - off) || close(fd))
		abort();

	ps = pw_proc_syms__new_from_maps(maps, root);
	pw_maps__free(maps);
	if (!ps) {
		free(stack);
		return 0;
	}
	err = pw_proc_syms__unwind(ps, 1, &regs, stack, stack_len, regs.sp, pcs, MAX_PCS, &npcs);
	if (err && err != -ENOENT && err != -ENOEXEC)
		abort();
	if (npcs < 1 || npcs > MAX_PCS || pcs[0] != regs.ip)
		abort();
	for (i = 0; i < npcs; i++)
		symbolize(ps, pcs[i], i > 0);
	/* pcs the input picks: anywhere in the binary, not only where a walk led. */
	symbolize(ps, regs.r12, false);
	symbolize(ps, regs.r13, true);
	symbolize(ps, regs.r14, hdr[4] & 1);
	symbolize(ps, regs.r12, false); /* now from the cache */
	if (pw_proc_syms__nbad_modules(ps) < 0)
		abort();
	pw_proc_syms__free(ps);
	free(stack);
	return 0;
}
