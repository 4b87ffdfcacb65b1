/*
 * test_yk.c - YubiKey challenge-response and .ykey files (hw/yk*.c,
 * hw/ykey.c), and the host-side RSA-OAEP-256 unpadding of raw RSA
 * results (hw/oaep_host.c).
 *
 * The software responder (a TEST device) is checked against RFC 2202's
 * HMAC-SHA1 test vectors, through the same padding a YubiKey strips,
 * and the .ykey key derivation against an independent computation of
 * what ykey.h documents.  Real YubiKeys (USB HID, PC/SC) are exercised
 * by tests/hw/ with SDTOOL_HW_TESTS=1, and PC/SC by the e2e tests when
 * the PIV simulator answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "../../hw/key_impl.h"
#include "../../hw/yk.h"
#include "../../hw/ykey.h"
#include "../../shares/b64.h"
#include "../../shares/jwe.h"

static char tmpdir[256];

static char *
tpath(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void
write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got,
	    NULL), 0);
	assert_int_equal(got, n);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_yk.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A deterministic rng: the byte sequence 0, 1, 2, ... */
static void
count_fill(void *ctx, uint8_t *buf, size_t len)
{
	uint8_t *next = ctx;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (*next)++;
}

/* ---- the padding and the software responder -------------------------- */

static void
test_padding(void **state)
{
	uint8_t block[YK_BLOCK];
	const uint8_t a[3] = { 'a', 'b', 'c' };
	const uint8_t z[2] = { 'a', 0 };
	size_t i;

	(void)state;
	yk_pad_challenge(a, sizeof(a), block);
	assert_memory_equal(block, a, 3);
	for (i = 3; i < YK_BLOCK; i++)
		assert_int_equal(block[i], 0);
	/* a challenge ending in 0 is padded with 1, so the strip stops */
	yk_pad_challenge(z, sizeof(z), block);
	assert_memory_equal(block, z, 2);
	for (i = 2; i < YK_BLOCK; i++)
		assert_int_equal(block[i], 1);
}

