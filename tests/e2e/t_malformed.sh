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


# ==== The catalogue across every verb (issue 14) ==============================
# bad NAME STATUS PATTERN CMD...: run in the work directory $W; the command
# exits STATUS; stderr is ONE line (the "run 'sdtool ... --help'" hint of a
# usage error, and a "note:" line saying what to do, aside) matching PATTERN; and nothing in $W was written,
# changed or left behind (names, sizes, modes, times and contents).
W=$T/w
mkdir -p "$W"
# (a directory's own time is left out: hsm probes that it can write there)
snap() { (cd "$W" && find . -printf '%p %y %s %m\n' | LC_ALL=C sort &&
	find . -type f -printf '%p %T@\n' | LC_ALL=C sort &&
	find . -type f -exec sha256sum {} + | LC_ALL=C sort); }
bad() {
	_n=$1; _s=$2; _p=$3; shift 3
	_b=$(snap)
	(cd "$W" && "$@" </dev/null >"$T/out" 2>"$T/err"); RC=$?
	_a=$(snap)
	_l=$(grep -v "^run 'sdtool .*--help' for usage$" "$T/err" | grep -vc '^sdtool [a-z -]*: note: ')
	_why=""
	[ "$RC" -eq "$_s" ] || _why="exit $RC, expected $_s"
	grep -Eq -- "$_p" "$T/err" || _why="$_why; stderr lacks /$_p/"
	[ "$_l" -eq 1 ] || _why="$_why; $_l lines on stderr"
	[ "$_b" = "$_a" ] || _why="$_why; files changed: $(diff <(echo "$_b") <(echo "$_a") | head -c 300)"
	if [ -z "$_why" ]; then ok "$_n"; else not_ok "$_n" "$_why; stderr: $(head -c 300 "$T/err")"; fi
}
# bad_report NAME PATTERN CMD...: verify's failures are its report: exit 1,
# PATTERN on stdout, at most one line on stderr, nothing changed.
bad_report() {
	_n=$1; _p=$2; shift 2
	_b=$(snap)
	(cd "$W" && "$@" </dev/null >"$T/out" 2>"$T/err"); RC=$?
	_a=$(snap)
	_why=""
	[ "$RC" -eq 1 ] || _why="exit $RC, expected 1"
	grep -Eq -- "$_p" "$T/out" || _why="$_why; stdout lacks /$_p/"
	[ "$(wc -l <"$T/err")" -le 1 ] || _why="$_why; $(wc -l <"$T/err") lines on stderr"
	[ "$_b" = "$_a" ] || _why="$_why; files changed"
	if [ -z "$_why" ]; then ok "$_n"; else not_ok "$_n" "$_why; out: $(head -c 300 "$T/out") err: $(head -c 300 "$T/err")"; fi
}

# Fixtures, all in $W: unencrypted keys k/, passphrase-protected keys e/,
# an SD file for k/, a recovery-mode exchange key, odd files.
S=$SDTOOL
cd "$W" || exit 1
"$S" keygen -n 3 -b 2048 -d k --no-passphrase >/dev/null 2>&1
printf 'correct horse\n' >pw
"$S" keygen -n 3 -b 2048 -d e --password-file pw >/dev/null 2>&1
"$S" sim activate --state hsm --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer \
	--sd-quorum 2 --security-domain-file sd.json >/dev/null 2>&1
"$S" sim activate --state hsme --sd-wrapping-keys e/cert_0.cer e/cert_1.cer e/cert_2.cer \
	--sd-quorum 2 --security-domain-file sde.json >/dev/null 2>&1
"$S" sim init-recovery --state hsm --sd-exchange-key exch.cer >/dev/null 2>&1
"$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys \
	k/cert_0.key k/cert_1.key --out blob.json >/dev/null 2>&1
