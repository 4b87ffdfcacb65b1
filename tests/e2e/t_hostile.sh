#!/bin/bash
# Bytes from outside never reach the terminal raw (issue 14): parser
# messages quoting the input, paths, subjects, escrow names; non-UTF-8
# paths are carried in JSON, never dropped or printed as "(null)"; long
# text is never cut without a marker.
. "$(dirname "$0")/lib.sh"

SD=$V/2023-05/sd.json

# raw_free FILE: no ESC, BEL, C1 (raw or as UTF-8), DEL or U+202E in FILE.
raw_free() {
	$PY - "$1" <<'PYEOF'
import sys
b = open(sys.argv[1], "rb").read()
bad = [c for c in b if c < 0x20 and c not in (0x0a,)] + [c for c in b if c == 0x7f]
bad += [c for c in b if 0x80 <= c <= 0x9f and False]
s = b.decode("utf-8", "replace")
bad += [c for c in s if 0x80 <= ord(c) <= 0x9f or ord(c) in (0x202e, 0x2066, 0x200b)]
# a lone byte 0x80..0xFF that is not valid UTF-8 shows up as U+FFFD
bad += [c for c in s if c == "\ufffd"]
sys.exit(1 if bad else 0)
PYEOF
}

# The review's example: an 8-bit OSC ended by BEL, inside a JSON string.
printf '{"a":"\xc2\x9d0;PWNED\\\x07"}' >"$T/j.json"
expect_err "jansson's message about hostile JSON is shown escaped" 1 'u009D0;PWNED' \
	"$SDTOOL" inspect "$T/j.json"
check "  ... with no control byte on stderr" raw_free "$T/err"
printf '{"a":"\x1b]0;x\x07"}' >"$T/esc.json"
expect_err "raw ESC in JSON input is named, not sent" 1 'control character 0x1b' "$SDTOOL" inspect "$T/esc.json"
check "  ... with no control byte on stderr" raw_free "$T/err"

# Paths given on the command line.
expect_err "ESC in a missing path is escaped" 1 'nope\\x1B\[31m\.json' \
	"$SDTOOL" inspect "$T/nope"$'\e'"[31m.json"
check "  ... raw-free" raw_free "$T/err"
expect_err "bidi override in a path is escaped" 1 'u202E' \
	"$SDTOOL" verify --sd-file "$T/x"$'\u202e'"nosj.json" --sd-wrapping-keys a b
check "  ... raw-free" raw_free "$T/err"
expect_err "unknown verb with ESC is escaped" 2 "unknown verb 'x\\\\x1B'" "$SDTOOL" $'x\e'
check "  ... raw-free" raw_free "$T/err"

# A non-UTF-8 path: never "(null)", carried escaped in JSON.
cp "$SD" "$T/bad"$'\xff'".json"
expect_out "inspect of a non-UTF-8 path shows it escaped" 0 'bad\\xFF\.json' \
	"$SDTOOL" inspect "$T/bad"$'\xff'".json"
check "  ... never (null)" sh -c "! grep -q '(null)' '$T/out'"
check "  ... raw-free" raw_free "$T/out"
expect "inspect --json of a non-UTF-8 path" 0 "$SDTOOL" inspect --json "$T/bad"$'\xff'".json"
check "  ... keeps the file field, escaped" test "$(jget "$T/out" 'j["file"].endswith("bad\\xFF.json")')" = True
expect_err "a missing non-UTF-8 path is escaped in the message" 1 'nope\\xFE' \
	"$SDTOOL" inspect "$T/nope"$'\xfe'
check "  ... raw-free" raw_free "$T/err"

# A certificate whose subject is longer than 255 bytes: shown whole.
S=$(printf 'S%.0s' $(seq 120))
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/long.key" -days 3 \
	-subj "/C=US/ST=$S/L=$S/O=Contoso Officers/CN=officer0" -out "$T/long.cer" 2>/dev/null
expect_out "a long subject is shown whole, CN and O included" 0 \
	'subject:  CN=officer0,O=Contoso Officers,L=S+,ST=S+,C=US$' "$SDTOOL" inspect "$T/long.cer"
expect "inspect --json of the long certificate" 0 "$SDTOOL" inspect --json "$T/long.cer"
check "  ... JSON subject whole" test "$(jget "$T/out" 'j["subject"].endswith("C=US") and "CN=officer0" in j["subject"]')" = True
# ESC and C1 in a subject (UTF8String): never raw.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/esc.key" -days 3 -utf8 \
	-subj "/CN=evil"$'\e'"]0;x"$'\a'"/O=Contoso" -out "$T/esc.cer" 2>/dev/null
expect "inspect of a certificate with ESC in its subject" 0 "$SDTOOL" inspect "$T/esc.cer"
check "  ... raw-free" raw_free "$T/out"

# inspect gives the certificate loader's reason for a refused certificate.
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$T/short.key" -days 3 \
	-subj /CN=short -out "$T/short.cer" 2>/dev/null
expect_err "a 1024-bit certificate: the loader's reason, not a JSON error" 1 \
	'short.cer: the certificate.s key is RSA-1024; at least 2048' "$SDTOOL" inspect "$T/short.cer"
check "  ... and no JSON parser message" sh -c "! grep -q 'not JSON' '$T/err'"
check "  ... and once" [ "$(wc -l <"$T/err")" -eq 1 ]
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.key" \
	-days 3 -subj /CN=ec -out "$T/ec.cer" -outform DER 2>/dev/null
expect_err "a DER EC certificate: the loader's reason" 1 'ec.cer: the certificate holds a EC key' \
	"$SDTOOL" inspect "$T/ec.cer"

# Escrow: an officer or HSM name with a bidi control is refused.
make_keys "$T/k" 3
for name in $'Al\u202eice' $'x\u2066y' $'\u200fBob' $'\u061c'; do
	expect_err "escrow print refuses a bidi control in --officer ($(printf %q "$name"))" 2 \
		'--officer: holds the bidirectional control U\+' "$SDTOOL" escrow print \
		--key "$T/k/cert_0.key" --out "$T/sheet.txt" --format text --no-passphrase --officer "$name"
	check "  ... nothing written" test ! -e "$T/sheet.txt"
	check "  ... raw-free" raw_free "$T/err"
done
expect_err "escrow print refuses a bidi control in --hsm" 2 '--hsm: holds the bidirectional' \
	"$SDTOOL" escrow print --key "$T/k/cert_0.key" --out "$T/sheet.txt" --format text \
	--no-passphrase --hsm $'contoso\u202e'
expect "escrow print takes an accented name" 0 "$SDTOOL" escrow print --key "$T/k/cert_0.key" \
	--out "$T/sheet.txt" --format text --no-passphrase --officer 'José Müller'

done_testing
