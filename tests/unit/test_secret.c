/*
 * test_secret.c - guarded buffers are counted (sd_secret_live), so tests
 * can prove that no secret outlives its use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "../../shares/secret.h"

static void
test_live_count(void **state)
{
	size_t base = sd_secret_live();
	struct sd_secret *a, *b;
	void *raw;

	assert_non_null(a = sd_secret_new(32));
	assert_int_equal(sd_secret_live(), base + 1);
	assert_non_null(b = sd_secret_dup((const uint8_t *)"xyz", 3));
	assert_int_equal(sd_secret_live(), base + 2);
	/* direct sodium_malloc calls are counted too (linker --wrap) */
	assert_non_null(raw = sodium_malloc(10));
	assert_int_equal(sd_secret_live(), base + 3);
	sodium_free(raw);
	sd_secret_free(a);
	assert_int_equal(sd_secret_live(), base + 1);
	sd_secret_free(b);
	sd_secret_free(NULL);
	sodium_free(NULL);
	assert_int_equal(sd_secret_live(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_count),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
