#!/bin/bash
# The online module, `sdtool hsm`, against `sdtool sim serve` over HTTPS on
# loopback: the whole activation and recovery with the offline and online
# halves in separate directories, every injected fault either retried to
# success or reported clearly (and never a partial or overwritten SD file),
# wrong and missing tokens, and the certificate sets the service refuses.
#
# Every server is started in the background with its pid kept, and killed
# by the EXIT trap; waits are bounded.
. "$(dirname "$0")/lib.sh"

SERVE_PID=""
stop_server() {
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
		SERVE_PID=""
	fi
}
trap 'stop_server; rm -rf "$T"' EXIT

# serve DIR [OPTION...]: start a simulated HSM serving DIR, wait (at most
# 20 s) until it listens; sets URL and C, the client's connection options.
serve() {
	stop_server
	_dir=$1; shift
	rm -f "$_dir/serve.url"
	"$SDTOOL" sim serve --state "$_dir" "$@" >"$_dir.log" 2>&1 &
	SERVE_PID=$!
	for _i in $(seq 200); do
		[ -s "$_dir/serve.url" ] && break
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$_dir/serve.url" ]; then
		not_ok "sim serve $_dir starts" "$(head -c 400 "$_dir.log")"
		return 1
	fi
	URL=$(cat "$_dir/serve.url")
	C=(--hsm-url "$URL" --cacert "$_dir/tls-ca.pem" --access-token-file "$_dir/token"
		--timeout 120)
}
# the waiting verbs poll without pause (the simulator's Retry-After aside)
P=(--poll-interval 0)

# whole SD: the file parses as an SD file, as inspect reads it.
whole() { "$SDTOOL" inspect "$1" >/dev/null 2>&1; }

# requests DIR PATTERN: how many logged requests of DIR's server match.
requests() { grep -c -- "$2" "$1.log"; }

OFF=$T/offline          # the air-gapped machine: keys, never online
ON=$T/online            # the networked machine: certificates and files only
mkdir -p "$OFF" "$ON"
check "officers' keys (offline)" make_keys "$OFF" 3
cp "$OFF"/cert_[0-2].cer "$ON"/
CERTS=("$ON/cert_0.cer" "$ON/cert_1.cer" "$ON/cert_2.cer")

# --- the whole drill ------------------------------------------------------
serve "$T/hsm1" || exit 1
check "the server wrote its token with mode 0600" [ "$(stat -c %a "$T/hsm1/token")" = 600 ]
check "the server's TLS key is private" [ "$(stat -c %a "$T/hsm1/tls-server.key")" = 600 ]
check "the CA's private key is not kept" sh -c "! grep -l 'PRIVATE KEY' '$T/hsm1/tls-ca.pem'"
expect "hsm download (activation) over HTTPS" 0 "$SDTOOL" hsm download --json "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$ON/Contoso-SD.json"
check "... reports Success and passing checks" [ "$(jget "$T/out" '(j["verb"], j["ok"], j["error"], j["activation"], j["checks"], j["quorum"])')" = "('hsm', True, None, 'Success', 'ok', {'required': 2, 'shares': 3})" ]
check "... with the SD file's SHA-256" [ "$(jget "$T/out" 'j["sd_sha256"]')" = "$(sha256sum "$ON/Contoso-SD.json" | cut -d' ' -f1)" ]
check "... and the certificates' thumbprints in order" [ "$(jget "$T/out" 'j["certificates"]')" = "$(jget "$T/hsm1/state.json" 'j["certificates"]')" ]
check "the SD file is the service's format, compact" $PY -c "
import json,sys
t=open(sys.argv[1]).read(); j=json.loads(t)
assert t == json.dumps(j, separators=(',',':')) and list(j) == ['EncData','SharedKeys','version']
" "$ON/Contoso-SD.json"
check "the online machine holds no private key" sh -c "! grep -rl 'PRIVATE KEY' '$ON'"
expect_out "inspect: quorum 2 of 3, one share per officer" 0 'quorum:   2 of 3 shares' \
	"$SDTOOL" inspect "$ON/Contoso-SD.json" "${CERTS[@]}"
check "... no warnings" sh -c "! grep -q warnings: '$T/out'"
cp "$ON/Contoso-SD.json" "$OFF/"
expect_out "verify offline: every quorum opens it" 0 '^OK: every quorum' "$SDTOOL" verify \
	--sd-file "$OFF/Contoso-SD.json" --sd-wrapping-keys "$OFF"/cert_[0-2].key
