#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Goroutine sites from `parkwatch snapshot` and `watch` against the target's own
# net/http/pprof goroutine profile, for the Go workload built plain, with
# -ldflags=-w (no DWARF) and with -ldflags='-s -w' (no symbols either):
#  - per site (wait reason + label = first frame outside the Go runtime), from
#    ?debug=2 read just before and just after parkwatch: leaked senders,
#    channel receivers, sleepers and mutex waiters must match exactly;
#  - per stack, from ?debug=1 (pprof groups identical stacks): the same
#    groups with the same counts and the same func file:line frames;
#  - JSON kind "goroutine", folded output, the Prometheus export;
#  - watch flags the seed's leak with the right growth and nothing else;
#  - under goroutine churn, repeated scans never fail, never drop and never
#    lose a parked goroutine;
#  - a Go binary of an unsupported release and a non-Go process get one line
#    and still their thread sites.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

require_bpf
LEAKS=200
SEED=tests/workloads/go/seed/main.go
SEND=$(grep -n 'ch <- fetch()' "$SEED" | cut -d: -f1)
RECV=$(grep -n '^	<-ch$' "$SEED" | cut -d: -f1)

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		fail "$*"
	else
		echo "  skip  $*"
	fi
}

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
		wait = w; label = ""; fn = ""
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

# snapshot JSON -> "COUNT<TAB>WAIT<TAB>LABEL" of the goroutine sites.
our_sites() {
	jq -r '.sites[] | select(.kind == "goroutine") | "\(.wait)\t\(.site // "-")\t\(.count)"' "$1" |
		awk -F'\t' '{ n[$1 "\t" $2] += $3 } END { for (k in n) print n[k] "\t" k }' | sort
}

