#!/bin/bash
# Unix conventions and prompts that forgive (issue 9): '-' for standard
# input and output, --passwords, sdtool help VERB, bash completion, the
# N-of-N warning, a wrong passphrase asked again for that officer only, a
# mismatched confirmation repeating only that entry.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$E2E/../.." && pwd)

# tty_run INPUT CMD: CMD at a terminal (script(1)), each line of INPUT
# typed only once its prompt is shown (prompts flush what was typed
# ahead, as a terminal should); everything it shows in $T/out.
typist() {
	_i=0
	printf '%b' "$1" | while IFS= read -r _line; do
		_i=$((_i + 1))
		for _w in $(seq 300); do
			[ "$(grep -o 'assphrase \(for\|again\)' "$T/out" 2>/dev/null | wc -l)" -ge "$_i" ] && break
			sleep 0.1
		done
		sleep 0.2
		printf '%s\n' "$_line"
	done
	sleep 2
}
tty_run() { : >"$T/out"; typist "$1" | timeout 120 script -qec "$2" /dev/null >"$T/out" 2>&1; RC=$?; }

# ---- keygen: a mismatched confirmation repeats only that entry -------------
tty_run 'alpha passphrase 0\nalpha passphrase 0\nbravo passphrase 1\nTYPO\nbravo passphrase 1\nbravo passphrase 1\ncharlie passphrase 2\ncharlie passphrase 2\n' \
	"'$SDTOOL' keygen -n 3 -b 2048 -d '$T/k'"
check "keygen -n 3 with one mistyped confirmation succeeds" [ "$RC" -eq 0 ]
check "... saying the entry is asked again" grep -q 'cert_1.key: the two passphrases differ; this entry again' "$T/out"
check "... all three keys written" [ -s "$T/k/cert_0.key" ] && [ -s "$T/k/cert_1.key" ] && [ -s "$T/k/cert_2.key" ]
check "... each with its own passphrase" sh -c 'openssl pkey -in "$1/cert_1.key" -passin "pass:bravo passphrase 1" -noout' _ "$T/k"
check "... the first officer was asked once" [ "$(grep -c 'New passphrase for .*cert_0.key' "$T/out")" -eq 1 ]

expect "sim activate" 0 "$SDTOOL" sim activate --state "$T/hsm" --sd-wrapping-keys "$T/k"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd.json"

# ---- verify: a wrong passphrase is asked again, for that officer only ------
tty_run 'alpha passphrase 0\nWRONG\nbravo passphrase 1\ncharlie passphrase 2\n' \
	"'$SDTOOL' verify --all --sd-file '$T/sd.json' --sd-wrapping-keys '$T/k/cert_0.key' '$T/k/cert_1.key' '$T/k/cert_2.key'"
check "verify at a terminal: one wrong passphrase, asked again, all proved" [ "$RC" -eq 0 ]
check "... says try again" grep -q 'cert_1.key: wrong passphrase; try again (2 of 3)' "$T/out"
check "... the others were asked once" [ "$(grep -c 'Passphrase for .*cert_0.key' "$T/out")" -eq 1 ] && \
	[ "$(grep -c 'Passphrase for .*cert_2.key' "$T/out")" -eq 1 ]
check "... each officer sees their result before the next types (progress)" sh -c \
	'awk "/cert_0.key: opened share #1 of 3 \\[1 of 2 needed opened\\]/{a=NR} /Passphrase for .*cert_1.key/{if(!b)b=NR} END{exit !(a && b && a<b)}" "$1"' _ "$T/out"
check "... 2 of 2 needed after the second" grep -q 'cert_1.key: opened share #2 of 3 \[2 of 2 needed opened\]' "$T/out"
tty_run 'x\ny\nz\nalpha passphrase 0\n' \
	"'$SDTOOL' verify --sd-file '$T/sd.json' --sd-wrapping-keys '$T/k/cert_1.key' '$T/k/cert_0.key'"
check "three wrong passphrases: that key fails, bounded" grep -q 'cert_1.key: .*wrong passphrase' "$T/out"
check "... and the next officer is still asked" grep -q 'Passphrase for .*cert_0.key' "$T/out"

# ---- '-': secrets from standard input, outputs to standard output ---------
check "--password-file - reads the passphrases from standard input" sh -c \
	'printf "alpha passphrase 0\nbravo passphrase 1\n" | "$1" verify --sd-file "$2" --sd-wrapping-keys "$3/cert_0.key" "$3/cert_1.key" --password-file - | grep -q "^OK: every quorum"' \
	_ "$SDTOOL" "$T/sd.json" "$T/k"
