#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# --futex-events over a long run: watch reports per-word counts, and the words of processes
# that exited are purged, so the per-word map does not fill up with the dead until new words
# are dropped. (That a reused pid does not inherit a dead process's counts is tested against a
# live tracer in tests/unit/test_tracer.c: a real pid reuse needs clone3's set_tid.)
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

# ---- counts are reported ----
start leaky "$TMP/l.log" --leaks -1 --rate 20 --pool 4 --sleepers 0 --readers 0 || finish
"$PW" watch --futex-events -p "$WPID" -i 1s -d 4s --json >"$TMP/w.json" 2>"$TMP/w.err"
check "watch --futex-events: exit 0 ($(head -1 "$TMP/w.err"))" test $? = 0
last=$(tail -1 "$TMP/w.json")
fw=$(jq '[.sites[] | select(.site // "" | startswith("fetch_worker")) | .futex_waits][0] // 0' <<<"$last")
check "watch --futex-events: waits counted on the leak's words ($fw)" test "$fw" -gt 0
check "watch --futex-events: the pool's counts are numbers, not null" \
	test "$(jq '[.sites[] | select(.site // "" | startswith("pool_worker")) | .futex_wakes | type][0]' <<<"$last")" = '"number"'
kill -9 "$WPID"
wait "$WPID" 2>/dev/null

# ---- the dead are purged ----
# A small map (128 per-CPU slots, a 128-entry hash), purged every 2 s (a test hook; 60 s
# otherwise). A leaks 600 requests, each waiting on a word of its own: the map fills and drops
# are counted. A exits; after a purge, B's 30 new words all find room: no new drop. Without the
# purge A's dead words would hold the whole hash and most of B's words would be dropped.
PARKWATCH_TEST_PURGE_S=2 "$PW" watch --futex-events --futex-words 128 -c leaky -i 1s --json \
	>"$TMP/p.json" 2>"$TMP/p.err" &
wp=$!
PIDS+=("$wp")
wait_for "$TMP/p.json" '"schema"' 60 || fail "no sample from watch in 60 s: $(tail -1 "$TMP/p.err")"
drops() { tail -1 "$TMP/p.json" | jq '.drops.futex_map'; }
start leaky "$TMP/a.log" --leaks 600 --pool 0 --sleepers 0 --readers 0 || finish
apid=$WPID
wait_for "$TMP/a.log" '^LEAKED_DONE' 60 || fail "A did not leak 600: $(tail -1 "$TMP/a.log")"
for i in $(seq 50); do
	[ "$(drops)" -gt 0 ] 2>/dev/null && break
	sleep 0.2
done
d0=$(drops)
check "a full map: A's words dropped ($d0)" test "${d0:-0}" -gt 0
kill -9 "$apid"
wait "$apid" 2>/dev/null
sleep 6 # a purge (due every 2 s, run by the next scan), with a margin for slow builds
d1=$(drops)
start leaky "$TMP/b.log" --leaks 30 --pool 0 --sleepers 0 --readers 0 || finish
bpid=$WPID
wait_for "$TMP/b.log" '^LEAKED_DONE' 60 || fail "B did not leak 30: $(tail -1 "$TMP/b.log")"
sleep 2.5 # two samples
d2=$(drops)
check "after the purge: B's words find room, no new drop ($d1 -> $d2)" test "$d1" = "$d2"
bw=$(tail -1 "$TMP/p.json" | jq --argjson p "$bpid" \
	'[.sites[] | select(.pid == $p and (.site // "" | startswith("fetch_worker"))) | .futex_waits][0] // 0')
check "after the purge: B's waits counted ($bw)" test "$bw" -gt 0
kill -INT "$wp"
wait "$wp"
check "watch: exit 0 on SIGINT" test $? = 0
finish