# snapshot JSON -> "COUNT<TAB>STACK" as pprof's debug=1 prints it: runtime.goexit
# and the leading runtime.* frames hidden, identical stacks merged.
our_stacks() {
	jq -r '.sites[] | select(.kind == "goroutine") |
		([.frames[] | {f: (.func // "?"), l: "\(.file // "?"):\(.line)"}] as $fr |
		 ([$fr | to_entries[] | select(.value.f | startswith("runtime.") | not)][0].key // 0) as $k |
		 [$fr[$k:][] | select(.f != "runtime.goexit") | "\(.f) \(.l)"] | join(" ; ")) as $st |
		"\(.count)\t\($st)"' "$1" |
		awk -F'\t' '{ n[$2] += $1 } END { for (k in n) print n[k] "\t" k }' | sort
}

count_of() { # FILE KEY-REGEX: sum of COUNT over lines matching
	awk -F'\t' -v re="$2" '$0 ~ re { s += $1 } END { print s + 0 }' "$1"
}

check_build() {
	local bin=$1 log=$TMP/$1.log d=$TMP/$1 pp k ours theirs key n
	mkdir -p "$d"
	if [ ! -x "$WL/$bin" ]; then
		skip_or_fail "$WL/$bin missing (make workloads; needs golang-go)"
		return
	fi
	local t0=$SECONDS
	start "$bin" "$log" -leaks $LEAKS -rate 50 -receivers 10 -sleepers 5 -mutex 3 \
		-pprof 127.0.0.1:0 || return
	if ! wait_for "$log" '^LEAKED_DONE' 90; then
		fail "$bin: no LEAKED_DONE: $(tail -2 "$log")"
		return
	fi
	# Requests that were answered in time (a very loaded host) leak nothing: the
	# workload's own count of timeouts is the truth, pprof the oracle.
	n=$(sed -n 's/^LEAKED_DONE //p' "$log")
	check "$bin: the requests timed out ($n of $LEAKS)" [ "$n" -ge $((LEAKS * 9 / 10)) ]
	pp=$(sed -n 's/^PPROF //p' "$log")

	# Bracket parkwatch between two pprof reads: the workload is paused, so
	# they agree, and parkwatch must agree with both.
	if ! curl -sf "$pp/debug/pprof/goroutine?debug=2" >"$d/p2a"; then
		fail "$bin: pprof unreachable at $pp"
		return
	fi
	if ! "$PW" snapshot -p "$WPID" -m 0 --json >"$d/s.json" 2>"$d/s.err"; then
		fail "$bin: snapshot failed: $(head -2 "$d/s.err")"
		return
	fi
	curl -sf "$pp/debug/pprof/goroutine?debug=2" >"$d/p2b"
	curl -sf "$pp/debug/pprof/goroutine?debug=1" >"$d/p1"
	"$PW" snapshot -p "$WPID" -m 0 --folded >"$d/s.folded" 2>/dev/null
	pprof_sites "$d/p2a" >"$d/theirs"
	pprof_sites "$d/p2b" >"$d/theirs_b"
	our_sites "$d/s.json" >"$d/ours"
	check "$bin: no stderr from snapshot${k:+}" [ ! -s "$d/s.err" ]
	k=$(jq -c '.drops | with_entries(select(.value != 0))' "$d/s.json")
	check "$bin: no drops ($k)" [ "$k" = "{}" ]

	# Sites: the leak with its file:line and wait, then the flat pools.
	for key in "chan send	main\\.handle\\.func1 \\(main\\.go:$SEND\\)$" \
		"chan receive	main\\.receiver \\(main\\.go:$RECV\\)$" \
		"	sleep	" "	(semacquire|sync\\.Mutex\\.Lock)	"; do
		ours=$(count_of "$d/ours" "$key")
		theirs=$(count_of "$d/theirs" "$key")
		k=$(count_of "$d/theirs_b" "$key")
		check "$bin: site /$key/: parkwatch $ours = pprof $theirs, $k" \
			[ "$ours" = "$theirs" -a "$ours" = "$k" ]
	done
	check "$bin: $n leaked on main.go:$SEND, wait chan send" \
		[ "$(count_of "$d/ours" "^[0-9]+	chan send	main\\.handle\\.func1 \\(main\\.go:$SEND\\)")" = "$n" ]
	k=$(count_of "$d/ours" "main\\.receiver")/$(count_of "$d/ours" "	sleep	")
	k=$k/$(count_of "$d/ours" "lockSlow")
	check "$bin: 10 receivers, 5 sleepers, 3 mutex waiters ($k)" [ "$k" = 10/5/3 ]
	# Every site we report is one pprof reports, with the same count; except
	# network waits: fetching the profile wakes pprof's own accept loop.
	grep -v '	IO wait	' "$d/ours" | sort >"$d/ours.sorted"
	k=$(comm -23 "$d/ours.sorted" "$d/theirs")
	check "$bin: no site pprof does not have${k:+: $k}" [ -z "$k" ]
	k=$(jq '[.sites[] | select(.kind == "goroutine") | .count] | add' "$d/s.json")
	check "$bin: parked_goroutines is the sum of the goroutine sites ($k)" \
		[ "$(jq .parked_goroutines "$d/s.json")" = "$k" ]
	check "$bin: the process's threads are reported too" \
		[ "$(jq '[.sites[] | select(.kind == "thread")] | length' "$d/s.json")" -ge 1 ]

	# The workload ran a GC before LEAKED_DONE: the runtime stamped waitsince of
	# every leaked goroutine, so the leak's age is the runtime's, not a bound.
	k=$(jq -r --argjson up $((SECONDS - t0 + 1)) '[.sites[] | select(.kind == "goroutine" and
		(.site // "" | startswith("main.handle.func1")))][0] |
		"\(.age_is_lower_bound) \(.oldest_age_s > 0 and .oldest_age_s <= $up)"' "$d/s.json")
	check "$bin: leak's age from the runtime's waitsince, sane ($k)" [ "$k" = "false true" ]

	# Stacks, frame by frame, for the workload's own goroutines.
	pprof_stacks "$d/p1" >"$d/theirs_g"
	our_stacks "$d/s.json" >"$d/ours_g"
	for key in 'main\.handle\.func1 ' 'main\.receiver ' 'main\.sleeper ' 'main\.mutexWaiter '; do
		ours=$(grep -E "$key" "$d/ours_g")
		theirs=$(grep -E "$key" "$d/theirs_g")
		check "$bin: stacks of /$key/ match pprof's" [ -n "$ours" -a "$ours" = "$theirs" ]
	done

	check "$bin: folded: the leak's stack with its wait and count" \
		grep -qE "^$bin;runtime\\.goexit;main\\.handle\\.func1;.*\\[chan_send\\] $n\$" "$d/s.folded"
	if "$PW" export --once --textfile-dir "$d" -p "$WPID" 2>"$d/e.err"; then
		k=$(grep -E '^parkwatch_parked_goroutines\{.*site="main\.handle\.func1' "$d/parkwatch.prom" |
			grep 'wait="chan send"' | awk '{ print $NF }')
		check "$bin: export: parkwatch_parked_goroutines of the leak = $n (${k:-none})" \
			[ "${k:-}" = "$n" ]
	else
		fail "$bin: export --once failed: $(head -2 "$d/e.err")"
	fi
	kill "$WPID" 2>/dev/null
}

# watch: the seed's leak is a suspect with the right growth, the pools never are.
check_watch() {
	local log=$TMP/watch.log rate=10 first g fp
	[ -x "$WL/goseed" ] || return
	start goseed "$log" -leaks 900 -rate $rate -receivers 10 -sleepers 5 -mutex 3 || return
	"$PW" watch -p "$WPID" -i 1s -d 40s --json >"$TMP/w.json" 2>"$TMP/w.err"
	check "watch: exit 0, nothing on stderr ($(head -1 "$TMP/w.err"))" [ $? = 0 -a ! -s "$TMP/w.err" ]
	first=$(jq -s '[.[] | select(any(.sites[]; .leak_suspect and .kind == "goroutine" and
		(.site // "" | startswith("main.handle.func1"))))][0].elapsed_s // 999' "$TMP/w.json")
	check "watch: the seed's leak flagged within 40 s (at ${first}s)" \
		awk "BEGIN {exit !($first <= 40)}"
	g=$(jq -s '[.[-1].sites[] | select(.kind == "goroutine" and
		(.site // "" | startswith("main.handle.func1"))) | .growth_per_min][0] // 0' "$TMP/w.json")
	check "watch: growth ${g}/min within 15% of $((rate * 60))/min" \
		awk "BEGIN {exit !($g >= $rate * 60 * 0.85 && $g <= $rate * 60 * 1.15)}"
	fp=$(jq -s '[.[].sites[] | select(.leak_suspect and .kind == "goroutine" and
		(.site // "" | test("^main\\.handle") | not))] | length' "$TMP/w.json")
	check "watch: flat goroutine sites never flagged ($fp false suspects)" [ "$fp" = 0 ]
	kill "$WPID" 2>/dev/null
}

# Goroutines born and dying all the time: every scan succeeds, nothing is torn.
check_churn() {
	local log=$TMP/churn.log bad
	[ -x "$WL/goseed-sw" ] || return
	start goseed-sw "$log" -churn 4 -receivers 50 -leaks 5000 -rate 1000 || return
	"$PW" watch -p "$WPID" -m 0 -i 200ms -d 8s --json >"$TMP/c.json" 2>"$TMP/c.err"
	check "churn: watch exit 0 ($(head -1 "$TMP/c.err"))" [ $? = 0 ]
	check "churn: 30+ scans ($(wc -l <"$TMP/c.json"))" [ "$(wc -l <"$TMP/c.json")" -ge 30 ]
	# Parked senders never leave, receivers never change.
	bad=$(jq -s '[.[] | {r: ([.sites[] | select(.site // "" | startswith("main.receiver")) | .count] | add // 0),
		l: ([.sites[] | select(.site // "" | startswith("main.handle.func1")) | .count] | add // 0)}] |
		[foreach .[] as $s ({p: 0, bad: 0}; {p: $s.l, bad: (.bad + (if $s.r != 50 or $s.l < .p then 1 else 0 end))})] |
		last.bad' "$TMP/c.json")
	check "churn: receivers stable at 50, leaked never decreasing ($bad bad scans)" [ "$bad" = 0 ]
	bad=$(jq -s '[.[-1].drops.goroutine, .[-1].drops.unwind, .[-1].drops.go_proc] | add' "$TMP/c.json")
	check "churn: no goroutine torn, unreadable or cut short ($bad)" [ "$bad" = 0 ]
	kill "$WPID" 2>/dev/null
}

# One line and thread sites still: a Go release we do not know, a non-Go process.
check_unsupported() {
	local d=$TMP/unsup out
	[ -x "$WL/goseed-sw" ] || return
	mkdir -p "$d"
	cp "$WL/goseed-sw" "$d/goseed-new"
	# Same length: the build info now says go1.99.
	sed -i 's/go1\.19\.\([0-9]\)/go1.99.\1/g' "$d/goseed-new"
	"$d/goseed-new" -receivers 3 >"$d/log" 2>&1 &
	WPID=$!
	PIDS+=("$WPID")
	wait_for "$d/log" '^READY' 30 || { fail "patched goseed did not start"; return; }
	"$PW" snapshot -p "$WPID" -m 0 --json >"$d/s.json" 2>"$d/err"
	check "unsupported release: exit 0" [ $? = 0 ]
	check "unsupported release: one line naming it ($(cat "$d/err"))" \
		[ "$(wc -l <"$d/err")" = 1 -a -n "$(grep 'go1\.99' "$d/err")" ]
	check "unsupported release: thread sites still, no goroutine site" \
		[ "$(jq '[.sites[] | select(.kind == "thread")] | length' "$d/s.json")" -ge 1 -a \
		"$(jq '[.sites[] | select(.kind == "goroutine")] | length' "$d/s.json")" = 0 ]
	check "unsupported release: counted as a go_proc drop" [ "$(jq .drops.go_proc "$d/s.json")" = 1 ]
	kill "$WPID" 2>/dev/null

	start leaky "$d/l.log" --leaks 3 || return
	wait_for "$d/l.log" '^LEAKED_DONE' 30
	"$PW" snapshot -p "$WPID" -m 0 --goroutines=on --json >"$d/c.json" 2>"$d/c.err"
	check "not Go, --goroutines=on: one line ($(cat "$d/c.err"))" \
		[ "$(wc -l <"$d/c.err")" = 1 -a -n "$(grep 'not a Go binary' "$d/c.err")" ]
	check "not Go: thread sites still (fetch_worker $(site_count "$d/c.json" fetch_worker))" \
		[ "$(site_count "$d/c.json" fetch_worker)" = 3 ]
	"$PW" snapshot -p "$WPID" --json >/dev/null 2>"$d/a.err"
	check "not Go, --goroutines=auto: silent" [ ! -s "$d/a.err" ]
	kill "$WPID" 2>/dev/null
}

for b in goseed goseed-w goseed-sw; do
	check_build "$b"
done
check_watch
check_churn
check_unsupported
finish
