/*
 * shamir.c - Shamir secret sharing over GF(257) in the Managed HSM's
 * 16-bit word encoding (x << 9 | v, little endian).
 *
 * Field elements that derive from the secret (share values, polynomial
 * coefficients, partial sums) only ever pass through the branch-free,
 * table-free gf257_* functions.  Loops and branches depend on public
 * quantities only: lengths, counts and share positions x.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ct.h"
#include "shamir.h"

/*
 * x mod 257 for 0 <= x < 257 * 256.  Since 256 = -1 (mod 257),
 * x = 256 h + l is congruent to l - h; adding 257 keeps that positive
 * (1..512), and one masked subtraction brings it into 0..256.
 */
static uint32_t
gf257_reduce(uint32_t x)
{
	uint32_t t, mask;

	t = (x & 0xff) + SHAMIR_P - (x >> 8);
	/* all ones when t >= 257: t - 257 then does not wrap */
	mask = ((t - SHAMIR_P) >> 31) - 1;
	t -= SHAMIR_P & mask;
	return t;
}

uint32_t
gf257_add(uint32_t a, uint32_t b)
{
	return gf257_reduce(a + b);
}

uint32_t
gf257_sub(uint32_t a, uint32_t b)
{
	return gf257_reduce(a + SHAMIR_P - b);
}

uint32_t
gf257_mul(uint32_t a, uint32_t b)
{
	return gf257_reduce(a * b);
}

uint32_t
gf257_inv(uint32_t a)
{
	uint32_t r = a;
	int i;

	/* 255 = 0b11111111: the same seven square-and-multiply steps always */
	for (i = 0; i < 7; i++)
		r = gf257_mul(gf257_mul(r, r), a);
	return r;
}

static uint32_t
share_word(const uint8_t *share, size_t i)
{
	return (uint32_t)share[2 * i] | (uint32_t)share[2 * i + 1] << 8;
}

int
shamir_share_x(const uint8_t *share, size_t share_len, unsigned *x,
    struct sd_err *e)
{
	uint32_t w, x0, v, over = 0;
	size_t i;

