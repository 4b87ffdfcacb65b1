/*
 * backup.h - what is inside an SD file's data items, and the Managed HSM's
 * key backups they protect.
 *
 * Decrypted, the data items base_enclave_backup and partition_enclave_backup
 * are BSON documents (hsm_backup is opaque).  partition_enclave_backup holds
 *   backup_protection_key {k: base64url(64 bytes), kid: "backup-protection-key",
 *                          kty: "oct"}
 * and base_enclave_backup holds sdid ("1:M-HSM:<uuid>:<hex>", the security
 * domain's identity) and pool_protection_key {k, kid, kty}.
 *
 * A key backup (POST /keys/{name}/backup replies {"value": V};
 * `az keyvault key backup --file F` writes base64url-decoded V) is the
 * compact JWE {"alg":"dir","enc":"A256CBC-HS512","kid":"backup-protection-key"}
 * under backup_protection_key.k, whose plaintext is BSON: version 1,
 * tenant_id, host_address (the backup request's URL), timestamp,
 * correlation_id, unversioned_bundle and key_versions[], each with kid, kty,
 * n and e (RSA) or crv, x and y (EC), key_ops, created, updated, exportable,
 * and masked_objects: the private key material.
 *
 * Nothing here ever copies a key value out of a data item except the backup
 * protection key (into guarded memory), and nothing of masked_objects is
 * ever copied anywhere: the decrypted backup stays in guarded memory, read
 * in place, and is wiped when freed.  BSON is read with libbson, after
 * bson_validate(), through its bounded iterators only.
 */
#ifndef SD_BACKUP_H
#define SD_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sd_err.h"
#include "sdfile.h"
#include "secret.h"

#define SD_BPK_LEN          64   /* backup protection key: A256CBC-HS512 */
#define SD_BPK_KID          "backup-protection-key"
#define SD_BPK_ITEM         "partition_enclave_backup"
#define SD_SDID_ITEM        "base_enclave_backup"
#define SD_KEY_BACKUP_MAX   (16u << 20)  /* largest key backup file read */
#define SD_KB_MAX_VERSIONS  1024

/* A key held in a data item: where, and its names, never its value. */
struct sd_item_key {
	char *field;    /* e.g. "backup_protection_key" */
	char *kid;      /* e.g. "backup-protection-key" */
	char *kty;      /* e.g. "oct" */
};

struct sd_item_info {
	char *tag;              /* the data item's tag */
	size_t len;             /* plaintext size */
	int is_bson;            /* 0: opaque (hsm_backup) */
	size_t n_fields;
	char **fields;          /* top-level field names, in order */
	size_t n_keys;
	struct sd_item_key *keys;
};

struct sd_identity {
	char *sdid;             /* NULL when no data item carries one */
	size_t n;
	struct sd_item_info *items;
};

/*
 * Describe decrypted data items d->items[i] / pts[i]: which are BSON, their
 * field names, the keys they hold (any sub-document with string kid and
 * kty: names only) and the sdid.  A data item that is not BSON is
 * described as opaque, not refused.
 */
int sd_identity_read(const struct sd_enc_data *d, struct sd_secret *const *pts,
    struct sd_identity **out, struct sd_err *e) SD_WUR;
void sd_identity_free(struct sd_identity *id);

/*
 * The backup protection key of decrypted data items: 64 bytes into a new
 * guarded buffer.  SD_ERR_FORMAT naming the field when the item or key is
 * missing or malformed.
 */
int sd_backup_key_get(const struct sd_enc_data *d, struct sd_secret *const *pts,
    struct sd_secret **bpk, struct sd_err *e) SD_WUR;

/*
 * The 64-byte k of sub-document `field` ({k, kid, kty "oct"}) of the
 * decrypted data item `tag`, into a new guarded buffer (the simulator's
 * pool protection key).
 */
int sd_item_key_get(const struct sd_enc_data *d, struct sd_secret *const *pts,
    const char *tag, const char *field, struct sd_secret **key,
    struct sd_err *e) SD_WUR;

/* One key version of a backup; every string malloc'd, never secret. */
struct sd_kb_version {
	char *kid;              /* https://HOST/keys/NAME/VERSION */
	char *name;             /* NAME from kid (NULL if kid has no such form) */
	char *version_id;       /* VERSION from kid */
	char *kty;              /* "RSA-HSM", "EC-HSM", "oct-HSM", ... */
	char *crv;              /* EC only */
	char *n, *e;            /* RSA public members, base64url (public) */
	unsigned bits;          /* RSA modulus / EC field size; 0 unknown */
	char pub_sha256[65];    /* hex SHA-256 of the DER SubjectPublicKeyInfo; "" if none */
	int has_created, has_updated;
	time_t created, updated;
	int exportable;         /* -1 when absent */
};

