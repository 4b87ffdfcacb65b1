/*
 * sdtool hsm: the online half, and nothing more.  It talks to a Managed
 * HSM's security-domain API (net/mhsm.h) and handles only what may be on
 * a networked machine: the officers' certificates, the SD file the HSM
 * hands out, the exchange certificate, and the finished restore blob.
 * No private key and no passphrase is ever asked for here.
 *
 *   download       activation: certificates out, SD file in, saved at once
 *   init-recovery  the exchange certificate of a recovery-mode HSM
 *   upload         a restore blob made offline, then wait for the restore;
 *                  or azure-cli's one-step form (SD file and keys: the
 *                  blob is made here, see restore.h)
 *   status         the pending operations' status
 *   key-create, key-backup, key-restore
 *                  a canary key for drills (issue 11)
 *   wait           wait for a pending operation to end (azure-cli's wait)
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
#include "keys.h"
#include "report.h"
#include "restore.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../net/mhsm.h"
#include "../net/net.h"
#include "../shares/b64.h"
#include "../shares/backup.h"
#include "../shares/sdfile.h"

#define DEFAULT_TIMEOUT   600
#define DEFAULT_POLL      5

enum {
	O_JSON = 1, O_NAME, O_URL, O_TOKEN, O_CACERT, O_API, O_TIMEOUT,
	O_POLL, O_NOWAIT, O_CERTS, O_QUORUM, O_SDOUT, O_EXCH, O_SDFILE,
	O_RESTORE_BLOB, O_KEYS, O_PASSFILE, O_PASSWORDS, O_KEYNAME, O_KEYFILE
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
	struct mhsm_config cfg;
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

static const char *token_source_name(const struct session *ss);

/*
 * The service's 401 challenge names a tenant and resource: azure-cli's
 * token is fetched again for them (once), as the Azure SDKs do.  A token
 * given as a file or in the environment cannot be.
 */
static int
reauth_cb(void *ctx, const struct mhsm_challenge *ch,
    const struct sd_secret **tok, struct sd_err *e)
{
	struct session *ss = ctx;
	struct sd_secret *t = NULL;
	int r;

	*tok = NULL;
	if (ss->token_source != NET_TOKEN_AZ)
		return sd_err_set(e, SD_ERR_AUTH, "%s cannot be fetched again "
		    "for that tenant", token_source_name(ss));
	progress_end(&ss->prog);
	fprintf(stderr, "the HSM asks for a token of tenant %s (resource %s); "
	    "asking az for one\n", ch->tenant, ch->resource[0] ?
	    ch->resource : NET_TOKEN_RESOURCE);
	if ((r = net_token_az(ch->tenant, ch->resource[0] ? ch->resource :
	    NET_TOKEN_RESOURCE, &t, e)) != 0)
		return r;
	sd_secret_free(ss->token);
	ss->token = t;
	*tok = t;
	return 0;
}

