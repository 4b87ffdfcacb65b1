#!/bin/bash
# t_pivsim.sh - the pivsim test card behaves like a YubiKey to the real
# stack: yubico-piv-tool, Yubico's ykcs11 and OpenSC, through a private
# pcscd (tests/pivsim/card.sh).  pivsim and pivapdu are found beside
# $SDTOOL (make builds them there), or through PIVSIM and PIVAPDU.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$E2E/../.." && pwd)
BIN=$(dirname "$SDTOOL")
export PIVSIM=${PIVSIM:-$BIN/pivsim}
PIVAPDU=${PIVAPDU:-$BIN/pivapdu}
CARD="$ROOT/tests/pivsim/card.sh"
libdir() { for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "/usr/lib/$1"; }
YKCS11=${YKCS11:-$(libdir libykcs11.so)}
OPENSC=${OPENSC:-$(libdir opensc-pkcs11.so)}

CARDS=""
stop_all() {
	for d in $CARDS; do
		if [ "$FAIL" -gt 0 ]; then # show what the card and pcscd said
			for l in "$d/pcscd.log" "$d/pivsim.log"; do
				[ -f "$l" ] && grep -v "not transacted" "$l" | tail -n 8 | sed "s|^|# $l: |"
			done
		fi
		"$CARD" stop "$d" >/dev/null 2>&1
	done
}
trap 'stop_all; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

# start NAME ARGS...: a card in $T/NAME; its socket in $T/NAME.sock.
start() {
	_n=$1; shift
	CARDS="$CARDS $T/$_n"
	if "$CARD" start "$T/$_n" "$@" >"$T/$_n.env" 2>"$T/$_n.err"; then
		sed -n 's/^PCSCLITE_CSOCK_NAME=\([^;]*\);.*/\1/p' "$T/$_n.env" >"$T/$_n.sock"
		ok "card $_n starts ($*)"
	else
		not_ok "card $_n starts ($*)" "$(tail -n 5 "$T/$_n.err")"
	fi
}
# on NAME CMD...: CMD against card NAME.
on() { _n=$1; shift; PCSCLITE_CSOCK_NAME=$(cat "$T/$_n.sock" 2>/dev/null) "$@"; }
piv() { _n=$1; shift; on "$_n" yubico-piv-tool "$@"; }
yk() { _n=$1; shift; on "$_n" pkcs11-tool --module "$YKCS11" "$@"; }
osc() { _n=$1; shift; on "$_n" pkcs11-tool --module "$OPENSC" "$@"; }
apdu() { _n=$1; shift; on "$_n" "$PIVAPDU" "$@"; }
# same FILE1 FILE2: identical and not empty.
same() { [ -s "$1" ] && cmp -s "$1" "$2"; }

for f in "$PIVSIM" "$PIVAPDU"; do
	[ -x "$f" ] || { not_ok "built: $f" "missing (make pivsim)"; done_testing; exit 1; }
done

K=$T/keys
mkdir -p "$K"
openssl genrsa -out "$K/k.pem" 2048 2>/dev/null
openssl req -new -x509 -key "$K/k.pem" -subj "/CN=pivsim 9d" -days 30 -out "$K/c.pem"
openssl rsa -in "$K/k.pem" -pubout -out "$K/pub.pem" 2>/dev/null
openssl genrsa -out "$K/other.pem" 2048 2>/dev/null
openssl rsa -in "$K/other.pem" -pubout -out "$K/other.pub" 2>/dev/null
openssl genrsa -out "$K/k3072.pem" 3072 2>/dev/null
head -c 32 /dev/urandom >"$K/msg"
oaep="-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256"
# shellcheck disable=SC2086
openssl pkeyutl -encrypt -pubin -inkey "$K/pub.pem" $oaep -in "$K/msg" -out "$K/ct.oaep"
# shellcheck disable=SC2086
openssl pkeyutl -encrypt -pubin -inkey "$K/other.pub" $oaep -in "$K/msg" -out "$K/ct.other"
(printf '\000'; head -c 255 /dev/urandom) >"$K/raw.in"
openssl pkeyutl -encrypt -pubin -inkey "$K/pub.pem" -pkeyopt rsa_padding_mode:none \
	-in "$K/raw.in" -out "$K/raw.ct"

