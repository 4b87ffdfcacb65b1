/*
 * test_p11.c - hw/p11.c and hw/key_pkcs11.c against a real PKCS#11
 * module: SoftHSM2, with its tokens in a temporary directory
 * (SOFTHSM2_CONF).  Module sharing, token matching, PIN handling, import,
 * generation and signing, and RSA-OAEP-256 decryption with SoftHSM2's
 * raw-RSA fallback, including ciphertexts that are not below the
 * modulus (which SoftHSM2 answers with CKR_GENERAL_ERROR).
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

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../../hw/key.h"
#include "../../hw/p11.h"
#include "../../shares/jwe.h"

static char tmpdir[256];
static const char *module;
static EVP_PKEY *rsa;          /* the key imported in test_import */

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
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(s, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	static const char *mods[] = {
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	};
	char cmd[1024], conf[600];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (access(mods[i], R_OK) == 0)
			module = mods[i];
	if (module == NULL) {
		fprintf(stderr, "test_p11: SoftHSM2 is not installed (make "
		    "deps)\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_p11.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "mkdir %s/tokens", tmpdir);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "directories.tokendir = %s/tokens\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", tmpdir);
	write_str(tpath("softhsm2.conf"), conf);
	setenv("SOFTHSM2_CONF", tpath("softhsm2.conf"), 1);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free "
	    "--label unit0 --pin 123456 --so-pin 12345678 >/dev/null && "
	    "softhsm2-util --init-token --free --label unit1 --pin 654321 "
	    "--so-pin 12345678 >/dev/null");
	if (system(cmd) != 0)
		return -1;
	write_str(tpath("pin"), "123456\n");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return rsa == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	EVP_PKEY_free(rsa);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A PIN callback: answers ctx, counts calls, remembers the flags. */
static int pin_calls;
static unsigned pin_flags;

static int
pin_cb(void *ctx, const char *token, unsigned flags, char *buf, size_t size)
{
	pin_calls++;
	pin_flags = flags;
	assert_non_null(token);
	if (flags & HW_PIN_NOTIFY)
		return 0;
	if (ctx == NULL)
		return SD_ERR_PASSPHRASE;
	snprintf(buf, size, "%s", (const char *)ctx);
	return 0;
}

static struct p11_uri *
uri(const char *s)
{
	struct p11_uri *u = NULL;
	struct sd_err e = { "" };

	assert_int_equal(p11_uri_parse(s, &u, &e), 0);
	return u;
}

/* A session with token `label`, logged in with pin unless NULL. */
static struct p11_session *
session(struct p11_module *m, const char *label, const char *pin, int rw)
{
	struct p11_token t;
	struct p11_session *s = NULL;
	struct p11_uri *u;
	struct sd_err e = { "" };
	char buf[64];

	snprintf(buf, sizeof(buf), "pkcs11:token=%s", label);
	u = uri(buf);
	assert_int_equal(p11_find_token(m, u, buf, &t, &e), 0);
	assert_string_equal(t.label, label);
	assert_int_equal(p11_session_open(m, &t, rw, &s, &e), 0);
	if (pin != NULL)
		assert_int_equal(p11_login(s, 0, NULL, pin_cb, (void *)pin, &e),
		    0);
	p11_uri_free(u);
	return s;
}

static void
test_modules(void **state)
{
	struct p11_module *m = NULL, *m2 = NULL;
	struct p11_uri *u;
	struct sd_err e = { "" };
	char *path = NULL;

	(void)state;
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	assert_string_equal(p11_module_manufacturer(m), "SoftHSM");
	/* one C_Initialize per process: the same module is shared */
	assert_int_equal(p11_module_open(module, &m2, &e), 0);
	assert_ptr_equal(m, m2);
	p11_module_free(m2);
	p11_module_free(m);
	m = (struct p11_module *)&e;
	assert_int_equal(p11_module_open("/nonexistent/x.so", &m, &e),
	    SD_ERR_KEY);
	assert_null(m);
	assert_non_null(strstr(e.msg, "/nonexistent/x.so: not found"));
	write_str(tpath("notalib.so"), "text\n");
	assert_int_equal(p11_module_open(tpath("notalib.so"), &m, &e),
	    SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "cannot load"));

	/* the URI's module-path, then the option, then the proxy */
	u = uri("pkcs11:token=a?module-path=/a.so");
	assert_int_equal(p11_module_choose(u, "/b.so", &path, &e), 0);
	assert_string_equal(path, "/a.so");
	free(path);
	p11_uri_free(u);
	u = uri("pkcs11:token=a");
	assert_int_equal(p11_module_choose(u, "/b.so", &path, &e), 0);
	assert_string_equal(path, "/b.so");
	free(path);
	assert_int_equal(p11_module_choose(u, NULL, &path, &e), 0);
	assert_string_equal(path, P11_DEFAULT_MODULE);
	free(path);
	p11_uri_free(u);
	/* module-name: what p11-kit registers, or NAME.so in its directory */
	u = uri("pkcs11:?module-name=no-such-module");
	assert_int_equal(p11_module_choose(u, NULL, &path, &e), SD_ERR_KEY);
	assert_null(path);
	p11_uri_free(u);
}

static void
test_tokens(void **state)
{
	struct p11_module *m = NULL;
	struct p11_token t, *toks = NULL;
	struct p11_uri *u;
	struct sd_err e = { "" };
	size_t n = 0, i, inited = 0;

	(void)state;
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	assert_int_equal(p11_tokens(m, &toks, &n, &e), 0);
	for (i = 0; i < n; i++)
		if (toks[i].flags & CKF_TOKEN_INITIALIZED)
			inited++;
	assert_int_equal(inited, 2);
	free(toks);
	u = uri("pkcs11:token=unit1;model=SoftHSM%20v2");
	assert_int_equal(p11_find_token(m, u, "ref", &t, &e), 0);
	assert_string_equal(t.label, "unit1");
	assert_true(t.flags & CKF_LOGIN_REQUIRED);
	assert_false(t.yubikey_piv);
	p11_uri_free(u);
	u = uri("pkcs11:token=unit9");
	assert_int_equal(p11_find_token(m, u, "ref", &t, &e), SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "ref: no token matches; tokens "
	    "present: "));
	assert_non_null(strstr(e.msg, "'unit0'"));
	p11_uri_free(u);
	u = uri("pkcs11:manufacturer=SoftHSM%20project");
	assert_int_equal(p11_find_token(m, u, "ref", &t, &e), SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "tokens match"));
	p11_uri_free(u);
	u = uri("pkcs11:library-manufacturer=SoftHSM;token=unit0");
	assert_int_equal(p11_find_token(m, u, "ref", &t, &e), 0);
	p11_uri_free(u);
	u = uri("pkcs11:library-manufacturer=Other;token=unit0");
	assert_int_equal(p11_find_token(m, u, "ref", &t, &e), SD_ERR_KEY);
	p11_uri_free(u);
	p11_module_free(m);
}

