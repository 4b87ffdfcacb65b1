/*
 * key_impl.h - what the backends of hw/key.h share, private to hw/.
 *
 * A key is one struct hw_key whatever holds it: the common fields
 * (reference, certificate, thumbprint, flags) and an ops table with the
 * one thing a backend does, decrypt.  key.c holds the common functions
 * and the dispatch; key_file.c is the file backend, key_pkcs11.c keys on
 * PKCS#11 tokens, key_ykey.c YubiKey-wrapped key files; key_decode.c
 * decodes private keys for the first and the last.
 */
#ifndef SD_HW_KEY_IMPL_H
#define SD_HW_KEY_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "key.h"


struct hw_key;

/* What a backend does; everything else about a key is common. */
struct hw_key_ops {
	const char *name;
	int (*decrypt)(struct hw_key *k, const uint8_t *in, size_t in_len,
	    struct sd_secret **out, struct sd_err *e);
	/* Release the backend's state (not the common fields). */
	void (*free)(struct hw_key *k);
	/* The private key when this process holds it (key files), or NULL. */
	EVP_PKEY *(*pkey)(const struct hw_key *k);
};

struct hw_key {
	const struct hw_key_ops *ops;
	void *backend;                 /* file backend: the EVP_PKEY */
	char *ref;
	X509 *cert;                    /* NULL when HW_KEY_NO_CERT */
	char *cert_path;
	char x5t[SD_X5T_SIZE];      /* "" when there is no certificate */
	unsigned flags;                /* HW_KEY_* */
	int bits;
};

/* A new key named ref with the given ops and no backend state yet. */
int hw_key_new(const char *ref, const struct hw_key_ops *ops,
    struct hw_key **out, struct sd_err *e) SD_WUR;

/*
 * Attach the certificate of opts->cert_path, or else the one beside
 * k->ref (its stem + ".cer"), if it exists; it must hold the public key
 * of pub.  With neither, HW_KEY_NO_CERT.
 */
int hw_key_attach_cert(struct hw_key *k, EVP_PKEY *pub,
    const struct hw_open_opts *opts, struct sd_err *e) SD_WUR;

/*
 * Attach cert (taken over, also on failure), found at `where` (a path or
 * a description, for messages), after checking it holds pub's public key
 * when pub is not NULL.
 */
int hw_key_set_cert(struct hw_key *k, X509 *cert, const char *where,
    EVP_PKEY *pub, struct sd_err *e) SD_WUR;

/*
 * Decode a private key (PEM or DER, PKCS#1 or PKCS#8, encrypted PKCS#8
 * asking opts->passphrase for ref) from buf; *encrypted tells whether a
 * passphrase opened it.  RSA keys of PKI_MIN_RSA_BITS or more only.
 */
int hw_decode_rsa_key(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, EVP_PKEY **out, int *encrypted,
    struct sd_err *e) SD_WUR;

/*
 * The file backend (key_file.c): a key file's bytes, read by hw_key_open,
 * decoded (asking for the passphrase) with the certificate beside it.
 */
int hw_key_open_file(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, struct hw_key **out, struct sd_err *e)
	SD_WUR;

/*
 * Check and remove RSA-OAEP padding (SHA-256, MGF1-SHA-256, empty label)
 * from em, the k-byte result of a raw RSA decryption, in constant time
 * (hw/oaep_host.c).  Any failure is SD_ERR_AUTH, without saying which
 * check failed.  The message goes to a new guarded buffer.
 */
int hw_oaep256_unpad(const uint8_t *em, size_t k, struct sd_secret **out,
    struct sd_err *e) SD_WUR;

/* Backends other than files, dispatched to by hw_key_open(). */
int hw_key_open_pkcs11(const char *ref, const struct hw_open_opts *opts,
    struct hw_key **out, struct sd_err *e) SD_WUR;
/* buf (len bytes, guarded) is the file's content; see hw_ykey_sniff. */
int hw_key_open_ykey(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, struct hw_key **out, struct sd_err *e)
	SD_WUR;
/* Does a key file's content look like a YubiKey-wrapped key? */
int hw_ykey_sniff(const char *buf, size_t len);

#endif