"$S" escrow print --key k/cert_0.key --format text --out sheet.txt --no-passphrase >/dev/null 2>&1
grep -E '^ *([0-9]+|end):' sheet.txt >typed.txt
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl req -x509 -key ec.key -subj /CN=ec -days 30 -out ec.cer 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out r1024.key 2>/dev/null
openssl req -x509 -key r1024.key -subj /CN=short -days 30 -out r1024.cer 2>/dev/null
: >empty
printf 'garbage\n' >garbage
head -c 4096 /dev/urandom >random.bin
mkdir adir
head -n 5 k/cert_0.key >trunc.key
printf '\n\n\n' >blank-lines
printf 'pass\0word\n' >nul-pw
head -c 70000 /dev/zero | tr '\0' 'a' >huge-pw
printf 'x%.0s' $(seq 2000) >long-pw
printf 'only one line for key one\ncorrect horse\n' >two-lines
printf 'wrong passphrase\n' >wrong-pw
printf 'short\n' >short-pw
cp k/cert_1.cer k0-wrong.cer; cp k/cert_0.key k0-wrong.key
printf '\xff\xfe{\0"\0' >utf16.json
cd - >/dev/null || exit 1
check "catalogue fixtures made" test -s "$W/blob.json" -a -s "$W/typed.txt" -a -s "$W/sde.json" -a -s "$W/ec.cer"

# json NAME PYTHON: $W/NAME.json from the SD file after PYTHON ran on j.
json() {
	$PY - "$W/sd.json" "$W/$1.json" "$2" <<'PYEOF2'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text)
out = None
exec(sys.argv[3])
if out is None:
    out = json.dumps(j)
open(sys.argv[2], "w").write(out)
PYEOF2
}
# exch NAME PYTHON: an exchange-key reply ({"transfer_key": JWK}) built
# from exch.cer, then PYTHON run on r (the reply) and k (the JWK).
exch() {
	$PY - "$W/exch.cer" "$W/$1.json" "$2" <<'PYEOF2'
import base64, json, subprocess, sys
pem = open(sys.argv[1]).read()
der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(),
    capture_output=True).stdout
mod = subprocess.run(["openssl", "x509", "-noout", "-modulus"], input=pem.encode(),
    capture_output=True).stdout.decode().strip().split("=")[1]
b64u = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
k = {"kty": "RSA", "key_ops": ["wrapKey"], "n": b64u(bytes.fromhex(mod)),
     "e": "AQAB", "x5c": [base64.b64encode(der).decode()]}
r = {"transfer_key": k}
out = None
exec(sys.argv[3])
if out is None:
    out = json.dumps(r)
open(sys.argv[2], "w").write(out)
PYEOF2
}

# ---- usage (exit 2) ---------------------------------------------------------------
bad "inspect: no file" 2 'SD_FILE is required|which' "$S" inspect
bad "inspect: unknown option" 2 'unknown option --frob' "$S" inspect --frob sd.json
bad "verify: unknown option" 2 'unknown option' "$S" verify --sd-file sd.json --frob
bad "verify: no keys" 2 'required' "$S" verify --sd-file sd.json
bad "verify: no --sd-file" 2 'required' "$S" verify --sd-wrapping-keys k/cert_0.key
bad "verify: --sd-file without a value" 2 'needs a value' "$S" verify --sd-file
bad "verify: a stray argument" 2 "unexpected argument|unknown" "$S" verify stray --sd-file sd.json --sd-wrapping-keys k/cert_0.key
bad "verify: --json with a value" 2 'takes no value' "$S" verify --json=1 --sd-file sd.json --sd-wrapping-keys k/cert_0.key
bad "restore-blob: no --out" 2 'required' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key
bad "restore-blob: no --sd-exchange-key" 2 'required' "$S" restore-blob --sd-file sd.json --sd-wrapping-keys k/cert_0.key k/cert_1.key --out o.json
bad "restore-blob: no keys" 2 'required' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --out o.json
bad "restore-blob: fewer keys than the quorum" 2 'needs 2 keys; 1 given' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key --out o.json
bad "restore-blob: unknown option" 2 'unknown option' "$S" restore-blob --frob
for n in 0 2 11 -1 abc 3x ''; do
	bad "keygen: -n '$n'" 2 '(-n|--count).*(range|number|integer|value)' "$S" keygen -n "$n" -d kg --no-passphrase
done
for b in 1024 2047 2049 5000 99999 abc ''; do
	bad "keygen: -b '$b'" 2 '(-b|--bits)' "$S" keygen -b "$b" -d kg --no-passphrase
done
for i in 10 -1 x ''; do
	bad "keygen: --index '$i'" 2 'index' "$S" keygen --index "$i" -d kg --no-passphrase
