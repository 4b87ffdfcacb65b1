/*
 * test_sdfile.c - the SD file and restore blob reader/writer against the
 * files the real service wrote, and a table of malformed inputs.
 *
 * Vectors come from $SDTOOL_VECTORS (the service/ folder); tests that need
 * them are skipped when it is unset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../../shares/sdfile.h"

static const char *const TAGS[3] = {
	"hsm_backup", "base_enclave_backup", "partition_enclave_backup"
};

static const struct {
	const char *dir;
	const char *x5t[3];
} REAL[] = {
	{ "2020-09", { "vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYg",
	    "qBJlg1j1agy88BfSg_iZhAfHSBWxmbzW84zr1tv4QiM",
	    "IqNczYeUNDRJ4XnvwsMw6JZW3lk-czwnTZ1HE5r6TIc" } },
	{ "2022-08", { "KDtoDOcyfLJYATO9jyG7JxJaES5LOnxK_5FBTlHLSSE",
	    "Vg1VUgJvtNvnHQKB9oqwx4ssOgsn_8fS1IY1RCZtRZk",
	    "B4dq73GbykFdDnVa4zCrQqpweB641l-iVchQx-uDr1A" } },
	{ "2023-05", { "vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYg",
	    "qBJlg1j1agy88BfSg_iZhAfHSBWxmbzW84zr1tv4QiM",
	    "IqNczYeUNDRJ4XnvwsMw6JZW3lk-czwnTZ1HE5r6TIc" } },
};

/* Exchange certificates: the JWK's x5t#S256, the blob's x5t_256. */
static const struct {
	const char *dir;
	const char *x5t;
} EXCHANGE[] = {
	{ "2020-09", "mrS6NHes89-vGY0tQpZKPkF2AfVjvLiwWFOwmX5B_-Q" },
	{ "2023-05", "31MlAINlbWjfth0F2I-ZiEhhmd4L04jeVaS315GEgWU" },
};

static const char *
vectors(void)
{
	const char *v = getenv("SDTOOL_VECTORS");

	if (v == NULL || *v == '\0')
		skip();
	return v;
}

/*
 * Read a vector into a buffer of exactly its length, with no NUL after it,
 * so that ASan catches a parser that reads past len.
 */
