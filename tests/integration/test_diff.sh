#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# diff of two snapshots taken 20 s apart around the leak shows the leak site grown by exactly
# the number of threads the workload leaked in between.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

N=200
start leaky "$TMP/l.log" --leaks $N --rate 10 --phases 2 --pool 4 --sleepers 2 || finish
wait_for "$TMP/l.log" "^LEAKED_DONE $N\$" 60 || fail "first batch never finished"
sleep 1.5
"$PW" snapshot -p "$WPID" --json >"$TMP/a.json" || fail "snapshot A failed"
kill -USR1 "$WPID"
wait_for "$TMP/l.log" "^LEAKED_DONE $((2 * N))\$" 60 || fail "second batch never finished"
sleep 1.5
"$PW" snapshot -p "$WPID" --json >"$TMP/b.json" || fail "snapshot B failed"
"$PW" diff "$TMP/a.json" "$TMP/b.json" >"$TMP/d.txt"
check "diff: exit 0" test $? = 0
check "diff text: leak site grew by +$N" grep -qE "grew +\+$N +$N→$((2 * N)) .*fetch_worker" "$TMP/d.txt"
"$PW" diff --json "$TMP/a.json" "$TMP/b.json" >"$TMP/d.json"
d=$(jq '[.sites[] | select(.site // "" | startswith("fetch_worker")) | .delta][0]' "$TMP/d.json")
check "diff json: delta $d == $N" test "$d" = $N
check "diff json: flat sites unchanged (omitted)" \
	test "$(jq '[.sites[] | select(.site // "" | test("^(pool_worker|sleeper)"))] | length' "$TMP/d.json")" = 0
check "snapshots are >= 20 s apart" \
	test "$(jq -n --slurpfile a "$TMP/a.json" --slurpfile b "$TMP/b.json" '(($b[0].time | sub("\\.[0-9]+Z";"Z") | fromdate) - ($a[0].time | sub("\\.[0-9]+Z";"Z") | fromdate)) >= 19')" = true
"$PW" diff "$TMP/a.json" /nonexistent.json 2>"$TMP/e"
check "diff: missing file exits 1" test $? = 1
check "diff: one error line" test "$(wc -l <"$TMP/e")" = 1
finish
