#!/bin/sh
# Run every end-to-end test of the built binary and print one tally.
dir=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0; broken=""
for t in "$dir"/t_*.sh; do
	out=$(bash "$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | sed -n 's/^# .*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
	if [ -z "$line" ]; then
		fail=$((fail + 1)); broken="$broken $(basename "$t")"
		continue
	fi
	set -- $line
	pass=$((pass + $1)); fail=$((fail + $2))
	[ "$rc" -ne 0 ] && [ "$2" -eq 0 ] && { fail=$((fail + 1)); broken="$broken $(basename "$t")"; }
done
[ -n "$broken" ] && echo "# scripts that did not finish cleanly:$broken"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
