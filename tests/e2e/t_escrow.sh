#!/bin/bash
# sdtool escrow: three officers' keys (RSA 2048, 3072, 4096) go to paper
# and come back.  Each sheet is printed as a PDF, rendered by pdftoppm,
# its codes read by zbarimg (an independent reader) and by --scan, and
# typed back from the text sheet; every restored key is the original, and
# together they open a simulated HSM's SD file.  Then the ways it must
# fail: a typo in any line (named), wrong passphrase, missing and
# duplicated parts, parts of another sheet, a sheet of another key.
. "$(dirname "$0")/lib.sh"

for tool in pdftoppm pdfinfo zbarimg openssl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		not_ok "$tool is installed" "make check installs it (mk/deps.sh)"
		done_testing
		exit 1
	fi
done

D=$T/keys
mkdir -p "$D"
printf 'key passphrase 0123\n' >"$T/keypass"
printf 'sheet passphrase 4567\n' >"$T/sheetpass"
printf 'restored passphrase 89\n' >"$T/newpass"
printf 'not the passphrase\n' >"$T/wrongpass"
BITS=(2048 3072 4096)

# keyder FILE PASSFILE: the private key's PKCS#8 DER, hashed.
keyder() { openssl pkey -in "$1" -passin "file:$2" -outform DER 2>/dev/null | sha256sum | cut -c1-64; }
mode() { stat -c %a "$1"; }

for i in 0 1 2; do
	"$SDTOOL" keygen --index "$i" -b "${BITS[$i]}" -d "$D" \
		--password-file "$T/keypass" >/dev/null 2>&1
	check "keygen cert_$i (RSA-${BITS[$i]})" test -s "$D/cert_$i.key"
	ORIG[$i]=$(keyder "$D/cert_$i.key" "$T/keypass")
done
expect "sim activate with the three certificates" 0 \
	"$SDTOOL" sim activate --state "$T/hsm" --sd-quorum 2 \
	--sd-wrapping-keys "$D/cert_0.cer" "$D/cert_1.cer" "$D/cert_2.cer" \
	--security-domain-file "$T/sd.json"

