/*
 * test_backup.c - the data items' BSON and key backups: the real 2023-05
 * key backup opened with every pair of that SD file's keys, and the
 * failures that must be told apart (another SD, altered, not a backup).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shares/b64.h"
#include "../../shares/backup.h"
#include "../../shares/sdops.h"
#include "../../shares/shamir.h"

static const char *vectors;

static char *
slurp(const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", vectors, rel);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The data items of 2023-05/sd.json opened with keys sd<a> and sd<b>. */
static struct sd_secret **
open_items(struct sd_file **sdp, int a, int b)
{
	struct sd_secret *sh[2] = { NULL }, *master = NULL, **pts = NULL;
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	const uint8_t *pair[2];
	struct sd_file *sd = NULL;
	char rel[64], *text;
	size_t len;
	unsigned x;
	EVP_PKEY *k;
	FILE *f;
	int i, which[2] = { a, b };

	text = slurp("2023-05/sd.json", &len);
	assert_int_equal(sd_file_parse(text, len, &sd, &e), 0);
	free(text);
	for (i = 0; i < 2; i++) {
		char path[1024];

		snprintf(rel, sizeof(rel), "keys/sd%d.key", which[i]);
		snprintf(path, sizeof(path), "%s/%s", vectors, rel);
		assert_non_null(f = fopen(path, "r"));
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		assert_non_null(k);
		sd_decryptor_from_pkey(&dec, k);
		assert_int_equal(sd_share_open(&sd->shares[which[i] - 1], &dec,
		    &sh[i], &x, &e), 0);
		EVP_PKEY_free(k);
	}
	pair[0] = sh[0]->p;
	pair[1] = sh[1]->p;
	assert_int_equal(shamir_combine(pair, 2, SD_SHARE_LEN, &master, &e), 0);
	assert_int_equal(sd_data_open(&sd->data, master, &pts, &e), 0);
	sd_secret_free(master);
	sd_secret_free(sh[0]);
	sd_secret_free(sh[1]);
	*sdp = sd;
	return pts;
}

/* What key_create_response.json says of the key. */
static void
created_key(char fp[65], unsigned *bits, char **n_out)
{
	struct sd_err e = { "" };
	json_error_t jerr;
	json_t *root, *key;
	char *text;
	size_t len;

	text = slurp("2023-05/key_create_response.json", &len);
	assert_non_null(root = json_loadb(text, len, 0, &jerr));
	key = json_object_get(root, "key");
	assert_int_equal(sd_jwk_pub_sha256("RSA-HSM",
	    json_string_value(json_object_get(key, "n")),
	    json_string_value(json_object_get(key, "e")), NULL, NULL, NULL, fp,
	    bits, &e), 0);
	*n_out = strdup(json_string_value(json_object_get(key, "n")));
	json_decref(root);
	free(text);
}

static void
check_real_report(const struct sd_key_backup *kb)
{
	char fp[65], *n;
	unsigned bits;

	created_key(fp, &bits, &n);
	assert_int_equal(bits, 2048);
	assert_int_equal(kb->version, 1);
	assert_int_equal(kb->n_versions, 1);
	/* The key inside is the one created: same modulus, same version id. */
	assert_string_equal(kb->current.n, n);
	assert_string_equal(kb->versions[0].n, n);
	assert_string_equal(kb->current.pub_sha256, fp);
	assert_string_equal(kb->versions[0].pub_sha256, fp);
	assert_int_equal(kb->versions[0].bits, 2048);
	assert_string_equal(kb->versions[0].kty, "RSA-HSM");
	assert_string_equal(kb->versions[0].version_id,
	    "53f6606390e14b65b202e47c809124a6");
	/* Inside, the real names (the recorder rewrote those in the URLs). */
	assert_string_equal(kb->versions[0].name, "keyr3lx3z7");
	assert_string_equal(kb->host, "test-mhsm-sd1nlwg74fox34.managedhsm.azure.net");
	assert_string_equal(kb->tenant_id, "54826b22-38d6-4fb2-bad9-b7b93a3e9c5a");
	assert_int_equal(kb->versions[0].has_created, 1);
	assert_int_equal((long long)kb->versions[0].created, 1683863281LL);
	assert_int_equal((long long)kb->versions[0].updated, 1683863281LL);
	assert_int_equal(kb->versions[0].exportable, 0);
	free(n);
}

