/*
 * piv.c - the PIV applet of a YubiKey (SP 800-73-4 and Yubico's
 * extensions), as yubico-piv-tool, ykcs11 and OpenSC use it.
 *
 * Every handler gets the whole command data (chains already joined) and
 * returns the status word; response data go to `out`.  The data are read
 * through the bounded readers of buf.c only.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "sim.h"

static const uint8_t default_pin[] = "123456";
static const uint8_t default_puk[] = "12345678";
static const uint8_t default_mgm[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8
};

/* Discovery object: the PIV AID, and the PIN usage policy (PIV PIN only). */
static const uint8_t discovery[] = {
	0x7e, 0x12, 0x4f, 0x0b, 0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00,
	0x10, 0x00, 0x01, 0x00, 0x5f, 0x2f, 0x02, 0x40, 0x00
};

int
sim_random(uint8_t *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : SIM_ERR_CRYPTO;
}

int
piv_key_index(uint8_t slot)
{
	if (slot == 0x9a)
		return 0;
	if (slot == 0x9c)
		return 1;
	if (slot == 0x9d)
		return 2;
	if (slot == 0x9e)
		return 3;
	if (slot >= 0x82 && slot <= 0x95)
		return 4 + (slot - 0x82);
	if (slot == 0xf9)
		return 24;
	return -1;
}

uint8_t
piv_key_slot(int index)
{
	static const uint8_t first[] = { 0x9a, 0x9c, 0x9d, 0x9e };

	if (index >= 0 && index < 4)
		return first[index];
	if (index >= 4 && index < 24)
		return (uint8_t)(0x82 + index - 4);
	return 0xf9;
}

uint8_t
piv_default_pin_policy(uint8_t slot)
{
	if (slot == 0x9c)
		return PIN_POLICY_ALWAYS;
	if (slot == 0x9e || slot == 0xf9)
		return PIN_POLICY_NEVER;
	return PIN_POLICY_ONCE;
}

void
piv_key_clear(struct piv_key *k)
{
	EVP_PKEY_free(k->pkey); /* OpenSSL clears the private numbers */
	memset(k, 0, sizeof(*k));
}

void
piv_defaults(struct card *c)
{
	size_t i;

	for (i = 0; i < PIV_NKEYS; i++)
		piv_key_clear(&c->keys[i]);
	for (i = 0; i < c->nobjs; i++) {
		OPENSSL_cleanse(c->objs[i].data, c->objs[i].len);
		free(c->objs[i].data);
	}
	memset(c->objs, 0, sizeof(c->objs));
	c->nobjs = 0;
	memcpy(c->pin, default_pin, 6);
	c->pin_len = 6;
	memcpy(c->puk, default_puk, 8);
	c->puk_len = 8;
	c->pin_tries = c->pin_max = 3;
	c->puk_tries = c->puk_max = 3;
	c->mgm_algo = c->prof->mgm_default_algo;
	memcpy(c->mgm_key, default_mgm, sizeof(default_mgm));
	c->mgm_len = sizeof(default_mgm);
	c->mgm_touch = 0;
	c->dirty = true;
}

void
piv_select_reply(struct card *c, struct wr *out)
{
	/* Application property template: the PIV AID and its authority. */
	static const uint8_t apt[] = {
		0x61, 0x11, 0x4f, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
		0x79, 0x07, 0x4f, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08
	};

	(void)c;
	wr_bytes(out, apt, sizeof(apt));
}

struct piv_obj *
piv_obj_find(struct card *c, uint32_t tag)
{
	size_t i;

	for (i = 0; i < c->nobjs; i++)
		if (c->objs[i].tag == tag)
			return &c->objs[i];
	return NULL;
}

/* Store (n > 0) or delete (n == 0) a data object. */
int
piv_obj_set(struct card *c, uint32_t tag, const uint8_t *p, size_t n)
{
	struct piv_obj *o = piv_obj_find(c, tag);
	uint8_t *copy = NULL;

	if (n > PIV_OBJ_MAX)
		return SIM_ERR_RANGE;
	if (n > 0 && (copy = malloc(n)) == NULL)
		return SIM_ERR_ALLOC;
	if (n > 0)
		memcpy(copy, p, n);
	if (o == NULL && n > 0) {
		if (c->nobjs == PIV_MAX_OBJS) {
			free(copy);
			return SIM_ERR_RANGE;
		}
		o = &c->objs[c->nobjs++];
		o->tag = tag;
	} else if (o == NULL) {
		return 0;
	}
	if (o->data != NULL) {
		OPENSSL_cleanse(o->data, o->len);
		free(o->data);
	}
	o->data = copy;
	o->len = n;
	if (n == 0) { /* delete: move the last one here */
		*o = c->objs[--c->nobjs];
		memset(&c->objs[c->nobjs], 0, sizeof(c->objs[0]));
	}
	c->dirty = true;
	return 0;
}