# --- long sheets (format 1, --long): print, read back three ways ---------
for i in 0 1 2; do
	b=${BITS[$i]}
	S=$T/sheet$i.pdf
	expect "RSA-$b: print a long PDF sheet" 0 "$SDTOOL" escrow print --long \
		--key "$D/cert_$i.key" --officer "Officer $i" --hsm ContosoMHSM \
		--out "$S" --password-file "$T/keypass" \
		--new-password-file "$T/sheetpass" --json
	cp "$T/out" "$T/print$i.json"
	parts=$(jget "$T/print$i.json" 'j["qr_parts"]')
	check "RSA-$b: several QR parts ($parts)" test "$parts" -ge 3
	check "RSA-$b: key index from the file name" \
		test "$(jget "$T/print$i.json" 'j["key_index"]')" = "$i"
	check "RSA-$b: encrypted" test "$(jget "$T/print$i.json" 'j["encrypted"]')" = True
	check "RSA-$b: sheet is mode 0600" test "$(mode "$S")" = 600
	check "RSA-$b: no temporary files" no_temp_files "$T"
	check "RSA-$b: a PDF" sh -c 'head -c 5 "$1" | grep -q "%PDF-"' - "$S"
	check "RSA-$b: A4 pages" sh -c 'pdfinfo "$1" | grep -q "595.* x 841.*"' - "$S"

	pdftoppm -r 150 -png "$S" "$T/p$i" 2>/dev/null
	check "RSA-$b: pdftoppm renders the sheet" test -s "$T/p$i-1.png"
	# the independent reader
	# QR codes only: another symbology may "read" in the typed lines
	zbarimg -q -Sdisable -Sqrcode.enable "$T"/p$i-*.png >"$T/z$i.txt" 2>/dev/null
	check "RSA-$b: zbarimg reads all $parts codes" \
		test "$(grep -c '^QR-Code:SDE1/' "$T/z$i.txt")" -eq "$parts"

	R=$T/r$i-qr.key
	expect "RSA-$b: restore from zbarimg's output (--qr)" 0 \
		"$SDTOOL" escrow restore --qr "$T/z$i.txt" --out "$R" \
		--cert "$D/cert_$i.cer" --password-file "$T/sheetpass" \
		--new-password-file "$T/newpass"
	check "RSA-$b: --qr key is the original" test "$(keyder "$R" "$T/newpass")" = "${ORIG[$i]}"
	check "RSA-$b: restored key mode 0600" test "$(mode "$R")" = 600
	check "RSA-$b: restored key is encrypted" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$R"
	check "RSA-$b: restore names the certificate as matched" \
		grep -q 'x5t_256 .*matches the certificate' "$T/out"

	R=$T/r$i-scan.key
	expect "RSA-$b: restore from the page images (--scan)" 0 \
		"$SDTOOL" escrow restore --scan "$T"/p$i-*.png --out "$R" \
		--cert "$D/cert_$i.cer" --password-file "$T/sheetpass" \
		--new-password-file "$T/newpass" --json
	check "RSA-$b: --scan key is the original" test "$(keyder "$R" "$T/newpass")" = "${ORIG[$i]}"
	check "RSA-$b: JSON names the source and the officer" \
		test "$(jget "$T/out" 'j["source"] + "/" + j["officer"]')" = "scan/Officer $i"

	# the text sheet, typed back
	X=$T/sheet$i.txt
	expect "RSA-$b: print a long text sheet" 0 "$SDTOOL" escrow print --long \
		--key "$D/cert_$i.key" --format text --out "$X" \
		--password-file "$T/keypass" --new-password-file "$T/sheetpass"
	check "RSA-$b: text sheet is ASCII" sh -c '! LC_ALL=C grep -q "[^ -~]" "$1"' - "$X"
	# what a person types: the numbered lines and the end line, in lower
	# case, with O for 0 and l for 1, spaces dropped
	grep -E '^ *([0-9]+|end):' "$X" | awk '{
		c = index($0, ":"); head = substr($0, 1, c); rest = substr($0, c + 1)
		if (head !~ /end/) { gsub(/ /, "", rest); gsub(/0/, "o", rest); gsub(/1/, "l", rest) }
		print head tolower(rest) }' >"$T/typed$i.txt"
	R=$T/r$i-text.key
	expect "RSA-$b: restore from typed lines (--text)" 0 \
		"$SDTOOL" escrow restore --text "$T/typed$i.txt" --out "$R" \
		--password-file "$T/sheetpass" --new-password-file "$T/newpass"
	check "RSA-$b: --text key is the original" test "$(keyder "$R" "$T/newpass")" = "${ORIG[$i]}"
	check "RSA-$b: without --cert, the sheet's thumbprint is shown" \
		grep -q 'from the sheet: compare it' "$T/out"
done

expect_out "the three restored keys open the SD file, every quorum" 0 \
	'OK: every quorum' "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "$T/r0-scan.key" "$T/r1-text.key" "$T/r2-qr.key" \
	--password-file "$T/newpass"

