#!/bin/bash
# inspect fails on any mismatch between the files it is given, and checks
# values read aloud: --expect-sha256, --expect-x5t (issue 9).
. "$(dirname "$0")/lib.sh"

SD=$V/2023-05/sd.json
EXCH=$V/2023-05/transfer_key_response.json
OTHER_EXCH=$V/2020-09/transfer_key_response.json
sha=$(sha256sum "$SD" | cut -c1-64)

expect "inspect SD with its own certificates: 0" 0 "$SDTOOL" inspect "$SD" "$V/keys/sd1.cer" "$V/keys/sd2.cer" "$V/keys/sd3.cer"
# Issue 9: certificates of no share gave three warnings and exit 0.
expect_out "inspect SD with certificates of no share: 1" 1 '^MISMATCH: .*cert_0.cer: no share of this file is encrypted to this certificate' \
	"$SDTOOL" inspect "$SD" "$V/certs/cert_0.cer" "$V/certs/cert_1.cer" "$V/certs/cert_2.cer"
check "... one line on stderr names it" grep -q 'cert_0.cer: no share of this file' "$T/err"
expect "inspect --json, the same" 1 "$SDTOOL" inspect --json "$SD" "$V/certs/cert_0.cer"
check "json: ok false, error mismatch, the mismatch listed" [ "$(jget "$T/out" \
	'(j["verb"], j["ok"], j["error"]["code"], len(j["mismatches"]))')" = "('inspect', False, 'mismatch', 1)" ]

# A restore blob and another HSM's exchange key.
expect "restore blob for the 2023-05 exchange key" 0 "$SDTOOL" restore-blob --sd-file "$SD" --sd-exchange-key "$EXCH" \
	--sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --out "$T/blob.json"
expect "inspect blob with its exchange key: 0" 0 "$SDTOOL" inspect "$T/blob.json" "$EXCH"
expect_out "inspect blob with another HSM's exchange key: 1" 1 'MISMATCH: .*this blob is not encrypted to this certificate' \
	"$SDTOOL" inspect "$T/blob.json" "$OTHER_EXCH"

# --expect-sha256: case, spaces and separators do not matter; the value does.
expect "--expect-sha256, as sha256sum prints it" 0 "$SDTOOL" inspect --expect-sha256 "$sha" "$SD"
expect "--expect-sha256 upper case, grouped by 4" 0 "$SDTOOL" inspect --expect-sha256 \
	"$(printf %s "$sha" | tr a-f A-F | sed 's/..../& /g')" "$SD"
expect "--expect-sha256 with colons" 0 "$SDTOOL" inspect --expect-sha256 "$(printf %s "$sha" | sed 's/../&:/g; s/:$//')" "$SD"
expect "inspect --json" 0 "$SDTOOL" inspect --json "$SD"
words=$(jget "$T/out" 'j["sd_sha256_readaloud"]["pgp_words"]')
hex=$(jget "$T/out" 'j["sd_sha256_readaloud"]["hex"]')
check "read-aloud hex is the sha256, grouped" [ "$(printf %s "$hex" | tr -d ' ' | tr A-F a-f)" = "$sha" ]
check "32 PGP words" [ "$(printf %s "$words" | wc -w)" -eq 32 ]
expect "--expect-sha256 as the PGP words, lower case" 0 "$SDTOOL" inspect --expect-sha256 "$(printf %s "$words" | tr A-Z a-z)" "$SD"
wrong=$(printf %s "$sha" | sed 's/^./0/; t; s/^/x/')
[ "$wrong" = "$sha" ] && wrong=$(printf %s "$sha" | sed 's/^./1/')
expect_out "--expect-sha256, one digit different: 1" 1 '^MISMATCH: --expect-sha256: .* is NOT the SHA-256' \
	"$SDTOOL" inspect --expect-sha256 "$wrong" "$SD"
expect_err "--expect-sha256 too short: says how many digits" 1 '63 hex digits typed, the value has 64' \
	"$SDTOOL" inspect --expect-sha256 "${sha%?}" "$SD"
expect_out "the text report prints the read-aloud forms" 0 "^          $hex\$" "$SDTOOL" inspect "$SD"

# --expect-x5t: base64url exact, or hex / words in any case.
x5t=$("$SDTOOL" inspect --json "$EXCH" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])')
xhex=$("$SDTOOL" inspect --json "$EXCH" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256_readaloud"]["hex"])')
expect "--expect-x5t exact" 0 "$SDTOOL" inspect --expect-x5t "$x5t" "$EXCH"
expect "--expect-x5t as lower-case hex with dashes" 0 "$SDTOOL" inspect --expect-x5t "$(printf %s "$xhex" | tr A-F a-f | tr ' ' -)" "$EXCH"
expect "--expect-x5t as openssl's fingerprint" 0 "$SDTOOL" inspect --expect-x5t "$(openssl x509 -in "$V/keys/sd1.cer" -noout -fingerprint -sha256 | sed 's/.*=//')" "$V/keys/sd1.cer"
expect_out "--expect-x5t base64url in the wrong case: refused, and why" 1 'base64url is case-sensitive' \
	"$SDTOOL" inspect --expect-x5t "$(printf %s "$x5t" | tr 'A-Za-z' 'a-zA-Z')" "$EXCH"
expect_out "--expect-x5t another HSM's thumbprint: 1" 1 'MISMATCH: --expect-x5t' \
	"$SDTOOL" inspect --expect-x5t "$("$SDTOOL" inspect --json "$OTHER_EXCH" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])')" "$EXCH"
expect_out "--expect-x5t on an SD file: the share it names" 0 'share #2' \
	"$SDTOOL" inspect --expect-x5t "$("$SDTOOL" inspect --json "$V/keys/sd2.cer" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])')" "$SD"
expect "--expect-x5t on a blob: its exchange key" 0 "$SDTOOL" inspect --expect-x5t "$x5t" "$T/blob.json"

# '-' is standard input.
check "inspect - reads standard input" sh -c '"$1" inspect --expect-sha256 "$2" - <"$3" >/dev/null' _ "$SDTOOL" "$sha" "$SD"
check "inspect - reads a certificate too" sh -c '"$1" inspect - <"$2" | grep -q "^x5t_256:"' _ "$SDTOOL" "$V/keys/sd1.cer"

done_testing
