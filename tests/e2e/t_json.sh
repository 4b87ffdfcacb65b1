#!/bin/bash
# One JSON vocabulary (sd-json(5)): every verb's --json output, on success
# and on failure, is ONE object that validates against
# docs/sd-json.schema.json, with verb, ok, error and sdtool_version.
. "$(dirname "$0")/lib.sh"
SCHEMA=$(cd "$E2E/../../docs" && pwd)/sd-json.schema.json

SERVE_PID=""
stop_server() {
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
		SERVE_PID=""
	fi
}
trap 'stop_server; rm -rf "$T"' EXIT

# valid NAME VERB STATUS CMD...: exits STATUS and its stdout is one report
# of VERB that validates; ok is true exactly when STATUS is 0.
valid() {
	_n=$1; _verb=$2; _st=$3; shift 3
	expect "$_n: exit $_st" "$_st" "$@"
	if _why=$($PY "$E2E/json_valid.py" "$SCHEMA" "$T/out" "$_verb" 2>&1); then
		ok "$_n: validates"
	else
		not_ok "$_n: validates" "$_why"
	fi
	_ok=$(jget "$T/out" 'j.get("ok")' 2>/dev/null)
	if { [ "$_st" -eq 0 ] && [ "$_ok" = True ]; } || { [ "$_st" -ne 0 ] && [ "$_ok" = False ]; }; then
		ok "$_n: ok is $_ok"
	else
		not_ok "$_n: ok is $_ok" "exit $_st"
	fi
}

# The validator is not vacuous: old shapes fail.
printf '{"sd_file": "x", "ok": true}\n' >"$T/old1.json"
check "schema: a report without verb/error fails" sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$E2E/json_valid.py" "$SCHEMA" "$T/old1.json"
printf '{"verb":"inspect","ok":true,"error":null,"sdtool_version":"0.1.0","version":2}\n' >"$T/old2.json"
check "schema: 'version' for the SD format fails" sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$E2E/json_valid.py" "$SCHEMA" "$T/old2.json"
printf '{"verb":"verify","ok":false,"error":null,"sdtool_version":"0.1.0"}\n' >"$T/old3.json"
check "schema: ok false needs an error object" sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$E2E/json_valid.py" "$SCHEMA" "$T/old3.json"
printf '[{"verb":"keygen"}]\n' >"$T/old4.json"
check "schema: an array (old keygen) fails" sh -c '! "$1" "$2" "$3" "$4" >/dev/null' _ "$PY" "$E2E/json_valid.py" "$SCHEMA" "$T/old4.json"

K=$T/k
valid "keygen" keygen 0 "$SDTOOL" keygen -n 3 -b 2048 -d "$K" --no-passphrase --json
valid "keygen: usage error" keygen 2 "$SDTOOL" keygen -n 1 --json
valid "keygen: existing files" keygen 1 "$SDTOOL" keygen -n 3 -b 2048 -d "$K" --no-passphrase --json
check "keygen error: code file_exists" [ "$(jget "$T/out" 'j["error"]["code"]')" = file_exists ]

valid "sim activate" sim 0 "$SDTOOL" sim activate --json --state "$T/hsm" --sd-wrapping-keys "$K"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd.json"
valid "sim activate: twice" sim 1 "$SDTOOL" sim activate --json --state "$T/hsm" --sd-wrapping-keys "$K"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd2.json"
valid "sim status" sim 0 "$SDTOOL" sim status --json --state "$T/hsm"
valid "sim status: no such state" sim 1 "$SDTOOL" sim status --json --state "$T/nothing"

valid "inspect SD" inspect 0 "$SDTOOL" inspect --json "$T/sd.json" "$K"/cert_[0-2].cer
valid "inspect: a certificate of no share" inspect 1 "$SDTOOL" inspect --json "$T/sd.json" "$V/keys/sd1.cer"
valid "inspect a certificate" inspect 0 "$SDTOOL" inspect --json "$K/cert_0.cer"
valid "inspect: --expect-sha256 differs" inspect 1 "$SDTOOL" inspect --json --expect-sha256 "$(printf '%064d' 0)" "$T/sd.json"
valid "inspect: missing file" inspect 1 "$SDTOOL" inspect --json "$T/none.json"
valid "inspect: usage" inspect 2 "$SDTOOL" inspect --json

valid "verify" verify 0 "$SDTOOL" verify --json --all --sd-file "$T/sd.json" --sd-wrapping-keys "$K"/cert_[0-2].key
valid "verify: a share not covered (--all)" verify 3 "$SDTOOL" verify --json --all --sd-file "$T/sd.json" --sd-wrapping-keys "$K"/cert_[0-1].key
valid "verify: not recoverable" verify 1 "$SDTOOL" verify --json --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key"
valid "verify --solo" verify 0 "$SDTOOL" verify --json --solo --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_2.key"
valid "verify: unreadable SD file" verify 1 "$SDTOOL" verify --json --sd-file "$T/none.json" --sd-wrapping-keys "$K/cert_0.key"
valid "verify: usage" verify 2 "$SDTOOL" verify --json --sd-file "$T/sd.json"
check "verify usage error: code usage" [ "$(jget "$T/out" 'j["error"]["code"]')" = usage ]

