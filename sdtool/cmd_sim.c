/*
 * sdtool sim: a simulated Managed HSM, for drills and tests.  It does what
 * the real service does with a security domain, with its state in a
 * directory that says plainly it is simulated:
 *
 *   activate       take N certificates and a quorum, return an SD file
 *   init-recovery  enter recovery mode: make an RSA-4096 exchange key
 *   upload         accept a restore blob only if it carries exactly the
 *                  data that was activated
 *   status         what state the simulated HSM is in
 *   serve          all of the above behind the service's HTTP API
 *                  (sim/serve.c), for `sdtool hsm`
 *
 * What the simulated HSM does lives in simhsm.c, shared with the server;
 * this file reads the command line and reports.
 */
#include <jansson.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "report.h"
#include "../sim/serve.h"
#include "../sim/simhsm.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../net/mhsm.h"

/* --- activate ---------------------------------------------------------- */

#define ACTIVATE_SYNOPSIS "[--json] --state DIR --sd-wrapping-keys " \
	"CERT ... --sd-quorum M --security-domain-file SD"

enum { O_JSON = 1, O_STATE, O_CERTS, O_QUORUM, O_SDOUT, O_EXCH, O_SDFILE };

static const struct opt activate_opts[] = {
	{ O_STATE, "state", 0, OPT_VALUE, "DIR", "the simulated HSM's directory" },
	{ O_CERTS, "sd-wrapping-keys", 0, OPT_LIST, "CERT",
	    "the officers' certificates, 3 to 10" },
	{ O_QUORUM, "sd-quorum", 0, OPT_VALUE, "M", "shares needed, 2 to N" },
	{ O_SDOUT, "security-domain-file", 0, OPT_VALUE, "SD",
	    "where to write the SD file (must not exist)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* simhsm's messages are whole sentences that name what they concern. */
static void
report(int r, const struct sd_err *e)
{
	cli_error("%s", e->msg[0] != '\0' ? e->msg : sd_strerror(r));
}

/* Write the SD file before the simulated HSM counts itself activated. */
static int
deliver_sd_file(void *ctx, const char *sd_json, size_t len)
{
	const char *path = ctx;

	return cli_write_new_file(path, sd_json, len, 0644) == 0 ? 0 :
	    SD_ERR_IO;
}

static int
sim_activate(int argc, char **argv)
{
	struct opt_parser p;
	X509 *certs[SD_MAX_SHARES] = { NULL };
	struct sd_err e = { "" };
	const char *val, *dir = NULL, *sd_out = NULL, *cert_paths[11];
	size_t n = 0, i, bad, other;
	long quorum = 0;
	json_t *state = NULL, *o;
	int id, r, json = 0, ret = EXIT_FAIL;

	opt_init(&p, argc, argv, activate_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_STATE: dir = val; break;
		case O_CERTS:
			if (n == 11)
				return cli_usage_error("--sd-wrapping-keys: "
				    "more than 10 certificates");
			cert_paths[n++] = val;
			break;
		case O_QUORUM:
			if (opt_int(&p, "--sd-quorum", val, 2, 10, &quorum))
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_SDOUT: sd_out = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, ACTIVATE_SYNOPSIS,
		    activate_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (dir == NULL || n == 0 || quorum == 0 || sd_out == NULL)
		return cli_usage_error("--state, --sd-wrapping-keys, --sd-quorum "
		    "and --security-domain-file are required");
	/* The service's own limits, checked as it checks them. */
	if (n < PKI_SD_MIN_CERTS || n > PKI_SD_MAX_CERTS)
		return cli_usage_error("%zu certificates given; the service "
		    "takes %d to %d", n, PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
	if ((size_t)quorum > n)
		return cli_usage_error("--sd-quorum %ld is more than the %zu "
		    "certificates", quorum, n);
	if (cli_refuse_existing(sd_out) != 0)
		return EXIT_FAIL;

	for (i = 0; i < n; i++)
		if ((r = pki_cert_load(cert_paths[i], &certs[i], &e)) != 0) {
			cli_core_error(r, &e, "%s", cert_paths[i]);
			goto out;
		}
	if ((r = pki_certset_check(certs, n, (unsigned)quorum, &bad, &other,
	    &e)) != 0) {
		if (other < n)
			cli_error("%s: the same certificate as %s; each officer "
			    "needs their own", cert_paths[bad], cert_paths[other]);
		else
			cli_error("%s: %s", bad < n ? cert_paths[bad] : dir,
			    e.msg);
		goto out;
	}
	cli_warn_quorum((unsigned)quorum, n);
	if ((r = simhsm_activate(dir, certs, n, (unsigned)quorum,
	    deliver_sd_file, (void *)sd_out, &state, &e)) != 0) {
		/* deliver_sd_file has said why already */
		if (e.msg[0] != '\0')
			report(r, &e);
		goto out;
	}

	if (json) {
		json_t *q = json_object();

		o = report_new("sim");
		json_object_set_new(o, "out", json_string(sd_out));
		json_object_set_new(o, "state", json_string(dir));
		json_object_set_new(q, "required", json_integer(quorum));
		json_object_set_new(q, "shares", json_integer((json_int_t)
		    json_array_size(json_object_get(state, "certificates"))));
		json_object_set_new(o, "quorum", q);
		json_object_set(o, "certificates",
		    json_object_get(state, "certificates"));
		report_set_ok(o, 1);
		report_print(o);
		json_decref(o);
	} else {
		printf("simulated HSM %s activated: quorum %ld of %zu\n", dir,
		    quorum, n);
		printf("security domain written to %s\n", sd_out);
		printf("Keep it, and keep the keys: without both the HSM's keys "
		    "cannot be recovered.\n");
	}
	ret = EXIT_OK;
 out:
	json_decref(state);
	for (i = 0; i < SD_MAX_SHARES; i++)
		X509_free(certs[i]);
	return ret;
}

/* --- init-recovery ----------------------------------------------------- */

#define RECOVERY_SYNOPSIS "[--json] --state DIR " \
	"--sd-exchange-key OUT"

static const struct opt recovery_opts[] = {
	{ O_STATE, "state", 0, OPT_VALUE, "DIR", "the simulated HSM's directory" },
	{ O_EXCH, "sd-exchange-key", 0, OPT_VALUE, "OUT",
	    "where to write the exchange certificate (PEM; must not exist)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
sim_init_recovery(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_err e = { "" };
	X509 *cert = NULL;
	const char *val, *dir = NULL, *out_path = NULL;
	char x5t[SD_X5T_SIZE];
	json_t *state = NULL, *o;
	int id, r, json = 0, ret = EXIT_FAIL, progress;

	opt_init(&p, argc, argv, recovery_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_STATE: dir = val; break;
		case O_EXCH: out_path = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, RECOVERY_SYNOPSIS,
		    recovery_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (dir == NULL || out_path == NULL)
		return cli_usage_error("--state and --sd-exchange-key are required");
	if (cli_refuse_existing(out_path) != 0)
		goto out;
	if ((r = simhsm_load_or_new(dir, &state, &e)) != 0) {
		cli_error("%s", e.msg);
		goto out;
	}
	progress = !json && cli_stderr_is_tty() &&
	    json_object_get(state, "exchange_key_x5t_256") == NULL;
	if (progress)
		fprintf(stderr, "generating the RSA-4096 exchange key");
	if ((r = simhsm_init_recovery(dir, progress ? cli_progress_tick : NULL,
	    NULL, &cert, &e)) != 0) {
		report(r, &e);
		goto out;
	}
	if ((r = pki_cert_x5t256(cert, x5t)) != 0) {
		cli_core_error(r, NULL, "exchange certificate");
		goto out;
	}
	if (cli_write_cert(out_path, cert) != 0)
		goto out;
	if (json) {
		o = report_new("sim");
		json_object_set_new(o, "state", json_string(dir));
		json_object_set_new(o, "out", json_string(out_path));
		json_object_set_new(o, "x5t_256", json_string(x5t));
		json_object_set_new(o, "x5t_256_readaloud",
		    report_x5t_readaloud(x5t));
		report_set_ok(o, 1);
		report_print(o);
		json_decref(o);
	} else {
		printf("simulated HSM %s is in recovery mode\n", dir);
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
	X509_free(cert);
	json_decref(state);
	return ret;
}

/* --- upload ------------------------------------------------------------ */

#define UPLOAD_SYNOPSIS "[--json] --state DIR --sd-file BLOB"

static const struct opt upload_opts[] = {
	{ O_STATE, "state", 0, OPT_VALUE, "DIR", "the simulated HSM's directory" },
	{ O_SDFILE, "sd-file", 0, OPT_VALUE, "BLOB",
	    "the restore blob made by restore-blob" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
sim_upload(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_err e = { "" };
	const char *val, *dir = NULL, *blob_path = NULL;
	char *text = NULL;
	size_t len, n_items;
	json_t *state = NULL, *o;
	int id, r, json = 0, ret = EXIT_FAIL;

	opt_init(&p, argc, argv, upload_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_STATE: dir = val; break;
		case O_SDFILE: blob_path = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, UPLOAD_SYNOPSIS,
		    upload_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (dir == NULL || blob_path == NULL)
		return cli_usage_error("--state and --sd-file are required");
	/* say "not a simulated HSM" before anything about the blob */
	if ((r = simhsm_load(dir, &state, &e)) != 0) {
		cli_error("%s", e.msg);
		goto out;
	}
	if (cli_read_file(blob_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = simhsm_upload(dir, blob_path, text, len, &n_items, &e)) != 0) {
		report(r, &e);
		goto out;
	}
	if (json) {
		o = report_new("sim");
		json_object_set_new(o, "state", json_string(dir));
		json_object_set_new(o, "status", json_string("restored"));
		json_object_set_new(o, "data_items",
		    json_integer((json_int_t)n_items));
		report_set_ok(o, 1);
		report_print(o);
		json_decref(o);
	} else {
		if (json_object_get(state, "data") != NULL)
			printf("simulated HSM %s restored: all %zu data items "
			    "match what was activated\n", dir, n_items);
		else
			printf("simulated HSM %s restored: a new HSM, it now "
			    "holds the security domain's %zu data items\n", dir,
			    n_items);
	}
	ret = EXIT_OK;
 out:
	free(text);
	json_decref(state);
	return ret;
}

/* --- status ------------------------------------------------------------ */

#define STATUS_SYNOPSIS "[--json] --state DIR"

static const struct opt status_opts[] = {
	{ O_STATE, "state", 0, OPT_VALUE, "DIR", "the simulated HSM's directory" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
sim_status(int argc, char **argv)
{
	struct opt_parser p;
	const char *val, *dir = NULL;
	struct sd_err e = { "" };
	json_t *state = NULL;
	int id, json = 0;

	opt_init(&p, argc, argv, status_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_STATE: dir = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, STATUS_SYNOPSIS,
		    status_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (dir == NULL)
		return cli_usage_error("--state is required");
	if (simhsm_load(dir, &state, &e) != 0) {
		report(SD_ERR_ARG, &e);
		return EXIT_FAIL;
	}
	if (json) {
		/* the state file's facts, in the shared vocabulary */
		json_t *o = report_new("sim"), *q = json_object(), *v;

		json_object_set_new(o, "state", json_string(dir));
		json_object_set(o, "status", json_object_get(state, "status"));
		if ((v = json_object_get(state, "activated_at")) != NULL)
			json_object_set(o, "activated_at", v);
		if ((v = json_object_get(state, "restored_at")) != NULL)
			json_object_set(o, "restored_at", v);
		json_object_set(q, "required", json_object_get(state,
		    "required"));
		json_object_set_new(q, "shares", json_integer((json_int_t)
		    json_array_size(json_object_get(state, "certificates"))));
		json_object_set_new(o, "quorum", q);
		json_object_set(o, "certificates", json_object_get(state,
		    "certificates"));
		if ((v = json_object_get(state, "exchange_key_x5t_256")) != NULL)
			json_object_set(o, "exchange_key_x5t_256", v);
		json_object_set(o, "data", json_object_get(state, "data"));
		report_set_ok(o, 1);
		report_print(o);
		json_decref(o);
	} else {
		printf("simulated HSM %s: %s\n", dir,
		    json_string_value(json_object_get(state, "status")));
		printf("  activated %s, quorum %lld of %zu\n",
		    json_string_value(json_object_get(state, "activated_at")),
		    (long long)json_integer_value(json_object_get(state,
		    "required")), json_array_size(json_object_get(state,
		    "certificates")));
		if (json_object_get(state, "exchange_key_x5t_256"))
			printf("  exchange key x5t_256 %s\n",
			    json_string_value(json_object_get(state,
			    "exchange_key_x5t_256")));
	}
	json_decref(state);
	return EXIT_OK;
}

/* --- serve ------------------------------------------------------------ */

#define SERVE_SYNOPSIS "--state DIR [--listen 127.0.0.1:PORT] " \
	"[--token-file FILE] [--build 2020 | 2023] [--tenant ID] " \
	"[--no-download-pending] [--fault SPEC ...]"

enum {
	SV_STATE = 1, SV_LISTEN, SV_TOKEN, SV_FAULT, SV_PENDING, SV_RETRY_AFTER,
	SV_SLOW, SV_LEGACY, SV_BUILD, SV_TENANT, SV_NO_DL_PENDING
};

static const struct opt serve_opts[] = {
	{ SV_STATE, "state", 0, OPT_VALUE, "DIR",
	    "the simulated HSM's directory (made if missing)" },
	{ SV_LISTEN, "listen", 0, OPT_VALUE, "ADDR:PORT",
	    "loopback address and port (default 127.0.0.1:0, any free port)" },
	{ SV_TOKEN, "token-file", 0, OPT_VALUE, "FILE",
	    "the bearer token to require (default DIR/token, made if missing)" },
	{ SV_FAULT, "fault", 0, OPT_LIST, "SPEC",
	    "inject faults: KIND[:COUNT][@ENDPOINT] (see sdtool-sim(1))" },
	{ SV_PENDING, "pending", 0, OPT_VALUE, "N",
	    "status polls that answer InProgress before the end (default 1)" },
	{ SV_RETRY_AFTER, "retry-after", 0, OPT_VALUE, "S",
	    "add Retry-After: S to 202, InProgress, 429, 503 (default none)" },
	{ SV_SLOW, "slow-seconds", 0, OPT_VALUE, "S",
	    "how long a slow fault delays its reply (default 3)" },
	{ SV_BUILD, "build", 0, OPT_VALUE, "YEAR",
	    "answer as the 2020 or the 2023 builds did (default 2023)" },
	{ SV_LEGACY, "legacy-status", 0, OPT_FLAG, NULL,
	    "the same as --build 2020" },
	{ SV_TENANT, "tenant", 0, OPT_VALUE, "ID",
	    "the tenant the 401 challenge names" },
	{ SV_NO_DL_PENDING, "no-download-pending", 0, OPT_FLAG, NULL,
	    "answer 404 to download/pending, as no recording shows it" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* The server's log: one line per request, whole even across threads. */
static void
serve_log(void *ctx, const char *line)
{
	(void)ctx;
	flockfile(stdout);
	printf("%s\n", line);
	fflush(stdout);
	funlockfile(stdout);
}

static void
serve_ready(void *ctx, const char *url, const char *ca_path,
    const char *token_path)
{
	const char *dir = ctx;

	printf("simulated HSM %s serving the Managed HSM API at %s\n", dir,
	    url);
	printf("  TLS CA certificate (for --cacert): %s\n", ca_path);
	printf("  bearer token (for --access-token-file): %s\n", token_path);
	printf("SIMULATED: for drills and tests only.  Stop it with "
	    "Ctrl-C or SIGTERM.\n");
	fflush(stdout);
}

static int
sim_serve(int argc, char **argv)
{
	struct opt_parser p;
	struct sim_serve_config cfg;
	struct sim_serve_hooks hooks = { serve_log, serve_ready, NULL };
	struct sd_err e = { "" };
	const char *val;
	long num;
	int id, r;

	sim_serve_config_init(&cfg);
	opt_init(&p, argc, argv, serve_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case SV_STATE: cfg.dir = val; break;
		case SV_LISTEN: cfg.listen = val; break;
		case SV_TOKEN: cfg.token_file = val; break;
		case SV_FAULT:
			if (cfg.n_faults == SIM_MAX_FAULTS)
				return cli_usage_error("--fault: at most %d",
				    SIM_MAX_FAULTS);
			if (sim_fault_parse(val, &cfg.faults[cfg.n_faults]) != 0)
				return cli_usage_error("--fault %s: expected "
				    "KIND[:COUNT][@ENDPOINT], KIND one of 429, "
				    "503, slow, drop, malformed, 401, 403, "
				    "export-failed, failed; ENDPOINT one of "
				    "download, download-status, exchange-key, "
				    "upload, upload-status", val);
			cfg.n_faults++;
			break;
		case SV_PENDING:
			if (opt_int(&p, "--pending", val, 0, 100, &num))
				return cli_usage_error("%s", p.errbuf);
			cfg.pending = (int)num;
			break;
		case SV_RETRY_AFTER:
			if (opt_int(&p, "--retry-after", val, 0, 3600, &num))
				return cli_usage_error("%s", p.errbuf);
			cfg.retry_after = (int)num;
			break;
		case SV_SLOW:
			if (opt_int(&p, "--slow-seconds", val, 0, 3600, &num))
				return cli_usage_error("%s", p.errbuf);
			cfg.slow_seconds = (int)num;
			break;
		case SV_LEGACY: cfg.legacy = 1; break;
		case SV_BUILD:
			if (strcmp(val, "2020") != 0 && strcmp(val, "2023") != 0)
				return cli_usage_error("--build %s: 2020 or 2023 "
				    "(2022 answered as 2023)", val);
			cfg.legacy = strcmp(val, "2020") == 0;
			break;
		case SV_TENANT:
			if (strlen(val) == 0 || strlen(val) > 64 ||
			    strspn(val, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
			    strlen(val))
				return cli_usage_error("--tenant %s: a tenant id "
				    "(a GUID, or a domain)", val);
			cfg.tenant = val;
			break;
		case SV_NO_DL_PENDING: cfg.no_dl_pending = 1; break;
		case OPT_HELP: return cli_usage(stdout, SERVE_SYNOPSIS,
		    serve_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	hooks.ctx = (void *)cfg.dir;
	if ((r = sim_serve_run(&cfg, &hooks, &e)) == SD_ERR_ARG)
		return cli_usage_error("%s", e.msg);
	if (r != 0) {
		cli_error("%s", e.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* --- dispatch ---------------------------------------------------------- */

#define SYNOPSIS "activate | init-recovery | upload | status | serve ..."

static const struct cli_verb sim_verbs[] = {
	{ "activate", sim_activate, "take the officers' certificates, return "
	    "an SD file" },
	{ "init-recovery", sim_init_recovery, "enter recovery mode, export "
	    "the exchange key" },
	{ "upload", sim_upload, "accept a restore blob if it restores the "
	    "activated data" },
	{ "status", sim_status, "show the simulated HSM's state" },
	{ "serve", sim_serve, "answer the Managed HSM HTTP API over HTTPS on "
	    "loopback, for sdtool hsm" },
	{ NULL, NULL, NULL }
};

int
cmd_sim(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, sim_verbs, argc, argv);
}
