#!/bin/bash
# t_simkeys.sh - key backups through the simulated HSM, end to end: a
# canary key created and backed up in one HSM (sdtool hsm key-create,
# key-backup against sdtool sim serve), checked offline against its SD file
# (verify --key-backup), restored into a second, new simulated HSM after
# the SD was recovered into it; a backup from another HSM refused offline
# and online, each with one clear line and a non-zero exit.
. "$(dirname "$0")/lib.sh"

PIDS=""
stop_servers() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=""
}
trap 'stop_servers; rm -rf "$T"' EXIT

# serve DIR: start a simulated HSM on DIR; sets C_<name> connection options.
serve() {
	_dir=$1
	rm -f "$_dir/serve.url"
	"$SDTOOL" sim serve --state "$_dir" --retry-after 0 >"$_dir.log" 2>&1 &
	PIDS="$PIDS $!"
	for _i in $(seq 200); do
		[ -s "$_dir/serve.url" ] && break
		sleep 0.1
	done
	[ -s "$_dir/serve.url" ] || { not_ok "sim serve $_dir starts" "$(head -c 400 "$_dir.log")"; return 1; }
}
conn() { echo "--hsm-url $(cat "$1/serve.url") --cacert $1/tls-ca.pem --access-token-file $1/token --timeout 120 --poll-interval 0"; }

check "officers' keys" make_keys "$T/k" 3
CERTS="$T/k/cert_0.cer $T/k/cert_1.cer $T/k/cert_2.cer"
serve "$T/hsm1" || exit 1
serve "$T/hsm2" || exit 1
serve "$T/other" || exit 1
H1=$(conn "$T/hsm1"); H2=$(conn "$T/hsm2"); HO=$(conn "$T/other")

expect "activate hsm1" 0 "$SDTOOL" hsm download $H1 --sd-wrapping-keys $CERTS --sd-quorum 2 --security-domain-file "$T/sd.json"
expect "activate another HSM" 0 "$SDTOOL" hsm download $HO --sd-wrapping-keys $CERTS --sd-quorum 2 --security-domain-file "$T/sd-other.json"
check "the enclave items are kept private" [ "$(stat -c %a "$T/hsm1/partition_enclave_backup.bson")" = 600 ]

# The SD's data items have the service's structure.
expect "inspect-free check: verify opens the SD" 0 "$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$T/k/cert_0.key" "$T/k/cert_1.key"

expect "key-create canary" 0 "$SDTOOL" hsm key-create $H1 --name canary --json
cp "$T/out" "$T/create.json"
check "key-create --json validates" $PY "$E2E/json_valid.py" "$E2E/../../docs/sd-json.schema.json" "$T/create.json" hsm
check "key-create: RSA-HSM 2048 with a kid" [ "$(jget "$T/create.json" "'%s %s %s' % (j['kty'], j['bits'], j['kid'].split('/')[-2])")" = "RSA-HSM 2048 canary" ]
FP=$(jget "$T/create.json" "j['public_key_sha256']")
VID=$(jget "$T/create.json" "j['kid'].split('/')[-1]")
expect "key-create refuses an existing name" 1 "$SDTOOL" hsm key-create $H1 --name canary
expect "key-create refuses a bad name" 2 "$SDTOOL" hsm key-create $H1 --name "can ary"
check "create was sent with api-version 7.4-preview.1" grep -q 'POST /keys/canary/create?api-version=7.4-preview.1 -> 200' "$T/hsm1.log"

expect "key-backup" 0 "$SDTOOL" hsm key-backup $H1 --name canary --file "$T/canary.bak"
check "the backup file is the raw JWE, as az writes it" sh -c "head -c 20 '$T/canary.bak' | grep -q '^eyJhbGciOiJkaXIi'"
expect_err "key-backup never overwrites" 1 'already exists' \
	"$SDTOOL" hsm key-backup $H1 --name canary --file "$T/canary.bak"
