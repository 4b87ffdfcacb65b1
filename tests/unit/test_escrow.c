/*
 * test_escrow.c - shares/escrow: the sheet payload and its encryption,
 * base32 for people, the typed copy (every single-character typo is found
 * and located, confusable characters are read right, swapped lines are
 * caught), and QR parts (any order, duplicates, missing parts, parts of
 * another sheet).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <qrencode.h>
#include <sodium.h>

#include "../../shares/escrow.h"

static uint8_t *key_der;      /* an RSA-2048 PKCS#8 DER key */
static size_t key_der_len;
static uint8_t *key2_der;     /* another one */
static size_t key2_der_len;

/* The cheapest Argon2id libsodium allows: these tests check the format. */
static const struct escrow_kdf fast_kdf = { crypto_pwhash_OPSLIMIT_MIN,
	crypto_pwhash_MEMLIMIT_MIN / 1024 };

/* A deterministic rng: a counter, so two runs give the same bytes. */
static void
counter_fill(void *ctx, uint8_t *buf, size_t len)
{
	uint8_t *c = ctx;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (*c)++;
}

static void
make_der(uint8_t **der, size_t *len)
{
	EVP_PKEY *pkey;
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *p = NULL;
	int n;

	assert_non_null(pkey = EVP_RSA_gen(2048));
	assert_non_null(p8 = EVP_PKEY2PKCS8(pkey));
	assert_true((n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p)) > 0);
	assert_non_null(*der = malloc((size_t)n));
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_clear_free(p, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	make_der(&key_der, &key_der_len);
	make_der(&key2_der, &key2_der_len);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(key_der);
	free(key2_der);
	return 0;
}

static void
fill_header(struct escrow_header *h)
{
	memset(h, 0, sizeof(*h));
	h->created = 1795000000;
	h->key_index = 2;
	h->has_cert = 1;
	memset(h->x5t_256, 0xab, sizeof(h->x5t_256));
	snprintf(h->hsm, sizeof(h->hsm), "ContosoMHSM");
	snprintf(h->officer, sizeof(h->officer), "Jos\xc3\xa9 Garc\xc3\xad" "a");
	snprintf(h->subject, sizeof(h->subject), "CN=Managed HSM security "
	    "domain wrapping key 2");
	snprintf(h->version, sizeof(h->version), "0.1.0");
}

/* A sealed payload of key_der, encrypted with pass unless it is NULL. */
static struct sd_secret *
seal(const char *pass, struct escrow_header *h)
{
	struct sd_secret *p = NULL;
	struct sd_err e = { "" };

	fill_header(h);
	assert_int_equal(escrow_seal(h, key_der, key_der_len, pass, &fast_kdf,
	    NULL, &p, &e), 0);
	assert_non_null(p);
	return p;
}

/* ---- base32 ----------------------------------------------------------- */

static void
test_b32_known_answers(void **state)
{
	static const uint8_t seq[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
		0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	char out[64];
	uint8_t back[16];

	(void)state;
	escrow_b32_encode((const uint8_t *)"foobar", 6, out);
	assert_string_equal(out, "CSQPYRK1E8");
	escrow_b32_encode(seq, sizeof(seq), out);
	assert_string_equal(out, "008J4CT4ANK7F24SNAXWSQFEZW");
	assert_int_equal(strlen(out), ESCROW_ID_CHARS);
	assert_int_equal(escrow_b32_decode(out, strlen(out), back, sizeof(back),
	    NULL), 0);
	assert_memory_equal(back, seq, sizeof(seq));
	assert_int_equal(escrow_b32_chars(0), 0);
	assert_int_equal(escrow_b32_chars(1), 2);
	assert_int_equal(escrow_b32_chars(5), 8);
	assert_int_equal(escrow_b32_chars(6), 10);
}

static void
test_b32_confusables(void **state)
{
	const char *a = ESCROW_B32_ALPHABET;
	uint8_t back[6];
	size_t i;

	(void)state;
	for (i = 0; i < 32; i++) {
		assert_int_equal(escrow_b32_value(a[i]), (int)i);
		assert_int_equal(escrow_b32_value(tolower((unsigned char)a[i])),
		    (int)i);
	}
	assert_int_equal(escrow_b32_value('O'), 0);
	assert_int_equal(escrow_b32_value('o'), 0);
	assert_int_equal(escrow_b32_value('I'), 1);
	assert_int_equal(escrow_b32_value('i'), 1);
	assert_int_equal(escrow_b32_value('L'), 1);
	assert_int_equal(escrow_b32_value('l'), 1);
	assert_int_equal(escrow_b32_value('U'), -1);
	assert_int_equal(escrow_b32_value('-'), -1);
	assert_int_equal(escrow_b32_value(' '), -1);
	assert_int_equal(escrow_b32_value('\0'), -1);
	assert_int_equal(escrow_b32_value(0xe9), -1);
	/* "CSQPYRK1E8" typed sloppily */
	assert_int_equal(escrow_b32_decode("csqpyrkle8", 10, back, 6, NULL), 0);
	assert_memory_equal(back, "foobar", 6);
	assert_int_equal(escrow_b32_decode("CSQPYRKIE8", 10, back, 6, NULL), 0);
	assert_memory_equal(back, "foobar", 6);
}

static void
test_b32_rejects(void **state)
{
	uint8_t back[8];
	struct sd_err e = { "" };

	(void)state;
	/* wrong length */
	assert_int_equal(escrow_b32_decode("CSQPYRK1E", 9, back, 6, &e),
	    SD_ERR_FORMAT);
	/* a character outside the alphabet */
	assert_int_equal(escrow_b32_decode("CSQPYRKUE8", 10, back, 6, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "character 8"));
	/* "CSQPYRK1E9": the last character's padding bits are not zero */
	assert_int_equal(escrow_b32_decode("CSQPYRK1E9", 10, back, 6, &e),
	    SD_ERR_FORMAT);
}

static void
test_b32_round_trip(void **state)
{
	uint8_t in[64], back[64];
	char txt[128];
	size_t len;

	(void)state;
	for (len = 1; len <= sizeof(in); len++) {
		randombytes_buf(in, len);
		escrow_b32_encode(in, len, txt);
		assert_int_equal(strlen(txt), escrow_b32_chars(len));
		assert_int_equal(escrow_b32_decode(txt, strlen(txt), back, len,
		    NULL), 0);
		assert_memory_equal(in, back, len);
	}
}

/* ---- text fields ------------------------------------------------------ */

static void
test_check_text(void **state)
{
	struct sd_err e = { "" };

	(void)state;
	assert_int_equal(escrow_check_text("officer", "", 64, &e), 0);
	assert_int_equal(escrow_check_text("officer", "Jos\xc3\xa9", 64, &e), 0);
	assert_int_equal(escrow_check_text("officer", "\xe6\x9d\xb1\xe4\xba\xac",
	    64, &e), 0);
	assert_int_equal(escrow_check_text("officer", "a\tb", 64, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "officer: holds a control character"));
	assert_int_equal(escrow_check_text("officer", "\x1b[2J", 64, &e),
	    SD_ERR_FORMAT);
	/* C1 control U+0085, overlong '/', a surrogate, a lone byte */
	assert_int_equal(escrow_check_text("x", "\xc2\x85", 64, &e),
	    SD_ERR_FORMAT);
	assert_int_equal(escrow_check_text("x", "\xc0\xaf", 64, &e),
	    SD_ERR_FORMAT);
	assert_int_equal(escrow_check_text("x", "\xed\xa0\x80", 64, &e),
	    SD_ERR_FORMAT);
	assert_int_equal(escrow_check_text("x", "\xe9t\xe9", 64, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not valid UTF-8"));
	assert_int_equal(escrow_check_text("x", "12345", 4, &e), SD_ERR_LIMIT);
}

/* ---- payload ---------------------------------------------------------- */

static void
test_seal_open_plain(void **state)
{
	struct escrow_header h, got;
	struct sd_secret *p, *der = NULL;
	struct sd_err e = { "" };
	uint8_t spki[ESCROW_HASH_LEN];

	(void)state;
	p = seal(NULL, &h);
	assert_false(h.encrypted);
	assert_int_equal(h.key_len, key_der_len);
	assert_int_equal(escrow_spki_sha256(key_der, key_der_len, spki, &e), 0);
	assert_memory_equal(h.spki_sha256, spki, sizeof(spki));
	/* the key is there in the clear, after the header */
	assert_memory_equal(p->p + p->len - ESCROW_TAG_LEN - key_der_len,
	    key_der, key_der_len);

	assert_int_equal(escrow_peek(p->p, p->len, &got, &e), 0);
	assert_memory_equal(got.sheet_id, h.sheet_id, ESCROW_ID_LEN);
	assert_int_equal(got.created, 1795000000);
	assert_int_equal(got.key_index, 2);
	assert_true(got.has_cert);
	assert_memory_equal(got.x5t_256, h.x5t_256, ESCROW_HASH_LEN);
	assert_string_equal(got.officer, "Jos\xc3\xa9 Garc\xc3\xad" "a");
	assert_string_equal(got.hsm, "ContosoMHSM");
	assert_string_equal(got.subject, h.subject);
	assert_string_equal(got.version, "0.1.0");
	assert_false(got.encrypted);

	/* a passphrase given for a plain sheet is not needed, not an error */
	assert_int_equal(escrow_open(p->p, p->len, "whatever", &got, &der, &e),
	    0);
	assert_int_equal(der->len, key_der_len);
	assert_memory_equal(der->p, key_der, key_der_len);
	sd_secret_free(der);
	sd_secret_free(p);
}

static void
test_seal_open_encrypted(void **state)
{
	struct escrow_header h, got;
	struct sd_secret *p, *der = NULL;
	struct sd_err e = { "" };

	(void)state;
	p = seal("correct horse battery", &h);
	assert_true(h.encrypted);
	assert_int_equal(h.opslimit, fast_kdf.opslimit);
	assert_int_equal(h.memlimit_kib, fast_kdf.memlimit_kib);
	/* the key's bytes appear nowhere in the payload */
	assert_null(memmem(p->p, p->len, key_der + 100, 32));
	assert_int_equal(escrow_peek(p->p, p->len, &got, &e), 0);
	assert_true(got.encrypted);
	assert_int_equal(got.key_len, key_der_len);

	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), 0);
	assert_int_equal(der->len, key_der_len);
	assert_memory_equal(der->p, key_der, key_der_len);
	sd_secret_free(der);
	der = NULL;

	assert_int_equal(escrow_open(p->p, p->len, "correct horse batterY", &got,
	    &der, &e), SD_ERR_AUTH);
	assert_null(der);
	assert_string_equal(e.msg, "wrong passphrase, or the sheet's header was "
	    "altered");
	assert_int_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e),
	    SD_ERR_PASSPHRASE);
	assert_int_equal(escrow_open(p->p, p->len, "", &got, &der, &e),
	    SD_ERR_PASSPHRASE);
	sd_secret_free(p);
}

