/*
 * fuzz_p11uri - PKCS#11 URIs (hw/pkcs11_uri.c): parse, read the
 * pin-source, and format what was parsed back into a URI that must parse
 * to the same token, object, id and type.
 */
#include "fuzz.h"

#include "../../hw/pkcs11_uri.h"

FUZZ_INIT_SODIUM()

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct p11_uri *u = NULL, *u2 = NULL;
	char *s = fuzz_strndup(data, size), *path = NULL, *again = NULL;
	int r;

	r = p11_uri_parse(s, &u, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (u != NULL));
	if (r == 0) {
		if (u->pin_source != NULL) {
			sd_err_clear(&e);
			r = p11_uri_pin_path(u, &path, &e);
			fuzz_check_result(r, &e);
		}
		/* a text attribute holding NUL was refused; ids may hold it */
		if (p11_uri_format(u->token, u->object, u->has_id ? u->id :
		    NULL, u->has_id ? u->id_len : 0, u->type, u->module_path,
		    &again) == 0) {
			sd_err_clear(&e);
			r = p11_uri_parse(again, &u2, &e);
			FUZZ_CHECK(r == 0);
			FUZZ_CHECK(same_str(u->token, u2->token) &&
			    same_str(u->object, u2->object) &&
			    same_str(u->type, u2->type) &&
			    same_str(u->module_path, u2->module_path));
			/* an empty id is formatted as no id: card list never
			 * shows one */
			FUZZ_CHECK(u->has_id == u2->has_id ||
			    (u->has_id && u->id_len == 0));
			if (u->has_id && u2->has_id)
				FUZZ_CHECK(u->id_len == u2->id_len &&
				    (u->id_len == 0 ||
				    memcmp(u->id, u2->id, u->id_len) == 0));
		}
	}
	free(again);
	free(path);
	p11_uri_free(u2);
	p11_uri_free(u);
	free(s);
	return 0;
}
