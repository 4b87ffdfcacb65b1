/*
 * key_decode.c - decoding a private key from bytes, asking for its
 * passphrase when it is encrypted: for key files and for the keys inside
 * YubiKey-wrapped files.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "key_impl.h"

/*
 * Passphrases.  OpenSSL asks through this callback; we ask the caller's
 * hw_passphrase_fn into guarded memory, hand OpenSSL a copy (its decoder
 * keeps it in a cache it clears when freed) and wipe ours at once.  What
 * happened is recorded so that a failed decode can be explained: asked
 * and given means the passphrase was wrong.
 */
struct pw_state {
	const struct hw_open_opts *opts;
	const char *ref;
	int asked;        /* OpenSSL needed a passphrase */
	int given;        /* and the caller supplied one */
	int cb_error;     /* the caller's callback failed with this */
	int too_long;     /* longer than OpenSSL's buffer */
	char *cache;      /* the passphrase, guarded, for a second decode */
};

static int
pw_cb(char *pass, size_t pass_size, size_t *pass_len,
    const OSSL_PARAM params[], void *arg)
{
	struct pw_state *st = arg;
	char *buf = NULL;
	size_t len;
	int r, ok = 0;

	(void)params;
	st->asked++;
	if (st->cache != NULL) {
		/* the second decode of decode_key(): do not ask again */
		if ((len = strlen(st->cache)) > pass_size)
			return 0;
		memcpy(pass, st->cache, len);
		*pass_len = len;
		st->given++;
		return 1;
	}
	if (st->opts == NULL || st->opts->passphrase == NULL)
		return 0;
	if ((buf = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
		st->cb_error = SD_ERR_ALLOC;
		return 0;
	}
	sodium_memzero(buf, HW_MAX_PASSPHRASE);
	if ((r = st->opts->passphrase(st->opts->passphrase_ctx, st->ref, buf,
	    HW_MAX_PASSPHRASE)) != 0) {
		st->cb_error = r < 0 ? r : SD_ERR_PASSPHRASE;
		goto out;
	}
	if ((len = strnlen(buf, HW_MAX_PASSPHRASE)) == HW_MAX_PASSPHRASE ||
	    len > pass_size) {
		st->too_long = 1;
		goto out;
	}
	memcpy(pass, buf, len);
	*pass_len = len;
	st->given++;
	st->cache = buf;
	buf = NULL;
	ok = 1;
 out:
	sodium_free(buf);
	return ok;
}

/* Does buf hold a certificate?  Only to explain a failure better. */
static int
looks_like_cert(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	BIO *bio;
	X509 *x = NULL;

	if (len > INT_MAX)
		return 0;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (x == NULL)
		x = d2i_X509(NULL, &p, (long)len);
	X509_free(x);
	ERR_clear_error();
	return x != NULL;
}

/* One decoding attempt: keytype "RSA" or NULL for any.  0 or -1. */
static int
decode_as(const char *buf, size_t len, const char *keytype,
    struct pw_state *st, EVP_PKEY **pkey)
{
	OSSL_DECODER_CTX *dctx;
	const unsigned char *p = (const unsigned char *)buf;
	size_t left = len;
	int ok;

	*pkey = NULL;
	if ((dctx = OSSL_DECODER_CTX_new_for_pkey(pkey, NULL, NULL, keytype,
	    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL)) == NULL)
		return -1;
	ok = OSSL_DECODER_CTX_set_passphrase_cb(dctx, pw_cb, st) == 1 &&
	    OSSL_DECODER_from_data(dctx, &p, &left) == 1 && *pkey != NULL;
	OSSL_DECODER_CTX_free(dctx);
	if (!ok) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
	}
	return ok ? 0 : -1;
}

/*
 * Decode a private key of any form OpenSSL knows (input type NULL: PEM,
 * DER, PKCS#1, PKCS#8, EncryptedPrivateKeyInfo) and explain a failure.
 * Decoders for RSA alone are tried first: gathering every key type's
 * costs more than the rest of a restore-blob run.  Only if that fails is
 * any type tried (with the passphrase already given), so that a non-RSA
 * key is named as such rather than taken for a wrong passphrase.
 */
static int
decode_key(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, EVP_PKEY **out, int *encrypted,
    struct sd_err *e)
{
	struct pw_state st = { opts, ref, 0, 0, 0, 0, NULL };
	EVP_PKEY *pkey = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*encrypted = 0;
	if (decode_as(buf, len, "RSA", &st, &pkey) == 0 ||
	    (!st.too_long && st.cb_error == 0 &&
	    decode_as(buf, len, NULL, &st, &pkey) == 0)) {
		*out = pkey;
		pkey = NULL;
		*encrypted = st.given > 0;
		r = 0;
		goto out;
	}
	if (st.too_long)
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: passphrase longer "
		    "than OpenSSL accepts", ref);
	else if (st.cb_error == SD_ERR_PASSPHRASE ||
	    (st.asked && (opts == NULL || opts->passphrase == NULL)))
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: key is encrypted and "
		    "no passphrase was given", ref);
	else if (st.cb_error != 0)
		r = sd_err_set(e, st.cb_error, "%s: asking for the passphrase "
		    "failed: %s", ref, sd_strerror(st.cb_error));
	else if (st.given)
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: wrong passphrase", ref);
	else if (looks_like_cert(buf, len))
		r = sd_err_set(e, SD_ERR_KEY, "%s: not a private key (PEM or "
		    "DER, PKCS#1 or PKCS#8): it is a certificate", ref);
	else
		r = sd_err_set(e, SD_ERR_KEY, "%s: not a private key (PEM or "
		    "DER, PKCS#1 or PKCS#8)", ref);
 out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	sodium_free(st.cache);
	return r;
}

int
hw_decode_rsa_key(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, EVP_PKEY **out, int *encrypted,
    struct sd_err *e)
{
	EVP_PKEY *pkey = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((r = decode_key(ref, buf, len, opts, &pkey, encrypted, e)) != 0)
		goto out;
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: not an RSA key (%s); only "
		    "RSA keys can be used", ref, EVP_PKEY_get0_type_name(pkey));
		goto out;
	}
	if (EVP_PKEY_get_bits(pkey) < PKI_MIN_RSA_BITS) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: RSA-%d key; at least %d bits "
		    "are required", ref, EVP_PKEY_get_bits(pkey),
		    PKI_MIN_RSA_BITS);
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
 out:
	EVP_PKEY_free(pkey);
	return r;
}