expect_out "hsm status download: Success" 0 '^download: Success' "$SDTOOL" hsm status "${C[@]}" download
expect_out "hsm status: upload/pending reports the activation, as recorded" 0 '^upload: Success: The resource is active' "$SDTOOL" hsm status "${C[@]}"
expect "hsm download again: refused by the activated HSM" 1 "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$ON/again.json"
check "... with the service's conflict, and no file" sh -c "grep -q 'HTTP 409' '$T/err' && [ ! -e '$ON/again.json' ]"

expect_out "hsm init-recovery prints the exchange key thumbprint" 0 'x5t_256 [A-Za-z0-9_-]{43}' \
	"$SDTOOL" hsm init-recovery "${C[@]}" --sd-exchange-key "$ON/exchange.cer"
x5t_online=$(sed -n 's/^  x5t_256 //p' "$T/out")
cp "$ON/exchange.cer" "$OFF/"
expect "inspect the carried copy offline" 0 "$SDTOOL" inspect --json "$OFF/exchange.cer"
check "... the same thumbprint, read aloud" [ "$(jget "$T/out" 'j["x5t_256"]')" = "$x5t_online" ]
check "... the simulated HSM's own exchange key" cmp -s "$ON/exchange.cer" "$T/hsm1/exchange.cer"
expect_err "init-recovery never overwrites" 1 'already exists; not overwriting' \
	"$SDTOOL" hsm init-recovery "${C[@]}" --sd-exchange-key "$ON/exchange.cer"
expect "restore-blob offline with officers 0 and 2" 0 "$SDTOOL" restore-blob --sd-file "$OFF/Contoso-SD.json" \
	--sd-exchange-key "$OFF/exchange.cer" --sd-wrapping-keys "$OFF/cert_0.key" "$OFF/cert_2.key" \
	--out "$OFF/restore-blob.json"
cp "$OFF/restore-blob.json" "$ON/"
expect_err "hsm upload refuses the SD file given by mistake" 1 \
	'Contoso-SD.json: this is a security-domain file, not a restore blob' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$ON/Contoso-SD.json"
check "... before sending anything" [ "$(requests "$T/hsm1" 'POST /securitydomain/upload')" = 0 ]
expect_out "hsm upload: the HSM restores" 0 'restored \(status Success: The resource is active.\)' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$ON/restore-blob.json" --restore-blob
expect "the simulator confirms the restored data" 0 "$SDTOOL" sim status --json --state "$T/hsm1"
check "... status restored" [ "$(jget "$T/out" 'j["status"]')" = restored ]
expect_out "hsm status upload: Success" 0 '^upload: Success' "$SDTOOL" hsm status "${C[@]}" upload
check "no temporary files on the online machine" no_temp_files "$ON"
check "the token appears in no output and no log" sh -c "! grep -rqF \"\$(cat '$T/hsm1/token')\" '$T/out' '$T/err' '$T/hsm1.log'"

# A blob for another HSM's exchange key is caught before it is uploaded,
# and one with the wrong data is refused by the HSM, reported as Failed.
check "a second ceremony" make_keys "$T/k2" 3
expect "another simulated HSM" 0 "$SDTOOL" sim activate --state "$T/hsm-other" \
	--sd-wrapping-keys "$T/k2"/cert_[0-2].cer --sd-quorum 2 --security-domain-file "$T/sd-other.json"
expect "its init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm-other" --sd-exchange-key "$T/exch-other.cer"
expect "a blob for the other HSM" 0 "$SDTOOL" restore-blob --sd-file "$T/sd-other.json" \
	--sd-exchange-key "$T/exch-other.cer" --sd-wrapping-keys "$T/k2/cert_0.key" "$T/k2/cert_1.key" --out "$T/blob-other.json"
expect_err "hsm upload refuses a blob for another exchange key" 1 'blob-other.json: made for exchange key .*, but this HSM.s exchange key is' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$T/blob-other.json"
expect "a blob of the other data for this exchange key" 0 "$SDTOOL" restore-blob --sd-file "$T/sd-other.json" \
	--sd-exchange-key "$ON/exchange.cer" --sd-wrapping-keys "$T/k2/cert_0.key" "$T/k2/cert_1.key" --out "$T/blob-wrong.json"