static void
test_login(void **state)
{
	struct p11_module *m = NULL;
	struct p11_session *s;
	struct sd_err e = { "" };

	(void)state;
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	s = session(m, "unit1", NULL, 0);
	pin_calls = 0;
	assert_int_equal(p11_login(s, 0, NULL, pin_cb, (void *)"000000", &e),
	    SD_ERR_PASSPHRASE);
	assert_string_equal(e.msg, "wrong PIN for token unit1 (the token "
	    "says few tries are left)");
	assert_int_equal(pin_calls, 1);
	/* the next prompt is told what the token says */
	assert_int_equal(p11_login(s, 0, NULL, pin_cb, (void *)"654321", &e),
	    0);
	assert_true(pin_flags & HW_PIN_COUNT_LOW);
	assert_false(pin_flags & HW_PIN_SO);
	/* logged in already: not asked again */
	pin_calls = 0;
	assert_int_equal(p11_login(s, 0, NULL, pin_cb, NULL, &e), 0);
	assert_int_equal(pin_calls, 0);
	assert_int_equal(p11_logout(s), 0);
	/* no way to get a PIN */
	assert_int_equal(p11_login(s, 0, NULL, NULL, NULL, &e),
	    SD_ERR_PASSPHRASE);
	assert_non_null(strstr(e.msg, "needs a PIN and none was given"));
	assert_int_equal(p11_login(s, 0, NULL, pin_cb, NULL, &e),
	    SD_ERR_PASSPHRASE);
	assert_non_null(strstr(e.msg, "no PIN given"));
	/* a PIN file (pin-source) wins over the callback */
	write_str(tpath("pin1"), "654321\r\n");
	pin_calls = 0;
	assert_int_equal(p11_login(s, 0, tpath("pin1"), pin_cb, NULL, &e), 0);
	assert_int_equal(pin_calls, 0);
	p11_session_free(s);
	s = session(m, "unit1", NULL, 0);
	(void)p11_logout(s);
	assert_int_equal(p11_login(s, 0, tpath("absent"), pin_cb, NULL, &e),
	    SD_ERR_PASSPHRASE);
	assert_non_null(strstr(e.msg, "pin-source"));
	p11_session_free(s);
	p11_module_free(m);
}

