/*
 * test_termtext.c - untrusted text rendered for a terminal: every control,
 * C1, DEL, bidi and format character visible, invalid UTF-8 as \xNN,
 * ordinary text unchanged, never cut without the marker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../shares/termtext.h"

static void
check(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t r;

	r = termtext_render(in, n, out, sizeof(out));
	assert_string_equal(out, want);
	assert_int_equal(r, strlen(want));
}

#define CHECK(lit, want) check(lit, sizeof(lit) - 1, want)

static void
test_plain_unchanged(void **state)
{
	CHECK("Contoso-SD.json", "Contoso-SD.json");
	CHECK("Jos\xc3\xa9 M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac",
	    "Jos\xc3\xa9 M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac");
	CHECK("emoji \xf0\x9f\x94\x91 key", "emoji \xf0\x9f\x94\x91 key");
	CHECK("back\\slash", "back\\slash");
	CHECK("", "");
}

static void
test_c0_del(void **state)
{
	CHECK("a\x1b[31mred", "a\\x1B[31mred");
	CHECK("bell\x07", "bell\\x07");
	CHECK("l1\nl2\r\t", "l1\\nl2\\r\\t");
	CHECK("del\x7f", "del\\x7F");
	CHECK("nul\0x", "nul\\x00x");
}

/* The review's finding: an 8-bit OSC ended by BEL, raw and as UTF-8 C1. */
static void
test_c1(void **state)
{
	CHECK("{\"a\":\"\xc2\x9d" "0;PWNED\x07\"}",
	    "{\"a\":\"\\u009D0;PWNED\\x07\"}");
	CHECK("raw \x9b" "31m", "raw \\x9B31m");
	CHECK("\xc2\x85next", "\\u0085next");
}

static void
test_format_chars(void **state)
{
	/* U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LRI, U+200B ZWSP, U+FEFF */
	CHECK("Alice\xe2\x80\xaegpj.exe", "Alice\\u202Egpj.exe");
	CHECK("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
	CHECK("a\xe2\x80\x8b" "b\xef\xbb\xbf", "a\\u200Bb\\uFEFF");
	CHECK("soft\xc2\xadhyphen", "soft\\u00ADhyphen");
	CHECK("\xe2\x80\xa8", "\\u2028");
	/* U+E0041 TAG LATIN CAPITAL LETTER A */
	CHECK("\xf3\xa0\x81\x81", "\\U000E0041");
}

static void
test_invalid_utf8(void **state)
{
	CHECK("bad\xff.json", "bad\\xFF.json");
	CHECK("\xc0\xaf", "\\xC0\\xAF");                 /* overlong '/' */
	CHECK("\xed\xa0\x80", "\\xED\\xA0\\x80");        /* surrogate */
	CHECK("\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"); /* > U+10FFFF */
	CHECK("\xe2\x82", "\\xE2\\x82");                  /* truncated */
	CHECK("\xe2\x82" "A", "\\xE2\\x82A");
	assert_false(termtext_valid_utf8("bad\xff", 4));
	assert_true(termtext_valid_utf8("ok \xc3\xa9", 5));
}

static void
test_cut_marker(void **state)
{
	char out[12];
	size_t r;

	r = termtext_render("0123456789abcdef", 16, out, sizeof(out));
	assert_int_equal(r, 16);
	assert_string_equal(out, "012345[...]");
	/* an escape is never split */
	r = termtext_render("01234\x1b" "6789", 10, out, sizeof(out));
	assert_int_equal(r, 13);
	assert_string_equal(out, "01234[...]");
	/* exactly fitting text is not cut */
	r = termtext_render("0123456789a", 11, out, sizeof(out));
	assert_string_equal(out, "0123456789a");
	/* a multibyte character is never split */
	r = termtext_render("0123\xc3\xa9\xc3\xa9xyzuv", 13, out, sizeof(out));
	assert_string_equal(out, "0123\xc3\xa9[...]");
	/* too small even for the marker: empty, never a fragment */
	r = termtext_render("0123456789", 10, out, 4);
	assert_string_equal(out, "");
	r = termtext_render("abc", 3, NULL, 0);
	assert_int_equal(r, 3);
}

static void
test_dup(void **state)
{
	char *s;

	assert_non_null(s = termtext_dup("a\x1b" "b"));
	assert_string_equal(s, "a\\x1Bb");
	free(s);
	assert_non_null(s = termtext_dup(NULL));
	assert_string_equal(s, "(none)");
	free(s);
	/* JSON: only invalid bytes are escaped, valid text is left alone */
	assert_non_null(s = termtext_json_dup("bad\xff\x1b\xc3\xa9.json"));
	assert_string_equal(s, "bad\\xFF\x1b\xc3\xa9.json");
	free(s);
}

static void
test_bidi(void **state)
{
	unsigned long cp = 0;

	assert_true(termtext_has_bidi("Al\xe2\x80\xaeice", 8, &cp));
	assert_int_equal(cp, 0x202E);
	assert_true(termtext_has_bidi("\xd8\x9c", 2, &cp));
	assert_int_equal(cp, 0x061C);
	assert_true(termtext_has_bidi("x\xe2\x81\xa9", 4, NULL));
	assert_false(termtext_has_bidi("Jos\xc3\xa9\xff", 6, NULL));
	assert_false(termtext_has_bidi("a\xe2\x80\x8b", 4, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_unchanged),
		cmocka_unit_test(test_c0_del),
		cmocka_unit_test(test_c1),
		cmocka_unit_test(test_format_chars),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_cut_marker),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_bidi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
