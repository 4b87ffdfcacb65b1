#!/bin/sh
# make ct-check: tests/ct/ct_test under valgrind memcheck, secrets marked
# undefined.  Fails on any report (a branch or a memory index depending on
# a secret), and unless memcheck does report the canary, a deliberate
# secret-dependent branch and table lookup.
set -u
bin=$1
log=${bin%/*}/ct-check.log
command -v valgrind >/dev/null 2>&1 || {
	echo "ct-check: valgrind is not installed (make deps)" >&2; exit 1; }
VG="valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes \
--num-callers=30 --read-var-info=yes"
$VG "$bin" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "ct-check: FAIL (exit $rc): secret-dependent branches or indexes, or wrong results:" >&2
	grep -E 'ct_test: FAIL|Conditional jump|Use of uninitialised|uninitialised byte|by 0x|at 0x' \
	    "$log" | head -40 >&2
	echo "ct-check: the whole report: $log" >&2
	exit 1
fi
$VG "$bin" canary >"$log.canary" 2>&1
if [ $? -ne 99 ]; then
	echo "ct-check: FAIL: memcheck did not see the canary's secret-dependent branch; the test proves nothing here" >&2
	exit 1
fi
sections=$(grep -c '^ct_test: [a-z0-9]*$' "$log")
echo "ct-check: ok: $sections sections, no secret-dependent branch or index (valgrind memcheck), canary caught"
