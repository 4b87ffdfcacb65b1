#!/bin/bash
# Secret lifetime (issue 14): every guarded buffer (sodium_malloc) is freed,
# hence wiped, by the time a verb exits, on success and on error paths, and
# restore-blob holds no secret any more when it writes the blob.  sdtool
# reports the count when SDTOOL_TEST_LIVE_SECRETS is set (test-only).
. "$(dirname "$0")/lib.sh"

export SDTOOL_TEST_LIVE_SECRETS=1
cd "$T" || exit 1

# zero NAME STATUS CMD...: exits STATUS and reports 0 buffers alive at exit.
zero() {
	_n=$1; _s=$2; shift 2
	run "$@"
	if [ "$RC" -ne "$_s" ]; then
		not_ok "$_n" "exit $RC, expected $_s; stderr: $(head -c 400 "$T/err")"
	elif ! grep -q '^sdtool: test: 0 guarded buffers alive at exit$' "$T/err"; then
		not_ok "$_n" "secrets alive at exit: $(grep 'guarded buffers' "$T/err")"
	else
		ok "$_n"
	fi
}

printf 'correct horse\n' >pw
printf 'battery staple\n' >pw2
printf 'wrong passphrase\n' >bad
zero "keygen with a passphrase" 0 "$SDTOOL" keygen -n 3 -b 2048 -d k --password-file pw
# each key's PEM is freed once written: fewer alive at each write
check "  keygen: key PEMs freed as they are written" \
	test "$(grep 'alive at writing a key' "$T/err" | sed 's/.*test: \([0-9]*\) .*/\1/' | tr '\n' ' ')" = "3 2 1 "
zero "keygen --no-passphrase" 0 "$SDTOOL" keygen -n 3 -b 2048 -d kn --no-passphrase
zero "keygen: error path (directory exists)" 1 "$SDTOOL" keygen -n 3 -b 2048 -d k --password-file pw
zero "keygen: error path (short passphrase)" 1 "$SDTOOL" keygen -n 3 -b 2048 -d k2 --password-file <(echo short)
"$SDTOOL" sim activate --state hsm --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer \
	--sd-quorum 2 --security-domain-file sd.json >/dev/null 2>&1
zero "sim activate" 0 "$SDTOOL" sim activate --state hsm2 --sd-wrapping-keys k/cert_0.cer \
	k/cert_1.cer k/cert_2.cer --sd-quorum 2 --security-domain-file sd2.json
"$SDTOOL" sim activate --state hsmn --sd-wrapping-keys kn/cert_0.cer kn/cert_1.cer \
	kn/cert_2.cer --sd-quorum 2 --security-domain-file sdn.json >/dev/null 2>&1
zero "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state hsm --sd-exchange-key exch.cer
zero "inspect" 0 "$SDTOOL" inspect sd.json k/cert_0.cer
zero "verify" 0 "$SDTOOL" verify --sd-file sd.json --sd-wrapping-keys k/cert_0.key k/cert_1.key \
	k/cert_2.key --password-file pw
zero "verify: wrong passphrase" 1 "$SDTOOL" verify --sd-file sd.json --sd-wrapping-keys \
	k/cert_0.key k/cert_1.key --password-file bad
zero "verify: unreadable --password-file" 1 "$SDTOOL" verify --sd-file sd.json --sd-wrapping-keys \
	k/cert_0.key k/cert_1.key --password-file nope
zero "verify: a damaged SD file" 1 "$SDTOOL" verify --sd-file <(head -c 300 sd.json) \
	--sd-wrapping-keys k/cert_0.key k/cert_1.key --password-file pw
zero "restore-blob" 0 "$SDTOOL" restore-blob --sd-file sd.json --sd-exchange-key exch.cer \
	--sd-wrapping-keys k/cert_0.key k/cert_1.key --password-file pw --out blob.json
check "  restore-blob: no secret alive when the blob is written" \
	grep -q '^sdtool: test: 0 guarded buffers alive at writing the blob$' "$T/err"
zero "restore-blob: --out exists" 1 "$SDTOOL" restore-blob --sd-file sd.json --sd-exchange-key exch.cer \
	--sd-wrapping-keys k/cert_0.key k/cert_1.key --password-file pw --out blob.json
zero "restore-blob: too few keys open" 1 "$SDTOOL" restore-blob --sd-file sd.json --sd-exchange-key \
	exch.cer --sd-wrapping-keys k/cert_0.key k/cert_1.key --password-file bad --out blob2.json
zero "restore-blob: shares of another SD file" 1 "$SDTOOL" restore-blob --sd-file sd2.json \
	--sd-exchange-key exch.cer --sd-wrapping-keys kn/cert_0.key kn/cert_1.key --out blob3.json
zero "sim upload" 0 "$SDTOOL" sim upload --state hsm --sd-file blob.json
zero "escrow print (text)" 0 "$SDTOOL" escrow print --key k/cert_0.key --format text --out sheet.txt \
	--password-file pw --new-password-file pw2
grep -E '^ *([0-9]+|end):' sheet.txt >typed.txt
# a compact sheet's typed lines carry the secret half: --cert the public one
zero "escrow restore --text" 0 "$SDTOOL" escrow restore --text typed.txt --cert k/cert_0.cer \
	--out r.key --password-file pw2 --new-password-file pw
zero "escrow restore: wrong sheet passphrase" 1 "$SDTOOL" escrow restore --text typed.txt \
	--cert k/cert_0.cer --out r2.key --password-file bad --new-password-file pw
zero "escrow print: wrong key passphrase" 1 "$SDTOOL" escrow print --key k/cert_0.key --format text \
	--out sheet2.txt --password-file bad --new-password-file pw2
if "$SDTOOL" yk --help >/dev/null 2>&1; then
	printf '# sdtool software YubiKey: a TEST device; it protects nothing.\nserial 1000001\nslot2 303132333435363738393a3b3c3d3e3f40414243\n' >yk.soft
	export SDTOOL_YK_SOFTWARE_SECRET_FILE=$T/yk.soft
	zero "yk wrap" 0 "$SDTOOL" yk wrap --key kn/cert_0.key --slot 2 --out c0.ykey
	zero "yk unwrap" 0 "$SDTOOL" yk unwrap --in c0.ykey --out c0.key --no-passphrase
	cp kn/cert_0.cer c0.cer
	zero "verify with a .ykey" 0 "$SDTOOL" verify --sd-file sdn.json --sd-wrapping-keys c0.ykey \
		kn/cert_1.key kn/cert_2.key
	zero "yk wrap: slot not configured" 1 "$SDTOOL" yk wrap --key kn/cert_1.key --slot 1 --out c1.ykey
fi
zero "usage error" 2 "$SDTOOL" verify --frobnicate

done_testing
