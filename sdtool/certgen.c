#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "cli.h"

static int
genprime_progress(EVP_PKEY_CTX *ctx)
{
	static const char marks[] = ".+*\n";
	int p = EVP_PKEY_CTX_get_keygen_info(ctx, 0);

	if (p >= 0 && p <= 2)
		fputc(marks[p], stderr);
	return 1;
}

int
certgen_rsa(int bits, int progress, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	int ret = -1;

	*out = NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0)
		goto out;
	if (progress)
		EVP_PKEY_CTX_set_cb(ctx, genprime_progress);
	if (EVP_PKEY_generate(ctx, out) <= 0)
		goto out;
	ret = 0;
 out:
	if (progress)
		fputc('\n', stderr);
	if (ret != 0)
		cli_error("RSA-%d key generation failed: %s", bits,
		    ERR_reason_error_string(ERR_get_error()));
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

X509_NAME *
certgen_parse_dn(const char *dn)
{
	X509_NAME *name = NULL;
	char *copy, *tok, *save = NULL, *eq;
	const char *sep = dn[0] == '/' ? "/" : ",";

	if ((copy = strdup(dn)) == NULL || (name = X509_NAME_new()) == NULL)
		goto fail;
	for (tok = strtok_r(copy, sep, &save); tok != NULL;
	    tok = strtok_r(NULL, sep, &save)) {
		while (*tok == ' ')
			tok++;
		if ((eq = strchr(tok, '=')) == NULL || eq == tok || eq[1] == '\0')
			goto fail;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8,
		    (const unsigned char *)eq + 1, -1, -1, 0))
			goto fail;
	}
	if (X509_NAME_entry_count(name) == 0)
		goto fail;
	free(copy);
	return name;
 fail:
	ERR_clear_error();
	free(copy);
	X509_NAME_free(name);
	return NULL;
}

static int
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int
certgen_selfsigned(EVP_PKEY *key, const char *dn, int days, X509 **out)
{
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	unsigned char serial[16];
	int ret = -1;

	*out = NULL;
	if ((name = certgen_parse_dn(dn)) == NULL) {
		cli_error("subject \"%s\": not a distinguished name "
		    "(write CN=name,O=org or /CN=name/O=org)", dn);
		return -1;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;  /* a positive INTEGER */
	serial[0] |= 0x40;  /* of full length */
	if ((cert = X509_new()) == NULL ||
	    !X509_set_version(cert, 2) ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL ||
	    !X509_set_pubkey(cert, key) ||
	    !add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, NID_key_usage,
	    "critical,keyEncipherment,dataEncipherment") ||
	    !add_ext(cert, NID_subject_key_identifier, "hash") ||
	    X509_sign(cert, key, EVP_sha256()) == 0)
		goto out;
	*out = cert;
	cert = NULL;
	ret = 0;
 out:
	if (ret != 0)
		cli_error("making the certificate failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(cert);
	return ret;
}

int
certgen_cert_pem(X509 *cert, char **pem, size_t *len)
{
	BIO *bio;
	char *data;
	long n;
	int ret = -1;

	*pem = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, cert) ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem = malloc((size_t)n + 1)) == NULL) {
		cli_error("encoding the certificate failed");
		goto out;
	}
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	ret = 0;
 out:
	BIO_free(bio);
	return ret;
}

/*
 * PBKDF2 work factor for encrypted key files.  OpenSSL's default, 2048,
 * is from another era; 600000 rounds of HMAC-SHA-256 is today's common
 * advice and still opens in well under a second.
 */
#define KEY_PBKDF2_ITER 600000

int
certgen_key_pem(EVP_PKEY *key, const char *passphrase, char **pem,
    size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *enc = NULL;
	BIO *bio;
	char *data;
	long n;
	int ok, ret = -1;

	*pem = NULL;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	if (passphrase != NULL) {
		/* PBES2: PBKDF2-HMAC-SHA-256 and AES-256-CBC */
		ok = (p8 = EVP_PKEY2PKCS8(key)) != NULL &&
		    (enc = PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), passphrase,
		    (int)strlen(passphrase), NULL, 16, KEY_PBKDF2_ITER, p8, NULL,
		    NULL)) != NULL &&
		    PEM_write_bio_PKCS8(bio, enc);
	} else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0,
		    NULL, NULL);
	if (!ok || (n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem = sodium_malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	ret = 0;
 out:
	if (ret != 0)
		cli_error("encoding the private key failed");
	/* BIO_s_secmem clears its buffer when freed */
	BIO_free(bio);
	X509_SIG_free(enc);
	PKCS8_PRIV_KEY_INFO_free(p8);  /* clears the key material */
	return ret;
}

void
certgen_not_after(const X509 *cert, char out[static 32])
{
	struct tm tm;

	out[0] = '\0';
	if (cert != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
