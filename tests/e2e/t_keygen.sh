#!/bin/bash
# sdtool keygen: the files officers get (modes, certificate extensions,
# key and certificate belonging together, the thumbprints they write
# down), files never overwritten, one pair per officer with --index,
# passphrase-protected keys others can open, and usage errors.
. "$(dirname "$0")/lib.sh"

# x5t FILE: base64url(SHA-256(DER)), no padding, computed by openssl.
x5t() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -binary |
		openssl base64 -A | tr '+/' '-_' | tr -d '='
}
# fpr FILE: the SHA-256 fingerprint as openssl prints it.
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
mode() { stat -c %a "$1"; }
sums() { (cd "$1" && sha256sum cert_* 2>/dev/null); }
# no_tty CMD...: run without a controlling terminal, so nothing can prompt.
no_tty() { setsid -w "$@"; }

# --- three unencrypted pairs -------------------------------------------
D=$T/three
mkdir -p "$D"
expect "keygen -n 3 --no-passphrase" 0 "$SDTOOL" keygen -n 3 -b 2048 -d "$D" --no-passphrase
cp "$T/out" "$T/three.out"
check "warns that the keys are unprotected" grep -q 'cert_0.key: written without a passphrase' "$T/err"
check "progress names each key" grep -q 'generating RSA-2048 key 3 of 3 (cert_2)' "$T/err"
check "no temporary files left" no_temp_files "$D"
check "exactly six files" test "$(ls "$D" | wc -l)" -eq 6
for i in 0 1 2; do
	k=$D/cert_$i.key c=$D/cert_$i.cer
	check "cert_$i.key mode 0600" test "$(mode "$k")" = 600
	check "cert_$i.cer mode 0644" test "$(mode "$c")" = 644
	check "cert_$i.key is plain PKCS#8" grep -q 'BEGIN PRIVATE KEY' "$k"
	openssl x509 -in "$c" -noout -text >"$T/text" 2>&1
	check "cert_$i.cer: X.509 v3" grep -q 'Version: 3' "$T/text"
	check "cert_$i.cer: basicConstraints critical CA:FALSE" \
		grep -A1 -q 'Basic Constraints: critical' "$T/text"
	check "cert_$i.cer: CA:FALSE" grep -q 'CA:FALSE' "$T/text"
	check "cert_$i.cer: keyUsage critical" grep -q 'Key Usage: critical' "$T/text"
	check "cert_$i.cer: keyEncipherment" grep -q 'Key Encipherment' "$T/text"
	check "cert_$i.cer: subjectKeyIdentifier" grep -q 'Subject Key Identifier' "$T/text"
	check "cert_$i.cer: SHA-256 signature" grep -q 'sha256WithRSAEncryption' "$T/text"
	check "cert_$i.cer: RSA-2048" grep -q 'Public-Key: (2048 bit)' "$T/text"
	check "cert_$i.cer: default subject" \
		grep -q "Subject: CN *= *Managed HSM security domain wrapping key $i" "$T/text"
	check "cert_$i.cer: self-signature verifies" \
		sh -c 'openssl verify -check_ss_sig -partial_chain -CAfile "$1" "$1" >/dev/null 2>&1' - "$c"
	openssl pkey -in "$k" -pubout >"$T/pub.key" 2>/dev/null
	openssl x509 -in "$c" -noout -pubkey >"$T/pub.cer" 2>/dev/null
	check "cert_$i.key matches cert_$i.cer" \
		sh -c 'test -s "$1" && cmp -s "$1" "$2"' - "$T/pub.key" "$T/pub.cer"
	printed=$(awk -v c="$c" '$1 == c && $2 == "x5t_256" { print $3 }' "$T/three.out")
	check "cert_$i: printed x5t_256 is base64url(sha256(DER))" \
		test -n "$printed" -a "$printed" = "$(x5t "$c")"
	check "cert_$i: printed SHA-256 fingerprint is openssl's" \
		grep -q "sha256 $(fpr "$c")\$" "$T/three.out"
done
check "three different keys" test "$(for i in 0 1 2; do openssl x509 -in "$D/cert_$i.cer" -noout -modulus; done | sort -u | wc -l)" -eq 3
check "serial numbers differ" test "$(for i in 0 1 2; do openssl x509 -in "$D/cert_$i.cer" -noout -serial; done | sort -u | wc -l)" -eq 3

# --- never overwrite -----------------------------------------------------
before=$(sums "$D")
expect_err "second run refused" 1 'cert_0.key: already exists; not overwriting it' \
	"$SDTOOL" keygen -n 3 -b 2048 -d "$D" --no-passphrase
check "every clash named" grep -q 'cert_2.cer: already exists' "$T/err"
check "refused before generating" sh -c '! grep -q generating "$1"' - "$T/err"
check "files unchanged" test "$before" = "$(sums "$D")"
P=$T/partial
mkdir -p "$P"
echo "not mine" >"$P/cert_2.cer"
expect_err "one existing file refuses the whole run" 1 'cert_2.cer: already exists' \
	"$SDTOOL" keygen -n 3 -b 2048 -d "$P" --no-passphrase