static void
test_tampered_header(void **state)
{
	struct escrow_header h, got;
	struct sd_secret *p, *der = NULL;
	struct sd_err e = { "" };
	uint8_t *where;

	(void)state;
	p = seal("correct horse battery", &h);
	/* a different officer's name, same length: valid, but not bound */
	assert_non_null(where = memmem(p->p, p->len, "ContosoMHSM", 11));
	where[0] = 'K';
	assert_int_equal(escrow_peek(p->p, p->len, &got, &e), 0);
	assert_string_equal(got.hsm, "KontosoMHSM");
	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), SD_ERR_AUTH);
	where[0] = 'C';
	/* the key index, the created time, the thumbprint */
	p->p[6 + ESCROW_ID_LEN + 8] ^= 1;
	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), SD_ERR_AUTH);
	p->p[6 + ESCROW_ID_LEN + 8] ^= 1;
	p->p[6 + ESCROW_ID_LEN + 9] ^= 0x80;
	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), SD_ERR_AUTH);
	p->p[6 + ESCROW_ID_LEN + 9] ^= 0x80;
	/* the ciphertext */
	p->p[p->len - 40] ^= 4;
	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), SD_ERR_AUTH);
	p->p[p->len - 40] ^= 4;
	assert_int_equal(escrow_open(p->p, p->len, "correct horse battery", &got,
	    &der, &e), 0);
	sd_secret_free(der);
	sd_secret_free(p);
}

/* Recompute a plain payload's BLAKE2b check, as a forger could. */
static void
reseal_plain(struct sd_secret *p)
{
	size_t body = p->len - ESCROW_TAG_LEN - key_der_len;
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, ESCROW_TAG_LEN);
	crypto_generichash_update(&st, p->p, body);
	crypto_generichash_update(&st, p->p + body, key_der_len);
	crypto_generichash_final(&st, p->p + p->len - ESCROW_TAG_LEN,
	    ESCROW_TAG_LEN);
}

static void
test_plain_key_checked(void **state)
{
	struct escrow_header h, got;
	struct sd_secret *p, *der = NULL;
	struct sd_err e = { "" };
	size_t spki_off = 6 + ESCROW_ID_LEN + 8 + 1 + ESCROW_HASH_LEN;
	size_t key_off;

	(void)state;
	p = seal(NULL, &h);
	key_off = p->len - ESCROW_TAG_LEN - key_der_len;
	/* damage anywhere is found by the check */
	p->p[key_off + 40] ^= 0x10;
	assert_int_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e),
	    SD_ERR_AUTH);
	assert_non_null(strstr(e.msg, "damaged"));
	assert_null(der);
	p->p[key_off + 40] ^= 0x10;
	p->p[spki_off] ^= 1;
	assert_int_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e),
	    SD_ERR_AUTH);
	/* a header naming another public key, check recomputed */
	reseal_plain(p);
	assert_int_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e),
	    SD_ERR_KEY_MISMATCH);
	assert_null(der);
	p->p[spki_off] ^= 1;
	/* a damaged modulus, check recomputed: the key no longer matches */
	p->p[key_off + 40] ^= 0x10;
	reseal_plain(p);
	assert_int_not_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e), 0);
	assert_null(der);
	p->p[key_off + 40] ^= 0x10;
	reseal_plain(p);
	assert_int_equal(escrow_open(p->p, p->len, NULL, &got, &der, &e), 0);
	sd_secret_free(der);
	sd_secret_free(p);
}

