/*
 * test_sdops.c - the operations on SD files, end to end inside the core:
 * real service files opened by their keys, SD files and restore blobs
 * built and opened again, and the failures that must be caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shares/sdops.h"
#include "../../shares/shamir.h"

static const char *vectors;

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static EVP_PKEY *
load_key(const char *rel)
{
	char path[1024];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", vectors, rel);
	assert_non_null(f = fopen(path, "r"));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static struct sd_file *
load_sd(const char *rel)
{
	char path[1024], *text;
	struct sd_file *sd = NULL;
	struct sd_err e = { "" };
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", vectors, rel);
	text = slurp(path, &len);
	assert_int_equal(sd_file_parse(text, len, &sd, &e), 0);
	free(text);
	return sd;
}

/* Deterministic randomness: a counter through SHA-256. */
struct det_rng { uint64_t ctr; uint8_t seed; };

static void
det_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct det_rng *d = ctx;
	uint8_t block[32], in[9];
	size_t n;

	while (len > 0) {
		memcpy(in, &d->ctr, 8);
		in[8] = d->seed;
		d->ctr++;
		crypto_hash_sha256(block, in, sizeof(in));
		n = len < sizeof(block) ? len : sizeof(block);
		memcpy(buf, block, n);
		buf += n;
		len -= n;
	}
}

/* Every pair of shares of a real file recombines and authenticates. */
static void
open_real(const char *sd_rel, const char *const keys[3])
{
	struct sd_file *sd;
	struct sd_secret *shares[3] = { NULL }, *master = NULL, **pts = NULL;
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	EVP_PKEY *k;
	const uint8_t *pair[2];
	unsigned x;
	int i, j;

	if (vectors == NULL)
		skip();
	sd = load_sd(sd_rel);
	assert_int_equal(sd->required, 2);
	for (i = 0; i < 3; i++) {
		k = load_key(keys[i]);
		sd_decryptor_from_pkey(&dec, k);
		assert_int_equal(sd_share_open(&sd->shares[i], &dec, &shares[i],
		    &x, &e), 0);
		assert_int_equal(x, (unsigned)i + 1);
		/* The wrong recipient: authentication, not garbage. */
		sd_secret_free(master);
		assert_int_equal(sd_share_open(&sd->shares[(i + 1) % 3], &dec,
		    &master, &x, &e), SD_ERR_AUTH);
		assert_null(master);
		EVP_PKEY_free(k);
	}
	for (i = 0; i < 3; i++) {
		for (j = i + 1; j < 3; j++) {
			pair[0] = shares[i]->p;
			pair[1] = shares[j]->p;
			assert_int_equal(shamir_combine(pair, 2, SD_SHARE_LEN,
			    &master, &e), 0);
			assert_int_equal(sd_data_open(&sd->data, master, &pts, &e), 0);
			assert_int_equal(pts[0]->len > 1000, 1);
			sd_plaintexts_free(pts, sd->data.n);
			sd_secret_free(master);
			master = NULL;
		}
	}
	/* One share alone does not give the secret. */
	pair[0] = shares[0]->p;
	pair[1] = shares[0]->p;
	assert_int_equal(shamir_combine(pair, 2, SD_SHARE_LEN, &master, &e),
	    SD_ERR_SHARE);
	for (i = 0; i < 3; i++)
		sd_secret_free(shares[i]);
	sd_file_free(sd);
}

static void
test_real_2023(void **state)
{
	static const char *const k[3] = { "keys/sd1.key", "keys/sd2.key",
	    "keys/sd3.key" };
	(void)state;
	open_real("2023-05/sd.json", k);
}

static void
test_real_2020(void **state)
{
	static const char *const k[3] = { "keys/sd1.key", "keys/sd2.key",
	    "keys/sd3.key" };
	(void)state;
	open_real("2020-09/sd.json", k);
}

static void
test_real_2022(void **state)
{
	static const char *const k[3] = { "certs/cert_0.key", "certs/cert_1.key",
	    "certs/cert_2.key" };
	(void)state;
	open_real("2022-08/sd.json", k);
}