# ---- a YubiKey 5.4 ----
start a --profile 5.4 --serial 12345678
expect_out "yubico-piv-tool finds version 5.4.3" 0 "Application version 5\.4\.3 found" piv a -a version
expect_out "status shows the serial" 0 "Serial Number:.12345678" piv a -a status
expect_out "status: 3 PIN tries" 0 "PIN tries left:.3" piv a -a status
expect_err "correct PIN verifies" 0 "Successfully verified PIN" piv a -a verify-pin -P 123456
expect_err "wrong PIN: 2 tries left" 1 "2 tries left" piv a -a verify-pin -P 000000
expect_out "status: 2 PIN tries" 0 "PIN tries left:.2" piv a -a status
expect_err "correct PIN resets the count" 0 "Successfully verified PIN" piv a -a verify-pin -P 123456
expect_out "status: 3 PIN tries again" 0 "PIN tries left:.3" piv a -a status
expect_err "wrong PIN: 2 left" 1 "2 tries left" piv a -a verify-pin -P 000001
expect_err "wrong PIN: 1 left" 1 "1 tries left" piv a -a verify-pin -P 000002
expect_err "third wrong PIN blocks" 1 "blocked" piv a -a verify-pin -P 000003
expect_err "blocked: even the right PIN fails" 1 "blocked" piv a -a verify-pin -P 123456
expect_out "status: 0 PIN tries" 0 "PIN tries left:.0" piv a -a status
expect_err "wrong PUK does not unblock" 1 "2 tries left" piv a -a unblock-pin -P 11111111 -N 654321
expect_err "PUK unblocks with a new PIN" 0 "Successfully unblocked" piv a -a unblock-pin -P 12345678 -N 654321
expect_err "old PIN refused" 1 "2 tries left" piv a -a verify-pin -P 123456
expect_err "new PIN verifies" 0 "Successfully verified PIN" piv a -a verify-pin -P 654321
expect_err "change PIN back" 0 "Successfully changed" piv a -a change-pin -P 654321 -N 123456
expect_out "a new PIN shorter than 6 is refused" 0 "^6a80" \
	apdu a select 0024008010313233343536ffff3132333435ffffff
expect_err "wrong management key refused" 1 "uthenticat" \
	piv a --key=010203040506070801020304050607081112131415161718 -s 9d -a import-certificate -i "$K/c.pem"
expect_err "import RSA-2048 key into 9d" 0 "Successfully imported a new private key" \
	piv a -s 9d -a import-key -i "$K/k.pem"
expect_err "import its certificate into 9d" 0 "Successfully imported a new certificate" \
	piv a -s 9d -a import-certificate -i "$K/c.pem"
expect_out "status shows 9d RSA2048" 0 "Algorithm:.RSA2048" piv a -a status
expect_out "status shows 9d's certificate" 0 "Subject DN:.CN=pivsim 9d" piv a -a status
expect_out "read-certificate gives it back" 0 "BEGIN CERTIFICATE" piv a -s 9d -a read-certificate
expect_out "GET METADATA: 9d imported RSA-2048" 0 "^9000 0101070202020103010204" \
	apdu a select 00f7009d00
expect_out "GET METADATA: PIN default, 3 of 3" 0 "^9000 0101ff0202000005010106020303" \
	apdu a select 00f7008000
expect_out "GET METADATA: empty slot 9a" 0 "^6a88" apdu a select 00f7009a00
expect_out "5.4 refuses RSA-3072 generation" 0 "^6a80" apdu a select auth gen=9a:05
expect_out "5.4 refuses RSA-3072 import" 0 "^6a80" apdu a select auth "import=9a:05:$K/k3072.pem"
expect_out "generation without the management key refused" 0 "^6982" apdu a select gen=9a:07
expect_out "unknown instruction: 6d00" 0 "^6d00" apdu a select 00e2000000