done
for d in 0 -5 abc 100000 ''; do
	bad "keygen: --days '$d'" 2 'days' "$S" keygen --days "$d" -d kg --no-passphrase
done
bad "keygen: --no-passphrase with --password-file" 2 'contradict|together|both' "$S" keygen -d kg --no-passphrase --password-file pw
bad "keygen: unknown option" 2 'unknown option' "$S" keygen --frob
bad "keygen: a stray argument" 2 'unexpected|unknown' "$S" keygen stray -d kg --no-passphrase
bad "keygen: a subject that is not a DN" 2 'subject' "$S" keygen --index 0 --subject 'not a dn' -d kg --no-passphrase
bad "sim activate: quorum 1" 2 'sd-quorum' "$S" sim activate --state s1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 1 --security-domain-file o.json
bad "sim activate: quorum above the certificates" 2 'sd-quorum' "$S" sim activate --state s1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 4 --security-domain-file o.json
bad "sim activate: quorum not a number" 2 'sd-quorum' "$S" sim activate --state s1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum two --security-domain-file o.json
bad "sim activate: no --state" 2 'required|state' "$S" sim activate --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: no output" 2 'required|security-domain-file' "$S" sim activate --state s1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2
bad "sim init-recovery: no output" 2 'required|sd-exchange-key' "$S" sim init-recovery --state hsm
bad "sim upload: no blob" 2 'required|sd-file' "$S" sim upload --state hsm
bad "sim status: no state" 2 'required|state' "$S" sim status
bad "sim: unknown subcommand" 2 'frob|needs one of' "$S" sim frob
bad "escrow print: no --key" 2 'required' "$S" escrow print --out o.txt --format text --no-passphrase
bad "escrow print: no --out" 2 'required' "$S" escrow print --key k/cert_0.key --format text --no-passphrase
bad "escrow print: --format doc" 2 'format' "$S" escrow print --key k/cert_0.key --out o.txt --format doc --no-passphrase
bad "escrow print: --paper legal" 2 'paper' "$S" escrow print --key k/cert_0.key --out o.pdf --paper legal --no-passphrase
bad "escrow print: --index 10" 2 'index' "$S" escrow print --key k/cert_0.key --out o.txt --format text --index 10 --no-passphrase
bad "escrow print: --passphrase and --no-passphrase" 2 'contradict' "$S" escrow print --key k/cert_0.key --out o.txt --format text --passphrase --no-passphrase
bad "escrow print: an officer name of 65 bytes" 2 'officer' "$S" escrow print --key k/cert_0.key --out o.txt --format text --no-passphrase --officer "$(printf 'o%.0s' $(seq 65))"
bad "escrow print: ESC in --hsm" 2 'hsm.*control' "$S" escrow print --key k/cert_0.key --out o.txt --format text --no-passphrase --hsm $'a\e[2Jb'
bad "escrow print: invalid UTF-8 in --officer" 2 'officer.*UTF-8' "$S" escrow print --key k/cert_0.key --out o.txt --format text --no-passphrase --officer $'\xff'
bad "escrow restore: no source" 2 'text|qr|scan' "$S" escrow restore --out o.key --no-passphrase
bad "escrow restore: two sources" 2 'text|qr|scan' "$S" escrow restore --text typed.txt --qr typed.txt --out o.key --no-passphrase
bad "escrow restore: no --out" 2 'required|out' "$S" escrow restore --text typed.txt --no-passphrase
bad "escrow: unknown subcommand" 2 'frob|needs one of' "$S" escrow frob
bad "yk wrap: --slot 3" 2 'slot' "$S" yk wrap --key k/cert_0.key --slot 3 --out o.ykey
bad "yk wrap: no --slot" 2 'required|slot' "$S" yk wrap --key k/cert_0.key --out o.ykey
bad "yk unwrap: no --in" 2 'required|in' "$S" yk unwrap --out o.key --no-passphrase
bad "yk info: no file" 2 'YKEY|required|which' "$S" yk info
bad "yk: unknown subcommand" 2 'frob|needs one of' "$S" yk frob
bad "card import: no --token" 2 'required|token' "$S" card import --key k/cert_0.key
bad "card import: a bad --id" 2 'hex' "$S" card import --key k/cert_0.key --token pkcs11: --id zz
bad "card generate: no -d" 2 'required' "$S" card generate --token pkcs11: --index 0
bad "card generate: --index 10" 2 'index' "$S" card generate --token pkcs11: -d cg --index 10
bad "card: unknown subcommand" 2 'frob|needs one of' "$S" card frob
bad "hsm download: no quorum" 2 'required|quorum' "$S" hsm download --hsm-url https://127.0.0.1:1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --security-domain-file o.json
bad "hsm download: both --hsm-name and --hsm-url" 2 'hsm-name|hsm-url' "$S" hsm download --hsm-name a --hsm-url https://127.0.0.1:1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "hsm download: quorum 11" 2 'quorum' "$S" hsm download --hsm-url https://127.0.0.1:1 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 11 --security-domain-file o.json
bad "hsm: unknown subcommand" 2 'frob|needs one of' "$S" hsm frob
bad "unknown verb with ESC" 2 "unknown verb 'x\\\\x1B" "$S" $'x\e'

