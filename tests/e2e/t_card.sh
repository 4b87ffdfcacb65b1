#!/bin/bash
# Keys on PKCS#11 tokens, with real modules: SoftHSM2 tokens in a private
# SOFTHSM2_CONF, and (when tests/pivsim/card.sh works) Yubico's ykcs11
# talking to the simulated YubiKey PIV card over pcscd.  Import, list,
# generate, verify and restore-blob through each; OpenSC's pkcs11-tool as
# an independent witness that imported keys are sensitive and not
# extractable; wrong PIN, missing token, module and object; a mixed set
# (a token key and a key file); a real service vector on a token.
. "$(dirname "$0")/lib.sh"
# No client here may reach a pcscd this test did not start (a system one,
# or one left over by another run): every card command names its own.
export PCSCLITE_CSOCK_NAME=$T/no-pcscd-here.comm

SOFTHSM=""
for m in /usr/lib/softhsm/libsofthsm2.so \
    /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && { SOFTHSM=$m; break; }
done
if [ -z "$SOFTHSM" ] || ! command -v softhsm2-util >/dev/null ||
    ! command -v pkcs11-tool >/dev/null; then
	not_ok "SoftHSM2 and OpenSC are installed" "run make deps (softhsm2, opensc)"
	done_testing
	exit 1
fi

# A private SoftHSM2 world: two tokens, user PIN 123456.
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$T" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
for t in officer0 officer1 spare; do
	softhsm2-util --init-token --free --label $t --pin 123456 \
		--so-pin 12345678 >/dev/null || not_ok "softhsm2-util --init-token $t" "failed"
done
echo 123456 >"$T/pin"
echo 000000 >"$T/badpin"
PS="?pin-source=$T/pin"
export SDTOOL_PKCS11_MODULE=$SOFTHSM
p11tool() { pkcs11-tool --module "$SOFTHSM" "$@" 2>&1; }

make_keys "$T/k" 3
cp -r "$T/k" "$T/orig"
x5t() { "$SDTOOL" inspect --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["x5t_256"])'; }

# ---- list -----------------------------------------------------------------
expect_out "card --help lists the subcommands" 0 'list \| import \| generate' \
	"$SDTOOL" card --help
expect_out "card list shows the tokens" 0 '^token officer0 ' "$SDTOOL" card list
check "card list: ... all three" [ "$(grep -c '^token ' "$T/out")" -eq 3 ]
expect "card list --json" 0 "$SDTOOL" card list --json
check "card list --json: labels and module" [ "$(jget "$T/out" \
	'(sorted(t["label"] for t in j["tokens"]), j["module"])')" = \
	"(['officer0', 'officer1', 'spare'], '$SOFTHSM')" ]
expect_err "card list: --token matching nothing fails" 1 'no token matches' \
	"$SDTOOL" card list --token "pkcs11:token=nobody"

# ---- import ---------------------------------------------------------------
expect "import cert_0.key onto officer0" 0 "$SDTOOL" card import --json \
	--key "$T/k/cert_0.key" --token "pkcs11:token=officer0$PS"
cp "$T/out" "$T/import0.json"
check "import: proven, sensitive, not extractable" [ "$(jget "$T/import0.json" \
	'(j["proof"], j["sensitive"], j["extractable"], j["source_deleted"])')" = \
	"(True, True, False, False)" ]
# SoftHSM2 does RSA-OAEP with SHA-1 only: the fallback was used
check "import: SoftHSM2 took the raw-RSA fallback (OAEP checked on the host)" \
	[ "$(jget "$T/import0.json" 'j["oaep"]')" = host ]
check "import: the thumbprint is the certificate's" \
	[ "$(jget "$T/import0.json" 'j["x5t_256"]')" = "$(x5t "$T/k/cert_0.cer")" ]
check "import: the key file is still there (no --delete-source)" \
	cmp -s "$T/k/cert_0.key" "$T/orig/cert_0.key"
KEY0=$(jget "$T/import0.json" 'j["uri"]')
case $KEY0 in
pkcs11:token=officer0\;object=cert_0\;id=%*\;type=private) ok "import: prints the key's URI" ;;
*) not_ok "import: prints the key's URI" "$KEY0" ;;
esac

