#!/bin/sh
# t_keybackup.sh - verify --key-backup: the real 2023-05 key backup opens
# with any two of its SD file's keys and names the key created in the same
# session; a backup of another HSM, a damaged one and something that is
# not a backup are each refused with one clear line and exit 1.
. "$(dirname "$0")/lib.sh"

SD=$V/2023-05/sd.json
BODY=$V/2023-05/key_backup_response.json
# The raw file `az keyvault key backup --file` writes: base64url-decoded value.
$PY -c "import json,base64,sys; v=json.load(open(sys.argv[1]))['value']; \
open(sys.argv[2],'wb').write(base64.urlsafe_b64decode(v+'='*(-len(v)%4)))" "$BODY" "$T/kb.raw"
# The public key created in that session, fingerprinted independently.
WANT=$($PY -c "
import json,base64,hashlib,sys
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives import serialization
k=json.load(open(sys.argv[1]))['key']
d=lambda s:int.from_bytes(base64.urlsafe_b64decode(s+'='*(-len(s)%4)),'big')
p=RSAPublicNumbers(d(k['e']),d(k['n'])).public_key()
print(hashlib.sha256(p.public_bytes(serialization.Encoding.DER,
    serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest())" "$V/2023-05/key_create_response.json")
VID=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['key']['kid'].rsplit('/',1)[1])" "$V/2023-05/key_create_response.json")

for pair in "1 2" "1 3" "2 3"; do
	set -- $pair
	keys="$V/keys/sd$1.key $V/keys/sd$2.key"
	expect "keys $1+$2: REST body and raw file open" 0 \
		"$SDTOOL" verify --json --sd-file "$SD" --sd-wrapping-keys $keys \
		--key-backup "$BODY" "$T/kb.raw"
	cp "$T/out" "$T/j.json"
	check "keys $1+$2: both report the created key's public key" \
		[ "$(jget "$T/j.json" "' '.join(b['key']['public_key_sha256'] for b in j['key_backups'])")" = "$WANT $WANT" ]
	check "keys $1+$2: version id of the created key" \
		[ "$(jget "$T/j.json" "j['key_backups'][1]['key']['version_id']")" = "$VID" ]
	check "keys $1+$2: RSA-HSM 2048, dates, tenant, host" \
		[ "$(jget "$T/j.json" "'%s %s %s %s %s %s' % (j['key_backups'][0]['key']['kty'], j['key_backups'][0]['key']['bits'], j['key_backups'][0]['key']['created'], j['key_backups'][0]['tenant_id'], j['key_backups'][0]['host'], j['ok'])")" = \
		"RSA-HSM 2048 2023-05-12T03:48:01Z 54826b22-38d6-4fb2-bad9-b7b93a3e9c5a test-mhsm-sd1nlwg74fox34.managedhsm.azure.net True" ]
done
check "the report validates against the JSON schema" $PY "$E2E/json_valid.py" "$E2E/../../docs/sd-json.schema.json" "$T/j.json" verify
check "the sdid is reported" \
	[ "$(jget "$T/j.json" "j['sdid']")" = "1:M-HSM:0c0a9a34-95b5-4416-acb2-a7a9d045a587:2870e5" ]
check "the sha256 of the file read" \
	[ "$(jget "$T/j.json" "j['key_backups'][1]['sha256']")" = "$(sha256sum <"$T/kb.raw" | cut -d' ' -f1)" ]
# Nothing of masked_objects (the private part, still masked) is shown.
check "no masked_objects in the report" sh -c "! grep -q masked '$T/j.json'"

expect_out "text report names the key" 0 '^  key backup .*kb.raw: opens with this SD: key keyr3lx3z7 version '"$VID"', RSA-HSM 2048 bits' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$T/kb.raw"
check "text report: fingerprint" grep -q "public key SHA-256 $WANT" "$T/out"

# A backup of another HSM: the 2023-05 backup against the 2022-08 SD file.
expect_err "another HSM's backup is refused" 1 \
	"kb.raw: key backup not opened: does not open with this security domain's backup protection key" \
	"$SDTOOL" verify --sd-file "$V/2022-08/sd.json" --sd-wrapping-keys "$V/certs/cert_0.key" "$V/certs/cert_1.key" --key-backup "$T/kb.raw"
check "... on one line" [ "$(grep -c 'key backup not opened' "$T/err")" -eq 1 ]
check "... and FAILED on stdout" grep -q '^FAILED: 1 of 1 key backup do not open' "$T/out"
expect "another HSM's backup: --json" 1 \
	"$SDTOOL" verify --json --sd-file "$V/2022-08/sd.json" --sd-wrapping-keys "$V/certs/cert_0.key" "$V/certs/cert_1.key" --key-backup "$BODY"
check "... the failure report validates too" $PY "$E2E/json_valid.py" "$E2E/../../docs/sd-json.schema.json" "$T/out" verify
check "... status wrong_security_domain, ok false" \
	[ "$(jget "$T/out" "'%s %s %s' % (j['key_backups'][0]['status'], j['key_backups'][0]['error']['code'], j['ok'])")" = "wrong_security_domain wrong_security_domain False" ]

# Damaged: one character of the ciphertext changed; cut short.
$PY -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); i=len(b)-200; b[i]=ord('A') if b[i]!=ord('A') else ord('B'); open(sys.argv[2],'wb').write(b)" "$T/kb.raw" "$T/flip.raw"
head -c 8000 "$T/kb.raw" >"$T/cut.raw"
expect_err "altered backup refused" 1 "flip.raw: key backup not opened: does not open" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$T/flip.raw"
expect_err "truncated backup: damaged" 1 "cut.raw: key backup not opened: damaged" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$T/cut.raw"
expect_err "the SD file given as a backup" 1 "sd.json: key backup not opened: not a key backup" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$SD"
expect_err "a missing file" 1 "nope.bin: key backup not opened" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$T/nope.bin"
# One bad among good: still exit 1, the good one still reported.
expect "one bad among good fails" 1 \
	"$SDTOOL" verify --json --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" --key-backup "$T/kb.raw" "$T/cut.raw"
check "... the good one opened, the bad one damaged" \
	[ "$(jget "$T/out" "' '.join(b['status'] for b in j['key_backups'])")" = "opened damaged" ]
# No quorum: not checked, exit 1.
expect_err "one key only: backups not checked" 1 "key backup not opened: no quorum" \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$V/keys/sd1.key" --key-backup "$T/kb.raw"

# inspect with a quorum: the SD's identity and the names of its keys.
expect_out "inspect with a quorum shows the sdid" 0 '^  sdid:   1:M-HSM:0c0a9a34-95b5-4416-acb2-a7a9d045a587:2870e5$' \
	"$SDTOOL" inspect "$SD" --sd-wrapping-keys "$V/keys/sd2.key" "$V/keys/sd3.key"
check "... and the keys' kids" grep -q 'key backup_protection_key: kid backup-protection-key, kty oct' "$T/out"
expect "inspect --json with a quorum" 0 "$SDTOOL" inspect --json "$SD" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key"
check "... contents: opaque hsm_backup, pool key kid" \
	[ "$(jget "$T/out" "'%s %s' % (j['contents']['items'][0]['format'], j['contents']['items'][1]['keys'][0]['kid'])")" = "opaque pool-protection-key/0c0a9a34-95b5-4416-acb2-a7a9d045a587" ]
check "... never a key value" sh -c "! grep -q '\"k\"' '$T/out'"
expect_err "inspect with one key: refused, says why" 1 'only 1 of the 2 shares needed were opened' \
	"$SDTOOL" inspect "$SD" --sd-wrapping-keys "$V/keys/sd1.key"
check "two SD files told apart by sdid" sh -c "'$SDTOOL' inspect '$V/2022-08/sd.json' --sd-wrapping-keys '$V/certs/cert_0.key' '$V/certs/cert_1.key' 2>/dev/null | grep '^  sdid:' | grep -vq 0c0a9a34"

done_testing