/* Build an SD file, serialize, parse, open every quorum; then a blob. */
static void
test_build_and_open(void **state)
{
	static const char *const tags[2] = { "hsm_backup", "base_enclave_backup" };
	struct det_rng dr = { 0, 1 };
	struct sd_rng rng = { det_fill, &dr };
	EVP_PKEY *keys[4], *exch;
	struct sd_recipient rcpt[4];
	struct sd_secret *master, *pts[2], *shares[4], *got = NULL, **out = NULL;
	struct sd_file *sd = NULL, *back = NULL;
	struct sd_blob *blob = NULL, *blob2 = NULL;
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	const uint8_t *three[3];
	char *json = NULL, *json2 = NULL;
	unsigned x;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		assert_non_null(keys[i]);
		rcpt[i].pub = keys[i];
		/* any canonical base64url of 32 bytes stands in here */
		snprintf(rcpt[i].x5t_256, sizeof(rcpt[i].x5t_256),
		    "%042dA", i);
	}
	assert_non_null(master = sd_secret_new(SD_SECRET_LEN));
	det_fill(&dr, master->p, master->len);
	assert_non_null(pts[0] = sd_secret_new(5000));
	assert_non_null(pts[1] = sd_secret_new(17));
	det_fill(&dr, pts[0]->p, pts[0]->len);
	det_fill(&dr, pts[1]->p, pts[1]->len);

	assert_int_equal(sd_file_build(master, tags, pts, 2, rcpt, 4, 3, &rng,
	    &sd, &e), 0);
	assert_int_equal(sd_file_serialize(sd, &json, &e), 0);
	if (sd_file_parse(json, strlen(json), &back, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(back->required, 3);
	assert_int_equal(back->n_shares, 4);
	for (i = 0; i < 4; i++) {
		sd_decryptor_from_pkey(&dec, keys[i]);
		assert_int_equal(sd_share_open(&back->shares[i], &dec, &shares[i],
		    &x, &e), 0);
		assert_int_equal(x, (unsigned)i + 1);
	}
	/* Quorum 3 of 4: every subset of three gives the master secret. */
	for (i = 0; i < 4; i++) {
		int a = 0, j;
		for (j = 0; j < 4; j++)
			if (j != i)
				three[a++] = shares[j]->p;
		assert_int_equal(shamir_combine(three, 3, SD_SHARE_LEN, &got, &e), 0);
		assert_memory_equal(got->p, master->p, SD_SECRET_LEN);
		assert_int_equal(sd_data_open(&back->data, got, &out, &e), 0);
		assert_int_equal(out[0]->len, 5000);
		assert_memory_equal(out[0]->p, pts[0]->p, 5000);
		assert_int_equal(out[1]->len, 17);
		assert_memory_equal(out[1]->p, pts[1]->p, 17);
		sd_plaintexts_free(out, 2);
		out = NULL;
		sd_secret_free(got);
		got = NULL;
	}
	/* Two of a quorum of three: a wrong secret that fails to authenticate. */
	assert_int_equal(shamir_combine(three, 2, SD_SHARE_LEN, &got, &e), 0);
	assert_int_not_equal(sd_data_open(&back->data, got, NULL, &e), 0);
	assert_non_null(strstr(e.msg, "EncData.data[0] (hsm_backup)"));
	sd_secret_free(got);
	got = NULL;

	/* Restore blob to an exchange key, opened by its private half. */
	exch = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(exch);
	assert_int_equal(sd_blob_build(&back->data, pts, exch,
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeA", &rng, &blob, &e), 0);
	assert_string_equal(blob->wrapped.jwe->kid, "not used");
	sd_decryptor_from_pkey(&dec, exch);
	assert_int_equal(sd_blob_open(blob, &dec, &out, &e), 0);
	assert_memory_equal(out[0]->p, pts[0]->p, 5000);
	sd_plaintexts_free(out, 2);
	out = NULL;
	/* A blob's JSON parses back; the wrong key cannot open it. */
	assert_int_equal(sd_blob_serialize(blob, &json2, &e), 0);
	assert_int_equal(sd_blob_parse(json2, strlen(json2), &blob2, &e), 0);
	sd_decryptor_from_pkey(&dec, keys[0]);
	assert_int_equal(sd_blob_open(blob2, &dec, &out, &e), SD_ERR_AUTH);
	assert_null(out);

	for (i = 0; i < 4; i++) {
		sd_secret_free(shares[i]);
		EVP_PKEY_free(keys[i]);
	}
	EVP_PKEY_free(exch);
	sd_secret_free(master);
	sd_secret_free(pts[0]);
	sd_secret_free(pts[1]);
	sd_blob_free(blob);
	sd_blob_free(blob2);
	sd_file_free(sd);
	sd_file_free(back);
	free(json);
	free(json2);
}

/* The data part of an SD file is a function of the injected randomness. */
static void
test_deterministic_data(void **state)
{
	static const char *const tags[1] = { "hsm_backup" };
	struct det_rng d1 = { 0, 7 }, d2 = { 0, 7 };
	struct sd_rng r1 = { det_fill, &d1 }, r2 = { det_fill, &d2 };
	struct sd_recipient rcpt[3];
	struct sd_secret *master, *pt;
	struct sd_file *a = NULL, *b = NULL;
	struct sd_err e = { "" };
	EVP_PKEY *k;
	int i;

	(void)state;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	for (i = 0; i < 3; i++) {
		rcpt[i].pub = k;
		snprintf(rcpt[i].x5t_256, sizeof(rcpt[i].x5t_256), "%042dA", i);
	}
	assert_non_null(master = sd_secret_new(SD_SECRET_LEN));
	assert_non_null(pt = sd_secret_new(100));
	assert_int_equal(sd_file_build(master, tags, &pt, 1, rcpt, 3, 2, &r1,
	    &a, &e), 0);
	assert_int_equal(sd_file_build(master, tags, &pt, 1, rcpt, 3, 2, &r2,
	    &b, &e), 0);
	assert_string_equal(a->data.items[0].compact_jwe,
	    b->data.items[0].compact_jwe);
	assert_string_equal(a->shares[0].jwe->kid, b->shares[0].jwe->kid);
	/* Out of range quorums are refused. */
	sd_file_free(b);
	b = NULL;
	assert_int_equal(sd_file_build(master, tags, &pt, 1, rcpt, 3, 4, &r2,
	    &b, &e), SD_ERR_RANGE);
	assert_int_equal(sd_file_build(master, tags, &pt, 1, rcpt, 3, 1, &r2,
	    &b, &e), SD_ERR_RANGE);
	assert_null(b);
	sd_file_free(a);
	sd_secret_free(master);
	sd_secret_free(pt);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_2023),
		cmocka_unit_test(test_real_2020),
		cmocka_unit_test(test_real_2022),
		cmocka_unit_test(test_build_and_open),
		cmocka_unit_test(test_deterministic_data),
	};

	if (sodium_init() < 0)
		return 1;
	vectors = getenv("SDTOOL_VECTORS");
	return cmocka_run_group_tests_name("sdops", tests, NULL, NULL);
}
