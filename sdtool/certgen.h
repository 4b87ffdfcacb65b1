/*
 * certgen.h - making RSA key pairs and self-signed certificates, for
 * keygen (officers' wrapping keys) and sim (the exchange key).
 */
#ifndef SDTOOL_CERTGEN_H
#define SDTOOL_CERTGEN_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * A new RSA key of `bits` bits (e = 65537).  When progress is non-zero,
 * dots go to stderr while primes are searched.  0 or -1 (message printed).
 */
int certgen_rsa(int bits, int progress, EVP_PKEY **out);

/*
 * A self-signed X.509v3 certificate for key: serial of 16 random bytes,
 * subject = issuer = dn ("CN=...,O=..." or "/CN=.../O=..."), valid from
 * now for `days` days, basicConstraints CA:FALSE, keyUsage
 * keyEncipherment + dataEncipherment, subjectKeyIdentifier, SHA-256.
 * 0 or -1 (message printed).
 */
int certgen_selfsigned(EVP_PKEY *key, const char *dn, int days, X509 **out);

/* "CN=a,O=b" or "/CN=a/O=b" as an X509_NAME; NULL if it is not one. */
X509_NAME *certgen_parse_dn(const char *dn);

/* PEM text of a certificate; *pem malloc'd, NUL-terminated. */
int certgen_cert_pem(X509 *cert, char **pem, size_t *len);

/*
 * The private key as PKCS#8 PEM, encrypted with AES-256-CBC under
 * passphrase if it is non-NULL.  *pem is in guarded memory (sodium_free).
 */
int certgen_key_pem(EVP_PKEY *key, const char *passphrase, char **pem,
    size_t *len);

/* The certificate's notAfter as "2026-11-24T09:00:00Z" ("" if unreadable). */
void certgen_not_after(const X509 *cert, char out[static 32]);

#endif
