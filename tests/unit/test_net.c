/*
 * test_net.c - the online module without a network: the bodies it builds
 * and reads (against the real service's requests and replies in
 * $SDTOOL_VECTORS), the URLs it accepts, where the token comes from, and
 * the retry and polling policy driven through a scripted transport and a
 * clock that only pretends to sleep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../../hw/key.h"
#include "../../net/mhsm.h"
#include "../../net/net.h"
#include "../../shares/b64.h"
#include "../../shares/sdfile.h"

/* --- vectors ------------------------------------------------------------ */

static const char *
vectors(void)
{
	const char *v = getenv("SDTOOL_VECTORS");

	if (v == NULL || *v == '\0')
		skip();
	return v;
}

/* A vector, in a buffer of exactly its length (ASan sees overreads). */
static char *
read_vec(const char *rel, size_t *len)
{
	char path[1024], *buf;
	FILE *f;
	long sz;

	snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((sz = ftell(f)) > 0);
	rewind(f);
	assert_non_null(buf = malloc((size_t)sz));
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static X509 *
load_cert(const char *rel)
{
	char path[1024];
	struct sd_err e = { "" };
	X509 *x = NULL;

	snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
	assert_int_equal(pki_cert_load(path, &x, &e), 0);
	return x;
}

/* A self-signed certificate for a new key of the given kind. */
static X509 *
make_cert(const char *kind, int bits)
{
	EVP_PKEY *k;
	X509 *x;

	k = strcmp(kind, "RSA") == 0 ? EVP_RSA_gen((unsigned)bits) :
	    EVP_EC_gen("P-256");
	assert_non_null(k);
	assert_non_null(x = X509_new());
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

/* --- URLs --------------------------------------------------------------- */

static void
test_url_check(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "https://contoso.managedhsm.azure.net",
		    "https://contoso.managedhsm.azure.net" },
		{ "https://contoso.managedhsm.azure.net/",
		    "https://contoso.managedhsm.azure.net" },
		{ "https://hsm.privatelink.example:8443",
		    "https://hsm.privatelink.example:8443" },
		{ "http://127.0.0.1:4443", "http://127.0.0.1:4443" },
		{ "http://127.8.9.10", "http://127.8.9.10" },
		{ "http://localhost:80/", "http://localhost:80" },
		{ "http://[::1]:9", "http://[::1]:9" },
	};
	static const char *const bad[] = {
		"http://contoso.managedhsm.azure.net",   /* token in clear */
		"http://128.0.0.1", "http://10.0.0.1", "ftp://127.0.0.1",
		"https://h.example/securitydomain", "https://h.example/?x=1",
		"https://user@h.example", "not a url", "",
	};
	struct sd_err e = { "" };
	char *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(net_url_check(good[i].in, &out, &e), 0);
		assert_string_equal(out, good[i].out);
		free(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(net_url_check(bad[i], &out, &e), SD_ERR_ARG);
		assert_null(out);
		assert_true(e.msg[0] != '\0');
	}
	assert_int_equal(net_url_check("http://example.com", &out, &e),
	    SD_ERR_ARG);
	assert_non_null(strstr(e.msg, "only https://"));
}

static void
test_url_for_name(void **state)
{
	struct sd_err e = { "" };
	char *out;

	(void)state;
	assert_int_equal(net_url_for_name("Contoso-MHSM1", &out, &e), 0);
	assert_string_equal(out, "https://Contoso-MHSM1.managedhsm.azure.net");
	free(out);
	assert_int_equal(net_url_for_name("ab", &out, &e), SD_ERR_ARG);
	assert_int_equal(net_url_for_name("a.evil.example/x", &out, &e),
	    SD_ERR_ARG);
	assert_int_equal(net_url_for_name("abcdefghijklmnopqrstuvwxy", &out,
	    &e), SD_ERR_ARG);
	assert_null(out);
}

/* --- the certificate set ------------------------------------------------ */

/* Our body for the vector's certificates equals the vector's body. */
static void
certset_matches(const char *dir, const char *const files[3])
{
	char rel[256], *want_text, *got;
	size_t len, i, bad, other;
	struct sd_err e = { "" };
	X509 *certs[3];
	json_t *want, *have, *w, *h;
	static const char *const members[] = {
		"kty", "n", "e", "x5t", "x5t#S256", "alg"
	};
	size_t k;

	snprintf(rel, sizeof(rel), "%s/download_request.json", dir);
	want_text = read_vec(rel, &len);
	assert_non_null(want = json_loadb(want_text, len, 0, NULL));
	for (i = 0; i < 3; i++)
		certs[i] = load_cert(files[i]);
	assert_int_equal(mhsm_certset_build(certs, 3, 2, &got, &bad, &other,
	    &e), 0);
	assert_non_null(have = json_loads(got, 0, NULL));
	assert_int_equal(json_integer_value(json_object_get(have, "required")),
	    json_integer_value(json_object_get(want, "required")));
	assert_int_equal(json_array_size(json_object_get(have,
	    "certificates")), 3);
	for (i = 0; i < 3; i++) {
		w = json_array_get(json_object_get(want, "certificates"), i);
		h = json_array_get(json_object_get(have, "certificates"), i);
		for (k = 0; k < sizeof(members) / sizeof(members[0]); k++)
			assert_string_equal(
			    json_string_value(json_object_get(h, members[k])),
			    json_string_value(json_object_get(w, members[k])));
		assert_true(json_equal(json_object_get(h, "x5c"),
		    json_object_get(w, "x5c")));
		assert_true(json_equal(json_object_get(h, "key_ops"),
		    json_object_get(w, "key_ops")));
	}
	for (i = 0; i < 3; i++)
		X509_free(certs[i]);
	json_decref(want);
	json_decref(have);
	free(got);
	free(want_text);
}

static void
test_certset_vectors(void **state)
{
	static const char *const keys[3] = {
		"keys/sd1.cer", "keys/sd2.cer", "keys/sd3.cer"
	};
	static const char *const certs[3] = {
		"certs/cert_0.cer", "certs/cert_1.cer", "certs/cert_2.cer"
	};

	(void)state;
	certset_matches("2020-09", keys);
	certset_matches("2022-08", certs);
	certset_matches("2023-05", keys);
}

