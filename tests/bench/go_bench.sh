#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The goroutine reader's acceptance figures (issue 6). Never part of 'make test'. Run as root on
# an otherwise idle machine, after 'make all workloads'; about 22 minutes on a 2-core VM.
#
#   tests/bench/go_bench.sh [BUILD_DIR]
#
# 1. Scale: goseed leaks GB_LEAKS (50,000) goroutines at once (-burst) beside 10 receivers,
#    5 sleepers and 3 mutex waiters; 'parkwatch snapshot -p PID -m 0 --json' is timed (wall,
#    user+sys CPU, peak RSS) GB_SNAP_RUNS times, interleaved with the same command with
#    --goroutines=off (what the goroutine work adds), and every --goroutines=auto result is
#    checked: the leak site holds exactly the workload's count of timed-out requests, the pools
#    10/5/3, parked_goroutines = their sum + main, no drops; once against net/http/pprof too.
#    Target: under 2 s.
# 2. The target is not stopped: goseed -serve keeps GB_SERVE client/handler goroutine pairs
#    busy (a request = two unbuffered channel hand-offs + GB_WORK xorshift rounds) while it
#    holds GB_SERVE_LEAKS leaked goroutines, and prints its cumulative request count every
#    GB_REPORT. Windows of GB_WINDOW_S seconds alternate: untraced, then one of
#      snap  - 'parkwatch snapshot -p PID -m 0' back to back,
#      watch - 'parkwatch watch -p PID -i 1s' (attached and past its first scan before the
#              window opens: the steady re-scan users leave running),
#      hog   - control: a plain CPU spinner where parkwatch would run (no tracing at all),
#      (pinned only) snapoff, snapother - see GB_KINDS below,
#    then untraced again, ... GB_WINDOWS rounds (the order of the kinds rotates per round).
#    Each traced window's rate is divided by the mean of the two untraced windows around it.
#    Done twice: pinned (workload on CPU GB_WL_CPU, parkwatch and the hog on CPU GB_PW_CPU,
#    via taskset) and unpinned. Target: traced/untraced >= 0.98.
#    Per window it also records the workload's own CPU time and run-queue wait (schedstat),
#    its context switches and the function-call IPIs and TLB shootdowns on the workload's CPU
#    (/proc/interrupts), so a shortfall can be attributed.
#
# Prints one table and writes it, with date, machine, kernel, Go version, load averages and the
# method, to GB_RESULTS (default bench/results-go.md). Knobs (environment): GB_SNAP_RUNS (9),
# GB_LEAKS (50000), GB_SERVE (4), GB_SERVE_LEAKS (10000), GB_WORK (200), GB_REPORT (500ms),
# GB_WINDOWS (7), GB_WINDOW_S (10), GB_CONTROL (1: hog windows), GB_PHASES ("pinned unpinned"),
# GB_KINDS (the traced window kinds of both phases; default "snap watch hog", and in the pinned
# phase also "snapoff": the snapshot loop with --goroutines=off, and "snapother": the loop
# against a second, idle goseed with the same leaks, pinned like parkwatch: what a snapshot costs
# the workload when the workload is not its target),
# GB_NICE (-20), GB_KEEP=1 (keep the work directory). Every process it starts is stopped by pid.
set -u -o pipefail

BUILD=${1:-build}
SELF=$(readlink -f "$0")
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac

SNAP_RUNS=${GB_SNAP_RUNS:-9}
LEAKS=${GB_LEAKS:-50000}
SERVE=${GB_SERVE:-4}
SERVE_LEAKS=${GB_SERVE_LEAKS:-10000}
WORK=${GB_WORK:-200}
REPORT=${GB_REPORT:-500ms}
WINDOWS=${GB_WINDOWS:-7}
WINDOW_S=${GB_WINDOW_S:-10}
CONTROL=${GB_CONTROL:-1}
KINDS_UNPINNED=${GB_KINDS:-snap watch$([ "$CONTROL" = 1 ] && echo " hog")}
KINDS_PINNED=${GB_KINDS:-$KINDS_UNPINNED snapoff snapother}
ALL_KINDS="snap watch hog snapoff snapother"
PHASES=${GB_PHASES:-pinned unpinned}
PW_CPU=${GB_PW_CPU:-0}
WL_CPU=${GB_WL_CPU:-1}
NICE=${GB_NICE:--20}
RESULTS=${GB_RESULTS:-$ROOT/bench/results-go.md}
. "$ROOT/tests/bench/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root"