valid "sim init-recovery" sim 0 "$SDTOOL" sim init-recovery --json --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
valid "restore-blob" restore-blob 0 "$SDTOOL" restore-blob --json --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" --out "$T/blob.json"
valid "restore-blob: exists" restore-blob 1 "$SDTOOL" restore-blob --json --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" --out "$T/blob.json"
valid "inspect blob" inspect 0 "$SDTOOL" inspect --json "$T/blob.json" "$T/exch.cer"
valid "sim upload" sim 0 "$SDTOOL" sim upload --json --state "$T/hsm" --sd-file "$T/blob.json"
valid "sim upload: an SD file" sim 1 "$SDTOOL" sim upload --json --state "$T/hsm" --sd-file "$T/sd.json"

# reshare (issue 12) and ceremony (issue 13)
check "new officers' keys" make_keys "$T/n" 3
valid "reshare" reshare 0 "$SDTOOL" reshare --json --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" \
	--new-sd-wrapping-keys "$T/n"/cert_[0-2].cer --new-sd-quorum 2 --out "$T/sd-new.json"
valid "reshare: no SD file" reshare 1 "$SDTOOL" reshare --json --sd-file "$T/none.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" \
	--new-sd-wrapping-keys "$T/n"/cert_[0-2].cer --new-sd-quorum 2 --out "$T/sd-new2.json"
valid "reshare: usage" reshare 2 "$SDTOOL" reshare --json --sd-file "$T/sd.json"
valid "ceremony list" ceremony 0 "$SDTOOL" ceremony list --json

# escrow
printf 'sheet passphrase 4567\n' >"$T/sheetpass"
valid "escrow print" escrow 0 "$SDTOOL" escrow print --json --key "$K/cert_0.key" --format text --out "$T/sheet.txt" \
	--officer "Officer 0" --hsm ContosoMHSM --new-password-file "$T/sheetpass"
valid "escrow check" escrow 0 "$SDTOOL" escrow check --json --text "$T/sheet.txt" --cert "$K/cert_0.cer" --password-file "$T/sheetpass"
valid "escrow print: exists" escrow 1 "$SDTOOL" escrow print --json --key "$K/cert_0.key" --format text --out "$T/sheet.txt" \
	--new-password-file "$T/sheetpass"

# yk, with the software TEST YubiKey
cat >"$T/yk.soft" <<EOT
# sdtool software YubiKey: a TEST device; it protects nothing.
serial 1000001
slot2 303132333435363738393a3b3c3d3e3f40414243
EOT
valid "yk wrap" yk 0 env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/yk.soft" "$SDTOOL" yk wrap --json --key "$K/cert_2.key" --slot 2 --out "$T/c2.ykey"
valid "yk info" yk 0 "$SDTOOL" yk info --json "$T/c2.ykey"
valid "yk unwrap" yk 0 env SDTOOL_YK_SOFTWARE_SECRET_FILE="$T/yk.soft" "$SDTOOL" yk unwrap --json --in "$T/c2.ykey" --out "$T/c2.key" --no-passphrase
valid "yk info: not a .ykey" yk 1 "$SDTOOL" yk info --json "$T/sd.json"

# card: without a token (t_card.sh validates its success reports)
valid "card list: a module that is not there" card 1 "$SDTOOL" card list --json --pkcs11-module /nonexistent/libp11.so

# hsm, against sim serve over HTTPS on loopback
mkdir -p "$T/on"
cp "$K"/cert_[0-2].cer "$T/on/"
"$SDTOOL" sim serve --state "$T/hsm9" --retry-after 0 >"$T/hsm9.log" 2>&1 &
SERVE_PID=$!
for _i in $(seq 200); do
	[ -s "$T/hsm9/serve.url" ] && break
	kill -0 "$SERVE_PID" 2>/dev/null || break
	sleep 0.1
done
if [ -s "$T/hsm9/serve.url" ]; then
	C=(--hsm-url "$(cat "$T/hsm9/serve.url")" --cacert "$T/hsm9/tls-ca.pem" --access-token-file "$T/hsm9/token" --timeout 60)
	valid "hsm download" hsm 0 "$SDTOOL" hsm download --json "${C[@]}" --poll-interval 0 \
		--sd-wrapping-keys "$T/on"/cert_[0-2].cer --sd-quorum 2 --security-domain-file "$T/on/sd.json"
	valid "hsm status" hsm 0 "$SDTOOL" hsm status --json "${C[@]}"
	valid "hsm download: again" hsm 1 "$SDTOOL" hsm download --json "${C[@]}" --poll-interval 0 \
		--sd-wrapping-keys "$T/on"/cert_[0-2].cer --sd-quorum 2 --security-domain-file "$T/on/sd.json"
else
	not_ok "sim serve starts" "$(head -c 400 "$T/hsm9.log")"
fi
stop_server
valid "hsm: usage" hsm 2 "$SDTOOL" hsm download --json

done_testing
