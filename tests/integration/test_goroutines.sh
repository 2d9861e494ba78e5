#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Goroutines read from outside (user/goruntime.c) against the target's own
# net/http/pprof goroutine profile, for the Go workload built plain, with
# -ldflags=-w (no DWARF) and with -ldflags='-s -w' (no symbols either):
#  - per site (wait reason + label = first frame outside the Go runtime), from
#    ?debug=2: leaked senders, channel receivers, sleepers and mutex waiters
#    must match exactly;
#  - per stack, from ?debug=1 (pprof groups identical stacks): the same
#    groups with the same counts and the same func file:line frames;
#  - under goroutine churn, repeated scans never fail and never lose a
#    parked goroutine.
# Until `parkwatch snapshot` reports goroutines, the scans come from a small
# driver, tests/integration/go_dump.c, linked with $BUILD/libpw.a.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

LEAKS=200
SEED=tests/workloads/go/seed/main.go
SEND=$(grep -n 'ch <- fetch()' "$SEED" | cut -d: -f1)
RECV=$(grep -n '^	<-ch$' "$SEED" | cut -d: -f1)
DUMP=$TMP/go_dump

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		fail "$*"
	else
		echo "  skip  $*"
	fi
}

if ! ${CC:-cc} -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	-Iinclude -Iuser -I"$BUILD" tests/integration/go_dump.c "$BUILD/libpw.a" \
	-lbpf -ldw -lelf -lz -ljansson -lncursesw -lm -o "$DUMP" 2>"$TMP/cc.log"; then
	fail "go_dump does not build: $(head -3 "$TMP/cc.log")"
	finish
fi

