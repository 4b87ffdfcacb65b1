/*
 * fuzz_jwe - compact JWE parsing (shares/jwe.c) and the base64 decoders
 * under it (shares/b64.c), then decryption with a fixed content key: the
 * MAC check must refuse every forged input, never crash on one.
 * Decoded base64 must re-encode to the input.
 */
#include "fuzz.h"

#include "../../shares/b64.h"
#include "../../shares/jwe.h"

FUZZ_INIT_SODIUM()

static void
b64_round_trips(const char *in, size_t size)
{
	struct sd_err e = { "" };
	uint8_t *dec = NULL;
	size_t dec_len = 0;
	char *enc = NULL;
	int r;

	r = b64url_decode(in, size, &dec, &dec_len, &e);
	fuzz_check_result(r, &e);
	if (r == 0) {
		FUZZ_CHECK(b64url_encode(dec, dec_len, &enc) == 0);
		FUZZ_CHECK(strlen(enc) == size && memcmp(enc, in, size) == 0);
	}
	free(enc);
	free(dec);
	enc = NULL;
	dec = NULL;
	r = b64std_decode(in, size, &dec, &dec_len, &e);
	fuzz_check_result(r, &e);
	if (r == 0)
		FUZZ_CHECK(b64std_encode(dec, dec_len, &enc) == 0);
	free(enc);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cek[JWE_CEK_LEN] = { 1, 2, 3 };
	struct sd_err e = { "" };
	struct sd_secret *pt = NULL;
	struct jwe *j = NULL;
	char *in = fuzz_dup(data, size);
	int r;

	r = jwe_parse(in, size, &j, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (j != NULL));
	if (r == 0) {
		FUZZ_CHECK(j->alg != NULL && j->enc != NULL);
		r = jwe_decrypt(j, cek, &pt, &e);
		fuzz_check_result(r, &e);
		/* nobody forges HMAC-SHA-512 by chance */
		FUZZ_CHECK(r != 0 && pt == NULL);
	}
	jwe_free(j);
	if (size < 4096)
		b64_round_trips(in, size);
	free(in);
	return 0;
}