/* ---- PIN and PUK ---- */

/* The 8-byte field: the PIN, then 0xff up to 8 bytes. */
static bool
pin_field_matches(const uint8_t field[8], const uint8_t *pin, size_t pin_len)
{
	uint8_t want[8];
	int diff;

	memset(want, 0xff, sizeof(want));
	memcpy(want, pin, pin_len);
	diff = CRYPTO_memcmp(want, field, 8);
	OPENSSL_cleanse(want, sizeof(want));
	return diff == 0;
}

/* A new PIN or PUK from an 8-byte field: 6 to 8 bytes, then padding. */
static bool
pin_field_parse(const uint8_t field[8], uint8_t out[8], size_t *len)
{
	size_t n = 0, i;

	while (n < 8 && field[n] != 0xff)
		n++;
	for (i = n; i < 8; i++)
		if (field[i] != 0xff)
			return false;
	if (n < 6)
		return false;
	memcpy(out, field, n);
	*len = n;
	return true;
}

static uint16_t
tries_sw(uint8_t tries)
{
	return (uint16_t)(0x63c0 | (tries > 15 ? 15 : tries));
}

static uint16_t
cmd_verify(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len)
{
	if (p2 != 0x80)
		return SW_REF_NOT_FOUND;
	if (p1 == 0xff) { /* forget the PIN, 5.4.3 and later */
		if (!c->prof->deauth)
			return SW_WRONG_P1P2;
		if (len != 0)
			return SW_WRONG_LENGTH;
		c->pin_ok = false;
		c->verify_seq = 0;
		return SW_OK;
	}
	if (p1 != 0x00)
		return SW_WRONG_P1P2;
	if (len == 0) { /* status only */
		if (c->pin_tries == 0)
			return SW_BLOCKED;
		return c->pin_ok ? SW_OK : tries_sw(c->pin_tries);
	}
	if (len != 8)
		return SW_WRONG_DATA;
	if (c->pin_tries == 0)
		return SW_BLOCKED;
	if (!pin_field_matches(data, c->pin, c->pin_len)) {
		c->pin_tries--;
		c->pin_ok = false;
		c->verify_seq = 0;
		c->dirty = true;
		return tries_sw(c->pin_tries);
	}
	if (c->pin_tries != c->pin_max)
		c->dirty = true;
	c->pin_tries = c->pin_max;
	c->pin_ok = true;
	c->verify_seq = c->cmd_start;
	return SW_OK;
}

static uint16_t
cmd_change_reference(struct card *c, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len)
{
	uint8_t *ref, *tries, max;
	size_t *ref_len;
	uint8_t newv[8];
	size_t new_len;

	if (p1 != 0x00)
		return SW_WRONG_P1P2;
	if (p2 == 0x80) {
		ref = c->pin, ref_len = &c->pin_len;
		tries = &c->pin_tries, max = c->pin_max;
	} else if (p2 == 0x81) {
		ref = c->puk, ref_len = &c->puk_len;
		tries = &c->puk_tries, max = c->puk_max;
	} else {
		return SW_REF_NOT_FOUND;
	}
	if (len != 16)
		return SW_WRONG_DATA;
	if (*tries == 0)
		return SW_BLOCKED;
	if (!pin_field_matches(data, ref, *ref_len)) {
		(*tries)--;
		if (p2 == 0x80)
			c->pin_ok = false;
		c->dirty = true;
		return tries_sw(*tries);
	}
	if (!pin_field_parse(data + 8, newv, &new_len)) {
		OPENSSL_cleanse(newv, sizeof(newv));
		return SW_WRONG_DATA;
	}
	memset(ref, 0, 8);
	memcpy(ref, newv, new_len);
	*ref_len = new_len;
	*tries = max;
	if (p2 == 0x80) {
		c->pin_ok = true;
		c->verify_seq = c->cmd_start;
	}
	OPENSSL_cleanse(newv, sizeof(newv));
	c->dirty = true;
	return SW_OK;
}