# --- compact sheets (format 2, the default): one page ---------------------
# The secret half is the smaller prime; the certificate rides in a second
# code marked PUBLIC, so a scan alone restores.  For each key size and
# paper: the page count from pdfinfo, both codes read by zbarimg, restore
# from zbarimg's texts and from the page image (no --cert), and from the
# typed lines with --cert (a file, or a scan of the PUBLIC code).
for i in 0 1 2; do
	b=${BITS[$i]}
	for paper in a4 letter; do
		C=$T/c$i$paper.pdf
		expect "compact RSA-$b $paper: print" 0 "$SDTOOL" escrow print \
			--key "$D/cert_$i.key" --officer "Officer $i" --hsm ContosoMHSM \
			--paper "$paper" --out "$C" --password-file "$T/keypass" \
			--new-password-file "$T/sheetpass" --json
		check "compact RSA-$b $paper: sheet format 2" \
			test "$(jget "$T/out" 'j["sheet_format"]')" = 2
		pages=$(pdfinfo "$C" | awk '/^Pages:/ { print $2 }')
		check "compact RSA-$b $paper: ONE page (pdfinfo says $pages)" test "$pages" = 1
		check "compact RSA-$b $paper: JSON says 1 page" \
			test "$(jget "$T/out" 'j["pages"]')" = 1
		echo "# compact RSA-$b $paper: $pages page, $(jget "$T/out" 'j["text_lines"]') typed lines and the end line"
	done
	C=$T/c${i}a4.pdf
	pdftoppm -r 150 -png "$C" "$T/cp$i"
	zbarimg -q -Sdisable -Sqrcode.enable "$T/cp$i-1.png" >"$T/cz$i.txt" 2>/dev/null
	check "compact RSA-$b: zbarimg reads the SECRET code" \
		test "$(grep -c '^QR-Code:SDK2/' "$T/cz$i.txt")" -eq 1
	check "compact RSA-$b: zbarimg reads the PUBLIC code" \
		test "$(grep -c '^QR-Code:SDC2/' "$T/cz$i.txt")" -eq 1
	expect "compact RSA-$b: restore from zbarimg's texts, no --cert" 0 \
		"$SDTOOL" escrow restore --qr "$T/cz$i.txt" --out "$T/cq$i.key" \
		--password-file "$T/sheetpass" --new-password-file "$T/newpass"
	check "compact RSA-$b: --qr key is the original" test "$(keyder "$T/cq$i.key" "$T/newpass")" = "${ORIG[$i]}"
	expect "compact RSA-$b: restore from the page image alone (--scan)" 0 \
		"$SDTOOL" escrow restore --scan "$T/cp$i-1.png" --out "$T/cs$i.key" \
		--password-file "$T/sheetpass" --new-password-file "$T/newpass" --json
	check "compact RSA-$b: --scan key is the original" test "$(keyder "$T/cs$i.key" "$T/newpass")" = "${ORIG[$i]}"
	check "compact RSA-$b: --scan JSON: officer from the PUBLIC code" \
		test "$(jget "$T/out" 'j["officer"] + "/" + str(j["cert_checked"])')" = "Officer $i/True"
	check "compact RSA-$b: restored key mode 0600" test "$(mode "$T/cs$i.key")" = 600

	X=$T/ct$i.txt
	expect "compact RSA-$b: print a text sheet" 0 "$SDTOOL" escrow print \
		--key "$D/cert_$i.key" --format text --out "$X" \
		--password-file "$T/keypass" --new-password-file "$T/sheetpass"
	n=$(grep -cE '^ *([0-9]+|end):' "$X")
	echo "# compact RSA-$b: $n typed lines, end line included"
	[ "$b" = 3072 ] && check "compact RSA-3072: at most 12 typed lines ($n)" test "$n" -le 12
	grep -E '^ *([0-9]+|end):' "$X" | awk '{
		c = index($0, ":"); head = substr($0, 1, c); rest = substr($0, c + 1)
		if (head !~ /end/) { gsub(/ /, "", rest); gsub(/0/, "o", rest); gsub(/1/, "l", rest) }
		print head tolower(rest) }' >"$T/ctyped$i.txt"
	expect_err "compact RSA-$b: typed lines without --cert ask for it" 1 \
		'give --cert with the key.s certificate, or the sheet.s PUBLIC QR code' \
		"$SDTOOL" escrow restore --text "$T/ctyped$i.txt" --out "$T/cx.key" \
		--password-file "$T/sheetpass" --no-passphrase
	check "nothing written" test ! -e "$T/cx.key"
	expect "compact RSA-$b: typed lines + --cert FILE" 0 \
		"$SDTOOL" escrow restore --text "$T/ctyped$i.txt" --cert "$D/cert_$i.cer" \
		--out "$T/ct$i.key" --password-file "$T/sheetpass" --new-password-file "$T/newpass"
	check "compact RSA-$b: --text key is the original" test "$(keyder "$T/ct$i.key" "$T/newpass")" = "${ORIG[$i]}"
	expect "compact RSA-$b: typed lines + --cert <scan of the PUBLIC code>" 0 \
		"$SDTOOL" escrow restore --text "$T/ctyped$i.txt" --cert "$T/cp$i-1.png" \
		--out "$T/ctp$i.key" --password-file "$T/sheetpass" --no-passphrase
	check "compact RSA-$b: that key is the original" test "$(keyder "$T/ctp$i.key" "$T/newpass")" = "${ORIG[$i]}"
	grep '^QR-Code:SDC2/' "$T/cz$i.txt" >"$T/cpub$i.txt"
	expect "compact RSA-$b: typed lines + --cert <text of the PUBLIC code>" 0 \
		"$SDTOOL" escrow check --text "$T/ctyped$i.txt" --cert "$T/cpub$i.txt" \
		--password-file "$T/sheetpass"
