/*
 * certgen.h - making RSA key pairs and X.509 certificates: the officers'
 * wrapping keys (keygen, card generate), the simulator's exchange key and
 * its test TLS certificates.  One template, whoever signs.
 */
#ifndef SD_PKI_CERTGEN_H
#define SD_PKI_CERTGEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../shares/sd_err.h"

/* Told of each step of the prime search (0, 1, 2: OpenSSL's phases). */
typedef void (*certgen_tick_fn)(void *ctx, int phase);

/* A new RSA key of `bits` bits (e = 65537); tick may be NULL. */
int certgen_rsa(int bits, certgen_tick_fn tick, void *tick_ctx,
    EVP_PKEY **out, struct sd_err *e) SD_WUR;

/* An extension as OpenSSL's configuration syntax writes it. */
struct certgen_ext {
	int nid;
	const char *value;
};

/* basicConstraints CA:FALSE, keyUsage keyEncipherment+dataEncipherment, SKI. */
extern const struct certgen_ext certgen_wrapping_exts[];

/* What a certificate says. */
struct certgen_tmpl {
	const X509_NAME *subject;
	const X509 *issuer;           /* NULL: self-issued */
	long backdate;                /* notBefore = now - backdate seconds */
	long days;                    /* notAfter = now + days */
	const struct certgen_ext *exts;   /* ended by nid 0; may be NULL */
};

/*
 * Who signs: a key OpenSSL holds (key), or else a callback that returns
 * the RSA PKCS#1 v1.5 SHA-256 signature of the DER to-be-signed bytes in
 * a malloc'd buffer (a token's key).
 */
struct certgen_signer {
	EVP_PKEY *key;
	int (*sign)(void *ctx, const uint8_t *tbs, size_t tbs_len,
	    uint8_t **sig, size_t *sig_len, struct sd_err *e);
	void *ctx;
};

/*
 * A certificate for pub from the template: serial of 16 random bytes,
 * SHA-256 signature, which must verify with the issuer's (or pub's) key.
 */
int certgen_build(EVP_PKEY *pub, const struct certgen_tmpl *t,
    const struct certgen_signer *s, X509 **out, struct sd_err *e) SD_WUR;

/*
 * An officer's self-signed wrapping certificate: subject = issuer = dn
 * ("CN=...,O=..." or "/CN=.../O=..."), valid from now for `days` days,
 * certgen_wrapping_exts.  SD_ERR_ARG when dn is not a name.
 */
int certgen_selfsigned(EVP_PKEY *key, const char *dn, int days, X509 **out,
    struct sd_err *e) SD_WUR;

/* "CN=a,O=b" or "/CN=a/O=b" as an X509_NAME; NULL if it is not one. */
X509_NAME *certgen_parse_dn(const char *dn);

/* PEM text of a certificate; *pem malloc'd, NUL-terminated. */
int certgen_cert_pem(X509 *cert, char **pem, size_t *len, struct sd_err *e)
	SD_WUR;

/*
 * The private key as PKCS#8 PEM, encrypted with AES-256-CBC under
 * passphrase if it is non-NULL.  *pem is in guarded memory (sodium_free).
 */
int certgen_key_pem(EVP_PKEY *key, const char *passphrase, char **pem,
    size_t *len, struct sd_err *e) SD_WUR;

/* The certificate's notAfter as "2026-11-24T09:00:00Z" ("" if unreadable). */
void certgen_not_after(const X509 *cert, char out[static 32]);

#endif