check "nothing written beside it" test "$(ls "$P")" = "cert_2.cer"
check "existing file untouched" grep -qx 'not mine' "$P/cert_2.cer"

# A disk that fills up halfway: what was written is removed again.  A
# tmpfs of three pages holds a pair and a half; it needs a user namespace.
F=$T/full
mkdir -p "$F"
if unshare -rm true 2>/dev/null; then
	run unshare -rm sh -c 'mount -t tmpfs -o size=12k tmpfs "$1" && cd "$1" &&
		"$2" keygen -n 3 -b 2048 -d sub --no-passphrase; rc=$?; ls -A; exit $rc' - "$F" "$SDTOOL"
	check "full disk: exit 1" test "$RC" -eq 1
	check "full disk: the failing file is named" grep -q 'No space left on device' "$T/err"
	check "full disk: written files removed again" grep -q 'removed the [0-9]* files\{0,1\} this run had written' "$T/err"
	check "full disk: nothing left behind, not even the new directory" test ! -s "$T/out"
else
	echo "# skip: full-disk rollback (no user namespaces for a small tmpfs)"
fi

# --- one officer, one pair ---------------------------------------------
O=$T/officer1
mkdir -p "$O"
expect_out "--index 1" 0 "cert_1.cer  x5t_256 [A-Za-z0-9_-]{43}  \\(write this down\\)" \
	"$SDTOOL" keygen --index 1 -b 2048 -d "$O" --no-passphrase
check "--index 1 makes only cert_1.*" test "$(ls "$O" | tr '\n' ' ')" = "cert_1.cer cert_1.key "
expect "--index 4 with -n 5" 0 "$SDTOOL" keygen --index 4 -n 5 -b 2048 -d "$O" --no-passphrase
check "--index 4 makes cert_4.*" test -f "$O/cert_4.key" -a -f "$O/cert_4.cer"

# --- passphrases ---------------------------------------------------------
E=$T/enc
mkdir -p "$E"
printf 'a long enough passphrase\n' >"$T/pass"
printf 'not the passphrase\n' >"$T/wrong"
expect "--password-file" 0 "$SDTOOL" keygen --index 0 -b 2048 -d "$E" --password-file "$T/pass"
check "no warning for a protected key" sh -c '! grep -q warning "$1"' - "$T/err"
check "key is encrypted PKCS#8" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$E/cert_0.key"
check "key mode 0600" test "$(mode "$E/cert_0.key")" = 600
check "openssl opens it with the passphrase" \
	sh -c 'openssl pkey -in "$1" -passin file:"$2" -noout' - "$E/cert_0.key" "$T/pass"
check "openssl refuses a wrong passphrase" \
	sh -c '! openssl pkey -in "$1" -passin file:"$2" -noout 2>/dev/null' - "$E/cert_0.key" "$T/wrong"
openssl pkey -in "$E/cert_0.key" -passin file:"$T/pass" -pubout >"$T/pub.key" 2>/dev/null
openssl x509 -in "$E/cert_0.cer" -noout -pubkey >"$T/pub.cer"
check "encrypted key matches its certificate" cmp -s "$T/pub.key" "$T/pub.cer"
check "azure-cli's loader opens it" $PY -c '
import sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key
k = load_pem_private_key(open(sys.argv[1], "rb").read(), b"a long enough passphrase")
assert k.key_size == 2048
' "$E/cert_0.key"
printf 'short\n' >"$T/short"
expect_err "a short passphrase is refused" 1 'shorter than 8 characters' \
	"$SDTOOL" keygen --index 1 -b 2048 -d "$E" --password-file "$T/short"
check "nothing written for it" test ! -e "$E/cert_1.key" -a ! -e "$E/cert_1.cer"
expect_err "no terminal and no passphrase source" 1 'no terminal to ask for a passphrase' \
	no_tty "$SDTOOL" keygen --index 2 -b 2048 -d "$E"
check "nothing written then" test ! -e "$E/cert_2.key" -a ! -e "$E/cert_2.cer"

# --- options ------------------------------------------------------------
S=$T/opts
mkdir -p "$S"
expect "--subject and --days" 0 "$SDTOOL" keygen --index 0 -b 2048 -d "$S" --no-passphrase \
	--subject "/CN=Officer Zero/O=Contoso" --days 30
check "subject as given" sh -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN *= *Officer Zero, O *= *Contoso"' - "$S/cert_0.cer"
check "valid for 30 days, not 29" sh -c '
	openssl x509 -in "$1" -noout -checkend $((29 * 86400)) >/dev/null &&
	! openssl x509 -in "$1" -noout -checkend $((31 * 86400)) >/dev/null' - "$S/cert_0.cer"
expect "comma form of --subject" 0 "$SDTOOL" keygen --index 1 -b 2048 -d "$S" --no-passphrase \
	--subject "CN=Officer One,O=Contoso"
