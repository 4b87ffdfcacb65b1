/*
 * test_shamir.c - split and combine over every subset, the word encoding,
 * values of 256, and every way a share set can be inconsistent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "../../shares/shamir.h"

#define SECRET_LEN 32

/* splitmix64: a deterministic stream so failures reproduce */
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

/* Replays a fixed byte script, then repeats its last two bytes. */
struct script_rng {
	const uint8_t *b;
	size_t len, pos;
};

static void
script_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct script_rng *s = ctx;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s->pos < s->len)
			buf[i] = s->b[s->pos++];
		else
			buf[i] = s->b[s->len - 2 + (s->pos++ - s->len) % 2];
	}
}

static uint32_t
word(const uint8_t *share, size_t i)
{
	return (uint32_t)share[2 * i] | (uint32_t)share[2 * i + 1] << 8;
}

static void
free_shares(struct sd_secret **sh, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sd_secret_free(sh[i]);
		sh[i] = NULL;
	}
}

static size_t seen_v256;

/* Split, then combine every subset of exactly `required` shares. */
static void
check_all_subsets(const uint8_t *secret, size_t len, unsigned required,
    unsigned count, const struct sd_rng *rng)
{
	struct sd_secret *sh[SHAMIR_MAX_SHARES] = { NULL }, *out = NULL;
	const uint8_t *pick[SHAMIR_MAX_SHARES];
	struct sd_err e = { "" };
	unsigned mask, i, n, x;
	size_t k;

	assert_int_equal(shamir_split(secret, len, required, count, rng, sh,
	    &e), 0);
	for (i = 0; i < count; i++) {
		assert_non_null(sh[i]);
		assert_int_equal(sh[i]->len, 2 * len);
		assert_int_equal(shamir_share_x(sh[i]->p, sh[i]->len, &x, &e),
		    0);
		assert_int_equal(x, i + 1);
		for (k = 0; k < len; k++) {
			assert_int_equal(word(sh[i]->p, k) >> 9, i + 1);
			assert_true((word(sh[i]->p, k) & 0x1ff) <= 256);
			if ((word(sh[i]->p, k) & 0x1ff) == 256)
				seen_v256++;
		}
	}
	for (mask = 0; mask < (1u << count); mask++) {
		if ((unsigned)__builtin_popcount(mask) != required)
			continue;
		for (n = 0, i = 0; i < count; i++) {
			if (mask & (1u << i))
				pick[n++] = sh[i]->p;
		}
		assert_int_equal(shamir_combine(pick, n, 2 * len, &out, &e), 0);
		assert_non_null(out);
		assert_int_equal(out->len, len);
		assert_memory_equal(out->p, secret, len);
		sd_secret_free(out);
		out = NULL;
	}
	free_shares(sh, count);
}

static void
test_all_subsets(void **state)
{
	struct det_rng d = { 1 };
	struct sd_rng rng = { det_fill, &d };
	uint8_t secret[SECRET_LEN];
	unsigned required, count, t;

	(void)state;
	seen_v256 = 0;
	for (count = 2; count <= SHAMIR_MAX_SHARES; count++) {
		for (required = 2; required <= count; required++) {
			for (t = 0; t < 5; t++) {
				if (t == 0)
					memset(secret, 0x00, sizeof(secret));
				else if (t == 1)
					memset(secret, 0xff, sizeof(secret));
				else
					det_fill(&d, secret, sizeof(secret));
				check_all_subsets(secret, sizeof(secret),
				    required, count, &rng);
			}
		}
	}
	/* 256 appears about once in 257 words; we made many thousands */
	assert_true(seen_v256 > 0);
}

static void
test_system_rng(void **state)
{
	uint8_t secret[SECRET_LEN];

	(void)state;
	randombytes_buf(secret, sizeof(secret));
	check_all_subsets(secret, sizeof(secret), 3, 5, NULL);
}