/* The sets the service refuses are refused before anything is sent. */
static void
test_certset_refused(void **state)
{
	X509 *c[11], *small, *ec;
	struct sd_err e = { "" };
	size_t i, bad, other;
	char *json = NULL;

	(void)state;
	for (i = 0; i < 11; i++)
		c[i] = make_cert("RSA", 2048);
	assert_int_equal(mhsm_certset_build(c, 2, 2, &json, &bad, &other, &e),
	    SD_ERR_RANGE);
	assert_null(json);
	assert_non_null(strstr(e.msg, "2 certificates given"));
	assert_int_equal(mhsm_certset_build(c, 11, 2, &json, &bad, &other,
	    &e), SD_ERR_RANGE);
	assert_int_equal(mhsm_certset_build(c, 3, 1, &json, &bad, &other, &e),
	    SD_ERR_RANGE);
	assert_non_null(strstr(e.msg, "quorum 1"));
	assert_int_equal(mhsm_certset_build(c, 3, 4, &json, &bad, &other, &e),
	    SD_ERR_RANGE);
	assert_int_equal(mhsm_certset_build(c, 10, 10, &json, &bad, &other,
	    &e), 0);
	free(json);
	json = NULL;

	small = make_cert("RSA", 1024);
	ec = make_cert("EC", 0);
	X509_free(c[1]);
	c[1] = small;
	assert_int_equal(mhsm_certset_build(c, 3, 2, &json, &bad, &other, &e),
	    SD_ERR_KEY);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(e.msg, "RSA-1024"));
	c[1] = ec;
	assert_int_equal(pki_certset_check(c, 3, 2, &bad, &other, &e),
	    SD_ERR_KEY);
	assert_int_equal(bad, 1);
	c[1] = c[0];                 /* the same certificate twice */
	assert_int_equal(pki_certset_check(c, 3, 2, &bad, &other, &e),
	    SD_ERR_ARG);
	assert_int_equal(bad, 1);
	assert_int_equal(other, 0);
	X509_free(small);
	X509_free(ec);
	X509_free(c[0]);
	for (i = 2; i < 11; i++)
		X509_free(c[i]);
}

/* --- replies ------------------------------------------------------------ */

static void
test_sd_from_reply(void **state)
{
	static const char *const dirs[] = { "2020-09", "2022-08", "2023-05" };
	struct sd_err e = { "" };
	struct sd_file *f = NULL;
	char rel[128], *body, *want, *sd, *b64, *wrapped;
	size_t len, want_len, sd_len, i;
	json_t *o;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s/download_response.json", dirs[i]);
		body = read_vec(rel, &len);
		snprintf(rel, sizeof(rel), "%s/sd.json", dirs[i]);
		want = read_vec(rel, &want_len);
		/* the service's own reply: the SD file exactly as saved */
		assert_int_equal(mhsm_sd_from_reply(body, len, &sd, &sd_len, &e),
		    0);
		assert_int_equal(sd_len, want_len);
		assert_memory_equal(sd, want, want_len);
		free(sd);
		/* value as base64 of the same text */
		assert_int_equal(b64std_encode((uint8_t *)want, want_len, &b64),
		    0);
		assert_non_null(o = json_pack("{s:s}", "value", b64));
		wrapped = json_dumps(o, JSON_COMPACT);
		assert_int_equal(mhsm_sd_from_reply(wrapped, strlen(wrapped),
		    &sd, &sd_len, &e), 0);
		assert_int_equal(sd_len, want_len);
		assert_memory_equal(sd, want, want_len);
		free(sd);
		free(wrapped);
		json_decref(o);
		free(b64);
		/* value as an object: still a file that parses */
		assert_non_null(o = json_pack("{s:o}", "value",
		    json_loadb(want, want_len, 0, NULL)));
		wrapped = json_dumps(o, JSON_COMPACT);
		assert_int_equal(mhsm_sd_from_reply(wrapped, strlen(wrapped),
		    &sd, &sd_len, &e), 0);
		assert_int_equal(sd_file_parse(sd, sd_len, &f, &e), 0);
		sd_file_free(f);
		free(sd);
		free(wrapped);
		json_decref(o);
		/* cut short: malformed, and nothing returned */
		assert_int_equal(mhsm_sd_from_reply(body, len / 2, &sd, &sd_len,
		    &e), SD_ERR_FORMAT);
		assert_null(sd);
		free(body);
		free(want);
	}
	assert_int_equal(mhsm_sd_from_reply("{}", 2, &sd, &sd_len, &e),
	    SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "no \"value\""));
	assert_int_equal(mhsm_sd_from_reply("{\"value\":7}", 11, &sd, &sd_len,
	    &e), SD_ERR_FORMAT);
	assert_int_equal(mhsm_sd_from_reply("{\"value\":\"%%%\"}", 15, &sd,
	    &sd_len, &e), SD_ERR_FORMAT);
	assert_int_equal(mhsm_sd_from_reply("{\"value\":\"aGVsbG8=\"}", 20,
	    &sd, &sd_len, &e), SD_ERR_FORMAT);   /* base64 of "hello" */
	assert_int_equal(mhsm_sd_from_reply("", 0, &sd, &sd_len, &e),
	    SD_ERR_FORMAT);
}

