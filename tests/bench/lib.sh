# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Helpers shared by the benchmarks (run.sh, go_bench.sh). Sourced, never run. The sourcing
# script owns the globals these use: BG (pids to stop on exit), TABLE and NOTES (output files).

log() {
	printf '[%s] %s\n' "$(date +%T)" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# bench_own_session SELF ARGS...: with kernel.sched_autogroup_enabled, nice only ranks the
# processes of one session, so against other sessions' load a bench's nice -20 does nothing
# (a pinned workload was seen getting 30% of its CPU). The first call re-runs SELF in a new
# session and exits with its status; inside it, the session's autogroup gets niceness $NICE
# (it goes away with the session). Sets AUTOGROUP=1 when the autogroup nice was set.
AUTOGROUP=0
bench_own_session() {
	local self=$1 child rc

	shift
	[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] || return 0
	if [ -z "${PW_BENCH_IN_SESSION:-}" ]; then
		PW_BENCH_IN_SESSION=1 setsid "$self" "$@" &
		child=$!
		trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
		while :; do
			wait "$child"
			rc=$?
			kill -0 "$child" 2>/dev/null || exit $rc
		done
	fi
	echo "$NICE" >/proc/self/autogroup 2>/dev/null && AUTOGROUP=1
	return 0
}

# How the bench was niced, for the results' method section.
nice_note() {
	if [ "$AUTOGROUP" = 1 ]; then
		echo "every process of the bench ran at nice $NICE, in its own session whose autogroup had nice $NICE ($(cat /proc/self/autogroup))"
	else
		echo "every process of the bench ran at nice $NICE (autogroup: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo n/a))"
	fi
}

bg_forget() {
	local p keep=()

	for p in "${BG[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	BG=("${keep[@]}")
}

# stop_proc PID [SIG]: signal it, give it 20 s to exit, then SIGKILL; reap it.
stop_proc() {
	local pid=$1 sig=${2:-INT} i

	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 400; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	bg_forget "$pid"
}

# wait_for TIMEOUT_S PID CMD...: poll CMD every 50 ms; 1 if PID died first, 2 on timeout.
wait_for() {
	local timeout=$1 pid=$2 i

	shift 2
	for ((i = 0; i < timeout * 20; i++)); do
		"$@" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			"$@" && return 0
			return 1
		fi
		sleep 0.05
	done
	return 2
}

has() {
	grep -q -- "$2" "$1" 2>/dev/null
}

# Why a process failed, in one line: the last meaningful line of its log.
why() {
	grep -v -e '^\s*$' -e '^Traceback' -e '^  File' -e '^    ' "$1" 2>/dev/null | tail -1 |
		cut -c1-150 | tr '|' '/'
}

# stats FILE: "n min median max" of the numbers in FILE, one per line.
stats() {
	sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 }
		END {
			if (!NR) { print "0 - - -"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print NR, v[1], m, v[NR]
		}'
}

median() {
	stats "$1" | awk '{ print $3 }'
}

# calc EXPR: floating-point arithmetic (awk).
calc() {
	awk "BEGIN { printf \"%.6f\", $1 }"
}

fmt() {
	case $2 in
	- | '') printf -- '-' ;;
	*) awk -v v="$2" -v f="$1" 'BEGIN { printf f, v }' ;;
	esac
}

# verdict VALUE OP TARGET: PASS or MISS (OP is <, <= or >=).
verdict() {
	case $1 in
	'' | -) echo "n/a" ;;
	*) awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
			ok = op == "<" ? v < t : op == "<=" ? v <= t : v >= t
			print ok ? "PASS" : "MISS"
		}' ;;
	esac
}

# rotate I LIST...: LIST rotated left by I (interleaving without a fixed order).
rotate() {
	local i=$1 n k

	shift
	n=$#
	local list=("$@")
	for ((k = 0; k < n; k++)); do
		printf '%s ' "${list[$(((k + i) % n))]}"
	done
}

now() {
	date +%s.%N
}

row() {
	local out="|" c

	for c in "$@"; do
		out="$out $c |"
	done
	echo "$out" >>"$TABLE"
}

# row_stats LABEL FILE FORMAT RATIO TARGET VERDICT
row_stats() {
	local n mn md mx

	read -r n mn md mx < <(stats "$2")
	row "$1" "$n" "$(fmt "$3" "$mn")" "$(fmt "$3" "$md")" "$(fmt "$3" "$mx")" "$4" "$5" "$6"
}

note() {
	printf -- '- %s\n' "$*" >>"$NOTES"
}

# Other tracers on the host make "untraced" a lie and every ratio smaller: name them.
foreign_tracers() {
	command -v bpftool >/dev/null || return 0
	bpftool prog show --json 2>/dev/null | jq -r '[.[] | select(.type == "tracing" or
		.type == "tracepoint" or .type == "raw_tracepoint" or .type == "kprobe" or
		.type == "perf_event") | .name] | unique | join(", ")'
}
