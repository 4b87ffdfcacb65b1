#!/bin/bash
# Interruption (issue 14): SIGINT, SIGTERM or SIGHUP at a random moment of
# any writing verb leave no temporary file and no partial set of outputs:
# after each run the directory holds every output, complete, or none.
# SDTOOL_TEST_WRITE_DELAY_MS (test-only, sdtool(1)) makes each write pause
# with its temporary file half-made, so signals land inside writes too.
# SIGNAL_RUNS (default 200) is how many interruptions in all.
. "$(dirname "$0")/lib.sh"

set -m   # background jobs get SIGINT like a terminal's Ctrl-C would send
cd "$T" || exit 1
S=$SDTOOL
"$S" keygen -n 3 -b 2048 -d k --no-passphrase >/dev/null 2>&1
"$S" sim activate --state hsm --sd-wrapping-keys k/cert_0.cer k/cert_1.cer k/cert_2.cer \
	--sd-quorum 2 --security-domain-file sd.json >/dev/null 2>&1
"$S" sim init-recovery --state hsm --sd-exchange-key exch.cer >/dev/null 2>&1
check "fixtures made" test -s exch.cer

RUNS=${SIGNAL_RUNS:-200}
SIGS=(INT TERM HUP)
bad_runs=0; interrupted=0; completed=0
interrupt_all() {
for i in $(seq "$RUNS"); do
	d=o$i; mkdir "$d"
	verb=$((i % 5))
	case $verb in
	0) set -- keygen -n 3 -b 2048 -d "$d/keys" --no-passphrase ;;
	1) set -- restore-blob --sd-file sd.json --sd-exchange-key exch.cer \
		--sd-wrapping-keys k/cert_0.key k/cert_1.key --out "$d/blob.json" ;;
	2) set -- escrow print --key k/cert_0.key --format text --out "$d/sheet.txt" --no-passphrase ;;
	3) set -- sim activate --state "$d/hsm" --sd-wrapping-keys k/cert_0.cer k/cert_1.cer \
		k/cert_2.cer --sd-quorum 2 --security-domain-file "$d/sd.json" ;;
	4) set -- keygen --index 4 -b 2048 -d "$d" --no-passphrase ;;
	esac
	SDTOOL_TEST_WRITE_DELAY_MS=$((RANDOM % 40)) "$S" "$@" >/dev/null 2>"$d.err" &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -"${SIGS[$((RANDOM % 3))]}" "$pid" 2>/dev/null
	wait "$pid"; rc=$?
	[ "$rc" -gt 128 ] && interrupted=$((interrupted + 1)) || completed=$((completed + 1))
	# the directory: no temporary file anywhere, and all or nothing
	why=""
	[ -z "$(find "$d" -name '.*.??????' 2>/dev/null)" ] || why="temporary file left: $(find "$d" -name '.*.??????')"
	case $verb in
	0) n=$(find "$d" -name 'cert_*' 2>/dev/null | wc -l)
	   [ "$n" -eq 0 ] || [ "$n" -eq 6 ] || why="$why; $n of 6 key files"
	   [ "$n" -eq 6 ] && ! "$S" inspect "$d/keys/cert_2.cer" >/dev/null 2>&1 && why="$why; cert_2.cer unreadable" ;;
	1) [ ! -e "$d/blob.json" ] || "$S" inspect "$d/blob.json" >/dev/null 2>&1 || why="$why; blob.json incomplete" ;;
	2) [ ! -e "$d/sheet.txt" ] || grep -q 'end:' "$d/sheet.txt" || why="$why; sheet.txt incomplete" ;;
	3) if [ -e "$d/sd.json" ]; then
		"$S" inspect "$d/sd.json" >/dev/null 2>&1 || why="$why; sd.json incomplete"
		"$S" sim status --state "$d/hsm" 2>/dev/null | grep -qi 'activated' || why="$why; sd.json without an activated state"
	   elif "$S" sim status --state "$d/hsm" 2>/dev/null | grep -qi 'activated'; then
		why="$why; activated state without sd.json"
	   fi ;;
	4) n=$(find "$d" -name 'cert_4.*' | wc -l)
	   [ "$n" -eq 0 ] || [ "$n" -eq 2 ] || why="$why; $n of 2 files" ;;
	esac
	if [ -n "$why" ]; then
		bad_runs=$((bad_runs + 1))
		not_ok "run $i ($1, exit $rc)" "$why"
	fi
	rm -rf "$d" "$d.err"
done
}
# (the shell's job notices, "Interrupt" and the like, are not the test's)
interrupt_all 2>/dev/null
check "$RUNS interrupted runs ($interrupted ended by the signal, $completed before it): every directory all or nothing, no temporary file" \
	test "$bad_runs" -eq 0
check "the signals did interrupt runs" test "$interrupted" -gt $((RUNS / 10))

done_testing