static void
test_real_identity_and_backup(void **state)
{
	static const int pairs[3][2] = { { 1, 2 }, { 1, 3 }, { 2, 3 } };
	struct sd_file *sd;
	struct sd_secret **pts, *bpk;
	struct sd_identity *id;
	struct sd_key_backup *kb;
	struct sd_err e = { "" };
	char *body, *raw;
	uint8_t *dec;
	size_t blen, dlen, i, p;
	json_t *root;
	json_error_t jerr;
	int saw_bpk = 0, saw_ppk = 0;

	(void)state;
	if (vectors == NULL)
		skip();
	body = slurp("2023-05/key_backup_response.json", &blen);
	assert_non_null(root = json_loadb(body, blen, 0, &jerr));
	assert_int_equal(b64url_decode(json_string_value(json_object_get(root,
	    "value")), json_string_length(json_object_get(root, "value")),
	    &dec, &dlen, &e), 0);
	json_decref(root);
	raw = (char *)dec;
	for (p = 0; p < 3; p++) {
		pts = open_items(&sd, pairs[p][0], pairs[p][1]);
		assert_int_equal(sd_identity_read(&sd->data, pts, &id, &e), 0);
		assert_non_null(id->sdid);
		assert_string_equal(id->sdid,
		    "1:M-HSM:0c0a9a34-95b5-4416-acb2-a7a9d045a587:2870e5");
		assert_int_equal(id->n, 3);
		assert_string_equal(id->items[0].tag, "hsm_backup");
		assert_int_equal(id->items[0].is_bson, 0);
		for (i = 0; i < id->n; i++) {
			size_t k;

			for (k = 0; k < id->items[i].n_keys; k++) {
				if (strcmp(id->items[i].keys[k].kid,
				    "backup-protection-key") == 0)
					saw_bpk++;
				if (strcmp(id->items[i].keys[k].kid,
				    "pool-protection-key/0c0a9a34-95b5-4416-acb2-a7a9d045a587")
				    == 0)
					saw_ppk++;
			}
		}
		sd_identity_free(id);
		assert_int_equal(sd_backup_key_get(&sd->data, pts, &bpk, &e), 0);
		assert_int_equal(bpk->len, 64);
		/* The REST body ... */
		assert_int_equal(sd_key_backup_open((uint8_t *)body, blen, bpk,
		    &kb, &e), 0);
		check_real_report(kb);
		sd_key_backup_free(kb);
		/* ... and the raw file az writes. */
		assert_int_equal(sd_key_backup_open((uint8_t *)raw, dlen, bpk,
		    &kb, &e), 0);
		check_real_report(kb);
		sd_key_backup_free(kb);
		sd_secret_free(bpk);
		sd_plaintexts_free(pts, sd->data.n);
		sd_file_free(sd);
	}
	assert_int_equal(saw_bpk, 3);
	assert_int_equal(saw_ppk, 3);
	free(body);
	free(dec);
}

