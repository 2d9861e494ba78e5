#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench: parkwatch's benchmark suite. Never part of 'make test'. Run as root on an otherwise
# idle machine; about 15-20 minutes on a 2-core VM.
#
#   tests/bench/run.sh [BUILD_DIR]
#
# Prints one table (also written, with machine, kernel and tool versions, to bench/results.md):
#   - hand-off workload (2 pinned thread pairs, mutex+condvar) untraced and under parkwatch
#     watch (default --ages bound, and --ages exact), watch --futex-events, export, bpftrace one-liners and bcc's offcputime; configurations
#     interleaved round by round, slowdown = median traced / median untraced of this one run
#   - BPF run time per event of every parkwatch program (kernel.bpf_stats_enabled counters)
#   - thread create/exit churn, untraced vs traced
#   - a target's throughput while 'parkwatch snapshot' runs in a loop against it: pinned apart
#     from parkwatch (is the target disturbed?) and sharing the CPUs with it, beside a CPU hog
#   - snapshot latency, CPU and peak RSS, and watch CPU per re-scan, at 1k..30k parked threads,
#     beside gdb and eu-stack
# and marks each figure PASS/MISS against its acceptance target.
#
# Knobs (environment): BENCH_RUNS (interleaved rounds, default 7), BENCH_HANDOFFS (per pair,
# default 250000), BENCH_CHURN_THREADS (default 20000), BENCH_STATS_RUNS (default 5),
# BENCH_SIZES (parked threads, default "1000 5000 10000 30000"), BENCH_PEER_SIZES (gdb and
# eu-stack, default "1000 5000"), BENCH_SCALE_RUNS (default 3), BENCH_RESULTS (default
# bench/results.md), BENCH_NICE (niceness of everything it runs, default -20; the bench runs in
# its own session so that the niceness holds against other sessions' load), BENCH_PW_CPU and
# BENCH_WL_CPU (CPUs of parkwatch and of the target in the pinned snapshot loop, default 0 and
# 1), BENCH_KEEP=1 (keep the work directory with every log).
#
# The sysctls it changes (kernel.bpf_stats_enabled, kernel.pid_max, vm.max_map_count) are
# restored on every exit path, and every process it starts is stopped by its pid.
set -u -o pipefail

BUILD=${1:-build}
SELF=$(readlink -f "$0")
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac

RUNS=${BENCH_RUNS:-7}
HANDOFFS=${BENCH_HANDOFFS:-250000}
CHURN_THREADS=${BENCH_CHURN_THREADS:-20000}
STATS_RUNS=${BENCH_STATS_RUNS:-5}
SIZES=${BENCH_SIZES:-1000 5000 10000 30000}
PEER_SIZES=${BENCH_PEER_SIZES:-1000 5000}
SCALE_RUNS=${BENCH_SCALE_RUNS:-3}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results.md}
. "$ROOT/tests/bench/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (sudo make bench)"
[ -x "$BUILD/parkwatch" ] || die "$BUILD/parkwatch missing (make all)"

# Everything the bench starts inherits this niceness: other load on the host then takes
# little of the CPU the measured workloads and tracers need (BENCH_NICE=0 to turn it off).
NICE=${BENCH_NICE:--20}
bench_own_session "$SELF" "$BUILD"
renice -n "$NICE" -p $$ >/dev/null || die "renice failed"

W=$(mktemp -d /tmp/parkwatch-bench.XXXXXX) || die "mktemp failed"
R=$W/r
mkdir -p "$R"
T_START=$(date +%s)

# ---- processes and sysctls: always cleaned up ----

BG=()
declare -A SYSCTL_SAVED=()

sysctl_set() {
	local key=$1 val=$2

	if [ -z "${SYSCTL_SAVED[$key]+x}" ]; then
		SYSCTL_SAVED[$key]=$(sysctl -n "$key") || return 1
	fi
	sysctl -q -w "$key=$val" >/dev/null
}

sysctl_restore() {
	local key=$1

	[ -n "${SYSCTL_SAVED[$key]+x}" ] || return 0
	sysctl -q -w "$key=${SYSCTL_SAVED[$key]}" >/dev/null ||
		log "warning: could not restore $key=${SYSCTL_SAVED[$key]}"
	unset "SYSCTL_SAVED[$key]"
}

