#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# tests/fuzz/run.sh BUILD_DIR SECONDS [fuzz_NAME...]
#
# Builds every tests/fuzz/fuzz_*.c (or the ones named) with clang's libFuzzer,
# ASan and UBSan into BUILD_DIR/fuzz/, and runs each for SECONDS on a temp copy
# of tests/fuzz/corpus/NAME/ (the checked-in corpus stays small; what a run
# finds is kept in BUILD_DIR/fuzz/NAME.corpus/ for the curious). A target that
# does not build, crashes, leaks, hangs (one input > 120 s) or runs out of memory fails; its
# input is saved as BUILD_DIR/fuzz/NAME-crash-* and named in the output.
#
# Each target is linked with only the user/*.c it needs: the modules whose
# headers it includes, and theirs, transitively (pw.h is util.c's).
#
# Environment:
#   FUZZ_JOBS=N     targets run N at a time (default 1; each uses one core)
#   FUZZ_ARGS=...   extra libFuzzer flags (e.g. -dict=..., -max_len=...)
#   CLANG=clang     the compiler
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ $# -lt 2 ]; then
	echo "usage: tests/fuzz/run.sh BUILD_DIR SECONDS [fuzz_NAME...]" >&2
	exit 2
fi
BUILD=$1
SECONDS_EACH=$2
shift 2
CLANG=${CLANG:-clang}
JOBS=${FUZZ_JOBS:-1}
OUT=$BUILD/fuzz
# The same libraries as parkwatch: each target needs a subset, --as-needed drops the rest.
LIBS="-lbpf -ldw -lelf -lz -ljansson -lncursesw -lm"
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -DPW_VERSION=\"fuzz\" \
	-Wall -Wno-unused-parameter -Wno-missing-field-initializers \
	-Iinclude -Iuser -I$BUILD"

case $SECONDS_EACH in
'' | *[!0-9]*)
	echo "run.sh: SECONDS must be a whole number, not '$SECONDS_EACH'" >&2
	exit 2
	;;
esac
if ! command -v "$CLANG" >/dev/null; then
	echo "run.sh: $CLANG not found (make deps)" >&2
	exit 1
fi
mkdir -p "$OUT" || exit 1

# Leaks inside the libraries, not ours: each entry names the library bug.
# - elfutils 0.188 dwarf_getscopes(): on malformed DWARF its second pass fails
#   and it returns -1 without freeing the scope array it had allocated (the
#   caller never gets the pointer; unwind.c frees every array it does get).
# The libraries have no frame pointers: a suppression sees their function names
# only with the slow unwinder, which run_one turns on for targets that use them.
cat >"$OUT/lsan.supp" <<'EOF'
leak:dwarf_getscopes
EOF
export LSAN_OPTIONS=suppressions=$(readlink -f "$OUT/lsan.supp")${LSAN_OPTIONS:+:$LSAN_OPTIONS}

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$f" .c)")
	done
fi

# sources_of FILE: FILE and the user/*.c of every header it includes, transitively.
sources_of() {
	local -A seen=()
	local todo=("$1") f h c out="$1"
	seen[$1]=1
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for h in $(sed -nE 's/^#include "([a-z_0-9]+)\.h".*/\1/p' "$f"); do
			for c in user/$h.h user/$h.c; do
				[ "$h" = pw ] && c=user/util.c
				[ -f "$c" ] && [ -z "${seen[$c]:-}" ] || continue
				seen[$c]=1
				todo+=("$c")
				case $c in *.c) out="$out $c" ;; esac
			done
		done
	done
	echo "$out"
}

# tracer.c embeds the BPF skeletons; build them if a target needs them.
need_skels() {
	local s
	for s in "$@"; do
		[ "$s" = user/tracer.c ] && return 0
	done
	return 1
}

declare -A slow_unwind=()
build_one() { # NAME -> BUILD/fuzz/NAME, log in BUILD/fuzz/NAME.build.log
	local name=$1 srcs
	srcs=$(sources_of "tests/fuzz/$name.c")
	case " $srcs " in *" user/unwind.c "*) slow_unwind[$name]=1 ;; esac
	# shellcheck disable=SC2086
	if need_skels $srcs && { [ ! -f "$BUILD/park.skel.h" ] || [ ! -f "$BUILD/scan.skel.h" ]; }; then
		make --no-print-directory OUTPUT="$BUILD" "$BUILD/park.skel.h" "$BUILD/scan.skel.h" \
			>"$OUT/$name.build.log" 2>&1 || return 1
	fi
	echo "$CLANG $CFLAGS $srcs $LIBS -o $OUT/$name" >>"$OUT/$name.build.log"
	# shellcheck disable=SC2086
	$CLANG $CFLAGS $srcs $LIBS -o "$OUT/$name" >>"$OUT/$name.build.log" 2>&1
}

# run_one NAME: prints one result line; returns non-zero on a finding.
run_one() {
	local name=$1 corpus=tests/fuzz/corpus/${1#fuzz_} work log rc execs cov ft art
	work=$OUT/$name.corpus
	log=$OUT/$name.log
	rm -rf "$work"
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	rm -f "$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-* "$OUT/$name"-oom-*
	local asan=${ASAN_OPTIONS:-}
	[ -n "${slow_unwind[$name]:-}" ] && asan=fast_unwind_on_malloc=0${asan:+:$asan}
	# shellcheck disable=SC2086
	ASAN_OPTIONS=$asan "$OUT/$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=120 \
		-rss_limit_mb=4096 -artifact_prefix="$OUT/$name-" ${FUZZ_ARGS:-} "$work" \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
	art=$(ls "$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-* \
		"$OUT/$name"-oom-* 2>/dev/null | head -1)
	if [ $rc -eq 0 ] && [ -z "$art" ]; then
		printf '  ok    %-16s %s execs in %ss, %s\n' "$name" "${execs:-?}" "$SECONDS_EACH" \
			"${cov:-no stats}"
		return 0
	fi
	printf '  FAIL  %-16s exit %d after %s execs, %s; input %s; log %s\n' "$name" $rc \
		"${execs:-?}" "${cov:-no stats}" "${art:-none}" "$log"
	grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:)' "$log" | sed 's/^/        /'
	return 1
}

passed=0
failed=0
built=()
for t in "${targets[@]}"; do
	t=$(basename "$t" .c)
	if [ ! -f "tests/fuzz/$t.c" ]; then
		echo "  FAIL  $t: no tests/fuzz/$t.c"
		failed=$((failed + 1))
	elif build_one "$t"; then
		built+=("$t")
	else
		echo "  FAIL  $t does not build: $OUT/$t.build.log"
		tail -5 "$OUT/$t.build.log" | sed 's/^/        /'
		failed=$((failed + 1))
	fi
done

# Up to FUZZ_JOBS at a time; results are printed in the order the targets finish.
declare -A running=()
reap() {
	local pid
	for pid in "${!running[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			if wait "$pid"; then
				passed=$((passed + 1))
			else
				failed=$((failed + 1))
			fi
			cat "$OUT/${running[$pid]}.result"
			unset "running[$pid]"
		fi
	done
}
for t in "${built[@]}"; do
	while [ ${#running[@]} -ge "$JOBS" ]; do
		sleep 1
		reap
	done
	run_one "$t" >"$OUT/$t.result" &
	running[$!]=$t
done
while [ ${#running[@]} -gt 0 ]; do
	sleep 1
	reap
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
