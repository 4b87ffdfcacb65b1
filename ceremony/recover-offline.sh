#!/bin/sh
# recover-offline.sh - the offline half of a recovery, with the checks a
# runbook asks for.
#
#   ceremony/recover-offline.sh SD_FILE EXCHANGE_KEY OUT_BLOB KEY...
#
# 1. Shows the exchange key's thumbprint (x5t_256) and asks the operator to
#    type it as read aloud by whoever fetched it from the recovery-mode HSM;
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

x5t=$("$SDTOOL" inspect "$exch" | sed -n 's/^x5t_256: *//p')
if [ -z "$x5t" ]; then
	echo "recover-offline.sh: $exch is not an exchange key certificate or reply" >&2
	exit 1
fi
echo "Exchange key $exch"
echo "  x5t_256: $x5t"
if [ -n "${SDTOOL_EXPECT_X5T:-}" ]; then
	heard=$SDTOOL_EXPECT_X5T
else
	printf 'Type the thumbprint as read aloud from the online side: '
	read -r heard || heard=""
fi
if [ "$heard" != "$x5t" ]; then
	echo "recover-offline.sh: thumbprints differ; this is not the exchange key of your HSM. Stopping." >&2
	exit 1
fi
echo "Thumbprints match."

set -- --sd-file "$sd" --sd-exchange-key "$exch" --sd-wrapping-keys "$@" --out "$blob"
[ -n "${SDTOOL_PASSWORD_FILE:-}" ] && set -- "$@" --password-file "$SDTOOL_PASSWORD_FILE"
"$SDTOOL" restore-blob "$@" || exit 1

got=$("$SDTOOL" inspect --json "$blob" | sed -n 's/^ *"x5t_256": "\(.*\)",*$/\1/p' | head -n 1)
if [ "$got" != "$x5t" ]; then
	echo "recover-offline.sh: $blob is encrypted to $got, not $x5t" >&2
	exit 1
fi
echo "Restore blob $blob is encrypted to exchange key $x5t."
echo "Carry it to the online machine and upload it:"
echo "  az keyvault security-domain upload --hsm-name NAME --sd-file $blob --restore-blob"
