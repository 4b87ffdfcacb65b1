/*
 * test_readaloud.c - grouped hex and the PGP word list: known answers
 * (the PGPfone manual's and the PGP word list's published examples, the
 * first and last word of each list), and reading typed values back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "../../shares/b64.h"
#include "../../shares/readaloud.h"

static void
unhex(const char *hex, uint8_t *out, size_t out_len)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, out_len, hex, strlen(hex), " ",
	    &n, NULL), 0);
	assert_int_equal(n, out_len);
}

/* The example fingerprint of the PGP word list article and its words. */
static const char *fp1 = "E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19";
static const char *fp1_words = "topmost Istanbul Pluto vagabond treadmill "
    "Pacific brackish dictator goldfish Medusa afflict bravado chatter "
    "revolver Dupont midsummer stopwatch whimsical cowbell bottomless";
static const char *fp2 = "4155 9711 308F 2A21 B9D5 072D 6219 58AF CB50 B5F9";
static const char *fp2_words = "cranky equipment preshrunk Babylon "
    "chairlift midsummer brickyard Camelot sentence specialist ahead "
    "clergyman flagpole bottomless endorse pharmacy spheroid embezzle "
    "scorecard Waterloo";

static void
test_pgp_known(void **state)
{
	uint8_t b[20];
	char out[512];

	(void)state;
	unhex(fp1, b, sizeof(b));
	assert_int_equal(readaloud_pgp(b, sizeof(b), out, sizeof(out)), 0);
	assert_string_equal(out, fp1_words);
	unhex(fp2, b, sizeof(b));
	assert_int_equal(readaloud_pgp(b, sizeof(b), out, sizeof(out)), 0);
	assert_string_equal(out, fp2_words);
}

static void
test_pgp_list_edges(void **state)
{
	(void)state;
	assert_string_equal(readaloud_pgp_word(0x00, 0), "aardvark");
	assert_string_equal(readaloud_pgp_word(0x00, 1), "adroitness");
	assert_string_equal(readaloud_pgp_word(0x17, 0), "banjo");
	assert_string_equal(readaloud_pgp_word(0x11, 1), "Babylon");
	assert_string_equal(readaloud_pgp_word(0x17, 3), "bookseller");
	assert_string_equal(readaloud_pgp_word(0x80, 0), "merit");
	assert_string_equal(readaloud_pgp_word(0x80, 1), "intention");
	assert_string_equal(readaloud_pgp_word(0xff, 2), "Zulu");
	assert_string_equal(readaloud_pgp_word(0xff, 3), "Yucatan");
}

/* every word distinct, within and across lists; size bound holds */
static void
test_pgp_lists_distinct(void **state)
{
	int i, j;
	uint8_t all[256];
	char out[256 * 12 + 1];

	(void)state;
	for (i = 0; i < 256; i++) {
		for (j = 0; j < 256; j++) {
			if (i != j) {
				assert_string_not_equal(
				    readaloud_pgp_word((uint8_t)i, 0),
				    readaloud_pgp_word((uint8_t)j, 0));
				assert_string_not_equal(
				    readaloud_pgp_word((uint8_t)i, 1),
				    readaloud_pgp_word((uint8_t)j, 1));
			}
			assert_string_not_equal(
			    readaloud_pgp_word((uint8_t)i, 0),
			    readaloud_pgp_word((uint8_t)j, 1));
		}
		all[i] = (uint8_t)i;
	}
	assert_true(readaloud_pgp_size(256) <= sizeof(out));
	assert_int_equal(readaloud_pgp(all, 256, out, readaloud_pgp_size(256)),
	    0);
}