# Its own session, whose autogroup gets the niceness (lib.sh).
bench_own_session "$SELF" "$BUILD"
[ -x "$BUILD/parkwatch" ] || die "$BUILD/parkwatch missing (make all)"
[ -x "$BUILD/workloads/goseed" ] || die "$BUILD/workloads/goseed missing (make workloads)"
for tool in jq taskset curl; do
	command -v "$tool" >/dev/null || die "$tool missing"
done
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
renice -n "$NICE" -p $$ >/dev/null || die "renice failed"

W=$(mktemp -d /tmp/parkwatch-gobench.XXXXXX) || die "mktemp failed"
R=$W/r
mkdir -p "$R"
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Private copies: others may rebuild build/ while the bench runs.
PW=$W/parkwatch
GOSEED=$W/goseed
cp "$BUILD/parkwatch" "$PW" || die "cannot copy parkwatch"
cp "$BUILD/workloads/goseed" "$GOSEED" || die "cannot copy goseed"
# goseed reports main.go:LINE sites: the source it was built from is the one checked out.
SEND=$(grep -n 'ch <- fetch()' tests/workloads/go/seed/main.go | cut -d: -f1)

BG=()

cleanup() {
	local p

	touch "$W/stop.loop" 2>/dev/null
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${BG[@]}"; do
		stop_proc "$p" KILL
	done
	if [ "${GB_KEEP:-0}" = 1 ]; then
		log "logs kept in $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

TABLE=$W/table.md
NOTES=$W/notes.md
: >"$TABLE"
: >"$NOTES"

FOREIGN=$(foreign_tracers)
[ -n "$FOREIGN" ] && note "tracing BPF programs of others loaded at the start: $FOREIGN"
log "work directory $W; load average $LOAD_START"

# ---- 1. 50,000 parked goroutines: snapshot time, CPU, RSS; correctness ----

log "scale: goseed -leaks $LEAKS -burst -receivers 10 -sleepers 5 -mutex 3"
"$GOSEED" -leaks "$LEAKS" -burst -receivers 10 -sleepers 5 -mutex 3 -pprof 127.0.0.1:0 \
	>"$W/seed.log" 2>&1 &
spid=$!
BG+=("$spid")
wait_for 600 "$spid" has "$W/seed.log" '^LEAKED_DONE' || die "goseed: no LEAKED_DONE: $(why "$W/seed.log")"
LEAKED=$(sed -n 's/^LEAKED_DONE //p' "$W/seed.log")
PPROF=$(sed -n 's/^PPROF //p' "$W/seed.log")
[ "$LEAKED" = "$LEAKS" ] || note "only $LEAKED of $LEAKS requests timed out (loaded host?)"
# Parked by construction: the leak, 10 + 5 + 3 pools, main (signal wait on a channel) and the
# pprof listener's accept loop (IO wait).
EXPECT=$((LEAKED + 10 + 5 + 3 + 1 + 1))

# check_snap JSON: "" when every count is right, else what is wrong.
check_snap() {
	jq -r --argjson n "$LEAKED" --argjson exp "$EXPECT" --arg send "main.handle.func1 (main.go:$SEND)" '
		def c(f): [.sites[] | select(.kind == "goroutine") | select(f) | .count] | add // 0;
		[ (if c(.site == $send and .wait == "chan send") != $n
		   then "leak site \(c(.site == $send and .wait == "chan send")) != \($n)" else empty end),
		  (if c(.site // "" | startswith("main.receiver")) != 10 then "receivers" else empty end),
		  (if c(.wait == "sleep") != 5 then "sleepers \(c(.wait == "sleep"))" else empty end),
		  (if c(.wait == "semacquire") != 3 then "mutex \(c(.wait == "semacquire"))" else empty end),
		  (if .parked_goroutines != c(true) then "parked_goroutines != sum of sites" else empty end),
		  (if .parked_goroutines != $exp
		   then "parked_goroutines \(.parked_goroutines) != \($exp)" else empty end),
		  (.drops | to_entries[] | select(.value != 0) | "drop \(.key)=\(.value)")
		] | join("; ")' "$1" 2>&1
}

# One discarded warm-up (page cache of parkwatch, goseed's ELF and debug info).
"$PW" snapshot -p "$spid" -m 0 --json >/dev/null 2>&1
BAD=0
for ((r = 0; r < SNAP_RUNS; r++)); do
	for mode in $(rotate "$r" auto off); do
		if /usr/bin/time -f '%e %U %S %M' -o "$W/snap.time" \
			"$PW" snapshot -p "$spid" -m 0 --json --goroutines="$mode" \
			>"$W/snap.json" 2>"$W/snap.err"; then
			read -r wall u s rss <"$W/snap.time"
			echo "$wall" >>"$R/scale.$mode.wall"
			calc "$u + $s" >>"$R/scale.$mode.cpu" && echo >>"$R/scale.$mode.cpu"
			calc "$rss / 1024" >>"$R/scale.$mode.rss" && echo >>"$R/scale.$mode.rss"
			if [ "$mode" = auto ]; then
				jq .parked_goroutines "$W/snap.json" >>"$R/scale.parked"
				k=$(check_snap "$W/snap.json")
				if [ -n "$k" ] || [ -s "$W/snap.err" ]; then
					BAD=$((BAD + 1))
					note "scale run $r: $k $(head -1 "$W/snap.err")"
				fi
			fi
		else
			note "scale run $r ($mode) failed: $(why "$W/snap.err")"
		fi
	done
	log "  round $((r + 1))/$SNAP_RUNS done"
done
# pprof's own view, once: parked = not running, runnable or in a syscall; fetching the profile
# adds its connection's background reader (IO wait), so pprof shows one more than parkwatch.
"$PW" snapshot -p "$spid" -m 0 --json >"$W/pp.json" 2>/dev/null
PP_OURS=$(jq .parked_goroutines "$W/pp.json")
PP_THEIRS=$(curl -sf "$PPROF/debug/pprof/goroutine?debug=2" | grep '^goroutine ' |
	grep -v -E '\[(running|runnable|syscall)' | wc -l)
PP_SEND=$(curl -sf "$PPROF/debug/pprof/goroutine?debug=2" | grep -c '^goroutine [0-9]* \[chan send')
stop_proc "$spid" INT

# ---- 2. the target's request rate: untraced vs snapshots in a loop vs watch ----

# schedstat PID: "on-CPU ns, run-queue wait ns" summed over its threads.
schedstat() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ a += $1; b += $2 } END { printf "%.0f %.0f\n", a, b }'
}

# ctxsw PID: voluntary + involuntary context switches over its threads.
ctxsw() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# irqs CPU: "function-call-IPIs TLB-shootdowns" on CPU so far.
irqs() {
	awk -v c="$1" '$1 == "CAL:" { cal = $(c + 2) } $1 == "TLB:" { tlb = $(c + 2) }
		END { print cal + 0, tlb + 0 }' /proc/interrupts
}

# window_rate LOG T0 T1: requests/s between the first and last RATE line inside [T0, T1].
window_rate() {
	sed -n 's/^RATE t=\([0-9.]*\) total=\([0-9]*\).*/\1 \2/p' "$1" |
		awk -v t0="$2" -v t1="$3" '$1 >= t0 && $1 <= t1 {
				if (!n++) { a = $1; x = $2 }
				b = $1; y = $2
			}
			END { if (n >= 3 && b > a) printf "%.1f\n", (y - x) / (b - a) }'
}