expect_out "ykcs11 lists the token" 0 "token label +: YubiKey PIV #12345678" yk a -L
expect_out "ykcs11 shows the 9d certificate" 0 "label: +X.509 Certificate for Key Management" yk a -O
expect_out "ykcs11 shows the 9d public key" 0 "Public key for Key Management" yk a -O
expect_out "ykcs11: private key only after login" 0 "Private key for Key Management" \
	yk a --login --pin 123456 -O --type privkey
check "ykcs11: key sensitive, never extractable" \
	grep -q "sensitive, always sensitive, never extractable" "$T/out"
expect "ykcs11 decrypts RSA-OAEP-256" 0 yk a --login --pin 123456 --decrypt --id 03 \
	-m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$K/ct.oaep" -o "$K/pt.oaep"
check "the OAEP plaintext is the message" same "$K/pt.oaep" "$K/msg"
expect "ykcs11 decrypts raw RSA (RSA-X-509)" 0 yk a --login --pin 123456 --decrypt --id 03 \
	-m RSA-X-509 -i "$K/raw.ct" -o "$K/raw.out"
check "the raw plaintext is the input" same "$K/raw.out" "$K/raw.in"
expect_err "import the key into 9c too" 0 "Successfully imported" piv a -s 9c -a import-key -i "$K/k.pem"
expect_err "and its certificate" 0 "Successfully imported" piv a -s 9c -a import-certificate -i "$K/c.pem"
expect "ykcs11 signs with 9c (PIN always)" 0 yk a --login --pin 123456 --sign --id 02 \
	-m SHA256-RSA-PKCS -i "$K/msg" -o "$K/sig"
check "the 9c signature verifies" openssl dgst -sha256 -verify "$K/pub.pem" -signature "$K/sig" "$K/msg"
expect_out "9c: the PIN must be verified just before" 0 "^6982" \
	apdu a select verify=123456 00fd0000 0087079c067c0482008100
expect "another key's ciphertext does not decrypt" 1 yk a --login --pin 123456 --decrypt --id 03 \
	-m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$K/ct.other" -o "$K/pt.other"
expect "decryption with a wrong PIN fails" 1 yk a --login --pin 999999 --decrypt --id 03 \
	-m RSA-X-509 -i "$K/raw.ct" -o "$K/raw.bad"
expect_out "the wrong PIN counted" 0 "PIN tries left:.2" piv a -a status
expect_out "raw GENERAL AUTHENTICATE needs the PIN" 0 "^6982" \
	apdu a select 0087079d067c0482008100
expect_out "OpenSC's PIV driver sees the card" 0 "Yubico YubiKey pivsim TEST FIXTURE 00 00" osc a -L
expect_out "OpenSC sees the 9d certificate" 0 "CN=pivsim 9d" osc a -O
expect "OpenSC decrypts RSA-OAEP-256" 0 osc a --login --pin 123456 --decrypt --id 03 \
	-m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$K/ct.oaep" -o "$K/pt.osc"
check "OpenSC's plaintext is the message" same "$K/pt.osc" "$K/msg"

# ---- a YubiKey 4.3, at the same time (isolation between cards) ----
start b --profile 4.3 --serial 4300001 -- --otp-hmac2 0102030405060708090a0b0c0d0e0f1011121314
expect_out "4.3: version 4.3.7" 0 "Application version 4\.3\.7 found" piv b -a version
expect_out "4.3: serial from the OTP applet" 0 "Serial Number:.4300001" piv b -a status
expect_out "4.3: card a still answers as itself" 0 "Serial Number:.12345678" piv a -a status
expect_out "4.3: no GET METADATA" 0 "^6d00" apdu b select 00f7009b00
expect_out "4.3: no GET SERIAL in PIV" 0 "^6d00" apdu b select 00f8000000
expect_out "4.3: refuses RSA-3072 generation" 0 "^6a80" apdu b select auth gen=9a:05
expect_out "4.3: refuses RSA-3072 import" 0 "^6a80" apdu b select auth "import=9a:05:$K/k3072.pem"
expect_out "4.3: refuses AES management keys" 0 "^6a80" apdu b select auth \
	00ffffff1b0a9b18010203040506070801020304050607080102030405060708