/* Import rsa (through a key file, as `card import` does) onto unit0. */
static void
test_import(void **state)
{
	struct p11_module *m = NULL;
	struct p11_session *s;
	struct hw_key *k = NULL;
	struct p11_object *objs = NULL;
	struct p11_uri *u;
	struct sd_err e = { "" };
	CK_OBJECT_HANDLE h;
	BIO *b;
	size_t n = 0;
	static const uint8_t id[] = { 0x01, 0x02 };

	(void)state;
	b = BIO_new_file(tpath("k.key"), "w");
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PrivateKey(b, rsa, NULL, NULL, 0, NULL,
	    NULL), 1);
	BIO_free(b);
	assert_int_equal(hw_key_open(tpath("k.key"), NULL, &k, &e), 0);
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	s = session(m, "unit0", "123456", 1);
	assert_int_equal(p11_import_rsa(s, k, "imp", id, sizeof(id), &h, &e),
	    0);
	hw_key_free(k);
	u = uri("pkcs11:object=imp");
	assert_int_equal(p11_find_objects(s, CKO_PRIVATE_KEY, u, &objs, &n,
	    &e), 0);
	p11_uri_free(u);
	assert_int_equal(n, 1);
	assert_int_equal(objs[0].sensitive, 1);
	assert_int_equal(objs[0].extractable, 0);
	assert_int_equal(objs[0].decrypt, 1);
	assert_int_equal(objs[0].unwrap, 1);
	assert_int_equal(objs[0].sign, 0);
	assert_int_equal(objs[0].bits, 2048);
	assert_int_equal(objs[0].id_len, sizeof(id));
	assert_memory_equal(objs[0].id, id, sizeof(id));
	assert_non_null(objs[0].pub);
	assert_int_equal(EVP_PKEY_eq(objs[0].pub, rsa), 1);
	p11_objects_free(objs, n);
	/* filters: another id finds nothing */
	u = uri("pkcs11:id=%01%03");
	assert_int_equal(p11_find_objects(s, CKO_PRIVATE_KEY, u, &objs, &n,
	    &e), 0);
	assert_int_equal(n, 0);
	p11_objects_free(objs, n);
	p11_uri_free(u);
	p11_session_free(s);
	p11_module_free(m);
}

/* Decrypt through p11_decrypt_oaep256, SoftHSM2's fallback included. */
static void
test_decrypt(void **state)
{
	struct p11_module *m = NULL;
	struct p11_session *s;
	struct p11_object *objs = NULL;
	struct p11_uri *u;
	struct sd_secret *pt = NULL;
	struct sd_err e = { "" };
	enum p11_oaep_mode mode = P11_OAEP_UNKNOWN;
	uint8_t msg[64], *ct = NULL, nb[256], junk[256];
	BIGNUM *bn = NULL;
	size_t ct_len = 0, n = 0;
	CK_OBJECT_HANDLE h;

	(void)state;
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	s = session(m, "unit0", "123456", 0);
	u = uri("pkcs11:object=imp");
	assert_int_equal(p11_find_objects(s, CKO_PRIVATE_KEY, u, &objs, &n,
	    &e), 0);
	assert_int_equal(n, 1);
	h = objs[0].h;
	p11_objects_free(objs, n);
	p11_uri_free(u);

	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(rsa_oaep256_encrypt(rsa, msg, sizeof(msg), &ct,
	    &ct_len, &e), 0);
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, ct, ct_len,
	    &pt, &e), 0);
	assert_int_equal(mode, P11_OAEP_HOST);   /* SoftHSM2: SHA-1 OAEP only */
	assert_int_equal(pt->len, sizeof(msg));
	assert_memory_equal(pt->p, msg, sizeof(msg));
	sd_secret_free(pt);
	pt = NULL;
	/* once known, the fallback is used at once, and again works */
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, ct, ct_len,
	    &pt, &e), 0);
	sd_secret_free(pt);
	pt = NULL;

	/* a ciphertext for another key */
	ct[10] ^= 0x40;
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, ct, ct_len,
	    &pt, &e), SD_ERR_AUTH);
	assert_null(pt);
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, ct, 255,
	    &pt, &e), SD_ERR_AUTH);
	/*
	 * The modulus itself, and above it: refused here as not for this
	 * key (SD_ERR_AUTH, so trial decryption goes on), where SoftHSM2
	 * would answer CKR_GENERAL_ERROR.
	 */
	assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &bn),
	    1);
	assert_int_equal(BN_bn2binpad(bn, nb, sizeof(nb)), 256);
	BN_free(bn);
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, nb,
	    sizeof(nb), &pt, &e), SD_ERR_AUTH);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(p11_decrypt_oaep256(s, h, 2048, rsa, &mode, junk,
	    sizeof(junk), &pt, &e), SD_ERR_AUTH);
	/* without the public key, that is the token's answer */
	assert_int_not_equal(p11_decrypt_oaep256(s, h, 2048, NULL, &mode, junk,
	    sizeof(junk), &pt, &e), 0);
	assert_null(pt);
	free(ct);
	p11_session_free(s);
	p11_module_free(m);
}

