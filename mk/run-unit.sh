#!/bin/sh
# Run every cmocka unit-test binary; print one closing tally.
vectors=$1; shift
export SDTOOL_VECTORS="$vectors"
pass=0; fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