cleanup() {
	local p k

	touch "$W/stop" 2>/dev/null
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${BG[@]}"; do
		stop_proc "$p" KILL
	done
	for k in "${!SYSCTL_SAVED[@]}"; do
		sysctl_restore "$k"
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "logs kept in $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- small helpers ----

count_ge() {
	[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]
}

nonempty() {
	[ -s "$1" ]
}

TABLE=$W/table.md
NOTES=$W/notes.md
: >"$TABLE"
: >"$NOTES"

row_skip() {
	row "$1" 0 - - - - "${3:--}" "skipped: $2"
}

# ---- tools and workloads ----

log "work directory $W"
for tool in jq bpftool; do
	command -v "$tool" >/dev/null || die "$tool missing (make deps)"
done
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"

APT_WHY=""
if ! command -v bpftrace >/dev/null || ! command -v offcputime-bpfcc >/dev/null; then
	log "installing bpftrace and bpfcc-tools (apt-get)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace bpfcc-tools \
		>"$W/apt.log" 2>&1; then
		apt-get update -qq >>"$W/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace bpfcc-tools \
			>>"$W/apt.log" 2>&1 || APT_WHY="apt-get install failed: $(why "$W/apt.log")"
	fi
fi

BB=$BUILD/bench
mkdir -p "$BB"
for wl in handoff churn; do
	cc -O2 -g -pthread -Wall -Wextra -Wno-unused-parameter -Werror \
		"tests/bench/$wl.c" -o "$BB/$wl" || die "building tests/bench/$wl.c failed"
done
PREPARKED=$BUILD/workloads/preparked
[ -x "$PREPARKED" ] || die "$PREPARKED missing (make workloads)"

# A private copy: others may rebuild build/parkwatch while the bench runs.
PW=$W/parkwatch
cp "$BUILD/parkwatch" "$PW" || die "cannot copy $BUILD/parkwatch"
HANDOFF=$BB/handoff
FLOOR=$BB/floor
CHURN=$BB/churn

HAVE_EXPORT=0
"$PW" export --help >/dev/null 2>&1 && HAVE_EXPORT=1

# ---- tracers: start one, wait until it is attached, stop it ----

declare -A TR_LABEL=(
	[untraced]="untraced"
	[watch]="parkwatch watch -i 1s (default mode: --ages bound)"
	[exact]="parkwatch watch -i 1s --ages exact (the sched_switch hot path)"
	[futex]="parkwatch watch -i 1s --futex-events"
	[futexx]="parkwatch watch -i 1s --futex-events --ages exact"
	[export]="parkwatch export (default interval)"
	[btfutex]="bpftrace futex by ustack"
	[btoffcpu]="bpftrace off-CPU time by kstack+ustack"
	[bcc]="offcputime-bpfcc (bcc)"
	[floor-empty]="control: an empty tp_btf/sched_switch program (tests/bench/floor.bpf.c)"
	[floor-empty_both]="control: empty programs on sched_switch and sys_enter_futex (--futex-events' attach points)"
)
declare -A TR_WHY=()
TR_PID=""
BT_FUTEX='BEGIN { printf("READY\n"); } tracepoint:syscalls:sys_enter_futex { @[ustack] = count(); }'

# tracer_start CFG: TR_PID set when it is attached; 1 (reason in TR_WHY[CFG]) when it failed.
tracer_start() {
	local cfg=$1 lg=$W/tracer-$1.log rc

	TR_PID=""
	: >"$lg"
	case $cfg in
	untraced) return 0 ;;
	watch) "$PW" watch -i 1s >"$lg" 2>&1 & ;;
	exact) "$PW" watch -i 1s --ages exact >"$lg" 2>&1 & ;;
	futex) "$PW" watch -i 1s --futex-events >"$lg" 2>&1 & ;;
	futexx) "$PW" watch -i 1s --futex-events --ages exact >"$lg" 2>&1 & ;;
	export)
		rm -rf "$W/prom" && mkdir -p "$W/prom"
		"$PW" export --textfile-dir "$W/prom" >"$lg" 2>&1 &
		;;
	btfutex) bpftrace -e "$BT_FUTEX" >"$lg" 2>&1 & ;;
	btoffcpu) bpftrace "$ROOT/tests/bench/offcpu.bt" >"$lg" 2>&1 & ;;
	bcc) offcputime-bpfcc >"$lg" 2>&1 & ;;
	floor-*) "$FLOOR" "${cfg#floor-}" >"$lg" 2>&1 & ;;
	esac
	TR_PID=$!
	BG+=("$TR_PID")
	case $cfg in
	watch | exact | futex | futexx) wait_for 60 "$TR_PID" has "$lg" 'parked=' ;;
	export) wait_for 60 "$TR_PID" nonempty "$W/prom/parkwatch.prom" ;;
	btfutex | btoffcpu | floor-*) wait_for 60 "$TR_PID" has "$lg" READY ;;
	bcc) wait_for 120 "$TR_PID" has "$lg" 'Tracing off-CPU' ;;
	esac
	rc=$?
	[ $rc = 0 ] && return 0
	if [ $rc = 2 ]; then
		TR_WHY[$cfg]="not attached after the timeout"
	else
		TR_WHY[$cfg]="exited: $(why "$lg")"
		if [ "$cfg" = bcc ] && has "$lg" "chdir(/lib/modules"; then
			TR_WHY[$cfg]="bcc cannot compile its BPF program: no kernel headers for $(uname -r) (/lib/modules/$(uname -r)/build missing, no CONFIG_IKHEADERS); libbpf-tools is not packaged in Debian 12"
		fi
	fi
	stop_proc "$TR_PID" KILL
	TR_PID=""
	return 1
}

tracer_stop() {
	local cfg=$1

	# Python ignores SIGINT when started in the background: bcc gets SIGTERM.
	if [ "$cfg" = bcc ]; then
		stop_proc "$TR_PID" TERM
	else
		stop_proc "$TR_PID" INT
	fi
	TR_PID=""
}

# run_result FILE: the elapsed_s (or rate) of a workload's RESULT line.
result_field() {
	sed -n "s/^RESULT .*$2=\([0-9.]*\).*/\1/p" "$1" | tail -1
}

# ---- 1. hand-off workload: untraced vs tracers, interleaved ----

HO_CFGS=(untraced watch exact futex futexx)
[ $HAVE_EXPORT = 1 ] && HO_CFGS+=(export)
# What any program on sched_switch costs the workload before it does anything: the bound under
# parkwatch's default mode; and with one on sys_enter_futex too, under --futex-events.
[ -x "$FLOOR" ] && [ -s "$FLOOR.bpf.o" ] && HO_CFGS+=(floor-empty floor-empty_both)
if [ -n "$APT_WHY" ] && ! command -v bpftrace >/dev/null; then
	TR_WHY[btfutex]=$APT_WHY
	TR_WHY[btoffcpu]=$APT_WHY
else
	HO_CFGS+=(btfutex btoffcpu)
