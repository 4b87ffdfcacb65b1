/*
 * oaep_host.c - RSA-OAEP-256 unpadding on the host, for tokens that
 * decrypt only raw RSA (CKM_RSA_X_509): SoftHSM2 does OAEP with SHA-1
 * only, some PIV cards no OAEP at all.
 *
 * The check must not tell a caller (or a clock) which part of the
 * padding was wrong: that is Manger's attack, which turns such an
 * oracle into a decryption of any ciphertext.  OpenSSL's
 * RSA_padding_check_PKCS1_OAEP_mgf1 is written in constant time for
 * this reason (it is what OpenSSL's own RSA-OAEP decryption calls), so
 * it is used rather than anything written here.  It is deprecated in
 * OpenSSL 3 only in favour of the EVP interface, which cannot unpad a
 * result computed elsewhere; hence OPENSSL_SUPPRESS_DEPRECATED, in this
 * one small file.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <limits.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "../shares/ct.h"
#include "key_impl.h"

int
hw_oaep256_unpad(const uint8_t *em, size_t k, struct sd_secret **out,
    struct sd_err *e)
{
	uint8_t *to = NULL;
	int n, r = SD_ERR_INTERNAL;

	*out = NULL;
	if (em == NULL || k < 2 * 32 + 2 || k > INT_MAX)
		return sd_err_set(e, SD_ERR_AUTH,
		    "RSA-OAEP-256 decryption failed");
	if ((to = sodium_malloc(k)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	n = RSA_padding_check_PKCS1_OAEP_mgf1(to, (int)k, em, (int)k, (int)k,
	    NULL, 0, EVP_sha256(), EVP_sha256());
	ERR_clear_error();
	/* valid or not, and the length, are public; not why it failed */
	sd_ct_declassify(&n, sizeof(n));
	if (n < 0) {
		r = sd_err_set(e, SD_ERR_AUTH, "RSA-OAEP-256 decryption failed");
		goto out;
	}
	if ((*out = sd_secret_dup(to, (size_t)n)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	r = 0;
 out:
	sodium_free(to);
	return r;
}