/* The key as hw_key_open opens it, by URI, as verify does. */
static void
test_hw_key(void **state)
{
	struct hw_open_opts o;
	struct hw_key *k = NULL;
	struct sd_secret *pt = NULL;
	struct sd_err e = { "" };
	uint8_t msg[32], *ct = NULL;
	size_t ct_len = 0;
	char ref[700];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.pin = pin_cb;
	o.pin_ctx = (void *)"123456";
	o.pkcs11_module = module;
	assert_int_equal(hw_key_open("pkcs11:token=unit0;object=imp", &o, &k,
	    &e), 0);
	assert_true(hw_key_flags(k) & HW_KEY_TOKEN);
	/* no certificate on the token: shares would be found by trial */
	assert_true(hw_key_flags(k) & HW_KEY_NO_CERT);
	assert_int_equal(hw_key_bits(k), 2048);
	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(rsa_oaep256_encrypt(rsa, msg, sizeof(msg), &ct,
	    &ct_len, &e), 0);
	assert_int_equal(hw_key_decrypt(k, ct, ct_len, &pt, &e), 0);
	assert_memory_equal(pt->p, msg, sizeof(msg));
	assert_true(hw_key_flags(k) & HW_KEY_OAEP_HOST);
	sd_secret_free(pt);
	hw_key_free(k);
	free(ct);

	/* the PIN from the URI's pin-source */
	snprintf(ref, sizeof(ref), "pkcs11:token=unit0;id=%%01%%02"
	    "?pin-source=file:%s&module-path=%s", tpath("pin"), module);
	memset(&o, 0, sizeof(o));
	assert_int_equal(hw_key_open(ref, &o, &k, &e), 0);
	hw_key_free(k);
	/* through p11-kit's proxy, where SoftHSM2 is registered: no PIN */
	k = (struct hw_key *)&e;
	assert_int_equal(hw_key_open("pkcs11:token=unit0;object=imp", &o, &k,
	    &e), SD_ERR_PASSPHRASE);
	assert_null(k);
	assert_non_null(strstr(e.msg, "token unit0 needs a PIN"));
	o.pkcs11_module = module;
	o.pin = pin_cb;
	o.pin_ctx = (void *)"123456";
	assert_int_equal(hw_key_open("pkcs11:token=unit0;object=none", &o, &k,
	    &e), SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "holds no RSA private key that matches"));
	assert_int_equal(hw_key_open("pkcs11:token=unit0;type=cert", &o, &k,
	    &e), SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "type=cert"));
}

/* Generation, signing (a generated key's certificate), certificates. */
static void
test_generate_sign(void **state)
{
	struct p11_module *m = NULL;
	struct p11_session *s;
	struct p11_object key;
	struct sd_err e = { "" };
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *md;
	CK_OBJECT_HANDLE h, hc;
	X509 *x, *back = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	static const uint8_t id[] = { 0x77 };
	static const uint8_t data[] = "to be signed";

	(void)state;
	assert_int_equal(p11_module_open(module, &m, &e), 0);
	s = session(m, "unit0", "123456", 1);
	assert_int_equal(p11_generate_rsa(s, 2048, "gen", id, sizeof(id), &h,
	    &pub, &e), 0);
	assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
	assert_int_equal(p11_sign_sha256(s, h, 2048, data, sizeof(data), &sig,
	    &sig_len, &e), 0);
	assert_int_equal(sig_len, 256);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    pub), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, sig_len, data,
	    sizeof(data)), 1);
	EVP_MD_CTX_free(md);
	free(sig);
	assert_int_equal(p11_set_bool(s, h, CKA_SIGN, 0, &e), 0);
	assert_int_not_equal(p11_sign_sha256(s, h, 2048, data, sizeof(data),
	    &sig, &sig_len, &e), 0);

	/* a certificate stored with the key's id is the key's certificate */
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"gen", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, rsa, EVP_sha256()) > 0);
	assert_int_equal(p11_store_cert(s, x, "gen", id, sizeof(id), &hc, &e),
	    0);
	memset(&key, 0, sizeof(key));
	key.id = (uint8_t *)id;
	key.id_len = sizeof(id);
	assert_int_equal(p11_cert_of(s, &key, &back, &e), 0);
	assert_non_null(back);
	assert_int_equal(X509_cmp(x, back), 0);
	X509_free(back);
	X509_free(x);
	assert_int_equal(p11_destroy(s, hc, &e), 0);
	assert_int_equal(p11_cert_of(s, &key, &back, &e), 0);
	assert_null(back);
	EVP_PKEY_free(pub);
	p11_session_free(s);
	p11_module_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_decrypt),
		cmocka_unit_test(test_hw_key),
		cmocka_unit_test(test_generate_sign),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
