/*
 * sdtool inspect: everything knowable about an SD file (or a restore blob)
 * without a secret: structure, quorum, to whom each share is encrypted,
 * what data it carries, and anything odd.
 *
 * Exit status: 0 when nothing it reports contradicts what it was given; 1
 * on any mismatch between the files given (a certificate that is the
 * recipient of no share, a blob not encrypted to the given exchange key),
 * on an --expect-sha256 / --expect-x5t value that is not the file's, or on
 * failure; 2 on usage.
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
#include "report.h"
#include "verbs.h"
#include "../hw/key.h"
#include "keys.h"
#include "../shares/b64.h"
#include "../shares/backup.h"
#include "../shares/readaloud.h"
#include "../shares/sdfile.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"

#define SYNOPSIS "[--json] [--expect-sha256 HEX] [--expect-x5t T] " \
	"[--password-file FILE] FILE [CERT ...] [--sd-wrapping-keys KEY ...]"

enum { O_JSON = 1, O_EXPECT_SHA, O_EXPECT_X5T, O_KEYS, O_PASSFILE };

static const struct opt opts[] = {
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "a quorum of keys: also show the SD's identity and key names" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, one line per key in order (one line: for all)" },
	{ O_EXPECT_SHA, "expect-sha256", 0, OPT_VALUE, "HEX",
	    "fail unless FILE's SHA-256 is this (hex or PGP words)" },
	{ O_EXPECT_X5T, "expect-x5t", 0, OPT_VALUE, "T",
	    "fail unless FILE has this x5t_256 thumbprint" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* A certificate (PEM or DER) or a transfer-key reply, from bytes read. */
static int
exchange_from_text(const char *path, const char *text, size_t len,
    X509 **out, struct sd_err *e)
{
	size_t i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
	    text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i < len && text[i] == '{')
		return pki_exchange_cert_parse(path, text, len, out, e);
	if ((*out = pki_cert_from_buf(text, len)) == NULL)
		return sd_err_set(e, SD_ERR_KEY, "%s: neither an X.509 "
		    "certificate (PEM or DER) nor a transfer-key reply (JSON)",
		    path);
	return 0;
}


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

