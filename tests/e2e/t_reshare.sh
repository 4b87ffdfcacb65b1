#!/bin/bash
# sdtool reshare (issue 12): officer rotation offline.  A 2-of-3 SD file
# opened by a SoftHSM2 token key and a key file is reshared to five new
# officers with a quorum of 3 (one of them on a token); the new file is
# proved by verify, restores the ORIGINAL activation of the simulated HSM,
# and azure-cli's own code opens it and makes a blob with the same data as
# from the old file.  Wrong and insufficient quorums and bad inputs write
# nothing.  The man page's ROTATION RUNBOOK is run command by command.  A
# real service file (2023-05) is reshared and verified.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$E2E/../../man" && pwd)
export AZURE_CONFIG_DIR="$T/azconfig" AZURE_CORE_COLLECT_TELEMETRY=0
sha() { sha256sum "$1" | cut -c1-64; }
oracle() { $PY "$E2E/azoracle.py" "$@"; }

# ---- a private SoftHSM2 world (as t_card.sh) --------------------------------
SOFTHSM=""
for m in /usr/lib/softhsm/libsofthsm2.so \
    /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && { SOFTHSM=$m; break; }
done
if [ -z "$SOFTHSM" ] || ! command -v softhsm2-util >/dev/null; then
	not_ok "SoftHSM2 is installed" "run make deps (softhsm2)"
	done_testing
	exit 1
fi
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$T" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf SDTOOL_PKCS11_MODULE=$SOFTHSM
for t in oldofficer0 newofficer1; do
	softhsm2-util --init-token --free --label $t --pin 123456 \
		--so-pin 12345678 >/dev/null || not_ok "softhsm2-util --init-token $t" "failed"
done
echo 123456 >"$T/pin"
PS="?pin-source=$T/pin"

# ---- 2 of 3, a token key and a key file -> 3 of 5 ---------------------------
K=$T/k; N=$T/n
check "three old officers' keys" make_keys "$K" 3
check "five new officers' keys" make_keys "$N" 5
expect "sim activate, quorum 2 of 3" 0 "$SDTOOL" sim activate --state "$T/hsm" \
	--sd-wrapping-keys "$K"/cert_[0-2].cer --sd-quorum 2 --security-domain-file "$T/old.json"
expect "old key 0 onto a token" 0 "$SDTOOL" card import --key "$K/cert_0.key" \
	--token "pkcs11:token=oldofficer0$PS"
expect "new key 1 onto a token" 0 "$SDTOOL" card import --key "$N/cert_1.key" \
	--token "pkcs11:token=newofficer1$PS"
OLDTOK="pkcs11:token=oldofficer0;object=cert_0$PS"
NEWTOK="pkcs11:token=newofficer1;object=cert_1$PS"
cp "$T/old.json" "$T/old.copy"

expect "reshare 2 of 3 -> 3 of 5, token + file keys, proved by the new keys" 0 \
	"$SDTOOL" reshare --json --sd-file "$T/old.json" \
	--sd-wrapping-keys "$OLDTOK" "$K/cert_2.key" \
	--new-sd-wrapping-keys "$N"/cert_[0-4].cer --new-sd-quorum 3 --out "$T/new.json" \
	--verify-with "$N/cert_0.key" "$NEWTOK" "$N/cert_2.key" "$N/cert_3.key" "$N/cert_4.key"
cp "$T/out" "$T/reshare.json"
check "the old file is unchanged" cmp -s "$T/old.json" "$T/old.copy"
check "JSON: verb, ok, error" [ "$(jget "$T/reshare.json" '(j["verb"], j["ok"], j["error"])')" = \
	"('reshare', True, None)" ]
check "JSON: proof verified, all 10 quorums of 3" [ "$(jget "$T/reshare.json" \
	'(j["proof"]["status"], j["proof"]["quorums_checked"], j["proof"]["quorums_ok"], [k["status"] for k in j["proof"]["keys"]])')" = \
	"('verified', 10, 10, ['opened', 'opened', 'opened', 'opened', 'opened'])" ]
check "JSON: both files' SHA-256 are those of the files" [ "$(jget "$T/reshare.json" \
	'(j["old"]["sd_sha256"], j["new"]["sd_sha256"], j["new"]["written"])')" = \
	"('$(sha "$T/old.json")', '$(sha "$T/new.json")', True)" ]