static void
test_status_parse(void **state)
{
	struct mhsm_status st;
	struct sd_err e = { "" };
	char *body;
	size_t len;

	(void)state;
	/* the 2020 build wrote statusDetails, the 2023 one status_details */
	body = read_vec("2020-09/upload_response.json", &len);
	assert_int_equal(mhsm_status_parse(body, len, &st, &e), 0);
	assert_int_equal(st.state, MHSM_IN_PROGRESS);
	assert_string_equal(st.details, "Security Domain restore is in progress");
	free(body);
	body = read_vec("2023-05/upload_response.json", &len);
	assert_int_equal(mhsm_status_parse(body, len, &st, &e), 0);
	assert_int_equal(st.state, MHSM_IN_PROGRESS);
	assert_string_equal(st.details, "The Security Domain is being restored.");
	free(body);
#define P(s) mhsm_status_parse(s, strlen(s), &st, &e)
	assert_int_equal(P("{\"status\":\"Success\",\"status_details\":\"\"}"), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_int_equal(P("{\"status\":\"Succeeded\"}"), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_string_equal(st.word, "Succeeded");
	assert_int_equal(P("{\"status\":\"Failed\",\"status_details\":\"x\\u001by\"}"),
	    0);
	assert_int_equal(st.state, MHSM_FAILED);
	assert_string_equal(st.details, "x?y");   /* no escape reaches a tty */
	assert_int_equal(P("{\"status\":\"Cancelled\"}"), SD_ERR_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "Cancelled"));
	assert_int_equal(P("{\"status_details\":\"\"}"), SD_ERR_FORMAT);
	assert_int_equal(P("{\"status\":\"Succ"), SD_ERR_FORMAT);
	assert_int_equal(P("[]"), SD_ERR_FORMAT);
#undef P
}

static void
test_error_parse(void **state)
{
	struct mhsm_fault f;
	const char *b = "{\"error\":{\"code\":\"AccessDenied\",\"message\":"
	    "\"Not authorized to perform Security Domain backup. (Activity ID: "
	    "8d56a47c)\",\"innererror\":{\"code\":\"x\"}}}";

	(void)state;
	memset(&f, 0, sizeof(f));
	mhsm_error_parse(b, strlen(b), &f);
	assert_string_equal(f.code, "AccessDenied");
	assert_string_equal(f.message, "Not authorized to perform Security "
	    "Domain backup. (Activity ID: 8d56a47c)");
	b = "<html>\x1b[31mgateway\n</html>";
	mhsm_error_parse(b, strlen(b), &f);
	assert_string_equal(f.code, "");
	assert_string_equal(f.message, "<html>?[31mgateway?</html>");
	mhsm_error_parse("", 0, &f);
	assert_string_equal(f.message, "");
}

static void
test_exchange_cert(void **state)
{
	struct sd_err e = { "" };
	X509 *x = NULL;
	char *body, x5t[SD_X5T_SIZE], *obj;
	size_t len;
	json_t *root, *jwk;

	(void)state;
	body = read_vec("2023-05/transfer_key_response.json", &len);
	assert_int_equal(mhsm_exchange_cert(body, len, &x, &e), 0);
	assert_int_equal(pki_cert_x5t256(x, x5t), 0);
	assert_string_equal(x5t, "31MlAINlbWjfth0F2I-ZiEhhmd4L04jeVaS315GEgWU");
	X509_free(x);
	/* the JWK as an object instead of a string */
	assert_non_null(root = json_loadb(body, len, 0, NULL));
	assert_non_null(jwk = json_loads(json_string_value(json_object_get(root,
	    "transfer_key")), 0, NULL));
	json_object_set_new(root, "transfer_key", jwk);
	obj = json_dumps(root, JSON_COMPACT);
	assert_int_equal(mhsm_exchange_cert(obj, strlen(obj), &x, &e), 0);
	X509_free(x);
	free(obj);
	/* n that is not the certificate's */
	json_object_set_new(jwk, "n", json_string("AQAB"));
	obj = json_dumps(root, JSON_COMPACT);
	assert_int_equal(mhsm_exchange_cert(obj, strlen(obj), &x, &e),
	    SD_ERR_KEY_MISMATCH);
	assert_null(x);
	free(obj);
	json_decref(root);
	assert_int_equal(mhsm_exchange_cert(body, len - 10, &x, &e),
	    SD_ERR_FORMAT);
	free(body);
}

static void
test_sd_check(void **state)
{
	struct sd_err e = { "" };
	X509 *k[3], *c[3];
	char *sd;
	size_t len, i;

	(void)state;
	sd = read_vec("2023-05/sd.json", &len);
	k[0] = load_cert("keys/sd1.cer");
	k[1] = load_cert("keys/sd2.cer");
	k[2] = load_cert("keys/sd3.cer");
	c[0] = load_cert("certs/cert_0.cer");
	c[1] = load_cert("certs/cert_1.cer");
	c[2] = load_cert("certs/cert_2.cer");
	assert_int_equal(mhsm_sd_check(sd, len, k, 3, 2, &e), 0);
	assert_int_equal(mhsm_sd_check(sd, len, k, 3, 3, &e), SD_ERR_QUORUM);
	assert_non_null(strstr(e.msg, "quorum is 2, not the 3"));
	assert_int_equal(mhsm_sd_check(sd, len, c, 3, 2, &e), SD_ERR_NO_SHARE);
	assert_int_equal(mhsm_sd_check(sd, len, k, 2, 2, &e), SD_ERR_SHARE);
	assert_int_equal(mhsm_sd_check(sd, len / 2, k, 3, 2, &e),
	    SD_ERR_FORMAT);
	for (i = 0; i < 3; i++) {
		X509_free(k[i]);
		X509_free(c[i]);
	}
	free(sd);
}

/* --- the retry and polling policy, through a scripted transport -------- */

struct step {
	int rc;               /* 0: a reply; SD_ERR_IO: none */
	long status;
	const char *body;
	long retry_after;
};

struct script {
	const struct step *steps;
	size_t n, next;
	long long now;        /* the fake clock, ms */
	long long sleeps[32];
	size_t n_sleeps;
	char urls[32][256];
	char methods[32][8];
	int saw_token[32];
	/* per step, optional: Azure-AsyncOperation and WWW-Authenticate */
	const char *const *async_ops;
	const char *const *www_auths;
	const char *tokens[32];   /* the token each request carried */
};

static int
fake_send(void *ctx, const char *method, const char *url, const char *body,
    size_t body_len, const struct sd_secret *token, long timeout_ms,
    struct net_reply *reply, struct sd_err *e)
{
	struct script *s = ctx;
	const struct step *st;
	size_t i = s->next;

	(void)body;
	(void)body_len;
	assert_true(timeout_ms > 0);
	memset(reply, 0, sizeof(*reply));
	reply->retry_after = -1;
	assert_true(i < s->n);   /* no request beyond the script */
	st = &s->steps[s->next++];
	if (i < 32) {
		snprintf(s->urls[i], sizeof(s->urls[i]), "%s", url);
		snprintf(s->methods[i], sizeof(s->methods[i]), "%s", method);
		s->saw_token[i] = token != NULL && token->len == 5 &&
		    memcmp(token->p, "tok3n", 5) == 0;
		s->tokens[i] = token == NULL ? "" : token->len == 5 &&
		    memcmp(token->p, "tok3n", 5) == 0 ? "tok3n" : token->len ==
		    6 && memcmp(token->p, "tenant", 6) == 0 ? "tenant" : "?";
	}
	s->now += 10;
	if (st->rc != 0)
		return sd_err_set(e, st->rc, "connection reset (scripted)");
	reply->status = st->status;
	reply->retry_after = st->retry_after;
	if (s->async_ops != NULL && s->async_ops[i] != NULL)
		snprintf(reply->async_op, sizeof(reply->async_op), "%s",
		    s->async_ops[i]);
	if (s->www_auths != NULL && s->www_auths[i] != NULL)
		snprintf(reply->www_auth, sizeof(reply->www_auth), "%s",
		    s->www_auths[i]);
	reply->body = strdup(st->body ? st->body : "");
	reply->len = strlen(reply->body);
	return 0;
}

static long long
fake_now(void *ctx)
{
	return ((struct script *)ctx)->now;
}

static void
fake_sleep(void *ctx, long long ms)
{
	struct script *s = ctx;

	if (s->n_sleeps < 32)
		s->sleeps[s->n_sleeps++] = ms;
	s->now += ms;
}

static struct sd_secret *token;

static struct mhsm *
fake_mhsm(struct script *s, const struct step *steps, size_t n,
    long long timeout_ms, long long poll_ms, const char *api)
{
	static struct net_transport t;
	static struct net_clock clk;
	struct mhsm_config cfg;
	struct sd_err e = { "" };
	struct mhsm *m = NULL;

	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->n = n;
	s->now = 1000000;
	t.send = fake_send;
	t.ctx = s;
	clk.now_ms = fake_now;
	clk.sleep_ms = fake_sleep;
	clk.ctx = s;
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = "https://contoso.managedhsm.azure.net";
	cfg.api_version = api;
	cfg.token = token;
	cfg.transport = &t;
	cfg.clock = &clk;
	cfg.timeout_ms = timeout_ms;
	cfg.poll_interval_ms = poll_ms;
	assert_int_equal(mhsm_new(&cfg, &m, &e), 0);
	return m;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SD_REPLY "{\"value\":\"{\\\"EncData\\\":1}\"}"

static void
test_retry_after_honoured(void **state)
{
	static const struct step steps[] = {
		{ 0, 429, "{\"error\":{\"code\":\"Throttled\",\"message\":\"m\"}}",
		    2 },
		{ 0, 202, SD_REPLY, 7 },
	};
	struct script s;
	struct sd_err e = { "" };
	struct mhsm *m = fake_mhsm(&s, steps, N(steps), 60000, 5000, NULL);
	char *sd, *raw;
	size_t sd_len, raw_len;
	struct mhsm_accepted first;

	(void)state;
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), 0);
	assert_string_equal(sd, "{\"EncData\":1}");
	assert_null(raw);
	assert_int_equal(first.first_wait_ms, 7000); /* the 202's Retry-After */
	assert_int_equal(first.http_status, 202);
	assert_int_equal(s.next, 2);
	assert_int_equal(s.n_sleeps, 1);
	assert_int_equal(s.sleeps[0], 2000);
	assert_string_equal(s.methods[0], "POST");
	assert_string_equal(s.urls[0], "https://contoso.managedhsm.azure.net"
	    "/securitydomain/download?api-version=7.2");
	assert_true(s.saw_token[0] && s.saw_token[1]);
	free(sd);
	mhsm_free(m);
}

