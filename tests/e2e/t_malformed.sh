#!/bin/bash
# Bad input of every kind: one clear line on stderr naming what was wrong
# and where, a documented exit status (1 bad input, 2 bad usage), and no
# file written.
. "$(dirname "$0")/lib.sh"

SD=$V/2023-05/sd.json

# mutate NAME PYTHON: $T/NAME.json = the real file after PYTHON runs on j
# (the parsed object) or on text (the raw text, when PYTHON sets out).
mutate() {
	$PY - "$SD" "$T/$1.json" "$2" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text)
out = None
exec(sys.argv[3])
if out is None:
    out = json.dumps(j, separators=(",", ":"))
open(sys.argv[2], "w").write(out)
PYEOF
}

# row NAME PYTHON PATTERN: inspect refuses the mutated file, exit 1, one
# line on stderr matching PATTERN.
row() {
	mutate "$1" "$2"
	expect_err "$1" 1 "$3" "$SDTOOL" inspect "$T/$1.json"
	check "$1: exactly one line on stderr" [ "$(wc -l <"$T/err")" -eq 1 ]
}

S='j["SharedKeys"]'
E='j["EncData"]'
row truncated-json      'out = text[:100]'                           'not JSON'
row empty-file          'out = ""'                                   'not JSON|empty'
row top-level-array     'out = "[1,2]"'                              'object'
row missing-encdata     'del j["EncData"]'                           'EncData'
row missing-sharedkeys  'del j["SharedKeys"]'                        'SharedKeys'
row missing-version     'del j["version"]'                           'version'
row version-3           'j["version"] = 3'                           'version'
row version-string      'j["version"] = "2"'                         'version'
row required-gt-n       "$S[\"required\"] = 4"                      'SharedKeys.required: 4 is out of range'
row required-1          "$S[\"required\"] = 1"                      'SharedKeys.required: 1 is out of range'
row required-0          "$S[\"required\"] = 0"                      'SharedKeys.required'
row required-negative   "$S[\"required\"] = -1"                     'SharedKeys.required'
row required-string     "$S[\"required\"] = \"2\""                  'SharedKeys.required: expected an integer'
row required-real       "$S[\"required\"] = 2.0"                    'SharedKeys.required'
row required-missing    "del $S[\"required\"]"                      'SharedKeys.required'
row shares-not-array    "$S[\"enc_shares\"] = {}"                   'SharedKeys.enc_shares'
row one-share           "$S[\"enc_shares\"] = $S[\"enc_shares\"][:1]" 'SharedKeys'
row eleven-shares       "$S[\"enc_shares\"] = ($S[\"enc_shares\"] * 4)[:11]" 'SharedKeys.enc_shares'
row duplicate-x5t       "$S[\"enc_shares\"][1][\"x5t_256\"] = $S[\"enc_shares\"][0][\"x5t_256\"]" 'x5t_256'
row short-x5t           "$S[\"enc_shares\"][0][\"x5t_256\"] = $S[\"enc_shares\"][0][\"x5t_256\"][:42]" 'SharedKeys.enc_shares\[0\].x5t_256'
row x5t-not-string      "$S[\"enc_shares\"][0][\"x5t_256\"] = 7"   'SharedKeys.enc_shares\[0\].x5t_256'
row enc-key-missing     "del $S[\"enc_shares\"][2][\"enc_key\"]"    'SharedKeys.enc_shares\[2\].enc_key'
row jwe-4-parts         "k = $S[\"enc_shares\"][2]; k[\"enc_key\"] = \".\".join(k[\"enc_key\"].split(\".\")[:4])" \
	'SharedKeys.enc_shares\[2\].enc_key: JWE has 4 parts, expected 5'
row jwe-6-parts         "k = $S[\"enc_shares\"][2]; k[\"enc_key\"] += \".AAAA\"" 'SharedKeys.enc_shares\[2\].enc_key: JWE has 6 parts, expected 5'
row jwe-bad-base64url   "k = $S[\"enc_shares\"][0]; p = k[\"enc_key\"].split(\".\"); p[2] = p[2][:5] + \"*\" + p[2][6:]; k[\"enc_key\"] = \".\".join(p)" \
	'SharedKeys.enc_shares\[0\].enc_key: .*base64url'
row jwe-padded-base64   "k = $S[\"enc_shares\"][0]; p = k[\"enc_key\"].split(\".\"); p[4] += \"=\"; k[\"enc_key\"] = \".\".join(p)" \
	'SharedKeys.enc_shares\[0\].enc_key'
row tag-31-bytes        "d = $E[\"data\"][0]; p = d[\"compact_jwe\"].split(\".\"); p[4] = p[4][:41]; d[\"compact_jwe\"] = \".\".join(p)" \
	'EncData.data\[0\].compact_jwe: .*(31 bytes|tag)'