# snapshot_loop PID [ARGS...]: snapshots of PID back to back until told.
snapshot_loop() {
	local pid=$1 n=0

	shift
	while [ ! -e "$W/stop.loop" ]; do
		/usr/bin/time -a -f '%e %U %S' -o "$W/loop.time" \
			$PWRUN "$PW" snapshot -p "$pid" -m 0 "$@" >/dev/null 2>>"$W/loop.err" && n=$((n + 1))
	done
	echo "$n" >"$W/loop.count"
}

# A CPU spinner that exits quietly on SIGTERM.
hog() {
	exec $PWRUN bash -c 'trap "exit 0" TERM; while :; do :; done'
}

# window PHASE KIND I: one window; appends "I KIND rate wl_cpu_s wl_wait_s ctxsw cal tlb
# pw_cpu_s snapshots" to $R/win.PHASE.
window() {
	local phase=$1 kind=$2 i=$3 t0 t1 lp="" s0 s1 x0 x1 i0 i1 pwc=- nsnap=- c0 c1 tl0 tl1 pc0 pc1 rate

	case $kind in
	snap | snapoff | snapother)
		rm -f "$W/stop.loop" "$W/loop.count" "$W/loop.time"
		case $kind in
		snap) snapshot_loop "$WPID" & ;;
		snapoff) snapshot_loop "$WPID" --goroutines=off & ;;
		snapother) snapshot_loop "$OPID" & ;;
		esac
		lp=$!
		BG+=("$lp")
		;;
	watch)
		: >"$W/watch.log"
		$PWRUN "$PW" watch -p "$WPID" -i 1s >"$W/watch.log" 2>&1 &
		lp=$!
		BG+=("$lp")
		if ! wait_for 120 "$lp" has "$W/watch.log" 'parked='; then
			note "$phase: watch did not start: $(why "$W/watch.log")"
			stop_proc "$lp" KILL
			return
		fi
		;;
	hog)
		hog &
		lp=$!
		BG+=("$lp")
		;;
	esac
	t0=$(now)
	read -r s0 x0 < <(schedstat "$WPID")
	i0=$(ctxsw "$WPID")
	read -r c0 tl0 < <(irqs "$IRQ_CPU")
	[ "$kind" = watch ] && pc0=$(cat /proc/"$lp"/task/*/schedstat | awk '{ s += $1 } END { print s }')
	sleep "$WINDOW_S"
	t1=$(now)
	read -r s1 x1 < <(schedstat "$WPID")
	i1=$(ctxsw "$WPID")
	read -r c1 tl1 < <(irqs "$IRQ_CPU")
	case $kind in
	snap | snapoff | snapother)
		touch "$W/stop.loop"
		wait "$lp"
		bg_forget "$lp"
		nsnap=$(cat "$W/loop.count" 2>/dev/null)
		pwc=$(awk '{ s += $2 + $3 } END { printf "%.2f", s }' "$W/loop.time" 2>/dev/null)
		;;
	watch)
		pc1=$(cat /proc/"$lp"/task/*/schedstat | awk '{ s += $1 } END { print s }')
		pwc=$(calc "($pc1 - $pc0) / 1e9")
		nsnap=$(grep -c 'parked=' "$W/watch.log")
		stop_proc "$lp" INT
		;;
	hog) stop_proc "$lp" TERM ;;
	esac
	rate=$(window_rate "$WLOG" "$t0" "$t1")
	[ -n "$rate" ] || {
		note "$phase: window $i ($kind): no RATE lines"
		rate=-
	}
	echo "$i $kind $rate $(calc "($s1 - $s0) / 1e9") $(calc "($x1 - $x0) / 1e9")" \
		"$((i1 - i0)) $((c1 - c0)) $((tl1 - tl0)) $pwc $nsnap" >>"$R/win.$phase"
	log "  $phase window $i $kind: $rate req/s"
}

