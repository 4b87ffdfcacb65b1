/*
 * fuzz_certload - the certificate loaders (pki/cert.c): pki_cert_load (PEM
 * or DER, DER filling the file exactly) and pki_exchange_cert_load (a
 * certificate or a transfer-key reply, RSA-2048 or more).  They read
 * files, so the input is written to a memory file (memfd) once per run
 * and loaded through /proc/self/fd: the same code path as a real file,
 * no disk.
 */
#include "fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "../../pki/cert.h"

static int mfd = -1;
static char mpath[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || (mfd = memfd_create("fuzz-cert", 0)) == -1)
		abort();
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	X509 *x = NULL;
	int r;

	if (size > PKI_MAX_CERT_FILE)
		return 0;
	if (ftruncate(mfd, 0) == -1 || (size > 0 &&
	    pwrite(mfd, data, size, 0) != (ssize_t)size))
		abort();
	r = pki_cert_load(mpath, &x, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (x != NULL));
	X509_free(x);
	x = NULL;
	sd_err_clear(&e);
	r = pki_exchange_cert_load(mpath, &x, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (x != NULL));
	X509_free(x);
	ERR_clear_error();
	return 0;
}
