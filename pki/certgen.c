#include <limits.h>

#include <openssl/asn1.h>
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

/* OpenSSL's prime-search callback, relayed to the caller's tick. */
static int
genprime_progress(EVP_PKEY_CTX *ctx)
{
	struct {
		certgen_tick_fn fn;
		void *ctx;
	} *t = EVP_PKEY_CTX_get_app_data(ctx);
	int p = EVP_PKEY_CTX_get_keygen_info(ctx, 0);

	if (t != NULL && t->fn != NULL && p >= 0 && p <= 2)
		t->fn(t->ctx, p);
	return 1;
}

int
certgen_rsa(int bits, certgen_tick_fn tick, void *tick_ctx, EVP_PKEY **out,
    struct sd_err *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	struct {
		certgen_tick_fn fn;
		void *ctx;
	} t = { tick, tick_ctx };
	int r = SD_ERR_CRYPTO;

	*out = NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0)
		goto out;
	if (tick != NULL) {
		EVP_PKEY_CTX_set_app_data(ctx, &t);
		EVP_PKEY_CTX_set_cb(ctx, genprime_progress);
	}
	if (EVP_PKEY_generate(ctx, out) <= 0)
		goto out;
	r = 0;
 out:
	if (r != 0)
		r = sd_err_set(e, r, "RSA-%d key generation failed: %s", bits,
		    ERR_reason_error_string(ERR_get_error()));
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return r;
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

/* An officer's wrapping key: it only ever decrypts a content key. */
const struct certgen_ext certgen_wrapping_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,keyEncipherment,dataEncipherment" },
	{ NID_subject_key_identifier, "hash" },
	{ 0, NULL }
};