expect_err "4.3: yubico-piv-tool generates RSA-2048 in 9a" 0 "." piv b -s 9a -A RSA2048 -a generate -o "$K/b9a.pub"
check "4.3: the generated public key is RSA-2048" \
	sh -c "openssl rsa -pubin -in '$K/b9a.pub' -noout -text 2>/dev/null | grep -q 'Public-Key: (2048 bit)'"
expect_err "4.3: import RSA-2048 key into 9d" 0 "Successfully imported" piv b -s 9d -a import-key -i "$K/k.pem"
expect_err "4.3: import certificate into 9d" 0 "Successfully imported" piv b -s 9d -a import-certificate -i "$K/c.pem"
expect "4.3: ykcs11 decrypts without metadata" 0 yk b --login --pin 123456 --decrypt --id 03 \
	-m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$K/ct.oaep" -o "$K/pt.b"
check "4.3: the plaintext is the message" same "$K/pt.b" "$K/msg"
want=$(printf 'pivsim' | openssl dgst -sha1 -mac HMAC -macopt hexkey:0102030405060708090a0b0c0d0e0f1011121314 | sed 's/.*= //')
expect_out "OTP applet: HMAC-SHA1 challenge-response, slot 2" 0 "^9000 $want\$" \
	apdu b 00a4040008a000000527200101 000138000670697673696d
expect_out "OTP applet: slot 1 not configured" 0 "^6985" \
	apdu b 00a4040008a000000527200101 000130000670697673696d

# ---- a YubiKey 5.7 ----
start c --profile 5.7
expect_out "5.7: the default management key is AES-192" 0 "^9000 01010a" apdu c select 00f7009b00
expect_err "5.7: yubico-piv-tool 2.2.0 (3DES only) cannot authenticate" 1 "." \
	piv c -s 9d -a import-certificate -i "$K/c.pem"
expect_out "5.7: generates RSA-3072" 0 "^9000 7f4982018981820180" apdu c select auth gen=9a:05
expect_out "5.7: imports RSA-3072" 0 "^9000" apdu c select auth "import=9c:05:$K/k3072.pem"
expect_out "5.7: GET METADATA 9c: RSA-3072, PIN always, imported" 0 "^9000 0101050202030103010204" \
	apdu c select 00f7009c00

# ---- state between runs ----
S=$T/card-state.json
start d --state "$S" --profile 5.4 --serial 777
expect_err "state: import key" 0 "Successfully imported" piv d -s 9d -a import-key -i "$K/k.pem"
expect_err "state: import certificate" 0 "Successfully imported" piv d -s 9d -a import-certificate -i "$K/c.pem"
expect_err "state: a wrong PIN" 1 "2 tries left" piv d -a verify-pin -P 000000
check "state: the file is mode 0600" sh -c "[ \"\$(stat -c %a '$S')\" = 600 ]"
check "state: the file says it is a test fixture" grep -q "TEST FIXTURE" "$S"
expect "state: card stops" 0 "$CARD" stop "$T/d"
check "state: pivsim and pcscd are gone" sh -c "[ ! -e '$T/d/pivsim.pid' ] && [ ! -e '$T/d/pcscd.pid' ] && [ ! -e '$T/d/run/pcscd/pcscd.comm' ]"
start d --state "$S"
expect_out "state: serial kept" 0 "Serial Number:.777" piv d -a status
expect_out "state: PIN tries kept" 0 "PIN tries left:.2" piv d -a status
expect "state: the key decrypts after a restart" 0 yk d --login --pin 123456 --decrypt --id 03 \
	-m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$K/ct.oaep" -o "$K/pt.d"
check "state: the plaintext is the message" same "$K/pt.d" "$K/msg"
expect_err "state: a different profile is refused" 1 "did not appear|holds card" \
	"$CARD" start "$T/e" --state "$S" --profile 4.3
CARDS="$CARDS $T/e"

expect "card.sh stop is idempotent" 0 "$CARD" stop "$T/a"
expect "card.sh stop again" 0 "$CARD" stop "$T/a"
expect_err "a stopped card is gone" 1 "." piv a -a status

done_testing
