/*
 * jwe.c - compact JWE with A256CBC-HS512, alg dir or RSA-OAEP-256, as the
 * Managed HSM writes it.
 *
 * Decryption authenticates first: the tag over header segment, IV and
 * ciphertext is checked in constant time, and only then is CBC padding
 * looked at, so padding errors cannot serve as an oracle.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "b64.h"
#include "ct.h"
#include "jwe.h"
#include "jwe_internal.h"

#define JWE_ENC_A256CBC_HS512 "A256CBC-HS512"
#define JWE_ALG_DIR "dir"
#define JWE_ALG_RSA_OAEP_256 "RSA-OAEP-256"
#define JWE_MAC_KEY_LEN 32
#define JWE_AES_KEY_LEN 32
#define JWE_NPARTS 5

enum { P_HEADER, P_EK, P_IV, P_CT, P_TAG };

static const char *const part_name[JWE_NPARTS] = {
	"JWE protected header",
	"JWE encrypted key",
	"JWE initialization vector",
	"JWE ciphertext",
	"JWE authentication tag",
};

void
jwe_free(struct jwe *j)
{
	if (j == NULL)
		return;
	free(j->header_b64);
	free(j->header_json);
	free(j->alg);
	free(j->enc);
	free(j->kid);
	free(j->ek);
	free(j->ct);
	free(j);
}

int
jwe_a256cbc_hs512_tag(const uint8_t mac_key[32], const uint8_t *aad,
    size_t aad_len, const uint8_t *iv, const uint8_t *ct, size_t ct_len,
    uint8_t tag[32])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t full[64], al[8];
	uint64_t bits;
	size_t n = 0;
	int i, r = SD_ERR_CRYPTO;

	if (aad_len > UINT64_MAX / 8)
		return SD_ERR_LIMIT;
	/* AL: the AAD's length in bits, 64-bit big endian */
	bits = (uint64_t)aad_len * 8;
	for (i = 0; i < 8; i++)
		al[i] = (uint8_t)(bits >> (56 - 8 * i));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    "SHA512", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, mac_key, JWE_MAC_KEY_LEN, params) != 1 ||
	    (aad_len != 0 && EVP_MAC_update(ctx, aad, aad_len) != 1) ||
	    EVP_MAC_update(ctx, iv, JWE_IV_LEN) != 1 ||
	    (ct_len != 0 && EVP_MAC_update(ctx, ct, ct_len) != 1) ||
	    EVP_MAC_update(ctx, al, sizeof(al)) != 1 ||
	    EVP_MAC_final(ctx, full, &n, sizeof(full)) != 1 ||
	    n != sizeof(full))
		goto out;
	/* T = the first half of the HMAC output (RFC 7518 5.2.5) */
	memcpy(tag, full, JWE_TAG_LEN);
	r = 0;
 out:
	if (r != 0)
		ERR_clear_error();
	sodium_memzero(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

/* A header member that must be a string if present; *out NULL if absent. */
static int
header_string(json_t *root, const char *name, int required, char **out,
    struct sd_err *e)
{
	json_t *v;

	*out = NULL;
	if ((v = json_object_get(root, name)) == NULL) {
		if (!required)
			return 0;
		return sd_err_set(e, SD_ERR_FORMAT,
		    "JWE protected header has no \"%s\"", name);
	}
	if (!json_is_string(v))
		return sd_err_set(e, SD_ERR_FORMAT,
		    "JWE protected header: \"%s\" is not a string", name);
	if ((*out = strdup(json_string_value(v))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

static int
parse_header(struct jwe *j, const char *seg, size_t seg_len,
    struct sd_err *e)
{
	json_t *root = NULL;
	json_error_t jerr;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	int r = SD_ERR_INTERNAL;

	if (seg_len == 0) {
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "JWE protected header is empty");
		goto out;
	}
	if ((r = b64url_decode(seg, seg_len, &raw, &raw_len, e)) != 0) {
		r = sd_err_prefix(e, r, "%s", part_name[P_HEADER]);
		goto out;
	}
	if ((j->header_b64 = strndup(seg, seg_len)) == NULL ||
	    (j->header_json = malloc(raw_len + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(j->header_json, raw, raw_len);
	j->header_json[raw_len] = '\0';
	/*
	 * No NUL in strings (the default), no key given twice; any value
	 * decodes so that a bare string is reported as "not an object".
	 */
	if ((root = json_loadb((const char *)raw, raw_len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)) == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "JWE protected header is not valid JSON: %s", jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "JWE protected header is not a JSON object");
		goto out;
	}
	if ((r = header_string(root, "alg", 1, &j->alg, e)) != 0 ||
	    (r = header_string(root, "enc", 1, &j->enc, e)) != 0 ||
	    (r = header_string(root, "kid", 0, &j->kid, e)) != 0)
		goto out;
	/* We neither decompress nor know any critical extension. */
	if (json_object_get(root, "zip") != NULL ||
	    json_object_get(root, "crit") != NULL) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED,
		    "JWE protected header uses \"zip\" or \"crit\"");
		goto out;
	}
	r = 0;
 out:
	json_decref(root);
	free(raw);
	return r;
}

/* Decode part i, naming it in any error. */
static int
decode_part(int i, const char *seg, size_t seg_len, uint8_t **out,
    size_t *out_len, struct sd_err *e)
{
	int r;

	if ((r = b64url_decode(seg, seg_len, out, out_len, e)) != 0)
		return sd_err_prefix(e, r, "%s", part_name[i]);
	return 0;
}

int
jwe_parse(const char *compact, size_t len, struct jwe **out,
    struct sd_err *e)
{
	struct jwe *j = NULL;
	const char *seg[JWE_NPARTS];
	size_t seg_len[JWE_NPARTS], i, nparts, start;
	uint8_t *iv = NULL, *tag = NULL;
	size_t iv_len = 0, tag_len = 0;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (compact == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no JWE");
	if (len > JWE_MAX_LEN)
		return sd_err_set(e, SD_ERR_LIMIT,
		    "JWE is %zu bytes, more than the %u accepted", len,
		    JWE_MAX_LEN);
	for (nparts = 1, i = 0; i < len; i++) {
		if (compact[i] == '.')
			nparts++;
	}
	if (nparts != JWE_NPARTS)
		return sd_err_set(e, SD_ERR_FORMAT,
		    "JWE has %zu parts, expected %d", nparts, JWE_NPARTS);
	for (nparts = 0, start = 0, i = 0; i <= len; i++) {
		if (i == len || compact[i] == '.') {
			seg[nparts] = compact + start;
			seg_len[nparts] = i - start;
			nparts++;
			start = i + 1;
		}
	}

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = parse_header(j, seg[P_HEADER], seg_len[P_HEADER], e)) != 0)
		goto out;

	if ((r = decode_part(P_EK, seg[P_EK], seg_len[P_EK], &j->ek,
	    &j->ek_len, e)) != 0)
		goto out;
	/* RFC 7516 5.2 step 10: dir has an empty encrypted key */
	if (strcmp(j->alg, JWE_ALG_DIR) == 0 && j->ek_len != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "JWE encrypted key must be empty for alg \"dir\"");
		goto out;
	}
	if (strcmp(j->alg, JWE_ALG_DIR) != 0 && j->ek_len == 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "JWE encrypted key is empty");
		goto out;
	}

	if ((r = decode_part(P_IV, seg[P_IV], seg_len[P_IV], &iv, &iv_len,
	    e)) != 0)
		goto out;
	if (iv_len != JWE_IV_LEN) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s is %zu bytes, expected %d",
		    part_name[P_IV], iv_len, JWE_IV_LEN);
		goto out;
	}
	memcpy(j->iv, iv, JWE_IV_LEN);

	if ((r = decode_part(P_CT, seg[P_CT], seg_len[P_CT], &j->ct,
	    &j->ct_len, e)) != 0)
		goto out;
	if (j->ct_len == 0 || j->ct_len % 16 != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "%s is %zu bytes, expected a non-zero multiple of 16",
		    part_name[P_CT], j->ct_len);
		goto out;
	}

	if ((r = decode_part(P_TAG, seg[P_TAG], seg_len[P_TAG], &tag,
	    &tag_len, e)) != 0)
		goto out;
	/* azure-cli skips the MAC when the tag is not 32 bytes: refuse */
	if (tag_len != JWE_TAG_LEN) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s is %zu bytes, expected %d",
		    part_name[P_TAG], tag_len, JWE_TAG_LEN);
		goto out;
	}
	memcpy(j->tag, tag, JWE_TAG_LEN);

	*out = j;
	j = NULL;
	r = 0;
 out:
	free(iv);
	free(tag);
	jwe_free(j);
	return r;
}