static uint16_t
cmd_reset_retry(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len)
{
	uint8_t newv[8];
	size_t new_len;

	if (p1 != 0x00 || p2 != 0x80)
		return SW_WRONG_P1P2;
	if (len != 16)
		return SW_WRONG_DATA;
	if (c->puk_tries == 0)
		return SW_BLOCKED;
	if (!pin_field_matches(data, c->puk, c->puk_len)) {
		c->puk_tries--;
		c->dirty = true;
		return tries_sw(c->puk_tries);
	}
	if (!pin_field_parse(data + 8, newv, &new_len)) {
		OPENSSL_cleanse(newv, sizeof(newv));
		return SW_WRONG_DATA;
	}
	memset(c->pin, 0, sizeof(c->pin));
	memcpy(c->pin, newv, new_len);
	c->pin_len = new_len;
	c->pin_tries = c->pin_max;
	c->puk_tries = c->puk_max;
	OPENSSL_cleanse(newv, sizeof(newv));
	c->dirty = true;
	return SW_OK;
}

/* ---- management key ---- */

static const EVP_CIPHER *
mgm_cipher(uint8_t algo, size_t *block)
{
	*block = 16;
	switch (algo) {
	case ALG_3DES:
		*block = 8;
		return EVP_des_ede3_ecb();
	case ALG_AES128:
		return EVP_aes_128_ecb();
	case ALG_AES192:
		return EVP_aes_192_ecb();
	case ALG_AES256:
		return EVP_aes_256_ecb();
	default:
		return NULL;
	}
}

static size_t
mgm_key_len(uint8_t algo)
{
	switch (algo) {
	case ALG_3DES:
	case ALG_AES192:
		return 24;
	case ALG_AES128:
		return 16;
	case ALG_AES256:
		return 32;
	default:
		return 0;
	}
}

/* One block through the management key, ECB, either way. */
static int
mgm_crypt(struct card *c, bool enc, const uint8_t *in, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	const EVP_CIPHER *ciph;
	size_t block;
	int n = 0, r = SIM_ERR_CRYPTO;

	if ((ciph = mgm_cipher(c->mgm_algo, &block)) == NULL)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_CipherInit_ex(ctx, ciph, NULL, c->mgm_key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)block) != 1 ||
	    (size_t)n != block)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static uint16_t
mgm_authenticate(struct card *c, uint8_t algo, struct rd *tmpl,
    struct wr *out)
{
	struct rd v80, v81, v82, val;
	bool has80 = false, has81 = false, has82 = false;
	uint8_t tag, expect[16];
	size_t block;
	uint16_t sw = SW_WRONG_DATA;
	int state = c->chal_state;

	c->chal_state = 0;
	rd_init(&v80, NULL, 0);
	rd_init(&v81, NULL, 0);
	rd_init(&v82, NULL, 0);
	if (algo != c->mgm_algo || mgm_cipher(algo, &block) == NULL)
		return SW_WRONG_DATA;
	while (rd_left(tmpl) > 0) {
		if (rd_tlv(tmpl, &tag, &val) != 0)
			return SW_WRONG_DATA;
		if (tag == 0x80 && !has80)
			v80 = val, has80 = true;
		else if (tag == 0x81 && !has81)
			v81 = val, has81 = true;
		else if (tag == 0x82 && !has82)
			v82 = val, has82 = true;
		else
			return SW_WRONG_DATA;
	}

	if (has80 && rd_left(&v80) == 0 && !has81 && !has82) {
		/* mutual, step 1: a witness for the host to decrypt */
		if (sim_random(c->chal, block) != 0)
			return SW_UNKNOWN;
		c->chal_len = block;
		c->chal_state = 1;
		wr_u8(out, 0x7c);
		wr_len(out, 2 + block);
		wr_tlv(out, 0x80, c->chal, block);
		return SW_OK;
	}
	if (has81 && rd_left(&v81) == 0 && !has80 && !has82) {
		/* external authentication, step 1: a challenge */
		if (sim_random(c->chal, block) != 0)
			return SW_UNKNOWN;
		c->chal_len = block;
		c->chal_state = 2;
		wr_u8(out, 0x7c);
		wr_len(out, 2 + block);
		wr_tlv(out, 0x81, c->chal, block);
		return SW_OK;
	}
	if (has80 && has81 && !has82 && state == 1 &&
	    rd_left(&v80) == block && rd_left(&v81) == block) {
		/* mutual, step 2: the decrypted witness, and a challenge */
		uint8_t resp[16];

		if (mgm_crypt(c, false, c->chal, expect) != 0)
			return SW_UNKNOWN;
		if (CRYPTO_memcmp(expect, v80.p, block) != 0) {
			sw = SW_SECURITY;
			goto out;
		}
		if (mgm_crypt(c, true, v81.p, resp) != 0) {
			sw = SW_UNKNOWN;
			goto out;
		}
		c->mgm_ok = true;
		wr_u8(out, 0x7c);
		wr_len(out, 2 + block);
		wr_tlv(out, 0x82, resp, block);
		sw = SW_OK;
		goto out;
	}
	if (has82 && !has80 && !has81 && state == 2 &&
	    rd_left(&v82) == block) {
		/* external authentication, step 2: the encrypted challenge */
		if (mgm_crypt(c, true, c->chal, expect) != 0)
			return SW_UNKNOWN;
		if (CRYPTO_memcmp(expect, v82.p, block) != 0) {
			sw = SW_SECURITY;
			goto out;
		}
		c->mgm_ok = true;
		sw = SW_OK;
		goto out;
	}
out:
	OPENSSL_cleanse(expect, sizeof(expect));
	OPENSSL_cleanse(c->chal, sizeof(c->chal));
	return sw;
}