done
expect_out "the compact-restored keys open the SD file, every quorum" 0 \
	'OK: every quorum' "$SDTOOL" verify --sd-file "$T/sd.json" \
	--sd-wrapping-keys "$T/cs0.key" "$T/ct1.key" "$T/cq2.key" \
	--password-file "$T/newpass"

# a typo in any line of a compact sheet is named by line and characters
X=$T/ct1.txt
nlines=$(grep -cE '^ *[0-9]+:' "$X")
bad=0
for ((n = 1; n <= nlines; n++)); do
	data=$(grep -E "^ *$n:" "$X" | awk '{ s = ""; for (i = 2; i < NF; i++) s = s $i; print s }')
	p=$(( (n * 11) % ${#data} + 1 ))
	awk -v n="$n" -v p="$p" '
	function other(c) { return c == "A" ? "B" : "A" }
	$1 == n ":" {
		s = ""; k = 0
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (i > index($0, ":") && c != " ") {
				k++
				if (k == p) c = other(c)
			}
			s = s c
		}
		print s; next
	}
	{ print }' "$X" >"$T/ctypo.txt"
	run "$SDTOOL" escrow restore --text "$T/ctypo.txt" --cert "$D/cert_1.cer" \
		--out "$T/ctypo.key" --password-file "$T/sheetpass" --no-passphrase
	g=$(( (p - 1) / 8 ))
	want="ctypo.txt: line $n: checksum mismatch, check characters $((g * 8 + 1))-$((g * 8 + 8))\$"
	if [ "$RC" -ne 1 ] || ! grep -Eq "$want" "$T/err" || [ -e "$T/ctypo.key" ]; then
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && echo "# line $n: exit $RC: $(head -c 300 "$T/err")"
	fi
done
check "compact RSA-3072: a typo in each of the $nlines lines is named by line and characters" test "$bad" -eq 0

# the wrong certificate is refused before the passphrase, and nothing written
expect_err "compact: typed lines with another key's certificate" 1 \
	'cert_0.cer: not the certificate on the sheet' \
	"$SDTOOL" escrow restore --text "$T/ctyped1.txt" --cert "$D/cert_0.cer" \
	--out "$T/cw.key" --password-file "$T/wrongpass" --no-passphrase
check "refused before the passphrase (the wrong one was not tried)" \
	sh -c '! grep -q "wrong passphrase" "$1"' - "$T/err"
check "nothing written" test ! -e "$T/cw.key"
expect_err "compact: a scan with another key's certificate" 1 \
	'cert_0.cer: not the certificate in the sheet.s PUBLIC QR code' \
	"$SDTOOL" escrow restore --scan "$T/cp1-1.png" --cert "$D/cert_0.cer" \
	--out "$T/cw.key" --password-file "$T/sheetpass" --no-passphrase
check "nothing written" test ! -e "$T/cw.key"
# the secret code of one sheet with the public code of another
{ grep '^QR-Code:SDK2/' "$T/cz1.txt"; grep '^QR-Code:SDC2/' "$T/cz0.txt"; } >"$T/cmix.txt"
expect_err "compact: the PUBLIC code of another key's sheet" 1 \
	'not the certificate on the sheet' \
	"$SDTOOL" escrow restore --qr "$T/cmix.txt" --out "$T/cw.key" \
	--password-file "$T/sheetpass" --no-passphrase
check "nothing written" test ! -e "$T/cw.key"
grep '^QR-Code:SDC2/' "$T/cz1.txt" >"$T/conlypub.txt"
expect_err "compact: only the PUBLIC code" 1 'the secret code .* is missing' \
	"$SDTOOL" escrow restore --qr "$T/conlypub.txt" --out "$T/cw.key" --no-passphrase
expect_err "compact: wrong sheet passphrase" 1 "wrong passphrase" \
	"$SDTOOL" escrow restore --qr "$T/cz1.txt" --out "$T/cw.key" \
	--password-file "$T/wrongpass" --no-passphrase
check "nothing written" test ! -e "$T/cw.key"
expect_err "compact, not encrypted: print warns" 0 'will not be encrypted' \
	"$SDTOOL" escrow print --key "$D/cert_2.key" --out "$T/cplain.pdf" \
	--password-file "$T/keypass" --no-passphrase
check "compact, not encrypted, RSA-4096: one page" \
	sh -c 'pdfinfo "$1" | grep -Eq "^Pages: +1$"' - "$T/cplain.pdf"
pdftoppm -r 150 -png "$T/cplain.pdf" "$T/cplain"
expect_out "compact, not encrypted: a scan checks, no passphrase asked" 0 'reads back' \
	"$SDTOOL" escrow check --scan "$T/cplain-1.png"

# a certificate too long for the PUBLIC code: the long sheet, with a warning
san=$(for k in $(seq 1 60); do printf 'DNS:host%02d.example.com,' "$k"; done)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/bigcert.key" \
	-out "$T/bigcert.cer" -days 30 -subj "/CN=big certificate" \
	-addext "subjectAltName=${san%,}" 2>/dev/null
expect_err "compact: a certificate too long for the PUBLIC code" 0 \
	'too long for a compact sheet.s PUBLIC code; printing the long sheet' \
	"$SDTOOL" escrow print --key "$T/bigcert.key" --cert "$T/bigcert.cer" \
	--out "$T/bigcert.pdf" --no-passphrase --json
check "and it is a long sheet (format 1)" \
	test "$(jget "$T/out" 'j["sheet_format"]')" = 1

# --- a typo in any line is named ----------------------------------------
# For the RSA-2048 sheet, every line in turn gets one wrong character;
# restore must name that line and the group of eight holding it.
X=$T/sheet0.txt
nlines=$(grep -cE '^ *[0-9]+:' "$X")
check "RSA-2048 text sheet has lines ($nlines)" test "$nlines" -gt 50
bad=0
for ((n = 1; n <= nlines; n++)); do
	# one wrong character at data position p of line n (the last line
	# is shorter)
	data=$(grep -E "^ *$n:" "$X" | awk '{ s = ""; for (i = 2; i < NF; i++) s = s $i; print s }')
	p=$(( (n * 7) % ${#data} + 1 ))
	awk -v n="$n" -v p="$p" '
	function other(c) { return c == "A" ? "B" : "A" }
	$1 == n ":" {
		s = ""; k = 0
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (i > index($0, ":") && c != " ") {
				k++
				if (k == p) c = other(c)
			}
			s = s c
		}
		print s; next
	}
	{ print }' "$X" >"$T/typo.txt"
	run "$SDTOOL" escrow restore --text "$T/typo.txt" --out "$T/typo.key" \
		--password-file "$T/sheetpass" --no-passphrase
	g=$(( (p - 1) / 8 ))
	want="typo.txt: line $n: checksum mismatch, check characters $((g * 8 + 1))-$((g * 8 + 8))\$"
	if [ "$RC" -ne 1 ] || ! grep -Eq "$want" "$T/err" || [ -e "$T/typo.key" ]; then
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && echo "# line $n: exit $RC: $(head -c 300 "$T/err")"
	fi
done
check "a typo in each of the $nlines lines is named by line and characters" test "$bad" -eq 0

# every line wrong at once: all are listed (the first 20, then a count)
sed -E 's/^( *[0-9]+: )(.)/\1U/' "$X" >"$T/allbad.txt"
expect_err "every wrong line is listed" 1 'line 20: character 1' \
	"$SDTOOL" escrow restore --text "$T/allbad.txt" --out "$T/x.key" --no-passphrase
check "and the rest counted" grep -q "and $((nlines - 20)) more" "$T/err"

grep -vE '^ *17:' "$X" >"$T/noline.txt"
expect_err "a missing line is named" 1 'line 17 is missing' \
	"$SDTOOL" escrow restore --text "$T/noline.txt" --out "$T/x.key" --no-passphrase
awk '/^ *(5|6):/ { l[$1] = $0 } { print }' "$X" |
	sed -E 's/^( *)5:/\1x:/; s/^( *)6:/\15:/; s/^( *)x:/\16:/' >"$T/swapped.txt"
expect_err "two lines typed under each other's numbers" 1 'line 5: checksum mismatch' \
	"$SDTOOL" escrow restore --text "$T/swapped.txt" --out "$T/x.key" --no-passphrase
check "both named" grep -q 'line 6: checksum mismatch' "$T/err"
expect_out "the text sheet itself restores as it is" 0 'printed' \
	"$SDTOOL" escrow check --text "$X" --password-file "$T/sheetpass"
grep -v '^end:' "$X" >"$T/noend.txt"
expect_err "a missing end line is named" 1 'end line .* is missing' \
	"$SDTOOL" escrow check --text "$T/noend.txt" --password-file "$T/sheetpass"

# --- QR parts: missing, twice, of another sheet ---------------------------
Z=$T/z0.txt
n0=$(wc -l <"$Z")
grep -v '^QR-Code:SDE1/2/' "$Z" >"$T/miss.txt"
expect_err "a missing QR part is named" 1 "QR part 2 of $n0 is missing" \
	"$SDTOOL" escrow restore --qr "$T/miss.txt" --out "$T/x.key" \
	--password-file "$T/sheetpass" --no-passphrase
check "nothing written" test ! -e "$T/x.key"
{ cat "$Z"; grep '^QR-Code:SDE1/1/' "$Z"; } >"$T/twice.txt"
expect_err "a QR part given twice, named with its file and line" 1 \
	"twice.txt: line $((n0 + 1)): QR part 1 given twice" \
	"$SDTOOL" escrow restore --qr "$T/twice.txt" --out "$T/x.key" \
	--password-file "$T/sheetpass" --no-passphrase
expect_err "the same image given twice" 1 'QR part [0-9]+ given twice' \
	"$SDTOOL" escrow restore --scan "$T/p0-1.png" "$T/p0-1.png" --out "$T/x.key" \
	--password-file "$T/sheetpass" --no-passphrase
{ grep -v '^QR-Code:SDE1/2/' "$Z"; grep '^QR-Code:SDE1/2/' "$T/z1.txt"; } >"$T/mixed.txt"
expect_err "a part of another sheet" 1 'is part of another sheet \(id [0-9A-Z]{26}' \
	"$SDTOOL" escrow restore --qr "$T/mixed.txt" --out "$T/x.key" \
	--password-file "$T/sheetpass" --no-passphrase
expect_out "parts in any order" 0 'reads back' \
	sh -c 'sort -r "$1" | "$2" escrow check --qr /dev/stdin --password-file "$3"' \
	- "$Z" "$SDTOOL" "$T/sheetpass"
expect_out "the page images in any order" 0 'scanned QR codes' \
	"$SDTOOL" escrow restore --scan $(ls -r "$T"/p2-*.png) --out "$T/x2.key" \
	--password-file "$T/sheetpass" --no-passphrase
check "--no-passphrase warns" grep -q 'written without a passphrase' "$T/err"
check "pages without codes are passed over" grep -q 'no QR code found' "$T/err"
rm -f "$T/x2.key"
last=$(ls "$T"/p0-*.png | tail -n 1)
expect_err "a page without codes is passed over with a warning" 1 "$(basename "$last"): no QR code found" \
	"$SDTOOL" escrow check --scan "$last" --password-file "$T/sheetpass"
check "and the missing parts named" grep -Eq 'QR parts? .* missing|no QR code of an escrow sheet' "$T/err"
printf 'not an image\n' >"$T/bogus.png"
expect_err "an image that is not a PNG" 1 'bogus.png: cannot be read as a PNG image' \
	"$SDTOOL" escrow check --scan "$T/bogus.png"
echo 'https://example.com/' >"$T/foreign.txt"
expect_err "a QR code that is not a sheet's" 1 'foreign.txt: line 1: not a QR code of an escrow sheet' \
	"$SDTOOL" escrow check --qr "$T/foreign.txt"

# --- passphrases, certificates, existing files ---------------------------
expect_err "wrong sheet passphrase" 1 "wrong passphrase, or the sheet's header was altered" \
	"$SDTOOL" escrow restore --qr "$Z" --out "$T/x.key" \
	--password-file "$T/wrongpass" --no-passphrase
check "nothing written" test ! -e "$T/x.key"
expect_err "the certificate of another key" 1 'cert_1.cer: not the certificate on the sheet' \
	"$SDTOOL" escrow restore --qr "$Z" --out "$T/x.key" --cert "$D/cert_1.cer" \
	--password-file "$T/sheetpass" --no-passphrase
check "refused before the passphrase (no KDF run)" sh -c '! grep -q "Passphrase" "$1"' - "$T/err"
: >"$T/exists.key"
expect_err "an existing output is refused first" 1 'exists.key: already exists' \
	"$SDTOOL" escrow restore --qr "$Z" --out "$T/exists.key" --password-file "$T/wrongpass"
check "and left alone" test ! -s "$T/exists.key"
before=$(sha256sum <"$T/sheet0.pdf")
expect_err "print never overwrites a sheet" 1 'sheet0.pdf: already exists' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/sheet0.pdf" \
	--password-file "$T/keypass" --new-password-file "$T/sheetpass"
check "the sheet is untouched" test "$before" = "$(sha256sum <"$T/sheet0.pdf")"
expect_err "print: wrong key passphrase" 1 'cert_0.key: wrong passphrase' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/w.pdf" \
	--password-file "$T/wrongpass" --new-password-file "$T/sheetpass"
check "nothing written" test ! -e "$T/w.pdf"
expect_err "print: a certificate of another key" 1 'does not match its certificate' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --cert "$D/cert_1.cer" --out "$T/w.pdf" \
	--password-file "$T/keypass" --new-password-file "$T/sheetpass"
printf 'short\n' >"$T/shortpass"
expect_err "print: a short sheet passphrase" 1 'shorter than 8 characters' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/w.pdf" \
	--password-file "$T/keypass" --new-password-file "$T/shortpass"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ec.key" 2>/dev/null
expect_err "print: a non-RSA key" 1 'ec.key: not an RSA key \(EC\)' \
	"$SDTOOL" escrow print --key "$T/ec.key" --out "$T/w.pdf" --no-passphrase

# no terminal (a script): every passphrase question says which option to use
no_tty() { setsid -w "$@"; }
expect_err "print: no terminal for the key's passphrase" 1 'use --password-file' \
	no_tty "$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/w.pdf" \
	--new-password-file "$T/sheetpass"
expect_err "print: no terminal for the sheet's passphrase" 1 'use --new-password-file or --no-passphrase' \
	no_tty "$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/w.pdf" \
	--password-file "$T/keypass"
check "nothing written" test ! -e "$T/w.pdf"
expect_err "restore: no terminal for the sheet's passphrase" 1 'no terminal to ask its passphrase; use --password-file' \
	no_tty "$SDTOOL" escrow restore --qr "$Z" --out "$T/x.key"
expect_err "restore: no terminal for the new key's passphrase" 1 'use --new-password-file or --no-passphrase' \
	no_tty "$SDTOOL" escrow restore --qr "$Z" --out "$T/x.key" --password-file "$T/sheetpass"
check "nothing written" test ! -e "$T/x.key"

# --- unencrypted, Letter, check ------------------------------------------
P=$T/plain.pdf
expect_err "print --no-passphrase warns" 0 'will not be encrypted' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$P" --paper letter \
	--index 7 --password-file "$T/keypass" --no-passphrase
check "US Letter pages" sh -c 'pdfinfo "$1" | grep -q "612 x 792"' - "$P"
pdftoppm -r 150 -png "$P" "$T/plain"
expect_out "check a plain sheet: no passphrase asked" 0 'reads back' \
	"$SDTOOL" escrow check --scan "$T"/plain-*.png --cert "$D/cert_0.cer"
check "--index printed on the sheet" grep -q 'key index 7' "$T/out"
check "check writes nothing" test "$(ls "$T" | grep -c '^x')" -eq 0

# --- sheets of format 1, printed by earlier sdtool, still restore --------
V1=$E2E/../fixtures/escrow-v1
V1KEY=$(cat "$V1/key.der.sha256")
v1der() { openssl pkey -in "$1" -outform DER 2>/dev/null | sha256sum | cut -c1-64; }
expect "v1 fixture: encrypted PDF pages restore (--scan)" 0 \
	"$SDTOOL" escrow restore --scan "$V1"/sheet-enc-*.png --out "$T/v1a.key" \
	--cert "$V1/cert.cer" --password-file "$V1/passphrase.txt" --no-passphrase
check "v1 fixture: --scan gives the key" test "$(v1der "$T/v1a.key")" = "$V1KEY"
expect "v1 fixture: plain PDF pages restore without a certificate" 0 \
	"$SDTOOL" escrow restore --scan "$V1"/sheet-plain-*.png --out "$T/v1b.key" --no-passphrase
check "v1 fixture: plain --scan gives the key" test "$(v1der "$T/v1b.key")" = "$V1KEY"
expect "v1 fixture: encrypted text sheet restores (--text)" 0 \
	"$SDTOOL" escrow restore --text "$V1/sheet-enc.txt" --out "$T/v1c.key" \
	--password-file "$V1/passphrase.txt" --no-passphrase
check "v1 fixture: encrypted --text gives the key" test "$(v1der "$T/v1c.key")" = "$V1KEY"
expect "v1 fixture: plain text sheet restores (--text)" 0 \
	"$SDTOOL" escrow restore --text "$V1/sheet-plain.txt" --out "$T/v1d.key" \
	--cert "$V1/cert.cer" --no-passphrase
check "v1 fixture: plain --text gives the key" test "$(v1der "$T/v1d.key")" = "$V1KEY"
expect_err "v1 fixture: wrong passphrase refused" 1 "wrong passphrase" \
	"$SDTOOL" escrow check --text "$V1/sheet-enc.txt" --password-file "$T/wrongpass"

# --- usage ----------------------------------------------------------------
expect "escrow with no subcommand" 2 "$SDTOOL" escrow
expect "print without --key" 2 "$SDTOOL" escrow print --out "$T/u.pdf"
expect "restore with two kinds of input" 2 "$SDTOOL" escrow restore \
	--text "$X" --qr "$Z" --out "$T/u.key"
expect "--paper a3" 2 "$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/u.pdf" --paper a3
expect_err "--officer with a control character" 2 'officer: holds a control character' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/u.pdf" --officer "$(printf 'a\033b')"
# A CJK name would print as empty boxes: refused, naming the character.
expect_err "--officer in a script the font lacks is refused, the character named" 2 \
	'officer: the sheet.s font has no character U\+738B' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/cjk.pdf" --officer "王芳" --no-passphrase
check "... and nothing is written" test ! -e "$T/cjk.pdf"
expect_err "--hsm likewise" 2 'hsm: the sheet.s font has no character' \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/cjk.pdf" --hsm "東京HSM" --no-passphrase
expect "an accented Latin name prints" 0 \
	"$SDTOOL" escrow print --key "$D/cert_0.key" --out "$T/latin.pdf" --officer "Zoë Ångström-Łukasz" --no-passphrase \
	--password-file "$T/keypass"
check "no temporary files left anywhere" no_temp_files "$T"

done_testing
