/*
 * mhsm.h - the security-domain part of the Managed HSM data-plane API,
 * as sdtool uses it:
 *
 *   POST /securitydomain/download          activation: certificates in,
 *                                          the SD file out (in the reply)
 *   GET  /securitydomain/download/pending  activation status (advertised,
 *                                          never seen polled: see below)
 *   GET  /securitydomain/upload            a recovery-mode HSM's exchange
 *                                          key (the "transfer key")
 *   POST /securitydomain/upload            the restore blob in
 *   GET  /securitydomain/upload/pending    restore status
 *
 * every one with ?api-version=V and a bearer token.  The truth is what
 * recordings of azure-cli talking to the real service show (builds from
 * 2020-08 to 2023-08, the vectors and issue 10): api-version 7.2
 * everywhere; download answered 200 with the SD file and nothing to wait
 * for (2020), or 202 with an Azure-AsyncOperation URL naming
 * download/pending (2022 on), after which azure-cli polled
 * upload/pending, which reported the activation (InProgress, then
 * Success); upload answered 202 with an Azure-AsyncOperation URL and was
 * polled at upload/pending until Succeeded (2020) or Success (2023).
 * No reply carried Retry-After.
 *
 * Waiting (mhsm_wait) follows the service's Azure-AsyncOperation URL when
 * it names this HSM, and falls back to MHSM_FALLBACK_STATUS when that URL
 * answers 404, 400 or 405; it keeps polling through 429, 5xx, dropped
 * connections, malformed replies and other 4xx until the deadline.
 *
 * A 401 carrying a bearer challenge (WWW-Authenticate: Bearer
 * authorization="https://login.microsoftonline.com/TENANT",
 * resource="R") is parsed; when the caller gave a reauth callback and R
 * belongs to this HSM, the callback is asked once for a token for that
 * tenant and resource, and the request is sent again with it.
 *
 * Every call goes through one retry policy: a request that got no reply,
 * or a 429 or 5xx reply, is sent again, after the Retry-After the service
 * gave or else an exponential backoff, at most MHSM_MAX_TRIES times, and
 * never past the handle's deadline (now + timeout at mhsm_new).  A reply
 * that is not what the API promises is retried too when the request was a
 * GET (repeating it changes nothing).
 *
 * No printing: progress goes to a callback, errors to struct sd_err, and
 * what the service said when it refused to struct mhsm_fault.
 */
#ifndef SD_NET_MHSM_H
#define SD_NET_MHSM_H

#include <stddef.h>

#include <openssl/x509.h>

#include "net.h"
#include "../shares/sd_err.h"
#include "../shares/secret.h"

/*
 * The api-version sent unless told otherwise: the current stable version
 * of the REST reference for the security-domain operations.
 */
#define MHSM_API_VERSION  "7.2"
/* Where every recorded client polled, for activation and restore alike. */
#define MHSM_FALLBACK_STATUS "/securitydomain/upload/pending"
#define MHSM_MAX_TRIES    6        /* sends of one request, at most */
#define MHSM_MAX_BACKOFF_MS 30000  /* longest wait between two tries */
#define MHSM_MIN_POLL_MS  100      /* shortest wait between two polls */

/* The limits the service puts on a certificate set. */

/* What the service says when a download fails for a while, then works. */
#define MHSM_EXPORT_TRANSIENT "Failed to export security domain data"

enum mhsm_op { MHSM_OP_DOWNLOAD, MHSM_OP_UPLOAD };

enum mhsm_state {
	MHSM_NONE = 0,       /* 204: no operation to report */
	MHSM_IN_PROGRESS,    /* InProgress */
	MHSM_SUCCESS,        /* Success, or Succeeded (older builds) */
	MHSM_FAILED,         /* Failed: final */
};

struct mhsm_status {
	enum mhsm_state state;
	char word[32];        /* the status as sent (printable), "" for 204 */
	char details[512];    /* status_details or statusDetails (printable) */
	long retry_after;     /* seconds the service asked to wait, or -1 */
	char via[64];         /* the path that answered, "" when unknown */
};

/* A 401's bearer challenge, as parsed (printable ASCII, "" if absent). */
struct mhsm_challenge {
	char authority[256];  /* authorization / authorization_uri */
	char tenant[65];      /* the authority's last path segment */
	char resource[257];   /* resource, or scope without "/.default" */
};

/* What a POST that started an operation said about waiting for it. */
struct mhsm_accepted {
	long http_status;             /* 200: done already; 202: started */
	long long first_wait_ms;      /* its Retry-After in ms, or -1 */
	char status_url[NET_HEADER_LEN]; /* Azure-AsyncOperation, or "" */
};

