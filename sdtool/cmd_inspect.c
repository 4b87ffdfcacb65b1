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

#include "certgen.h"
#include "cli.h"
#include "verbs.h"
#include "../hw/key.h"
#include "keys.h"
#include "../shares/backup.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"
#include "../shares/sdfile.h"

#define SYNOPSIS "[--json] [--password-file FILE] FILE [CERT ...] " \
	"[--sd-wrapping-keys KEY ...]"

enum { O_JSON = 1, O_KEYS, O_PASSFILE };

static const struct opt opts[] = {
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "a quorum of keys: also show the SD's identity and key names" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, one line per key in order (one line: for all)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

struct given_cert {
	const char *path;
	X509 *cert;
	char x5t[SD_X5T_LEN + 1];
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

	if (hw_cert_x5t256(g->cert, g->x5t) != 0)
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

	if ((r = hw_cert_load(g->path, &g->cert, &e)) != 0) {
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
	unsigned char der_md[32];
	unsigned int md_len = 0;
	char colon[32 * 3];
	size_t i;

	load_given_cert(&g);
	X509_digest(cert, EVP_sha256(), der_md, &md_len);
	for (i = 0; i < md_len; i++)
		snprintf(colon + 3 * i, 4, "%02X%s", der_md[i],
		    i + 1 < md_len ? ":" : "");
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
	uint8_t md[32];
	char hex[65], msg[600];
	json_t *root = json_object(), *arr, *o;
	size_t i;

	EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
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

/*
 * With a quorum of keys (issue 11): what the data items hold, by name
 * only: the sdid, each item's fields and the kid/kty of the keys in it.
 * 0, or -1 with the reason in why.
 */
static int
contents_json(const struct sd_file *sd, const struct keyset *ks,
    json_t **out, char *why, size_t size)
{
	const uint8_t *parts[SD_MAX_SHARES];
	struct sd_secret *master = NULL, **pts = NULL;
	struct sd_identity *id = NULL;
	struct sd_err e = { "" };
	json_t *root, *items, *o, *arr, *k;
	size_t i, j, n = 0;
	int ret = -1;

	*out = NULL;
	for (i = 0; i < sd->n_shares && n < sd->required; i++)
		if (ks->shares[i] != NULL)
			parts[n++] = ks->shares[i]->p;
	if (n < sd->required) {
		snprintf(why, size, "only %zu of the %u shares needed were opened: "
		    "the contents cannot be shown", n, sd->required);
		return -1;
	}
	if (shamir_combine(parts, sd->required, SD_SHARE_LEN, &master, &e) != 0 ||
	    sd_data_open(&sd->data, master, &pts, &e) != 0 ||
	    sd_identity_read(&sd->data, pts, &id, &e) != 0) {
		snprintf(why, size, "%s", e.msg);
		goto out;
	}
	root = json_object();
	json_object_set_new(root, "sdid", id->sdid ? json_string(id->sdid) :
	    json_null());
	items = json_array();
	for (i = 0; i < id->n; i++) {
		const struct sd_item_info *it = &id->items[i];

		o = json_object();
		json_object_set_new(o, "tag", json_string(it->tag));
		json_object_set_new(o, "bytes", json_integer((json_int_t)it->len));
		json_object_set_new(o, "format",
		    json_string(it->is_bson ? "bson" : "opaque"));
		arr = json_array();
		for (j = 0; j < it->n_fields; j++)
			json_array_append_new(arr, json_string(it->fields[j]));
		json_object_set_new(o, "fields", arr);
		arr = json_array();
		for (j = 0; j < it->n_keys; j++) {
			k = json_object();
			json_object_set_new(k, "field",
			    json_string(it->keys[j].field));
			json_object_set_new(k, "kid", json_string(it->keys[j].kid));
			json_object_set_new(k, "kty", json_string(it->keys[j].kty));
			json_array_append_new(arr, k);
		}
		json_object_set_new(o, "keys", arr);
		json_array_append_new(items, o);
	}
	json_object_set_new(root, "items", items);
	*out = root;
	ret = 0;
 out:
	sd_identity_free(id);
	sd_plaintexts_free(pts, pts ? sd->data.n : 0);
	sd_secret_free(master);
	return ret;
}

static void
print_contents(const json_t *c)
{
	const json_t *o, *f, *k;
	size_t i, j;

	printf("contents (opened with a quorum; names only, never values):\n");
	printf("  sdid:   %s\n", json_is_string(json_object_get(c, "sdid")) ?
	    json_string_value(json_object_get(c, "sdid")) : "(none)");
	json_array_foreach(json_object_get(c, "items"), i, o) {
		printf("  %-26s %lld bytes, %s", json_string_value(
		    json_object_get(o, "tag")), (long long)json_integer_value(
		    json_object_get(o, "bytes")), json_string_value(
		    json_object_get(o, "format")));
		json_array_foreach(json_object_get(o, "fields"), j, f)
			printf("%s%s", j ? ", " : ": ", json_string_value(f));
		printf("\n");
		json_array_foreach(json_object_get(o, "keys"), j, k)
			printf("    key %s: kid %s, kty %s\n",
			    json_string_value(json_object_get(k, "field")),
			    json_string_value(json_object_get(k, "kid")),
			    json_string_value(json_object_get(k, "kty")));
	}
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
	if (json_object_get(root, "contents") != NULL)
		print_contents(json_object_get(root, "contents"));
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
	const char *val, *path = NULL, *passfile = NULL;
	char *text = NULL, **refs = NULL, why[600];
	struct keyset ks = { 0 };
	json_t *contents = NULL;
	size_t len, n_certs = 0, n_refs = 0, i;
	json_t *report = NULL, *warnings = NULL;
	int id, r, r2, json = 0, ret = EXIT_FAIL;

	if ((certs = calloc((size_t)argc, sizeof(*certs))) == NULL ||
	    (refs = calloc((size_t)argc, sizeof(*refs))) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_JSON: json = 1; break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_PASSFILE: passfile = val; break;
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
		if (hw_exchange_cert_load(path, &cert, &e3) == 0) {
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
	if (n_refs > 0) {
		if (sd == NULL) {
			cli_error("%s: --sd-wrapping-keys opens an SD file, and this "
			    "is a restore blob", path);
			goto out;
		}
		if (keyset_open(sd, refs, n_refs, passfile, 1, &ks) != 0)
			goto out;
		keyset_warn(&ks);
		if (contents_json(sd, &ks, &contents, why, sizeof(why)) != 0) {
			cli_error("%s: %s", path, why);
			goto out;
		}
		json_object_set_new(report, "contents", contents);
	}
	if (json)
		cli_print_json(report);
	else
		print_report(report);
	ret = EXIT_OK;
 out:
	keyset_clear(&ks);
	free(refs);
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
