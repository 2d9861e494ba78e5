#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# 5,000 threads parked before parkwatch starts: all reported, attributed, ages lower bounds.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

N=5000
start preparked "$TMP/p.log" --threads $N || finish
a=$(sed -nE 's/^READY .* a=([0-9]+).*/\1/p' "$TMP/p.log")
b=$(sed -nE 's/^READY .* b=([0-9]+).*/\1/p' "$TMP/p.log")
sleep 1.5
j=$TMP/p.json
t0=$(date +%s.%N)
"$PW" snapshot -p "$WPID" --json >"$j" || fail "snapshot failed"
t1=$(date +%s.%N)
echo "  info  snapshot of $N pre-parked threads took $(echo "$t1 - $t0" | bc) s"
ca=$(site_count "$j" parked_worker_a)
cb=$(site_count "$j" parked_worker_b)
check "all $N threads reported (a=$ca/$a b=$cb/$b)" test $((ca + cb)) -eq $N
check "parked_worker_a count exact" test "$ca" = "$a"
check "parked_worker_b count exact" test "$cb" = "$b"
check "ages are lower bounds" \
	test "$(jq '[.sites[] | select(.site // "" | startswith("parked_worker")) | .age_is_lower_bound] | all' "$j")" = true
check "lower-bound ages are at least 1 s" \
	test "$(jq '[.sites[] | select(.site // "" | startswith("parked_worker")) | .oldest_age_s >= 1] | all' "$j")" = true
check "no drops" test "$(jq '[.drops[]] | add' "$j")" = 0

# A one-shot snapshot attaches no hot path (attaching and detaching it sends IPIs to the
# target's CPUs, for nothing a snapshot reports); watch --ages exact does. Both held while they run.
PARKWATCH_TEST_SCAN_DELAY_MS=3000 "$PW" snapshot -p "$WPID" --json >"$TMP/d.json" 2>"$TMP/d.err" &
sp=$!
names=""
for i in $(seq 50); do
	names=$(prog_names_of "$sp")
	echo "$names" | grep -q pw_scan && break
	sleep 0.1
done
check "snapshot holds the scan iterator ($(echo $names))" grep -qx pw_scan <<<"$names"
check "snapshot attaches no sched_switch or exit program" \
	test -z "$(grep -x -e pw_sched_switch -e pw_process_exit <<<"$names")"
# Nor does it load the hot path's object at all: its maps would be a second BTF parse and
# map set-up for nothing (the scan's own maps serve).
maps=$(map_names_of "$sp")
check "snapshot holds the scan's maps ($(echo $maps))" grep -qx park_state <<<"$maps"
check "snapshot creates none of the hot path's maps" \
	test -z "$(grep -x -e futex_words -e futex_slots <<<"$maps")"
wait "$sp"
check "that snapshot still reports every thread, ages lower bounds" \
	test "$(jq '[.sites[] | select(.site // "" | startswith("parked_worker")) | select(.age_is_lower_bound) | .count] | add' "$TMP/d.json")" = $N
"$PW" watch -p "$WPID" -i 1s --ages exact >"$TMP/w.log" 2>&1 &
wp=$!
PIDS+=("$wp")
wait_for "$TMP/w.log" 'parked=' 60
names=$(prog_names_of "$wp")
check "watch --ages exact attaches the hot path ($(echo $names))" grep -qx pw_sched_switch <<<"$names"
kill -INT "$wp"
wait "$wp"
finish