/*
 * p(X) = 0 + 256 X: coefficient 256 comes from the 16-bit draw 256
 * (bytes 00 01, low byte first).  p(1) = 256, p(2) = 512 mod 257 = 255.
 */
static void
test_crafted_v256(void **state)
{
	static const uint8_t script[] = { 0x00, 0x01 };
	struct script_rng s = { script, sizeof(script), 0 };
	struct sd_rng rng = { script_fill, &s };
	struct sd_secret *sh[2] = { NULL }, *out = NULL;
	const uint8_t *pick[2];
	const uint8_t secret[1] = { 0 };
	struct sd_err e = { "" };
	unsigned x;

	(void)state;
	assert_int_equal(shamir_split(secret, 1, 2, 2, &rng, sh, &e), 0);
	/* word 1 << 9 | 256 = 0x0300, little endian */
	assert_int_equal(sh[0]->p[0], 0x00);
	assert_int_equal(sh[0]->p[1], 0x03);
	/* word 2 << 9 | 255 = 0x04ff */
	assert_int_equal(sh[1]->p[0], 0xff);
	assert_int_equal(sh[1]->p[1], 0x04);
	assert_int_equal(shamir_share_x(sh[0]->p, 2, &x, &e), 0);
	assert_int_equal(x, 1);
	pick[0] = sh[1]->p;
	pick[1] = sh[0]->p;
	assert_int_equal(shamir_combine(pick, 2, 2, &out, &e), 0);
	assert_int_equal(out->p[0], 0);
	sd_secret_free(out);
	free_shares(sh, 2);
}