/* A CERT that cannot be read is a failure: nothing was compared with it. */
static void
load_given(struct given_cert *g, json_t *warnings)
{
	struct sd_err e = { "" };
	char msg[700];
	int r;

	/* a certificate, or an HSM's transfer-key reply for a blob */
	if ((r = pki_exchange_cert_load(g->path, &g->cert, &e)) != 0) {
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
	json_object_set_new(o, "x5t_256_readaloud", report_x5t_readaloud(x5t));
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
		json_object_set_new(c, "file", json_string(certs[k].path));
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
	json_t *root = report_new("inspect"), *warnings = json_array();
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
	/* x5t_256 is the SHA-256 of the certificate's DER bytes */
	json_object_set_new(root, "x5t_256", json_string(g.x5t));
	json_object_set_new(root, "x5t_256_readaloud", report_x5t_readaloud(g.x5t));
	/* as `openssl x509 -fingerprint -sha256` shows it */
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
	printf("          read aloud (the certificate's SHA-256 = x5t_256, as "
	    "hex and as PGP words):\n");
	report_print_readaloud(json_object_get(root, "x5t_256_readaloud"),
	    "          ");
	printf("file sha256: %s\n", json_string_value(json_object_get(root,
	    "sha256")));
	json_array_foreach(json_object_get(root, "warnings"), i, o)
		printf("warning:  %s\n", json_string_value(o));
}

/* The report, as JSON; the text form is printed from it. */
static json_t *
build_report(const char *path, const char *text, size_t len,
    const struct sd_file *sd, const struct sd_blob *blob,
    struct given_cert *certs, size_t n_certs, json_t *warnings,
    json_t *mismatches)
{
	const struct sd_enc_data *d = sd ? &sd->data : &blob->data;
	const struct sd_unknown *u = sd ? &sd->unknown : &blob->unknown;
	char msg[600];
	json_t *root = report_new("inspect"), *arr, *o, *q;
	size_t i;

	(void)text;
	json_object_set_new(root, "file", json_string(path));
	json_object_set_new(root, "size", json_integer((json_int_t)len));
	json_object_set_new(root, "type",
	    json_string(sd ? "security_domain" : "restore_blob"));
	if (sd != NULL) {
		json_object_set_new(root, "format_version",
		    json_integer(sd->version));
		json_object_set_new(root, "key_algorithm",
		    json_string(sd->key_algorithm));
		q = json_object();
		json_object_set_new(q, "required", json_integer(sd->required));
		json_object_set_new(q, "shares",
		    json_integer((json_int_t)sd->n_shares));
		json_object_set_new(root, "quorum", q);
		arr = json_array();
		for (i = 0; i < sd->n_shares; i++) {
			o = json_object();
			json_object_set_new(o, "share",
			    json_integer((json_int_t)i + 1));
			json_object_update(o, q = recipient_json(
			    sd->shares[i].x5t_256, sd->shares[i].jwe, certs,
			    n_certs));
			json_decref(q);
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
			/* a contradiction between the files given: exit 1 */
			snprintf(msg, sizeof(msg), sd != NULL ? "%s: no share of "
			    "this file is encrypted to this certificate" : "%s: "
			    "this blob is not encrypted to this certificate",
			    certs[i].path);
			json_array_append_new(mismatches, json_string(msg));
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
 * --expect-sha256 / --expect-x5t: compare what a person typed (hex in any
 * case and grouping, PGP words, or base64url exactly) with the file.
 */
static void
check_expect(json_t *root, const char *what, const char *typed,
    const uint8_t *want, size_t n, const char *label, json_t *mismatches)
{
	struct sd_err e = { "" };
	json_t *o = json_object(), *arr;
	char msg[800];
	int r;

	r = readaloud_match(typed, want, n, &e);
	json_object_set_new(o, "what", json_string(what));
	json_object_set_new(o, "typed", json_string(typed));
	json_object_set_new(o, "status", json_string(r == 0 ? "match" :
	    "mismatch"));
	if (r == 0)
		snprintf(msg, sizeof(msg), "%s: the value typed is %s", what,
		    label);
	else
		snprintf(msg, sizeof(msg), "--expect-%s: %s is NOT %s: %s",
		    strcmp(what, "sha256") == 0 ? "sha256" : "x5t", typed,
		    label, e.msg[0] ? e.msg : sd_strerror(r));
	json_object_set_new(o, "message", json_string(msg));
	if (r != 0)
		json_array_append_new(mismatches, json_string(msg));
	if ((arr = json_object_get(root, "expect")) == NULL) {
		arr = json_array();
		json_object_set_new(root, "expect", arr);
	}
	json_array_append_new(arr, o);
}

/* --expect-x5t against every thumbprint the file names; best match wins */
static void
check_expect_x5t(json_t *root, const char *typed, const char *const *x5ts,
    size_t n, const char *path, int is_sd, json_t *mismatches)
{
	uint8_t *b = NULL;
	size_t blen = 0, i;
	char label[600];

	for (i = 0; i < n; i++) {
		struct sd_err e = { "" };

		if (b64url_decode(x5ts[i], strlen(x5ts[i]), &b, &blen, NULL) != 0)
			continue;
		if (readaloud_match(typed, b, blen, &e) == 0 || n == 1) {
			if (is_sd)
				snprintf(label, sizeof(label), "the x5t_256 of "
				    "share #%zu's recipient in %s", i + 1, path);
			else
				snprintf(label, sizeof(label), "the x5t_256 of "
				    "%s", path);
			check_expect(root, "x5t_256", typed, b, blen, label,
			    mismatches);
			free(b);
			return;
		}
		free(b);
		b = NULL;
	}
	{
		json_t *o = json_object(), *arr;
		char msg[800];

		snprintf(msg, sizeof(msg), "--expect-x5t: %s is NOT the "
		    "x5t_256 of any share's recipient in %s", typed, path);
		json_object_set_new(o, "what", json_string("x5t_256"));
		json_object_set_new(o, "typed", json_string(typed));
		json_object_set_new(o, "status", json_string("mismatch"));
		json_object_set_new(o, "message", json_string(msg));
		json_array_append_new(mismatches, json_string(msg));
		if ((arr = json_object_get(root, "expect")) == NULL) {
			arr = json_array();
			json_object_set_new(root, "expect", arr);
		}
		json_array_append_new(arr, o);
	}
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
	const json_t *ra = json_object_get(o, "x5t_256_readaloud");

	printf("  %-6s x5t_256 %s  %s / %s\n", label,
	    json_string_value(json_object_get(o, "x5t_256")),
	    json_string_value(json_object_get(o, "alg")),
	    json_string_value(json_object_get(o, "enc")));
	if (json_string_value(json_object_get(ra, "hex")) != NULL)
		printf("         (hex) %s\n",
		    json_string_value(json_object_get(ra, "hex")));
	if (c != NULL)
		printf("         certificate %s: %s, expires %s%s\n",
		    json_string_value(json_object_get(c, "file")),
		    json_string_value(json_object_get(c, "subject")),
		    json_string_value(json_object_get(c, "not_after")),
		    json_is_true(json_object_get(c, "expired")) ? " (EXPIRED)" : "");
}

static void
print_tail(const json_t *root)
{
	const json_t *arr, *o;
	size_t i;

	json_array_foreach(json_object_get(root, "expect"), i, o)
		if (strcmp(json_string_value(json_object_get(o, "status")),
		    "match") == 0)
			printf("match:    %s\n", json_string_value(
			    json_object_get(o, "message")));
	arr = json_object_get(root, "mismatches");
	json_array_foreach(arr, i, o)
		printf("MISMATCH: %s\n", json_string_value(o));
}

static void
print_report(const json_t *root)
{
	const json_t *arr, *o, *q;
	char label[16];
	size_t i;
	int is_sd = strcmp(json_string_value(json_object_get(root, "type")),
	    "security_domain") == 0;
	const char *hname = is_sd ? "sd_sha256" : "sha256";
	char raname[32];

	snprintf(raname, sizeof(raname), "%s_readaloud", hname);
	printf("file:     %s\n", json_string_value(json_object_get(root, "file")));
	printf("sha256:   %s\n", json_string_value(json_object_get(root, hname)));
	printf("          read aloud:\n");
	report_print_readaloud(json_object_get(root, raname), "          ");
	printf("size:     %lld bytes\n",
	    (long long)json_integer_value(json_object_get(root, "size")));
	if (is_sd) {
		q = json_object_get(root, "quorum");
		printf("type:     security-domain file, version %lld\n",
		    (long long)json_integer_value(json_object_get(root,
		    "format_version")));
		printf("quorum:   %lld of %lld shares (%s)\n",
		    (long long)json_integer_value(json_object_get(q, "required")),
		    (long long)json_integer_value(json_object_get(q, "shares")),
		    json_string_value(json_object_get(root, "key_algorithm")));
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

/* The file's SHA-256, hex and read-aloud, under the vocabulary's name. */
static void
set_file_hash(json_t *root, const char *name, const uint8_t md[32])
{
	char hex[65], ra[64];
	size_t i;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(ra, sizeof(ra), "%s_readaloud", name);
	json_object_set_new(root, name, json_string(hex));
	json_object_set_new(root, ra, report_readaloud(md, 32));
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
	const char *val, *path = NULL, *expect_sha = NULL, *expect_x5t = NULL;
	const char **x5ts = NULL, *passfile = NULL;
	char *text = NULL, **refs = NULL, why[600];
	struct keyset ks = { 0 };
	json_t *contents = NULL;
	size_t n_refs = 0;
	uint8_t md[32];
	size_t len, n_certs = 0, n_x5ts = 0, i;
	json_t *report = NULL, *warnings = NULL, *mismatches = NULL;
	int id, r, r2, json = 0, is_cert = 0, ret = EXIT_FAIL;

	if ((certs = calloc((size_t)argc, sizeof(*certs))) == NULL ||
	    (refs = calloc((size_t)argc, sizeof(*refs))) == NULL) {
		free(certs);
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_JSON: json = 1; report_want_json(1); break;
		case O_EXPECT_SHA: expect_sha = val; break;
		case O_EXPECT_X5T: expect_x5t = val; break;
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
		ret = cli_usage_error("which SD file? (FILE is required)");
		goto out;
	}
	if (cli_read_file(path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL);
	warnings = json_array();
	mismatches = json_array();
	if ((r = sd_file_parse(text, len, &sd, &e)) != 0 &&
	    (r2 = sd_blob_parse(text, len, &blob, &e2)) != 0) {
		/* Not an SD file or blob: perhaps a certificate to check. */
		if (exchange_from_text(path, text, len, &cert, &e3) != 0) {
			/* Report what is wrong with what the file tries to be. */
			if (strstr(e.msg, "restore blob, not a security-domain")
			    != NULL)
				cli_core_error(r2, &e2, "%s", path);
			else
				cli_core_error(r, &e, "%s", path);
			goto out;
		}
		if (n_certs > 0) {
			ret = cli_usage_error("CERT arguments go with an SD file "
			    "or a restore blob, not with a certificate");
			goto out;
		}
		is_cert = 1;
		report = cert_report(path, cert, text[0] == '{');
		set_file_hash(report, "sha256", md);
	} else {
		for (i = 0; i < n_certs; i++)
			load_given(&certs[i], mismatches);
		report = build_report(path, text, len, sd, blob, certs,
		    n_certs, warnings, mismatches);
		set_file_hash(report, sd != NULL ? "sd_sha256" : "sha256", md);
	}
	/* issue 11: with a quorum of keys, the SD's identity and key names */
	if (n_refs > 0) {
		if (sd == NULL) {
			cli_error("%s: --sd-wrapping-keys opens a security-domain "
			    "file, and this is not one", path);
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
	if (expect_sha != NULL) {
		char label[600];
		unsigned char der_md[32];
		unsigned int md_len = 0;

		if (is_cert && X509_digest(cert, EVP_sha256(), der_md, &md_len)
		    == 1 && readaloud_match(expect_sha, der_md, 32, NULL) == 0 &&
		    memcmp(der_md, md, 32) != 0)
			snprintf(label, sizeof(label), "the SHA-256 of the file "
			    "%s (it is the certificate's fingerprint: compare "
			    "that with --expect-x5t)", path);
		else
			snprintf(label, sizeof(label), "the SHA-256 of %s", path);
		check_expect(report, "sha256", expect_sha, md, 32, label,
		    mismatches);
	}
	if (expect_x5t != NULL) {
		if ((x5ts = calloc(SD_MAX_SHARES + 1, sizeof(*x5ts))) == NULL) {
			cli_error("out of memory");
			goto out;
		}
		if (is_cert)
			x5ts[n_x5ts++] = json_string_value(json_object_get(
			    report, "x5t_256"));
		else if (sd != NULL)
			for (i = 0; i < sd->n_shares && i < SD_MAX_SHARES; i++)
				x5ts[n_x5ts++] = sd->shares[i].x5t_256;
		else
			x5ts[n_x5ts++] = blob->wrapped.x5t_256;
		check_expect_x5t(report, expect_x5t, x5ts, n_x5ts, path,
		    sd != NULL, mismatches);
	}
	json_object_set(report, "mismatches", mismatches);
	if (json_array_size(mismatches) == 0) {
		report_set_ok(report, 1);
		ret = EXIT_OK;
	} else {
		report_set_error(report, "mismatch", json_string_value(
		    json_array_get(mismatches, 0)));
		ret = EXIT_FAIL;
	}
	if (json)
		report_print(report);
	else {
		if (is_cert)
			print_cert_report(report);
		else
			print_report(report);
		print_tail(report);
	}
	if (ret != EXIT_OK)
		cli_error("%s", json_string_value(json_array_get(mismatches,
		    0)));
 out:
	keyset_clear(&ks);
	free(refs);
	X509_free(cert);
	json_decref(report);
	json_decref(warnings);
	json_decref(mismatches);
	for (i = 0; i < n_certs; i++)
		X509_free(certs[i].cert);
	free(certs);
	free(x5ts);
	sd_file_free(sd);
	sd_blob_free(blob);
	free(text);
	return ret;
}