/* RFC 2202 section 3, the cases with 20-byte keys (a YubiKey's size). */
static void
test_rfc2202(void **state)
{
	static const struct {
		int key_byte;
		int data_byte;       /* -1: data is the string */
		size_t data_len;
		const char *data;
		const char *digest;
	} v[] = {
		{ 0x0b, -1, 8, "Hi There",
		    "b617318655057264e28bc0b6fb378c8ef146be00" },
		{ 0xaa, 0xdd, 50, NULL,
		    "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
		{ 0x0c, -1, 20, "Test With Truncation",
		    "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
	};
	uint8_t key[YK_RESPONSE_LEN], data[64], block[YK_BLOCK];
	uint8_t resp[YK_RESPONSE_LEN], want[YK_RESPONSE_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(key, v[i].key_byte, sizeof(key));
		if (v[i].data_byte < 0)
			memcpy(data, v[i].data, v[i].data_len);
		else
			memset(data, v[i].data_byte, v[i].data_len);
		unhex(v[i].digest, want, sizeof(want));
		yk_pad_challenge(data, v[i].data_len, block);
		assert_int_equal(yk_soft_hmac(key, block, resp), 0);
		assert_memory_equal(resp, want, sizeof(want));
	}
}

static const char soft_file[] =
    YK_SOFT_MARKER "\n"
    "serial 1000001\n"
    "# slot 1 holds RFC 2202's first key\n"
    "slot1 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n";

static void
test_software_device(void **state)
{
	struct yk_open_opts o;
	struct yk_dev *d = NULL;
	struct sd_err e = { "" };
	uint8_t resp[YK_RESPONSE_LEN], want[YK_RESPONSE_LEN];

	(void)state;
	write_str(tpath("soft"), soft_file);
	memset(&o, 0, sizeof(o));
	o.software = tpath("soft");
	assert_int_equal(yk_open(&o, &d, &e), 0);
	assert_int_equal(yk_kind(d), YK_SOFTWARE);
	assert_int_equal(yk_serial(d), 1000001);
	assert_non_null(strstr(yk_name(d), "TEST"));
	assert_int_equal(yk_challenge(d, 1, (const uint8_t *)"Hi There", 8,
	    resp, &e), 0);
	unhex("b617318655057264e28bc0b6fb378c8ef146be00", want, sizeof(want));
	assert_memory_equal(resp, want, sizeof(want));
	/* slot 2 is not set: answered as a YubiKey would, with an error */
	assert_int_equal(yk_challenge(d, 2, (const uint8_t *)"x", 1, resp, &e),
	    SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "slot 2 is not set"));
	assert_int_equal(yk_challenge(d, 3, (const uint8_t *)"x", 1, resp, &e),
	    SD_ERR_ARG);
	assert_int_equal(yk_challenge(d, 1, resp, 64, resp, &e), SD_ERR_ARG);
	yk_close(d);

	/* the serial a .ykey names must be the device's */
	o.serial = 42;
	d = (struct yk_dev *)&e;
	assert_int_equal(yk_open(&o, &d, &e), SD_ERR_KEY);
	assert_null(d);
	assert_non_null(strstr(e.msg, "serial 42 not found"));
}

static void
test_software_file_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "serial 1\nslot1 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n",
		    "not a software YubiKey file" },
		{ YK_SOFT_MARKER "\nslot1 "
		    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n",
		    "no \"serial N\" line" },
		{ YK_SOFT_MARKER "\nserial 1\nslot1 0b0b\n", "line 3" },
		{ YK_SOFT_MARKER "\nserial 1\nslot1 "
		    "zz0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n", "line 3" },
		{ YK_SOFT_MARKER "\nserial x\n", "line 2" },
		{ YK_SOFT_MARKER "\nserial 0\n", "line 2" },
		{ YK_SOFT_MARKER "\nserial 1\nslot3 "
		    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n", "line 3" },
		{ YK_SOFT_MARKER "\nserial 1\nslot1 "
		    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\nslot1 "
		    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\n", "line 4" },
	};
	struct yk_open_opts o;
	struct yk_dev *d = NULL;
	struct sd_err e = { "" };
	size_t i;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.software = tpath("badsoft");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unlink(tpath("badsoft"));
		write_str(tpath("badsoft"), bad[i].text);
		assert_int_not_equal(yk_open(&o, &d, &e), 0);
		assert_null(d);
		if (strstr(e.msg, bad[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg,
			    bad[i].want);
	}
	o.software = tpath("does-not-exist");
	assert_int_equal(yk_open(&o, &d, &e), SD_ERR_IO);
}

/* ---- .ykey files ------------------------------------------------------ */

static struct yk_dev *
soft_dev(const char *name, const char *serial, const char *slot2)
{
	struct yk_open_opts o;
	struct yk_dev *d = NULL;
	struct sd_err e = { "" };
	char text[512];

	snprintf(text, sizeof(text), "%s\nserial %s\nslot2 %s\n",
	    YK_SOFT_MARKER, serial, slot2);
	unlink(tpath(name));
	write_str(tpath(name), text);
	memset(&o, 0, sizeof(o));
	o.software = tpath(name);
	assert_int_equal(yk_open(&o, &d, &e), 0);
	return d;
}

#define SECRET_A "303132333435363738393a3b3c3d3e3f40414243"
#define SECRET_B "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"

static const uint8_t pkcs8[] = "not really PKCS#8, but bytes to protect";

static void
roundtrip(struct yk_dev *d, const char *json, const char *pass,
    int want)
{
	struct ykey *y = NULL;
	struct sd_secret *pt = NULL;
	struct sd_err e = { "" };
	uint8_t *k = sodium_malloc(YKEY_KEY_LEN);
	int r;

	assert_non_null(k);
	assert_int_equal(ykey_parse(json, strlen(json), &y, &e), 0);
	r = ykey_derive(y, d, pass, k, &e);
	if (r == 0)
		r = ykey_decrypt(y, k, &pt, &e);
	if (r != want)
		fail_msg("got %d, want %d: %s", r, want, e.msg);
	if (want == 0) {
		assert_int_equal(pt->len, sizeof(pkcs8));
		assert_memory_equal(pt->p, pkcs8, sizeof(pkcs8));
	}
	sd_secret_free(pt);
	ykey_free(y);
	sodium_free(k);
}

static void
test_ykey_roundtrip(void **state)
{
	struct yk_dev *d = soft_dev("soft-a", "1000001", SECRET_A);
	struct yk_dev *other = soft_dev("soft-b", "1000001", SECRET_B);
	struct yk_dev *serial2 = soft_dev("soft-c", "1000002", SECRET_A);
	struct sd_err e = { "" };
	char *json = NULL;

	(void)state;
	assert_int_equal(ykey_wrap(pkcs8, sizeof(pkcs8), d, 2, NULL,
	    "0123456789012345678901234567890123456789012", NULL, &json, &e), 0);
	assert_true(ykey_sniff(json, strlen(json)));
	roundtrip(d, json, NULL, 0);
	/* the same serial with another secret: the key does not open */
	roundtrip(other, json, NULL, SD_ERR_AUTH);
	/* another serial: refused before asking it */
	roundtrip(serial2, json, NULL, SD_ERR_KEY);
	free(json);

	assert_int_equal(ykey_wrap(pkcs8, sizeof(pkcs8), d, 2, "open sesame",
	    NULL, NULL, &json, &e), 0);
	roundtrip(d, json, "open sesame", 0);
	roundtrip(d, json, "open sesamE", SD_ERR_AUTH);
	roundtrip(d, json, NULL, SD_ERR_PASSPHRASE);
	free(json);
	yk_close(d);
	yk_close(other);
	yk_close(serial2);
}

/*
 * The format, frozen: with a counting rng and a known secret, the key
 * derived and the ciphertext are what ykey.h says, computed here
 * independently with libsodium.
 */
static void
test_ykey_known_answer(void **state)
{
	struct yk_dev *d = soft_dev("soft-kat", "1000001", SECRET_A);
	uint8_t next = 0, secret[YK_RESPONSE_LEN], resp[YK_RESPONSE_LEN];
	uint8_t chal[YKEY_CHALLENGE_LEN], nonce[YKEY_NONCE_LEN];
	uint8_t key[YKEY_KEY_LEN], ct[sizeof(pkcs8) + 16], *got = NULL;
	struct sd_rng rng = { count_fill, &next };
	struct sd_err e = { "" };
	crypto_generichash_state st;
	json_t *root;
	char *json = NULL, *ad = NULL;
	char chal_hex[2 * YKEY_CHALLENGE_LEN + 1];
	char nonce_hex[2 * YKEY_NONCE_LEN + 1];
	unsigned long long clen = 0;
	size_t got_len = 0, i;
	const uint8_t flag = 0;
	int n;

	(void)state;
	assert_int_equal(ykey_wrap(pkcs8, sizeof(pkcs8), d, 2, NULL, NULL,
	    &rng, &json, &e), 0);
	/* challenge then nonce, drawn in that order */
	for (i = 0; i < sizeof(chal); i++)
		chal[i] = (uint8_t)i;
	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(sizeof(chal) + i);
	unhex(SECRET_A, secret, sizeof(secret));
	assert_int_equal(HMAC(EVP_sha1(), secret, sizeof(secret), chal,
	    sizeof(chal), resp, NULL) != NULL, 1);
	crypto_generichash_init(&st, resp, sizeof(resp), sizeof(key));
	crypto_generichash_update(&st, (const uint8_t *)"sdtool-ykey-v1", 15);
	crypto_generichash_update(&st, &flag, 1);
	crypto_generichash_final(&st, key, sizeof(key));
	sodium_bin2hex(chal_hex, sizeof(chal_hex), chal, sizeof(chal));
	sodium_bin2hex(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce));
	n = asprintf(&ad, "sdtool-ykey-v1\ndevice=software-test\n"
	    "serial=1000001\nslot=2\nchallenge=%s\npassphrase=none\n"
	    "aead=xchacha20poly1305-ietf\nnonce=%s\nx5t_256=\n", chal_hex,
	    nonce_hex);
	assert_true(n > 0);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pkcs8,
	    sizeof(pkcs8), (const uint8_t *)ad, (size_t)n, NULL, nonce, key);
	root = json_loads(json, 0, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "device")),
	    "software-test");
	assert_int_equal(json_integer_value(json_object_get(root, "serial")),
	    1000001);
	assert_true(json_is_null(json_object_get(root, "passphrase")));
	assert_int_equal(b64url_decode(json_string_value(json_object_get(root,
	    "ciphertext")), strlen(json_string_value(json_object_get(root,
	    "ciphertext"))), &got, &got_len, &e), 0);
	assert_int_equal(got_len, clen);
	assert_memory_equal(got, ct, clen);
	free(got);
	json_decref(root);
	free(ad);
	free(json);
	yk_close(d);
}