# ---- files that are not what they should be (exit 1) -----------------------------
for f in nope adir empty garbage random.bin utf16.json trunc.key; do
	bad "inspect: $f" 1 "$f" "$S" inspect "$f"
done
for f in nope adir empty garbage random.bin utf16.json k/cert_0.key blob.json; do
	bad "verify --sd-file $f" 1 "$f" "$S" verify --sd-file "$f" --sd-wrapping-keys k/cert_0.key k/cert_1.key
	bad "restore-blob --sd-file $f" 1 "$f" "$S" restore-blob --sd-file "$f" --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --out o.json
done
json trailing-garbage 'out = text + "xyz"'
json two-objects 'out = text + text'
json deep 'out = "[" * 100000 + "]" * 100000'
json nul-in-string 'out = text.replace("\"version\"", "\"ver\\u0000sion\"", 1)'
json big-number 'j["version"] = 10**40'
json float-version 'j["version"] = 2.5'
json null-shares 'j["SharedKeys"] = None'
json shares-string 'j["SharedKeys"]["enc_shares"] = "x"'
json encdata-array 'j["EncData"] = []'
json data-null 'j["EncData"]["data"] = None'
json bom 'out = "\ufeff" + text'
for f in trailing-garbage two-objects deep nul-in-string big-number float-version null-shares shares-string encdata-array data-null bom; do
	bad "inspect: SD file with $f" 1 "$f.json" "$S" inspect "$f.json"
done
for f in trailing-garbage null-shares data-null; do
	bad "restore-blob: SD file with $f" 1 "$f.json" "$S" restore-blob --sd-file "$f.json" --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --out o.json
done

# ---- key files -----------------------------------------------------------------------
for f in nope adir empty garbage random.bin trunc.key k/cert_0.cer ec.key r1024.key sd.json; do
	bad_report "verify: key $f" "$f: " "$S" verify --sd-file sd.json --sd-wrapping-keys "$f" k/cert_1.key
done
for f in nope adir empty garbage trunc.key ec.key r1024.key; do
	bad "restore-blob: key $f" 1 "$f|shares needed" "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys "$f" k/cert_1.key --out o.json
done
mkdir -p "$W/mm" && cp "$W/k/cert_0.key" "$W/mm/cert_0.key" && cp "$W/k/cert_1.cer" "$W/mm/cert_0.cer"
bad_report "verify: a key beside another key's certificate" 'does not match' "$S" verify --sd-file sd.json --sd-wrapping-keys mm/cert_0.key k/cert_1.key
bad_report "verify: a key of another SD file" 'no share' "$S" verify --sd-file sd.json --sd-wrapping-keys e/cert_0.key k/cert_1.key --password-file pw

# ---- passphrases -----------------------------------------------------------------------
bad_report "verify: an encrypted key, no terminal, no --password-file" 'passphrase' "$S" verify --sd-file sde.json --sd-wrapping-keys e/cert_0.key e/cert_1.key
bad_report "verify: a wrong passphrase" 'wrong passphrase' "$S" verify --sd-file sde.json --sd-wrapping-keys e/cert_0.key e/cert_1.key --password-file wrong-pw
for f in nope adir empty blank-lines nul-pw huge-pw; do
	bad "verify: --password-file $f" 1 "password-file $f" "$S" verify --sd-file sde.json --sd-wrapping-keys e/cert_0.key e/cert_1.key --password-file "$f"
	bad "restore-blob: --password-file $f" 1 "password-file $f" "$S" restore-blob --sd-file sde.json --sd-exchange-key exch.cer --sd-wrapping-keys e/cert_0.key e/cert_1.key --password-file "$f" --out o.json
