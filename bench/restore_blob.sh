#!/bin/sh
# restore_blob.sh - sdtool restore-blob against azure-cli's on the same
# inputs: a real service SD file (2023-05), two of its keys, and its HSM's
# exchange certificate; and a floor, `openssl pkey -in KEY -noout` (one
# exec of libcrypto and one key decode).  Prints the median wall time of
# several runs of each, the ratios, and each one's peak resident memory.
#
# Targets: at least 100x faster than azure-cli, at most 2x the openssl
# floor, and at most 8 MiB peak RSS.  This script reports; it does not
# judge.
set -eu

SDTOOL=${SDTOOL:?SDTOOL must name the sdtool binary}
V=${SDTOOL_VECTORS:?SDTOOL_VECTORS must name the service vectors}
RUNS_SDTOOL=${RUNS_SDTOOL:-21}
RUNS_AZ=${RUNS_AZ:-5}
W=$(mktemp -d "${TMPDIR:-/tmp}/sdtool-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export AZURE_CONFIG_DIR="$W/azconfig" AZURE_CORE_COLLECT_TELEMETRY=0

# azure-cli takes the exchange key only as a PEM certificate.
/usr/bin/python3 - "$V/2023-05/transfer_key_response.json" >"$W/exch.cer" <<'PY'
import json, sys, textwrap
tk = json.load(open(sys.argv[1]))["transfer_key"]
tk = json.loads(tk) if isinstance(tk, str) else tk
print("-----BEGIN CERTIFICATE-----")
print("\n".join(textwrap.wrap(tk["x5c"][0], 64)))
print("-----END CERTIFICATE-----")
PY

SD=$V/2023-05/sd.json
K1=$V/keys/sd1.key
K2=$V/keys/sd2.key

# now_ns: a monotonic-enough clock in nanoseconds.
now_ns() { date +%s%N; }

# median_ms CMD...: run CMD $RUNS times (output to a fresh file each time),
# print the median wall time in milliseconds.
median_ms() {
	runs=$1; shift
	i=0
	: >"$W/times"
	while [ "$i" -lt "$runs" ]; do
		rm -f "$W/blob.json"
		t0=$(now_ns)
		"$@" >/dev/null 2>&1
		t1=$(now_ns)
		echo $(( (t1 - t0) / 1000 )) >>"$W/times"
		i=$((i + 1))
	done
	sort -n "$W/times" | awk '{ a[NR] = $1 } END { printf "%.2f\n", a[int((NR + 1) / 2)] / 1000 }'
}

# peak_kb CMD...: peak resident set size in kilobytes (GNU time).
peak_kb() {
	rm -f "$W/blob.json"
	/usr/bin/time -f %M -o "$W/rss" "$@" >/dev/null 2>&1
	cat "$W/rss"
}

run_sdtool() {
	"$SDTOOL" restore-blob --sd-file "$SD" --sd-exchange-key "$W/exch.cer" \
		--sd-wrapping-keys "$K1" "$K2" --out "$W/blob.json"
}
run_floor() {
	openssl pkey -in "$K1" -noout
}
run_az() {
	az keyvault security-domain restore-blob --sd-file "$SD" \
		--sd-exchange-key "$W/exch.cer" --sd-wrapping-keys "$K1" "$K2" \
		--sd-file-restore-blob "$W/blob.json"
}

# Both must succeed before they are timed.
run_sdtool >/dev/null 2>&1 || { echo "bench: sdtool restore-blob failed" >&2; exit 1; }
rm -f "$W/blob.json"
if ! command -v az >/dev/null 2>&1 || ! run_az >/dev/null 2>&1; then
	echo "bench: azure-cli's restore-blob is not available (make deps)" >&2
	exit 1
fi

s_ms=$(median_ms "$RUNS_SDTOOL" run_sdtool)
f_ms=$(median_ms "$RUNS_SDTOOL" run_floor)
a_ms=$(median_ms "$RUNS_AZ" run_az)
# GNU time runs programs, not shell functions: spell the commands out.
s_kb=$(peak_kb "$SDTOOL" restore-blob --sd-file "$SD" --sd-exchange-key "$W/exch.cer" \
	--sd-wrapping-keys "$K1" "$K2" --out "$W/blob.json")
f_kb=$(peak_kb openssl pkey -in "$K1" -noout)
a_kb=$(peak_kb az keyvault security-domain restore-blob --sd-file "$SD" \
	--sd-exchange-key "$W/exch.cer" --sd-wrapping-keys "$K1" "$K2" \
	--sd-file-restore-blob "$W/blob.json")

printf 'restore-blob on %s (2 of 3 keys)\n' "$SD"
printf '  %-12s median %9s ms over %2d runs, peak RSS %7s KiB\n' sdtool "$s_ms" "$RUNS_SDTOOL" "$s_kb"
printf '  %-12s median %9s ms over %2d runs, peak RSS %7s KiB\n' "openssl pkey" "$f_ms" "$RUNS_SDTOOL" "$f_kb"
printf '  %-12s median %9s ms over %2d runs, peak RSS %7s KiB\n' azure-cli "$a_ms" "$RUNS_AZ" "$a_kb"
awk -v s="$s_ms" -v a="$a_ms" -v f="$f_ms" -v kb="$s_kb" 'BEGIN {
	printf "  speed-up over azure-cli: %.1fx (target: at least 100x)\n", a / s
	printf "  sdtool / openssl floor: %.2fx (target: at most 2x)\n", s / f
	printf "  sdtool peak RSS: %.1f MiB (target: at most 8 MiB)\n", kb / 1024
}'