static void
test_deterministic(void **state)
{
	struct escrow_header h1, h2;
	struct sd_secret *p1 = NULL, *p2 = NULL;
	uint8_t c1 = 0, c2 = 0;
	struct sd_rng r1 = { counter_fill, &c1 }, r2 = { counter_fill, &c2 };
	char id[ESCROW_ID_CHARS + 1];

	(void)state;
	fill_header(&h1);
	fill_header(&h2);
	assert_int_equal(escrow_seal(&h1, key_der, key_der_len, "passphrase 1",
	    &fast_kdf, &r1, &p1, NULL), 0);
	assert_int_equal(escrow_seal(&h2, key_der, key_der_len, "passphrase 1",
	    &fast_kdf, &r2, &p2, NULL), 0);
	assert_int_equal(p1->len, p2->len);
	assert_memory_equal(p1->p, p2->p, p1->len);
	/* the sheet id is the rng's first 16 bytes */
	escrow_b32_encode(h1.sheet_id, ESCROW_ID_LEN, id);
	assert_string_equal(id, "000G40R40M30E209185GR38E1W");
	assert_memory_equal(p1->p + 6, h1.sheet_id, ESCROW_ID_LEN);
	sd_secret_free(p1);
	sd_secret_free(p2);
}

static void
test_seal_refuses(void **state)
{
	struct escrow_header h;
	struct sd_secret *p = NULL;
	struct sd_err e = { "" };
	struct escrow_kdf weak = { 0, 8 }, huge = { 3, 4u * 1024 * 1024 };

	(void)state;
	fill_header(&h);
	snprintf(h.officer, sizeof(h.officer), "Eve\x1b]0;pwned\x07");
	assert_int_equal(escrow_seal(&h, key_der, key_der_len, NULL, NULL, NULL,
	    &p, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "officer"));
	fill_header(&h);
	h.key_index = 300;
	assert_int_equal(escrow_seal(&h, key_der, key_der_len, NULL, NULL, NULL,
	    &p, &e), SD_ERR_RANGE);
	fill_header(&h);
	assert_int_equal(escrow_seal(&h, (const uint8_t *)"not a key", 9, NULL,
	    NULL, NULL, &p, &e), SD_ERR_KEY);
	assert_int_equal(escrow_seal(&h, key_der, key_der_len, "", &fast_kdf,
	    NULL, &p, &e), SD_ERR_ARG);
	assert_int_equal(escrow_seal(&h, key_der, key_der_len, "passphrase",
	    &weak, NULL, &p, &e), SD_ERR_RANGE);
	assert_int_equal(escrow_seal(&h, key_der, key_der_len, "passphrase",
	    &huge, NULL, &p, &e), SD_ERR_RANGE);
	assert_null(p);
}

static void
test_peek_malformed(void **state)
{
	struct escrow_header h, got;
	struct sd_secret *p;
	struct sd_err e = { "" };
	uint8_t *copy;
	size_t n;

	(void)state;
	p = seal("correct horse battery", &h);
	assert_non_null(copy = malloc(p->len + 1));
	memcpy(copy, p->p, p->len);
	/* every truncation is refused */
	for (n = 0; n < p->len; n++)
		assert_int_not_equal(escrow_peek(copy, n, &got, &e), 0);
	/* a byte too many */
	copy[p->len] = 0;
	assert_int_equal(escrow_peek(copy, p->len + 1, &got, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "its header says"));
	/* magic, version, flags */
	copy[0] = 'X';
	assert_int_equal(escrow_peek(copy, p->len, &got, &e), SD_ERR_FORMAT);
	copy[0] = 'S';
	copy[4] = 2;
	assert_int_equal(escrow_peek(copy, p->len, &got, &e),
	    SD_ERR_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "version 2"));
	copy[4] = 1;
	copy[5] |= 0x80;
	assert_int_equal(escrow_peek(copy, p->len, &got, &e),
	    SD_ERR_UNSUPPORTED);
	copy[5] &= 0x7f;
	assert_int_equal(escrow_peek(copy, p->len, &got, &e), 0);
	free(copy);
	sd_secret_free(p);
}

/* ---- typed copy ------------------------------------------------------- */

/*
 * A fixed payload, for tests whose outcome rests on the 5-bit position
 * tags (a swapped line fails each group's check but for 1 in 32).
 */
static void
pattern(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed * 17 + (i >> 3));
}

/* Encode a payload of len random bytes as text. */
static char *
text_of(const uint8_t *p, size_t len)
{
	struct sd_secret *t = NULL;
	char *s;

	assert_int_equal(escrow_text_encode(p, len, &t, NULL), 0);
	assert_non_null(s = strdup((const char *)t->p));
	assert_int_equal(strlen(s), t->len);
	sd_secret_free(t);
	return s;
}

static int
decode(const char *text, struct escrow_text_report *rep,
    struct sd_secret **out)
{
	struct sd_err e = { "" };

	return escrow_text_decode(text, strlen(text), rep, out, &e);
}

/* Start of numbered line n's data (after "NNN: "), in text. */
static char *
line_data(char *text, size_t n)
{
	char want[16], *p;

	snprintf(want, sizeof(want), "%3zu: ", n);
	assert_non_null(p = strstr(text, want));
	return p + 5;
}

static void
test_text_layout(void **state)
{
	uint8_t p[100];
	char *t, *l;

	(void)state;
	randombytes_buf(p, sizeof(p));
	t = text_of(p, sizeof(p));
	/* 100 bytes: 160 characters, 5 full lines */
	assert_int_equal(escrow_text_lines(sizeof(p)), 5);
	l = line_data(t, 1);
	assert_int_equal(strchr(l, '\n') - l, 8 * 4 + 3 + 2 + 4);
	assert_int_equal(l[8], ' ');
	assert_int_equal(l[8 * 4 + 3], ' ');
	assert_int_equal(l[8 * 4 + 4], ' ');
	assert_non_null(strstr(t, "\nend: 100 "));
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
}

static void
test_text_round_trip(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out;
	uint8_t p[200];
	size_t len;
	char *t;

	(void)state;
	for (len = 1; len <= sizeof(p); len += 7) {
		randombytes_buf(p, len);
		t = text_of(p, len);
		out = NULL;
		assert_int_equal(decode(t, &rep, &out), 0);
		assert_int_equal(rep.n, 0);
		assert_int_equal(out->len, len);
		assert_memory_equal(out->p, p, len);
		sd_secret_free(out);
		free(t);
	}
}

/* What a person may type: lower case, O for 0, I or L for 1, no spaces
 * or different ones, hyphens, CRLF, lines out of order, other lines. */