fi
if ! command -v offcputime-bpfcc >/dev/null; then
	TR_WHY[bcc]=${APT_WHY:-offcputime-bpfcc not installed}
else
	log "probing offcputime-bpfcc"
	if tracer_start bcc; then
		tracer_stop bcc
		HO_CFGS+=(bcc)
	fi
fi

run_handoff() {
	local out=$W/handoff.out

	"$HANDOFF" --pairs 2 --handoffs "$HANDOFFS" >"$out" 2>&1 || return 1
	result_field "$out" elapsed_s
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
FOREIGN=$(foreign_tracers)
[ -n "$FOREIGN" ] && note "tracing BPF programs of others loaded at the start: $FOREIGN"
log "hand-off: $RUNS interleaved rounds of: ${HO_CFGS[*]}"
run_handoff >/dev/null # warm-up, discarded
for ((r = 0; r < RUNS; r++)); do
	for cfg in $(rotate "$r" "${HO_CFGS[@]}"); do
		[ -n "${TR_WHY[$cfg]+x}" ] && continue
		tracer_start "$cfg" || {
			log "  $cfg failed: ${TR_WHY[$cfg]}"
			continue
		}
		if v=$(run_handoff) && [ -n "$v" ]; then
			echo "$v" >>"$R/ho.$cfg"
			echo "$r $v" >>"$R/ho.$cfg.byround"
		fi
		tracer_stop "$cfg"
		if [ "$cfg" != untraced ] && ! [ -s "$R/ho.$cfg" ] && [ "$r" -ge 1 ]; then
			TR_WHY[$cfg]="the hand-off workload failed under it: $(why "$W/handoff.out")"
		fi
	done
	log "  round $((r + 1))/$RUNS done"
done

# paired RATIO: median over rounds of (traced / untraced of the same round).
paired_ratio() {
	local traced=$1 base=$2

	[ -s "$traced.byround" ] && [ -s "$base.byround" ] || return 0
	awk 'NR == FNR { u[$1] = $2; next } ($1 in u) && u[$1] > 0 { print $2 / u[$1] }' \
		"$base.byround" "$traced.byround" >"$traced.paired"
	median "$traced.paired"
}

# ---- 2. thread churn: untraced vs traced, interleaved ----

CH_CFGS=(untraced watch exact futex)
log "churn: $RUNS interleaved rounds of: ${CH_CFGS[*]}"
"$CHURN" --threads "$CHURN_THREADS" >/dev/null 2>&1 # warm-up
for ((r = 0; r < RUNS; r++)); do
	for cfg in $(rotate "$r" "${CH_CFGS[@]}"); do
		tracer_start "$cfg" || continue
		if "$CHURN" --threads "$CHURN_THREADS" >"$W/churn.out" 2>&1; then
			v=$(result_field "$W/churn.out" rate)
			echo "$v" >>"$R/ch.$cfg"
			echo "$r $v" >>"$R/ch.$cfg.byround"
		fi
		tracer_stop "$cfg"
	done
done

# ---- 3. the target's throughput while parkwatch snapshot runs in a loop against it ----

# snapshot_loop PID PAUSE_S [CPU] [CMD...]: snapshots of PID back to back (PAUSE_S between them)
# until told; on CPU when given, the loop's own shell too (unpinned, it woke on the target's CPU
# after every snapshot). With CMD, CMD instead of the snapshot: a control.
snapshot_loop() {
	local pid=$1 pause=$2 cpu=${3:-} n=0

	shift 3
	[ $# -gt 0 ] || set -- "$PW" snapshot -p "$pid" -m 0
	[ -z "$cpu" ] || taskset -cp "$cpu" "$BASHPID" >/dev/null || die "cannot pin the loop to CPU $cpu"
	while [ ! -e "$W/stop.loop" ]; do
		"$@" >/dev/null 2>>"$W/snaploop.err" && n=$((n + 1))
		[ "$pause" = 0 ] || sleep "$pause"
	done
	echo "$n" >"$W/snaploop.count"
}

# Two phases. pinned: one hand-off pair on CPU $WL_CPU, parkwatch (or nothing) on CPU $PW_CPU:
# whatever the target loses is parkwatch stopping or disturbing it (locks, IPIs, its stack
# pages read), not CPU taken from it; this is the "target never stopped" figure. shared: two
# pairs fill both CPUs, so every cycle parkwatch runs is taken from the target; the hog control
# (a plain CPU spinner in parkwatch's place, no tracing at all) shows what CPU competition alone
# costs. A longer target run than the hand-off section's, so that several snapshots complete.
PW_CPU=${BENCH_PW_CPU:-0}
WL_CPU=${BENCH_WL_CPU:-1}
[ "$(nproc)" -ge 2 ] || PW_CPU=0 WL_CPU=0
log "snapshot loop: $RUNS interleaved rounds, pinned and shared"
for ((r = 0; r < RUNS; r++)); do
	for pc in $(rotate "$r" pinned:none pinned:loop pinned:loop1s pinned:exec shared:none \
		shared:loop shared:loop1s shared:hog); do
		phase=${pc%%:*}
		cfg=${pc##*:}
		out=$W/handoff-loop.out
		rm -f "$W/stop.loop" "$W/snaploop.count"
		if [ "$phase" = pinned ]; then
			"$HANDOFF" --pairs 1 --first-cpu "$WL_CPU" --handoffs $((4 * HANDOFFS)) \
				--start-delay-ms 300 >"$out" 2>&1 &
			cpu=$PW_CPU
		else
			"$HANDOFF" --pairs 2 --handoffs $((4 * HANDOFFS)) --start-delay-ms 300 >"$out" 2>&1 &
			cpu=""
		fi
		hpid=$!
		BG+=("$hpid")
		lpid=""
		if wait_for 10 "$hpid" has "$out" READY && [ "$cfg" != none ]; then
			case $cfg in
			loop) snapshot_loop "$hpid" 0 "$cpu" & ;;
			loop1s) snapshot_loop "$hpid" 1 "$cpu" & ;;
			exec) snapshot_loop "$hpid" 0 "$cpu" "$PW" --version & ;;
			hog) while [ ! -e "$W/stop.loop" ]; do :; done & ;;
			esac
			lpid=$!
			BG+=("$lpid")
		fi
		wait "$hpid"
		bg_forget "$hpid"
		if [ -n "$lpid" ]; then
			touch "$W/stop.loop"
			wait "$lpid"
			bg_forget "$lpid"
			if [ "$cfg" != hog ] && [ -s "$W/snaploop.count" ]; then
				cat "$W/snaploop.count" >>"$R/$phase.$cfg.count"
				echo "$r $(cat "$W/snaploop.count")" >>"$R/$phase.$cfg.count.byround"
			fi
		fi
		v=$(result_field "$out" rate)
		[ -n "$v" ] && echo "$v" >>"$R/tp.$phase.$cfg" && echo "$r $v" >>"$R/tp.$phase.$cfg.byround"
	done
