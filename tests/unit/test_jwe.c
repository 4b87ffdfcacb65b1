/*
 * test_jwe.c - compact JWE: round trips, tampering, strict parsing,
 * RFC 7518 B.3 known answers and the real service files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "../../shares/b64.h"
#include "../../shares/jwe.h"
#include "../../shares/jwe_internal.h"
#include "../../shares/kdf.h"
#include "../../shares/shamir.h"

static EVP_PKEY *rsa_key;

/* Never dereferenced: tells "output left untouched" from "set to NULL". */
static char sentinel;
#define NOT_NULL ((void *)&sentinel)

struct det_rng {
	uint64_t s;
};

static void
det_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct det_rng *d = ctx;
	uint64_t z;
	size_t i;

	for (i = 0; i < len; i++) {
		z = (d->s += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
}

/* Gives a fixed IV (and nothing else is drawn for dir). */
static void
iv_fill(void *ctx, uint8_t *buf, size_t len)
{
	assert_int_equal(len, JWE_IV_LEN);
	memcpy(buf, ctx, len);
}

static void
unhex(const char *hex, uint8_t *out, size_t out_len)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, out_len, hex, strlen(hex), " ",
	    &n, NULL), 0);
	assert_int_equal(n, out_len);
}

static char *
b64u(const void *p, size_t n)
{
	char *s = NULL;

	assert_int_equal(b64url_encode(p, n, &s), 0);
	return s;
}

static uint8_t *
unb64u(const char *s, size_t *n)
{
	uint8_t *p = NULL;

	assert_int_equal(b64url_decode(s, strlen(s), &p, n, NULL), 0);
	return p;
}

static void
split5(const char *c, char *seg[5])
{
	const char *p = c, *dot;
	int i;

	for (i = 0; i < 5; i++) {
		dot = strchr(p, '.');
		assert_true((dot != NULL) == (i < 4));
		seg[i] = dot ? strndup(p, (size_t)(dot - p)) : strdup(p);
		assert_non_null(seg[i]);
		p = dot ? dot + 1 : p;
	}
}

static char *
join5(char *const seg[5])
{
	char *c = NULL;

	assert_true(asprintf(&c, "%s.%s.%s.%s.%s", seg[0], seg[1], seg[2],
	    seg[3], seg[4]) > 0);
	return c;
}

static void
free5(char *seg[5])
{
	int i;

	for (i = 0; i < 5; i++) {
		free(seg[i]);
		seg[i] = NULL;
	}
}

/* A JWE from raw parts; a NULL header text means the dir default. */
static char *
make_jwe(const char *hdr, const uint8_t *ek, size_t ek_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len,
    const uint8_t *tag, size_t tag_len)
{
	char *seg[5], *c;

	if (hdr == NULL)
		hdr = "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}";
	seg[0] = b64u(hdr, strlen(hdr));
	seg[1] = b64u(ek, ek_len);
	seg[2] = b64u(iv, iv_len);
	seg[3] = b64u(ct, ct_len);
	seg[4] = b64u(tag, tag_len);
	c = join5(seg);
	free5(seg);
	return c;
}

