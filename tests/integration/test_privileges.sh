#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Least privilege: with exactly the capabilities README's "Privileges" section names, and not
# root (uid 65534, capabilities made ambient with setpriv), snapshot, export and the futex
# events work and are right, kernel frames included; dropping any one of them gives exit 1
# and one line naming it. Root limited to the same set (systemd's CapabilityBoundingSet in
# dist/parkwatch.service) must get the same results.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

NOBODY=65534
if ! command -v setpriv >/dev/null; then
	[ "${CI:-}" = true ] && fail "setpriv is missing (util-linux)" && finish
	echo "  skip  setpriv not installed"
	exit 0
fi

# The documented set, read from the README so the test follows the contract: the capabilities
# its "Privileges" section names before "Without them it stops ...".
DOC=$(sed -n '/^## Privileges/,/^## /p' README.md | sed '/Without them/q' | grep -oE 'CAP_[A-Z_]+' |
	sort -u)
[ -n "$DOC" ] || DOC=$(printf '%s\n' CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_SYSLOG)
echo "  info  documented: $(echo $DOC)"
# setpriv spells CAP_SYS_PTRACE as +sys_ptrace.
capspec() { # CAP... -> "+bpf,+perfmon,..."
	local c out=
	for c in "$@"; do
		c=${c#CAP_}
		out="$out,+${c,,}"
	done
	echo "${out#,}"
}
# as_nobody CAPS CMD...: uid/gid 65534, no groups, exactly CAPS (inheritable, ambient, bounding).
as_nobody() {
	local caps=$1
	shift
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --inh-caps=-all${caps:+,$caps} \
		--ambient-caps=-all${caps:+,$caps} --bounding-set=-all${caps:+,$caps} "$@"
}
# as_root_bounded CAPS CMD...: uid 0 whose capabilities are bounded to CAPS (systemd's way).
as_root_bounded() {
	local caps=$1
	shift
	setpriv --inh-caps=-all${caps:+,$caps} --bounding-set=-all${caps:+,$caps} "$@"
}
# A directory the unprivileged user can reach: $TMP is root's alone.
PUB=$(mktemp -d /tmp/pwpriv.XXXXXX)
chmod 755 "$PUB"
trap 'rm -rf "$PUB"; cleanup' EXIT
mkdir -p "$PUB/tf"
chown $NOBODY:$NOBODY "$PUB/tf"

if ! as_nobody "$(capspec $DOC)" test -x "$PW"; then
	fail "uid $NOBODY cannot run $PW (a directory on its path is not world-searchable)"
	finish
fi

# The workload runs as root: reading its stack and binaries is reading another user's process.
start leaky "$TMP/l.log" --leaks 6 --pool 3 --sleepers 0 --readers 0 || finish
LPID=$WPID
wait_for "$TMP/l.log" '^LEAKED_DONE 6$' 30 || fail "leaky did not leak 6"
sleep 1.2

# snapshot_checks WHO FILE: the counts are exact and the kernel frames are named.
snapshot_checks() {
	local who=$1 j=$2 kf
	check "$who: fetch_worker 6 ($(site_count "$j" fetch_worker))" test "$(site_count "$j" fetch_worker)" = 6
	check "$who: pool_worker 3 ($(site_count "$j" pool_worker))" test "$(site_count "$j" pool_worker)" = 3
	check "$who: no drops ($(jq -c '.drops | with_entries(select(.value > 0))' "$j"))" \
		test "$(jq '[.drops[]] | add' "$j")" = 0
	kf=$(jq -r '[.sites[].kernel_frames[]] | map(select(test("^0x"))) | length' "$j")
	check "$who: kernel frames are named, not addresses ($kf of $(jq '[.sites[].kernel_frames[]] | length' "$j") are addresses)" \
		test "$kf" = 0 -a "$(jq '[.sites[].kernel_frames[]] | length' "$j")" -gt 0
}

caps=$(capspec $DOC)
as_nobody "$caps" "$PW" snapshot -p "$LPID" --json >"$TMP/n.json" 2>"$TMP/n.err"
rc=$?
check "uid $NOBODY with exactly $(echo $DOC): snapshot exits 0 (got $rc: $(head -1 "$TMP/n.err"))" test $rc = 0
check "uid $NOBODY: nothing on stderr" test ! -s "$TMP/n.err"
[ $rc = 0 ] && snapshot_checks "uid $NOBODY" "$TMP/n.json"

as_root_bounded "$caps" "$PW" snapshot -p "$LPID" --json >"$TMP/r.json" 2>"$TMP/r.err"
rc=$?
check "root bounded to $(echo $DOC): snapshot exits 0 (got $rc: $(head -1 "$TMP/r.err"))" test $rc = 0
[ $rc = 0 ] && snapshot_checks "root bounded" "$TMP/r.json"

# After set-up only CAP_BPF, CAP_SYS_PTRACE, CAP_CHECKPOINT_RESTORE (and CAP_DAC_READ_SEARCH,
# which full root has) stay, in the permitted set too, and no_new_privs is on: full root here.
capbits() { # CAP_NAME... -> hex mask as /proc/PID/status prints it
	local m=0 c n
	for c in "$@"; do
		n=$(sed -n "s/^#define $c[[:space:]]*\([0-9]*\).*/\1/p" /usr/include/linux/capability.h)
		m=$((m | (1 << n)))
	done
	printf '%016x' $m
}
want=$(capbits CAP_BPF CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_DAC_READ_SEARCH)
"$PW" watch -p "$LPID" -i 1s -d 4s --json >"$TMP/dw.json" 2>"$TMP/dw.err" &
wp=$!
for ((i = 0; i < 50; i++)); do
	eff=$(sed -n 's/^CapEff:\t//p' /proc/$wp/status 2>/dev/null)
	[ -n "$eff" ] && [ "$eff" != 000001ffffffffff ] && [ "$(jq -s length "$TMP/dw.json")" -ge 1 ] && break
	sleep 0.1
done
prm=$(sed -n 's/^CapPrm:\t//p' /proc/$wp/status)
nnp=$(sed -n 's/^NoNewPrivs:\t//p' /proc/$wp/status)
check "root: after set-up, effective capabilities are only the kept ones ($eff, want $want)" \
	test "$eff" = "$want"
check "root: and the permitted set too ($prm)" test "$prm" = "$want"
check "root: no_new_privs set ($nnp)" test "$nnp" = 1
wait $wp
check "root: watch still scans after the drop (exit $?, $(jq -s '[.[-1].sites[] | select(.site // "" | startswith("fetch_worker")) | .count] | add' "$TMP/dw.json") leaked)" \
	test "$(jq -s '[.[-1].sites[] | select(.site // "" | startswith("fetch_worker")) | .count] | add' "$TMP/dw.json")" = 6

# diff reads two files: no capability at all.
cp "$TMP/n.json" "$TMP/r.json" "$PUB/" && chmod 644 "$PUB/n.json" "$PUB/r.json"
as_nobody "" "$PW" diff "$PUB/n.json" "$PUB/r.json" >"$TMP/diff.out" 2>"$TMP/diff.err"
rc=$?
check "uid $NOBODY without any capability: diff exits 0 (got $rc: $(head -1 "$TMP/diff.err"))" \
	test $rc = 0 -a -s "$TMP/diff.out"

# export as the unprivileged user, into a directory it owns.
as_nobody "$caps" "$PW" export --once --textfile-dir "$PUB/tf" -p "$LPID" >"$TMP/x.out" 2>"$TMP/x.err"
rc=$?
check "uid $NOBODY: export --once exits 0 (got $rc: $(head -1 "$TMP/x.err"))" test $rc = 0
check "uid $NOBODY: export counts the leak (6)" \
	grep -qE "^parkwatch_parked_threads\{pid=\"$LPID\",[^}]*site=\"fetch_worker[^}]*\} 6$" "$PUB/tf/parkwatch.prom"

# --futex-events: the futex tracepoints are attached through tracefs (0700 root): as another
# user they must work, or the run must say why it cannot; never a silent run without them.
# A one-word map that a continuous leak overflows proves they are attached.
start leaky "$TMP/f.log" --leaks -1 --rate 50 --pool 0 --sleepers 0 --readers 0 || finish
FPID=$WPID
sleep 0.5
for who in nobody root; do
	if [ $who = nobody ]; then
		run=(as_nobody "$caps")
	else
		run=(as_root_bounded "$caps")
	fi
	PARKWATCH_TEST_SCAN_DELAY_MS=1000 "${run[@]}" "$PW" snapshot -p "$FPID" --futex-events \
		--futex-words 1 --json >"$TMP/fe.json" 2>"$TMP/fe.err"
	rc=$?
	n=$(jq '.drops.futex_map' "$TMP/fe.json" 2>/dev/null)
	if [ $rc = 0 ]; then
		check "$who, --futex-events: attached (futex_map drops: ${n:-none})" test "${n:-0}" -gt 0
	else
		check "$who, --futex-events: exit 1 and one line saying why ($(head -1 "$TMP/fe.err"))" \
			test $rc = 1 -a "$(wc -l <"$TMP/fe.err")" = 1
	fi
done
kill -9 "$FPID"
wait "$FPID" 2>/dev/null # its "Killed" notice must not land in a captured stderr

# A user's own binary must not stall the root tool that reads it. Debug files are looked for
# next to a stripped binary: "prog.debug" by default, or the name in its .gnu_debuglink. A FIFO
# there, which nobody ever opens for writing, must be skipped, not open()ed and waited on
# forever (the exporter would stop for good, even after the process and the FIFO are gone).
# The binary is called pwevil, not leaky, and lives a few seconds: other runs that scan by comm
# (or a parkwatch without the fix scanning the whole host) should not meet it.
for how in default debuglink; do
	d=$PUB/evil-$how
	mkdir -p "$d"
	strip --strip-all -o "$d/pwevil" "$WL/leaky"
	if [ $how = debuglink ]; then
		cp "$WL/leaky" "$TMP/pwevil.dbg" # only for the name and a CRC
		objcopy --add-gnu-debuglink="$TMP/pwevil.dbg" "$d/pwevil"
		mkfifo "$d/pwevil.dbg"
	else
		mkfifo "$d/pwevil.debug"
	fi
	chown -R $NOBODY:$NOBODY "$d"
	# setpriv itself, not the as_nobody function: $! must be the workload's pid.
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --inh-caps=-all --bounding-set=-all \
		"$d/pwevil" --leaks 4 --pool 1 --sleepers 0 --readers 0 >"$TMP/evil.log" 2>&1 &
	EPID=$!
	PIDS+=("$EPID")
	wait_for "$TMP/evil.log" '^LEAKED_DONE 4$' 30 || fail "$how: the stripped leaky did not leak 4"
	sleep 1.2
	timeout 20 "$PW" snapshot -p "$EPID" --json >"$TMP/evil.json" 2>"$TMP/evil.err"
	rc=$?
	kill -9 "$EPID"
	wait "$EPID" 2>/dev/null
	check "FIFO as the debug file ($how): snapshot does not hang, exits 0 (got $rc)" test $rc = 0
	counts=$(jq -c '[.sites[] | .count]' "$TMP/evil.json" 2>/dev/null)
	check "FIFO as the debug file ($how): the leak is still counted (4 in one site: $counts)" \
		test "$(jq '[.sites[] | select(.count == 4)] | length' "$TMP/evil.json" 2>/dev/null)" = 1
done

# Each documented capability is needed: without it, exit 1 and one line that names it.
for drop in $DOC; do
	rest=$(capspec $(grep -vx "$drop" <<<"$DOC"))
	as_nobody "$rest" "$PW" snapshot -p "$LPID" --json >"$TMP/d.json" 2>"$TMP/d.err"
	rc=$?
	check "without $drop: exit 1 (got $rc)" test $rc = 1
	check "without $drop: one line on stderr ($(wc -l <"$TMP/d.err"): $(head -3 "$TMP/d.err" | paste -sd"|"))" \
		test "$(wc -l <"$TMP/d.err")" = 1
	check "without $drop: the line names it: $(head -1 "$TMP/d.err")" grep -qw "$drop" "$TMP/d.err"
	others=$(grep -oE 'CAP_[A-Z_]+' "$TMP/d.err" | grep -vx "$drop" | paste -sd' ')
	check "without $drop: and no capability that is there (${others:-none})" test -z "$others"
	check "without $drop: no output" test ! -s "$TMP/d.json"
done
finish
