/*
 * test_hw.c - hw/: opening key files in every form officers have, their
 * certificates, decryption through the key, and exchange keys.
 *
 * The real service's keys come from $SDTOOL_VECTORS (tests needing them
 * are skipped when it is unset); everything else is generated into a
 * temporary directory by the group setup.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "../../hw/key.h"
#include "../../shares/jwe.h"
#include "../../shares/sdops.h"
#include "../../sys/file.h"

#define PASS "correct horse battery"

static char tmpdir[256];

/* ---- helpers ---------------------------------------------------------- */

static const char *
vectors(void)
{
	const char *v = getenv("SDTOOL_VECTORS");

	return v != NULL && *v != '\0' ? v : NULL;
}

static char *
tpath(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static char *
vpath(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", vectors(), name);
	return p;
}

static void
write_bytes(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
write_str(const char *path, const char *s)
{
	write_bytes(path, s, strlen(s));
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1u << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1u << 20) - 1, f);
	assert_int_equal(ferror(f), 0);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static EVP_PKEY *
rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);

	assert_non_null(k);
	return k;
}

/* A self-signed certificate valid from now + from_days for days days. */
static X509 *
make_cert(EVP_PKEY *key, long from_days, long days)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), (int)from_days,
	    0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x),
	    (int)(from_days + days), 0, NULL));
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"test_hw", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

enum form { PKCS1_PEM, PKCS8_PEM, PKCS8_DER, ENC_PEM, ENC_DER };

static void
write_key(const char *path, EVP_PKEY *k, enum form f)
{
	BIO *b = BIO_new_file(path, "wb");
	int ok = 0;

	assert_non_null(b);
	switch (f) {
	case PKCS1_PEM:
		ok = PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0,
		    NULL, NULL);
		break;
	case PKCS8_PEM:
		ok = PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0, NULL,
		    NULL);
		break;
	case PKCS8_DER:
		ok = i2d_PKCS8PrivateKey_bio(b, k, NULL, NULL, 0, NULL, NULL);
		break;
	case ENC_PEM:
		ok = PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(),
		    PASS, (int)strlen(PASS), NULL, NULL);
		break;
	case ENC_DER:
		ok = i2d_PKCS8PrivateKey_bio(b, k, EVP_aes_256_cbc(), PASS,
		    (int)strlen(PASS), NULL, NULL);
		break;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(BIO_free(b), 1);
}

static void
write_cert(const char *path, X509 *x, int der)
{
	BIO *b = BIO_new_file(path, "wb");

	assert_non_null(b);
	if (der)
		assert_int_equal(i2d_X509_bio(b, x), 1);
	else
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
	assert_int_equal(BIO_free(b), 1);
}

/* Passphrase callback: counts its calls, answers ctx (NULL: refuses). */
static int pw_calls;

static int
pw(void *ctx, const char *ref, char *buf, size_t size)
{
	pw_calls++;
	assert_non_null(ref);
	assert_int_equal(size, HW_MAX_PASSPHRASE);
	if (ctx == NULL)
		return SD_ERR_PASSPHRASE;
	snprintf(buf, size, "%s", (const char *)ctx);
	return 0;
}