n_before=$(requests "$T/hsm1" 'GET /securitydomain/upload/pending')
expect_err "the HSM refuses it: the restore Failed, with its reason" 1 'restore Failed: .*data item "hsm_backup" differs' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$T/blob-wrong.json"
# --pending 1: one poll answers InProgress, the next Failed, and that is all
check "... and Failed is never polled further" [ $(( $(requests "$T/hsm1" 'GET /securitydomain/upload/pending') - n_before )) = 2 ]

# --- tokens -----------------------------------------------------------------
printf 'not-the-token\n' >"$T/wrong-token"
expect_err "a wrong token: 401, explained" 1 'note: the HSM refused the token of --access-token-file' \
	"$SDTOOL" hsm status "${C[@]}" --access-token-file "$T/wrong-token"
check "... with the service's words" grep -q 'HTTP 401 Unauthorized' "$T/err"
mkdir -p "$T/nobin"
n_before=$(grep -c . "$T/hsm1.log")
run env -u SDTOOL_ACCESS_TOKEN PATH="$T/nobin" "$SDTOOL" hsm status --hsm-url "$URL" --cacert "$T/hsm1/tls-ca.pem"
check "no token at all: exit 1, saying how to give one" sh -c "[ $RC = 1 ] && grep -q 'no access token: give --access-token-file' '$T/err'"
check "... and nothing was sent" [ "$(grep -c . "$T/hsm1.log")" = "$n_before" ]
run env SDTOOL_ACCESS_TOKEN="$(cat "$T/hsm1/token")" PATH="$T/nobin" "$SDTOOL" hsm status --hsm-url "$URL" --cacert "$T/hsm1/tls-ca.pem"
check "the token from SDTOOL_ACCESS_TOKEN" [ "$RC" = 0 ]
# azure-cli's token, read from its output: a stand-in az records its arguments
cat >"$T/nobin/az" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/az-args"
cat "$T/hsm1/token"
EOF
chmod 755 "$T/nobin/az"
run env -u SDTOOL_ACCESS_TOKEN PATH="$T/nobin:/usr/bin:/bin" "$SDTOOL" hsm status --hsm-url "$URL" --cacert "$T/hsm1/tls-ca.pem"
check "the token from az account get-access-token" [ "$RC" = 0 ]
check "... asked for the Managed HSM resource" grep -qx 'account get-access-token --resource https://managedhsm.azure.net --query accessToken --output tsv' "$T/az-args"
check "... and no token on any command line" sh -c "! grep -qF \"\$(cat '$T/hsm1/token')\" '$T/az-args'"

# --- TLS and URLs -------------------------------------------------------------
expect_err "the simulator's certificate is not trusted without --cacert" 1 'note: .*TLS certificate is not trusted here; for a private CA give --cacert' \
	"$SDTOOL" hsm status --hsm-url "$URL" --access-token-file "$T/hsm1/token"
check "... and not tried again" sh -c "! grep -q 'gave up after' '$T/err'"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-ca.key" \
	-out "$T/other-ca.pem" -subj /CN=other -days 1 >/dev/null 2>&1
expect_err "--cacert with another CA: not trusted either" 1 'TLS certificate is not trusted' \
	"$SDTOOL" hsm status --hsm-url "$URL" --cacert "$T/other-ca.pem" --access-token-file "$T/hsm1/token"
expect_err "http:// is refused except to loopback" 2 'only https:// is allowed' \
	"$SDTOOL" hsm status --hsm-url http://contoso.managedhsm.azure.net --access-token-file "$T/hsm1/token"
expect_err "http:// to loopback is allowed (and fails here only on TLS)" 1 '127.0.0.1' \
	"$SDTOOL" hsm status --hsm-url "${URL/https/http}" --access-token-file "$T/hsm1/token" --timeout 3
check "... not refused as http" sh -c "! grep -q 'only https' '$T/err'"
expect_err "a URL with a path is refused" 2 'without a path' \
	"$SDTOOL" hsm status --hsm-url "$URL/securitydomain" --access-token-file "$T/hsm1/token"
expect_err "--hsm-name must be an HSM's name" 2 'letters, digits and hyphens' \
	"$SDTOOL" hsm status --hsm-name 'evil.example/x' --access-token-file "$T/hsm1/token"
