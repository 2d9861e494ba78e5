#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# parkwatch export: the textfile is valid for promtool and node_exporter, counts match the
# workload, rewrites are atomic, planted symlinks are not followed, bad directories fail at
# once, and SIGTERM leaves a complete file and no BPF program behind.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

TF=$TMP/tf
F=$TF/parkwatch.prom
mkdir -p "$TF"

# promtool and node_exporter: a failure in CI, a skip elsewhere.
have() {
	command -v "$1" >/dev/null && return 0
	if [ "${CI:-}" = true ]; then
		fail "$1 is missing (apt-get install $2)"
	else
		echo "  skip  $1 missing (apt-get install $2)"
	fi
	return 1
}

# promtool_ok FILE: promtool check metrics prints nothing and exits 0.
promtool_ok() {
	local out
	out=$(promtool check metrics <"$1" 2>&1) && [ -z "$out" ] && return 0
	echo "    promtool: $out" >&2
	return 1
}

# complete FILE: the first family first and the timestamp, always written last, last.
complete() {
	head -1 "$1" | grep -q '^# HELP parkwatch_build_info ' &&
		tail -1 "$1" | grep -qE '^parkwatch_last_scan_timestamp_seconds [0-9]+\.[0-9]+$'
}

# The BPF program ids a process holds, from its fds.
prog_ids() {
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u
}

LEAK='(chan_send|fetch_worker)'

start leaky "$TMP/l.log" --leaks 40 --pool 4 --sleepers 2 --readers 0 || finish
wait_for "$TMP/l.log" '^LEAKED_DONE' 60 || fail "leaky did not leak: $(tail -1 "$TMP/l.log")"
sleep 1.5

# ---- one file ----
"$PW" export --once --textfile-dir "$TF" -p "$WPID" >"$TMP/once.out" 2>"$TMP/once.err"
rc=$?
check "--once exits 0 (got $rc: $(head -1 "$TMP/once.err"))" test $rc = 0
check "--once prints nothing" test ! -s "$TMP/once.out" -a ! -s "$TMP/once.err"
check "the file is complete" complete "$F"
check "the file is 0644" test "$(stat -c %a "$F")" = 644
check "the leak site has 40 parked threads" \
	grep -qE "^parkwatch_parked_threads\{pid=\"$WPID\",comm=\"leaky\",site=\"$LEAK[^\"]*\",wait=\"futex\",kind=\"thread\"\} 40$" "$F"
check "the leak site waits on 40 futex words" \
	grep -qE "^parkwatch_site_futex_words\{pid=\"$WPID\",[^}]*site=\"$LEAK[^}]*\} 40$" "$F"
check "the pool has 4" grep -qE "^parkwatch_parked_threads\{[^}]*site=\"pool_worker[^}]*\} 4$" "$F"
check "no growth or verdict without history" \
	bash -c "! grep -qE '^parkwatch_site_(growth_per_minute|leak_suspect)' '$F'"
check "every drop reason is present" test "$(grep -c '^parkwatch_drops_total{reason=' "$F")" -ge 9
check "no temp file left" test "$(ls -A "$TF")" = parkwatch.prom
if have promtool prometheus; then
	check "promtool check metrics accepts it" promtool_ok "$F"
fi

# --max-sites 1: the biggest site and one "other" summing the rest (4 pool + 2 sleepers + main).
mkdir -p "$TMP/cut"
"$PW" export --once --max-sites 1 --textfile-dir "$TMP/cut" -p "$WPID" 2>/dev/null
check "--max-sites 1: one site and other" \
	test "$(grep -c '^parkwatch_parked_threads{' "$TMP/cut/parkwatch.prom")" = 2
check "--max-sites 1: other sums the rest" \
	grep -qE "^parkwatch_parked_threads\{pid=\"$WPID\",comm=\"leaky\",site=\"other\",wait=\"other\",kind=\"thread\"\} 7$" \
	"$TMP/cut/parkwatch.prom"

# ---- node_exporter serves it ----
if have prometheus-node-exporter prometheus-node-exporter; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$TF" >"$TMP/ne.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/metrics" >"$TMP/scrape" 2>/dev/null && break
		sleep 0.1
	done
	check "node_exporter serves the leak site with 40" \
		grep -qE "^parkwatch_parked_threads\{[^}]*site=\"$LEAK[^}]*\} 40$" "$TMP/scrape"
	check "node_exporter reports no textfile error" \
		grep -qE '^node_textfile_scrape_error 0$' "$TMP/scrape"
fi

# ---- the alerting rules ----
if have promtool prometheus; then
	check "promtool check rules dist/parkwatch-rules.yml" \
		promtool check rules dist/parkwatch-rules.yml >/dev/null
	check "promtool test rules dist/parkwatch-rules.test.yml" \
		promtool test rules dist/parkwatch-rules.test.yml >/dev/null
fi

