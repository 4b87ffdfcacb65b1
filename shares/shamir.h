/*
 * shamir.h - Shamir secret sharing over GF(257), in the Managed HSM word
 * encoding.
 *
 * A share of an n-byte secret is n little-endian 16-bit words, one per
 * secret byte: word = x << 9 | v, where x (1..126) is the share's position
 * and v (0..256) the polynomial's value there.  The secret byte is the
 * Lagrange interpolation at 0 of any `required` shares.
 *
 * Arithmetic on v (secret-dependent) is branch-free and uses no tables;
 * only the public x values select code paths.
 */
#ifndef SD_SHAMIR_H
#define SD_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"
#include "secret.h"

#define SHAMIR_P        257u
#define SHAMIR_MAX_X    126u  /* largest share position the encoding allows */
#define SHAMIR_MAX_SHARES 10u /* the service's limit on N and on the quorum */

/* GF(257) field operations on values 0..256 (constant time). */
uint32_t gf257_add(uint32_t a, uint32_t b);
uint32_t gf257_sub(uint32_t a, uint32_t b);
uint32_t gf257_mul(uint32_t a, uint32_t b);
/* Multiplicative inverse (a^255); gf257_inv(0) is 0. */
uint32_t gf257_inv(uint32_t a);

/*
 * The position x of a share (share_len bytes: share_len/2 words), checking
 * that every word carries the same x, that x is 1..SHAMIR_MAX_X, and every
 * v is at most 256.  Returns 0 and sets *x, or SD_ERR_SHARE with detail.
 */
int shamir_share_x(const uint8_t *share, size_t share_len, unsigned *x,
    struct sd_err *e) SD_WUR;

/*
 * Recombine the secret from count shares, each share_len bytes (even).
 * count must be 2..SHAMIR_MAX_SHARES; every share is checked as by
 * shamir_share_x(), and x values must be distinct.  The secret
 * (share_len/2 bytes) is written to a new guarded buffer *secret.
 * The result is only correct if count equals the quorum used at split
 * time; with fewer shares the output is a wrong secret (no error is
 * possible: authenticate what it decrypts).  Interpolated values must fit
 * a byte; one that does not (256) means the shares do not belong together
 * and gives SD_ERR_SHARE.
 */
int shamir_combine(const uint8_t *const *shares, size_t count,
    size_t share_len, struct sd_secret **secret, struct sd_err *e) SD_WUR;

/*
 * Split secret (secret_len bytes) into count shares, any required of which
 * recombine it (2 <= required <= count <= SHAMIR_MAX_SHARES).  Share i
 * (0-based) has x = i + 1 and is written to a new guarded buffer
 * shares[i] of 2 * secret_len bytes.  Polynomial coefficients are uniform
 * in GF(257), drawn from rng (NULL: the system's).  On failure no buffer is
 * left allocated and shares[] is all NULL.
 */
int shamir_split(const uint8_t *secret, size_t secret_len, unsigned required,
    unsigned count, const struct sd_rng *rng, struct sd_secret **shares,
    struct sd_err *e) SD_WUR;

#endif