static void
assert_msg(const struct sd_err *e, const char *want)
{
	if (strstr(e->msg, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", e->msg, want);
}

static void
expect_parse_fail(const char *c, int code, const char *want)
{
	struct jwe *j = NOT_NULL;
	struct sd_err e = { "" };
	int r;

	r = jwe_parse(c, strlen(c), &j, &e);
	if (r != code)
		fail_msg("parse gave %d (%s), expected %d for %s", r, e.msg,
		    code, c);
	assert_null(j);
	if (want != NULL)
		assert_msg(&e, want);
}

/* Parse and decrypt; on failure assert no plaintext came out. */
static int
open_dir(const char *c, const uint8_t cek[JWE_CEK_LEN],
    struct sd_secret **pt)
{
	struct jwe *j = NULL;
	struct sd_err e = { "" };
	int r;

	*pt = NOT_NULL;
	if ((r = jwe_parse(c, strlen(c), &j, &e)) != 0) {
		assert_null(j);
		*pt = NULL;
		return r;
	}
	r = jwe_decrypt(j, cek, pt, &e);
	if (r != 0)
		assert_null(*pt);
	else
		assert_non_null(*pt);
	jwe_free(j);
	return r;
}

/* RSA: unwrap the key, then as dir. */
static int
open_rsa(const char *c, EVP_PKEY *key, struct sd_secret **pt)
{
	struct sd_secret *cek = NOT_NULL;
	struct jwe *j = NULL;
	struct sd_err e = { "" };
	int r;

	*pt = NOT_NULL;
	if ((r = jwe_parse(c, strlen(c), &j, &e)) != 0) {
		assert_null(j);
		*pt = NULL;
		return r;
	}
	if ((r = rsa_oaep256_decrypt(key, j->ek, j->ek_len, &cek, &e)) != 0) {
		assert_null(cek);
		*pt = NULL;
		goto out;
	}
	assert_non_null(cek);
	if (cek->len != JWE_CEK_LEN) {
		*pt = NULL;
		r = SD_ERR_AUTH;
		goto out;
	}
	r = jwe_decrypt(j, cek->p, pt, &e);
	if (r != 0)
		assert_null(*pt);
 out:
	sd_secret_free(cek);
	jwe_free(j);
	return r;
}

static const size_t pt_lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 1000 };

static void
test_roundtrip_dir(void **state)
{
	struct det_rng d = { 7 };
	struct sd_rng rng = { det_fill, &d };
	uint8_t cek[JWE_CEK_LEN], pt[1000];
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	char *c = NOT_NULL;
	size_t i;

	(void)state;
	det_fill(&d, cek, sizeof(cek));
	det_fill(&d, pt, sizeof(pt));
	for (i = 0; i < sizeof(pt_lens) / sizeof(pt_lens[0]); i++) {
		assert_int_equal(jwe_encrypt_dir(cek, "hsm_backup", pt,
		    pt_lens[i], i % 2 ? &rng : NULL, &c, &e), 0);
		assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
		assert_string_equal(j->alg, "dir");
		assert_string_equal(j->enc, "A256CBC-HS512");
		assert_string_equal(j->kid, "hsm_backup");
		assert_int_equal(j->ek_len, 0);
		assert_int_equal(j->ct_len, (pt_lens[i] / 16 + 1) * 16);
		assert_int_equal(jwe_decrypt(j, cek, &out, &e), 0);
		assert_int_equal(out->len, pt_lens[i]);
		assert_memory_equal(out->p, pt, pt_lens[i]);
		sd_secret_free(out);
		jwe_free(j);
		free(c);
	}
}

static void
test_header_exact(void **state)
{
	uint8_t cek[JWE_CEK_LEN] = { 0 };
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	char *c = NULL, *seg[5];

	(void)state;
	assert_int_equal(jwe_encrypt_dir(cek, "hsm_backup",
	    (const uint8_t *)"x", 1, NULL, &c, &e), 0);
	split5(c, seg);
	/* byte for byte the service's header segment */
	assert_string_equal(seg[0], "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhT"
	    "NTEyIiwia2lkIjoiaHNtX2JhY2t1cCJ9");
	assert_string_equal(seg[1], "");
	assert_int_equal(strlen(seg[2]), 22);
	assert_int_equal(strlen(seg[4]), 43);
	free5(seg);
	free(c);

	assert_int_equal(jwe_encrypt_dir(cek, NULL, (const uint8_t *)"x", 1,
	    NULL, &c, &e), 0);
	assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
	assert_string_equal(j->header_json,
	    "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}");
	assert_null(j->kid);
	jwe_free(j);
	free(c);

	assert_int_equal(jwe_encrypt_rsa(rsa_key, "9572d6b9",
	    (const uint8_t *)"x", 1, NULL, &c, &e), 0);
	assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
	assert_string_equal(j->header_json, "{\"alg\":\"RSA-OAEP-256\","
	    "\"enc\":\"A256CBC-HS512\",\"kid\":\"9572d6b9\"}");
	assert_int_equal(j->ek_len, 256);
	jwe_free(j);
	free(c);

	/* a kid that is not UTF-8 cannot be put in a JSON header */
	c = NOT_NULL;
	assert_int_equal(jwe_encrypt_dir(cek, "\xff", (const uint8_t *)"x", 1,
	    NULL, &c, &e), SD_ERR_ARG);
	assert_null(c);
}

static void
test_roundtrip_rsa(void **state)
{
	struct det_rng d = { 9 };
	struct sd_rng rng = { det_fill, &d };
	uint8_t pt[1000];
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	char *c = NULL, *c2 = NULL;
	size_t i;

	(void)state;
	det_fill(&d, pt, sizeof(pt));
	for (i = 0; i < sizeof(pt_lens) / sizeof(pt_lens[0]); i++) {
		assert_int_equal(jwe_encrypt_rsa(rsa_key, "k", pt, pt_lens[i],
		    i % 2 ? &rng : NULL, &c, &e), 0);
		assert_int_equal(open_rsa(c, rsa_key, &out), 0);
		assert_int_equal(out->len, pt_lens[i]);
		assert_memory_equal(out->p, pt, pt_lens[i]);
		sd_secret_free(out);
		free(c);
	}
	/* fresh content key and IV each time */
	assert_int_equal(jwe_encrypt_rsa(rsa_key, "k", pt, 64, NULL, &c, &e),
	    0);
	assert_int_equal(jwe_encrypt_rsa(rsa_key, "k", pt, 64, NULL, &c2, &e),
	    0);
	assert_string_not_equal(c, c2);
	{
		struct sd_secret *k1 = NULL, *k2 = NULL;
		struct jwe *j1 = NULL, *j2 = NULL;

		assert_int_equal(jwe_parse(c, strlen(c), &j1, &e), 0);
		assert_int_equal(jwe_parse(c2, strlen(c2), &j2, &e), 0);
		assert_memory_not_equal(j1->iv, j2->iv, JWE_IV_LEN);
		assert_int_equal(rsa_oaep256_decrypt(rsa_key, j1->ek,
		    j1->ek_len, &k1, &e), 0);
		assert_int_equal(rsa_oaep256_decrypt(rsa_key, j2->ek,
		    j2->ek_len, &k2, &e), 0);
		assert_int_equal(k1->len, JWE_CEK_LEN);
		assert_int_equal(k2->len, JWE_CEK_LEN);
		assert_memory_not_equal(k1->p, k2->p, JWE_CEK_LEN);
		sd_secret_free(k1);
		sd_secret_free(k2);
		jwe_free(j1);
		jwe_free(j2);
	}
	free(c);
	free(c2);
}

/* Flip one bit of the decoded part p at bit b, re-encode and rejoin. */
static char *
flip(const char *c, int p, size_t b)
{
	char *seg[5], *out;
	uint8_t *raw;
	size_t n;

	split5(c, seg);
	raw = unb64u(seg[p], &n);
	assert_true(b / 8 < n);
	raw[b / 8] ^= (uint8_t)(1u << (b % 8));
	free(seg[p]);
	seg[p] = b64u(raw, n);
	free(raw);
	out = join5(seg);
	free5(seg);
	return out;
}

static void
test_bitflips_dir(void **state)
{
	uint8_t cek[JWE_CEK_LEN], pt[40];
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	char *c = NULL, *bad, *seg[5];
	size_t n, b, k, len[5];
	uint8_t *raw;
	int p, r;

	(void)state;
	randombytes_buf(cek, sizeof(cek));
	randombytes_buf(pt, sizeof(pt));
	assert_int_equal(jwe_encrypt_dir(cek, "hsm_backup", pt, sizeof(pt),
	    NULL, &c, &e), 0);
	assert_int_equal(open_dir(c, cek, &out), 0);
	sd_secret_free(out);

	split5(c, seg);
	for (p = 0; p < 5; p++) {
		raw = unb64u(seg[p], &len[p]);
		free(raw);
	}
	free5(seg);
	/* every bit of the IV, ciphertext and tag: parse, then no auth */
	for (p = 2; p < 5; p++) {
		for (b = 0; b < len[p] * 8; b++) {
			bad = flip(c, p, b);
			assert_int_equal(open_dir(bad, cek, &out), SD_ERR_AUTH);
			free(bad);
		}
	}
	/* every bit of the header: bad JSON, unknown enc, or no auth */
	for (b = 0; b < len[0] * 8; b++) {
		bad = flip(c, 0, b);
		r = open_dir(bad, cek, &out);
		if (r != SD_ERR_AUTH && r != SD_ERR_FORMAT &&
		    r != SD_ERR_UNSUPPORTED)
			fail_msg("header bit %zu: %d", b, r);
		free(bad);
	}
	/* every character of the header segment, replaced by another */
	n = strchr(c, '.') - c;
	for (k = 0; k < n; k++) {
		bad = strdup(c);
		bad[k] = bad[k] == 'A' ? 'B' : 'A';
		r = open_dir(bad, cek, &out);
		if (r != SD_ERR_AUTH && r != SD_ERR_FORMAT &&
		    r != SD_ERR_UNSUPPORTED)
			fail_msg("header char %zu: %d", k, r);
		free(bad);
	}
	/* a dir JWE given an encrypted key is malformed */
	split5(c, seg);
	free(seg[1]);
	seg[1] = strdup("AAAA");
	bad = join5(seg);
	free5(seg);
	expect_parse_fail(bad, SD_ERR_FORMAT, "must be empty");
	free(bad);
	free(c);
}

static void
test_bitflips_rsa(void **state)
{
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	uint8_t pt[64];
	char *c = NULL, *bad;
	size_t b;
	int p;

	(void)state;
	randombytes_buf(pt, sizeof(pt));
	assert_int_equal(jwe_encrypt_rsa(rsa_key, "k", pt, sizeof(pt), NULL,
	    &c, &e), 0);
	assert_int_equal(open_rsa(c, rsa_key, &out), 0);
	assert_int_equal(out->len, 64);
	sd_secret_free(out);
	/* one bit in each byte of the wrapped key */
	for (b = 0; b < 256 * 8; b += 9) {
		bad = flip(c, 1, b);
		assert_int_equal(open_rsa(bad, rsa_key, &out), SD_ERR_AUTH);
		free(bad);
	}
	for (p = 2; p < 5; p++) {
		for (b = 0; b < 16 * 8; b += 3) {
			bad = flip(c, p, b);
			assert_int_equal(open_rsa(bad, rsa_key, &out),
			    SD_ERR_AUTH);
			free(bad);
		}
	}
	for (b = 0; b < 40 * 8; b += 5) {
		bad = flip(c, 0, b);
		assert_int_not_equal(open_rsa(bad, rsa_key, &out), 0);
		free(bad);
	}
	free(c);
}

static void
test_tag_lengths(void **state)
{
	uint8_t iv[16] = { 0 }, ct[16] = { 0 }, tag[40] = { 0 };
	char *c;

	(void)state;
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 16, tag, 0);
	expect_parse_fail(c, SD_ERR_FORMAT,
	    "JWE authentication tag is 0 bytes, expected 32");
	free(c);
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 16, tag, 31);
	expect_parse_fail(c, SD_ERR_FORMAT,
	    "JWE authentication tag is 31 bytes, expected 32");
	free(c);
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 16, tag, 33);
	expect_parse_fail(c, SD_ERR_FORMAT,
	    "JWE authentication tag is 33 bytes, expected 32");
	free(c);
	/* azure-cli's truncated 16-byte tag is refused too */
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 16, tag, 16);
	expect_parse_fail(c, SD_ERR_FORMAT, "16 bytes");
	free(c);
}

