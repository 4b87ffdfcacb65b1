#!/bin/bash
# YubiKey challenge-response: sdtool yk wrap/unwrap/info, and .ykey files
# as key references in verify and restore-blob.
#
# The device here is sdtool's software YubiKey, a TEST device selected by
# SDTOOL_YK_SOFTWARE_SECRET_FILE: the HMAC-SHA1 a YubiKey slot computes,
# from a secret in a file, behind the same interface as the real ones
# (ykpers over USB HID, the OTP applet over PC/SC).  Real YubiKeys are
# tested by tests/hw/ (SDTOOL_HW_TESTS=1); the PC/SC path below, when the
# PIV simulator (tests/pivsim) answers as the OTP applet.
. "$(dirname "$0")/lib.sh"

make_keys "$T/k" 3
cd "$T/k" || exit 1
SOFT=$T/yk.soft
cat >"$SOFT" <<EOF
# sdtool software YubiKey: a TEST device; it protects nothing.
serial 1000001
slot2 303132333435363738393a3b3c3d3e3f40414243
EOF
export SDTOOL_YK_SOFTWARE_SECRET_FILE=$SOFT
echo "correct horse battery" >"$T/np"
x5t() { "$SDTOOL" inspect --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])'; }

"$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys cert_0.cer cert_1.cer \
	cert_2.cer --sd-quorum 2 --security-domain-file "$T/sd.json" >/dev/null 2>&1

expect_out "yk --help lists the subcommands" 0 'wrap \| unwrap \| info' "$SDTOOL" yk --help

# ---- wrap ----------------------------------------------------------------------
expect "wrap cert_0.key with slot 2" 0 "$SDTOOL" yk wrap --json --key cert_0.key --slot 2 \
	--out cert_0.ykey
check "wrap: proven, the test device named as such" [ "$(jget "$T/out" \
	'(j["proof"], j["device"], j["serial"], j["slot"], j["passphrase"])')" = \
	"(True, 'software-test', 1000001, 2, False)" ]
check "wrap: the certificate's thumbprint recorded" [ "$(jget "$T/out" 'j["x5t_256"]')" = "$(x5t cert_0.cer)" ]
check "wrap: every run with the test device says so" grep -q \
	'warning: using software YubiKey serial 1000001 (TEST device) from SDTOOL_YK_SOFTWARE_SECRET_FILE' "$T/err"
check "wrap: .ykey is mode 0600" [ "$(stat -c %a cert_0.ykey)" = 600 ]
check "wrap: no private key in the clear in it" sh -c '! grep -q "PRIVATE KEY" cert_0.ykey'
expect "wrap cert_1.key with a passphrase too" 0 "$SDTOOL" yk wrap --key cert_1.key --slot 2 \
	--out cert_1.ykey --passphrase --new-password-file "$T/np"
expect_err "wrap: --out is never overwritten" 1 'already exists' \
	"$SDTOOL" yk wrap --key cert_2.key --slot 2 --out cert_0.ykey
expect_err "wrap: a slot not set for challenge-response" 1 'slot 1 is not set for challenge-response' \
	"$SDTOOL" yk wrap --key cert_2.key --slot 1 --out c2.ykey
check "wrap: nothing written on failure" [ ! -e c2.ykey ]
expect_err "wrap: slot 3 is a usage error" 2 'slot' \
	"$SDTOOL" yk wrap --key cert_2.key --slot 3 --out c2.ykey
echo short >"$T/short"
expect_err "wrap: a passphrase shorter than 8" 1 'shorter than 8' \
	"$SDTOOL" yk wrap --key cert_2.key --slot 2 --out c2.ykey --passphrase --new-password-file "$T/short"
expect_err "wrap: a .ykey is not wrapped again" 1 'only a key file can be wrapped' \
	"$SDTOOL" yk wrap --key cert_0.ykey --slot 2 --out c2.ykey

# ---- info ------------------------------------------------------------------------
expect_out "info: says it is the TEST device" 0 'TEST device: this file protects nothing' \
	"$SDTOOL" yk info cert_0.ykey
expect "info --json" 0 "$SDTOOL" yk info --json cert_1.ykey
check "info --json: slot, serial, passphrase" [ "$(jget "$T/out" \
	'(j["device"], j["serial"], j["slot"], j["passphrase"])')" = "('software-test', 1000001, 2, True)" ]
expect_err "info: not a .ykey" 1 'not a YubiKey-wrapped key' "$SDTOOL" yk info cert_0.cer

# ---- as key references ---------------------------------------------------------
expect_out "verify: .ykey + key file" 0 '^OK: every quorum of the 2 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys cert_0.ykey cert_2.key
printf '\ncorrect horse battery\n\n' >"$T/pw"
expect_out "verify: two .ykey (one with a passphrase) + key file" 0 \
	'^OK: every quorum of the 3 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --password-file "$T/pw" \
	--sd-wrapping-keys cert_0.ykey cert_1.ykey cert_2.key