# OpenSC's pkcs11-tool, independently
p11tool --token-label officer0 --login --pin 123456 --list-objects --type privkey >"$T/p11"
check "pkcs11-tool: the key is there, for decryption" grep -q 'Usage: *decrypt, unwrap' "$T/p11"
check "pkcs11-tool: it is sensitive" grep -q 'Access: *sensitive' "$T/p11"
check "pkcs11-tool: it is not extractable" sh -c '! grep "Access:" "$1" | sed "s/never extractable//" | grep -q extractable' _ "$T/p11"
p11tool --token-label officer0 --list-objects --type cert >"$T/p11c"
check "pkcs11-tool: its certificate is there, same id" \
	grep -qi "ID: *$(jget "$T/import0.json" 'j["id"]')" "$T/p11c"

mkdir -p "$T/enc"
echo "correct horse battery" >"$T/np"
"$SDTOOL" keygen --index 8 -b 2048 -d "$T/enc" --password-file "$T/np" >/dev/null 2>&1
echo "wrong horse battery" >"$T/wp"
expect_err "import: a wrong passphrase for the key file, before any PIN" 1 'cert_8.key: wrong passphrase' \
	"$SDTOOL" card import --key "$T/enc/cert_8.key" --password-file "$T/wp" \
	--token "pkcs11:token=spare?pin-source=$T/badpin"
check "import: ... so no PIN try was spent" sh -c '! grep -q PIN "$1"' _ "$T/err"
expect "import: an encrypted key file, its passphrase from --password-file" 0 \
	"$SDTOOL" card import --key "$T/enc/cert_8.key" --password-file "$T/np" \
	--token "pkcs11:token=spare$PS"
expect_err "import: the same key again is refused, never a second copy" 1 'already holds this key \(id [0-9a-f]+, label cert_0\): it was imported before' \
	"$SDTOOL" card import --key "$T/k/cert_0.key" --token "pkcs11:token=officer0$PS"
expect_err "import: the same key under another id and label is refused too" 1 'already holds this key' \
	"$SDTOOL" card import --key "$T/k/cert_0.key" --token "pkcs11:token=officer0$PS" --id 7f --label other
cp "$T/k/cert_1.key" "$T/nocert.key"
expect_err "import: a key without its certificate is refused" 1 'no certificate beside it' \
	"$SDTOOL" card import --key "$T/nocert.key" --token "pkcs11:token=officer0$PS"
expect_err "import: --token naming a key is refused" 1 'names a token only' \
	"$SDTOOL" card import --key "$T/k/cert_1.key" --token "pkcs11:token=officer0;object=x$PS"
expect_err "import: a wrong PIN" 1 'wrong PIN for token officer1' \
	"$SDTOOL" card import --key "$T/k/cert_1.key" --token "pkcs11:token=officer1?pin-source=$T/badpin"
check "import: nothing written after a wrong PIN" \
	sh -c '! pkcs11-tool --module "$1" --token-label officer1 --login --pin 123456 -O 2>&1 | grep -q "Object"' _ "$SOFTHSM"
expect_err "import: no PIN and no terminal" 1 'token officer1: no PIN given' \
	"$SDTOOL" card import --key "$T/k/cert_1.key" --token "pkcs11:token=officer1"
expect_err "import: --delete-source without a terminal does nothing" 1 'needs a terminal' \
	"$SDTOOL" card import --key "$T/k/cert_1.key" --token "pkcs11:token=officer1$PS" --delete-source
expect "import cert_1.key onto officer1, label and id given" 0 "$SDTOOL" card import --json \
	--key "$T/k/cert_1.key" --token "pkcs11:token=officer1$PS" --label sd-wrap-1 --id 0a1b
check "import: label and id as given" [ "$(jget "$T/out" 'j["uri"]')" = \
	"pkcs11:token=officer1;object=sd-wrap-1;id=%0A%1B;type=private" ]

# list now shows them, with thumbprints; private keys only after log-in
expect_out "card list: the certificate's thumbprint" 0 "certificate x5t_256 $(x5t "$T/k/cert_0.cer")" \
	"$SDTOOL" card list --token "pkcs11:token=officer0"