static void
test_part_counts(void **state)
{
	uint8_t iv[16] = { 0 }, ct[16] = { 0 }, tag[32] = { 0 };
	char *c, *c2;

	(void)state;
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 16, tag, 32);
	/* drop the last part: 4 parts */
	c2 = strdup(c);
	*strrchr(c2, '.') = '\0';
	expect_parse_fail(c2, SD_ERR_FORMAT, "JWE has 4 parts, expected 5");
	free(c2);
	assert_true(asprintf(&c2, "%s.AAAA", c) > 0);
	expect_parse_fail(c2, SD_ERR_FORMAT, "JWE has 6 parts, expected 5");
	free(c2);
	expect_parse_fail("", SD_ERR_FORMAT, "1 parts");
	expect_parse_fail("....", SD_ERR_FORMAT, "protected header is empty");
	free(c);
}

static void
test_bad_base64url(void **state)
{
	static const char bad_chars[] = "+/= \n!\"\\\t*";
	uint8_t iv[16] = { 0 }, ct[16] = { 0 }, tag[32] = { 0 };
	char *c, *seg[5], *bad, *save, want[64];
	size_t i, k;
	int p;

	(void)state;
	c = make_jwe(NULL, (const uint8_t *)"", 0, iv, 16, ct, 16, tag, 32);
	for (p = 0; p < 5; p++) {
		for (i = 0; bad_chars[i] != '\0'; i++) {
			split5(c, seg);
			save = seg[p];
			/* put the bad character at offset 7 (or 0 if empty) */
			k = strlen(save) > 7 ? 7 : 0;
			if (strlen(save) > 7) {
				seg[p] = strdup(save);
				seg[p][7] = bad_chars[i];
			} else {
				assert_true(asprintf(&seg[p], "%c",
				    bad_chars[i]) > 0);
			}
			free(save);
			bad = join5(seg);
			free5(seg);
			snprintf(want, sizeof(want),
			    "invalid base64url at offset %zu", k);
			expect_parse_fail(bad, SD_ERR_FORMAT, want);
			free(bad);
		}
	}
	/* the message names the part */
	split5(c, seg);
	seg[2][7] = '+';
	bad = join5(seg);
	free5(seg);
	expect_parse_fail(bad, SD_ERR_FORMAT,
	    "JWE initialization vector: invalid base64url at offset 7");
	free(bad);

	/* padding, as standard base64 would write it, is refused */
	split5(c, seg);
	save = seg[2];
	assert_true(asprintf(&seg[2], "%s==", save) > 0);
	free(save);
	bad = join5(seg);
	free5(seg);
	expect_parse_fail(bad, SD_ERR_FORMAT, "offset 22");
	free(bad);

	/* a lone trailing character (length 1 mod 4) and unused bits set */
	split5(c, seg);
	save = seg[4];
	assert_true(asprintf(&seg[4], "%sAA", save) > 0);
	free(save);
	bad = join5(seg);
	free5(seg);
	expect_parse_fail(bad, SD_ERR_FORMAT,
	    "JWE authentication tag: invalid base64url at offset 44");
	free(bad);
	split5(c, seg);
	/* 32 bytes encode to 43 chars whose last carries 2 unused bits */
	assert_int_equal(strlen(seg[4]), 43);
	seg[4][42] = 'B';
	bad = join5(seg);
	free5(seg);
	expect_parse_fail(bad, SD_ERR_FORMAT, "offset 42");
	free(bad);
	free(c);

	/* a NUL inside the counted length is not text */
	{
		char nul[] = "eyJ\0.x.y.z.w";
		struct jwe *j = NOT_NULL;

		assert_int_equal(jwe_parse(nul, sizeof(nul) - 1, &j, NULL),
		    SD_ERR_FORMAT);
		assert_null(j);
	}
}

