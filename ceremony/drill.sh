#!/bin/sh
# drill.sh - a complete security-domain drill against simulated HSMs, told
# step by step, with the offline and online halves kept apart as on the
# real day: WORKDIR/offline (the air-gapped laptop: keys, passphrases) and
# WORKDIR/online (the networked machine: certificates, the SD file, the
# exchange certificate, the restore blob).  The online steps use
# `sdtool hsm` over HTTPS against `sdtool sim serve` on 127.0.0.1, exactly
# as they would against a real HSM.  `make demo` runs it; officers can run
# it to rehearse before the real activation.
#
#   SDTOOL=path/to/sdtool sh ceremony/drill.sh [WORKDIR]
#
# Nothing outside WORKDIR (default: a new temporary directory) is touched;
# the simulated HSM's server is stopped when the drill ends.
set -eu

SDTOOL=${SDTOOL:-sdtool}
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/sdtool-drill.XXXXXX")}
mkdir -p "$W"
W=$(cd "$W" && pwd)
cd "$W"

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
# show CMD...: print the command, run it, indent its output; stop the
# drill if it fails.
show() {
	printf '   $ %s\n' "$*"
	# (an && || list: set -e would end the subshell before the echo)
	{ "$@" 2>&1 && echo 0 >"$W/.status" || echo $? >"$W/.status"; } |
		sed 's/^/     /'
	st=$(cat "$W/.status")
	if [ "$st" -ne 0 ]; then
		printf '\nThe drill FAILED at the step above (exit %s).\n' "$st" >&2
		exit 1
	fi
}

# refuse CMD...: the command must FAIL; show its one line of refusal.
refuse() {
	printf '   $ %s\n' "$*"
	if "$@" >"$W/.out" 2>"$W/.err"; then
		printf '\nThe drill FAILED: the step above was accepted.\n' >&2
		exit 1
	fi
	sed 's/^/     /' "$W/.err"
}

printf 'sdtool drill in %s\n' "$W"
printf 'Everything here is SIMULATED: no real HSM, no real keys.\n'

# The simulated HSMs, each serving the Managed HSM API on loopback from its
# own state directory: hsm (the one that is lost), hsm2 (the new one it is
# recovered into) and other (an unrelated HSM, whose backup must be
# refused).
SERVE_PIDS=""
stop_hsm() {
	for p in $SERVE_PIDS; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	SERVE_PIDS=""
}
trap stop_hsm EXIT
trap 'exit 1' INT TERM
mkdir -p offline online
# start_hsm DIR: serve DIR in the background, wait until it listens.
start_hsm() {
	rm -f "$1/serve.url"
	"$SDTOOL" sim serve --state "$1" >"$1.log" 2>&1 &
	_pid=$!
	SERVE_PIDS="$SERVE_PIDS $_pid"
	i=0
	while [ ! -s "$1/serve.url" ] && [ $i -lt 200 ]; do
		kill -0 "$_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -s "$1/serve.url" ]; then
		printf '\nThe simulated HSM %s did not start:\n' "$1" >&2
		cat "$1.log" >&2
		exit 1
	fi
}
# conn DIR: how the online machine reaches that HSM: its URL, the
# simulator's test CA and its bearer token (a real HSM: --hsm-name NAME and
# azure-cli's token); relative paths: the online steps run in online/
conn() {
	printf -- '--hsm-url %s --cacert ../%s/tls-ca.pem --access-token-file ../%s/token --poll-interval 1' \
		"$(cat "$1/serve.url")" "$1" "$1"
}
start_hsm hsm
start_hsm hsm2
start_hsm other
URL=$(cat hsm/serve.url)
HSM=$(conn hsm)
HSM2=$(conn hsm2)
OTHER=$(conn other)

cd offline
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

step "2. Online: the HSM takes the three certificates and a quorum of 2"
say "Only the certificates cross to the online machine.  sdtool hsm sends"
say "them to the HSM (here the simulator, over HTTPS at $URL)"
say "and saves the SD file the moment it arrives, then waits for the HSM."
cp keys/cert_0.cer keys/cert_1.cer keys/cert_2.cer ../online/
cd ../online
show "$SDTOOL" hsm download $HSM --sd-wrapping-keys cert_0.cer cert_1.cer \
	cert_2.cer --sd-quorum 2 --security-domain-file Contoso-SD.json
