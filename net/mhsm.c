/*
 * mhsm.c - the Managed HSM security-domain API: requests, the retry and
 * polling policy, and the bodies (see mhsm.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mhsm.h"
#include "../hw/key.h"
#include "../shares/b64.h"
#include "../shares/sdfile.h"

struct mhsm {
	char *url;
	char api_version[33];
	const struct sd_secret *token;
	struct net_transport transport;
	struct net_clock clock;
	long long start_ms, deadline_ms, timeout_ms, poll_ms;
	void (*progress)(void *ctx, const struct mhsm_progress *p);
	void *progress_ctx;
	int (*reauth)(void *ctx, const struct mhsm_challenge *ch,
	    const struct sd_secret **token, struct sd_err *e);
	void *reauth_ctx;
	int reauth_state;             /* as mhsm_fault's reauth */
	char reauth_msg[256];
	struct mhsm_challenge challenge;
	long last_retry_after;        /* of the last reply, or -1 */
	struct mhsm_fault fault;
};

/* One request and what may be done again with it. */
struct req {
	const char *method;
	const char *path;        /* "/securitydomain/download" */
	const char *url;         /* instead of path: a whole URL, as is */
	int once;                /* one try: the caller does the retrying */
	const char *what;        /* "download", for messages and progress */
	const char *body;
	size_t len;
	int get;                 /* safe to repeat after any failure */
	int export_transient;    /* MHSM_EXPORT_TRANSIENT is worth a retry */
	/* Check a 2xx reply; SD_ERR_FORMAT means it is malformed. */
	int (*check)(const struct net_reply *r, void *ctx, struct sd_err *e);
	void *check_ctx;
};

static long long
now_ms(const struct mhsm *m)
{
	return m->clock.now_ms(m->clock.ctx);
}

int
mhsm_new(const struct mhsm_config *cfg, struct mhsm **out, struct sd_err *e)
{
	struct mhsm *m = NULL;
	const char *v = cfg->api_version ? cfg->api_version : MHSM_API_VERSION;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (cfg->url == NULL || cfg->transport == NULL ||
	    cfg->transport->send == NULL)
		return sd_err_set(e, SD_ERR_ARG, "mhsm_new: no URL or transport");
	/* it goes into the query string unescaped */
	if (*v == '\0' || strlen(v) >= sizeof(m->api_version))
		return sd_err_set(e, SD_ERR_ARG, "--api-version: 1 to %zu "
		    "characters", sizeof(m->api_version) - 1);
	for (i = 0; v[i] != '\0'; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' &&
		    v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		    v[i] == '.' || v[i] == '-'))
			return sd_err_set(e, SD_ERR_ARG, "--api-version: only "
			    "letters, digits, '.' and '-' (such as 7.4 or "
			    "2025-07-01)");
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->url = strdup(cfg->url)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	snprintf(m->api_version, sizeof(m->api_version), "%s", v);
	m->token = cfg->token;
	m->transport = *cfg->transport;
	m->clock = cfg->clock ? *cfg->clock : *net_clock_real();
	m->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 1;
	m->poll_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 0;
	m->progress = cfg->progress;
	m->progress_ctx = cfg->progress_ctx;
	m->reauth = cfg->reauth;
	m->reauth_ctx = cfg->reauth_ctx;
	m->last_retry_after = -1;
	m->start_ms = now_ms(m);
	m->deadline_ms = m->start_ms + m->timeout_ms;
	*out = m;
	m = NULL;
	r = 0;
 out:
	mhsm_free(m);
	return r;
}

void
mhsm_free(struct mhsm *m)
{
	if (m == NULL)
		return;
	free(m->url);
	free(m);
}

const struct mhsm_fault *
mhsm_fault(const struct mhsm *m)
{
	return &m->fault;
}

