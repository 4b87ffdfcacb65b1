/*
 * key_ykey.c - YubiKey-wrapped key files (.ykey, made by `sdtool yk
 * wrap`) as key references.
 *
 * Opening one asks the YubiKey (and the passphrase, if the file has
 * one) once, checks the key against its certificate, and then lets the
 * private key go: what is kept is the derived file key K, in guarded
 * memory made inaccessible between uses.  Each decryption unwraps the
 * private key into guarded memory, uses it, and frees it, so the key
 * itself exists only for the length of one RSA decryption.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <sodium.h>

#include "key_impl.h"
#include "ykey.h"
#include "../shares/jwe.h"

struct ykkey {
	struct ykey *y;
	uint8_t *k;                 /* guarded, YKEY_KEY_LEN; no access */
	                            /* between uses */
};

/* The private key, for one use: free it with EVP_PKEY_free at once. */
static int
unwrap(struct hw_key *k, EVP_PKEY **pkey, struct sd_err *e)
{
	struct ykkey *yk = k->backend;
	struct sd_secret *p8 = NULL;
	int r, enc = 0;

	*pkey = NULL;
	if (sodium_mprotect_readonly(yk->k) != 0)
		return sd_err_set(e, SD_ERR_ALLOC, "cannot unprotect the key "
		    "in locked memory");
	r = ykey_decrypt(yk->y, yk->k, &p8, e);
	(void)sodium_mprotect_noaccess(yk->k);
	if (r != 0)
		return r;
	r = hw_decode_rsa_key(k->ref, (const char *)p8->p, p8->len, NULL, pkey,
	    &enc, e);
	sd_secret_free(p8);
	return r;
}

static int
ykkey_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	EVP_PKEY *pkey = NULL;
	int r;

	if ((r = unwrap(k, &pkey, e)) != 0)
		return r == SD_ERR_AUTH ? SD_ERR_KEY : r;
	r = rsa_oaep256_decrypt(pkey, in, in_len, out, e);
	/* OpenSSL clears the key's components as it frees them */
	EVP_PKEY_free(pkey);
	return r;
}

static void
ykkey_free(struct hw_key *k)
{
	struct ykkey *yk = k->backend;

	if (yk == NULL)
		return;
	ykey_free(yk->y);
	sodium_free(yk->k);   /* wipes; works whatever the protection */
	free(yk);
	k->backend = NULL;
}

static const struct hw_key_ops ykey_ops = {
	.name = "ykey", .decrypt = ykkey_decrypt, .free = ykkey_free
};

int
hw_ykey_sniff(const char *buf, size_t len)
{
	return ykey_sniff(buf, len);
}

int
hw_key_open_ykey(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, struct hw_key **out, struct sd_err *e)
{
	struct yk_open_opts yo;
	struct ykkey *yk = NULL;
	struct hw_key *k = NULL;
	struct yk_dev *dev = NULL;
	EVP_PKEY *pkey = NULL;
	char *pass = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((r = hw_key_new(ref, &ykey_ops, &k, e)) != 0)
		goto out;
	if ((yk = calloc(1, sizeof(*yk))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	k->backend = yk;
	k->flags |= HW_KEY_YKEY;
	if ((r = ykey_parse(buf, len, &yk->y, e)) != 0) {
		sd_err_prefix(e, r, "%s", ref);
		r = SD_ERR_KEY;
		goto out;
	}
	if (yk->y->software)
		k->flags |= HW_KEY_TEST_DEVICE;
	if ((yk->k = sodium_malloc(YKEY_KEY_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if (yk->y->has_passphrase) {
		k->flags |= HW_KEY_ENCRYPTED;
		if (opts == NULL || opts->passphrase == NULL) {
			r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: key is "
			    "encrypted and no passphrase was given", ref);
			goto out;
		}
		if ((pass = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
			goto out;
		}
		sodium_memzero(pass, HW_MAX_PASSPHRASE);
		if ((r = opts->passphrase(opts->passphrase_ctx, ref, pass,
		    HW_MAX_PASSPHRASE)) != 0) {
			r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: key is "
			    "encrypted and no passphrase was given", ref);
			goto out;
		}
	}
	memset(&yo, 0, sizeof(yo));
	yo.software = opts != NULL ? opts->yk_software : NULL;
	yo.serial = yk->y->serial;
	yo.notify = opts != NULL ? opts->pin : NULL;
	yo.notify_ctx = opts != NULL ? opts->pin_ctx : NULL;
	if ((r = ykey_check_kind(yk->y, yo.software != NULL, e)) != 0 ||
	    (r = yk_open(&yo, &dev, e)) != 0 ||
	    (r = ykey_derive(yk->y, dev, pass, yk->k, e)) != 0) {
		sd_err_prefix(e, r, "%s", ref);
		goto out;
	}
	(void)sodium_mprotect_noaccess(yk->k);
	/* Unwrap once now: a wrong passphrase or YubiKey is told here. */
	if ((r = unwrap(k, &pkey, e)) != 0) {
		sd_err_prefix(e, r, "%s", ref);
		if (r == SD_ERR_AUTH)
			r = yk->y->has_passphrase ? SD_ERR_PASSPHRASE :
			    SD_ERR_KEY;
		goto out;
	}
	k->bits = EVP_PKEY_get_bits(pkey);
	if ((r = hw_key_attach_cert(k, pkey, opts, e)) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
 out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	yk_close(dev);
	sodium_free(pass);
	hw_key_free(k);
	return r;
}

int
hw_ykey_wrap(const struct hw_key *k, const struct yk_open_opts *yo, int slot,
    const char *passphrase, const struct sd_rng *rng, char **json,
    unsigned *serial, int *software, struct sd_err *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	struct yk_dev *dev = NULL;
	EVP_PKEY *pkey;
	uint8_t *der = NULL, *q;
	int n = 0, r = SD_ERR_INTERNAL;

	*json = NULL;
	if ((pkey = hw_key_pkey(k)) == NULL)
		return sd_err_set(e, SD_ERR_ARG, "%s: only a key file can be "
		    "wrapped", hw_key_ref(k));
	/* PKCS#8 DER, written straight into guarded memory */
	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0 ||
	    (der = sodium_malloc((size_t)n)) == NULL) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "%s: cannot encode the key",
		    hw_key_ref(k));
		goto out;
	}
	q = der;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &q) != n) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "%s: cannot encode the key",
		    hw_key_ref(k));
		goto out;
	}
	if ((r = yk_open(yo, &dev, e)) != 0 ||
	    (r = ykey_wrap(der, (size_t)n, dev, slot, passphrase,
	    hw_key_x5t256(k), rng, json, e)) != 0)
		goto out;
	*serial = yk_serial(dev);
	*software = yk_kind(dev) == YK_SOFTWARE;
	r = 0;
 out:
	ERR_clear_error();
	yk_close(dev);
	sodium_free(der);
	/* its free clears the key octets */
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

int
hw_ykey_unwrap(const char *path, const struct hw_open_opts *opts,
    EVP_PKEY **out, struct sd_err *e)
{
	struct hw_key *k = NULL;
	int r;

	*out = NULL;
	if ((r = hw_key_open(path, opts, &k, e)) != 0)
		return r;
	if (k->ops != &ykey_ops) {
		hw_key_free(k);
		return sd_err_set(e, SD_ERR_KEY, "%s: not a YubiKey-wrapped key "
		    "file", path);
	}
	if ((r = unwrap(k, out, e)) != 0 && r == SD_ERR_AUTH)
		r = SD_ERR_KEY;
	hw_key_free(k);
	return r;
}
