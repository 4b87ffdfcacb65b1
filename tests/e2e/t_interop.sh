#!/bin/bash
# Interop both ways with azure-cli (Debian's package), the vendor's client:
# what it writes we read, what we write it reads.
. "$(dirname "$0")/lib.sh"

if ! command -v az >/dev/null 2>&1; then
	not_ok "azure-cli installed" "az not found: run make deps"
	done_testing; exit
fi
# az would otherwise try to write its config under $HOME and phone home.
export AZURE_CONFIG_DIR="$T/azconfig" AZURE_CORE_COLLECT_TELEMETRY=0

check "three officers' keys" make_keys "$T/keys" 3
K="$T/keys"
expect "sim activate, quorum 2 of 3" 0 "$SDTOOL" sim activate --state "$T/hsm" \
	--sd-wrapping-keys "$K/cert_0.cer" "$K/cert_1.cer" "$K/cert_2.cer" --sd-quorum 2 \
	--security-domain-file "$T/Contoso-SD.json"
expect "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"

# Our SD file opens with azure-cli, and azure-cli's blob restores our HSM.
expect "az restore-blob opens sim's SD file" 0 az keyvault security-domain restore-blob \
	--sd-file "$T/Contoso-SD.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$K/cert_0.key" "$K/cert_2.key" --sd-file-restore-blob "$T/az-blob.json"
expect_out "sim upload accepts azure-cli's blob" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/az-blob.json"
expect_out "we read azure-cli's blob" 0 'restore blob' "$SDTOOL" inspect "$T/az-blob.json"

# Our blob: azure-cli's code reads the same data from it as from the SD file.
expect "restore-blob, keys 1 and 2" 0 "$SDTOOL" restore-blob --sd-file "$T/Contoso-SD.json" \
	--sd-exchange-key "$T/exch.cer" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--sd-file-restore-blob "$T/our-blob.json"
want=$($PY "$E2E/azoracle.py" sd-data "$T/Contoso-SD.json" "$K/cert_0.key" "$K/cert_1.key")
got=$($PY "$E2E/azoracle.py" blob-data "$T/our-blob.json" "$T/hsm/exchange.key")
check "azure-cli reads our blob's data as the SD file's" test -n "$want" -a "$want" = "$got"
expect_out "sim upload accepts our blob" 0 'restored: all 3 data items match' \
	"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/our-blob.json"

# Every pair of keys works with azure-cli too (its quorum code, not ours).
for pair in "0 1" "0 2" "1 2"; do
	set -- $pair
	expect "az opens sim's SD file with keys $1 and $2" 0 az keyvault security-domain restore-blob \
		--sd-file "$T/Contoso-SD.json" --sd-exchange-key "$T/exch.cer" \
		--sd-wrapping-keys "$K/cert_$1.key" "$K/cert_$2.key" --sd-file-restore-blob "$T/az-$1$2.json"
done

# A larger ceremony: 5 keys, quorum 3; azure-cli opens it with keys 1, 3, 4.
check "five officers' keys" make_keys "$T/keys5" 5
K5="$T/keys5"
expect "sim activate, quorum 3 of 5" 0 "$SDTOOL" sim activate --state "$T/hsm5" \
	--sd-wrapping-keys "$K5"/cert_[0-4].cer --sd-quorum 3 --security-domain-file "$T/sd5.json"
expect "sim init-recovery (5)" 0 "$SDTOOL" sim init-recovery --state "$T/hsm5" --sd-exchange-key "$T/exch5.cer"
expect "az opens the 3-of-5 file" 0 az keyvault security-domain restore-blob --sd-file "$T/sd5.json" \
	--sd-exchange-key "$T/exch5.cer" --sd-wrapping-keys "$K5/cert_1.key" "$K5/cert_3.key" "$K5/cert_4.key" \
	--sd-file-restore-blob "$T/az5.json"
expect_out "sim upload accepts it" 0 'restored' "$SDTOOL" sim upload --state "$T/hsm5" --sd-file "$T/az5.json"
expect_out "verify: all 10 quorums of 3 out of 5" 0 '\(10 combinations\)' \
	"$SDTOOL" verify --sd-file "$T/sd5.json" --sd-wrapping-keys "$K5"/cert_[0-4].key

done_testing
