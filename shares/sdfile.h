/*
 * sdfile.h - the security-domain file and the restore blob, as JSON.
 *
 * SD file (what the HSM returns at activation), compact and in this order:
 *   {"EncData":{"data":[{"compact_jwe":J,"tag":T},...],"kdf":"sp108_kdf"},
 *    "SharedKeys":{"enc_shares":[{"enc_key":J,"x5t_256":X},...],
 *                  "key_algorithm":"shamir_share","required":M},
 *    "version":2}
 * Restore blob (what a recovery-mode HSM accepts):
 *   {"EncData":{...as above...},"WrappedKey":{"enc_key":J,"x5t_256":X}}
 *
 * Parsing is strict about what we use (types, ranges: 2 <= required <=
 * N <= 10, version 2, kdf sp108_kdf, key_algorithm shamir_share, every JWE
 * well formed, x5t_256 43 characters of base64url, tags unique and
 * non-empty) and tolerant of fields we do not know, which are listed in
 * `unknown` as JSON paths so that inspect can report them.  Errors name the
 * field: "SharedKeys.required: 11 is out of range 2..10".
 */
#ifndef SD_SDFILE_H
#define SD_SDFILE_H

#include <stddef.h>
#include <stdint.h>

#include "jwe.h"
#include "sd_err.h"

#define SD_FILE_VERSION   2
#define SD_KDF_NAME       "sp108_kdf"
#define SD_KEY_ALGORITHM  "shamir_share"
#define SD_MIN_REQUIRED   2
#define SD_MAX_SHARES     10
#define SD_MAX_DATA       64           /* data items we accept */
#define SD_MAX_FILE_LEN   (64u << 20)  /* largest SD file or blob we read */
#define SD_X5T_LEN        43           /* base64url of SHA-256, no padding */
#define SD_X5T_SIZE       (SD_X5T_LEN + 1)   /* with its NUL */
#define SD_SECRET_LEN     32           /* master secret */
#define SD_SHARE_LEN      64           /* decrypted share: 32 words */

struct sd_datum {
	char *tag;          /* e.g. "hsm_backup"; also the KDF label */
	char *compact_jwe;  /* as in the file */
	struct jwe *jwe;    /* parsed: alg "dir", enc A256CBC-HS512 */
};

struct sd_enc_data {
	char *kdf;               /* "sp108_kdf" */
	size_t n;
	struct sd_datum *items;
};

struct sd_share_entry {
	char *enc_key;      /* compact JWE as in the file */
	char x5t_256[SD_X5T_SIZE];
	struct jwe *jwe;    /* parsed: alg RSA-OAEP-256, enc A256CBC-HS512 */
};

struct sd_unknown {
	size_t n;
	char **paths;       /* e.g. "SharedKeys.comment" */
};

struct sd_file {
	int version;
	struct sd_enc_data data;
	char *key_algorithm;
	unsigned required;
	size_t n_shares;
	struct sd_share_entry *shares;
	struct sd_unknown unknown;
};

struct sd_blob {
	struct sd_enc_data data;
	struct sd_share_entry wrapped;  /* WrappedKey: enc_key and x5t_256 */
	struct sd_unknown unknown;
};

/* Parse an SD file of len bytes (need not be NUL-terminated). */
int sd_file_parse(const char *json, size_t len, struct sd_file **out,
    struct sd_err *e) SD_WUR;
/* Serialize compactly in the service's field order; *json is malloc'd. */
int sd_file_serialize(const struct sd_file *sd, char **json,
    struct sd_err *e) SD_WUR;
void sd_file_free(struct sd_file *sd);

/*
 * Parse a restore blob.  An SD file given where a blob is expected is
 * reported as such (SD_ERR_FORMAT, "this is a security-domain file, not a
 * restore blob"), and vice versa in sd_file_parse().
 */
int sd_blob_parse(const char *json, size_t len, struct sd_blob **out,
    struct sd_err *e) SD_WUR;
int sd_blob_serialize(const struct sd_blob *b, char **json,
    struct sd_err *e) SD_WUR;
void sd_blob_free(struct sd_blob *b);

/* x5t_256 of a DER certificate: base64url(SHA-256(der)), no padding. */
int sd_x5t256(const uint8_t *der, size_t der_len,
    char out[static SD_X5T_SIZE]) SD_WUR;

/*
 * The exchange key reply of a recovery-mode HSM (GET /securitydomain/upload):
 * {"key_format":"jwk","transfer_key":JWK} where JWK is a JSON object or a
 * string holding one, and x5c[0] (standard base64) is the exchange
 * certificate.  *cert_der is malloc'd.  When the JWK has "n" and "e" they
 * are returned (malloc'd, big-endian, base64url-decoded) so the caller can
 * check them against the certificate; otherwise both are NULL.
 */
int sd_transfer_key_parse(const char *json, size_t len, uint8_t **cert_der,
    size_t *cert_len, uint8_t **n, size_t *n_len, uint8_t **e_, size_t *e_len,
    struct sd_err *e) SD_WUR;

#endif