/* Open ref expecting code; the error message must contain want. */
static struct hw_key *
open_expect(const char *ref, const struct hw_open_opts *o, int code,
    const char *want)
{
	struct sd_err e = { "" };
	struct hw_key *k = (struct hw_key *)&e;   /* must be reset to NULL */
	int r;

	r = hw_key_open(ref, o, &k, &e);
	if (r != code)
		fail_msg("%s: got %d (%s), expected %d", ref, r, e.msg, code);
	if (want != NULL && strstr(e.msg, want) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", ref, e.msg, want);
	if (code != 0) {
		assert_null(k);
		return NULL;
	}
	assert_non_null(k);
	return k;
}

/* ---- fixtures --------------------------------------------------------- */

static int
setup(void **state)
{
	EVP_PKEY *k, *other, *small, *ec;
	X509 *cert, *other_cert, *small_cert, *future;
	const char *base = getenv("TMPDIR");

	(void)state;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_hw.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	k = rsa_key(2048);
	other = rsa_key(2048);
	small = rsa_key(1024);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	cert = make_cert(k, 0, 365);
	other_cert = make_cert(other, 0, 365);
	small_cert = make_cert(small, 0, 365);
	future = make_cert(k, 30, 365);

	write_key(tpath("pkcs1.pem"), k, PKCS1_PEM);
	write_cert(tpath("pkcs1.cer"), cert, 0);
	write_key(tpath("p8.der"), k, PKCS8_DER);
	write_cert(tpath("p8.cer"), cert, 1);   /* DER certificate */
	write_key(tpath("enc.pem"), k, ENC_PEM);
	write_cert(tpath("enc.cer"), cert, 0);
	write_key(tpath("enc.der"), k, ENC_DER);
	write_key(tpath("mismatch.key"), k, PKCS8_PEM);
	write_cert(tpath("mismatch.cer"), other_cert, 0);
	write_key(tpath("nocert.key"), k, PKCS8_PEM);
	write_key(tpath("noext"), k, PKCS8_PEM);
	write_cert(tpath("noext.cer"), cert, 0);
	write_key(tpath("future.key"), k, PKCS8_PEM);
	write_cert(tpath("future.cer"), future, 0);
	write_key(tpath("rsa1024.key"), small, PKCS8_PEM);
	write_cert(tpath("rsa1024.cer"), small_cert, 0);
	write_key(tpath("ec.key"), ec, PKCS8_PEM);
	write_cert(tpath("cert.pem"), cert, 0);
	write_bytes(tpath("garbage.key"), "\x30\x82\x01\x00garbage\n", 12);
	write_key(tpath("badcert.key"), k, PKCS8_PEM);
	write_str(tpath("badcert.cer"), "-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n");
	assert_int_equal(mkdir(tpath("dir.key"), 0700), 0);

	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	X509_free(cert);
	X509_free(other_cert);
	X509_free(small_cert);
	X509_free(future);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the service's own keys ------------------------------------------ */

static void
test_real_keys(void **state)
{
	static const struct {
		const char *key, *x5t;
	} keys[] = {
		/* x5t_256 as the service wrote them into sd.json */
		{ "keys/sd1.key", "vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYg" },
		{ "keys/sd2.key", "qBJlg1j1agy88BfSg_iZhAfHSBWxmbzW84zr1tv4QiM" },
		{ "keys/sd3.key", "IqNczYeUNDRJ4XnvwsMw6JZW3lk-czwnTZ1HE5r6TIc" },
		{ "certs/cert_0.key", "KDtoDOcyfLJYATO9jyG7JxJaES5LOnxK_5FBTlHLSSE" },
		{ "certs/cert_1.key", "Vg1VUgJvtNvnHQKB9oqwx4ssOgsn_8fS1IY1RCZtRZk" },
		{ "certs/cert_2.key", "B4dq73GbykFdDnVa4zCrQqpweB641l-iVchQx-uDr1A" },
	};
	struct hw_key *k;
	size_t i;
	char cer[512];

	(void)state;
	if (vectors() == NULL)
		skip();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		k = open_expect(vpath(keys[i].key), NULL, 0, NULL);
		/* expired in 2021 and 2022: flagged, never refused */
		assert_true(hw_key_flags(k) & HW_KEY_CERT_EXPIRED);
		assert_false(hw_key_flags(k) & HW_KEY_NO_CERT);
		assert_false(hw_key_flags(k) & HW_KEY_ENCRYPTED);
		assert_int_equal(hw_key_bits(k), 2048);
		assert_non_null(hw_key_cert(k));
		assert_string_equal(hw_key_x5t256(k), keys[i].x5t);
		assert_string_equal(hw_key_ref(k), vpath(keys[i].key));
		snprintf(cer, sizeof(cer), "%s", vpath(keys[i].key));
		memcpy(cer + strlen(cer) - 4, ".cer", 4);
		assert_string_equal(hw_key_cert_path(k), cer);
		hw_key_free(k);
	}
}

/* ---- forms of key files ---------------------------------------------- */

static void
check_plain(const char *name, const char *cert)
{
	struct hw_key *k = open_expect(tpath(name), NULL, 0, NULL);

	assert_int_equal(hw_key_flags(k), 0);
	assert_int_equal(hw_key_bits(k), 2048);
	assert_non_null(hw_key_cert(k));
	assert_string_equal(hw_key_cert_path(k), tpath(cert));
	assert_non_null(hw_key_x5t256(k));
	assert_int_equal(strlen(hw_key_x5t256(k)), SD_X5T_LEN);
	hw_key_free(k);
}

static void
test_pkcs1_pem(void **state)
{
	(void)state;
	check_plain("pkcs1.pem", "pkcs1.cer");
}

static void
test_pkcs8_der(void **state)
{
	(void)state;
	check_plain("p8.der", "p8.cer");   /* and a DER certificate */
}

static void
test_no_extension(void **state)
{
	(void)state;
	check_plain("noext", "noext.cer");
}

static void
check_encrypted(const char *name)
{
	struct hw_open_opts o = { .passphrase = pw,
	    .passphrase_ctx = (void *)PASS };
	struct hw_key *k;

	pw_calls = 0;
	k = open_expect(tpath(name), &o, 0, NULL);
	assert_int_equal(pw_calls, 1);
	assert_int_equal(hw_key_flags(k), HW_KEY_ENCRYPTED);
	assert_non_null(hw_key_cert(k));
	hw_key_free(k);
}

static void
test_encrypted_pem(void **state)
{
	(void)state;
	check_encrypted("enc.pem");
}

static void
test_encrypted_der(void **state)
{
	(void)state;
	/* its certificate is enc.cer, beside the PEM form of the same key */
	check_encrypted("enc.der");
}

static void
test_wrong_passphrase(void **state)
{
	struct hw_open_opts o = { .passphrase = pw,
	    .passphrase_ctx = (void *)"not the passphrase" };

	(void)state;
	pw_calls = 0;
	open_expect(tpath("enc.pem"), &o, SD_ERR_PASSPHRASE,
	    ": wrong passphrase");
	assert_int_equal(pw_calls, 1);
	pw_calls = 0;
	open_expect(tpath("enc.der"), &o, SD_ERR_PASSPHRASE,
	    ": wrong passphrase");
	assert_int_equal(pw_calls, 1);
}

static void
test_no_passphrase(void **state)
{
	struct hw_open_opts none = { .passphrase = NULL };
	struct hw_open_opts refuses = { .passphrase = pw };

	(void)state;
	open_expect(tpath("enc.pem"), NULL, SD_ERR_PASSPHRASE,
	    "key is encrypted and no passphrase was given");
	open_expect(tpath("enc.der"), &none, SD_ERR_PASSPHRASE,
	    "key is encrypted and no passphrase was given");
	pw_calls = 0;
	open_expect(tpath("enc.pem"), &refuses, SD_ERR_PASSPHRASE,
	    "no passphrase was given");
	assert_int_equal(pw_calls, 1);
	/* a plain key never asks */
	pw_calls = 0;
	hw_key_free(open_expect(tpath("pkcs1.pem"), &refuses, 0, NULL));
	assert_int_equal(pw_calls, 0);
}

/* ---- certificates beside keys ---------------------------------------- */

static void
test_cert_mismatch(void **state)
{
	char want[512];

	(void)state;
	snprintf(want, sizeof(want), "%s: does not match its certificate %s",
	    tpath("mismatch.key"), tpath("mismatch.cer"));
	open_expect(tpath("mismatch.key"), NULL, SD_ERR_KEY_MISMATCH, want);
}

static void
test_cert_explicit(void **state)
{
	struct hw_open_opts o = { .passphrase = NULL };
	struct hw_key *k;

	(void)state;
	/* the key beside mismatch.cer, with its right certificate named */
	o.cert_path = tpath("cert.pem");
	k = open_expect(tpath("mismatch.key"), &o, 0, NULL);
	assert_string_equal(hw_key_cert_path(k), tpath("cert.pem"));
	hw_key_free(k);
	/* a certificate named explicitly must exist */
	o.cert_path = tpath("absent.cer");
	open_expect(tpath("nocert.key"), &o, SD_ERR_IO, "absent.cer");
	/* and must be the key's */
	o.cert_path = tpath("mismatch.cer");
	open_expect(tpath("pkcs1.pem"), &o, SD_ERR_KEY_MISMATCH, NULL);
}

static void
test_no_cert(void **state)
{
	struct hw_key *k;

	(void)state;
	k = open_expect(tpath("nocert.key"), NULL, 0, NULL);
	assert_int_equal(hw_key_flags(k), HW_KEY_NO_CERT);
	assert_null(hw_key_cert(k));
	assert_null(hw_key_cert_path(k));
	assert_null(hw_key_x5t256(k));
	hw_key_free(k);
}

static void
test_bad_cert(void **state)
{
	(void)state;
	open_expect(tpath("badcert.key"), NULL, SD_ERR_KEY, "badcert.cer");
}

static void
test_cert_not_yet_valid(void **state)
{
	struct hw_key *k;

	(void)state;
	k = open_expect(tpath("future.key"), NULL, 0, NULL);
	assert_int_equal(hw_key_flags(k), HW_KEY_CERT_NOT_YET);
	hw_key_free(k);
}

/* ---- what is not a usable key ---------------------------------------- */

static void
test_not_keys(void **state)
{
	char want[512];

	(void)state;
	snprintf(want, sizeof(want), "%s: not a private key (PEM or DER, "
	    "PKCS#1 or PKCS#8)", tpath("garbage.key"));
	open_expect(tpath("garbage.key"), NULL, SD_ERR_KEY, want);
	open_expect(tpath("cert.pem"), NULL, SD_ERR_KEY, "it is a certificate");
	open_expect(tpath("dir.key"), NULL, SD_ERR_IO,
	    "dir.key: is a directory, a key file is required");
	open_expect(tpath("absent.key"), NULL, SD_ERR_IO, "absent.key");
	open_expect(tpath("rsa1024.key"), NULL, SD_ERR_KEY, "RSA-1024");
	open_expect(tpath("ec.key"), NULL, SD_ERR_KEY, "only RSA");
	/* PKCS#11 URIs go to key_pkcs11.c (tested with tokens in t_card.sh) */
	open_expect("pkcs11:tokn=officer1", NULL, SD_ERR_FORMAT,
	    "unknown attribute 'tokn'");
	open_expect("pkcs11:token=officer1?module-path=/nonexistent/p11.so",
	    NULL, SD_ERR_KEY, "PKCS#11 module /nonexistent/p11.so: not found");
}

static void
test_read_file(void **state)
{
	struct sd_err e = { "" };
	char *buf = (char *)&e;
	size_t len = 99;
	char big[2048];

	(void)state;
	memset(big, 'A', sizeof(big));
	write_bytes(tpath("big"), big, sizeof(big));
	assert_int_equal(sys_read_file(tpath("big"), 2048, &buf, &len, &e), 0);
	assert_int_equal(len, 2048);
	assert_int_equal(buf[2048], '\0');
	free(buf);
	assert_int_equal(sys_read_file(tpath("big"), 2047, &buf, &len, &e),
	    SD_ERR_LIMIT);
	assert_null(buf);
	assert_int_equal(len, 0);
	/* a FIFO is refused at once rather than waited on */
	assert_int_equal(mkfifo(tpath("fifo"), 0600), 0);
	assert_int_equal(sys_read_file(tpath("fifo"), 2048, &buf, &len, &e),
	    SD_ERR_IO);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(sys_read_file(tmpdir, 2048, &buf, &len, &e), SD_ERR_IO);
	assert_non_null(strstr(e.msg, "is a directory"));
}

/* ---- decryption ------------------------------------------------------- */

static void
test_decrypt_roundtrip(void **state)
{
	static const uint8_t msg[64] = "a share is sixty-four bytes long, "
	    "like this message here.....";
	struct hw_open_opts o = { .passphrase = pw,
	    .passphrase_ctx = (void *)PASS };
	struct sd_err e = { "" };
	struct sd_decryptor d;
	struct sd_secret *pt = NULL;
	struct hw_key *k;
	uint8_t *ct = NULL;
	size_t ct_len = 0;

	(void)state;
	k = open_expect(tpath("enc.pem"), &o, 0, NULL);
	assert_int_equal(rsa_oaep256_encrypt(X509_get0_pubkey(hw_key_cert(k)),
	    msg, sizeof(msg), &ct, &ct_len, &e), 0);
	assert_int_equal(ct_len, 256);
	assert_int_equal(hw_key_decrypt(k, ct, ct_len, &pt, &e), 0);
	assert_int_equal(pt->len, sizeof(msg));
	assert_memory_equal(pt->p, msg, sizeof(msg));
	sd_secret_free(pt);
	pt = NULL;

	/* the same through the core's decryptor interface */
	hw_key_decryptor(k, &d);
	assert_int_equal(d.oaep256_decrypt(d.ctx, ct, ct_len, &pt, &e), 0);
	assert_memory_equal(pt->p, msg, sizeof(msg));
	sd_secret_free(pt);
	pt = NULL;

	/* a changed bit is an authentication failure, nothing returned */
	ct[17] ^= 0x01;
	pt = (struct sd_secret *)&e;
	assert_int_equal(hw_key_decrypt(k, ct, ct_len, &pt, &e), SD_ERR_AUTH);
	assert_null(pt);
	free(ct);
	hw_key_free(k);
}

static void
test_decrypt_other_key(void **state)
{
	static const uint8_t msg[] = "for another key";
	struct sd_err e = { "" };
	struct sd_secret *pt = NULL;
	struct hw_key *k;
	X509 *x = NULL;
	uint8_t *ct = NULL;
	size_t ct_len = 0;

	(void)state;
	/* encrypted to mismatch.cer's key, decrypted by another key */
	assert_int_equal(pki_cert_load(tpath("mismatch.cer"), &x, &e), 0);
	assert_int_equal(rsa_oaep256_encrypt(X509_get0_pubkey(x), msg,
	    sizeof(msg), &ct, &ct_len, &e), 0);
	k = open_expect(tpath("pkcs1.pem"), NULL, 0, NULL);
	assert_int_equal(hw_key_decrypt(k, ct, ct_len, &pt, &e), SD_ERR_AUTH);
	assert_null(pt);
	hw_key_free(k);
	X509_free(x);
	free(ct);
}

/* ---- certificates and exchange keys ---------------------------------- */

static void
test_cert_load(void **state)
{
	struct sd_err e = { "" };
	char x5t[SD_X5T_SIZE], x5t_der[SD_X5T_SIZE];
	X509 *x = (X509 *)&e, *y = NULL;

	(void)state;
	assert_int_equal(pki_cert_load(tpath("pkcs1.cer"), &x, &e), 0);
	assert_int_equal(pki_cert_load(tpath("p8.cer"), &y, &e), 0);
	assert_int_equal(pki_cert_x5t256(x, x5t), 0);
	assert_int_equal(pki_cert_x5t256(y, x5t_der), 0);
	assert_string_equal(x5t, x5t_der);   /* PEM and DER: same certificate */
	X509_free(x);
	X509_free(y);
	x = (X509 *)&e;
	assert_int_equal(pki_cert_load(tpath("garbage.key"), &x, &e),
	    SD_ERR_KEY);
	assert_null(x);
	assert_int_equal(pki_cert_load(tpath("absent"), &x, &e), SD_ERR_IO);
	if (vectors() == NULL)
		return;
	assert_int_equal(pki_cert_load(vpath("keys/sd1.cer"), &x, &e), 0);
	assert_int_equal(pki_cert_x5t256(x, x5t), 0);
	assert_string_equal(x5t, "vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYg");
	X509_free(x);
}

static void
check_exchange(const char *path)
{
	struct sd_err e = { "" };
	X509 *x = (X509 *)&e;
	int r;

	if ((r = pki_exchange_cert_load(path, &x, &e)) != 0)
		fail_msg("%s: %d %s", path, r, e.msg);
	assert_non_null(x);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "RSA"));
	assert_true(EVP_PKEY_get_bits(X509_get0_pubkey(x)) >= 2048);
	X509_free(x);
}