static void
test_backoff_and_give_up(void **state)
{
	static const struct step twice[] = {
		{ 0, 503, "", -1 }, { 0, 500, "oops", -1 },
		{ 0, 200, "{\"status\":\"Success\"}", -1 },
	};
	static const struct step always[] = {
		{ 0, 503, "", -1 }, { 0, 503, "", -1 }, { 0, 503, "", -1 },
		{ 0, 503, "", -1 }, { 0, 503, "", -1 }, { 0, 503, "", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	m = fake_mhsm(&s, twice, N(twice), 600000, 0, "7.5");
	assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_int_equal(s.n_sleeps, 2);
	assert_int_equal(s.sleeps[0], 1000);
	assert_int_equal(s.sleeps[1], 2000);
	assert_string_equal(s.urls[2], "https://contoso.managedhsm.azure.net"
	    "/securitydomain/upload/pending?api-version=7.5");
	mhsm_free(m);

	m = fake_mhsm(&s, always, N(always), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_DOWNLOAD, &st, &e),
	    SD_ERR_IO);
	assert_int_equal(s.next, MHSM_MAX_TRIES);
	assert_non_null(strstr(e.msg, "gave up after 6 tries"));
	assert_int_equal(mhsm_fault(m)->http_status, 503);
	mhsm_free(m);
}

static void
test_no_reply(void **state)
{
	static const struct step once[] = {
		{ SD_ERR_IO, 0, NULL, -1 }, { 0, 202, SD_REPLY, -1 },
	};
	static const struct step never[] = {
		{ SD_ERR_IO, 0, NULL, -1 }, { SD_ERR_IO, 0, NULL, -1 },
		{ SD_ERR_IO, 0, NULL, -1 }, { SD_ERR_IO, 0, NULL, -1 },
		{ SD_ERR_IO, 0, NULL, -1 }, { SD_ERR_IO, 0, NULL, -1 },
	};
	static const struct step then_conflict[] = {
		{ SD_ERR_IO, 0, NULL, -1 },
		{ 0, 409, "{\"error\":{\"code\":\"Conflict\",\"message\":"
		    "\"already activated\"}}", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;
	char *sd, *raw;
	size_t sd_len, raw_len;
	struct mhsm_accepted first;

	(void)state;
	m = fake_mhsm(&s, once, N(once), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), 0);
	assert_int_equal(first.first_wait_ms, -1);
	free(sd);
	mhsm_free(m);
	m = fake_mhsm(&s, never, N(never), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), SD_ERR_IO);
	/* the HSM may have acted on a POST whose reply never came */
	assert_true(mhsm_fault(m)->post_unanswered);
	assert_int_equal(mhsm_fault(m)->http_status, 0);
	assert_non_null(strstr(e.msg, "connection reset"));
	mhsm_free(m);
	/* a refusal after an unanswered try still says it may have acted */
	m = fake_mhsm(&s, then_conflict, N(then_conflict), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), SD_ERR_ARG);
	assert_true(mhsm_fault(m)->post_unanswered);
	assert_int_equal(mhsm_fault(m)->http_status, 409);
	mhsm_free(m);
	/* a GET that went unanswered is not that */
	m = fake_mhsm(&s, never, N(never), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_DOWNLOAD, &st, &e), SD_ERR_IO);
	assert_false(mhsm_fault(m)->post_unanswered);
	mhsm_free(m);
}

