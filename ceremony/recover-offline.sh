#!/bin/sh
# recover-offline.sh - the offline half of a recovery, with the checks a
# runbook asks for.
#
#   ceremony/recover-offline.sh SD_FILE EXCHANGE_KEY OUT_BLOB KEY...
#
# 1. Asks the operator to type the exchange key's thumbprint as read aloud
#    by whoever fetched it from the recovery-mode HSM: its x5t_256, or
#    better its grouped hex or PGP words (`sdtool inspect` prints all three
#    on the online side).  The expected value is NOT shown before: the
#    operator must hear it.  `sdtool inspect --expect-x5t` compares: hex and
#    words ignore case, spaces and separators; base64url must be exact
#    (it is case-sensitive, and a value differing in case is another value:
#    the message says so, and asks for the hex or the words).  Three tries;
#    a mismatch stops here.  (Unattended runs set SDTOOL_EXPECT_X5T.)
# 2. Makes the restore blob with a quorum of KEYs (passphrases asked on the
#    terminal, or SDTOOL_PASSWORD_FILE, one line per key).
# 3. Shows the blob is encrypted to that same exchange key.
# Exit status: 0 the blob is ready to upload, 1 failure, 2 bad usage.
set -u

SDTOOL=${SDTOOL:-sdtool}
if [ $# -lt 4 ]; then
	echo "usage: recover-offline.sh SD_FILE EXCHANGE_KEY OUT_BLOB KEY..." >&2
	exit 2
fi
sd=$1
exch=$2
blob=$3
shift 3

# The thumbprint is read from the JSON report, never printed before asking.
x5t=$("$SDTOOL" inspect --json "$exch" 2>/dev/null |
    sed -n 's/^ *"x5t_256": "\(.*\)",*$/\1/p' | head -n 1)
if [ -z "$x5t" ]; then
	echo "recover-offline.sh: $exch is not an exchange key certificate or reply" >&2
	exit 1
fi
echo "Exchange key $exch"
if [ -n "${SDTOOL_EXPECT_X5T:-}" ]; then
	if ! "$SDTOOL" inspect --expect-x5t "$SDTOOL_EXPECT_X5T" "$exch" >/dev/null; then
		echo "recover-offline.sh: the thumbprint given (SDTOOL_EXPECT_X5T) is not that of $exch. Stopping." >&2
		exit 1
	fi
else
	tries=0
	while :; do
		tries=$((tries + 1))
		echo "Have the online side read the exchange key's thumbprint aloud"
		echo "(grouped hex or PGP words are easiest; x5t_256 must be exact)."
		printf 'Type it as you hear it: '
		read -r heard || heard=""
		[ -t 0 ] || echo   # the newline a terminal would have echoed
		if [ -n "$heard" ] && "$SDTOOL" inspect --expect-x5t "$heard" "$exch" >/dev/null; then
			break
		fi
		if [ "$tries" -ge 3 ]; then
			echo "recover-offline.sh: the thumbprint typed three times is not that of $exch: it may not be the exchange key of your HSM. Stopping." >&2
			exit 1
		fi
		echo "That is not this exchange key's thumbprint (the reason is above). Try again ($((tries + 1)) of 3)."
	done
fi
echo "Thumbprints match: x5t_256 $x5t"

set -- --sd-file "$sd" --sd-exchange-key "$exch" --sd-wrapping-keys "$@" --out "$blob"
[ -n "${SDTOOL_PASSWORD_FILE:-}" ] && set -- "$@" --password-file "$SDTOOL_PASSWORD_FILE"
"$SDTOOL" restore-blob "$@" || exit 1

if ! "$SDTOOL" inspect --expect-x5t "$x5t" "$blob" >/dev/null; then
	echo "recover-offline.sh: $blob is not encrypted to $x5t" >&2
	exit 1
fi
echo "Restore blob $blob is encrypted to exchange key $x5t."
echo "Carry it to the online machine and upload it:"
echo "  az keyvault security-domain upload --hsm-name NAME --sd-file $blob --restore-blob"
