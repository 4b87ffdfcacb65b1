#!/bin/bash
# A real YubiKey on USB (ykpers, HID): sdtool yk and .ykey key references.
# Runs only with SDTOOL_HW_TESTS=1; see tests/hw/README.
[ "${SDTOOL_HW_TESTS:-0}" = 1 ] || { echo "# t_yk_usb.sh: skipped (SDTOOL_HW_TESTS=1 not set)"; exit 0; }
. "$(dirname "$0")/../e2e/lib.sh"
unset SDTOOL_YK_SOFTWARE_SECRET_FILE
SLOT=${SDTOOL_HW_YK_SLOT:-2}

make_keys "$T/k" 3
cd "$T/k" || exit 1
"$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys cert_0.cer cert_1.cer \
	cert_2.cer --sd-quorum 2 --security-domain-file "$T/sd.json" >/dev/null 2>&1

expect "wrap with the YubiKey on USB, slot $SLOT" 0 "$SDTOOL" yk wrap --json --key cert_0.key \
	--slot "$SLOT" --out cert_0.ykey
check "wrap: a real device" [ "$(jget "$T/out" 'j["device"]')" = yubikey ]
SERIAL=$(jget "$T/out" 'j["serial"]')
echo "# YubiKey serial $SERIAL"
check "wrap: no test-device warning" sh -c '! grep -q "TEST device" "$1"' _ "$T/err"
expect_out "info: the serial and slot" 0 "slot: *$SLOT " "$SDTOOL" yk info cert_0.ykey
expect_out "verify: the .ykey and a key file" 0 '^OK: every quorum of the 2 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys cert_0.ykey cert_1.key
echo "a passphrase for the hw test" >"$T/np"
expect "wrap with the YubiKey and a passphrase" 0 "$SDTOOL" yk wrap --key cert_2.key \
	--slot "$SLOT" --out cert_2.ykey --passphrase --new-password-file "$T/np"
printf '\na passphrase for the hw test\n' >"$T/pw"
expect_out "verify: two .ykey files" 0 '^OK: every quorum of the 2 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --password-file "$T/pw" \
	--sd-wrapping-keys cert_0.ykey cert_2.ykey
"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/ex.cer" >/dev/null 2>&1
expect "restore-blob with the .ykey" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" \
	--sd-exchange-key "$T/ex.cer" --sd-wrapping-keys cert_0.ykey cert_1.key --out "$T/blob.json"
expect_out "the simulated HSM takes it" 0 'restored' "$SDTOOL" sim upload --state "$T/hsm" \
	--sd-file "$T/blob.json"
expect "unwrap" 0 "$SDTOOL" yk unwrap --in cert_0.ykey --out "$T/back.key" --no-passphrase
check "unwrap: the very key" sh -c \
	'[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl pkey -in "$2" -pubout)" ]' _ "$T/back.key" cert_0.key
OTHER=$((3 - SLOT))
expect_err "the other slot, if not set for challenge-response, is named" 1 "slot $OTHER" \
	"$SDTOOL" yk wrap --key cert_1.key --slot "$OTHER" --out other.ykey

# Independently of sdtool, when ykchalresp is installed: the YubiKey's
# answer as Yubico's tool reads it opens the file by sdtool-yk(1)'s rules.
if command -v ykchalresp >/dev/null 2>&1; then
	CH=$($PY -c 'import base64,json,sys; s=json.load(open(sys.argv[1]))["challenge"]; print(base64.urlsafe_b64decode(s+"="*(-len(s)%4)).hex())' cert_0.ykey)
	case $CH in
	*00) echo "# challenge ends in 00: ykchalresp pads it otherwise; independent check skipped" ;;
	*)
		RESP=$(ykchalresp -"$SLOT" -x "$CH")
		$PY - cert_0.ykey "$RESP" >"$T/indep.der" <<'PYEOF'
import base64, hashlib, json, sys
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as dec
b = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
j = json.load(open(sys.argv[1]))
k = hashlib.blake2b(b"sdtool-ykey-v1\0\0", key=bytes.fromhex(sys.argv[2]), digest_size=32).digest()
ad = ("sdtool-ykey-v1\ndevice=%s\nserial=%d\nslot=%d\nchallenge=%s\n"
      "passphrase=none\naead=%s\nnonce=%s\nx5t_256=%s\n" % (j["device"],
      j["serial"], j["slot"], b(j["challenge"]).hex(), j["aead"],
      b(j["nonce"]).hex(), j["x5t_256"] or "")).encode()
sys.stdout.buffer.write(dec(b(j["ciphertext"]), ad, b(j["nonce"]), k))
PYEOF
		check "ykchalresp's answer opens the .ykey to the very key" sh -c \
			'[ "$(openssl pkey -inform der -in "$1" -pubout)" = "$(openssl pkey -in "$2" -pubout)" ]' \
			_ "$T/indep.der" cert_0.key
		;;
	esac
else
	echo "# ykchalresp not installed: independent check skipped"
fi
done_testing