static uint16_t
cmd_set_mgm(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len)
{
	struct rd r;
	const uint8_t *key;
	uint8_t algo, ref, klen;

	if (p1 != 0xff || (p2 != 0xff && p2 != 0xfe))
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	rd_init(&r, data, len);
	if (rd_u8(&r, &algo) != 0 || rd_u8(&r, &ref) != 0 ||
	    rd_u8(&r, &klen) != 0 || rd_bytes(&r, klen, &key) != 0 ||
	    rd_left(&r) != 0 || ref != 0x9b)
		return SW_WRONG_DATA;
	if (algo != ALG_3DES && !c->prof->aes_mgm)
		return SW_WRONG_DATA;
	if (mgm_key_len(algo) == 0 || mgm_key_len(algo) != klen)
		return SW_WRONG_DATA;
	OPENSSL_cleanse(c->mgm_key, sizeof(c->mgm_key));
	memcpy(c->mgm_key, key, klen);
	c->mgm_len = klen;
	c->mgm_algo = algo;
	c->mgm_touch = p2 == 0xfe ? 2 : 0;
	c->dirty = true;
	return SW_OK;
}

/* ---- asymmetric keys ---- */

static int
rsa_bits(uint8_t algo)
{
	switch (algo) {
	case ALG_RSA1024:
		return 1024;
	case ALG_RSA2048:
		return 2048;
	case ALG_RSA3072:
		return 3072;
	case ALG_RSA4096:
		return 4096;
	default:
		return 0;
	}
}

/* Whether this firmware holds keys of this algorithm. */
static bool
algo_supported(struct card *c, uint8_t algo)
{
	if (algo == ALG_RSA1024 || algo == ALG_RSA2048)
		return true;
	if (algo == ALG_RSA3072 || algo == ALG_RSA4096)
		return c->prof->rsa_big;
	return false; /* EC and 25519 keys are not simulated */
}

static bool
policy_ok(uint8_t pin, uint8_t touch)
{
	return pin <= PIN_POLICY_ALWAYS && touch <= 3;
}

/* 81 n 82 e: an RSA public key as GENERATE and GET METADATA give it. */
static int
put_rsa_public(EVP_PKEY *pkey, struct wr *out)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t *p;
	int r = SIM_ERR_CRYPTO, nlen, elen;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		goto out;
	nlen = BN_num_bytes(n);
	elen = BN_num_bytes(e);
	wr_u8(out, 0x81);
	wr_len(out, (size_t)nlen);
	if ((p = wr_reserve(out, (size_t)nlen)) == NULL ||
	    BN_bn2bin(n, p) != nlen)
		goto out;
	wr_u8(out, 0x82);
	wr_len(out, (size_t)elen);
	if ((p = wr_reserve(out, (size_t)elen)) == NULL ||
	    BN_bn2bin(e, p) != elen)
		goto out;
	r = out->err;
out:
	BN_free(n);
	BN_free(e);
	return r;
}

