#!/bin/bash
# A whole ceremony on one machine, as the runbook has it, with the cases
# officers meet: encrypted keys and their passphrases, a lost key, a key
# from another HSM, files that must never be overwritten.
. "$(dirname "$0")/lib.sh"

K=$T/keys
mkdir -p "$K"
printf 'correct horse battery\n' >"$T/pass1"
printf 'alpha passphrase 0\nbravo passphrase 1\ncharlie passphrase 2\n' >"$T/pass3"
for i in 0 1 2; do
	sed -n "$((i + 1))p" "$T/pass3" >"$T/pass-$i"
	expect "keygen officer $i with a passphrase" 0 "$SDTOOL" keygen --index $i -b 2048 -d "$K" --password-file "$T/pass-$i"
done
check "keys are encrypted PKCS#8" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$K/cert_0.key"
expect "keygen three keys under one passphrase (a drill)" 0 "$SDTOOL" keygen -n 3 -b 2048 -d "$T/same" --password-file "$T/pass1"
expect "sim for them" 0 "$SDTOOL" sim activate --state "$T/hsm-same" --sd-wrapping-keys "$T/same"/cert_[0-2].cer \
	--sd-quorum 3 --security-domain-file "$T/sd-same.json"

expect "sim activate" 0 "$SDTOOL" sim activate --state "$T/hsm" \
	--sd-wrapping-keys "$K/cert_0.cer" "$K/cert_1.cer" "$K/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd.json"
check "SD file is compact JSON in the service's field order" $PY -c "
import json,sys
t=open(sys.argv[1]).read(); j=json.loads(t)
assert t == json.dumps(j, separators=(',',':')), 'not compact'
assert list(j) == ['EncData','SharedKeys','version'] and list(j['SharedKeys']) == ['enc_shares','key_algorithm','required']
assert [d['tag'] for d in j['EncData']['data']] == ['hsm_backup','base_enclave_backup','partition_enclave_backup']
" "$T/sd.json"
expect_err "sim activate refuses one certificate given twice" 1 'cert_1.cer: the same certificate as .*cert_1.cer' \
	"$SDTOOL" sim activate --state "$T/hsm-dup" --sd-wrapping-keys "$K/cert_0.cer" "$K/cert_1.cer" "$K/cert_1.cer" \
	--sd-quorum 2 --security-domain-file "$T/sd-dup.json"
check "... and writes no SD file" test ! -e "$T/sd-dup.json"
check "sim state is marked simulated" grep -q SIMULATED "$T/hsm/SIMULATED-HSM"
expect_err "sim activate twice is refused" 1 'already activated' "$SDTOOL" sim activate --state "$T/hsm" \
	--sd-wrapping-keys "$K/cert_0.cer" "$K/cert_1.cer" "$K/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/sd2.json"

expect_out "inspect shows quorum and the officers' certificates" 0 'quorum:   2 of 3 shares' \
	"$SDTOOL" inspect "$T/sd.json" "$K/cert_0.cer" "$K/cert_1.cer" "$K/cert_2.cer"
check "inspect: no warnings for a fresh ceremony" sh -c "! grep -q warnings: '$T/out'"

expect_out "verify with a passphrase file, one line per key" 0 '^OK: every quorum of the 3 opened shares' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" "$K/cert_2.key" \
	--password-file "$T/pass3"
expect_out "wrong passphrase is named, the rest still checked (exit 3: recoverable, a key failed)" 3 'key .*cert_1.key: .*wrong passphrase' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" "$K/cert_2.key" \
	--password-file <(printf 'alpha passphrase 0\nWRONG\ncharlie passphrase 2\n')
check "... and share #2 reported not covered" grep -q 'not covered: #2' "$T/out"
check "... and the verdict says a key failed" grep -q '^FAILED: 1 of the 3 keys given opened no share; every quorum of the other keys works' "$T/out"
printf 'alpha passphrase 0\0x\nbravo passphrase 1\n' >"$T/nul-pass"
expect_out "a NUL byte in the passphrase file is refused, not a crash" 1 'FAILED: 0 of the 2 shares needed' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" --password-file "$T/nul-pass"
check "... named on stderr" grep -q 'holds a NUL byte' "$T/err"
expect_out "no passphrase and no terminal: says what to do" 1 'use --password-file' \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key"
expect "verify --json, passphrases from a pipe" 0 "$SDTOOL" verify --json --sd-file "$T/sd.json" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_2.key" --password-file <(printf 'alpha passphrase 0\ncharlie passphrase 2\n')
check "json: the second key got the second line, opened share 3" [ "$(jget "$T/out" '[(k["status"], k["share"]) for k in j["keys"]]')" = "[('opened', 1), ('opened', 3)]" ]
expect "verify --json: a line per key, in order" 1 "$SDTOOL" verify --json --sd-file "$T/sd.json" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_2.key" --password-file "$T/pass3"
check "json: the second line does not open the third officer's key" [ "$(jget "$T/out" '[k["status"] for k in j["keys"]]')" = "['opened', 'wrong_passphrase']" ]
expect "one line serves every key" 0 "$SDTOOL" verify \
	--sd-file "$T/sd-same.json" --sd-wrapping-keys "$T/same/cert_0.key" "$T/same/cert_1.key" "$T/same/cert_2.key" --password-file "$T/pass1"

