#!/bin/sh
# Install the Debian packages sdtool needs, if missing.
#   deps.sh build   what building needs (make demo)
#   deps.sh         that, and what the tests need (make check): cmocka,
#                   python3-jsonschema (the --json schema test), mandoc,
#                   azure-cli as the interop oracle, and the Debian
#                   packaging tools (make deb, deb-check)
# Idempotent: does nothing when everything is there.  Root uses apt-get
# directly; anyone else goes through sudo.
set -eu

PKGS="gcc make pkg-config libssl-dev libsodium-dev libjansson-dev libbson-dev
libqrencode-dev libcairo2-dev libfontconfig-dev fonts-dejavu-core libzbar-dev
libcurl4-openssl-dev libmicrohttpd-dev libp11-kit-dev libykpers-1-dev
libyubikey-dev libpcsclite-dev"
if [ "${1:-all}" != build ]; then
	PKGS="$PKGS libcmocka-dev mandoc azure-cli openssl time zbar-tools
poppler-utils softhsm2 opensc ykcs11 yubico-piv-tool vsmartcard-vpcd pcscd
libpcsclite-dev iproute2 python3-nacl python3-cryptography python3-jsonschema
dpkg-dev debhelper lintian debootstrap python3-apt clang libclang-rt-14-dev
valgrind"
fi

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing packages:$missing; run as root or install sudo" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q $missing
