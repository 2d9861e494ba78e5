#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make soak: the long soak (a benchmark, never part of `make test`). Run as root.
#
#   tests/bench/soak.sh [BUILD_DIR] [SECONDS]        (defaults: build, 1800)
#
# For SECONDS, all at once (parkwatch also watches itself; SOAK_SCOPE below):
#   - churn: thread create/exit storm (2 spawners, each short-lived thread parks 1 ms), niced;
#   - leaky: the seed's leak at a slow known rate (SOAK_LEAK_RATE/s, default 0.2) beside a flat
#     pool (4), sleepers (2) and readers (2);
#   - parkwatch export --textfile-dir TMP (default interval, 15 s);
#   - parkwatch watch -j --ages exact (default interval, 1 s), JSON lines to a file.
# Every SOAK_INTERVAL seconds (default 30) it samples, for each parkwatch process: RSS, open fds
# (the least of 3 reads over ~1 s, so the scan's transient fds do not count; split into BPF
# objects, /proc/PID/mem of live and of exited processes, other), threads, CPU (utime+stime),
# the entries of each of its BPF maps (found through its own fds, /proc/PID/fdinfo map_id:, as
# this bpftool has no pids field), its BPF drop counters (the `stats` map) and the drop counters
# it reports (watch: the JSON; export: parkwatch_drops_total), and the leak site's count against
# the workload's own timestamped LEAKED count. At the end it stops everything, checks the exit
# codes and that the BPF programs are gone, reads the whole JSON file (every line parses, has
# every drop reason, the leak and flat sites match the workload in every sample) and writes
# bench/soak.md (SOAK_REPORT) with a PASS/FAIL verdict per criterion.
#
# Copies parkwatch and the workloads to a temp dir first (others may rebuild BUILD meanwhile).
# Every process it starts is stopped by its pid on every exit path, Ctrl-C included; an
# interrupted run writes no report.
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BUILD=${1:-build}
DURATION=${2:-1800}
INTERVAL=${SOAK_INTERVAL:-30}
LEAK_RATE=${SOAK_LEAK_RATE:-0.2}
OUT=${SOAK_REPORT:-$ROOT/bench/soak.md}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo make soak)"
for f in parkwatch workloads/churn workloads/leaky; do
	[ -x "$BUILD/$f" ] || die "$BUILD/$f missing (make all workloads)"
done
for c in bpftool jq awk; do command -v $c >/dev/null || die "$c missing (make deps)"; done
[[ $DURATION =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 60 ] || die "SECONDS must be an integer >= 60"

TMP=$(mktemp -d /tmp/pwsoak.XXXXXX)
# SOAK_SCOPE=own (default): the four processes of the soak all run as comm "pwsoak" (copies of
# the binaries under that name) and both parkwatch processes scan `-c pwsoak`: themselves, each
# other and the workloads, and nothing else of the host — the figures are then parkwatch's own,
# not those of whatever else runs on the machine. (The BPF side still sees every thread of the
# host: the hot path traces every sched_switch, the scan iterator visits every task.)
# SOAK_SCOPE=host: the whole host, binaries under their own names.
SCOPE=${SOAK_SCOPE:-own}
case $SCOPE in
own) COMM=pwsoak FILTER=(-c pwsoak) ;;
host) COMM= FILTER=() ;;
*) die "SOAK_SCOPE must be own or host" ;;
esac
for b in parkwatch churn leaky; do
	mkdir -p "$TMP/bin/$b"
	src=$BUILD/parkwatch
	[ $b = parkwatch ] || src=$BUILD/workloads/$b
	cp "$src" "$TMP/bin/$b/${COMM:-$b}" || die "cannot copy $src"
	printf -v "BIN_$b" '%s' "$TMP/bin/$b/${COMM:-$b}"
done
mkdir -p "$TMP/prom"
HZ=$(getconf CLK_TCK)

CHURN=
LEAKY=
EXPORT=
WATCH=
NAP=
STOPPED=0
INTERRUPTED=0
declare -A RC

# wait_gone PID SECONDS: 0 once PID has exited (and been reaped), 1 on timeout.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.2
	done
	return 1
}

# stop NAME PID SIG: signal, wait up to 15 s, then SIGKILL; RC[NAME] = its exit status.
stop() {
	local name=$1 pid=$2 sig=$3
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	if ! wait_gone "$pid" 15; then
		log "$name ($pid) did not exit on SIG$sig in 15 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	RC[$name]=$?
}

stop_all() {
	[ "$STOPPED" = 1 ] && return
	STOPPED=1
	stop watch "$WATCH" TERM
	stop export "$EXPORT" TERM
	# churn ends by itself (--duration) within a minute of the last sample: let it print DONE.
	if [ -n "$CHURN" ] && [ "$INTERRUPTED" = 0 ] && ! wait_gone "$CHURN" 90; then
		log "churn ($CHURN) still running: SIGTERM"
	fi
	stop churn "$CHURN" TERM
	stop leaky "$LEAKY" TERM
	wait 2>/dev/null
}