check "card list: private key hidden without --login" grep -q 'not visible without --login' "$T/out"
expect "card list --login --json" 0 "$SDTOOL" card list --json --login --token "pkcs11:token=officer0$PS"
check "card list --login: the key, sensitive, not extractable, its x5t_256" [ "$(jget "$T/out" \
	'[(k["label"], k["private_key"], k["sensitive"], k["extractable"], k["x5t_256"]) for k in j["tokens"][0]["keys"]]')" = \
	"[('cert_0', True, True, False, '$(x5t "$T/k/cert_0.cer")')]" ]

# ---- verify and restore-blob: a token key mixed with a key file --------------
"$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys "$T/k/cert_0.cer" \
	"$T/k/cert_1.cer" "$T/k/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd.json" >/dev/null 2>&1
expect_out "verify: token key + key file" 0 '^OK: every quorum' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$KEY0$PS" "$T/k/cert_2.key"
check "verify: the token key opened share #1" grep -q "key pkcs11:token=officer0.*: opened share #1 of 3" "$T/out"
expect_out "verify: two tokens and a file, every quorum" 0 '^OK: every quorum of the 3 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$KEY0$PS" \
	"pkcs11:token=officer1;object=sd-wrap-1$PS" "$T/k/cert_2.key"
expect "verify --json: the token key matched by its certificate" 0 "$SDTOOL" verify --json \
	--sd-file "$T/sd.json" --sd-wrapping-keys "$KEY0$PS" "$T/k/cert_2.key"
check "verify --json: share 1 by x5t_256, not by trial" [ "$(jget "$T/out" \
	'(j["keys"][0]["share"], j["keys"][0]["matched_by_trial"], j["keys"][0]["x5t_256"])')" = \
	"(1, False, '$(x5t "$T/k/cert_0.cer")')" ]
printf '123456\n\n' >"$T/pwfile"
expect_out "verify: the PIN from --password-file's line for the key" 0 '^OK: every quorum' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --password-file "$T/pwfile" \
	--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0" "$T/k/cert_2.key"
"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exchange.cer" >/dev/null 2>&1
expect "restore-blob: token key + key file" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" \
	--sd-exchange-key "$T/exchange.cer" --sd-wrapping-keys "$KEY0$PS" "$T/k/cert_2.key" \
	--out "$T/blob.json"
expect_out "the simulated HSM takes that blob" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/blob.json"

# the default module, p11-kit's proxy, finds SoftHSM2 where p11-kit has it
if [ -f /usr/share/p11-kit/modules/softhsm2.module ]; then
	expect_out "verify through p11-kit's proxy (no module named)" 0 '^OK: every quorum' \
		env -u SDTOOL_PKCS11_MODULE "$SDTOOL" verify --sd-file "$T/sd.json" \
		--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0$PS" "$T/k/cert_2.key"
else
	not_ok "p11-kit has SoftHSM2 registered" "/usr/share/p11-kit/modules/softhsm2.module missing"
fi
expect_out "the URI's module-path wins over the environment" 0 '^OK: every quorum' \
	env SDTOOL_PKCS11_MODULE=/nonexistent.so "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0?module-path=$SOFTHSM&pin-source=$T/pin" \
	"$T/k/cert_2.key"

# ---- errors, each one clear line --------------------------------------------
expect_out "verify: a wrong PIN, with what the token says of the tries" 1 \
	'wrong PIN for token officer0 \(the token says few tries are left\)' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer0;object=cert_0?pin-source=$T/badpin" "$T/k/cert_2.key"
check "verify --json: a wrong PIN is a wrong_passphrase" sh -c \
	'"$1" verify --json --sd-file "$2" --sd-wrapping-keys "pkcs11:token=officer0;object=cert_0?pin-source=$3" "$4" </dev/null |
	grep -q "\"status\": \"wrong_passphrase\""' _ "$SDTOOL" "$T/sd.json" "$T/badpin" "$T/k/cert_2.key"
expect_out "verify: no PIN and no terminal" 1 'token officer0: no PIN given' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "pkcs11:token=officer0;object=cert_0" \
	"$T/k/cert_2.key"
expect_out "verify: a token that is not there" 1 \
	"pkcs11:token=officer9: no token matches; tokens present: ('[a-z0-9]*'(, )?){3} \\(module " \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "pkcs11:token=officer9" "$T/k/cert_2.key"
