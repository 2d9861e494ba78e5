#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The seed's leak in C, beside a flat pool, sleepers and readers: every site is named, with
# file:line, and counted exactly; gdb agrees. Built without and with frame pointers.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

LEAKS=50
for bin in leaky leaky-fp; do
	echo "-- $bin"
	start "$bin" "$TMP/$bin.log" --leaks $LEAKS --pool 8 --sleepers 4 --readers 3 || continue
	pid=$WPID
	wait_for "$TMP/$bin.log" '^LEAKED_DONE' 60 || fail "$bin never finished leaking"
	sleep 1.5 # every thread is now parked for longer than the default --min-age
	if ! "$PW" snapshot -p "$pid" --json >"$TMP/$bin.json" 2>"$TMP/$bin.err"; then
		fail "$bin: snapshot failed: $(cat "$TMP/$bin.err")"
		continue
	fi
	j=$TMP/$bin.json
	check "$bin: valid JSON, schema 1" test "$(jq -r .schema "$j")" = 1
	check "$bin: leak site is fetch_worker with $LEAKS threads" \
		test "$(site_count "$j" fetch_worker)" = "$LEAKS"
	check "$bin: leak site has one futex word per leaked thread" \
		test "$(site_field "$j" fetch_worker futex_words)" = "$LEAKS"
	check "$bin: leak site names leaky.c:line" \
		bash -c "jq -r '.sites[].site' '$j' | grep -qE '^fetch_worker \\(leaky\\.c:[0-9]+\\)$'"
	check "$bin: pool site has 8 threads on 1 futex word" \
		test "$(site_count "$j" pool_worker)/$(site_field "$j" pool_worker futex_words)" = 8/1
	check "$bin: 4 sleepers waiting in nanosleep" \
		test "$(site_count "$j" sleeper)/$(site_field "$j" sleeper wait)" = 4/nanosleep
	check "$bin: 3 readers waiting in read" \
		test "$(site_count "$j" reader)/$(site_field "$j" reader wait)" = 3/read
	check "$bin: leak site has kernel frames" \
		test "$(jq '[.sites[] | select(.site // "" | startswith("fetch_worker")) | .kernel_frames | length] | .[0]' "$j")" -gt 0
	check "$bin: no unwind drops" test "$(jq .drops.unwind "$j")" = 0
	check "$bin: every drop reason present" \
		test "$(jq '.drops | keys | length' "$j")" -ge 9

	# Folded: flamegraph.pl's grammar, counts add up.
	"$PW" snapshot -p "$pid" --folded >"$TMP/$bin.folded" 2>"$TMP/$bin.fdrops"
	check "$bin: folded lines are 'stack count'" \
		bash -c "! grep -vE '^[^ ]+ [0-9]+$' '$TMP/$bin.folded'"
	check "$bin: folded leak line counts $LEAKS" \
		bash -c "grep 'fetch_worker' '$TMP/$bin.folded' | awk '{s+=\$NF} END {exit s != $LEAKS}'"
	check "$bin: folded drops on stderr" grep -q '^drops:' "$TMP/$bin.fdrops"

	# Table: the site, its count, and the drops line.
	"$PW" snapshot -p "$pid" >"$TMP/$bin.txt" 2>&1
	check "$bin: table shows the leak site" grep -qE "^ *$LEAKS .*fetch_worker" "$TMP/$bin.txt"
	check "$bin: table shows drops" grep -q '^drops:' "$TMP/$bin.txt"
	# Ground truth: gdb's backtraces aggregated by first non-libc frame. Last: attaching gdb
	# interrupts every sleep, so parks restart afterwards.
	tests/integration/gdb_oracle.sh "$pid" >"$TMP/$bin.gdb" 2>/dev/null
	for fn in fetch_worker pool_worker sleeper reader; do
		want=$(awk -F'\t' -v f=$fn '$2 == f {print $1}' "$TMP/$bin.gdb")
		check "$bin: $fn count matches gdb (${want:-none})" \
			test "$(site_count "$j" $fn)" = "${want:-0}"
	done

	kill -9 "$pid"
done
finish
