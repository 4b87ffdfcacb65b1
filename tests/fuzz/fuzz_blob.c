/*
 * fuzz_blob - the restore-blob parser (shares/sdfile.c), and its
 * serializer on what it accepts (a round trip must be stable).
 */
#include "fuzz.h"

#include "../../shares/sdfile.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct sd_blob *b = NULL, *again = NULL;
	char *in = fuzz_dup(data, size), *json = NULL, *json2 = NULL;
	int r;

	r = sd_blob_parse(in, size, &b, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (b != NULL));
	if (r == 0) {
		r = sd_blob_serialize(b, &json, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK(r == 0);
		r = sd_blob_parse(json, strlen(json), &again, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK(r == 0);
		r = sd_blob_serialize(again, &json2, &e);
		FUZZ_CHECK(r == 0 && strcmp(json, json2) == 0);
	}
	free(json2);
	free(json);
	sd_blob_free(again);
	sd_blob_free(b);
	free(in);
	return 0;
}