check "JSON: the old keys, token and file" [ "$(jget "$T/reshare.json" \
	'[(k["status"], k["share"]) for k in j["old"]["keys"]]')" = "[('opened', 1), ('opened', 3)]" ]
check "JSON: quorums in the shared vocabulary" [ "$(jget "$T/reshare.json" \
	'(j["old"]["quorum"], j["new"]["quorum"])')" = \
	"({'required': 2, 'shares': 3}, {'required': 3, 'shares': 5})" ]
check "JSON: the checklist of what remains true" [ "$(jget "$T/reshare.json" \
	'(len(j["checklist"]) >= 5, "still restores the HSM" in j["remains_true"])')" = "(True, True)" ]
want=$(oracle sd-data "$T/old.json" "$K/cert_1.key" "$K/cert_2.key")
check "JSON: data items' SHA-256 are azure-cli's, from the OLD file" [ "$(jget "$T/reshare.json" \
	'json.dumps({d["tag"]: d["sha256"] for d in j["data_items"]}, sort_keys=True)')" = "$want" ]
got=$(oracle sd-data "$T/new.json" "$N/cert_0.key" "$N/cert_3.key" "$N/cert_4.key")
check "azure-cli's code opens the NEW file with new keys: the same data items" \
	test -n "$want" -a "$want" = "$got"

# the service's format, byte for byte in its shape
check "new file: compact, fields in the service's order, version 2" $PY -c '
import json, sys
raw = open(sys.argv[1]).read()
j = json.loads(raw, object_pairs_hook=lambda p: p)
top = [k for k, _ in j]
assert top == ["EncData", "SharedKeys", "version"], top
d = dict(j)
assert d["version"] == 2
enc = dict(d["EncData"]); sk = dict(d["SharedKeys"])
assert [k for k, _ in d["EncData"]] == ["data", "kdf"] and enc["kdf"] == "sp108_kdf"
assert [k for k, _ in d["SharedKeys"]] == ["enc_shares", "key_algorithm", "required"]
assert sk["key_algorithm"] == "shamir_share" and sk["required"] == 3 and len(sk["enc_shares"]) == 5
for s in sk["enc_shares"]:
    assert [k for k, _ in s] == ["enc_key", "x5t_256"]
for it in enc["data"]:
    assert [k for k, _ in it] == ["compact_jwe", "tag"]