/* What the service (or the network) said when a call failed. */
struct mhsm_fault {
	long http_status;     /* 0: no HTTP reply at all */
	char code[64];        /* error.code as sent (printable) */
	char message[512];    /* error.message as sent (printable) */
	char request_id[NET_REQUEST_ID_LEN];
	int timed_out;        /* the deadline passed */
	/*
	 * A POST went out and no reply came back, so the service may have
	 * acted on it (an earlier download attempt may have activated the
	 * HSM, and its reply is lost).
	 */
	int post_unanswered;
	struct mhsm_challenge challenge;  /* of the last 401, if any */
	/*
	 * 1: a token for the challenge's tenant was fetched and the request
	 * sent again (and refused again, if this is a fault); -1: the
	 * challenge could not be answered, reauth_msg says why; 0: not tried.
	 */
	int reauth;
	char reauth_msg[256];
};

enum mhsm_event {
	MHSM_EV_RETRY,        /* a request is sent again after wait_ms */
	MHSM_EV_POLL,         /* a status came back; status is set */
};

struct mhsm_progress {
	enum mhsm_event event;
	const char *what;        /* "download", "download status", ... */
	const char *reason;      /* RETRY: why, briefly ("HTTP 429 Too Many
	                            Requests", "no reply", "malformed reply") */
	int attempt;             /* RETRY: the try that failed (1-based) */
	long long wait_ms;       /* RETRY, POLL: the wait before the next */
	long long elapsed_ms;
	long long timeout_ms;
	const struct mhsm_status *status;  /* POLL */
};

struct mhsm_config {
	const char *url;                   /* base URL, as net_url_check gives */
	const char *api_version;           /* NULL: MHSM_API_VERSION */
	const struct sd_secret *token;     /* borrowed; NULL sends none */
	const struct net_transport *transport;
	const struct net_clock *clock;     /* NULL: net_clock_real() */
	long long timeout_ms;              /* everything done through the handle */
	long long poll_interval_ms;        /* between status polls */
	void (*progress)(void *ctx, const struct mhsm_progress *p);
	void *progress_ctx;
	/*
	 * Answer a 401 challenge (NULL: never): put a token for ch's tenant
	 * and resource in *token (borrowed; valid while the handle lives)
	 * and return 0, or return an SD_ERR_* with the reason in e.  Asked
	 * at most once per handle.
	 */
	int (*reauth)(void *ctx, const struct mhsm_challenge *ch,
	    const struct sd_secret **token, struct sd_err *e);
	void *reauth_ctx;
};

struct mhsm;

/* A handle; its deadline starts now.  The api-version is checked. */
int mhsm_new(const struct mhsm_config *cfg, struct mhsm **out,
    struct sd_err *e) SD_WUR;
void mhsm_free(struct mhsm *m);
/* The last failure's detail (zeroed when the last call succeeded). */
const struct mhsm_fault *mhsm_fault(const struct mhsm *m);

/*
 * Activation.  Posts the certificate set (mhsm_certset_build) and returns
 * the SD file's text from the reply's "value" (*sd, malloc'd, len *sd_len).
 * When a 2xx reply came but holds no SD file that can be read, returns
 * SD_ERR_FORMAT and hands the raw reply over in *raw (*raw_len bytes) so that it
 * can be kept: the HSM may have activated with it.  *acc says how the
 * reply asked to be waited for: http_status 200 (the 2020 builds) means
 * the activation is complete and there is nothing to poll.  An error
 * reply whose message is MHSM_EXPORT_TRANSIENT is retried like a 5xx.
 */
int mhsm_download(struct mhsm *m, const char *certset, size_t certset_len,
    char **sd, size_t *sd_len, char **raw, size_t *raw_len,
    struct mhsm_accepted *acc, struct sd_err *e) SD_WUR;

/*
 * The exchange key of a recovery-mode HSM: its certificate, checked as
 * mhsm_exchange_cert() does.
 */
int mhsm_transfer_key(struct mhsm *m, X509 **cert, struct sd_err *e) SD_WUR;

/*
 * Upload a restore blob (the text of the file, sent as {"value": text}).
 * *st is the state the reply gives (InProgress when it gives none), *acc
 * how to wait for it.
 */
int mhsm_upload(struct mhsm *m, const char *blob, size_t len,
    struct mhsm_status *st, struct mhsm_accepted *acc,
    struct sd_err *e) SD_WUR;

/*
 * The pending-operation status (GET .../pending); 204 is MHSM_NONE.  For
 * MHSM_OP_DOWNLOAD, download/pending is asked first and, when it answers
 * 404, 400 or 405, MHSM_FALLBACK_STATUS; st->via says which answered.
 */
int mhsm_pending(struct mhsm *m, enum mhsm_op op, struct mhsm_status *st,
    struct sd_err *e) SD_WUR;

