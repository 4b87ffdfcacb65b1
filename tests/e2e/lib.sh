# lib.sh - sourced by every tests/e2e/t_*.sh.
#
# The Makefile sets SDTOOL (the binary under test) and SDTOOL_VECTORS (the
# real service files).  Each test gets a scratch directory $T, removed at
# exit.  Every check prints "ok - NAME" or "not ok - NAME: why"; the test
# ends with done_testing, which prints the tally run.sh adds up.

set -u
: "${SDTOOL:?SDTOOL must name the sdtool binary}"
: "${SDTOOL_VECTORS:?SDTOOL_VECTORS must name ../shared/vectors/service}"
V=$SDTOOL_VECTORS
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3   # Debian's python, where azure-cli's modules live
T=$(mktemp -d "${TMPDIR:-/tmp}/sdtool-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
PASS=0
FAIL=0
RC=0

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1: $2"; }

# run CMD...: stdout to $T/out, stderr to $T/err, status in $RC.
run() { "$@" </dev/null >"$T/out" 2>"$T/err"; RC=$?; }

# check NAME CONDITION...: ok when the command succeeds.
check() {
	_name=$1; shift
	if "$@"; then ok "$_name"; else not_ok "$_name" "failed: $*"; fi
}

# expect NAME STATUS CMD...: the command exits with STATUS.
expect() {
	_name=$1; _want=$2; shift 2
	run "$@"
	if [ "$RC" -eq "$_want" ]; then ok "$_name"
	else not_ok "$_name" "exit $RC, expected $_want; stderr: $(head -c 400 "$T/err")"; fi
}

# expect_err NAME STATUS PATTERN CMD...: exits STATUS, and stderr holds
# PATTERN (grep -E) on exactly one line of its own.
expect_err() {
	_name=$1; _want=$2; _pat=$3; shift 3
	run "$@"
	if [ "$RC" -ne "$_want" ]; then
		not_ok "$_name" "exit $RC, expected $_want; stderr: $(head -c 400 "$T/err")"
	elif ! grep -Eq -- "$_pat" "$T/err"; then
		not_ok "$_name" "stderr lacks /$_pat/: $(head -c 400 "$T/err")"
	else
		ok "$_name"
	fi
}

# expect_out NAME STATUS PATTERN CMD...: as expect_err, on stdout.
expect_out() {
	_name=$1; _want=$2; _pat=$3; shift 3
	run "$@"
	if [ "$RC" -ne "$_want" ]; then
		not_ok "$_name" "exit $RC, expected $_want; stderr: $(head -c 400 "$T/err")"
	elif ! grep -Eq -- "$_pat" "$T/out"; then
		not_ok "$_name" "stdout lacks /$_pat/: $(head -c 400 "$T/out")"
	else
		ok "$_name"
	fi
}

# jget FILE EXPR: a value from a JSON file, EXPR a Python expression on j.
jget() { $PY -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# make_keys DIR N: N unencrypted RSA-2048 pairs cert_<i>.{key,cer} in DIR.
make_keys() {
	mkdir -p "$1"
	"$SDTOOL" keygen -n "$2" -b 2048 -d "$1" --no-passphrase >/dev/null 2>&1
}

# no_temp_files DIR: nothing half-written left behind in DIR.
no_temp_files() { [ -z "$(find "$1" -maxdepth 1 -name '.*.??????' 2>/dev/null)" ]; }

done_testing() {
	echo "# $(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