expect "sim init-recovery" 0 "$SDTOOL" sim init-recovery --state "$T/hsm" --sd-exchange-key "$T/exch.cer"
cd "$T" || exit 1
check "restore-blob --out - writes the blob to standard output, no file named -" sh -c \
	'printf "alpha passphrase 0\nbravo passphrase 1\n" >"$5/pw"; "$1" restore-blob --sd-file "$2" --sd-exchange-key "$3" --sd-wrapping-keys "$4/cert_0.key" "$4/cert_1.key" --password-file "$5/pw" --out - >"$5/blob.json" 2>"$5/blob.err" && [ ! -e "$5/-" ] && "$1" inspect --expect-x5t "$("$1" inspect --json "$3" | sed -n "s/^ *\"x5t_256\": \"\(.*\)\",*$/\1/p" | head -n 1)" "$5/blob.json" >/dev/null' \
	_ "$SDTOOL" "$T/sd.json" "$T/exch.cer" "$T/k" "$T"
check "... and its report goes to standard error" grep -q 'restore blob written to standard output' "$T/blob.err"
expect_err "--json with --out - is a usage error" 2 'would both write to standard output' \
	"$SDTOOL" restore-blob --json --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$T/k/cert_0.key" "$T/k/cert_1.key" --out -
check "two '-' in one command: the second is refused, not empty" sh -c \
	'! "$1" verify --sd-file - --sd-wrapping-keys "$2/cert_0.key" "$2/cert_1.key" --password-file - <"$3" >/dev/null 2>"$4/two.err"' \
	_ "$SDTOOL" "$T/k" "$T/sd.json" "$T"
cd - >/dev/null || exit 1

# ---- azure-cli's --passwords ---------------------------------------------
expect_err "restore-blob --passwords: a pointer to --password-file" 2 '--passwords would put passphrases on the command line.*--password-file' \
	"$SDTOOL" restore-blob --sd-file "$T/sd.json" --sd-exchange-key "$T/exch.cer" \
	--sd-wrapping-keys "$T/k/cert_0.key" "$T/k/cert_1.key" --passwords a b --out "$T/b2.json"

# ---- help and completion -------------------------------------------------
expect_out "sdtool help inspect" 0 '^usage: sdtool inspect ' "$SDTOOL" help inspect
BIN=$(dirname "$SDTOOL")
check "completion: verbs" bash -c 'PATH="$1:$PATH"; . "$2"; COMP_WORDS=(sdtool ver); COMP_CWORD=1; _sdtool; printf "%s\n" "${COMPREPLY[@]}" | grep -qx verify' \
	_ "$BIN" "$ROOT/completion/sdtool.bash"
check "completion: verify's options" bash -c 'PATH="$1:$PATH"; . "$2"; COMP_WORDS=(sdtool verify --so); COMP_CWORD=2; _sdtool; printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- --solo' \
	_ "$BIN" "$ROOT/completion/sdtool.bash"
check "completion: sim's subcommands" bash -c 'PATH="$1:$PATH"; . "$2"; COMP_WORDS=(sdtool sim ""); COMP_CWORD=2; _sdtool; printf "%s\n" "${COMPREPLY[@]}" | grep -qx init-recovery' \
	_ "$BIN" "$ROOT/completion/sdtool.bash"
check "make install installs the completion and the ceremony scripts" sh -c \
	'grep -q "completion/sdtool.bash" "$1/Makefile" && grep -q "ceremony/\*.sh" "$1/Makefile"' _ "$ROOT"

# ---- N of N ---------------------------------------------------------------
expect_err "a 3-of-3 quorum is warned about" 0 'warning: a quorum of 3 of 3: every officer is needed' \
	"$SDTOOL" sim activate --state "$T/hsm3" --sd-wrapping-keys "$T/k"/cert_[0-2].cer \
	--sd-quorum 3 --security-domain-file "$T/sd3.json"
expect "2 of 3: no such warning" 0 "$SDTOOL" sim activate --state "$T/hsm4" --sd-wrapping-keys "$T/k"/cert_[0-2].cer \
	--sd-quorum 2 --security-domain-file "$T/sd4.json"
check "... none" sh -c '! grep -q "quorum of" "$1"' _ "$T/err"

done_testing
