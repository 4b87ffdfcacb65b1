/*
 * kdf.c - SP 800-108 counter-mode KDF (HMAC-SHA-512) through OpenSSL's
 * KBKDF provider.  OpenSSL's defaults (32-bit counter, a 0x00 separator
 * and a 32-bit [L] suffix) are exactly the layout the service uses.
 */
#include <stdint.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "kdf.h"

int
sd_kdf_sp800_108(const uint8_t *key, size_t key_len,
    const uint8_t *label, size_t label_len,
    const uint8_t *context, size_t context_len,
    uint8_t *out, size_t out_len, struct sd_err *e)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7], *p = params;
	int r = SD_ERR_INTERNAL;

	if (key == NULL || key_len == 0 || out == NULL || out_len == 0 ||
	    (label == NULL && label_len != 0) ||
	    (context == NULL && context_len != 0))
		return sd_err_set(e, SD_ERR_ARG, "invalid KDF arguments");
	/* [L]_32 is the output length in bits */
	if (out_len > UINT32_MAX / 8)
		return sd_err_set(e, SD_ERR_LIMIT, "KDF output too long");

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE,
	    "counter", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    "SHA512", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)key, key_len);
	/* empty label or context: leave the parameter out, same bytes */
	if (label_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)label, label_len);
	if (context_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)context, context_len);
	*p = OSSL_PARAM_construct_end();

	if ((kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "KBKDF unavailable");
		goto out;
	}
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "KBKDF derivation failed");
		goto out;
	}
	r = 0;
 out:
	if (r != 0) {
		OPENSSL_cleanse(out, out_len);
		ERR_clear_error();
	}
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}
