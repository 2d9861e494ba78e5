#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Binaries as they come in production: stripped, corrupt, inside a container's mount and pid
# namespaces, built by clang; and a kernel without BTF.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
require_bpf

LEAKS=20
args=(--leaks $LEAKS --pool 4 --sleepers 2 --readers 0)

# Stripped: no .symtab, no DWARF, but .eh_frame: still unwinds; frames are module+offset.
cp "$WL/leaky" "$TMP/leaky-stripped"
strip "$TMP/leaky-stripped"
"$TMP/leaky-stripped" "${args[@]}" >"$TMP/s.log" 2>&1 &
PIDS+=($!)
spid=$!
wait_for "$TMP/s.log" '^LEAKED_DONE' 60 || fail "stripped workload did not start"
sleep 1.5
"$PW" snapshot -p $spid --json >"$TMP/s.json" 2>"$TMP/s.err"
check "stripped: exit 0" test $? = 0
check "stripped: leak site still counts $LEAKS threads on $LEAKS words" \
	test "$(jq "[.sites[] | select(.count == $LEAKS and .futex_words == $LEAKS)] | length" "$TMP/s.json")" = 1
check "stripped: its site is module+offset, not an invented name" \
	test "$(jq -r "[.sites[] | select(.count == $LEAKS)][0].site" "$TMP/s.json" | grep -cE '^leaky-stripped\+0x[0-9a-f]+')" = 1
check "stripped: unknown frames keep module and addr, func null" \
	test "$(jq "[.sites[] | select(.count == $LEAKS)][0].frames | map(select(.module != null and (.module | endswith(\"leaky-stripped\")))) | .[0] | (.func == null and .file == null and .line == null and .addr != null)" "$TMP/s.json")" = true
check "stripped: unwound past the program into start_thread" \
	test "$(jq "[.sites[] | select(.count == $LEAKS)][0].frames | map(.func) | index(\"start_thread\") != null" "$TMP/s.json")" = true
kill -9 $spid

# Corrupt: section headers point past the end of the file. The kernel runs it (it only needs
# program headers); parkwatch counts the unreadable module and shows addresses, never crashes.
cp "$WL/leaky" "$TMP/leaky-corrupt"
printf '\xff\xff\xff\xff\xff\x00\x00\x00' | dd of="$TMP/leaky-corrupt" bs=1 seek=40 conv=notrunc 2>/dev/null
"$TMP/leaky-corrupt" "${args[@]}" >"$TMP/c.log" 2>&1 &
PIDS+=($!)
cpid=$!
if wait_for "$TMP/c.log" '^LEAKED_DONE' 60; then
	sleep 1.5
	"$PW" snapshot -p $cpid --json >"$TMP/c.json" 2>"$TMP/c.err"
	rc=$?
	check "corrupt: exit 0 (got $rc)" test $rc = 0
	check "corrupt: the threads are all still counted" \
		test "$(jq '[.sites[].count] | add' "$TMP/c.json")" -ge $((LEAKS + 4 + 2))
	check "corrupt: counted as a drop" test "$(jq '.drops.module + .drops.unwind' "$TMP/c.json")" -ge 1
	check "corrupt: one warning line names the binary" \
		bash -c "test \$(wc -l <'$TMP/c.err') = 1 && grep -q 'leaky-corrupt' '$TMP/c.err'"
else
	fail "corrupt workload did not start: $(head -2 "$TMP/c.log")"
fi
kill -9 $cpid 2>/dev/null

# Container: own mount and pid namespaces, binary at a path that does not exist on the host.
mkdir -p "$TMP/ctr"
unshare --fork --pid --mount --mount-proc bash -c "
	mount -t tmpfs none /mnt && cp '$WL/leaky' /mnt/leaky-ctr &&
	exec /mnt/leaky-ctr ${args[*]}" >"$TMP/n.log" 2>&1 &
PIDS+=($!)
if wait_for "$TMP/n.log" '^LEAKED_DONE' 60; then
	npid=$(pgrep -f '^/mnt/leaky-ctr' | head -1)
	check "container: binary path absent on the host" test ! -e /mnt/leaky-ctr
	sleep 1.5
	"$PW" snapshot -p "$npid" --json >"$TMP/n.json" 2>"$TMP/n.err"
	check "container: exit 0" test $? = 0
	check "container: leak site symbolized through /proc/PID/root" \
		test "$(site_count "$TMP/n.json" fetch_worker)" = $LEAKS
	check "container: host pid and namespace pid reported" \
		test "$(jq -r '[.sites[0].pid, .sites[0].ns_pid] | map(tostring) | join(" ")' "$TMP/n.json")" = "$npid 1"
	"$PW" snapshot -p "$npid" --frames 0 >"$TMP/n.txt" 2>&1
	check "container: the table shows host pid/namespace pid" grep -q " $npid/1 .*fetch_worker" "$TMP/n.txt"
	kill -9 "$npid"
else
	fail "container workload did not start: $(head -2 "$TMP/n.log")"
fi

# No BTF: one line, exit 1.
out=$(unshare --mount bash -c "mount -t tmpfs none /sys/kernel/btf && '$PW' snapshot" 2>&1)
rc=$?
check "no BTF: exit 1 (got $rc)" test $rc = 1
check "no BTF: one line naming BTF" bash -c "test \$(echo '$out' | wc -l) = 1 && echo '$out' | grep -q BTF"
finish
