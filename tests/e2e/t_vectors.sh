#!/bin/bash
# The real service's files: each opens with its own keys, is refused with
# the other set, and gives a restore blob whose data azure-cli's own code
# reads back identical.
. "$(dirname "$0")/lib.sh"

keys_for() {
	case $1 in
	2022-08) echo "$V/certs/cert_0.key $V/certs/cert_1.key $V/certs/cert_2.key" ;;
	*) echo "$V/keys/sd1.key $V/keys/sd2.key $V/keys/sd3.key" ;;
	esac
}
other_keys_for() {
	case $1 in
	2022-08) echo "$V/keys/sd1.key $V/keys/sd2.key $V/keys/sd3.key" ;;
	*) echo "$V/certs/cert_0.key $V/certs/cert_1.key $V/certs/cert_2.key" ;;
	esac
}

for v in 2020-09 2022-08 2023-05; do
	sd=$V/$v/sd.json
	# shellcheck disable=SC2046
	set -- $(keys_for $v)
	expect_out "$v: verify with its 3 keys" 0 '^OK: every quorum of the 3 opened shares \(3 combinations\)' \
		"$SDTOOL" verify --sd-file "$sd" --sd-wrapping-keys "$@"
	check "$v: expired certificates are a warning" grep -q 'warning: .*certificate expired' "$T/err"
	expect "$v: verify --json" 0 "$SDTOOL" verify --json --sd-file "$sd" --sd-wrapping-keys "$@"
	check "$v: json: ok, 3 quorums, shares 1..3 opened" [ "$(jget "$T/out" \
		'(j["ok"], len(j["quorums"]), all(q["status"] == "recombined" for q in j["quorums"]), sorted(k["share"] for k in j["keys"]), j["shares_not_covered"])')" \
		= "(True, 3, True, [1, 2, 3], [])" ]
	expect_out "$v: verify with 2 keys names the share not covered" 0 'not covered: #3' \
		"$SDTOOL" verify --sd-file "$sd" --sd-wrapping-keys "$1" "$2"
	expect_out "$v: one key is not a quorum" 1 'FAILED: 1 of the 2 shares needed' \
		"$SDTOOL" verify --sd-file "$sd" --sd-wrapping-keys "$1"
	# shellcheck disable=SC2046
	expect_out "$v: the other set is refused, clearly" 1 'no share of this file is encrypted to this key' \
		"$SDTOOL" verify --sd-file "$sd" --sd-wrapping-keys $(other_keys_for $v)
	check "$v: ... for each key" [ "$(grep -c 'no share of this file is encrypted to this key' "$T/out")" -eq 3 ]

	expect "$v: inspect --json" 0 "$SDTOOL" inspect --json "$sd" "${1%.key}.cer" "${2%.key}.cer" "${3%.key}.cer"
	check "$v: inspect: quorum, shares, tags" [ "$(jget "$T/out" \
		'(j["type"], j["format_version"], j["quorum"]["required"], j["quorum"]["shares"], [d["tag"] for d in j["data"]])')" \
		= "('security_domain', 2, 2, 3, ['hsm_backup', 'base_enclave_backup', 'partition_enclave_backup'])" ]
	check "$v: inspect: sha256 of the file" [ "$(jget "$T/out" 'j["sd_sha256"]')" = "$(sha256sum "$sd" | cut -c1-64)" ]
	check "$v: inspect: every share matched to its certificate" [ "$(jget "$T/out" \
		'[s["certificate"]["file"] for s in j["shares"]]')" = "['${1%.key}.cer', '${2%.key}.cer', '${3%.key}.cer']" ]
	check "$v: inspect: expired certificates flagged" [ "$(jget "$T/out" \
		'all(s["certificate"]["expired"] for s in j["shares"])')" = True ]
done

# A key whose certificate is not beside it: matched by trial decryption.
mkdir -p "$T/nocert"
cp "$V/keys/sd2.key" "$T/nocert/officer.key"
expect_out "key without certificate: share found by trial decryption" 0 'opened share #2 of 3 \(matched by trial decryption' \
	"$SDTOOL" verify --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$V/keys/sd1.key" "$T/nocert/officer.key"
check "key without certificate: said so on stderr" grep -q 'no certificate beside it' "$T/err"

# The same key twice is counted once.
expect_out "one key given twice is counted once" 1 'already opened by' \
	"$SDTOOL" verify --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd1.key"

# A changed bit in a data item fails every quorum and names the item.
$PY - "$V/2023-05/sd.json" "$T/tampered.json" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text)
jwe = j["EncData"]["data"][1]["compact_jwe"].split(".")
ct = jwe[3]
jwe[3] = ct[:40] + ("A" if ct[40] != "A" else "B") + ct[41:]
j["EncData"]["data"][1]["compact_jwe"] = ".".join(jwe)
open(sys.argv[2], "w").write(json.dumps(j, separators=(",", ":")))
PYEOF
expect_out "tampered data item: every quorum fails, naming the item" 1 'quorum #1 \+ #2: FAILED: EncData.data\[1\] \(base_enclave_backup\): ' \
	"$SDTOOL" verify --sd-file "$T/tampered.json" --sd-wrapping-keys $(keys_for 2023-05)