expect_err "--hsm-name and --hsm-url together" 2 'one of them' \
	"$SDTOOL" hsm status --hsm-name contoso --hsm-url "$URL"

# azure-cli's one-step upload: the simulated HSM checks that the blob made
# here restores exactly what it activated
serve "$T/hsm9" || exit 1
expect "activate another simulated HSM" 0 "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$T/sd9.json"
expect_err "one step: too few keys for the quorum" 2 'this SD file needs 2 keys; 1 given' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$T/sd9.json" --sd-wrapping-keys "$OFF/cert_0.key"
expect_err "one step: a blob given with keys is refused" 1 'is a restore blob already' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$ON/restore-blob.json" --sd-wrapping-keys "$OFF/cert_0.key" "$OFF/cert_1.key"
expect_out "one step: SD file and keys, the blob made here and uploaded" 0 'restored \(status Success: The resource is active.\)' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$T/sd9.json" --sd-wrapping-keys "$OFF/cert_1.key" "$OFF/cert_2.key"
check "... the simulator confirms the restored data" [ "$(jget "$T/hsm9/state.json" 'j["status"]')" = restored ]
check "... no blob left behind" no_temp_files "$T"

# --- certificate sets the service would refuse: refused before sending -------
serve "$T/hsm2" || exit 1
make_keys "$T/many" 11 >/dev/null
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$T/small.key" -out "$T/small.cer" -days 30 \
	-subj /CN=small >/dev/null 2>&1
expect_err "2 certificates" 2 '2 certificates given; the service takes 3 to 10' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "$ON/cert_0.cer" "$ON/cert_1.cer" --sd-quorum 2 --security-domain-file "$ON/x.json"
expect_err "11 certificates" 2 '11 certificates given; the service takes 3 to 10' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "$T/many"/cert_{0,1,2,3,4,5,6,7,8,9,10}.cer --sd-quorum 2 --security-domain-file "$ON/x.json"
expect_err "an RSA-1024 certificate" 1 'small.cer: the service takes only RSA keys of 2048 bits or more' \
	"$SDTOOL" hsm download "${C[@]}" "${P[@]}" --sd-wrapping-keys "$ON/cert_0.cer" "$ON/cert_1.cer" "$T/small.cer" \
	--sd-quorum 2 --security-domain-file "$ON/x.json"
expect_err "quorum 1" 2 'sd-quorum 1: the service takes 2 up to' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 1 --security-domain-file "$ON/x.json"
expect_err "quorum above the number of certificates" 2 'sd-quorum 4' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 4 --security-domain-file "$ON/x.json"
expect_err "one certificate twice" 1 'cert_1.cer: the same certificate as .*cert_1.cer' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "$ON/cert_0.cer" "$ON/cert_1.cer" "$ON/cert_1.cer" --sd-quorum 2 --security-domain-file "$ON/x.json"
check "none of them reached the HSM, nothing written" sh -c "[ \$(grep -c 'securitydomain' '$T/hsm2.log') = 0 ] && [ ! -e '$ON/x.json' ]"
# and the simulated service refuses them too, as the real one does
check "sim serve refuses them itself (400 BadParameter)" $PY - "$URL" "$T/hsm2" "$ON" "$T/small.cer" <<'EOF'
import base64, json, ssl, subprocess, sys, urllib.request
url, d, on, small = sys.argv[1:]
tok = open(d + "/token").read().strip()
ctx = ssl.create_default_context(cafile=d + "/tls-ca.pem")
def der(p):
    return base64.b64encode(subprocess.run(["openssl", "x509", "-in", p, "-outform", "DER"],
        capture_output=True, check=True).stdout).decode()
def post(body, token=tok, query="?api-version=7.4"):
    h = {"Content-Type": "application/json"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url + "/securitydomain/download" + query,
        data=json.dumps(body).encode(), headers=h)
    try:
        r = urllib.request.urlopen(req, context=ctx)
        return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers
jwk = lambda p: {"kty": "RSA", "x5c": [der(p)]}
c = [jwk(on + "/cert_%d.cer" % i) for i in range(3)]
for body, want in (({"certificates": c[:2], "required": 2}, "2 certificates"),
                   ({"certificates": c, "required": 1}, "quorum 1"),
                   ({"certificates": c[:2] + [jwk(small)], "required": 2}, "2048"),
                   ({"certificates": c[:2] + [c[0]], "required": 2}, "same certificate")):
    st, j, _ = post(body)
    assert st == 400 and j["error"]["code"] == "BadParameter" and want in j["error"]["message"], (st, j)