check "verify: the .ykey matched its share by its certificate" grep -q 'key cert_1.ykey: opened share #2 of 3$' "$T/out"
printf '\nwrong horse battery\n\n' >"$T/badpw"
expect_out "verify: a wrong passphrase on a .ykey (3: recoverable, a key failed)" 3 'cert_1.ykey: .*does not open: wrong passphrase' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --password-file "$T/badpw" \
	--sd-wrapping-keys cert_0.ykey cert_1.ykey cert_2.key
expect "verify --json: that is a wrong_passphrase (3)" 3 "$SDTOOL" verify --json --sd-file "$T/sd.json" \
	--password-file "$T/badpw" --sd-wrapping-keys cert_0.ykey cert_1.ykey cert_2.key
check "verify --json: status wrong_passphrase" [ "$(jget "$T/out" 'j["keys"][1]["status"]')" = wrong_passphrase ]
"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exchange.cer" >/dev/null 2>&1
expect "restore-blob: a .ykey and a key file" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" \
	--sd-exchange-key "$T/exchange.cer" --sd-wrapping-keys cert_0.ykey cert_2.key --out "$T/blob.json"
expect_out "the simulated HSM takes that blob" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/blob.json"

# ---- the wrong device -------------------------------------------------------------
sed 's/^slot2 .*/slot2 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b/' "$SOFT" >"$T/other.soft"
expect_out "verify: the same serial with another secret does not open it" 1 \
	'cert_0.ykey: it does not open: a YubiKey slot with another secret' \
	env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/other.soft" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys cert_0.ykey cert_2.key
sed 's/^serial .*/serial 1000002/' "$SOFT" >"$T/serial2.soft"
expect_out "verify: another YubiKey is named as such" 1 \
	'cert_0.ykey: YubiKey serial 1000001 not found; the software YubiKey is serial 1000002' \
	env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/serial2.soft" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys cert_0.ykey cert_2.key
expect_out "verify: a test-device .ykey is refused without the test device" 1 \
	"cert_0.ykey: it was wrapped with sdtool's software YubiKey, a TEST device" \
	env -u SDTOOL_YK_SOFTWARE_SECRET_FILE "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys cert_0.ykey cert_2.key
sed 's/"software-test"/"yubikey"/' cert_0.ykey >real.ykey
cp cert_0.cer real.cer
expect_out "verify: a real YubiKey's .ykey is not given to the test device" 1 \
	'real.ykey: it was wrapped with YubiKey serial 1000001; the software test YubiKey' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys real.ykey cert_2.key
expect_out "verify: no YubiKey connected" 1 'real.ykey: no YubiKey found \(USB HID: ' \
	env -u SDTOOL_YK_SOFTWARE_SECRET_FILE PCSCLITE_CSOCK_NAME="$T/no-pcscd" "$SDTOOL" verify \
	--sd-file "$T/sd.json" --sd-wrapping-keys real.ykey cert_2.key
$PY - cert_0.ykey "$T/tampered.ykey" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["serial"] = 1000003        # covered by the AEAD's additional data
json.dump(j, open(sys.argv[2], "w"))
EOF
sed 's/^serial .*/serial 1000003/' "$SOFT" >"$T/serial3.soft"
expect_out "verify: a .ykey whose fields were changed does not open" 1 'does not open' \
	env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/serial3.soft" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "$T/tampered.ykey" cert_2.key
printf 'serial 1\nslot2 303132333435363738393a3b3c3d3e3f40414243\n' >"$T/unmarked.soft"
expect_out "the software YubiKey's file must say it is a test device" 1 'not a software YubiKey file' \
	env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/unmarked.soft" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys cert_0.ykey cert_2.key

# ---- unwrap ----------------------------------------------------------------------
expect "unwrap cert_1.ykey to a passphrase-protected key file" 0 "$SDTOOL" yk unwrap \
	--in cert_1.ykey --out "$T/back1.key" --password-file "$T/np" --new-password-file "$T/np"
check "unwrap: encrypted PKCS#8, mode 0600" sh -c \
	'grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$1" && [ "$(stat -c %a "$1")" = 600 ]' _ "$T/back1.key"
cp cert_1.cer "$T/back1.cer"
expect_out "unwrap: the key file opens its share again" 0 '^OK' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --password-file <(printf 'correct horse battery\n\n') \
	--sd-wrapping-keys "$T/back1.key" cert_2.key
expect "unwrap --no-passphrase" 0 "$SDTOOL" yk unwrap --in cert_0.ykey --out "$T/back0.key" --no-passphrase
check "unwrap --no-passphrase: the very key that was wrapped" sh -c \
	'[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl pkey -in "$2" -pubout)" ]' _ "$T/back0.key" cert_0.key
check "unwrap --no-passphrase: warned" grep -q 'written without a passphrase' "$T/err"
expect_err "unwrap: wrong passphrase" 1 'does not open: wrong passphrase' "$SDTOOL" yk unwrap \
	--in cert_1.ykey --out "$T/x.key" --password-file "$T/badpw" --no-passphrase
check "unwrap: nothing written on failure" [ ! -e "$T/x.key" ]
expect_err "unwrap: --out is never overwritten" 1 'already exists' \
	"$SDTOOL" yk unwrap --in cert_0.ykey --out "$T/back0.key" --no-passphrase
