/*
 * test_reshare.c - officer rotation in the core (shares/reshare.c): a real
 * service file (2023-05) opened by a quorum of its keys and reshared to
 * five new keys with a quorum of three, in the service's format; every
 * quorum of the new file opens the same data items; randomness is
 * injectable; and the failures that must be caught are.
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

#include "../../shares/reshare.h"
#include "../../shares/sdops.h"
#include "../../shares/shamir.h"

static const char *vectors;
static EVP_PKEY *newkeys[5];
static struct sd_recipient rcpt[5];

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

/* The 2023-05 service file, opened with sd1 and sd3 (shares #1, #3). */
struct opened {
	struct sd_file *sd;
	struct sd_secret *shares[SD_MAX_SHARES];
	struct sd_secret *master;
	struct sd_secret **pts;
	char *text;
};

static void
open_2023(struct opened *o)
{
	static const char *const keys[3] = { "keys/sd1.key", "keys/sd2.key",
	    "keys/sd3.key" };
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	char path[1024];
	size_t len;
	unsigned x;
	EVP_PKEY *k;
	int i;

	memset(o, 0, sizeof(*o));
	snprintf(path, sizeof(path), "%s/2023-05/sd.json", vectors);
	o->text = slurp(path, &len);
	assert_int_equal(sd_file_parse(o->text, len, &o->sd, &e), 0);
	for (i = 0; i < 3; i += 2) {
		k = load_key(keys[i]);
		sd_decryptor_from_pkey(&dec, k);
		assert_int_equal(sd_share_open(&o->sd->shares[i], &dec,
		    &o->shares[i], &x, &e), 0);
		EVP_PKEY_free(k);
	}
	if (sd_quorum_open(o->sd, o->shares, &o->master, &o->pts, &e) != 0)
		fail_msg("%s", e.msg);
}

static void
opened_clear(struct opened *o)
{
	int i;

	sd_plaintexts_free(o->pts, o->sd->data.n);
	sd_secret_free(o->master);
	for (i = 0; i < SD_MAX_SHARES; i++)
		sd_secret_free(o->shares[i]);
	sd_file_free(o->sd);
	free(o->text);
}

static int
setup(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		if ((newkeys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)2048)) == NULL)
			return -1;
		rcpt[i].pub = newkeys[i];
		/* any canonical base64url of 32 bytes stands in here */
		snprintf(rcpt[i].x5t_256, sizeof(rcpt[i].x5t_256), "%042dA", i);
	}
	return 0;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		EVP_PKEY_free(newkeys[i]);
	return 0;
}

/* Open every share of f with the five new keys. */
static void
open_new_shares(const struct sd_file *f, struct sd_secret **shares)
{
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	unsigned x, w;
	size_t i, j;

	for (i = 0; i < f->n_shares; i++) {
		sd_decryptor_from_pkey(&dec, newkeys[i]);
		if (sd_share_open(&f->shares[i], &dec, &shares[i], &x, &e) != 0)
			fail_msg("share %zu: %s", i + 1, e.msg);
		/* the service's encoding: 32 LE words x << 9 | v, x = i + 1 */
		assert_int_equal(shares[i]->len, SD_SHARE_LEN);
		assert_int_equal(x, i + 1);
		for (j = 0; j < SD_SHARE_LEN / 2; j++) {
			w = shares[i]->p[2 * j] | (unsigned)shares[i]->p[2 * j + 1] << 8;
			assert_int_equal(w >> 9, i + 1);
			assert_true((w & 0x1ff) <= 256);
		}
	}
}

