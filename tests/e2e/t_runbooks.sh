#!/bin/bash
# The ceremony/ runbook scripts, run as an officer would, unattended.
. "$(dirname "$0")/lib.sh"
C=$(cd "$E2E/../../ceremony" && pwd)
export SDTOOL

expect_out "drill.sh runs the whole story" 0 'Done: the drill recovered the HSM with 2 of 3 keys, and its canary key' sh "$C/drill.sh" "$T/drill"
check "drill: the new HSM accepted the blob" grep -q 'restored: a new HSM, it now holds the security domain.s 3 data items' "$T/out"
check "drill: the canary backup opened offline" grep -q 'key backup canary.bak: opens with this SD: key canary' "$T/out"
check "drill: another HSM's backup refused offline" grep -q 'other-canary.bak: key backup not opened: does not open' "$T/out"
check "drill: the canary restored into the second HSM" grep -q 'key backup canary.bak restored into HSM' "$T/out"
check "drill: another HSM's backup refused online" grep -q "key restore: HTTP 400 .*not made under this HSM's security domain" "$T/out"
check "drill: two separate simulated HSMs" [ -f "$T/drill/hsm/keys.json" -a -f "$T/drill/hsm2/keys.json" ]

check "keys" make_keys "$T/k" 3
expect "sim" 0 "$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys "$T/k"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd.json"
expect_out "verify-report: passes" 0 '^PASSED' sh "$C/verify-report.sh" "$T/sd.json" "$T/reports" "$T/k"/cert_[0-2].key
report=$(ls "$T"/reports/verify-*.json)
check "verify-report: the report is JSON with both reports" [ "$(jget "$report" \
	'(j["verify_exit_status"], j["verify"]["ok"], j["inspect"]["quorum"]["required"], len(j["verify"]["quorums"]))')" = "(0, True, 2, 3)" ]
check "verify-report: records the file's SHA-256" [ "$(jget "$report" 'j["inspect"]["sd_sha256"]')" = "$(sha256sum "$T/sd.json" | cut -c1-64)" ]
check "a stranger's key" make_keys "$T/s" 3
expect_out "verify-report: a useless key fails the report (3: recoverable, a key failed)" 3 '^FAILED' \
	sh "$C/verify-report.sh" "$T/sd.json" "$T/reports2" "$T/k/cert_0.key" "$T/s/cert_1.key" "$T/k/cert_2.key"
check "... and never says PASSED" sh -c "! grep -q PASSED '$T/out'"
# Issue 9: with officer 3's key not given it said PASSED and exited 0.
expect_out "verify-report: a share not covered is not a pass" 3 '^FAILED: --all: share #3 not opened' \
	sh "$C/verify-report.sh" "$T/sd.json" "$T/reports3" "$T/k/cert_0.key" "$T/k/cert_1.key"
check "... and never says PASSED" sh -c "! grep -q PASSED '$T/out'"
report=$(ls "$T"/reports3/verify-*.json)
check "... the report records the share not covered" [ "$(jget "$report" \
	'(j["verify_exit_status"], j["verify"]["ok"], j["verify"]["shares_not_covered"], j["verify"]["result"])')" = \
	"(3, False, [3], 'recoverable_with_problems')" ]
expect "verify-report: usage" 2 sh "$C/verify-report.sh" "$T/sd.json"

expect "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
x5t=$("$SDTOOL" inspect --json "$T/exch.cer" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])')
SDTOOL_EXPECT_X5T=wrong-thumbprint expect_err "recover-offline: a thumbprint that differs stops it" 1 'is not that of' \
	sh "$C/recover-offline.sh" "$T/sd.json" "$T/exch.cer" "$T/blob.json" "$T/k/cert_0.key" "$T/k/cert_1.key"
check "... before any blob is made" test ! -e "$T/blob.json"
# Issue 9: the expected value was printed just above the prompt, and a
# lower-case typo of hex was "not the exchange key of your HSM".
hex=$("$SDTOOL" inspect --json "$T/exch.cer" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256_readaloud"]["hex"].lower().replace(" ", ":"))')
printf '%s\n' "$hex" >"$T/typed"
# the keys are not encrypted: a password file with one (unused) line
printf 'unused-passphrase\n' >"$T/nopass"
check "recover-offline: never shows the thumbprint before asking" sh -c \
	'SDTOOL_PASSWORD_FILE="$4/nopass" sh "$1" "$2" "$3" "$4/blob-typed.json" "$4/k/cert_0.key" "$4/k/cert_1.key" <"$4/typed" >"$4/typed.out" 2>&1;
	 sed -n "1,/Type it/p" "$4/typed.out" | grep -q "$5" && exit 1; grep -q "Thumbprints match" "$4/typed.out"' \
	_ "$C/recover-offline.sh" "$T/sd.json" "$T/exch.cer" "$T" "$x5t"
check "... lower-case hex with colons is accepted: the same value" test -s "$T/blob-typed.json"
printf '%s\n' "$(printf %s "$x5t" | tr 'A-Za-z' 'a-zA-Z')" "$(printf %s "$x5t" | tr 'A-Za-z' 'a-zA-Z')" "$(printf %s "$x5t" | tr 'A-Za-z' 'a-zA-Z')" >"$T/typed-case"
check "recover-offline: base64url in the wrong case is refused, saying why" sh -c \
	'! sh "$1" "$2" "$3" "$4/blob-case.json" "$4/k/cert_0.key" "$4/k/cert_1.key" <"$4/typed-case" >"$4/case.out" 2>&1 &&
	 grep -q "base64url is case-sensitive" "$4/case.out" && test ! -e "$4/blob-case.json"' \
	_ "$C/recover-offline.sh" "$T/sd.json" "$T/exch.cer" "$T"
export SDTOOL_EXPECT_X5T=$x5t
expect_out "recover-offline: the blob, checked" 0 "is encrypted to exchange key $x5t" \
	sh "$C/recover-offline.sh" "$T/sd.json" "$T/exch.cer" "$T/blob.json" "$T/k/cert_0.key" "$T/k/cert_1.key"
expect_out "the HSM accepts it" 0 'restored' "$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/blob.json"

done_testing
