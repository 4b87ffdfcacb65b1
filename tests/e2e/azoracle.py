#!/usr/bin/python3
"""Interop oracle: open SD files and restore blobs with azure-cli's own
security-domain code (Debian's azure-cli package), independently of sdtool.

  azoracle.py sd-data SD KEY...      SHA-256 of each data item, via a quorum
  azoracle.py blob-data BLOB KEY     the same for a restore blob, via the
                                     exchange private key

Prints {"tag": "sha256 hex", ...} as JSON.  Exits 1 when anything fails to
authenticate (azure-cli's decrypt returns None on a bad tag).
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import load_pem_x509_certificate
from cryptography.hazmat.primitives.serialization import Encoding

from azure.cli.command_modules.keyvault.security_domain.jwe import JWE
from azure.cli.command_modules.keyvault.security_domain.shared_secret import SharedSecret
from azure.cli.command_modules.keyvault.security_domain.sp800_108 import KDF
from azure.cli.command_modules.keyvault.security_domain.utils import Utils


def load_key(path):
    with open(path, 'rb') as f:
        return load_pem_private_key(f.read(), password=None)


def data_hashes(enc_data, master):
    out = {}
    for item in enc_data['data']:
        key = KDF.sp800_108(master, label=item['tag'], context='', bit_length=512)
        pt = JWE(item['compact_jwe']).decrypt_using_bytes(key)
        if pt is None:
            sys.exit('azoracle: %s does not authenticate' % item['tag'])
        out[item['tag']] = hashlib.sha256(bytes(pt)).hexdigest()
    return out


def sd_data(sd_path, keys):
    with open(sd_path) as f:
        sd = json.load(f)
    shared = sd['SharedKeys']
    arrays = []
    for kp in keys:
        cert_path = kp.rsplit('.', 1)[0] + '.cer'
        with open(cert_path, 'rb') as f:
            cert = load_pem_x509_certificate(f.read())
        x5t = Utils.security_domain_b64_url_encode(
            hashlib.sha256(cert.public_bytes(Encoding.DER)).digest())
        for entry in shared['enc_shares']:
            if entry['x5t_256'] == x5t:
                share = JWE(entry['enc_key']).decrypt_using_private_key(load_key(kp))
                if share is None:
                    sys.exit('azoracle: share for %s does not authenticate' % kp)
                arrays.append(Utils.convert_to_uint16(share))
    required = shared['required']
    if len(arrays) < required:
        sys.exit('azoracle: only %d shares opened' % len(arrays))
    master = SharedSecret.get_plaintext(arrays, required=required)
    return data_hashes(sd['EncData'], master)


def blob_data(blob_path, key_path):
    with open(blob_path) as f:
        blob = json.load(f)
    master = JWE(blob['WrappedKey']['enc_key']).decrypt_using_private_key(load_key(key_path))
    if master is None:
        sys.exit('azoracle: wrapped key does not authenticate')
    return data_hashes(blob['EncData'], master)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == 'sd-data':
        print(json.dumps(sd_data(sys.argv[2], sys.argv[3:]), sort_keys=True))
    elif len(sys.argv) == 4 and sys.argv[1] == 'blob-data':
        print(json.dumps(blob_data(sys.argv[2], sys.argv[3]), sort_keys=True))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