static void
test_export_transient(void **state)
{
	static const struct step transient[] = {
		{ 0, 400, "{\"error\":{\"code\":\"BadParameter\",\"message\":"
		    "\"" MHSM_EXPORT_TRANSIENT "\"}}", 0 },
		{ 0, 202, SD_REPLY, -1 },
	};
	static const struct step other[] = {
		{ 0, 400, "{\"error\":{\"code\":\"BadParameter\",\"message\":"
		    "\"required: must be at least 2\"}}", 0 },
	};
	struct script s;
	struct sd_err e = { "" };
	struct mhsm *m;
	char *sd, *raw;
	size_t sd_len, raw_len;
	struct mhsm_accepted first;

	(void)state;
	m = fake_mhsm(&s, transient, N(transient), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), 0);
	assert_int_equal(s.next, 2);
	free(sd);
	mhsm_free(m);
	/* any other 400 is final, and shown as the service sent it */
	m = fake_mhsm(&s, other, N(other), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), SD_ERR_ARG);
	assert_int_equal(s.next, 1);
	assert_string_equal(mhsm_fault(m)->code, "BadParameter");
	assert_string_equal(mhsm_fault(m)->message,
	    "required: must be at least 2");
	assert_non_null(strstr(e.msg, "HTTP 400 Bad Request: BadParameter: "
	    "required: must be at least 2"));
	mhsm_free(m);
}

static void
test_auth_refused(void **state)
{
	static const struct step s401[] = {
		{ 0, 401, "{\"error\":{\"code\":\"Unauthorized\",\"message\":"
		    "\"AKV10000: Request is missing a Bearer or PoP token.\"}}",
		    -1 },
	};
	static const struct step s403[] = {
		{ 0, 403, "{\"error\":{\"code\":\"AccessDenied\",\"message\":"
		    "\"no\"}}", -1 },
	};
	struct script s;
	struct sd_err e = { "" };
	struct mhsm *m;
	X509 *x = NULL;

	(void)state;
	m = fake_mhsm(&s, s401, N(s401), 600000, 0, NULL);
	assert_int_equal(mhsm_transfer_key(m, &x, &e), SD_ERR_AUTH);
	assert_null(x);
	assert_int_equal(s.next, 1);       /* never retried */
	assert_int_equal(mhsm_fault(m)->http_status, 401);
	mhsm_free(m);
	m = fake_mhsm(&s, s403, N(s403), 600000, 0, NULL);
	assert_int_equal(mhsm_transfer_key(m, &x, &e), SD_ERR_AUTH);
	assert_int_equal(mhsm_fault(m)->http_status, 403);
	assert_string_equal(mhsm_fault(m)->code, "AccessDenied");
	mhsm_free(m);
}