# An officer brings a key from another HSM's ceremony.
check "a stranger's key" make_keys "$T/stranger" 3
expect_out "a stranger's key: no share of this file (exit 3: recoverable, a key failed)" 3 "stranger/cert_0.key: no share of this file is encrypted to this key" \
	"$SDTOOL" verify --sd-file "$T/sd.json" --sd-wrapping-keys "$T/stranger/cert_0.key" "$K/cert_0.key" "$K/cert_2.key" \
	--password-file <(printf 'x\nalpha passphrase 0\ncharlie passphrase 2\n')

# Recovery.
expect_out "sim init-recovery prints the exchange key thumbprint" 0 'x5t_256 [A-Za-z0-9_-]{43}' \
	"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
x5t=$(sed -n 's/.*x5t_256 //p' "$T/out")
expect_err "init-recovery refuses to overwrite" 1 'already exists; not overwriting' \
	"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
expect "init-recovery again gives the same exchange key" 0 \
	"$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch-again.cer"
check "... byte for byte" cmp -s "$T/exch.cer" "$T/exch-again.cer"
expect "restore-blob with keys 0 and 2 (one passphrase each)" 0 "$SDTOOL" restore-blob --sd-file "$T/sd.json" \
	--sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_2.key" --out "$T/blob.json" \
	--password-file <(printf 'alpha passphrase 0\ncharlie passphrase 2\n')
check "restore-blob reports the exchange key thumbprint" grep -q "x5t_256 $x5t" "$T/out"
expect_err "restore-blob stops at the quorum: the third key is not opened" 0 'cert_2.key: not used: the quorum was already reached' \
	"$SDTOOL" restore-blob --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_1.key" "$K/cert_2.key" --out "$T/blob3.json" --password-file "$T/pass3"
cp "$T/blob.json" "$T/blob.saved"
expect_err "restore-blob never overwrites" 1 'blob.json: already exists; not overwriting' "$SDTOOL" restore-blob \
	--sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$K/cert_0.key" "$K/cert_2.key" \
	--out "$T/blob.json" --password-file <(printf 'alpha passphrase 0\ncharlie passphrase 2\n')
check "... and the file is untouched" cmp -s "$T/blob.json" "$T/blob.saved"
expect_err "restore-blob with one key: not a quorum" 2 'needs 2 keys; 1 given' "$SDTOOL" restore-blob \
	--sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$K/cert_0.key" --out "$T/b1.json" \
	--password-file "$T/pass3"
expect_err "SD file given to sim upload is refused clearly" 1 'security-domain file, not a restore blob' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/sd.json"

# A blob whose data differ from what was activated is refused.
check "another HSM's ceremony" make_keys "$T/k2" 3
expect "another sim" 0 "$SDTOOL" sim activate --state "$T/hsm2" --sd-wrapping-keys "$T/k2"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd-other.json"
expect "a blob of the other HSM's data for our exchange key" 0 "$SDTOOL" restore-blob --sd-file "$T/sd-other.json" \
	--sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$T/k2/cert_0.key" "$T/k2/cert_1.key" --out "$T/wrong-blob.json"
expect_err "sim upload refuses it, saying which check failed" 1 'refused: data item "hsm_backup" differs from what was activated' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/wrong-blob.json"
expect_out "sim upload accepts the right blob" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/blob.json"
expect "sim status --json" 0 "$SDTOOL" sim status --json --state "$T/hsm"
check "status is restored" [ "$(jget "$T/out" 'j["status"]')" = restored ]
check "no temporary files left anywhere" no_temp_files "$T"
check "sim exchange key is private" [ "$(stat -c %a "$T/hsm/exchange.key")" = 600 ]

done_testing