done
bad "verify: --password-file with a passphrase too long" 1 'too long' "$S" verify --sd-file sde.json --sd-wrapping-keys e/cert_0.key e/cert_1.key --password-file long-pw
bad "verify: --password-file with two lines for three keys" 1 'none for key #3' "$S" verify --sd-file sde.json --sd-wrapping-keys e/cert_0.key e/cert_1.key e/cert_2.key --password-file two-lines
bad "restore-blob: wrong passphrases" 1 'shares needed' "$S" restore-blob --sd-file sde.json --sd-exchange-key exch.cer --sd-wrapping-keys e/cert_0.key e/cert_1.key --password-file wrong-pw --out o.json
for f in nope adir empty blank-lines nul-pw short-pw; do
	bad "keygen: new passphrase from $f" 1 "$f|shorter" "$S" keygen -n 3 -b 2048 -d kg --password-file "$f"
done
bad "keygen: no terminal for a new passphrase" 1 'terminal|password-file' "$S" keygen -n 3 -b 2048 -d kg
bad "escrow print: wrong key passphrase" 1 'passphrase' "$S" escrow print --key e/cert_0.key --format text --out o.txt --password-file wrong-pw --new-password-file pw
bad "escrow print: short sheet passphrase" 1 'shorter' "$S" escrow print --key k/cert_0.key --format text --out o.txt --new-password-file short-pw
bad "escrow print: sheet passphrase file missing" 1 'nope' "$S" escrow print --key k/cert_0.key --format text --out o.txt --new-password-file nope

# ---- outputs that must not be touched ------------------------------------------------
bad "restore-blob: --out exists" 1 'already exists' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --out blob.json
bad "restore-blob: --out is a directory" 1 'adir' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --out adir
bad "restore-blob: --out in a missing directory" 1 'nodir' "$S" restore-blob --sd-file sd.json --sd-exchange-key exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --out nodir/o.json
bad "keygen: -d is a file" 1 'garbage' "$S" keygen -n 3 -b 2048 -d garbage --no-passphrase
bad "keygen: keys already there" 1 'cert_0.key, .*cert_2.cer: already exist; not overwriting them' "$S" keygen -n 3 -b 2048 -d k --no-passphrase
bad "keygen --index: key already there" 1 'cert_1.key, .*cert_1.cer: already exist' "$S" keygen --index 1 -b 2048 -d k --no-passphrase
bad "sim activate: output exists" 1 'already exists' "$S" sim activate --state s2 --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file sd.json
bad "sim init-recovery: output exists" 1 'already exists' "$S" sim init-recovery --state hsm --sd-exchange-key exch.cer
bad "escrow print: --out exists" 1 'already exists' "$S" escrow print --key k/cert_0.key --format text --out sheet.txt --no-passphrase
bad "escrow restore: --out exists" 1 'already exists' "$S" escrow restore --text typed.txt --out k/cert_0.key --no-passphrase
bad "yk unwrap: --out exists" 1 'already exists|garbage' "$S" yk unwrap --in garbage --out k/cert_0.key --no-passphrase

# ---- certificates and exchange keys (HSM replies saved to a file) --------------------
for f in nope adir empty garbage random.bin ec.cer r1024.cer k/cert_0.key sd.json; do
	bad "restore-blob: exchange key $f" 1 "$f" "$S" restore-blob --sd-file sd.json --sd-exchange-key "$f" --sd-wrapping-keys k/cert_0.key k/cert_1.key --out o.json
