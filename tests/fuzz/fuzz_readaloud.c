/*
 * fuzz_readaloud - reading back values a person typed (shares/readaloud.c):
 * grouped hex, PGP words, base64url.  Byte 0 of the input is the length
 * expected (1..64), the rest is what was typed.  What parses must match,
 * and must render (hex and PGP words) to text that parses to the same
 * bytes.
 */
#include "fuzz.h"

#include "../../shares/readaloud.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	uint8_t out[64], back[64];
	char *typed, *txt;
	size_t n, tsz;
	int r;

	if (size < 1)
		return 0;
	n = (size_t)(data[0] % 64) + 1;
	typed = fuzz_strndup(data + 1, size - 1);
	r = readaloud_parse(typed, out, n, &e);
	fuzz_check_result(r, &e);
	if (r == 0) {
		sd_err_clear(&e);
		r = readaloud_match(typed, out, n, &e);
		FUZZ_CHECK(r == 0);
		tsz = readaloud_pgp_size(n) > readaloud_hex_size(n) ?
		    readaloud_pgp_size(n) : readaloud_hex_size(n);
		txt = malloc(tsz);
		FUZZ_CHECK(txt != NULL);
		FUZZ_CHECK(readaloud_hex(out, n, txt, tsz) == 0);
		FUZZ_CHECK(readaloud_parse(txt, back, n, &e) == 0 &&
		    memcmp(back, out, n) == 0);
		FUZZ_CHECK(readaloud_pgp(out, n, txt, tsz) == 0);
		FUZZ_CHECK(readaloud_parse(txt, back, n, &e) == 0 &&
		    memcmp(back, out, n) == 0);
		free(txt);
	} else {
		memset(out, 0x5a, n);
		sd_err_clear(&e);
		r = readaloud_match(typed, out, n, &e);
		fuzz_check_result(r, &e);
	}
	free(typed);
	return 0;
}
