/*
 * http_curl.c - the libcurl transport of net.h.
 *
 * What it guarantees: TLS peer and host-name verification are always on
 * (only the trusted CAs can change, with --cacert); redirects are never
 * followed, so the bearer token goes to the URL given and nowhere else;
 * replies larger than NET_MAX_REPLY are cut off with SD_ERR_LIMIT; and the
 * Authorization header is built in guarded memory that is wiped after the
 * request.  (libcurl copies the header into its own send buffer while the
 * request goes out; that copy is beyond our reach.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "net.h"

#ifndef SDTOOL_VERSION
#define SDTOOL_VERSION "0"
#endif

#define CONNECT_TIMEOUT_MS 30000L
#define AUTH_PREFIX "Authorization: Bearer "

struct net_curl {
	CURL *h;
	char *cacert;
	char errbuf[CURL_ERROR_SIZE];
};

struct sink {
	char *buf;
	size_t len, cap;
	int too_big;
};

void
net_reply_clear(struct net_reply *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}

static size_t
sink_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb, cap;
	char *nb;

	if (s->len + n > NET_MAX_REPLY) {
		s->too_big = 1;
		return 0;   /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap ? s->cap : 16384;
		while (cap < s->len + n + 1)
			cap *= 2;
		if ((nb = realloc(s->buf, cap)) == NULL)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

int
net_curl_new(const char *cacert, struct net_curl **out, struct sd_err *e)
{
	struct net_curl *c = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	/* once per process in practice; libcurl counts the calls */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "libcurl failed to start");
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (cacert != NULL && (c->cacert = strdup(cacert)) == NULL)) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((c->h = curl_easy_init()) == NULL) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "libcurl failed to start");
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
 out:
	net_curl_free(c);
	return r;
}

void
net_curl_free(struct net_curl *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	free(c->cacert);
	free(c);
}

/* A random x-ms-client-request-id, so the service's logs can be found. */
static void
client_request_id(char out[37])
{
	uint8_t b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Loopback never goes through a proxy; other no_proxy entries are kept. */
static char *
no_proxy_list(void)
{
	const char *env = getenv("no_proxy");
	char *s;

	if (env == NULL || *env == '\0')
		env = getenv("NO_PROXY");
	if (asprintf(&s, "localhost,127.0.0.1,::1%s%s", env && *env ? "," : "",
	    env && *env ? env : "") == -1)
		return NULL;
	return s;
}

/*
 * What a failed exchange means for a retry: a certificate that does not
 * verify, or a host name that does not resolve, stays so (and is said at
 * once); anything else may pass.
 */
static int
transport_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		return SD_ERR_AUTH;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return SD_ERR_ARG;
	default:
		return SD_ERR_IO;
	}
}

/*
 * A header's value into out[NET_HEADER_LEN], when it is short enough to
 * be kept whole and holds only printable ASCII: a URL or a challenge cut
 * short or rewritten would be wrong, so it is dropped instead.
 */