static void
test_malformed_replies(void **state)
{
	static const struct step get[] = {
		{ 0, 200, "{\"status\":\"Succ", -1 },
		{ 0, 200, "{\"status\":\"Succeeded\"}", -1 },
	};
	static const struct step post[] = {
		{ 0, 202, "{\"value\":\"{\\\"EncData\\\":", -1 },
	};
	static const struct step nobody[] = {
		{ 0, 204, "", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;
	char *sd, *raw;
	size_t sd_len, raw_len;
	struct mhsm_accepted first;

	(void)state;
	/* a GET is asked again */
	m = fake_mhsm(&s, get, N(get), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_DOWNLOAD, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_int_equal(s.next, 2);
	mhsm_free(m);
	/* a POST is not: the download reply is handed back to be kept */
	m = fake_mhsm(&s, post, N(post), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), SD_ERR_FORMAT);
	assert_null(sd);
	assert_non_null(raw);
	assert_int_equal(raw_len, strlen(post[0].body));
	assert_memory_equal(raw, post[0].body, raw_len);
	assert_int_equal(s.next, 1);
	free(raw);
	mhsm_free(m);
	m = fake_mhsm(&s, nobody, N(nobody), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), 0);
	assert_int_equal(st.state, MHSM_NONE);
	mhsm_free(m);
}

static void
test_wait(void **state)
{
	static const struct step done[] = {
		{ 0, 200, "{\"status\":\"InProgress\",\"status_details\":\"\"}", 3 },
		{ 0, 200, "{\"status\":\"InProgress\",\"status_details\":\"\"}", -1 },
		{ 0, 200, "{\"status\":\"Success\",\"status_details\":\"\"}", -1 },
	};
	static const struct step failed[] = {
		{ 0, 200, "{\"status\":\"Failed\",\"status_details\":\"bad blob\"}",
		    -1 },
		{ 0, 200, "{\"status\":\"Success\"}", -1 },
	};
	static const struct step forever[] = {
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
		{ 0, 200, "{\"status\":\"InProgress\"}", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	memset(&acc, 0, sizeof(acc));
	acc.first_wait_ms = 5000;
	m = fake_mhsm(&s, done, N(done), 600000, 2000, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_DOWNLOAD, &acc, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_int_equal(s.n_sleeps, 3);
	assert_int_equal(s.sleeps[0], 5000);   /* the POST's Retry-After */
	assert_int_equal(s.sleeps[1], 3000);   /* this reply's, > interval */
	assert_int_equal(s.sleeps[2], 2000);   /* the poll interval */
	assert_string_equal(s.methods[0], "GET");
	/* no status URL given: where every recorded client polled */
	assert_string_equal(s.urls[0], "https://contoso.managedhsm.azure.net"
	    "/securitydomain/upload/pending?api-version=7.2");
	mhsm_free(m);

	/* Failed is final: never polled further */
	m = fake_mhsm(&s, failed, N(failed), 600000, 2000, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_UPLOAD, NULL, &st, &e), 0);
	assert_int_equal(st.state, MHSM_FAILED);
	assert_string_equal(st.details, "bad blob");
	assert_int_equal(s.next, 1);
	mhsm_free(m);

	/* a bounded wait: 9 s with a poll every 2 s */
	m = fake_mhsm(&s, forever, N(forever), 9000, 2000, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_UPLOAD, NULL, &st, &e), SD_ERR_IO);
	assert_true(mhsm_fault(m)->timed_out);
	assert_int_equal(st.state, MHSM_IN_PROGRESS);
	assert_true(s.next >= 3 && s.next <= 4);
	assert_non_null(strstr(e.msg, "not finished within the timeout"));
	mhsm_free(m);
}

static void
test_deadline(void **state)
{
	static const struct step slow[] = {
		{ 0, 429, "", 30 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;
	struct mhsm_config cfg;
	struct net_transport t = { fake_send, &s };

	(void)state;
	/* a Retry-After past the deadline ends it at once */
	m = fake_mhsm(&s, slow, N(slow), 10000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), SD_ERR_IO);
	assert_int_equal(s.next, 1);
	assert_int_equal(s.n_sleeps, 0);
	assert_true(mhsm_fault(m)->timed_out);
	assert_non_null(strstr(e.msg, "no time left"));
	mhsm_free(m);
	/* an api-version that would change the URL is refused */
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = "https://h.example";
	cfg.transport = &t;
	cfg.api_version = "7.4&x=1";
	assert_int_equal(mhsm_new(&cfg, &m, &e), SD_ERR_ARG);
	assert_null(m);
}

/* --- what the recordings show (issue 10) --------------------------------- */

#define BASE "https://contoso.managedhsm.azure.net"
#define IN_PROGRESS_2023 "{\"status\":\"InProgress\",\"status_details\":" \
	"\"The Security Domain is being confirmed.\"}"
#define SUCCESS_2023 "{\"status\":\"Success\",\"status_details\":" \
	"\"The resource is active.\"}"

/* 2022 on: download/pending is advertised, answers 404; upload/pending */
static void
test_wait_recorded_download(void **state)
{
	static const struct step steps[] = {
		{ 0, 404, "{\"error\":{\"code\":\"NotFound\",\"message\":\"\"}}",
		    -1 },
		{ 0, 200, IN_PROGRESS_2023, -1 },
		{ 0, 200, IN_PROGRESS_2023, -1 },
		{ 0, 200, SUCCESS_2023, -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	struct mhsm *m;
	size_t i;

	(void)state;
	memset(&acc, 0, sizeof(acc));
	acc.http_status = 202;
	acc.first_wait_ms = -1;
	snprintf(acc.status_url, sizeof(acc.status_url), "%s",
	    BASE "/securitydomain/download/pending?api-version=7.2");
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_DOWNLOAD, &acc, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_string_equal(st.details, "The resource is active.");
	assert_string_equal(st.via, MHSM_FALLBACK_STATUS);
	assert_string_equal(s.urls[0], acc.status_url);
	for (i = 1; i < 4; i++)
		assert_string_equal(s.urls[i], BASE
		    "/securitydomain/upload/pending?api-version=7.2");
	/* no reply carried Retry-After: never a busy loop all the same */
	for (i = 0; i < s.n_sleeps; i++)
		assert_true(s.sleeps[i] >= MHSM_MIN_POLL_MS);
	mhsm_free(m);
}

/* 2020: the upload's status URL has no api-version; Succeeded */
static void
test_wait_recorded_upload_2020(void **state)
{
	static const struct step steps[] = {
		{ 0, 200, "{\"status\":\"InProgress\",\"statusDetails\":"
		    "\"Security Domain restore is in progress\"}", -1 },
		{ 0, 200, "{\"status\":\"Succeeded\",\"statusDetails\":"
		    "\"Security Domain operation complete\"}", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	memset(&acc, 0, sizeof(acc));
	acc.first_wait_ms = -1;
	snprintf(acc.status_url, sizeof(acc.status_url), "%s",
	    "https://CONTOSO.managedhsm.azure.net:443/securitydomain/upload/"
	    "pending");
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_UPLOAD, &acc, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_string_equal(st.word, "Succeeded");
	assert_string_equal(st.details, "Security Domain operation complete");
	assert_string_equal(s.urls[0], BASE
	    "/securitydomain/upload/pending?api-version=7.2");
	mhsm_free(m);
}

/* A status URL on another host: the token does not go there. */
static void
test_wait_foreign_url(void **state)
{
	static const struct step steps[] = {
		{ 0, 200, SUCCESS_2023, -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	memset(&acc, 0, sizeof(acc));
	acc.first_wait_ms = -1;
	snprintf(acc.status_url, sizeof(acc.status_url), "%s",
	    "https://evil.example/securitydomain/upload/pending");
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_UPLOAD, &acc, &st, &e), 0);
	assert_string_equal(s.urls[0], BASE
	    "/securitydomain/upload/pending?api-version=7.2");
	mhsm_free(m);
}

/* Transient errors are polled through, within the timeout; 403 is not. */
static void
test_wait_transient(void **state)
{
	static const struct step steps[] = {
		{ 0, 503, "", -1 },
		{ SD_ERR_IO, 0, NULL, -1 },
		{ 0, 429, "", 0 },                 /* Retry-After: 0 */
		{ 0, 404, "", -1 },                /* the fallback's 4xx too */
		{ 0, 200, "{\"status\":\"Succ", -1 },
		{ 0, 200, IN_PROGRESS_2023, 0 },
		{ 0, 200, SUCCESS_2023, -1 },
	};
	static const struct step forbidden[] = {
		{ 0, 403, "{\"error\":{\"code\":\"AccessDenied\",\"message\":"
		    "\"no\"}}", -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;
	size_t i;

	(void)state;
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_DOWNLOAD, NULL, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_int_equal(s.next, N(steps));
	for (i = 0; i < s.n_sleeps; i++)
		assert_true(s.sleeps[i] >= MHSM_MIN_POLL_MS);
	/* after the 429's Retry-After: 0, the backoff, not an instant retry */
	assert_true(s.sleeps[3] >= 1000);
	mhsm_free(m);
	m = fake_mhsm(&s, forbidden, N(forbidden), 600000, 0, NULL);
	assert_int_equal(mhsm_wait(m, MHSM_OP_UPLOAD, NULL, &st, &e),
	    SD_ERR_AUTH);
	assert_int_equal(s.next, 1);
	mhsm_free(m);
}

/* A Retry-After of 0 on a retried request: the backoff, not 0. */
static void
test_retry_after_zero(void **state)
{
	static const struct step steps[] = {
		{ 0, 429, "", 0 }, { 0, 429, "", 0 },
		{ 0, 200, SUCCESS_2023, -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), 0);
	assert_int_equal(s.n_sleeps, 2);
	assert_int_equal(s.sleeps[0], 1000);
	assert_int_equal(s.sleeps[1], 2000);
	mhsm_free(m);
}

/* 2020: download answers 200 and there is nothing to wait for. */
static void
test_download_sync(void **state)
{
	static const struct step steps[] = { { 0, 200, SD_REPLY, -1 } };
	static const struct step async[] = { { 0, 202, SD_REPLY, -1 } };
	static const char *const adv[] = {
		BASE "/securitydomain/download/pending?api-version=7.2"
	};
	struct script s;
	struct sd_err e = { "" };
	struct mhsm *m;
	struct mhsm_accepted first;
	char *sd, *raw;
	size_t sd_len, raw_len;

	(void)state;
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), 0);
	assert_int_equal(first.http_status, 200);
	assert_string_equal(first.status_url, "");
	free(sd);
	mhsm_free(m);
	m = fake_mhsm(&s, async, N(async), 600000, 0, NULL);
	s.async_ops = adv;
	assert_int_equal(mhsm_download(m, "{}", 2, &sd, &sd_len, &raw,
	    &raw_len, &first, &e), 0);
	assert_int_equal(first.http_status, 202);
	assert_string_equal(first.status_url, adv[0]);
	free(sd);
	mhsm_free(m);
}

/* download/pending not served: hsm status asks upload/pending. */
static void
test_pending_fallback(void **state)
{
	static const struct step steps[] = {
		{ 0, 404, "", -1 }, { 0, 200, SUCCESS_2023, -1 },
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	m = fake_mhsm(&s, steps, N(steps), 600000, 0, NULL);
	assert_int_equal(mhsm_pending(m, MHSM_OP_DOWNLOAD, &st, &e), 0);
	assert_int_equal(st.state, MHSM_SUCCESS);
	assert_string_equal(st.via, MHSM_FALLBACK_STATUS);
	assert_non_null(strstr(s.urls[0], "/download/pending?api-version=7.2"));
	assert_non_null(strstr(s.urls[1], "/upload/pending?api-version=7.2"));
	mhsm_free(m);
}

#define CHALLENGE "Bearer authorization=\"https://login.microsoftonline.com/" \
	"72f988bf-86f1-41af-91ab-2d7cd011db47\", resource=\"https://" \
	"managedhsm.azure.net\""

static void
test_challenge_parse(void **state)
{
	struct mhsm_challenge ch;

	(void)state;
	assert_int_equal(mhsm_challenge_parse(CHALLENGE, &ch), 0);
	assert_string_equal(ch.tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
	assert_string_equal(ch.resource, "https://managedhsm.azure.net");
	assert_string_equal(ch.authority, "https://login.microsoftonline.com/"
	    "72f988bf-86f1-41af-91ab-2d7cd011db47");
	/* the newer SDKs' spelling */
	assert_int_equal(mhsm_challenge_parse("Bearer authorization_uri="
	    "\"https://login.microsoftonline.com/contoso.onmicrosoft.com/\", "
	    "scope=\"https://managedhsm.azure.net/.default\"", &ch), 0);
	assert_string_equal(ch.tenant, "contoso.onmicrosoft.com");
	assert_string_equal(ch.resource, "https://managedhsm.azure.net");
	assert_int_equal(mhsm_challenge_parse("Basic realm=\"x\"", &ch),
	    SD_ERR_FORMAT);
	assert_int_equal(mhsm_challenge_parse("", &ch), SD_ERR_FORMAT);
	assert_int_equal(mhsm_challenge_parse("Bearer authorization=\"https:"
	    "//login.example/a b\"", &ch), SD_ERR_FORMAT);
	assert_int_equal(mhsm_challenge_parse("Bearer resource=\"https://"
	    "managedhsm.azure.net\"", &ch), SD_ERR_FORMAT);

	assert_true(mhsm_resource_ok(BASE, "https://managedhsm.azure.net"));
	assert_true(mhsm_resource_ok("http://127.0.0.1:4443",
	    "https://managedhsm.azure.net"));
	assert_true(mhsm_resource_ok("https://h.managedhsm.usgovcloudapi.net",
	    "https://managedhsm.usgovcloudapi.net"));
	assert_false(mhsm_resource_ok(BASE, "https://management.azure.com"));
	assert_false(mhsm_resource_ok(BASE, "https://vault.azure.net"));
	assert_false(mhsm_resource_ok(BASE, "https://net"));
	assert_false(mhsm_resource_ok(BASE, "http://managedhsm.azure.net"));
}

static int reauth_calls;
static struct sd_secret *tenant_token;

static int
fake_reauth(void *ctx, const struct mhsm_challenge *ch,
    const struct sd_secret **tok, struct sd_err *e)
{
	(void)ctx;
	(void)e;
	reauth_calls++;
	assert_string_equal(ch->tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
	*tok = tenant_token;
	return 0;
}

static void
test_challenge_reauth(void **state)
{
	static const struct step once[] = {
		{ 0, 401, "", -1 }, { 0, 200, SUCCESS_2023, -1 },
	};
	static const struct step twice[] = {
		{ 0, 401, "", -1 }, { 0, 401, "", -1 },
	};
	static const char *const hdr[] = { CHALLENGE, CHALLENGE };
	static const char *const other[] = {
		"Bearer authorization=\"https://login.microsoftonline.com/t1\", "
		"resource=\"https://management.azure.com\""
	};
	struct script s;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m;

	(void)state;
	assert_non_null(tenant_token = sd_secret_dup((const uint8_t *)"tenant",
	    6));
	m = fake_mhsm(&s, once, N(once), 600000, 0, NULL);
	s.www_auths = hdr;
	/* no callback: the 401 is final, its challenge reported */
	assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), SD_ERR_AUTH);
	assert_string_equal(mhsm_fault(m)->challenge.tenant,
	    "72f988bf-86f1-41af-91ab-2d7cd011db47");
	assert_int_equal(mhsm_fault(m)->reauth, 0);
	mhsm_free(m);

	/* with one: asked once, the request sent again with the new token */
	m = fake_mhsm(&s, once, N(once), 600000, 0, NULL);
	s.www_auths = hdr;
	mhsm_free(m);
	{
		struct mhsm_config cfg;
		static struct net_transport t;
		static struct net_clock clk;

		t.send = fake_send;
		t.ctx = &s;
		clk.now_ms = fake_now;
		clk.sleep_ms = fake_sleep;
		clk.ctx = &s;
		memset(&cfg, 0, sizeof(cfg));
		cfg.url = BASE;
		cfg.token = token;
		cfg.transport = &t;
		cfg.clock = &clk;
		cfg.timeout_ms = 600000;
		cfg.reauth = fake_reauth;
		reauth_calls = 0;
		assert_int_equal(mhsm_new(&cfg, &m, &e), 0);
		assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e), 0);
		assert_int_equal(reauth_calls, 1);
		assert_string_equal(s.tokens[0], "tok3n");
		assert_string_equal(s.tokens[1], "tenant");
		assert_int_equal(s.n_sleeps, 0);
		mhsm_free(m);

		/* refused again: final, once only */
		memset(&s, 0, sizeof(s));
		s.steps = twice;
		s.n = N(twice);
		s.www_auths = hdr;
		reauth_calls = 0;
		assert_int_equal(mhsm_new(&cfg, &m, &e), 0);
		assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e),
		    SD_ERR_AUTH);
		assert_int_equal(reauth_calls, 1);
		assert_int_equal(s.next, 2);
		assert_int_equal(mhsm_fault(m)->reauth, 1);
		mhsm_free(m);

		/* a resource that is not this HSM's: no token fetched for it */
		memset(&s, 0, sizeof(s));
		s.steps = twice;
		s.n = 1;
		s.www_auths = other;
		reauth_calls = 0;
		assert_int_equal(mhsm_new(&cfg, &m, &e), 0);
		assert_int_equal(mhsm_pending(m, MHSM_OP_UPLOAD, &st, &e),
		    SD_ERR_AUTH);
		assert_int_equal(reauth_calls, 0);
		assert_int_equal(mhsm_fault(m)->reauth, -1);
		assert_non_null(strstr(mhsm_fault(m)->reauth_msg,
		    "management.azure.com"));
		mhsm_free(m);
	}
	sd_secret_free(tenant_token);
}

static void
test_url_status(void **state)
{
	struct sd_err e = { "" };
	char *out;

	(void)state;
	assert_int_equal(net_url_status(BASE, BASE "/securitydomain/download/"
	    "pending?api-version=7.2", "7.2", &out, &e), 0);
	assert_string_equal(out, BASE "/securitydomain/download/pending?"
	    "api-version=7.2");
	free(out);
	assert_int_equal(net_url_status(BASE, BASE "/securitydomain/upload/"
	    "pending", "7.2", &out, &e), 0);
	assert_string_equal(out, BASE "/securitydomain/upload/pending?"
	    "api-version=7.2");
	free(out);
	assert_int_equal(net_url_status(BASE, BASE "/x?a=1", "7.2", &out, &e),
	    0);
	assert_string_equal(out, BASE "/x?a=1&api-version=7.2");
	free(out);
	assert_int_equal(net_url_status(BASE, "https://evil.example/x", "7.2",
	    &out, &e), SD_ERR_ARG);
	assert_null(out);
	assert_int_equal(net_url_status(BASE, "http://contoso.managedhsm.azure."
	    "net/x", "7.2", &out, &e), SD_ERR_ARG);
	assert_int_equal(net_url_status(BASE, "https://contoso.managedhsm."
	    "azure.net:8443/x", "7.2", &out, &e), SD_ERR_ARG);
	assert_int_equal(net_url_status(BASE, "https://contoso.managedhsm."
	    "azure.net.evil.example/x", "7.2", &out, &e), SD_ERR_ARG);
	assert_int_equal(net_url_status(BASE, "not a url", "7.2", &out, &e),
	    SD_ERR_ARG);
}

/* --- the token ---------------------------------------------------------- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_token_sources(void **state)
{
	char dir[] = "/tmp/sdtool-test-net.XXXXXX", path[512], az[512];
	char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	struct sd_secret *tok = NULL;
	enum net_token_source src;
	struct sd_err e = { "" };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, "  eyJ0eXAi.payload.sig \r\nsecond line\n", 0600);
	assert_int_equal(net_token_load(path, &tok, &src, &e), 0);
	assert_int_equal(src, NET_TOKEN_FILE);
	assert_int_equal(tok->len, 20);
	assert_memory_equal(tok->p, "eyJ0eXAi.payload.sig", 20);
	sd_secret_free(tok);
	write_file(path, "\n", 0600);
	assert_int_equal(net_token_load(path, &tok, &src, &e), SD_ERR_FORMAT);
	assert_null(strstr(e.msg, "eyJ"));
	write_file(path, "two words\n", 0600);
	assert_int_equal(net_token_load(path, &tok, &src, &e), SD_ERR_FORMAT);
	assert_null(strstr(e.msg, "words"));   /* never echoed */
	assert_int_equal(net_token_load("/nonexistent/t", &tok, &src, &e),
	    SD_ERR_IO);

	/* the environment, wiped once read */
	setenv(NET_TOKEN_ENV_NAME, "env-token-1", 1);
	assert_int_equal(net_token_load(NULL, &tok, &src, &e), 0);
	assert_int_equal(src, NET_TOKEN_ENV);
	assert_memory_equal(tok->p, "env-token-1", 11);
	assert_null(getenv(NET_TOKEN_ENV_NAME));
	sd_secret_free(tok);

	/* nothing at all: say how to give one */
	setenv("PATH", dir, 1);
	assert_int_equal(net_token_load(NULL, &tok, &src, &e), SD_ERR_ARG);
	assert_non_null(strstr(e.msg, "--access-token-file"));

	/* azure-cli, through a pipe; its arguments hold no secret */
	snprintf(az, sizeof(az), "%s/az", dir);
	write_file(az, "#!/bin/sh\n[ \"$*\" = \"account get-access-token "
	    "--resource https://managedhsm.azure.net --query accessToken "
	    "--output tsv\" ] || exit 9\necho az-token-2\n", 0755);
	assert_int_equal(net_token_load(NULL, &tok, &src, &e), 0);
	assert_int_equal(src, NET_TOKEN_AZ);
	assert_int_equal(tok->len, 10);
	assert_memory_equal(tok->p, "az-token-2", 10);
	sd_secret_free(tok);
	write_file(az, "#!/bin/sh\necho 'Please run az login' >&2\nexit 1\n",
	    0755);
	assert_int_equal(net_token_load(NULL, &tok, &src, &e), SD_ERR_AUTH);
	assert_non_null(strstr(e.msg, "az login"));
	assert_null(tok);

	if (old_path != NULL)
		setenv("PATH", old_path, 1);
	free(old_path);
	unlink(az);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_url_for_name),
		cmocka_unit_test(test_certset_vectors),
		cmocka_unit_test(test_certset_refused),
		cmocka_unit_test(test_sd_from_reply),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_error_parse),
		cmocka_unit_test(test_exchange_cert),
		cmocka_unit_test(test_sd_check),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_backoff_and_give_up),
		cmocka_unit_test(test_no_reply),
		cmocka_unit_test(test_export_transient),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_token_sources),
		cmocka_unit_test(test_wait_recorded_download),
		cmocka_unit_test(test_wait_recorded_upload_2020),
		cmocka_unit_test(test_wait_foreign_url),
		cmocka_unit_test(test_wait_transient),
		cmocka_unit_test(test_retry_after_zero),
		cmocka_unit_test(test_download_sync),
		cmocka_unit_test(test_pending_fallback),
		cmocka_unit_test(test_challenge_parse),
		cmocka_unit_test(test_challenge_reauth),
		cmocka_unit_test(test_url_status),
	};
	int r;

	if (sodium_init() < 0)
		return 1;
	if ((token = sd_secret_dup((const uint8_t *)"tok3n", 5)) == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	sd_secret_free(token);
	return r;
}