/* A draw of 0xffff is rejected; the next one, 5, is the coefficient. */
static void
test_rejection_sampling(void **state)
{
	static const uint8_t script[] = { 0xff, 0xff, 0x05, 0x00 };
	static const uint8_t stuck[] = { 0xff, 0xff };
	struct script_rng s = { script, sizeof(script), 0 };
	struct sd_rng rng = { script_fill, &s };
	struct sd_secret *sh[3] = { NULL };
	const uint8_t secret[1] = { 7 };
	struct sd_err e = { "" };
	unsigned i;

	(void)state;
	assert_int_equal(shamir_split(secret, 1, 2, 3, &rng, sh, &e), 0);
	/* p(X) = 7 + 5 X */
	for (i = 0; i < 3; i++)
		assert_int_equal(word(sh[i]->p, 0),
		    (i + 1) << 9 | (7 + 5 * (i + 1)));
	free_shares(sh, 3);

	/* 258 = 257 + 1 reduces to 1: p(X) = 7 + X */
	s = (struct script_rng){ (const uint8_t *)"\x02\x01", 2, 0 };
	assert_int_equal(shamir_split(secret, 1, 2, 3, &rng, sh, &e), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(word(sh[i]->p, 0),
		    (i + 1) << 9 | (7 + (i + 1)));
	free_shares(sh, 3);

	/* a source that only ever gives 0xffff fails instead of hanging */
	s = (struct script_rng){ stuck, sizeof(stuck), 0 };
	sh[0] = sh[1] = sh[2] = (struct sd_secret *)&e;  /* must be reset */
	assert_int_equal(shamir_split(secret, 1, 2, 3, &rng, sh, &e),
	    SD_ERR_CRYPTO);
	for (i = 0; i < 3; i++)
		assert_null(sh[i]);
}

static void
test_word_encoding(void **state)
{
	/* x = 1, v = 0x0ab: word 0x02ab; x = 126, v = 256: word 0xfd00 */
	static const uint8_t s1[] = { 0xab, 0x02, 0x00, 0x03 };
	static const uint8_t s126[] = { 0x00, 0xfd, 0x05, 0xfc };
	struct sd_err e = { "" };
	unsigned x;

	(void)state;
	assert_int_equal(shamir_share_x(s1, sizeof(s1), &x, &e), 0);
	assert_int_equal(x, 1);
	assert_int_equal(shamir_share_x(s126, sizeof(s126), &x, &e), 0);
	assert_int_equal(x, 126);
}

/* Combine a good share at x = 2 with a second share made of `bad`. */
static void
expect_bad_share(const uint8_t *bad, size_t len, const char *what)
{
	uint8_t good[8] = { 0x01, 0x04, 0x01, 0x04, 0x01, 0x04, 0x01, 0x04 };
	const uint8_t *pick[2] = { good, bad };
	struct sd_secret *out = (struct sd_secret *)good;
	struct sd_err e = { "" };
	unsigned x = 99;

	assert_true(len <= sizeof(good));
	assert_int_equal(shamir_share_x(bad, len, &x, &e), SD_ERR_SHARE);
	assert_int_equal(x, 0);
	assert_non_null(strstr(e.msg, what));
	e.msg[0] = '\0';
	assert_int_equal(shamir_combine(pick, 2, len, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	assert_non_null(strstr(e.msg, what));
}

static void
test_reject_bad_words(void **state)
{
	(void)state;
	/* x = 0 */
	expect_bad_share((const uint8_t *)"\x05\x00\x05\x00", 4, "position 0");
	/* x = 127: word 0xfe05 */
	expect_bad_share((const uint8_t *)"\x05\xfe\x05\xfe", 4,
	    "position 127");
	/* v = 257: bytes 01 03 are word 0x0301, x = 1, v = 0x101 */
	expect_bad_share((const uint8_t *)"\x01\x03\x01\x02", 4, "above 256");
	expect_bad_share((const uint8_t *)"\x01\x02\x01\x03", 4, "above 256");
	/* v = 511 */
	expect_bad_share((const uint8_t *)"\xff\x03\x01\x02", 4, "above 256");
	/* x = 1 in word 0, x = 3 in word 1 */
	expect_bad_share((const uint8_t *)"\x01\x02\x01\x06", 4,
	    "word 1 has position 3");
	/*
	 * A shorter share padded to the common length: its extra words
	 * read as x = 0 and cannot pass for the same share.
	 */
	expect_bad_share((const uint8_t *)"\x01\x02\x01\x02\x00\x00", 6,
	    "word 2 has position 0");
}

static void
test_reject_set(void **state)
{
	const uint8_t a[4] = { 0x01, 0x02, 0x02, 0x02 };   /* x = 1 */
	const uint8_t b[4] = { 0x03, 0x04, 0x04, 0x04 };   /* x = 2 */
	const uint8_t c[4] = { 0x09, 0x02, 0x09, 0x02 };   /* x = 1 again */
	const uint8_t *pick[SHAMIR_MAX_SHARES + 1];
	const uint8_t *many[SHAMIR_MAX_SHARES + 1];
	uint8_t buf[SHAMIR_MAX_SHARES + 1][2];
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };
	unsigned i;

	(void)state;
	/* duplicate x */
	pick[0] = a; pick[1] = b; pick[2] = c;
	assert_int_equal(shamir_combine(pick, 3, 4, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	assert_non_null(strstr(e.msg, "both have position 1"));
	/* odd and zero lengths */
	assert_int_equal(shamir_combine(pick, 2, 3, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	assert_int_equal(shamir_combine(pick, 2, 0, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	/* count 1 and 11 */
	for (i = 0; i < SHAMIR_MAX_SHARES + 1; i++) {
		buf[i][0] = 0x10;
		buf[i][1] = (uint8_t)((i + 1) << 1);
		many[i] = buf[i];
	}
	assert_int_equal(shamir_combine(many, 1, 2, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	assert_int_equal(shamir_combine(many, SHAMIR_MAX_SHARES + 1, 2, &out,
	    &e), SD_ERR_SHARE);
	assert_null(out);
	/* the same distinct x values, ten of them, are accepted */
	assert_int_equal(shamir_combine(many, SHAMIR_MAX_SHARES, 2, &out, &e),
	    0);
	sd_secret_free(out);
	out = NULL;
	assert_int_equal(shamir_combine(NULL, 2, 2, &out, &e), SD_ERR_ARG);
}

/*
 * Two shares at x = 1 and 2 interpolate to 2 v1 - v2 at 0; v1 = 128 and
 * v2 = 0 give 256, which is no byte: the shares do not belong together.
 */
static void
test_interpolated_256(void **state)
{
	const uint8_t s1[2] = { 0x80, 0x02 };   /* x = 1, v = 128 */
	const uint8_t s2[2] = { 0x00, 0x04 };   /* x = 2, v = 0 */
	const uint8_t ok[2] = { 0x7f, 0x02 };   /* x = 1, v = 127 -> 254 */
	const uint8_t *pick[2] = { s1, s2 };
	struct sd_secret *out = NULL;
	struct sd_err e = { "" };

	(void)state;
	assert_int_equal(shamir_combine(pick, 2, 2, &out, &e), SD_ERR_SHARE);
	assert_null(out);
	assert_non_null(strstr(e.msg, "256"));
	pick[0] = ok;
	assert_int_equal(shamir_combine(pick, 2, 2, &out, &e), 0);
	assert_int_equal(out->p[0], 254);
	sd_secret_free(out);
}

static void
test_fewer_than_quorum(void **state)
{
	/* the seed is fixed: with it no pair interpolates to 256 */
	struct det_rng d = { 42 };
	struct sd_rng rng = { det_fill, &d };
	struct sd_secret *sh[5] = { NULL }, *out = NULL;
	const uint8_t *pick[3];
	uint8_t secret[SECRET_LEN];
	struct sd_err e = { "" };

	(void)state;
	det_fill(&d, secret, sizeof(secret));
	assert_int_equal(shamir_split(secret, sizeof(secret), 3, 5, &rng, sh,
	    &e), 0);
	pick[0] = sh[0]->p; pick[1] = sh[3]->p; pick[2] = sh[4]->p;
	assert_int_equal(shamir_combine(pick, 2, sh[0]->len, &out, &e), 0);
	assert_memory_not_equal(out->p, secret, sizeof(secret));
	sd_secret_free(out);
	out = NULL;
	assert_int_equal(shamir_combine(pick, 3, sh[0]->len, &out, &e), 0);
	assert_memory_equal(out->p, secret, sizeof(secret));
	sd_secret_free(out);
	free_shares(sh, 5);
}

static void
test_split_bad_args(void **state)
{
	struct sd_secret *sh[SHAMIR_MAX_SHARES + 1];
	const uint8_t secret[4] = { 1, 2, 3, 4 };
	struct sd_err e = { "" };
	unsigned i;

	(void)state;
	assert_int_equal(shamir_split(secret, 4, 1, 3, NULL, sh, &e),
	    SD_ERR_ARG);
	assert_int_equal(shamir_split(secret, 4, 4, 3, NULL, sh, &e),
	    SD_ERR_ARG);
	assert_int_equal(shamir_split(secret, 4, 2, SHAMIR_MAX_SHARES + 1,
	    NULL, sh, &e), SD_ERR_ARG);
	for (i = 0; i < SHAMIR_MAX_SHARES + 1; i++)
		assert_null(sh[i]);
	assert_int_equal(shamir_split(secret, 0, 2, 3, NULL, sh, &e),
	    SD_ERR_ARG);
	assert_int_equal(shamir_split(NULL, 4, 2, 3, NULL, sh, &e),
	    SD_ERR_ARG);
	for (i = 0; i < 3; i++)
		assert_null(sh[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_subsets),
		cmocka_unit_test(test_system_rng),
		cmocka_unit_test(test_crafted_v256),
		cmocka_unit_test(test_rejection_sampling),
		cmocka_unit_test(test_word_encoding),
		cmocka_unit_test(test_reject_bad_words),
		cmocka_unit_test(test_reject_set),
		cmocka_unit_test(test_interpolated_256),
		cmocka_unit_test(test_fewer_than_quorum),
		cmocka_unit_test(test_split_bad_args),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