static void
test_text_sloppy_typing(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out = NULL;
	uint8_t p[120];
	char *t, *typed, *o, *line, *save = NULL;
	char *lines[16];
	size_t n = 0, i;
	int k = 0;

	(void)state;
	randombytes_buf(p, sizeof(p));
	t = text_of(p, sizeof(p));
	assert_non_null(typed = malloc(strlen(t) * 3 + 200));
	o = typed;
	o += sprintf(o, "# typed by the officer\r\nSheet id: ...\r\n\r\n");
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		lines[n++] = line;
	/* the end line first, then the numbered lines backwards */
	for (i = n; i-- > 0;) {
		line = lines[(i + n - 1) % n];
		/* the number and its colon as printed, the rest sloppily */
		while (*line != ':')
			*o++ = *line++;
		for (; *line; line++) {
			int c = (unsigned char)*line;

			if (c == ' ' && (k++ % 3) == 0)
				continue;        /* drop some spaces */
			if (c == '0' && (k & 1))
				c = 'O';
			else if (c == '1')
				c = (k & 1) ? 'l' : 'I';
			else if (isupper(c) && (k++ % 2) == 0)
				c = tolower(c);
			*o++ = (char)c;
			if (c != ' ' && (k % 11) == 0)
				*o++ = '-';
		}
		*o++ = '\r';
		*o++ = '\n';
	}
	*o = '\0';
	assert_int_equal(decode(typed, &rep, &out), 0);
	assert_int_equal(out->len, sizeof(p));
	assert_memory_equal(out->p, p, sizeof(p));
	sd_secret_free(out);
	free(typed);
	free(t);
}

/* Every single wrong character of every line is found, and named. */
static void
test_text_every_typo_located(void **state)
{
	static const char a[] = ESCROW_B32_ALPHABET;
	struct escrow_text_report rep;
	struct sd_secret *out;
	uint8_t p[73];            /* 117 characters: 3 full lines and 21 */
	char *t, *l, want[160], orig;
	size_t nlines, line, pos, col, group, data, checked = 0;
	int v;

	(void)state;
	randombytes_buf(p, sizeof(p));
	t = text_of(p, sizeof(p));
	nlines = escrow_text_lines(sizeof(p));
	assert_int_equal(nlines, 4);
	for (line = 1; line <= nlines; line++) {
		l = line_data(t, line);
		data = line < nlines ? 32 : escrow_b32_chars(sizeof(p)) - 96;
		/* data characters, then the check characters */
		for (pos = 0; pos < data + (data + 7) / 8; pos++) {
			if (pos < data) {
				group = pos / 8;
				col = group * 9 + pos % 8;
			} else {
				group = pos - data;
				col = 4 * 9 + 1 + group;
			}
			orig = l[col];
			assert_true(strchr(a, orig) != NULL);
			for (v = 0; v < 32; v++) {
				if (a[v] == orig)
					continue;
				l[col] = a[v];
				out = NULL;
				assert_int_equal(decode(t, &rep, &out),
				    SD_ERR_FORMAT);
				assert_null(out);
				assert_int_equal(rep.n, 1);
				snprintf(want, sizeof(want), "line %zu: checksum "
				    "mismatch, check characters %zu-%zu", line,
				    group * 8 + 1, group * 8 + 8);
				assert_string_equal(rep.msg[0], want);
				checked++;
			}
			l[col] = orig;
		}
	}
	assert_int_equal(checked, (3 * 36 + 21 + 3) * 31);
	free(t);
}

/* Two neighbouring characters swapped, within a group: found. */
static void
test_text_transposition(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out = NULL;
	uint8_t p[60];
	char *t, *l, c;
	size_t g, k, found = 0;

	(void)state;
	randombytes_buf(p, sizeof(p));
	t = text_of(p, sizeof(p));
	l = line_data(t, 2);
	for (g = 0; g < 4; g++)
		for (k = 0; k < 7; k++) {
			char *x = l + g * 9 + k;

			if (x[0] == x[1])
				continue;
			c = x[0];
			x[0] = x[1];
			x[1] = c;
			assert_int_equal(decode(t, &rep, &out), SD_ERR_FORMAT);
			assert_int_equal(rep.n, 1);
			assert_non_null(strstr(rep.msg[0], "line 2: checksum "
			    "mismatch"));
			x[1] = x[0];
			x[0] = c;
			found++;
		}
	assert_true(found > 20);
	free(t);
}

/* Lines typed under each other's numbers. */
static void
test_text_swapped_lines(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out = NULL;
	uint8_t p[100];
	char *t, *l2, *l3, tmp[64];

	(void)state;
	pattern(p, sizeof(p), 1);
	t = text_of(p, sizeof(p));
	l2 = line_data(t, 2);
	l3 = line_data(t, 3);
	memcpy(tmp, l2, 41);
	memcpy(l2, l3, 41);
	memcpy(l3, tmp, 41);
	assert_int_equal(decode(t, &rep, &out), SD_ERR_FORMAT);
	assert_int_equal(rep.n, 2);
	assert_string_equal(rep.msg[0], "line 2: checksum mismatch, check "
	    "characters 1-8, 9-16, 17-24 and 25-32");
	assert_non_null(strstr(rep.msg[1], "line 3: checksum mismatch"));
	free(t);
}

static char *
without_line(const char *t, const char *prefix)
{
	char *s = strdup(t), *a, *b;

	assert_non_null(s);
	assert_non_null(a = strstr(s, prefix));
	b = strchr(a, '\n') + 1;
	memmove(a, b, strlen(b) + 1);
	return s;
}

static void
test_text_structure_errors(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out = NULL;
	uint8_t p[100];
	char *t, *s, *l;
	size_t n;

	(void)state;
	pattern(p, sizeof(p), 2);
	t = text_of(p, sizeof(p));

	s = without_line(t, "  3: ");
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.msg[0], "line 3 is missing");
	free(s);

	s = without_line(t, "end: ");
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_non_null(strstr(rep.msg[0], "end line"));
	assert_non_null(strstr(rep.msg[0], "is missing"));
	free(s);

	/* line 4 typed twice */
	n = strlen(t);
	assert_non_null(s = malloc(n * 2));
	l = line_data(t, 4) - 5;
	snprintf(s, n * 2, "%.*s%.*s", (int)(strchr(l, '\n') + 1 - t), t,
	    (int)(t + n - l), l);
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_string_equal(rep.msg[0], "line 4 is given twice");
	/* a line past the end */
	snprintf(s, n * 2, "%s  9: 00000000\n", t);
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_string_equal(rep.msg[0], "line 9: the sheet has only 5 lines "
	    "(the end line says 100 bytes)");
	free(s);

	/* a character dropped from the 2nd group, typed with spaces */
	s = strdup(t);
	l = line_data(s, 3);
	memmove(l + 12, l + 13, strlen(l + 13) + 1);
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_string_equal(rep.msg[0], "line 3: the 2nd group (characters "
	    "9-16) has 7 characters, expected 8");
	/* and without spaces */
	l = line_data(s, 3);
	memmove(l + 8, l + 9, strlen(l + 9) + 1);
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_string_equal(rep.msg[0], "line 3: 35 characters, expected 36 "
	    "(32 and 4 check characters)");
	free(s);

	/* a character no sheet uses */
	s = strdup(t);
	l = line_data(s, 2);
	l[10] = 'U';
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_string_equal(rep.msg[0], "line 2: character 10 ('U') is not one "
	    "a sheet uses");
	free(s);

	/* the end line's length mistyped */
	s = strdup(t);
	l = strstr(s, "end: 100") + 5;
	l[0] = '2';
	assert_int_equal(decode(s, &rep, &out), SD_ERR_FORMAT);
	assert_non_null(strstr(rep.msg[0], "end line: checksum mismatch"));
	free(s);

	/* nothing of a sheet at all */
	assert_int_equal(decode("hello\nworld\n", &rep, &out), SD_ERR_FORMAT);
	assert_null(out);
	free(t);
}

