/*
 * ct_test - constant time, tested: secrets go through the code that
 * handles them while valgrind memcheck sees them as undefined memory.
 * Memcheck reports every conditional jump (or conditional move) and every
 * memory address that depends on an undefined value, so a report here is
 * a branch or a table index that depends on a secret.  Run by
 * `make ct-check` as
 *
 *   valgrind --error-exitcode=99 build-ct/ct_test [SECTION...]
 *
 * which fails on any report.  Places where code must decide on a value
 * derived from a secret (a MAC's verdict, whether an encoding is valid)
 * declare it public with sd_ct_declassify() (shares/ct.h), which this
 * build (-DSD_CT_TEST) turns into VALGRIND_MAKE_MEM_DEFINED.
 *
 * The test's own checks of results declassify them first, or they would
 * be reported themselves.  `ct_test canary` branches on a secret on
 * purpose: make ct-check runs it and requires memcheck to object, so a
 * valgrind that sees nothing cannot pass the test.
 *
 * Covered: GF(257) Shamir split and combine (every quorum of the shares,
 * and shares that do not belong together), the JWE tag comparison and
 * decryption, host RSA-OAEP-256 unpadding (valid and invalid), base64url
 * and base64 encoding and decoding, escrow base32 encoding, decoding and
 * values, the typed copy's check characters (CRC-5) and the cutting into
 * QR parts.  Not covered: reading a typed copy or QR parts back
 * (escrow_text_decode, escrow_qr_add), whose parsers branch on whether
 * each character typed is valid and on whether each check character
 * matches: verdicts, but not yet declassified one by one.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <valgrind/memcheck.h>

#include "../../hw/key_impl.h"
#include "../../shares/b64.h"
#include "../../shares/escrow.h"
#include "../../shares/jwe.h"
#include "../../shares/shamir.h"

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

static int failures;

#define CHECK(cond, what) do {                                          \
	if (!(cond)) {                                                  \
		fprintf(stderr, "ct_test: FAIL %s (%s:%d)\n", what,     \
		    __FILE__, __LINE__);                                \
		failures++;                                             \
	}                                                               \
} while (0)

/* A deterministic source whose output is secret. */
static void
secret_fill(void *ctx, uint8_t *buf, size_t len)
{
	unsigned *state = ctx;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((*state = *state * 1103515245u + 12345u) >> 16);
	SECRET(buf, len);
}

/*
 * Shares carry public positions x (the top 7 bits of each 16-bit word)
 * beside secret values: mark only the value bits undefined, bit by bit.
 */
static void
secret_share(uint8_t *share, size_t len)
{
	uint8_t *vbits = malloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		vbits[i] = i % 2 == 0 ? 0xff : 0x01;   /* 1 = undefined */
	(void)VALGRIND_SET_VBITS(share, vbits, len);
	free(vbits);
}

static void
test_shamir(void)
{
	uint8_t secret[SD_SECRET_LEN];
	struct sd_secret *shares[5] = { NULL }, *out = NULL;
	const uint8_t *pick[5];
	unsigned seed = 7, mask, n = 5, m = 3, i, k;
	struct sd_rng rng = { secret_fill, &seed };
	struct sd_err e = { "" };
	uint8_t *copies[5];
	int r;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 37 + 1);
	SECRET(secret, sizeof(secret));
	r = shamir_split(secret, sizeof(secret), m, n, &rng, shares, &e);
	CHECK(r == 0, "shamir_split");
	if (r != 0)
		return;
	for (i = 0; i < n; i++) {
		copies[i] = malloc(shares[i]->len);
		memcpy(copies[i], shares[i]->p, shares[i]->len);
		PUBLIC(copies[i], shares[i]->len);
		secret_share(copies[i], shares[i]->len);
	}
	/* every subset of m or more shares */
	for (mask = 0; mask < (1u << n); mask++) {
		if ((unsigned)__builtin_popcount(mask) < m)
			continue;
		for (k = 0, i = 0; i < n; i++)
			if (mask & (1u << i))
				pick[k++] = copies[i];
		r = shamir_combine(pick, k, shares[0]->len, &out, &e);
		CHECK(r == 0, "shamir_combine");
		if (r == 0) {
			PUBLIC(out->p, out->len);
			PUBLIC(secret, sizeof(secret));
			CHECK(out->len == sizeof(secret) &&
			    memcmp(out->p, secret, sizeof(secret)) == 0,
			    "shamir_combine gives the secret back");
			SECRET(secret, sizeof(secret));
		}
		sd_secret_free(out);
		out = NULL;
	}
	/* fewer than m shares: a wrong secret, or a refusal, never a leak */
	pick[0] = copies[0];
	pick[1] = copies[1];
	r = shamir_combine(pick, 2, shares[0]->len, &out, &e);
	sd_secret_free(out);
	for (i = 0; i < n; i++) {
		free(copies[i]);
		sd_secret_free(shares[i]);
	}
}