for phase in $PHASES; do
	if [ "$phase" = pinned ]; then
		WLRUN="taskset -c $WL_CPU"
		PWRUN="taskset -c $PW_CPU"
		IRQ_CPU=$WL_CPU
	else
		WLRUN=""
		PWRUN=""
		IRQ_CPU=$WL_CPU
	fi
	WLOG=$W/serve-$phase.log
	log "serve ($phase): goseed -leaks $SERVE_LEAKS -burst -serve $SERVE -work $WORK -report $REPORT"
	$WLRUN "$GOSEED" -leaks "$SERVE_LEAKS" -burst -serve "$SERVE" -work "$WORK" -report "$REPORT" \
		>"$WLOG" 2>&1 &
	WPID=$!
	BG+=("$WPID")
	wait_for 300 "$WPID" has "$WLOG" '^SERVING' || die "goseed -serve: $(why "$WLOG")"
	sed -n 's/^SERVING //p' "$WLOG" >"$R/serving.$phase"
	sleep 3
	# shellcheck disable=SC2206
	if [ "$phase" = pinned ]; then
		KINDS=($KINDS_PINNED)
	else
		KINDS=($KINDS_UNPINNED)
	fi
	OPID=""
	if [[ " ${KINDS[*]} " = *" snapother "* ]]; then
		$PWRUN "$GOSEED" -leaks "$SERVE_LEAKS" -burst >"$W/other-$phase.log" 2>&1 &
		OPID=$!
		BG+=("$OPID")
		wait_for 300 "$OPID" has "$W/other-$phase.log" '^LEAKED_DONE' ||
			die "second goseed: $(why "$W/other-$phase.log")"
	fi
	i=0
	window "$phase" untraced $i
	for ((r = 0; r < WINDOWS; r++)); do
		for kind in $(rotate "$r" "${KINDS[@]}"); do
			i=$((i + 1))
			window "$phase" "$kind" $i
			i=$((i + 1))
			window "$phase" untraced $i
		done
	done
	kill -0 "$WPID" 2>/dev/null || note "$phase: goseed died: $(why "$WLOG")"
	stop_proc "$WPID" INT
	[ -n "$OPID" ] && stop_proc "$OPID" INT

	# Per traced window: rate / mean(rate of the untraced windows just before and after).
	# Same with requests per on-CPU second of the workload: what is left once CPU time taken by
	# anything else (parkwatch, other load) is factored out.
	awk '{ k[$1] = $2; v[$1] = $3; e[$1] = $3 != "-" && $4 > 0 ? $3 / $4 : "-" }
		END {
			for (i in k) if (k[i] != "untraced" && v[i] != "-" && v[i - 1] != "-" && v[i + 1] != "-")
				print k[i], v[i] / ((v[i - 1] + v[i + 1]) / 2), e[i] / ((e[i - 1] + e[i + 1]) / 2)
		}' "$R/win.$phase" >"$R/ratio.$phase"
	for kind in untraced "${KINDS[@]}"; do
		awk -v k="$kind" '$2 == k && $3 != "-" { print $3 }' "$R/win.$phase" >"$R/rate.$phase.$kind"
		awk -v k="$kind" '$1 == k { print $2 }' "$R/ratio.$phase" >"$R/ratio.$phase.$kind"
		awk -v k="$kind" '$1 == k { print $3 }' "$R/ratio.$phase" >"$R/effratio.$phase.$kind"
		# Workload CPU and run-queue wait, in % of the window; ctx switches, IPIs per s.
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k { print 100 * $4 / w }' "$R/win.$phase" >"$R/wlcpu.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k { print 100 * $5 / w }' "$R/win.$phase" >"$R/wlwait.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k { print $6 / w }' "$R/win.$phase" >"$R/ctxsw.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k { print $7 / w }' "$R/win.$phase" >"$R/cal.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k { print $8 / w }' "$R/win.$phase" >"$R/tlb.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k && $3 != "-" && $4 > 0 { print $3 * w / $4 }' "$R/win.$phase" >"$R/eff.$phase.$kind"
		awk -v k="$kind" -v w="$WINDOW_S" '$2 == k && $9 != "-" { print 100 * $9 / w }' "$R/win.$phase" >"$R/pwcpu.$phase.$kind"
		awk -v k="$kind" '$2 == k && $10 != "-" { print $10 }' "$R/win.$phase" >"$R/nsnap.$phase.$kind"
	done
