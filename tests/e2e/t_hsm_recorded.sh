#!/bin/bash
# `sdtool hsm` against a server that answers exactly as recordings of the
# real Managed HSM service show, and 404 to anything never recorded
# (tests/e2e/recorded_hsm.py, built from issue 10's facts and the real
# vector files, not from `sdtool sim serve`): download on the 2020 build
# (synchronous 200) and the 2022/2023 builds (202, an advertised
# download/pending that is not there, polled through upload/pending), the
# 401 challenge naming a tenant, init-recovery writing the recorded
# exchange certificate, upload on the 2020 (Succeeded, statusDetails) and
# 2023 builds, and azure-cli's one-step upload with keys on a SoftHSM2
# token.
. "$(dirname "$0")/lib.sh"

SRV_PID=""
stop_srv() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
		SRV_PID=""
	fi
}
trap 'stop_srv; rm -rf "$T"' EXIT

NSRV=0
TENANT=0c1a7fc6-8f0e-4b9a-9d31-5e2b6f1d2a77
# recorded SCENARIO: start the fake service in $T/SCENARIO; sets URL, D, C.
recorded() {
	stop_srv
	D=$T/$1.$((++NSRV))
	mkdir -p "$D"
	echo tok-good >"$D/token"
	echo "$TENANT" >"$D/tenant"
	$PY "$E2E/recorded_hsm.py" "$1" "$V" "$D" 2>"$D/stderr" &
	SRV_PID=$!
	for _i in $(seq 100); do
		[ -s "$D/port" ] && break
		sleep 0.1
	done
	if [ ! -s "$D/port" ]; then
		not_ok "recorded $1 starts" "$(head -c 400 "$D/stderr")"
		return 1
	fi
	URL=http://127.0.0.1:$(cat "$D/port")
	C=(--hsm-url "$URL" --access-token-file "$D/token" --timeout 60 --poll-interval 0)
}
# log PATTERN: how many requests of the current server match.
log() { grep -c -- "$1" "$D/log"; }

# --- download, every recorded build ------------------------------------------
for b in 2020-09:keys/sd 2022-08:certs/cert_ 2023-05:keys/sd; do
	folder=${b%%:*}; pre=${b#*:}
	case $pre in keys/sd) certs=("$V/keys/sd1.cer" "$V/keys/sd2.cer" "$V/keys/sd3.cer") ;;
		*) certs=("$V/certs/cert_0.cer" "$V/certs/cert_1.cer" "$V/certs/cert_2.cer") ;; esac
	year=${folder%%-*}
	recorded "download-$year" || continue
	expect "$folder: hsm download exits 0" 0 "$SDTOOL" hsm download --json "${C[@]}" \
		--sd-wrapping-keys "${certs[@]}" --sd-quorum 2 --security-domain-file "$T/sd-$year.json"
	check "$folder: the SD file is the service's, byte for byte" cmp -s "$T/sd-$year.json" "$V/$folder/sd.json"
	check "$folder: the JSON report fits the shared schema" $PY "$E2E/json_valid.py" \
		"$E2E/../../docs/sd-json.schema.json" "$T/out" hsm
	check "$folder: every request used api-version=7.2" sh -c "! grep -v 'api-version=7.2' '$D/log' | grep -q ."
	if [ "$year" = 2020 ]; then
		check "$folder: a synchronous 200 is final: nothing polled" [ "$(log pending)" = 0 ]
		check "$folder: ... reported complete" [ "$(jget "$T/out" 'j["activation"]')" = complete ]
		check "$folder: ... one request in all" [ "$(grep -c . "$D/log")" = 1 ]
	else
		check "$folder: the advertised download/pending was tried once (404)" \
			[ "$(log 'GET /securitydomain/download/pending?api-version=7.2 -> 404')" = 1 ]
		check "$folder: polled through upload/pending: 16 InProgress, then Success" \
			[ "$(log 'GET /securitydomain/upload/pending?api-version=7.2 -> 200')" = 17 ]
		check "$folder: ... reported Success with the service's words" [ "$(jget "$T/out" \
			'(j["activation"], j["status_details"])')" = "('Success', 'The resource is active.')" ]
		check "$folder: no other 404" [ "$(log ' -> 404')" = 1 ]
	fi
done

# --- the 401 challenge ---------------------------------------------------------
CERTS=("$V/keys/sd1.cer" "$V/keys/sd2.cer" "$V/keys/sd3.cer")
recorded download-2023 || exit 1
echo tok-stale >"$T/stale"
expect_err "a refused token file: the challenge's tenant and resource named" 1 \
	"asks for a token of tenant $TENANT for resource https://managedhsm.azure.net.*--tenant $TENANT" \
	"$SDTOOL" hsm download "${C[@]}" --access-token-file "$T/stale" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$T/x.json"