static void
test_jwe(void)
{
	uint8_t cek[JWE_CEK_LEN], pt[100];
	struct sd_secret *got = NULL;
	struct sd_err e = { "" };
	struct jwe *j = NULL;
	char *compact = NULL;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cek); i++)
		cek[i] = (uint8_t)(i * 11 + 3);
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	r = jwe_encrypt_dir(cek, "hsm_backup", pt, sizeof(pt), NULL,
	    &compact, &e);
	CHECK(r == 0, "jwe_encrypt_dir");
	if (r != 0 || jwe_parse(compact, strlen(compact), &j, &e) != 0) {
		CHECK(0, "jwe_parse");
		free(compact);
		return;
	}
	SECRET(cek, sizeof(cek));
	r = jwe_decrypt(j, cek, &got, &e);
	CHECK(r == 0, "jwe_decrypt");
	if (r == 0) {
		PUBLIC(got->p, got->len);
		CHECK(got->len == sizeof(pt) && memcmp(got->p, pt,
		    sizeof(pt)) == 0, "jwe_decrypt gives the plaintext");
	}
	sd_secret_free(got);
	got = NULL;
	/* a wrong key: the tag comparison fails, in constant time */
	PUBLIC(cek, sizeof(cek));
	cek[5] ^= 1;
	SECRET(cek, sizeof(cek));
	r = jwe_decrypt(j, cek, &got, &e);
	CHECK(r == SD_ERR_AUTH && got == NULL, "jwe_decrypt, wrong key");
	jwe_free(j);
	free(compact);
}

static void
test_oaep(void)
{
	EVP_PKEY *pkey = NULL;
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	uint8_t em[256], msg[64];
	const size_t k = sizeof(em);
	size_t i;
	int r;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(0xa0 ^ i);
	/* EM = the OAEP encoding a raw-RSA token would hand back */
	r = RSA_padding_add_PKCS1_OAEP_mgf1(em, (int)k, msg, (int)sizeof(msg),
	    NULL, 0, EVP_sha256(), EVP_sha256());
	CHECK(r == 1, "RSA_padding_add_PKCS1_OAEP_mgf1");
	SECRET(em, k);
	r = hw_oaep256_unpad(em, k, &out, &e);
	CHECK(r == 0, "hw_oaep256_unpad");
	if (r == 0) {
		PUBLIC(out->p, out->len);
		CHECK(out->len == sizeof(msg) && memcmp(out->p, msg,
		    sizeof(msg)) == 0, "hw_oaep256_unpad gives the message");
	}
	sd_secret_free(out);
	out = NULL;
	/* a bad padding (Manger: the leading byte) and a bad label hash */
	PUBLIC(em, k);
	em[0] = 1;
	SECRET(em, k);
	r = hw_oaep256_unpad(em, k, &out, &e);
	CHECK(r == SD_ERR_AUTH && out == NULL, "hw_oaep256_unpad, bad byte 0");
	PUBLIC(em, k);
	em[0] = 0;
	em[40] ^= 0x80;
	SECRET(em, k);
	r = hw_oaep256_unpad(em, k, &out, &e);
	CHECK(r == SD_ERR_AUTH && out == NULL, "hw_oaep256_unpad, bad hash");
	EVP_PKEY_free(pkey);
}

