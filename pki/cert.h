/*
 * pki/cert.h - certificates and exchange keys: loading, thumbprints.
 * No secrets pass through here.
 */
#ifndef SD_PKI_CERT_H
#define SD_PKI_CERT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "../shares/sd_err.h"
#include "../shares/sdfile.h"

#define PKI_MIN_RSA_BITS 2048
/* What the service accepts at activation (and reshare gives again). */
#define PKI_SD_MIN_CERTS  3
#define PKI_SD_MAX_CERTS  10
#define PKI_SD_MIN_QUORUM 2
/* A certificate or a transfer-key reply is never larger. */
#define PKI_MAX_CERT_FILE (1u << 20)

/* Load a certificate, PEM or DER. */
int pki_cert_load(const char *path, X509 **out, struct sd_err *e) SD_WUR;

/*
 * A certificate from bytes: PEM if the text has a BEGIN line, otherwise
 * DER, which must fill the buffer exactly.  NULL if it is neither.
 */
X509 *pki_cert_from_buf(const char *buf, size_t len);

/* SHA-256 of bytes as 64 lowercase hex digits. */
void pki_sha256_hex(const void *p, size_t len, char hex[static 65]);

/*
 * The certificate's SHA-256 as openssl x509 -fingerprint shows it:
 * "E0:7A:...", 95 characters.  0 or SD_ERR_CRYPTO.
 */
int pki_cert_sha256_colon(X509 *cert, char out[static 96]) SD_WUR;

/* Its DER bytes' x5t_256. */
int pki_cert_x5t256(X509 *cert, char out[static SD_X5T_SIZE]) SD_WUR;

/*
 * An exchange key from the HSM's transfer-key reply (JSON text,
 * {"key_format":"jwk","transfer_key":"<JWK>"} or the JWK itself): the
 * certificate x5c[0], whose n and e must equal the JWK's when present.
 * `where` names the source in messages.
 */
int pki_exchange_cert_parse(const char *where, const char *buf, size_t len,
    X509 **out, struct sd_err *e) SD_WUR;

/*
 * Load an exchange key: a certificate (PEM or DER) or the HSM's
 * transfer-key reply (JSON), as pki_exchange_cert_parse.
 */
int pki_exchange_cert_load(const char *path, X509 **out, struct sd_err *e)
	SD_WUR;

/*
 * Check a certificate set as the service does before activation: n in
 * PKI_SD_MIN_CERTS..PKI_SD_MAX_CERTS and quorum in PKI_SD_MIN_QUORUM..n
 * (SD_ERR_RANGE); every key RSA of PKI_MIN_RSA_BITS or more (SD_ERR_KEY);
 * no certificate twice (SD_ERR_ARG, *other the index of its first
 * occurrence).  *bad is the index of the certificate at fault, or n when
 * the fault is the count or quorum.  Messages do not name the certificate:
 * the caller prefixes its name.
 */
int pki_certset_check(X509 *const *certs, size_t n, unsigned quorum,
    size_t *bad, size_t *other, struct sd_err *e) SD_WUR;

#endif