check "... no file" [ ! -e "$T/x.json" ]
check "... the token is never printed" sh -c "! grep -q tok-stale '$T/out' '$T/err'"
# az: a stand-in that gives the right token only for the tenant asked
recorded download-2023 || exit 1
mkdir -p "$T/bin"
cat >"$T/bin/az" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/az-args"
case "\$*" in
*"--tenant $TENANT"*) echo tok-good ;;
*) echo tok-stale ;;
esac
EOF
chmod 755 "$T/bin/az"
run env -u SDTOOL_ACCESS_TOKEN PATH="$T/bin:/usr/bin:/bin" "$SDTOOL" hsm download --hsm-url "$URL" \
	--timeout 60 --poll-interval 0 --sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 \
	--security-domain-file "$T/sd-challenge.json"
check "az's token refused: fetched again for the tenant named, and activated" [ "$RC" = 0 ]
check "... the SD file, byte for byte" cmp -s "$T/sd-challenge.json" "$V/2023-05/sd.json"
check "... az was asked for that tenant and resource" grep -qx \
	"account get-access-token --resource https://managedhsm.azure.net --query accessToken --output tsv --tenant $TENANT" "$T/az-args"
check "... twice in all (the first token, then the tenant's)" [ "$(grep -c . "$T/az-args")" = 2 ]
check "... the user was told" grep -q "asks for a token of tenant $TENANT" "$T/err"
check "... one 401, then the same POST with the new token" [ "$(log 'POST /securitydomain/download?api-version=7.2 -> 401')" = 1 ]
check "... no token on any command line or output" sh -c "! grep -q tok- '$T/az-args' '$T/out' '$T/err'"

# --- hsm status and wait, as recorded ------------------------------------------
expect_out "hsm status: download/pending is not there, upload/pending reports the activation" 0 \
	'^download: Success: The resource is active.  \(as /securitydomain/upload/pending reports it\)' \
	"$SDTOOL" hsm status "${C[@]}"
check "... and the upload line too" grep -q '^upload: Success' "$T/out"
recorded recovery-2023 || exit 1
run "$SDTOOL" hsm status "${C[@]}"
check "hsm status before any operation (every query 404): exit 1" [ "$RC" = 1 ]
check "... both operations still shown" sh -c "grep -q '^download: unknown' '$T/out' && grep -q '^upload: unknown' '$T/out'"
run "$SDTOOL" hsm status --json "${C[@]}"
check "... the JSON report fits the shared schema" $PY "$E2E/json_valid.py" \
	"$E2E/../../docs/sd-json.schema.json" "$T/out" hsm
check "... and in JSON, each with its error" [ "$(jget "$T/out" \
	'(j["ok"], j["download"]["error"]["code"], j["upload"]["error"]["code"])')" = \
	"(False, 'query_failed', 'query_failed')" ]

# --- recovery: init-recovery and upload, 2020 and 2023 ---------------------------
for folder in 2020-09 2023-05; do
	year=${folder%%-*}
	recorded "recovery-$year" || continue
	expect "$folder: hsm init-recovery" 0 "$SDTOOL" hsm init-recovery --json "${C[@]}" \
		--sd-exchange-key "$T/exch-$year.pem"
	check "$folder: it wrote the recorded exchange certificate" $PY - "$T/exch-$year.pem" \
		"$V/$folder/transfer_key_response.json" <<'EOF'
import base64, json, subprocess, sys
der = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-outform", "DER"],
                     capture_output=True, check=True).stdout
tk = json.loads(json.load(open(sys.argv[2]))["transfer_key"])
assert der == base64.b64decode(tk["x5c"][0])
EOF
	$PY -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["value"])' \
		"$V/$folder/upload_request.json" >"$T/blob-$year.json"
	expect_out "$folder: hsm upload of the recorded blob" 0 'restored \(status Succ' \
		"$SDTOOL" hsm upload "${C[@]}" --sd-file "$T/blob-$year.json"
	if [ "$year" = 2020 ]; then
		check "$folder: Succeeded / statusDetails understood" grep -q \
			'restored (status Succeeded: Security Domain operation complete)' "$T/out"
		check "$folder: the async URL without api-version was followed (with it added)" \
			[ "$(log 'GET /securitydomain/upload/pending?api-version=7.2 -> 200')" = 4 ]
	else
		check "$folder: Success after 20 InProgress" grep -q \
			'restored (status Success: The resource is active.)' "$T/out"
		check "$folder: 21 polls" [ "$(log 'GET /securitydomain/upload/pending?api-version=7.2 -> 200')" = 21 ]
	fi
	check "$folder: the blob went as azure-cli sent it (the same value)" $PY -c '