/*
 * Poll the status of op until it is final (Success or Failed: Failed is
 * never polled further) or the deadline passes (SD_ERR_IO, fault's
 * timed_out set, *st the last status seen).  The URL polled is acc's
 * status_url when it names this HSM (api-version added when missing),
 * else MHSM_FALLBACK_STATUS, which also replaces it when it answers 404,
 * 400 or 405.  429, 5xx, no reply, a malformed reply and any other 4xx
 * (but 401 and 403) are polled through with backoff.  The first poll
 * comes after acc's first_wait_ms (if >= 0) or the poll interval; later
 * ones after the poll interval or the reply's Retry-After, whichever is
 * longer, and never sooner than MHSM_MIN_POLL_MS.  acc may be NULL.
 * Returns 0 with *st final; the caller tells Success from Failed.
 */
int mhsm_wait(struct mhsm *m, enum mhsm_op op,
    const struct mhsm_accepted *acc, struct mhsm_status *st,
    struct sd_err *e) SD_WUR;

/*
 * A WWW-Authenticate value into *ch: a Bearer challenge's authorization
 * (or authorization_uri) and resource (or scope).  Returns 0 when it names
 * a tenant, SD_ERR_FORMAT otherwise (*ch then holds what could be read).
 */
int mhsm_challenge_parse(const char *hdr, struct mhsm_challenge *ch) SD_WUR;

/*
 * May a token for resource be sent to base (an HSM URL)?  Only for
 * NET_TOKEN_RESOURCE, or a resource https://D where base's host ends in
 * ".D": never a token for something that is not this HSM's service.
 */
int mhsm_resource_ok(const char *base, const char *resource);

/* --- no I/O: building and reading the bodies --------------------------- */

/*
 * The body of POST /securitydomain/download:
 * {"certificates":[JWK,...],"required":quorum}, each JWK with kty "RSA",
 * key_ops, n, e, x5c (the DER certificate, standard base64), x5t (SHA-1),
 * x5t#S256 (SHA-256, both base64url) and alg "RSA-OAEP-256".  Checks the
 * set first (pki_certset_check).  *json malloc'd.
 */
int mhsm_certset_build(X509 *const *certs, size_t n, unsigned quorum,
    char **json, size_t *bad, size_t *other, struct sd_err *e) SD_WUR;

/*
 * The SD file in a download reply: {"value": V} where V is the file as a
 * JSON string (what the service sends), base64 of it, or the object
 * itself.  *sd malloc'd and NUL-terminated.
 */
int mhsm_sd_from_reply(const char *body, size_t len, char **sd,
    size_t *sd_len, struct sd_err *e) SD_WUR;

/*
 * A status body: {"status": S, "status_details" | "statusDetails": D}.
 * An unknown status word is SD_ERR_UNSUPPORTED.
 */
int mhsm_status_parse(const char *body, size_t len, struct mhsm_status *st,
    struct sd_err *e) SD_WUR;

/*
 * A service error, {"error":{"code":C,"message":M}}, into f's code and
 * message; a body of another shape goes, printable and cut short, into
 * message.
 */
void mhsm_error_parse(const char *body, size_t len, struct mhsm_fault *f);

/*
 * The exchange certificate in a transfer-key reply (see
 * sd_transfer_key_parse): an RSA key of PKI_MIN_RSA_BITS or more, whose
 * JWK n and e, when given, are the certificate's.
 */
int mhsm_exchange_cert(const char *body, size_t len, X509 **cert,
    struct sd_err *e) SD_WUR;

/*
 * What `sdtool inspect` would check of a freshly downloaded SD file: it
 * parses, its quorum is quorum, and it has exactly one share for each of
 * the n certificates and none for any other.
 */
int mhsm_sd_check(const char *sd, size_t len, X509 *const *certs, size_t n,
    unsigned quorum, struct sd_err *e) SD_WUR;

/*
 * Key operations, for drills (issue 11), each with the api-version
 * azure-cli was recorded sending:
 *   POST /keys/{name}/create?api-version=7.4-preview.1  body: the key's
 *        attributes, reply {"attributes":..., "key": JWK}
 *   POST /keys/{name}/backup?api-version=7.0            reply {"value": V}
 *   POST /keys/restore?api-version=7.0  body {"value": V}, reply as create
 * V is base64url of the key backup (a compact JWE, see shares/backup.h).
 * *reply is the reply's body (malloc'd, NUL-terminated), checked to be a
 * JSON object with "key" (create, restore) or "value" (backup).  Refusals
 * as for the other calls: SD_ERR_ARG with mhsm_fault() set.
 */
#define MHSM_KEY_CREATE_API "7.4-preview.1"
#define MHSM_KEY_BACKUP_API "7.0"

enum mhsm_key_op { MHSM_KEY_CREATE, MHSM_KEY_BACKUP, MHSM_KEY_RESTORE };

int mhsm_key_request(struct mhsm *m, enum mhsm_key_op op, const char *name,
    const char *body, size_t body_len, char **reply, size_t *reply_len,
    struct sd_err *e) SD_WUR;

#endif
