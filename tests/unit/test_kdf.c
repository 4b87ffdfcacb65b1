/*
 * test_kdf.c - SP 800-108 counter-mode KDF: azure-cli's own known answer,
 * and the SD file's use checked against HMAC-SHA-512 computed directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "../../shares/kdf.h"

static void
unhex(const char *hex, uint8_t *out, size_t out_len)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, out_len, hex, strlen(hex), NULL,
	    &n, NULL), 0);
	assert_int_equal(n, out_len);
}

/* HMAC-SHA-512 over the concatenation of up to four pieces */
static void
hmac_sha512(const uint8_t *key, size_t key_len, const uint8_t *const *m,
    const size_t *m_len, size_t nm, uint8_t out[64])
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	size_t i, n = 0;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    "SHA512", 0);
	params[1] = OSSL_PARAM_construct_end();
	assert_non_null(mac = EVP_MAC_fetch(NULL, "HMAC", NULL));
	assert_non_null(ctx = EVP_MAC_CTX_new(mac));
	assert_int_equal(EVP_MAC_init(ctx, key, key_len, params), 1);
	for (i = 0; i < nm; i++)
		assert_int_equal(EVP_MAC_update(ctx, m[i], m_len[i]), 1);
	assert_int_equal(EVP_MAC_final(ctx, out, &n, 64), 1);
	assert_int_equal(n, 64);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

/* K(i) = HMAC(key, [i]_32 || label || 00 || [L]_32), context empty */
static void
manual_block(const uint8_t *key, size_t key_len, uint32_t i,
    const char *label, uint32_t bits, uint8_t out[64])
{
	uint8_t ctr[4], sep[1] = { 0 }, l[4];
	const uint8_t *m[4];
	size_t ml[4];
	int k;

	for (k = 0; k < 4; k++) {
		ctr[k] = (uint8_t)(i >> (24 - 8 * k));
		l[k] = (uint8_t)(bits >> (24 - 8 * k));
	}
	m[0] = ctr; ml[0] = 4;
	m[1] = (const uint8_t *)label; ml[1] = strlen(label);
	m[2] = sep; ml[2] = 1;
	m[3] = l; ml[3] = 4;
	hmac_sha512(key, key_len, m, ml, 4, out);
}

static void
test_azure_cli_kat(void **state)
{
	uint8_t key[32], out[32], want[32];
	struct sd_err e = { "" };

	(void)state;
	memset(key, 0x41, sizeof(key));
	unhex("f0ca51f6308791404bf68b56024ee7c6"
	    "4d6c737716f81d47e1e68b5c4e399575", want, sizeof(want));
	assert_int_equal(sd_kdf_sp800_108(key, sizeof(key),
	    (const uint8_t *)"label", 5, (const uint8_t *)"context", 7,
	    out, sizeof(out), &e), 0);
	assert_memory_equal(out, want, sizeof(want));
}

static void
test_sd_file_usage(void **state)
{
	static const char *const labels[] = {
		"hsm_backup", "base_enclave_backup", "partition_enclave_backup",
	};
	uint8_t key[32], out[64], want[64];
	struct sd_err e = { "" };
	size_t i, k;

	(void)state;
	for (k = 0; k < 4; k++) {
		/* one fixed key, then random ones */
		if (k == 0)
			memset(key, 0x5a, sizeof(key));
		else
			randombytes_buf(key, sizeof(key));
		for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
			assert_int_equal(sd_kdf_sp800_108(key, sizeof(key),
			    (const uint8_t *)labels[i], strlen(labels[i]),
			    NULL, 0, out, sizeof(out), &e), 0);
			manual_block(key, sizeof(key), 1, labels[i], 512, want);
			assert_memory_equal(out, want, sizeof(want));
		}
	}
}

static void
test_two_blocks(void **state)
{
	uint8_t key[32], out[100], want[128];
	struct sd_err e = { "" };

	(void)state;
	memset(key, 0x17, sizeof(key));
	/* L = 800 bits: K(1) || first 36 bytes of K(2), both with [L] = 800 */
	assert_int_equal(sd_kdf_sp800_108(key, sizeof(key),
	    (const uint8_t *)"hsm_backup", 10, NULL, 0, out, sizeof(out),
	    &e), 0);
	manual_block(key, sizeof(key), 1, "hsm_backup", 800, want);
	manual_block(key, sizeof(key), 2, "hsm_backup", 800, want + 64);
	assert_memory_equal(out, want, sizeof(out));
}

static void
test_bad_args(void **state)
{
	uint8_t key[32] = { 0 }, out[64];
	struct sd_err e = { "" };

	(void)state;
	assert_int_equal(sd_kdf_sp800_108(NULL, 32, NULL, 0, NULL, 0, out,
	    sizeof(out), &e), SD_ERR_ARG);
	assert_int_equal(sd_kdf_sp800_108(key, 0, NULL, 0, NULL, 0, out,
	    sizeof(out), &e), SD_ERR_ARG);
	assert_int_equal(sd_kdf_sp800_108(key, sizeof(key), NULL, 0, NULL, 0,
	    out, 0, &e), SD_ERR_ARG);
	assert_int_equal(sd_kdf_sp800_108(key, sizeof(key), NULL, 3, NULL, 0,
	    out, sizeof(out), &e), SD_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_azure_cli_kat),
		cmocka_unit_test(test_sd_file_usage),
		cmocka_unit_test(test_two_blocks),
		cmocka_unit_test(test_bad_args),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