st, j, h = post({"certificates": c, "required": 2}, token=None)
# as recorded: an empty body, typed JSON, and the challenge naming the tenant
assert st == 401 and j is None and h["Content-Type"].startswith("application/json"), (st, j)
assert h["WWW-Authenticate"] == 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://managedhsm.azure.net"', h["WWW-Authenticate"]
st, j, _ = post({"certificates": c, "required": 2}, query="")
assert st == 400 and "api-version" in j["error"]["message"], (st, j)
EOF
check "... and stays unactivated" [ ! -e "$T/hsm2/state.json" ]
check "sim serve's 202: an absolute Azure-AsyncOperation URL with the api-version, no Retry-After" \
	$PY - "$URL" "$T/hsm2" "$ON" <<'EOF'
import base64, json, ssl, subprocess, sys, urllib.request
url, d, on = sys.argv[1:]
tok = open(d + "/token").read().strip()
ctx = ssl.create_default_context(cafile=d + "/tls-ca.pem")
def der(p):
    return base64.b64encode(subprocess.run(["openssl", "x509", "-in", p, "-outform", "DER"],
        capture_output=True, check=True).stdout).decode()
c = [{"kty": "RSA", "x5c": [der(on + "/cert_%d.cer" % i)]} for i in range(3)]
req = urllib.request.Request(url + "/securitydomain/download?api-version=7.2",
    data=json.dumps({"certificates": c, "required": 2}).encode(),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + tok})
r = urllib.request.urlopen(req, context=ctx)
assert r.status == 202, r.status
assert r.headers["Azure-AsyncOperation"] == url + "/securitydomain/download/pending?api-version=7.2", r.headers
assert r.headers["Retry-After"] is None
req = urllib.request.Request(url + "/securitydomain/upload/pending?api-version=7.2",
    headers={"Authorization": "Bearer " + tok})
j = json.loads(urllib.request.urlopen(req, context=ctx).read())
assert j == {"status": "InProgress", "status_details": "The Security Domain is being confirmed."}, j
j = json.loads(urllib.request.urlopen(req, context=ctx).read())
assert j == {"status": "Success", "status_details": "The resource is active."}, j
EOF

# --- faults: retried to success, or reported; never a partial SD file ------------
# fault_download NAME STATUS PATTERN SERVE-OPTIONS... -- CLIENT-OPTIONS...
fault_download() {
	_name=$1; _want=$2; _pat=$3; shift 3
	_sopts=(); while [ "$1" != -- ]; do _sopts+=("$1"); shift; done; shift
	_d=$T/f$((++FN))
	serve "$_d" "${_sopts[@]}" || return
	_t0=$(date +%s%N)
	if [ -z "$_pat" ]; then
		expect "$_name" "$_want" "$SDTOOL" hsm download "${C[@]}" "${P[@]}" "$@" \
			--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$_d.sd.json"
	else
		expect_err "$_name" "$_want" "$_pat" "$SDTOOL" hsm download "${C[@]}" "${P[@]}" "$@" \
			--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$_d.sd.json"
	fi
	ELAPSED_MS=$(( ($(date +%s%N) - _t0) / 1000000 ))
	if [ -e "$_d.sd.json" ]; then
		check "... the SD file written is whole" whole "$_d.sd.json"
	fi
	check "... no half-written file" no_temp_files "$T"
}
FN=0
fault_download "429 twice, Retry-After 1: retried, then activated" 0 '' --fault 429:2@download --retry-after 1 -- --json
check "... after waiting Retry-After each time" [ "$ELAPSED_MS" -ge 2000 ]
check "... 2 retries reported" [ "$(jget "$T/out" 'j["retries"]')" = 2 ]
fault_download "503 twice: retried with backoff, then activated" 0 '' --fault 503:2 --
fault_download "a dropped connection: retried" 0 '' --fault drop@download --
check "... the SD file is there" [ -s "$T/f$FN.sd.json" ]
fault_download "a malformed status reply: asked again" 0 '' --fault malformed@download-status --
fault_download "a dropped status poll: asked again" 0 '' --fault drop:2@download-status --
fault_download "a slow reply within the timeout: waited for" 0 '' --fault slow@download --slow-seconds 2 --
fault_download "the transient export failure: retried" 0 '' --fault export-failed:2@download --
fault_download "the transient export failure, for good: bounded" 1 'Failed to export security domain data \(gave up after 6 tries\)' \
	--fault export-failed:9@download --