expect_err "unwrap: not a .ykey" 1 'not a YubiKey-wrapped key file' \
	"$SDTOOL" yk unwrap --in cert_2.key --out "$T/y.key" --no-passphrase
check "no temporary files left" no_temp_files "$T/k"

# ---- the PC/SC path: the OTP applet of the simulated YubiKey --------------------
# tests/pivsim answers HMAC-SHA1 challenge-response as a YubiKey's OTP
# applet does over CCID; sdtool reaches it through pcscd, with no test
# device set.
CARD=$(cd "$E2E/../pivsim" && pwd)/card.sh
export PIVSIM=${PIVSIM:-$(dirname "$SDTOOL")/pivsim}
CARDS=""
stop_cards() { for d in $CARDS; do "$CARD" stop "$d" >/dev/null 2>&1; done; }
trap 'stop_cards; rm -rf "$T"' EXIT
start_card() {
	_n=$1; shift
	CARDS="$CARDS $T/$_n"
	if "$CARD" start "$T/$_n" "$@" >"$T/$_n.env" 2>"$T/$_n.err"; then
		sed -n 's/^PCSCLITE_CSOCK_NAME=\([^;]*\);.*/\1/p' "$T/$_n.env" >"$T/$_n.sock"
		ok "simulated YubiKey $_n starts"
	else
		not_ok "simulated YubiKey $_n starts" "$(tail -n 3 "$T/$_n.err")"
	fi
}
on() { _n=$1; shift; env -u SDTOOL_YK_SOFTWARE_SECRET_FILE \
	PCSCLITE_CSOCK_NAME="$(cat "$T/$_n.sock" 2>/dev/null)" "$@"; }
HMAC2=000102030405060708090a0b0c0d0e0f10111213
start_card ya --serial 2000002 -- --otp-hmac2 $HMAC2
start_card yb --serial 3000003 -- --otp-hmac2 $HMAC2

expect "PC/SC: wrap with the YubiKey's OTP applet" 0 on ya "$SDTOOL" yk wrap --json \
	--key cert_2.key --slot 2 --out cert_2.ykey
check "PC/SC: a real device, its serial recorded" [ "$(jget "$T/out" '(j["device"], j["serial"])')" = \
	"('yubikey', 2000002)" ]
check "PC/SC: no test-device warning" sh -c '! grep -q "TEST device" "$1"' _ "$T/err"
# Independently of sdtool: HMAC-SHA1 with the slot's secret, BLAKE2b,
# XChaCha20-Poly1305 (Python's hashlib and PyNaCl), as sdtool-yk(1) says.
cat >"$T/indep.py" <<'PYEOF'
import base64, hashlib, hmac, json, sys
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as dec
b = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
j = json.load(open(sys.argv[1]))
chal = b(j["challenge"])
resp = hmac.new(bytes.fromhex(sys.argv[2]), chal, hashlib.sha1).digest()
k = hashlib.blake2b(b"sdtool-ykey-v1\0" + b"\0", key=resp, digest_size=32).digest()
ad = ("sdtool-ykey-v1\ndevice=%s\nserial=%d\nslot=%d\nchallenge=%s\n"
      "passphrase=none\naead=%s\nnonce=%s\nx5t_256=%s\n" % (j["device"],
      j["serial"], j["slot"], chal.hex(), j["aead"], b(j["nonce"]).hex(),
      j["x5t_256"] or "")).encode()
sys.stdout.buffer.write(dec(b(j["ciphertext"]), ad, b(j["nonce"]), k))
PYEOF
$PY "$T/indep.py" cert_2.ykey $HMAC2 >"$T/indep.der"
check "PC/SC: the .ykey opens by the documented derivation, to the very key" sh -c \
	'[ -s "$1" ] && [ "$(openssl pkey -inform der -in "$1" -pubout)" = "$(openssl pkey -in "$2" -pubout)" ]' \
	_ "$T/indep.der" cert_2.key
expect_out "PC/SC: verify with the .ykey" 0 '^OK: every quorum of the 2 opened shares' \
	on ya "$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys cert_2.ykey cert_0.key
expect_out "PC/SC: another YubiKey is named as such" 1 \
	'cert_2.ykey: YubiKey serial 2000002 not found; found YubiKey serial 3000003 \(PC/SC' \
	on yb "$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys cert_2.ykey cert_0.key
expect_err "PC/SC: a slot without challenge-response" 1 'no answer from slot 1' \
	on ya "$SDTOOL" yk wrap --key cert_2.key --slot 1 --out c2-slot1.ykey
expect "PC/SC: unwrap" 0 on ya "$SDTOOL" yk unwrap --in cert_2.ykey --out "$T/back2.key" --no-passphrase
check "PC/SC: unwrap gives back the very key" sh -c \
	'[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl pkey -in "$2" -pubout)" ]' _ "$T/back2.key" cert_2.key
expect_out "PC/SC: the test device refuses a real YubiKey's file" 1 \
	'it was wrapped with YubiKey serial 2000002; the software test YubiKey' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys cert_2.ykey cert_0.key

done_testing