on_exit() {
	[ -n "$NAP" ] && kill "$NAP" 2>/dev/null
	stop_all
	if [ "${SOAK_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
on_signal() {
	log "interrupted: stopping everything, no report written"
	INTERRUPTED=1
	trap - INT TERM HUP
	exit 130
}
trap on_exit EXIT
trap on_signal INT TERM HUP

# Sleep in the background, so that a signal runs the trap at once.
nap() {
	sleep "$1" &
	NAP=$!
	wait $NAP
	NAP=
}

# wait_line FILE REGEX SECONDS
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- workloads and parkwatch ----
log "soak: ${DURATION}s, a sample every ${INTERVAL}s, work dir $TMP"
# Stamped with the wall clock, line by line, to be matched against parkwatch's sample times.
"$BIN_leaky" --leaks -1 --rate "$LEAK_RATE" --pool 4 --sleepers 2 --readers 2 \
	> >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$TMP/leaky.log") \
	2>"$TMP/leaky.err" &
LEAKY=$!
# churn runs a minute longer than the soak (a starved host can delay the last sample), and
# prints its totals when its time is up.
nice -n 10 "$BIN_churn" --threads 2 --park-us 1000 --duration $((DURATION + 60)) \
	>"$TMP/churn.log" 2>&1 &
CHURN=$!
wait_line "$TMP/leaky.log" '^[0-9.]+ READY' 20 || die "leaky did not get ready: $(cat "$TMP/leaky.err")"
wait_line "$TMP/churn.log" '^READY' 20 || die "churn did not start: $(cat "$TMP/churn.log")"
# leaky's pool, sleepers and readers are then parked for more than --min-age (1 s) at the first scan.
nap 2

T0=$EPOCHREALTIME
"$BIN_parkwatch" export "${FILTER[@]}" --textfile-dir "$TMP/prom" >"$TMP/export.out" 2>"$TMP/export.err" &
EXPORT=$!
# export in its default mode (--ages bound: no hot path), watch with the hot path (--ages exact):
# both modes soak, and watch's parks counter shows the hot path alive (parks/s).
"$BIN_parkwatch" watch "${FILTER[@]}" -j --ages exact >"$TMP/watch.json" 2>"$TMP/watch.err" &
WATCH=$!
log "leaky $LEAKY, churn $CHURN, parkwatch export $EXPORT, parkwatch watch $WATCH"

LOAD0=$(cut -d' ' -f1-4 /proc/loadavg)

# ------------------------------------------------------------------------------ sampling ----
# leaked_by T: LEAKED lines of leaky stamped at or before wall time T.
leaked_by() {
	awk -v t="$1" '$2 == "LEAKED" && $1 <= t {n++} END {print n + 0}' "$TMP/leaky.log"
}

# live_targets FILE: what a live process can legitimately be holding open for: /proc/N/mem
# of every live process and every path a live process maps.
live_targets() {
	{
		local p maps=(/proc/[0-9]*/maps)
		for d in /proc/[0-9]*; do echo "$d/mem"; done
		# Scanning only the soak's processes, parkwatch has no business with other binaries
		# (and reading the maps of a neighbour's 30,000-thread process is slow).
		if [ "$SCOPE" = own ]; then
			maps=()
			for p in "$LEAKY" "$CHURN" "$EXPORT" "$WATCH"; do maps+=("/proc/$p/maps"); done
		fi
		cat "${maps[@]}" 2>/dev/null |
			awk 'NF >= 6 {p = $6; for (i = 7; i <= NF; i++) p = p " " $i; print p}' | sort -u
	} >"$1"
}

# fd_classes PID LIVE TARGETS: "total bpf iter own mem_live mem_exited files debug stale", and the
# targets of the fds on exited processes or on files no live process maps in the file TARGETS.
#   bpf: BPF maps, programs, links, BTF; iter: the task iterator's fd, held during a scan; own: stdio, pipes, the soak's own files;
#   mem_live / mem_exited: /proc/PID/mem of a live / an exited process;
#   files: a path some live process maps (a binary, a library, a memfd);
#   debug: separate debug files (/usr/lib/debug); stale: any other file.
fd_classes() {
	find /proc/"$1"/fd -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
		awk -v live="$2" -v tmp="$TMP/" -v out="$3" '
		BEGIN { while ((getline l < live) > 0) ok[l] = 1; printf "" > out }
		{
			tot++
			if ($0 == "anon_inode:bpf_iter") iter++
			else if ($0 ~ /^anon_inode:(\[?bpf|btf)/) bpf++
			else if ($0 == "/dev/null" || $0 ~ /^(pipe|socket|anon_inode):/ || index($0, tmp) == 1) own++
			else if ($0 ~ /^\/proc\/[0-9]+\/mem$/) { if ($0 in ok) ml++; else { md++; print "exited " $0 > out } }
			else if ($0 in ok) files++
			else if ($0 ~ /^\/usr\/lib\/debug\//) dbg++
			else { stale++; print "stale " $0 > out }
		}
		END { printf "%d %d %d %d %d %d %d %d %d\n", tot, bpf, iter, own, ml, md, files, dbg, stale }'
}

# maps PID: "name=entries,..." for every BPF map it holds (ids from its fdinfo); hash maps are
# dumped and counted, arrays always hold max_entries, task storage cannot be dumped (n/d). The
# summed per-CPU `stats` counters go to $TMP/stats.PID. (Few commands: the host may be loaded.)
maps() {
	local pid=$1 ids id name type max n out=""
	ids=$(grep -h '^map_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | paste -sd, -)
	while read -r id name type max; do
		case $type in
		task_storage | inode_storage | sk_storage | cgrp_storage) n=n/d ;;
		array | percpu_array) n=$max ;;
		*hash* | lpm_trie) n=$(bpftool -j map dump id "$id" 2>/dev/null | jq length 2>/dev/null) || n=err ;;
		*) n=- ;;
		esac
		[ "$name" = stats ] && bpftool -j map dump id "$id" 2>/dev/null |
			jq -r '[.[] | [.formatted.values[].value] | add] | map(tostring) | join(" ")' \
				>"$TMP/stats.$pid"
		out+="${out:+,}$name=$n"
	done < <(bpftool -j map show 2>/dev/null | jq -r --argjson ids "[${ids}]" \
		'.[] | select(.id as $i | any($ids[]; . == $i)) | "\(.id) \(.name) \(.type) \(.max_entries)"')
	echo "${out:-none}"
}

# BPF-side drop counters in the order of the JSON's first five reasons (task_storage,
# futex_map, user_stack, kernel_stack, scan_record): stats keys 4..8. Then parks (key 0).
stats_drops() { awk '{print $5 + $6 + $7 + $8 + $9, $1}' "$TMP/stats.$1" 2>/dev/null || echo "? ?"; }

declare -A PREV_TICKS PREV_T
alive() { if kill -0 "$1" 2>/dev/null; then printf 1; else printf 0; fi; }

# sample ROLE PID T: one TSV row in $TMP/s.ROLE.
sample() {
	local role=$1 pid=$2 t=$3 now rss thr ticks fds best mapstr cpu progs links
	local drops dtot dn leak lo hi pool sleep read stamp age sd parks rep rnow persist
	if ! kill -0 "$pid" 2>/dev/null; then
		printf '%s\tDEAD\n' "$t" >>"$TMP/s.$role"
		return
	fi
	now=$EPOCHREALTIME
	rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status)
	thr=$(awk '/^Threads:/ {print $2}' /proc/"$pid"/status)
	ticks=$(sed 's/.*) //' /proc/"$pid"/stat | awk '{print $12 + $13}')
	cpu=$(awk -v a="${PREV_TICKS[$role]:-0}" -v b="$ticks" -v t0="${PREV_T[$role]:-$T0}" -v t1="$now" \
		-v hz="$HZ" 'BEGIN {printf "%.1f", (b - a) / hz / (t1 - t0) * 100}')
	PREV_TICKS[$role]=$ticks
	PREV_T[$role]=$now
	# The least of 3 reads 0.4 s apart: a scan holds an iterator fd and the fds of the
	# process it is reading for a moment.
	best=
	for i in 1 2 3; do
		fds=$(fd_classes "$pid" "$TMP/live" "$TMP/fdt.$role.$i")
		if [ -z "$best" ] || [ "${fds%% *}" -lt "${best%% *}" ]; then
			best=$fds
			sort "$TMP/fdt.$role.$i" >"$TMP/fdt.$role.now"
		fi
		[ $i = 3 ] || sleep 0.4
	done
	# An fd on an exited process or an unmapped file at two samples in a row (30 s, longer
	# than either interval): it was never let go.
	persist=$(comm -12 "$TMP/fdt.$role.now" "$TMP/fdt.$role.prev" 2>/dev/null | wc -l)
	comm -12 "$TMP/fdt.$role.now" "$TMP/fdt.$role.prev" 2>/dev/null | sed "s/^/$t $role /" >>"$TMP/persist.log"
	mv "$TMP/fdt.$role.now" "$TMP/fdt.$role.prev"
	mapstr=$(maps "$pid")
	read -r sd parks < <(stats_drops "$pid")
	progs=$(grep -h '^prog_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | tr '\n' ' ')
	links=$(grep -h '^link_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | wc -l)
	echo "$progs" >"$TMP/progs.$role"
	# Drops as parkwatch reports them, and the leaky sites, from its latest complete output.
	rnow=$EPOCHREALTIME
	if [ "$role" = watch ]; then
		# The last line may be half-written: jq stops at it, the lines before are complete.
		rep=$(tail -n 3 "$TMP/watch.json" | jq -r --argjson p "$LEAKY" '
			def n(pre): [.sites[] | select(.pid == $p and (.site // "" | startswith(pre))) | .count] | add // 0;
			[((.time[0:19] + "Z" | fromdateiso8601) + (.time[19:-1] | if . == "" then 0 else tonumber end)),
			 (.drops | length),
			 ([.drops[]] | add),
			 (.drops | to_entries | map(select(.value != 0) | "\(.key)=\(.value)") | join(",") | if . == "" then "none" else . end),
			 ([.drops.task_storage, .drops.futex_map, .drops.user_stack, .drops.kernel_stack, .drops.scan_record] | add),
			 n("fetch_worker"), n("pool_worker"), n("sleeper"), n("reader")] | @tsv' 2>/dev/null | tail -2)
		# Scans run one after the other: this one began after the previous output.
		since=$T0
		[ "$(wc -l <<<"$rep")" = 2 ] && since=$(head -1 <<<"$rep" | cut -f1)
		rep=$(tail -1 <<<"$rep")
	else
		rep=$(awk -v p="$LEAKY" '
			/^parkwatch_drops_total\{/ {
				r = $0; sub(/.*reason="/, "", r); sub(/".*/, "", r)
				nr++; tot += $NF; if ($NF != 0) nz = nz (nz ? "," : "") r "=" $NF
				if (r ~ /^(task_storage|futex_map|user_stack|kernel_stack|scan_record)$/) bpf += $NF
			}
			/^parkwatch_last_scan_timestamp_seconds / {ts = $2}
			/^parkwatch_scan_duration_seconds / {sd = $2}
			/^parkwatch_parked_threads\{/ && index($0, "pid=\"" p "\"") {
				if (index($0, "site=\"fetch_worker")) fw += $NF
				if (index($0, "site=\"pool_worker")) pw += $NF
				if (index($0, "site=\"sleeper")) sl += $NF
				if (index($0, "site=\"reader")) rd += $NF
			}
			END {printf "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%.6f\n", ts, nr, tot, nz ? nz : "none", bpf, fw, pw, sl, rd, ts - sd}
		' "$TMP/prom/parkwatch.prom" 2>/dev/null)
		[ -s "$TMP/prom/parkwatch.prom" ] || rep=
	fi
	if [ "$role" = watch ]; then
		IFS=$'\t' read -r stamp dn dtot drops rbpf leak pool sleep read <<<"$rep"
	else
		IFS=$'\t' read -r stamp dn dtot drops rbpf leak pool sleep read since <<<"$rep"
	fi
	if [ -n "${stamp:-}" ]; then
		age=$(awk -v a="$rnow" -v b="$stamp" 'BEGIN {printf "%.1f", a - b}')
		# A leaked worker parks in the futex ~20 ms after LEAKED is printed and is counted once
		# parked >= 1 s (--min-age): every leak printed 2 s before the scan began must be in,
		# none printed after the output can be. The scan began after $since (watch: the previous
		# output; export: the file's timestamp minus its scan duration).
		lo=$(leaked_by "$(awk -v s="$since" 'BEGIN {printf "%.6f", s - 2}')")
		hi=$(leaked_by "$stamp")
	else
		age=? lo=? hi=? stamp=? dn=0 dtot=? drops=? rbpf=? leak=? pool=? sleep=? read=?
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$t" "$rss" "$best" "$thr" "$ticks" "$cpu" "$mapstr" "$(wc -w <<<"$progs")" "$links" \
		"$dn" "$dtot" "${drops:-}" "$rbpf" "$sd" "$leak" "$lo" "$hi" "$pool" "$sleep" "$read" \
		"$age" "$parks" "$(awk '{split($4, a, "/"); print a[2]}' /proc/loadavg)" "$persist" \
		"$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)" "$(alive "$CHURN")$(alive "$LEAKY")" >>"$TMP/s.$role"
}
# Columns of s.ROLE: 1 t, 2 rss, 3 fd_classes, 4 threads, 5 ticks, 6 cpu%,
# 7 maps, 8 progs, 9 links, 10 drop reasons present, 11 drops total, 12 nonzero drops,
# 13 reported BPF-side drops, 14 BPF stats drops, 15 leak count, 16-17 expected range,
# 18-20 pool/sleeper/reader, 21 output age (s), 22 parks seen by BPF, 23 host threads,
# 24 exited/stale fd targets also there at the previous sample, 25 host processes,
# 26 churn and leaky alive (1/0 each).

SAMPLE_TIMES="5"
for ((t = INTERVAL; t <= DURATION; t += INTERVAL)); do SAMPLE_TIMES+=" $t"; done
SKIPPED=0
MAXLATE=0
for t in $SAMPLE_TIMES; do
	wait_s=$(awk -v t0="$T0" -v t="$t" -v now="$EPOCHREALTIME" 'BEGIN {d = t0 + t - now; printf "%.3f", (d > 0 ? d : 0)}')
	nap "$wait_s"
	# When the host starved the sampler, a slot more than half an interval late is skipped,
	# not made up in a burst (the last one is always taken). Rows carry the actual time.
	read -r late t <<<"$(awk -v t0="$T0" -v t="$t" -v now="$EPOCHREALTIME" 'BEGIN {printf "%.1f %.1f", now - t0 - t, now - t0}')"
	if awk -v l="$late" -v m="$MAXLATE" 'BEGIN {exit !(l > m)}'; then MAXLATE=$late; fi
	if awk -v l="$late" -v i="$INTERVAL" 'BEGIN {exit !(l > i / 2)}' &&
		awk -v t="$t" -v d="$DURATION" -v i="$INTERVAL" 'BEGIN {exit !(t < d - i / 2)}'; then
		SKIPPED=$((SKIPPED + 1))
		log "sample ${late}s late (host starved): skipped"
		continue
	fi
	live_targets "$TMP/live"
	sample export "$EXPORT" "$t"
	sample watch "$WATCH" "$t"
	log "t=${t}s export: $(cut -f2-4,6 "$TMP/s.export" | tail -1 | tr '\t' ' ')" \
		" watch: $(cut -f2-4,6 "$TMP/s.watch" | tail -1 | tr '\t' ' ')"
done
LOAD1=$(cut -d' ' -f1-4 /proc/loadavg)

# -------------------------------------------------------------------- stop and post-checks ----
PROGS_EXPORT=$(cat "$TMP/progs.export" 2>/dev/null)
PROGS_WATCH=$(cat "$TMP/progs.watch" 2>/dev/null)
stop_all
left=""
for id in $PROGS_EXPORT $PROGS_WATCH; do
	bpftool prog show id "$id" >/dev/null 2>&1 && left+=" $id"
done
CHURN_DONE=$(grep -o 'created=[0-9]*' "$TMP/churn.log" | cut -d= -f2)
LEAKED_TOTAL=$(awk '$2 == "LEAKED" {n = $3} END {print n + 0}' "$TMP/leaky.log")

log "checking every line of the watch output ($(du -h "$TMP/watch.json" | cut -f1))"
# One row per watch sample: wall time, elapsed, drop reasons present, leak/pool/sleeper/reader.
jq -r --argjson p "$LEAKY" '
	def n(pre): [.sites[] | select(.pid == $p and (.site // "" | startswith(pre))) | .count] | add // 0;
	[((.time[0:19] + "Z" | fromdateiso8601) + (.time[19:-1] | if . == "" then 0 else tonumber end)),
	 .elapsed_s, (.drops | length), n("fetch_worker"), n("pool_worker"), n("sleeper"), n("reader")] | @tsv
' "$TMP/watch.json" >"$TMP/watch.rows" 2>"$TMP/watch.jqerr"
JQ_RC=$?
LINES=$(wc -l <"$TMP/watch.json")
ROWS=$(wc -l <"$TMP/watch.rows")
# Leak match per row: the LEAKED stamps are sorted, so one merge pass does it.
# A count below the bound is a lag, not yet a loss: on a starved host the abandoned worker may
# take seconds to reach its futex wait after LEAKED is printed. A loss is a lag not made good
# within the next 5 outputs; an overcount (more than were ever leaked) is always wrong.
read -r W_MATCH W_LAG W_OVER W_LOST W_MAXLAG W_FLATBAD W_BADDROPS W_GAPS W_MAXGAP W_FIRSTBAD < <(awk -v t0="$T0" '
	BEGIN { prev = t0 }	# a scan begins after the previous one ended (the first: after start)
	NR == FNR { if ($2 == "LEAKED") s[++n] = $1; next }
	{
		t = $1
		while (i < n && s[i + 1] <= t) i++
		while (j < n && s[j + 1] <= prev - 2) j++
		prev = t
		r++
		if (need && $4 >= need) { if (r - since > ml) ml = r - since; need = 0 }
		if (need && r > since + 5) { lost++; need = 0 }
		if ($4 > i) over++
		else if ($4 < j) { lag++; if (!need) since = r; if (j > need) need = j }
		else ok++
		if ($5 != 4 || $6 != 2 || $7 != 2) { flat++; if (!fl) fl = sprintf("%.1f:%d,%d,%d", $2, $5, $6, $7) }
		else if (($4 < j || $4 > i) && !fl) fl = sprintf("%.1f:leak=%d,bounds=%d..%d", $2, $4, j, i)
		if (FNR == 1) ref = $3
		if ($3 != ref || $3 < 9) bd++
		if (FNR > 1) { g = $2 - pe; if (g > 1.5) gaps++; if (g > mg) mg = g }
		pe = $2
	}
	END { if (need) lost++; printf "%d %d %d %d %d %d %d %d %.1f %s\n", ok, lag, over, lost, ml, flat, bd, gaps, mg, fl ? fl : "-" }
' "$TMP/leaky.log" "$TMP/watch.rows")
PROMTOOL=
if command -v promtool >/dev/null && [ -s "$TMP/prom/parkwatch.prom" ]; then
	if promtool check metrics <"$TMP/prom/parkwatch.prom" >"$TMP/promtool.out" 2>&1; then
		PROMTOOL="promtool check metrics: ok"
	else
		PROMTOOL="promtool check metrics: $(head -3 "$TMP/promtool.out" | tr '\n' ' ')"
	fi
fi

# ------------------------------------------------------------------------------- report ----
mkdir -p "$(dirname "$OUT")"
# verdicts ROLE: per-criterion lines "name<TAB>PASS|FAIL<TAB>detail".
verdicts() {
	awk -F'\t' -v dur="$DURATION" '
		$2 == "DEAD" { dead++; next }
		{
			n++; t[n] = $1; rss[n] = $2; split($3, f, " "); fd[n] = f[1]; fown[n] = f[2] " " f[4]
			fdead[n] = f[6]; fstale[n] = f[9]; keep[n] = $24; procs[n] = $25
			thr[n] = $4; cpu[n] = $6; maps[n] = $7; progs[n] = $8; links[n] = $9
			dn[n] = $10; dt[n] = $11; rb[n] = $13; sd[n] = $14; leak[n] = $15; lo[n] = $16; hi[n] = $17
			flat[n] = ($18 == 4 && $19 == 2 && $20 == 2)
		}
		END {
			if (dead) print "alive\tFAIL\tthe process died (" dead " samples missed)"
			else print "alive\tPASS\tran the whole soak"
			# Baseline: the mean of the samples due at 60, 90 and 120 s (after warm-up: the first scans,
			# the symbol and unwind caches, the 1 s watch filling its window ring).
			for (i = 1; i <= n; i++) if (t[i] >= 60 && t[i] < 135) { bs += rss[i]; bn++ }
			if (!bn) { bs = rss[n]; bn = 1 }
			base = bs / bn; mx = 0; mn = 1e18
			for (i = 1; i <= n; i++) if (t[i] >= 60) { if (rss[i] > mx) mx = rss[i]; if (rss[i] < mn) mn = rss[i] }
			ok = (mx <= base * 1.10 && mn >= base * 0.90)
			printf "rss\t%s\tbaseline %.0f KiB (mean of the samples due at 60, 90 and 120 s); after it min %d (%.3fx), max %d (%.3fx), last %d KiB (%.3fx); first sample (5 s) %d KiB\n",
				ok ? "PASS" : "FAIL", base, mn, mn / base, mx, mx / base, rss[n], rss[n] / base, rss[1]
			# fds and threads: exactly flat from the 30 s sample on (the 5 s one is start-up).
			s = 0; for (i = 1; i <= n; i++) if (t[i] >= 30) { s = i; break }
			fok = 1; sok = 1; tok = 1; fmn = 1e9; fmx = 0; dmx = 0; smx = 0; kmx = 0; tmn = 1e9; tmx = 0
			pmn = 1e9; pmx = 0
			for (i = s; i <= n; i++) {
				if (fd[i] != fd[s]) sok = 0; if (thr[i] != thr[s]) tok = 0
				if (fown[i] != fown[s] || keep[i] != 0) fok = 0
				if (fd[i] < fmn) fmn = fd[i]; if (fd[i] > fmx) fmx = fd[i]; if (fdead[i] > dmx) dmx = fdead[i]
				if (fstale[i] > smx) smx = fstale[i]; if (keep[i] > kmx) kmx = keep[i]
				if (thr[i] < tmn) tmn = thr[i]; if (thr[i] > tmx) tmx = thr[i]
				if (procs[i] < pmn) pmn = procs[i]; if (procs[i] > pmx) pmx = procs[i]
			}
			split(fown[s], o, " ")
			printf "fds\t%s\t%d BPF fds and %d of its own (stdio, pipes, its files)%s; fds on exited processes or on files no live process maps: at most %d and %d at a sample, %d still held at the next sample 30 s later\n",
				fok ? "PASS" : "FAIL", o[1], o[2], fok ? ", unchanged from " t[s] " s to the end" : ": CHANGED", dmx, smx, kmx
			printf "fds_total\t%s\t%d at %d s, %d at the end, min %d, max %d (the host had %d..%d processes)\n",
				sok ? "PASS" : "FAIL", fd[s], t[s], fd[n], fmn, fmx, pmn, pmx
			printf "threads\t%s\t%d at %d s, %d at the end (min %d, max %d)\n",
				tok ? "PASS" : "FAIL", thr[s], t[s], thr[n], tmn, tmx
			mok = 1; for (i = s; i <= n; i++) if (maps[i] != maps[s] || progs[i] != progs[s] || links[i] != links[s]) mok = 0
			printf "maps\t%s\t%s; %d programs, %d links held (from %d s to the end)%s\n",
				mok ? "PASS" : "FAIL", maps[n], progs[n], links[n], t[s], mok ? ", unchanged" : ": CHANGED"
			# CPU: informational. The mean over the last third against the first third after warm-up.
			for (i = 1; i <= n; i++) {
				if (t[i] < 60) continue
				if (t[i] <= 60 + (dur - 60) / 3) { c1 += cpu[i]; k1++ }
				if (t[i] > dur - (dur - 60) / 3) { c2 += cpu[i]; k2++ }
				if (cpu[i] > cmx) cmx = cpu[i]
			}
			c1 = k1 ? c1 / k1 : 0; c2 = k2 ? c2 / k2 : 0
			printf "cpu\t%s\tmean %.1f%% of a core in the first third after warm-up, %.1f%% in the last third (%.2fx), max %.1f%% (flat: within 1.25x)\n",
				(c1 > 0 && c2 <= c1 * 1.25) || (c2 < 1) ? "PASS" : "FAIL", c1, c2, c1 ? c2 / c1 : 0, cmx
			# Drops: every reason present in every sample; the BPF-side counters reported
			# (at the output before the sample) never exceed the map and never lag it by
			# more than one sample; the leak site matches the workload in every sample.
			dok = 1; lok = 0; lag = 0; lover = 0; llost = 0; plag = 0; fbad = 0; ref = 0; prev = -1
			for (i = 1; i <= n; i++) {
				if (dn[i] == 0 && t[i] < 30) { early++; continue }	# no output yet
				if (!ref) ref = dn[i]
				if (dn[i] != ref || dn[i] < 9 || rb[i] > sd[i] || (i > 1 && rb[i] < sd[i - 1])) dok = 0
				if (dt[i] < prev) dok = 0
				prev = dt[i]
				if (leak[i] > hi[i]) { lover++; plag = 0 }
				else if (leak[i] < lo[i]) { lag++; if (plag) llost++; plag = 1 }
				else { lok++; plag = 0 }
				if (!flat[i]) fbad++
			}
			printf "drops\t%s\t%s; %d dropped in all at the end; BPF-side drops reported %s, counted in its stats map %s%s\n",
				dok ? "PASS" : "FAIL", dok ? "the same " ref " reasons in every output, never decreasing" : "MISMATCH (see the table)", dt[n], rb[n], sd[n],
				early ? " (" early " start-up sample(s) before the first output not checked)" : ""
			printf "leak\t%s\tleak site within the workload'"'"'s bounds in %d of %d samples, lagging in %d (still lagging at the next sample: %d), above the total in %d (last: %s, bounds %s..%s); pool/sleepers/readers exact in %d of %d\n",
				(lover == 0 && llost == 0 && fbad == 0) ? "PASS" : "FAIL", lok, lok + lag + lover, lag, llost, lover, leak[n], lo[n], hi[n], n - early - fbad, n - early
		}' "$TMP/s.$1"
}

# table ROLE
table() {
	local names
	names=$(awk -F'\t' '$2 != "DEAD" {n = split($7, a, ","); for (i = 1; i <= n; i++) {sub(/=.*/, "", a[i]); printf "%s ", a[i]}; exit}' "$TMP/s.$1")
	printf '| t (s) | RSS (KiB) | FDs: total (bpf / iter / own / mem live / mem exited / files / debug / stale; kept) | threads | CPU %% | BPF progs / links |'
	for m in $names; do printf ' map %s |' "$m"; done
	printf ' drops (reported: total (reasons); nonzero) | BPF drops (map) | leak site / workload | pool, sleepers, readers | output age (s) | parks/s (BPF) | host procs / threads |\n|'
	for ((i = 0; i < 13 + $(wc -w <<<"$names"); i++)); do printf -- '---|'; done
	echo
	awk -F'\t' -v names="$names" '
		BEGIN { nn = split(names, nm, " ") }
		$2 == "DEAD" { print "| " $1 " | process gone |"; next }
		{
			split($3, f, " "); delete mv; k = split($7, a, ",")
			for (i = 1; i <= k; i++) { split(a[i], kv, "="); mv[kv[1]] = kv[2] }
			row = sprintf("| %s | %s | %s (%s / %s / %s / %s / %s / %s / %s / %s; %s) | %s | %s | %s / %s |", $1, $2, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], $24, $4, $6, $8, $9)
			for (i = 1; i <= nn; i++) row = row " " (nm[i] in mv ? mv[nm[i]] : "-") " |"
			pr = (pt != "" && $1 > pt) ? sprintf("%.0f", ($22 - pp) / ($1 - pt)) : "-"
			row = row sprintf(" %s (%s); %s | %s | %s / %s..%s | %s, %s, %s | %s | %s | %s / %s |", $11, $10, $12, $14, $15, $16, $17, $18, $19, $20, $21, pr, $25, $23)
			pt = $1; pp = $22
			print row
		}' "$TMP/s.$1"
}

verdicts export >"$TMP/v.export"
verdicts watch >"$TMP/v.watch"
{
	echo "rc_export	$([ "${RC[export]:-x}" = 0 ] && echo PASS || echo FAIL)	export exit ${RC[export]:-?} on SIGTERM"
	echo "rc_watch	$([ "${RC[watch]:-x}" = 0 ] && echo PASS || echo FAIL)	watch exit ${RC[watch]:-?} on SIGTERM"
	echo "bpf_gone	$([ -z "$left" ] && echo PASS || echo FAIL)	BPF programs still loaded after exit:${left:- none}"
	echo "json	$([ "$JQ_RC" = 0 ] && [ "$ROWS" = "$LINES" ] && [ "$W_BADDROPS" = 0 ] && echo PASS || echo FAIL)	$LINES lines, $ROWS parsed (jq exit $JQ_RC); lines whose drop reasons differ from the first line's: $W_BADDROPS"
	echo "json_leak	$([ "$W_OVER" = 0 ] && [ "$W_LOST" = 0 ] && [ "$W_FLATBAD" = 0 ] && echo PASS || echo FAIL)	in all $ROWS lines: leak site within bounds in $W_MATCH, lagging in $W_LAG (all made good within $W_MAXLAG outputs; not made good within 5: $W_LOST), above leaky's total in $W_OVER; pool/sleepers/readers wrong in $W_FLATBAD$([ "$W_FIRSTBAD" != - ] && echo "; first line off: elapsed_s $W_FIRSTBAD")"
	# leaky must be there at every sample, churn until its --duration (past the soak's) ran out.
	w_dead=$(awk -F'\t' -v d="$DURATION" '$2 != "DEAD" && (substr($26, 2, 1) != 1 || (substr($26, 1, 1) != 1 && $1 < d)) {n++} END {print n + 0}' "$TMP/s.watch")
	echo "workloads	$([ -n "$CHURN_DONE" ] && [ "$w_dead" = 0 ] && echo PASS || echo FAIL)	churn $([ -n "$CHURN_DONE" ] && echo "ran its whole ${DURATION}+60 s" || echo "DID NOT FINISH: $(grep -v '^READY' "$TMP/churn.log" | tail -2 | tr '\n' ' ')"); samples with churn or leaky gone: $w_dead"
	echo "json_gaps	INFO	$W_GAPS gaps > 1.5 s between consecutive samples (largest ${W_MAXGAP} s): scans skipped when the host was busy"
} >"$TMP/v.run"

verdict() { awk -F'\t' -v k="$2" '$1 == k {print $2}' "$TMP/v.$1"; }
detail() { awk -F'\t' -v k="$2" '$1 == k {print $3}' "$TMP/v.$1"; }
both() { # both KEY: PASS only if export and watch pass
	local a b
	a=$(verdict export "$1")
	b=$(verdict watch "$1")
	if [ "$a" = PASS ] && [ "$b" = PASS ]; then echo PASS; else echo FAIL; fi
}
overall=PASS
for k in alive rss fds threads maps drops leak; do [ "$(both $k)" = PASS ] || overall=FAIL; done
for k in rc_export rc_watch bpf_gone json json_leak workloads; do [ "$(verdict run $k)" = PASS ] || overall=FAIL; done

{
	echo "# parkwatch soak ($(date -u +%FT%TZ))"
	echo
	echo "\`make soak\` (tests/bench/soak.sh, SOAK_SECONDS=$DURATION): a benchmark, not a test."
	echo
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; kernel $(uname -r); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "- parkwatch $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- user bpf include 2>/dev/null || echo ' (+ uncommitted changes)'), copied from $BUILD at the start"
	echo "- load average (1/5/15 min, running/threads) at the start: $LOAD0; at the end: $LOAD1 — the host was shared with other work (other sessions' test suites)$([ "$SCOPE" = host ] && echo ", which both parkwatch processes also scan")"
	if [ "$SCOPE" = own ]; then
		echo "- for ${DURATION}s, all at once; the four processes run as comm \`pwsoak\` (copies of the binaries under that name) and both parkwatch processes scan \`-c pwsoak\`: themselves, each other and the workloads, not the rest of the host (whose test suites would otherwise set the figures). The BPF side still sees the whole host: the hot path every sched_switch, the scan iterator every task (last column)."
	else
		echo "- for ${DURATION}s, all at once, on the whole host (no filter: parkwatch also watches itself and the other):"
	fi
	echo "  - churn --threads 2 --park-us 1000, nice 10: ${CHURN_DONE:-?} threads created and joined ($(awk -v c="${CHURN_DONE:-0}" -v d="$((DURATION + 60))" 'BEGIN {printf "%.0f", c / d}')/s)"
	echo "  - leaky --leaks -1 --rate $LEAK_RATE --pool 4 --sleepers 2 --readers 2: $LEAKED_TOTAL threads leaked ($(awk -v r="$LEAK_RATE" 'BEGIN {print r * 60}')/min)"
	echo "  - parkwatch export --textfile-dir DIR (every 15 s)$([ -n "$PROMTOOL" ] && echo "; last file: $PROMTOOL")"
	echo "  - parkwatch watch -j --ages exact (every 1 s): $LINES JSON lines, $(du -h "$TMP/watch.json" | cut -f1)"
	echo "- sampled every ${INTERVAL}s (and at 5 s); t is the actual time of the sample since parkwatch started; $SKIPPED sample(s) skipped because the host starved the sampler more than $((INTERVAL / 2)) s (at most ${MAXLATE} s late); FDs are the least of 3 reads over ~1 s (a scan holds an iterator fd and the fds of the process it reads for a moment)"
	echo "- map entries: \`bpftool map dump\` of each map the process holds (ids from its /proc/PID/fdinfo); \`park_state\` is task storage, which bpftool cannot dump (n/d): its entries are freed with their thread, so they are bounded by the host's threads (last column)"
	echo
	echo "## Verdicts: $overall"
	echo
	echo "| criterion | export | watch | detail |"
	echo "|---|---|---|---|"
	for k in alive rss fds fds_total threads maps cpu drops leak; do
		echo "| $k | $(verdict export $k) | $(verdict watch $k) | export: $(detail export $k)<br>watch: $(detail watch $k) |"
	done
	while IFS=$'\t' read -r k v d; do echo "| $k | $v | | $d |"; done <"$TMP/v.run"
	echo
	echo "- rss: RSS within 10% of the baseline, the mean of the samples due at 60, 90 and 120 s (after warm-up), at every sample from 60 s to the end."
	echo "- fds: parkwatch's own fds (BPF maps, programs, links and BTF — not the task iterator's fd, which a scan holds while it runs —, stdio, pipes, its files) exactly the same at every sample from 30 s to the end, and no fd on an exited process (/proc/PID/mem) or on a file no live process maps still held at the next sample (30 s later: both scan intervals are shorter). fds_total: the total exactly flat — informational, not part of the overall verdict: parkwatch keeps /proc/PID/mem and the binaries of the processes it reads open while they live, so the total follows the processes it scans$([ "$SCOPE" = host ] && echo " (here the whole host's, where other sessions' test suites came and went)")."
	echo "- threads: exactly the same at every sample from 30 s to the end. maps: the same maps, entries, programs and links."
	echo "- cpu: informational; the mean CPU of the last third within 1.25x of the first third after warm-up."
	echo "- drops: the same drop reasons (at least README's 9) in every output, the totals never decreasing; the BPF-side drops parkwatch reports equal its own \`stats\` map (never above it, never behind the previous sample). leak: the fetch_worker site of leaky's pid holds at least the leaks leaky printed 2 s before the scan began (watch: scans run one after the other, so after the previous output; export: the file's timestamp minus its scan duration) and at most those printed by the output, and the pool, sleeper and reader sites exactly 4, 2, 2, in every sample (json_leak: in every one of watch's lines). A count under the lower bound is a lag, not a loss, if a later output makes it good (next sample; json_leak: within 5 outputs): on a starved host the abandoned worker can take seconds to reach its futex wait after leaky prints LEAKED. A count above leaky's total is always a failure."
	for role in export watch; do
		echo
		echo "## parkwatch $role"
		echo
		table $role
	done
	if [ -s "$TMP/export.err" ] || [ -s "$TMP/watch.err" ]; then
		echo
		echo "## stderr"
		echo
		echo '```'
		for role in export watch; do
			[ -s "$TMP/$role.err" ] && { echo "$role ($(wc -l <"$TMP/$role.err") lines):"; head -20 "$TMP/$role.err"; }
		done
		echo '```'
	fi
} >"$OUT"
log "wrote $OUT: $overall"
sed -n '/^## Verdicts/,/^- rss:/p' "$OUT" | head -n -1
[ $overall = PASS ]