static void
test_hex(void **state)
{
	uint8_t b[5] = { 0xe0, 0x7a, 0xde, 0xe7, 0x0c };
	char out[32];

	(void)state;
	assert_int_equal(readaloud_hex_size(5), 13);
	assert_int_equal(readaloud_hex(b, 5, out, sizeof(out)), 0);
	assert_string_equal(out, "E07A DEE7 0C");
	assert_int_equal(readaloud_hex(b, 4, out, sizeof(out)), 0);
	assert_string_equal(out, "E07A DEE7");
	assert_int_equal(readaloud_hex(b, 4, out, 9), SD_ERR_RANGE);
	assert_string_equal(out, "");
	assert_int_equal(readaloud_hex(b, 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(readaloud_pgp(b, 5, out, 10), SD_ERR_RANGE);
}

static void
test_parse(void **state)
{
	uint8_t want[20], got[20];
	struct sd_err e;

	(void)state;
	unhex(fp1, want, sizeof(want));
	/* any case, any separators */
	assert_int_equal(readaloud_parse("e58294f2e9a227486e8b061b31cc528fd7fa"
	    "3f19", got, 20, &e), 0);
	assert_memory_equal(got, want, 20);
	assert_int_equal(readaloud_parse("E5:82:94:f2-E9A2 2748.6E8B_061B 31CC"
	    " 528F D7FA 3F19", got, 20, &e), 0);
	assert_memory_equal(got, want, 20);
	assert_int_equal(readaloud_parse("TOPMOST istanbul pluto-vagabond "
	    "treadmill Pacific brackish dictator goldfish Medusa afflict "
	    "bravado chatter revolver Dupont midsummer stopwatch whimsical "
	    "cowbell bottomless", got, 20, &e), 0);
	assert_memory_equal(got, want, 20);
	/* a dropped word: the next one is from the wrong list */
	assert_int_equal(readaloud_parse("topmost Pluto vagabond treadmill "
	    "Pacific brackish dictator goldfish Medusa afflict bravado chatter "
	    "revolver Dupont midsummer stopwatch whimsical cowbell bottomless",
	    got, 20, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "word 2 \"Pluto\""));
	assert_int_equal(readaloud_parse("topmost Istanbul plutonium", got, 20,
	    &e), SD_ERR_FORMAT);
	assert_int_equal(readaloud_parse("E582 94F2", got, 20, &e),
	    SD_ERR_RANGE);
	assert_int_equal(readaloud_parse("E582 94F2 E9A2 2748 6E8B 061B 31CC "
	    "528F D7FA 3F1G", got, 20, &e), SD_ERR_FORMAT);
}

static void
test_match(void **state)
{
	uint8_t want[32];
	char *b64 = NULL, *lower, hex[80];
	struct sd_err e;
	size_t i;

	(void)state;
	for (i = 0; i < 32; i++)
		want[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(b64url_encode(want, 32, &b64), 0);
	assert_int_equal(readaloud_match(b64, want, 32, &e), 0);
	assert_int_equal(readaloud_hex(want, 32, hex, sizeof(hex)), 0);
	assert_int_equal(readaloud_match(hex, want, 32, &e), 0);
	/* lower-case hex is the same value */
	for (i = 0; hex[i]; i++)
		hex[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ?
		    hex[i] + 32 : hex[i]);
	assert_int_equal(readaloud_match(hex, want, 32, &e), 0);
	/* one digit off is a different value */
	hex[0] = hex[0] == '0' ? '1' : '0';
	assert_int_equal(readaloud_match(hex, want, 32, &e), SD_ERR_AUTH);
	/* base64url in the wrong case is never accepted, and says why */
	assert_non_null(lower = strdup(b64));
	for (i = 0; lower[i]; i++)
		if (lower[i] >= 'A' && lower[i] <= 'Z')
			lower[i] = (char)(lower[i] + 32);
	assert_string_not_equal(lower, b64);
	assert_int_equal(readaloud_match(lower, want, 32, &e), SD_ERR_AUTH);
	assert_non_null(strstr(e.msg, "case"));
	/* another thumbprint */
	want[31] ^= 1;
	assert_int_equal(readaloud_match(b64, want, 32, &e), SD_ERR_AUTH);
	assert_null(strstr(e.msg, "case"));
	assert_int_equal(readaloud_match("no such thing!", want, 32, &e),
	    SD_ERR_FORMAT);
	free(lower);
	free(b64);
}

/*
 * A one-byte value is one PGP word, and must be read back like the
 * others (found by tests/fuzz/fuzz_readaloud: one word was "not hex
 * digits nor PGP words").
 */
static void
test_pgp_one_byte(void **state)
{
	struct sd_err e = { "" };
	uint8_t b, back;
	char txt[32];
	int v;

	(void)state;
	for (v = 0; v < 256; v++) {
		b = (uint8_t)v;
		assert_int_equal(readaloud_pgp(&b, 1, txt, sizeof(txt)), 0);
		assert_int_equal(readaloud_parse(txt, &back, 1, &e), 0);
		assert_int_equal(back, b);
		assert_int_equal(readaloud_match(txt, &b, 1, &e), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_known),
		cmocka_unit_test(test_pgp_one_byte),
		cmocka_unit_test(test_pgp_list_edges),
		cmocka_unit_test(test_pgp_lists_distinct),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