assert raw == json.dumps(json.loads(raw), separators=(",", ":"))
' "$T/new.json"
check "new file: the shares go to the new certificates, in order" [ "$($PY -c '
import json, sys; print([s["x5t_256"] for s in json.load(open(sys.argv[1]))["SharedKeys"]["enc_shares"]])' "$T/new.json")" = \
	"$(jget "$T/reshare.json" '[s["x5t_256"] for s in j["new"]["shares"]]')" ]
check "new file: same tags, new ciphertexts" $PY -c '
import json, sys
a = json.load(open(sys.argv[1]))["EncData"]["data"]; b = json.load(open(sys.argv[2]))["EncData"]["data"]
assert [x["tag"] for x in a] == [x["tag"] for x in b]
assert all(x["compact_jwe"] != y["compact_jwe"] for x, y in zip(a, b))
assert all(x["compact_jwe"].split(".")[2] != y["compact_jwe"].split(".")[2] for x, y in zip(a, b))
' "$T/old.json" "$T/new.json"

# verify proves the new file; --same-data proves the rotation
expect_out "verify: every quorum of 3 of the new file" 0 '\(10 combinations\)' \
	"$SDTOOL" verify --sd-file "$T/new.json" --sd-wrapping-keys "$N/cert_0.key" "$NEWTOK" \
	"$N/cert_2.key" "$N/cert_3.key" "$N/cert_4.key"
expect "verify: the old keys open no share of the new file" 1 "$SDTOOL" verify \
	--sd-file "$T/new.json" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key"
expect_out "verify --same-data: the same data items as the old file" 0 'all 3 data items equal' \
	"$SDTOOL" verify --sd-file "$T/new.json" --sd-wrapping-keys "$N"/cert_[0234].key "$NEWTOK" \
	"$K/cert_1.key" "$K/cert_2.key" --same-data "$T/old.json"
expect "verify --same-data --json" 0 "$SDTOOL" verify --json --sd-file "$T/new.json" \
	--sd-wrapping-keys "$N"/cert_[0234].key "$NEWTOK" "$K/cert_1.key" "$K/cert_2.key" \
	--same-data "$T/old.json"
check "verify --same-data --json: ok, the old file's SHA-256, the items" [ "$(jget "$T/out" \
	'(j["ok"], j["same_data"]["ok"], j["same_data"]["sd_sha256"], json.dumps({d["tag"]: d["sha256"] for d in j["same_data"]["data_items"]}, sort_keys=True))')" = \
	"(True, True, '$(sha "$T/old.json")', '$want')" ]
expect "another HSM's SD file" 0 "$SDTOOL" sim activate --state "$T/hsm2" \
	--sd-wrapping-keys "$K"/cert_[0-2].cer --sd-quorum 2 --security-domain-file "$T/other.json"
expect_out "verify --same-data: another HSM's file differs" 1 'FAILED: same data as .*other.json not proved: data item 1 \(hsm_backup\)' \
	"$SDTOOL" verify --sd-file "$T/new.json" --sd-wrapping-keys "$N"/cert_[0234].key "$NEWTOK" \
	"$K/cert_1.key" "$K/cert_2.key" --same-data "$T/other.json"
expect_out "verify --same-data: without a quorum of the old keys, not proved" 1 'not proved: .*1 of the 2 shares' \
	"$SDTOOL" verify --sd-file "$T/new.json" --sd-wrapping-keys "$N"/cert_[0234].key "$NEWTOK" \
	"$K/cert_1.key" --same-data "$T/old.json"

# the new file restores the ORIGINAL activation, through sdtool and azure-cli
expect "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
expect "restore-blob from the new file, 3 new keys (one on a token)" 0 "$SDTOOL" restore-blob \
	--sd-file "$T/new.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$NEWTOK" "$N/cert_3.key" "$N/cert_4.key" --out "$T/blob.json"
expect_out "sim upload: the new file's blob restores the original activation" 0 \
	'restored: all 3 data items match' "$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/blob.json"
expect "restore-blob: 2 new keys are not the new quorum" 2 "$SDTOOL" restore-blob \
	--sd-file "$T/new.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$N/cert_3.key" "$N/cert_4.key" --out "$T/blob2.json"
if command -v az >/dev/null 2>&1; then
	expect "az restore-blob reads the NEW file with new keys" 0 az keyvault security-domain restore-blob \
		--sd-file "$T/new.json" --sd-exchange-key "$T/exch.cer" \
		--sd-wrapping-keys "$N/cert_0.key" "$N/cert_2.key" "$N/cert_4.key" --sd-file-restore-blob "$T/az-new.json"
	expect "az restore-blob reads the OLD file with old keys" 0 az keyvault security-domain restore-blob \
		--sd-file "$T/old.json" --sd-exchange-key "$T/exch.cer" \
		--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" --sd-file-restore-blob "$T/az-old.json"
	bn=$(oracle blob-data "$T/az-new.json" "$T/hsm/exchange.key")
	bo=$(oracle blob-data "$T/az-old.json" "$T/hsm/exchange.key")
	check "azure-cli's blob from the new file carries the same data as from the old" \
		test -n "$bn" -a "$bn" = "$bo" -a "$bn" = "$want"
	expect_out "sim upload accepts azure-cli's blob of the new file" 0 'restored: all 3 data items match' \
		"$SDTOOL" sim upload --state "$T/hsm" --sd-file "$T/az-new.json"
else
	not_ok "azure-cli installed" "az not found: run make deps"
fi

# ---- nothing is written on failure ------------------------------------------
check "a stranger's keys" make_keys "$T/s" 3
nothing() { # NAME STATUS PATTERN ARGS...: fails so, and writes nothing
	_n=$1; _st=$2; _p=$3; shift 3
	rm -f "$T/bad.json"
	expect_err "$_n" "$_st" "$_p" "$SDTOOL" reshare --sd-file "$T/old.json" "$@"
	[ "$(grep -c . "$T/err")" -ge 1 ] || not_ok "$_n: says why" "stderr empty"
	if [ -e "$T/bad.json" ] || ! no_temp_files "$T"; then
		not_ok "$_n: nothing written" "$(ls -a "$T")"
	else
		ok "$_n: nothing written"
	fi
}
NEW5=("$N/cert_0.cer" "$N/cert_1.cer" "$N/cert_2.cer" "$N/cert_3.cer" "$N/cert_4.cer")
nothing "wrong quorum: an old key and a stranger's" 1 'old.json: 1 of the 2 shares needed could be opened; nothing written' \
	--sd-wrapping-keys "$K/cert_1.key" "$T/s/cert_0.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json"
nothing "insufficient quorum: one old key" 2 'needs 2 keys to open; 1 given' \
	--sd-wrapping-keys "$K/cert_1.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json"
nothing "the same old key twice is one share" 1 '1 of the 2 shares needed' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_1.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json"
nothing "a --verify-with key outside the new set" 1 '--verify-with .*cert_0.key: no share of this file' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json" \
	--verify-with "$N/cert_1.key" "$T/s/cert_0.key"
nothing "a duplicate certificate" 1 'n/cert_1.cer: the same certificate as .*n/cert_1.cer; each officer needs their own' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "$N/cert_0.cer" "$N/cert_1.cer" "$N/cert_2.cer" --new-sd-quorum 3 \
	--out "$T/bad.json" --new-sd-wrapping-keys "$N/cert_1.cer"
cp "$N/cert_1.cer" "$N/cert_1-copy.cer"
nothing "the same certificate under two names" 1 'cert_1-copy.cer: the same certificate as .*n/cert_1.cer' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "$N/cert_0.cer" "$N/cert_1.cer" "$N/cert_1-copy.cer" --new-sd-quorum 2 \
	--out "$T/bad.json"
nothing "two certificates" 2 '2 certificates given; the service takes 3 to 10' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "$N/cert_0.cer" "$N/cert_1.cer" --new-sd-quorum 2 --out "$T/bad.json"
nothing "a quorum of 1" 2 '--new-sd-quorum 1: the service takes 2 up to the number of certificates \(5\)' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 1 --out "$T/bad.json"
nothing "a quorum above N" 2 '--new-sd-quorum 6' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 6 --out "$T/bad.json"
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$T/small.key" -out "$T/small.cer" \
	-subj /CN=small -days 30 >/dev/null 2>&1
nothing "an RSA-1024 certificate" 1 'small.cer: the service takes only RSA keys of 2048 bits or more' \
	--sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "$N/cert_0.cer" "$N/cert_1.cer" "$T/small.cer" --new-sd-quorum 2 --out "$T/bad.json"
$PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
c = j["EncData"]["data"][1]["compact_jwe"].split(".")
c[3] = ("B" if c[3][0] != "B" else "C") + c[3][1:]
j["EncData"]["data"][1]["compact_jwe"] = ".".join(c)
open(sys.argv[2], "w").write(json.dumps(j, separators=(",", ":")))' "$T/old.json" "$T/tampered.json"
rm -f "$T/bad.json"
expect_err "a tampered old file: its data do not authenticate" 1 'base_enclave_backup.*nothing written' \
	"$SDTOOL" reshare --sd-file "$T/tampered.json" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json"
check "... nothing written" test ! -e "$T/bad.json"
cp "$T/new.json" "$T/new.keep"
expect_err "--out exists: refused before any key is opened" 1 'new.json: already exists' \
	"$SDTOOL" reshare --sd-file "$T/old.json" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/new.json"
check "... and left unchanged" cmp -s "$T/new.json" "$T/new.keep"
expect "--json on failure: one object with the error" 1 "$SDTOOL" reshare --json --sd-file "$T/old.json" \
	--sd-wrapping-keys "$K/cert_1.key" "$T/s/cert_0.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/bad.json"
check "--json on failure: ok false, code, written false" [ "$(jget "$T/out" \
	'(j["verb"], j["ok"], j["error"]["code"], j["new"]["written"])')" = \
	"('reshare', False, 'quorum_not_reached', False)" ]
expect "--verify-with fewer than the quorum: partly verified, written" 0 "$SDTOOL" reshare \
	--sd-file "$T/old.json" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/partial.json" \
	--verify-with "$N/cert_3.key"
check "... says what remains to be done" grep -q '^PARTLY VERIFIED: the new keys opened 1 of 5 shares, fewer than the quorum of 3' "$T/out"
expect "without --verify-with: written, not yet verified" 0 "$SDTOOL" reshare \
	--sd-file "$T/old.json" --sd-wrapping-keys "$K/cert_1.key" "$K/cert_2.key" \
	--new-sd-wrapping-keys "${NEW5[@]}" --new-sd-quorum 3 --out "$T/unproved.json"
check "... tells the new officers to run verify --same-data" grep -q 'sdtool verify --sd-file .*unproved.json --sd-wrapping-keys KEY ... --same-data' "$T/out"
check "... and says what remains true" grep -q 'still restores this HSM' "$T/out"
check "two reshares of one file differ (fresh master, new IVs)" sh -c '! cmp -s "$1" "$2"' _ "$T/partial.json" "$T/unproved.json"

# ---- the man page's ROTATION RUNBOOK, command by command ----------------------
R=$T/runbook
mkdir -p "$R"
echo 'correct horse battery staple' >"$R/pw"
for o in 0:alice 1:bob 2:carol; do
	"$SDTOOL" keygen --index "${o%%:*}" -b 2048 -d "$R/${o#*:}" --password-file "$R/pw" >/dev/null 2>&1 ||
		not_ok "runbook: $o's key" "keygen failed"
done
expect "runbook: ContosoMHSM activated with Alice, Bob and Carol, quorum 2" 0 \
	"$SDTOOL" sim activate --state "$R/hsm" --sd-wrapping-keys "$R"/alice/cert_0.cer \
	"$R"/bob/cert_1.cer "$R"/carol/cert_2.cer --sd-quorum 2 --security-domain-file "$R/Contoso-SD.json"
old_sha=$(sha "$R/Contoso-SD.json")
echo 'not the passphrase' >"$R/badpw"
rm -f "$R/Contoso-SD-2.json"
expect_err "runbook: wrong passphrases for Alice and Bob write nothing" 1 'Contoso-SD.json: 0 of the 2 shares needed could be opened; nothing written' \
	"$SDTOOL" reshare --sd-file "$R/Contoso-SD.json" --password-file "$R/badpw" \
	--sd-wrapping-keys "$R/alice/cert_0.key" "$R/bob/cert_1.key" \
	--new-sd-wrapping-keys "$R"/alice/cert_0.cer "$R"/bob/cert_1.cer "$R"/carol/cert_2.cer \
	--new-sd-quorum 2 --out "$R/Contoso-SD-2.json"
check "... nothing written" test ! -e "$R/Contoso-SD-2.json"
check "... it says the passphrase was wrong" grep -q 'old key .*alice/cert_0.key: .*passphrase' "$T/err"
# The commands of the section, joined over their trailing backslashes.
$PY - "$MAN/sdtool-reshare.1" >"$T/runbook.cmds" <<'EOF'
import subprocess, sys
txt = subprocess.run(["sh", "-c", "mandoc -Tascii \"$0\" | col -b", sys.argv[1]],
                     capture_output=True, text=True).stdout
on, cmds, cur = False, [], None
for line in txt.splitlines():
    if line.startswith("ROTATION RUNBOOK"):
        on = True; continue
    if on and line[:1].isalpha() and line[:1].isupper():
        break
    if not on:
        continue
    s = line.strip()
    if cur is not None:
        cur += " " + s.rstrip("\\").strip()
        if not s.endswith("\\"):
            cmds.append(cur); cur = None
    elif s.startswith("$ "):
        cur = s[2:].rstrip("\\").strip()
        if not s.endswith("\\"):
            cmds.append(cur); cur = None
for c in cmds:
    print(c)
EOF
check "runbook: the man page has the runbook's commands" [ "$(wc -l <"$T/runbook.cmds")" -ge 10 ]
check "runbook: it reshares, verifies --same-data and destroys the old file" sh -c \
	'grep -q "^sdtool reshare .*--verify-with" "$1" && grep -q "^sdtool verify .*--same-data Contoso-SD.json" "$1" && grep -q "^shred -u Contoso-SD.json" "$1"' _ "$T/runbook.cmds"
n=0
while IFS= read -r cmd; do
	n=$((n + 1))
	case $cmd in
	"sdtool keygen "*|"sdtool reshare "*|"sdtool verify "*) cmd="$cmd --password-file pw" ;;
	esac
	cmd=${cmd/#sdtool /\"\$SDTOOL\" }
	(cd "$R" && SDTOOL=$SDTOOL bash -c "$cmd" </dev/null >"$T/rb.$n.out" 2>"$T/rb.$n.err")
	rc=$?
	if [ $rc -eq 0 ]; then ok "runbook step $n: ${cmd:0:70}"
	else not_ok "runbook step $n: $cmd" "exit $rc: $(head -c 300 "$T/rb.$n.err")"; fi
	case $cmd in
	*"sdtool\" reshare "*)
		check "runbook: reshare ends VERIFIED" grep -q '^VERIFIED: the new keys opened all 5 shares' "$T/rb.$n.out"
		check "runbook: reshare printed the old file's SHA-256" grep -q "  sha256 $old_sha" "$T/rb.$n.out"
		check "runbook: reshare printed the new file's SHA-256" grep -q "  sha256 $(sha "$R/Contoso-SD-2.json")" "$T/rb.$n.out"
		check "runbook: reshare printed the checklist" grep -q '^  \[ \] escrow sheets' "$T/rb.$n.out" ;;
	*"sdtool\" verify "*)
		check "runbook: verify --same-data proves the same data" grep -q 'all 3 data items equal' "$T/rb.$n.out" ;;
	esac