row tag-33-bytes        "import base64; d = $E[\"data\"][0]; p = d[\"compact_jwe\"].split(\".\"); p[4] = base64.urlsafe_b64encode(bytes(33)).decode().rstrip(\"=\"); d[\"compact_jwe\"] = \".\".join(p)" \
	'EncData.data\[0\].compact_jwe: .*33 bytes'
row tag-0-bytes         "d = $E[\"data\"][0]; p = d[\"compact_jwe\"].split(\".\"); p[4] = \"\"; d[\"compact_jwe\"] = \".\".join(p)" \
	'EncData.data\[0\].compact_jwe: .*(0 bytes|tag)'
row share-alg-dir       "import base64; k = $S[\"enc_shares\"][1]; p = k[\"enc_key\"].split(\".\"); p[0] = base64.urlsafe_b64encode(b'{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}').decode().rstrip(\"=\"); k[\"enc_key\"] = \".\".join(p)" \
	'SharedKeys.enc_shares\[1\].enc_key'
row kdf-other           "$E[\"kdf\"] = \"hkdf\""                    'EncData.kdf'
row algorithm-other     "$S[\"key_algorithm\"] = \"xor\""           'SharedKeys.key_algorithm'
row data-empty          "$E[\"data\"] = []"                         'EncData.data'
row data-tag-missing    "del $E[\"data\"][1][\"tag\"]"              'EncData.data\[1\].tag'
row data-tag-duplicate  "$E[\"data\"][2][\"tag\"] = \"hsm_backup\"" 'EncData.data\[2\].tag'
row data-tag-number     "$E[\"data\"][0][\"tag\"] = 5"              'EncData.data\[0\].tag'

# Too large to be an SD file: refused before parsing.
head -c $((65 * 1024 * 1024)) /dev/zero >"$T/huge.json"
expect_err "oversized file" 1 'huge.json: .*(too large|larger|more than)' "$SDTOOL" inspect "$T/huge.json"
expect_err "missing file" 1 'nope.json: .*No such file' "$SDTOOL" inspect "$T/nope.json"
mkdir "$T/adir"
expect_err "a directory" 1 'adir: .*directory' "$SDTOOL" inspect "$T/adir"

# A restore blob where an SD file is expected, and the other way round.
expect_err "blob given to verify" 1 'restore blob, not a security-domain file' \
	"$SDTOOL" verify --sd-file "$V/2023-05/upload_request.json" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key"

$PY - "$V/2023-05/upload_request.json" "$T/bad-blob.json" <<'PYEOF'
import json, sys
b = json.loads(json.load(open(sys.argv[1]))["value"])
b["WrappedKey"]["x5t_256"] = "short"
open(sys.argv[2], "w").write(json.dumps(b))
PYEOF
expect_err "a malformed blob gets the blob's own error" 1 'WrappedKey.x5t_256' "$SDTOOL" inspect "$T/bad-blob.json"

# Bad keys and certificates, named.
printf 'not a key\n' >"$T/garbage.key"
expect_out "garbage key file is named" 1 "garbage.key: .*not a private key" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$T/garbage.key" "$V/keys/sd1.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass pass:ecpassphrase \
	-out "$T/ec.key" 2>/dev/null
expect_out "an encrypted EC key with its passphrase: named as not RSA, not as a wrong passphrase" 1 "ec.key: .*only RSA" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$T/ec.key" "$V/keys/sd1.key" --password-file <(echo ecpassphrase)
mkdir -p "$T/mismatch"
cp "$V/keys/sd1.key" "$T/mismatch/sd1.key"
cp "$V/keys/sd2.cer" "$T/mismatch/sd1.cer"
expect_out "key beside another key's certificate is refused" 1 "does not match" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$T/mismatch/sd1.key" "$V/keys/sd2.key"
printf 'not a certificate\n' >"$T/exch.cer"
expect_err "garbage exchange key" 1 'exch.cer' "$SDTOOL" restore-blob --sd-file "$SD" \
	--sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --out "$T/blob.json"
check "no blob written after a failure" test ! -e "$T/blob.json"
check "no temporary files left" no_temp_files "$T"

# Usage errors: exit 2.
expect_err "unknown option" 2 'unknown option --frobnicate' "$SDTOOL" verify --frobnicate
expect_err "missing required options" 2 'required' "$SDTOOL" verify --sd-file "$SD"
expect_err "option without value" 2 'needs a value' "$SDTOOL" restore-blob --out
expect_err "unknown verb" 2 "unknown verb 'frob'" "$SDTOOL" frob
expect_err "flag with a value" 2 'takes no value' "$SDTOOL" inspect --json=yes "$SD"
expect_err "sim quorum out of range" 2 'sd-quorum: 11 is out of range' "$SDTOOL" sim activate --state "$T/s" \
	--sd-wrapping-keys a b c --sd-quorum 11 --security-domain-file "$T/x.json"
expect_err "sim with 2 certificates" 2 '2 certificates given; the service takes 3 to 10' "$SDTOOL" sim activate \
	--state "$T/s" --sd-wrapping-keys a b --sd-quorum 2 --security-domain-file "$T/x.json"

done_testing
