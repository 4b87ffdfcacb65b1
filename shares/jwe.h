/*
 * jwe.h - JWE compact serialization (RFC 7516) as the Managed HSM uses it:
 * enc A256CBC-HS512 (RFC 7518 5.2.5) with alg RSA-OAEP-256 (shares, the
 * restore blob's wrapped key) or dir (data items).
 *
 * Parsing is strict: exactly five parts, each unpadded base64url; the
 * header is a JSON object whose "alg" and "enc" are strings; the IV is 16
 * bytes; the tag must be exactly 32 bytes (azure-cli silently skips the MAC
 * check for any other length: we refuse).  The tag is compared in constant
 * time before anything is decrypted.
 */
#ifndef SD_JWE_H
#define SD_JWE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sd_err.h"
#include "secret.h"

#define JWE_CEK_LEN 64  /* A256CBC-HS512: 32 bytes MAC key, then 32 bytes AES key */
#define JWE_IV_LEN  16
#define JWE_TAG_LEN 32
#define JWE_MAX_LEN (16u << 20) /* largest compact JWE we accept */

struct jwe {
	char *header_b64;   /* protected header segment as sent: the MAC's AAD */
	char *header_json;  /* its decoded text */
	char *alg;          /* "RSA-OAEP-256", "dir", ... */
	char *enc;          /* "A256CBC-HS512" */
	char *kid;          /* may be NULL */
	uint8_t *ek;        /* encrypted key (empty for dir) */
	size_t ek_len;
	uint8_t iv[JWE_IV_LEN];
	uint8_t *ct;
	size_t ct_len;
	uint8_t tag[JWE_TAG_LEN];
};

/*
 * Parse a compact JWE.  Errors name the part: "JWE has 4 parts, expected
 * 5", "JWE initialization vector: invalid base64url at offset 7",
 * "JWE authentication tag is 31 bytes, expected 32".
 */
int jwe_parse(const char *compact, size_t len, struct jwe **out,
    struct sd_err *e) SD_WUR;

void jwe_free(struct jwe *j);

/*
 * Check the tag and decrypt with the 64-byte content key.  Only
 * enc A256CBC-HS512 is supported.  A wrong key, a changed bit anywhere or
 * bad padding give SD_ERR_AUTH.  The plaintext goes to a new guarded
 * buffer.
 */
int jwe_decrypt(const struct jwe *j, const uint8_t cek[static JWE_CEK_LEN],
    struct sd_secret **plaintext, struct sd_err *e) SD_WUR;

/*
 * Encrypt pt under cek as {"alg":"dir","enc":"A256CBC-HS512","kid":kid}
 * (the header exactly so, compact, in that order).  *compact is malloc'd.
 */
int jwe_encrypt_dir(const uint8_t cek[static JWE_CEK_LEN], const char *kid,
    const uint8_t *pt, size_t pt_len, const struct sd_rng *rng,
    char **compact, struct sd_err *e) SD_WUR;

/*
 * Encrypt pt to an RSA public key: a fresh 64-byte content key wrapped with
 * RSA-OAEP-256 (SHA-256, MGF1-SHA-256), header
 * {"alg":"RSA-OAEP-256","enc":"A256CBC-HS512","kid":kid}.
 */
int jwe_encrypt_rsa(EVP_PKEY *pub, const char *kid, const uint8_t *pt,
    size_t pt_len, const struct sd_rng *rng, char **compact,
    struct sd_err *e) SD_WUR;

/* RSA-OAEP-256 (SHA-256, MGF1-SHA-256, no label) with OpenSSL EVP. */
int rsa_oaep256_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t in_len,
    uint8_t **out, size_t *out_len, struct sd_err *e) SD_WUR;
/* Decrypt to a guarded buffer; failure of any kind is SD_ERR_AUTH. */
int rsa_oaep256_decrypt(EVP_PKEY *priv, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e) SD_WUR;

#endif