int
jwe_decrypt(const struct jwe *j, const uint8_t cek[static JWE_CEK_LEN],
    struct sd_secret **plaintext, struct sd_err *e)
{
	EVP_CIPHER_CTX *ctx = NULL;
	struct sd_secret *pt = NULL;
	uint8_t tag[JWE_TAG_LEN], *buf = NULL;
	uint32_t pad, bad;
	size_t i;
	int n1 = 0, n2 = 0, mismatch, r = SD_ERR_INTERNAL;

	*plaintext = NULL;
	if (j == NULL || cek == NULL || j->header_b64 == NULL ||
	    j->enc == NULL || j->ct == NULL)
		return sd_err_set(e, SD_ERR_ARG, "invalid JWE");
	if (strcmp(j->enc, JWE_ENC_A256CBC_HS512) != 0)
		return sd_err_set(e, SD_ERR_UNSUPPORTED,
		    "JWE content encryption \"%s\" is not supported", j->enc);
	if (j->ct_len == 0 || j->ct_len % 16 != 0 ||
	    j->ct_len > INT_MAX - 16)
		return sd_err_set(e, SD_ERR_FORMAT,
		    "JWE ciphertext is %zu bytes", j->ct_len);

	if ((r = jwe_a256cbc_hs512_tag(cek, (const uint8_t *)j->header_b64,
	    strlen(j->header_b64), j->iv, j->ct, j->ct_len, tag)) != 0) {
		r = sd_err_set(e, r, "computing the JWE tag failed");
		goto out;
	}
	/* constant time; only the verdict is public */
	mismatch = CRYPTO_memcmp(tag, j->tag, JWE_TAG_LEN) != 0;
	sd_ct_declassify(&mismatch, sizeof(mismatch));
	if (mismatch) {
		r = sd_err_set(e, SD_ERR_AUTH,
		    "JWE authentication tag does not match: wrong key or "
		    "altered data");
		goto out;
	}