done
exch x-ok ''
exch x-kty-ec 'k["kty"] = "EC"'
exch x-no-x5c 'del k["x5c"]'
exch x-x5c-empty 'k["x5c"] = []'
exch x-x5c-garbage 'k["x5c"] = ["!!!notbase64"]'
exch x-x5c-not-cert 'k["x5c"] = [base64.b64encode(b"hello").decode()]'
exch x-n-mismatch 'k["n"] = b64u(bytes.fromhex("c0" + mod[2:]))'
exch x-e-mismatch 'k["e"] = "Aw"'
exch x-format-pem 'r["key_format"] = "pem"'
exch x-tk-number 'r["transfer_key"] = 5'
exch x-tk-bad-string 'r["transfer_key"] = "{not json"'
exch x-no-tk 'r = {"other": 1}'
exch x-cut 'out = json.dumps(r)[:200]'
exch x-esc-format 'r["key_format"] = "\u001b]0;x\u0007"'
for f in x-kty-ec x-no-x5c x-x5c-empty x-x5c-garbage x-x5c-not-cert x-n-mismatch x-e-mismatch x-format-pem x-tk-number x-tk-bad-string x-no-tk x-cut x-esc-format; do
	bad "restore-blob: exchange-key reply $f" 1 "$f.json" "$S" restore-blob --sd-file sd.json --sd-exchange-key "$f.json" --sd-wrapping-keys k/cert_0.key k/cert_1.key --out o.json
done
bad "sim activate: a garbage certificate" 1 'garbage' "$S" sim activate --state s3 --sd-wrapping-keys garbage k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: an EC certificate" 1 'ec.cer' "$S" sim activate --state s3 --sd-wrapping-keys ec.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: an RSA-1024 certificate" 1 'r1024.cer' "$S" sim activate --state s3 --sd-wrapping-keys r1024.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: the same certificate twice" 1 'cert_1.cer|twice|same|duplicate' "$S" sim activate --state s3 --sd-wrapping-keys k/cert_1.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: a missing certificate" 1 'nope' "$S" sim activate --state s3 --sd-wrapping-keys nope k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
bad "sim activate: already activated" 1 'activated|already' "$S" sim activate --state hsm --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file o.json
# (a new, empty --state is a new HSM waiting for a security domain: sdtool-sim(1))
bad "sim init-recovery: a state directory whose parent does not exist" 1 'nodir/nohsm' "$S" sim init-recovery --state nodir/nohsm --sd-exchange-key o.cer
bad "sim upload: a garbage blob" 1 'garbage' "$S" sim upload --state hsm --sd-file garbage
bad "sim upload: an SD file, not a blob" 1 'sd.json' "$S" sim upload --state hsm --sd-file sd.json
bad "sim upload: to an HSM not in recovery mode" 1 'not in recovery mode' "$S" sim upload --state hsme --sd-file blob.json
bad "sim status: no such HSM" 1 'nohsm' "$S" sim status --state nohsm

# ---- escrow sheets -------------------------------------------------------------------
sed '2s/[a-z2-7]/a/' "$W/typed.txt" >"$W/typed-bad1.txt"
head -n 3 "$W/typed.txt" >"$W/typed-short.txt"
grep -v 'end:' "$W/typed.txt" >"$W/typed-noend.txt"
sed '1d' "$W/typed.txt" >"$W/typed-nofirst.txt"
for f in nope adir empty garbage random.bin typed-bad1.txt typed-short.txt typed-noend.txt typed-nofirst.txt; do
	bad "escrow restore --text $f" 1 "$f|line|sheet" "$S" escrow restore --text "$f" --out o.key --no-passphrase
done
for f in nope garbage empty; do
	bad "escrow restore --qr $f" 1 "$f|QR|sheet" "$S" escrow restore --qr "$f" --out o.key --no-passphrase
	bad "escrow restore --scan $f" 1 "$f|image|PNG|QR" "$S" escrow restore --scan "$f" --out o.key --no-passphrase
done
for f in nope garbage ec.key r1024.key trunc.key; do
	bad "escrow print: key $f" 1 "$f" "$S" escrow print --key "$f" --format text --out o.txt --no-passphrase
done
bad "escrow print: --cert of another key" 1 'match' "$S" escrow print --key k/cert_0.key --cert k/cert_1.cer --format text --out o.txt --no-passphrase
bad "escrow restore: --cert of another key" 1 'not the certificate on the sheet' "$S" escrow restore --text typed.txt --cert k/cert_1.cer --out o.key --no-passphrase

# ---- .ykey files ----------------------------------------------------------------------
for f in nope adir empty garbage random.bin sd.json k/cert_0.key; do
	bad "yk info $f" 1 "$f" "$S" yk info "$f"
	bad "yk unwrap --in $f" 1 "$f" "$S" yk unwrap --in "$f" --out o.key --no-passphrase
	bad_report "verify: .ykey $f" "$f|: " "$S" verify --sd-file sd.json --sd-wrapping-keys "$f.ykey" k/cert_1.key
