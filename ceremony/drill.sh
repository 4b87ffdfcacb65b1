#!/bin/sh
# drill.sh - a complete offline security-domain drill against a simulated
# HSM, told step by step.  `make demo` runs it; officers can run it on the
# ceremony laptop to rehearse before the real activation.
#
#   SDTOOL=path/to/sdtool sh ceremony/drill.sh [WORKDIR]
#
# Nothing outside WORKDIR (default: a new temporary directory) is touched.
set -eu

SDTOOL=${SDTOOL:-sdtool}
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/sdtool-drill.XXXXXX")}
mkdir -p "$W"
cd "$W"

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
# show CMD...: print the command, run it, indent its output; stop the
# drill if it fails.
show() {
	printf '   $ %s\n' "$*"
	{ "$@" 2>&1; echo $? >"$W/.status"; } | sed 's/^/     /'
	st=$(cat "$W/.status")
	if [ "$st" -ne 0 ]; then
		printf '\nThe drill FAILED at the step above (exit %s).\n' "$st" >&2
		exit 1
	fi
}

printf 'sdtool drill in %s\n' "$W"
printf 'Everything here is SIMULATED: no real HSM, no real keys.\n'

mkdir -p keys
step "1. Three officers each make their wrapping key pair"
say "Each officer runs keygen on their own machine, with --index, and keeps"
say "cert_<i>.key to themselves.  Here one laptop plays all three; each key"
say "is protected by its officer's passphrase (read from a file for the demo;"
say "a real officer types it)."
for i in 0 1 2; do
	printf 'drill passphrase of officer %s\n' "$i" >"pass-$i"
	show "$SDTOOL" keygen --index "$i" -b 2048 -d keys --password-file "pass-$i"
done
cat pass-0 pass-1 pass-2 >passphrases
say "The thumbprints above are written down on paper by each officer."

step "2. Activation: the HSM takes the three certificates and a quorum of 2"
say "A real HSM is activated with 'az keyvault security-domain download';"
say "here the simulator plays the HSM and returns the SD file."
show "$SDTOOL" sim activate --state hsm --sd-wrapping-keys keys/cert_0.cer \
	keys/cert_1.cer keys/cert_2.cer --sd-quorum 2 --security-domain-file Contoso-SD.json

step "3. Inspect the SD file: does it name our three certificates?"
show "$SDTOOL" inspect Contoso-SD.json keys/cert_0.cer keys/cert_1.cer keys/cert_2.cer

step "4. Verify: every quorum of our keys opens it (do this every quarter)"
show "$SDTOOL" verify --sd-file Contoso-SD.json --sd-wrapping-keys keys/cert_0.key \
	keys/cert_1.key keys/cert_2.key --password-file passphrases

step "5. Disaster: the HSM is gone.  A new HSM starts in recovery mode"
say "It publishes an exchange key; its thumbprint is read aloud to the"
say "offline laptop's operator."
show "$SDTOOL" sim init-recovery --state hsm --sd-exchange-key exchange.cer

step "6. Offline: officers 0 and 2 (a quorum) make the restore blob"
printf '%s\n%s\n' "$(cat pass-0)" "$(cat pass-2)" >passphrases-02
show "$SDTOOL" restore-blob --sd-file Contoso-SD.json --sd-exchange-key exchange.cer \
	--sd-wrapping-keys keys/cert_0.key keys/cert_2.key --password-file passphrases-02 \
	--out restore-blob.json

step "7. Upload: the HSM accepts the blob only if it restores every key"
show "$SDTOOL" sim upload --state hsm --sd-file restore-blob.json

step "Done: the drill recovered the simulated HSM with 2 of 3 keys."
say "Files are in $W"
