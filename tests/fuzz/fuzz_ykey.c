/*
 * fuzz_ykey - YubiKey-wrapped key files (hw/ykey.c): the sniffer that
 * routes key references and the parser, whose limits on the Argon2id
 * cost a hostile file may ask for are checked here.
 */
#include "fuzz.h"

#include "../../hw/ykey.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct ykey *y = NULL;
	char *in = fuzz_dup(data, size);
	int r;

	(void)ykey_sniff(in, size);
	r = ykey_parse(in, size, &y, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (y != NULL));
	if (r == 0) {
		FUZZ_CHECK(y->slot == 1 || y->slot == 2);
		FUZZ_CHECK(!y->has_passphrase ||
		    (y->opslimit <= YKEY_MAX_OPSLIMIT &&
		    y->memlimit <= YKEY_MAX_MEMLIMIT));
		FUZZ_CHECK(strnlen(y->x5t_256, sizeof(y->x5t_256)) <
		    sizeof(y->x5t_256));
		sd_err_clear(&e);
		r = ykey_check_kind(y, y->software, &e);
		FUZZ_CHECK(r == 0);
		r = ykey_check_kind(y, !y->software, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK(r != 0);
	}
	ykey_free(y);
	free(in);
	return 0;
}
