/*
 * escrow_rsa.c - an RSA key down to its smaller prime for a compact escrow
 * sheet, and the whole key back from that prime and the public key.  All
 * arithmetic is OpenSSL's BN; see escrow.h.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "escrow.h"

size_t
escrow_prime_len(int bits)
{
	/* the smaller prime is below sqrt(n) < 2^ceil(bits/2) */
	return bits <= 0 ? 0 : ((size_t)(bits + 1) / 2 + 7) / 8;
}

/* A BIGNUM for secrets: secure heap where there is one, constant time. */
static BIGNUM *
bn_secret(void)
{
	BIGNUM *b;

	if ((b = BN_secure_new()) != NULL)
		BN_set_flags(b, BN_FLG_CONSTTIME);
	return b;
}

static int
get_bn(const EVP_PKEY *k, const char *name, BIGNUM **out)
{
	*out = NULL;
	return EVP_PKEY_get_bn_param(k, name, out) == 1 && *out != NULL ? 0 : -1;
}

/* d = e^-1 mod m, with m = lcm(p-1, q-1) or (p-1)(q-1). */
static int
private_exponent(const BIGNUM *e, const BIGNUM *p1, const BIGNUM *q1,
    int phi, BIGNUM *d, BN_CTX *ctx)
{
	BIGNUM *m, *g;
	int ok = 0;

	BN_CTX_start(ctx);
	m = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	if (g == NULL)
		goto out;
	BN_set_flags(m, BN_FLG_CONSTTIME);
	BN_set_flags(g, BN_FLG_CONSTTIME);
	if (!BN_mul(m, p1, q1, ctx))
		goto out;
	if (!phi) {
		/* BN_gcd is constant time in OpenSSL 3 */
		if (!BN_gcd(g, p1, q1, ctx) || !BN_div(m, NULL, m, g, ctx))
			goto out;
	}
	/* with m BN_FLG_CONSTTIME, OpenSSL takes its branch-free inverse */
	ok = BN_mod_inverse(d, e, m, ctx) != NULL;
 out:
	BN_CTX_end(ctx);
	return ok ? 0 : -1;
}

int
escrow_rsa_prime(const EVP_PKEY *key, struct sd_secret **prime, int *bits,
    unsigned *flags, struct sd_err *e)
{
	BIGNUM *p = NULL, *q = NULL, *d = NULL, *x = NULL, *p1 = NULL;
	BIGNUM *q1 = NULL, *pub_e = NULL, *extra = NULL;
	BN_CTX *ctx = NULL;
	struct sd_secret *out = NULL;
	const BIGNUM *small;
	size_t plen;
	uint8_t *a = NULL, *b = NULL;
	int r = SD_ERR_INTERNAL, swap, nbits, phi;

	if (prime == NULL || bits == NULL || flags == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_rsa_prime: no output");
	*prime = NULL;
	*flags = 0;
	if (key == NULL || !EVP_PKEY_is_a(key, "RSA"))
		return sd_err_set(e, SD_ERR_KEY, "not an RSA key");
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR3, &extra)
	    == 1) {
		BN_clear_free(extra);
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "a multi-prime RSA key "
		    "cannot go on a compact sheet");
	}
	ERR_clear_error();
	if (get_bn(key, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) != 0 ||
	    get_bn(key, OSSL_PKEY_PARAM_RSA_FACTOR2, &q) != 0 ||
	    get_bn(key, OSSL_PKEY_PARAM_RSA_D, &d) != 0 ||
	    get_bn(key, OSSL_PKEY_PARAM_RSA_E, &pub_e) != 0) {
		r = sd_err_set(e, SD_ERR_KEY, "the RSA key has no primes "
		    "(a public key, or a key held in hardware)");
		goto out;
	}
	BN_set_flags(p, BN_FLG_CONSTTIME);
	BN_set_flags(q, BN_FLG_CONSTTIME);
	BN_set_flags(d, BN_FLG_CONSTTIME);
	nbits = EVP_PKEY_get_bits(key);
	plen = escrow_prime_len(nbits);
	/* which prime is smaller says nothing about either */
	swap = BN_cmp(p, q) > 0;
	small = swap ? q : p;
	if ((size_t)BN_num_bytes(small) > plen) {
		r = sd_err_set(e, SD_ERR_KEY, "the RSA key's primes are not "
		    "of the sizes an RSA key has");
		goto out;
	}
	/* which private exponent the key uses, so the same key comes back */
	if ((ctx = BN_CTX_secure_new()) == NULL ||
	    (x = bn_secret()) == NULL || (p1 = bn_secret()) == NULL ||
	    (q1 = bn_secret()) == NULL ||
	    !BN_sub(p1, p, BN_value_one()) || !BN_sub(q1, q, BN_value_one())) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "RSA arithmetic failed");
		goto out;
	}
	phi = 0;
	if (private_exponent(pub_e, p1, q1, 0, x, ctx) != 0) {
		r = sd_err_set(e, SD_ERR_KEY, "the RSA key is not consistent");
		goto out;
	}
	{
		size_t dl = (size_t)BN_num_bytes(d) > plen * 2 ?
		    (size_t)BN_num_bytes(d) : plen * 2;

		if ((a = sodium_malloc(dl)) == NULL ||
		    (b = sodium_malloc(dl)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
			goto out;
		}
		if (BN_bn2binpad(d, a, (int)dl) < 0 ||
		    BN_bn2binpad(x, b, (int)dl) < 0) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "RSA arithmetic failed");
			goto out;
		}
		if (CRYPTO_memcmp(a, b, dl) != 0) {
			if (private_exponent(pub_e, p1, q1, 1, x, ctx) != 0 ||
			    BN_bn2binpad(x, b, (int)dl) < 0) {
				r = sd_err_set(e, SD_ERR_CRYPTO, "RSA arithmetic "
				    "failed");
				goto out;
			}
			phi = CRYPTO_memcmp(a, b, dl) == 0;
			/*
			 * Another d (rare): the rebuilt key uses lambda(n),
			 * an equivalent key with other bytes.
			 */
		}
	}
	if ((out = sd_secret_new(plen)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if (BN_bn2binpad(small, out->p, (int)plen) != (int)plen) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "RSA arithmetic failed");
		goto out;
	}
	*flags = (swap ? 0 : ESCROW_RSA_SMALL_FIRST) |
	    (phi ? ESCROW_RSA_D_PHI : 0);
	*bits = nbits;
	*prime = out;
	out = NULL;
	r = 0;
 out:
	sodium_free(a);
	sodium_free(b);
	sd_secret_free(out);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(d);
	BN_clear_free(x);
	BN_clear_free(p1);
	BN_clear_free(q1);
	BN_free(pub_e);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Encrypt 32 random bytes to pub with RSA-OAEP, decrypt with key. */
