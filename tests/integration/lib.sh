#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Helpers for the integration tests: start workloads, run parkwatch, assert.
# Each test script sources this, calls pass/fail, and ends with finish.

BUILD=${BUILD:-build}
PW=${PW:-$BUILD/parkwatch}
WL=$BUILD/workloads
TMP=$(mktemp -d /tmp/pwtest.XXXXXX)
PASSED=0
FAILED=0
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$*"; }
check() { # check "description" test-expression...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# start NAME LOGFILE ARGS... : run a workload in the background and wait for READY.
# Sets $WPID. Fails the test (and returns 1) if READY does not come in 60 s.
start() {
	local bin=$1 log=$2
	shift 2
	"$WL/$bin" "$@" >"$log" 2>&1 &
	WPID=$!
	PIDS+=("$WPID")
	wait_for "$log" '^READY' 60 || { fail "$bin did not get READY: $(tail -2 "$log")"; return 1; }
}

# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The count of the site whose label starts with $2 in snapshot JSON $1 (0 if none).
site_count() {
	jq -r --arg s "$2" '[.sites[] | select(.site != null and (.site | startswith($s))) | .count] | add // 0' "$1"
}
site_field() { # JSON LABEL-PREFIX FIELD
	jq -r --arg s "$2" --arg f "$3" '[.sites[] | select(.site != null and (.site | startswith($s)))][0][$f]' "$1"
}

# BPF must load in CI; elsewhere a host without BPF skips the BPF tests.
require_bpf() {
	local out
	if out=$("$PW" snapshot -p $$ --json 2>&1 >/dev/null); then
		return 0
	fi
	if [ "${CI:-}" = true ]; then
		fail "parkwatch cannot load its BPF programs in CI: $out"
		finish
	fi
	echo "  skip  BPF not available here: $out"
	exit 0
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# IDs of loaded BPF programs that are parkwatch's (by name).
pw_prog_ids() {
	bpftool prog show 2>/dev/null | sed -nE 's/^([0-9]+): .* name (pw_[a-z_]+) .*/\1/p' | sort
}
# Names of the BPF programs process $1 holds open (its fdinfo), sorted, one per line.
prog_names_of() {
	local id
	for id in $(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un); do
		bpftool prog show id "$id" 2>/dev/null | sed -nE 's/^[0-9]+: .* name ([a-z_0-9]+) .*/\1/p'
	done | sort -u
}
# Names of the BPF maps process $1 holds.
map_names_of() {
	local id
	for id in $(grep -h '^map_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un); do
		bpftool map show id "$id" 2>/dev/null | sed -nE 's/^[0-9]+: [a-z_]+ +name ([a-z_0-9.]+) .*/\1/p'
	done | sort -u
}
# Programs in the second list that were not in the first: what one parkwatch run loaded.
new_ids() { comm -13 <(echo "$1") <(echo "$2"); }
# None of the given program ids is still loaded.
# Polls a few seconds: the kernel frees sleepable programs after an RCU-tasks-trace grace period.
ids_gone() {
	local now i
	for i in $(seq 50); do
		now=$(pw_prog_ids)
		[ -n "$1" ] && [ -z "$(comm -12 <(echo "$1") <(echo "$now"))" ] && return 0
		sleep 0.1
	done
	return 1
}