done <"$T/runbook.cmds"
check "runbook: the old file is destroyed" test ! -e "$R/Contoso-SD.json"
check "runbook: Dave, Erin and Frank's keys are passphrase-protected" grep -q 'ENCRYPTED' "$R/dave/cert_3.key"
expect "runbook: the recovery-mode HSM's exchange key" 0 "$SDTOOL" sim init-recovery --state "$R/hsm" \
	--sd-exchange-key "$R/exch.cer"
expect "runbook: Dave, Erin and Frank make the restore blob from the new file" 0 "$SDTOOL" restore-blob \
	--sd-file "$R/Contoso-SD-2.json" --sd-exchange-key "$R/exch.cer" --password-file "$R/pw" \
	--sd-wrapping-keys "$R/dave/cert_3.key" "$R/erin/cert_4.key" "$R/frank/cert_5.key" --out "$R/blob.json"
expect_out "runbook: the HSM activated with Alice, Bob and Carol is restored" 0 \
	'restored: all 3 data items match' "$SDTOOL" sim upload --state "$R/hsm" --sd-file "$R/blob.json"
expect_out "runbook: Carol's key opens nothing of the new file" 1 'carol/cert_2.key: no share of this file' \
	"$SDTOOL" verify --sd-file "$R/Contoso-SD-2.json" --password-file "$R/pw" \
	--sd-wrapping-keys "$R/carol/cert_2.key" "$R/dave/cert_3.key" "$R/erin/cert_4.key"