say "The SD file is carried back to the offline laptop."
cp Contoso-SD.json ../offline/
cd ../offline

step "3. Inspect the SD file: does it name our three certificates?"
show "$SDTOOL" inspect Contoso-SD.json keys/cert_0.cer keys/cert_1.cer keys/cert_2.cer

step "4. Verify: every quorum of our keys opens it (do this every quarter)"
show "$SDTOOL" verify --sd-file Contoso-SD.json --sd-wrapping-keys keys/cert_0.key \
	keys/cert_1.key keys/cert_2.key --password-file passphrases

step "5. A canary key: created in the HSM, backed up, checked offline"
say "A drill must prove more than the SD upload: that the SD file in the safe"
say "protects the HSM's key backups.  Online, a canary key is created and"
say "backed up (as 'az keyvault key backup' would); offline, a quorum opens"
say "the backup with the SD file's backup protection key, without any HSM."
cd ../online
show "$SDTOOL" hsm key-create $HSM --name canary
show "$SDTOOL" hsm key-backup $HSM --name canary --file canary.bak
cp canary.bak ../offline/
cd ../offline
show "$SDTOOL" verify --sd-file Contoso-SD.json --sd-wrapping-keys keys/cert_0.key \
	keys/cert_1.key --password-file passphrases --key-backup canary.bak
say "A backup made by another HSM (another security domain) must be refused:"
cd ../online
"$SDTOOL" hsm download $OTHER --sd-wrapping-keys cert_0.cer cert_1.cer \
	cert_2.cer --sd-quorum 2 --security-domain-file Other-SD.json >/dev/null
"$SDTOOL" hsm key-create $OTHER --name canary >/dev/null
"$SDTOOL" hsm key-backup $OTHER --name canary --file other-canary.bak >/dev/null
cp other-canary.bak ../offline/
cd ../offline
refuse "$SDTOOL" verify --sd-file Contoso-SD.json --sd-wrapping-keys keys/cert_0.key \
	keys/cert_1.key --password-file passphrases --key-backup other-canary.bak

step "6. Disaster: the HSM is gone.  A new HSM starts in recovery mode"
say "A second simulated HSM (its own state directory and server, at"
say "$(cat ../hsm2/serve.url)) plays the new one.  Online, sdtool hsm fetches"
say "its exchange key; the thumbprint is read aloud to the offline laptop's"
say "operator, who checks the copy carried over."
cd ../online
show "$SDTOOL" hsm init-recovery $HSM2 --sd-exchange-key exchange.cer
cp exchange.cer ../offline/
cd ../offline
show "$SDTOOL" inspect exchange.cer

step "7. Offline: officers 0 and 2 (a quorum) make the restore blob"
printf '%s\n%s\n' "$(cat pass-0)" "$(cat pass-2)" >passphrases-02
show "$SDTOOL" restore-blob --sd-file Contoso-SD.json --sd-exchange-key exchange.cer \
	--sd-wrapping-keys keys/cert_0.key keys/cert_2.key --password-file passphrases-02 \
	--out restore-blob.json

step "8. Online: upload the blob into the new HSM"
cp restore-blob.json ../online/
cd ../online
show "$SDTOOL" hsm upload $HSM2 --sd-file restore-blob.json
say "The simulated HSM's own verdict, from its log:"
grep '^simulated HSM .*restored' "$W/hsm2.log" | sed 's/^/     /'

step "9. Online: the canary key comes back in the recovered HSM"
say "The backup made by the lost HSM restores only into an HSM holding the"
say "same security domain; the other HSM's backup is refused."
show "$SDTOOL" hsm key-restore $HSM2 --file canary.bak
refuse "$SDTOOL" hsm key-restore $HSM2 --file other-canary.bak
say "What crossed to the online machine (no key, no passphrase):"
say "$(ls | tr '\n' ' ')"
stop_hsm

step "Done: the drill recovered the HSM with 2 of 3 keys, and its canary key."
say "Files are in $W (offline/, online/, and the simulated HSMs in hsm/,"
say "hsm2/ and other/)"
