#!/bin/bash
# verify reports exactly what it proved: per-share evidence, per-quorum
# results, the exit statuses 0 / 3 / 1 / 2, --all, the solo key check and
# --quiet (issue 9).
. "$(dirname "$0")/lib.sh"

check "keys" make_keys "$T/k" 3
check "a stranger's keys" make_keys "$T/s" 3
expect "sim" 0 "$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys "$T/k"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd.json"
SD=$T/sd.json
K0=$T/k/cert_0.key K1=$T/k/cert_1.key K2=$T/k/cert_2.key

# Exit statuses.
expect_out "every share opened, every quorum: 0" 0 '^OK: every quorum of the 3 opened shares \(3 combinations\) opens this SD file; every share was opened' \
	"$SDTOOL" verify --all --sd-file "$SD" --sd-wrapping-keys "$K0" "$K1" "$K2"
expect_out "two of three without --all: 0, and the third share is named as not covered" 0 'not covered: #3 \(nothing was proved of it\)' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$K0" "$K1"
check "... share #3: not given" grep -q '^  share #3: not given' "$T/out"
expect_out "two of three with --all: 3 (recoverable, a share not covered)" 3 '^FAILED: --all: share #3 not opened' \
	"$SDTOOL" verify --all --sd-file "$SD" --sd-wrapping-keys "$K0" "$K1"
expect_out "a stranger's key among a quorum: 3" 3 '^FAILED: 1 of the 3 keys given opened no share' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$K0" "$T/s/cert_0.key" "$K2"
expect_out "one key of a 2-quorum: 1 (not recoverable with what was given)" 1 '^FAILED: 1 of the 2 shares needed were opened' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$K0"
expect "usage: 2" 2 "$SDTOOL" verify --sd-file "$SD"
expect "--solo with --all: 2" 2 "$SDTOOL" verify --solo --all --sd-file "$SD" --sd-wrapping-keys "$K0"

# A share whose key fails is "failed", with the reason, not "not given".
cp "$K1" "$T/k1-bad.key"
cp "$T/k/cert_1.cer" "$T/k1-bad.cer"
printf 'not a key\n' >"$T/k1-bad.key"
expect_out "a broken key: its share is reported failed, by its certificate" 3 '^  share #2: FAILED: .*k1-bad.key' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$K0" "$T/k1-bad.key" "$K2"

# JSON: per share and per quorum.
expect "verify --json --all, a share not covered" 3 "$SDTOOL" verify --json --all --sd-file "$SD" --sd-wrapping-keys "$K0" "$K2"
check "json: shares opened / not_given / opened" [ "$(jget "$T/out" '[s["status"] for s in j["shares"]]')" = "['opened', 'not_given', 'opened']" ]
check "json: one quorum, recombined" [ "$(jget "$T/out" '[(q["shares"], q["status"]) for q in j["quorums"]]')" = "[([1, 3], 'recombined')]" ]
check "json: ok false, error, result" [ "$(jget "$T/out" '(j["ok"], j["error"]["code"], j["result"], j["exit_status"])')" = \
	"(False, 'check_incomplete', 'recoverable_with_problems', 3)" ]
check "json: sd_sha256 is the file's" [ "$(jget "$T/out" 'j["sd_sha256"]')" = "$(sha256sum "$SD" | cut -c1-64)" ]

# --quiet: only problems and the verdict.
expect "verify -q" 0 "$SDTOOL" verify -q --all --sd-file "$SD" --sd-wrapping-keys "$K0" "$K1" "$K2"
check "-q: one line, the verdict" [ "$(wc -l <"$T/out")" -eq 1 ] && grep -q '^OK: every quorum' "$T/out"
expect "verify --quiet with a share not covered" 3 "$SDTOOL" verify --quiet --all --sd-file "$SD" --sd-wrapping-keys "$K0" "$K1"
check "--quiet: the share not covered is still named" grep -q '^  share #3: not given' "$T/out"

# The solo key check: what the escrow sheet's step tells an officer to run.
expect_out "solo: one officer's key alone: 0" 0 '^OK \(solo check\): .*cert_0.key opens share #1' \
	"$SDTOOL" verify --solo --sd-file "$SD" --sd-wrapping-keys "$K0"
check "solo: says what it does not prove" grep -q 'does not prove that the shares recombine' "$T/out"
check "solo: and shows no quorum" sh -c "! grep -q quorum '$T/out' || ! grep -q '^  quorum' '$T/out'"
expect_out "solo: a stranger's key: 1" 1 '^FAILED \(solo check\)' \
	"$SDTOOL" verify --solo --sd-file "$SD" --sd-wrapping-keys "$T/s/cert_0.key"
expect "solo --json" 0 "$SDTOOL" verify --solo --json --sd-file "$SD" --sd-wrapping-keys "$K1"
check "solo json: check solo, key opened share 2 at x 2, no quorums" [ "$(jget "$T/out" \
	'(j["check"], j["keys"][0]["status"], j["keys"][0]["share"], j["keys"][0]["x"], j["quorums"], j["ok"])')" = \
	"('solo', 'opened', 2, 2, [], True)" ]

# A share that decrypts but sits at another position: the file was
# altered (shares 1 and 2 swapped).  The solo check must not pass it.
$PY - "$SD" "$T/swapped.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["SharedKeys"]["enc_shares"]
s[0], s[1] = s[1], s[0]
open(sys.argv[2], "w").write(json.dumps(j, separators=(",", ":")))
PYEOF
expect_out "solo: a share at the wrong position fails" 1 'carries x-coordinate 1 where the position of its certificate is 2' \
	"$SDTOOL" verify --solo --sd-file "$T/swapped.json" --sd-wrapping-keys "$K0"

# Issue 9: the command an escrow sheet prints as its step 4 failed (exit 1)
# for one officer alone.  Run the sheet's own line.
printf 'sheet passphrase 4567\n' >"$T/sheetpass"
expect "escrow print (text) for officer 0" 0 "$SDTOOL" escrow print --key "$K0" --format text \
	--out "$T/sheet.txt" --new-password-file "$T/sheetpass"
line=$(grep -E '^ +sdtool verify ' "$T/sheet.txt" | head -n 1 | sed 's/^ *//')
check "the sheet's step is the solo key check" sh -c 'case "$1" in *"--solo"*) exit 0;; esac; exit 1' _ "$line"
# shellcheck disable=SC2086
set -- $line
shift
cd "$T/k" || exit 1
expect_out "the sheet's command, as printed, proves the officer's key alone" 0 '^OK \(solo check\)' \
	"$SDTOOL" $(printf '%s\n' "$@" | sed "s|^SD.json\$|$SD|")
cd - >/dev/null || exit 1

# '-' reads the SD file from standard input.
check "verify --sd-file - (standard input)" sh -c '"$1" verify --all --sd-file - --sd-wrapping-keys "$2" "$3" "$4" <"$5" | grep -q "^OK: every quorum"' \
	_ "$SDTOOL" "$K0" "$K1" "$K2" "$SD"
# azure-cli's --passwords: a pointer, not "unknown option".
expect_err "--passwords points to --password-file" 2 'use --password-file FILE' \
	"$SDTOOL" verify --sd-file "$SD" --sd-wrapping-keys "$K0" --passwords secret
check "sdtool help verify is verify's usage" sh -c '"$1" help verify | grep -q "^usage: sdtool verify "' _ "$SDTOOL"

done_testing
