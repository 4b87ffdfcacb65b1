#!/bin/sh
# t_deb.sh - the Debian packages: two builds of one commit in two
# directories are bit-identical; lintian finds no error; the offline
# package alone, unpacked, runs the offline verbs on the real service
# files and names the package of any verb it lacks; its dependencies are
# the offline libraries alone.  Needs dpkg-buildpackage and debhelper.
set -u
: "${SDTOOL_VECTORS:?}" "${COMMIT:?}" "${BUILD_DIR:?}"
V=$SDTOOL_VECTORS
top=$(cd "$(dirname "$0")/../.." && pwd)
W="$BUILD_DIR/pkgtest"
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1: $2"; }
finish() { echo "# t_deb.sh: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1; then
	echo "# dpkg-buildpackage or debhelper missing: make deps installs them"
	not_ok "packaging tools present" "install dpkg-dev and debhelper"
	finish
fi
rm -rf "$W"
mkdir -p "$W"

# Two builds, two directories, a second apart.
if sh "$top/mk/deb.sh" "$W/a" "$COMMIT" >/dev/null; then ok "first package build"
else not_ok "first package build" "see $W/a/build.log"; finish; fi
sleep 1
if sh "$top/mk/deb.sh" "$W/b/elsewhere" "$COMMIT" >/dev/null; then ok "second package build, another directory"
else not_ok "second package build" "see $W/b/elsewhere/build.log"; finish; fi
for p in sdtool sdtool-paper sdtool-yubikey sdtool-online sdtool-sim; do
	a=$(ls "$W"/a/${p}_*.deb 2>/dev/null | head -n 1)
	b=$(ls "$W"/b/elsewhere/${p}_*.deb 2>/dev/null | head -n 1)
	if [ -z "$a" ] || [ -z "$b" ]; then not_ok "package $p built" "missing"; continue; fi
	if cmp -s "$a" "$b"; then ok "$p: both builds bit-identical ($(sha256sum "$a" | cut -c1-16)...)"
	else
		not_ok "$p: both builds bit-identical" "$(sha256sum "$a" "$b")"
		command -v diffoscope >/dev/null 2>&1 && diffoscope "$a" "$b" | head -60
	fi
done

# lintian: no error (warnings are reported, not failed on).
if command -v lintian >/dev/null 2>&1; then
	if out=$(lintian --fail-on error --suppress-tags \
	    no-manual-page,binary-without-manpage "$W"/a/*.deb 2>&1); then
		ok "lintian finds no error"
		printf '%s\n' "$out" | sed -n '1,10s/^/# lintian: /p'
	else
		not_ok "lintian finds no error" "$(printf '%s\n' "$out" | grep '^E:' | head -5)"
	fi
else
	not_ok "lintian present" "make deps installs it"
fi

# The offline package alone.
deb=$(ls "$W"/a/sdtool_*.deb | head -n 1)
deps=$(dpkg-deb -f "$deb" Depends)
extra=$(printf '%s\n' "$deps" | tr ',' '\n' | sed 's/(.*//; s/ //g' | grep -v '^$' |
	grep -vx -e libc6 -e libssl3 -e libsodium23 -e libjansson4 -e 'libbson-1.0-0')
if [ -z "$extra" ]; then ok "sdtool depends on libc, OpenSSL, libsodium, Jansson alone ($deps)"
else not_ok "sdtool depends on the offline libraries alone" "$deps"; fi
R="$W/root"
dpkg-deb -x "$deb" "$R"
S="$R/usr/bin/sdtool"
if [ -x "$S" ] && [ ! -e "$R/usr/libexec/sdtool" ]; then ok "the offline package holds sdtool and no helper"
else not_ok "the offline package holds sdtool and no helper" "$(cd "$R" && find . -type f | head)"; fi
if "$S" --version --verbose >"$W/ver" 2>&1 && grep -q "^commit: $COMMIT\$" "$W/ver" &&
    grep -q "^sha256: $(sha256sum "$S" | cut -c1-64)\$" "$W/ver"; then
	ok "--version --verbose: the commit built and the executable's SHA-256"
else not_ok "--version --verbose" "$(cat "$W/ver")"; fi
cp "$V/2023-05/sd.json" "$W/sd.json"
if "$S" inspect "$W/sd.json" >"$W/out" 2>&1 && grep -q 'quorum: *2 of 3' "$W/out"; then ok "inspect a real SD file"
else not_ok "inspect a real SD file" "$(head -3 "$W/out")"; fi
if "$S" verify --sd-file "$W/sd.json" --sd-wrapping-keys "$V/keys/sd1.key" \
    "$V/keys/sd2.key" "$V/keys/sd3.key" >"$W/out" 2>&1; then ok "verify a real SD file with its three keys"
else not_ok "verify a real SD file" "$(tail -3 "$W/out")"; fi
if "$S" restore-blob --sd-file "$W/sd.json" --sd-exchange-key \
    "$V/2023-05/transfer_key_response.json" --sd-wrapping-keys "$V/keys/sd1.key" \
    "$V/keys/sd3.key" --out "$W/blob.json" >"$W/out" 2>&1 && [ -s "$W/blob.json" ]; then
	ok "restore-blob from a real SD file"
else not_ok "restore-blob from a real SD file" "$(tail -3 "$W/out")"; fi
if "$S" keygen -n 3 -b 2048 -d "$W/keys" --no-passphrase >"$W/out" 2>&1 &&
    [ -f "$W/keys/cert_2.key" ]; then ok "keygen makes three key pairs"
else not_ok "keygen" "$(tail -3 "$W/out")"; fi
"$S" hsm status --hsm-name x >"$W/out" 2>"$W/err"; rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l < "$W/err")" -eq 1 ] && grep -q 'install the package sdtool-online' "$W/err"; then
	ok "hsm without its package: one line naming sdtool-online"
else not_ok "hsm without its package" "exit $rc: $(cat "$W/err")"; fi
"$S" escrow print --key x >"$W/out" 2>"$W/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q 'install the package sdtool-paper' "$W/err"; then
	ok "escrow without its package: one line naming sdtool-paper"
else not_ok "escrow without its package" "exit $rc: $(cat "$W/err")"; fi
finish
