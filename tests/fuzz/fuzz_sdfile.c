/*
 * fuzz_sdfile - the security-domain file parser (shares/sdfile.c), and the
 * serializer on what it accepts: what parses must serialize, and the
 * serialization must parse again to the same thing.
 */
#include "fuzz.h"

#include "../../shares/sdfile.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct sd_file *sd = NULL, *again = NULL;
	char *in = fuzz_dup(data, size), *json = NULL, *json2 = NULL;
	int r;

	r = sd_file_parse(in, size, &sd, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (sd != NULL));
	if (r == 0) {
		FUZZ_CHECK(sd->required >= SD_MIN_REQUIRED &&
		    sd->required <= sd->n_shares &&
		    sd->n_shares <= SD_MAX_SHARES);
		r = sd_file_serialize(sd, &json, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK(r == 0);
		r = sd_file_parse(json, strlen(json), &again, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK(r == 0);
		r = sd_file_serialize(again, &json2, &e);
		FUZZ_CHECK(r == 0 && strcmp(json, json2) == 0);
	}
	free(json2);
	free(json);
	sd_file_free(again);
	sd_file_free(sd);
	free(in);
	return 0;
}