done
for f in nope garbage ec.key; do
	bad "yk wrap: key $f" 1 "$f" "$S" yk wrap --key "$f" --slot 2 --out o.ykey
done

# ---- PKCS#11: modules, URIs, PINs -----------------------------------------------------
bad "card list: a module that does not exist" 1 'nope.so' "$S" card list --pkcs11-module /nonexistent/nope.so
bad "card list: a module that is not a module" 1 'garbage' "$S" card list --pkcs11-module "$W/garbage"
bad "card import: a bad URI" 1 'URI|pkcs11' "$S" card import --key k/cert_0.key --token 'http://x'
bad "card import: a URI with a bad escape" 1 'URI|%' "$S" card import --key k/cert_0.key --token 'pkcs11:token=%zz'
bad_report "verify: a PKCS#11 URI whose module is missing" 'nope.so' "$S" verify --sd-file sd.json --sd-wrapping-keys 'pkcs11:token=x;id=%01?module-path=/nonexistent/nope.so' k/cert_1.key
bad_report "verify: a PKCS#11 URI with a missing pin-source" 'pin|nope|module' "$S" verify --sd-file sd.json --sd-wrapping-keys "pkcs11:token=x;id=%01?module-path=/nonexistent/nope.so&pin-source=$W/nope" k/cert_1.key
bad_report "verify: a malformed PKCS#11 URI" 'URI|pkcs11' "$S" verify --sd-file sd.json --sd-wrapping-keys 'pkcs11:id=%zz' k/cert_1.key

# ---- replies of an online HSM (sdtool sim serve with faults) --------------------------
SERVE_PID=""
trap '[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$T"' EXIT
serve() {
	[ -n "$SERVE_PID" ] && { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; }
	_d=$1; shift
	"$S" sim serve --state "$_d" --retry-after 0 "$@" >"$_d.log" 2>&1 &
	SERVE_PID=$!
	for _i in $(seq 200); do [ -s "$_d/serve.url" ] && break; sleep 0.1; done
	URL=$(cat "$_d/serve.url" 2>/dev/null)
	HC=(--hsm-url "$URL" --cacert "$_d/tls-ca.pem" --access-token-file "$_d/token" --timeout 20 --poll-interval 0)
}
SRV=$T/srv
mkdir -p "$SRV"
# (a malformed SD reply, or an activation reported Failed, keep the HSM's
# reply by design, since the HSM may have activated: t_hsm.sh tests those)
serve "$SRV/a" --fault 403
bad "hsm init-recovery: 403" 1 'Administrator|403' "$S" hsm init-recovery "${HC[@]}" --sd-exchange-key hsm-exch.cer
serve "$SRV/b" --fault 403
bad "hsm download: 403" 1 'Administrator|403' "$S" hsm download "${HC[@]}" --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file hsm-sd.json
serve "$SRV/c" --fault 401:9
bad "hsm download: 401" 1 '401|token' "$S" hsm download "${HC[@]}" --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file hsm-sd.json
bad "hsm status: 401" 1 '401|token' "$S" hsm status "${HC[@]}"
serve "$SRV/e" --fault malformed:20@exchange-key
bad "hsm init-recovery: a malformed exchange-key reply, for good" 1 'exchange|reply|malformed' "$S" hsm init-recovery "${HC[@]}" --sd-exchange-key hsm-exch.cer
serve "$SRV/f" --fault 503:20
bad "hsm init-recovery: 503 for good" 1 '503' "$S" hsm init-recovery "${HC[@]}" --sd-exchange-key hsm-exch.cer
bad "hsm upload: a garbage blob, refused before sending" 1 'garbage' "$S" hsm upload "${HC[@]}" --sd-file garbage
bad "hsm: a token file that does not exist" 1 'nope' "$S" hsm status --hsm-url "$URL" --cacert "$SRV/f/tls-ca.pem" --access-token-file nope
bad "hsm: a CA file that is garbage" 1 'garbage|certificate|CA' "$S" hsm status --hsm-url "$URL" --cacert garbage --access-token-file "$SRV/f/token"
[ -n "$SERVE_PID" ] && { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=""; }

done_testing