check "... no SD file" [ ! -e "$T/f$FN.sd.json" ]
fault_download "503 for good: bounded, reported" 1 'HTTP 503 Service Unavailable.*gave up after 6 tries' --fault 503:20 --
check "... no SD file" [ ! -e "$T/f$FN.sd.json" ]
fault_download "a 2020 build's status words (Succeeded)" 0 '' --legacy-status --
fault_download "download/pending answering 404 (--no-download-pending): upload/pending instead" 0 '' \
	--no-download-pending --
check "... the advertised URL was tried once" [ "$(requests "$T/f$FN" 'GET /securitydomain/download/pending -> 404')" = 1 ]
check "... and upload/pending polled to Success" [ "$(requests "$T/f$FN" 'GET /securitydomain/upload/pending -> 200')" = 2 ]
fault_download "a 2020 build: a synchronous 200, nothing polled" 0 '' --build 2020 -- --json
check "... no status polled" [ "$(requests "$T/f$FN" pending)" = 0 ]
check "... reported complete" [ "$(jget "$T/out" 'j["activation"]')" = complete ]
fault_download "Retry-After: 0 on every 202 and InProgress: polled, never in a busy loop" 0 '' \
	--retry-after 0 --pending 5 --
check "... 6 polls, at least 0.1 s apart" sh -c "[ \$(grep -c 'download/pending -> 200' '$T/f$FN.log') = 6 ] && [ $ELAPSED_MS -ge 500 ]"
fault_download "a malformed SD reply: reported, and kept aside" 1 'holds no readable security domain' --fault malformed@download --
check "... no SD file from half a reply" [ ! -e "$T/f$FN.sd.json" ]
check "... the raw reply kept, mode 0600" [ "$(stat -c %a "$T/f$FN.sd.json.reply")" = 600 ]
check "... and the user told so" grep -q 'reply was kept unchanged in .*sd.json.reply' "$T/err"
fault_download "a reply slower than --timeout: reported" 1 'no answer within the timeout|no reply' \
	--fault slow@download --slow-seconds 3 -- --timeout 1
check "... with the warning that the HSM may have activated" grep -q 'may be activated with a security domain whose reply was lost' "$T/err"
check "... no SD file" [ ! -e "$T/f$FN.sd.json" ]
fault_download "the HSM reports the activation Failed" 1 'activation Failed: \(simulated fault\)' --fault failed@download --
check "... the SD file is kept all the same" [ -s "$T/f$FN.sd.json" ]
fault_download "activation still running at --timeout: reported" 1 "outcome is unknown; .*sd.json is kept" \
	--pending 100 -- --timeout 2
check "... the SD file is kept" [ -s "$T/f$FN.sd.json" ]
fault_download "401 from the service: explained" 1 'note: the HSM refused the token' --fault 401 --
fault_download "403 from the service: the role is named" 1 "Managed HSM Administrator" --fault 403 --
check "... with the service's own words" grep -q 'HTTP 403 Forbidden: AccessDenied' "$T/err"
fault_download "--no-wait: saved, not waited for" 0 '' -- --no-wait
check "... no status was polled" [ "$(requests "$T/f$FN" pending)" = 0 ]
expect_out "... hsm status download shows it later" 0 '^download: (InProgress|Success)' "$SDTOOL" hsm status "${C[@]}" download

# nowhere to keep the reply either: it goes to standard output, never lost
serve "$T/hsm8" --fault malformed@download || exit 1
echo precious >"$ON/sd8.json.reply"
expect_err "a malformed SD reply with SD.reply taken: printed instead" 1 \
	'could not be kept in .*sd8.json.reply; it follows on standard output' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$ON/sd8.json"
check "... the reply is on standard output" grep -q '^{"value":"{' "$T/out"
check "... and the existing file untouched" [ "$(cat "$ON/sd8.json.reply")" = precious ]