# ---- a real service file -------------------------------------------------------
check "three keys for the vector's new officers" make_keys "$T/v" 3
expect "reshare the 2023-05 service file (expired certificates) to 3 new keys" 0 \
	"$SDTOOL" reshare --sd-file "$V/2023-05/sd.json" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd3.key" \
	--new-sd-wrapping-keys "$T"/v/cert_[0-2].cer --new-sd-quorum 2 --out "$T/v2023.json" \
	--verify-with "$T"/v/cert_[0-2].key
check "... proved with all 3 new keys" grep -q '^VERIFIED: the new keys opened all 3 shares' "$T/out"
check "... the expired certificates warned about" grep -q 'warning: .*certificate expired' "$T/err"
expect_out "verify: the reshared service file, with --same-data" 0 'all 3 data items equal' \
	"$SDTOOL" verify --sd-file "$T/v2023.json" --sd-wrapping-keys "$T"/v/cert_[0-2].key \
	"$V/keys/sd1.key" "$V/keys/sd2.key" --same-data "$V/2023-05/sd.json"
vw=$(oracle sd-data "$V/2023-05/sd.json" "$V/keys/sd1.key" "$V/keys/sd2.key")
vg=$(oracle sd-data "$T/v2023.json" "$T/v/cert_1.key" "$T/v/cert_2.key")
check "azure-cli's code: the reshared file holds the service's data items" test -n "$vw" -a "$vw" = "$vg"
expect_err "the 2022-08 file does not open with keys/" 1 '0 of the 2 shares needed could be opened' \
	"$SDTOOL" reshare --sd-file "$V/2022-08/sd.json" --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" \
	--new-sd-wrapping-keys "$T"/v/cert_[0-2].cer --new-sd-quorum 2 --out "$T/v2022.json"
check "... and writes nothing" test ! -e "$T/v2022.json"

done_testing
