#!/bin/bash
# A real YubiKey's PIV application through Yubico's ykcs11 and the
# system's pcscd: card import into slot 9d, list, verify, restore-blob.
# DESTRUCTIVE for slot 9d; see tests/hw/README.
[ "${SDTOOL_HW_TESTS:-0}" = 1 ] || { echo "# t_piv_usb.sh: skipped (SDTOOL_HW_TESTS=1 not set)"; exit 0; }
[ "${SDTOOL_HW_PIV_DESTRUCTIVE:-0}" = 1 ] || {
	echo "# t_piv_usb.sh: skipped (writes PIV slot 9d: set SDTOOL_HW_PIV_DESTRUCTIVE=1)"; exit 0; }
. "$(dirname "$0")/../e2e/lib.sh"
: "${SDTOOL_HW_PIV_PIN_FILE:?the PIV PIN, in a file}"
: "${SDTOOL_HW_PIV_MGM_FILE:?the PIV management key, in a file}"
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/libykcs11.so" ] && { YKCS11=$d/libykcs11.so; break; }
done
export SDTOOL_PKCS11_MODULE=$YKCS11
PS="?pin-source=$SDTOOL_HW_PIV_PIN_FILE"

make_keys "$T/k" 3
expect "import into slot 9d of the real YubiKey" 0 "$SDTOOL" card import --json \
	--key "$T/k/cert_0.key" --token "pkcs11:$PS" --so-pin-file "$SDTOOL_HW_PIV_MGM_FILE"
URI=$(jget "$T/out" 'j["uri"]')
echo "# $URI"
check "import: proven, sensitive, not extractable" [ "$(jget "$T/out" \
	'(j["proof"], j["sensitive"], j["extractable"])')" = "(True, True, False)" ]
expect_out "card list --login shows it with its thumbprint" 0 \
	"certificate x5t_256 $("$SDTOOL" inspect --json "$T/k/cert_0.cer" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])')" \
	"$SDTOOL" card list --login --token "pkcs11:$PS"
"$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys "$T/k/cert_0.cer" \
	"$T/k/cert_1.cer" "$T/k/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd.json" >/dev/null 2>&1
expect_out "verify with the YubiKey's key and a key file" 0 '^OK: every quorum' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$URI$PS" "$T/k/cert_1.key"
"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/ex.cer" >/dev/null 2>&1
expect "restore-blob with it" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" \
	--sd-exchange-key "$T/ex.cer" --sd-wrapping-keys "$URI$PS" "$T/k/cert_2.key" --out "$T/blob.json"
expect_out "the simulated HSM takes it" 0 'restored' "$SDTOOL" sim upload --state "$T/hsm" \
	--sd-file "$T/blob.json"
echo "# now clear slot 9d: ykman piv keys delete 9d; ykman piv certificates delete 9d"
done_testing