done

# ---- 4. BPF run time per event (kernel.bpf_stats_enabled) ----

# prog_ids PID: ids of the BPF programs PID holds (its fdinfo), as a JSON array.
prog_ids() {
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un |
		jq -s -c .
}

# bpf_delta IDS BEFORE AFTER SECONDS TAG: per program, append ns/event and events/s.
bpf_delta() {
	local ids=$1 b0=$2 b1=$3 secs=$4 tag=$5

	jq -r --argjson ids "$ids" --slurpfile a "$b0" '
		($a[0] | map({key: (.id | tostring), value: .}) | from_entries) as $old
		| .[] | select(.id as $i | $ids | index($i))
		| [.name, ((.run_cnt // 0) - ($old[.id | tostring].run_cnt // 0)),
		   ((.run_time_ns // 0) - ($old[.id | tostring].run_time_ns // 0))] | @tsv' "$b1" |
		while IFS=$'\t' read -r name cnt ns; do
			[ "$cnt" -gt 0 ] || continue
			calc "$ns / $cnt" >>"$R/bpf.$tag.$name.ns"
			echo >>"$R/bpf.$tag.$name.ns"
			calc "$cnt / $secs" >>"$R/bpf.$tag.$name.eps"
			echo >>"$R/bpf.$tag.$name.eps"
		done
}

log "BPF stats: $STATS_RUNS runs each"
sysctl_set kernel.bpf_stats_enabled 1 || die "cannot set kernel.bpf_stats_enabled"
# The floor programs (tests/bench/floor.bpf.c, strict subsets of pw_sched_switch, and an empty
# sys_enter_futex program) on the same workload: what bounds parkwatch's cost per event.
FLOOR_PAIRS=""
if [ -x "$FLOOR" ] && [ -s "$FLOOR.bpf.o" ]; then
	FLOOR_PAIRS="floor-empty:handoff floor-filter:handoff floor-clock:handoff floor-storage:handoff"
	FLOOR_PAIRS+=" floor-slot:handoff floor-slot_adjacent:handoff floor-slot_rodata:handoff"
	# pw_enter_futex's ladder (--futex-events): each a strict subset of it.
	for v in futex_empty futex_op futex_task futex_counter futex_cpu futex_slot; do
		FLOOR_PAIRS+=" floor-$v:handoff"
	done
else
	note "floor programs not built ($FLOOR): make bench builds them"
fi
for ((r = 0; r < STATS_RUNS; r++)); do
	for pair in $(rotate "$r" exact:handoff futex:handoff futexx:handoff exact:churn $FLOOR_PAIRS); do
		cfg=${pair%%:*}
		wl=${pair##*:}
		tracer_start "$cfg" || continue
		ids=$(prog_ids "$TR_PID")
		bpftool prog show --json >"$W/b0.json"
		t0=$(now)
		if [ "$wl" = handoff ]; then
			"$HANDOFF" --pairs 2 --handoffs "$HANDOFFS" >/dev/null 2>&1
		else
			"$CHURN" --threads "$CHURN_THREADS" >/dev/null 2>&1
		fi
		t1=$(now)
		bpftool prog show --json >"$W/b1.json"
		bpf_delta "$ids" "$W/b0.json" "$W/b1.json" "$(calc "$t1 - $t0")" "$cfg-$wl"
		tracer_stop "$cfg"
	done
done
sysctl_restore kernel.bpf_stats_enabled

# ---- 5. scaling: parked threads, parkwatch vs gdb and eu-stack ----

sysctl_set kernel.pid_max 4194304 || die "cannot raise kernel.pid_max"
sysctl_set vm.max_map_count 262144 || die "cannot raise vm.max_map_count"

# cpu_ns PID: on-CPU time of every thread of PID (schedstat), in ns.
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# timed OUT TIMEFILE CMD...: run CMD; TIMEFILE gets "wall user sys maxrss_kb".
timed() {
	local out=$1 tf=$2

	shift 2
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>&1
}

# preparked_up N: PPID is a live preparked with N parked threads, (re)started if needed: other
# people's tests on a shared host have been seen killing it (a stale pid reused).
PPID_N=""
preparked_up() {
	local n=$1 pout=$W/preparked-$1.out

	if [ -n "$PPID_N" ] && [ "$PPID_N" = "$n" ] && kill -0 "$ppid" 2>/dev/null; then
		return 0
	fi
	if [ "$PPID_N" = "$n" ]; then
		note "preparked ($n threads, pid $ppid) died during the bench; restarted"
		wait "$ppid" 2>/dev/null
		bg_forget "$ppid"
	fi
	PPID_N=$n
	"$PREPARKED" --threads "$n" >"$pout" 2>"$W/preparked-$n.err" &
	ppid=$!
	BG+=("$ppid")
	if ! wait_for 600 "$ppid" has "$pout" READY; then
		note "preparked --threads $n failed: $(why "$W/preparked-$n.err")"
		stop_proc "$ppid" KILL
		PPID_N=""
		return 1
	fi
	sleep 2 # every thread parked longer than the default --min-age (1s)
}

# steady LOG: the last two scan lines of a watch are >= 0.9 s apart (no catch-up scans after a
# slow first scan), so a scan line is followed by an idle gap in which to read counters.
steady() {
	grep 'parked=' "$1" 2>/dev/null | tail -2 |
		awk '{ sub(/s$/, "", $1); t[NR] = $1 } END { exit !(NR == 2 && t[2] - t[1] >= 0.9) }'
}

scans() {
	grep -c 'parked=' "$1" 2>/dev/null
}

for n in $(echo "$SIZES $PEER_SIZES" | tr ' ' '\n' | sort -un); do
	log "scaling: $n parked threads"
	preparked_up "$n" || continue

	# parkwatch snapshot: each run is a first snapshot (a new process, cold caches).
	for ((r = 0; r < SCALE_RUNS; r++)); do
		preparked_up "$n" || break
		if timed "$W/snap.out" "$W/snap.time" "$PW" snapshot -p "$ppid"; then
			read -r wall u s rss <"$W/snap.time"
			echo "$wall" >>"$R/snap.$n.wall"
			calc "$u + $s" >>"$R/snap.$n.cpu" && echo >>"$R/snap.$n.cpu"
			calc "$rss / 1024" >>"$R/snap.$n.rss" && echo >>"$R/snap.$n.rss"
			seen=$(sed -n 's/^\([0-9]*\) parked threads in.*/\1/p' "$W/snap.out")
			if [ "${seen:-0}" -lt "$n" ]; then
				cp "$W/snap.out" "$W/snap-short-$n-$r.out"
				note "snapshot at $n threads reported ${seen:-no} parked threads" \
					"(sites: $(awk '/^ *[0-9]+ +[a-z]/ { printf "%s %s %s; ", $1, $2, $NF }' \
						"$W/snap.out")$(grep '^drops:' "$W/snap.out"))"
			fi
		else
			note "snapshot at $n threads failed: $(why "$W/snap.out")"
		fi
	done

	# parkwatch watch: CPU of 10 steady re-scans, peak RSS; then one run with bpf_stats on
	# for pw_scan's own time over 5 steady scans.
	if echo " $SIZES " | grep -q " $n "; then
		for ((r = 0; r <= SCALE_RUNS; r++)); do
			preparked_up "$n" || break
			bpfrun=0
			[ "$r" = "$SCALE_RUNS" ] && bpfrun=1
			[ $bpfrun = 1 ] && sysctl_set kernel.bpf_stats_enabled 1
			wl=$W/watch-$n-$r.log
			"$PW" watch -p "$ppid" -i 1s >"$wl" 2>&1 &
			wpid=$!
			BG+=("$wpid")
			if wait_for 300 "$wpid" steady "$wl"; then
				k0=$(scans "$wl")
				if [ $bpfrun = 1 ]; then
					ids=$(prog_ids "$wpid")
					bpftool prog show --json >"$W/b0.json"
				fi
				c0=$(cpu_ns "$wpid")
				k=10
				[ $bpfrun = 1 ] && k=5
				if wait_for 300 "$wpid" count_ge "$wl" parked= $((k0 + k)); then
					c1=$(cpu_ns "$wpid")
					if [ $bpfrun = 0 ]; then
						calc "($c1 - $c0) / $k / 1e6" >>"$R/watch.$n.scan_ms"
						echo >>"$R/watch.$n.scan_ms"
						hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$wpid"/status)
						calc "${hwm:-0} / 1024" >>"$R/watch.$n.rss"
						echo >>"$R/watch.$n.rss"
					else
						bpftool prog show --json >"$W/b1.json"
						jq -r --argjson ids "$ids" --slurpfile a "$W/b0.json" '
							($a[0] | map({key: (.id | tostring), value: .})
							 | from_entries) as $o
							| .[] | select((.id as $i | $ids | index($i)) and
								       .name == "pw_scan")
							| [((.run_cnt // 0) - ($o[.id | tostring].run_cnt // 0)),
							   ((.run_time_ns // 0) -
							    ($o[.id | tostring].run_time_ns // 0))]
							| @tsv' "$W/b1.json" >"$W/scanstat"
						read -r cnt ns <"$W/scanstat"
						if [ "${cnt:-0}" -gt 0 ]; then
							calc "$ns / $cnt" >"$R/scan.$n.ns_task"
							calc "$ns / $k / 1e6" >"$R/scan.$n.ms_scan"
							calc "$cnt / $k" >"$R/scan.$n.tasks"
						fi
					fi
				fi
			else
				note "watch at $n threads failed: $(why "$wl")"
			fi
			stop_proc "$wpid" INT
			[ $bpfrun = 1 ] && sysctl_restore kernel.bpf_stats_enabled
		done
	fi

	# gdb and eu-stack: both ptrace-stop every thread for their whole run.
	if echo " $PEER_SIZES " | grep -q " $n "; then
		peer_runs=$SCALE_RUNS
		[ "$n" -gt 2000 ] && peer_runs=1
		for ((r = 0; r < peer_runs; r++)); do
			preparked_up "$n" || break
			t0=$(now)
			timeout 900 gdb -p "$ppid" -batch -ex 'thread apply all bt' >"$W/gdb.out" 2>&1
			t1=$(now)
			got=$(grep -c '^Thread ' "$W/gdb.out")
			if [ "$got" -ge "$n" ]; then
				calc "$t1 - $t0" >>"$R/gdb.$n" && echo >>"$R/gdb.$n"
			else
				note "gdb at $n threads: only $got threads in its output ($(why "$W/gdb.out"))"
			fi
			preparked_up "$n" || break
			t0=$(now)
			timeout 900 eu-stack -p "$ppid" >"$W/eu.out" 2>&1
			t1=$(now)
			got=$(grep -c '^TID ' "$W/eu.out")
			if [ "$got" -ge "$n" ]; then
				calc "$t1 - $t0" >>"$R/eu.$n" && echo >>"$R/eu.$n"
			else
				note "eu-stack at $n threads: only $got threads in its output ($(why "$W/eu.out"))"
			fi
		done
	fi
	[ -n "$PPID_N" ] && stop_proc "$ppid" TERM
	PPID_N=""
done
sysctl_restore vm.max_map_count
sysctl_restore kernel.pid_max

# ---- the table ----

FOREIGN=$(foreign_tracers)
[ -n "$FOREIGN" ] && note "tracing BPF programs of others loaded at the end: $FOREIGN"
log "writing the table"
row "measurement" "runs" "min" "median" "max" "ratio / rate" "target" "verdict"
row "---" "--:" "--:" "--:" "--:" "--:" "---" "---"

# Hand-off: seconds for 2 x $HANDOFFS hand-offs; ratio = median traced / median untraced.
U=$(median "$R/ho.untraced")
for cfg in untraced watch exact futex futexx export floor-empty floor-empty_both btfutex btoffcpu bcc; do
	case $cfg in floor-*) [ -s "$R/ho.$cfg" ] || continue ;; esac
	label="hand-off, ${TR_LABEL[$cfg]} (s)"
	target="-"
	case $cfg in
	watch) target="<= 1.05" ;;
	futex) target="<= 1.15" ;;
	esac
	if [ "$cfg" = export ] && [ $HAVE_EXPORT = 0 ]; then
		row "hand-off, parkwatch export" 0 - - - - - "export: not built yet"
		continue
	fi
	if ! [ -s "$R/ho.$cfg" ]; then
		row_skip "$label" "${TR_WHY[$cfg]:-no successful run}" "$target"
		continue
	fi
	if [ "$cfg" = untraced ]; then
		row_stats "$label" "$R/ho.$cfg" %.3f "1.000" - -
		continue
	fi
	ratio=$(calc "$(median "$R/ho.$cfg") / $U")
	pr=$(paired_ratio "$R/ho.$cfg" "$R/ho.untraced")
	v="-"
	[ "$target" != - ] && v=$(verdict "$ratio" "<=" "${target#<= }")
	row_stats "$label" "$R/ho.$cfg" %.3f "$(fmt %.3f "$ratio") (paired $(fmt %.3f "$pr"))" \
		"$target" "$v"
done

# BPF cost per event.
bpf_row() {
	local tag=$1 name=$2 what=$3 target="<= 100" v md eps

	[ -s "$R/bpf.$tag.$name.ns" ] || {
		row_skip "BPF $name ns/event, $what" "no events counted" "$target"
		return
	}
	md=$(median "$R/bpf.$tag.$name.ns")
	eps=$(median "$R/bpf.$tag.$name.eps")
	v=$(verdict "$md" "<=" 100)
	row_stats "BPF $name ns/event, $what" "$R/bpf.$tag.$name.ns" %.0f \
		"$(fmt %.0f "$eps") events/s" "$target" "$v"
}
bpf_row exact-handoff pw_sched_switch "watch --ages exact, hand-off"
bpf_row futexx-handoff pw_sched_switch "watch --futex-events --ages exact, hand-off"
bpf_row futex-handoff pw_enter_futex "watch --futex-events, hand-off"
bpf_row futexx-handoff pw_enter_futex "watch --futex-events --ages exact, hand-off"
bpf_row exact-churn pw_sched_switch "watch --ages exact, churn"
bpf_row exact-churn pw_process_exit "watch --ages exact, churn"
# floor_row CFG PROG WHAT: a floor program's ns/event (no target: it is the bound, not parkwatch).
floor_row() {
	[ -s "$R/bpf.$1-handoff.$2.ns" ] || return 0
	row_stats "BPF floor: $3, hand-off" "$R/bpf.$1-handoff.$2.ns" %.0f \
		"$(fmt %.0f "$(median "$R/bpf.$1-handoff.$2.eps")") events/s" - -
}
floor_row floor-empty floor_empty "empty tp_btf/sched_switch program"
floor_row floor-filter floor_filter "+ pw_sched_switch's test (sleeping, not kthread, not preempted)"
floor_row floor-clock floor_clock "+ test + bpf_ktime_get_ns()"
floor_row floor-storage floor_storage "+ test + task-storage get-or-create, seq++"
floor_row floor-slot floor_slot "+ test + park slot written (array indexed by rotated tid: parkwatch's layout)"
floor_row floor-slot_adjacent floor_slot_adjacent "+ test + park slot indexed by the tid itself (neighbours share a cache line)"
floor_row floor-slot_rodata floor_slot_rodata "+ test + park slot, table size read from .rodata (parkwatch before 471a56e)"
floor_row floor-futex_empty floor_futex_empty "empty sys_enter_futex program"
floor_row floor-futex_op floor_futex_op "sys_enter_futex: + pw_enter_futex's op switch"
floor_row floor-futex_task floor_futex_task "sys_enter_futex: + op switch + tgid and leader start time (the word's tag)"
floor_row floor-futex_counter floor_futex_counter "sys_enter_futex: + op switch + one per-CPU counter"
floor_row floor-futex_cpu floor_futex_cpu "sys_enter_futex: + op switch + a counter in a plain array by CPU"
floor_row floor-futex_slot floor_futex_slot "sys_enter_futex: + op switch + the word's per-CPU slot (tgid, no tag)"

# Churn: threads/s; ratio = median traced / median untraced (>= 0.95).
CU=$(median "$R/ch.untraced")
for cfg in untraced watch exact futex; do
	label="churn, ${TR_LABEL[$cfg]} (threads/s)"
	[ -s "$R/ch.$cfg" ] || {
		row_skip "$label" "${TR_WHY[$cfg]:-no successful run}"
		continue
	}
	if [ "$cfg" = untraced ]; then
		row_stats "$label" "$R/ch.$cfg" %.0f "1.000" - -
		continue
	fi
	ratio=$(calc "$(median "$R/ch.$cfg") / $CU")
	pr=$(paired_ratio "$R/ch.$cfg" "$R/ch.untraced")
	target="-"
	v="-"
	if [ "$cfg" = watch ] || [ "$cfg" = exact ]; then
		target=">= 0.95"
		v=$(verdict "$ratio" ">=" 0.95)
	fi
	row_stats "$label" "$R/ch.$cfg" %.0f "$(fmt %.3f "$ratio") (paired $(fmt %.3f "$pr"))" \
		"$target" "$v"
done

# Target throughput during repeated snapshots.
for phase in pinned shared; do
	if [ $phase = pinned ]; then
		what="1 pair on CPU $WL_CPU, parkwatch on CPU $PW_CPU"
	else
		what="2 pairs on both CPUs, parkwatch unpinned"
	fi
	base=$R/tp.$phase.none
	row_stats "target hand-offs/s ($what), no snapshots" "$base" %.0f "1.000" - -
	for cfg in loop loop1s exec hog; do
		[ -s "$R/tp.$phase.$cfg" ] || continue
		case $cfg in
		loop) label="parkwatch snapshot -p TARGET -m 0 back to back" ;;
		loop1s) label="the same with 1 s pause between snapshots" ;;
		exec) label="control: parkwatch --version back to back (process start and exit, no BPF)" ;;
		hog) label="control: a CPU spinner instead of parkwatch (no tracing)" ;;
		esac
		ratio=$(calc "$(median "$R/tp.$phase.$cfg") / $(median "$base")")
		pr=$(paired_ratio "$R/tp.$phase.$cfg" "$base")
		target="-"
		v="-"
		if [ $phase = pinned ] && [ $cfg = loop ]; then
			target=">= 0.98"
			v=$(verdict "$ratio" ">=" 0.98)
		fi
		row_stats "target hand-offs/s ($what), $label" "$R/tp.$phase.$cfg" %.0f \
			"$(fmt %.3f "$ratio") (paired $(fmt %.3f "$pr"))" "$target" "$v"
		[ -s "$R/$phase.$cfg.count" ] &&
			row_stats "loop iterations per target run ($phase, $cfg)" \
				"$R/$phase.$cfg.count" %.0f - - -
		# What one iteration (a snapshot, or a bare process start and exit) costs the target:
		# its run's extra seconds over the same round's untraced run, per iteration.
		if [ -s "$R/$phase.$cfg.count.byround" ]; then
			awk -v h=$((4 * HANDOFFS)) 'FILENAME == ARGV[1] { u[$1] = $2; next }
				FILENAME == ARGV[2] { t[$1] = $2; next }
				($1 in u) && ($1 in t) && u[$1] > 0 && t[$1] > 0 && $2 > 0 {
					printf "%.3f\n", (h / t[$1] - h / u[$1]) * 1000 / $2 }' \
				"$base.byround" "$R/tp.$phase.$cfg.byround" "$R/$phase.$cfg.count.byround" \
				>"$R/$phase.$cfg.lost_ms"
			row_stats "target ms lost per loop iteration ($phase, $cfg; paired by round)" \
				"$R/$phase.$cfg.lost_ms" %.2f - - -
		fi
	done
done

# Scaling.
for n in $(echo "$SIZES $PEER_SIZES" | tr ' ' '\n' | sort -un); do
	t="-"
	v="-"
	if [ -s "$R/snap.$n.wall" ]; then
		if [ "$n" = 10000 ]; then
			t="<= 1 s"
			v=$(verdict "$(median "$R/snap.$n.wall")" "<=" 1)
		fi
		row_stats "first snapshot, $n parked: wall s (target never stopped)" \
			"$R/snap.$n.wall" %.3f - "$t" "$v"
		row_stats "first snapshot, $n parked: parkwatch CPU s (user+sys)" \
			"$R/snap.$n.cpu" %.3f - - -
		t="-"
		v="-"
		if [ "$n" = 30000 ]; then
			t="<= 50 MB"
			v=$(verdict "$(stats "$R/snap.$n.rss" | awk '{ print $4 }')" "<=" 50)
		fi
		row_stats "first snapshot, $n parked: peak RSS MB" "$R/snap.$n.rss" %.1f - "$t" "$v"
	elif echo " $SIZES " | grep -q " $n "; then
		row_skip "first snapshot, $n parked" "no successful run (see notes)"
	fi
	if [ -s "$R/watch.$n.scan_ms" ]; then
		t="-"
		v="-"
		if [ "$n" = 30000 ]; then
			t="<= 100 ms"
			v=$(verdict "$(median "$R/watch.$n.scan_ms")" "<=" 100)
		fi
		row_stats "watch re-scan, $n parked: parkwatch CPU ms per scan (steady)" \
			"$R/watch.$n.scan_ms" %.1f - "$t" "$v"
		t="-"
		v="-"
		if [ "$n" = 30000 ]; then
			t="<= 50 MB"
			v=$(verdict "$(stats "$R/watch.$n.rss" | awk '{ print $4 }')" "<=" 50)
		fi
		row_stats "watch, $n parked: peak RSS MB (steady)" "$R/watch.$n.rss" %.1f - \
			"$t" "$v"
	fi
	if [ -s "$R/scan.$n.ns_task" ]; then
		row "BPF pw_scan, $n parked: ns per task visited / ms per scan (5 scans)" 1 - \
			"$(fmt %.0f "$(cat "$R/scan.$n.ns_task")") ns / $(fmt %.1f "$(cat "$R/scan.$n.ms_scan")") ms" \
			- "$(fmt %.0f "$(cat "$R/scan.$n.tasks")") tasks/scan" - "-"
	fi
	for peer in gdb eu; do
		name="gdb -batch 'thread apply all bt'"
		[ $peer = eu ] && name="eu-stack -p"
		[ -s "$R/$peer.$n" ] &&
			row_stats "$name, $n parked: time to result s = target stopped s" "$R/$peer.$n" \
				%.3f - - -
	done
done

# ---- results.md ----

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_gb=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
ver() {
	"$@" 2>&1 | head -1
}
commit=$(git rev-parse --short HEAD 2>/dev/null)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit + uncommitted changes"
{
	echo "# parkwatch benchmark results"
	echo
	echo "Produced by \`make bench\` (tests/bench/run.sh) in one run; regenerate, do not edit."
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), total bench time $((($(date +%s) - T_START) / 60)) min"
	echo "- machine: $(nproc) CPUs ($cpu_model), ${mem_gb} GiB RAM, $(hostname)"
	echo "- kernel: $(uname -r); Debian $(cat /etc/debian_version 2>/dev/null)"
	echo "- parkwatch: $commit"
	echo "- clang: $(ver clang --version); libbpf: $(dpkg-query -W -f='${Version}' libbpf1 2>/dev/null)"
	echo "- bpftool: $(ver bpftool version); bpftrace: $(ver bpftrace --version)"
	echo "- bcc: $(dpkg-query -W -f='${Version}' bpfcc-tools 2>/dev/null); gdb: $(ver gdb --version); eu-stack: $(ver eu-stack --version)"
	echo "- $(nice_note) (BENCH_NICE)"
	echo "- load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Hand-off: 2 thread pairs, each pinned to one core, ${HANDOFFS} mutex+condvar hand-offs per"
	echo "pair; figures are seconds for all of them. Configurations interleaved round by round"
	echo "(rotating order), $RUNS rounds, after one discarded warm-up run. Ratio = median traced /"
	echo "median untraced of this run; \"paired\" = median over rounds of traced / untraced of the"
	echo "same round. Tracers are started, attached and stopped around each run (host-wide)."
	echo "BPF ns/event: the kernel's run_time_ns / run_cnt per program over one workload run"
	echo "(kernel.bpf_stats_enabled=1, $STATS_RUNS runs; min/median/max over runs; the counters"
	echo "include the stats' own clock reads). The floor rows are programs that each do a strict"
	echo "subset of pw_sched_switch (tests/bench/floor.bpf.c), measured the same way in the same"
	echo "rounds: what the kernel's dispatch, the stats and each operation cost on this machine."
	echo "Churn: ${CHURN_THREADS} threads created and joined by 2"
	echo "workers, each pinned to its own CPU (their threads inherit it). Snapshot loop: the"
	echo "hand-off workload (4 x ${HANDOFFS} hand-offs per pair) while \`parkwatch snapshot -p PID -m 0\`"
	echo "runs back to back against it, or with a 1 s pause (each snapshot loads, scans, unwinds"
	echo "every parked thread of the target and exits). pinned: one pair on CPU $WL_CPU, parkwatch on"
	echo "CPU $PW_CPU, so what the target loses is parkwatch disturbing it, not CPU taken from it;"
	echo "shared: two pairs fill both CPUs and parkwatch runs where the scheduler puts it, beside a"
	echo "control with a plain CPU spinner in its place (CPU competition alone, no tracing)."
	echo "Scaling: \`preparked --threads N\` (half on one condvar, half in nanosleep); each"
	echo "snapshot is a new process (cold caches, every stack copied and unwound); watch CPU per"
	echo "scan is its on-CPU time (schedstat) over 10 scans once scans are 1 s apart (after the"
	echo "catch-up that follows a slow first scan) / 10; peak RSS is VmHWM then. gdb and eu-stack"
	echo "ptrace-stop every thread of the target for their whole run, so the time the target is"
	echo "stopped is about their time to result; parkwatch never stops the target."
	echo
	cat "$TABLE"
	if [ -s "$NOTES" ]; then
		echo
		echo "Notes:"
		echo
		cat "$NOTES"
	fi
	echo
	echo "Raw values (one per run):"
	echo
	for f in "$R"/*; do
		case $f in
		*.byround | *.paired) continue ;;
		esac
		printf -- '- %s: %s\n' "${f##*/}" "$(tr '\n' ' ' <"$f" | sed 's/ *$//')"
	done
} >"$W/results.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$W/results.md" "$RESULTS"
echo
cat "$TABLE"
[ -s "$NOTES" ] && echo && cat "$NOTES"
echo
echo "(also written to ${RESULTS#"$ROOT"/})"