done

# ---- the table ----

FOREIGN=$(foreign_tracers)
[ -n "$FOREIGN" ] && note "tracing BPF programs of others loaded at the end: $FOREIGN"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
log "writing the table"
row "measurement" "runs" "min" "median" "max" "ratio / note" "target" "verdict"
row "---" "--:" "--:" "--:" "--:" "--:" "---" "---"

A_WALL=$(median "$R/scale.auto.wall")
O_WALL=$(median "$R/scale.off.wall")
A_CPU=$(median "$R/scale.auto.cpu")
O_CPU=$(median "$R/scale.off.cpu")
row_stats "snapshot -m 0 --json, $LEAKED parked goroutines: wall s" "$R/scale.auto.wall" %.2f \
	"-" "< 2" "$(verdict "$A_WALL" "<" 2)"
row_stats "same: CPU s (user+sys)" "$R/scale.auto.cpu" %.2f - - -
row_stats "same: peak RSS MB" "$R/scale.auto.rss" %.1f - - -
row_stats "same process, --goroutines=off: wall s" "$R/scale.off.wall" %.2f \
	"goroutines add $(fmt %.2f "$(calc "$A_WALL - $O_WALL")") s" - -
row_stats "same, --goroutines=off: CPU s (user+sys)" "$R/scale.off.cpu" %.2f \
	"goroutines add $(fmt %.2f "$(calc "$A_CPU - $O_CPU")") s" - -
