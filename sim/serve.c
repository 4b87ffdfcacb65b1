/*
 * sdtool sim serve: the simulated HSM of `sdtool sim` behind the Managed
 * HSM security-domain API, over HTTPS on a loopback address, so that
 * `sdtool hsm` (or any client of the real service) can be drilled and
 * tested against it without a network.
 *
 * It answers with the status codes and bodies of the real service (see
 * ../shared/vectors/service/), requires a bearer token, and injects faults
 * when asked (--fault), to prove that clients retry what should be retried
 * and report the rest.  The state logic is simhsm.c's, shared with the
 * command-line subcommands, so both always agree.
 *
 * Threads: libmicrohttpd runs one thread per connection; one mutex covers
 * the simulated HSM's state, the fault counters and the operations'
 * progress.  The main thread only waits for SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "../pki/certgen.h"
#include "serve.h"
#include "simhsm.h"
#include "../hw/key.h"
#include "../net/mhsm.h"
#include "../net/net.h"
#include "../shares/b64.h"
#include "../sys/file.h"

/* What the recordings show the service saying (issue 10). */
#define TXT_CONFIRMING   "The Security Domain is being confirmed."
#define TXT_RESTORING    "The Security Domain is being restored."
#define TXT_ACTIVE       "The resource is active."
#define TXT_2020_RESTORE "Security Domain restore is in progress"
#define TXT_2020_DONE    "Security Domain operation complete"

#define TLS_CA_NAME      "tls-ca.pem"
#define TLS_CERT_NAME    "tls-server.pem"
#define TLS_KEY_NAME     "tls-server.key"
#define TOKEN_NAME       "token"
#define URL_NAME         "serve.url"
#define TLS_DAYS         30
#define MAX_BODY         (4u << 20)

/* The five endpoints, also the names a fault may target. */
enum endpoint {
	EP_ANY = -1, EP_DOWNLOAD, EP_DOWNLOAD_STATUS, EP_EXCHANGE_KEY,
	EP_UPLOAD, EP_UPLOAD_STATUS, EP_COUNT
};

static const struct {
	const char *name;     /* for --fault ...@name */
	const char *method;
	const char *path;
} endpoints[EP_COUNT] = {
	{ "download", "POST", "/securitydomain/download" },
	{ "download-status", "GET", "/securitydomain/download/pending" },
	{ "exchange-key", "GET", "/securitydomain/upload" },
	{ "upload", "POST", "/securitydomain/upload" },
	{ "upload-status", "GET", "/securitydomain/upload/pending" },
};

enum fault_kind {
	F_429, F_503, F_SLOW, F_DROP, F_MALFORMED, F_401, F_403,
	F_EXPORT_FAILED, F_FAILED, F_COUNT
};

static const char *const fault_names[F_COUNT] = {
	"429", "503", "slow", "drop", "malformed", "401", "403",
	"export-failed", "failed",
};


/* A long-running operation as the status endpoints report it. */
struct op {
	int started;
	int polls_left;        /* InProgress answers before the end */
	int fails;             /* ends Failed, with details */
	char details[600];
};

struct server {
	const char *dir;
	struct sd_secret *token;
	struct sim_fault faults[SIM_MAX_FAULTS];
	size_t n_faults;
	int pending;
	int retry_after;
	int slow_seconds;
	int legacy;            /* --build 2020 */
	int no_dl_pending;
	const char *tenant;
	const struct sim_serve_hooks *hooks;
	char base_url[64];     /* https://127.0.0.1:PORT, for status URLs */
	pthread_mutex_t lock;
	struct op ops[2];      /* MHSM_OP_DOWNLOAD, MHSM_OP_UPLOAD */
	int latest;            /* the op started last: upload/pending's */
	unsigned long requests;
};

/* Per connection: the request body, gathered as it arrives. */
struct request {
	char *body;
	size_t len;
	int too_big;
};

int
sim_fault_parse(const char *spec, struct sim_fault *f)
{
	char kind[32];
	const char *colon, *at, *end;
	size_t n;
	long count = 1;
	int i;

	at = strchr(spec, '@');
	colon = strchr(spec, ':');
	if (colon != NULL && at != NULL && colon > at)
		return -1;
	end = colon ? colon : at ? at : spec + strlen(spec);
	if ((n = (size_t)(end - spec)) == 0 || n >= sizeof(kind))
		return -1;
	memcpy(kind, spec, n);
	kind[n] = '\0';
	for (i = 0; i < F_COUNT; i++)
		if (strcmp(kind, fault_names[i]) == 0)
			break;
	if (i == F_COUNT)
		return -1;
	f->kind = i;
	if (colon != NULL) {
		char *stop;

		errno = 0;
		count = strtol(colon + 1, &stop, 10);
		if (errno != 0 || stop == colon + 1 || count < 1 ||
		    count > 1000 || (*stop != '\0' && *stop != '@'))
			return -1;
	}
	f->left = (int)count;
	f->ep = EP_ANY;
	if (at != NULL) {
		for (i = 0; i < EP_COUNT; i++)
			if (strcmp(at + 1, endpoints[i].name) == 0)
				break;
		if (i == EP_COUNT)
			return -1;
		f->ep = i;
	}
	return 0;
}

/* Take one fault meant for this endpoint, or -1.  Under the lock. */
static int
take_fault(struct server *s, enum endpoint ep)
{
	size_t i;

	for (i = 0; i < s->n_faults; i++)
		if (s->faults[i].left > 0 && (s->faults[i].ep == EP_ANY ||
		    s->faults[i].ep == ep)) {
			s->faults[i].left--;
			return s->faults[i].kind;
		}
	return -1;
}