static void
test_bad_headers(void **state)
{
	static const struct {
		const char *hdr;
		int code;
		const char *msg;
	} cases[] = {
		{ "not json", SD_ERR_FORMAT, "not valid JSON" },
		{ "", SD_ERR_FORMAT, "empty" },
		{ "[1,2]", SD_ERR_FORMAT, "not a JSON object" },
		{ "\"alg\"", SD_ERR_FORMAT, "not a JSON object" },
		{ "{\"enc\":\"A256CBC-HS512\"}", SD_ERR_FORMAT, "no \"alg\"" },
		{ "{\"alg\":\"dir\"}", SD_ERR_FORMAT, "no \"enc\"" },
		{ "{\"alg\":1,\"enc\":\"A256CBC-HS512\"}", SD_ERR_FORMAT,
		  "\"alg\" is not a string" },
		{ "{\"alg\":\"dir\",\"enc\":null}", SD_ERR_FORMAT,
		  "\"enc\" is not a string" },
		{ "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":[]}",
		  SD_ERR_FORMAT, "\"kid\" is not a string" },
		{ "{\"alg\":\"dir\",\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
		  SD_ERR_FORMAT, "not valid JSON" },
		{ "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"} x",
		  SD_ERR_FORMAT, "not valid JSON" },
		{ "{\"alg\":\"di\\u0000r\",\"enc\":\"A256CBC-HS512\"}",
		  SD_ERR_FORMAT, "not valid JSON" },
		{ "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"zip\":\"DEF\"}",
		  SD_ERR_UNSUPPORTED, "zip" },
		{ "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\","
		  "\"crit\":[\"x\"]}",
		  SD_ERR_UNSUPPORTED, "crit" },
	};
	uint8_t iv[16] = { 0 }, ct[16] = { 0 }, tag[32] = { 0 };
	char *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = make_jwe(cases[i].hdr, NULL, 0, iv, 16, ct, 16, tag, 32);
		expect_parse_fail(c, cases[i].code, cases[i].msg);
		free(c);
	}
	/* invalid UTF-8 in the header */
	c = make_jwe("{\"alg\":\"\xff\",\"enc\":\"A256CBC-HS512\"}", NULL, 0,
	    iv, 16, ct, 16, tag, 32);
	expect_parse_fail(c, SD_ERR_FORMAT, "not valid JSON");
	free(c);
}

static void
test_iv_lengths(void **state)
{
	uint8_t iv[17] = { 0 }, ct[16] = { 0 }, tag[32] = { 0 };
	char *c;

	(void)state;
	c = make_jwe(NULL, NULL, 0, iv, 15, ct, 16, tag, 32);
	expect_parse_fail(c, SD_ERR_FORMAT,
	    "JWE initialization vector is 15 bytes, expected 16");
	free(c);
	c = make_jwe(NULL, NULL, 0, iv, 17, ct, 16, tag, 32);
	expect_parse_fail(c, SD_ERR_FORMAT, "17 bytes, expected 16");
	free(c);
	c = make_jwe(NULL, NULL, 0, iv, 0, ct, 16, tag, 32);
	expect_parse_fail(c, SD_ERR_FORMAT, "0 bytes, expected 16");
	free(c);
}

static void
test_ct_lengths(void **state)
{
	static const size_t bad[] = { 0, 1, 15, 17, 31, 33 };
	uint8_t iv[16] = { 0 }, ct[48] = { 0 }, tag[32] = { 0 };
	char *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = make_jwe(NULL, NULL, 0, iv, 16, ct, bad[i], tag, 32);
		expect_parse_fail(c, SD_ERR_FORMAT, "JWE ciphertext is");
		free(c);
	}
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 48, tag, 32);
	{
		struct jwe *j = NULL;

		assert_int_equal(jwe_parse(c, strlen(c), &j, NULL), 0);
		assert_int_equal(j->ct_len, 48);
		jwe_free(j);
	}
	free(c);
}

static void
test_wrong_cek(void **state)
{
	uint8_t cek[JWE_CEK_LEN], other[JWE_CEK_LEN];
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	char *c = NULL;
	size_t i;

	(void)state;
	randombytes_buf(cek, sizeof(cek));
	assert_int_equal(jwe_encrypt_dir(cek, "t", (const uint8_t *)"secret",
	    6, NULL, &c, &e), 0);
	assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
	/* any single bit of the MAC half changed */
	for (i = 0; i < 32 * 8; i += 7) {
		memcpy(other, cek, sizeof(cek));
		other[i / 8] ^= (uint8_t)(1u << (i % 8));
		out = NOT_NULL;
		assert_int_equal(jwe_decrypt(j, other, &out, &e), SD_ERR_AUTH);
		assert_null(out);
		assert_msg(&e, "tag does not match");
	}
	randombytes_buf(other, sizeof(other));
	assert_int_equal(jwe_decrypt(j, other, &out, &e), SD_ERR_AUTH);
	assert_null(out);
	assert_int_equal(jwe_decrypt(j, cek, &out, &e), 0);
	assert_memory_equal(out->p, "secret", 6);
	sd_secret_free(out);
	jwe_free(j);
	free(c);
}