expect_err "key-backup of a missing key: 404" 1 'HTTP 404' \
	"$SDTOOL" hsm key-backup $H1 --name nosuch --file "$T/nosuch.bak"
check "... and no file" [ ! -e "$T/nosuch.bak" ]
expect "other HSM's canary and backup" 0 sh -c "'$SDTOOL' hsm key-create $HO --name canary >/dev/null && '$SDTOOL' hsm key-backup $HO --name canary --file '$T/other.bak'"

# Offline: the backup opens with the SD file, and names the canary.
expect "verify --key-backup: the canary opens with its SD" 0 \
	"$SDTOOL" verify --json --sd-file "$T/sd.json" --sd-wrapping-keys "$T/k/cert_1.key" "$T/k/cert_2.key" --key-backup "$T/canary.bak"
check "... the same public key and version as created" \
	[ "$(jget "$T/out" "'%s %s %s' % (j['key_backups'][0]['key']['public_key_sha256'], j['key_backups'][0]['key']['version_id'], j['key_backups'][0]['key']['name'])")" = "$FP $VID canary" ]
check "... sdid of the simulated SD" sh -c "$PY -c \"import json,sys; j=json.load(open('$T/out')); sys.exit(0 if j['sdid'].startswith('1:M-HSM:') else 1)\""
expect_err "another HSM's backup refused offline" 1 \
	"other.bak: key backup not opened: does not open with this security domain's backup protection key" \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$T/k/cert_1.key" "$T/k/cert_2.key" --key-backup "$T/other.bak"
check "... one line on stderr" [ "$(wc -l <"$T/err")" -eq 1 ]

# Recovery into a second, new HSM (its own state directory and server).
expect "hsm2 (new) enters recovery" 0 "$SDTOOL" hsm init-recovery $H2 --sd-exchange-key "$T/exch.cer"
expect "restore-blob for hsm2" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$T/k/cert_0.key" "$T/k/cert_2.key" --out "$T/blob.json"
expect_err "before the SD is restored, hsm2 refuses the canary" 1 'holds no security domain' \
	"$SDTOOL" hsm key-restore $H2 --file "$T/canary.bak"
expect "upload to hsm2" 0 "$SDTOOL" hsm upload $H2 --sd-file "$T/blob.json"
expect_err "another HSM's backup refused online" 1 \
	"HTTP 400 .*not made under this HSM's security domain" \
	"$SDTOOL" hsm key-restore $H2 --file "$T/other.bak"
expect "the canary restores into hsm2" 0 "$SDTOOL" hsm key-restore $H2 --file "$T/canary.bak" --json
check "key-restore --json validates" $PY "$E2E/json_valid.py" "$E2E/../../docs/sd-json.schema.json" "$T/out" hsm
check "... the same key (public key, version)" \
	[ "$(jget "$T/out" "'%s %s' % (j['public_key_sha256'], j['kid'].split('/')[-1])")" = "$FP $VID" ]
# The REST body form is accepted too, and a second restore conflicts.
$PY -c "import base64,json,sys; print(json.dumps({'value': base64.urlsafe_b64encode(open(sys.argv[1],'rb').read()).decode().rstrip('=')}))" "$T/canary.bak" >"$T/canary.json"
expect_err "restoring it twice: 409" 1 'HTTP 409' "$SDTOOL" hsm key-restore $H2 --file "$T/canary.json"
expect_err "key-restore of something else" 1 'not a key backup' "$SDTOOL" hsm key-restore $H2 --file "$T/sd.json"
check "backup and restore were sent with api-version 7.0" sh -c "grep -q 'POST /keys/canary/backup?api-version=7.0 -> 200' '$T/hsm1.log' && grep -q 'POST /keys/restore?api-version=7.0 -> 200' '$T/hsm2.log'"
# hsm1 itself refuses the other HSM's backup too.
expect "hsm1 refuses the other HSM's backup" 1 "$SDTOOL" hsm key-restore $H1 --file "$T/other.bak"

done_testing
