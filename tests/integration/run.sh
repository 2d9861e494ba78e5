#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs every tests/integration/test_*.sh; prints one summary line at the end.
set -u
export BUILD=${1:-build}
cd "$(dirname "$0")/../.."
total_p=0
total_f=0
for t in tests/integration/test_*.sh; do
	echo "== $t"
	out=$(bash "$t" 2>&1)
	rc=$?
	echo "$out"
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	p=$(echo "$line" | awk '{print $1}')
	f=$(echo "$line" | awk '{print $3}')
	total_p=$((total_p + ${p:-0}))
	total_f=$((total_f + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "  FAIL  $t exited $rc"
		total_f=$((total_f + 1))
	fi
done
echo "integration: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