/* Changing any field the key derivation or the AAD covers breaks it. */
static void
test_ykey_tamper(void **state)
{
	static const struct {
		const char *field, *value;
		int want;
	} t[] = {
		{ "slot", "1", SD_ERR_KEY },              /* not set on the dev */
		{ "serial", "0", SD_ERR_AUTH },           /* AAD */
		{ "x5t_256", "\"0123456789012345678901234567890123456789012\"",
		    SD_ERR_AUTH },
		{ "challenge", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
		    SD_ERR_AUTH },
		{ "nonce", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", SD_ERR_AUTH },
		{ "device", "\"yubikey\"", SD_ERR_KEY },  /* soft refuses */
	};
	struct yk_dev *d = soft_dev("soft-t", "1000001", SECRET_A);
	struct sd_err e = { "" };
	json_t *root;
	char *json = NULL, *changed;
	size_t i;

	(void)state;
	assert_int_equal(ykey_wrap(pkcs8, sizeof(pkcs8), d, 2, NULL, NULL,
	    NULL, &json, &e), 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		root = json_loads(json, 0, NULL);
		assert_non_null(root);
		assert_int_equal(json_object_set_new(root, t[i].field,
		    json_loads(t[i].value, JSON_DECODE_ANY, NULL)), 0);
		changed = json_dumps(root, 0);
		roundtrip(d, changed, NULL, t[i].want);
		free(changed);
		json_decref(root);
	}
	free(json);
	yk_close(d);
}

static void
test_ykey_parse_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[]", "not a YubiKey-wrapped key" },
		{ "{\"type\":\"other\"}", "not a YubiKey-wrapped key" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":2}", "version" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":\"x\"}",
		    "device" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":-1}", "serial" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":1,\"slot\":3}", "slot" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":1,\"slot\":2,\"challenge\":\"AA\"}",
		    "challenge: 1 bytes, expected 32" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":1,\"slot\":2,\"challenge\":"
		    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		    "\"passphrase\":{\"kdf\":\"argon2id13\",\"salt\":"
		    "\"AAAAAAAAAAAAAAAAAAAAAA\",\"opslimit\":1000,\"memlimit\":"
		    "8192}}", "passphrase.opslimit" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":1,\"slot\":2,\"challenge\":"
		    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		    "\"passphrase\":{\"kdf\":\"argon2id13\",\"salt\":"
		    "\"AAAAAAAAAAAAAAAAAAAAAA\",\"opslimit\":3,\"memlimit\":"
		    "4294967296000}}", "passphrase.memlimit" },
		{ "{\"type\":\"sdtool-ykey\",\"version\":1,\"device\":"
		    "\"yubikey\",\"serial\":1,\"slot\":2,\"challenge\":"
		    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		    "\"aead\":\"aes\"}", "aead" },
		{ "{\"type\":\"sdtool-ykey\",\"type\":\"sdtool-ykey\"}",
		    "not JSON" },
	};
	struct ykey *y = NULL;
	struct sd_err e = { "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(ykey_parse(bad[i].text,
		    strlen(bad[i].text), &y, &e), 0);
		assert_null(y);
		if (strstr(e.msg, bad[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg,
			    bad[i].want);
	}
	assert_false(ykey_sniff("-----BEGIN PRIVATE KEY-----", 27));
	assert_false(ykey_sniff("{\"kty\":\"RSA\"}", 13));
	assert_true(ykey_sniff("  {\"type\": \"sdtool-ykey\"}", 26));
}