/*
 * A correct tag over bad padding: with the AES half of the key changed the
 * MAC still passes, so this reaches the padding check, which must fail
 * as SD_ERR_AUTH with no plaintext.  Built by hand, so the padding is
 * known bad: the last plaintext block ends in 0x00.
 */
static void
test_bad_padding(void **state)
{
	static const char hdr[] =
	    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0";
	uint8_t cek[JWE_CEK_LEN], iv[16], pt[32], ct[32], tag[32];
	EVP_CIPHER_CTX *ctx;
	struct sd_secret *out = NULL;
	char *c;
	int n = 0;

	(void)state;
	randombytes_buf(cek, sizeof(cek));
	randombytes_buf(iv, sizeof(iv));
	memset(pt, 0x41, sizeof(pt));
	pt[31] = 0x00;
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL,
	    cek + 32, iv), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, ct, &n, pt, 32), 1);
	assert_int_equal(n, 32);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(jwe_a256cbc_hs512_tag(cek, (const uint8_t *)hdr,
	    strlen(hdr), iv, ct, sizeof(ct), tag), 0);
	c = make_jwe("{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}", NULL, 0,
	    iv, 16, ct, 32, tag, 32);
	assert_int_equal(strncmp(c, hdr, strlen(hdr)), 0);
	assert_int_equal(open_dir(c, cek, &out), SD_ERR_AUTH);
	free(c);

	/* the same with good padding opens: the test above is not vacuous */
	pt[31] = 0x01;
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL,
	    cek + 32, iv), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, ct, &n, pt, 32), 1);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(jwe_a256cbc_hs512_tag(cek, (const uint8_t *)hdr,
	    strlen(hdr), iv, ct, sizeof(ct), tag), 0);
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 32, tag, 32);
	assert_int_equal(open_dir(c, cek, &out), 0);
	assert_int_equal(out->len, 31);
	sd_secret_free(out);
	free(c);
}

/*
 * The padding is taken off by jwe.c itself, without branching on it (see
 * tests/ct/): every length 1..16 opens to the right plaintext; a pad byte
 * of 0 or above 16, or one padding byte unlike the others, is refused.
 */
static int
open_padded(const uint8_t pt[32], struct sd_secret **out)
{
	static const char hdr[] =
	    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0";
	uint8_t cek[JWE_CEK_LEN], iv[16], ct[32], tag[32];
	EVP_CIPHER_CTX *ctx;
	char *c;
	int n = 0, r;

	randombytes_buf(cek, sizeof(cek));
	randombytes_buf(iv, sizeof(iv));
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL,
	    cek + 32, iv), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, ct, &n, pt, 32), 1);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(jwe_a256cbc_hs512_tag(cek, (const uint8_t *)hdr,
	    strlen(hdr), iv, ct, sizeof(ct), tag), 0);
	c = make_jwe(NULL, NULL, 0, iv, 16, ct, 32, tag, 32);
	r = open_dir(c, cek, out);
	free(c);
	return r;
}

static void
test_padding_every_length(void **state)
{
	struct sd_secret *out = NULL;
	uint8_t pt[32];
	unsigned p, k;

	(void)state;
	for (p = 0; p < 256; p++) {
		memset(pt, 0x5a, sizeof(pt));
		memset(pt + 32 - (p > 32 ? 32 : p), (int)p, p > 32 ? 32 : p);
		pt[31] = (uint8_t)p;
		if (p >= 1 && p <= 16) {
			assert_int_equal(open_padded(pt, &out), 0);
			assert_int_equal(out->len, 32 - p);
			assert_memory_equal(out->p, pt, 32 - p);
			sd_secret_free(out);
			out = NULL;
			/* each padding byte in turn made wrong */
			for (k = 1; k < p; k++) {
				pt[31 - k] ^= 0x40;
				assert_int_equal(open_padded(pt, &out),
				    SD_ERR_AUTH);
				assert_null(out);
				pt[31 - k] ^= 0x40;
			}
		} else {
			assert_int_equal(open_padded(pt, &out), SD_ERR_AUTH);
			assert_null(out);
		}
	}
}

static void
test_unsupported_enc(void **state)
{
	uint8_t cek[JWE_CEK_LEN] = { 0 }, iv[16] = { 0 }, ct[16] = { 0 };
	uint8_t tag[32] = { 0 };
	struct sd_secret *out = NOT_NULL;
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	char *c;

	(void)state;
	c = make_jwe("{\"alg\":\"dir\",\"enc\":\"A256GCM\"}", NULL, 0, iv, 16,
	    ct, 16, tag, 32);
	assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
	assert_int_equal(jwe_decrypt(j, cek, &out, &e), SD_ERR_UNSUPPORTED);
	assert_null(out);
	assert_msg(&e, "A256GCM");
	jwe_free(j);
	free(c);
	/* RSA-OAEP-256 needs a wrapped key */
	c = make_jwe("{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256CBC-HS512\"}",
	    NULL, 0, iv, 16, ct, 16, tag, 32);
	expect_parse_fail(c, SD_ERR_FORMAT, "encrypted key is empty");
	free(c);
}

static void
test_too_long(void **state)
{
	struct jwe *j = NOT_NULL;
	struct sd_err e = { "" };
	char *big;

	(void)state;
	assert_non_null(big = malloc(JWE_MAX_LEN + 1));
	memset(big, 'A', JWE_MAX_LEN + 1);
	assert_int_equal(jwe_parse(big, JWE_MAX_LEN + 1, &j, &e),
	    SD_ERR_LIMIT);
	assert_null(j);
	/* at the limit it gets as far as counting parts */
	j = NOT_NULL;
	assert_int_equal(jwe_parse(big, JWE_MAX_LEN, &j, &e), SD_ERR_FORMAT);
	assert_null(j);
	assert_msg(&e, "1 parts");
	free(big);
}