static void
test_refusals(void **state)
{
	struct sd_file *sd;
	struct sd_secret **pts, *bpk, *other;
	struct sd_key_backup *kb = NULL;
	struct sd_err e = { "" };
	char *body, *raw, *sdtext;
	uint8_t *dec;
	size_t blen, dlen, sdlen;
	json_t *root;
	json_error_t jerr;

	(void)state;
	if (vectors == NULL)
		skip();
	body = slurp("2023-05/key_backup_response.json", &blen);
	assert_non_null(root = json_loadb(body, blen, 0, &jerr));
	assert_int_equal(b64url_decode(json_string_value(json_object_get(root,
	    "value")), json_string_length(json_object_get(root, "value")),
	    &dec, &dlen, &e), 0);
	json_decref(root);
	raw = (char *)dec;
	pts = open_items(&sd, 1, 3);
	assert_int_equal(sd_backup_key_get(&sd->data, pts, &bpk, &e), 0);

	/* Another SD's key. */
	assert_non_null(other = sd_secret_new(64));
	randombytes_buf(other->p, 64);
	assert_int_equal(sd_key_backup_open((uint8_t *)raw, dlen, other, &kb,
	    &e), SD_ERR_AUTH);
	assert_null(kb);
	assert_non_null(strstr(e.msg, "another security domain"));

	/* One bit changed in the ciphertext. */
	raw[dlen - 100] ^= 0x01;
	if (raw[dlen - 100] == '-' || raw[dlen - 100] == '.')
		raw[dlen - 100] = 'A';
	assert_int_equal(sd_key_backup_open((uint8_t *)raw, dlen, bpk, &kb,
	    &e), SD_ERR_AUTH);
	raw[dlen - 100] ^= 0x01;

	/* Cut short: still a key backup's header, so damaged. */
	assert_int_equal(sd_key_backup_open((uint8_t *)raw, dlen / 2, bpk, &kb,
	    &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "damaged"));

	/* The SD file itself, other JSON, empty, binary. */
	sdtext = slurp("2023-05/sd.json", &sdlen);
	assert_int_equal(sd_key_backup_open((uint8_t *)sdtext, sdlen, bpk, &kb,
	    &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a key backup"));
	free(sdtext);
	sdtext = slurp("2023-05/key_create_response.json", &sdlen);
	assert_int_equal(sd_key_backup_open((uint8_t *)sdtext, sdlen, bpk, &kb,
	    &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a key backup"));
	free(sdtext);
	assert_int_equal(sd_key_backup_open((const uint8_t *)"", 0, bpk, &kb,
	    &e), SD_ERR_FORMAT);
	assert_int_equal(sd_key_backup_open((const uint8_t *)"\x01\x02xyz", 5,
	    bpk, &kb, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a key backup"));
	/* A share's JWE is a JWE, but not a key backup. */
	assert_int_equal(sd_key_backup_open(
	    (const uint8_t *)sd->shares[0].enc_key, strlen(sd->shares[0].enc_key),
	    bpk, &kb, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a key backup"));
	assert_null(kb);

	sd_secret_free(other);
	sd_secret_free(bpk);
	sd_plaintexts_free(pts, sd->data.n);
	sd_file_free(sd);
	free(body);
	free(dec);
}

#define MARKER "MASKED-PRIVATE-MATERIAL-never-shown"

static int
contains_marker(const char *s)
{
	return s != NULL && strstr(s, "MASKED") != NULL;
}

/* What the simulator builds reads back as the service's does. */
static void
test_build_roundtrip(void **state)
{
	struct sd_secret *base = NULL, *part = NULL, *bpk = NULL, *masked = NULL;
	struct sd_secret *pts[3];
	struct sd_enc_data d;
	struct sd_datum items[3];
	struct sd_identity *id;
	struct sd_key_backup *kb;
	struct sd_err e = { "" };
	static const char *const ops[] = { "sign", "verify" };
	struct sd_kb_input in;
	char *compact = NULL, fp[65];
	unsigned bits;
	size_t i;

	(void)state;
	assert_int_equal(sd_items_build(NULL, &base, &part, &e), 0);
	memset(items, 0, sizeof(items));
	items[0].tag = "hsm_backup";
	items[1].tag = "base_enclave_backup";
	items[2].tag = "partition_enclave_backup";
	assert_non_null(pts[0] = sd_secret_new(100));
	pts[1] = base;
	pts[2] = part;
	d.n = 3;
	d.items = items;
	d.kdf = "sp108_kdf";
	assert_int_equal(sd_identity_read(&d, pts, &id, &e), 0);
	assert_non_null(id->sdid);
	assert_int_equal(strncmp(id->sdid, "1:M-HSM:", 8), 0);
	assert_int_equal(id->items[1].n_keys, 1);
	assert_string_equal(id->items[1].keys[0].field, "pool_protection_key");
	assert_int_equal(strncmp(id->items[1].keys[0].kid,
	    "pool-protection-key/", 20), 0);
	/* the uuid of the sdid is the pool key's, as in the real files */
	assert_int_equal(strncmp(id->items[1].keys[0].kid + 20, id->sdid + 8,
	    36), 0);
	assert_int_equal(id->items[2].n_keys, 1);
	assert_string_equal(id->items[2].keys[0].kid, "backup-protection-key");
	sd_identity_free(id);
	assert_int_equal(sd_backup_key_get(&d, pts, &bpk, &e), 0);

	memset(&in, 0, sizeof(in));
	in.tenant_id = "00000000-0000-0000-0000-000000000000";
	in.host_address = "https://sim.managedhsm.azure.net/keys/canary/backup?api-version=7.0";
	in.correlation_id = "c";
	in.timestamp = 1700000000;
	in.kid = "https://sim.managedhsm.azure.net/keys/canary/0123456789abcdef0123456789abcdef";
	in.kty = "RSA-HSM";
	/* the real key's public half, a fake masked part */
	in.n = "tUtrdyp02uZYWL65JY-GJ5uLdAqkxfmQJnExE7BbWxGusqXinL-cxmyyj-OlvFp2svLYjrmXVqjS3fyS9CB-z3ej208aScucFC725XZZmueA3LlLw3P7y1k4j7RjbaRdieAGjjt6vZI0ArVlefWWTiHyJ8JNbPDK6BvEVmKDmZ3sTzyxAuryaT3uh9YxT5gAEpSgg4fBjqM-4UNc91Ul9fvofWE9GpvOX8miax7YUf0ZzO3X3YB605zjrys4RdgU1PFBDkw1VHYVZKC9U5zJfve-DNzaYld2DE25KipERCOoWyGIKKc3VtgPxgqspv0cdUo6qIhlWQwwI5Fuoki-sw";
	in.e = "AQAB";
	in.key_ops = ops;
	in.n_key_ops = 2;
	in.created = in.updated = 1700000000;
	in.masked = MARKER;
	assert_int_equal(sd_key_backup_seal(&in, bpk, NULL, &compact, &e), 0);
	{
		static const char hdr[] = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEy"
		    "Iiwia2lkIjoiYmFja3VwLXByb3RlY3Rpb24ta2V5In0..";

		assert_int_equal(strncmp(compact, hdr, strlen(hdr)), 0);
	}
	assert_int_equal(sd_key_backup_open((uint8_t *)compact, strlen(compact),
	    bpk, &kb, &e), 0);
	assert_string_equal(kb->versions[0].name, "canary");
	assert_string_equal(kb->versions[0].version_id,
	    "0123456789abcdef0123456789abcdef");
	assert_string_equal(kb->host, "sim.managedhsm.azure.net");
	assert_int_equal(sd_jwk_pub_sha256("RSA", in.n, in.e, NULL, NULL, NULL,
	    fp, &bits, &e), 0);
	assert_string_equal(kb->versions[0].pub_sha256, fp);
	/* Nothing of masked_objects in the report. */
	for (i = 0; i < kb->n_versions; i++) {
		assert_false(contains_marker(kb->versions[i].kid));
		assert_false(contains_marker(kb->versions[i].n));
		assert_false(contains_marker(kb->versions[i].e));
	}
	assert_false(contains_marker(kb->tenant_id));
	assert_false(contains_marker(kb->host_address));
	sd_key_backup_free(kb);
	/* The simulator's restore gets it, and only it asks. */
	assert_int_equal(sd_key_backup_masked((uint8_t *)compact,
	    strlen(compact), bpk, &kb, &masked, &e), 0);
	assert_int_equal(masked->len, strlen(MARKER));
	assert_memory_equal(masked->p, MARKER, masked->len);
	sd_key_backup_free(kb);
	sd_secret_free(masked);

	free(compact);
	sd_secret_free(bpk);
	sd_secret_free(pts[0]);
	sd_secret_free(base);
	sd_secret_free(part);
}

static void
test_jwk_fingerprint(void **state)
{
	struct sd_err e = { "" };
	char fp[65];
	unsigned bits;

	(void)state;
	/* RFC 7517 appendix A.1's EC key */
	assert_int_equal(sd_jwk_pub_sha256("EC-HSM", NULL, NULL, "P-256",
	    "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
	    "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", fp, &bits, &e), 0);
	assert_int_equal(bits, 256);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(sd_jwk_pub_sha256("oct-HSM", NULL, NULL, NULL, NULL,
	    NULL, fp, &bits, &e), SD_ERR_UNSUPPORTED);
	assert_int_equal(sd_jwk_pub_sha256("RSA", "", "AQAB", NULL, NULL, NULL,
	    fp, &bits, &e), SD_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_identity_and_backup),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_build_roundtrip),
		cmocka_unit_test(test_jwk_fingerprint),
	};

	if (sodium_init() < 0)
		return 1;
	vectors = getenv("SDTOOL_VECTORS");
	return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
