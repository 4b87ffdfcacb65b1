#!/bin/bash
# The review's leftovers (issue 14), one regression test each:
# --password-file read failure reported once, a trailing blank line not
# counted as a line, a not-yet-valid certificate reported.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
printf 'correct horse\n' >pw
"$SDTOOL" keygen -n 3 -b 2048 -d k --password-file pw >/dev/null 2>&1
"$SDTOOL" sim activate --state hsm --sd-wrapping-keys k/cert_0.cer k/cert_1.cer \
	k/cert_2.cer --sd-quorum 2 --security-domain-file sd.json >/dev/null 2>&1
check "fixture: keys and SD file made" test -s sd.json

# A --password-file that cannot be read: said once, not once per key.
for verb in verify restore-blob; do
	case $verb in
	verify) set -- verify --sd-file sd.json ;;
	restore-blob) "$SDTOOL" sim recover --state hsm --out exch.cer >/dev/null 2>&1 || true
		set -- restore-blob --sd-file sd.json --sd-exchange-key k/cert_0.cer --out blob.json ;;
	esac
	expect "$verb: unreadable --password-file" 1 "$SDTOOL" "$@" \
		--sd-wrapping-keys k/cert_0.key k/cert_1.key k/cert_2.key --password-file nonexistent
	check "  ... reported once, not once per key" \
		[ "$(grep -c 'password-file nonexistent' "$T/err")" -eq 1 ]
	check "  ... nothing written" test ! -e blob.json
done
mkdir pwdir
expect "a directory as --password-file" 1 "$SDTOOL" verify --sd-file sd.json \
	--sd-wrapping-keys k/cert_0.key k/cert_1.key k/cert_2.key --password-file pwdir
check "  ... reported once" [ "$(grep -c 'password-file pwdir' "$T/err")" -eq 1 ]

# A trailing blank line (or several, or CRLF) is not a line: one
# passphrase still serves every key.
for name in lf-lf crlf-crlf lf-lf-lf; do
	case $name in
	lf-lf) printf 'correct horse\n\n' >pw2 ;;
	crlf-crlf) printf 'correct horse\r\n\r\n' >pw2 ;;
	lf-lf-lf) printf 'correct horse\n\n\n' >pw2 ;;
	esac
	expect_out "password file with a trailing blank line ($name) opens all three keys" 0 \
		'cert_2.key: opened share' "$SDTOOL" verify --sd-file sd.json \
		--sd-wrapping-keys k/cert_0.key k/cert_1.key k/cert_2.key --password-file pw2
done
printf 'correct horse\ncorrect horse\ncorrect horse\n\n' >pw3
expect "three lines and a blank one: three lines" 0 "$SDTOOL" verify --sd-file sd.json \
	--sd-wrapping-keys k/cert_0.key k/cert_1.key k/cert_2.key --password-file pw3
printf '\n\n' >pw4
expect_err "a password file of blank lines is empty" 1 'password-file pw4: empty' \
	"$SDTOOL" verify --sd-file sd.json --sd-wrapping-keys k/cert_0.key k/cert_1.key \
	--password-file pw4
check "  ... said once" [ "$(grep -c 'password-file pw4' "$T/err")" -eq 1 ]

# A certificate whose notBefore is in the future is reported.
mkdir -p ny/ca/newcerts && : >ny/ca/index.txt && echo 01 >ny/ca/serial
cat >ny/ca.cnf <<'CNF'
[ca]
default_ca = d
[d]
dir = ./ny/ca
database = ./ny/ca/index.txt
new_certs_dir = ./ny/ca/newcerts
serial = ./ny/ca/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
"$SDTOOL" keygen -n 3 -b 2048 -d ny/k --no-passphrase >/dev/null 2>&1
openssl req -new -key ny/k/cert_0.key -subj /CN=future -out ny/f.csr 2>/dev/null
openssl ca -batch -config ny/ca.cnf -selfsign -keyfile ny/k/cert_0.key -in ny/f.csr \
	-startdate 20400101000000Z -enddate 20410101000000Z -out ny/f.pem -notext >/dev/null 2>&1
mv ny/f.pem ny/k/cert_0.cer
"$SDTOOL" sim activate --state ny/hsm --sd-wrapping-keys ny/k/cert_0.cer ny/k/cert_1.cer \
	ny/k/cert_2.cer --sd-quorum 2 --security-domain-file ny/sd.json >/dev/null 2>&1
expect_err "verify reports a certificate not valid yet" 0 \
	'cert_0.key: certificate not valid yet' "$SDTOOL" verify --sd-file ny/sd.json \
	--sd-wrapping-keys ny/k/cert_0.key ny/k/cert_1.key
expect "verify --json" 0 "$SDTOOL" verify --json --sd-file ny/sd.json \
	--sd-wrapping-keys ny/k/cert_0.key ny/k/cert_1.key
check "  ... carries cert_not_yet_valid" \
	test "$(jget "$T/out" '[k["cert_not_yet_valid"] for k in j["keys"]]')" = "[True, False]"

done_testing