row_stats "same, --goroutines=off: peak RSS MB" "$R/scale.off.rss" %.1f \
	"goroutines add $(fmt %.1f "$(calc "$(median "$R/scale.auto.rss") - $(median "$R/scale.off.rss")")") MB" - -
row_stats "parked_goroutines reported" "$R/scale.parked" %.0f \
	"expected $EXPECT = $LEAKED + 10 + 5 + 3 + main + pprof listener; $BAD of $SNAP_RUNS runs wrong" \
	"exact" "$([ "$BAD" = 0 ] && [ -s "$R/scale.parked" ] && echo PASS || echo MISS)"

declare -A KLABEL=(
	[untraced]="untraced"
	[snap]="'parkwatch snapshot -p PID -m 0' back to back"
	[watch]="'parkwatch watch -p PID -i 1s' (steady)"
	[hog]="control: CPU spinner instead of parkwatch"
	[snapoff]="'parkwatch snapshot -p PID -m 0 --goroutines=off' back to back"
	[snapother]="'parkwatch snapshot -m 0' of another goseed (same leaks), back to back"
)
for phase in $PHASES; do
	[ -s "$R/win.$phase" ] || continue
	if [ "$phase" = pinned ]; then
		where="workload on CPU $WL_CPU, parkwatch on CPU $PW_CPU"
	else
		where="unpinned"
	fi
	U=$(median "$R/rate.$phase.untraced")
	for kind in untraced $ALL_KINDS; do
		[ -s "$R/rate.$phase.$kind" ] || continue
		if [ "$kind" = untraced ]; then
			row_stats "$phase ($where): requests/s, ${KLABEL[$kind]}" "$R/rate.$phase.$kind" %.0f \
				1.000 - -
			continue
		fi
		md=$(median "$R/rate.$phase.$kind")
		rm=$(calc "$md / $U")
		target=">= 0.98"
		v=$(verdict "$(median "$R/ratio.$phase.$kind")" ">=" 0.98)
		if [ "$kind" != snap ] && [ "$kind" != watch ]; then
			target="-"
			v="-"
		fi
		vc=""
		# The snapshot loop keeps CPU $PW_CPU busy like the control does: the control's ratio is
		# what merely having that CPU busy does (here, other sessions' load pushed off it).
		if [[ $kind = snap* ]] && [ -s "$R/ratio.$phase.hog" ]; then
			vc="; per-window median / control's $(fmt %.3f "$(calc "$(median "$R/ratio.$phase.$kind") / $(median "$R/ratio.$phase.hog")")")"
		fi
		row_stats "$phase: requests/s, ${KLABEL[$kind]}" "$R/rate.$phase.$kind" %.0f \
			"ratio of medians $(fmt %.3f "$rm")$vc" - -
		row_stats "$phase: per-window ratio, ${KLABEL[$kind]} / untraced neighbours" \
			"$R/ratio.$phase.$kind" %.3f - "$target" "$v"
		row_stats "$phase: same, requests per workload CPU-second" \
			"$R/effratio.$phase.$kind" %.3f - - -
	done
