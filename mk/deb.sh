#!/bin/sh
# deb.sh OUT COMMIT - build sdtool's Debian packages from this tree into
# OUT (OUT/*.deb), reproducibly: the files git tracks (or, outside a
# checkout, the tree without build/) are copied to OUT/src/sdtool-VERSION,
# the commit is written to debian/commit there, and dpkg-buildpackage
# runs in that copy with nothing else of the machine's state reaching the
# packages (SOURCE_DATE_EPOCH comes from debian/changelog).
set -eu
out=$1
commit=$2
top=$(cd "$(dirname "$0")/.." && pwd)
command -v dpkg-buildpackage >/dev/null 2>&1 || {
	echo "deb: dpkg-buildpackage is missing (apt-get install dpkg-dev debhelper)" >&2
	exit 1
}
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
upstream=${version%-*}
rm -rf "$out"
src="$out/src/sdtool-$upstream"
mkdir -p "$src"
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude=./build --exclude='./build-*' -cf - . | tar -xf - -C "$src"
fi
printf '%s\n' "$commit" > "$src/debian/commit"
cd "$src"
# Locale and umask are part of what a build sees.
LC_ALL=C.UTF-8 TZ=UTC dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
	echo "deb: dpkg-buildpackage failed; see $out/build.log" >&2
	tail -20 "$out/build.log" >&2
	exit 1
}
cd "$out"
mv src/*.deb src/*.buildinfo src/*.changes . 2>/dev/null || true
rm -rf src
ls "$out"/*.deb