static void
test_b64(void)
{
	uint8_t bin[67], *dec = NULL;
	size_t len, n = 0, i;
	char *enc = NULL, *copy;
	int std, r;

	for (len = 0; len <= sizeof(bin); len += (len < 8 ? 1 : 29)) {
		for (std = 0; std < 2; std++) {
			for (i = 0; i < len; i++)
				bin[i] = (uint8_t)(0xf7 * i + 0x3d);
			SECRET(bin, len);
			r = std ? b64std_encode(bin, len, &enc) :
			    b64url_encode(bin, len, &enc);
			CHECK(r == 0, "base64 encode");
			if (r != 0)
				continue;
			/* the length is public (strlen would branch on it) */
			n = sodium_base64_ENCODED_LEN(len, std ?
			    sodium_base64_VARIANT_ORIGINAL :
			    sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
			copy = malloc(n + 1);
			memcpy(copy, enc, n + 1);
			PUBLIC(copy, n + 1);
			SECRET(copy, n);
			r = std ? b64std_decode(copy, n, &dec, &n, NULL) :
			    b64url_decode(copy, n, &dec, &n, NULL);
			CHECK(r == 0, "base64 decode");
			if (r == 0) {
				PUBLIC(dec, n);
				PUBLIC(bin, len);
				CHECK(n == len && memcmp(dec, bin, len) == 0,
				    "base64 round trip");
			}
			free(dec);
			dec = NULL;
			free(copy);
			free(enc);
			enc = NULL;
		}
	}
}

static void
test_escrow(void)
{
	uint8_t bin[45], back[45], payload[300];
	char chars[80], *copy;
	struct sd_secret *text = NULL;
	struct escrow_parts *parts = NULL;
	struct escrow_qr_set *set = NULL;
	struct sd_err e = { "" };
	size_t i, n, hdr;
	int v, r, c;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(0x9d * i + 0x11);
	SECRET(bin, sizeof(bin));
	escrow_b32_encode(bin, sizeof(bin), chars);
	n = escrow_b32_chars(sizeof(bin));
	r = escrow_b32_decode(chars, n, back, sizeof(back), &e);
	CHECK(r == 0, "escrow_b32_decode");
	PUBLIC(back, sizeof(back));
	PUBLIC(bin, sizeof(bin));
	CHECK(memcmp(back, bin, sizeof(bin)) == 0, "base32 round trip");
	/* every character a person may type, lower case too */
	for (c = 0; c < 256; c++) {
		int sc = c;

		SECRET(&sc, sizeof(sc));
		v = escrow_b32_value(sc);
		PUBLIC(&v, sizeof(v));
		CHECK(v >= -1 && v < 32, "escrow_b32_value range");
	}
	/*
	 * The typed copy and QR parts of a payload: base32 and check
	 * characters.  The header's first bytes (format, and for format 1
	 * the magic, version and flags) and the sheet id (bytes 6..21) are
	 * printed on the sheet and stay public; everything else is taken
	 * for the key.  Both layouts: format 1, and compact (format 2).
	 */
	for (c = 0; c < 2; c++) {
		for (i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)(0x35 * i + 7);
		if (c == 1)
			payload[0] = ESCROW_COMPACT_VERSION;
		SECRET(payload, sizeof(payload));
		PUBLIC(payload, 6 + ESCROW_ID_LEN);
		r = escrow_text_encode(payload, sizeof(payload), &text, &e);
		CHECK(r == 0, "escrow_text_encode");
		sd_secret_free(text);
		text = NULL;
	}
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x35 * i + 7);
	SECRET(payload, sizeof(payload));
	PUBLIC(payload, 6 + ESCROW_ID_LEN);
	r = escrow_qr_split(payload, sizeof(payload), &parts, &e);
	CHECK(r == 0, "escrow_qr_split");
	(void)set;
	(void)copy;
	(void)hdr;
	escrow_qr_set_free(set);
	escrow_parts_free(parts);
}

/* Must be reported: a table lookup and a branch on a secret. */
static void
canary(void)
{
	static const uint8_t table[256] = { 1, 2, 3 };
	volatile uint8_t sink;
	uint8_t s = 42;

	SECRET(&s, 1);
	sink = table[s];
	if (s == 42)
		sink = 0;
	(void)sink;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} sections[] = {
		{ "shamir", test_shamir }, { "jwe", test_jwe },
		{ "oaep", test_oaep }, { "b64", test_b64 },
		{ "escrow", test_escrow }, { "canary", canary },
	};
	size_t i;
	int a, ran = 0;

	if (sodium_init() < 0)
		return 2;
	if (!RUNNING_ON_VALGRIND)
		fprintf(stderr, "ct_test: not under valgrind: only the results "
		    "are checked, not the timing\n");
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (argc == 1 && strcmp(sections[i].name, "canary") == 0)
			continue;
		for (a = 1; a < argc || argc == 1; a++) {
			if (argc == 1 || strcmp(argv[a], sections[i].name) == 0) {
				fprintf(stderr, "ct_test: %s\n",
				    sections[i].name);
				sections[i].fn();
				ran++;
				break;
			}
		}
	}
	if (ran == 0) {
		fprintf(stderr, "usage: ct_test [shamir|jwe|oaep|b64|escrow|"
		    "canary]...\n");
		return 2;
	}
	return failures ? 1 : 0;
}