check "comma subject as given" sh -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN *= *Officer One, O *= *Contoso"' - "$S/cert_1.cer"
expect "default size" 0 "$SDTOOL" keygen --index 2 -d "$S" --no-passphrase
check "default is RSA-3072" sh -c 'openssl x509 -in "$1" -noout -text | grep -q "Public-Key: (3072 bit)"' - "$S/cert_2.cer"
check "default validity is 1095 days" sh -c '
	openssl x509 -in "$1" -noout -checkend $((1094 * 86400)) >/dev/null &&
	! openssl x509 -in "$1" -noout -checkend $((1096 * 86400)) >/dev/null' - "$S/cert_2.cer"

J=$T/json
mkdir -p "$J"
expect "--json" 0 "$SDTOOL" keygen -n 3 -b 2048 -d "$J" --no-passphrase --json
check "--json parses" sh -c '"$0" -m json.tool "$1" >/dev/null' "$PY" "$T/out"
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["verb"] == "keygen" and j["ok"] is True; json.dump(j["keys"], open(sys.argv[2], "w"))' "$T/out" "$T/keygen.json"
check "--json: three pairs with every field" test "$(jget "$T/keygen.json" \
	'sorted(j[0]) == sorted(["key_index","key","cert","x5t_256","x5t_256_readaloud","sha256_fingerprint","bits","not_after","encrypted"]) and len(j)')" = 3
check "--json: x5t_256 of cert_2" test "$(jget "$T/keygen.json" 'j[2]["x5t_256"]')" = "$(x5t "$J/cert_2.cer")"
check "--json: fingerprint of cert_1" test "$(jget "$T/keygen.json" 'j[1]["sha256_fingerprint"]')" = "$(fpr "$J/cert_1.cer")"
check "--json: paths, bits, encrypted" test "$(jget "$T/keygen.json" \
	'(j[0]["key"], j[0]["cert"], j[0]["bits"], j[0]["encrypted"], j[0]["key_index"])')" = \
	"('$J/cert_0.key', '$J/cert_0.cer', 2048, False, 0)"

# --- usage errors ---------------------------------------------------------
U=$T/usage
mkdir -p "$U"
expect_err "-n 2 is a usage error" 2 '-n: 2 is out of range 3\.\.10' "$SDTOOL" keygen -n 2 -d "$U" --no-passphrase
expect_err "-n 11 is a usage error" 2 '-n: 11 is out of range 3\.\.10' "$SDTOOL" keygen -n 11 -d "$U" --no-passphrase
expect_err "-b 1024 is a usage error" 2 '1024 bits is not offered' "$SDTOOL" keygen -b 1024 -d "$U" --no-passphrase
expect_err "-b 2047 is a usage error" 2 'use 2048, 3072 or 4096' "$SDTOOL" keygen -b 2047 -d "$U" --no-passphrase
expect_err "-n x is a usage error" 2 'is not a number' "$SDTOOL" keygen -n x -d "$U" --no-passphrase
expect_err "--index 3 with -n 3" 2 'out of range for -n 3' "$SDTOOL" keygen --index 3 -n 3 -d "$U" --no-passphrase
expect_err "--index 10" 2 '--index: 10 is out of range' "$SDTOOL" keygen --index 10 -d "$U" --no-passphrase
expect_err "--days 0" 2 '--days: 0 is out of range' "$SDTOOL" keygen --days 0 -d "$U" --no-passphrase
expect_err "contradictory passphrase options" 2 'contradict' \
	"$SDTOOL" keygen -d "$U" --no-passphrase --password-file "$T/pass"
expect_err "a subject that is no DN" 2 'not a distinguished name' \
	"$SDTOOL" keygen --index 0 -d "$U" --no-passphrase --subject "Officer Zero"
expect_err "unknown option" 2 'unknown option' "$SDTOOL" keygen --bogus
expect_err "stray argument" 2 "unexpected argument 'extra'" "$SDTOOL" keygen -d "$U" --no-passphrase extra
check "usage errors wrote nothing" test -z "$(ls -A "$U")"
expect_err "missing parent directory" 1 'no such directory, nor its parent' \
	"$SDTOOL" keygen -d "$T/absent/deeper" --no-passphrase
check "nothing created for it" test ! -e "$T/absent"
expect_err "a missing directory is created" 0 'created directory .*/new \(mode 0700\)' \
	"$SDTOOL" keygen -d "$T/new" -b 2048 --no-passphrase
check "created directory is mode 0700" test "$(mode "$T/new")" = 700
check "and holds the pairs" test "$(ls "$T/new" | wc -l)" -eq 6
expect_err "a refused run creates no directory" 1 'shorter than 8' \
	"$SDTOOL" keygen -d "$T/new2" -b 2048 --password-file "$T/short"
check "no directory left by it" test ! -e "$T/new2"
expect_err "a file is no directory" 1 'not a directory' "$SDTOOL" keygen -d "$T/pass" --no-passphrase
expect_out "--help" 0 '^usage: sdtool keygen \[-n N\]' "$SDTOOL" keygen --help

done_testing
