#!/bin/sh
# verify-report.sh - the periodic (e.g. quarterly) proof that the officers'
# keys still open the security domain, kept as a dated record for audit.
#
#   ceremony/verify-report.sh SD_FILE REPORT_DIR KEY...
#
# Runs `sdtool inspect` and `sdtool verify` with every officer's key and
# writes REPORT_DIR/verify-<UTC time>.json holding both reports, the file's
# SHA-256 and the sdtool version.  Passphrases are asked on the terminal,
# or read from the file named by SDTOOL_PASSWORD_FILE (one line per key).
# Exit status: that of `sdtool verify` (0 only if every key opened its
# share and every quorum opens the file), 2 for bad usage.
set -u

SDTOOL=${SDTOOL:-sdtool}
if [ $# -lt 3 ]; then
	echo "usage: verify-report.sh SD_FILE REPORT_DIR KEY..." >&2
	exit 2
fi
sd=$1
dir=$2
shift 2

mkdir -p "$dir" || exit 1
when=$(date -u +%Y%m%dT%H%M%SZ)
report=$dir/verify-$when.json
if [ -e "$report" ]; then
	echo "verify-report.sh: $report already exists" >&2
	exit 1
fi
tmp=$(mktemp "$dir/.verify-$when.XXXXXX") || exit 1
trap 'rm -f "$tmp" "$tmp.inspect" "$tmp.verify"' EXIT

"$SDTOOL" inspect --json "$sd" >"$tmp.inspect" || exit 1
set -- --sd-file "$sd" --sd-wrapping-keys "$@"
[ -n "${SDTOOL_PASSWORD_FILE:-}" ] && set -- "$@" --password-file "$SDTOOL_PASSWORD_FILE"
"$SDTOOL" verify --json "$@" >"$tmp.verify"
status=$?
[ -s "$tmp.verify" ] || exit 1

version=$("$SDTOOL" --version | sed 's/^sdtool //')
{
	printf '{\n"report": "sdtool verify-report",\n"utc": "%s",\n' "$when"
	printf '"sdtool_version": "%s",\n"verify_exit_status": %d,\n' "$version" "$status"
	printf '"inspect": '
	cat "$tmp.inspect"
	printf ',\n"verify": '
	cat "$tmp.verify"
	printf '}\n'
} >"$tmp" || exit 1
chmod 0644 "$tmp"
# link: never replaces a report that appeared meanwhile
ln "$tmp" "$report" || exit 1

if [ "$status" -eq 0 ]; then
	echo "PASSED: every key opened its share and every quorum opens $sd"
else
	echo "FAILED: see the keys and quorums in $report (sdtool verify exit $status)"
fi
echo "report: $report"
exit "$status"
