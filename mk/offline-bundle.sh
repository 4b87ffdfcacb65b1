#!/bin/sh
# offline-bundle.sh DEBDIR OUT - a directory to carry to the air-gapped
# laptop: the offline packages (sdtool, sdtool-paper, sdtool-yubikey), every
# Debian package they need that a minimal Debian 12 (Priority: required)
# lacks, fetched with apt-get download, an install script that uses no
# network, a README, and SHA256SUMS over all of it.  Also OUT.tar.
set -eu
export LC_ALL=C
debdir=$1
out=$2
ours="sdtool sdtool-paper sdtool-yubikey"
rm -rf "$out" "$out.tar"
mkdir -p "$out/debs"
for p in $ours; do
	f=$(ls "$debdir"/${p}_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "offline-bundle: no $p package in $debdir (make deb)" >&2; exit 1; }
	cp "$f" "$out/"
done
# What they depend on, resolved as apt would, less what every minimal
# Debian 12 has (mk/bundle-deps.py, through python3-apt).
need=$(/usr/bin/python3 "$(dirname "$0")/bundle-deps.py" "$out"/*.deb | tr '\n' ' ')
if [ -n "$need" ]; then
	# shellcheck disable=SC2086
	(cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root $need >/dev/null) || {
		echo "offline-bundle: apt-get download failed (is apt-get update done?)" >&2
		exit 1
	}
fi
cat > "$out/install.sh" <<'SH'
#!/bin/sh
# install.sh - install the sdtool offline packages from this directory,
# without any network.  Run as root, from anywhere:  sh install.sh
set -eu
export LC_ALL=C
cd "$(dirname "$0")"
echo "checking SHA256SUMS..."
sha256sum --quiet -c SHA256SUMS || { echo "install: a file does not match SHA256SUMS; stop" >&2; exit 1; }
# One dpkg run orders the packages by their dependencies.
dpkg -i debs/*.deb ./*.deb
echo
sdtool --version --verbose
echo "Compare the sha256 above with the one published for this release."
SH
cat > "$out/README" <<'TXT'
sdtool offline bundle
=====================

For the air-gapped laptop (Debian 12, amd64).  Carry this directory over,
then, before installing anything:

1. Compute the digest of the checksum list:

       sha256sum SHA256SUMS

   and compare it with the value the maintainers published for this
   release, read aloud at the ceremony (in groups of four characters).
   Stop if it differs.

2. Install, as root, without network:

       sh install.sh

   It checks every file against SHA256SUMS, installs the packages with
   dpkg, and prints `sdtool --version --verbose`: the commit the binary
   was built from and the SHA-256 of the installed executable, to compare
   with the published value.

Contents: the offline packages (sdtool, sdtool-paper, sdtool-yubikey) and,
in debs/, the Debian packages they need that a minimal Debian 12 lacks.
The packages are reproducible: building the same commit with
`make deb` gives the same files, bit for bit.
TXT
(cd "$out" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort |
	xargs sha256sum > SHA256SUMS)
tar -C "$(dirname "$out")" -cf "$out.tar" "$(basename "$out")"
echo "offline bundle: $out ($(ls "$out"/debs | wc -l) dependencies)"
echo "  sha256sum SHA256SUMS: $(cd "$out" && sha256sum SHA256SUMS | cut -c1-64)"