/* Lines of one sheet with the end line of another of the same length:
 * every line checks, the whole-sheet checksum does not. */
static void
test_text_whole_checksum(void **state)
{
	struct escrow_text_report rep;
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	uint8_t p[100], q[100];
	char *t, *u, *end_t, *end_u;

	(void)state;
	pattern(p, sizeof(p), 3);
	memcpy(q, p, sizeof(q));
	q[99] ^= 1;
	t = text_of(p, sizeof(p));
	u = text_of(q, sizeof(q));
	end_t = strstr(t, "end: ");
	end_u = strstr(u, "end: ");
	assert_int_equal(strlen(end_t), strlen(end_u));
	assert_int_not_equal(strcmp(end_t, end_u), 0);
	memcpy(end_t, end_u, strlen(end_u));
	assert_int_equal(escrow_text_decode(t, strlen(t), &rep, &out, &e),
	    SD_ERR_FORMAT);
	assert_int_equal(rep.n, 0);
	assert_non_null(strstr(e.msg, "whole-sheet checksum"));
	assert_null(out);
	free(t);
	free(u);
}

/* ---- QR parts --------------------------------------------------------- */

static struct escrow_parts *
split(const struct sd_secret *p)
{
	struct escrow_parts *parts = NULL;
	struct sd_err e = { "" };

	assert_int_equal(escrow_qr_split(p->p, p->len, &parts, &e), 0);
	assert_non_null(parts);
	return parts;
}

static void
test_qr_split_shape(void **state)
{
	struct escrow_header h;
	struct sd_secret *p;
	struct escrow_parts *parts;
	char prefix[64], id[ESCROW_ID_CHARS + 1];
	const char *s;
	size_t i, len0;

	(void)state;
	p = seal("correct horse battery", &h);
	parts = split(p);
	escrow_b32_encode(h.sheet_id, ESCROW_ID_LEN, id);
	assert_true(parts->n >= 2);
	len0 = strlen(parts->text[0]);
	for (i = 0; i < parts->n; i++) {
		QRcode *qr;

		s = parts->text[i];
		snprintf(prefix, sizeof(prefix), "SDE1/%zu/%zu/%s/", i + 1,
		    parts->n, id);
		assert_int_equal(strncmp(s, prefix, strlen(prefix)), 0);
		assert_true(strlen(s) <= ESCROW_QR_MAX_CHARS);
		/* within a character or two of each other */
		assert_true(strlen(s) + 2 >= len0);
		/* QR alphanumeric characters only */
		assert_int_equal(strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    " $%*+-./:"), strlen(s));
		/* and so a code of version 20 or less at level Q */
		assert_non_null(qr = QRcode_encodeString(s, 0, QR_ECLEVEL_Q,
		    QR_MODE_8, 1));
		assert_true(qr->version <= 20);
		QRcode_free(qr);
	}
	escrow_parts_free(parts);
	sd_secret_free(p);
}

/* The longest text a part may hold still makes a version 20 code. */
static void
test_qr_longest_part(void **state)
{
	char s[ESCROW_QR_MAX_CHARS + 1];
	QRcode *qr;
	size_t i;

	(void)state;
	memcpy(s, "SDE1/32/32/", 11);
	for (i = 11; i < ESCROW_QR_MAX_CHARS; i++)
		s[i] = ESCROW_B32_ALPHABET[(i * 7) % 32];
	s[ESCROW_QR_MAX_CHARS] = '\0';
	assert_non_null(qr = QRcode_encodeString(s, 0, QR_ECLEVEL_Q, QR_MODE_8,
	    1));
	assert_true(qr->version <= 20);
	QRcode_free(qr);
}

static void
test_qr_any_order(void **state)
{
	struct escrow_header h;
	struct sd_secret *p, *back = NULL;
	struct escrow_parts *parts;
	struct escrow_qr_set *set = NULL;
	struct sd_err e = { "" };
	char zbar[ESCROW_QR_MAX_CHARS + 32];
	size_t i, have, of;

	(void)state;
	p = seal(NULL, &h);
	parts = split(p);
	assert_int_equal(escrow_qr_set_new(&set), 0);
	escrow_qr_count(set, &have, &of);
	assert_int_equal(have, 0);
	assert_int_equal(of, 0);
	/* backwards, the first as zbarimg prints it */
	for (i = parts->n; i-- > 0;) {
		if (i == 0) {
			snprintf(zbar, sizeof(zbar), "QR-Code:%s\r\n",
			    parts->text[i]);
			assert_int_equal(escrow_qr_add(set, zbar, strlen(zbar),
			    &e), 0);
		} else
			assert_int_equal(escrow_qr_add(set, parts->text[i],
			    strlen(parts->text[i]), &e), 0);
	}
	escrow_qr_count(set, &have, &of);
	assert_int_equal(have, parts->n);
	assert_int_equal(of, parts->n);
	assert_int_equal(escrow_qr_join(set, &back, &e), 0);
	assert_int_equal(back->len, p->len);
	assert_memory_equal(back->p, p->p, p->len);
	sd_secret_free(back);
	escrow_qr_set_free(set);
	escrow_parts_free(parts);
	sd_secret_free(p);
}

