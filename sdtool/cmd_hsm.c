/*
 * sdtool hsm: the online half, and nothing more.  It talks to a Managed
 * HSM's security-domain API (net/mhsm.h) and handles only what may be on
 * a networked machine: the officers' certificates, the SD file the HSM
 * hands out, the exchange certificate, and the finished restore blob.
 * No private key and no passphrase is ever asked for here.
 *
 *   download       activation: certificates out, SD file in, saved at once
 *   init-recovery  the exchange certificate of a recovery-mode HSM
 *   upload         a restore blob made offline, then wait for the restore
 *   status         the pending operations' status
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../net/mhsm.h"
#include "../net/net.h"
#include "../shares/sdfile.h"

#define DEFAULT_TIMEOUT   600
#define DEFAULT_POLL      5

enum {
	O_JSON = 1, O_NAME, O_URL, O_TOKEN, O_CACERT, O_API, O_TIMEOUT,
	O_POLL, O_NOWAIT, O_CERTS, O_QUORUM, O_SDOUT, O_EXCH, O_SDFILE,
	O_RESTORE_BLOB
};

/*
 * The options every subcommand takes, to reach and authenticate to an HSM
 * (and --poll-interval, so that a runbook can keep them all in one
 * variable).
 */
#define CONN_OPTS \
	{ O_NAME, "hsm-name", 0, OPT_VALUE, "NAME", \
	    "the HSM https://NAME.managedhsm.azure.net" }, \
	{ O_URL, "hsm-url", 0, OPT_VALUE, "URL", \
	    "the HSM's URL (private endpoint, other cloud, simulator)" }, \
	{ O_URL, "id", 0, OPT_VALUE, "URL", "the same as --hsm-url (azure-cli)" }, \
	{ O_TOKEN, "access-token-file", 0, OPT_VALUE, "FILE", \
	    "bearer token (else $" NET_TOKEN_ENV_NAME ", else az)" }, \
	{ O_CACERT, "cacert", 0, OPT_VALUE, "FILE", \
	    "trust only these CA certificates (PEM)" }, \
	{ O_API, "api-version", 0, OPT_VALUE, "V", \
	    "API version (default " MHSM_API_VERSION ")" }, \
	{ O_TIMEOUT, "timeout", 0, OPT_VALUE, "S", \
	    "give up after S seconds in all (default 600)" }, \
	{ O_POLL, "poll-interval", 0, OPT_VALUE, "S", \
	    "seconds between status polls (default 5)" }, \
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" }

#define WAIT_OPTS \
	{ O_NOWAIT, "no-wait", 0, OPT_FLAG, NULL, \
	    "do not wait for the operation to finish" }

struct conn {
	const char *name, *url, *token_file, *cacert, *api;
	long timeout, poll;
	int json, no_wait;
};

/* What the progress callback needs, and what it counted. */
struct progress {
	int tty;
	int shown;        /* a progress line is on the terminal */
	int retries;
};

struct session {
	char *url;
	struct net_curl *curl;
	struct net_transport transport;
	struct sd_secret *token;
	enum net_token_source token_source;
	struct mhsm *m;
	struct progress prog;
	const struct conn *cn;
};

static void
conn_init(struct conn *cn)
{
	memset(cn, 0, sizeof(*cn));
	cn->timeout = DEFAULT_TIMEOUT;
	cn->poll = DEFAULT_POLL;
}

/* 1 when id was one of the common options, -1 on a usage error. */
static int
conn_opt(struct opt_parser *p, struct conn *cn, int id, const char *val)
{
	switch (id) {
	case O_NAME: cn->name = val; return 1;
	case O_URL: cn->url = val; return 1;
	case O_TOKEN: cn->token_file = val; return 1;
	case O_CACERT: cn->cacert = val; return 1;
	case O_API: cn->api = val; return 1;
	case O_JSON: cn->json = 1; return 1;
	case O_NOWAIT: cn->no_wait = 1; return 1;
	case O_TIMEOUT:
		return opt_int(p, "--timeout", val, 1, 86400, &cn->timeout) ?
		    -1 : 1;
	case O_POLL:
		return opt_int(p, "--poll-interval", val, 0, 300, &cn->poll) ?
		    -1 : 1;
	}
	return 0;
}