static int
test_decryption(EVP_PKEY *pub, EVP_PKEY *key, struct sd_err *e)
{
	EVP_PKEY_CTX *c = NULL;
	uint8_t msg[32], *ct = NULL, *pt = NULL;
	size_t ctlen = 0, ptlen = 0;
	int r = SD_ERR_INTERNAL;

	randombytes_buf(msg, sizeof(msg));
	if ((c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_encrypt(c, NULL, &ctlen, msg, sizeof(msg)) != 1 ||
	    (ct = OPENSSL_malloc(ctlen)) == NULL ||
	    EVP_PKEY_encrypt(c, ct, &ctlen, msg, sizeof(msg)) != 1) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "test encryption to the "
		    "certificate's key failed");
		goto out;
	}
	EVP_PKEY_CTX_free(c);
	ptlen = ctlen;
	if ((c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) != 1 ||
	    (pt = OPENSSL_secure_malloc(ptlen)) == NULL ||
	    EVP_PKEY_decrypt(c, pt, &ptlen, ct, ctlen) != 1 ||
	    ptlen != sizeof(msg) || CRYPTO_memcmp(pt, msg, sizeof(msg)) != 0) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the rebuilt key does "
		    "not decrypt what its certificate's key encrypts");
		goto out;
	}
	r = 0;
 out:
	EVP_PKEY_CTX_free(c);
	OPENSSL_free(ct);
	OPENSSL_secure_clear_free(pt, ptlen);
	sodium_memzero(msg, sizeof(msg));
	return r;
}

/* The key as PKCS#8 DER, into guarded memory. */
static int
pkcs8_der(EVP_PKEY *key, struct sd_secret **out, struct sd_err *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	struct sd_secret *der = NULL;
	unsigned char *q;
	int n, r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0 ||
	    (size_t)n > ESCROW_MAX_KEY_DER) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "encoding the key as PKCS#8 "
		    "failed");
		goto out;
	}
	if ((der = sd_secret_new((size_t)n)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	q = der->p;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &q) != n) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "encoding the key as PKCS#8 "
		    "failed");
		goto out;
	}
	*out = der;
	der = NULL;
	r = 0;
 out:
	sd_secret_free(der);
	PKCS8_PRIV_KEY_INFO_free(p8);   /* clears the key material */
	return r;
}

