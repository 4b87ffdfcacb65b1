#!/bin/sh
# Regenerate the seed corpora of tests/fuzz/corpus/ from the real service
# files (../shared/vectors/service, or $SDTOOL_VECTORS) and a few generated
# inputs.  The result is committed; run this only to refresh it:
#   make -j2 && sh tests/fuzz/mkcorpus.sh
# Needs python3, openssl, and build/libsdcore.a (for the escrow seeds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
V=${SDTOOL_VECTORS:-$top/../shared/vectors/service}
C=$here/corpus
[ -f "$V/2023-05/sd.json" ] || { echo "mkcorpus: no vectors in $V" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# regress-* files are the reproducers of findings: kept
for d in sdfile blob jwe transfer_key escrow_text escrow_qr p11uri ykey \
    keyload certload mhsm opt readaloud net_text ceremony transcript; do
	mkdir -p "$C/$d"
	find "$C/$d" -type f ! -name 'regress-*' -delete
done

python3 - "$V" "$C" <<'PY'
import json, os, sys, struct
V, C = sys.argv[1], sys.argv[2]
def put(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(C, d, name), "wb") as f:
        f.write(data)
def rd(p):
    return open(os.path.join(V, p), "rb").read()

# SD files: the service's own, and small broken ones
for y in ("2020-09", "2022-08", "2023-05"):
    put("sdfile", y + "-sd.json", rd(y + "/sd.json"))
sd = json.loads(rd("2023-05/sd.json"))
small = json.loads(json.dumps(sd))
small["EncData"]["data"] = small["EncData"]["data"][:1]
small["SharedKeys"]["enc_shares"] = small["SharedKeys"]["enc_shares"][:2]
small["SharedKeys"]["required"] = 2
put("sdfile", "two-shares.json", json.dumps(small, separators=(",", ":")))
put("sdfile", "unknown-field.json", json.dumps(dict(small, comment="x")))
put("sdfile", "empty-object.json", "{}")
put("sdfile", "required-11.json", json.dumps(dict(small, SharedKeys=dict(
    small["SharedKeys"], required=11))))

# restore blobs: the "value" of upload requests
for y in ("2020-09", "2023-05"):
    put("blob", y + "-blob.json", json.loads(rd(y + "/upload_request.json"))["value"])
blob = json.loads(json.loads(rd("2023-05/upload_request.json"))["value"])
blob["EncData"]["data"] = blob["EncData"]["data"][:1]
put("blob", "one-item.json", json.dumps(blob, separators=(",", ":")))
put("blob", "sd-given.json", json.dumps(small, separators=(",", ":")))

# JWEs: a data item (dir) and a share (RSA-OAEP-256), and broken ones
d = sd["EncData"]["data"][0]["compact_jwe"]
k = sd["SharedKeys"]["enc_shares"][0]["enc_key"]
put("jwe", "dir.jwe", d)
put("jwe", "rsa-oaep-256.jwe", k)
p = k.split(".")
put("jwe", "four-parts.jwe", ".".join(p[:4]))
put("jwe", "short-tag.jwe", ".".join(p[:4] + [p[4][:-2]]))
put("jwe", "b64-padding.jwe", ".".join(p[:2] + [p[2] + "=="] + p[3:]))

# exchange-key replies
for y in ("2020-09", "2023-05"):
    put("transfer_key", y + "-transfer-key.json", rd(y + "/transfer_key_response.json"))
tk = json.loads(rd("2023-05/transfer_key_response.json"))
tko = dict(tk, transfer_key=json.loads(tk["transfer_key"]))
put("transfer_key", "jwk-object.json", json.dumps(tko))
jwk = dict(tko["transfer_key"]); jwk.pop("n", None); jwk.pop("e", None)
put("transfer_key", "no-n-e.json", json.dumps(dict(tk, transfer_key=jwk)))
put("certload", "transfer-key.json", rd("2023-05/transfer_key_response.json"))

# HSM replies: [op][status 2][retry-after 1][id len 1][id][body len 2][body]...
def rep(status, body=b"", ra=0xff, rid=b"req-1"):
    if isinstance(body, str):
        body = body.encode()
    body = body[:65535]
    return struct.pack(">HBB", status, ra, len(rid)) + rid + struct.pack(">H", len(body)) + body
dl = rd("2023-05/download_response.json")
up = rd("2023-05/upload_response.json")
err = b'{"error":{"code":"Forbidden","message":"Operation not allowed"}}'
busy = b'{"error":{"code":"InternalError","message":"Failed to export security domain data"}}'
put("mhsm", "download-ok", bytes([0]) + rep(202, dl))
put("mhsm", "download-retry", bytes([0]) + rep(503, busy, ra=1) + rep(429, b"", ra=2) + rep(202, dl))
put("mhsm", "download-403", bytes([0]) + rep(403, err))
put("mhsm", "transfer-key", bytes([1]) + rep(200, rd("2020-09/transfer_key_response.json")))
put("mhsm", "upload", bytes([2]) + rep(202, up))
put("mhsm", "pending-204", bytes([3]) + rep(204))
put("mhsm", "wait-poll", bytes([4]) + rep(200, up, ra=3) + rep(200, b'{"status":"Success","status_details":"done"}'))
put("mhsm", "wait-failed", bytes([5]) + rep(200, b'{"status":"Failed","statusDetails":"bad blob"}'))
put("mhsm", "no-reply", bytes([1]) + b"\xff\xff")

# PKCS#11 URIs
for i, u in enumerate([
    "pkcs11:token=officer0;object=sd-wrap-0;type=private",
    "pkcs11:token=officer0;id=%03?module-path=/usr/lib/libykcs11.so",
    "pkcs11:model=PKCS%2315%20emulated;manufacturer=piv_II;serial=abc;token=PIV%20Card;object=KEY%20MAN%20key;type=private?pin-source=file:/run/pin",
    "pkcs11:library-manufacturer=OpenSC;library-description=x;library-version=0.23;slot-description=s;slot-manufacturer=m;slot-id=1;id=%01%02%00?module-name=opensc-pkcs11&pin-source=/tmp/p",
    "pkcs11:token=a;token=b",
    "pkcs11:object=a%2",
    "pkcs11:?pin-value=1234",
]):
    put("p11uri", "uri-%d" % i, u)

# URLs, HSM names, token files, server text: [which] then the text
for name, b in [("url", b"\x00https://contoso.managedhsm.azure.net"),
        ("url-local", b"\x00http://127.0.0.1:8443/"),
        ("url-path", b"\x00https://contoso.managedhsm.azure.net/x?y#z"),
        ("name", b"\x01contoso-hsm"),
        ("token", b"\x02eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZWRoc20uYXp1cmUubmV0In0.c2ln\n"),
        ("token-crlf", b"\x02  abc.def.ghi \r\nsecond line\n"),
        ("printable", b"\x03\x1b]0;PWNED\x07\xc2\x9d ok")]:
    put("net_text", name, b)

# typed read-aloud values: [expected length - 1] then the text
for name, n, t in [("hex-32", 32, "E07A DEE7 0C15 4A5B " * 4), ("hex-odd", 3, "e07a:de"),
        ("pgp-4", 4, "topmost Istanbul Pluto vagabond"), ("pgp-dash", 2, "aardvark-adroitness"),
        ("b64url-32", 32, "CojhzMaabdnN4w0lgjiABEhwlq4eZSVPLQkec4g0to0")]:
    put("readaloud", name, bytes([n - 1]) + t.strip().encode())

# CLI argument vectors: [table] then NUL-separated arguments, for each
# verb's option table as fuzz_opt numbers them (opt_tables.py's order)
import glob, subprocess, re as _re
top = os.path.dirname(os.path.dirname(C.rstrip("/")))
top = os.path.dirname(top)
srcs = sorted(glob.glob(os.path.join(top, "sdtool/cmd_*.c")) +
              glob.glob(os.path.join(top, "sim/*.c")) +
              glob.glob(os.path.join(top, "paper/*.c")))
gen = os.path.join(C, "..", "opt_tables.tmp.c")
subprocess.check_call(["python3", os.path.join(top, "tests/fuzz/opt_tables.py"), gen] + srcs)
text = open(gen).read()
os.unlink(gen)
for t, body in enumerate(_re.findall(r"static const struct opt \w+\[\] = \{(.*?)\n\};", text, _re.S)):
    args = []
    for name, kind, meta in _re.findall(r'\{ \d+, "([^"]*)", [^,]*, (OPT_\w+), (NULL|"[^"]*")', body):
        args.append("--" + name)
        if kind != "OPT_FLAG":
            args.append(meta.strip('"').lower())
            if kind == "OPT_LIST":
                args.append("second")
    put("opt", "table-%02d" % t, bytes([t]) + "\0".join(args).encode())
    put("opt", "table-%02d-odd" % t, bytes([t]) + "\0".join(["pos", "--", "-x", "--json=1", "-h"] + args[:3]).encode())
PY

# ceremony files, each with its parameter file after a NUL byte
top=$(cd "$here/../.." && pwd)
for f in "$top"/ceremony/*.json; do
	b=$(basename "$f" .json)
	cp "$f" "$C/ceremony/$b"
	if [ -f "$top/tests/e2e/golden/params/$b.json" ]; then
		{ cat "$f"; printf '\000'; cat "$top/tests/e2e/golden/params/$b.json"; } \
		    >"$C/ceremony/$b-params"
	fi
done

# keys and certificates: PEM and DER, PKCS#1 and PKCS#8, encrypted
K=$V/certs
cp "$K/cert_0.key" "$C/keyload/pkcs8.pem"
openssl pkcs8 -topk8 -nocrypt -in "$K/cert_0.key" -outform DER -out "$C/keyload/pkcs8.der"
openssl rsa -in "$K/cert_0.key" -traditional -out "$C/keyload/pkcs1.pem" 2>/dev/null
openssl rsa -in "$K/cert_0.key" -traditional -outform DER -out "$C/keyload/pkcs1.der" 2>/dev/null
openssl pkcs8 -topk8 -in "$K/cert_0.key" -v2 aes-256-cbc -iter 1 \
    -passout pass:x -out "$C/keyload/encrypted.pem"
openssl genpkey -algorithm ed25519 -out "$C/keyload/ed25519.pem" 2>/dev/null
openssl genrsa -out "$C/keyload/rsa1024.pem" 1024 2>/dev/null
cp "$K/cert_0.cer" "$C/keyload/a-certificate.cer"
cp "$K/cert_0.cer" "$C/certload/cert.pem"
openssl x509 -in "$K/cert_0.cer" -outform DER -out "$C/certload/cert.der"
cp "$V/keys/sd1.cer" "$C/certload/sd1.cer"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout /dev/null -subj /CN=ec -days 1 -out "$C/certload/ec.pem" 2>/dev/null

# escrow sheets and .ykey files, made by the code itself
openssl pkcs8 -topk8 -nocrypt -in "$K/cert_0.key" -outform DER -out "$tmp/k.der"
cc -std=c11 -D_GNU_SOURCE -o "$tmp/mkseeds" "$here/mkseeds.c" \
    "$top/build/libsdcore.a" $(pkg-config --cflags --libs libsodium libcrypto jansson)
mkdir -p "$C/transcript"
"$tmp/mkseeds" "$tmp/k.der" "$C"
# .ykey files: wrapped by sdtool with its software (TEST) YubiKey
printf '# sdtool software YubiKey: a TEST device; it protects nothing.\nserial 1000001\nslot2 303132333435363738393a3b3c3d3e3f40414243\n' >"$tmp/yk.soft"
echo "correct horse battery" >"$tmp/np"
cp "$K/cert_0.key" "$K/cert_0.cer" "$tmp/"
SDTOOL_YK_SOFTWARE_SECRET_FILE=$tmp/yk.soft "$top/build/sdtool" yk wrap \
    --key "$tmp/cert_0.key" --slot 2 --out "$C/ykey/plain.ykey"
SDTOOL_YK_SOFTWARE_SECRET_FILE=$tmp/yk.soft "$top/build/sdtool" yk wrap \
    --key "$tmp/cert_0.key" --slot 2 --out "$C/ykey/passphrase.ykey" \
    --passphrase --new-password-file "$tmp/np"
cp "$C/ykey/plain.ykey" "$C/keyload/"
echo "mkcorpus: $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB"
