/*
 * sdtool inspect: everything knowable about an SD file (or a restore blob)
 * without a secret: structure, quorum, to whom each share is encrypted,
 * what data it carries, and anything odd.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../shares/sdfile.h"

#define SYNOPSIS "[--json] FILE [CERT ...]"

enum { O_JSON = 1 };

static const struct opt opts[] = {
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

struct given_cert {
	const char *path;
	X509 *cert;
	char x5t[SD_X5T_SIZE];
	char subject[256];
	char not_after[32];
	int expired;
	int used;
};

/* Subject, expiry and thumbprint of g->cert. */
static void
load_given_cert(struct given_cert *g)
{
	BIO *bio;
	long n;

	if (pki_cert_x5t256(g->cert, g->x5t) != 0)
		g->x5t[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) != NULL) {
		X509_NAME_print_ex(bio, X509_get_subject_name(g->cert), 0,
		    XN_FLAG_RFC2253);
		n = BIO_read(bio, g->subject, sizeof(g->subject) - 1);
		g->subject[n > 0 ? n : 0] = '\0';
		BIO_free(bio);
	}
	certgen_not_after(g->cert, g->not_after);
	g->expired = X509_cmp_current_time(X509_get0_notAfter(g->cert)) < 0;
}

static void
load_given(struct given_cert *g, json_t *warnings)
{
	struct sd_err e = { "" };
	char msg[700];
	int r;

	if ((r = pki_cert_load(g->path, &g->cert, &e)) != 0) {
		/* hw's detail names the file already */
		if (e.msg[0] != '\0')
			snprintf(msg, sizeof(msg), "%s", e.msg);
		else
			snprintf(msg, sizeof(msg), "%s: %s", g->path,
			    sd_strerror(r));
		json_array_append_new(warnings, json_string(msg));
		X509_free(g->cert);
		g->cert = NULL;
		return;
	}
	load_given_cert(g);
}