static void
progress(struct mhsm *m, enum mhsm_event ev, const char *what,
    const char *reason, int attempt, long long wait_ms,
    const struct mhsm_status *st)
{
	struct mhsm_progress p;

	if (m->progress == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.event = ev;
	p.what = what;
	p.reason = reason;
	p.attempt = attempt;
	p.wait_ms = wait_ms;
	p.elapsed_ms = now_ms(m) - m->start_ms;
	p.timeout_ms = m->timeout_ms;
	p.status = st;
	m->progress(m->progress_ctx, &p);
}

static const char *
reason_phrase(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "";
}

/* "HTTP 403 Forbidden: AccessDenied: Not authorized ..." into buf. */
static void
describe_fault(const struct mhsm_fault *f, char *buf, size_t size)
{
	snprintf(buf, size, "HTTP %ld%s%s%s%s%s%s", f->http_status,
	    *reason_phrase(f->http_status) ? " " : "",
	    reason_phrase(f->http_status),
	    f->code[0] ? ": " : "", f->code,
	    f->message[0] ? ": " : "", f->message);
}

static long long
backoff_ms(int attempt)
{
	long long ms = 1000LL << (attempt - 1 < 10 ? attempt - 1 : 10);

	return ms > MHSM_MAX_BACKOFF_MS ? MHSM_MAX_BACKOFF_MS : ms;
}

/*
 * A 401: read its challenge, and answer it once when the caller can (a
 * token for the tenant it names).  1: send again now; 0: final.
 */
static int
challenge(struct mhsm *m, const struct net_reply *rep)
{
	struct sd_err e2 = { "" };
	const struct sd_secret *tok = NULL;

	memset(&m->challenge, 0, sizeof(m->challenge));
	if (mhsm_challenge_parse(rep->www_auth, &m->challenge) != 0)
		return 0;
	if (m->reauth == NULL || m->reauth_state != 0)
		return 0;
	if (!mhsm_resource_ok(m->url, m->challenge.resource)) {
		m->reauth_state = -1;
		snprintf(m->reauth_msg, sizeof(m->reauth_msg), "the challenge's "
		    "resource %s is not this HSM's service; no token was "
		    "fetched for it", m->challenge.resource);
		return 0;
	}
	if (m->reauth(m->reauth_ctx, &m->challenge, &tok, &e2) != 0 ||
	    tok == NULL) {
		m->reauth_state = -1;
		snprintf(m->reauth_msg, sizeof(m->reauth_msg), "%s", e2.msg);
		return 0;
	}
	m->token = tok;
	m->reauth_state = 1;
	return 1;
}

/*
 * Send q until a 2xx reply passes its check, retrying what is worth
 * retrying (with q->once, nothing: one try, and the caller decides).  On
 * success *rep holds the reply.  On a final refusal, m->fault says what
 * the service said; a 2xx reply that failed its check is left in *rep for
 * the caller.
 */
static int
request(struct mhsm *m, const struct req *q, struct net_reply *rep,
    struct sd_err *e)
{
	struct sd_err e2 = { "" };
	char *url = NULL, reason[700], brief[64];
	long long remaining, wait;
	int attempt, r = SD_ERR_INTERNAL, retry, unanswered = 0;
	int max_tries = q->once ? 1 : MHSM_MAX_TRIES;

	memset(&m->fault, 0, sizeof(m->fault));
	net_reply_clear(rep);
	m->last_retry_after = -1;
	if (q->url != NULL ? (url = strdup(q->url)) == NULL :
	    asprintf(&url, "%s%s?api-version=%s", m->url, q->path,
	    m->api_version) == -1) {
		url = NULL;
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	for (attempt = 1;; attempt++) {
		retry = 0;
		net_reply_clear(rep);
		memset(&m->fault, 0, sizeof(m->fault));
		sd_err_clear(&e2);
		if ((remaining = m->deadline_ms - now_ms(m)) <= 0) {
			m->fault.timed_out = 1;
			r = sd_err_set(e, SD_ERR_IO, "%s: no answer within the "
			    "timeout (%lld s)", q->what, m->timeout_ms / 1000);
			goto out;
		}
		r = m->transport.send(m->transport.ctx, q->method, url, q->body,
		    q->len, m->token, (long)(remaining > LONG_MAX ? LONG_MAX :
		    remaining), rep, &e2);
		m->last_retry_after = r == 0 ? rep->retry_after : -1;
		if (r == SD_ERR_IO) {
			/* no reply: refused, dropped, TLS, or too slow */
			if (!q->get)
				unanswered = 1;
			snprintf(reason, sizeof(reason), "no reply: %s", e2.msg);
			snprintf(brief, sizeof(brief), "no reply");
			retry = 1;
		} else if (r != 0) {
			r = sd_err_set(e, r, "%s: %s", q->what, e2.msg);
			goto out;
		} else if (rep->status >= 200 && rep->status < 300) {
			if (q->check == NULL ||
			    (r = q->check(rep, q->check_ctx, &e2)) == 0)
				break;
			snprintf(reason, sizeof(reason), "malformed reply (%s)",
			    e2.msg);
			snprintf(brief, sizeof(brief), "malformed reply");
			m->fault.http_status = rep->status;
			snprintf(m->fault.request_id, sizeof(m->fault.request_id),
			    "%s", rep->request_id);
			if (!q->get || r != SD_ERR_FORMAT) {
				r = sd_err_set(e, r, "%s: %s", q->what, e2.msg);
				goto out;
			}
			retry = 1;
		} else {
			m->fault.http_status = rep->status;
			snprintf(m->fault.request_id, sizeof(m->fault.request_id),
			    "%s", rep->request_id);
			mhsm_error_parse(rep->body, rep->len, &m->fault);
			describe_fault(&m->fault, reason, sizeof(reason));
			snprintf(brief, sizeof(brief), "HTTP %ld %s", rep->status,
			    reason_phrase(rep->status));
			if (rep->status == 401 && challenge(m, rep)) {
				/* a token for the tenant named: once, at once */
				attempt--;
				continue;
			}
			if (rep->status == 429 || rep->status >= 500)
				retry = 1;
			else if (q->export_transient &&
			    strstr(m->fault.message, MHSM_EXPORT_TRANSIENT))
				retry = 1;
			if (!retry) {
				r = sd_err_set(e, rep->status == 401 ||
				    rep->status == 403 ? SD_ERR_AUTH : SD_ERR_ARG,
				    "%s: %s", q->what, reason);
				goto out;
			}
		}
		if (attempt >= max_tries) {
			if (q->once)
				r = sd_err_set(e, r == SD_ERR_FORMAT ?
				    SD_ERR_FORMAT : SD_ERR_IO, "%s: %s", q->what,
				    reason);
			else
				r = sd_err_set(e, r == 0 ? SD_ERR_IO :
				    r == SD_ERR_FORMAT ? SD_ERR_FORMAT :
				    SD_ERR_IO, "%s: %s (gave up after %d "
				    "tries)", q->what, reason, attempt);
			goto out;
		}
		/* never sooner than asked, and never a busy loop on "0" */
		wait = backoff_ms(attempt);
		if (rep->retry_after >= 0 && rep->retry_after * 1000LL > wait)
			wait = rep->retry_after * 1000LL;
		if (now_ms(m) + wait >= m->deadline_ms) {
			m->fault.timed_out = 1;
			r = sd_err_set(e, SD_ERR_IO, "%s: %s; no time left to "
			    "try again within the timeout (%lld s)", q->what,
			    reason, m->timeout_ms / 1000);
			goto out;
		}
		/* a short reason: the progress line must fit a terminal */
		progress(m, MHSM_EV_RETRY, q->what, brief, attempt, wait, NULL);
		m->clock.sleep_ms(m->clock.ctx, wait);
	}
	memset(&m->fault, 0, sizeof(m->fault));
	r = 0;
 out:
	/* any try that went unanswered may have been acted on */
	if (r != 0 && unanswered)
		m->fault.post_unanswered = 1;
	if (r != 0) {
		m->fault.challenge = m->challenge;
		m->fault.reauth = m->reauth_state;
		snprintf(m->fault.reauth_msg, sizeof(m->fault.reauth_msg), "%s",
		    m->reauth_msg);
	}
	free(url);
	return r;
}

/* --- bodies ---------------------------------------------------------- */

static int
load_object(const char *body, size_t len, json_t **out, struct sd_err *e)
{
	json_error_t jerr;

	*out = NULL;
	if (body == NULL || len == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "the reply is empty");
	if ((*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "the reply is not JSON "
		    "(line %d, column %d: %s)", jerr.line, jerr.column,
		    jerr.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return sd_err_set(e, SD_ERR_FORMAT, "the reply is not a JSON "
		    "object");
	}
	return 0;
}

void
mhsm_error_parse(const char *body, size_t len, struct mhsm_fault *f)
{
	json_t *root = NULL, *err, *v;

	f->code[0] = f->message[0] = '\0';
	if (body == NULL || len == 0)
		return;
	if ((root = json_loadb(body, len, 0, NULL)) != NULL &&
	    json_is_object(err = json_object_get(root, "error"))) {
		if (json_is_string(v = json_object_get(err, "code")))
			net_printable(json_string_value(v), json_string_length(v),
			    f->code, sizeof(f->code));
		if (json_is_string(v = json_object_get(err, "message")))
			net_printable(json_string_value(v), json_string_length(v),
			    f->message, sizeof(f->message));
	} else {
		/* not the service's error shape: show the start of it */
		net_printable(body, len > 200 ? 200 : len, f->message,
		    sizeof(f->message));
	}
	json_decref(root);
}

int
mhsm_status_parse(const char *body, size_t len, struct mhsm_status *st,
    struct sd_err *e)
{
	json_t *root = NULL, *v;
	const char *w;
	int r = SD_ERR_INTERNAL;

	memset(st, 0, sizeof(*st));
	st->retry_after = -1;
	if ((r = load_object(body, len, &root, e)) != 0)
		goto out;
	if (!json_is_string(v = json_object_get(root, "status"))) {
		r = sd_err_set(e, SD_ERR_FORMAT, "the reply has no \"status\"");
		goto out;
	}
	w = json_string_value(v);
	net_printable(w, json_string_length(v), st->word, sizeof(st->word));
	/* 2020 builds wrote statusDetails, later ones status_details */
	if (json_is_string(v = json_object_get(root, "status_details")) ||
	    json_is_string(v = json_object_get(root, "statusDetails")))
		net_printable(json_string_value(v), json_string_length(v),
		    st->details, sizeof(st->details));
	/* builds differ: Success and Succeeded both mean done */
	if (strcasecmp(w, "Success") == 0 || strcasecmp(w, "Succeeded") == 0)
		st->state = MHSM_SUCCESS;
	else if (strcasecmp(w, "InProgress") == 0)
		st->state = MHSM_IN_PROGRESS;
	else if (strcasecmp(w, "Failed") == 0)
		st->state = MHSM_FAILED;
	else {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "unknown status \"%s\" "
		    "(known: InProgress, Success, Succeeded, Failed)", st->word);
		goto out;
	}
	r = 0;
 out:
	json_decref(root);
	return r;
}

static int
first_nonspace(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return (unsigned char)s[i];
	return 0;
}

int
mhsm_sd_from_reply(const char *body, size_t len, char **sd, size_t *sd_len,
    struct sd_err *e)
{
	json_t *root = NULL, *v;
	uint8_t *dec = NULL;
	size_t dec_len = 0;
	char *text = NULL;
	const char *s;
	size_t n;
	int r = SD_ERR_INTERNAL;

	*sd = NULL;
	*sd_len = 0;
	if ((r = load_object(body, len, &root, e)) != 0)
		goto out;
	if ((v = json_object_get(root, "value")) == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "the reply has no \"value\", "
		    "so no security domain");
		goto out;
	}
	if (json_is_object(v)) {
		if ((text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
		    NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		n = strlen(text);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		if (first_nonspace(s, n) != '{') {
			/* base64 of the JSON text, standard or URL-safe */
			if (b64std_decode(s, n, &dec, &dec_len, NULL) != 0 &&
			    b64url_decode(s, n, &dec, &dec_len, NULL) != 0) {
				r = sd_err_set(e, SD_ERR_FORMAT, "\"value\" is "
				    "neither JSON text nor base64 of it");
				goto out;
			}
			if (first_nonspace((char *)dec, dec_len) != '{') {
				r = sd_err_set(e, SD_ERR_FORMAT, "\"value\" is "
				    "base64, but not of JSON text");
				goto out;
			}
			s = (const char *)dec;
			n = dec_len;
		}
		if ((text = malloc(n + 1)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		memcpy(text, s, n);
		text[n] = '\0';
	} else {
		r = sd_err_set(e, SD_ERR_FORMAT, "\"value\" is not a string");
		goto out;
	}
	*sd = text;
	*sd_len = n;
	text = NULL;
	r = 0;
 out:
	free(text);
	free(dec);
	json_decref(root);
	return r;
}

/* --- certificates -------------------------------------------------------- */

static int
cert_x5t(X509 *cert, const EVP_MD *md, char **out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	*out = NULL;
	if (X509_digest(cert, md, d, &n) != 1)
		return SD_ERR_CRYPTO;
	return b64url_encode(d, n, out);
}

static int
bn_b64url(EVP_PKEY *pub, const char *name, char **out)
{
	BIGNUM *bn = NULL;
	uint8_t *buf = NULL;
	int len, r = SD_ERR_CRYPTO;

	*out = NULL;
	if (EVP_PKEY_get_bn_param(pub, name, &bn) != 1 ||
	    (len = BN_num_bytes(bn)) <= 0)
		goto out;
	if ((buf = malloc((size_t)len)) == NULL) {
		r = SD_ERR_ALLOC;
		goto out;
	}
	BN_bn2bin(bn, buf);
	r = b64url_encode(buf, (size_t)len, out);
 out:
	BN_free(bn);
	free(buf);
	return r;
}

/* One certificate as the service wants it. */
static int
cert_jwk(X509 *cert, json_t **out)
{
	unsigned char *der = NULL;
	char *n = NULL, *ex = NULL, *x5c = NULL, *t1 = NULL, *t256 = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	json_t *o = NULL, *ops;
	int len, r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = SD_ERR_CRYPTO;
		goto out;
	}
	if ((r = bn_b64url(pub, OSSL_PKEY_PARAM_RSA_N, &n)) != 0 ||
	    (r = bn_b64url(pub, OSSL_PKEY_PARAM_RSA_E, &ex)) != 0 ||
	    (r = b64std_encode(der, (size_t)len, &x5c)) != 0 ||
	    (r = cert_x5t(cert, EVP_sha1(), &t1)) != 0 ||
	    (r = cert_x5t(cert, EVP_sha256(), &t256)) != 0)
		goto out;
	/* the members and key_ops azure-cli sends, in its order */
	o = json_object();
	ops = json_array();
	json_array_append_new(ops, json_string("verify"));
	json_array_append_new(ops, json_string("encrypt"));
	json_array_append_new(ops, json_string("wrapKey"));
	if (o == NULL || ops == NULL ||
	    json_object_set_new(o, "kty", json_string("RSA")) != 0 ||
	    json_object_set_new(o, "key_ops", ops) != 0 ||
	    json_object_set_new(o, "n", json_string(n)) != 0 ||
	    json_object_set_new(o, "e", json_string(ex)) != 0 ||
	    json_object_set_new(o, "x5c", json_pack("[s]", x5c)) != 0 ||
	    json_object_set_new(o, "x5t", json_string(t1)) != 0 ||
	    json_object_set_new(o, "x5t#S256", json_string(t256)) != 0 ||
	    json_object_set_new(o, "alg", json_string("RSA-OAEP-256")) != 0) {
		r = SD_ERR_ALLOC;
		goto out;
	}
	*out = o;
	o = NULL;
	r = 0;
 out:
	json_decref(o);
	OPENSSL_free(der);
	free(n);
	free(ex);
	free(x5c);
	free(t1);
	free(t256);
	return r;
}

int
mhsm_certset_build(X509 *const *certs, size_t n, unsigned quorum, char **json,
    size_t *bad, size_t *other, struct sd_err *e)
{
	json_t *root = NULL, *arr = NULL, *jwk;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*json = NULL;
	if ((r = pki_certset_check(certs, n, quorum, bad, other, e)) != 0)
		return r;
	if ((root = json_object()) == NULL || (arr = json_array()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = cert_jwk(certs[i], &jwk)) != 0) {
			*bad = i;
			r = sd_err_set(e, r, "cannot describe the certificate "
			    "as a JWK");
			goto out;
		}
		json_array_append_new(arr, jwk);
	}
	json_object_set_new(root, "certificates", arr);
	arr = NULL;
	json_object_set_new(root, "required", json_integer(quorum));
	if ((*json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = 0;
 out:
	json_decref(arr);
	json_decref(root);
	return r;
}

int
mhsm_exchange_cert(const char *body, size_t len, X509 **cert,
    struct sd_err *e)
{
	int r;

	r = pki_exchange_cert_parse("the transfer key reply", body, len, cert,
	    e);
	/* the service's reply, not a file: malformed, whatever part */
	if (r != 0 && r != SD_ERR_KEY && r != SD_ERR_KEY_MISMATCH &&
	    r != SD_ERR_ALLOC)
		r = SD_ERR_FORMAT;
	return r;
}

int
mhsm_sd_check(const char *sd, size_t len, X509 *const *certs, size_t n,
    unsigned quorum, struct sd_err *e)
{
	struct sd_file *f = NULL;
	char x5t[SD_X5T_SIZE];
	size_t i, j, hits;
	int r = SD_ERR_INTERNAL;

	if ((r = sd_file_parse(sd, len, &f, e)) != 0)
		goto out;
	if (f->required != quorum) {
		r = sd_err_set(e, SD_ERR_QUORUM, "its quorum is %u, not the %u "
		    "that was asked for", f->required, quorum);
		goto out;
	}
	if (f->n_shares != n) {
		r = sd_err_set(e, SD_ERR_SHARE, "it has %zu shares for the %zu "
		    "certificates given", f->n_shares, n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = pki_cert_x5t256(certs[i], x5t)) != 0) {
			r = sd_err_set(e, r, "cannot encode certificate #%zu",
			    i + 1);
			goto out;
		}
		for (j = 0, hits = 0; j < f->n_shares; j++)
			if (strcmp(f->shares[j].x5t_256, x5t) == 0)
				hits++;
		if (hits != 1) {
			r = sd_err_set(e, SD_ERR_NO_SHARE, "certificate #%zu "
			    "(x5t_256 %s) has %zu shares, not one", i + 1, x5t,
			    hits);
			goto out;
		}
	}
	r = 0;
 out:
	sd_file_free(f);
	return r;
}

/* --- the calls ----------------------------------------------------------- */

static int
check_sd_reply(const struct net_reply *rep, void *ctx, struct sd_err *e)
{
	(void)ctx;
	/* 200 from the synchronous builds, 202 from the asynchronous ones */
	if (rep->len == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "HTTP %ld with no body, so "
		    "no security domain", rep->status);
	return 0;
}

/* What a 2xx reply to a POST says about waiting for its operation. */
static void
accepted(const struct net_reply *rep, struct mhsm_accepted *acc)
{
	memset(acc, 0, sizeof(*acc));
	acc->http_status = rep->status;
	acc->first_wait_ms = rep->retry_after >= 0 ? rep->retry_after * 1000LL :
	    -1;
	snprintf(acc->status_url, sizeof(acc->status_url), "%s", rep->async_op);
}

int
mhsm_download(struct mhsm *m, const char *certset, size_t certset_len,
    char **sd, size_t *sd_len, char **raw, size_t *raw_len,
    struct mhsm_accepted *acc, struct sd_err *e)
{
	struct net_reply rep;
	const struct req q = { "POST", "/securitydomain/download", NULL, 0,
	    "download", certset, certset_len, 0, 1, check_sd_reply, NULL };
	int r;

	memset(&rep, 0, sizeof(rep));
	*sd = *raw = NULL;
	*sd_len = *raw_len = 0;
	memset(acc, 0, sizeof(*acc));
	acc->first_wait_ms = -1;
	r = request(m, &q, &rep, e);
	if (r == 0 && (r = mhsm_sd_from_reply(rep.body, rep.len, sd, sd_len,
	    e)) != 0)
		sd_err_prefix(e, r, "download: the reply holds no readable "
		    "security domain");
	if (r != 0 && rep.status >= 200 && rep.status < 300) {
		/* the HSM may have activated: keep what it sent */
		*raw = rep.body;
		*raw_len = rep.len;
		rep.body = NULL;
	}
	if (r == 0)
		accepted(&rep, acc);
	net_reply_clear(&rep);
	return r;
}

static int
check_transfer_key(const struct net_reply *rep, void *ctx, struct sd_err *e)
{
	X509 **cert = ctx;

	X509_free(*cert);
	*cert = NULL;
	return mhsm_exchange_cert(rep->body, rep->len, cert, e);
}

int
mhsm_transfer_key(struct mhsm *m, X509 **cert, struct sd_err *e)
{
	struct net_reply rep;
	X509 *x = NULL;
	const struct req q = { "GET", "/securitydomain/upload", NULL, 0,
	    "exchange key", NULL, 0, 1, 0, check_transfer_key, &x };
	int r;

	memset(&rep, 0, sizeof(rep));
	*cert = NULL;
	if ((r = request(m, &q, &rep, e)) == 0) {
		*cert = x;
		x = NULL;
	}
	X509_free(x);
	net_reply_clear(&rep);
	return r;
}

/* Status bodies are optional (202 or 204 may come without one). */
static int
check_status(const struct net_reply *rep, void *ctx, struct sd_err *e)
{
	struct mhsm_status *st = ctx;
	int r;

	memset(st, 0, sizeof(*st));
	st->retry_after = rep->retry_after;
	if (rep->status == 204 || rep->len == 0 ||
	    first_nonspace(rep->body, rep->len) == 0)
		return 0;
	r = mhsm_status_parse(rep->body, rep->len, st, e);
	st->retry_after = rep->retry_after;
	return r;
}

int
mhsm_upload(struct mhsm *m, const char *blob, size_t len,
    struct mhsm_status *st, struct mhsm_accepted *acc, struct sd_err *e)
{
	struct net_reply rep;
	json_t *root = NULL;
	char *body = NULL;
	int r = SD_ERR_INTERNAL;
	struct req q = { "POST", "/securitydomain/upload", NULL, 0, "upload",
	    NULL, 0, 0, 0, check_status, st };

	memset(&rep, 0, sizeof(rep));
	memset(st, 0, sizeof(*st));
	memset(acc, 0, sizeof(*acc));
	acc->first_wait_ms = -1;
	/* the blob's text as a JSON string, as the service's client sends it */
	if ((root = json_object()) == NULL ||
	    json_object_set_new(root, "value", json_stringn(blob, len)) != 0 ||
	    (body = json_dumps(root, JSON_COMPACT)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory (or the blob is "
		    "not UTF-8 text)");
		goto out;
	}
	q.body = body;
	q.len = strlen(body);
	if ((r = request(m, &q, &rep, e)) != 0)
		goto out;
	accepted(&rep, acc);
	if (st->word[0] == '\0')
		st->state = MHSM_IN_PROGRESS;
	r = 0;
 out:
	net_reply_clear(&rep);
	json_decref(root);
	free(body);
	return r;
}

/* 404, 400, 405: the URL is not one this HSM serves (or not so). */
static int
not_served(long status)
{
	return status == 404 || status == 400 || status == 405;
}

int
mhsm_pending(struct mhsm *m, enum mhsm_op op, struct mhsm_status *st,
    struct sd_err *e)
{
	struct net_reply rep;
	struct req q = { "GET", op == MHSM_OP_DOWNLOAD ?
	    "/securitydomain/download/pending" : MHSM_FALLBACK_STATUS, NULL, 0,
	    op == MHSM_OP_DOWNLOAD ? "download status" : "upload status", NULL,
	    0, 1, 0, check_status, st };
	int r;

	memset(&rep, 0, sizeof(rep));
	memset(st, 0, sizeof(*st));
	r = request(m, &q, &rep, e);
	if (r != 0 && op == MHSM_OP_DOWNLOAD &&
	    not_served(m->fault.http_status)) {
		/* what every recorded client asked about an activation */
		q.path = MHSM_FALLBACK_STATUS;
		q.what = "download status (" MHSM_FALLBACK_STATUS ")";
		r = request(m, &q, &rep, e);
	}
	if (r == 0)
		snprintf(st->via, sizeof(st->via), "%s", q.path);
	net_reply_clear(&rep);
	return r;
}

int
mhsm_wait(struct mhsm *m, enum mhsm_op op, const struct mhsm_accepted *acc,
    struct mhsm_status *st, struct sd_err *e)
{
	struct mhsm_status last, cur;
	struct net_reply rep;
	struct sd_err e2 = { "" };
	char *advertised = NULL, *fallback = NULL, last_error[600] = "";
	char brief[96];
	const char *what = op == MHSM_OP_DOWNLOAD ? "activation" : "restore";
	long long wait = acc != NULL && acc->first_wait_ms >= 0 ?
	    acc->first_wait_ms : m->poll_ms;
	int r = SD_ERR_INTERNAL, fell_back = 1, errors = 0;
	struct req q = { "GET", NULL, NULL, 1, NULL, NULL, 0, 1, 0,
	    check_status, &cur };

	memset(&rep, 0, sizeof(rep));
	memset(&last, 0, sizeof(last));
	last.retry_after = -1;
	q.what = op == MHSM_OP_DOWNLOAD ? "activation status" :
	    "restore status";
	if (asprintf(&fallback, "%s%s?api-version=%s", m->url,
	    MHSM_FALLBACK_STATUS, m->api_version) == -1) {
		fallback = NULL;
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	q.url = fallback;
	/* the service's own status URL, if it is on this HSM */
	if (acc != NULL && acc->status_url[0] != '\0' &&
	    net_url_status(m->url, acc->status_url, m->api_version,
	    &advertised, &e2) == 0) {
		q.url = advertised;
		fell_back = 0;
	}
	for (;;) {
		if (wait < MHSM_MIN_POLL_MS)
			wait = MHSM_MIN_POLL_MS;
		if (now_ms(m) + wait >= m->deadline_ms) {
			memset(&m->fault, 0, sizeof(m->fault));
			m->fault.timed_out = 1;
			r = sd_err_set(e, SD_ERR_IO, "%s: not finished within "
			    "the timeout (%lld s); last status: %s%s%s", what,
			    m->timeout_ms / 1000, last.word[0] ? last.word :
			    "none yet", last_error[0] ? "; last error: " : "",
			    last_error);
			goto out;
		}
		m->clock.sleep_ms(m->clock.ctx, wait);
		sd_err_clear(&e2);
		r = request(m, &q, &rep, &e2);
		net_reply_clear(&rep);
		if (r == 0) {
			last = cur;
			snprintf(last.via, sizeof(last.via), "%s",
			    q.url == fallback ? MHSM_FALLBACK_STATUS :
			    "Azure-AsyncOperation");
			last_error[0] = '\0';
			errors = 0;
			wait = m->poll_ms;
			if (last.retry_after >= 0 &&
			    last.retry_after * 1000LL > wait)
				wait = last.retry_after * 1000LL;
			progress(m, MHSM_EV_POLL, what, NULL, 0, wait, &last);
			if (last.state == MHSM_SUCCESS ||
			    last.state == MHSM_FAILED)
				break;
			continue;
		}
		snprintf(last_error, sizeof(last_error), "%s", e2.msg);
		if (r == SD_ERR_AUTH || (r != SD_ERR_IO && r != SD_ERR_FORMAT &&
		    m->fault.http_status == 0 && r != SD_ERR_UNSUPPORTED)) {
			/* refused (401, 403, TLS), or no such host: final */
			sd_err_set(e, r, "%s", e2.msg);
			goto out;
		}
		if (!fell_back && not_served(m->fault.http_status)) {
			/* download/pending on every recorded build */
			fell_back = 1;
			q.url = fallback;
			wait = 0;
			snprintf(brief, sizeof(brief), "HTTP %ld from the status "
			    "URL; asking %s", m->fault.http_status,
			    MHSM_FALLBACK_STATUS);
			progress(m, MHSM_EV_RETRY, what, brief, 1, wait, NULL);
			continue;
		}
		/* 429, 5xx, no reply, malformed, another 4xx: poll on */
		errors++;
		wait = backoff_ms(errors);
		if (m->last_retry_after >= 0 &&
		    m->last_retry_after * 1000LL > wait)
			wait = m->last_retry_after * 1000LL;
		snprintf(brief, sizeof(brief), "%s", m->fault.http_status ?
		    reason_phrase(m->fault.http_status) : "no reply");
		if (m->fault.http_status != 0)
			snprintf(brief, sizeof(brief), "HTTP %ld %s",
			    m->fault.http_status,
			    reason_phrase(m->fault.http_status));
		else if (r == SD_ERR_FORMAT)
			snprintf(brief, sizeof(brief), "malformed reply");
		progress(m, MHSM_EV_RETRY, q.what, brief, errors, wait, NULL);
	}
	r = 0;
 out:
	*st = last;
	free(advertised);
	free(fallback);
	return r;
}

/* --- the bearer challenge -------------------------------------------------- */

/* The value of key="..." (or key=token) in a challenge, into out. */
static void
challenge_param(const char *hdr, const char *key, char *out, size_t size)
{
	const char *p = hdr, *v, *end;
	size_t klen = strlen(key), n;

	out[0] = '\0';
	while ((p = strcasestr(p, key)) != NULL) {
		/* a whole parameter name: after the scheme, a space or comma */
		if ((p == hdr || p[-1] == ' ' || p[-1] == ',') &&
		    p[klen] == '=') {
			v = p + klen + 1;
			if (*v == '"') {
				v++;
				end = strchr(v, '"');
			} else {
				end = v + strcspn(v, " ,");
			}
			if (end == NULL)
				return;
			n = (size_t)(end - v);
			if (n >= size)
				return;   /* too long to be kept whole */
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
		p += klen;
	}
}

int
mhsm_challenge_parse(const char *hdr, struct mhsm_challenge *ch)
{
	const char *seg;
	size_t n, i;

	memset(ch, 0, sizeof(*ch));
	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return SD_ERR_FORMAT;
	challenge_param(hdr + 7, "authorization", ch->authority,
	    sizeof(ch->authority));
	if (ch->authority[0] == '\0')
		challenge_param(hdr + 7, "authorization_uri", ch->authority,
		    sizeof(ch->authority));
	challenge_param(hdr + 7, "resource", ch->resource,
	    sizeof(ch->resource));
	if (ch->resource[0] == '\0') {
		challenge_param(hdr + 7, "scope", ch->resource,
		    sizeof(ch->resource));
		n = strlen(ch->resource);
		if (n > 9 && strcmp(ch->resource + n - 9, "/.default") == 0)
			ch->resource[n - 9] = '\0';
	}
	/* the tenant: the authority's last path segment */
	n = strlen(ch->authority);
	while (n > 0 && ch->authority[n - 1] == '/')
		n--;
	for (i = n; i > 0 && ch->authority[i - 1] != '/'; i--)
		;
	seg = ch->authority + i;
	if (i == 0 || n - i == 0 || n - i >= sizeof(ch->tenant) ||
	    strncmp(ch->authority, "https://", 8) != 0 || i <= 8)
		return SD_ERR_FORMAT;
	for (; i < n; i++)
		if (!(isalnum((unsigned char)ch->authority[i]) ||
		    ch->authority[i] == '-' || ch->authority[i] == '.'))
			return SD_ERR_FORMAT;
	memcpy(ch->tenant, seg, (size_t)(ch->authority + n - seg));
	ch->tenant[ch->authority + n - seg] = '\0';
	return 0;
}

/* --- key operations (issue 11) ------------------------------------------ */

/* A 2xx reply to a key operation: a JSON object with member ctx. */
static int
check_key_reply(const struct net_reply *rep, void *ctx, struct sd_err *e)
{
	const char *member = ctx;
	json_t *root = NULL;
	int r;

	if ((r = load_object(rep->body, rep->len, &root, e)) != 0)
		return r;
	if (json_object_get(root, member) == NULL)
		r = sd_err_set(e, SD_ERR_FORMAT, "the reply has no \"%s\"",
		    member);
	json_decref(root);
	return r;
}

int
mhsm_key_request(struct mhsm *m, enum mhsm_key_op op, const char *name,
    const char *body, size_t body_len, char **reply, size_t *reply_len,
    struct sd_err *e)
{
	struct net_reply rep = { 0 };
	char saved[sizeof(m->api_version)], *path = NULL;
	const char *api, *what;
	struct req q;
	int r;

	*reply = NULL;
	*reply_len = 0;
	memset(&q, 0, sizeof(q));
	switch (op) {
	case MHSM_KEY_CREATE:
		api = MHSM_KEY_CREATE_API;
		what = "key create";
		r = asprintf(&path, "/keys/%s/create", name);
		q.check_ctx = (void *)"key";
		break;
	case MHSM_KEY_BACKUP:
		api = MHSM_KEY_BACKUP_API;
		what = "key backup";
		r = asprintf(&path, "/keys/%s/backup", name);
		q.check_ctx = (void *)"value";
		break;
	case MHSM_KEY_RESTORE:
		api = MHSM_KEY_BACKUP_API;
		what = "key restore";
		r = asprintf(&path, "/keys/restore");
		q.check_ctx = (void *)"key";
		break;
	default:
		return sd_err_set(e, SD_ERR_ARG, "unknown key operation");
	}
	if (r == -1)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	q.method = "POST";
	q.path = path;
	q.what = what;
	q.body = body;
	q.len = body_len;
	q.check = check_key_reply;
	/* each key operation has the api-version azure-cli sends for it */
	memcpy(saved, m->api_version, sizeof(saved));
	snprintf(m->api_version, sizeof(m->api_version), "%s", api);
	r = request(m, &q, &rep, e);
	memcpy(m->api_version, saved, sizeof(saved));
	if (r == 0) {
		*reply = rep.body;
		*reply_len = rep.len;
		rep.body = NULL;
	}
	net_reply_clear(&rep);
	free(path);
	return r;
}

int
mhsm_resource_ok(const char *base, const char *resource)
{
	const char *host, *end, *d;
	size_t hlen, dlen;

	if (strcmp(resource, NET_TOKEN_RESOURCE) == 0 ||
	    strcmp(resource, NET_TOKEN_RESOURCE "/") == 0)
		return 1;
	if (strncmp(resource, "https://", 8) != 0 ||
	    (host = strstr(base, "://")) == NULL)
		return 0;
	d = resource + 8;
	dlen = strcspn(d, "/");
	if (d[dlen] != '\0' && strcmp(d + dlen, "/") != 0)
		return 0;
	host += 3;
	end = host + strcspn(host, ":/");
	hlen = (size_t)(end - host);
	/* base's host is NAME.D */
	return dlen > 0 && hlen > dlen + 1 && host[hlen - dlen - 1] == '.' &&
	    strncasecmp(host + hlen - dlen, d, dlen) == 0 &&
	    memchr(d, '.', dlen) != NULL;
}
