/*
 * fuzz_escrow_text - reading a typed escrow copy back
 * (escrow_text_decode, shares/escrow.c), then the payload it yields
 * through escrow_peek and escrow_open (no passphrase: an encrypted sheet
 * must ask for one, never run Argon2 with the costs a hostile sheet
 * names).  The raw input is also given to peek/open as a payload.
 */
#include "fuzz.h"

#include "../../shares/escrow.h"

FUZZ_INIT_SODIUM()

static void
payload(const uint8_t *p, size_t len)
{
	struct escrow_header h;
	struct sd_err e = { "" };
	struct sd_secret *der = NULL;
	int r, rp;

	rp = escrow_peek(p, len, &h, &e);
	fuzz_check_result(rp, &e);
	if (rp == 0) {
		FUZZ_CHECK(strnlen(h.hsm, sizeof(h.hsm)) < sizeof(h.hsm));
		FUZZ_CHECK(strnlen(h.officer, sizeof(h.officer)) <
		    sizeof(h.officer));
		FUZZ_CHECK(strnlen(h.subject, sizeof(h.subject)) <
		    sizeof(h.subject));
	}
	sd_err_clear(&e);
	r = escrow_open(p, len, NULL, &h, &der, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (der != NULL));
	/* what cannot be peeked at cannot be opened */
	FUZZ_CHECK(rp == 0 || r != 0);
	sd_secret_free(der);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct escrow_text_report rep;
	struct sd_err e = { "" };
	struct sd_secret *p = NULL, *text = NULL;
	char *in = fuzz_dup(data, size);
	size_t i;
	int r;

	memset(&rep, 0, sizeof(rep));
	r = escrow_text_decode(in, size, &rep, &p, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (p != NULL));
	FUZZ_CHECK(rep.n <= ESCROW_MAX_PROBLEMS);
	for (i = 0; i < rep.n; i++)
		FUZZ_CHECK(strnlen(rep.msg[i], sizeof(rep.msg[i])) <
		    sizeof(rep.msg[i]));
	if (r == 0) {
		/* what decodes encodes back to text that decodes the same */
		FUZZ_CHECK(escrow_text_encode(p->p, p->len, &text, &e) == 0);
		sd_secret_free(p);
		p = NULL;
		memset(&rep, 0, sizeof(rep));
		FUZZ_CHECK(escrow_text_decode((const char *)text->p, text->len,
		    &rep, &p, &e) == 0);
		payload(p->p, p->len);
	}
	sd_secret_free(text);
	sd_secret_free(p);
	payload(data, size);
	free(in);
	return 0;
}