import json, sys
assert json.load(open(sys.argv[1]))["value"] == json.load(open(sys.argv[2]))["value"]' \
		"$D/uploaded.json" "$V/$folder/upload_request.json"
	check "$folder: no 404" [ "$(log ' -> 404')" = 0 ]
	expect_out "$folder: hsm wait: the restore is over" 0 '^upload: Succ' "$SDTOOL" hsm wait "${C[@]}"
	expect "$folder: hsm wait --json" 0 "$SDTOOL" hsm wait --json "${C[@]}"
	check "$folder: ... fits the shared schema" $PY "$E2E/json_valid.py" \
		"$E2E/../../docs/sd-json.schema.json" "$T/out" hsm
	check "$folder: ... status in snake_case, the service's word beside it" \
		[ "$(jget "$T/out" '(j["status"], j["service_status"])')" = "$([ "$year" = 2020 ] && \
		echo "('succeeded', 'Succeeded')" || echo "('success', 'Success')")" ]
done

# --- azure-cli's one-step upload, keys on a SoftHSM2 token ------------------------
SOFTHSM=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && { SOFTHSM=$m; break; }
done
recorded recovery-2023 || exit 1
if [ -n "$SOFTHSM" ] && command -v softhsm2-util >/dev/null; then
	mkdir -p "$T/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$T" >"$T/softhsm2.conf"
	export SOFTHSM2_CONF=$T/softhsm2.conf SDTOOL_PKCS11_MODULE=$SOFTHSM
	softhsm2-util --init-token --free --label officer1 --pin 123456 --so-pin 12345678 >/dev/null
	echo 123456 >"$T/pin"
	cp "$V/keys/sd1.key" "$V/keys/sd1.cer" "$T/"
	expect "the service's test key sd1 onto a SoftHSM2 token" 0 "$SDTOOL" card import \
		--key "$T/sd1.key" --token "pkcs11:token=officer1?pin-source=$T/pin"
	KEY1="pkcs11:token=officer1;object=sd1?pin-source=$T/pin"
	CARD="a SoftHSM2 token key and a key file"
else
	not_ok "SoftHSM2 is installed (make deps)" "the one-step upload is tested with key files only"
	KEY1=$V/keys/sd1.key
	CARD="key files"
fi
expect_err "one step: --passwords is refused, pointing to --password-file" 2 'passwords: .*--password-file' \
	"$SDTOOL" hsm upload "${C[@]}" --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$KEY1" "$V/keys/sd3.key" \
	--passwords a b
check "... nothing sent" [ ! -s "$D/log" ]
expect_err "one step: an exchange certificate that is not the HSM's is refused" 1 'is not the one that certificate came from' \
	"$SDTOOL" hsm upload "${C[@]}" --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$KEY1" "$V/keys/sd3.key" \
	--sd-exchange-key "$T/exch-2020.pem"
check "... nothing uploaded" [ "$(log 'POST')" = 0 ]
expect "one step with $CARD: fetch the exchange key, make the blob here, upload" 0 \
	"$SDTOOL" hsm upload "${C[@]}" --sd-file "$V/2023-05/sd.json" \
	--sd-wrapping-keys "$KEY1" "$V/keys/sd3.key" --sd-exchange-key "$T/exch-2023.pem"
check "... the exchange key's thumbprint printed" grep -q '^  x5t_256 31MlAINlbWjfth0F2I-ZiEhhmd4L04jeVaS315GEgWU$' "$T/out"
check "... each key's fate told" sh -c "grep -q '^key .*sd1.*opened share' '$T/err' && grep -q '^key .*sd3.key: opened share' '$T/err'"
check "... restored as recorded" grep -q 'restored (status Success: The resource is active.)' "$T/out"
check "... the blob sent is for the recorded exchange key, with 3 data items" $PY - "$D/uploaded.json" <<'EOF'
import json, sys
b = json.loads(json.load(open(sys.argv[1]))["value"])
assert b["WrappedKey"]["x5t_256"] == "31MlAINlbWjfth0F2I-ZiEhhmd4L04jeVaS315GEgWU"
assert [d["tag"] for d in b["EncData"]["data"]] == ["hsm_backup", "base_enclave_backup", "partition_enclave_backup"]
EOF
check "... no blob left on disk" sh -c "! ls '$T' | grep -qi blob-one"

done_testing
