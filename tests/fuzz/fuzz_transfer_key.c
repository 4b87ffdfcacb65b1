/*
 * fuzz_transfer_key - a recovery-mode HSM's exchange-key reply: the JSON
 * parser (sd_transfer_key_parse, shares/sdfile.c) and the certificate
 * check on top of it (mhsm_exchange_cert, net/mhsm.c), which decodes
 * x5c[0] as DER and compares the JWK's n and e.
 */
#include "fuzz.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "../../net/mhsm.h"
#include "../../shares/sdfile.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	uint8_t *der = NULL, *n = NULL, *ex = NULL;
	size_t der_len = 0, n_len = 0, e_len = 0;
	char *in = fuzz_dup(data, size);
	X509 *cert = NULL;
	int r;

	r = sd_transfer_key_parse(in, size, &der, &der_len, &n, &n_len, &ex,
	    &e_len, &e);
	fuzz_check_result(r, &e);
	if (r == 0)
		FUZZ_CHECK(der != NULL && der_len > 0 &&
		    (n == NULL) == (ex == NULL));
	free(der);
	free(n);
	free(ex);
	sd_err_clear(&e);
	r = mhsm_exchange_cert(in, size, &cert, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (cert != NULL));
	X509_free(cert);
	ERR_clear_error();
	free(in);
	return 0;
}
