#!/bin/sh
# libs.sh - how many shared libraries each program loads (ldd), and which
# of the heavy stacks the offline binary must not carry.
set -eu
B=${BUILD_DIR:?BUILD_DIR must name the build directory}
echo "shared libraries (ldd, vdso and loader included)"
for p in sdtool sdtool-hsm sdtool-sim sdtool-paper; do
	[ -x "$B/$p" ] || continue
	printf '  %-14s %3d\n' "$p" "$(ldd "$B/$p" | wc -l)"
done
heavy=$(ldd "$B/sdtool" | grep -Eo 'lib(curl|microhttpd|cairo|X11|xcb|zbar|dbus-1|systemd|gnutls|krb5)[^ ]*' | sort -u | tr '\n' ' ')
echo "  sdtool links none of curl, microhttpd, cairo, X11/xcb, zbar, dbus, systemd, gnutls, krb5: ${heavy:-yes}"