static uint16_t
cmd_generate(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len, struct wr *out)
{
	struct rd r, tmpl, val;
	struct wr pub;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t tag, algo = 0, pin = 0, touch = 0;
	uint16_t sw = SW_WRONG_DATA;
	int idx = piv_key_index(p2);

	memset(&pub, 0, sizeof(pub));
	if (p1 != 0x00)
		return SW_WRONG_P1P2;
	if (idx < 0 || p2 == 0xf9)
		return SW_REF_NOT_FOUND;
	if (!c->mgm_ok)
		return SW_SECURITY;
	rd_init(&r, data, len);
	if (rd_tlv(&r, &tag, &tmpl) != 0 || tag != 0xac || rd_left(&r) != 0)
		return SW_WRONG_DATA;
	while (rd_left(&tmpl) > 0) {
		uint8_t v;

		if (rd_tlv(&tmpl, &tag, &val) != 0 || rd_left(&val) != 1 ||
		    rd_u8(&val, &v) != 0)
			return SW_WRONG_DATA;
		if (tag == 0x80)
			algo = v;
		else if (tag == 0xaa)
			pin = v;
		else if (tag == 0xab)
			touch = v;
		else
			return SW_WRONG_DATA;
	}
	if (!algo_supported(c, algo) || !policy_ok(pin, touch))
		return SW_WRONG_DATA;

	sw = SW_UNKNOWN;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, rsa_bits(algo)) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	if (wr_init(&pub, 4096) != 0 || put_rsa_public(pkey, &pub) != 0)
		goto out;
	piv_key_clear(&c->keys[idx]);
	c->keys[idx].algo = algo;
	c->keys[idx].origin = ORIGIN_GENERATED;
	c->keys[idx].pin_policy = pin ? pin : piv_default_pin_policy(p2);
	c->keys[idx].touch_policy = touch ? touch : TOUCH_POLICY_NEVER;
	c->keys[idx].pkey = pkey;
	pkey = NULL;
	c->dirty = true;
	wr_u8(out, 0x7f);
	wr_u8(out, 0x49);
	wr_len(out, pub.len);
	wr_bytes(out, pub.buf, pub.len);
	sw = SW_OK;
out:
	wr_clear(&pub);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return sw;
}

/*
 * An RSA private key from p, q and the CRT numbers, with e = 65537 (the
 * only exponent a YubiKey knows).  The CRT numbers must agree with p, q
 * and that e, or the key is refused.
 */
static int
rsa_from_crt(const uint8_t *const el[5], const size_t el_len[5], int bits,
    EVP_PKEY **out)
{
	BN_CTX *bnc = NULL;
	BIGNUM *bn[5] = { NULL }, *n = NULL, *e = NULL, *d = NULL;
	BIGNUM *p1 = NULL, *q1 = NULL, *phi = NULL, *t = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int i, r = SIM_ERR_CRYPTO;

	*out = NULL;
	if ((bnc = BN_CTX_new()) == NULL)
		goto out;
	for (i = 0; i < 5; i++) {
		if ((bn[i] = BN_secure_new()) == NULL ||
		    BN_bin2bn(el[i], (int)el_len[i], bn[i]) == NULL)
			goto out;
	}
	if ((n = BN_new()) == NULL || (e = BN_new()) == NULL ||
	    (d = BN_secure_new()) == NULL || (p1 = BN_secure_new()) == NULL ||
	    (q1 = BN_secure_new()) == NULL || (phi = BN_secure_new()) == NULL ||
	    (t = BN_secure_new()) == NULL)
		goto out;
	r = SIM_ERR_FORMAT;
	if (BN_is_zero(bn[0]) || BN_is_zero(bn[1]) ||
	    BN_mul(n, bn[0], bn[1], bnc) != 1 || BN_num_bits(n) != bits ||
	    BN_set_word(e, RSA_F4) != 1 ||
	    BN_sub(p1, bn[0], BN_value_one()) != 1 ||
	    BN_sub(q1, bn[1], BN_value_one()) != 1 ||
	    BN_mul(phi, p1, q1, bnc) != 1 ||
	    BN_mod_inverse(d, e, phi, bnc) == NULL ||
	    BN_mod(t, d, p1, bnc) != 1 || BN_cmp(t, bn[2]) != 0 ||
	    BN_mod(t, d, q1, bnc) != 1 || BN_cmp(t, bn[3]) != 0 ||
	    BN_mod_mul(t, bn[4], bn[1], bn[0], bnc) != 1 || !BN_is_one(t))
		goto out;
	r = SIM_ERR_CRYPTO;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, bn[0]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, bn[1]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, bn[2]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, bn[3]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	    bn[4]) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params); /* clears: built from secure BIGNUMs */
	OSSL_PARAM_BLD_free(bld);
	for (i = 0; i < 5; i++)
		BN_clear_free(bn[i]);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(p1);
	BN_clear_free(q1);
	BN_clear_free(phi);
	BN_clear_free(t);
	BN_CTX_free(bnc);
	return r;
}