expect_out "verify: a module that is not there" 1 'PKCS#11 module /nonexistent/libp11.so: not found' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer0?module-path=/nonexistent/libp11.so" "$T/k/cert_2.key"
printf 'not a library\n' >"$T/bogus.so"
expect_out "verify: a module that does not load" 1 "PKCS#11 module $T/bogus.so: cannot load" \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer0?module-path=$T/bogus.so" "$T/k/cert_2.key"
expect_out "verify: an object that is not there" 1 'token officer0 holds no RSA private key that matches' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer0;object=nothing$PS" "$T/k/cert_2.key"
expect_out "verify: a malformed URI" 1 "unknown attribute 'tokn'" \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "pkcs11:tokn=officer0" "$T/k/cert_2.key"
expect_out "verify: pin-value is refused" 1 'pin-value would put the PIN on the command line' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer0?pin-value=123456" "$T/k/cert_2.key"
expect_out "verify: a token key of another SD" 1 'no share of this file is encrypted to this key' \
	"$SDTOOL" verify --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$KEY0$PS" "$V/keys/sd1.key"

# ---- the PIN asked on the terminal (script(1) gives one) ---------------------
# The PIN is offered once a second: typed-ahead input is flushed before
# the prompt, as it must be, so a line arriving after the prompt is read.
pin_typist() { for _i in 1 2 3 4 5 6 7 8 9 10; do sleep 1; printf '123456\n'; done; }
pin_typist | timeout 60 script -qec "'$SDTOOL' verify --sd-file '$T/sd.json' \
	--sd-wrapping-keys 'pkcs11:token=officer0;object=cert_0' '$T/k/cert_2.key'" /dev/null \
	>"$T/tty.out" 2>&1
check "terminal: the prompt names the token" grep -Eq 'PIN for token officer0( \(.*\))?: ' "$T/tty.out"
check "terminal: the PIN typed opens the key" grep -q '^OK: every quorum' "$T/tty.out"
check "terminal: the PIN is not echoed" sh -c '! grep -q 123456 "$1"' _ "$T/tty.out"

# ---- a PIN-pad reader: SoftHSM2 behind a simulated pad (tests/p11shim) ------
PINPAD=$(dirname "$SDTOOL")/p11pinpad.so
echo 123456 >"$T/keypad"
pad() { env PINPAD_SHIM_MODULE="$SOFTHSM" SDTOOL_PKCS11_MODULE="$PINPAD" "$@"; }
expect_out "PIN pad: the reader takes the PIN, not sdtool" 0 '^OK: every quorum' \
	pad PINPAD_SHIM_KEYPAD="$T/keypad" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0" "$T/k/cert_2.key"
check "PIN pad: the officer is told to type on the pad" \
	grep -q "Enter the PIN for token officer0 on the reader's PIN pad" "$T/err"
expect_out "PIN pad: a wrong PIN typed on the pad" 1 'wrong PIN for token officer0' \
	pad PINPAD_SHIM_KEYPAD="$T/badpin" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0" "$T/k/cert_2.key"
expect_out "PIN pad: nothing typed" 1 'token officer0: PIN entry cancelled' \
	pad PINPAD_SHIM_KEYPAD="$T/nothing" "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "pkcs11:token=officer0;object=cert_0" "$T/k/cert_2.key"
expect_out "card list: the PIN pad is shown" 0 'PIN required, PIN pad' \
	pad "$SDTOOL" card list --token "pkcs11:token=officer0"

# ---- a token key without a certificate: trial decryption -------------------
p11tool --token-label officer1 --login --pin 123456 --delete-object --type cert --id 0a1b >/dev/null
expect_out "verify: a token key whose certificate is gone opens by trial" 0 \
	'opened share #2 of 3 \(matched by trial decryption' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys \
	"pkcs11:token=officer1;id=%0a%1b$PS" "$T/k/cert_2.key"

# ---- a real service vector, its keys on tokens -----------------------------
cp "$V/keys/sd1.key" "$V/keys/sd1.cer" "$V/keys/sd3.key" "$V/keys/sd3.cer" "$T/"
expect "import the service's test key sd1 onto spare" 0 "$SDTOOL" card import \
	--key "$T/sd1.key" --token "pkcs11:token=spare$PS"
expect "import sd3 onto spare too" 0 "$SDTOOL" card import \
	--key "$T/sd3.key" --token "pkcs11:token=spare$PS"