done

# Attribution: per window kind, the workload's CPU, run-queue wait, context switches, IPIs.
ATTR=$W/attr.md
{
	echo "| phase | window | windows | workload CPU % | run-queue wait % | req per CPU-s | ctx switches/s | call IPIs/s on CPU $WL_CPU | TLB shootdowns/s | parkwatch CPU % | scans per window |"
	echo "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
	for phase in $PHASES; do
		for kind in untraced $ALL_KINDS; do
			[ -s "$R/wlcpu.$phase.$kind" ] || continue
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$phase" "$kind" \
				"$(wc -l <"$R/wlcpu.$phase.$kind")" \
				"$(fmt %.1f "$(median "$R/wlcpu.$phase.$kind")")" \
				"$(fmt %.2f "$(median "$R/wlwait.$phase.$kind")")" \
				"$(fmt %.0f "$(median "$R/eff.$phase.$kind")")" \
				"$(fmt %.0f "$(median "$R/ctxsw.$phase.$kind")")" \
				"$(fmt %.0f "$(median "$R/cal.$phase.$kind")")" \
				"$(fmt %.0f "$(median "$R/tlb.$phase.$kind")")" \
				"$(fmt %.1f "$(median "$R/pwcpu.$phase.$kind" 2>/dev/null)")" \
				"$(fmt %.0f "$(median "$R/nsnap.$phase.$kind" 2>/dev/null)")"
		done
	done
} >"$ATTR"

cat "$TABLE"
echo
cat "$ATTR"
[ -s "$NOTES" ] && {
	echo
	cat "$NOTES"
}

