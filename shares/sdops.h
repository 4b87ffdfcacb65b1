/*
 * sdops.h - what one does with an SD file: open shares through a key,
 * recombine, authenticate and decrypt the data items, build a restore blob,
 * and (for the simulator and tests) build an SD file.
 *
 * Keys are reached only through struct sd_decryptor: the core asks "decrypt
 * this RSA-OAEP-256 ciphertext" and never sees private key bytes, so a
 * smartcard can stand behind it as well as a key file.
 */
#ifndef SD_SDOPS_H
#define SD_SDOPS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sd_err.h"
#include "sdfile.h"
#include "secret.h"

struct sd_decryptor {
	/* RSA-OAEP-256 decrypt in[in_len] into a new guarded buffer. */
	int (*oaep256_decrypt)(void *ctx, const uint8_t *in, size_t in_len,
	    struct sd_secret **out, struct sd_err *e);
	void *ctx;
};

/* A decryptor backed by an in-memory private key (sim, tests). */
void sd_decryptor_from_pkey(struct sd_decryptor *d, EVP_PKEY *priv);

/*
 * Open one encrypted share: unwrap its content key through dec, check the
 * JWE tag, decrypt, and check the result is a well-formed 64-byte share.
 * *x receives the share's position (1..126).  A key that is not the
 * share's recipient gives SD_ERR_AUTH.
 */
int sd_share_open(const struct sd_share_entry *ent,
    const struct sd_decryptor *dec, struct sd_secret **share, unsigned *x,
    struct sd_err *e) SD_WUR;

/*
 * Authenticate and decrypt every data item with content keys derived from
 * master (SD_SECRET_LEN bytes).  On success *pts is a calloc'd array of
 * d->n guarded plaintexts (free with sd_plaintexts_free).  Pass pts NULL to
 * authenticate only.  The error names the item: "EncData.data[1]
 * (base_enclave_backup): authentication failed".
 */
int sd_data_open(const struct sd_enc_data *d, const struct sd_secret *master,
    struct sd_secret ***pts, struct sd_err *e) SD_WUR;
void sd_plaintexts_free(struct sd_secret **pts, size_t n);

/*
 * Build a restore blob: a fresh 32-byte master key from rng, every
 * plaintext re-encrypted under a key derived from it with the source
 * item's tag, and the fresh key wrapped to the exchange key (RSA-OAEP-256,
 * A256CBC-HS512, kid "not used" as the service's own client writes).
 */
int sd_blob_build(const struct sd_enc_data *src, struct sd_secret *const *pts,
    EVP_PKEY *exchange_pub, const char *exchange_x5t256,
    const struct sd_rng *rng, struct sd_blob **out, struct sd_err *e) SD_WUR;

/*
 * Open a restore blob with the exchange private key: unwrap the master key,
 * then as sd_data_open().
 */
int sd_blob_open(const struct sd_blob *b, const struct sd_decryptor *dec,
    struct sd_secret ***pts, struct sd_err *e) SD_WUR;

struct sd_recipient {
	EVP_PKEY *pub;                     /* RSA public key of the certificate */
	char x5t_256[SD_X5T_SIZE];
};

/*
 * Build an SD file as the service would: split master (SD_SECRET_LEN bytes)
 * into n_rcpt shares, quorum required, share i encrypted to rcpt[i] with a
 * random UUID kid; data item i = tags[i] encrypted under the derived key.
 */
int sd_file_build(const struct sd_secret *master, const char *const *tags,
    struct sd_secret *const *pts, size_t n_data,
    const struct sd_recipient *rcpt, size_t n_rcpt, unsigned required,
    const struct sd_rng *rng, struct sd_file **out, struct sd_err *e) SD_WUR;

#endif