struct sd_key_backup {
	int64_t version;        /* backup format version (1) */
	char *tenant_id;
	char *host_address;     /* the backup request's URL as recorded inside */
	char *host;             /* its host part */
	int has_timestamp;
	time_t timestamp;
	char *correlation_id;
	size_t n_versions;
	struct sd_kb_version *versions;  /* key_versions[] */
	struct sd_kb_version current;    /* unversioned_bundle */
};

/*
 * Extract the compact JWE from a key backup file: the raw bytes `az
 * keyvault key backup` writes (trailing whitespace tolerated), or the REST
 * body {"value": base64url}.  *jwe is malloc'd and NUL-terminated.
 * SD_ERR_FORMAT with "not a key backup: ..." when the file is something
 * else (an SD file, a restore blob, other JSON, other JWE), and
 * "damaged: ..." when it is a key backup's shape but malformed.
 */
int sd_key_backup_unwrap(const uint8_t *file, size_t len, char **jwe,
    size_t *jwe_len, struct sd_err *e) SD_WUR;

/*
 * Open a key backup file with a backup protection key: unwrap, check the
 * tag (SD_ERR_AUTH "does not open with this security domain's backup
 * protection key" when the key is not the one, or the ciphertext altered),
 * decrypt into guarded memory, validate the BSON and fill *out (free with
 * sd_key_backup_free).  masked_objects is never read.
 */
int sd_key_backup_open(const uint8_t *file, size_t len,
    const struct sd_secret *bpk, struct sd_key_backup **out,
    struct sd_err *e) SD_WUR;
void sd_key_backup_free(struct sd_key_backup *kb);

/*
 * hex SHA-256 of the DER SubjectPublicKeyInfo of a public JWK's members
 * (base64url strings): RSA n and e, or EC crv ("P-256", "P-384", "P-521",
 * "P-256K"), x and y.  *bits receives the key size.  SD_ERR_UNSUPPORTED
 * for other key types.
 */
int sd_jwk_pub_sha256(const char *kty, const char *n, const char *e_,
    const char *crv, const char *x, const char *y, char hex[static 65],
    unsigned *bits, struct sd_err *e) SD_WUR;

/*
 * For the simulator and tests: the BSON of a base_enclave_backup and a
 * partition_enclave_backup as the service makes them, with fresh random
 * keys (64 bytes each) and filler of realistic size, into new guarded
 * buffers.  sdid is "1:M-HSM:<uuid>:<6 hex>" with a random uuid.
 */
int sd_items_build(const struct sd_rng *rng, struct sd_secret **base_enclave,
    struct sd_secret **partition_enclave, struct sd_err *e) SD_WUR;

/* What a key backup says of its key, for sd_key_backup_seal. */
struct sd_kb_input {
	const char *tenant_id;
	const char *host_address;
	const char *correlation_id;
	time_t timestamp;
	const char *kid;               /* https://HOST/keys/NAME/VERSION */
	const char *kty;               /* "RSA-HSM" */
	const char *n, *e;             /* base64url */
	const char *const *key_ops;
	size_t n_key_ops;
	time_t created, updated;
	const char *masked;            /* masked_objects[0]: the private part,
	                                  already masked by the HSM */
};

/*
 * Build a key backup as the service does: BSON as described above (one key
 * version, the same as unversioned_bundle), encrypted under bpk with kid
 * "backup-protection-key".  *compact is malloc'd: the raw file's bytes.
 */
int sd_key_backup_seal(const struct sd_kb_input *in,
    const struct sd_secret *bpk, const struct sd_rng *rng, char **compact,
    struct sd_err *e) SD_WUR;

/*
 * Open a key backup and hand back, besides the report, the masked private
 * part of its current version (masked_objects[0], into guarded memory): for
 * the simulator's restore only, which unmasks it with its own pool key.
 * Same errors as sd_key_backup_open.
 */
int sd_key_backup_masked(const uint8_t *file, size_t len,
    const struct sd_secret *bpk, struct sd_key_backup **kb,
    struct sd_secret **masked, struct sd_err *e) SD_WUR;

#endif