static char *
read_vec(const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long sz;

	snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	assert_true(sz > 0);
	rewind(f);
	buf = malloc((size_t)sz);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static json_t *
load_vec(const char *rel)
{
	json_error_t jerr;
	size_t len;
	char *buf = read_vec(rel, &len);
	json_t *j;

	j = json_loadb(buf, len, 0, &jerr);
	free(buf);
	assert_non_null(j);
	return j;
}

/* Dump into a buffer of exactly its length (no NUL), like read_vec. */
static char *
dump_exact(const json_t *j, size_t *len)
{
	char *s, *buf;

	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	assert_non_null(s);
	*len = strlen(s);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	memcpy(buf, s, *len);
	free(s);
	return buf;
}

/* {"value": <j dumped as a string>}, as the service wraps files. */
static json_t *
wrap_value(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *w;

	assert_non_null(s);
	w = json_pack("{s:s}", "value", s);
	free(s);
	assert_non_null(w);
	return w;
}

static int
has_path(const struct sd_unknown *u, const char *p)
{
	size_t i;

	for (i = 0; i < u->n; i++) {
		if (strcmp(u->paths[i], p) == 0)
			return 1;
	}
	return 0;
}

static void
check_real(const struct sd_file *sd, size_t k)
{
	size_t i;

	assert_int_equal(sd->version, 2);
	assert_int_equal(sd->required, 2);
	assert_int_equal(sd->n_shares, 3);
	assert_string_equal(sd->key_algorithm, "shamir_share");
	assert_string_equal(sd->data.kdf, "sp108_kdf");
	assert_int_equal(sd->data.n, 3);
	assert_int_equal(sd->unknown.n, 0);
	for (i = 0; i < 3; i++) {
		assert_string_equal(sd->data.items[i].tag, TAGS[i]);
		assert_non_null(sd->data.items[i].jwe);
		assert_string_equal(sd->data.items[i].jwe->alg, "dir");
		assert_string_equal(sd->data.items[i].jwe->enc,
		    "A256CBC-HS512");
		assert_int_equal(sd->data.items[i].jwe->ek_len, 0);
		assert_string_equal(sd->shares[i].x5t_256, REAL[k].x5t[i]);
		assert_non_null(sd->shares[i].jwe);
		assert_string_equal(sd->shares[i].jwe->alg, "RSA-OAEP-256");
		assert_string_equal(sd->shares[i].jwe->enc, "A256CBC-HS512");
		assert_true(sd->shares[i].jwe->ek_len > 0);
	}
}

static void
test_real_files(void **state)
{
	struct sd_err e;
	struct sd_file *sd;
	char rel[64], *buf, *out;
	size_t k, len;

	for (k = 0; k < sizeof(REAL) / sizeof(REAL[0]); k++) {
		snprintf(rel, sizeof(rel), "%s/sd.json", REAL[k].dir);
		buf = read_vec(rel, &len);
		sd = NULL;
		if (sd_file_parse(buf, len, &sd, &e) != 0)
			fail_msg("%s: %s", rel, e.msg);
		check_real(sd, k);
		out = NULL;
		assert_int_equal(sd_file_serialize(sd, &out, &e), 0);
		/* Byte for byte what the service wrote. */
		assert_int_equal(strlen(out), len);
		assert_memory_equal(out, buf, len);
		free(out);
		sd_file_free(sd);
		free(buf);
	}
}

static void
test_download_response(void **state)
{
	struct sd_err e;
	struct sd_file *sd = NULL;
	char rel[64], *buf, *orig, *out = NULL;
	size_t k, len, olen;

	for (k = 0; k < sizeof(REAL) / sizeof(REAL[0]); k++) {
		snprintf(rel, sizeof(rel), "%s/download_response.json",
		    REAL[k].dir);
		buf = read_vec(rel, &len);
		if (sd_file_parse(buf, len, &sd, &e) != 0)
			fail_msg("%s: %s", rel, e.msg);
		check_real(sd, k);
		snprintf(rel, sizeof(rel), "%s/sd.json", REAL[k].dir);
		orig = read_vec(rel, &olen);
		assert_int_equal(sd_file_serialize(sd, &out, &e), 0);
		assert_int_equal(strlen(out), olen);
		assert_memory_equal(out, orig, olen);
		free(out);
		out = NULL;
		free(orig);
		sd_file_free(sd);
		sd = NULL;
		free(buf);
	}
}

static void
test_upload_request_blob(void **state)
{
	struct sd_err e;
	struct sd_blob *b = NULL, *b2 = NULL;
	struct sd_file *sd = NULL;
	json_t *w, *inner;
	json_error_t jerr;
	char rel[64], *buf, *out = NULL, *out2 = NULL, *want;
	size_t k, i, len;

	for (k = 0; k < sizeof(EXCHANGE) / sizeof(EXCHANGE[0]); k++) {
		snprintf(rel, sizeof(rel), "%s/upload_request.json",
		    EXCHANGE[k].dir);
		buf = read_vec(rel, &len);
		if (sd_blob_parse(buf, len, &b, &e) != 0)
			fail_msg("%s: %s", rel, e.msg);
		assert_int_equal(b->data.n, 3);
		assert_string_equal(b->data.kdf, "sp108_kdf");
		for (i = 0; i < 3; i++) {
			assert_string_equal(b->data.items[i].tag, TAGS[i]);
			assert_string_equal(b->data.items[i].jwe->alg, "dir");
		}
		assert_string_equal(b->wrapped.x5t_256, EXCHANGE[k].x5t);
		assert_string_equal(b->wrapped.jwe->alg, "RSA-OAEP-256");
		assert_int_equal(b->unknown.n, 0);

		/* Serialized compact, in the blob's own order. */
		w = load_vec(rel);
		inner = json_loads(json_string_value(json_object_get(w,
		    "value")), 0, &jerr);
		assert_non_null(inner);
		want = json_dumps(inner, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_non_null(want);
		assert_int_equal(sd_blob_serialize(b, &out, &e), 0);
		assert_string_equal(out, want);
		assert_int_equal(strncmp(out, "{\"EncData\":{\"data\":[{", 21),
		    0);
		assert_non_null(strstr(out, "],\"kdf\":\"sp108_kdf\"},"
		    "\"WrappedKey\":{\"enc_key\":\""));
		/* And it reads back to itself. */
		assert_int_equal(sd_blob_parse(out, strlen(out), &b2, &e), 0);
		assert_int_equal(sd_blob_serialize(b2, &out2, &e), 0);
		assert_string_equal(out, out2);

		/* A blob is not an SD file, wrapped or bare. */
		assert_int_equal(sd_file_parse(buf, len, &sd, &e),
		    SD_ERR_FORMAT);
		assert_null(sd);
		assert_non_null(strstr(e.msg, "this is a restore blob, not a "
		    "security-domain file"));
		assert_int_equal(sd_file_parse(out, strlen(out), &sd, &e),
		    SD_ERR_FORMAT);
		assert_string_equal(e.msg, "this is a restore blob, not a "
		    "security-domain file");

		json_decref(inner);
		json_decref(w);
		free(want);
		free(out);
		free(out2);
		out = out2 = NULL;
		sd_blob_free(b);
		sd_blob_free(b2);
		b = b2 = NULL;
		free(buf);
	}

	/* And an SD file is not a blob, wrapped or bare. */
	buf = read_vec("2023-05/sd.json", &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_null(b);
	assert_string_equal(e.msg, "this is a security-domain file, not a "
	    "restore blob");
	free(buf);
	buf = read_vec("2023-05/download_response.json", &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "this is a security-domain file, not a "
	    "restore blob"));
	free(buf);
}

static void
test_transfer_key(void **state)
{
	struct sd_err e;
	uint8_t *der, *n, *ex, *der2, *n2, *ex2;
	size_t der_len, n_len, ex_len, der2_len, n2_len, ex2_len, k;
	const unsigned char *p;
	char rel[64], *buf, x5t[SD_X5T_SIZE];
	BIGNUM *cn = NULL, *ce = NULL, *jn, *je;
	EVP_PKEY *pk;
	X509 *x;
	json_t *j, *jwk;
	json_error_t jerr;
	size_t len;
	int form;

	for (k = 0; k < sizeof(EXCHANGE) / sizeof(EXCHANGE[0]); k++) {
		snprintf(rel, sizeof(rel), "%s/transfer_key_response.json",
		    EXCHANGE[k].dir);
		buf = read_vec(rel, &len);
		if (sd_transfer_key_parse(buf, len, &der, &der_len, &n, &n_len,
		    &ex, &ex_len, &e) != 0)
			fail_msg("%s: %s", rel, e.msg);
		free(buf);

		p = der;
		x = d2i_X509(NULL, &p, (long)der_len);
		assert_non_null(x);
		assert_ptr_equal(p, der + der_len);
		assert_non_null(pk = X509_get0_pubkey(x));
		assert_int_equal(EVP_PKEY_get_bn_param(pk,
		    OSSL_PKEY_PARAM_RSA_N, &cn), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pk,
		    OSSL_PKEY_PARAM_RSA_E, &ce), 1);
		assert_non_null(n);
		assert_non_null(ex);
		jn = BN_bin2bn(n, (int)n_len, NULL);
		je = BN_bin2bn(ex, (int)ex_len, NULL);
		assert_int_equal(BN_cmp(jn, cn), 0);
		assert_int_equal(BN_cmp(je, ce), 0);
		assert_int_equal(BN_num_bits(cn), 4096);
		BN_free(jn);
		BN_free(je);
		BN_free(cn);
		BN_free(ce);
		cn = ce = NULL;
		X509_free(x);

		/* The thumbprint the blob names, and the JWK's x5t#S256. */
		assert_int_equal(sd_x5t256(der, der_len, x5t), 0);
		assert_string_equal(x5t, EXCHANGE[k].x5t);

		/* The JWK as an object, and the JWK alone, give the same. */
		j = load_vec(rel);
		jwk = json_loads(json_string_value(json_object_get(j,
		    "transfer_key")), 0, &jerr);
		assert_non_null(jwk);
		for (form = 0; form < 2; form++) {
			if (form == 0)
				json_object_set(j, "transfer_key", jwk);
			buf = dump_exact(form == 0 ? j : jwk, &len);
			if (sd_transfer_key_parse(buf, len, &der2, &der2_len,
			    &n2, &n2_len, &ex2, &ex2_len, &e) != 0)
				fail_msg("form %d: %s", form, e.msg);
			assert_int_equal(der2_len, der_len);
			assert_memory_equal(der2, der, der_len);
			assert_int_equal(n2_len, n_len);
			assert_memory_equal(n2, n, n_len);
			assert_int_equal(ex2_len, ex_len);
			assert_memory_equal(ex2, ex, ex_len);
			free(der2);
			free(n2);
			free(ex2);
			free(buf);
		}

		/* Without n and e: the certificate alone. */
		json_object_del(jwk, "n");
		json_object_del(jwk, "e");
		buf = dump_exact(jwk, &len);
		assert_int_equal(sd_transfer_key_parse(buf, len, &der2,
		    &der2_len, &n2, &n2_len, &ex2, &ex2_len, &e), 0);
		assert_null(n2);
		assert_null(ex2);
		assert_int_equal(der2_len, der_len);
		free(der2);
		free(buf);

		json_decref(jwk);
		json_decref(j);
		free(der);
		free(n);
		free(ex);
	}
}

static const struct {
	const char *json;
	int rc;
	const char *msg;
} BAD_TK[] = {
	{ "{\"key_format\":\"pem\",\"transfer_key\":\"{}\"}",
	    SD_ERR_UNSUPPORTED, "key_format: \"pem\" is not supported" },
	{ "{\"key_format\":1,\"transfer_key\":{}}",
	    SD_ERR_FORMAT, "key_format: expected a string" },
	{ "{\"key_format\":\"jwk\"}", SD_ERR_FORMAT, "transfer_key: missing" },
	{ "{\"transfer_key\":5}", SD_ERR_FORMAT,
	    "transfer_key: expected an object or a string, found an integer" },
	{ "{\"transfer_key\":\"{\\\"kty\\\":\"}", SD_ERR_FORMAT,
	    "transfer_key: not JSON" },
	{ "{\"transfer_key\":{\"kty\":\"RSA\"}}", SD_ERR_FORMAT,
	    "transfer_key.x5c: missing" },
	{ "{\"transfer_key\":{\"kty\":\"EC\",\"x5c\":[\"AA==\"]}}",
	    SD_ERR_UNSUPPORTED, "transfer_key.kty: \"EC\" is not supported" },
	{ "{\"transfer_key\":{\"x5c\":[]}}", SD_ERR_FORMAT,
	    "transfer_key.x5c: empty" },
	{ "{\"transfer_key\":{\"x5c\":\"MIIB\"}}", SD_ERR_FORMAT,
	    "transfer_key.x5c: expected an array, found a string" },
	{ "{\"transfer_key\":{\"x5c\":[7]}}", SD_ERR_FORMAT,
	    "transfer_key.x5c[0]: expected a string, found an integer" },
	{ "{\"transfer_key\":{\"x5c\":[\"@@@@\"]}}", SD_ERR_FORMAT,
	    "transfer_key.x5c[0]: " },
	{ "{\"transfer_key\":{\"x5c\":[\"AAAA\"]}}", SD_ERR_FORMAT,
	    "transfer_key.x5c[0]: not a DER X.509 certificate" },
	{ "{\"kty\":\"RSA\",\"x5c\":[\"AAAA\"]}", SD_ERR_FORMAT,
	    "x5c[0]: not a DER X.509 certificate" },
	{ "[]", SD_ERR_FORMAT, "expected a JSON object at the top level" },
	{ "", SD_ERR_FORMAT, "not JSON" },
};

static void
test_transfer_key_bad(void **state)
{
	struct sd_err e;
	uint8_t *der, *n, *ex;
	size_t der_len, n_len, ex_len, i;
	int r;

	for (i = 0; i < sizeof(BAD_TK) / sizeof(BAD_TK[0]); i++) {
		der = n = ex = (uint8_t *)"x";
		r = sd_transfer_key_parse(BAD_TK[i].json,
		    strlen(BAD_TK[i].json), &der, &der_len, &n, &n_len, &ex,
		    &ex_len, &e);
		if (r != BAD_TK[i].rc || strstr(e.msg, BAD_TK[i].msg) == NULL)
			fail_msg("%s: got %d \"%s\"", BAD_TK[i].json, r, e.msg);
		assert_null(der);
		assert_null(n);
		assert_null(ex);
	}
}

static void
test_transfer_key_bad_n(void **state)
{
	struct sd_err e;
	uint8_t *der, *n, *ex;
	size_t der_len, n_len, ex_len, len;
	json_t *j, *jwk;
	json_error_t jerr;
	char *buf;

	j = load_vec("2023-05/transfer_key_response.json");
	jwk = json_loads(json_string_value(json_object_get(j, "transfer_key")),
	    0, &jerr);
	assert_non_null(jwk);
	json_object_set_new(jwk, "n", json_string("AB+C"));
	json_object_set_new(j, "transfer_key", jwk);
	buf = dump_exact(j, &len);
	assert_int_equal(sd_transfer_key_parse(buf, len, &der, &der_len, &n,
	    &n_len, &ex, &ex_len, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "transfer_key.n: "));
	assert_null(der);
	free(buf);

	json_object_del(jwk, "n");
	buf = dump_exact(j, &len);
	assert_int_equal(sd_transfer_key_parse(buf, len, &der, &der_len, &n,
	    &n_len, &ex, &ex_len, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "transfer_key.n: missing");
	free(buf);
	json_decref(j);
}

static uint8_t *
read_pem_der(const char *rel, size_t *len)
{
	char path[1024];
	BIO *bio;
	X509 *x;
	uint8_t *der = NULL;
	int l;

	snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
	assert_non_null(bio = BIO_new_file(path, "r"));
	assert_non_null(x = PEM_read_bio_X509(bio, NULL, NULL, NULL));
	l = i2d_X509(x, &der);
	assert_true(l > 0);
	*len = (size_t)l;
	X509_free(x);
	BIO_free(bio);
	return der;
}

static void
test_x5t256(void **state)
{
	static const char *const certs[3][2] = {
		{ "keys/sd1.cer", "2023-05" },
		{ "certs/cert_1.cer", "2022-08" },
		{ "keys/sd3.cer", "2020-09" },
	};
	char x5t[SD_X5T_SIZE];
	uint8_t *der;
	size_t len, k, i;

	for (i = 0; i < 3; i++) {
		der = read_pem_der(certs[i][0], &len);
		memset(x5t, 'z', sizeof(x5t));
		assert_int_equal(sd_x5t256(der, len, x5t), 0);
		assert_int_equal(strlen(x5t), SD_X5T_LEN);
		for (k = 0; strcmp(REAL[k].dir, certs[i][1]) != 0; k++)
			;
		assert_string_equal(x5t, REAL[k].x5t[i]);
		OPENSSL_free(der);
	}
	assert_int_equal(sd_x5t256(NULL, 3, x5t), SD_ERR_ARG);
}

/*
 * Malformed inputs.  Most rows edit the real 2023-05 file: set or delete
 * the member at path, or rewrite the string there with xf, or apply fn to
 * the whole document; then optionally wrap it as the download response.
 */
enum op { LIT, SET, DEL, XF, FN, TRUNC };

struct bad {
	const char *name;
	enum op op;
	const char *path;
	const char *arg;                /* LIT: input; SET: JSON value */
	char *(*xf)(const char *);
	void (*fn)(json_t *);
	int wrap;
	int rc;
	const char *msg;
};

static char *
xdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* The n-th '.' of a compact JWE (0-based), or NULL. */
static char *
nth_dot(char *s, int nth)
{
	char *p = s;

	for (; (p = strchr(p, '.')) != NULL; p++) {
		if (nth-- == 0)
			return p;
	}
	return NULL;
}

static char *
jwe_4parts(const char *in)
{
	char *s = xdup(in);

	*strrchr(s, '.') = '\0';
	return s;
}

static char *
jwe_6parts(const char *in)
{
	char *s;

	assert_true(asprintf(&s, "%s.AAAA", in) > 0);
	return s;
}

static char *
jwe_bad_b64(const char *in)
{
	char *s = xdup(in), *d = nth_dot(s, 1);

	d[1] = '*';             /* first character of the IV */
	return s;
}

static char *
jwe_tag31(const char *in)
{
	char *s = xdup(in), *d = strrchr(s, '.');

	assert_int_equal(strlen(d + 1), 43);
	d[42] = 'A';            /* 41 + 1 characters: 31 bytes, canonical */
	d[43] = '\0';
	return s;
}

static char *
jwe_insert_ek(const char *in)
{
	char *s, *d = strchr(in, '.');

	assert_true(asprintf(&s, "%.*sAAAA%s", (int)(d - in + 1), in,
	    d + 1) > 0);
	return s;
}

static char *
jwe_empty_ek(const char *in)
{
	char *s, *d1 = strchr(in, '.'), *d2 = strchr(d1 + 1, '.');

	assert_true(asprintf(&s, "%.*s%s", (int)(d1 - in + 1), in, d2) > 0);
	return s;
}

static char *
jwe_enc_a128gcm(const char *in)
{
	static const char hdr[] =
	    "{\"alg\":\"dir\",\"enc\":\"A128GCM\",\"kid\":\"hsm_backup\"}";
	char b64[128], *s;

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)hdr,
	    sizeof(hdr) - 1, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_true(asprintf(&s, "%s%s", b64, strchr(in, '.')) > 0);
	return s;
}

static char *
str_chop(const char *in)
{
	char *s = xdup(in);

	s[strlen(s) - 1] = '\0';
	return s;
}

static char *
str_plus5(const char *in)
{
	char *s = xdup(in);

	s[5] = '+';
	return s;
}

static char *
str_long_tag(const char *in)
{
	char *s = malloc(130);

	assert_non_null(s);
	memset(s, 'x', 129);
	s[129] = '\0';
	return s;
}

static json_t *
at(json_t *root, const char *p)
{
	json_t *cur = root;
	char key[64], *end;
	size_t n;

	while (*p != '\0') {
		if (*p == '[') {
			cur = json_array_get(cur, strtoul(p + 1, &end, 10));
			p = end + 1;
		} else {
			n = strcspn(p, ".[");
			assert_true(n < sizeof(key));
			memcpy(key, p, n);
			key[n] = '\0';
			cur = json_object_get(cur, key);
			p += n;
		}
		if (*p == '.')
			p++;
		assert_non_null(cur);
	}
	return cur;
}

static void
fn_one_share(json_t *root)
{
	json_t *a = at(root, "SharedKeys.enc_shares");

	json_array_remove(a, 2);
	json_array_remove(a, 1);
}

static void
fn_eleven_shares(json_t *root)
{
	json_t *a = at(root, "SharedKeys.enc_shares");

	while (json_array_size(a) < 11)
		json_array_append_new(a, json_deep_copy(json_array_get(a, 0)));
}

static void
fn_dup_x5t(json_t *root)
{
	json_object_set(at(root, "SharedKeys.enc_shares[2]"), "x5t_256",
	    at(root, "SharedKeys.enc_shares[0].x5t_256"));
}

static void
fn_share_jwe_in_data(json_t *root)
{
	json_object_set(at(root, "EncData.data[0]"), "compact_jwe",
	    at(root, "SharedKeys.enc_shares[0].enc_key"));
}

static void
fn_data_jwe_in_share(json_t *root)
{
	json_object_set(at(root, "SharedKeys.enc_shares[0]"), "enc_key",
	    at(root, "EncData.data[0].compact_jwe"));
}

static void
fn_65_items(json_t *root)
{
	json_t *a = at(root, "EncData.data"), *it;
	char tag[16];

	while (json_array_size(a) < 65) {
		it = json_deep_copy(json_array_get(a, 0));
		snprintf(tag, sizeof(tag), "t%zu", json_array_size(a));
		json_object_set_new(it, "tag", json_string(tag));
		json_array_append_new(a, it);
	}
}

#define F SD_ERR_FORMAT
#define U SD_ERR_UNSUPPORTED
#define R SD_ERR_RANGE

static const struct bad BAD[] = {
	/* Not JSON, or not an object. */
	{ "empty input", LIT, NULL, "", NULL, NULL, 0, F, "not JSON: line 1" },
	{ "whitespace only", LIT, NULL, " \n ", NULL, NULL, 0, F, "not JSON" },
	{ "truncated literal", LIT, NULL, "{\"EncData\":{\"data\":[", NULL,
	    NULL, 0, F, "not JSON: line 1 column 20: " },
	{ "truncated real file", TRUNC, NULL, NULL, NULL, NULL, 0, F,
	    "not JSON: line 1 column " },
	{ "top-level array", LIT, NULL, "[{\"version\":2}]", NULL, NULL, 0, F,
	    "expected a JSON object at the top level, found an array" },
	{ "top-level string", LIT, NULL, "\"EncData\"", NULL, NULL, 0, F,
	    "expected a JSON object at the top level, found a string" },
	{ "top-level number", LIT, NULL, "2", NULL, NULL, 0, F,
	    "found an integer" },
	{ "duplicate key", LIT, NULL, "{\"version\":2,\"version\":2}", NULL,
	    NULL, 0, F, "duplicate object key" },
	{ "trailing garbage", LIT, NULL, "{} {}", NULL, NULL, 0, F,
	    "not JSON" },
	{ "escaped NUL", LIT, NULL, "{\"version\\u0000\":2}", NULL, NULL, 0,
	    F, "not JSON" },
	{ "empty object", LIT, NULL, "{}", NULL, NULL, 0, F,
	    "version: missing" },
	{ "wrapper value integer", LIT, NULL, "{\"value\":5}", NULL, NULL, 0,
	    F, "value: expected a string, found an integer" },
	{ "wrapper value not JSON", LIT, NULL, "{\"value\":\"{\\\"a\\\"\"}",
	    NULL, NULL, 0, F, "value: not JSON: line 1" },
	{ "wrapper value array", LIT, NULL, "{\"value\":\"[]\"}", NULL, NULL,
	    0, F, "value: expected a JSON object at the top level" },

	/* version */
	{ "version missing", DEL, "version", NULL, NULL, NULL, 0, F,
	    "version: missing" },
	{ "version 1", SET, "version", "1", NULL, NULL, 0, U,
	    "version: 1 is not supported; this tool knows version 2" },
	{ "version 3", SET, "version", "3", NULL, NULL, 0, U,
	    "version: 3 is not supported; this tool knows version 2" },
	{ "version \"2\"", SET, "version", "\"2\"", NULL, NULL, 0, F,
	    "version: expected an integer, found a string" },
	{ "version 2.0", SET, "version", "2.0", NULL, NULL, 0, F,
	    "version: expected an integer, found a real number" },
	{ "version 3 wrapped", SET, "version", "3", NULL, NULL, 1, U,
	    "value: version: 3 is not supported" },

	/* EncData */
	{ "EncData missing", DEL, "EncData", NULL, NULL, NULL, 0, F,
	    "EncData: missing" },
	{ "EncData array", SET, "EncData", "[]", NULL, NULL, 0, F,
	    "EncData: expected an object, found an array" },
	{ "data missing", DEL, "EncData.data", NULL, NULL, NULL, 0, F,
	    "EncData.data: missing" },
	{ "data string", SET, "EncData.data", "\"x\"", NULL, NULL, 0, F,
	    "EncData.data: expected an array, found a string" },
	{ "data empty", SET, "EncData.data", "[]", NULL, NULL, 0, R,
	    "EncData.data: 0 items, expected 1..64" },
	{ "data 65 items", FN, NULL, NULL, NULL, fn_65_items, 0, R,
	    "EncData.data: 65 items, expected 1..64" },
	{ "data item integer", SET, "EncData.data[1]", "7", NULL, NULL, 0, F,
	    "EncData.data[1]: expected an object, found an integer" },
	{ "compact_jwe missing", DEL, "EncData.data[0].compact_jwe", NULL,
	    NULL, NULL, 0, F, "EncData.data[0].compact_jwe: missing" },
	{ "compact_jwe null", SET, "EncData.data[0].compact_jwe", "null",
	    NULL, NULL, 0, F,
	    "EncData.data[0].compact_jwe: expected a string, found null" },
	{ "tag missing", DEL, "EncData.data[2].tag", NULL, NULL, NULL, 0, F,
	    "EncData.data[2].tag: missing" },
	{ "tag real", SET, "EncData.data[2].tag", "1.5", NULL, NULL, 0, F,
	    "EncData.data[2].tag: expected a string, found a real number" },
	{ "tag empty", SET, "EncData.data[0].tag", "\"\"", NULL, NULL, 0, F,
	    "EncData.data[0].tag: empty tag" },
	{ "tag control char", SET, "EncData.data[0].tag", "\"a\\u0001b\"",
	    NULL, NULL, 0, F, "EncData.data[0].tag: tag character at offset 1"
	    " is not printable ASCII" },
	{ "tag non-ASCII", SET, "EncData.data[1].tag", "\"caf\\u00e9\"", NULL,
	    NULL, 0, F, "EncData.data[1].tag: tag character at offset 3" },
	{ "tag 129 chars", XF, "EncData.data[0].tag", NULL, str_long_tag,
	    NULL, 0, F, "EncData.data[0].tag: tag is 129 characters" },
	{ "duplicate tag", SET, "EncData.data[1].tag", "\"hsm_backup\"", NULL,
	    NULL, 0, F, "EncData.data[1].tag: duplicate tag \"hsm_backup\"" },
	{ "kdf missing", DEL, "EncData.kdf", NULL, NULL, NULL, 0, F,
	    "EncData.kdf: missing" },
	{ "kdf other", SET, "EncData.kdf", "\"hkdf\"", NULL, NULL, 0, U,
	    "EncData.kdf: \"hkdf\" is not supported, expected \"sp108_kdf\"" },
	{ "kdf integer", SET, "EncData.kdf", "108", NULL, NULL, 0, F,
	    "EncData.kdf: expected a string, found an integer" },

	/* JWEs */
	{ "data JWE bad base64url", XF, "EncData.data[0].compact_jwe", NULL,
	    jwe_bad_b64, NULL, 0, F, "EncData.data[0].compact_jwe: JWE "
	    "initialization vector: invalid base64url" },
	{ "data JWE 6 parts", XF, "EncData.data[1].compact_jwe", NULL,
	    jwe_6parts, NULL, 0, F, "EncData.data[1].compact_jwe: JWE has 6 "
	    "parts, expected 5" },
	{ "data JWE 4 parts", XF, "EncData.data[2].compact_jwe", NULL,
	    jwe_4parts, NULL, 0, F, "EncData.data[2].compact_jwe: JWE has 4 "
	    "parts, expected 5" },
	{ "share JWE 4 parts", XF, "SharedKeys.enc_shares[2].enc_key", NULL,
	    jwe_4parts, NULL, 0, F, "SharedKeys.enc_shares[2].enc_key: JWE has "
	    "4 parts, expected 5" },
	{ "share JWE 6 parts", XF, "SharedKeys.enc_shares[1].enc_key", NULL,
	    jwe_6parts, NULL, 0, F, "SharedKeys.enc_shares[1].enc_key: JWE has "
	    "6 parts, expected 5" },
	{ "share JWE bad base64url", XF, "SharedKeys.enc_shares[0].enc_key",
	    NULL, jwe_bad_b64, NULL, 0, F, "SharedKeys.enc_shares[0].enc_key: "
	    "JWE initialization vector: invalid base64url" },
	{ "share JWE tag 31 bytes", XF, "SharedKeys.enc_shares[0].enc_key",
	    NULL, jwe_tag31, NULL, 0, F, "SharedKeys.enc_shares[0].enc_key: JWE "
	    "authentication tag is 31 bytes, expected 32" },
	{ "data JWE tag 31 bytes", XF, "EncData.data[0].compact_jwe", NULL,
	    jwe_tag31, NULL, 0, F, "EncData.data[0].compact_jwe: JWE "
	    "authentication tag is 31 bytes, expected 32" },
	{ "data JWE with encrypted key", XF, "EncData.data[0].compact_jwe",
	    NULL, jwe_insert_ek, NULL, 0, F, "EncData.data[0].compact_jwe: "
	    "JWE encrypted key " },
	{ "data JWE enc A128GCM", XF, "EncData.data[0].compact_jwe", NULL,
	    jwe_enc_a128gcm, NULL, 0, U, "EncData.data[0].compact_jwe: JWE enc "
	    "is \"A128GCM\", expected \"A256CBC-HS512\"" },
	{ "share JWE without encrypted key", XF,
	    "SharedKeys.enc_shares[1].enc_key", NULL, jwe_empty_ek, NULL, 0, F,
	    "SharedKeys.enc_shares[1].enc_key: JWE encrypted key" },
	{ "share JWE in a data item", FN, NULL, NULL, NULL,
	    fn_share_jwe_in_data, 0, U, "EncData.data[0].compact_jwe: JWE alg "
	    "is \"RSA-OAEP-256\", expected \"dir\"" },
	{ "data JWE in a share", FN, NULL, NULL, NULL, fn_data_jwe_in_share, 0,
	    U, "SharedKeys.enc_shares[0].enc_key: JWE alg is \"dir\", expected "
	    "\"RSA-OAEP-256\"" },

	/* SharedKeys */
	{ "SharedKeys missing", DEL, "SharedKeys", NULL, NULL, NULL, 0, F,
	    "SharedKeys: missing" },
	{ "SharedKeys string", SET, "SharedKeys", "\"x\"", NULL, NULL, 0, F,
	    "SharedKeys: expected an object, found a string" },
	{ "enc_shares missing", DEL, "SharedKeys.enc_shares", NULL, NULL, NULL,
	    0, F, "SharedKeys.enc_shares: missing" },
	{ "enc_shares object", SET, "SharedKeys.enc_shares", "{}", NULL, NULL,
	    0, F, "SharedKeys.enc_shares: expected an array, found an object" },
	{ "N = 0", SET, "SharedKeys.enc_shares", "[]", NULL, NULL, 0, R,
	    "SharedKeys.enc_shares: 0 shares, expected 2..10" },
	{ "N = 1", FN, NULL, NULL, NULL, fn_one_share, 0, R,
	    "SharedKeys.enc_shares: 1 share, expected 2..10" },
	{ "N = 11", FN, NULL, NULL, NULL, fn_eleven_shares, 0, R,
	    "SharedKeys.enc_shares: 11 shares, expected 2..10" },
	{ "share string", SET, "SharedKeys.enc_shares[1]", "\"x\"", NULL, NULL,
	    0, F, "SharedKeys.enc_shares[1]: expected an object, found a "
	    "string" },
	{ "enc_key missing", DEL, "SharedKeys.enc_shares[0].enc_key", NULL,
	    NULL, NULL, 0, F, "SharedKeys.enc_shares[0].enc_key: missing" },
	{ "enc_key array", SET, "SharedKeys.enc_shares[0].enc_key", "[]", NULL,
	    NULL, 0, F, "SharedKeys.enc_shares[0].enc_key: expected a string, "
	    "found an array" },
	{ "x5t_256 missing", DEL, "SharedKeys.enc_shares[2].x5t_256", NULL,
	    NULL, NULL, 0, F, "SharedKeys.enc_shares[2].x5t_256: missing" },
	{ "x5t_256 boolean", SET, "SharedKeys.enc_shares[2].x5t_256", "true",
	    NULL, NULL, 0, F, "SharedKeys.enc_shares[2].x5t_256: expected a "
	    "string, found a boolean" },
	{ "x5t_256 42 chars", XF, "SharedKeys.enc_shares[1].x5t_256", NULL,
	    str_chop, NULL, 0, F, "SharedKeys.enc_shares[1].x5t_256: expected "
	    "43 characters of base64url, found 42" },
	{ "x5t_256 with +", XF, "SharedKeys.enc_shares[1].x5t_256", NULL,
	    str_plus5, NULL, 0, F, "SharedKeys.enc_shares[1].x5t_256: invalid "
	    "base64url character at offset 5" },
	{ "x5t_256 with padding", SET, "SharedKeys.enc_shares[0].x5t_256",
	    "\"vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuY=\"", NULL, NULL, 0,
	    F, "SharedKeys.enc_shares[0].x5t_256: invalid base64url character "
	    "at offset 42" },
	{ "x5t_256 non-canonical", SET, "SharedKeys.enc_shares[0].x5t_256",
	    "\"vODZF4xDVWHyFob2nfI5Li1MPOmEhVJqlnojTK_HuYh\"", NULL, NULL, 0,
	    F, "SharedKeys.enc_shares[0].x5t_256: non-canonical" },
	{ "duplicate x5t_256", FN, NULL, NULL, NULL, fn_dup_x5t, 0, F,
	    "SharedKeys.enc_shares[2]: x5t_256 repeats "
	    "SharedKeys.enc_shares[0].x5t_256" },
	{ "key_algorithm missing", DEL, "SharedKeys.key_algorithm", NULL, NULL,
	    NULL, 0, F, "SharedKeys.key_algorithm: missing" },
	{ "key_algorithm other", SET, "SharedKeys.key_algorithm",
	    "\"rsa_split\"", NULL, NULL, 0, U, "SharedKeys.key_algorithm: "
	    "\"rsa_split\" is not supported, expected \"shamir_share\"" },
	{ "key_algorithm object", SET, "SharedKeys.key_algorithm", "{}", NULL,
	    NULL, 0, F, "SharedKeys.key_algorithm: expected a string, found "
	    "an object" },
	{ "required missing", DEL, "SharedKeys.required", NULL, NULL, NULL, 0,
	    F, "SharedKeys.required: missing" },
	{ "required \"2\"", SET, "SharedKeys.required", "\"2\"", NULL, NULL, 0,
	    F, "SharedKeys.required: expected an integer, found a string" },
	{ "required 2.0", SET, "SharedKeys.required", "2.0", NULL, NULL, 0, F,
	    "SharedKeys.required: expected an integer, found a real number" },
	{ "required null", SET, "SharedKeys.required", "null", NULL, NULL, 0,
	    F, "SharedKeys.required: expected an integer, found null" },
	{ "required 4 > N", SET, "SharedKeys.required", "4", NULL, NULL, 0, R,
	    "SharedKeys.required: 4 is out of range 2..3 (number of shares)" },
	{ "required 11", SET, "SharedKeys.required", "11", NULL, NULL, 0, R,
	    "SharedKeys.required: 11 is out of range 2..3 (number of shares)" },
	{ "required 1", SET, "SharedKeys.required", "1", NULL, NULL, 0, R,
	    "SharedKeys.required: 1 is out of range 2..3" },
	{ "required 0", SET, "SharedKeys.required", "0", NULL, NULL, 0, R,
	    "SharedKeys.required: 0 is out of range 2..3" },
	{ "required -1", SET, "SharedKeys.required", "-1", NULL, NULL, 0, R,
	    "SharedKeys.required: -1 is out of range 2..3" },
	{ "required 2^40", SET, "SharedKeys.required", "1099511627776", NULL,
	    NULL, 0, R, "SharedKeys.required: 1099511627776 is out of range" },
	{ "required 11 wrapped", SET, "SharedKeys.required", "11", NULL, NULL,
	    1, R, "value: SharedKeys.required: 11 is out of range 2..3" },
};

#undef F
#undef U
#undef R

static char *
build_bad(const struct bad *b, size_t *len)
{
	json_t *root, *parent, *v, *w;
	json_error_t jerr;
	const char *last;
	char *buf, *s, ppath[128];
	size_t n;

	if (b->op == LIT) {
		*len = strlen(b->arg);
		buf = malloc(*len ? *len : 1);
		assert_non_null(buf);
		memcpy(buf, b->arg, *len);
		return buf;
	}
	if (b->op == TRUNC) {
		buf = read_vec("2023-05/sd.json", len);
		*len = 1000;
		return buf;
	}
	root = load_vec("2023-05/sd.json");
	if (b->op == FN) {
		b->fn(root);
	} else {
		/* Split path into parent and last component. */
		last = b->path + strlen(b->path);
		while (last > b->path && last[-1] != '.' && last[0] != '[')
			last--;
		n = (size_t)(last - b->path);
		if (n > 0 && b->path[n - 1] == '.')
			n--;
		assert_true(n < sizeof(ppath));
		memcpy(ppath, b->path, n);
		ppath[n] = '\0';
		parent = at(root, ppath);
		v = NULL;
		if (b->op == SET) {
			v = json_loads(b->arg, JSON_DECODE_ANY, &jerr);
			assert_non_null(v);
		} else if (b->op == XF) {
			s = b->xf(json_string_value(at(root, b->path)));
			v = json_string(s);
			free(s);
			assert_non_null(v);
		}
		if (*last == '[') {
			n = strtoul(last + 1, NULL, 10);
			if (v == NULL)
				assert_int_equal(json_array_remove(parent,
				    n), 0);
			else
				assert_int_equal(json_array_set_new(parent, n,
				    v), 0);
		} else {
			if (v == NULL)
				assert_int_equal(json_object_del(parent, last),
				    0);
			else
				assert_int_equal(json_object_set_new(parent,
				    last, v), 0);
		}
	}
	if (b->wrap) {
		w = wrap_value(root);
		json_decref(root);
		root = w;
	}
	buf = dump_exact(root, len);
	json_decref(root);
	return buf;
}

static void
run_bad(int literal)
{
	struct sd_err e;
	struct sd_file *sd;
	size_t i, len, ran = 0, failed = 0;
	char *buf;
	int r;

	for (i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		if ((BAD[i].op == LIT) != literal)
			continue;
		buf = build_bad(&BAD[i], &len);
		sd = (struct sd_file *)&sd;     /* must be reset to NULL */
		memset(e.msg, 0, sizeof(e.msg));
		r = sd_file_parse(buf, len, &sd, &e);
		if (getenv("SDTOOL_TEST_VERBOSE") != NULL)
			print_message("%-32s %d %s\n", BAD[i].name, r, e.msg);
		/* Report every failing row, not only the first. */
		if (r != BAD[i].rc || strstr(e.msg, BAD[i].msg) == NULL) {
			print_error("row \"%s\": got %d \"%s\", expected %d "
			    "\"%s\"\n", BAD[i].name, r, e.msg, BAD[i].rc,
			    BAD[i].msg);
			failed++;
		}
		if (sd != NULL) {
			print_error("row \"%s\": output not NULL\n",
			    BAD[i].name);
			failed++;
		}
		free(buf);
		ran++;
	}
	assert_true(ran > 0);
	assert_int_equal(failed, 0);
}

static void
test_bad_literal(void **state)
{
	run_bad(1);
}

static void
test_bad_mutated(void **state)
{
	vectors();
	run_bad(0);
}

/* Rows are told apart by more than their expected text. */
static void
test_bad_table_size(void **state)
{
	assert_true(sizeof(BAD) / sizeof(BAD[0]) >= 25);
}

static void
test_bad_blob(void **state)
{
	struct sd_err e;
	struct sd_blob *b = NULL;
	json_t *w, *inner;
	json_error_t jerr;
	char *buf;
	size_t len;

	w = load_vec("2023-05/upload_request.json");
	inner = json_loads(json_string_value(json_object_get(w, "value")), 0,
	    &jerr);
	assert_non_null(inner);

	json_object_del(json_object_get(inner, "WrappedKey"), "x5t_256");
	buf = dump_exact(inner, &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "WrappedKey.x5t_256: missing");
	free(buf);

	json_object_set_new(inner, "WrappedKey", json_string("x"));
	buf = dump_exact(inner, &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "WrappedKey: expected an object, found a "
	    "string");
	free(buf);

	json_object_del(inner, "WrappedKey");
	buf = dump_exact(inner, &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "WrappedKey: missing");
	free(buf);

	json_object_set_new(json_object_get(inner, "EncData"), "kdf",
	    json_string("other"));
	json_object_set_new(inner, "SharedKeys", json_object());
	buf = dump_exact(inner, &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_FORMAT);
	assert_string_equal(e.msg, "this is a security-domain file, not a "
	    "restore blob");
	free(buf);

	assert_null(b);
	json_decref(inner);
	json_decref(w);
}

static void
test_unknown_fields(void **state)
{
	struct sd_err e;
	struct sd_file *sd = NULL;
	struct sd_blob *b = NULL;
	json_t *root, *w, *inner;
	json_error_t jerr;
	char *buf, *orig, *out = NULL;
	size_t len, olen;

	root = load_vec("2023-05/sd.json");
	json_object_set_new(root, "comment", json_string("top"));
	json_object_set_new(at(root, "EncData"), "comment", json_integer(1));
	json_object_set_new(at(root, "EncData.data[0]"), "extra", json_null());
	json_object_set_new(at(root, "SharedKeys"), "comment", json_object());
	json_object_set_new(at(root, "SharedKeys.enc_shares[1]"), "note",
	    json_array());
	json_object_set_new(root, "we ird\n", json_true());
	buf = dump_exact(root, &len);
	if (sd_file_parse(buf, len, &sd, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(sd->unknown.n, 6);
	assert_true(has_path(&sd->unknown, "comment"));
	assert_true(has_path(&sd->unknown, "EncData.comment"));
	assert_true(has_path(&sd->unknown, "EncData.data[0].extra"));
	assert_true(has_path(&sd->unknown, "SharedKeys.comment"));
	assert_true(has_path(&sd->unknown, "SharedKeys.enc_shares[1].note"));
	assert_true(has_path(&sd->unknown, "[\"we ird\\n\"]"));
	check_real(&(struct sd_file){ .version = sd->version,
	    .data = sd->data, .key_algorithm = sd->key_algorithm,
	    .required = sd->required, .n_shares = sd->n_shares,
	    .shares = sd->shares }, 2);
	/* Unknown fields are not written back. */
	orig = read_vec("2023-05/sd.json", &olen);
	assert_int_equal(sd_file_serialize(sd, &out, &e), 0);
	assert_int_equal(strlen(out), olen);
	assert_memory_equal(out, orig, olen);
	free(out);
	free(orig);
	free(buf);
	sd_file_free(sd);

	/* Members of the wrapper beside "value" are listed too. */
	w = wrap_value(root);
	json_object_set_new(w, "meta", json_string("x"));
	buf = dump_exact(w, &len);
	sd = NULL;
	assert_int_equal(sd_file_parse(buf, len, &sd, &e), 0);
	assert_int_equal(sd->unknown.n, 7);
	assert_true(has_path(&sd->unknown, "meta"));
	assert_true(has_path(&sd->unknown, "SharedKeys.comment"));
	sd_file_free(sd);
	free(buf);
	json_decref(w);
	json_decref(root);

	/* The blob, including WrappedKey. */
	w = load_vec("2023-05/upload_request.json");
	inner = json_loads(json_string_value(json_object_get(w, "value")), 0,
	    &jerr);
	assert_non_null(inner);
	json_object_set_new(at(inner, "WrappedKey"), "comment",
	    json_string("x"));
	json_object_set_new(at(inner, "EncData.data[2]"), "extra",
	    json_string("x"));
	json_object_set_new(inner, "comment", json_string("x"));
	buf = dump_exact(inner, &len);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), 0);
	assert_int_equal(b->unknown.n, 3);
	assert_true(has_path(&b->unknown, "WrappedKey.comment"));
	assert_true(has_path(&b->unknown, "EncData.data[2].extra"));
	assert_true(has_path(&b->unknown, "comment"));
	sd_blob_free(b);
	free(buf);
	json_decref(inner);
	json_decref(w);
}

static void
test_oversized(void **state)
{
	struct sd_err e;
	struct sd_file *sd = NULL;
	struct sd_blob *b = NULL;
	uint8_t *der, *n, *ex;
	size_t der_len, n_len, ex_len;
	size_t len = (size_t)SD_MAX_FILE_LEN + 1;
	char *buf;

	/* A valid-looking start: the length alone must be refused. */
	buf = malloc(len);
	assert_non_null(buf);
	memset(buf, ' ', len);
	buf[0] = '{';
	buf[len - 1] = '}';
	assert_int_equal(sd_file_parse(buf, len, &sd, &e), SD_ERR_LIMIT);
	assert_non_null(strstr(e.msg, "input is 67108865 bytes"));
	assert_null(sd);
	assert_int_equal(sd_blob_parse(buf, len, &b, &e), SD_ERR_LIMIT);
	assert_null(b);
	assert_int_equal(sd_transfer_key_parse(buf, len, &der, &der_len, &n,
	    &n_len, &ex, &ex_len, &e), SD_ERR_LIMIT);
	/* Exactly the limit is read (and then found wanting). */
	assert_int_equal(sd_file_parse(buf, len - 1, &sd, &e), SD_ERR_FORMAT);
	free(buf);
}

static void
test_api_edges(void **state)
{
	struct sd_err e;
	struct sd_file *sd = NULL, empty;
	char *out = (char *)"x";

	sd_file_free(NULL);
	sd_blob_free(NULL);
	assert_int_equal(sd_file_parse("{}", 2, NULL, &e), SD_ERR_ARG);
	assert_int_equal(sd_file_parse(NULL, 5, &sd, &e), SD_ERR_ARG);
	assert_int_equal(sd_file_parse(NULL, 0, &sd, &e), SD_ERR_FORMAT);
	assert_int_equal(sd_file_serialize(NULL, &out, &e), SD_ERR_ARG);
	assert_null(out);
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(sd_file_serialize(&empty, &out, &e), SD_ERR_ARG);
	assert_int_equal(sd_blob_serialize(NULL, &out, &e), SD_ERR_ARG);
	/* A NULL error context is allowed. */
	assert_int_equal(sd_file_parse("[]", 2, &sd, NULL), SD_ERR_FORMAT);
	/* Stale detail does not leak into a new error. */
	strcpy(e.msg, "stale");
	assert_int_equal(sd_file_parse("{\"version\":2}", 13, &sd, &e),
	    SD_ERR_FORMAT);
	assert_string_equal(e.msg, "EncData: missing");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_files),
		cmocka_unit_test(test_download_response),
		cmocka_unit_test(test_upload_request_blob),
		cmocka_unit_test(test_transfer_key),
		cmocka_unit_test(test_transfer_key_bad),
		cmocka_unit_test(test_transfer_key_bad_n),
		cmocka_unit_test(test_x5t256),
		cmocka_unit_test(test_bad_table_size),
		cmocka_unit_test(test_bad_literal),
		cmocka_unit_test(test_bad_mutated),
		cmocka_unit_test(test_bad_blob),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_api_edges),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