static void
test_qr_errors(void **state)
{
	struct escrow_header h, h2;
	struct sd_secret *p, *p2 = NULL, *back = NULL;
	struct escrow_parts *parts, *parts2;
	struct escrow_qr_set *set = NULL;
	struct sd_err e = { "" };
	char buf[ESCROW_QR_MAX_CHARS + 8], want[200];
	size_t i;

	(void)state;
	p = seal(NULL, &h);
	parts = split(p);
	assert_true(parts->n >= 3);
	fill_header(&h2);
	assert_int_equal(escrow_seal(&h2, key2_der, key2_der_len, NULL, NULL,
	    NULL, &p2, &e), 0);
	parts2 = split(p2);

	assert_int_equal(escrow_qr_set_new(&set), 0);
	assert_int_equal(escrow_qr_join(set, &back, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "no QR code of an escrow sheet was read");
	assert_int_equal(escrow_qr_add(set, parts->text[0],
	    strlen(parts->text[0]), &e), 0);
	/* missing parts */
	assert_int_equal(escrow_qr_join(set, &back, &e), SD_ERR_FORMAT);
	assert_int_equal(strncmp(e.msg, "QR parts 2", 10), 0);
	snprintf(want, sizeof(want), "and %zu of %zu are missing", parts->n,
	    parts->n);
	assert_non_null(strstr(e.msg, want));
	for (i = 2; i < parts->n; i++)
		assert_int_equal(escrow_qr_add(set, parts->text[i],
		    strlen(parts->text[i]), &e), 0);
	assert_int_equal(escrow_qr_join(set, &back, &e), SD_ERR_FORMAT);
	snprintf(want, sizeof(want), "QR part 2 of %zu is missing", parts->n);
	assert_string_equal(e.msg, want);
	assert_null(back);
	/* a part given twice */
	assert_int_equal(escrow_qr_add(set, parts->text[0],
	    strlen(parts->text[0]), &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "QR part 1 given twice");
	/* a part of another sheet */
	assert_int_equal(escrow_qr_add(set, parts2->text[1],
	    strlen(parts2->text[1]), &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "QR part 2 is part of another sheet"));
	/* not a sheet's code, a malformed one, a lower-case one */
	assert_int_equal(escrow_qr_add(set, "https://example.com/", 20, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a QR code of an escrow sheet"));
	assert_int_equal(escrow_qr_add(set, "SDE1/2/x/", 9, &e), SD_ERR_FORMAT);
	snprintf(buf, sizeof(buf), "%s", parts->text[1]);
	buf[strlen(buf) - 1] = (char)tolower((unsigned char)buf[strlen(buf) - 1]);
	if (buf[strlen(buf) - 1] != parts->text[1][strlen(buf) - 1])
		assert_int_equal(escrow_qr_add(set, buf, strlen(buf), &e),
		    SD_ERR_FORMAT);
	/* a part number beyond the count, a count that disagrees */
	snprintf(buf, sizeof(buf), "%s", parts->text[1]);
	buf[5] = '9';
	assert_int_equal(escrow_qr_add(set, buf, strlen(buf), &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "no such part"));
	/* the missing part completes it */
	assert_int_equal(escrow_qr_add(set, parts->text[1],
	    strlen(parts->text[1]), &e), 0);
	assert_int_equal(escrow_qr_join(set, &back, &e), 0);
	assert_memory_equal(back->p, p->p, p->len);
	sd_secret_free(back);
	back = NULL;
	escrow_qr_set_free(set);

	/* the other sheet's first part, then a part of this one */
	assert_int_equal(escrow_qr_set_new(&set), 0);
	assert_int_equal(escrow_qr_add(set, parts2->text[0],
	    strlen(parts2->text[0]), &e), 0);
	assert_int_equal(escrow_qr_add(set, parts->text[1],
	    strlen(parts->text[1]), &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "another sheet"));
	escrow_qr_set_free(set);

	escrow_parts_free(parts);
	escrow_parts_free(parts2);
	sd_secret_free(p);
	sd_secret_free(p2);
}

/* A payload with a damaged character inside a part: the join fails. */
static void
test_qr_damaged(void **state)
{
	struct escrow_header h;
	struct sd_secret *p, *back = NULL, *der = NULL;
	struct escrow_parts *parts;
	struct escrow_qr_set *set = NULL;
	struct sd_err e = { "" };
	size_t i, n;
	char *s, last;

	(void)state;
	p = seal(NULL, &h);
	parts = split(p);
	/* a character dropped from the last part */
	s = parts->text[parts->n - 1];
	n = strlen(s);
	last = s[n - 1];
	s[n - 1] = '\0';
	assert_int_equal(escrow_qr_set_new(&set), 0);
	for (i = 0; i < parts->n; i++)
		assert_int_equal(escrow_qr_add(set, parts->text[i],
		    strlen(parts->text[i]), &e), 0);
	assert_int_equal(escrow_qr_join(set, &back, &e), SD_ERR_FORMAT);
	assert_null(back);
	escrow_qr_set_free(set);
	/* a character changed in the key: caught by the public key hash */
	s[n - 1] = last;
	s = parts->text[parts->n / 2];
	n = strlen(s);
	s[n / 2] = s[n / 2] == 'A' ? 'B' : 'A';
	assert_int_equal(escrow_qr_set_new(&set), 0);
	for (i = 0; i < parts->n; i++)
		assert_int_equal(escrow_qr_add(set, parts->text[i],
		    strlen(parts->text[i]), &e), 0);
	assert_int_equal(escrow_qr_join(set, &back, &e), 0);
	{
		struct escrow_header got;

		assert_int_equal(escrow_open(back->p, back->len, NULL, &got,
		    &der, &e), SD_ERR_AUTH);
		assert_null(der);
	}
	sd_secret_free(back);
	escrow_qr_set_free(set);
	escrow_parts_free(parts);
	sd_secret_free(p);
}

/* The largest payload still fits the limits of text and QR codes. */
static void
test_largest_payload(void **state)
{
	struct sd_secret *t = NULL, *back = NULL;
	struct escrow_parts *parts = NULL;
	struct escrow_text_report rep;
	uint8_t *p;

	(void)state;
	assert_non_null(p = malloc(ESCROW_MAX_PAYLOAD));
	randombytes_buf(p, ESCROW_MAX_PAYLOAD);
	assert_int_equal(escrow_text_encode(p, ESCROW_MAX_PAYLOAD, &t, NULL), 0);
	assert_true(escrow_text_lines(ESCROW_MAX_PAYLOAD) <= ESCROW_MAX_LINES);
	assert_int_equal(escrow_text_decode((const char *)t->p, t->len, &rep,
	    &back, NULL), 0);
	assert_memory_equal(back->p, p, ESCROW_MAX_PAYLOAD);
	assert_int_equal(escrow_qr_split(p, ESCROW_MAX_PAYLOAD, &parts, NULL), 0);
	assert_true(parts->n <= ESCROW_MAX_PARTS);
	escrow_parts_free(parts);
	sd_secret_free(back);
	sd_secret_free(t);
	free(p);
}

/*
 * The constant-time base32 (no table, no branch) against the obvious
 * table-and-strchr version it replaced, on every int a caller may pass.
 */
static int
b32_value_reference(int c)
{
	static const char a[] = ESCROW_B32_ALPHABET;
	const char *p;

	if (c >= 'a' && c <= 'z')
		c -= 'a' - 'A';
	if (c == 'O')
		c = '0';
	else if (c == 'I' || c == 'L')
		c = '1';
	if (c <= 0 || c > 255 || (p = strchr(a, c)) == NULL)
		return -1;
	return (int)(p - a);
}

static void
test_b32_branch_free_equivalence(void **state)
{
	uint8_t b[5];
	char out[16];
	int c, v;

	(void)state;
	for (c = -300; c < 600; c++)
		assert_int_equal(escrow_b32_value(c), b32_value_reference(c));
	/* every value encodes to its letter of the alphabet */
	for (v = 0; v < 32; v++) {
		/* 5 bytes = 8 characters; put v in the first one */
		memset(b, 0, sizeof(b));
		b[0] = (uint8_t)(v << 3);
		escrow_b32_encode(b, sizeof(b), out);
		assert_int_equal(out[0], ESCROW_B32_ALPHABET[v]);
		assert_string_equal(out + 1, "0000000");
	}
}

/* ---- compact sheets (format 2) ----------------------------------------- */

/* An RSA key of bits, its PKCS#8 DER and its public half. */
static void
make_rsa(int bits, EVP_PKEY **key, EVP_PKEY **pub, uint8_t **der,
    size_t *der_len)
{
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *p = NULL, *q = NULL;
	const unsigned char *cq;
	int n;

	assert_non_null(*key = EVP_RSA_gen((unsigned)bits));
	assert_non_null(p8 = EVP_PKEY2PKCS8(*key));
	assert_true((n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p)) > 0);
	assert_non_null(*der = malloc((size_t)n));
	memcpy(*der, p, (size_t)n);
	*der_len = (size_t)n;
	OPENSSL_clear_free(p, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	assert_true((n = i2d_PUBKEY(*key, &q)) > 0);
	cq = q;
	assert_non_null(*pub = d2i_PUBKEY(NULL, &cq, n));
	OPENSSL_free(q);
}

static void
test_compact_rebuild(void **state)
{
	static const int sizes[] = { 2048, 3072 };
	EVP_PKEY *key, *pub, *key2, *pub2;
	struct sd_secret *prime = NULL, *der = NULL;
	struct sd_err e = { "" };
	uint8_t *orig, *orig2;
	size_t olen, olen2, i;
	unsigned flags;
	int bits;

	(void)state;
	make_rsa(2048, &key2, &pub2, &orig2, &olen2);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		make_rsa(sizes[i], &key, &pub, &orig, &olen);
		assert_int_equal(escrow_rsa_prime(key, &prime, &bits, &flags, &e),
		    0);
		assert_int_equal(bits, sizes[i]);
		assert_int_equal(prime->len, (size_t)sizes[i] / 16);
		assert_int_equal(escrow_prime_len(sizes[i]), (size_t)sizes[i] / 16);
		/* the very same PKCS#8 comes back */
		assert_int_equal(escrow_rsa_rebuild(prime->p, prime->len, flags,
		    pub, &der, &e), 0);
		assert_int_equal(der->len, olen);
		assert_memory_equal(der->p, orig, olen);
		sd_secret_free(der);
		der = NULL;
		/* another key's public half: p does not divide n */
		if (sizes[i] == 2048) {
			assert_int_equal(escrow_rsa_rebuild(prime->p, prime->len,
			    flags, pub2, &der, &e), SD_ERR_KEY_MISMATCH);
			assert_null(der);
			assert_non_null(strstr(e.msg, "does not divide"));
		} else {
			assert_int_equal(escrow_rsa_rebuild(prime->p, prime->len,
			    flags, pub2, &der, &e), SD_ERR_KEY_MISMATCH);
			assert_null(der);
		}
		/* one flipped bit */
		prime->p[prime->len / 2] ^= 0x10;
		assert_int_equal(escrow_rsa_rebuild(prime->p, prime->len, flags,
		    pub, &der, &e), SD_ERR_KEY_MISMATCH);
		assert_null(der);
		sd_secret_free(prime);
		prime = NULL;
		free(orig);
		EVP_PKEY_free(key);
		EVP_PKEY_free(pub);
	}
	/* a public key has no prime */
	assert_int_equal(escrow_rsa_prime(pub2, &prime, &bits, &flags, &e),
	    SD_ERR_KEY);
	assert_null(prime);
	free(orig2);
	EVP_PKEY_free(key2);
	EVP_PKEY_free(pub2);
}

static void
compact_header(struct escrow_header *h, int bits)
{
	memset(h, 0, sizeof(*h));
	h->bits = bits;
	h->rsa_flags = ESCROW_RSA_SMALL_FIRST;
	memset(h->x5t_256, 0xcd, sizeof(h->x5t_256));
}

static void
test_compact_seal_open(void **state)
{
	struct escrow_header h, g;
	struct sd_secret *pl = NULL, *back = NULL, *text = NULL, *t2 = NULL;
	struct escrow_text_report rep;
	struct sd_err e = { "" };
	uint8_t prime[192];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prime); i++)
		prime[i] = (uint8_t)(i * 7 + 3);
	/* encrypted: 262 bytes for RSA-3072, 9 lines of 6 groups */
	compact_header(&h, 3072);
	assert_int_equal(escrow_seal_compact(&h, prime, sizeof(prime), "pass "
	    "phrase", &fast_kdf, NULL, &pl, &e), 0);
	assert_int_equal(pl->len, 262);
	assert_int_equal(pl->p[0], ESCROW_COMPACT_VERSION);
	assert_int_equal(escrow_text_groups(pl->p, pl->len),
	    ESCROW_LINE_GROUPS_COMPACT);
	assert_int_equal(escrow_text_lines_of(pl->p, pl->len), 9);
	assert_int_equal(escrow_peek(pl->p, pl->len, &g, &e), 0);
	assert_int_equal(g.format, ESCROW_COMPACT_VERSION);
	assert_int_equal(g.bits, 3072);
	assert_true(g.encrypted);
	assert_int_equal(g.rsa_flags, ESCROW_RSA_SMALL_FIRST);
	assert_memory_equal(g.x5t_256, h.x5t_256, ESCROW_HASH_LEN);
	assert_int_equal(escrow_open_compact(pl->p, pl->len, "pass phrase", &g,
	    &back, &e), 0);
	assert_int_equal(back->len, sizeof(prime));
	assert_memory_equal(back->p, prime, sizeof(prime));
	sd_secret_free(back);
	assert_int_equal(escrow_open_compact(pl->p, pl->len, "wrong", &g,
	    &back, &e), SD_ERR_AUTH);
	assert_int_equal(escrow_open_compact(pl->p, pl->len, NULL, &g, &back,
	    &e), SD_ERR_PASSPHRASE);
	/* the thumbprint is bound: altering it fails the tag */
	pl->p[10] ^= 1;
	assert_int_equal(escrow_open_compact(pl->p, pl->len, "pass phrase", &g,
	    &back, &e), SD_ERR_AUTH);
	pl->p[10] ^= 1;
	/* format 1's opener refuses it plainly */
	assert_int_equal(escrow_open(pl->p, pl->len, "pass phrase", &g, &back,
	    &e), SD_ERR_ARG);
	/* the typed copy: 9 lines of 54 characters, and back */
	assert_int_equal(escrow_text_encode(pl->p, pl->len, &text, &e), 0);
	assert_non_null(strstr((const char *)text->p, "  9: "));
	assert_null(strstr((const char *)text->p, " 10: "));
	assert_int_equal(escrow_text_decode((const char *)text->p, text->len,
	    &rep, &t2, &e), 0);
	assert_int_equal(t2->len, pl->len);
	assert_memory_equal(t2->p, pl->p, pl->len);
	sd_secret_free(t2);
	/* a typo in line 4, 3rd group: named */
	{
		char *c = strstr((char *)text->p, "  4: ");

		assert_non_null(c);
		c[5 + 2 * 9 + 3] = c[5 + 2 * 9 + 3] == 'A' ? 'B' : 'A';
		assert_int_equal(escrow_text_decode((const char *)text->p,
		    text->len, &rep, &t2, &e), SD_ERR_FORMAT);
		assert_int_equal(rep.n, 1);
		assert_string_equal(rep.msg[0], "line 4: checksum mismatch, "
		    "check characters 17-24");
	}
	sd_secret_free(text);
	sd_secret_free(pl);

	/* plain: 244 bytes, BLAKE2b check */
	compact_header(&h, 3072);
	assert_int_equal(escrow_seal_compact(&h, prime, sizeof(prime), NULL,
	    NULL, NULL, &pl, &e), 0);
	assert_int_equal(pl->len, 244);
	assert_int_equal(escrow_open_compact(pl->p, pl->len, NULL, &g, &back,
	    &e), 0);
	assert_memory_equal(back->p, prime, sizeof(prime));
	sd_secret_free(back);
	pl->p[50] ^= 4;
	assert_int_equal(escrow_open_compact(pl->p, pl->len, NULL, &g, &back,
	    &e), SD_ERR_AUTH);
	/* cut short */
	assert_int_equal(escrow_peek(pl->p, pl->len - 1, &g, &e), SD_ERR_FORMAT);
	sd_secret_free(pl);

	/* refused: a prime of the wrong size, a memlimit not a power of 2 */
	compact_header(&h, 3072);
	assert_int_equal(escrow_seal_compact(&h, prime, 191, NULL, NULL, NULL,
	    &pl, &e), SD_ERR_ARG);
	{
		struct escrow_kdf odd = { fast_kdf.opslimit, 24 };

		assert_int_equal(escrow_seal_compact(&h, prime, sizeof(prime),
		    "x", &odd, NULL, &pl, &e), SD_ERR_ARG);
	}
	assert_null(pl);
}

static void
test_compact_codes(void **state)
{
	struct escrow_header h, g;
	struct sd_secret *pl = NULL, *qr = NULL, *back = NULL;
	struct sd_err e = { "" };
	uint8_t prime[128] = { 1, 2, 3 }, cert[900], *c = NULL, md[32];
	char *pub = NULL, zbar[4000];
	size_t clen = 0;

	(void)state;
	memset(cert, 0x5a, sizeof(cert));
	compact_header(&h, 2048);
	assert_int_equal(escrow_seal_compact(&h, prime, sizeof(prime), NULL,
	    NULL, NULL, &pl, &e), 0);
	assert_int_equal(escrow_secret_qr(pl->p, pl->len, &qr, &e), 0);
	assert_memory_equal(qr->p, "SDK2/", 5);
	snprintf(zbar, sizeof(zbar), "QR-Code:%s\n", (const char *)qr->p);
	assert_int_equal(escrow_secret_qr_decode(zbar, strlen(zbar), &back, &e),
	    0);
	assert_int_equal(back->len, pl->len);
	assert_memory_equal(back->p, pl->p, pl->len);
	sd_secret_free(back);
	assert_int_equal(escrow_secret_qr_decode("SDE1/1/2/X", 10, &back, &e),
	    SD_ERR_FORMAT);

	fill_header(&h);
	assert_int_equal(escrow_public_encode(&h, cert, sizeof(cert), &pub, &e),
	    0);
	assert_memory_equal(pub, "SDC2/", 5);
	assert_true(strlen(pub) <= ESCROW_PUBLIC_MAX_CHARS);
	assert_int_equal(escrow_public_decode(pub, strlen(pub), &g, &c, &clen,
	    &e), 0);
	assert_int_equal(clen, sizeof(cert));
	assert_memory_equal(c, cert, sizeof(cert));
	crypto_hash_sha256(md, cert, sizeof(cert));
	assert_memory_equal(g.x5t_256, md, 32);
	assert_string_equal(g.officer, h.officer);
	assert_string_equal(g.hsm, h.hsm);
	assert_int_equal(g.key_index, h.key_index);
	assert_int_equal(g.created, h.created);
	free(c);
	c = NULL;
	/* one character changed: the check finds it */
	pub[40] = pub[40] == 'A' ? 'B' : 'A';
	assert_int_not_equal(escrow_public_decode(pub, strlen(pub), &g, &c,
	    &clen, &e), 0);
	assert_null(c);
	free(pub);
	sd_secret_free(qr);
	sd_secret_free(pl);
}

/* ---- sheets of format 1, printed by sdtool 0.1.0 ------------------------ */

/* A file of tests/fixtures/escrow-v1 (run from the source tree). */
static char *
fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SDTOOL_SRCDIR");
	char path[1024];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/escrow-v1/%s",
	    dir != NULL ? dir : ".", name);
	assert_non_null(f = fopen(path, "rb"));
	assert_non_null(buf = calloc(1, 65536));
	n = fread(buf, 1, 65535, f);
	fclose(f);
	*len = n;
	return buf;
}

