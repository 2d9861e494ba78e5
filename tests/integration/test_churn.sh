#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Churn and lifecycle: threads that live for microseconds beside a leak that must stay exact;
# processes exiting mid-scan; a pid reused by a new process (forced through ns_last_pid); a
# process that execs another program. Whatever dies leaves no phantom site, and two processes
# (or two programs) behind one pid never share a site.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

# Sample times as Unix seconds, from each JSON line's "time" (RFC 3339, UTC, fraction).
JQ_T='def t: (.time | capture("^(?<s>[^.]+)(\\.(?<f>[0-9]+))?Z$")) as $c
	| ($c.s + "Z" | fromdateiso8601) + (("0." + ($c.f // "0")) | tonumber);'
now() { date +%s.%N; }
# count_at FILE PID LABEL-PREFIX FROM TO: the site's count in each sample taken in [FROM, TO].
count_at() {
	jq -r --argjson p "$2" --arg s "$3" --argjson a "$4" --argjson b "$5" "$JQ_T"'
		select(t >= $a and t <= $b)
		| [.sites[] | select(.pid == $p and (.site // "" | startswith($s))) | .count] | add // 0' "$1"
}
# sites_of FILE PID FROM TO: how many sites of PID the samples in [FROM, TO] have, in all.
sites_of() {
	jq -s --argjson p "$2" --argjson a "$3" --argjson b "$4" "$JQ_T"'
		[.[] | select(t >= $a and t <= $b) | .sites[] | select(.pid == $p)] | length' "$1"
}
# ids_of FILE PID FROM TO: the site ids of PID in [FROM, TO], one per line, sorted.
ids_of() {
	jq -r --argjson p "$2" --arg a "$3" --arg b "$4" "$JQ_T"'
		select(t >= ($a | tonumber) and t <= ($b | tonumber)) | .sites[] | select(.pid == $p) | .id' \
		"$1" | sort -u
}
# wait_samples FILE T N: until FILE has N samples taken after time T (60 s at most): a loaded
# host can starve the watch for seconds, so windows are counted in samples, not in seconds.
wait_samples() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(jq -s --argjson a "$2" "$JQ_T"'[.[] | select(t > $a)] | length' "$1" 2>/dev/null)" -ge "$3" ] &&
			return 0
		sleep 0.1
	done
	return 1
}
# settle FILE: a time after which FILE's samples describe the present. A scan in flight now
# may still report what was (slowly, under a sanitizer); every scan after it started later.
settle() {
	local t
	t=$(now)
	wait_samples "$1" "$t" 1 || true
	now
}
all_equal() { # VALUE LINES...: every line equals VALUE, and there is at least one
	local v=$1
	shift
	[ -n "$*" ] && [ -z "$(grep -vx -- "$v" <<<"$*")" ]
}

# ---- 1. churn beside a leak ----
# Four spawners create, park (100 us) and join threads as fast as the machine allows for 8 s,
# recycling tids; beside them leaky's 30 leaked workers and pool of 4 must stay exact. -m 0
# gives every parked thread, however young, a stack and a site: the caches see every reuse.
start leaky "$TMP/l.log" --leaks 30 --pool 4 --sleepers 0 --readers 0 || finish
LPID=$WPID
wait_for "$TMP/l.log" '^LEAKED_DONE 30$' 60 || fail "leaky did not leak 30: $(tail -1 "$TMP/l.log")"
start churn "$TMP/c.log" --threads 4 --duration 8 || finish
CPID=$WPID
"$PW" watch -p "$LPID,$CPID" -i 500ms -d 20s -m 0 --json >"$TMP/w.json" 2>"$TMP/w.err" &
wp=$!
wait_for "$TMP/c.log" '^DONE' 30 || fail "churn did not finish: $(tail -1 "$TMP/c.log")"
wait $CPID 2>/dev/null
t_gone=$(settle "$TMP/w.json")
wait $wp
rc=$?
created=$(sed -nE 's/^DONE created=([0-9]+).*/\1/p' "$TMP/c.log")
n=$(wc -l <"$TMP/w.json")
echo "  info  churn created ${created:-?} threads in 8 s; $n samples"
check "churn: watch exits 0 (got $rc: $(head -1 "$TMP/w.err"))" test $rc = 0
check "churn: nothing on stderr" test ! -s "$TMP/w.err"
check "churn: 38-42 samples in 20 s at 500 ms ($n)" test "$n" -ge 38 -a "$n" -le 42
seen=$(sites_of "$TMP/w.json" "$CPID" 0 "$t_gone")
check "churn: its parked threads were seen while it ran ($seen sites)" test "$seen" -gt 0
after=$(sites_of "$TMP/w.json" "$CPID" "$t_gone" 1e10)
check "churn: no site of the exited churn pid afterwards ($after)" test "$after" = 0
last5=$(tail -5 "$TMP/w.json")
check "churn: the last 5 samples have no site of pid $CPID" \
	test "$(jq -s --argjson p "$CPID" '[.[].sites[] | select(.pid == $p)] | length' <<<"$last5")" = 0
fw=$(count_at <(echo "$last5") "$LPID" fetch_worker 0 1e10)
pw=$(count_at <(echo "$last5") "$LPID" pool_worker 0 1e10)
check "churn: leak exact in the last 5 samples (fetch_worker: $(echo $fw))" all_equal 30 "$fw"
check "churn: pool exact in the last 5 samples (pool_worker: $(echo $pw))" all_equal 4 "$pw"
fw=$(count_at "$TMP/w.json" "$LPID" fetch_worker 0 1e10)
pw=$(count_at "$TMP/w.json" "$LPID" pool_worker 0 1e10)
check "churn: leak exact in every sample, during the churn too" all_equal 30 "$fw"
check "churn: pool exact in every sample, during the churn too" all_equal 4 "$pw"
echo "  info  drops at the end: $(tail -1 "$TMP/w.json" | jq -c '.drops | with_entries(select(.value > 0))')"
kill -9 "$LPID"
wait "$LPID" 2>/dev/null

# ---- 2. processes exiting mid-scan ----
# A storm of short-lived processes (each a churn of its own) under a whole-host watch with a
# comm filter, scanning every 200 ms: they exit during scans, between the iterator and the
# unwinder, before their maps are read. The watch carries on; once the storm is over, no site
# of any of them is left. (Another program named churn may be running: only our pids count.)
"$PW" watch -c churn -i 200ms -m 0 --json >"$TMP/s.json" 2>"$TMP/s.err" &
wp=$!
wait_for "$TMP/s.json" schema 30 || fail "storm: the watch did not start"
storm=()
end=$((SECONDS + 6))
while [ $SECONDS -lt $end ]; do
	"$WL/churn" --threads 2 --duration 0.3 >/dev/null 2>&1 &
	storm+=($!)
	sleep 0.1
done
for p in "${storm[@]}"; do
	wait "$p"
done
t_end=$(settle "$TMP/s.json")
wait_samples "$TMP/s.json" "$t_end" 10 || fail "storm: no samples after it"
kill -INT $wp
wait $wp
rc=$?
check "storm: watch exits 0 after ${#storm[@]} processes came and went (got $rc)" test $rc = 0
check "storm: nothing on stderr ($(head -1 "$TMP/s.err"))" test ! -s "$TMP/s.err"
pids=$(printf '%s,' "${storm[@]}")
seen=$(jq -s --argjson ps "[${pids%,}]" '[.[].sites[] | select(.pid as $p | $ps | index($p))] | length' "$TMP/s.json")
check "storm: the short-lived processes were seen ($seen sites)" test "$seen" -gt 0
late=$(jq -c --argjson a "$t_end" "$JQ_T"'select(t > $a)' "$TMP/s.json")
nlate=$(grep -c . <<<"$late")
# Only ours: another program named churn (a benchmark) may run here, even on a recycled pid.
dead=
for p in "${storm[@]}"; do
	kill -0 "$p" 2>/dev/null || dead="$dead$p,"
done
left=$(jq -s --argjson ps "[${dead%,}]" '[.[].sites[] | select(.pid as $p | $ps | index($p))] | length' \
	<<<"$late")
check "storm: no phantom site in the $nlate samples after the storm ($left)" test "$left" = 0 -a "$nlate" -ge 5

# ---- 3. a pid reused by a new process ----
# Process A (leaky: 6 leaked, pool of 2) is killed; process B (3 leaked, pool of 3) is started
# with the same pid, forced by writing A's pid - 1 to kernel.ns_last_pid (checkpoint/restore's
# knob: it changes no limit, it only says where the next pid search starts; another process
# forking at that moment can take the pid, so it is retried). One watch follows both by comm.
# Their sites must never merge: B's counts are B's, and no site id of A comes back for B.
"$PW" watch -c leaky -i 500ms -m 0 --json >"$TMP/r.json" 2>"$TMP/r.err" &
wp=$!
wait_for "$TMP/r.json" schema 30 || fail "pid reuse: the watch did not start"
start leaky "$TMP/a.log" --leaks 6 --pool 2 --sleepers 0 --readers 0 || finish
APID=$WPID
wait_for "$TMP/a.log" '^LEAKED_DONE 6$' 30 || fail "A did not leak"
ta0=$(settle "$TMP/r.json")
wait_samples "$TMP/r.json" "$ta0" 4 || fail "pid reuse: the watch took no sample of A"
ta1=$(now)
kill -9 "$APID"
wait "$APID" 2>/dev/null
t_dead=$(settle "$TMP/r.json")
wait_samples "$TMP/r.json" "$t_dead" 2
BPID=
for ((try = 0; try < 50; try++)); do
	tb=$(now) # before B exists: every sample before it is A's or nobody's
	echo $((APID - 1)) >/proc/sys/kernel/ns_last_pid 2>/dev/null
	"$WL/leaky" --leaks 3 --pool 3 --sleepers 0 --readers 0 >"$TMP/b.log" 2>&1 &
	p=$!
	PIDS+=("$p")
	if [ "$p" = "$APID" ]; then
		BPID=$p
		break
	fi
	kill -9 "$p"
	wait "$p" 2>/dev/null
done
if [ -z "$BPID" ]; then
	# Should ns_last_pid be read-only here, two incarnations under one comm are still checked.
	echo "  info  could not get pid $APID again (ns_last_pid); B has pid $p"
	BPID=$p
fi
wait_for "$TMP/b.log" '^LEAKED_DONE 3$' 30 || fail "B did not leak"
tb0=$(settle "$TMP/r.json")
wait_samples "$TMP/r.json" "$tb0" 5 || fail "pid reuse: the watch took no sample of B"
tb1=$(now)
kill -INT $wp
wait $wp
rc=$?
check "pid reuse: watch exits 0 (got $rc)" test $rc = 0
check "pid reuse: B got A's pid $APID (got $BPID)" test "$BPID" = "$APID"
check "pid reuse: A's leak counted (6): $(echo $(count_at "$TMP/r.json" "$APID" fetch_worker "$ta0" "$ta1"))" \
	all_equal 6 "$(count_at "$TMP/r.json" "$APID" fetch_worker "$ta0" "$ta1")"
gap=$(jq -rs --argjson p "$APID" --argjson a "$t_dead" --argjson b "$tb" "$JQ_T"'
	[.[] | select(t > $a and t < $b)] | [length, ([.[].sites[] | select(.pid == $p)] | length)]
	| map(tostring) | join(" ")' "$TMP/r.json")
check "pid reuse: between A's death and B's birth no site of $APID (samples, sites: $gap)" \
	test "${gap#* }" = 0 -a "${gap% *}" -ge 1
fw=$(count_at "$TMP/r.json" "$BPID" fetch_worker "$tb0" "$tb1")
pw=$(count_at "$TMP/r.json" "$BPID" pool_worker "$tb0" "$tb1")
check "pid reuse: B's leak is B's alone (3, never A's 6 + 3): $(echo $fw)" all_equal 3 "$fw"
check "pid reuse: B's pool is B's alone (3, never A's 2 + 3): $(echo $pw)" all_equal 3 "$pw"
ia=$(ids_of "$TMP/r.json" "$APID" "$ta0" "$ta1")
ib=$(ids_of "$TMP/r.json" "$BPID" "$tb0" "$tb1")
check "pid reuse: A and B have site ids ($(echo $ia | wc -w) and $(echo $ib | wc -w))" \
	test -n "$ia" -a -n "$ib"
check "pid reuse: no site id is shared by A and B" test -z "$(comm -12 <(echo "$ia") <(echo "$ib"))"
kill -9 "$BPID" 2>/dev/null
wait "$BPID" 2>/dev/null

# ---- 4. a process that execs another program ----
# churn parks in before_exec(), then execs leaky (3 leaked, pool of 2): the same pid and start
# time, another program. The watch that saw before_exec must name leaky's functions afterwards,
# with leaky's comm and counts. Once with ASLR, once without (setarch -R, as under gdb or with
# kernel.randomize_va_space=0): then leaky is mapped where churn was, and only knowing that
# the process exec'd keeps churn's maps and symbols from being used for leaky's code.
# A run proves something only if every scan saw a parked thread of the process: a scan that
# falls in the few milliseconds of the exec when none is parked makes parkwatch forget the
# process, and then anything it knew is gone anyway. Such runs are retried.
LEAKY=$(readlink -f "$WL/leaky")
for mode in aslr no-aslr; do
	pre=()
	[ $mode = no-aslr ] && pre=(setarch -R)
	for ((try = 1; try <= 6; try++)); do
		"${pre[@]}" "$WL/churn" --threads 0 --exec-after 4 "$LEAKY" --leaks 3 --pool 2 \
			--sleepers 0 --readers 0 >"$TMP/e.log" 2>&1 &
		EPID=$!
		PIDS+=("$EPID")
		wait_for "$TMP/e.log" '^READY pid=.* threads=0' 30 || fail "$mode: churn did not start"
		"$PW" watch -p "$EPID" -i 500ms -d 10s -m 300ms --json >"$TMP/e.json" 2>"$TMP/e.err" &
		wp=$!
		wait_for "$TMP/e.log" '^LEAKED_DONE 3$' 30 || fail "$mode: leaky did not run after the exec"
		te=$(settle "$TMP/e.json")
		wait $wp
		rc=$?
		kill -9 "$EPID" 2>/dev/null
		wait "$EPID" 2>/dev/null
		gaps=$(jq -s '[.[] | select(.parked_threads == 0)] | length' "$TMP/e.json")
		before=$(jq -s --argjson p "$EPID" '[.[].sites[] | select(.pid == $p and .comm == "churn"
			and (.site // "" | startswith("before_exec")))] | length' "$TMP/e.json")
		[ "$gaps" = 0 ] && [ "$before" -gt 0 ] && break
		echo "  info  exec ($mode): run $try not conclusive ($gaps scans saw no parked thread," \
			"$before saw before_exec): again"
	done
	f0=$FAILED
	check "exec ($mode): watch exits 0 (got $rc)" test $rc = 0
	check "exec ($mode): before_exec seen before the exec ($before samples)" test "$before" -gt 0
	if [ "$gaps" != 0 ]; then
		# Only on a host so loaded that the exec'd program never got to park between scans.
		echo "  skip  exec ($mode): no run had every scan see the process: what parkwatch kept" \
			"across the exec was not tested"
	fi
	late=$(jq -c --argjson a "$te" "$JQ_T"'select(t > $a)' "$TMP/e.json")
	nlate=$(grep -c . <<<"$late")
	check "exec ($mode): samples after the exec ($nlate)" test "$nlate" -ge 3
	fw=$(count_at <(echo "$late") "$EPID" fetch_worker 0 1e10)
	pw=$(count_at <(echo "$late") "$EPID" pool_worker 0 1e10)
	check "exec ($mode): leaky's fetch_worker named, 3 threads: $(echo $fw)" all_equal 3 "$fw"
	check "exec ($mode): leaky's pool_worker named, 2 threads: $(echo $pw)" all_equal 2 "$pw"
	comms=$(jq -r '.sites[].comm' <<<"$late" | sort -u | paste -sd,)
	check "exec ($mode): the sites have the new comm (leaky; got $comms)" test "$comms" = leaky
	old=$(jq -r '.sites[] | .site, (.frames[] | .file, .module)' <<<"$late" |
		grep -c 'churn\.c\|before_exec\|/churn')
	check "exec ($mode): nothing of churn is named after the exec ($old)" test "$old" = 0
	if [ "$FAILED" -gt "$f0" ]; then
		echo "  info  $mode: last sample: $(tail -1 "$TMP/e.json" |
			jq -c '[.sites[] | {comm, site, count, frames: [.frames[] | .func]}]')"
	fi
done
finish
