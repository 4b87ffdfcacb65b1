/*
 * net.h - the one place sdtool talks to a network: HTTPS requests through
 * libcurl, where the bearer token comes from, and which URLs may be used.
 *
 * Like the rest of the core, net/ never prints and never exits: functions
 * return 0 or a negative SD_ERR_* with detail in struct sd_err.  A
 * failure to get any HTTP reply (refused, dropped, TLS, timeout) is
 * SD_ERR_IO.
 *
 * The transport and the clock are behind small function tables so that
 * the retry and polling logic of mhsm.c can be tested without a network
 * and without sleeping.
 */
#ifndef SD_NET_H
#define SD_NET_H

#include <stddef.h>

#include "../shares/sd_err.h"
#include "../shares/secret.h"

#define NET_MAX_REPLY     (16u << 20)  /* largest reply body accepted */
#define NET_MAX_TOKEN     (16u << 10)  /* largest bearer token accepted */
#define NET_REQUEST_ID_LEN 80
#define NET_HEADER_LEN    1024         /* longest header value kept */

/* One HTTP reply. */
struct net_reply {
	long status;           /* HTTP status code */
	char *body;            /* malloc'd, NUL-terminated (len bytes before) */
	size_t len;
	long retry_after;      /* seconds of a Retry-After header, or -1 */
	char request_id[NET_REQUEST_ID_LEN]; /* x-ms-request-id, or "" */
	/* Azure-AsyncOperation (the status URL of a long-running operation),
	   or "" (printable ASCII; longer values are dropped, not cut) */
	char async_op[NET_HEADER_LEN];
	/* WWW-Authenticate of a 401 (the bearer challenge), or "" */
	char www_auth[NET_HEADER_LEN];
};

/* Free the body and reset every field; safe on a zeroed reply. */
void net_reply_clear(struct net_reply *r);

/*
 * Sends one request.  method is "GET" or "POST"; body (JSON) is sent with
 * POST.  The token, when not NULL, goes in an Authorization: Bearer
 * header and nowhere else.  timeout_ms bounds the whole exchange.
 * Returns 0 with *reply filled for any HTTP status; without a reply,
 * SD_ERR_IO when trying again may help (refused, dropped, timed out),
 * SD_ERR_AUTH when the server's TLS certificate does not verify, SD_ERR_ARG
 * when the host name does not resolve; SD_ERR_LIMIT for a reply too large.
 * The detail says why.
 */
struct net_transport {
	int (*send)(void *ctx, const char *method, const char *url,
	    const char *body, size_t body_len, const struct sd_secret *token,
	    long timeout_ms, struct net_reply *reply, struct sd_err *e);
	void *ctx;
};

/* Monotonic milliseconds and sleeping; tests substitute both. */
struct net_clock {
	long long (*now_ms)(void *ctx);
	void (*sleep_ms)(void *ctx, long long ms);
	void *ctx;
};

/* The real clock (CLOCK_MONOTONIC, nanosleep). */
const struct net_clock *net_clock_real(void);

/*
 * libcurl.  Certificate and host-name verification are always on;
 * cacert (a PEM file) replaces the system's CA store when not NULL.
 * Redirects are never followed, so the token goes only to the URL given.
 */
struct net_curl;
int net_curl_new(const char *cacert, struct net_curl **out,
    struct sd_err *e) SD_WUR;
void net_curl_free(struct net_curl *c);
/* A transport over c (valid while c lives). */
void net_curl_transport(struct net_curl *c, struct net_transport *t);

/*
 * Check an HSM base URL: https://HOST[:PORT] with no path beyond "/", no
 * query, no user name; http:// only when HOST is a loopback address
 * (127.0.0.0/8, ::1, localhost), for the simulator.  *out is a malloc'd
 * copy without a trailing "/".
 */
int net_url_check(const char *url, char **out, struct sd_err *e) SD_WUR;

/*
 * A URL the service sent (an Azure-AsyncOperation status URL) checked
 * against base (as net_url_check gives it): the same scheme, host and
 * port, so that the token goes nowhere else.  *out is base + its path and
 * query, with "api-version=V" added when the query has none.  SD_ERR_ARG
 * when it is not a URL of base.
 */
int net_url_status(const char *base, const char *url,
    const char *api_version, char **out, struct sd_err *e) SD_WUR;

/*
 * The URL of a Managed HSM named name in Azure's public cloud:
 * https://NAME.managedhsm.azure.net.  The name must be 3 to 24 letters,
 * digits and hyphens, as Azure requires.
 */
int net_url_for_name(const char *name, char **out, struct sd_err *e) SD_WUR;

/*
 * Where the bearer token came from (for messages: never the token).
 */
enum net_token_source {
	NET_TOKEN_FILE = 1,   /* --access-token-file */
	NET_TOKEN_ENV,        /* SDTOOL_ACCESS_TOKEN */
	NET_TOKEN_AZ,         /* az account get-access-token */
};

#define NET_TOKEN_ENV_NAME "SDTOOL_ACCESS_TOKEN"
#define NET_TOKEN_RESOURCE "https://managedhsm.azure.net"

/*
 * The bearer token, into guarded memory: from file if not NULL (its
 * first line; a file or a pipe), else from $SDTOOL_ACCESS_TOKEN (which is
 * then wiped from the environment), else, when az is found in PATH, from
 * `az account get-access-token --resource https://managedhsm.azure.net`,
 * read through a pipe.  The token must be one line of printable ASCII
 * without spaces.  With no source at all: SD_ERR_ARG, detail saying how
 * to give one.
 */
int net_token_load(const char *file, struct sd_secret **token,
    enum net_token_source *source, struct sd_err *e) SD_WUR;

/*
 * azure-cli's token for resource in tenant, as the service's 401
 * challenge names them: `az account get-access-token --resource RESOURCE
 * --tenant TENANT`, read through a pipe.  tenant is 1 to 64 letters,
 * digits, '.', '-' (a GUID or a domain) and resource an https:// URL
 * without spaces or quotes, else SD_ERR_ARG; nothing secret is on the
 * command line.
 */
int net_token_az(const char *tenant, const char *resource,
    struct sd_secret **token, struct sd_err *e) SD_WUR;

/*
 * Copy at most size-1 bytes of s into out, replacing anything that is not
 * printable ASCII by '?', and "..." at the end when cut: for echoing what
 * a server sent without letting it drive the terminal.
 */
void net_printable(const char *s, size_t len, char *out, size_t size);

#endif