/* Which HSM: exactly one of --hsm-name and --hsm-url.  Usage errors. */
static int
conn_url(const struct conn *cn, char **url)
{
	struct sd_err e = { "" };

	*url = NULL;
	if ((cn->name == NULL) == (cn->url == NULL))
		return cli_usage_error("which HSM? give --hsm-name NAME or "
		    "--hsm-url URL (one of them)");
	if ((cn->name ? net_url_for_name(cn->name, url, &e) :
	    net_url_check(cn->url, url, &e)) != 0)
		return cli_usage_error("%s", e.msg);
	if (cn->cacert != NULL && access(cn->cacert, R_OK) != 0) {
		free(*url);
		*url = NULL;
		return cli_usage_error("--cacert %s: %s", cn->cacert,
		    strerror(errno));
	}
	return 0;
}

static void
progress_cb(void *ctx, const struct mhsm_progress *p)
{
	struct progress *pr = ctx;

	if (p->event == MHSM_EV_RETRY)
		pr->retries++;
	if (!pr->tty)
		return;
	/* one line, rewritten in place */
	if (p->event == MHSM_EV_RETRY)
		fprintf(stderr, "\r\033[K%s: %s; trying again in %lld s (try %d "
		    "of %d)", p->what, p->reason, (p->wait_ms + 999) / 1000,
		    p->attempt + 1, MHSM_MAX_TRIES);
	else
		fprintf(stderr, "\r\033[Kwaiting for the %s: %s (%lld s of "
		    "%lld s)", p->what, p->status->word[0] ?
		    p->status->word : "no status yet", p->elapsed_ms / 1000,
		    p->timeout_ms / 1000);
	fflush(stderr);
	pr->shown = 1;
}

static void
progress_end(struct progress *pr)
{
	if (pr->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		pr->shown = 0;
	}
}

static void
session_close(struct session *ss)
{
	progress_end(&ss->prog);
	mhsm_free(ss->m);
	net_curl_free(ss->curl);
	sd_secret_free(ss->token);
	free(ss->url);
	memset(ss, 0, sizeof(*ss));
}

/* The token, libcurl and the API handle; its deadline starts now. */
static int
session_open(struct session *ss, const struct conn *cn, char *url)
{
	struct mhsm_config cfg;
	struct sd_err e = { "" };

	memset(ss, 0, sizeof(*ss));
	ss->url = url;
	ss->cn = cn;
	ss->prog.tty = cli_stderr_is_tty();
	if (net_token_load(cn->token_file, &ss->token, &ss->token_source,
	    &e) != 0) {
		cli_error("%s", e.msg);
		return -1;
	}
	if (net_curl_new(cn->cacert, &ss->curl, &e) != 0) {
		cli_error("%s", e.msg);
		return -1;
	}
	net_curl_transport(ss->curl, &ss->transport);
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = ss->url;
	cfg.api_version = cn->api;
	cfg.token = ss->token;
	cfg.transport = &ss->transport;
	cfg.timeout_ms = cn->timeout * 1000LL;
	cfg.poll_interval_ms = cn->poll * 1000LL;
	cfg.progress = progress_cb;
	cfg.progress_ctx = &ss->prog;
	if (mhsm_new(&cfg, &ss->m, &e) != 0) {
		cli_error("%s", e.msg);
		return -1;
	}
	return 0;
}

static const char *
token_source_name(const struct session *ss)
{
	switch (ss->token_source) {
	case NET_TOKEN_FILE: return "the token of --access-token-file";
	case NET_TOKEN_ENV: return "the token of $" NET_TOKEN_ENV_NAME;
	case NET_TOKEN_AZ: return "azure-cli's token";
	}
	return "the token";
}

/*
 * A failed call: what failed, with the service's own words; then, for
 * 401 and 403, what they mean for security-domain operations.
 */
