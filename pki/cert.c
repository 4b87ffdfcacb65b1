/*
 * cert.c - certificates and exchange keys (see cert.h).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert.h"
#include "../sys/file.h"


/* First byte that is not white space, or '\0'. */
static int
first_nonspace(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' &&
		    buf[i] != '\n')
			return (unsigned char)buf[i];
	return 0;
}

/*
 * A certificate from bytes: PEM if the text has a BEGIN line, otherwise
 * DER, which must fill the buffer exactly (trailing bytes mean it is
 * something else that merely starts like a certificate).
 */
X509 *
pki_cert_from_buf(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	BIO *bio;
	X509 *x = NULL;

	if (len == 0 || len > INT_MAX)
		return NULL;
	if (memmem(buf, len, "-----BEGIN", 10) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
			return NULL;
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		return x;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL &&
	    p != (const unsigned char *)buf + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}


void
pki_sha256_hex(const void *p, size_t len, char hex[static 65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[32];
	size_t i;

	EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int
pki_cert_sha256_colon(X509 *cert, char out[static 96])
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return SD_ERR_CRYPTO;
	for (i = 0; i < n; i++) {
		out[3 * i] = digits[md[i] >> 4];
		out[3 * i + 1] = digits[md[i] & 15];
		out[3 * i + 2] = i + 1 < n ? ':' : '\0';
	}
	return 0;
}

int
pki_cert_x5t256(X509 *cert, char out[static SD_X5T_SIZE])
{
	unsigned char *der = NULL;
	int len, r;

	out[0] = '\0';
	if (cert == NULL)
		return SD_ERR_ARG;
	if ((len = i2d_X509(cert, &der)) <= 0)
		return SD_ERR_CRYPTO;
	r = sd_x5t256(der, (size_t)len, out);
	OPENSSL_free(der);
	return r;
}

/* An RSA public key of PKI_MIN_RSA_BITS or more, or SD_ERR_KEY. */
static int
check_rsa_pub(X509 *cert, const char *path, struct sd_err *e)
{
	EVP_PKEY *pub;

	if ((pub = X509_get0_pubkey(cert)) == NULL)
		return sd_err_set(e, SD_ERR_KEY, "%s: the certificate's public "
		    "key cannot be read", path);
	if (!EVP_PKEY_is_a(pub, "RSA"))
		return sd_err_set(e, SD_ERR_KEY, "%s: the certificate holds a "
		    "%s key; an RSA key is required", path,
		    EVP_PKEY_get0_type_name(pub));
	if (EVP_PKEY_get_bits(pub) < PKI_MIN_RSA_BITS)
		return sd_err_set(e, SD_ERR_KEY, "%s: the certificate's key is "
		    "RSA-%d; at least %d bits are required", path,
		    EVP_PKEY_get_bits(pub), PKI_MIN_RSA_BITS);
	return 0;
}

/* Does the big-endian integer b[len] equal the key's parameter `name`? */
static int
bn_param_equals(EVP_PKEY *pub, const char *name, const uint8_t *b,
    size_t len, int *equal)
{
	BIGNUM *have = NULL, *want = NULL;
	int r = SD_ERR_CRYPTO;

	*equal = 0;
	if (len > INT_MAX)
		return SD_ERR_RANGE;
	if (EVP_PKEY_get_bn_param(pub, name, &have) != 1 ||
	    (want = BN_bin2bn(b, (int)len, NULL)) == NULL)
		goto out;
	*equal = BN_cmp(have, want) == 0;
	r = 0;
 out:
	BN_free(have);
	BN_free(want);
	return r;
}

/*
 * The transfer-key reply.  Its JWK's n and e describe the key the HSM will
 * decrypt with; the certificate is what we encrypt to.  Were they to
 * differ, the blob would be made for a key nobody has, so say so now.
 */
int
pki_exchange_cert_parse(const char *path, const char *buf, size_t len,
    X509 **out, struct sd_err *e)
{
	uint8_t *der = NULL, *n = NULL, *ex = NULL;
	size_t der_len = 0, n_len = 0, e_len = 0;
	const unsigned char *p;
	X509 *x = NULL;
	int r = SD_ERR_INTERNAL, eq_n, eq_e;

	*out = NULL;
	if ((r = sd_transfer_key_parse(buf, len, &der, &der_len, &n, &n_len,
	    &ex, &e_len, e)) != 0) {
		sd_err_prefix(e, r, "%s", path);
		goto out;
	}
	p = der;
	if (der_len == 0 || der_len > LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)der_len)) == NULL ||
	    p != der + der_len) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: the transfer key's x5c[0] is "
		    "not a DER X.509 certificate", path);
		goto out;
	}
	if ((r = check_rsa_pub(x, path, e)) != 0)
		goto out;
	if (n != NULL && ex != NULL) {
		if ((r = bn_param_equals(X509_get0_pubkey(x),
		    OSSL_PKEY_PARAM_RSA_N, n, n_len, &eq_n)) != 0 ||
		    (r = bn_param_equals(X509_get0_pubkey(x),
		    OSSL_PKEY_PARAM_RSA_E, ex, e_len, &eq_e)) != 0) {
			r = sd_err_set(e, r, "%s: cannot compare the transfer "
			    "key with its certificate", path);
			goto out;
		}
		if (!eq_n || !eq_e) {
			r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "%s: transfer "
			    "key's n/e do not match its certificate", path);
			goto out;
		}
	}
	*out = x;
	x = NULL;
	r = 0;
 out:
	ERR_clear_error();
	X509_free(x);
	free(der);
	free(n);
	free(ex);
	return r;
}

/*
 * A certificate file; with exchange set, also the HSM's transfer-key reply
 * (JSON), and the key must be one the service can use.
 */
static int
cert_load(const char *path, int exchange, X509 **out, struct sd_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	X509 *x = NULL;
	int r = SD_ERR_INTERNAL;

	if (out == NULL)
		return sd_err_set(e, SD_ERR_ARG, "cert_load: no output");
	*out = NULL;
	if ((r = sys_read_file(path, PKI_MAX_CERT_FILE, &buf, &len, e)) != 0)
		goto out;
	if (exchange && first_nonspace(buf, len) == '{') {
		if ((r = pki_exchange_cert_parse(path, buf, len, &x, e)) != 0)
			goto out;
	} else if ((x = pki_cert_from_buf(buf, len)) == NULL) {
		r = sd_err_set(e, SD_ERR_KEY, exchange ? "%s: neither an X.509 "
		    "certificate (PEM or DER) nor a transfer-key reply (JSON)" :
		    "%s: not an X.509 certificate (PEM or DER)", path);
		goto out;
	} else if (exchange && (r = check_rsa_pub(x, path, e)) != 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
 out:
	ERR_clear_error();
	X509_free(x);
	free(buf);
	return r;
}

int
pki_cert_load(const char *path, X509 **out, struct sd_err *e)
{
	return cert_load(path, 0, out, e);
}

int
pki_exchange_cert_load(const char *path, X509 **out, struct sd_err *e)
{
	return cert_load(path, 1, out, e);
}