/* RFC 7518 Appendix B.3, AEAD_AES_256_CBC_HMAC_SHA_512 */
#define B3_K \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" \
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
#define B3_P \
	"41206369706865722073797374656d20" "6d757374206e6f742062652072657175" \
	"6972656420746f206265207365637265" "742c20616e64206974206d7573742062" \
	"652061626c6520746f2066616c6c2069" "6e746f207468652068616e6473206f66" \
	"2074686520656e656d7920776974686f" "757420696e636f6e76656e69656e6365"
#define B3_IV "1af38c2dc2b96ffdd86694092341bc04"
#define B3_A "The second principle of Auguste Kerckhoffs"
#define B3_C \
	"4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd" \
	"822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b" \
	"36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3" \
	"a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950b" \
	"be2638d09dd7a4930930806d0703b1f6"
#define B3_T \
	"4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5"

struct b3 {
	uint8_t k[64], p[128], iv[16], c[144], t[32];
};

static void
b3_load(struct b3 *v)
{
	unhex(B3_K, v->k, sizeof(v->k));
	unhex(B3_P, v->p, sizeof(v->p));
	unhex(B3_IV, v->iv, sizeof(v->iv));
	unhex(B3_C, v->c, sizeof(v->c));
	unhex(B3_T, v->t, sizeof(v->t));
	/* P is this text; A is ASCII too, as our header segments are */
	assert_memory_equal(v->p, "A cipher system must not be required to be "
	    "secret, and it must be able to fall into the hands of the enemy "
	    "without inconvenience", sizeof(v->p));
	assert_int_equal(strlen(B3_A), 42);
}

static void
test_rfc7518_b3_tag(void **state)
{
	struct b3 v;
	uint8_t tag[32];

	(void)state;
	b3_load(&v);
	assert_int_equal(jwe_a256cbc_hs512_tag(v.k, (const uint8_t *)B3_A,
	    strlen(B3_A), v.iv, v.c, sizeof(v.c), tag), 0);
	assert_memory_equal(tag, v.t, sizeof(tag));
	/* a different AAD length changes AL and so the tag */
	assert_int_equal(jwe_a256cbc_hs512_tag(v.k, (const uint8_t *)B3_A,
	    strlen(B3_A) - 1, v.iv, v.c, sizeof(v.c), tag), 0);
	assert_memory_not_equal(tag, v.t, sizeof(tag));
}

/* jwe_decrypt authenticates header_b64 as given: the RFC's A fits there. */
static void
test_rfc7518_b3_decrypt(void **state)
{
	struct b3 v;
	struct jwe j;
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	char a[] = B3_A, enc[] = "A256CBC-HS512", alg[] = "dir";

	(void)state;
	b3_load(&v);
	memset(&j, 0, sizeof(j));
	j.header_b64 = a;
	j.alg = alg;
	j.enc = enc;
	memcpy(j.iv, v.iv, 16);
	j.ct = v.c;
	j.ct_len = sizeof(v.c);
	memcpy(j.tag, v.t, 32);
	assert_int_equal(jwe_decrypt(&j, v.k, &out, &e), 0);
	assert_int_equal(out->len, sizeof(v.p));
	assert_memory_equal(out->p, v.p, sizeof(v.p));
	sd_secret_free(out);
	j.tag[31] ^= 1;
	out = NOT_NULL;
	assert_int_equal(jwe_decrypt(&j, v.k, &out, &e), SD_ERR_AUTH);
	assert_null(out);
}

/* Encryption with the RFC's key and IV gives the RFC's C, plus padding. */
static void
test_rfc7518_b3_encrypt(void **state)
{
	struct b3 v;
	struct sd_rng rng;
	struct sd_err e = { "" };
	char *c = NULL, *seg[5];
	uint8_t *ct, *tag;
	size_t n;

	(void)state;
	b3_load(&v);
	rng.fill = iv_fill;
	rng.ctx = v.iv;
	assert_int_equal(jwe_encrypt_dir(v.k, NULL, v.p, sizeof(v.p), &rng,
	    &c, &e), 0);
	split5(c, seg);
	ct = unb64u(seg[3], &n);
	assert_int_equal(n, sizeof(v.c));
	assert_memory_equal(ct, v.c, sizeof(v.c));
	free(ct);
	ct = unb64u(seg[2], &n);
	assert_memory_equal(ct, v.iv, 16);
	free(ct);
	/* and the tag is the B.3 computation over our header segment */
	tag = unb64u(seg[4], &n);
	assert_int_equal(n, 32);
	{
		uint8_t want[32];

		assert_int_equal(jwe_a256cbc_hs512_tag(v.k,
		    (const uint8_t *)seg[0], strlen(seg[0]), v.iv, v.c,
		    sizeof(v.c), want), 0);
		assert_memory_equal(tag, want, 32);
	}
	free(tag);
	free5(seg);
	free(c);
}

