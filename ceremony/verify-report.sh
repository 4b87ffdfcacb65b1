#!/bin/sh
# verify-report.sh - the periodic (e.g. quarterly) proof that the officers'
# keys still open the security domain, kept as a dated record for audit.
#
#   ceremony/verify-report.sh SD_FILE REPORT_DIR KEY...
#
# Runs `sdtool inspect` and `sdtool verify --all` with every officer's key
# and writes REPORT_DIR/verify-<UTC time>.json holding both reports, the
# file's SHA-256 and the sdtool version.  Passphrases are asked on the
# terminal, or read from the file named by SDTOOL_PASSWORD_FILE (one line
# per key).
# It says PASSED only when every share of the SD file was opened by a key
# given, every key given opened its share, and every quorum recombined.
# Exit status: that of `sdtool verify --all`: 0 all of that was proved;
# 3 the SD file is recoverable but a key failed or a share was not
# covered; 1 not recoverable with the keys given, or another failure;
# 2 bad usage.
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
"$SDTOOL" verify --all --json "$@" >"$tmp.verify"
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

# PASSED needs both the exit status and the report's own verdict: every
# share opened (--all), no key failed, every quorum recombined.
if [ "$status" -eq 0 ] && grep -q '"result": "proved"' "$tmp.verify" &&
    grep -q '"shares_not_covered": \[\]' "$tmp.verify"; then
	echo "PASSED: every share of $sd was opened by its key, and every quorum opens it"
else
	[ "$status" -eq 0 ] && status=1
	verdict=$(sed -n 's/^ *"verdict": "\(.*\)",*$/\1/p' "$tmp.verify" | head -n 1)
	case $verdict in FAILED*) ;; *) verdict="FAILED: ${verdict:-see $report}" ;; esac
	echo "$verdict (sdtool verify exit $status)"
fi
echo "report: $report"
exit "$status"
