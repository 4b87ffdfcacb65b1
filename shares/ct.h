/*
 * ct.h - helpers for code that must take the same path and touch the same
 * memory whatever the secret it handles (constant time).
 *
 * Values below are 0/1 flags or all-ones/zero masks computed with
 * arithmetic only: no comparison the compiler could turn into a branch or
 * a conditional move on secret data.  tests/ct/ checks this under valgrind
 * memcheck, with secrets marked undefined: any branch or memory index
 * depending on them is reported.
 *
 * sd_ct_declassify() marks a value derived from a secret as public, for
 * the one place where code must branch on it (a MAC check's verdict,
 * whether an encoding is valid, a length the output reveals anyway).
 * It compiles to nothing, except in the ct test build (-DSD_CT_TEST) where
 * it tells memcheck the value is defined.
 */
#ifndef SD_CT_H
#define SD_CT_H

#include <stddef.h>
#include <stdint.h>

#ifdef SD_CT_TEST
#include <valgrind/memcheck.h>
#define sd_ct_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define sd_ct_classify(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#else
#define sd_ct_declassify(p, n) ((void)(p), (void)(n))
#define sd_ct_classify(p, n) ((void)(p), (void)(n))
#endif

/* 1 if x >= y, else 0; x, y < 2^31. */
static inline uint32_t
sd_ct_ge(uint32_t x, uint32_t y)
{
	return (y - x - 1) >> 31;
}

/* 1 if x == y, else 0; x, y < 2^31. */
static inline uint32_t
sd_ct_eq(uint32_t x, uint32_t y)
{
	return sd_ct_ge(x, y) & sd_ct_ge(y, x);
}

/* 1 if lo <= x <= hi, else 0. */
static inline uint32_t
sd_ct_in(uint32_t x, uint32_t lo, uint32_t hi)
{
	return sd_ct_ge(x, lo) & sd_ct_ge(hi, x);
}

/* 1 if x != 0, else 0. */
static inline uint32_t
sd_ct_nonzero(uint32_t x)
{
	return (x | (0u - x)) >> 31;
}

/* All ones if bit (0 or 1) is set, else 0. */
static inline uint32_t
sd_ct_mask(uint32_t bit)
{
	return 0u - bit;
}

#endif
