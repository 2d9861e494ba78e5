#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Two threads deadlocked on two mutexes plus a convoy behind one of them: each site waits on
# exactly one futex word.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

for bin in deadlock deadlock-fp; do
	start "$bin" "$TMP/$bin.log" --convoy 5 || continue
	sleep 1.5
	j=$TMP/$bin.json
	"$PW" snapshot -p "$WPID" --json >"$j" || fail "$bin: snapshot failed"
	check "$bin: lock_ab waits on 1 word" test "$(site_field "$j" lock_ab futex_words)" = 1
	check "$bin: lock_ba waits on 1 word" test "$(site_field "$j" lock_ba futex_words)" = 1
	check "$bin: convoy of 5 on 1 word" \
		test "$(site_count "$j" convoy)/$(site_field "$j" convoy futex_words)" = 5/1
	check "$bin: the two deadlocked threads wait on different words" \
		test "$(jq '[.sites[] | select(.site // "" | test("^lock_(ab|ba)")) | .count] | add' "$j")" = 2
	kill -9 "$WPID"
done
finish