int
escrow_rsa_rebuild(const uint8_t *prime, size_t plen, unsigned flags,
    EVP_PKEY *pub, struct sd_secret **der, struct sd_err *e)
{
	BIGNUM *n = NULL, *pe = NULL, *p = NULL, *q = NULL, *rem = NULL;
	BIGNUM *d = NULL, *p1 = NULL, *q1 = NULL, *dp = NULL, *dq = NULL;
	BIGNUM *qinv = NULL;
	BN_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *kctx = NULL;
	EVP_PKEY *key = NULL;
	const BIGNUM *f1, *f2;
	int r = SD_ERR_INTERNAL;

	if (der == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_rsa_rebuild: no output");
	*der = NULL;
	if (prime == NULL || pub == NULL || !EVP_PKEY_is_a(pub, "RSA"))
		return sd_err_set(e, SD_ERR_KEY, "the certificate's key is not "
		    "an RSA key");
	if (get_bn(pub, OSSL_PKEY_PARAM_RSA_N, &n) != 0 ||
	    get_bn(pub, OSSL_PKEY_PARAM_RSA_E, &pe) != 0) {
		r = sd_err_set(e, SD_ERR_KEY, "the certificate's RSA key cannot "
		    "be read");
		goto out;
	}
	if (plen != escrow_prime_len(BN_num_bits(n))) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the sheet's prime is "
		    "of %zu bytes; an RSA-%d key's is of %zu", plen,
		    BN_num_bits(n), escrow_prime_len(BN_num_bits(n)));
		goto out;
	}
	if ((ctx = BN_CTX_secure_new()) == NULL || (p = bn_secret()) == NULL ||
	    (q = bn_secret()) == NULL || (rem = bn_secret()) == NULL ||
	    (d = bn_secret()) == NULL || (p1 = bn_secret()) == NULL ||
	    (q1 = bn_secret()) == NULL || (dp = bn_secret()) == NULL ||
	    (dq = bn_secret()) == NULL || (qinv = bn_secret()) == NULL ||
	    BN_bin2bn(prime, (int)plen, p) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	BN_set_flags(p, BN_FLG_CONSTTIME);
	/* p must be a proper factor: 1 < p < n and n = p q exactly */
	if (BN_cmp(p, BN_value_one()) <= 0 || BN_cmp(p, n) >= 0 ||
	    !BN_div(q, rem, n, p, ctx)) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the sheet's prime does "
		    "not divide the certificate's modulus: the sheet is of "
		    "another key, or damaged");
		goto out;
	}
	if (!BN_is_zero(rem) || BN_cmp(q, BN_value_one()) <= 0) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the sheet's prime does "
		    "not divide the certificate's modulus: the sheet is of "
		    "another key, or damaged");
		goto out;
	}
	BN_set_flags(q, BN_FLG_CONSTTIME);
	f1 = flags & ESCROW_RSA_SMALL_FIRST ? p : q;
	f2 = flags & ESCROW_RSA_SMALL_FIRST ? q : p;
	if (!BN_sub(p1, f1, BN_value_one()) || !BN_sub(q1, f2, BN_value_one()) ||
	    private_exponent(pe, p1, q1, (flags & ESCROW_RSA_D_PHI) != 0, d,
	    ctx) != 0 ||
	    !BN_mod(dp, d, p1, ctx) || !BN_mod(dq, d, q1, ctx) ||
	    BN_mod_inverse(qinv, f2, f1, ctx) == NULL) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "no RSA private key has "
		    "this prime and the certificate's public exponent");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, pe) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, f1) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, f2) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	    qinv) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (kctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(kctx) != 1 ||
	    EVP_PKEY_fromdata(kctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "building the RSA key failed");
		goto out;
	}
	/* the rebuilt public half is the certificate's */
	if (EVP_PKEY_eq(key, pub) != 1) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the rebuilt key's public "
		    "half is not the certificate's");
		goto out;
	}
	if ((r = test_decryption(pub, key, e)) != 0)
		goto out;
	if ((r = pkcs8_der(key, der, e)) != 0)
		goto out;
	r = 0;
 out:
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(kctx);
	OSSL_PARAM_free(params);   /* the secure BNs sit in a block it clears */
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(pe);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(rem);
	BN_clear_free(d);
	BN_clear_free(p1);
	BN_clear_free(q1);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qinv);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
