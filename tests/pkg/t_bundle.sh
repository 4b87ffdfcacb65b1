#!/bin/sh
# t_bundle.sh - the offline bundle installs on a minimal Debian 12 with no
# network, and the installed sdtool runs the offline verbs.  A minimal
# Debian 12 (debootstrap --variant=minbase, cached in BUILD_DIR) is the
# machine; the bundle is installed in it by its own install.sh, inside a
# network namespace with no interface but loopback.  Needs root,
# debootstrap and unshare; the mirror is the one this machine's apt uses.
set -u
: "${SDTOOL_VECTORS:?}" "${BUILD_DIR:?}"
V=$SDTOOL_VECTORS
B=$BUILD_DIR/offline-bundle
C=$BUILD_DIR/chroot-bookworm
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1: $2"; }
finish() { echo "# t_bundle.sh: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null 2>&1 ||
    ! command -v unshare >/dev/null 2>&1; then
	not_ok "root, debootstrap and unshare" "needed to install the bundle in a minimal Debian"
	finish
fi
[ -f "$B/SHA256SUMS" ] || { not_ok "the bundle exists" "make offline-bundle"; finish; }
if ! (cd "$B" && sha256sum --quiet -c SHA256SUMS); then not_ok "SHA256SUMS matches the bundle" "mismatch"
else ok "SHA256SUMS matches the bundle"; fi

if [ ! -x "$C/usr/bin/dpkg" ]; then
	mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\/debian\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
	rm -rf "$C.new"
	if debootstrap --variant=minbase bookworm "$C.new" "$mirror" >"$BUILD_DIR/debootstrap.log" 2>&1; then
		mv "$C.new" "$C"
	else
		not_ok "a minimal Debian 12 to install into" "debootstrap failed: $(tail -2 "$BUILD_DIR/debootstrap.log")"
		finish
	fi
fi
# A fresh copy each run: the cached root stays minimal.
R=$BUILD_DIR/bundle-root
rm -rf "$R"
cp -a "$C" "$R"
if [ -x "$R/usr/bin/sdtool" ]; then not_ok "the minimal Debian has no sdtool" "it has"; else ok "the minimal Debian has no sdtool"; fi
cp -a "$B" "$R/bundle"
mkdir -p "$R/v/keys"
cp "$V/2023-05/sd.json" "$V/2023-05/transfer_key_response.json" "$R/v/"
cp "$V/keys/sd1.key" "$V/keys/sd1.cer" "$V/keys/sd2.key" "$V/keys/sd2.cer" "$R/v/keys/" 2>/dev/null ||
	cp "$V/keys/sd1.key" "$V/keys/sd2.key" "$R/v/keys/"

# in_root CMD: run CMD in the minimal Debian, no network, /proc mounted.
in_root() {
	unshare -n -m sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" "$@"
}
if in_root sh /bundle/install.sh >"$BUILD_DIR/bundle-install.log" 2>&1; then
	ok "install.sh installs the bundle with no network"
else
	not_ok "install.sh installs the bundle with no network" "$(tail -5 "$BUILD_DIR/bundle-install.log")"
	finish
fi
ifaces=$(in_root cat /proc/net/dev | sed -n 's/^ *\([^ :]*\):.*/\1/p' | tr '\n' ' ')
if [ "$ifaces" = "lo " ]; then ok "the install ran with no network interface but loopback"
else not_ok "the install ran with no network" "interfaces: $ifaces"; fi
if grep -q '^sha256: ' "$BUILD_DIR/bundle-install.log"; then ok "install.sh shows the installed executable's SHA-256"
else not_ok "install.sh shows the installed executable's SHA-256" "$(tail -3 "$BUILD_DIR/bundle-install.log")"; fi
if in_root sdtool inspect /v/sd.json >"$BUILD_DIR/bundle-out" 2>&1 && grep -q 'quorum: *2 of 3' "$BUILD_DIR/bundle-out"; then
	ok "installed sdtool inspects a real SD file"
else not_ok "installed sdtool inspects a real SD file" "$(head -3 "$BUILD_DIR/bundle-out")"; fi
if in_root sdtool restore-blob --sd-file /v/sd.json --sd-exchange-key /v/transfer_key_response.json \
    --sd-wrapping-keys /v/keys/sd1.key /v/keys/sd2.key --out /v/blob.json >"$BUILD_DIR/bundle-out" 2>&1 &&
    [ -s "$R/v/blob.json" ]; then
	ok "installed sdtool makes a restore blob from a real SD file"
else not_ok "installed sdtool makes a restore blob" "$(tail -3 "$BUILD_DIR/bundle-out")"; fi
if in_root sdtool escrow --help >"$BUILD_DIR/bundle-out" 2>&1 && grep -q 'print' "$BUILD_DIR/bundle-out"; then
	ok "installed sdtool-paper answers sdtool escrow"
else not_ok "installed sdtool-paper answers sdtool escrow" "$(head -3 "$BUILD_DIR/bundle-out")"; fi
in_root sdtool hsm status --hsm-name x >"$BUILD_DIR/bundle-out" 2>&1
if grep -q 'install the package sdtool-online' "$BUILD_DIR/bundle-out"; then
	ok "the online verb is absent and says which package has it"
else not_ok "the online verb is absent" "$(cat "$BUILD_DIR/bundle-out")"; fi
rm -rf "$R"
finish
