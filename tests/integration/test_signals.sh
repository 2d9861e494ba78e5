#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Signals and detach: SIGINT, SIGTERM and SIGHUP end every long-running mode (watch, watch
# --json, export, top in a real terminal) with exit 0, the BPF programs detached and the last
# output complete. After kill -9 (no handler, no cleanup of ours) the kernel must still drop
# every program and link: nothing of parkwatch stays attached.
#
# The programs and links of a run are read from its own fds (/proc/PID/fdinfo), not from a
# before/after diff of bpftool: another parkwatch may be loading programs on this host meanwhile.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

# bpf_ids PID: "prog ID" and "link ID" lines for the BPF objects the process holds.
bpf_ids() {
	grep -hE '^(prog_id|link_id):' /proc/"$1"/fdinfo/* 2>/dev/null |
		sed -E 's/^(prog|link)_id:[[:space:]]+/\1 /' | sort -u
}
# wait_loaded PID: until the process holds the scan iterator's link (everything is attached).
wait_loaded() {
	local i
	for ((i = 0; i < 100; i++)); do
		bpf_ids "$1" | grep -q '^link ' && [ "$(bpf_ids "$1" | grep -c '^prog ')" -ge 1 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
# detached IDS: within 5 s, none of these programs is loaded and no link holds any of them.
detached() {
	local progs loaded linked i
	progs=$(awk '$1 == "prog" {print $2}' <<<"$1" | sort)
	[ -n "$progs" ] || return 1
	for ((i = 0; i < 50; i++)); do
		loaded=$(bpftool prog show -j 2>/dev/null | jq -r '.[].id' | sort -u)
		linked=$(bpftool link show -j 2>/dev/null | jq -r '.[].prog_id // empty' | sort -u)
		if [ -z "$(comm -12 <(echo "$progs") <(echo "$loaded"))" ] &&
			[ -z "$(comm -12 <(echo "$progs") <(echo "$linked"))" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "    still there: $(comm -12 <(echo "$progs") <(sort -u <<<"$loaded$linked") | paste -sd' ')" >&2
	return 1
}
# json_complete FILE: at least one line, and every line is one complete schema-1 object.
json_complete() {
	[ -s "$1" ] && [ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ] &&
		jq -e -s 'length > 0 and all(.[]; .schema == 1 and has("drops") and has("sites"))' \
			"$1" >/dev/null 2>&1
}
# prom_complete FILE: the first family first, the timestamp (always written last) last.
prom_complete() {
	head -1 "$1" | grep -q '^# HELP parkwatch_build_info ' &&
		tail -1 "$1" | grep -qE '^parkwatch_last_scan_timestamp_seconds [0-9]+\.[0-9]+$' &&
		{ ! command -v promtool >/dev/null || [ -z "$(promtool check metrics <"$1" 2>&1)" ]; }
}

start leaky "$TMP/l.log" --leaks 5 --pool 2 --sleepers 1 --readers 0 || finish
wait_for "$TMP/l.log" '^LEAKED_DONE' 30

for sig in INT TERM HUP; do
	# watch, text: the summary and the drops line end the output.
	"$PW" watch -p "$WPID" -i 500ms >"$TMP/w.txt" 2>"$TMP/w.err" &
	p=$!
	wait_loaded $p || fail "watch ($sig): BPF never attached"
	wait_for "$TMP/w.txt" 'parked=' 10
	sleep 1
	ids=$(bpf_ids $p)
	kill -s $sig $p
	wait $p
	rc=$?
	check "watch SIG$sig: exit 0 (got $rc)" test $rc = 0
	check "watch SIG$sig: summary printed" grep -q '^== parkwatch watch' "$TMP/w.txt"
	check "watch SIG$sig: the output ends with the drops line" \
		bash -c "tail -1 '$TMP/w.txt' | grep -q '^drops: '"
	check "watch SIG$sig: nothing on stderr ($(head -1 "$TMP/w.err"))" test ! -s "$TMP/w.err"
	check "watch SIG$sig: $(grep -c prog <<<"$ids") programs, $(grep -c link <<<"$ids") links, all gone" \
		detached "$ids"

	# watch --json: every line one complete object, the last one too.
	"$PW" watch -p "$WPID" -i 200ms --json >"$TMP/w.json" 2>"$TMP/wj.err" &
	p=$!
	wait_loaded $p || fail "watch --json ($sig): BPF never attached"
	wait_for "$TMP/w.json" 'schema' 10
	sleep 1.1 # lands anywhere in an interval, maybe in a scan
	ids=$(bpf_ids $p)
	kill -s $sig $p
	wait $p
	rc=$?
	check "watch --json SIG$sig: exit 0 (got $rc)" test $rc = 0
	check "watch --json SIG$sig: $(wc -l <"$TMP/w.json") lines, all complete" json_complete "$TMP/w.json"
	check "watch --json SIG$sig: the last sample counts the leak (5)" \
		test "$(tail -1 "$TMP/w.json" | jq '[.sites[] | select(.site // "" | startswith("fetch_worker")) | .count] | add')" = 5
	check "watch --json SIG$sig: programs and links gone" detached "$ids"

	# export: the file in place stays complete.
	rm -rf "$TMP/tf"
	mkdir -p "$TMP/tf"
	"$PW" export --textfile-dir "$TMP/tf" -p "$WPID" -i 300ms >"$TMP/x.out" 2>"$TMP/x.err" &
	p=$!
	wait_loaded $p || fail "export ($sig): BPF never attached"
	wait_for "$TMP/tf/parkwatch.prom" 'parkwatch_last_scan_timestamp_seconds' 10
	sleep 1.1
	ids=$(bpf_ids $p)
	kill -s $sig $p
	wait $p
	rc=$?
	check "export SIG$sig: exit 0 (got $rc)" test $rc = 0
	check "export SIG$sig: parkwatch.prom complete" prom_complete "$TMP/tf/parkwatch.prom"
	check "export SIG$sig: no temp file left behind" \
		test -z "$(find "$TMP/tf" -name '.parkwatch.prom.*')"
	check "export SIG$sig: nothing printed" test ! -s "$TMP/x.out" -a ! -s "$TMP/x.err"
	check "export SIG$sig: programs and links gone" detached "$ids"
done

# ---- top, in a real terminal (a tmux server of our own) ----
if command -v tmux >/dev/null; then
	PWABS=$(readlink -f "$PW")
	SOCK=pwsig$$
	tm() { tmux -u -L "$SOCK" "$@"; }
	trap 'tm kill-server 2>/dev/null; cleanup' EXIT
	for sig in INT TERM HUP; do
		cat >"$TMP/top.sh" <<-EOF
			#!/bin/bash
			"$PWABS" top -p $WPID -i 500ms 2>"$TMP/top.err"
			echo "TOP_EXIT=\$?"
			echo "TTY: \$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | paste -sd' ')"
			sleep 60
		EOF
		chmod +x "$TMP/top.sh"
		tm new-session -d -s s$sig -x 120 -y 30 -e LC_ALL=C.UTF-8 "$TMP/top.sh"
		bpid=$(tm display -p -t s$sig '#{pane_pid}')
		p=
		for ((i = 0; i < 50 && !p; i++)); do
			p=$(pgrep -P "$bpid" -x parkwatch | head -1)
			sleep 0.1
		done
		if [ -z "$p" ] || ! wait_loaded "$p"; then
			fail "top ($sig): did not start: $(tm capture-pane -p -t s$sig | head -3)"
			continue
		fi
		sleep 1.5
		ids=$(bpf_ids "$p")
		kill -s $sig "$p"
		for ((i = 0; i < 50; i++)); do
			tm capture-pane -p -t s$sig | grep -q '^TTY: ' && break
			sleep 0.1
		done
		tm capture-pane -p -t s$sig >"$TMP/top.txt"
		check "top SIG$sig: exit 0 within 5 s ($(grep TOP_EXIT "$TMP/top.txt"))" \
			grep -qx 'TOP_EXIT=0' "$TMP/top.txt"
		check "top SIG$sig: terminal restored (canonical mode, echo)" \
			grep -qx 'TTY: icanon echo' "$TMP/top.txt"
		check "top SIG$sig: the curses screen is gone" \
			test "$(tm display -p -t s$sig '#{alternate_on}')" = 0
		check "top SIG$sig: no error printed ($(head -1 "$TMP/top.err"))" test ! -s "$TMP/top.err"
		check "top SIG$sig: programs and links gone" detached "$ids"
		tm kill-session -t s$sig
	done
elif [ "${CI:-}" = true ]; then
	fail "tmux is missing (make deps installs it)"
else
	echo "  skip  top: tmux not installed"
fi

# ---- kill -9: no handler runs, the kernel must clean up ----
# snapshot is held in its scan by the test hook, the others are long-running.
mkdir -p "$TMP/tf9"
for mode in snapshot watch export top; do
	case $mode in
	snapshot) PARKWATCH_TEST_SCAN_DELAY_MS=20000 "$PW" snapshot -p "$WPID" --futex-events \
		>/dev/null 2>&1 & ;;
	watch) "$PW" watch -p "$WPID" -i 200ms --futex-events >/dev/null 2>&1 & ;;
	export) "$PW" export --textfile-dir "$TMP/tf9" -i 200ms >/dev/null 2>&1 & ;;
	top) "$PW" top -p "$WPID" -i 200ms </dev/null >/dev/null 2>&1 & ;; # not a tty: watch lines
	esac
	p=$!
	if ! wait_loaded $p; then
		fail "kill -9 $mode: BPF never attached"
		kill -9 $p
		continue
	fi
	sleep 0.7
	ids=$(bpf_ids $p)
	kill -9 $p
	wait $p 2>/dev/null
	check "kill -9 $mode: $(grep -c prog <<<"$ids") programs, $(grep -c link <<<"$ids") links, all gone" \
		detached "$ids"
done
finish