expect_out "2023-05: verify with both keys on a token" 0 '^OK: every quorum of the 2 opened shares' \
	"$SDTOOL" verify --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys \
	"pkcs11:token=spare;object=sd1$PS" "pkcs11:token=spare;object=sd3$PS"
expect_out "2020-09: a token key and a key file" 0 '^OK: every quorum of the 3 opened shares' \
	"$SDTOOL" verify --sd-file "$V/2020-09/sd.json" --sd-wrapping-keys \
	"pkcs11:token=spare;object=sd1$PS" "$V/keys/sd2.key" "pkcs11:token=spare;object=sd3$PS"
expect "2023-05: restore-blob from the tokens" 0 "$SDTOOL" restore-blob \
	--sd-file "$V/2023-05/sd.json" --sd-exchange-key "$T/exchange.cer" \
	--sd-wrapping-keys "pkcs11:token=spare;object=sd1$PS" "pkcs11:token=spare;object=sd3$PS" \
	--out "$T/blob-2023.json"
check "2023-05: the blob carries the 3 data items" [ "$(jget "$T/blob-2023.json" 'len(j["EncData"]["data"])')" = 3 ]

# ---- generate: the key is born on the token ---------------------------------
# Issue 9: -d DIR failed when DIR did not exist, while keygen -d makes it.
expect "generate on officer1 (-d makes the directory)" 0 "$SDTOOL" card generate --json --token "pkcs11:token=officer1$PS" \
	-d "$T/gen" --index 3 -b 2048
cp "$T/out" "$T/gen.json"
check "generate: cert_3.cer written" [ -s "$T/gen/cert_3.cer" ]
check "generate: the directory was made, and said so" grep -q "created directory $T/gen" "$T/err"
check "generate: its thumbprint reported" [ "$(jget "$T/gen.json" 'j["x5t_256"]')" = "$(x5t "$T/gen/cert_3.cer")" ]
check "generate: no escrow possible, said plainly" [ "$(jget "$T/gen.json" 'j["escrow_possible"]')" = False ]
check "generate: no key file anywhere" [ -z "$(find "$T/gen" -name '*.key')" ]
# python3-cryptography, independently: the token signed it, with that key
cat >"$T/selfsig.py" <<'PYEOF'
import sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
c.public_key().verify(c.signature, c.tbs_certificate_bytes,
                      padding.PKCS1v15(), c.signature_hash_algorithm)
assert c.subject == c.issuer
print(c.subject.rfc4514_string())
PYEOF
check "generate: the certificate is self-signed by the token's key" \
	sh -c '"$1" "$2" "$3" | grep -q "CN=Managed HSM security domain wrapping key 3"' \
	_ "$PY" "$T/selfsig.py" "$T/gen/cert_3.cer"
p11tool --token-label officer1 --login --pin 123456 --list-objects --type privkey >"$T/p11g"
check "pkcs11-tool: the generated key is local, always sensitive, never extractable" \
	grep -q 'Access: *sensitive, always sensitive, never extractable, local' "$T/p11g"
"$SDTOOL" sim activate --state "$T/hsm2" --sd-wrapping-keys "$T/k/cert_0.cer" \
	"$T/k/cert_2.cer" "$T/gen/cert_3.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd2.json" >/dev/null 2>&1
expect_out "verify: the generated key opens its share" 0 '^OK: every quorum of the 3 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd2.json" --sd-wrapping-keys "$(jget "$T/gen.json" 'j["uri"]')$PS" \
	"$KEY0$PS" "$T/k/cert_2.key"
expect_err "generate: an existing cert_3.cer is never overwritten" 1 'already exists' \
	"$SDTOOL" card generate --token "pkcs11:token=officer1$PS" -d "$T/gen" --index 3
expect_err "generate: the label in use is refused" 1 'already holds an object labelled cert_3' \
	"$SDTOOL" card generate --token "pkcs11:token=officer1$PS" -d "$T" --index 3
check "generate: nothing left behind by the refusal" [ ! -e "$T/cert_3.cer" ]
expect_err "generate: -b out of range is a usage error" 2 '2048, 3072 or 4096' \
	"$SDTOOL" card generate --token "pkcs11:token=officer1$PS" -d "$T" --index 4 -b 1024