static int
add_ext(X509 *cert, const X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, (X509 *)(issuer != NULL ? issuer : cert), cert,
	    NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * Sign x with a key OpenSSL does not hold (a token's): the to-be-signed
 * part as OpenSSL encodes it, the signer's RSA PKCS#1 v1.5 SHA-256
 * signature over it, and the DER framing put together here, since OpenSSL
 * signs only with keys it holds.  *x is replaced by the signed result.
 */
static int
sign_external(X509 **x, const struct certgen_signer *s, struct sd_err *e)
{
	X509 *signed_x = NULL;
	X509_ALGOR *alg = NULL;
	unsigned char *tbs = NULL, *algder = NULL, *der = NULL, *q;
	const unsigned char *cp;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int tbs_len, alg_len, body, total, bitlen, r = SD_ERR_CRYPTO;

	/*
	 * The algorithm inside the signed part: OpenSSL has no setter for
	 * it outside X509_sign, hence the cast of its own pointer.
	 */
	if (!X509_ALGOR_set0((X509_ALGOR *)X509_get0_tbs_sigalg(*x),
	    OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL) ||
	    (tbs_len = i2d_re_X509_tbs(*x, &tbs)) <= 0 ||
	    (alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption),
	    V_ASN1_NULL, NULL) ||
	    (alg_len = i2d_X509_ALGOR(alg, &algder)) <= 0)
		goto out;
	if ((r = s->sign(s->ctx, tbs, (size_t)tbs_len, &sig, &sig_len, e)) !=
	    0)
		goto out;
	r = SD_ERR_CRYPTO;
	if (sig_len > INT_MAX / 2)
		goto out;
	/* Certificate ::= SEQUENCE { tbs, algorithm, BIT STRING signature } */
	bitlen = (int)sig_len + 1;
	body = tbs_len + alg_len + ASN1_object_size(0, bitlen,
	    V_ASN1_BIT_STRING);
	if ((total = ASN1_object_size(1, body, V_ASN1_SEQUENCE)) <= 0 ||
	    (der = malloc((size_t)total)) == NULL)
		goto out;
	q = der;
	ASN1_put_object(&q, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, tbs, (size_t)tbs_len);
	q += tbs_len;
	memcpy(q, algder, (size_t)alg_len);
	q += alg_len;
	ASN1_put_object(&q, 0, bitlen, V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL);
	*q++ = 0;   /* no unused bits */
	memcpy(q, sig, sig_len);
	cp = der;
	if ((signed_x = d2i_X509(NULL, &cp, total)) == NULL ||
	    cp != der + total)
		goto out;
	X509_free(*x);
	*x = signed_x;
	signed_x = NULL;
	r = 0;
 out:
	X509_free(signed_x);
	X509_ALGOR_free(alg);
	OPENSSL_free(tbs);
	OPENSSL_free(algder);
	free(der);
	free(sig);
	return r;
}

int
certgen_build(EVP_PKEY *pub, const struct certgen_tmpl *t,
    const struct certgen_signer *s, X509 **out, struct sd_err *e)
{
	const struct certgen_ext *x;
	EVP_PKEY *verify_key;
	X509 *cert = NULL;
	BIGNUM *bn = NULL;
	unsigned char serial[16];
	int r = SD_ERR_CRYPTO;

	*out = NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;  /* a positive INTEGER */
	serial[0] |= 0x40;  /* of full length */
	if ((cert = X509_new()) == NULL ||
	    !X509_set_version(cert, 2) ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL ||
	    !X509_set_subject_name(cert, t->subject) ||
	    !X509_set_issuer_name(cert, t->issuer != NULL ?
	    X509_get_subject_name(t->issuer) : t->subject) ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -t->backdate) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)t->days, 0,
	    NULL) == NULL ||
	    !X509_set_pubkey(cert, pub))
		goto out;
	for (x = t->exts; x != NULL && x->nid != 0; x++)
		if (!add_ext(cert, t->issuer, x->nid, x->value))
			goto out;
	if (s->key != NULL) {
		if (X509_sign(cert, s->key, EVP_sha256()) == 0)
			goto out;
	} else if ((r = sign_external(&cert, s, e)) != 0)
		goto fail_signed;
	/* A certificate that does not verify would fail later, far away. */
	verify_key = t->issuer != NULL ? X509_get0_pubkey(t->issuer) : pub;
	if (verify_key == NULL || X509_verify(cert, verify_key) != 1) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "the certificate's signature "
		    "does not verify with the %s public key", t->issuer !=
		    NULL ? "issuer's" : "certified");
		goto fail_signed;
	}
	*out = cert;
	cert = NULL;
	r = 0;
 out:
	if (r != 0)
		r = sd_err_set(e, r, "making the certificate failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
 fail_signed:
	ERR_clear_error();
	BN_free(bn);
	X509_free(cert);
	return r;
}

int
certgen_selfsigned(EVP_PKEY *key, const char *dn, int days, X509 **out,
    struct sd_err *e)
{
	struct certgen_tmpl t = { .days = days, .exts = certgen_wrapping_exts };
	struct certgen_signer s = { .key = key };
	X509_NAME *name;
	int r;

	*out = NULL;
	if ((name = certgen_parse_dn(dn)) == NULL)
		return sd_err_set(e, SD_ERR_ARG, "subject \"%s\": not a "
		    "distinguished name (write CN=name,O=org or /CN=name/O=org)",
		    dn);
	t.subject = name;
	r = certgen_build(key, &t, &s, out, e);
	X509_NAME_free(name);
	return r;
}

int
certgen_cert_pem(X509 *cert, char **pem, size_t *len, struct sd_err *e)
{
	BIO *bio;
	char *data;
	long n;
	int ret = SD_ERR_CRYPTO;

	*pem = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, cert) ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem = malloc((size_t)n + 1)) == NULL) {
		ret = sd_err_set(e, SD_ERR_CRYPTO, "encoding the certificate "
		    "failed");
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
    size_t *len, struct sd_err *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *enc = NULL;
	BIO *bio;
	char *data;
	long n;
	int ok, ret = SD_ERR_CRYPTO;

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
		ret = sd_err_set(e, ret, "encoding the private key failed");
	ERR_clear_error();
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