# never overwrite: an existing file stops the download before it is sent
serve "$T/hsm3" || exit 1
echo "precious" >"$ON/exists.json"
expect_err "hsm download never overwrites" 1 'exists.json: already exists; not overwriting' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$ON/exists.json"
check "... the file is untouched, the HSM not activated" sh -c "[ \"\$(cat '$ON/exists.json')\" = precious ] && [ ! -e '$T/hsm3/state.json' ]"
expect_err "hsm download into a directory it cannot write" 1 'no new file can be written there' "$SDTOOL" hsm download "${C[@]}" "${P[@]}" \
	--sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 --security-domain-file "$T/nodir/sd.json"
check "... the HSM is still not activated" [ ! -e "$T/hsm3/state.json" ]

# faults on the recovery side
serve "$T/hsm4" --fault drop@exchange-key --fault malformed@exchange-key --fault 429@upload \
	--fault drop@upload-status --legacy-status || exit 1
expect "activate it" 0 "$SDTOOL" hsm download "${C[@]}" "${P[@]}" --sd-wrapping-keys "${CERTS[@]}" --sd-quorum 2 \
	--security-domain-file "$ON/sd4.json"
expect "init-recovery through a dropped and a malformed reply" 0 "$SDTOOL" hsm init-recovery "${C[@]}" \
	--sd-exchange-key "$ON/exch4.cer"
check "... the same certificate the HSM holds" cmp -s "$ON/exch4.cer" "$T/hsm4/exchange.cer"
expect "its restore blob (offline)" 0 "$SDTOOL" restore-blob --sd-file "$ON/sd4.json" --sd-exchange-key "$ON/exch4.cer" \
	--sd-wrapping-keys "$OFF/cert_1.key" "$OFF/cert_2.key" --out "$ON/blob4.json"
expect_out "upload through 429 and a dropped status poll" 0 'restored \(status Succeeded: Security Domain operation complete\)' \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$ON/blob4.json"
check "... the simulator confirms it" [ "$(jget "$T/hsm4/state.json" 'j["status"]')" = restored ]
check "... each fault was met" [ "$(grep -c '(fault' "$T/hsm4.log")" = 4 ]
cp "$T/hsm4/tls-ca.pem" "$T/ca4.pem"
serve "$T/hsm4" --fault malformed@upload || exit 1
check "a restarted server keeps its CA and token" cmp -s "$T/hsm4/tls-ca.pem" "$T/ca4.pem"
expect_err "a malformed upload reply: reported, with what to check" 1 "may have taken the blob all the same: check with 'sdtool hsm status upload'" \
	"$SDTOOL" hsm upload "${C[@]}" "${P[@]}" --sd-file "$ON/blob4.json"
expect_out "... and the status says what happened" 0 '^upload: (InProgress|Success)' "$SDTOOL" hsm status "${C[@]}" upload

# on a terminal, one progress line, rewritten in place (script(1) gives
# the command a terminal)
serve "$T/hsm6" --fault 429@download --retry-after 1 --pending 2 || exit 1
run script -qec "$SDTOOL hsm download ${C[*]} ${P[*]} --sd-wrapping-keys ${CERTS[*]} --sd-quorum 2 --security-domain-file $ON/tty.json" /dev/null
check "on a terminal: the retry is shown" grep -q 'download: HTTP 429 Too Many Requests; trying again in 1 s (try 2 of 6)' "$T/out"
check "... and the waiting" grep -q 'waiting for the activation: InProgress (' "$T/out"
check "... on one line, rewritten in place" grep -q "$(printf '\r\033\\[K')waiting" "$T/out"
expect "without a terminal, no progress line" 0 "$SDTOOL" hsm status "${C[@]}"
check "... not a control character in it" sh -c "! grep -q \"\$(printf '\\033')\" '$T/out' '$T/err'"

# --- sim serve's own command line -----------------------------------------------
expect_err "sim serve listens only on loopback" 2 'only on a loopback address' \
	"$SDTOOL" sim serve --state "$T/hsm5" --listen 0.0.0.0:0
expect_err "sim serve: a fault it does not know" 2 'fault boom: expected KIND' \
	"$SDTOOL" sim serve --state "$T/hsm5" --fault boom
check "... and nothing was made" [ ! -e "$T/hsm5" ]
stop_server
# under SAN=1, a server's memory error or leak lands in its log
check "no server reported a memory error or leak" sh -c "! grep -l 'Sanitizer' '$T'/*.log"

done_testing