static void
test_real_reshare_2_of_3_to_3_of_5(void **state)
{
	struct det_rng dr = { 0, 3 };
	struct sd_rng rng = { det_fill, &dr };
	struct opened o;
	struct sd_file *nsd = NULL, *back = NULL;
	struct sd_secret *shares[SD_MAX_SHARES] = { NULL }, **pts = NULL;
	struct sd_err e = { "" };
	size_t i, checked, okc, item;
	char *json = NULL;

	(void)state;
	if (vectors == NULL)
		skip();
	open_2023(&o);
	assert_int_equal(o.sd->data.n, 3);
	if (sd_reshare(o.sd, o.master, o.pts, rcpt, 5, 3, &rng, &nsd, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(sd_file_serialize(nsd, &json, &e), 0);
	/* the service's field order, compact */
	assert_true(strncmp(json, "{\"EncData\":{\"data\":[{\"compact_jwe\":\"",
	    35) == 0);
	assert_non_null(strstr(json, "],\"kdf\":\"sp108_kdf\"},\"SharedKeys\":"
	    "{\"enc_shares\":[{\"enc_key\":\""));
	assert_non_null(strstr(json, "],\"key_algorithm\":\"shamir_share\","
	    "\"required\":3},\"version\":2}"));
	assert_int_equal(sd_file_parse(json, strlen(json), &back, &e), 0);
	assert_int_equal(back->version, 2);
	assert_int_equal(back->required, 3);
	assert_int_equal(back->n_shares, 5);
	assert_int_equal(back->unknown.n, 0);
	for (i = 0; i < 5; i++)
		assert_string_equal(back->shares[i].x5t_256, rcpt[i].x5t_256);
	/* same tags in the same order, new ciphertexts and IVs */
	assert_int_equal(back->data.n, o.sd->data.n);
	for (i = 0; i < back->data.n; i++) {
		assert_string_equal(back->data.items[i].tag,
		    o.sd->data.items[i].tag);
		assert_string_equal(back->data.items[i].jwe->kid,
		    o.sd->data.items[i].tag);
		assert_string_not_equal(back->data.items[i].compact_jwe,
		    o.sd->data.items[i].compact_jwe);
		assert_memory_not_equal(back->data.items[i].jwe->iv,
		    o.sd->data.items[i].jwe->iv, 16);
	}
	/* the old master does not open the new file */
	assert_int_equal(sd_data_open(&back->data, o.master, NULL, &e),
	    SD_ERR_AUTH);

	open_new_shares(back, shares);
	/* every one of the C(5,3) = 10 quorums opens the same data items */
	assert_int_equal(sd_quorums_check(back, shares, &o.sd->data, o.pts,
	    &checked, &okc, &e), 0);
	assert_int_equal(checked, 10);
	assert_int_equal(okc, 10);
	assert_int_equal(sd_quorum_open(back, shares, NULL, &pts, &e), 0);
	assert_int_equal(sd_same_data(&o.sd->data, o.pts, &back->data, pts,
	    &item, &e), 0);
	/* two of a quorum of three open nothing */
	sd_secret_free(shares[2]);
	sd_secret_free(shares[3]);
	sd_secret_free(shares[4]);
	shares[2] = shares[3] = shares[4] = NULL;
	sd_plaintexts_free(pts, back->data.n);
	pts = NULL;
	assert_int_equal(sd_quorum_open(back, shares, NULL, &pts, &e),
	    SD_ERR_QUORUM);
	assert_null(pts);
	assert_int_equal(sd_quorums_check(back, shares, &o.sd->data, o.pts,
	    &checked, &okc, &e), SD_ERR_QUORUM);
	assert_int_equal(checked, 0);

	for (i = 0; i < SD_MAX_SHARES; i++)
		sd_secret_free(shares[i]);
	sd_file_free(back);
	sd_file_free(nsd);
	free(json);
	opened_clear(&o);
}

/* Same randomness, same file; other randomness, another master. */
static void
test_injectable_randomness(void **state)
{
	struct det_rng d1 = { 0, 9 }, d2 = { 0, 9 }, d3 = { 0, 10 };
	struct sd_rng r1 = { det_fill, &d1 }, r2 = { det_fill, &d2 },
	    r3 = { det_fill, &d3 };
	struct opened o;
	struct sd_file *a = NULL, *b = NULL, *c = NULL;
	struct sd_err e = { "" };
	char *ja = NULL, *jb = NULL, *jc = NULL;

	(void)state;
	if (vectors == NULL)
		skip();
	open_2023(&o);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 2, &r1, &a,
	    &e), 0);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 2, &r2, &b,
	    &e), 0);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 2, &r3, &c,
	    &e), 0);
	assert_int_equal(sd_file_serialize(a, &ja, &e), 0);
	assert_int_equal(sd_file_serialize(b, &jb, &e), 0);
	assert_int_equal(sd_file_serialize(c, &jc, &e), 0);
	/* RSA-OAEP pads from OpenSSL's own RNG: compare the data items */
	assert_string_equal(a->data.items[0].compact_jwe,
	    b->data.items[0].compact_jwe);
	assert_string_equal(a->shares[1].jwe->kid, b->shares[1].jwe->kid);
	assert_string_not_equal(a->data.items[0].compact_jwe,
	    c->data.items[0].compact_jwe);
	sd_file_free(a);
	sd_file_free(b);
	sd_file_free(c);
	free(ja);
	free(jb);
	free(jc);
	opened_clear(&o);
}

/* A random source that hands back the old master is caught. */
struct replay { const uint8_t *p; };

static void
replay_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct replay *r = ctx;

	memcpy(buf, r->p, len < SD_SECRET_LEN ? len : SD_SECRET_LEN);
	if (len > SD_SECRET_LEN)
		memset(buf + SD_SECRET_LEN, 0, len - SD_SECRET_LEN);
}

static void
test_broken_rng_and_ranges(void **state)
{
	struct opened o;
	struct replay rp;
	struct sd_rng rng = { replay_fill, &rp };
	struct sd_file *nsd = NULL;
	struct sd_err e = { "" };

	(void)state;
	if (vectors == NULL)
		skip();
	open_2023(&o);
	rp.p = o.master->p;
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 2, &rng,
	    &nsd, &e), SD_ERR_CRYPTO);
	assert_non_null(strstr(e.msg, "old master secret"));
	assert_null(nsd);
	/* the service's ranges: 3..10 shares, quorum 2..N */
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 2, 2, NULL,
	    &nsd, &e), SD_ERR_RANGE);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 1, NULL,
	    &nsd, &e), SD_ERR_RANGE);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 3, 4, NULL,
	    &nsd, &e), SD_ERR_RANGE);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 11, 2, NULL,
	    &nsd, &e), SD_ERR_RANGE);
	assert_null(nsd);
	opened_clear(&o);
}

