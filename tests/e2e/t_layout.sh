#!/bin/bash
# t_layout.sh - the offline binary and its helpers: what sdtool links, how
# it finds the helper programs, what it says when one is missing, and the
# layering of the source tree.
. "$(dirname "$0")/lib.sh"
B=$(dirname "$SDTOOL")

# The binary carried to the air-gapped laptop links the offline stack alone.
libs=$(ldd "$SDTOOL")
heavy=$(printf '%s\n' "$libs" | grep -Eo 'lib(curl|microhttpd|cairo|X11|xcb|zbar|dbus-1|systemd|gnutls|krb5|ldap|v4l2|usb-1.0|ykpers-1|pcsclite|p11-kit|qrencode|fontconfig|udev)[^ ]*' | sort -u | tr '\n' ' ')
if [ -z "$heavy" ]; then ok "sdtool links no network, server, paper or device library"
else not_ok "sdtool links no network, server, paper or device library" "$heavy"; fi
# the sanitizers' runtimes (SAN=1 builds) are not sdtool's own
n=$(printf '%s\n' "$libs" | grep '=>' |
	grep -Evc 'lib(asan|ubsan|stdc\+\+|m|gcc_s|dl|pthread|rt)\.so')
# (libbson: the data items' and key backups' BSON, issue 11)
if [ "$n" -le 5 ]; then ok "sdtool links libcrypto, libsodium, jansson, libbson and libc ($n)"
else not_ok "sdtool links few libraries" "$n: $libs"; fi
check "sdtool-hsm links libcurl" sh -c "ldd '$B/sdtool-hsm' | grep -q libcurl"
check "sdtool-sim links libmicrohttpd" sh -c "ldd '$B/sdtool-sim' | grep -q libmicrohttpd"
check "sdtool-paper links cairo" sh -c "ldd '$B/sdtool-paper' | grep -q libcairo"

# Helpers run through sdtool, found beside it.
expect_out "sdtool hsm --help runs the helper" 0 'download' "$SDTOOL" hsm --help
expect_out "sdtool sim --help runs the helper" 0 'activate' "$SDTOOL" sim --help
expect_out "sdtool escrow --help runs the helper" 0 'print' "$SDTOOL" escrow --help
expect_out "sdtool help verify" 0 '^usage: sdtool verify' "$SDTOOL" help verify
expect_out "sdtool help hsm" 0 'download' "$SDTOOL" help hsm
expect_err "sdtool help nosuchverb" 2 "unknown verb 'nosuchverb'" "$SDTOOL" help nosuchverb

# sdtool alone, as the offline package installs it (no helper beside it;
# the libexec directory compiled in does not hold them either unless this
# machine has a `make install` of its own, which the test then skips).
mkdir -p "$T/lone"
cp "$SDTOOL" "$T/lone/sdtool"
libexec=$(strings "$SDTOOL" | grep -m1 '/libexec/sdtool$' || true)
if [ -n "$libexec" ] && [ -x "$libexec/sdtool-hsm" ]; then
	echo "# skipping the lone-binary checks: helpers are installed in $libexec"
else
	expect_err "lone sdtool hsm: one line names the package" 1 \
	    'needs sdtool-hsm, which is not installed .*install the package sdtool-online' \
	    "$T/lone/sdtool" hsm download --hsm-name x
	check "lone sdtool hsm: exactly one line on stderr" test "$(wc -l < "$T/err")" -eq 1
	expect_out "lone sdtool hsm --help still shows the usage" 0 \
	    '^usage: sdtool hsm' "$T/lone/sdtool" hsm --help
	check "lone sdtool hsm --help names the package" grep -q 'sdtool-online' "$T/err"
	expect_err "lone sdtool escrow names sdtool-paper" 1 'install the package sdtool-paper' \
	    "$T/lone/sdtool" escrow print --key x
	expect_err "lone sdtool sim names sdtool-sim" 1 'install the package sdtool-sim' \
	    "$T/lone/sdtool" sim status --state x
	expect_out "lone sdtool inspects a real SD file" 0 'quorum: +2 of 3' \
	    "$T/lone/sdtool" inspect "$V/2023-05/sd.json"
	expect_out "lone sdtool verifies a real SD file" 0 '' \
	    "$T/lone/sdtool" verify --sd-file "$V/2023-05/sd.json" \
	    --sd-wrapping-keys "$V/keys/sd1.key" "$V/keys/sd2.key" "$V/keys/sd3.key"
fi
# A program of that name on $PATH is never taken for a helper.
mkdir -p "$T/path"
printf '#!/bin/sh\necho IMPOSTOR\n' > "$T/path/sdtool-hsm"
chmod +x "$T/path/sdtool-hsm"
run env PATH="$T/path:$PATH" "$T/lone/sdtool" hsm download --hsm-name x
if grep -q IMPOSTOR "$T/out"; then not_ok "\$PATH is never searched for helpers" "ran $T/path/sdtool-hsm"
else ok "\$PATH is never searched for helpers"; fi

# The source tree keeps its layers (mk/layers.sh).
if out=$(sh "$E2E/../../mk/layers.sh" 2>&1); then ok "no folder includes one above it, no include cycle"
else not_ok "no folder includes one above it, no include cycle" "$out"; fi

done_testing