static uint16_t
cmd_import(struct card *c, uint8_t algo, uint8_t slot, const uint8_t *data,
    size_t len)
{
	const uint8_t *el[5] = { NULL };
	size_t el_len[5] = { 0 };
	struct rd r, val;
	EVP_PKEY *pkey = NULL;
	uint8_t tag, pin = 0, touch = 0;
	int idx = piv_key_index(slot), bits = rsa_bits(algo);
	size_t half;

	if (idx < 0)
		return SW_REF_NOT_FOUND;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if (!algo_supported(c, algo) || bits == 0)
		return SW_WRONG_DATA;
	half = (size_t)bits / 16;
	rd_init(&r, data, len);
	while (rd_left(&r) > 0) {
		if (rd_tlv(&r, &tag, &val) != 0)
			return SW_WRONG_DATA;
		if (tag >= 0x01 && tag <= 0x05) {
			if (el[tag - 1] != NULL || rd_left(&val) > half ||
			    rd_bytes(&val, rd_left(&val), &el[tag - 1]) != 0)
				return SW_WRONG_DATA;
			el_len[tag - 1] = val.len;
		} else if ((tag == 0xaa || tag == 0xab) &&
		    rd_left(&val) == 1) {
			uint8_t v;

			if (rd_u8(&val, &v) != 0)
				return SW_WRONG_DATA;
			if (tag == 0xaa)
				pin = v;
			else
				touch = v;
		} else {
			return SW_WRONG_DATA;
		}
	}
	for (int i = 0; i < 5; i++)
		if (el[i] == NULL)
			return SW_WRONG_DATA;
	if (!policy_ok(pin, touch))
		return SW_WRONG_DATA;
	if (rsa_from_crt(el, el_len, bits, &pkey) != 0)
		return SW_WRONG_DATA;
	piv_key_clear(&c->keys[idx]);
	c->keys[idx].algo = algo;
	c->keys[idx].origin = ORIGIN_IMPORTED;
	c->keys[idx].pin_policy = pin ? pin : piv_default_pin_policy(slot);
	c->keys[idx].touch_policy = touch ? touch : TOUCH_POLICY_NEVER;
	c->keys[idx].pkey = pkey;
	c->dirty = true;
	return SW_OK;
}

/* The raw RSA private operation: what both decipher and sign are. */
static uint16_t
rsa_raw(struct piv_key *k, const uint8_t *in, size_t in_len, struct wr *out)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t n = (size_t)rsa_bits(k->algo) / 8, outlen = n;
	uint16_t sw = SW_WRONG_DATA;

	if (in_len != n)
		return SW_WRONG_DATA;
	if ((buf = malloc(n)) == NULL)
		return SW_UNKNOWN;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1 ||
	    EVP_PKEY_decrypt(ctx, buf, &outlen, in, in_len) != 1 ||
	    outlen != n)
		goto out; /* e.g. input not below the modulus */
	wr_u8(out, 0x7c);
	wr_len(out, 1 + (n < 0x80 ? 1 : n < 0x100 ? 2 : 3) + n);
	wr_tlv(out, 0x82, buf, n);
	sw = SW_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_cleanse(buf, n);
	free(buf);
	return sw;
}

static uint16_t
cmd_general_authenticate(struct card *c, uint8_t algo, uint8_t slot,
    const uint8_t *data, size_t len, struct wr *out)
{
	struct rd r, tmpl, val, v81;
	struct piv_key *k;
	uint8_t tag;
	bool has81 = false, has82 = false;
	int idx;

	rd_init(&r, data, len);
	if (rd_tlv(&r, &tag, &tmpl) != 0 || tag != 0x7c || rd_left(&r) != 0)
		return SW_WRONG_DATA;
	if (slot == 0x9b)
		return mgm_authenticate(c, algo, &tmpl, out);
	c->chal_state = 0;
	if ((idx = piv_key_index(slot)) < 0 || slot == 0xf9)
		return SW_REF_NOT_FOUND;
	k = &c->keys[idx];
	if (k->algo == 0)
		return SW_REF_NOT_FOUND;
	if (algo != k->algo)
		return SW_WRONG_DATA;
	if (k->pin_policy == PIN_POLICY_ONCE && !c->pin_ok)
		return SW_SECURITY;
	if (k->pin_policy == PIN_POLICY_ALWAYS) {
		/* the PIN must have been verified by the previous command */
		if (!c->pin_ok || c->verify_seq == 0 ||
		    c->verify_seq + 1 != c->cmd_start)
			return SW_SECURITY;
		c->verify_seq = 0;
	}
	rd_init(&v81, NULL, 0);
	while (rd_left(&tmpl) > 0) {
		if (rd_tlv(&tmpl, &tag, &val) != 0)
			return SW_WRONG_DATA;
		if (tag == 0x82 && rd_left(&val) == 0 && !has82)
			has82 = true;
		else if (tag == 0x81 && !has81)
			v81 = val, has81 = true;
		else
			return SW_WRONG_DATA; /* 85 (ECDH) needs an EC key */
	}
	if (!has81 || !has82)
		return SW_WRONG_DATA;
	return rsa_raw(k, v81.p, v81.len, out);
}

