#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# parkwatch top in a real terminal (tmux): the leak's staircase as a rising sparkline beside a
# flat pool, the keys (select, expand a stack, sort, pid filter), resizing, a pid that vanishes,
# and Ctrl-C: the terminal is restored and the BPF programs are gone. Every assertion is on what
# a person would see in the pane, plus the process and BPF state behind it.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

# Block characters and byte-counting tools: everything here runs in a UTF-8 locale.
export LC_ALL=C.UTF-8
if ! command -v tmux >/dev/null; then
	if [ "${CI:-}" = true ]; then
		fail "tmux is missing (make deps installs it)"
		finish
	fi
	echo "  skip  tmux not installed"
	exit 0
fi
if ! "$PW" top --help 2>/dev/null | grep -q 'parkwatch top'; then
	fail "'$PW top' is not a command"
	finish
fi

PWABS=$(readlink -f "$PW")
SOCK=pwtop$$ # a tmux server of our own: never touches the user's sessions
S=pwtop$$
tm() { tmux -u -L "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; cleanup' EXIT

pane() { tm capture-pane -p -t "$S"; }
keys() { tm send-keys -t "$S" "$@"; }
# wait_pane REGEX SECONDS: until the pane shows a line matching REGEX.
wait_pane() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		pane | grep -qE -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
row() { grep -E -- "$2" "$1" | head -1; } # FILE REGEX: the first row matching
spark() { grep -oE '[▁▂▃▄▅▆▇█]+' <<<"$1" | head -1; }
level() { # the height 0..7 of one block character
	local b=▁▂▃▄▅▆▇█ t
	t=${b%%"$1"*}
	echo ${#t}
}
count_of() { awk '{sub(/^[>!]+/, ""); print $1}' <<<"$1"; }
alive() { kill -0 "$1" 2>/dev/null; }
no_pane() { ! pane | grep -qE -- "$1"; }
LEAK='chan_send|fetch_worker'

start leaky "$TMP/l.log" --leaks 1000 --rate 5 --pool 4 --sleepers 2 --readers 0 || finish

# Not a terminal: watch's plain lines, no escape codes.
"$PW" top -p "$WPID" -i 500ms -d 2s >"$TMP/plain.txt" 2>&1 </dev/null
check "not on a terminal: plain lines with the parked count" grep -q 'parked=' "$TMP/plain.txt"
check "not on a terminal: no escape codes" bash -c "! grep -q $'\\e' '$TMP/plain.txt'"

cat >"$TMP/run.sh" <<EOF
#!/bin/bash
"$PWABS" top -p $WPID -i 1s 2>"$TMP/top.err"
echo "TOP_EXIT=\$?"
echo "TTY: \$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | paste -sd' ')"
sleep 120
EOF
chmod +x "$TMP/run.sh"
tm new-session -d -s "$S" -x 120 -y 40 -e LC_ALL=C.UTF-8 "$TMP/run.sh"
bpid=$(tm display -p -t "$S" '#{pane_pid}')
TPID=
for ((i = 0; i < 50 && !TPID; i++)); do
	TPID=$(pgrep -P "$bpid" | head -1)
	sleep 0.1
done
check "top is running (pid ${TPID:-none})" test -n "$TPID"

# ~12 scans: the leak (5/s) has a staircase of at least 10 cells.
grow() { local s; s=$(spark "$(pane | grep -E "$LEAK" | head -1)"); [ ${#s} -ge 10 ]; }
for ((i = 0; i < 300 && ${#TPID} > 0; i++)); do
	grow && break
	alive "$TPID" || break
	sleep 0.1
done
pane >"$TMP/p1.txt"
l=$(row "$TMP/p1.txt" "$LEAK")
sp=$(spark "$l")
check "header: parked threads, sites, suspects" \
	grep -qE '^parkwatch top +[0-9]+ parked threads? in [0-9]+ sites?, [0-9]+ leak suspects?' "$TMP/p1.txt"
check "header: interval and drops" grep -qE '^interval 1s +drops: ' "$TMP/p1.txt"
check "column names" grep -qE 'COUNT +TREND +GROWTH/min +OLDEST +WAIT +PID +COMM +SITE' "$TMP/p1.txt"
check "leak row shown: $l" test -n "$l"
check "leak row counts threads ($(count_of "$l"))" test "$(count_of "$l")" -gt 5
check "leak sparkline has >= 10 cells ($sp)" test ${#sp} -ge 10
check "leak sparkline rises: last cell above the first ($sp)" \
	test "$(level "${sp: -1}")" -gt "$(level "${sp:0:1}")"
check "leak sparkline ends at its top (█)" test "${sp: -1}" = █
check "leak growth is positive" bash -c "grep -qE ' \+[0-9.]+ ' <<<'$l'"
p=$(row "$TMP/p1.txt" 'pool_worker')
check "pool_worker row: 4 threads" test "$(count_of "$p")" = 4
ps=$(spark "$p")
check "pool_worker sparkline is flat ($ps)" test -n "$ps" -a -z "$(tr -d "${ps:0:1}" <<<"$ps")"
check "sleeper row waits in nanosleep" bash -c "grep -qE 'nanosleep .*sleeper' <<<'$(row "$TMP/p1.txt" sleeper)'"
check "first row is selected" bash -c "sed -n 4p '$TMP/p1.txt' | grep -q '^>'"
check "key help on the last line" bash -c "tail -1 '$TMP/p1.txt' | grep -q 'q quit'"

# Down + Enter: the second row is selected and its whole stack is shown.
keys Down
sleep 0.3
keys Enter
wait_pane '^stack of ' 3
pane >"$TMP/p2.txt"
check "Down selects the second row" bash -c "sed -n 5p '$TMP/p2.txt' | grep -q '^>'"
sel=$(grep -E '^>' "$TMP/p2.txt" | grep -oE 'fetch_worker|chan_send|pool_worker|sleeper|main' | head -1)
check "Enter: the stack pane names the selected site (${sel:-?})" \
	grep -qE "^stack of ${sel:-NONE}" "$TMP/p2.txt"
check "stack pane: user frames" grep -qE '^  at (start_thread|pthread_cond_wait|clock_nanosleep)' "$TMP/p2.txt"
check "stack pane: kernel frames" grep -qE '^  \[k\] [a-z_]' "$TMP/p2.txt"
keys Enter
sleep 0.5
check "Enter again closes the pane" no_pane '^stack of '


# s: sort by count, then oldest, then back.
keys s
wait_pane 'sort: count' 2
pane >"$TMP/p3.txt"
check "s: the header says sort: count" grep -q 'sort: count' "$TMP/p3.txt"
check "sort: count orders rows by count" bash -c "sed -n '4,/^$/p' '$TMP/p3.txt' | grep -E '^[>! ]{2} *[0-9]+ ' | awk '{sub(/^[>!]+/, \"\"); print \$1}' | sort -c -n -r"
keys s
check "s again: sort: oldest" wait_pane 'sort: oldest' 2
keys s
check "s again: back to sort: suspects+growth" wait_pane 'sort: suspects\+growth' 2

# p: a pid filter, echoed while typed.
keys p 1
check "p: the typed pid is echoed" wait_pane 'filter by pid.*: 1_' 2
keys Enter
wait_pane 'filter: pid 1 ' 2
pane >"$TMP/p4.txt"
check "filter pid 1: header says so" grep -q 'filter: pid 1 (0 of' "$TMP/p4.txt"
check "filter pid 1: no rows, and why" grep -q 'no sites of pid 1' "$TMP/p4.txt"
check "filter pid 1: the leak row is hidden" bash -c "! grep -qE '$LEAK' '$TMP/p4.txt'"
keys p "$WPID" Enter
wait_pane "filter: pid $WPID " 2
pane >"$TMP/p5.txt"
check "filter pid $WPID: leak and pool rows" \
	bash -c "grep -qE '$LEAK' '$TMP/p5.txt' && grep -q pool_worker '$TMP/p5.txt'"
check "filter pid $WPID: every row is of that pid" \
	bash -c "grep -E '^[>! ]{2} *[0-9]+ ' '$TMP/p5.txt' | grep -v ' $WPID leaky ' | grep -q . && exit 1 || exit 0"
keys p Enter
check "p, Enter: filter cleared" wait_pane 'filter: none' 2

# Resizing: smaller, tiny, back.
tm resize-window -t "$S" -x 80 -y 24
sleep 1.5
pane >"$TMP/p6.txt"
long=0
while IFS= read -r line; do ((${#line} > 80)) && long=$((long + 1)); done <"$TMP/p6.txt"
check "80x24: top still running" alive "$TPID"
check "80x24: 24 lines, none wider than 80 columns" test "$(wc -l <"$TMP/p6.txt")/$long" = 24/0
check "80x24: header, leak and pool rows, key help" bash -c "grep -q 'parked threads' '$TMP/p6.txt' &&
	grep -qE '$LEAK' '$TMP/p6.txt' && grep -q pool_worker '$TMP/p6.txt' &&
	tail -1 '$TMP/p6.txt' | grep -q 'q quit'"
check "80x24: the sparkline is still there" test -n "$(spark "$(row "$TMP/p6.txt" "$LEAK")")"
tm resize-window -t "$S" -x 30 -y 6
check "30x6: says the terminal is too small" wait_pane 'terminal too small' 3
tm resize-window -t "$S" -x 120 -y 40
check "back to 120x40: rows again" wait_pane 'pool_worker' 3
check "resizes: top still running" alive "$TPID"

# The process exits: top keeps running and says so.
{
	kill -9 "$WPID"
	wait "$WPID"
} 2>/dev/null
check "pid exit: the status line says 'pid $WPID exited'" wait_pane "pid $WPID exited" 5
check "pid exit: top still running" alive "$TPID"
check "pid exit: the leak row counts 0" wait_pane "^[>! ]{2} +0 .*($LEAK)" 3

# BPF programs held by top now, to check they are gone after it exits.
ids=$(cat /proc/"$TPID"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u)
names=$(for id in $ids; do bpftool prog show id "$id"; done 2>/dev/null)
check "top holds pw_scan, and no hot path by default (--ages bound)" \
	bash -c "grep -q 'name pw_scan' <<<'$names' && ! grep -q 'name pw_sched_switch' <<<'$names'"

# Ctrl-C: top exits 0 within 3 s and the shell gets its terminal back.
keys C-c
check "Ctrl-C: top exits within 3 s" wait_pane '^TOP_EXIT=' 3
wait_pane '^TTY: ' 2 # printed by the shell just after
pane >"$TMP/p7.txt"
check "Ctrl-C: exit status 0" grep -qx 'TOP_EXIT=0' "$TMP/p7.txt"
check "Ctrl-C: the curses screen is gone" \
	bash -c "! grep -qE 'q quit|COUNT +TREND|parked threads' '$TMP/p7.txt'"
check "Ctrl-C: the alternate screen is off" test "$(tm display -p -t "$S" '#{alternate_on}')" = 0
check "Ctrl-C: tty back in canonical mode with echo" grep -qx 'TTY: icanon echo' "$TMP/p7.txt"
check "Ctrl-C: no error printed" test ! -s "$TMP/top.err"
check "Ctrl-C: the process is gone" bash -c "! kill -0 $TPID 2>/dev/null"
# The kernel frees programs after the last fd closes, sleepable ones after an RCU-tasks-trace
# grace period: give it a few seconds under load.
for _ in $(seq 50); do
	gone=0
	for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 || gone=$((gone + 1)); done
	[ "$gone" = "$(wc -w <<<"$ids")" ] && break
	sleep 0.1
done
check "BPF detached: all $(wc -w <<<"$ids") programs of top unloaded" \
	test -n "$ids" -a "$gone" = "$(wc -w <<<"$ids")"
finish
