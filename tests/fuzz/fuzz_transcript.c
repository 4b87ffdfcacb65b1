/*
 * fuzz_transcript - checking a ceremony transcript (shares/transcript.c):
 * JSON lines chained by SHA-256.  Whatever the input, the check reports
 * how many entries held and, if one did not, which and why; every good
 * entry has its head.  A transcript is never good by chance: an input
 * whose every line checks out must be a real chain, which the fuzzer
 * cannot forge, so the seeds' own lines are what reach that path.
 */
#include "fuzz.h"

#include "../../shares/transcript.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcript_check res;
	struct sd_err e = { "" };
	char *in = fuzz_dup(data, size), hex[65];
	size_t i;
	int r;

	memset(&res, 0, sizeof(res));
	r = transcript_check(in, size, &res, &e);
	FUZZ_CHECK(strnlen(res.reason, sizeof(res.reason)) <
	    sizeof(res.reason));
	if (r == SD_ERR_AUTH) {
		/* a bad entry: which and why are in res, not in e */
		FUZZ_CHECK(res.bad_entry == res.n_entries + 1 &&
		    res.reason[0] != '\0');
	} else {
		fuzz_check_result(r, &e);
	}
	if (r == 0) {
		FUZZ_CHECK(res.n_entries == 0 || res.heads != NULL);
		FUZZ_CHECK(strnlen(res.reason, sizeof(res.reason)) <
		    sizeof(res.reason));
		FUZZ_CHECK(res.bad_entry == 0 ||
		    res.bad_entry == res.n_entries + 1);
		for (i = 0; i < res.n_entries; i++)
			transcript_hex(res.heads[i], hex);
	}
	transcript_check_clear(&res);
	free(in);
	return 0;
}
