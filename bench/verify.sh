#!/bin/sh
# verify.sh - `sdtool verify` of a 5-of-10 security domain with RSA-4096
# keys: 10 key decryptions and C(10,5) = 252 quorums, each recombined and
# checked against every data item.  The SD file comes from the simulated
# HSM (sdtool sim activate).  Prints the median wall time and peak RSS.
set -eu

SDTOOL=${SDTOOL:?SDTOOL must name the sdtool binary}
RUNS=${RUNS_VERIFY:-5}
W=$(mktemp -d "${TMPDIR:-/tmp}/sdtool-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

echo "verify: making 10 RSA-4096 keys and a 5-of-10 SD file (once)..." >&2
"$SDTOOL" keygen -n 10 -b 4096 -d "$W/k" --no-passphrase >/dev/null 2>&1
set -- "$W"/k/cert_0.cer "$W"/k/cert_1.cer "$W"/k/cert_2.cer "$W"/k/cert_3.cer \
	"$W"/k/cert_4.cer "$W"/k/cert_5.cer "$W"/k/cert_6.cer "$W"/k/cert_7.cer \
	"$W"/k/cert_8.cer "$W"/k/cert_9.cer
"$SDTOOL" sim activate --state "$W/hsm" --sd-wrapping-keys "$@" \
	--sd-quorum 5 --security-domain-file "$W/sd.json" >/dev/null
keys=$(printf '%s\n' "$@" | sed 's/\.cer$/.key/')

run_verify() {
	# shellcheck disable=SC2086
	"$SDTOOL" verify -q --sd-file "$W/sd.json" --sd-wrapping-keys $keys \
		>/dev/null 2>&1 ||
	"$SDTOOL" verify --sd-file "$W/sd.json" --sd-wrapping-keys $keys \
		>/dev/null 2>&1
}
run_verify || { echo "bench: verify failed" >&2; exit 1; }
i=0
: >"$W/times"
while [ "$i" -lt "$RUNS" ]; do
	t0=$(date +%s%N)
	run_verify
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000 )) >>"$W/times"
	i=$((i + 1))
done
ms=$(sort -n "$W/times" | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }')
# shellcheck disable=SC2086
/usr/bin/time -f %M -o "$W/rss" "$SDTOOL" verify --sd-file "$W/sd.json" \
	--sd-wrapping-keys $keys >/dev/null 2>&1 || true
printf 'verify, 5 of 10 shares, RSA-4096 keys (252 quorums)\n'
printf '  %-12s median %9s ms over %2d runs, peak RSS %7s KiB\n' sdtool "$ms" "$RUNS" "$(cat "$W/rss")"
