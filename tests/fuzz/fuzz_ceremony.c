/*
 * fuzz_ceremony - ceremony files and their parameter files
 * (shares/ceremony.c): the input is the ceremony file, then optionally a
 * NUL byte and the parameter file.  What loads must be a consistent list
 * of steps (each either run or manual, roles that exist, statuses given),
 * and every argument must quote for display.
 */
#include "fuzz.h"

#include "../../shares/ceremony.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size, i, k;
	struct ceremony *c = NULL;
	struct sd_err e = { "" };
	char *cer, *params = NULL, quoted[1024];
	int r;

	cer = fuzz_dup(data, clen);
	if (nul != NULL)
		params = fuzz_dup(nul + 1, size - clen - 1);
	r = ceremony_peek(cer, clen, &c, &e);
	fuzz_check_result(r, &e);
	ceremony_free(c);
	c = NULL;
	sd_err_clear(&e);
	r = ceremony_load(cer, clen, params, nul ? size - clen - 1 : 0, &c,
	    &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (c != NULL));
	if (r == 0) {
		for (i = 0; i < c->n_steps; i++) {
			const struct cer_step *s = &c->steps[i];

			FUZZ_CHECK(s->id != NULL);
			FUZZ_CHECK((s->manual == NULL) == (s->argc > 0));
			FUZZ_CHECK(s->role == NULL ||
			    ceremony_role(c, s->role) != NULL);
			FUZZ_CHECK(ceremony_step_index(c, s->id) == (long)i);
			for (k = 0; k < s->argc; k++)
				FUZZ_CHECK(ceremony_quote_arg(s->argv[k], quoted,
				    sizeof(quoted)) >= -1);
			(void)ceremony_status_ok(s, 0);
		}
	}
	ceremony_free(c);
	free(params);
	free(cer);
	return 0;
}
