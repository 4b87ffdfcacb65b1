#!/bin/sh
# layers.sh - the layering of the source tree, checked from its #include
# lines: each folder may include only the folders below it, and no file
# includes itself back through another (no cycles).  Prints one line per
# breach; exits 1 if there is any.
#
#   shares   the core: no I/O              (includes nothing of ours)
#   sys      files                         shares
#   pki      certificates                  shares sys
#   hw       key stores                    shares sys pki
#   net      the HSM client                shares sys pki hw
#   sim      the simulated HSM             shares sys pki hw net
#   paper    escrow sheets                 shares sys pki
#   sdtool   the command line              everything
set -u
cd "$(dirname "$0")/.."
allowed() {
	case $1 in
	shares) echo "shares" ;;
	sys) echo "shares sys" ;;
	pki) echo "shares sys pki" ;;
	hw) echo "shares sys pki hw" ;;
	net) echo "shares sys pki hw net" ;;
	sim) echo "shares sys pki hw net sim" ;;
	paper) echo "shares sys pki paper" ;;
	sdtool) echo "shares sys pki hw net sim paper sdtool" ;;
	esac
}
bad=0
for dir in shares sys pki hw net sim paper sdtool; do
	[ -d "$dir" ] || continue
	ok=$(allowed "$dir")
	for f in "$dir"/*.[ch]; do
		[ -e "$f" ] || continue
		for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
			case $inc in
			../*/*) to=${inc#../}; to=${to%%/*} ;;
			*/*) to=${inc%%/*} ;;
			*) to=$dir ;;
			esac
			[ "$to" = config.h ] && continue
			case " $ok " in
			*" $to "*) ;;
			*) echo "$f includes $inc: $dir may include only: $ok"; bad=1 ;;
			esac
		done
	done
done
# Within a folder: no file pair that includes each other's header.
for dir in shares sys pki hw net sim paper sdtool; do
	[ -d "$dir" ] || continue
	for h in "$dir"/*.h; do
		[ -e "$h" ] || continue
		for inc in $(sed -n 's/^#include "\([^"/]*\)".*/\1/p' "$h"); do
			[ -e "$dir/$inc" ] || continue
			if grep -q "^#include \"$(basename "$h")\"" "$dir/$inc"; then
				echo "$h and $dir/$inc include each other"; bad=1
			fi
		done
	done
done
exit $bad
