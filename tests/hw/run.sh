#!/bin/sh
# Run the hardware tests (see README); skipped unless SDTOOL_HW_TESTS=1.
dir=$(cd "$(dirname "$0")" && pwd)
if [ "${SDTOOL_HW_TESTS:-0}" != 1 ]; then
	echo "hw: skipped (set SDTOOL_HW_TESTS=1 with a YubiKey connected; see tests/hw/README)"
	exit 0
fi
fail=0
for t in "$dir"/t_*.sh; do
	bash "$t" || fail=1
done
[ $fail -eq 0 ] && echo "hw: all passed" || echo "hw: FAILED"
exit $fail
