#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# gdb_oracle.sh [-t] PID
#
# Ground truth for parkwatch's thread sites: attach gdb to PID (it stops the process for the
# duration of the dump), take `thread apply all bt`, and label each thread with its first frame
# outside the C library and the dynamic loader. Prints, sorted by count (desc) then name:
#
#   COUNT<TAB>FUNCTION
#
# Threads without such a frame count under `?`. With -t, prints one `TID<TAB>FUNCTION` line per
# thread instead (in gdb's order).
#
# A frame is the label when ALL of these hold:
#   - it has source info: "... at FILE:LINE" (frames without debug info, "from LIB" frames and
#     "?? ()" frames are skipped);
#   - its pc, when gdb prints one, is not inside the text of libc, libpthread, libdl, librt or
#     ld.so (ranges from `info sharedlibrary`);
#   - FILE is not a glibc source path (./nptl/..., ../sysdeps/..., ./misc/..., etc. as in
#     Debian's libc6-dbg; frames #0/#1 are often inlined and have no pc to check);
#   - the function is not a known glibc internal (start_thread, clone3, __GI_*, __futex*, ...).
# Needs: bash, awk (mawk is fine), gdb. Run as root (ptrace).

set -u

per_thread=0
if [ "${1:-}" = "-t" ]; then
	per_thread=1
	shift
fi
if [ $# -ne 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [-t] PID" >&2
	exit 2
fi
pid=$1
if [ ! -d "/proc/$pid" ]; then
	echo "gdb_oracle: no process $pid" >&2
	exit 1
fi

out=$(${GDB:-gdb} -nx -p "$pid" -batch \
	-iex 'set debuginfod enabled off' \
	-ex 'set pagination off' \
	-ex 'set print frame-arguments none' \
	-ex 'set print entry-values no' \
	-ex 'info sharedlibrary' \
	-ex 'thread apply all bt' 2>/dev/null)

printf '%s\n' "$out" | awk -v per_thread="$per_thread" '
function hexval(s,    i, v, c) {
	sub(/^0x/, "", s)
	v = 0
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", tolower(substr(s, i, 1)))
		if (c == 0)
			return -1
		v = v * 16 + (c - 1)
	}
	return v
}
function syslib(path,    b) {
	b = path
	sub(/.*\//, "", b)
	return b ~ /^(libc|libpthread|libdl|librt|ld-linux[^\/]*|ld)([.-]|$)/
}
function in_syslib(addr,    i) {
	for (i = 0; i < nlib; i++)
		if (addr >= lo[i] && addr < hi[i])
			return 1
	return 0
}
function glibc_file(f) {
	return f ~ /^(\.\.?\/)+(sysdeps|nptl|misc|io|posix|stdlib|string|libio|elf|csu|time|signal|malloc|dlfcn|socket|resolv|stdio-common|wcsmbs|iconv|locale|debug|rt|login|pwd|grp|inet|nss|assert|ctype|dirent|setjmp|termios|gmon|intl|catgets|math|support|sunrpc|htl|mach|hurd|gshadow|shadow|argp|conform|crypt|mathvec|soft-fp|timezone|wctype)\//
}
function glibc_func(f) {
	return f ~ /^(start_thread|clone|clone3|_start|__libc_start_main|__libc_start_call_main|__GI_.*|__libc_.*|__futex.*|futex_.*|__lll_.*|lll_.*|__pthread_.*|___pthread_.*|pthread_.*|__nanosleep|__clock_nanosleep.*|__thrd_sleep|__sleep|__read|__read_nocancel|__poll|__select|__syscall_cancel.*|__internal_syscall_cancel|__GI___.*)$/
}
function flush_thread() {
	if (!in_thread)
		return
	lab = (label == "") ? "?" : label
	if (per_thread)
		printf "%s\t%s\n", tid, lab
	else {
		if (!(lab in count))
			names[nnames++] = lab
		count[lab]++
	}
	in_thread = 0
}
# info sharedlibrary:  0x00007f..  0x00007f..  Yes [(*)]  /lib/x86_64-linux-gnu/libc.so.6
/^0x[0-9a-fA-F]+[ \t]+0x[0-9a-fA-F]+[ \t]/ && !in_thread {
	if (syslib($NF)) {
		lo[nlib] = hexval($1)
		hi[nlib] = hexval($2)
		nlib++
	}
	next
}
/^Thread [0-9]+ \(/ {
	flush_thread()
	in_thread = 1
	nthreads++
	label = ""
	tid = "?"
	if (match($0, /\(LWP [0-9]+\)/))
		tid = substr($0, RSTART + 5, RLENGTH - 6)
	next
}
/^#[0-9]+ / && in_thread && label == "" {
	line = $0
	sub(/^#[0-9]+ +/, "", line)
	addr = -1
	if (match(line, /^0x[0-9a-fA-F]+ in /)) {
		addr = hexval(substr(line, 1, RLENGTH - 4))
		line = substr(line, RLENGTH + 1)
	}
	fn = line
	sub(/ \(.*/, "", fn)
	# " at FILE:LINE" at the end of the line
	if (!match(line, / at [^ ]+:[0-9]+$/))
		next
	file = substr(line, RSTART + 4, RLENGTH - 4)
	sub(/:[0-9]+$/, "", file)
	if (addr >= 0 && in_syslib(addr))
		next
	if (glibc_file(file) || glibc_func(fn) || fn == "??")
		next
	label = fn
	next
}
END {
	flush_thread()
	if (nthreads == 0) {
		print "gdb_oracle: no threads in gdb output (attach failed?)" > "/dev/stderr"
		exit 1
	}
	if (per_thread)
		exit 0
	# insertion sort: count desc, then name asc
	for (i = 1; i < nnames; i++) {
		v = names[i]
		for (j = i - 1; j >= 0; j--) {
			if (count[names[j]] > count[v] ||
			    (count[names[j]] == count[v] && names[j] < v))
				break
			names[j + 1] = names[j]
		}
		names[j + 1] = v
	}
	for (i = 0; i < nnames; i++)
		printf "%d\t%s\n", count[names[i]], names[i]
}
'