static void
report_failure(const struct session *ss, int r, const struct sd_err *e)
{
	const struct mhsm_fault *f = mhsm_fault(ss->m);

	if (f->request_id[0] != '\0')
		cli_error("%s: %s (x-ms-request-id %s)", ss->url, e->msg[0] ?
		    e->msg : sd_strerror(r), f->request_id);
	else
		cli_error("%s: %s", ss->url, e->msg[0] ? e->msg :
		    sd_strerror(r));
	if (r == SD_ERR_AUTH && f->http_status == 0)
		cli_error("note: the HSM's TLS certificate is not trusted here; "
		    "for a private CA give --cacert FILE");
	else if (f->http_status == 401)
		cli_error("note: the HSM refused %s: it is missing, expired, or "
		    "not for %s; get one with 'az account get-access-token "
		    "--resource %s'", token_source_name(ss), NET_TOKEN_RESOURCE,
		    NET_TOKEN_RESOURCE);
	else if (f->http_status == 403)
		cli_error("note: the token is valid but its owner may not do "
		    "this: security-domain operations need the Managed HSM "
		    "local RBAC role 'Managed HSM Administrator' (data actions "
		    "Microsoft.KeyVault/managedHsm/securitydomain/*); before "
		    "activation only the HSM's initial administrators "
		    "(az keyvault create --administrators) have it");
}

/*
 * Can a new file be made beside path?  Asked before activating: the SD
 * file the HSM sends exists once, and must find a place to land.
 */
