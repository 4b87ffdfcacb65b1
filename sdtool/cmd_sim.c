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
 *
 * The simulated HSM keeps the SHA-256 of each data item it activated (not
 * the master secret), and the exchange private key while in recovery mode.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "certgen.h"
#include "cli.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../shares/sdops.h"

#define MARKER_NAME "SIMULATED-HSM"
#define STATE_NAME "state.json"
#define EXCH_KEY_NAME "exchange.key"
#define EXCH_CERT_NAME "exchange.cer"
#define MAX_STATE_LEN (1u << 20)

static const char marker_text[] =
    "This directory is the state of a SIMULATED Managed HSM, made by\n"
    "'sdtool sim' for drills and tests.  It is not a real HSM and protects\n"
    "nothing: never use its keys or its SD file for real data.\n";

/* The data items a real HSM puts in its SD file, with typical sizes. */
static const struct {
	const char *tag;
	size_t size;
} sim_items[] = {
	{ "hsm_backup", 8512 },
	{ "base_enclave_backup", 960 },
	{ "partition_enclave_backup", 3104 },
};
#define N_ITEMS (sizeof(sim_items) / sizeof(sim_items[0]))

static char *
state_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

static void
now_iso(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
sha256_hex(const uint8_t *p, size_t len, char hex[65])
{
	uint8_t md[32];
	size_t i;

	EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Load DIR's state; refuses a directory that is not a simulated HSM. */
static int
state_load(const char *dir, json_t **out)
{
	json_error_t jerr;
	char *path = NULL, *marker = NULL;
	struct stat st;
	int ret = -1;

	*out = NULL;
	if ((path = state_path(dir, STATE_NAME)) == NULL ||
	    (marker = state_path(dir, MARKER_NAME)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (stat(marker, &st) == -1) {
		cli_error("%s: not a simulated HSM (no %s); run 'sdtool sim "
		    "activate --state %s' first", dir, MARKER_NAME, dir);
		goto out;
	}
	if ((*out = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_true(json_object_get(*out, "simulated"))) {
		cli_error("%s: unreadable simulator state: %s", path,
		    *out ? "not marked simulated" : jerr.text);
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
 out:
	free(path);
	free(marker);
	return ret;
}

static int
state_save(const char *dir, json_t *state)
{
	char *path = NULL, *text = NULL;
	int ret = -1;

	if ((path = state_path(dir, STATE_NAME)) == NULL ||
	    (text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		cli_error("out of memory");
		goto out;
	}
	ret = cli_replace_file(path, text, strlen(text), 0600);
 out:
	free(text);
	free(path);
	return ret;
}

/* Create DIR (0700) or accept it if empty, and mark it simulated. */
static int
state_create(const char *dir)
{
	char *marker = NULL, *state = NULL;
	struct stat st;
	int ret = -1;

	if ((marker = state_path(dir, MARKER_NAME)) == NULL ||
	    (state = state_path(dir, STATE_NAME)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (stat(state, &st) == 0) {
		cli_error("%s: this simulated HSM is already activated", dir);
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		cli_error("%s: %s", dir, strerror(errno));
		goto out;
	}
	if (stat(marker, &st) == -1 &&
	    cli_write_new_file(marker, marker_text, strlen(marker_text), 0644))
		goto out;
	ret = 0;
 out:
	free(marker);
	free(state);
	return ret;
}

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

static int
sim_activate(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_recipient rcpt[SD_MAX_SHARES];
	X509 *certs[SD_MAX_SHARES] = { NULL };
	struct sd_secret *master = NULL, *pts[N_ITEMS] = { NULL };
	const char *tags[N_ITEMS];
	struct sd_file *sd = NULL;
	struct sd_err e = { "" };
	const char *val, *dir = NULL, *sd_out = NULL, *cert_paths[11];
	char *json_text = NULL, hex[65], when[32];
	size_t n = 0, i, j, extra;
	long quorum = 0;
	json_t *state = NULL, *arr, *o;
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
	if (n < 3 || n > 10)
		return cli_usage_error("%zu certificates given; the service "
		    "takes 3 to 10", n);
	if ((size_t)quorum > n)
		return cli_usage_error("--sd-quorum %ld is more than the %zu "
		    "certificates", quorum, n);
	if (cli_refuse_existing(sd_out) != 0)
		return EXIT_FAIL;

	for (i = 0; i < n; i++) {
		if ((r = hw_cert_load(cert_paths[i], &certs[i], &e)) != 0 ||
		    (r = hw_cert_x5t256(certs[i], rcpt[i].x5t_256)) != 0) {
			cli_core_error(r, &e, "%s", cert_paths[i]);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(rcpt[j].x5t_256, rcpt[i].x5t_256) == 0) {
				/* two shares to one key would defeat the quorum */
				cli_error("%s: the same certificate as %s; each "
				    "officer needs their own", cert_paths[i],
				    cert_paths[j]);
				goto out;
			}
		rcpt[i].pub = X509_get0_pubkey(certs[i]);
		if (!EVP_PKEY_is_a(rcpt[i].pub, "RSA") ||
		    EVP_PKEY_get_bits(rcpt[i].pub) < 2048) {
			cli_error("%s: the service takes only RSA keys of 2048 "
			    "bits or more", cert_paths[i]);
			goto out;
		}
	}
	if (state_create(dir) != 0)
		goto out;

	if ((master = sd_secret_new(SD_SECRET_LEN)) == NULL) {
		cli_error("out of locked memory");
		goto out;
	}
	randombytes_buf(master->p, master->len);
	for (i = 0; i < N_ITEMS; i++) {
		extra = 16 * randombytes_uniform(8);
		tags[i] = sim_items[i].tag;
		if ((pts[i] = sd_secret_new(sim_items[i].size + extra)) == NULL) {
			cli_error("out of locked memory");
			goto out;
		}
		randombytes_buf(pts[i]->p, pts[i]->len);
	}
	if ((r = sd_file_build(master, tags, pts, N_ITEMS, rcpt, n,
	    (unsigned)quorum, NULL, &sd, &e)) != 0 ||
	    (r = sd_file_serialize(sd, &json_text, &e)) != 0) {
		cli_core_error(r, &e, "building the SD file");
		goto out;
	}
	if (cli_write_new_file(sd_out, json_text, strlen(json_text), 0644) != 0)
		goto out;

	now_iso(when, sizeof(when));
	state = json_object();
	json_object_set_new(state, "simulated", json_true());
	json_object_set_new(state, "status", json_string("active"));
	json_object_set_new(state, "activated_at", json_string(when));
	json_object_set_new(state, "required", json_integer(quorum));
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(rcpt[i].x5t_256));
	json_object_set_new(state, "certificates", arr);
	arr = json_array();
	for (i = 0; i < N_ITEMS; i++) {
		sha256_hex(pts[i]->p, pts[i]->len, hex);
		o = json_object();
		json_object_set_new(o, "tag", json_string(tags[i]));
		json_object_set_new(o, "size", json_integer((json_int_t)pts[i]->len));
		json_object_set_new(o, "sha256", json_string(hex));
		json_array_append_new(arr, o);
	}
	json_object_set_new(state, "data", arr);
	if (state_save(dir, state) != 0)
		goto out;

	if (json) {
		o = json_object();
		json_object_set_new(o, "security_domain_file", json_string(sd_out));
		json_object_set_new(o, "state", json_string(dir));
		json_object_set_new(o, "required", json_integer(quorum));
		json_object_set(o, "certificates",
		    json_object_get(state, "certificates"));
		cli_print_json(o);
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
	free(json_text);
	sd_file_free(sd);
	for (i = 0; i < N_ITEMS; i++)
		sd_secret_free(pts[i]);
	sd_secret_free(master);
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
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	const char *val, *dir = NULL, *out_path = NULL;
	char *key_path = NULL, *cert_path = NULL, *pem = NULL, *key_pem = NULL;
	char x5t[SD_X5T_LEN + 1];
	size_t pem_len, key_len = 0;
	json_t *state = NULL, *o;
	int id, r, json = 0, ret = EXIT_FAIL;

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
	if (cli_refuse_existing(out_path) != 0 || state_load(dir, &state) != 0)
		goto out;
	if ((key_path = state_path(dir, EXCH_KEY_NAME)) == NULL ||
	    (cert_path = state_path(dir, EXCH_CERT_NAME)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (json_object_get(state, "exchange_key_x5t_256") != NULL) {
		/* Like the service: recovery mode keeps one exchange key. */
		if ((r = hw_cert_load(cert_path, &cert, &e)) != 0) {
			cli_core_error(r, &e, "%s", cert_path);
			goto out;
		}
	} else {
		if (!json && cli_stderr_is_tty())
			fprintf(stderr, "generating the RSA-4096 exchange key");
		if (certgen_rsa(4096, !json && cli_stderr_is_tty(), &key) != 0 ||
		    certgen_selfsigned(key, "CN=Simulated Managed HSM exchange "
		    "key,O=sdtool sim", 30, &cert) != 0 ||
		    certgen_key_pem(key, NULL, &key_pem, &key_len) != 0 ||
		    certgen_cert_pem(cert, &pem, &pem_len) != 0)
			goto out;
		if (cli_write_new_file(key_path, key_pem, key_len, 0600) != 0 ||
		    cli_write_new_file(cert_path, pem, pem_len, 0644) != 0)
			goto out;
		free(pem);
		pem = NULL;
	}
	if ((r = hw_cert_x5t256(cert, x5t)) != 0) {
		cli_core_error(r, NULL, "exchange certificate");
		goto out;
	}
	if (certgen_cert_pem(cert, &pem, &pem_len) != 0 ||
	    cli_write_new_file(out_path, pem, pem_len, 0644) != 0)
		goto out;
	json_object_set_new(state, "status", json_string("recovery"));
	json_object_set_new(state, "exchange_key_x5t_256", json_string(x5t));
	if (state_save(dir, state) != 0)
		goto out;
	if (json) {
		o = json_object();
		json_object_set_new(o, "exchange_key", json_string(out_path));
		json_object_set_new(o, "x5t_256", json_string(x5t));
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("simulated HSM %s is in recovery mode\n", dir);
		printf("exchange key certificate written to %s\n", out_path);
		printf("  x5t_256 %s\n", x5t);
		printf("Read this thumbprint aloud to the offline machine's "
		    "operator before making the restore blob.\n");
	}
	ret = EXIT_OK;
 out:
	if (key_pem != NULL)
		sodium_free(key_pem);
	free(pem);
	free(key_path);
	free(cert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
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

/* Compare the blob's plaintexts with what was activated. */
static int
check_restored(const json_t *state, const struct sd_blob *b,
    struct sd_secret **pts, char *why, size_t size)
{
	const json_t *want = json_object_get(state, "data"), *w;
	char hex[65];
	size_t i, j;

	if (json_array_size(want) != b->data.n) {
		snprintf(why, size, "the blob has %zu data items, the HSM "
		    "activated %zu", b->data.n, json_array_size(want));
		return -1;
	}
	json_array_foreach(want, i, w) {
		const char *tag = json_string_value(json_object_get(w, "tag"));

		for (j = 0; j < b->data.n; j++)
			if (tag != NULL && strcmp(b->data.items[j].tag, tag) == 0)
				break;
		if (j == b->data.n) {
			snprintf(why, size, "data item \"%s\" is missing from "
			    "the blob", tag ? tag : "?");
			return -1;
		}
		sha256_hex(pts[j]->p, pts[j]->len, hex);
		if (strcmp(hex, json_string_value(json_object_get(w,
		    "sha256"))) != 0) {
			snprintf(why, size, "data item \"%s\" differs from what "
			    "was activated (SHA-256 %s)", tag, hex);
			return -1;
		}
	}
	return 0;
}

static int
sim_upload(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_blob *blob = NULL;
	struct sd_secret **pts = NULL;
	struct sd_decryptor dec;
	struct sd_err e = { "" };
	const char *val, *dir = NULL, *blob_path = NULL, *want_x5t;
	char *text = NULL, *key_path = NULL, *cert_path = NULL, why[512];
	char when[32];
	size_t len;
	struct hw_open_opts opts = { NULL, NULL, NULL };
	struct hw_key *key = NULL;
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
	if (state_load(dir, &state) != 0)
		goto out;
	if ((want_x5t = json_string_value(json_object_get(state,
	    "exchange_key_x5t_256"))) == NULL) {
		cli_error("%s: the simulated HSM is not in recovery mode; run "
		    "'sdtool sim init-recovery' first", dir);
		goto out;
	}
	if (cli_read_file(blob_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_blob_parse(text, len, &blob, &e)) != 0) {
		cli_core_error(r, &e, "%s: refused", blob_path);
		goto out;
	}
	if (strcmp(blob->wrapped.x5t_256, want_x5t) != 0) {
		cli_error("%s: refused: encrypted to exchange key %s, but this "
		    "HSM's exchange key is %s", blob_path, blob->wrapped.x5t_256,
		    want_x5t);
		goto out;
	}
	/* The exchange key opens like any key file, in guarded memory. */
	if ((key_path = state_path(dir, EXCH_KEY_NAME)) == NULL ||
	    (cert_path = state_path(dir, EXCH_CERT_NAME)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	opts.cert_path = cert_path;
	if ((r = hw_key_open(key_path, &opts, &key, &e)) != 0) {
		cli_core_error(r, &e, "the simulated HSM's exchange key");
		goto out;
	}
	hw_key_decryptor(key, &dec);
	if ((r = sd_blob_open(blob, &dec, &pts, &e)) != 0) {
		cli_core_error(r, &e, "%s: refused", blob_path);
		goto out;
	}
	if (check_restored(state, blob, pts, why, sizeof(why)) != 0) {
		cli_error("%s: refused: %s", blob_path, why);
		goto out;
	}
	now_iso(when, sizeof(when));
	json_object_set_new(state, "status", json_string("restored"));
	json_object_set_new(state, "restored_at", json_string(when));
	if (state_save(dir, state) != 0)
		goto out;
	if (json) {
		o = json_object();
		json_object_set_new(o, "status", json_string("Success"));
		json_object_set_new(o, "data_items",
		    json_integer((json_int_t)blob->data.n));
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("simulated HSM %s restored: all %zu data items match "
		    "what was activated\n", dir, blob->data.n);
	}
	ret = EXIT_OK;
 out:
	sd_plaintexts_free(pts, blob ? blob->data.n : 0);
	hw_key_free(key);
	free(key_path);
	free(cert_path);
	free(text);
	sd_blob_free(blob);
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
	if (state_load(dir, &state) != 0)
		return EXIT_FAIL;
	if (json) {
		cli_print_json(state);
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

/* --- dispatch ---------------------------------------------------------- */

#define SYNOPSIS "activate | init-recovery | upload | status ..."

static const struct cli_verb sim_verbs[] = {
	{ "activate", sim_activate, "take the officers' certificates, return "
	    "an SD file" },
	{ "init-recovery", sim_init_recovery, "enter recovery mode, export "
	    "the exchange key" },
	{ "upload", sim_upload, "accept a restore blob if it restores the "
	    "activated data" },
	{ "status", sim_status, "show the simulated HSM's state" },
	{ NULL, NULL, NULL }
};

int
cmd_sim(int argc, char **argv)
{
	static char name[64];
	const struct cli_verb *v;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		cli_usage(stdout, SYNOPSIS, NULL);
		for (v = sim_verbs; v->name != NULL; v++)
			printf("  %-14s %s\n", v->name, v->summary);
		return EXIT_OK;
	}
	for (v = sim_verbs; argc >= 2 && v->name != NULL; v++)
		if (strcmp(argv[1], v->name) == 0) {
			/* messages and usage say "sdtool sim upload: ..." */
			snprintf(name, sizeof(name), "sim %s", v->name);
			cli_verb_name = name;
			return v->fn(argc - 1, argv + 1);
		}
	return cli_usage_error("sim needs one of: activate, init-recovery, "
	    "upload, status");
}