# ---- --delete-source, with a terminal (script(1) gives one) -----------------
tty_run() { printf '%s\n' "$1" | script -qec "$2" /dev/null >"$T/out" 2>&1; }
cp "$T/orig/cert_2.key" "$T/orig/cert_2.cer" "$T/gen/"
tty_run "wrong name" "'$SDTOOL' card import --key '$T/gen/cert_2.key' --token 'pkcs11:token=spare$PS' --delete-source"
check "delete-source: a wrong confirmation keeps the file" [ -f "$T/gen/cert_2.key" ]
check "delete-source: ... and says so" grep -q 'not confirmed; the key file .* was kept' "$T/out"
p11tool --token-label spare --login --pin 123456 --delete-object --type privkey --label cert_2 >/dev/null
p11tool --token-label spare --login --pin 123456 --delete-object --type cert --label cert_2 >/dev/null
tty_run "$T/gen/cert_2.key" "'$SDTOOL' card import --key '$T/gen/cert_2.key' --token 'pkcs11:token=spare$PS' --delete-source"
check "delete-source: confirmed, the file is gone" [ ! -e "$T/gen/cert_2.key" ]
check "delete-source: ... the certificate stays" [ -f "$T/gen/cert_2.cer" ]
check "delete-source: ... and the key opens its share from the token" sh -c \
	'"$1" verify --sd-file "$2" --sd-wrapping-keys "pkcs11:token=spare;object=cert_2$3" "$4" </dev/null | grep -q "^OK"' \
	_ "$SDTOOL" "$T/sd.json" "$PS" "$T/k/cert_0.key"

# ---- usage ---------------------------------------------------------------------
expect_err "card: unknown subcommand" 2 'card needs one of' "$SDTOOL" card frobnicate
expect_err "card import: --key and --token required" 2 'required' "$SDTOOL" card import --key x
expect_err "card import: a bad --id" 2 'hex bytes' "$SDTOOL" card import --key x --token pkcs11: --id 0xz
check "no temporary files left" no_temp_files "$T/gen"

# ---- ykcs11 over the simulated YubiKey (tests/pivsim) -----------------------
# Yubico's module talks PIV to pivsim through a private pcscd
# (tests/pivsim/card.sh); OpenSC's module reads the same card as a
# second, independent witness.
CARD=$(cd "$E2E/../pivsim" && pwd)/card.sh
export PIVSIM=${PIVSIM:-$(dirname "$SDTOOL")/pivsim}
libdir() { for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "/usr/lib/$1"; }
YKCS11=$(libdir libykcs11.so)
OPENSC=$(libdir opensc-pkcs11.so)
CARDS=""
# Only the pcscd and pivsim this test started, by their pid files
# (card.sh stop), never by name; on every exit, Ctrl-C and kill included.
stop_cards() { for d in $CARDS; do "$CARD" stop "$d" >/dev/null 2>&1; done; }
trap 'stop_cards; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# running PID: the process exists and is not a zombie waiting to be reaped.
running() { [ -r "/proc/$1/stat" ] && ! sed 's/^.*) //' "/proc/$1/stat" | grep -q '^Z'; }
# start_card NAME ARGS...: a simulated YubiKey; `on NAME CMD...` runs CMD with it.
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
on() { _n=$1; shift; env PCSCLITE_CSOCK_NAME="$(cat "$T/$_n.sock" 2>/dev/null)" \
	SDTOOL_PKCS11_MODULE="$YKCS11" "$@"; }
echo 010203040506070801020304050607080102030405060708 >"$T/mgm"
YPS="?pin-source=$T/pin"
PIVA="pkcs11:token=YubiKey%20PIV%20%231000001;id=%03;type=private"
PIVB="pkcs11:token=YubiKey%20PIV%20%232000002;id=%03;type=private"
make_keys "$T/p" 3
"$SDTOOL" keygen --index 9 -b 3072 -d "$T/p" --no-passphrase >/dev/null 2>&1

start_card pa --serial 1000001
start_card pb --serial 2000002
expect_out "ykcs11: card list shows the YubiKey" 0 '^token YubiKey PIV #1000001 ' \
	on pa "$SDTOOL" card list