static void
test_exchange_real(void **state)
{
	(void)state;
	if (vectors() == NULL)
		skip();
	check_exchange(vpath("2023-05/transfer_key_response.json"));
	check_exchange(vpath("2020-09/transfer_key_response.json"));
}

static void
test_exchange_tampered(void **state)
{
	struct sd_err e = { "" };
	X509 *x = (X509 *)&e;
	char *json, *n;
	size_t len;

	(void)state;
	if (vectors() == NULL)
		skip();
	json = slurp(vpath("2023-05/transfer_key_response.json"), &len);
	/* the JWK is a string inside the reply: \"n\":\"... */
	n = strstr(json, "\\\"n\\\":\\\"");
	assert_non_null(n);
	n += 8;
	*n = *n == 'A' ? 'B' : 'A';
	write_bytes(tpath("tampered.json"), json, len);
	assert_int_equal(pki_exchange_cert_load(tpath("tampered.json"), &x, &e),
	    SD_ERR_KEY_MISMATCH);
	assert_null(x);
	assert_non_null(strstr(e.msg, "transfer key's n/e do not match its "
	    "certificate"));
	free(json);
}

static void
test_exchange_cert_files(void **state)
{
	struct sd_err e = { "" };
	X509 *x = NULL;

	(void)state;
	check_exchange(tpath("pkcs1.cer"));   /* PEM */
	check_exchange(tpath("p8.cer"));      /* DER */
	assert_int_equal(pki_exchange_cert_load(tpath("rsa1024.cer"), &x, &e),
	    SD_ERR_KEY);
	assert_non_null(strstr(e.msg, "RSA-1024"));
	assert_int_equal(pki_exchange_cert_load(tpath("garbage.key"), &x, &e),
	    SD_ERR_KEY);
	write_str(tpath("notjwk.json"), " {\"key_format\":\"jwk\"}");
	assert_int_not_equal(pki_exchange_cert_load(tpath("notjwk.json"), &x,
	    &e), 0);
	assert_null(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_keys),
		cmocka_unit_test(test_pkcs1_pem),
		cmocka_unit_test(test_pkcs8_der),
		cmocka_unit_test(test_no_extension),
		cmocka_unit_test(test_encrypted_pem),
		cmocka_unit_test(test_encrypted_der),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_no_passphrase),
		cmocka_unit_test(test_cert_mismatch),
		cmocka_unit_test(test_cert_explicit),
		cmocka_unit_test(test_no_cert),
		cmocka_unit_test(test_bad_cert),
		cmocka_unit_test(test_cert_not_yet_valid),
		cmocka_unit_test(test_not_keys),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_decrypt_roundtrip),
		cmocka_unit_test(test_decrypt_other_key),
		cmocka_unit_test(test_cert_load),
		cmocka_unit_test(test_exchange_real),
		cmocka_unit_test(test_exchange_tampered),
		cmocka_unit_test(test_exchange_cert_files),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