# debug=2 text -> "COUNT<TAB>WAIT<TAB>LABEL", labelled like sitelabel.c does:
# the first frame that is not Go runtime code (pw_is_go_runtime_func).
pprof_sites() {
	awk '
	function is_rt(f,   s, d) {
		if (f ~ /^runtime\./ || f ~ /^runtime\/internal\// || f ~ /^internal\/runtime\//)
			return 1
		s = f
		sub(/^.*\//, "", s)
		d = index(s, ".")
		return d > 0 && substr(s, d + 1, 8) == "runtime_"
	}
	function flush() {
		if (wait != "")
			n[wait "\t" (label == "" ? "-" : label)]++
		wait = ""
	}
	/^goroutine [0-9]+ \[/ {
		flush()
		w = $0
		sub(/^goroutine [0-9]+ \[/, "", w)
		sub(/\]:$/, "", w)
		sub(/,.*$/, "", w) # ", 5 minutes", ", locked to thread"
		wait = w; label = ""; fn = ""; infn = 0
		next
	}
	wait == "" { next }
	/^created by / { fn = ""; next }
	/^[^\t]/ { fn = $0; sub(/\([^()]*\)$/, "", fn); next }
	/^\t/ {
		if (fn != "" && label == "" && !is_rt(fn)) {
			loc = $1
			sub(/^.*\//, "", loc)
			label = fn " (" loc ")"
		}
		fn = ""
	}
	END { flush(); for (k in n) print n[k] "\t" k }' "$1" | sort
}

# debug=1 text -> "COUNT<TAB>STACK", frames as "func file:line" joined by " ; ".
pprof_stacks() {
	awk '
	function flush() { if (c != "") print c "\t" st; c = "" }
	/^[0-9]+ @/ { flush(); c = $1; st = ""; next }
	/^#\t/ {
		n = split($0, f, /\t+/)
		fr = n >= 4 ? f[3] " " f[4] : f[2]
		sub(/\+0x[0-9a-f]+ /, " ", fr)
		st = st (st == "" ? "" : " ; ") fr
		next
	}
	/^$/ { flush() }
	END { flush() }' "$1" | sort
}

# go_dump -g output -> "COUNT<TAB>STACK".
our_stacks() {
	cut -f3 "$1" | sort | uniq -c | sed 's/^ *\([0-9]*\) /\1\t/' | sort
}

count_of() { # FILE KEY-REGEX: sum of COUNT over lines matching
	awk -F'\t' -v re="$2" '$0 ~ re { s += $1 } END { print s + 0 }' "$1"
}

check_build() {
	local bin=$1 log=$TMP/$1.log d=$TMP/$1 pp k ours theirs key
	mkdir -p "$d"
	if [ ! -x "$WL/$bin" ]; then
		skip_or_fail "$WL/$bin missing (make workloads; needs golang-go)"
		return
	fi
	local t0=$SECONDS
	start "$bin" "$log" -leaks $LEAKS -rate 50 -receivers 10 -sleepers 5 -mutex 3 \
		-pprof 127.0.0.1:0 || return
	if ! wait_for "$log" '^LEAKED_DONE' 60; then
		fail "$bin: no LEAKED_DONE: $(tail -2 "$log")"
		return
	fi
	check "$bin: all $LEAKS requests timed out" grep -qx "LEAKED_DONE $LEAKS" "$log"
	pp=$(sed -n 's/^PPROF //p' "$log")

	if ! "$DUMP" "$WPID" >"$d/ours" 2>"$d/stats" || ! "$DUMP" -g "$WPID" >"$d/ours_g" 2>/dev/null
	then
		fail "$bin: go_dump failed: $(cat "$d/stats")"
		return
	fi
	if ! curl -sf "$pp/debug/pprof/goroutine?debug=2" >"$d/p2" ||
		! curl -sf "$pp/debug/pprof/goroutine?debug=1" >"$d/p1"; then
		fail "$bin: pprof unreachable at $pp"
		return
	fi
	pprof_sites "$d/p2" >"$d/theirs"
	check "$bin: clean read ($(cat "$d/stats"))" \
		grep -q ' bad_g=0 read_errors=0 unwind_errors=0$' "$d/stats"

	# Sites: the leak with its file:line and wait, then the flat pools.
	for key in "chan send	main\\.handle\\.func1 \\(main\\.go:$SEND\\)$" \
		"chan receive	main\\.receiver \\(main\\.go:$RECV\\)$" \
		"	sleep	" "	(semacquire|sync\\.Mutex\\.Lock)	"; do
		ours=$(count_of "$d/ours" "$key")
		theirs=$(count_of "$d/theirs" "$key")
		check "$bin: site /$key/: parkwatch $ours = pprof $theirs" [ "$ours" = "$theirs" ]
	done
	check "$bin: $LEAKS leaked on main.go:$SEND" \
		[ "$(count_of "$d/ours" "main\\.handle\\.func1 \\(main\\.go:$SEND\\)")" = $LEAKS ]
	k=$(count_of "$d/ours" "main\\.receiver")/$(count_of "$d/ours" "	sleep	")
	k=$k/$(count_of "$d/ours" "lockSlow")
	check "$bin: 10 receivers, 5 sleepers, 3 mutex waiters ($k)" [ "$k" = 10/5/3 ]
	# Every site we report is one pprof reports, with the same count; except
	# network waits: fetching the profile wakes pprof's own accept loop.
	grep -v '	IO wait	' "$d/ours" | sort >"$d/ours.sorted"
	k=$(comm -23 "$d/ours.sorted" "$d/theirs")
	check "$bin: no site pprof does not have${k:+: $k}" [ -z "$k" ]

	# The workload ran a GC before LEAKED_DONE: the runtime stamped waitsince of
	# every leaked goroutine with that cycle's start, which is in the past and
	# no older than the workload.
	k=$(awk -F'\t' -v up=$((SECONDS - t0 + 1)) '$2 ~ /^main\.handle\.func1 / {
		if ($4 == "-" || $4 < 0 || $4 > up) bad++ } END { print bad + 0 }' "$d/ours_g")
	check "$bin: leaked goroutines' waitsince is set and sane ($k bad)" [ "$k" = 0 ]

	# Stacks, frame by frame, for the workload's own goroutines.
	pprof_stacks "$d/p1" >"$d/theirs_g"
	our_stacks "$d/ours_g" >"$d/ours_g.sorted"
	for key in 'main\.handle\.func1 ' 'main\.receiver ' 'main\.sleeper ' 'main\.mutexWaiter '; do
		ours=$(grep -E "$key" "$d/ours_g.sorted")
		theirs=$(grep -E "$key" "$d/theirs_g")
		check "$bin: stacks of /$key/ match pprof's" [ -n "$ours" -a "$ours" = "$theirs" ]
	done
	kill "$WPID" 2>/dev/null
}

check_churn() {
	local log=$TMP/churn.log i out prev=0 n recv bad=0 fails=0 retries=0 r broken=0
	[ -x "$WL/goseed-sw" ] || return
	start goseed-sw "$log" -churn 4 -receivers 50 -leaks 5000 -rate 1000 || return
	for ((i = 0; i < 40; i++)); do
		if ! out=$("$DUMP" "$WPID" 2>"$TMP/churn.stats"); then
			fails=$((fails + 1))
			continue
		fi
		r=$(sed -n 's/.* retries=\([0-9]*\).*/\1/p' "$TMP/churn.stats")
		retries=$((retries + ${r:-0}))
		r=$(sed -n 's/.* bad_g=\([0-9]*\) read_errors=[0-9]* unwind_errors=\([0-9]*\)$/\1+\2/p' \
			"$TMP/churn.stats")
		broken=$((broken + ${r:-1}))
		recv=$(echo "$out" | awk -F'\t' '$3 ~ /^main\.receiver / { s += $1 } END { print s + 0 }')
		n=$(echo "$out" | awk -F'\t' '$3 ~ /^main\.handle\.func1 / { s += $1 } END { print s + 0 }')
		# Parked senders never leave, receivers never change.
		if [ "$recv" != 50 ] || [ "$n" -lt "$prev" ]; then
			bad=$((bad + 1))
			echo "    scan $i: receivers=$recv leaked=$n (previous $prev)"
		fi
		prev=$n
	done
	check "churn: 40 scans succeed (${retries} retries)" [ "$fails" = 0 ]
	check "churn: receivers stable, leaked never decreasing (last $prev)" [ "$bad" = 0 ]
	# Racing goroutines are re-read until consistent, never reported torn.
	check "churn: no bad g and no broken stack ($broken)" [ "$broken" = 0 ]
	kill "$WPID" 2>/dev/null
}

for b in goseed goseed-w goseed-sw; do
	check_build "$b"
done
check_churn
finish