static int
probe_writable(const char *path)
{
	char *copy = NULL, *tmp = NULL;
	int fd, ret = -1;

	if ((copy = strdup(path)) == NULL ||
	    asprintf(&tmp, "%s/.sdtool-probe.XXXXXX", dirname(copy)) == -1) {
		tmp = NULL;
		cli_error("out of memory");
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		cli_error("%s: no new file can be written there (%s); the "
		    "security domain would have nowhere to go", path,
		    strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	close(fd);
	unlink(tmp);
	ret = 0;
 out:
	free(tmp);
	free(copy);
	return ret;
}

/* --- download ----------------------------------------------------------- */

#define DOWNLOAD_SYNOPSIS "[--json] [--no-wait] {--hsm-name NAME | " \
	"--hsm-url URL} --sd-wrapping-keys CERT ... --sd-quorum M " \
	"--security-domain-file SD"

static const struct opt download_opts[] = {
	CONN_OPTS,
	WAIT_OPTS,
	{ O_CERTS, "sd-wrapping-keys", 0, OPT_LIST, "CERT",
	    "the officers' certificates, 3 to 10 (PEM or DER)" },
	{ O_QUORUM, "sd-quorum", 0, OPT_VALUE, "M", "shares needed, 2 to N" },
	{ O_SDOUT, "security-domain-file", 0, OPT_VALUE, "SD",
	    "where to write the SD file (must not exist)" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/*
 * A reply that came but cannot be read is kept beside the SD file: it is
 * all there may ever be of this HSM's security domain.
 */
static void
keep_raw_reply(const char *sd_out, const char *raw, size_t len)
{
	char *path = NULL;

	if (asprintf(&path, "%s.reply", sd_out) == -1) {
		cli_error("out of memory");
		return;
	}
	if (cli_write_new_file(path, raw, len, 0600) == 0) {
		cli_error("the HSM's reply was kept unchanged in %s: the HSM may "
		    "have activated with the security domain it holds; check "
		    "with 'sdtool hsm status download' and keep that file",
		    path);
	} else {
		cli_error("the HSM's reply could not be kept in %s; it follows "
		    "on standard output: save it now", path);
		fwrite(raw, 1, len, stdout);
		fputc('\n', stdout);
	}
	free(path);
}

static int
hsm_download(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct mhsm_status st;
	struct sd_err e = { "" };
	X509 *certs[PKI_SD_MAX_CERTS + 1] = { NULL };
	const char *val, *sd_out = NULL, *cert_paths[PKI_SD_MAX_CERTS + 1];
	const char *activation = "not waited for", *check_msg = NULL;
	char *url = NULL, *body = NULL, *sd = NULL, *raw = NULL, hex[65];
	char x5t[SD_X5T_SIZE], check_buf[600];
	size_t n = 0, i, body_len, sd_len = 0, raw_len = 0, bad, other;
	long long first_wait;
	long quorum = 0;
	json_t *o, *arr;
	int id, r, ret = EXIT_FAIL, waited_ok = 0;

	memset(&ss, 0, sizeof(ss));
	memset(&st, 0, sizeof(st));
	conn_init(&cn);
	opt_init(&p, argc, argv, download_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case O_CERTS:
			if (n == PKI_SD_MAX_CERTS + 1)
				return cli_usage_error("--sd-wrapping-keys: "
				    "more than %d certificates; the service "
				    "takes %d to %d", PKI_SD_MAX_CERTS,
				    PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
			cert_paths[n++] = val;
			break;
		case O_QUORUM:
			/* the range is checked below, with the count */
			if (opt_int(&p, "--sd-quorum", val, 0, 100, &quorum))
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_SDOUT: sd_out = val; break;
		case OPT_HELP: return cli_usage(stdout, DOWNLOAD_SYNOPSIS,
		    download_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (n == 0 || quorum == 0 || sd_out == NULL)
		return cli_usage_error("--sd-wrapping-keys, --sd-quorum and "
		    "--security-domain-file are required");
	/* The service's limits, checked before anything is sent. */
	if (n < PKI_SD_MIN_CERTS || n > PKI_SD_MAX_CERTS)
		return cli_usage_error("%zu certificates given; the service "
		    "takes %d to %d", n, PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
	if (quorum < PKI_SD_MIN_QUORUM || (size_t)quorum > n)
		return cli_usage_error("--sd-quorum %ld: the service takes %d up "
		    "to the number of certificates (%zu)", quorum,
		    PKI_SD_MIN_QUORUM, n);
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (cli_refuse_existing(sd_out) != 0 || probe_writable(sd_out) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((r = pki_cert_load(cert_paths[i], &certs[i], &e)) != 0) {
			cli_core_error(r, &e, "%s", cert_paths[i]);
			goto out;
		}
	if ((r = mhsm_certset_build(certs, n, (unsigned)quorum, &body, &bad,
	    &other, &e)) != 0) {
		if (other < n)
			cli_error("%s: the same certificate as %s; each officer "
			    "needs their own", cert_paths[bad], cert_paths[other]);
		else
			cli_error("%s: %s", bad < n ? cert_paths[bad] : "--sd-"
			    "wrapping-keys", e.msg);
		goto out;
	}
	body_len = strlen(body);

	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	r = mhsm_download(ss.m, body, body_len, &sd, &sd_len, &raw, &raw_len,
	    &first_wait, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		if (raw != NULL && raw_len > 0)
			keep_raw_reply(sd_out, raw, raw_len);
		else if (mhsm_fault(ss.m)->post_unanswered)
			cli_error("note: an earlier try got no reply; if the HSM "
			    "acted on it, it may be activated with a security "
			    "domain whose reply was lost: check with 'sdtool "
			    "hsm status download'");
		goto out;
	}
	/* At once, before any waiting: this is the only copy there is. */
	if (cli_write_new_file(sd_out, sd, sd_len, 0644) != 0) {
		cli_error("%s could not be written; the security domain follows "
		    "on standard output: save it now", sd_out);
		fwrite(sd, 1, sd_len, stdout);
		fputc('\n', stdout);
		goto out;
	}
	pki_sha256_hex(sd, sd_len, hex);
	if (!cn.json) {
		printf("security domain written to %s\n  sha256 %s\n", sd_out,
		    hex);
		fflush(stdout);
	}

	if (!cn.no_wait) {
		r = mhsm_wait(ss.m, MHSM_OP_DOWNLOAD, first_wait, &st, &e);
		progress_end(&ss.prog);
		if (r != 0) {
			activation = "unknown";
			report_failure(&ss, r, &e);
			cli_error("the activation's outcome is unknown; %s is "
			    "kept: check with 'sdtool hsm status download'",
			    sd_out);
		} else if (st.state == MHSM_FAILED) {
			activation = "Failed";
			cli_error("%s: the HSM reports the activation Failed%s%s; "
			    "%s is kept, but this HSM did not activate with it",
			    ss.url, st.details[0] ? ": " : "", st.details,
			    sd_out);
		} else {
			activation = st.word;
			waited_ok = 1;
		}
	}

	/* what `sdtool inspect` would check, on the file as written */
	if ((r = mhsm_sd_check(sd, sd_len, certs, n, (unsigned)quorum,
	    &e)) != 0) {
		snprintf(check_buf, sizeof(check_buf), "%s", e.msg);
		check_msg = check_buf;
		cli_error("%s: the security domain does not match the request: "
		    "%s", sd_out, e.msg);
	}

	if (cn.json) {
		o = json_object();
		arr = json_array();
		for (i = 0; i < n; i++)
			if (pki_cert_x5t256(certs[i], x5t) == 0)
				json_array_append_new(arr, json_string(x5t));
		json_object_set_new(o, "security_domain_file",
		    json_string(sd_out));
		json_object_set_new(o, "sha256", json_string(hex));
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "activation", json_string(activation));
		json_object_set_new(o, "status_details",
		    json_string(st.details));
		json_object_set_new(o, "required", json_integer(quorum));
		json_object_set_new(o, "certificates", arr);
		json_object_set_new(o, "checks", json_string(check_msg ?
		    check_msg : "ok"));
		json_object_set_new(o, "retries", json_integer(ss.prog.retries));
		cli_print_json(o);
		json_decref(o);
	} else {
		if (waited_ok)
			printf("HSM %s activated (status %s)\n", ss.url,
			    activation);
		else if (cn.no_wait)
			printf("activation not waited for: check with 'sdtool "
			    "hsm status download'\n");
		if (check_msg == NULL)
			printf("%s: quorum %ld of %zu shares, one for each "
			    "certificate given\n", sd_out, quorum, n);
		if (check_msg == NULL && (waited_ok || cn.no_wait))
			printf("Keep it, and keep the keys: without both the "
			    "HSM's keys cannot be recovered.\n");
	}
	if (check_msg == NULL && (waited_ok || cn.no_wait))
		ret = EXIT_OK;
 out:
	session_close(&ss);
	free(url);
	free(body);
	free(sd);
	free(raw);
	for (i = 0; i <= PKI_SD_MAX_CERTS; i++)
		X509_free(certs[i]);
	return ret;
}

/* --- init-recovery ------------------------------------------------------ */

#define RECOVERY_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"--sd-exchange-key OUT"

static const struct opt recovery_opts[] = {
	CONN_OPTS,
	{ O_EXCH, "sd-exchange-key", 0, OPT_VALUE, "OUT",
	    "where to write the exchange certificate (PEM; must not exist)" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
hsm_init_recovery(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct sd_err e = { "" };
	X509 *cert = NULL;
	const char *val, *out_path = NULL;
	char *url = NULL, x5t[SD_X5T_SIZE], not_after[32];
	char fp[96];
	json_t *o;
	int id, r, ret = EXIT_FAIL, expired;

	memset(&ss, 0, sizeof(ss));
	conn_init(&cn);
	opt_init(&p, argc, argv, recovery_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case O_EXCH: out_path = val; break;
		case OPT_HELP: return cli_usage(stdout, RECOVERY_SYNOPSIS,
		    recovery_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (out_path == NULL)
		return cli_usage_error("--sd-exchange-key is required");
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (cli_refuse_existing(out_path) != 0)
		goto out;
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	r = mhsm_transfer_key(ss.m, &cert, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		goto out;
	}
	if ((r = pki_cert_x5t256(cert, x5t)) != 0) {
		cli_core_error(r, NULL, "the exchange certificate");
		goto out;
	}
	if ((r = pki_cert_sha256_colon(cert, fp)) != 0) {
		cli_core_error(r, NULL, "the exchange certificate");
		goto out;
	}
	certgen_not_after(cert, not_after);
	expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
	if (cli_write_cert(out_path, cert) != 0)
		goto out;
	if (expired)
		cli_warn("the exchange certificate expired %s: this HSM's "
		    "exchange key is old; ask it for a current one", not_after);
	if (cn.json) {
		o = json_object();
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "exchange_key", json_string(out_path));
		json_object_set_new(o, "x5t_256", json_string(x5t));
		json_object_set_new(o, "sha256_fingerprint", json_string(fp));
		json_object_set_new(o, "not_after", json_string(not_after));
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("HSM %s is in recovery mode\n", ss.url);
		printf("exchange key certificate written to %s\n", out_path);
		printf("  x5t_256 %s\n", x5t);
		printf("Read this thumbprint aloud to the offline machine's "
		    "operator before making the restore blob.\n");
	}
	ret = EXIT_OK;
 out:
	session_close(&ss);
	free(url);
	X509_free(cert);
	return ret;
}

/* --- upload ------------------------------------------------------------- */

#define UPLOAD_SYNOPSIS "[--json] [--no-wait] {--hsm-name NAME | " \
	"--hsm-url URL} --sd-file BLOB"

static const struct opt upload_opts[] = {
	CONN_OPTS,
	WAIT_OPTS,
	{ O_SDFILE, "sd-file", 0, OPT_VALUE, "BLOB",
	    "the restore blob made offline by sdtool restore-blob" },
	{ O_RESTORE_BLOB, "restore-blob", 0, OPT_FLAG, NULL,
	    "accepted for azure-cli's runbooks: only blobs are uploaded" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
hsm_upload(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct sd_blob *blob = NULL;
	X509 *cert = NULL;
	const char *val, *blob_path = NULL, *outcome = "not waited for";
	char *url = NULL, *text = NULL, x5t[SD_X5T_SIZE];
	size_t len;
	json_t *o;
	int id, r, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	memset(&st, 0, sizeof(st));
	conn_init(&cn);
	opt_init(&p, argc, argv, upload_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case O_SDFILE: blob_path = val; break;
		case O_RESTORE_BLOB: break;
		case OPT_HELP: return cli_usage(stdout, UPLOAD_SYNOPSIS,
		    upload_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (blob_path == NULL)
		return cli_usage_error("--sd-file is required");
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (cli_read_file(blob_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_blob_parse(text, len, &blob, &e)) != 0) {
		if (strstr(e.msg, "security-domain file, not a restore blob"))
			cli_error("%s: this is a security-domain file, not a "
			    "restore blob: make the blob from it on the offline "
			    "machine with 'sdtool restore-blob', and upload "
			    "that", blob_path);
		else
			cli_core_error(r, &e, "%s: not a restore blob", blob_path);
		goto out;
	}
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	/* a blob for another exchange key would only fail on the HSM */
	r = mhsm_transfer_key(ss.m, &cert, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		goto out;
	}
	if ((r = pki_cert_x5t256(cert, x5t)) != 0) {
		cli_core_error(r, NULL, "the exchange certificate");
		goto out;
	}
	if (strcmp(x5t, blob->wrapped.x5t_256) != 0) {
		cli_error("%s: made for exchange key %s, but this HSM's exchange "
		    "key is %s: make the blob again with this HSM's exchange "
		    "certificate ('sdtool hsm init-recovery')", blob_path,
		    blob->wrapped.x5t_256, x5t);
		goto out;
	}
	r = mhsm_upload(ss.m, text, len, &st, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		if (mhsm_fault(ss.m)->post_unanswered ||
		    (mhsm_fault(ss.m)->http_status >= 200 &&
		    mhsm_fault(ss.m)->http_status < 300))
			cli_error("note: the HSM may have taken the blob all the "
			    "same: check with 'sdtool hsm status upload'");
		goto out;
	}
	if (!cn.no_wait && st.state != MHSM_SUCCESS &&
	    st.state != MHSM_FAILED) {
		r = mhsm_wait(ss.m, MHSM_OP_UPLOAD, -1, &st, &e);
		progress_end(&ss.prog);
		if (r != 0) {
			report_failure(&ss, r, &e);
			cli_error("the restore's outcome is unknown: check with "
			    "'sdtool hsm status upload'");
			outcome = "unknown";
			goto report;
		}
	}
	if (st.state == MHSM_FAILED) {
		outcome = "Failed";
		cli_error("%s: the HSM reports the restore Failed%s%s", ss.url,
		    st.details[0] ? ": " : "", st.details);
	} else if (st.state == MHSM_SUCCESS) {
		outcome = st.word;
		ret = EXIT_OK;
	} else if (cn.no_wait) {
		ret = EXIT_OK;
	}
 report:
	if (cn.json) {
		o = json_object();
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "restore_blob", json_string(blob_path));
		json_object_set_new(o, "exchange_key_x5t_256", json_string(x5t));
		json_object_set_new(o, "restore", json_string(outcome));
		json_object_set_new(o, "status_details",
		    json_string(st.details));
		json_object_set_new(o, "retries", json_integer(ss.prog.retries));
		cli_print_json(o);
		json_decref(o);
	} else if (ret == EXIT_OK) {
		printf("restore blob %s uploaded to %s\n", blob_path, ss.url);
		if (cn.no_wait)
			printf("restore not waited for: check with 'sdtool hsm "
			    "status upload'\n");
		else
			printf("HSM %s restored (status %s)\n", ss.url, outcome);
	}
 out:
	session_close(&ss);
	free(url);
	free(text);
	sd_blob_free(blob);
	X509_free(cert);
	return ret;
}

/* --- status ------------------------------------------------------------- */

#define STATUS_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"[download | upload]"

static const struct opt status_opts[] = {
	CONN_OPTS,
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
hsm_status(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct mhsm_status st;
	struct sd_err e = { "" };
	const char *val, *which = NULL;
	static const char *const names[2] = { "download", "upload" };
	char *url = NULL;
	json_t *o = NULL, *one;
	int id, r, k, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	conn_init(&cn);
	opt_init(&p, argc, argv, status_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case 0:
			if (which != NULL || (strcmp(val, "download") != 0 &&
			    strcmp(val, "upload") != 0))
				return cli_usage_error("which operation? "
				    "download or upload, not '%s'", val);
			which = val;
			break;
		case OPT_HELP: return cli_usage(stdout, STATUS_SYNOPSIS,
		    status_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	o = json_object();
	for (k = 0; k < 2; k++) {
		if (which != NULL && strcmp(which, names[k]) != 0)
			continue;
		r = mhsm_pending(ss.m, k == 0 ? MHSM_OP_DOWNLOAD :
		    MHSM_OP_UPLOAD, &st, &e);
		progress_end(&ss.prog);
		if (r != 0) {
			report_failure(&ss, r, &e);
			goto out;
		}
		one = json_object();
		json_object_set_new(one, "status", st.state == MHSM_NONE ?
		    json_null() : json_string(st.word));
		json_object_set_new(one, "status_details",
		    json_string(st.details));
		json_object_set_new(o, names[k], one);
		if (!cn.json) {
			if (st.state == MHSM_NONE)
				printf("%s: no operation to report\n", names[k]);
			else
				printf("%s: %s%s%s\n", names[k], st.word,
				    st.details[0] ? ": " : "", st.details);
		}
	}
	if (cn.json)
		cli_print_json(o);
	ret = EXIT_OK;
 out:
	json_decref(o);
	session_close(&ss);
	free(url);
	return ret;
}

/* --- dispatch ----------------------------------------------------------- */

#define SYNOPSIS "download | init-recovery | upload | status ..."

static const struct cli_verb hsm_verbs[] = {
	{ "download", hsm_download, "activate an HSM: send the officers' "
	    "certificates, save the SD file" },
	{ "init-recovery", hsm_init_recovery, "get a recovery-mode HSM's "
	    "exchange certificate" },
	{ "upload", hsm_upload, "upload a restore blob made offline, wait for "
	    "the restore" },
	{ "status", hsm_status, "the status of the pending operations" },
	{ NULL, NULL, NULL }
};

int
cmd_hsm(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, hsm_verbs, argc, argv);
}
