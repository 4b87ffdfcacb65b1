#!/bin/sh
# card.sh - a private pcscd with one simulated YubiKey (pivsim) in it.
# TEST FIXTURE: the card's keys are plain files and memory.
#
#   card.sh start DIR [--profile 4.3|5.4|5.7] [--serial N] [--state FILE]
#                     [-- MORE PIVSIM OPTIONS]
#       starts pivsim and a pcscd of its own whose reader "Yubico YubiKey
#       pivsim TEST FIXTURE 00 00" holds it (a second, "... 00 01", stays
#       empty); waits (10 s at most) until the card is seen, then prints the
#       environment a client needs (also written to DIR/env, for ". DIR/env"):
#           PCSCLITE_CSOCK_NAME=DIR/run/pcscd/pcscd.comm
#   card.sh stop DIR     stops both; harmless when nothing runs
#   card.sh env DIR      prints the environment again
#
# Isolation: pcscd and pivsim run in a mount and network namespace of their
# own (unshare): vpcd's TCP ports exist only on that namespace's loopback,
# /run is DIR/run and the USB drivers directory is empty, so pcscd neither
# meets a system pcscd (its pid file, socket or ports) nor sees a real
# YubiKey or reader.  That needs root, or unprivileged user namespaces
# (then "unshare -r" is used).  pcscd 1.9.9 has no option to move its pid
# file and takes PCSCLITE_CSOCK_NAME only for the socket, hence the
# namespace.  The clients (yubico-piv-tool, ykcs11, OpenSC, sdtool) need
# only PCSCLITE_CSOCK_NAME.
#
# Environment: PIVSIM (the binary; default build/pivsim beside this tree),
# VPCD_DRIVER (default /usr/lib/pcsc/drivers/serial/libifdvpcd.so),
# PIVSIM_DEBUG=1 (pivsim -v and pcscd -a -d: APDUs in DIR/*.log),
# PIVSIM_MAX_SECONDS (pivsim exits by itself after it; default 3600).
set -u

me=card.sh
here=$(cd "$(dirname "$0")" && pwd)
# ykcs11 2.2.0 takes only readers whose name begins with "Yubico".
READER="Yubico YubiKey pivsim TEST FIXTURE"

die() { echo "$me: $*" >&2; exit 1; }

# alive PIDFILE NAME: the process of PIDFILE runs and is NAME.
alive() {
	[ -f "$1" ] || return 1
	_pid=$(cat "$1" 2>/dev/null) || return 1
	case "$_pid" in ''|*[!0-9]*) return 1 ;; esac
	[ -r "/proc/$_pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$_pid/cmdline" | grep -q -- "$2"
}

