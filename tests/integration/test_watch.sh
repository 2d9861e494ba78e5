#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Staircase or flat line: the seed's leak at 10 threads/s is flagged within 30 s with the right
# growth; flat pools, sleepers, readers and a burst that drains are never flagged.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

RATE=10
# verdicts LABEL FILE: the leak flagged within 30 s, the flat sites never.
verdicts() {
	local first fp
	first=$(jq -s '[.[] | select(any(.sites[]; .leak_suspect and (.site // "" | startswith("fetch_worker"))))][0].elapsed_s // 999' "$2")
	check "$1: leak flagged within 30 s (at ${first}s)" awk "BEGIN {exit !($first <= 30)}"
	fp=$(jq -s '[.[].sites[] | select(.leak_suspect and (.site // "" | test("^(pool_worker|sleeper|reader|main)")))] | length' "$2")
	check "$1: flat sites never flagged ($fp false suspects)" test "$fp" = 0
}
start leaky "$TMP/l.log" --leaks -1 --rate $RATE --pool 8 --sleepers 4 --readers 3 || finish
# Text mode alongside: one line per sample, a summary with the suspect's stack at the end.
"$PW" watch -p "$WPID" -i 1s -d 30s >"$TMP/t.txt" 2>&1 &
tp=$!
# And --ages exact alongside: the hot path times parks; the same verdicts.
"$PW" watch -p "$WPID" -i 1s -d 30s --json --ages exact >"$TMP/wx.json" 2>"$TMP/wx.err" &
xp=$!
"$PW" watch -p "$WPID" -i 1s -d 30s --json >"$TMP/w.json" 2>"$TMP/w.err" &
wp=$!
wait_for "$TMP/w.json" '"schema"' 30
wait_for "$TMP/wx.json" '"schema"' 30
names=$(prog_names_of "$wp")
check "watch (default, --ages bound): the scan only ($(echo $names))" test "$(echo $names)" = pw_scan
names=$(prog_names_of "$xp")
check "watch --ages exact: the hot path too ($(echo $names))" \
	test "$(echo $names)" = "pw_process_exit pw_scan pw_sched_switch"
wait $wp
check "watch: exit 0" test $? = 0
wait $tp
n=$(wc -l <"$TMP/w.json")
check "watch: one JSON line per sample ($n)" test "$n" -ge 28 -a "$n" -le 32
check "watch: samples carry growth, trend and verdict" \
	test "$(jq -s '[.[-1].sites[] | has("growth_per_min") and .trend != null] | all' "$TMP/w.json")" = true
verdicts watch "$TMP/w.json"
g=$(jq -s '[.[-1].sites[] | select(.site // "" | startswith("fetch_worker")) | .growth_per_min][0] // 0' "$TMP/w.json")
check "watch: growth ${g}/min within 15% of $((RATE * 60))/min" \
	awk "BEGIN {exit !($g >= $RATE * 60 * 0.85 && $g <= $RATE * 60 * 1.15)}"

check "watch text: summary names the leak suspect" grep -q "LEAK SUSPECT fetch_worker" "$TMP/t.txt"
check "watch (default): every age a lower bound" \
	test "$(jq -s '[.[].sites[] | .age_is_lower_bound] | all' "$TMP/w.json")" = true
wait $xp
check "--ages exact: exit 0 ($(head -1 "$TMP/wx.err"))" test $? = 0
verdicts "--ages exact" "$TMP/wx.json"

# With --ages exact, ages of parks the hot path saw start are exact (to a scheduler tick), not lower bounds: a
# process started once watch is attached sleeps from its start. Both park clocks: jiffies (the
# kernel's HZ known) and ns (the fallback where its config cannot be read). Then with every
# thread of the host sharing one park slot (a test hook): the record of the sleeper's park is
# overwritten by the next thread that parks, so its age is a lower bound, flagged, and never
# more than the truth. The same without --ages exact (no hot path: the scheduler's stamps).
cp "$(command -v sleep)" "$TMP/pwagesleep"
for clock in jiffies ns shared bound; do
	env=()
	args=(--ages exact)
	[ $clock = ns ] && env=(PARKWATCH_TEST_NS_CLOCK=1)
	[ $clock = shared ] && env=(PARKWATCH_TEST_PARK_SLOTS_SHARED=1)
	[ $clock = bound ] && args=()
	env "${env[@]}" "$PW" watch -c pwagesleep -i 1s -d 7s --json -m 0 "${args[@]}" >"$TMP/a.json" 2>"$TMP/a.err" &
	ap=$!
	wait_for "$TMP/a.json" '"schema"' 30
	t0=$(date +%s.%N)
	"$TMP/pwagesleep" 60 &
	sp=$!
	PIDS+=("$sp")
	wait "$ap"
	kill "$sp"
	last=$(jq -c -s --argjson p "$sp" '[.[] | select(any(.sites[]; .pid == $p))][-1]' "$TMP/a.json")
	t=$(date -d "$(jq -r .time <<<"$last")" +%s.%N)
	age=$(jq --argjson p "$sp" '[.sites[] | select(.pid == $p)][0].oldest_age_s' <<<"$last")
	lb=$(jq --argjson p "$sp" '[.sites[] | select(.pid == $p)][0].age_is_lower_bound' <<<"$last")
	if [ $clock = shared ] || [ $clock = bound ]; then
		check "$clock: ${age}s, started $(echo "$t - $t0" | bc)s before the scan: not more" \
			awk "BEGIN { d = $age - ($t - $t0); exit !(d < 0.02 && $age > 0) }"
		check "$clock: flagged as a lower bound" test "$lb" = true
		continue
	fi
	check "exact age ($clock): ${age}s, started $(echo "$t - $t0" | bc)s before the scan" \
		awk "BEGIN { d = $age - ($t - $t0); exit !(d > -0.5 && d < 0.02 && $age > 3) }"
	check "exact age ($clock): not a lower bound" test "$lb" = false
