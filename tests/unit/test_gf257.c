/*
 * test_gf257.c - the GF(257) field operations against plain modular
 * arithmetic, exhaustively over every pair of elements.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "../../shares/shamir.h"

#define P 257u

static void
test_add_sub_mul_exhaustive(void **state)
{
	uint32_t a, b;

	(void)state;
	for (a = 0; a < P; a++) {
		for (b = 0; b < P; b++) {
			assert_int_equal(gf257_add(a, b), (a + b) % P);
			assert_int_equal(gf257_sub(a, b), (a + P - b) % P);
			assert_int_equal(gf257_mul(a, b), (a * b) % P);
		}
	}
}

static void
test_inverse(void **state)
{
	uint32_t a, b, want;

	(void)state;
	assert_int_equal(gf257_inv(0), 0);
	for (a = 1; a < P; a++) {
		assert_int_equal(gf257_mul(a, gf257_inv(a)), 1);
		/* the inverse found by search, so a wrong but self-consistent
		 * gf257_mul cannot hide a wrong inverse */
		for (want = 0, b = 1; b < P; b++) {
			if ((a * b) % P == 1)
				want = b;
		}
		assert_int_equal(gf257_inv(a), want);
	}
}

static void
test_results_in_range(void **state)
{
	uint32_t a, b;

	(void)state;
	for (a = 0; a < P; a++) {
		assert_true(gf257_inv(a) < P);
		for (b = 0; b < P; b++) {
			assert_true(gf257_add(a, b) < P);
			assert_true(gf257_sub(a, b) < P);
			assert_true(gf257_mul(a, b) < P);
		}
	}
}

static void
test_field_laws(void **state)
{
	static const uint32_t cs[] = {
		0, 1, 2, 3, 127, 128, 129, 254, 255, 256,
	};
	uint32_t a, b;
	size_t i;

	(void)state;
	for (a = 0; a < P; a++) {
		for (b = 0; b < P; b++) {
			/* commutativity and sub undoing add */
			assert_int_equal(gf257_add(a, b), gf257_add(b, a));
			assert_int_equal(gf257_mul(a, b), gf257_mul(b, a));
			assert_int_equal(gf257_sub(gf257_add(a, b), b), a);
			for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
				assert_int_equal(
				    gf257_mul(a, gf257_add(b, cs[i])),
				    gf257_add(gf257_mul(a, b),
				    gf257_mul(a, cs[i])));
				assert_int_equal(
				    gf257_mul(gf257_mul(a, b), cs[i]),
				    gf257_mul(a, gf257_mul(b, cs[i])));
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_sub_mul_exhaustive),
		cmocka_unit_test(test_inverse),
		cmocka_unit_test(test_results_in_range),
		cmocka_unit_test(test_field_laws),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