static void
keep_header(CURL *h, const char *name, char out[NET_HEADER_LEN])
{
	struct curl_header *hd;
	size_t i, n;

	out[0] = '\0';
	/* the last of them, when sent twice */
	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return;
	if (hd->amount > 1 && curl_easy_header(h, name, hd->amount - 1,
	    CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return;
	if ((n = strlen(hd->value)) >= NET_HEADER_LEN)
		return;
	for (i = 0; i < n; i++)
		if ((unsigned char)hd->value[i] < 0x20 ||
		    (unsigned char)hd->value[i] >= 0x7f)
			return;
	memcpy(out, hd->value, n + 1);
}

static int
curl_send(void *ctx, const char *method, const char *url, const char *body,
    size_t body_len, const struct sd_secret *token, long timeout_ms,
    struct net_reply *reply, struct sd_err *e)
{
	struct net_curl *c = ctx;
	struct curl_slist *hdrs = NULL, auth_node;
	struct curl_header *h;
	struct sink sink = { NULL, 0, 0, 0 };
	char *auth = NULL, *noproxy = NULL, rid[37], line[80];
	size_t auth_len;
	curl_off_t ra = -1;
	CURLcode cc;
	int r = SD_ERR_INTERNAL;
	int post = strcmp(method, "POST") == 0;

	memset(reply, 0, sizeof(*reply));
	reply->retry_after = -1;
	curl_easy_reset(c->h);
	c->errbuf[0] = '\0';

	client_request_id(rid);
	snprintf(line, sizeof(line), "x-ms-client-request-id: %s", rid);
	if ((hdrs = curl_slist_append(hdrs, "Accept: application/json")) ==
	    NULL || (hdrs = curl_slist_append(hdrs, line)) == NULL ||
	    (post && (hdrs = curl_slist_append(hdrs,
	    "Content-Type: application/json; charset=utf-8")) == NULL) ||
	    (hdrs = curl_slist_append(hdrs, "Expect:")) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (token != NULL) {
		/*
		 * Our own list node, so that the header text stays in guarded
		 * memory instead of a strdup'd copy curl_slist_append would
		 * make and free unwiped.  libcurl only reads the list.
		 */
		auth_len = sizeof(AUTH_PREFIX) - 1 + token->len + 1;
		if ((auth = sodium_malloc(auth_len)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
			goto out;
		}
		memcpy(auth, AUTH_PREFIX, sizeof(AUTH_PREFIX) - 1);
		memcpy(auth + sizeof(AUTH_PREFIX) - 1, token->p, token->len);
		auth[auth_len - 1] = '\0';
		auth_node.data = auth;
		auth_node.next = hdrs;
	}
	if ((noproxy = no_proxy_list()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}

	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->cacert != NULL) {
		/* a private CA replaces the system store, it does not add */
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->cacert);
		curl_easy_setopt(c->h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_NOPROXY, noproxy);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "sdtool/" SDTOOL_VERSION);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, token ? &auth_node : hdrs);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ?
	    timeout_ms : 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms > 0 && timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms :
	    CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &sink);
	if (post) {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}

	cc = curl_easy_perform(c->h);
	if (sink.too_big) {
		r = sd_err_set(e, SD_ERR_LIMIT, "%s: the reply is larger than "
		    "%u bytes", url, NET_MAX_REPLY);
		goto out;
	}
	if (cc != CURLE_OK) {
		r = sd_err_set(e, transport_error(cc), "%s: %s", url,
		    c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &reply->status);
	if (curl_easy_header(c->h, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK && curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra) ==
	    CURLE_OK)
		reply->retry_after = ra >= 0 ? (long)(ra > 86400 ? 86400 : ra) :
		    -1;
	if (curl_easy_header(c->h, "x-ms-request-id", 0, CURLH_HEADER, -1,
	    &h) == CURLHE_OK)
		net_printable(h->value, strlen(h->value), reply->request_id,
		    sizeof(reply->request_id));
	keep_header(c->h, "Azure-AsyncOperation", reply->async_op);
	keep_header(c->h, "WWW-Authenticate", reply->www_auth);
	if (sink.buf == NULL && (sink.buf = calloc(1, 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	reply->body = sink.buf;
	reply->len = sink.len;
	sink.buf = NULL;
	r = 0;
 out:
	/* drop every reference libcurl keeps to our header nodes */
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	if (auth != NULL)
		sodium_free(auth);
	curl_slist_free_all(hdrs);
	free(noproxy);
	free(sink.buf);
	return r;
}

void
net_curl_transport(struct net_curl *c, struct net_transport *t)
{
	t->send = curl_send;
	t->ctx = c;
}

static long long
real_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
real_sleep_ms(void *ctx, long long ms)
{
	struct timespec ts;

	(void)ctx;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const struct net_clock *
net_clock_real(void)
{
	static const struct net_clock clk = { real_now_ms, real_sleep_ms,
	    NULL };

	return &clk;
}

void
net_printable(const char *s, size_t len, char *out, size_t size)
{
	size_t i, n = 0;

	if (size == 0)
		return;
	for (i = 0; i < len && n + 1 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
	if (i < len && size > 4)
		memcpy(out + size - 4, "...", 4);
}