/* ---- host-side OAEP unpadding ---------------------------------------- */

/* A raw RSA decryption (no padding), as a token's CKM_RSA_X_509 gives. */
static size_t
raw_decrypt(EVP_PKEY *k, const uint8_t *ct, size_t ct_len, uint8_t *out,
    size_t size)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	size_t n = size;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_decrypt_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_decrypt(c, out, &n, ct, ct_len), 1);
	EVP_PKEY_CTX_free(c);
	return n;
}

static void
test_oaep_host(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	struct sd_secret *pt = NULL;
	struct sd_err e = { "" };
	uint8_t msg[64], em[256], *ct = NULL;
	size_t ct_len = 0, n;

	(void)state;
	assert_non_null(k);
	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(rsa_oaep256_encrypt(k, msg, sizeof(msg), &ct, &ct_len,
	    &e), 0);
	n = raw_decrypt(k, ct, ct_len, em, sizeof(em));
	assert_int_equal(n, 256);
	assert_int_equal(hw_oaep256_unpad(em, n, &pt, &e), 0);
	assert_int_equal(pt->len, sizeof(msg));
	assert_memory_equal(pt->p, msg, sizeof(msg));
	sd_secret_free(pt);
	/* any change is one failure, whatever part of the padding it hit */
	em[0] ^= 1;
	assert_int_equal(hw_oaep256_unpad(em, n, &pt, &e), SD_ERR_AUTH);
	assert_null(pt);
	em[0] ^= 1;
	em[40] ^= 0x80;
	assert_int_equal(hw_oaep256_unpad(em, n, &pt, &e), SD_ERR_AUTH);
	em[40] ^= 0x80;
	em[255] ^= 1;
	assert_int_equal(hw_oaep256_unpad(em, n, &pt, &e), SD_ERR_AUTH);
	assert_string_equal(e.msg, "RSA-OAEP-256 decryption failed");
	/* shorter than any OAEP-256 block */
	em[255] ^= 1;
	assert_int_equal(hw_oaep256_unpad(em, 10, &pt, &e), SD_ERR_AUTH);
	free(ct);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_rfc2202),
		cmocka_unit_test(test_software_device),
		cmocka_unit_test(test_software_file_refused),
		cmocka_unit_test(test_ykey_roundtrip),
		cmocka_unit_test(test_ykey_known_answer),
		cmocka_unit_test(test_ykey_tamper),
		cmocka_unit_test(test_ykey_parse_refused),
		cmocka_unit_test(test_oaep_host),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