static json_t *
enc_data_json(const struct sd_enc_data *d)
{
	json_t *arr = json_array(), *o;
	size_t i;

	for (i = 0; i < d->n; i++) {
		o = json_object();
		json_object_set_new(o, "tag", json_string(d->items[i].tag));
		json_object_set_new(o, "alg", json_string(d->items[i].jwe->alg));
		json_object_set_new(o, "enc", json_string(d->items[i].jwe->enc));
		json_object_set_new(o, "ciphertext_bytes",
		    json_integer((json_int_t)d->items[i].jwe->ct_len));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *
recipient_json(const char *x5t, const struct jwe *j, struct given_cert *certs,
    size_t n_certs)
{
	json_t *o = json_object(), *c;
	size_t k;

	json_object_set_new(o, "x5t_256", json_string(x5t));
	json_object_set_new(o, "alg", json_string(j->alg));
	json_object_set_new(o, "enc", json_string(j->enc));
	json_object_set_new(o, "kid", j->kid ? json_string(j->kid) : json_null());
	json_object_set_new(o, "encrypted_key_bits",
	    json_integer((json_int_t)j->ek_len * 8));
	for (k = 0; k < n_certs; k++) {
		if (certs[k].cert == NULL || strcmp(certs[k].x5t, x5t) != 0)
			continue;
		certs[k].used = 1;
		c = json_object();
		json_object_set_new(c, "path", json_string(certs[k].path));
		json_object_set_new(c, "subject", json_string(certs[k].subject));
		json_object_set_new(c, "not_after", json_string(certs[k].not_after));
		json_object_set_new(c, "expired", json_boolean(certs[k].expired));
		json_object_set_new(o, "certificate", c);
		break;
	}
	return o;
}

/*
 * A certificate, or an HSM's transfer-key reply: what an officer compares
 * aloud before trusting it (thumbprints, subject, validity, key size).
 */
static json_t *
cert_report(const char *path, X509 *cert, int is_reply)
{
	struct given_cert g = { path, cert, "", "", "", 0, 0 };
	json_t *root = json_object(), *warnings = json_array();
	char colon[96];

	load_given_cert(&g);
	if (pki_cert_sha256_colon(cert, colon) != 0)
		colon[0] = '\0';
	json_object_set_new(root, "file", json_string(path));
	json_object_set_new(root, "type", json_string(is_reply ?
	    "exchange_key_reply" : "certificate"));
	json_object_set_new(root, "subject", json_string(g.subject));
	json_object_set_new(root, "not_after", json_string(g.not_after));
	json_object_set_new(root, "expired", json_boolean(g.expired));
	json_object_set_new(root, "key_bits",
	    json_integer(EVP_PKEY_get_bits(X509_get0_pubkey(cert))));
	json_object_set_new(root, "x5t_256", json_string(g.x5t));
	json_object_set_new(root, "sha256_fingerprint", json_string(colon));
	if (g.expired)
		json_array_append_new(warnings, json_string(is_reply ?
		    "certificate expired: this HSM's exchange key is old; ask "
		    "it for a current one" : "certificate expired (a wrapping "
		    "key still works for recovery; plan a rotation)"));
	json_object_set_new(root, "warnings", warnings);
	return root;
}

static void
print_cert_report(const json_t *root)
{
	const json_t *o;
	size_t i;

	printf("file:     %s\n", json_string_value(json_object_get(root, "file")));
	printf("type:     %s\n", strcmp(json_string_value(json_object_get(root,
	    "type")), "certificate") == 0 ? "certificate" :
	    "exchange key reply of a recovery-mode HSM");
	printf("subject:  %s\n", json_string_value(json_object_get(root,
	    "subject")));
	printf("expires:  %s\n", json_string_value(json_object_get(root,
	    "not_after")));
	printf("key:      RSA-%lld\n", (long long)json_integer_value(
	    json_object_get(root, "key_bits")));
	printf("x5t_256:  %s\n", json_string_value(json_object_get(root,
	    "x5t_256")));
	printf("sha256:   %s\n", json_string_value(json_object_get(root,
	    "sha256_fingerprint")));
	json_array_foreach(json_object_get(root, "warnings"), i, o)
		printf("warning:  %s\n", json_string_value(o));
}

/* The report, as JSON; the text form is printed from it. */
static json_t *
build_report(const char *path, const char *text, size_t len,
    const struct sd_file *sd, const struct sd_blob *blob,
    struct given_cert *certs, size_t n_certs, json_t *warnings)
{
	const struct sd_enc_data *d = sd ? &sd->data : &blob->data;
	const struct sd_unknown *u = sd ? &sd->unknown : &blob->unknown;
	char hex[65], msg[600];
	json_t *root = json_object(), *arr, *o;
	size_t i;

	pki_sha256_hex(text, len, hex);
	json_object_set_new(root, "file", json_string(path));
	json_object_set_new(root, "sha256", json_string(hex));
	json_object_set_new(root, "size", json_integer((json_int_t)len));
	json_object_set_new(root, "type",
	    json_string(sd ? "security_domain" : "restore_blob"));
	if (sd != NULL) {
		json_object_set_new(root, "version", json_integer(sd->version));
		json_object_set_new(root, "key_algorithm",
		    json_string(sd->key_algorithm));
		json_object_set_new(root, "required", json_integer(sd->required));
		json_object_set_new(root, "share_count",
		    json_integer((json_int_t)sd->n_shares));
		arr = json_array();
		for (i = 0; i < sd->n_shares; i++) {
			o = recipient_json(sd->shares[i].x5t_256,
			    sd->shares[i].jwe, certs, n_certs);
			json_object_set_new(o, "index", json_integer((json_int_t)i + 1));
			if (n_certs > 0 && !json_object_get(o, "certificate")) {
				snprintf(msg, sizeof(msg), "share #%zu: none of "
				    "the given certificates is its recipient", i + 1);
				json_array_append_new(warnings, json_string(msg));
			}
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "shares", arr);
	} else {
		json_object_set_new(root, "wrapped_key",
		    recipient_json(blob->wrapped.x5t_256, blob->wrapped.jwe,
		    certs, n_certs));
	}
	json_object_set_new(root, "kdf", json_string(d->kdf));
	json_object_set_new(root, "data", enc_data_json(d));
	arr = json_array();
	for (i = 0; i < u->n; i++) {
		json_array_append_new(arr, json_string(u->paths[i]));
		snprintf(msg, sizeof(msg), "unknown field %s (ignored)",
		    u->paths[i]);
		json_array_append_new(warnings, json_string(msg));
	}
	json_object_set_new(root, "unknown_fields", arr);
	for (i = 0; i < n_certs; i++) {
		if (certs[i].cert != NULL && !certs[i].used) {
			snprintf(msg, sizeof(msg), sd != NULL ? "%s: no share of "
			    "this file is encrypted to this certificate" : "%s: "
			    "this blob is not encrypted to this certificate",
			    certs[i].path);
			json_array_append_new(warnings, json_string(msg));
		}
		if (certs[i].cert != NULL && certs[i].expired) {
			snprintf(msg, sizeof(msg), "%s: certificate expired %s "
			    "(recovery still works; plan a rotation)",
			    certs[i].path, certs[i].not_after);
			json_array_append_new(warnings, json_string(msg));
		}
	}
	json_object_set(root, "warnings", warnings);
	return root;
}

static void
print_recipient(const json_t *o, const char *label)
{
	const json_t *c = json_object_get(o, "certificate");

	printf("  %-6s x5t_256 %s  %s / %s\n", label,
	    json_string_value(json_object_get(o, "x5t_256")),
	    json_string_value(json_object_get(o, "alg")),
	    json_string_value(json_object_get(o, "enc")));
	if (c != NULL)
		printf("         certificate %s: %s, expires %s%s\n",
		    json_string_value(json_object_get(c, "path")),
		    json_string_value(json_object_get(c, "subject")),
		    json_string_value(json_object_get(c, "not_after")),
		    json_is_true(json_object_get(c, "expired")) ? " (EXPIRED)" : "");
}

static void
print_report(const json_t *root)
{
	const json_t *arr, *o;
	char label[16];
	size_t i;
	int is_sd = strcmp(json_string_value(json_object_get(root, "type")),
	    "security_domain") == 0;

	printf("file:     %s\n", json_string_value(json_object_get(root, "file")));
	printf("sha256:   %s\n", json_string_value(json_object_get(root, "sha256")));
	printf("size:     %lld bytes\n",
	    (long long)json_integer_value(json_object_get(root, "size")));
	if (is_sd) {
		printf("type:     security-domain file, version %lld\n",
		    (long long)json_integer_value(json_object_get(root, "version")));
		printf("quorum:   %lld of %lld shares (%s)\n",
		    (long long)json_integer_value(json_object_get(root, "required")),
		    (long long)json_integer_value(json_object_get(root,
		    "share_count")), json_string_value(json_object_get(root,
		    "key_algorithm")));
		printf("shares:\n");
		arr = json_object_get(root, "shares");
		json_array_foreach(arr, i, o) {
			snprintf(label, sizeof(label), "#%zu", i + 1);
			print_recipient(o, label);
		}
	} else {
		printf("type:     restore blob (for upload to a recovery-mode HSM)\n");
		printf("wrapped key, for the HSM's exchange key:\n");
		print_recipient(json_object_get(root, "wrapped_key"), "key");
	}
	printf("data (kdf %s):\n", json_string_value(json_object_get(root, "kdf")));
	json_array_foreach(json_object_get(root, "data"), i, o)
		printf("  %-26s %s / %s, %lld bytes encrypted\n",
		    json_string_value(json_object_get(o, "tag")),
		    json_string_value(json_object_get(o, "alg")),
		    json_string_value(json_object_get(o, "enc")),
		    (long long)json_integer_value(json_object_get(o,
		    "ciphertext_bytes")));
	arr = json_object_get(root, "warnings");
	if (json_array_size(arr) > 0) {
		printf("warnings:\n");
		json_array_foreach(arr, i, o)
			printf("  %s\n", json_string_value(o));
	}
}

int
cmd_inspect(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_file *sd = NULL;
	struct sd_blob *blob = NULL;
	struct sd_err e = { "" }, e2 = { "" }, e3 = { "" };
	X509 *cert = NULL;
	struct given_cert *certs = NULL;
	const char *val, *path = NULL;
	char *text = NULL;
	size_t len, n_certs = 0, i;
	json_t *report = NULL, *warnings = NULL;
	int id, r, r2, json = 0, ret = EXIT_FAIL;

	if ((certs = calloc((size_t)argc, sizeof(*certs))) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_JSON: json = 1; break;
		case 0:
			if (path == NULL)
				path = val;
			else
				certs[n_certs++].path = val;
			break;
		case OPT_HELP:
			ret = cli_usage(stdout, SYNOPSIS, opts);
			goto out;
		default:
			ret = cli_usage_error("%s", p.errbuf);
			goto out;
		}
	}
	if (path == NULL) {
		ret = cli_usage_error("which SD file? (SD_FILE is required)");
		goto out;
	}
	if (cli_read_file(path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_file_parse(text, len, &sd, &e)) != 0 &&
	    (r2 = sd_blob_parse(text, len, &blob, &e2)) != 0) {
		/* Not an SD file or blob: perhaps a certificate to check. */
		if (pki_exchange_cert_load(path, &cert, &e3) == 0) {
			report = cert_report(path, cert, text[0] == '{');
			if (json)
				cli_print_json(report);
			else
				print_cert_report(report);
			ret = EXIT_OK;
			goto out;
		}
		/* Report what is wrong with what the file tries to be. */
		if (strstr(e.msg, "restore blob, not a security-domain") != NULL)
			cli_core_error(r2, &e2, "%s", path);
		else
			cli_core_error(r, &e, "%s", path);
		goto out;
	}
	warnings = json_array();
	for (i = 0; i < n_certs; i++)
		load_given(&certs[i], warnings);
	report = build_report(path, text, len, sd, blob, certs, n_certs,
	    warnings);
	if (json)
		cli_print_json(report);
	else
		print_report(report);
	ret = EXIT_OK;
 out:
	X509_free(cert);
	json_decref(report);
	json_decref(warnings);
	for (i = 0; i < n_certs; i++)
		X509_free(certs[i].cert);
	free(certs);
	sd_file_free(sd);
	sd_blob_free(blob);
	free(text);
	return ret;
}