done
check "watch text: summary shows the suspect's stack" grep -q "at start_thread" "$TMP/t.txt"
check "watch text: drops line" grep -q "^drops:" "$TMP/t.txt"
kill -9 "$WPID"

# A burst that rises and drains back is not a leak.
start leaky "$TMP/b.log" --burst 200 --drain-after 8 --pool 2 || finish
"$PW" watch -p "$WPID" -i 1s -d 25s --json -m 0 >"$TMP/b.json" 2>/dev/null
grep -q BURST_DRAINED "$TMP/b.log"
check "burst: the workload drained" test $? = 0
check "burst: it was seen (max count >= 190)" \
	test "$(jq -s '[.[].sites[] | select(.site // "" | startswith("burst_worker")) | .count] | max // 0' "$TMP/b.json")" -ge 190
fp=$(jq -s '[.[].sites[] | select(.leak_suspect)] | length' "$TMP/b.json")
check "burst: never flagged ($fp suspects)" test "$fp" = 0
kill -9 "$WPID"

# The reader goes away (watch | head): watch stops at its next sample, quietly, with status 0,
# long before its duration. A full disk is an error: one line, non-zero status.
start leaky "$TMP/h.log" --pool 2 || finish
for mode in --json ""; do
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$PW" watch -p "$WPID" -i 1s -d 60s $mode 2>"$TMP/h.err" | head -1 >"$TMP/h.out"
	rc=${PIPESTATUS[0]}
	t=$(($(date +%s) - t0))
	check "reader gone (${mode:-text}): exit 0 (got $rc)" test "$rc" = 0
	check "reader gone (${mode:-text}): stopped in ${t}s, not at -d 60s" test "$t" -lt 30
	check "reader gone (${mode:-text}): nothing on stderr ($(head -1 "$TMP/h.err"))" test ! -s "$TMP/h.err"
	check "reader gone (${mode:-text}): the one line it read is whole" test "$(wc -l <"$TMP/h.out")" = 1
done
"$PW" watch -p "$WPID" -i 1s -d 3s --json >/dev/full 2>"$TMP/f.err"
rc=$?
check "full disk: non-zero exit (got $rc)" test "$rc" != 0
check "full disk: one line says so ($(head -1 "$TMP/f.err"))" \
	test "$(grep -c 'cannot write the sample: No space left on device' "$TMP/f.err")" = 1 -a "$(wc -l <"$TMP/f.err")" = 1
kill -9 "$WPID"

# SIGINT ends watch cleanly with its summary.
start leaky "$TMP/s.log" --pool 2 || finish
"$PW" watch -p "$WPID" -i 1s >"$TMP/s.txt" 2>&1 &
wp=$!
PIDS+=("$wp")
# Its program ids once it has attached everything, i.e. printed its first sample (polled: a
# sanitizer build takes seconds to get there). Read from its own fds, not a before/after diff
# of every pw_ program on the host, which another parkwatch running meanwhile would join.
own_prog_ids() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u; }
wait_for "$TMP/s.txt" 'parked=' 60 || fail "SIGINT: no sample from watch in 60 s: $(tail -1 "$TMP/s.txt")"
mine=$(own_prog_ids $wp)
check "SIGINT: watch holds its BPF programs while it runs ($(echo $mine))" test -n "$mine"
kill -INT $wp
wait $wp
check "SIGINT: exit 0" test $? = 0
check "SIGINT: summary printed" grep -q "== parkwatch watch" "$TMP/s.txt"
check "SIGINT: its BPF programs are gone" ids_gone "$mine"
finish