/* Shares from two different files do not open either. */
static void
test_wrong_quorum(void **state)
{
	struct opened o;
	struct sd_file *a = NULL, *b = NULL;
	struct sd_secret *sa[SD_MAX_SHARES] = { NULL },
	    *sb[SD_MAX_SHARES] = { NULL }, *mixed[SD_MAX_SHARES] = { NULL },
	    **pts = NULL;
	struct sd_err e = { "" };
	size_t i, checked, okc;

	(void)state;
	if (vectors == NULL)
		skip();
	open_2023(&o);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 5, 3, NULL, &a,
	    &e), 0);
	assert_int_equal(sd_reshare(o.sd, o.master, o.pts, rcpt, 5, 3, NULL, &b,
	    &e), 0);
	open_new_shares(a, sa);
	open_new_shares(b, sb);
	/* share #5 from b in a's set: the 6 quorums holding it fail */
	for (i = 0; i < 4; i++)
		mixed[i] = sa[i];
	mixed[4] = sb[4];
	assert_int_not_equal(sd_quorums_check(a, mixed, &o.sd->data, o.pts,
	    &checked, &okc, &e), 0);
	assert_int_equal(checked, 10);
	assert_int_equal(okc, 4);
	assert_non_null(strstr(e.msg, "shares #1 + #2 + #5: "));
	for (i = 0; i < 3; i++)
		mixed[i] = NULL;
	mixed[0] = sa[0];
	mixed[3] = NULL;
	mixed[1] = sb[1];
	/* a quorum that is not one: {a#1, b#2, b#5} */
	assert_int_not_equal(sd_quorum_open(a, mixed, NULL, &pts, &e), 0);
	assert_null(pts);
	for (i = 0; i < SD_MAX_SHARES; i++) {
		sd_secret_free(sa[i]);
		sd_secret_free(sb[i]);
	}
	sd_file_free(a);
	sd_file_free(b);
	opened_clear(&o);
}

static struct sd_secret *
mk(const char *s)
{
	struct sd_secret *p = sd_secret_dup((const uint8_t *)s, strlen(s));

	assert_non_null(p);
	return p;
}

static void
test_same_data(void **state)
{
	char t1[] = "hsm_backup", t2[] = "base_enclave_backup";
	struct sd_datum ia[2] = { { t1, NULL, NULL }, { t2, NULL, NULL } };
	struct sd_datum ib[2] = { { t1, NULL, NULL }, { t2, NULL, NULL } };
	struct sd_datum ic[2] = { { t2, NULL, NULL }, { t1, NULL, NULL } };
	struct sd_enc_data da = { NULL, 2, ia }, db = { NULL, 2, ib },
	    dc = { NULL, 2, ic }, d1 = { NULL, 1, ia };
	struct sd_secret *pa[2], *pb[2], *pc[2];
	struct sd_err e = { "" };
	size_t item;
	char hex[65];

	(void)state;
	pa[0] = mk("alpha"); pa[1] = mk("beta");
	pb[0] = mk("alpha"); pb[1] = mk("betA");
	pc[0] = mk("alpha"); pc[1] = mk("beta!");
	assert_int_equal(sd_same_data(&da, pa, &da, pa, &item, &e), 0);
	assert_int_equal(sd_same_data(&da, pa, &db, pb, &item, &e),
	    SD_ERR_DATA_DIFFER);
	assert_int_equal(item, 1);
	assert_string_equal(e.msg, "data item 2 (base_enclave_backup): the "
	    "contents differ");
	assert_int_equal(sd_same_data(&da, pa, &db, pc, &item, &e),
	    SD_ERR_DATA_DIFFER);
	assert_non_null(strstr(e.msg, "4 bytes in one file, 5 in the other"));
	assert_int_equal(sd_same_data(&da, pa, &dc, pa, &item, &e),
	    SD_ERR_DATA_DIFFER);
	assert_int_equal(item, 0);
	assert_int_equal(sd_same_data(&da, pa, &d1, pa, &item, &e),
	    SD_ERR_DATA_DIFFER);
	assert_string_equal(e.msg, "2 data items in one file, 1 in the other");
	/* SHA-256("alpha"), as sha256sum prints it */
	assert_int_equal(sd_item_sha256(pa[0], hex), 0);
	assert_string_equal(hex, "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7c"
	    "cdda1ed4018e8f2223f8");
	sd_secret_free(pa[0]); sd_secret_free(pa[1]);
	sd_secret_free(pb[0]); sd_secret_free(pb[1]);
	sd_secret_free(pc[0]); sd_secret_free(pc[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_reshare_2_of_3_to_3_of_5),
		cmocka_unit_test(test_injectable_randomness),
		cmocka_unit_test(test_broken_rng_and_ranges),
		cmocka_unit_test(test_wrong_quorum),
		cmocka_unit_test(test_same_data),
	};

	if (sodium_init() < 0)
		return 1;
	vectors = getenv("SDTOOL_VECTORS");
	return cmocka_run_group_tests_name("reshare", tests, setup, teardown);
}
