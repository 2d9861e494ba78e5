#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Bad input: one clear line on stderr and the right exit code; never a crash.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

# expect CODE REGEX -- ARGS...: exit code, and exactly one stderr line matching REGEX.
expect() {
	local code=$1 re=$2
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	check "'${*:2}' exits $code (got $rc)" test "$rc" = "$code"
	check "'${*:2}' says one line" test "$(wc -l <"$TMP/err")" = 1
	check "'${*:2}' says /$re/" grep -qE "$re" "$TMP/err"
}

expect 1 '^parkwatch: no process with pid 999999$' -- "$PW" snapshot -p 999999
expect 2 "invalid pid 'abc'" -- "$PW" snapshot -p abc
expect 2 "invalid --min-age '5parsecs'" -- "$PW" snapshot --min-age 5parsecs
expect 2 "unknown option '--bogus'" -- "$PW" snapshot --bogus
expect 2 "needs a value" -- "$PW" snapshot -p
expect 2 "unknown command 'frobnicate'" -- "$PW" frobnicate
expect 2 "exclusive" -- "$PW" snapshot --json --folded
expect 2 "invalid --ages 'precise': expected exact or bound" -- "$PW" watch --ages precise
expect 2 "ages exact: a snapshot times no park" -- "$PW" snapshot --ages exact
expect 1 'missing CAP_BPF.*run with sudo' -- setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all "$PW" snapshot

# --version and --help answer at once, whatever the terminal; they load nothing.
for a in --version -V version; do
	out=$("$PW" $a 2>&1)
	check "'parkwatch $a' prints the version, exit 0 ($out)" test $? = 0 -a "$out" = "parkwatch $(sed -n 's/^VERSION := //p' Makefile)"
done
for a in --help -h help; do
	"$PW" $a >"$TMP/h.out" 2>&1
	check "'parkwatch $a' exits 0" test $? = 0
	check "'parkwatch $a' lists the commands and examples" grep -q "^Examples:" "$TMP/h.out"
done

# A pid that exits while parkwatch scans: a warning line, the rest still reported.
start leaky "$TMP/l.log" --pool 3 --sleepers 0 --readers 0 || finish
sleep 300 &
short=$!
PIDS+=("$short")
(sleep 0.5; kill -9 $short) &
PARKWATCH_TEST_SCAN_DELAY_MS=1500 "$PW" snapshot -p "$WPID" -p $short --json >"$TMP/v.json" 2>"$TMP/v.err"
rc=$?
check "vanished pid: exit 0 when another pid remains (got $rc)" test $rc = 0
check "vanished pid: one warning line" grep -q "pid $short exited during the scan" "$TMP/v.err"
check "vanished pid: the rest is reported" test "$(site_count "$TMP/v.json" pool_worker)" = 3
check "vanished pid: counted as a drop" test "$(jq .drops.proc_gone "$TMP/v.json")" -ge 1
sleep 300 &
short=$!
PIDS+=("$short")
(sleep 0.5; kill -9 $short) &
PARKWATCH_TEST_SCAN_DELAY_MS=1500 "$PW" snapshot -p $short >/dev/null 2>"$TMP/v2.err"
check "only pid vanished: exit 1" test $? = 1

# A full map: a one-entry per-word futex map under --futex-events while a workload waits on
# ever new futex words. The drops are counted, in every output format.
start leaky "$TMP/f.log" --leaks -1 --rate 100 --pool 0 --sleepers 0 --readers 0 || finish
fp=$WPID
for fmt in --json "" --folded; do
	PARKWATCH_TEST_SCAN_DELAY_MS=1000 "$PW" snapshot -p "$fp" --futex-events --futex-words 1 \
		$fmt >"$TMP/full.out" 2>"$TMP/full.err"
	check "full futex map ($fmt): exit 0" test $? = 0
	case $fmt in
	--json) n=$(jq .drops.futex_map "$TMP/full.out") ;;
	"") n=$(grep -oE 'futex_map=[0-9]+' "$TMP/full.out" | cut -d= -f2) ;;
	--folded) n=$(grep -oE 'futex_map=[0-9]+' "$TMP/full.err" | cut -d= -f2) ;;
	esac
	check "full futex map ($fmt): drops shown (${n:-none})" test "${n:-0}" -gt 0
done
# With room in the map, the events count the waits on the leak site's words (short ones too).
PARKWATCH_TEST_SCAN_DELAY_MS=1000 "$PW" snapshot -p "$fp" --futex-events --json >"$TMP/fe.json"
check "futex events: waits counted on the leak site's words" \
	test "$(jq '[.sites[] | select(.site // "" | startswith("fetch_worker")) | .futex_waits][0] // 0' "$TMP/fe.json")" -gt 0
check "futex events: no drops with room in the map" test "$(jq .drops.futex_map "$TMP/fe.json")" = 0
"$PW" snapshot -p "$fp" --json >"$TMP/nofe.json"
check "without futex events: counts are null, not zero" \
	test "$(jq '[.sites[] | .futex_waits] | all(. == null)' "$TMP/nofe.json")" = true
finish