T_END=$(date +%s)
{
	echo "# parkwatch goroutine benchmark results"
	echo
	echo "Produced by tests/bench/go_bench.sh in one run; regenerate, do not edit."
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), total bench time $(((T_END - T_START + 30) / 60)) min"
	echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM$(grep -q hypervisor /proc/cpuinfo && echo ", vm")"
	echo "- kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- go: $(go version 2>/dev/null | sed 's/^go version //') (goseed: $(grep -a -o -m1 'go1\.[0-9]*\.[0-9]*' "$GOSEED" | head -1))"
	echo "- parkwatch: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- user bpf include 2>/dev/null || echo " + uncommitted changes")"
	echo "- $(nice_note)"
	echo "- load average at the start: $LOAD_START; at the end: $LOAD_END"
	echo "- serve workload: $(head -1 "$R/serving.pinned" 2>/dev/null) (pinned), $(head -1 "$R/serving.unpinned" 2>/dev/null) (unpinned)"
	echo
	echo "Scale: \`goseed -leaks $LEAKS -burst -receivers 10 -sleepers 5 -mutex 3 -pprof\` (every"
	echo "leaked goroutine parked on its channel send, 2 GCs done); each run is a new"
	echo "\`parkwatch snapshot -p PID -m 0 --json\` process (BPF load, thread scan and unwind,"
	echo "goroutine list read from the target's memory, aggregation, JSON), timed by /usr/bin/time"
	echo "(wall, user+sys, max RSS), after one discarded warm-up. \`--goroutines=off\` runs on the"
	echo "same process, interleaved (rotating order), $SNAP_RUNS rounds: the difference is the"
	echo "goroutine work. Every auto run is checked: leak site = the workload's count of timed-out"
	echo "requests, pools 10/5/3, parked_goroutines = sum of goroutine sites = expected, no drops."
	echo "Once against net/http/pprof's goroutine?debug=2 (goroutines not running, runnable or in a"
	echo "syscall): pprof $PP_THEIRS, of which $PP_SEND in chan send; parkwatch $PP_OURS (pprof's"
	echo "count includes the profile request's own connection reader)."
	echo
	echo "Target not stopped: \`goseed -leaks $SERVE_LEAKS -burst -serve $SERVE -work $WORK -report $REPORT\`:"
	echo "$SERVE client goroutines each send a request on one unbuffered channel to $SERVE handler"
	echo "goroutines, which spin $WORK xorshift rounds and answer on the client's unbuffered reply"
	echo "channel (2 goroutine hand-offs + a little CPU per request, no allocation), while"
	echo "$SERVE_LEAKS leaked goroutines stay parked for the reader to walk. Windows of ${WINDOW_S} s:"
	echo "untraced, then one traced kind (pinned: $KINDS_PINNED; unpinned: $KINDS_UNPINNED;"
	echo "the order rotates per round), untraced, ..., $WINDOWS rounds, every traced window between"
	echo "two untraced ones. A window's rate = requests between its first and last RATE line / time"
	echo "between them. Per-window ratio = traced window / mean of the untraced windows just"
	echo "before and after it; \"ratio of medians\" = median traced / median of all untraced."
	echo "snapshot loop: each snapshot is a new process (BPF load, scan, unwind, goroutine read),"
	echo "started as soon as the previous one exits. watch: started and past its first scan"
	echo "before the window opens. Control: a shell busy loop where parkwatch runs (no"
	echo "tracing): the cost of merely having the other CPU busy (shared caches, the hypervisor,"
	echo "and on a shared host: other sessions' load pushed off that CPU). snapoff: the snapshot"
	echo "loop with \`--goroutines=off\`; snapother: the snapshot loop against a second, idle goseed"
	echo "with the same leaks (pinned like parkwatch), so nothing is read from the workload."
	echo "Pinned: workload \`taskset -c $WL_CPU\` (GOMAXPROCS 1), parkwatch and the spinner"
	echo "\`taskset -c $PW_CPU\`; unpinned: no taskset (GOMAXPROCS 2)."
	echo
	cat "$TABLE"
	echo
	echo "Attribution (medians over windows): the workload's on-CPU time and run-queue wait"
	echo "(schedstat, % of the window, all its threads), requests per on-CPU second, context"
	echo "switches, function-call IPIs and TLB shootdowns received by CPU $WL_CPU (/proc/interrupts),"
	echo "parkwatch's CPU (% of one CPU) and snapshots (or watch scans) per window."
	echo
	cat "$ATTR"
	if [ -s "$NOTES" ]; then
		echo
		echo "Notes:"
		echo
		cat "$NOTES"
	fi
	echo
	echo "Raw figures:"
	echo
	for f in "$R"/scale.* "$R"/rate.* "$R"/ratio.*.* "$R"/effratio.*; do
		[ -s "$f" ] || continue
		echo "- ${f##*/}: $(tr '\n' ' ' <"$f")"
	done
	for phase in $PHASES; do
		[ -s "$R/win.$phase" ] || continue
		echo "- windows $phase (i kind rate wl_cpu_s wl_wait_s ctxsw cal tlb pw_cpu_s scans):"
		sed 's/^/  - /' "$R/win.$phase"
	done
} >"$RESULTS"
log "written $RESULTS"