	*x = 0;
	if (share == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no share");
	if (share_len == 0 || share_len % 2 != 0)
		return sd_err_set(e, SD_ERR_SHARE,
		    "share is %zu bytes, expected a non-zero even number",
		    share_len);
	x0 = share_word(share, 0) >> 9;
	if (x0 < 1 || x0 > SHAMIR_MAX_X)
		return sd_err_set(e, SD_ERR_SHARE,
		    "share position %u outside 1..%u", (unsigned)x0,
		    SHAMIR_MAX_X);
	for (i = 0; i < share_len / 2; i++) {
		w = share_word(share, i);
		if ((w >> 9) != x0)
			return sd_err_set(e, SD_ERR_SHARE,
			    "share word %zu has position %u, word 0 has %u",
			    i, (unsigned)(w >> 9), (unsigned)x0);
		/*
		 * v is secret: gather "some v > 256" without branching, so
		 * a rejected share does not say where it went wrong.
		 */
		v = w & 0x1ff;
		over |= (256 - v) >> 31;
	}
	sodium_memzero(&w, sizeof(w));
	sodium_memzero(&v, sizeof(v));
	sd_ct_declassify(&over, sizeof(over));   /* the verdict only */
	if (over)
		return sd_err_set(e, SD_ERR_SHARE,
		    "share holds a value above 256");
	*x = (unsigned)x0;
	return 0;
}

int
shamir_combine(const uint8_t *const *shares, size_t count,
    size_t share_len, struct sd_secret **secret, struct sd_err *e)
{
	struct sd_secret *s = NULL;
	unsigned xs[SHAMIR_MAX_SHARES];
	uint32_t coef[SHAMIR_MAX_SHARES], num, den, v = 0, acc = 0, bad = 0;
	size_t i, j, k;
	int r = SD_ERR_INTERNAL;

	*secret = NULL;
	if (shares == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no shares");
	if (count < 2 || count > SHAMIR_MAX_SHARES)
		return sd_err_set(e, SD_ERR_SHARE,
		    "%zu shares given, expected 2 to %u", count,
		    SHAMIR_MAX_SHARES);
	for (i = 0; i < count; i++) {
		if ((r = shamir_share_x(shares[i], share_len, &xs[i], e)) != 0)
			return sd_err_prefix(e, r, "share %zu", i);
		for (j = 0; j < i; j++) {
			if (xs[j] == xs[i])
				return sd_err_set(e, SD_ERR_SHARE,
				    "shares %zu and %zu both have position %u",
				    j, i, xs[i]);
		}
	}

	/* Lagrange basis at 0; depends only on the public positions. */
	for (i = 0; i < count; i++) {
		num = den = 1;
		for (j = 0; j < count; j++) {
			if (j == i)
				continue;
			num = gf257_mul(num, xs[j]);
			den = gf257_mul(den, gf257_sub(xs[j], xs[i]));
		}
		coef[i] = gf257_mul(num, gf257_inv(den));
	}

	if ((s = sd_secret_new(share_len / 2)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of secure memory");
		goto out;
	}
	for (k = 0; k < share_len / 2; k++) {
		acc = 0;
		for (i = 0; i < count; i++) {
			v = share_word(shares[i], k) & 0x1ff;
			acc = gf257_add(acc, gf257_mul(coef[i], v));
		}
		/* 256 cannot be a byte: remember it, decide at the end */
		bad |= acc >> 8;
		s->p[k] = (uint8_t)(acc & 0xff);
	}
	sd_ct_declassify(&bad, sizeof(bad));     /* the verdict only */
	if (bad) {
		r = sd_err_set(e, SD_ERR_SHARE,
		    "shares do not belong together (an interpolated value is "
		    "256)");
		goto out;
	}
	*secret = s;
	s = NULL;
	r = 0;
 out:
	sd_secret_free(s);
	sodium_memzero(&v, sizeof(v));
	sodium_memzero(&acc, sizeof(acc));
	return r;
}

/*
 * A coefficient uniform in 0..256.  65535 = 255 * 257 values 0..65534
 * are accepted so each residue is equally likely; rejecting 65535 tells
 * nothing about the value kept.  A source that keeps returning 65535 is
 * broken, not unlucky.
 */
static int
random_coef(const struct sd_rng *rng, uint32_t *c)
{
	uint8_t b[2];
	uint32_t t = 0, keep;
	int i, r = SD_ERR_CRYPTO;

	for (i = 0; i < 64; i++) {
		sd_random(rng, b, sizeof(b));
		t = (uint32_t)b[0] | (uint32_t)b[1] << 8;
		/* whether t is kept says nothing of the value kept */
		keep = sd_ct_ge(65534u, t);
		sd_ct_declassify(&keep, sizeof(keep));
		if (keep) {
			*c = gf257_reduce(t);
			r = 0;
			break;
		}
	}
	sodium_memzero(b, sizeof(b));
	sodium_memzero(&t, sizeof(t));
	return r;
}

int
shamir_split(const uint8_t *secret, size_t secret_len, unsigned required,
    unsigned count, const struct sd_rng *rng, struct sd_secret **shares,
    struct sd_err *e)
{
	uint32_t coef[SHAMIR_MAX_SHARES], v = 0, w = 0, x;
	size_t i, k;
	unsigned d;
	int r = SD_ERR_INTERNAL;

	if (shares == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no output for shares");
	for (i = 0; i < count; i++)
		shares[i] = NULL;
	if (secret == NULL || secret_len == 0)
		return sd_err_set(e, SD_ERR_ARG, "empty secret");
	if (secret_len > SIZE_MAX / 2)
		return sd_err_set(e, SD_ERR_LIMIT, "secret too long");
	if (required < 2 || required > count || count > SHAMIR_MAX_SHARES)
		return sd_err_set(e, SD_ERR_ARG,
		    "quorum %u of %u shares: need 2 <= quorum <= shares <= %u",
		    required, count, SHAMIR_MAX_SHARES);

	for (i = 0; i < count; i++) {
		if ((shares[i] = sd_secret_new(2 * secret_len)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC,
			    "out of secure memory");
			goto out;
		}
	}
	for (k = 0; k < secret_len; k++) {
		/* p(X) = coef[0] + coef[1] X + ... with p(0) the secret byte */
		coef[0] = secret[k];
		for (d = 1; d < required; d++) {
			if ((r = random_coef(rng, &coef[d])) != 0) {
				sd_err_set(e, r, "random source failed");
				goto out;
			}
		}
		for (i = 0; i < count; i++) {
			x = (uint32_t)i + 1;
			v = coef[required - 1];
			for (d = required - 1; d > 0; d--)
				v = gf257_add(gf257_mul(v, x), coef[d - 1]);
			w = x << 9 | v;
			shares[i]->p[2 * k] = (uint8_t)(w & 0xff);
			shares[i]->p[2 * k + 1] = (uint8_t)(w >> 8);
		}
	}
	r = 0;
 out:
	if (r != 0) {
		for (i = 0; i < count; i++) {
			sd_secret_free(shares[i]);
			shares[i] = NULL;
		}
	}
	sodium_memzero(coef, sizeof(coef));
	sodium_memzero(&v, sizeof(v));
	sodium_memzero(&w, sizeof(w));
	return r;
}