# ---- atomic rewrites: a reader never sees a partial or empty file ----
"$PW" export -i 50ms --textfile-dir "$TF" -p "$WPID" 2>"$TMP/fast.err" &
xp=$!
PIDS+=("$xp")
seen=0 reads=0 bad=0 last=
end=$((SECONDS + 60))
while [ $seen -lt 200 ] && [ $SECONDS -lt $end ]; do
	c=$(<"$F")
	reads=$((reads + 1))
	t=${c##*$'\n'}
	if [[ $c != "# HELP parkwatch_build_info "* ]] ||
		[[ ! $t =~ ^parkwatch_last_scan_timestamp_seconds\ [0-9]+\.[0-9]+$ ]]; then
		bad=$((bad + 1))
		[ $bad = 1 ] && printf '%s\n' "$c" >"$TMP/bad.prom"
		continue
	fi
	if [ "$t" != "$last" ]; then
		seen=$((seen + 1))
		last=$t
		# Keep a few whole reads for promtool.
		[ $((seen % 50)) = 0 ] && printf '%s\n' "$c" >"$TMP/read.$seen.prom"
	fi
done
kill -TERM $xp
wait $xp
rc=$?
check "200 rewrites seen by the reader (saw $seen in $reads reads)" test $seen -ge 200
check "no partial or empty read ($bad bad)" test $bad = 0
check "daemon: nothing on stderr ($(head -1 "$TMP/fast.err"))" test ! -s "$TMP/fast.err"
check "daemon: exit 0 on SIGTERM (got $rc)" test $rc = 0
check "daemon: growth and verdict series with history" \
	grep -qE "^parkwatch_site_leak_suspect\{[^}]*site=\"$LEAK[^}]*\} [01]$" "$F"
check "daemon: no temp file left" test "$(ls -A "$TF")" = parkwatch.prom
if have promtool prometheus; then
	for r in "$TMP"/read.*.prom; do
		check "promtool accepts a file read mid-run ($(basename "$r"))" promtool_ok "$r"
	done
fi

# ---- a symlink planted at the final name is replaced, not followed ----
echo precious >"$TMP/victim"
rm -f "$F"
ln -s "$TMP/victim" "$F"
"$PW" export --once --textfile-dir "$TF" -p "$WPID" 2>"$TMP/sym.err"
check "symlink: exit 0" test $? = 0
check "symlink: the victim is unchanged" test "$(cat "$TMP/victim")" = precious
check "symlink: replaced by a regular file" test -f "$F" -a ! -L "$F"
check "symlink: the new file is complete" complete "$F"

# ---- a directory that cannot be written: one line, exit 1, before BPF loads ----
# expect CODE REGEX -- ARGS...: exit code and exactly one stderr line matching REGEX.
expect() {
	local code=$1 re=$2
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	check "'${*:2}' exits $code (got $rc)" test "$rc" = "$code"
	check "'${*:2}' says one line matching /$re/ ($(head -1 "$TMP/err"))" one_line "$re" "$TMP/err"
}
one_line() { # REGEX FILE: exactly one line, and it matches
	test "$(wc -l <"$2")" = 1 && grep -qE "$1" "$2"
}
expect 1 "^parkwatch: cannot write $TMP/nope: No such file or directory$" -- \
	"$PW" export --once --textfile-dir "$TMP/nope" -p "$WPID"
expect 1 "^parkwatch: cannot write $TMP/victim: Not a directory$" -- \
	"$PW" export --textfile-dir "$TMP/victim"
mkdir -m 0755 "$TMP/rootonly"
chmod 0755 "$TMP"
expect 1 "^parkwatch: cannot write $TMP/rootonly: Permission denied$" -- \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	"$PW" export --textfile-dir "$TMP/rootonly"
if command -v strace >/dev/null; then
	strace -f -qq -e trace=bpf -o "$TMP/strace" "$PW" export --textfile-dir "$TMP/nope" 2>/dev/null
	check "an unwritable directory fails before any bpf() call" \
		bash -c "! grep -q 'bpf(' '$TMP/strace'"
fi
expect 2 "export needs --textfile-dir DIR" -- "$PW" export --once
expect 2 "invalid --max-sites 'lots'" -- "$PW" export --textfile-dir "$TF" --max-sites lots
expect 2 "option '--textfile-dir' needs a value" -- "$PW" export --textfile-dir
expect 2 "ages exact: --once times no park" -- "$PW" export --textfile-dir "$TF" --once --ages exact

# ---- SIGTERM mid-run: exit 0 promptly, complete file, BPF detached ----
rm -f "$F"
"$PW" export -i 1s --textfile-dir "$TF" -p "$WPID" 2>"$TMP/term.err" &
xp=$!
PIDS+=("$xp")
# Mid-run means attached and its first file written: polled, a sanitizer build is slow to start.
ids=
for _ in $(seq 600); do
	[ -e "$F" ] && complete "$F" && ids=$(prog_ids $xp) && [ -n "$ids" ] && break
	kill -0 $xp 2>/dev/null || break
	sleep 0.1
done
check "SIGTERM: the exporter wrote its first file" complete "$F"
check "SIGTERM: the exporter holds BPF programs while it runs" test -n "$ids"
kill -TERM $xp
for _ in $(seq 20); do
	kill -0 $xp 2>/dev/null || break
	sleep 0.1
done
gone=1
kill -0 $xp 2>/dev/null && gone=0
check "SIGTERM: exited within 2 s" test $gone = 1
wait $xp
rc=$?
check "SIGTERM: exit 0 (got $rc)" test $rc = 0
check "SIGTERM: nothing on stderr ($(head -1 "$TMP/term.err"))" test ! -s "$TMP/term.err"
check "SIGTERM: the file is complete" complete "$F"
if have promtool prometheus; then
	check "SIGTERM: promtool accepts the file" promtool_ok "$F"
fi
# Polled: sleepable programs are freed after an RCU-tasks-trace grace period.
for _ in $(seq 50); do
	left=
	for id in $ids; do
		bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"
	done
	[ -z "$left" ] && break
	sleep 0.1
done
check "SIGTERM: its BPF programs are gone (left:${left:- none})" test -z "$left"
check "SIGTERM: no pw_sched_switch/pw_scan of ours listed" \
	bash -c "! bpftool prog show 2>/dev/null | grep -E '^($(echo $ids | tr ' ' '|')):'"
finish