expect "ykcs11: import into PIV slot 9d (management key from a file)" 0 on pa \
	"$SDTOOL" card import --json --key "$T/p/cert_0.key" --token "pkcs11:$YPS" \
	--so-pin-file "$T/mgm"
check "ykcs11: the key's URI is the slot (id 03)" [ "$(jget "$T/out" 'j["uri"]')" = "$PIVA" ]
check "ykcs11: proven, sensitive, not extractable" [ "$(jget "$T/out" \
	'(j["proof"], j["sensitive"], j["extractable"])')" = "(True, True, False)" ]
on pa pkcs11-tool --module "$OPENSC" --login --pin 123456 --list-objects --type privkey \
	>"$T/osc" 2>&1
check "OpenSC sees the key in slot 9d, for decryption" sh -c \
	'grep -q "ID: *03" "$1" && grep -q "Usage: *decrypt" "$1"' _ "$T/osc"
check "OpenSC: it is sensitive and not extractable" sh -c \
	'grep -q "Access: *sensitive" "$1" && ! grep "Access:" "$1" | sed "s/never extractable//" | grep -q extractable' \
	_ "$T/osc"
on pa pkcs11-tool --module "$OPENSC" --read-object --type cert --id 03 -o "$T/osc.der" >/dev/null 2>&1
check "OpenSC reads back the very certificate" sh -c \
	'[ "$(openssl x509 -inform der -in "$1" -noout -fingerprint -sha256)" = \
	"$(openssl x509 -in "$2" -noout -fingerprint -sha256)" ]' _ "$T/osc.der" "$T/p/cert_0.cer"
expect_err "ykcs11: slot 9d taken is refused, never replaced" 1 'PIV slot 9d \(id 03\) already holds' \
	on pa "$SDTOOL" card import --key "$T/p/cert_1.key" --token "pkcs11:$YPS" --so-pin-file "$T/mgm"
expect_err "ykcs11: an RSA-3072 key is too large for this YubiKey" 1 'RSA-3072 is too large for it' \
	on pb "$SDTOOL" card import --key "$T/p/cert_9.key" --token "pkcs11:$YPS" --so-pin-file "$T/mgm"
check "ykcs11: ... after a warning" grep -q 'warning: .*takes RSA keys up to 2048 bits' "$T/err"
echo 000000000000000000000000000000000000000000000000 >"$T/badmgm"
expect_err "ykcs11: a wrong management key" 1 'wrong SO PIN for token YubiKey PIV #2000002' \
	on pb "$SDTOOL" card import --key "$T/p/cert_1.key" --token "pkcs11:$YPS" --so-pin-file "$T/badmgm"

# three modules in one verify: a YubiKey (ykcs11), SoftHSM2, a key file
"$SDTOOL" sim activate --state "$T/hsm3" --sd-wrapping-keys "$T/p/cert_0.cer" \
	"$T/k/cert_0.cer" "$T/k/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd3.json" >/dev/null 2>&1
expect_out "verify: a YubiKey key, a SoftHSM2 key and a key file" 0 \
	'^OK: every quorum of the 3 opened shares' on pa env SDTOOL_PKCS11_MODULE="$SOFTHSM" \
	"$SDTOOL" verify --sd-file "$T/sd3.json" --sd-wrapping-keys \
	"$PIVA?module-path=$YKCS11&pin-source=$T/pin" "$KEY0$PS" "$T/k/cert_2.key"
check "verify: the YubiKey key opened share #1" grep -q 'key pkcs11:token=YubiKey.*: opened share #1 of 3$' "$T/out"
expect_out "verify: the YubiKey's PIN from --password-file" 0 '^OK: every quorum' \
	on pa "$SDTOOL" verify --sd-file "$T/sd3.json" --password-file "$T/pwfile" \
	--sd-wrapping-keys "$PIVA" "$T/k/cert_2.key"
"$SDTOOL" sim init-recovery --state "$T/hsm3" --sd-exchange-key "$T/exchange3.cer" >/dev/null 2>&1
expect "restore-blob: the YubiKey key and a key file" 0 on pa "$SDTOOL" restore-blob \
	--sd-file "$T/sd3.json" --sd-exchange-key "$T/exchange3.cer" \
	--sd-wrapping-keys "$PIVA$YPS" "$T/k/cert_2.key" --out "$T/blob3.json"