	/*
	 * Decrypt every block, then take the PKCS#7 padding off here:
	 * OpenSSL's EVP_DecryptFinal_ex checks it with branches on the
	 * plaintext.  The tag is already checked, so the padding is the
	 * sender's; its length (the plaintext's) is no secret, its bytes are
	 * compared without branching all the same.
	 */
	if ((buf = sodium_malloc(j->ct_len + 16)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL,
	    cek + JWE_MAC_KEY_LEN, j->iv) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "AES-256-CBC unavailable");
		goto out;
	}
	if (EVP_DecryptUpdate(ctx, buf, &n1, j->ct, (int)j->ct_len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, buf + n1, &n2) != 1 ||
	    (size_t)n1 + (size_t)n2 != j->ct_len) {
		r = sd_err_set(e, SD_ERR_AUTH, "JWE decryption failed");
		goto out;
	}
	pad = buf[j->ct_len - 1];
	bad = sd_ct_eq(pad, 0) | (1 ^ sd_ct_in(pad, 1, 16));
	for (i = 0; i < 16; i++)
		bad |= sd_ct_ge(pad, (uint32_t)i + 1) &
		    sd_ct_nonzero(buf[j->ct_len - 1 - i] ^ pad);
	sd_ct_declassify(&bad, sizeof(bad));
	sd_ct_declassify(&pad, sizeof(pad));
	if (bad) {
		r = sd_err_set(e, SD_ERR_AUTH, "JWE decryption failed");
		goto out;
	}
	if ((pt = sd_secret_dup(buf, j->ct_len - pad)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	*plaintext = pt;
	pt = NULL;
	r = 0;
 out:
	if (r != 0)
		ERR_clear_error();
	sodium_memzero(tag, sizeof(tag));
	if (buf != NULL)
		sodium_free(buf);
	sd_secret_free(pt);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static int
jwe_encrypt(const uint8_t cek[static JWE_CEK_LEN], const char *alg,
    const char *kid, const uint8_t *ek, size_t ek_len, const uint8_t *pt,
    size_t pt_len, const struct sd_rng *rng, char **compact,
    struct sd_err *e)
{
	EVP_CIPHER_CTX *ctx = NULL;
	json_t *hdr = NULL;
	char *hdr_json = NULL, *part[JWE_NPARTS] = { NULL }, *res = NULL;
	uint8_t iv[JWE_IV_LEN], tag[JWE_TAG_LEN], *ct = NULL;
	size_t ct_len, total, off, n, i;
	int n1 = 0, n2 = 0, r = SD_ERR_INTERNAL;

	*compact = NULL;
	if (pt == NULL && pt_len != 0)
		return sd_err_set(e, SD_ERR_ARG, "no plaintext");
	if (pt_len > JWE_MAX_LEN / 2)
		return sd_err_set(e, SD_ERR_LIMIT, "plaintext too long");

	if ((hdr = json_object()) == NULL ||
	    json_object_set_new(hdr, "alg", json_string(alg)) != 0 ||
	    json_object_set_new(hdr, "enc",
	    json_string(JWE_ENC_A256CBC_HS512)) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* json_string() refuses text that is not UTF-8 */
	if (kid != NULL &&
	    json_object_set_new(hdr, "kid", json_string(kid)) != 0) {
		r = sd_err_set(e, SD_ERR_ARG, "JWE kid is not valid UTF-8");
		goto out;
	}
	if ((hdr_json = json_dumps(hdr,
	    JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = b64url_encode((const uint8_t *)hdr_json, strlen(hdr_json),
	    &part[P_HEADER])) != 0) {
		r = sd_err_set(e, r, "encoding the JWE header failed");
		goto out;
	}

	sd_random(rng, iv, sizeof(iv));
	/* PKCS#7 always adds 1..16 bytes */
	ct_len = (pt_len / 16 + 1) * 16;
	if ((ct = malloc(ct_len)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL,
	    cek + JWE_MAC_KEY_LEN, iv) != 1 ||
	    (pt_len != 0 &&
	    EVP_EncryptUpdate(ctx, ct, &n1, pt, (int)pt_len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, ct + n1, &n2) != 1 ||
	    (size_t)n1 + (size_t)n2 != ct_len) {
		r = sd_err_set(e, SD_ERR_CRYPTO,
		    "AES-256-CBC encryption failed");
		goto out;
	}
	if ((r = jwe_a256cbc_hs512_tag(cek, (const uint8_t *)part[P_HEADER],
	    strlen(part[P_HEADER]), iv, ct, ct_len, tag)) != 0) {
		r = sd_err_set(e, r, "computing the JWE tag failed");
		goto out;
	}
	if ((r = b64url_encode(ek, ek_len, &part[P_EK])) != 0 ||
	    (r = b64url_encode(iv, sizeof(iv), &part[P_IV])) != 0 ||
	    (r = b64url_encode(ct, ct_len, &part[P_CT])) != 0 ||
	    (r = b64url_encode(tag, sizeof(tag), &part[P_TAG])) != 0) {
		r = sd_err_set(e, r, "encoding the JWE failed");
		goto out;
	}

	for (total = 0, i = 0; i < JWE_NPARTS; i++)
		total += strlen(part[i]) + 1;   /* a '.' or the final NUL */
	/* never write what jwe_parse() would refuse */
	if (total - 1 > JWE_MAX_LEN) {
		r = sd_err_set(e, SD_ERR_LIMIT, "JWE would be too long");
		goto out;
	}
	if ((res = malloc(total)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (off = 0, i = 0; i < JWE_NPARTS; i++) {
		n = strlen(part[i]);
		memcpy(res + off, part[i], n);
		off += n;
		res[off++] = i + 1 < JWE_NPARTS ? '.' : '\0';
	}
	*compact = res;
	res = NULL;
	r = 0;
 out:
	if (r != 0)
		ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	json_decref(hdr);
	free(hdr_json);
	for (i = 0; i < JWE_NPARTS; i++)
		free(part[i]);
	free(ct);
	free(res);
	sodium_memzero(tag, sizeof(tag));
	return r;
}

int
jwe_encrypt_dir(const uint8_t cek[static JWE_CEK_LEN], const char *kid,
    const uint8_t *pt, size_t pt_len, const struct sd_rng *rng,
    char **compact, struct sd_err *e)
{
	*compact = NULL;
	if (cek == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no content key");
	return jwe_encrypt(cek, JWE_ALG_DIR, kid, NULL, 0, pt, pt_len, rng,
	    compact, e);
}

int
jwe_encrypt_rsa(EVP_PKEY *pub, const char *kid, const uint8_t *pt,
    size_t pt_len, const struct sd_rng *rng, char **compact,
    struct sd_err *e)
{
	struct sd_secret *cek = NULL;
	uint8_t *ek = NULL;
	size_t ek_len = 0;
	int r = SD_ERR_INTERNAL;

	*compact = NULL;
	if ((cek = sd_secret_new(JWE_CEK_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	sd_random(rng, cek->p, cek->len);
	if ((r = rsa_oaep256_encrypt(pub, cek->p, cek->len, &ek, &ek_len,
	    e)) != 0)
		goto out;
	if ((r = jwe_encrypt(cek->p, JWE_ALG_RSA_OAEP_256, kid, ek, ek_len,
	    pt, pt_len, rng, compact, e)) != 0)
		goto out;
	r = 0;
 out:
	free(ek);
	sd_secret_free(cek);
	return r;
}

/* An EVP_PKEY_CTX set up for RSA-OAEP with SHA-256 and MGF1-SHA-256. */
static int
oaep256_ctx(EVP_PKEY *key, int decrypt, EVP_PKEY_CTX **out,
    struct sd_err *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (key == NULL || !EVP_PKEY_is_a(key, "RSA")) {
		r = sd_err_set(e, SD_ERR_KEY, "not an RSA key");
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    (decrypt ? EVP_PKEY_decrypt_init(ctx) :
	    EVP_PKEY_encrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "cannot set up RSA-OAEP-256");
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	r = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
rsa_oaep256_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t in_len,
    uint8_t **out, size_t *out_len, struct sd_err *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if (in == NULL || in_len == 0)
		return sd_err_set(e, SD_ERR_ARG, "nothing to encrypt");
	if ((r = oaep256_ctx(pub, 0, &ctx, e)) != 0)
		goto out;
	if (EVP_PKEY_encrypt(ctx, NULL, &n, in, in_len) <= 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO,
		    "RSA-OAEP-256 encryption failed");
		goto out;
	}
	if ((buf = malloc(n)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, buf, &n, in, in_len) <= 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO,
		    "RSA-OAEP-256 encryption failed");
		goto out;
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
	r = 0;
 out:
	if (r != 0)
		ERR_clear_error();
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
rsa_oaep256_decrypt(EVP_PKEY *priv, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	struct sd_secret *s = NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (in == NULL || in_len == 0)
		return sd_err_set(e, SD_ERR_ARG, "nothing to decrypt");
	if ((r = oaep256_ctx(priv, 1, &ctx, e)) != 0)
		goto out;
	/* the size query gives the modulus size, an upper bound */
	if (EVP_PKEY_decrypt(ctx, NULL, &cap, in, in_len) <= 0 || cap == 0) {
		r = sd_err_set(e, SD_ERR_AUTH,
		    "RSA-OAEP-256 decryption failed");
		goto out;
	}
	if ((buf = sodium_malloc(cap)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	n = cap;
	if (EVP_PKEY_decrypt(ctx, buf, &n, in, in_len) <= 0) {
		r = sd_err_set(e, SD_ERR_AUTH,
		    "RSA-OAEP-256 decryption failed");
		goto out;
	}
	if ((s = sd_secret_dup(buf, n)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	*out = s;
	r = 0;
 out:
	if (r != 0)
		ERR_clear_error();
	if (buf != NULL)
		sodium_free(buf);
	EVP_PKEY_CTX_free(ctx);
	return r;
}