static void
v1_fixture(const char *sheet, const char *pass)
{
	struct escrow_text_report rep;
	struct escrow_header h;
	struct sd_secret *payload = NULL, *der = NULL;
	struct sd_err e = { "" };
	uint8_t md[32];
	char *text, *want, hex[65];
	size_t len, wlen, i;

	text = fixture(sheet, &len);
	want = fixture("key.p8.sha256", &wlen);
	assert_int_equal(escrow_text_decode(text, len, &rep, &payload, &e), 0);
	assert_int_equal(escrow_peek(payload->p, payload->len, &h, &e), 0);
	assert_int_equal(h.encrypted, pass != NULL);
	assert_string_equal(h.officer, "Fixture Officer");
	assert_int_equal(escrow_open(payload->p, payload->len, pass, &h, &der,
	    &e), 0);
	assert_int_equal(EVP_Digest(der->p, der->len, md, NULL, EVP_sha256(),
	    NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_memory_equal(hex, want, 64);
	sd_secret_free(payload);
	sd_secret_free(der);
	free(text);
	free(want);
}

static void
test_v1_fixtures(void **state)
{
	(void)state;
	v1_fixture("sheet-plain.txt", NULL);
	v1_fixture("sheet-enc.txt", "fixture sheet passphrase");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b32_known_answers),
		cmocka_unit_test(test_b32_branch_free_equivalence),
		cmocka_unit_test(test_b32_confusables),
		cmocka_unit_test(test_b32_rejects),
		cmocka_unit_test(test_b32_round_trip),
		cmocka_unit_test(test_check_text),
		cmocka_unit_test(test_seal_open_plain),
		cmocka_unit_test(test_seal_open_encrypted),
		cmocka_unit_test(test_tampered_header),
		cmocka_unit_test(test_plain_key_checked),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_peek_malformed),
		cmocka_unit_test(test_text_layout),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_text_sloppy_typing),
		cmocka_unit_test(test_text_every_typo_located),
		cmocka_unit_test(test_text_transposition),
		cmocka_unit_test(test_text_swapped_lines),
		cmocka_unit_test(test_text_structure_errors),
		cmocka_unit_test(test_text_whole_checksum),
		cmocka_unit_test(test_qr_split_shape),
		cmocka_unit_test(test_qr_longest_part),
		cmocka_unit_test(test_qr_any_order),
		cmocka_unit_test(test_qr_errors),
		cmocka_unit_test(test_qr_damaged),
		cmocka_unit_test(test_largest_payload),
		cmocka_unit_test(test_v1_fixtures),
		cmocka_unit_test(test_compact_rebuild),
		cmocka_unit_test(test_compact_seal_open),
		cmocka_unit_test(test_compact_codes),
	};

	return cmocka_run_group_tests_name("escrow", tests, setup, teardown);
}