/* ---- data objects ---- */

/* 5C 01 7E, or 5C 03 xx yy zz: the tag of a data object. */
static int
read_obj_tag(struct rd *r, uint32_t *tag)
{
	struct rd v;
	const uint8_t *p;
	uint8_t t;

	*tag = 0;
	if (rd_tlv(r, &t, &v) != 0 || t != 0x5c)
		return SIM_ERR_FORMAT;
	if (rd_left(&v) == 1 && rd_bytes(&v, 1, &p) == 0 && p[0] == 0x7e) {
		*tag = 0x7e;
		return 0;
	}
	if (rd_left(&v) != 3 || rd_bytes(&v, 3, &p) != 0)
		return SIM_ERR_FORMAT;
	*tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return 0;
}

static bool
obj_tag_valid(uint32_t tag)
{
	if (tag >= 0x5fc101 && tag <= 0x5fc123)
		return true;
	return tag >= 0x5fff00 && tag <= 0x5fff15; /* Yubico's own */
}

static bool
obj_needs_pin(uint32_t tag)
{
	return tag == 0x5fc103 || tag == 0x5fc108 || tag == 0x5fc109 ||
	    tag == 0x5fc121;
}

static uint16_t
cmd_get_data(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len, struct wr *out)
{
	struct rd r;
	struct piv_obj *o;
	uint32_t tag;

	if (p1 != 0x3f || p2 != 0xff)
		return SW_WRONG_P1P2;
	rd_init(&r, data, len);
	if (read_obj_tag(&r, &tag) != 0 || rd_left(&r) != 0)
		return SW_WRONG_DATA;
	if (tag == 0x7e) {
		wr_bytes(out, discovery, sizeof(discovery));
		return SW_OK;
	}
	if (!obj_tag_valid(tag))
		return SW_NOT_FOUND;
	if (obj_needs_pin(tag) && !c->pin_ok)
		return SW_SECURITY;
	if ((o = piv_obj_find(c, tag)) == NULL)
		return SW_NOT_FOUND;
	wr_tlv(out, 0x53, o->data, o->len);
	return SW_OK;
}

static uint16_t
cmd_put_data(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *data,
    size_t len)
{
	struct rd r, val;
	uint32_t tag;
	uint8_t t;

	if (p1 != 0x3f || p2 != 0xff)
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	rd_init(&r, data, len);
	if (read_obj_tag(&r, &tag) != 0 || rd_tlv(&r, &t, &val) != 0 ||
	    t != 0x53 || rd_left(&r) != 0)
		return SW_WRONG_DATA;
	if (!obj_tag_valid(tag))
		return SW_WRONG_DATA;
	if (val.len > PIV_OBJ_MAX)
		return SW_NO_SPACE;
	if (piv_obj_set(c, tag, val.p, val.len) != 0)
		return SW_NO_SPACE;
	return SW_OK;
}

/* ---- Yubico's extensions ---- */