/* --- the log ---------------------------------------------------------- */

/* One line of the server's log, to the caller's hook. */
__attribute__((format(printf, 2, 3)))
static void
serve_log(const struct server *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (s->hooks == NULL || s->hooks->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->hooks->log(s->hooks->ctx, line);
}

/* --- replies ----------------------------------------------------------- */

static enum MHD_Result
reply(const struct server *s, struct MHD_Connection *c, enum endpoint ep,
    unsigned status, const char *body, int retry_after, int fault,
    int truncate)
{
	struct MHD_Response *resp;
	char rid[40], ra[16], hdr[512];
	const char *api;
	uint8_t b[8];
	size_t len = body ? strlen(body) : 0;
	enum MHD_Result ret;

	/* a malformed reply: the body cut in half */
	if (truncate)
		len /= 2;
	if ((resp = MHD_create_response_from_buffer(len, (void *)(body ? body :
	    ""), MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	/* as the service: JSON even when empty (but 204 has no content) */
	if (status != 204)
		MHD_add_response_header(resp, "Content-Type",
		    "application/json; charset=utf-8");
	randombytes_buf(b, sizeof(b));
	snprintf(rid, sizeof(rid), "sim-%02x%02x%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
	MHD_add_response_header(resp, "x-ms-request-id", rid);
	if (retry_after >= 0) {
		snprintf(ra, sizeof(ra), "%d", retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	if (status == 401) {
		snprintf(hdr, sizeof(hdr), "Bearer authorization=\"https://"
		    "login.microsoftonline.com/%s\", resource=\""
		    NET_TOKEN_RESOURCE "\"", s->tenant);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr);
	}
	if (status == 202 && (ep == EP_DOWNLOAD || ep == EP_UPLOAD)) {
		/*
		 * Absolute, with the api-version asked (2022 on, both
		 * operations); the 2020 builds' upload URL had none.
		 */
		api = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
		    "api-version");
		snprintf(hdr, sizeof(hdr), "%s%s%s%s", s->base_url,
		    endpoints[ep == EP_DOWNLOAD ? EP_DOWNLOAD_STATUS :
		    EP_UPLOAD_STATUS].path, s->legacy || api == NULL ? "" :
		    "?api-version=", s->legacy || api == NULL ? "" : api);
		MHD_add_response_header(resp, "Azure-AsyncOperation", hdr);
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);

	/* one line per request */
	serve_log(s, "%s %s -> %u%s%s%s", ep >= 0 ? endpoints[ep].method : "?",
	    ep >= 0 ? endpoints[ep].path : "?", status,
	    fault >= 0 ? " (fault " : "", fault >= 0 ? fault_names[fault] : "",
	    fault >= 0 ? ")" : "");
	return ret;
}

/* {"error":{"code":C,"message":M}}, as the service words its refusals. */
static enum MHD_Result
reply_error(struct server *s, struct MHD_Connection *c, enum endpoint ep,
    unsigned status, const char *code, const char *message, int retry_after,
    int fault)
{
	json_t *o;
	char *text;
	enum MHD_Result ret;

	o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
	    message);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	ret = reply(s, c, ep, status, text ? text : "", retry_after, fault, 0);
	free(text);
	json_decref(o);
	return ret;
}

/* {"status":...,"status_details":...} (statusDetails for 2020 builds). */
static char *
status_body(const struct server *s, const char *word, const char *details)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "status", json_string(word));
	json_object_set_new(o, s->legacy ? "statusDetails" : "status_details",
	    json_string(details));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

/* --- the endpoints (called with the lock held) ------------------------- */

/* A JWK of the download request to a certificate; n/e must agree. */
static int
jwk_cert(const json_t *jwk, size_t i, X509 **out, char *why, size_t size)
{
	const json_t *x5c = json_object_get(jwk, "x5c"), *v;
	uint8_t *der = NULL, *bn = NULL;
	size_t der_len = 0, bn_len = 0;
	const unsigned char *p;
	BIGNUM *have = NULL, *want = NULL;
	X509 *x = NULL;
	int ret = -1, k;
	static const char *const params[2][2] = {
		{ "n", OSSL_PKEY_PARAM_RSA_N }, { "e", OSSL_PKEY_PARAM_RSA_E }
	};

	*out = NULL;
	if (!json_is_object(jwk) || !json_is_array(x5c) ||
	    !json_is_string(v = json_array_get(x5c, 0))) {
		snprintf(why, size, "certificates[%zu]: x5c[0] (the certificate) "
		    "is required", i);
		goto out;
	}
	if (b64std_decode(json_string_value(v), json_string_length(v), &der,
	    &der_len, NULL) == 0 && der_len <= 65536) {
		p = der;
		if ((x = d2i_X509(NULL, &p, (long)der_len)) != NULL &&
		    p != der + der_len) {
			X509_free(x);   /* trailing bytes: not just a certificate */
			x = NULL;
		}
	}
	if (x == NULL) {
		snprintf(why, size, "certificates[%zu]: x5c[0] is not a base64 "
		    "DER certificate", i);
		goto out;
	}
	for (k = 0; k < 2; k++) {
		if ((v = json_object_get(jwk, params[k][0])) == NULL)
			continue;
		if (!json_is_string(v) || b64url_decode(json_string_value(v),
		    json_string_length(v), &bn, &bn_len, NULL) != 0 ||
		    X509_get0_pubkey(x) == NULL ||
		    EVP_PKEY_get_bn_param(X509_get0_pubkey(x), params[k][1],
		    &have) != 1 ||
		    (want = BN_bin2bn(bn, (int)bn_len, NULL)) == NULL ||
		    BN_cmp(have, want) != 0) {
			snprintf(why, size, "certificates[%zu]: %s does not "
			    "match the certificate in x5c", i, params[k][0]);
			goto out;
		}
		free(bn);
		bn = NULL;
		BN_free(have);
		BN_free(want);
		have = want = NULL;
	}
	*out = x;
	x = NULL;
	ret = 0;
 out:
	ERR_clear_error();
	BN_free(have);
	BN_free(want);
	free(bn);
	free(der);
	X509_free(x);
	return ret;
}

struct sd_keep {
	char *text;
};

static int
keep_sd(void *ctx, const char *sd_json, size_t len)
{
	struct sd_keep *k = ctx;

	if ((k->text = strndup(sd_json, len)) == NULL)
		return SD_ERR_ALLOC;
	return 0;
}

static void
op_start(struct server *s, enum mhsm_op op, int fails, const char *details)
{
	struct op *o = &s->ops[op];

	o->started = 1;
	o->polls_left = s->pending;
	s->latest = (int)op;
	o->fails = fails;
	snprintf(o->details, sizeof(o->details), "%s", details ? details : "");
}

static enum MHD_Result
do_download(struct server *s, struct MHD_Connection *c,
    const struct request *rq, int fault)
{
	json_error_t jerr;
	json_t *root = NULL, *certs, *req, *o;
	X509 *x[PKI_SD_MAX_CERTS + 1] = { NULL };
	struct sd_err e = { "" };
	struct sd_keep keep = { NULL };
	char why[600], *text = NULL;
	size_t n = 0, i;
	enum MHD_Result ret;
	int r;

	if (simhsm_is_activated(s->dir)) {
		ret = reply_error(s, c, EP_DOWNLOAD, 409, "Conflict",
		    "(simulator) this HSM is already activated; its security "
		    "domain can be downloaded only once", -1, fault);
		goto out;
	}
	if ((root = json_loadb(rq->body ? rq->body : "", rq->len,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_array(certs = json_object_get(root, "certificates")) ||
	    !json_is_integer(req = json_object_get(root, "required"))) {
		ret = reply_error(s, c, EP_DOWNLOAD, 400, "BadParameter",
		    "the body must be {\"certificates\": [JWK, ...], "
		    "\"required\": M}", -1, fault);
		goto out;
	}
	if ((n = json_array_size(certs)) < PKI_SD_MIN_CERTS ||
	    n > PKI_SD_MAX_CERTS) {
		snprintf(why, sizeof(why), "%zu certificates were given; from "
		    "%d to %d are required", n, PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
		ret = reply_error(s, c, EP_DOWNLOAD, 400, "BadParameter", why,
		    -1, fault);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (jwk_cert(json_array_get(certs, i), i, &x[i], why,
		    sizeof(why)) != 0) {
			ret = reply_error(s, c, EP_DOWNLOAD, 400, "BadParameter",
			    why, -1, fault);
			goto out;
		}
	if (json_integer_value(req) < 0 || json_integer_value(req) > 100) {
		ret = reply_error(s, c, EP_DOWNLOAD, 400, "BadParameter",
		    "required is out of range", -1, fault);
		goto out;
	}
	if ((r = simhsm_activate(s->dir, x, n,
	    (unsigned)json_integer_value(req), keep_sd, &keep, NULL, &e)) != 0) {
		ret = reply_error(s, c, EP_DOWNLOAD, r == SD_ERR_RANGE ||
		    r == SD_ERR_KEY || r == SD_ERR_ARG ? 400 : 500,
		    r == SD_ERR_RANGE || r == SD_ERR_KEY || r == SD_ERR_ARG ?
		    "BadParameter" : "InternalError", e.msg, -1, fault);
		goto out;
	}
	op_start(s, MHSM_OP_DOWNLOAD, fault == F_FAILED, fault == F_FAILED ?
	    "(simulated fault) activation failed" : "");
	/* 2020: done when the reply goes, nothing to poll (none recorded) */
	if (s->legacy)
		s->ops[MHSM_OP_DOWNLOAD].polls_left = 0;
	o = json_pack("{s:s}", "value", keep.text);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	ret = reply(s, c, EP_DOWNLOAD, s->legacy ? 200 : 202, text ? text : "",
	    s->legacy ? -1 : s->retry_after, fault, fault == F_MALFORMED);
 out:
	for (i = 0; i <= PKI_SD_MAX_CERTS; i++)
		X509_free(x[i]);
	free(keep.text);
	free(text);
	json_decref(root);
	return ret;
}

static enum MHD_Result
do_status(struct server *s, struct MHD_Connection *c, enum endpoint ep,
    enum mhsm_op op, int fault)
{
	struct op *o;
	const char *word, *details;
	char *text;
	enum MHD_Result ret;

	/* upload/pending reports the operation started last (recorded) */
	if (ep == EP_UPLOAD_STATUS)
		op = (enum mhsm_op)s->latest;
	o = &s->ops[op];
	if (!o->started)
		return reply(s, c, ep, 204, NULL, -1, fault, 0);
	if (o->polls_left > 0) {
		o->polls_left--;
		word = "InProgress";
		details = op == MHSM_OP_DOWNLOAD ? TXT_CONFIRMING : s->legacy ?
		    TXT_2020_RESTORE : TXT_RESTORING;
	} else if (o->fails) {
		word = "Failed";
		details = o->details;
	} else {
		word = s->legacy ? "Succeeded" : "Success";
		details = s->legacy ? TXT_2020_DONE : TXT_ACTIVE;
	}
	text = status_body(s, word, details);
	ret = reply(s, c, ep, 200, text ? text : "", strcmp(word,
	    "InProgress") == 0 ? s->retry_after : -1, fault,
	    fault == F_MALFORMED);
	free(text);
	return ret;
}

/* The exchange key as the service sends it: a JWK inside a string. */
static char *
transfer_key_body(X509 *cert)
{
	unsigned char *der = NULL, d[EVP_MAX_MD_SIZE];
	unsigned int dl;
	char *x5c = NULL, *n = NULL, *ex = NULL, *t1 = NULL, *t256 = NULL;
	char *jwk_text = NULL, *text = NULL;
	BIGNUM *bn = NULL;
	uint8_t *buf = NULL;
	json_t *jwk = NULL, *o = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	int len, k;
	const char *params[2] = { OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E };
	char **outs[2] = { &n, &ex };

	if ((len = i2d_X509(cert, &der)) <= 0 ||
	    b64std_encode(der, (size_t)len, &x5c) != 0)
		goto out;
	for (k = 0; k < 2; k++) {
		if (EVP_PKEY_get_bn_param(pub, params[k], &bn) != 1 ||
		    (buf = malloc((size_t)BN_num_bytes(bn) + 1)) == NULL)
			goto out;
		BN_bn2bin(bn, buf);
		if (b64url_encode(buf, (size_t)BN_num_bytes(bn), outs[k]) != 0)
			goto out;
		BN_free(bn);
		bn = NULL;
		free(buf);
		buf = NULL;
	}
	if (X509_digest(cert, EVP_sha1(), d, &dl) != 1 ||
	    b64url_encode(d, dl, &t1) != 0 ||
	    X509_digest(cert, EVP_sha256(), d, &dl) != 1 ||
	    b64url_encode(d, dl, &t256) != 0)
		goto out;
	/* the members and their order in the real service's replies */
	jwk = json_pack("{s:s,s:[sss],s:s,s:s,s:s,s:[s],s:s,s:s}", "e", ex,
	    "key_ops", "wrapKey", "verify", "encrypt", "kid", "not used",
	    "kty", "RSA", "n", n, "x5c", x5c, "x5t", t1, "x5t#S256", t256);
	if (jwk == NULL || (jwk_text = json_dumps(jwk, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	o = json_pack("{s:s,s:s}", "key_format", "jwk", "transfer_key",
	    jwk_text);
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
 out:
	ERR_clear_error();
	OPENSSL_free(der);
	BN_free(bn);
	free(buf);
	free(x5c);
	free(n);
	free(ex);
	free(t1);
	free(t256);
	free(jwk_text);
	json_decref(jwk);
	json_decref(o);
	return text;
}

static enum MHD_Result
do_exchange_key(struct server *s, struct MHD_Connection *c, int fault)
{
	struct sd_err e = { "" };
	X509 *cert = NULL;
	char *text = NULL;
	enum MHD_Result ret;
	int r;

	/*
	 * An activated HSM takes back only what it activated; a new one (a
	 * state directory never activated) takes any security domain, as a
	 * newly created Managed HSM does (issue 11: recovery into a second
	 * simulated HSM).
	 */
	if ((r = simhsm_init_recovery(s->dir, NULL, NULL, &cert, &e)) != 0)
		return reply_error(s, c, EP_EXCHANGE_KEY, 500, "InternalError",
		    e.msg, -1, fault);
	if ((text = transfer_key_body(cert)) == NULL)
		ret = reply_error(s, c, EP_EXCHANGE_KEY, 500, "InternalError",
		    "(simulator) cannot encode the exchange key", -1, fault);
	else
		ret = reply(s, c, EP_EXCHANGE_KEY, 200, text, -1, fault,
		    fault == F_MALFORMED);
	free(text);
	X509_free(cert);
	return ret;
}

static enum MHD_Result
do_upload(struct server *s, struct MHD_Connection *c,
    const struct request *rq, int fault)
{
	struct sd_err e = { "" };
	struct sd_blob *blob = NULL;
	json_t *root = NULL, *v;
	char *text = NULL, *copy = NULL;
	const char *blob_text;
	json_t *st0 = NULL;
	int had_data = 0;
	size_t blob_len, n_items;
	enum MHD_Result ret;
	int r;

	if ((root = json_loadb(rq->body ? rq->body : "", rq->len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    (v = json_object_get(root, "value")) == NULL ||
	    !(json_is_string(v) || json_is_object(v))) {
		ret = reply_error(s, c, EP_UPLOAD, 400, "BadParameter",
		    "the body must be {\"value\": \"<restore blob>\"}", -1,
		    fault);
		goto out;
	}
	if (json_is_string(v)) {
		blob_text = json_string_value(v);
		blob_len = json_string_length(v);
	} else {
		if ((copy = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
		    NULL) {
			ret = reply_error(s, c, EP_UPLOAD, 500, "InternalError",
			    "out of memory", -1, fault);
			goto out;
		}
		blob_text = copy;
		blob_len = strlen(copy);
	}
	/* what is not a restore blob at all is refused at once */
	if ((r = sd_blob_parse(blob_text, blob_len, &blob, &e)) != 0) {
		ret = reply_error(s, c, EP_UPLOAD, 400, "BadParameter", e.msg,
		    -1, fault);
		goto out;
	}
	/* a new HSM (never activated) takes the SD in, rather than back */
	if (simhsm_load(s->dir, &st0, &e) == 0)
		had_data = json_object_get(st0, "data") != NULL;
	json_decref(st0);
	sd_err_clear(&e);
	r = simhsm_upload(s->dir, "the restore blob", blob_text, blob_len,
	    &n_items, &e);
	if (r == SD_ERR_ARG || r == SD_ERR_FORMAT) {
		ret = reply_error(s, c, EP_UPLOAD, 400, "BadParameter", e.msg,
		    -1, fault);
		goto out;
	}
	/* the verdict goes to the log, as `sim upload` would print it */
	if (r == 0 && had_data)
		serve_log(s, "simulated HSM %s restored: all %zu data items "
		    "match what was activated", s->dir, n_items);
	else if (r == 0)
		serve_log(s, "simulated HSM %s restored: a new HSM, it now holds "
		    "the security domain's %zu data items", s->dir, n_items);
	else
		serve_log(s, "simulated HSM %s: %s", s->dir, e.msg);
	/* the service checks the blob while the operation runs */
	op_start(s, MHSM_OP_UPLOAD, r != 0 || fault == F_FAILED, r != 0 ?
	    e.msg : fault == F_FAILED ? "(simulated fault) restore failed" :
	    "");
	text = status_body(s, "InProgress", s->legacy ? TXT_2020_RESTORE :
	    TXT_RESTORING);
	ret = reply(s, c, EP_UPLOAD, 202, text ? text : "", s->retry_after,
	    fault, fault == F_MALFORMED);
 out:
	sd_blob_free(blob);
	free(copy);
	free(text);
	json_decref(root);
	return ret;
}

/* --- key operations (issue 11): /keys/{name}/create|backup, /keys/restore */

/* A reply to a key operation, logged as the others are. */
static enum MHD_Result
keys_reply(const struct server *s, struct MHD_Connection *c,
    const char *method, const char *url,
    unsigned status, const char *code, const char *message, const char *body)
{
	struct MHD_Response *resp;
	json_t *o = NULL;
	char *text = NULL;
	enum MHD_Result ret;

	if (body == NULL) {
		o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
		    message);
		text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
		    NULL;
		body = text ? text : "";
	}
	if ((resp = MHD_create_response_from_buffer(strlen(body),
	    (void *)body, MHD_RESPMEM_MUST_COPY)) == NULL) {
		free(text);
		json_decref(o);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	    "application/json; charset=utf-8");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	serve_log(s, "%s %s -> %u%s%s", method, url, status, message ? ": " :
	    "", message ? message : "");
	free(text);
	json_decref(o);
	return ret;
}

static enum MHD_Result
do_keys(struct server *s, struct MHD_Connection *c, const char *url,
    const char *method, const struct request *rq)
{
	struct sd_err e = { "" };
	const char *host, *api, *op, *path;
	char name[128], *reply = NULL, *addr = NULL, *body = NULL;
	char *logurl = NULL;
	json_t *root = NULL, *v;
	size_t nlen;
	unsigned status = 200;
	enum MHD_Result ret;
	int r;

	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	api = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "api-version");
	if (host == NULL)
		host = "localhost";
	/* the log shows the api-version each call came with */
	path = url;
	if (api != NULL && asprintf(&logurl, "%s?api-version=%s", url, api) !=
	    -1)
		url = logurl;
	else
		logurl = NULL;
	pthread_mutex_lock(&s->lock);
	if (strcmp(method, "POST") != 0) {
		ret = keys_reply(s, c, method, url, 405, "MethodNotAllowed",
		    "(simulator) only POST is served under /keys/", NULL);
		goto out;
	}
	if (api == NULL) {
		ret = keys_reply(s, c, method, url, 400, "BadParameter",
		    "The api-version query parameter is missing", NULL);
		goto out;
	}
	if (rq->too_big) {
		ret = keys_reply(s, c, method, url, 413, "RequestTooLarge",
		    "the request body is too large", NULL);
		goto out;
	}
	if (strcmp(path, "/keys/restore") == 0) {
		if ((root = json_loadb(rq->body ? rq->body : "", rq->len,
		    JSON_REJECT_DUPLICATES, NULL)) == NULL ||
		    !json_is_string(v = json_object_get(root, "value"))) {
			ret = keys_reply(s, c, method, url, 400, "BadParameter",
			    "the body must be {\"value\": \"<key backup>\"}",
			    NULL);
			goto out;
		}
		r = simhsm_key_restore(s->dir, json_string_value(v),
		    json_string_length(v), host, &reply, &e);
	} else {
		op = strrchr(path, '/');
		nlen = (size_t)(op - (path + 6));
		if (op <= path + 6 || nlen >= sizeof(name) ||
		    (strcmp(op, "/create") != 0 && strcmp(op, "/backup") != 0)) {
			ret = keys_reply(s, c, method, url, 404, "NotFound",
			    "(simulator) it serves /keys/{name}/create, "
			    "/keys/{name}/backup and /keys/restore", NULL);
			goto out;
		}
		memcpy(name, path + 6, nlen);
		name[nlen] = '\0';
		if (strcmp(op, "/create") == 0)
			r = simhsm_key_create(s->dir, name, host, &reply, &e);
		else {
			if (asprintf(&addr, "https://%s%s?api-version=%s", host,
			    path, api) == -1) {
				addr = NULL;
				ret = keys_reply(s, c, method, url, 500,
				    "InternalError", "out of memory", NULL);
				goto out;
			}
			if ((r = simhsm_key_backup(s->dir, name, addr, &body,
			    &e)) == 0) {
				root = json_pack("{s:s}", "value", body);
				reply = root ? json_dumps(root, JSON_COMPACT) :
				    NULL;
			}
		}
	}
	switch (r) {
	case 0: break;
	case SD_ERR_NO_SHARE: status = 404; break;
	case SD_ERR_RANGE: status = 409; break;
	case SD_ERR_ARG: case SD_ERR_FORMAT: case SD_ERR_AUTH: status = 400;
		break;
	default: status = 500; break;
	}
	if (r != 0)
		ret = keys_reply(s, c, method, url, status, status == 404 ?
		    "KeyNotFound" : status == 409 ? "Conflict" : status == 400 ?
		    "BadParameter" : "InternalError", e.msg, NULL);
	else
		ret = keys_reply(s, c, method, url, 200, NULL, NULL, reply ? reply :
		    "");
 out:
	pthread_mutex_unlock(&s->lock);
	free(logurl);
	free(reply);
	free(addr);
	free(body);
	json_decref(root);
	return ret;
}

/* --- the request handler ---------------------------------------------- */

static int
token_ok(const struct server *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	n = strlen(h);
	return n == s->token->len && sodium_memcmp(h, s->token->p, n) == 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;
	enum endpoint ep;
	enum MHD_Result ret;
	char *nb;
	int fault, i;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (rq->len + *upload_data_size > MAX_BODY)
			rq->too_big = 1;
		else if ((nb = realloc(rq->body, rq->len + *upload_data_size +
		    1)) == NULL)
			rq->too_big = 1;
		else {
			memcpy(nb + rq->len, upload_data, *upload_data_size);
			rq->body = nb;
			rq->len += *upload_data_size;
			rq->body[rq->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	while (url[0] == '/' && url[1] == '/')   /* "//securitydomain/..." */
		url++;
	ep = EP_ANY;
	for (i = 0; i < EP_COUNT; i++)
		if (strcmp(url, endpoints[i].path) == 0) {
			ep = (enum endpoint)i;
			if (strcmp(method, endpoints[i].method) == 0)
				break;
		}
	if (i == EP_COUNT && strncmp(url, "/keys/", 6) == 0) {
		if (!token_ok(s, c))
			return keys_reply(s, c, method, url, 401, "Unauthorized",
			    "AKV10000: Request is missing a Bearer or PoP token.",
			    NULL);
		return do_keys(s, c, url, method, rq);
	}
	if (i == EP_COUNT) {
		if (ep != EP_ANY)
			return reply_error(s, c, ep, 405, "MethodNotAllowed",
			    "method not allowed here", -1, -1);
		return reply_error(s, c, EP_ANY, 404, "NotFound",
		    "(simulator) no such endpoint: it serves only "
		    "/securitydomain/...", -1, -1);
	}

	pthread_mutex_lock(&s->lock);
	s->requests++;
	fault = take_fault(s, ep);
	pthread_mutex_unlock(&s->lock);

	switch (fault) {
	case F_DROP:
		/* close the connection without a word, before doing anything */
		serve_log(s, "%s %s -> dropped (fault drop)",
		    endpoints[ep].method, endpoints[ep].path);
		return MHD_NO;
	case F_SLOW:
		sleep((unsigned)s->slow_seconds);
		break;
	case F_429:
		return reply_error(s, c, ep, 429, "Throttled", "(simulated "
		    "fault) Request was not processed because too many requests "
		    "were received", s->retry_after, fault);
	case F_503:
		return reply_error(s, c, ep, 503, "ServiceUnavailable",
		    "(simulated fault) The service is temporarily unavailable",
		    s->retry_after, fault);
	case F_401:
		return reply_error(s, c, ep, 401, "Unauthorized",
		    "(simulated fault) AKV10022: Invalid audience", -1, fault);
	case F_403:
		return reply_error(s, c, ep, 403, "AccessDenied",
		    "(simulated fault) Not authorized to perform Security "
		    "Domain operations", -1, fault);
	case F_EXPORT_FAILED:
		if (ep == EP_DOWNLOAD)
			return reply_error(s, c, ep, 400, "BadParameter",
			    "(simulated fault) " MHSM_EXPORT_TRANSIENT,
			    s->retry_after, fault);
		break;
	default:
		break;
	}
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
		/* recorded: empty on POST download, "OK" on GET upload */
		return reply(s, c, ep, 401, ep == EP_EXCHANGE_KEY ? "OK" : "",
		    -1, fault, 0);
	if (!token_ok(s, c))
		return reply_error(s, c, ep, 401, "Unauthorized",
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_AUTHORIZATION) == NULL ?
		    "AKV10000: Request is missing a Bearer or PoP token." :
		    "(simulator) the bearer token is not the one this simulated "
		    "HSM expects", -1, fault);
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "api-version") == NULL)
		return reply_error(s, c, ep, 400, "BadParameter",
		    "The api-version query parameter is missing", -1, fault);
	if (rq->too_big)
		return reply_error(s, c, ep, 413, "RequestTooLarge",
		    "the request body is too large", -1, fault);

	pthread_mutex_lock(&s->lock);
	switch (ep) {
	case EP_DOWNLOAD: ret = do_download(s, c, rq, fault); break;
	case EP_DOWNLOAD_STATUS:
		if (s->no_dl_pending)
			ret = reply_error(s, c, ep, 404, "NotFound",
			    "(simulator, --no-download-pending) no such "
			    "endpoint", -1, fault);
		else
			ret = do_status(s, c, ep, MHSM_OP_DOWNLOAD, fault);
		break;
	case EP_EXCHANGE_KEY: ret = do_exchange_key(s, c, fault); break;
	case EP_UPLOAD: ret = do_upload(s, c, rq, fault); break;
	case EP_UPLOAD_STATUS:
		ret = do_status(s, c, ep, MHSM_OP_UPLOAD, fault);
		break;
	default: ret = MHD_NO; break;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void
request_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

__attribute__((format(printf, 2, 0)))
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct server *s = cls;
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	serve_log(s, "warning: libmicrohttpd: %s", buf);
}

/* --- TLS: a test CA and a server certificate for 127.0.0.1 ------------- */

static const struct certgen_ext tls_ca_exts[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ 0, NULL }
};

static const struct certgen_ext tls_server_exts[] = {
	{ NID_basic_constraints, "CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth" },
	{ NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL }
};

/* A certificate for key, signed by issuer_key (itself when NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    int ca)
{
	struct certgen_tmpl t = { .issuer = issuer, .backdate = 3600,
	    .days = TLS_DAYS, .exts = ca ? tls_ca_exts : tls_server_exts };
	struct certgen_signer s = { .key = issuer_key ? issuer_key : key };
	struct sd_err e = { "" };
	X509_NAME *name = NULL;
	X509 *x = NULL;

	if ((name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"sdtool sim (TEST ONLY)", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		goto out;
	t.subject = name;
	if (certgen_build(key, &t, &s, &x, &e) != 0)
		x = NULL;
 out:
	X509_NAME_free(name);
	return x;
}

static char *
cert_pem(X509 *x)
{
	struct sd_err e = { "" };
	char *pem = NULL;
	size_t len;

	if (certgen_cert_pem(x, &pem, &len, &e) != 0)
		return NULL;
	return pem;
}

/*
 * The TLS files in DIR: kept from an earlier start while the server
 * certificate is valid, otherwise made anew.  The CA's private key is
 * never kept: nothing else can be signed with it.
 */
static int
tls_files(const char *dir, char **cert_pem_out, char **key_pem_out,
    char **ca_path_out, struct sd_err *e)
{
	struct sd_err ignored = { "" };
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *srv = NULL;
	char *ca_path = NULL, *cert_path = NULL, *key_path = NULL;
	char *ca_pem = NULL, *srv_pem = NULL, *file_key = NULL, *gen_key = NULL;
	size_t len, key_len = 0;
	int ret = -1;

	*cert_pem_out = *key_pem_out = *ca_path_out = NULL;
	if ((ca_path = simhsm_path(dir, TLS_CA_NAME)) == NULL ||
	    (cert_path = simhsm_path(dir, TLS_CERT_NAME)) == NULL ||
	    (key_path = simhsm_path(dir, TLS_KEY_NAME)) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (access(ca_path, R_OK) == 0 &&
	    sys_read_file(cert_path, HW_MAX_KEY_FILE, &srv_pem, &len, &ignored) == 0 &&
	    sys_read_file(key_path, HW_MAX_KEY_FILE, &file_key, &key_len,
	    &ignored) == 0 && pki_cert_load(cert_path, &srv, &ignored) == 0 &&
	    X509_cmp_current_time(X509_get0_notAfter(srv)) > 0) {
		*cert_pem_out = srv_pem;
		*key_pem_out = file_key;
		*ca_path_out = ca_path;
		srv_pem = file_key = ca_path = NULL;
		ret = 0;
		goto out;
	}
	free(srv_pem);
	srv_pem = NULL;
	X509_free(srv);
	srv = NULL;
	unlink(ca_path);
	unlink(cert_path);
	unlink(key_path);
	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (key = EVP_EC_gen("P-256")) == NULL ||
	    (ca = make_cert(ca_key, "sdtool sim test CA", NULL, NULL, 1)) ==
	    NULL ||
	    (srv = make_cert(key, "127.0.0.1", ca, ca_key, 0)) == NULL ||
	    (ca_pem = cert_pem(ca)) == NULL || (srv_pem = cert_pem(srv)) ==
	    NULL || certgen_key_pem(key, NULL, &gen_key, &len, e) != 0) {
		(void)sd_err_set(e, SD_ERR_CRYPTO, "making the test TLS "
		    "certificates failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
		goto out;
	}
	if (sys_write_new_file(key_path, gen_key, strlen(gen_key), 0600,
	    e) != 0 || sys_write_new_file(cert_path, srv_pem, strlen(srv_pem),
	    0644, e) != 0 || sys_write_new_file(ca_path, ca_pem,
	    strlen(ca_pem), 0644, e) != 0)
		goto out;
	/* one kind of memory for the caller to free, whichever path */
	if ((*key_pem_out = strdup(gen_key)) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	*cert_pem_out = srv_pem;
	*ca_path_out = ca_path;
	srv_pem = ca_path = NULL;
	ret = 0;
 out:
	ERR_clear_error();
	if (gen_key != NULL)
		sodium_free(gen_key);
	if (file_key != NULL) {
		sodium_memzero(file_key, key_len);
		free(file_key);
	}
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(srv);
	free(ca_pem);
	free(srv_pem);
	free(ca_path);
	free(cert_path);
	free(key_path);
	return ret;
}

/* The token from FILE, or DIR/token, made (32 random bytes) if missing. */
static int
server_token(const char *dir, const char *file, struct sd_secret **out,
    struct sd_err *e)
{
	enum net_token_source src;
	struct stat st;
	uint8_t raw[32];
	char *path = NULL, *text = NULL;
	size_t tlen = sodium_base64_ENCODED_LEN(sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	int ret = -1;

	*out = NULL;
	if (file == NULL) {
		if ((path = simhsm_path(dir, TOKEN_NAME)) == NULL) {
			(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		if (stat(path, &st) == -1) {
			if ((text = sodium_malloc(tlen)) == NULL) {
				(void)sd_err_set(e, SD_ERR_ALLOC, "out of locked "
				    "memory");
				goto out;
			}
			randombytes_buf(raw, sizeof(raw));
			sodium_bin2base64(text, tlen, raw, sizeof(raw),
			    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			sodium_memzero(raw, sizeof(raw));
			if (sys_write_new_file(path, text, strlen(text), 0600,
			    e) != 0)
				goto out;
		}
		file = path;
	}
	if (net_token_load(file, out, &src, e) != 0)
		goto out;
	ret = 0;
 out:
	if (text != NULL)
		sodium_free(text);
	free(path);
	return ret;
}

static int
parse_listen(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 ||
	    port > 65535)
		return -1;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

void
sim_serve_config_init(struct sim_serve_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:0";
	cfg->pending = 1;
	cfg->retry_after = -1;
	cfg->slow_seconds = 3;
	cfg->tenant = SIM_DEFAULT_TENANT;
}

int
sim_serve_run(const struct sim_serve_config *cfg,
    const struct sim_serve_hooks *hooks, struct sd_err *e)
{
	struct server s;
	struct sockaddr_in sa;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	char *cert_pem = NULL, *key_pem = NULL, *ca_path = NULL;
	char *url_path = NULL, *url = NULL, *token_path = NULL;
	sigset_t sigs;
	int sig, r = SD_ERR_INTERNAL, have_lock = 0;

	memset(&s, 0, sizeof(s));
	s.dir = cfg->dir;
	memcpy(s.faults, cfg->faults, sizeof(s.faults));
	s.n_faults = cfg->n_faults;
	s.pending = cfg->pending;
	s.retry_after = cfg->retry_after;
	s.slow_seconds = cfg->slow_seconds;
	s.legacy = cfg->legacy;
	s.no_dl_pending = cfg->no_dl_pending;
	s.tenant = cfg->tenant;
	s.hooks = hooks;
	if (s.dir == NULL)
		return sd_err_set(e, SD_ERR_ARG, "--state is required");
	if (parse_listen(cfg->listen, &sa) != 0)
		return sd_err_set(e, SD_ERR_ARG, "--listen %s: expected "
		    "ADDRESS:PORT, such as 127.0.0.1:8443 (port 0: any free "
		    "port)", cfg->listen);
	/* a test server with a known token never leaves the machine */
	if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127)
		return sd_err_set(e, SD_ERR_ARG, "--listen %s: the simulator "
		    "listens only on a loopback address (127.0.0.0/8)",
		    cfg->listen);

	if ((r = simhsm_prepare(s.dir, 0, e)) != 0)
		goto out;
	if ((url_path = simhsm_path(s.dir, URL_NAME)) == NULL ||
	    (token_path = simhsm_path(s.dir, TOKEN_NAME)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* a file left by a server that was killed must not look ready */
	unlink(url_path);
	if ((r = server_token(s.dir, cfg->token_file, &s.token, e)) != 0 ||
	    (r = tls_files(s.dir, &cert_pem, &key_pem, &ca_path, e)) != 0)
		goto out;
	if (pthread_mutex_init(&s.lock, NULL) != 0) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "cannot make a mutex");
		goto out;
	}
	have_lock = 1;

	/* SIGINT/SIGTERM are waited for here, never delivered to a thread */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, &s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	    MHD_OPTION_END);
	if (d == NULL) {
		r = sd_err_set(e, SD_ERR_IO, "cannot listen on %s (in use, or "
		    "TLS set-up failed)", cfg->listen);
		goto out;
	}
	if ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) ==
	    NULL || asprintf(&url, "https://%s:%u\n", inet_ntoa(sa.sin_addr),
	    (unsigned)info->port) == -1) {
		url = NULL;
		r = sd_err_set(e, SD_ERR_IO, "cannot learn the port listened "
		    "on");
		goto out;
	}
	snprintf(s.base_url, sizeof(s.base_url), "%.*s", (int)strcspn(url,
	    "\n"), url);
	if (hooks != NULL && hooks->ready != NULL)
		hooks->ready(hooks->ctx, s.base_url, ca_path,
		    cfg->token_file ? cfg->token_file : token_path);
	/* last: its appearance says the server is ready */
	if ((r = sys_replace_file(url_path, url, strlen(url), 0644, e)) != 0)
		goto out;
	while (sigwait(&sigs, &sig) != 0)
		;
	r = 0;
 out:
	if (d != NULL)
		MHD_stop_daemon(d);
	if (url_path != NULL)
		unlink(url_path);
	if (have_lock)
		pthread_mutex_destroy(&s.lock);
	sd_secret_free(s.token);
	if (key_pem != NULL) {
		sodium_memzero(key_pem, strlen(key_pem));
		free(key_pem);
	}
	free(cert_pem);
	free(ca_path);
	free(url_path);
	free(token_path);
	free(url);
	return r;
}