static void
test_rsa_oaep_errors(void **state)
{
	EVP_PKEY *other, *ec;
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	uint8_t *ct = NULL;
	size_t n = 0;

	(void)state;
	assert_non_null(other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	assert_int_equal(rsa_oaep256_encrypt(rsa_key, (const uint8_t *)"key",
	    3, &ct, &n, &e), 0);
	assert_int_equal(n, 256);
	assert_int_equal(rsa_oaep256_decrypt(rsa_key, ct, n, &out, &e), 0);
	assert_int_equal(out->len, 3);
	assert_memory_equal(out->p, "key", 3);
	sd_secret_free(out);
	out = NOT_NULL;
	assert_int_equal(rsa_oaep256_decrypt(other, ct, n, &out, &e),
	    SD_ERR_AUTH);
	assert_null(out);
	out = NOT_NULL;
	assert_int_equal(rsa_oaep256_decrypt(rsa_key, ct, n - 1, &out, &e),
	    SD_ERR_AUTH);
	assert_null(out);
	ct[100] ^= 0x40;
	out = NOT_NULL;
	assert_int_equal(rsa_oaep256_decrypt(rsa_key, ct, n, &out, &e),
	    SD_ERR_AUTH);
	assert_null(out);
	free(ct);

	assert_non_null(ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	ct = NOT_NULL;
	assert_int_equal(rsa_oaep256_encrypt(ec, (const uint8_t *)"key", 3,
	    &ct, &n, &e), SD_ERR_KEY);
	assert_null(ct);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
}

/* b64.c has no test file of its own: its contract is checked here. */
static void
expect_b64_fail(int std, const char *in, const char *want)
{
	struct sd_err e = { "" };
	uint8_t *out = NOT_NULL;
	size_t n = 99;
	int r;

	r = std ? b64std_decode(in, strlen(in), &out, &n, &e) :
	    b64url_decode(in, strlen(in), &out, &n, &e);
	if (r != SD_ERR_FORMAT)
		fail_msg("\"%s\" decoded (%d)", in, r);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_msg(&e, want);
}

static void
test_b64_codecs(void **state)
{
	static const uint8_t bin[] = { 0xfb, 0xff, 0xbf, 0x00, 0x3e };
	struct sd_err e = { "" };
	uint8_t *out = NULL;
	char *s = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(b64url_encode(bin, sizeof(bin), &s), 0);
	assert_string_equal(s, "-_-_AD4");
	assert_int_equal(b64url_decode(s, strlen(s), &out, &n, &e), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(out, bin, n);
	free(out);
	free(s);
	assert_int_equal(b64std_encode(bin, sizeof(bin), &s), 0);
	assert_string_equal(s, "+/+/AD4=");
	assert_int_equal(b64std_decode(s, strlen(s), &out, &n, &e), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(out, bin, n);
	free(out);
	free(s);
	/* empty in, empty out, but a real buffer */
	assert_int_equal(b64url_encode(NULL, 0, &s), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(b64url_decode("", 0, &out, &n, &e), 0);
	assert_non_null(out);
	assert_int_equal(n, 0);
	free(out);
	/* only the counted length is read */
	assert_int_equal(b64url_decode("QUJD!!", 4, &out, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ABC", 3);
	free(out);

	expect_b64_fail(0, "-_-_AD4=", "invalid base64url at offset 7");
	expect_b64_fail(0, "+/+/AD4", "invalid base64url at offset 0");
	expect_b64_fail(0, "QUJD QUJD", "invalid base64url at offset 4");
	expect_b64_fail(0, "QUJD\n", "invalid base64url at offset 4");
	expect_b64_fail(0, "QUJDQ", "invalid base64url at offset 4");
	expect_b64_fail(0, "QUJDQR", "invalid base64url at offset 5");
	expect_b64_fail(1, "-_-_AD4=", "invalid base64 at offset 0");
	expect_b64_fail(1, "+/+/AD4", "invalid base64 at offset 6");
	expect_b64_fail(1, "QUI", "invalid base64 at offset 2");
	expect_b64_fail(1, "QUI==", "invalid base64 at offset 4");
	expect_b64_fail(1, "QUI=\n", "invalid base64 at offset 4");
	expect_b64_fail(1, "QR==", "invalid base64 at offset 1");
	expect_b64_fail(1, "QUJD=", "invalid base64 at offset 4");
	expect_b64_fail(1, "=", "invalid base64 at offset 0");
	/*
	 * Bytes from 0x80 up are no base64 character (libsodium 1.0.18
	 * decoded them as the 64th letter: found by tests/fuzz/fuzz_jwe).
	 */
	expect_b64_fail(0, "QUJ\xff", "invalid base64url at offset 3");
	expect_b64_fail(0, "QU\x80" "D", "invalid base64url at offset 2");
	expect_b64_fail(0, "\xdf", "invalid base64url at offset 0");
	expect_b64_fail(1, "QUJ\xbf", "invalid base64 at offset 3");
	expect_b64_fail(1, "QU\xaf" "=", "invalid base64 at offset 2");
	expect_b64_fail(1, "\xff\xff==", "invalid base64 at offset 0");
}

/* ---- the real service files ---- */

static const char *const vector_dirs[] = { "2020-09", "2022-08", "2023-05" };

static json_t *
load_sd(const char *dir)
{
	const char *base = getenv("SDTOOL_VECTORS");
	json_error_t jerr;
	json_t *root;
	char *path = NULL;

	if (base == NULL || *base == '\0')
		return NULL;
	assert_true(asprintf(&path, "%s/%s/sd.json", base, dir) > 0);
	if ((root = json_load_file(path, 0, &jerr)) == NULL)
		fail_msg("%s: %s", path, jerr.text);
	free(path);
	return root;
}

static const char *
jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_service_vectors_parse(void **state)
{
	json_t *root, *data, *shares, *item;
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	const char *c;
	size_t d, i, nparsed = 0;

	if (getenv("SDTOOL_VECTORS") == NULL)
		skip();
	for (d = 0; d < sizeof(vector_dirs) / sizeof(vector_dirs[0]); d++) {
		root = load_sd(vector_dirs[d]);
		data = json_object_get(json_object_get(root, "EncData"),
		    "data");
		shares = json_object_get(json_object_get(root, "SharedKeys"),
		    "enc_shares");
		assert_int_equal(json_array_size(data), 3);
		assert_int_equal(json_array_size(shares), 3);
		json_array_foreach(data, i, item) {
			c = jstr(item, "compact_jwe");
			if (jwe_parse(c, strlen(c), &j, &e) != 0)
				fail_msg("%s data[%zu]: %s", vector_dirs[d], i,
				    e.msg);
			assert_string_equal(j->alg, "dir");
			assert_string_equal(j->enc, "A256CBC-HS512");
			assert_non_null(j->kid);
			assert_string_equal(j->kid, jstr(item, "tag"));
			assert_int_equal(j->ek_len, 0);
			assert_true(j->ct_len > 0 && j->ct_len % 16 == 0);
			jwe_free(j);
			nparsed++;
		}
		json_array_foreach(shares, i, item) {
			c = jstr(item, "enc_key");
			if (jwe_parse(c, strlen(c), &j, &e) != 0)
				fail_msg("%s share %zu: %s", vector_dirs[d], i,
				    e.msg);
			assert_string_equal(j->alg, "RSA-OAEP-256");
			assert_string_equal(j->enc, "A256CBC-HS512");
			assert_non_null(j->kid);
			if (strcmp(vector_dirs[d], "2020-09") == 0)
				assert_string_equal(j->kid, "not used");
			assert_int_equal(j->ek_len, 256);
			/* a 64-byte share plus a full block of padding */
			assert_int_equal(j->ct_len, 80);
			jwe_free(j);
			nparsed++;
		}
		json_decref(root);
	}
	assert_int_equal(nparsed, 18);
}

static EVP_PKEY *
load_key(const char *rel)
{
	EVP_PKEY *k;
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", getenv("SDTOOL_VECTORS"),
	    rel) > 0);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot open %s", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		fail_msg("cannot read %s", path);
	free(path);
	return k;
}

/*
 * Open each real file end to end with the public test keys: every share
 * opens with exactly one of the six keys, every pair of shares gives the
 * same master secret, and every data item then authenticates.
 */
static void
test_service_vectors_decrypt(void **state)
{
	static const char *const key_files[] = {
		"keys/sd1.key", "keys/sd2.key", "keys/sd3.key",
		"certs/cert_0.key", "certs/cert_1.key", "certs/cert_2.key",
	};
	EVP_PKEY *keys[6];
	struct sd_secret *share[3], *cek, *master, *first, *pt;
	const uint8_t *pick[3];
	json_t *root, *data, *shares, *item;
	struct sd_err e = { "" };
	struct jwe *j;
	uint8_t dek[JWE_CEK_LEN];
	const char *c, *tag;
	size_t d, i, k, a, b, opened;
	unsigned x;
	int r;

	if (getenv("SDTOOL_VECTORS") == NULL)
		skip();
	for (k = 0; k < 6; k++)
		keys[k] = load_key(key_files[k]);
	for (d = 0; d < sizeof(vector_dirs) / sizeof(vector_dirs[0]); d++) {
		root = load_sd(vector_dirs[d]);
		data = json_object_get(json_object_get(root, "EncData"),
		    "data");
		shares = json_object_get(json_object_get(root, "SharedKeys"),
		    "enc_shares");
		json_array_foreach(shares, i, item) {
			c = jstr(item, "enc_key");
			assert_int_equal(jwe_parse(c, strlen(c), &j, &e), 0);
			share[i] = NULL;
			for (opened = 0, k = 0; k < 6; k++) {
				r = rsa_oaep256_decrypt(keys[k], j->ek,
				    j->ek_len, &cek, &e);
				if (r == SD_ERR_AUTH)
					continue;
				assert_int_equal(r, 0);
				opened++;
				assert_int_equal(cek->len, JWE_CEK_LEN);
				assert_int_equal(jwe_decrypt(j, cek->p,
				    &share[i], &e), 0);
				sd_secret_free(cek);
			}
			assert_int_equal(opened, 1);
			assert_int_equal(share[i]->len, 64);
			assert_int_equal(shamir_share_x(share[i]->p, 64, &x,
			    &e), 0);
			assert_int_equal(x, i + 1);
			jwe_free(j);
		}
		first = NULL;
		for (a = 0; a < 3; a++) {
			for (b = a + 1; b < 3; b++) {
				pick[0] = share[a]->p;
				pick[1] = share[b]->p;
				assert_int_equal(shamir_combine(pick, 2, 64,
				    &master, &e), 0);
				assert_int_equal(master->len, 32);
				if (first == NULL) {
					first = master;
					continue;
				}
				assert_memory_equal(master->p, first->p, 32);
				sd_secret_free(master);
			}
		}
		json_array_foreach(data, i, item) {
			c = jstr(item, "compact_jwe");
			tag = jstr(item, "tag");
			assert_int_equal(sd_kdf_sp800_108(first->p, first->len,
			    (const uint8_t *)tag, strlen(tag), NULL, 0, dek,
			    sizeof(dek), &e), 0);
			if ((r = open_dir(c, dek, &pt)) != 0)
				fail_msg("%s %s: %d", vector_dirs[d], tag, r);
			assert_true(pt->len > 0);
			sd_secret_free(pt);
			/* and a key derived for another tag does not open it */
			assert_int_equal(sd_kdf_sp800_108(first->p, first->len,
			    (const uint8_t *)"hsm_backupX", 11, NULL, 0, dek,
			    sizeof(dek), &e), 0);
			assert_int_equal(open_dir(c, dek, &pt), SD_ERR_AUTH);
		}
		sodium_memzero(dek, sizeof(dek));
		sd_secret_free(first);
		for (i = 0; i < 3; i++)
			sd_secret_free(share[i]);
		json_decref(root);
	}
	for (k = 0; k < 6; k++)
		EVP_PKEY_free(keys[k]);
}

static int
setup(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return rsa_key != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_dir),
		cmocka_unit_test(test_header_exact),
		cmocka_unit_test(test_roundtrip_rsa),
		cmocka_unit_test(test_bitflips_dir),
		cmocka_unit_test(test_bitflips_rsa),
		cmocka_unit_test(test_tag_lengths),
		cmocka_unit_test(test_part_counts),
		cmocka_unit_test(test_bad_base64url),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_iv_lengths),
		cmocka_unit_test(test_ct_lengths),
		cmocka_unit_test(test_wrong_cek),
		cmocka_unit_test(test_bad_padding),
		cmocka_unit_test(test_padding_every_length),
		cmocka_unit_test(test_unsupported_enc),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_rfc7518_b3_tag),
		cmocka_unit_test(test_rfc7518_b3_decrypt),
		cmocka_unit_test(test_rfc7518_b3_encrypt),
		cmocka_unit_test(test_rsa_oaep_errors),
		cmocka_unit_test(test_b64_codecs),
		cmocka_unit_test(test_service_vectors_parse),
		cmocka_unit_test(test_service_vectors_decrypt),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
