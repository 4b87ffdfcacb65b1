/*
 * fuzz_escrow_qr - QR parts of an escrow sheet (escrow_qr_add / _join,
 * shares/escrow.c): the input is cut at newlines into the texts of
 * several codes, added in order, then joined; a joined payload is split
 * again and must give the same parts back.
 */
#include "fuzz.h"

#include "../../shares/escrow.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct escrow_qr_set *s = NULL, *s2 = NULL;
	struct escrow_parts *parts = NULL;
	struct sd_secret *p = NULL, *p2 = NULL;
	struct sd_err e = { "" };
	size_t start = 0, i, have = 0, of = 0, added = 0;
	char *code;
	int r;

	FUZZ_CHECK(escrow_qr_set_new(&s) == 0);
	for (i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		code = fuzz_dup(data + start, i - start);
		sd_err_clear(&e);
		r = escrow_qr_add(s, code, i - start, &e);
		fuzz_check_result(r, &e);
		added += r == 0;
		free(code);
		start = i + 1;
	}
	escrow_qr_count(s, &have, &of);
	FUZZ_CHECK(have == added && have <= of && of <= ESCROW_MAX_PARTS);
	sd_err_clear(&e);
	r = escrow_qr_join(s, &p, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (p != NULL));
	if (r == 0) {
		FUZZ_CHECK(escrow_qr_split(p->p, p->len, &parts, &e) == 0);
		FUZZ_CHECK(escrow_qr_set_new(&s2) == 0);
		for (i = 0; i < parts->n; i++)
			FUZZ_CHECK(escrow_qr_add(s2, parts->text[i],
			    strlen(parts->text[i]), &e) == 0);
		FUZZ_CHECK(escrow_qr_join(s2, &p2, &e) == 0);
		FUZZ_CHECK(p2->len == p->len &&
		    memcmp(p2->p, p->p, p->len) == 0);
	}
	sd_secret_free(p2);
	sd_secret_free(p);
	escrow_parts_free(parts);
	escrow_qr_set_free(s2);
	escrow_qr_set_free(s);
	return 0;
}
