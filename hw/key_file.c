/*
 * key_file.c - the file backend: wrapping keys held in files (PEM or DER,
 * PKCS#1 or PKCS#8, plain or passphrase-encrypted).
 *
 * The private key is an EVP_PKEY: OpenSSL keeps its components in its own
 * memory and clears them when the key is freed.  What passes through our
 * hands on the way there (the file's bytes, the passphrase) sits in
 * sodium_malloc'd memory and is wiped as soon as the key is decoded
 * (key_decode.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "key_impl.h"
#include "../shares/jwe.h"

static int
file_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	return rsa_oaep256_decrypt(k->backend, in, in_len, out, e);
}

static void
file_free(struct hw_key *k)
{
	/* Clears the RSA private components. */
	EVP_PKEY_free(k->backend);
	k->backend = NULL;
}

static EVP_PKEY *
file_pkey(const struct hw_key *k)
{
	return k->backend;
}

static const struct hw_key_ops file_ops = {
	.name = "file", .decrypt = file_decrypt, .free = file_free,
	.pkey = file_pkey
};

int
hw_key_open_file(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, struct hw_key **out, struct sd_err *e)
{
	struct hw_key *k = NULL;
	EVP_PKEY *pkey = NULL;
	int r = SD_ERR_INTERNAL, encrypted = 0;

	*out = NULL;
	if ((r = hw_decode_rsa_key(ref, buf, len, opts, &pkey, &encrypted,
	    e)) != 0)
		goto out;
	if ((r = hw_key_new(ref, &file_ops, &k, e)) != 0)
		goto out;
	k->backend = pkey;
	pkey = NULL;
	k->bits = EVP_PKEY_get_bits(k->backend);
	if (encrypted)
		k->flags |= HW_KEY_ENCRYPTED;
	if ((r = hw_key_attach_cert(k, k->backend, opts, e)) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
 out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	hw_key_free(k);
	return r;
}
