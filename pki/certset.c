/*
 * certset.c - the officers' certificate set, checked as the service checks
 * it before activation (see cert.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"

int
pki_certset_check(X509 *const *certs, size_t n, unsigned quorum, size_t *bad,
    size_t *other, struct sd_err *e)
{
	char (*x5t)[SD_X5T_SIZE] = NULL;
	unsigned char *der = NULL;
	EVP_PKEY *pub;
	size_t i, j;
	int len, r = SD_ERR_INTERNAL;

	*bad = *other = n;
	if (n < PKI_SD_MIN_CERTS || n > PKI_SD_MAX_CERTS)
		return sd_err_set(e, SD_ERR_RANGE, "%zu certificates given; the "
		    "service takes %d to %d", n, PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
	if (quorum < PKI_SD_MIN_QUORUM || quorum > n)
		return sd_err_set(e, SD_ERR_RANGE, "quorum %u is out of range: "
		    "the service takes %d up to the number of certificates "
		    "(%zu)", quorum, PKI_SD_MIN_QUORUM, n);
	if ((x5t = calloc(n, sizeof(*x5t))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	for (i = 0; i < n; i++) {
		*bad = i;
		if ((pub = X509_get0_pubkey(certs[i])) == NULL) {
			r = sd_err_set(e, SD_ERR_KEY, "the certificate's public "
			    "key cannot be read");
			goto out;
		}
		if (!EVP_PKEY_is_a(pub, "RSA") ||
		    EVP_PKEY_get_bits(pub) < PKI_MIN_RSA_BITS) {
			r = sd_err_set(e, SD_ERR_KEY, "the service takes only RSA "
			    "keys of %d bits or more (this is %s-%d)",
			    PKI_MIN_RSA_BITS, EVP_PKEY_get0_type_name(pub),
			    EVP_PKEY_get_bits(pub));
			goto out;
		}
		if ((len = i2d_X509(certs[i], &der)) <= 0 ||
		    sd_x5t256(der, (size_t)len, x5t[i]) != 0) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "cannot encode the "
			    "certificate");
			goto out;
		}
		OPENSSL_free(der);
		der = NULL;
		for (j = 0; j < i; j++)
			if (strcmp(x5t[i], x5t[j]) == 0) {
				/* two shares to one key would defeat the quorum */
				*other = j;
				r = sd_err_set(e, SD_ERR_ARG, "the same certificate "
				    "given twice; each officer needs their own");
				goto out;
			}
	}
	*bad = n;
	r = 0;
 out:
	ERR_clear_error();
	OPENSSL_free(der);
	free(x5t);
	return r;
}