/* The token, libcurl and the API handle; its deadline starts now. */
static int
session_open(struct session *ss, const struct conn *cn, char *url)
{
	struct mhsm_config *cfg = &ss->cfg;
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
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = ss->url;
	cfg->api_version = cn->api;
	cfg->token = ss->token;
	cfg->transport = &ss->transport;
	cfg->timeout_ms = cn->timeout * 1000LL;
	cfg->poll_interval_ms = cn->poll * 1000LL;
	cfg->progress = progress_cb;
	cfg->progress_ctx = &ss->prog;
	cfg->reauth = reauth_cb;
	cfg->reauth_ctx = ss;
	if (mhsm_new(cfg, &ss->m, &e) != 0) {
		cli_error("%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * A new API handle with the same settings (and the token as it is now),
 * its deadline starting now: after the officers have typed passphrases,
 * --timeout is for the HSM again.
 */
static int
session_restart(struct session *ss)
{
	struct sd_err e = { "" };

	mhsm_free(ss->m);
	ss->m = NULL;
	ss->cfg.token = ss->token;
	if (mhsm_new(&ss->cfg, &ss->m, &e) != 0) {
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
	else if (f->http_status == 401 && f->challenge.tenant[0] != '\0') {
		/* never the token itself: only where it should come from */
		const char *res = f->challenge.resource[0] ?
		    f->challenge.resource : NET_TOKEN_RESOURCE;

		if (f->reauth == 1)
			cli_error("note: the HSM asks for a token of tenant %s "
			    "for resource %s; azure-cli's token for them was "
			    "refused too: is this account a Managed HSM "
			    "Administrator there?", f->challenge.tenant, res);
		else
			cli_error("note: the HSM refused %s; it asks for a token "
			    "of tenant %s for resource %s%s%s%s: get one with "
			    "'az account get-access-token --resource %s "
			    "--tenant %s'", token_source_name(ss),
			    f->challenge.tenant, res, f->reauth_msg[0] ? " (" :
			    "", f->reauth_msg, f->reauth_msg[0] ? ")" : "", res,
			    f->challenge.tenant);
	} else if (f->http_status == 401)
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
	struct mhsm_accepted acc;
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
	cli_warn_quorum((unsigned)quorum, n);
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
	    &acc, &e);
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

	if (acc.http_status == 200) {
		/* 2020 builds: the activation is done when the reply comes */
		activation = "complete";
		snprintf(st.details, sizeof(st.details), "the service answered "
		    "200: the activation is complete, nothing to wait for");
		waited_ok = 1;
	} else if (!cn.no_wait) {
		r = mhsm_wait(ss.m, MHSM_OP_DOWNLOAD, &acc, &st, &e);
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
		o = report_new("hsm");
		arr = json_array();
		for (i = 0; i < n; i++)
			if (pki_cert_x5t256(certs[i], x5t) == 0)
				json_array_append_new(arr, json_string(x5t));
		json_object_set_new(o, "out", json_string(sd_out));
		json_object_set_new(o, "sd_sha256", json_string(hex));
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "activation", json_string(activation));
		json_object_set_new(o, "status_details",
		    json_string(st.details));
		json_object_set_new(o, "quorum", json_pack("{s:I,s:I}",
		    "required", (json_int_t)quorum, "shares", (json_int_t)n));
		json_object_set_new(o, "certificates", arr);
		json_object_set_new(o, "checks", json_string(check_msg ?
		    check_msg : "ok"));
		json_object_set_new(o, "retries", json_integer(ss.prog.retries));
		if (check_msg == NULL && (waited_ok || cn.no_wait))
			report_set_ok(o, 1);
		else if (check_msg != NULL)
			report_set_error(o, "sd_mismatch", check_msg);
		else
			report_set_error(o, strcmp(activation, "Failed") == 0 ?
			    "operation_failed" : "outcome_unknown", strcmp(
			    activation, "Failed") == 0 ? "the HSM reports the "
			    "activation Failed" : "the activation's outcome is "
			    "unknown");
		report_print(o);
		json_decref(o);
	} else {
		if (waited_ok && acc.http_status == 200)
			printf("HSM %s activated (the service answered 200 at "
			    "once: nothing to wait for)\n", ss.url);
		else if (waited_ok)
			printf("HSM %s activated (status %s%s%s)\n", ss.url,
			    activation, st.details[0] ? ": " : "", st.details);
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
		o = report_new("hsm");
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "out", json_string(out_path));
		json_object_set_new(o, "x5t_256", json_string(x5t));
		json_object_set_new(o, "x5t_256_readaloud",
		    report_x5t_readaloud(x5t));
		json_object_set_new(o, "sha256_fingerprint", json_string(fp));
		json_object_set_new(o, "not_after", json_string(not_after));
		report_set_ok(o, 1);
		report_print(o);
		json_decref(o);
	} else {
		printf("HSM %s is in recovery mode\n", ss.url);
		printf("exchange key certificate written to %s\n", out_path);
		printf("  x5t_256 %s\n", x5t);
		printf("  the same, to read aloud (hex, then PGP words):\n");
		report_print_x5t_readaloud(x5t, "    ");
		printf("Read this thumbprint aloud to the offline machine's "
		    "operator before making the restore blob (the hex or the "
		    "words; the operator types what they hear).\n");
	}
	ret = EXIT_OK;
 out:
	session_close(&ss);
	free(url);
	X509_free(cert);
	return ret;
}

/* --- upload ----------------------------------------------------------- */

#define UPLOAD_SYNOPSIS "[--json] [--no-wait] {--hsm-name NAME | " \
	"--hsm-url URL} --sd-file FILE [--sd-wrapping-keys KEY ... " \
	"[--sd-exchange-key CERT] [--password-file PWFILE]]"

static const struct opt upload_opts[] = {
	CONN_OPTS,
	WAIT_OPTS,
	{ O_SDFILE, "sd-file", 0, OPT_VALUE, "FILE",
	    "the restore blob made offline (or, with --sd-wrapping-keys, "
	    "the SD file)" },
	{ O_RESTORE_BLOB, "restore-blob", 0, OPT_FLAG, NULL,
	    "accepted for azure-cli's runbooks: --sd-file is a blob" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "one step: make the blob here with a quorum of keys" },
	{ O_EXCH, "sd-exchange-key", 0, OPT_VALUE, "CERT",
	    "one step: the exchange certificate the HSM must still have" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "PWFILE",
	    "one step: passphrases, one line per key (one line: for all)" },
	{ O_PASSWORDS, "passwords", 0, OPT_LIST, "P",
	    "refused: passphrases never go on a command line" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* Wait for the restore, say how it ended; EXIT_OK when it succeeded. */
static int
upload_finish(struct session *ss, const struct conn *cn,
    struct mhsm_status *st, const struct mhsm_accepted *acc,
    const char **outcome)
{
	struct sd_err e = { "" };
	int r;

	*outcome = "not waited for";
	if (!cn->no_wait && st->state != MHSM_SUCCESS &&
	    st->state != MHSM_FAILED) {
		r = mhsm_wait(ss->m, MHSM_OP_UPLOAD, acc, st, &e);
		progress_end(&ss->prog);
		if (r != 0) {
			report_failure(ss, r, &e);
			cli_error("the restore's outcome is unknown: check with "
			    "'sdtool hsm status upload'");
			*outcome = "unknown";
			return EXIT_FAIL;
		}
	}
	if (st->state == MHSM_FAILED) {
		*outcome = "Failed";
		cli_error("%s: the HSM reports the restore Failed%s%s", ss->url,
		    st->details[0] ? ": " : "", st->details);
		return EXIT_FAIL;
	}
	if (st->state == MHSM_SUCCESS) {
		*outcome = st->word;
		return EXIT_OK;
	}
	return cn->no_wait ? EXIT_OK : EXIT_FAIL;
}

static int
hsm_upload(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	struct sd_blob *blob = NULL;
	struct sd_file *sd = NULL;
	struct keyset ks = { 0 };
	X509 *cert = NULL, *given = NULL;
	const char *val, *in_path = NULL, *outcome = "not waited for";
	const char *exch_path = NULL, *passfile = NULL;
	char *url = NULL, *text = NULL, *made = NULL, x5t[SD_X5T_SIZE] = "";
	char given_x5t[SD_X5T_SIZE];
	char **refs = NULL;
	size_t len, n_refs = 0, n_items = 0, i;
	json_t *o, *arr;
	int id, r, ret = EXIT_FAIL, passwords = 0;

	memset(&ss, 0, sizeof(ss));
	memset(&st, 0, sizeof(st));
	memset(&acc, 0, sizeof(acc));
	conn_init(&cn);
	if ((refs = calloc((size_t)argc + 1, sizeof(*refs))) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, upload_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1) {
			ret = cli_usage_error("%s", p.errbuf);
			goto out;
		}
		switch (id) {
		case O_SDFILE: in_path = val; break;
		case O_RESTORE_BLOB: break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_EXCH: exch_path = val; break;
		case O_PASSFILE: passfile = val; break;
		case O_PASSWORDS: passwords = 1; break;
		case OPT_HELP:
			ret = cli_usage(stdout, UPLOAD_SYNOPSIS, upload_opts);
			goto out;
		case OPT_ERROR:
			ret = cli_usage_error("%s", p.errbuf);
			goto out;
		default:
			ret = cli_usage_error("unexpected argument '%s'", val);
			goto out;
		}
	}
	if (passwords) {
		ret = cli_usage_error("--passwords: passphrases on a command line "
		    "are seen by other users and kept in shell history; give "
		    "--password-file FILE (one line per key; it may be a pipe, "
		    "--password-file <(pass show hsm/officers)) or type them");
		goto out;
	}
	if (in_path == NULL) {
		ret = cli_usage_error("--sd-file is required");
		goto out;
	}
	if (n_refs == 0 && (exch_path != NULL || passfile != NULL)) {
		ret = cli_usage_error("--sd-exchange-key and --password-file "
		    "belong to the one-step form: give --sd-wrapping-keys too");
		goto out;
	}
	if ((ret = conn_url(&cn, &url)) != 0)
		goto out;
	ret = EXIT_FAIL;
	if (cli_read_file(in_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if (n_refs > 0) {
		/* one step: the SD file and the keys, on this machine */
		if ((r = sd_file_parse(text, len, &sd, &e)) != 0) {
			if (sd_blob_parse(text, len, &blob, NULL) == 0)
				cli_error("%s: this is a restore blob already: "
				    "upload it without --sd-wrapping-keys",
				    in_path);
			else
				cli_core_error(r, &e, "%s", in_path);
			goto out;
		}
		if (n_refs < sd->required) {
			ret = cli_usage_error("this SD file needs %u keys; %zu "
			    "given", sd->required, n_refs);
			goto out;
		}
		if (exch_path != NULL &&
		    ((r = pki_exchange_cert_load(exch_path, &given, &e)) != 0 ||
		    (r = pki_cert_x5t256(given, given_x5t)) != 0)) {
			cli_core_error(r, &e, "--sd-exchange-key");
			goto out;
		}
	} else if ((r = sd_blob_parse(text, len, &blob, &e)) != 0) {
		if (strstr(e.msg, "security-domain file, not a restore blob"))
			cli_error("%s: this is a security-domain file, not a "
			    "restore blob: make the blob from it on the offline "
			    "machine with 'sdtool restore-blob', and upload "
			    "that (or give --sd-wrapping-keys to make it here)",
			    in_path);
		else
			cli_core_error(r, &e, "%s: not a restore blob", in_path);
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
	if (sd != NULL) {
		if (!cn.json) {
			printf("HSM %s is in recovery mode; its exchange key:\n"
			    "  x5t_256 %s\n", ss.url, x5t);
			fflush(stdout);
		}
		if (given != NULL && strcmp(given_x5t, x5t) != 0) {
			cli_error("%s: exchange key %s, but this HSM's exchange "
			    "key is %s: the HSM is not the one that certificate "
			    "came from, or it left recovery mode since; nothing "
			    "was uploaded", exch_path, given_x5t, x5t);
			goto out;
		}
		if (restore_blob_make(in_path, sd, cert, x5t, refs, n_refs,
		    passfile, cn.json, &ks, &made, &n_items) != EXIT_OK)
			goto out;
		/* the officers' typing is not the HSM's time */
		if (session_restart(&ss) != 0)
			goto out;
	} else if (strcmp(x5t, blob->wrapped.x5t_256) != 0) {
		cli_error("%s: made for exchange key %s, but this HSM's exchange "
		    "key is %s: make the blob again with this HSM's exchange "
		    "certificate ('sdtool hsm init-recovery')", in_path,
		    blob->wrapped.x5t_256, x5t);
		goto out;
	}
	r = made != NULL ? mhsm_upload(ss.m, made, strlen(made), &st, &acc, &e) :
	    mhsm_upload(ss.m, text, len, &st, &acc, &e);
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
	ret = upload_finish(&ss, &cn, &st, &acc, &outcome);
	if (cn.json) {
		o = report_new("hsm");
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "file", json_string(in_path));
		json_object_set_new(o, "one_step", json_boolean(sd != NULL));
		json_object_set_new(o, "x5t_256", json_string(x5t));
		json_object_set_new(o, "restore", json_string(outcome));
		json_object_set_new(o, "status_details",
		    json_string(st.details));
		json_object_set_new(o, "retries", json_integer(ss.prog.retries));
		if (sd != NULL) {
			json_object_set_new(o, "data_items",
			    json_integer((json_int_t)n_items));
			arr = json_array();
			for (i = 0; i < ks.n_keys; i++)
				if (ks.keys[i].outcome == KEY_OPENED)
					json_array_append_new(arr,
					    json_string(ks.keys[i].ref));
			json_object_set_new(o, "keys_used", arr);
		}
		if (ret == EXIT_OK)
			report_set_ok(o, 1);
		else if (strcmp(outcome, "Failed") == 0)
			report_set_error(o, "operation_failed", "the HSM reports "
			    "the restore Failed");
		report_print(o);
		json_decref(o);
	} else if (ret == EXIT_OK) {
		if (sd != NULL)
			printf("restore blob made here from %s (%zu data items) "
			    "and uploaded to %s\n", in_path, n_items, ss.url);
		else
			printf("restore blob %s uploaded to %s\n", in_path,
			    ss.url);
		if (cn.no_wait)
			printf("restore not waited for: check with 'sdtool hsm "
			    "status upload'\n");
		else
			printf("HSM %s restored (status %s%s%s)\n", ss.url,
			    outcome, st.details[0] ? ": " : "", st.details);
	}
 out:
	session_close(&ss);
	free(url);
	free(text);
	free(made);
	free(refs);
	keyset_clear(&ks);
	sd_file_free(sd);
	sd_blob_free(blob);
	X509_free(cert);
	X509_free(given);
	return ret;
}

/* "InProgress" -> "in_progress", "Success" -> "success" */
static const char *
snake_word(const char *w, char *buf, size_t size)
{
	size_t o = 0;

	for (; *w != '\0' && o + 2 < size; w++) {
		if (*w >= 'A' && *w <= 'Z') {
			if (o > 0)
				buf[o++] = '_';
			buf[o++] = (char)(*w - 'A' + 'a');
		} else if ((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9')) {
			buf[o++] = *w;
		} else if (o > 0 && buf[o - 1] != '_') {
			buf[o++] = '_';
		}
	}
	buf[o] = '\0';
	return o > 0 ? buf : "unknown";
}

/* --- wait --------------------------------------------------------------- */

#define WAIT_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"[--target-operation download | upload]"

enum { O_TARGET = 100 };

static const struct opt wait_opts[] = {
	CONN_OPTS,
	{ O_TARGET, "target-operation", 0, OPT_VALUE, "OP",
	    "download or upload (default upload, as azure-cli)" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
hsm_wait(int argc, char **argv)
{
	struct opt_parser p;
	struct conn cn;
	struct session ss;
	struct mhsm_status st;
	struct mhsm_accepted acc;
	struct sd_err e = { "" };
	const char *val, *target = "upload";
	char snake[64];
	char *url = NULL;
	json_t *o;
	int id, r, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	memset(&st, 0, sizeof(st));
	conn_init(&cn);
	opt_init(&p, argc, argv, wait_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, &cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case O_TARGET:
			if (strcmp(val, "download") != 0 &&
			    strcmp(val, "upload") != 0)
				return cli_usage_error("--target-operation: "
				    "download or upload, not '%s'", val);
			target = val;
			break;
		case OPT_HELP: return cli_usage(stdout, WAIT_SYNOPSIS,
		    wait_opts);
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
	/* the first poll at once: the operation may be long over */
	memset(&acc, 0, sizeof(acc));
	r = mhsm_wait(ss.m, strcmp(target, "download") == 0 ?
	    MHSM_OP_DOWNLOAD : MHSM_OP_UPLOAD, &acc, &st, &e);
	progress_end(&ss.prog);
	if (r != 0)
		report_failure(&ss, r, &e);
	else if (st.state == MHSM_FAILED)
		cli_error("%s: the %s Failed%s%s", ss.url, target,
		    st.details[0] ? ": " : "", st.details);
	else
		ret = EXIT_OK;
	if (cn.json) {
		o = report_new("hsm");
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "operation", json_string(target));
		json_object_set_new(o, "status", st.word[0] ?
		    json_string(snake_word(st.word, snake, sizeof(snake))) :
		    json_null());
		json_object_set_new(o, "service_status", st.word[0] ?
		    json_string(st.word) : json_null());
		json_object_set_new(o, "status_details",
		    json_string(st.details));
		if (ret == EXIT_OK)
			report_set_ok(o, 1);
		else if (st.state == MHSM_FAILED)
			report_set_error(o, "operation_failed", "the operation "
			    "Failed");
		report_print(o);
		json_decref(o);
	} else if (r == 0) {
		printf("%s: %s%s%s\n", target, st.word, st.details[0] ? ": " :
		    "", st.details);
	}
 out:
	session_close(&ss);
	free(url);
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
	char snake[64];
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
	o = report_new("hsm");
	ret = EXIT_OK;
	/* each operation, even when the other's query failed */
	for (k = 0; k < 2; k++) {
		if (which != NULL && strcmp(which, names[k]) != 0)
			continue;
		sd_err_clear(&e);
		r = mhsm_pending(ss.m, k == 0 ? MHSM_OP_DOWNLOAD :
		    MHSM_OP_UPLOAD, &st, &e);
		progress_end(&ss.prog);
		one = json_object();
		if (r != 0) {
			report_failure(&ss, r, &e);
			ret = EXIT_FAIL;
			json_object_set_new(one, "status", json_null());
			json_object_set_new(one, "error", json_pack("{s:s,s:s}",
			    "code", mhsm_fault(ss.m)->http_status == 401 ||
			    mhsm_fault(ss.m)->http_status == 403 ?
			    "unauthorized" : mhsm_fault(ss.m)->timed_out ?
			    "timed_out" : "query_failed", "message",
			    e.msg[0] ? e.msg : sd_strerror(r)));
			json_object_set_new(o, names[k], one);
			if (!cn.json)
				printf("%s: unknown (the query failed)\n",
				    names[k]);
			continue;
		}
		/* "status" in snake_case; the service's own word beside it */
		json_object_set_new(one, "status", st.state == MHSM_NONE ?
		    json_null() : json_string(snake_word(st.word, snake,
		    sizeof(snake))));
		json_object_set_new(one, "service_status", st.state ==
		    MHSM_NONE ? json_null() : json_string(st.word));
		json_object_set_new(one, "status_details",
		    json_string(st.details));
		json_object_set_new(one, "via", json_string(st.via));
		json_object_set_new(o, names[k], one);
		if (!cn.json) {
			if (st.state == MHSM_NONE)
				printf("%s: no operation to report\n", names[k]);
			else
				printf("%s: %s%s%s%s\n", names[k], st.word,
				    st.details[0] ? ": " : "", st.details,
				    k == 0 && strcmp(st.via,
				    MHSM_FALLBACK_STATUS) == 0 ? "  (as "
				    MHSM_FALLBACK_STATUS " reports it)" : "");
		}
	}
	if (cn.json) {
		if (ret == EXIT_OK)
			report_set_ok(o, 1);
		else
			report_set_error(o, "query_failed", "the status of an "
			    "operation could not be read");
		report_print(o);
	}
 out:
	json_decref(o);
	session_close(&ss);
	free(url);
	return ret;
}

/* --- key-create, key-backup, key-restore (issue 11: drills) ------------- */

#define KEY_CREATE_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"--name N"
#define KEY_BACKUP_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"--name N --file F"
#define KEY_RESTORE_SYNOPSIS "[--json] {--hsm-name NAME | --hsm-url URL} " \
	"--file F"

static const struct opt key_create_opts[] = {
	CONN_OPTS,
	{ O_KEYNAME, "name", 'n', OPT_VALUE, "N", "the key's name" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static const struct opt key_backup_opts[] = {
	CONN_OPTS,
	{ O_KEYNAME, "name", 'n', OPT_VALUE, "N", "the key's name" },
	{ O_KEYFILE, "file", 'f', OPT_VALUE, "F",
	    "where to write the backup (must not exist)" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static const struct opt key_restore_opts[] = {
	CONN_OPTS,
	{ O_KEYFILE, "file", 'f', OPT_VALUE, "F",
	    "the key backup (az keyvault key backup's file, or {\"value\":...})" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* What a create or restore reply says of the key (public members only). */
struct key_summary {
	char kid[512], kty[32];
	char pub_sha256[65];
	unsigned bits;
};

static int
key_summary_read(const char *body, size_t len, struct key_summary *ks)
{
	struct sd_err e = { "" };
	json_t *root, *key;
	const char *kid, *kty;

	memset(ks, 0, sizeof(*ks));
	if ((root = json_loadb(body, len, 0, NULL)) == NULL)
		return -1;
	key = json_object_get(root, "key");
	kid = json_string_value(json_object_get(key, "kid"));
	kty = json_string_value(json_object_get(key, "kty"));
	if (kid == NULL || kty == NULL) {
		json_decref(root);
		return -1;
	}
	snprintf(ks->kid, sizeof(ks->kid), "%s", kid);
	snprintf(ks->kty, sizeof(ks->kty), "%s", kty);
	if (sd_jwk_pub_sha256(kty,
	    json_string_value(json_object_get(key, "n")),
	    json_string_value(json_object_get(key, "e")),
	    json_string_value(json_object_get(key, "crv")),
	    json_string_value(json_object_get(key, "x")),
	    json_string_value(json_object_get(key, "y")), ks->pub_sha256,
	    &ks->bits, &e) != 0)
		ks->pub_sha256[0] = '\0';
	json_decref(root);
	return 0;
}

static void
key_summary_print(const char *verb, const struct session *ss,
    const struct key_summary *ks, const char *file, const char *what)
{
	json_t *o;

	if (ss->cn->json) {
		o = report_new(verb);
		report_set_ok(o, 1);
		json_object_set_new(o, "hsm", json_string(ss->url));
		if (file != NULL)
			json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "kid", json_string(ks->kid));
		json_object_set_new(o, "kty", json_string(ks->kty));
		json_object_set_new(o, "bits", ks->bits ?
		    json_integer(ks->bits) : json_null());
		json_object_set_new(o, "public_key_sha256", ks->pub_sha256[0] ?
		    json_string(ks->pub_sha256) : json_null());
		report_print(o);
		json_decref(o);
		return;
	}
	printf("%s\n", what);
	printf("  kid %s\n", ks->kid);
	printf("  %s", ks->kty);
	if (ks->bits)
		printf(" %u bits", ks->bits);
	printf("\n");
	if (ks->pub_sha256[0])
		printf("  public key SHA-256 %s\n", ks->pub_sha256);
}

/* Parse the options of the three key subcommands. */
static int
key_opts(int argc, char **argv, const struct opt *opts, const char *synopsis,
    struct conn *cn, const char **name, const char **file)
{
	struct opt_parser p;
	const char *val;
	int id, r;

	conn_init(cn);
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		if ((r = conn_opt(&p, cn, id, val)) == 1)
			continue;
		if (r == -1)
			return cli_usage_error("%s", p.errbuf);
		switch (id) {
		case O_KEYNAME: *name = val; break;
		case O_KEYFILE: *file = val; break;
		case OPT_HELP:
			cli_usage(stdout, synopsis, opts);
			return -1;
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	return 0;
}

/* Key Vault key names: 1 to 127 letters, digits and '-'. */
static int
key_name_check(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			break;
	if (n == 0 || n > 127 || i < n)
		return cli_usage_error("--name %s: a key name is 1 to 127 "
		    "letters, digits and '-'", name);
	return 0;
}

static int
hsm_key_create(int argc, char **argv)
{
	struct conn cn;
	struct session ss;
	struct sd_err e = { "" };
	struct key_summary ks;
	const char *name = NULL, *file = NULL;
	char *url = NULL, *reply = NULL, what[300];
	static const char body[] = "{\"kty\":\"RSA-HSM\",\"key_size\":2048,"
	    "\"attributes\":{\"enabled\":true}}";
	size_t len;
	int r, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	if ((r = key_opts(argc, argv, key_create_opts, KEY_CREATE_SYNOPSIS,
	    &cn, &name, &file)) != 0)
		return r == -1 ? EXIT_OK : r;
	if (name == NULL)
		return cli_usage_error("--name is required");
	if ((r = key_name_check(name)) != 0)
		return r;
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	r = mhsm_key_request(ss.m, MHSM_KEY_CREATE, name, body,
	    sizeof(body) - 1, &reply, &len, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		goto out;
	}
	if (key_summary_read(reply, len, &ks) != 0) {
		cli_error("%s: the reply names no key", ss.url);
		goto out;
	}
	snprintf(what, sizeof(what), "key %s created in HSM %s", name, ss.url);
	key_summary_print("hsm", &ss, &ks, NULL, what);
	ret = EXIT_OK;
 out:
	session_close(&ss);
	free(url);
	free(reply);
	return ret;
}

static int
hsm_key_backup(int argc, char **argv)
{
	struct conn cn;
	struct session ss;
	struct sd_err e = { "" };
	const char *name = NULL, *file = NULL;
	char *url = NULL, *reply = NULL, hex[65];
	uint8_t *raw = NULL;
	size_t len, raw_len = 0;
	json_t *root = NULL, *v, *o;
	int r, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	if ((r = key_opts(argc, argv, key_backup_opts, KEY_BACKUP_SYNOPSIS,
	    &cn, &name, &file)) != 0)
		return r == -1 ? EXIT_OK : r;
	if (name == NULL || file == NULL)
		return cli_usage_error("--name and --file are required");
	if ((r = key_name_check(name)) != 0)
		return r;
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (cli_refuse_existing(file) != 0)
		goto out;
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	r = mhsm_key_request(ss.m, MHSM_KEY_BACKUP, name, "", 0, &reply, &len,
	    &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		goto out;
	}
	/* as az keyvault key backup --file: the bytes of base64url-decoded V */
	if ((root = json_loadb(reply, len, 0, NULL)) == NULL ||
	    !json_is_string(v = json_object_get(root, "value")) ||
	    b64url_decode(json_string_value(v), json_string_length(v), &raw,
	    &raw_len, &e) != 0) {
		cli_error("%s: the backup reply's \"value\" is not base64url%s%s",
		    ss.url, e.msg[0] ? ": " : "", e.msg);
		goto out;
	}
	if (cli_write_new_file(file, raw, raw_len, 0600) != 0)
		goto out;
	pki_sha256_hex(raw, raw_len, hex);
	if (cn.json) {
		o = report_new("hsm");
		report_set_ok(o, 1);
		json_object_set_new(o, "hsm", json_string(ss.url));
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "out", json_string(file));
		json_object_set_new(o, "sha256", json_string(hex));
		json_object_set_new(o, "bytes", json_integer((json_int_t)raw_len));
		report_print(o);
		json_decref(o);
	} else {
		printf("key %s of HSM %s backed up to %s (%zu bytes)\n", name,
		    ss.url, file, raw_len);
		printf("  sha256 %s\n", hex);
		printf("Check it offline against the SD file: sdtool verify "
		    "--sd-file SD --sd-wrapping-keys KEY... --key-backup %s\n",
		    file);
	}
	ret = EXIT_OK;
 out:
	session_close(&ss);
	json_decref(root);
	free(url);
	free(reply);
	free(raw);
	return ret;
}

static int
hsm_key_restore(int argc, char **argv)
{
	struct conn cn;
	struct session ss;
	struct sd_err e = { "" };
	struct key_summary ks;
	const char *name = NULL, *file = NULL;
	char *url = NULL, *reply = NULL, *text = NULL, *compact = NULL;
	char *value = NULL, *body = NULL, what[600];
	size_t len, clen;
	json_t *root = NULL;
	int r, ret = EXIT_FAIL;

	memset(&ss, 0, sizeof(ss));
	if ((r = key_opts(argc, argv, key_restore_opts, KEY_RESTORE_SYNOPSIS,
	    &cn, &name, &file)) != 0)
		return r == -1 ? EXIT_OK : r;
	if (file == NULL)
		return cli_usage_error("--file is required");
	if ((r = conn_url(&cn, &url)) != 0)
		return r;
	if (cli_read_file(file, SD_KEY_BACKUP_MAX, &text, &len) != 0)
		goto out;
	if ((r = sd_key_backup_unwrap((const uint8_t *)text, len, &compact,
	    &clen, &e)) != 0) {
		cli_core_error(r, &e, "%s", file);
		goto out;
	}
	if (b64url_encode((const uint8_t *)compact, clen, &value) != 0 ||
	    (root = json_pack("{s:s}", "value", value)) == NULL ||
	    (body = json_dumps(root, JSON_COMPACT)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (session_open(&ss, &cn, url) != 0) {
		url = NULL;
		goto out;
	}
	url = NULL;
	r = mhsm_key_request(ss.m, MHSM_KEY_RESTORE, NULL, body, strlen(body),
	    &reply, &len, &e);
	progress_end(&ss.prog);
	if (r != 0) {
		report_failure(&ss, r, &e);
		goto out;
	}
	if (key_summary_read(reply, len, &ks) != 0) {
		cli_error("%s: the reply names no key", ss.url);
		goto out;
	}
	snprintf(what, sizeof(what), "key backup %s restored into HSM %s", file,
	    ss.url);
	key_summary_print("hsm", &ss, &ks, file, what);
	ret = EXIT_OK;
 out:
	session_close(&ss);
	json_decref(root);
	free(url);
	free(reply);
	free(text);
	free(compact);
	free(value);
	free(body);
	return ret;
}

/* --- dispatch ----------------------------------------------------------- */

#define SYNOPSIS "download | init-recovery | upload | status | wait | " \
	"key-create | key-backup | key-restore ..."

static const struct cli_verb hsm_verbs[] = {
	{ "download", hsm_download, "activate an HSM: send the officers' "
	    "certificates, save the SD file" },
	{ "init-recovery", hsm_init_recovery, "get a recovery-mode HSM's "
	    "exchange certificate" },
	{ "upload", hsm_upload, "upload a restore blob made offline, wait for "
	    "the restore" },
	{ "status", hsm_status, "the status of the pending operations" },
	{ "wait", hsm_wait, "wait until a pending operation ends (azure-cli's "
	    "wait)" },
	{ "key-create", hsm_key_create, "create an RSA-HSM key (a drill's "
	    "canary)" },
	{ "key-backup", hsm_key_backup, "back up a key to a file, as az "
	    "keyvault key backup" },
	{ "key-restore", hsm_key_restore, "restore a key backup into the HSM" },
	{ NULL, NULL, NULL }
};

int
cmd_hsm(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, hsm_verbs, argc, argv);
}
