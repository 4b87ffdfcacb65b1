/*
 * fuzz_keyload - the private-key loader behind hw_key_open, from memory
 * (hw_decode_rsa_key, hw/key_decode.c: PEM or DER, PKCS#1 or PKCS#8,
 * encrypted PKCS#8 refused without a passphrase) and the .ykey sniffer
 * that routes a key file's bytes.
 *
 * No passphrase callback: an encrypted key names its own KDF cost, and a
 * fuzzer finding a slow scrypt says nothing about our code.
 */
#include "fuzz.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "../../hw/key_impl.h"

FUZZ_INIT_SODIUM()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	EVP_PKEY *pkey = NULL;
	char *in = fuzz_dup(data, size);
	int r, encrypted = 0;

	(void)hw_ykey_sniff(in, size);
	r = hw_decode_rsa_key("fuzz.key", in, size, NULL, &pkey, &encrypted,
	    &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (pkey != NULL));
	if (r == 0)
		FUZZ_CHECK(EVP_PKEY_is_a(pkey, "RSA") &&
		    EVP_PKEY_get_bits(pkey) >= 2048 && !encrypted);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	free(in);
	return 0;
}