expect_out "the simulated HSM takes it" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm3" --sd-file "$T/blob3.json"
expect_out "ykcs11: a YubiKey that is not there" 1 'no token matches; tokens present: .YubiKey PIV #1000001.' \
	on pa "$SDTOOL" verify --sd-file "$T/sd3.json" --sd-wrapping-keys \
	"pkcs11:serial=9999999;id=%03" "$T/k/cert_2.key"

# generated on the card
mkdir -p "$T/pgen"
expect "ykcs11: generate in slot 9d" 0 on pb "$SDTOOL" card generate --json \
	--token "pkcs11:$YPS" --so-pin-file "$T/mgm" -d "$T/pgen" --index 7 -b 2048
check "ykcs11: generate: the slot's URI and cert_7.cer" sh -c \
	'[ "$("$1" -c "import json,sys; print(json.load(open(sys.argv[1]))[\"uri\"])" "$2")" = "$3" ] && [ -s "$4" ]' \
	_ "$PY" "$T/out" "$PIVB" "$T/pgen/cert_7.cer"
check "ykcs11: generate: self-signed by the card's key" sh -c '"$1" "$2" "$3" | grep -q "key 7"' \
	_ "$PY" "$T/selfsig.py" "$T/pgen/cert_7.cer"
on pb pkcs11-tool --module "$OPENSC" --login --pin 123456 --list-objects --type privkey >"$T/oscg" 2>&1
check "OpenSC: the generated key is local and never extractable" \
	grep -q 'Access: *sensitive, always sensitive, never extractable, local' "$T/oscg"
"$SDTOOL" sim activate --state "$T/hsm4" --sd-wrapping-keys "$T/p/cert_1.cer" \
	"$T/p/cert_2.cer" "$T/pgen/cert_7.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd4.json" >/dev/null 2>&1
expect_out "verify: the key generated on the YubiKey opens its share" 0 '^OK: every quorum' \
	on pb "$SDTOOL" verify --sd-file "$T/sd4.json" --sd-wrapping-keys "$PIVB$YPS" "$T/p/cert_1.key"

# wrong PINs, until the card blocks it: each message says what it knows
expect_out "ykcs11: a wrong PIN" 1 'wrong PIN for token YubiKey PIV #2000002 \(the token says few tries are left\)' \
	on pb "$SDTOOL" verify --sd-file "$T/sd4.json" --sd-wrapping-keys "$PIVB?pin-source=$T/badpin" \
	"$T/p/cert_1.key"
expect_out "ykcs11: a second wrong PIN: the last try" 1 'one try left: one more wrong PIN locks it' \
	on pb "$SDTOOL" verify --sd-file "$T/sd4.json" --sd-wrapping-keys "$PIVB?pin-source=$T/badpin" \
	"$T/p/cert_1.key"
expect_out "ykcs11: a third: locked" 1 'wrong PIN for token YubiKey PIV #2000002 \(the PIN is now locked\)' \
	on pb "$SDTOOL" verify --sd-file "$T/sd4.json" --sd-wrapping-keys "$PIVB?pin-source=$T/badpin" \
	"$T/p/cert_1.key"
expect_out "ykcs11: even the right PIN is refused once blocked" 1 \
	'the PIN of token YubiKey PIV #2000002 is locked .*yubico-piv-tool -a unblock-pin' \
	on pb "$SDTOOL" verify --sd-file "$T/sd4.json" --sd-wrapping-keys "$PIVB$YPS" "$T/p/cert_1.key"
expect_out "card list says the PIN is locked" 0 'PIN LOCKED' on pb "$SDTOOL" card list

# The test stops what it started, and only that.
PIDS=$(cat "$T"/pa/pcscd.pid "$T"/pa/pivsim.pid "$T"/pb/pcscd.pid "$T"/pb/pivsim.pid 2>/dev/null)
check "the cards' pcscd and pivsim were running (pid files)" test "$(echo $PIDS | wc -w)" -eq 4
stop_cards
# (a process killed under load may take a moment to be gone: 10 s at most)
for _i in $(seq 100); do
	left=""
	for p in $PIDS; do running "$p" && left="$left $p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)"; done
	[ -z "$left" ] && break
	sleep 0.1
done
check "card.sh stop ends this test's pcscd and pivsim (left:$left)" test -z "$left"

done_testing
