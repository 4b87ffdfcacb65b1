#!/bin/sh
# Run the libFuzzer harnesses of tests/fuzz/ (built by `make fuzz-build`).
#
#   fuzz.sh run   BUILD NAME...   each harness FUZZ_SECONDS (default 60)
#   fuzz.sh smoke BUILD NAME...   each over its corpus, then FUZZ_SMOKE_SECONDS
#                                 (default 4) of new inputs
#
# The corpus in the tree (tests/fuzz/corpus/NAME) is read, never written:
# new inputs go to BUILD/corpus/NAME, crashes to BUILD/artifacts/NAME/.
# A crash, a leak, a sanitizer report or a timeout fails the run and names
# the reproducer; `BUILD/fuzz_NAME FILE` replays it.  FUZZ_JOBS harnesses
# run at once (default 1).  Figures per harness go to BUILD/fuzz-stats.txt.
set -u

mode=$1
build=$2
shift 2
case "$mode" in
run) secs=${FUZZ_SECONDS:-60} ;;
smoke) secs=${FUZZ_SMOKE_SECONDS:-4} ;;
*) echo "usage: fuzz.sh run|smoke BUILD NAME..." >&2; exit 2 ;;
esac
case "$secs" in
''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac
jobs=${FUZZ_JOBS:-1}
dir=$(cd "$(dirname "$0")/.." && pwd)
dict=$dir/tests/fuzz/fuzz.dict
stats=$build/fuzz-stats.txt
: >"$stats"

one() {
	name=$1
	bin=$build/fuzz_$name
	work=$build/corpus/$name
	art=$build/artifacts/$name
	log=$build/log/$name.log
	mkdir -p "$work" "$art" "$build/log"
	seeds=$dir/tests/fuzz/corpus/$name
	[ -d "$seeds" ] || { echo "fuzz: no corpus $seeds" >&2; return 1; }
	# -timeout: one input taking 10 s is a finding; -rss_limit_mb: so is
	# 2 GB of memory (Argon2 costs are bounded well below it).
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -dict="$dict" -artifact_prefix="$art/" -print_final_stats=1 \
	    "$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	printf '%-14s %4ss  execs %-10s %s  exit %s\n' "$name" "$secs" \
	    "${execs:-?}" "${cov:-cov: ?}" "$rc" >>"$stats"
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz_$name (exit $rc): see $log" >&2
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' \
		    "$log" | head -5 >&2
		return 1
	fi
	echo "ok   fuzz_$name  ${execs:-?} executions in ${secs}s, ${cov:-}"
	return 0
}

fail=0
running=0
pids=""
for name in "$@"; do
	one "$name" &
	pids="$pids $!"
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		for p in $pids; do wait "$p" || fail=1; done
		pids=""
		running=0
	fi
done
for p in $pids; do wait "$p" || fail=1; done
exit $fail