# Restore blob from a real file to the real exchange key (both forms).
for v in 2020-09 2023-05; do
	# shellcheck disable=SC2046
	expect "$v: restore-blob to the HSM's transfer-key reply" 0 "$SDTOOL" restore-blob \
		--sd-file "$V/$v/sd.json" --sd-exchange-key "$V/$v/transfer_key_response.json" \
		--sd-wrapping-keys $(keys_for $v) --out "$T/$v-blob.json"
	check "$v: blob is encrypted to the exchange certificate" [ "$(jget "$T/$v-blob.json" 'j["WrappedKey"]["x5t_256"]')" = \
		"$($PY -c "
import json,sys,base64,hashlib
tk=json.load(open(sys.argv[1]))['transfer_key']
tk=json.loads(tk) if isinstance(tk,str) else tk
d=base64.b64decode(tk['x5c'][0])
print(base64.urlsafe_b64encode(hashlib.sha256(d).digest()).decode().rstrip('='))" "$V/$v/transfer_key_response.json")" ]
	check "$v: blob has the structure the service accepted from azure-cli" [ "$(jget "$T/$v-blob.json" \
		'(sorted(j), sorted(j["EncData"]), sorted(j["WrappedKey"]), [d["tag"] for d in j["EncData"]["data"]])')" = \
		"$(jget "$V/$v/upload_request.json" 'str((lambda b: (sorted(b), sorted(b["EncData"]), sorted(b["WrappedKey"]), [d["tag"] for d in b["EncData"]["data"]]))(json.loads(j["value"])))')" ]
	expect_out "$v: inspect reads the blob" 0 'restore blob' "$SDTOOL" inspect "$T/$v-blob.json"
	expect "$v: inspect the HSM's exchange key reply" 0 "$SDTOOL" inspect --json "$V/$v/transfer_key_response.json"
	check "$v: ... its x5t_256 is the one the blob is encrypted to" \
		[ "$(jget "$T/out" 'j["x5t_256"]')" = "$(jget "$T/$v-blob.json" 'j["WrappedKey"]["x5t_256"]')" ]
	check "$v: ... an RSA-4096 exchange key" [ "$(jget "$T/out" '(j["type"], j["key_bits"])')" = "('exchange_key_reply', 4096)" ]
done

expect_out "inspect a certificate: the thumbprint officers write down" 0 '^x5t_256:  vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYg$' \
	"$SDTOOL" inspect "$V/keys/sd1.cer"
check "... and the SHA-256 fingerprint as openssl shows it" grep -q "^sha256:   $(openssl x509 -in "$V/keys/sd1.cer" -noout -fingerprint -sha256 | cut -d= -f2)\$" "$T/out"

# A damaged data item: restore-blob says so, and writes nothing.
# shellcheck disable=SC2046
expect_err "restore-blob from a damaged file names the item" 1 'the data do not authenticate under the recombined secret .*EncData.data\[1\] \(base_enclave_backup\)' \
	"$SDTOOL" restore-blob --sd-file "$T/tampered.json" --sd-exchange-key "$V/2023-05/transfer_key_response.json" \
	--sd-wrapping-keys $(keys_for 2023-05) --out "$T/tampered-blob.json"
check "... and no blob is written" test ! -e "$T/tampered-blob.json"

# To an exchange key whose private half we hold (a simulated HSM's), the
# blob's data must equal the SD file's, as azure-cli's own code reads both.
expect "sim exchange key for the real-vector blob" 0 "$SDTOOL" sim activate --state "$T/hsm" \
	--sd-wrapping-keys "$V/keys/sd1.cer" "$V/keys/sd2.cer" "$V/keys/sd3.cer" --sd-quorum 2 \
	--security-domain-file "$T/unused-sd.json"
expect "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
for v in 2020-09 2022-08 2023-05; do
	# shellcheck disable=SC2046
	expect "$v: restore-blob with two keys" 0 "$SDTOOL" restore-blob --sd-file "$V/$v/sd.json" \
		--sd-exchange-key "$T/exch.cer" --sd-wrapping-keys $(keys_for $v | cut -d' ' -f2-) --out "$T/$v-sim-blob.json"
	# shellcheck disable=SC2046
	want=$($PY "$E2E/azoracle.py" sd-data "$V/$v/sd.json" $(keys_for $v))
	got=$($PY "$E2E/azoracle.py" blob-data "$T/$v-sim-blob.json" "$T/hsm/exchange.key")
	check "$v: azure-cli reads the same data from our blob as from the SD file" test -n "$want" -a "$want" = "$got"
done
expect_err "a blob for another HSM is refused by sim upload" 1 'refused: .*(differs|exchange key)' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/2023-05-blob.json"

done_testing