# stop_one PIDFILE NAME: TERM, then KILL after 3 s.
stop_one() {
	if alive "$1" "$2"; then
		_pid=$(cat "$1")
		kill -TERM "$_pid" 2>/dev/null
		_i=0
		while alive "$1" "$2" && [ $_i -lt 30 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
		alive "$1" "$2" && kill -KILL "$_pid" 2>/dev/null
	fi
	rm -f "$1"
}

print_env() {
	cat "$1/env"
}

cmd_stop() {
	dir=$1
	[ -d "$dir" ] || return 0
	stop_one "$dir/pcscd.pid" pcscd
	stop_one "$dir/pivsim.pid" pivsim
	rm -rf "$dir/run/pcscd" "$dir/env"
	return 0
}

cmd_start() {
	dir=$1; shift
	profile=""; serial=""; state=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--profile) [ $# -ge 2 ] || die "--profile needs a value"
			profile=$2; shift 2 ;;
		--serial) [ $# -ge 2 ] || die "--serial needs a value"
			serial=$2; shift 2 ;;
		--state) [ $# -ge 2 ] || die "--state needs a value"
			state=$2; shift 2 ;;
		--) shift; break ;;
		*) die "unknown option $1" ;;
		esac
	done
	pivsim=${PIVSIM:-$here/../../build/pivsim}
	driver=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
	[ -x "$pivsim" ] || die "no pivsim binary at $pivsim (make pivsim, or set PIVSIM)"
	pivsim=$(cd "$(dirname "$pivsim")" && pwd)/$(basename "$pivsim")
	[ -r "$driver" ] || die "no vpcd driver at $driver (apt-get install vsmartcard-vpcd)"
	for t in pcscd unshare mount ip opensc-tool; do
		command -v $t >/dev/null 2>&1 || die "no $t (see mk/deps.sh)"
	done
	case "$state" in ''|/*) ;; *) state=$(pwd)/$state ;; esac

	[ -n "$dir" ] || die "no directory given"
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd)
	[ "$dir" != / ] || die "not in /"
	cmd_stop "$dir"
	mkdir -p "$dir/run" "$dir/nodrivers" "$dir/reader.conf.d" "$dir/lib"
	cp "$driver" "$dir/lib/libifdvpcd.so" || die "cannot copy $driver"
	# vpcd listens on 0x8C7B and 0x8C7C (its two slots), in the namespace.
	{
		echo "# pivsim TEST FIXTURE: a vpcd reader in a private network namespace."
		echo "FRIENDLYNAME \"$READER\""
		echo "DEVICENAME   /dev/null:0x8C7B"
		echo "LIBPATH      $dir/lib/libifdvpcd.so"
		echo "CHANNELID    0x8C7B"
	} >"$dir/reader.conf.d/pivsim"

	debug=""; pdebug=""
	[ "${PIVSIM_DEBUG:-0}" = 1 ] && { debug="-v"; pdebug="-a -d"; }
	set -- --port 35963 --wait 15 ${profile:+--profile "$profile"} \
		--exit-after "${PIVSIM_MAX_SECONDS:-3600}" \
		${serial:+--serial "$serial"} ${state:+--state "$state"} \
		$debug "$@"
	if [ "$(id -u)" -eq 0 ]; then ns="unshare -m -n"; else ns="unshare -r -m -n"; fi
	# In the namespace: a loopback of its own, /run and the USB drivers
	# masked; pivsim in the background, then pcscd in the foreground.
	# shellcheck disable=SC2016,SC2086
	env -u PCSCLITE_CSOCK_NAME $ns sh -c '
		dir=$1; pdebug=$2; shift 2
		ip link set lo up || exit 1
		mount --bind "$dir/run" /run || exit 1
		mount --bind "$dir/nodrivers" /usr/lib/pcsc/drivers || exit 1
		"$@" >"$dir/pivsim.log" 2>&1 </dev/null &
		echo $! >"$dir/pivsim.pid"
		exec pcscd -f -c "$dir/reader.conf.d" $pdebug' \
		sh "$dir" "$pdebug" "$pivsim" "$@" \
		>"$dir/pcscd.log" 2>&1 </dev/null &
	echo $! >"$dir/pcscd.pid"

	sock="$dir/run/pcscd/pcscd.comm"
	{
		echo "PCSCLITE_CSOCK_NAME=$sock; export PCSCLITE_CSOCK_NAME"
		echo "PIVSIM_READER='$READER 00 00'; export PIVSIM_READER"
	} >"$dir/env"
	i=0; seen=no
	while [ $i -lt 100 ]; do
		if [ -S "$sock" ] && PCSCLITE_CSOCK_NAME=$sock opensc-tool -l 2>/dev/null |
			grep -q "Yes.*$READER 00 00"; then
			seen=yes; break
		fi
		# (by pid only: just after the fork the name is still ours)
		kill -0 "$(cat "$dir/pcscd.pid")" 2>/dev/null || break
		[ -s "$dir/pivsim.pid" ] &&
			! kill -0 "$(cat "$dir/pivsim.pid")" 2>/dev/null && break
		sleep 0.1; i=$((i + 1))
	done
	if [ $seen != yes ]; then
		echo "$me: the card did not appear:" >&2
		tail -n 20 "$dir/pcscd.log" >&2
		tail -n 5 "$dir/pivsim.log" >&2
		cmd_stop "$dir"
		exit 1
	fi
	print_env "$dir"
}

[ $# -ge 2 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
verb=$1; dir=$2; shift 2
case "$verb" in
start) cmd_start "$dir" "$@" ;;
stop) cmd_stop "$dir" ;;
env) [ -f "$dir/env" ] || die "no card started in $dir"; print_env "$dir" ;;
*) die "unknown verb $verb (start, stop, env)" ;;
esac
