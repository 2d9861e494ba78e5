#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Benchmark (not a test): `parkwatch watch` for DURATION seconds (default 600) over 200+ live
# sites — 50 flat processes with a pool, sleepers and readers each — beside the seed's leak at
# 2 threads/s and a burst that drains. Reports parkwatch's RSS over time (flat?), when the leak
# was flagged, and every false suspect. Writes bench/watch-soak.md.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
DURATION=${2:-600}
PW=$BUILD/parkwatch
WL=$BUILD/workloads
OUT=bench/watch-soak.md
mkdir -p bench
TMP=$(mktemp -d /tmp/pwsoak.XXXXXX)
PIDS=()
trap 'kill -9 "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

for i in $(seq 50); do
	"$WL/leaky" --pool 2 --sleepers 1 --readers 1 >"$TMP/flat$i.log" 2>&1 &
	PIDS+=($!)
done
"$WL/leaky" --leaks -1 --rate 2 --pool 8 --sleepers 4 --readers 3 >"$TMP/leak.log" 2>&1 &
PIDS+=($!)
leak=$!
"$WL/leaky" --burst 200 --drain-after 60 --pool 2 >"$TMP/burst.log" 2>&1 &
PIDS+=($!)
sleep 3
# Only our processes: other leaky processes on the host must not enter the figures.
"$PW" watch -p "$(IFS=,; echo "${PIDS[*]}")" -i 1s -d "${DURATION}s" --json >"$TMP/w.json" 2>"$TMP/w.err" &
wp=$!
: >"$TMP/rss"
while kill -0 $wp 2>/dev/null; do
	echo "$SECONDS $(awk '/VmRSS/ {print $2}' /proc/$wp/status 2>/dev/null)" >>"$TMP/rss"
	sleep 10
done
wait $wp
rc=$?
# Line by line (the file is ~200 MB): jq -s would hold all of it.
is_leak="(.pid == $leak and (.site // \"\" | startswith(\"fetch_worker\")))"
sites=$(tail -1 "$TMP/w.json" | jq '.sites | length')
samples=$(wc -l <"$TMP/w.json")
flagged=$(jq -c "select(any(.sites[]; .leak_suspect and $is_leak)) | .elapsed_s" "$TMP/w.json" | head -1)
false_s=$(jq -c ".sites[] | select(.leak_suspect and ($is_leak | not)) | \"\\(.pid) \\(.site)\"" "$TMP/w.json" | sort -u | tr '\n' ' ')
growth=$(tail -1 "$TMP/w.json" | jq "[.sites[] | select($is_leak) | .growth_per_min][0]")
rss60=$(awk '$1 >= 60 && $2 != "" {print $2; exit}' "$TMP/rss")
rssend=$(awk '$2 != "" {v = $2} END {print v}' "$TMP/rss")
{
	echo "# parkwatch watch soak ($(date -u +%FT%TZ), $(uname -r))"
	echo
	echo "- duration ${DURATION}s, exit $rc, $samples samples, $sites sites in the last sample"
	echo "- leak (2 threads/s = 120/min): flagged at ${flagged}s, growth at the end ${growth}/min"
	echo "- false suspects (flat pools, sleepers, readers, a 200-thread burst that drains): ${false_s:-none}"
	echo "- parkwatch RSS: ${rss60} KiB after ~1 min, ${rssend} KiB at the end ($(awk "BEGIN {printf \"%.3f\", $rssend / $rss60}")x)"
	echo
	echo '| t (s) | RSS (KiB) |'
	echo '|---|---|'
	awk '{print "| " $1 " | " $2 " |"}' "$TMP/rss"
} >"$OUT"
cat "$OUT" | head -8