static uint16_t
cmd_metadata(struct card *c, uint8_t p1, uint8_t p2, struct wr *out)
{
	struct piv_key *k;
	struct wr pub;
	uint8_t b[2];
	int idx;
	uint16_t sw = SW_UNKNOWN;

	if (!c->prof->metadata)
		return SW_INS;
	if (p1 != 0x00)
		return SW_WRONG_P1P2;
	if (p2 == 0x80 || p2 == 0x81) {
		bool pin = p2 == 0x80;
		bool dflt = pin ?
		    c->pin_len == 6 && memcmp(c->pin, default_pin, 6) == 0 :
		    c->puk_len == 8 && memcmp(c->puk, default_puk, 8) == 0;

		b[0] = 0xff;
		wr_tlv(out, 0x01, b, 1);
		b[0] = 0;
		b[1] = 0;
		wr_tlv(out, 0x02, b, 2);
		b[0] = dflt ? 1 : 0;
		wr_tlv(out, 0x05, b, 1);
		b[0] = pin ? c->pin_max : c->puk_max;
		b[1] = pin ? c->pin_tries : c->puk_tries;
		wr_tlv(out, 0x06, b, 2);
		return SW_OK;
	}
	if (p2 == 0x9b) {
		b[0] = c->mgm_algo;
		wr_tlv(out, 0x01, b, 1);
		b[0] = 0;
		b[1] = c->mgm_touch ? c->mgm_touch : TOUCH_POLICY_NEVER;
		wr_tlv(out, 0x02, b, 2);
		b[0] = c->mgm_len == sizeof(default_mgm) &&
		    memcmp(c->mgm_key, default_mgm, sizeof(default_mgm)) == 0;
		wr_tlv(out, 0x05, b, 1);
		return SW_OK;
	}
	if ((idx = piv_key_index(p2)) < 0)
		return SW_REF_NOT_FOUND;
	k = &c->keys[idx];
	if (k->algo == 0)
		return SW_REF_NOT_FOUND;
	memset(&pub, 0, sizeof(pub));
	if (wr_init(&pub, 4096) != 0 || put_rsa_public(k->pkey, &pub) != 0)
		goto out;
	b[0] = k->algo;
	wr_tlv(out, 0x01, b, 1);
	b[0] = k->pin_policy;
	b[1] = k->touch_policy;
	wr_tlv(out, 0x02, b, 2);
	b[0] = k->origin;
	wr_tlv(out, 0x03, b, 1);
	wr_tlv(out, 0x04, pub.buf, pub.len);
	sw = SW_OK;
out:
	wr_clear(&pub);
	return sw;
}

static uint16_t
cmd_set_retries(struct card *c, uint8_t p1, uint8_t p2)
{
	if (!c->mgm_ok || !c->pin_ok)
		return SW_SECURITY;
	if (p1 == 0 || p2 == 0)
		return SW_WRONG_P1P2;
	/* as on a YubiKey: the PIN and the PUK go back to their defaults */
	memset(c->pin, 0, sizeof(c->pin));
	memcpy(c->pin, default_pin, 6);
	c->pin_len = 6;
	memset(c->puk, 0, sizeof(c->puk));
	memcpy(c->puk, default_puk, 8);
	c->puk_len = 8;
	c->pin_tries = c->pin_max = p1;
	c->puk_tries = c->puk_max = p2;
	c->dirty = true;
	return SW_OK;
}

static uint16_t
cmd_reset(struct card *c)
{
	if (c->pin_tries != 0 || c->puk_tries != 0)
		return SW_CONDITIONS;
	piv_defaults(c);
	c->pin_ok = c->mgm_ok = false;
	return SW_OK;
}

uint16_t
piv_command(struct card *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, struct wr *out)
{
	uint8_t b[4];

	(void)cla;
	if (ins != 0x87)
		c->chal_state = 0; /* a challenge lives for one command */
	switch (ins) {
	case 0x20:
		return cmd_verify(c, p1, p2, data, len);
	case 0x24:
		return cmd_change_reference(c, p1, p2, data, len);
	case 0x2c:
		return cmd_reset_retry(c, p1, p2, data, len);
	case 0x47:
		return cmd_generate(c, p1, p2, data, len, out);
	case 0x87:
		return cmd_general_authenticate(c, p1, p2, data, len, out);
	case 0xcb:
		return cmd_get_data(c, p1, p2, data, len, out);
	case 0xdb:
		return cmd_put_data(c, p1, p2, data, len);
	case 0xf7:
		return cmd_metadata(c, p1, p2, out);
	case 0xf8:
		if (!c->prof->yk5)
			return SW_INS;
		b[0] = (uint8_t)(c->serial >> 24);
		b[1] = (uint8_t)(c->serial >> 16);
		b[2] = (uint8_t)(c->serial >> 8);
		b[3] = (uint8_t)c->serial;
		wr_bytes(out, b, 4);
		return SW_OK;
	case 0xf9:
		/* attestation is not simulated: as for an imported key */
		if (piv_key_index(p1) < 0)
			return SW_REF_NOT_FOUND;
		if (c->keys[piv_key_index(p1)].algo == 0)
			return SW_REF_NOT_FOUND;
		return SW_WRONG_DATA;
	case 0xfa:
		return cmd_set_retries(c, p1, p2);
	case 0xfb:
		return cmd_reset(c);
	case 0xfd:
		wr_bytes(out, c->prof->ver, 3);
		return SW_OK;
	case 0xfe:
		return cmd_import(c, p1, p2, data, len);
	case 0xff:
		return cmd_set_mgm(c, p1, p2, data, len);
	default:
		return SW_INS;
	}
}
