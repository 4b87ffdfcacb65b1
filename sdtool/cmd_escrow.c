/*
 * sdtool escrow: paper copies of an officer's wrapping key, and the key
 * back from paper.
 *
 *   print    a key file -> a sheet (PDF with QR codes and typed lines, or
 *            plain text), encrypted with a new passphrase by default
 *   restore  typed lines, QR code texts or scanned images -> the key file
 *   check    the same, writing nothing: does this sheet still give the key?
 *
 * The payload and its encodings are shares/escrow.c; the layout and the
 * scanning are escrow_sheet.c.  Here: reading the key, the passphrases,
 * the checks against the certificate, and telling the officer.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "report.h"
#include "../paper/sheet.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../shares/escrow.h"
#include "../shares/termtext.h"

#define SYNOPSIS "print | restore | check ..."
#define PRINT_SYNOPSIS "--key KEY [--cert CERT] --out SHEET " \
	"[--officer NAME] [--hsm NAME] [--index I] [--format pdf | text] " \
	"[--paper a4 | letter] [--passphrase | --no-passphrase] " \
	"[--password-file FILE] [--new-password-file FILE] [--long] [--json]"
#define RESTORE_SYNOPSIS "(--text FILE | --qr FILE ... | --scan IMAGE ...) " \
	"--out KEY [--cert CERT] [--password-file FILE] " \
	"[--new-password-file FILE | --no-passphrase] [--json]"
#define CHECK_SYNOPSIS "(--text FILE | --qr FILE ... | --scan IMAGE ...) " \
	"[--cert CERT] [--password-file FILE] [--json]"

#define ESC_MAX_INPUT (1u << 20)    /* largest key, text or QR text file read */
#define MIN_RSA_BITS 2048

/*
 * Files that may hold secrets (a key file; typed lines or QR texts of a
 * plain sheet) are read into guarded memory.  A pipe is fine:
 * `--text <(...)`.  NUL-terminated.
 */
static int
read_secret_file(const char *path, struct sd_secret **out)
{
	struct sd_secret *s = NULL;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = -1, ret = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		cli_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		cli_error("%s: is a directory, or cannot be read", path);
		goto out;
	}
	if ((s = sd_secret_new(ESC_MAX_INPUT + 1)) == NULL) {
		cli_error("out of locked memory");
		goto out;
	}
	for (;;) {
		n = read(fd, s->p + len, ESC_MAX_INPUT + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cli_error("%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > ESC_MAX_INPUT) {
			cli_error("%s: larger than %u bytes", path, ESC_MAX_INPUT);
			goto out;
		}
	}
	s->p[len] = '\0';
	s->len = len;
	*out = s;
	s = NULL;
	ret = 0;
 out:
	sd_secret_free(s);
	if (fd != -1)
		close(fd);
	return ret;
}

/*
 * The RSA private key in path, as every verb opens key files (hw/), asking
 * its passphrase if it has one; the certificate, when given, must be its.
 */
static int
load_key(const char *path, const char *passfile, const char *cert_path,
    EVP_PKEY **out, int *encrypted)
{
	struct cli_pass pass = { passfile, 0, NULL, 0, 0, 0 };
	struct hw_open_opts opts = { .passphrase = cli_passphrase,
	    .passphrase_ctx = &pass, .cert_path = cert_path };
	struct sd_err e = { "" };
	struct hw_key *k = NULL;
	EVP_PKEY *pkey;
	int r, ret = -1;

	*out = NULL;
	if ((r = hw_key_open(path, &opts, &k, &e)) != 0) {
		/* hw's message names the key; say what to do without a tty */
		if (r == SD_ERR_PASSPHRASE && passfile == NULL &&
		    !cli_have_tty() && strstr(e.msg, "wrong") == NULL)
			cli_error("%s (no terminal to ask: use --password-file)",
			    e.msg);
		else
			cli_error("%s", e.msg[0] ? e.msg : sd_strerror(r));
		goto out;
	}
	if ((pkey = hw_key_pkey(k)) == NULL) {
		cli_error("%s: the private key is not in a file this machine "
		    "reads (a token's or a YubiKey-wrapped key): it cannot be "
		    "put on paper", path);
		goto out;
	}
	if (!EVP_PKEY_up_ref(pkey))
		goto out;
	*encrypted = (hw_key_flags(k) & HW_KEY_ENCRYPTED) != 0;
	*out = pkey;
	ret = 0;
 out:
	hw_key_free(k);
	cli_pass_clear(&pass);
	return ret;
}

/* The key as PKCS#8 DER, written straight into guarded memory. */
static int
key_der(EVP_PKEY *pkey, struct sd_secret **out)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	struct sd_secret *der = NULL;
	unsigned char *q;
	int n, ret = -1;

	*out = NULL;
	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0 ||
	    (size_t)n > ESCROW_MAX_KEY_DER ||
	    (der = sd_secret_new((size_t)n)) == NULL) {
		cli_error("encoding the key as PKCS#8 failed");
		goto out;
	}
	q = der->p;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &q) != n) {
		cli_error("encoding the key as PKCS#8 failed");
		goto out;
	}
	*out = der;
	der = NULL;
	ret = 0;
 out:
	sd_secret_free(der);
	PKCS8_PRIV_KEY_INFO_free(p8);   /* clears the key material */
	return ret;
}

/* The key back from PKCS#8 DER. */
static int
der_key(const struct sd_secret *der, EVP_PKEY **out)
{
	PKCS8_PRIV_KEY_INFO *p8;
	const unsigned char *q = der->p;

	*out = NULL;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)der->len)) != NULL)
		*out = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	if (*out == NULL) {
		cli_error("the key on the sheet cannot be decoded");
		return -1;
	}
	if (!EVP_PKEY_is_a(*out, "RSA")) {
		cli_error("the key on the sheet is not an RSA key");
		EVP_PKEY_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* SHA-256 of the certificate's DER, the raw x5t_256. */
static int
cert_x5t_raw(X509 *cert, uint8_t out[static ESCROW_HASH_LEN])
{
	unsigned char *der = NULL;
	unsigned int md_len = 0;
	int n, ok;

	if ((n = i2d_X509(cert, &der)) <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)n, out, &md_len, EVP_sha256(), NULL) == 1 &&
	    md_len == ESCROW_HASH_LEN;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

/* "CN=...,O=..." in UTF-8, cut at a character boundary to fit a sheet. */
/* One report object: the verb's fields after verb, ok, error, version. */
static void
print_escrow_report(json_t *fields)
{
	json_t *rep = report_new("escrow");

	if (rep != NULL) {
		json_object_update(rep, fields);
		report_set_ok(rep, 1);
		report_print(rep);
	}
	json_decref(rep);
	json_decref(fields);
}

static void
cert_subject(X509 *cert, char out[static ESCROW_MAX_SUBJECT + 1])
{
	BIO *bio;
	char *data;
	long n;
	size_t len;

	out[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0) {
		len = (size_t)n;
		if (len > ESCROW_MAX_SUBJECT) {
			len = ESCROW_MAX_SUBJECT;
			while (len > 0 && ((unsigned char)data[len] & 0xc0) ==
			    0x80)
				len--;
		}
		memcpy(out, data, len);
		out[len] = '\0';
	}
	BIO_free(bio);
	if (escrow_check_text("subject", out, ESCROW_MAX_SUBJECT, NULL) != 0)
		snprintf(out, ESCROW_MAX_SUBJECT + 1, "(not printable)");
}

/* keygen names keys cert_<I>.key: the index, or ESCROW_NO_INDEX. */
static int
index_from_name(const char *key)
{
	const char *base = strrchr(key, '/');
	char *end;
	long v;

	base = base != NULL ? base + 1 : key;
	if (strncmp(base, "cert_", 5) != 0 || base[5] < '0' || base[5] > '9')
		return ESCROW_NO_INDEX;
	errno = 0;
	v = strtol(base + 5, &end, 10);
	if (errno != 0 || v > ESCROW_MAX_INDEX || (*end != '\0' && *end != '.'))
		return ESCROW_NO_INDEX;
	return (int)v;
}

static const char *
base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL && b[1] != '\0' ? b + 1 : path;
}

static void
iso_time(uint64_t t, char out[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/*
 * The paper library's reason, if it gave one: a callback of ours that
 * stopped a scan has said why already.
 */
static void
paper_error(const struct sd_err *e)
{
	if (e->msg[0] != '\0')
		cli_error("%s", e->msg);
}

/* --- print ------------------------------------------------------------- */

enum { O_KEY = 1, O_CERT, O_OUT, O_OFFICER, O_HSM, O_INDEX, O_FORMAT,
	O_PAPER, O_PASS, O_NOPASS, O_PASSFILE, O_NEWPASSFILE, O_JSON, O_TEXT,
	O_QR, O_SCAN, O_LONG };

static const struct opt print_opts[] = {
	{ O_KEY, "key", 0, OPT_VALUE, "KEY", "the private key file to escrow" },
	{ O_CERT, "cert", 0, OPT_VALUE, "CERT",
	    "its certificate (default: beside the key, as .cer)" },
	{ O_OUT, "out", 0, OPT_VALUE, "SHEET",
	    "the sheet to write (must not exist)" },
	{ O_OFFICER, "officer", 0, OPT_VALUE, "NAME",
	    "the officer who holds the key, printed on the sheet" },
	{ O_HSM, "hsm", 0, OPT_VALUE, "NAME", "the HSM's name, likewise" },
	{ O_INDEX, "index", 0, OPT_VALUE, "I",
	    "the key's index (default: from a name cert_I.key)" },
	{ O_FORMAT, "format", 0, OPT_VALUE, "pdf|text",
	    "PDF with QR codes (default), or plain text" },
	{ O_PAPER, "paper", 0, OPT_VALUE, "a4|letter",
	    "paper size of the PDF (default a4)" },
	{ O_PASS, "passphrase", 0, OPT_FLAG, NULL,
	    "encrypt the sheet with a new passphrase (the default)" },
	{ O_NOPASS, "no-passphrase", 0, OPT_FLAG, NULL,
	    "do not encrypt the sheet: the key in the clear on paper" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "the key file's passphrase, from FILE's first line" },
	{ O_NEWPASSFILE, "new-password-file", 0, OPT_VALUE, "FILE",
	    "the sheet's new passphrase, from FILE's first line" },
	{ O_LONG, "long", 0, OPT_FLAG, NULL,
	    "the long sheet of format 1: the whole key, several pages" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

struct print_args {
	const char *key, *cert, *out, *officer, *hsm, *passfile, *newpassfile;
	long index;
	int have_index, text, letter, pass, no_pass, json, long_format;
};

static int
print_parse(int argc, char **argv, struct print_args *a)
{
	struct opt_parser p;
	struct sd_err e = { "" };
	const char *val;
	unsigned long cp = 0;
	int id;

	memset(a, 0, sizeof(*a));
	opt_init(&p, argc, argv, print_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_KEY: a->key = val; break;
		case O_CERT: a->cert = val; break;
		case O_OUT: a->out = val; break;
		case O_OFFICER: a->officer = val; break;
		case O_HSM: a->hsm = val; break;
		case O_INDEX:
			if (opt_int(&p, "--index", val, 0, SD_MAX_SHARES - 1,
			    &a->index) != 0)
				return cli_usage_error("%s", p.errbuf);
			a->have_index = 1;
			break;
		case O_FORMAT:
			if (strcmp(val, "pdf") == 0)
				a->text = 0;
			else if (strcmp(val, "text") == 0)
				a->text = 1;
			else
				return cli_usage_error("--format: '%s'; use pdf "
				    "or text", val);
			break;
		case O_PAPER:
			if (strcmp(val, "a4") == 0)
				a->letter = 0;
			else if (strcmp(val, "letter") == 0)
				a->letter = 1;
			else
				return cli_usage_error("--paper: '%s'; use a4 "
				    "or letter", val);
			break;
		case O_PASS: a->pass = 1; break;
		case O_NOPASS: a->no_pass = 1; break;
		case O_PASSFILE: a->passfile = val; break;
		case O_NEWPASSFILE: a->newpassfile = val; break;
		case O_LONG: a->long_format = 1; break;
		case O_JSON: a->json = 1; break;
		case OPT_HELP:
			cli_usage(stdout, PRINT_SYNOPSIS, print_opts);
			return -1;
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (a->key == NULL || a->out == NULL)
		return cli_usage_error("--key and --out are required");
	if (a->pass && a->no_pass)
		return cli_usage_error("--passphrase and --no-passphrase "
		    "contradict each other");
	if (a->no_pass && a->newpassfile != NULL)
		return cli_usage_error("--no-passphrase and --new-password-file "
		    "contradict each other");
	if (a->officer != NULL &&
	    escrow_check_text("--officer", a->officer, ESCROW_MAX_NAME, &e) != 0)
		return cli_usage_error("%s", e.msg);
	if (a->hsm != NULL &&
	    escrow_check_text("--hsm", a->hsm, ESCROW_MAX_NAME, &e) != 0)
		return cli_usage_error("%s", e.msg);
	/* a bidi control would make the name read as something else */
	if (a->officer != NULL &&
	    termtext_has_bidi(a->officer, strlen(a->officer), &cp))
		return cli_usage_error("--officer: holds the bidirectional "
		    "control U+%04lX, which would make the name read as "
		    "something else", cp);
	if (a->hsm != NULL && termtext_has_bidi(a->hsm, strlen(a->hsm), &cp))
		return cli_usage_error("--hsm: holds the bidirectional control "
		    "U+%04lX, which would make the name read as something "
		    "else", cp);
	/* a name the font cannot draw would be empty boxes on paper */
	if (a->officer != NULL && sheet_font_lacks(a->officer, &cp)) {
		sheet_cleanup();   /* fontconfig's state, for leak checkers */
		return cli_usage_error("--officer: the sheet's font has no "
		    "character U+%04lX, which would print as an empty box; "
		    "write the name in Latin letters", cp);
	}
	if (a->hsm != NULL && sheet_font_lacks(a->hsm, &cp)) {
		sheet_cleanup();
		return cli_usage_error("--hsm: the sheet's font has no "
		    "character U+%04lX, which would print as an empty box; "
		    "write the name in Latin letters", cp);
	}
	return 0;
}

/*
 * Before anything is written, the sheet's two encodings are read back in
 * memory and must give the payload again, and every QR code drawn must
 * read back with zbar.
 */
static int
print_selfcheck(const struct sd_secret *payload, const struct sd_secret *text,
    const struct escrow_parts *parts, int pdf)
{
	struct escrow_text_report rep;
	struct escrow_qr_set *set = NULL;
	struct sd_secret *a = NULL, *b = NULL;
	struct sd_err e = { "" };
	size_t i;
	int ret = -1;

	if (escrow_text_decode((const char *)text->p, text->len, &rep, &a,
	    &e) != 0 || a->len != payload->len ||
	    sodium_memcmp(a->p, payload->p, payload->len) != 0) {
		cli_error("the typed copy does not read back (%s); not writing "
		    "the sheet", e.msg);
		goto out;
	}
	if (escrow_qr_set_new(&set) != 0) {
		cli_error("out of memory");
		goto out;
	}
	for (i = 0; i < parts->n; i++)
		if (escrow_qr_add(set, parts->text[i], strlen(parts->text[i]),
		    &e) != 0)
			break;
	if (i != parts->n || escrow_qr_join(set, &b, &e) != 0 ||
	    b->len != payload->len ||
	    sodium_memcmp(b->p, payload->p, payload->len) != 0) {
		cli_error("the QR parts do not read back (%s); not writing the "
		    "sheet", e.msg);
		goto out;
	}
	if (pdf && sheet_qr_selfcheck(parts, 0, &e) != 0) {
		paper_error(&e);
		goto out;
	}
	ret = 0;
 out:
	escrow_qr_set_free(set);
	sd_secret_free(a);
	sd_secret_free(b);
	return ret;
}

static void
print_report(const struct print_args *a, const struct escrow_header *h,
    const char *cert_path, const char *x5t, int bits, size_t nparts,
    size_t nlines, int pages)
{
	char id[ESCROW_ID_CHARS + 1], when[32];
	json_t *o;

	escrow_b32_encode(h->sheet_id, ESCROW_ID_LEN, id);
	if (a->json) {
		iso_time(h->created, when);
		o = json_pack("{s:o, s:i, s:s, s:s?, s:i, s:s, s:o, s:o, s:s?, "
		    "s:o, s:s, s:s, s:s, s:i, s:b, s:o, s:i, s:i}",
		    "sheet", cli_json_text(a->out), "sheet_format",
		    h->format == 0 ? ESCROW_FORMAT_VERSION : h->format,
		    "format", a->text ? "text" : "pdf",
		    "paper", a->text ? NULL : a->letter ? "letter" : "a4",
		    "pages", pages, "sheet_id", id, "key", cli_json_text(a->key),
		    "cert", cli_json_text(cert_path), "x5t_256", x5t,
		    "key_index", h->key_index == ESCROW_NO_INDEX ? json_null() :
		    json_integer(h->key_index),
		    "officer", h->officer, "hsm", h->hsm, "created", when,
		    "bits", bits, "encrypted", h->encrypted,
		    "kdf", h->encrypted ? json_pack("{s:s, s:i, s:i}",
		    "algorithm", "argon2id", "opslimit", (int)h->opslimit,
		    "memlimit_kib", (int)h->memlimit_kib) : json_null(),
		    "qr_parts", (int)nparts, "text_lines", (int)nlines);
		if (o == NULL) {
			cli_error("out of memory");
			return;
		}
		print_escrow_report(o);
		return;
	}
	if (a->text)
		printf("escrow sheet written to %s (plain text, %zu typed "
		    "lines)\n", cli_text(a->out), nlines);
	else
		printf("escrow sheet written to %s (%d page%s, %s, %zu QR code%s "
		    "and %zu typed lines)\n", cli_text(a->out), pages, pages == 1 ? "" : "s",
		    a->letter ? "US Letter" : "A4", nparts, nparts == 1 ? "" : "s",
		    nlines);
	printf("  sheet id  %s\n", id);
	printf("  key       %s, RSA-%d", cli_text(a->key), bits);
	if (h->key_index != ESCROW_NO_INDEX)
		printf(", key index %d", h->key_index);
	printf("\n");
	if (x5t != NULL)
		printf("  x5t_256   %s  (%s)\n", x5t, cli_text(cert_path));
	if (h->encrypted)
		printf("  encrypted with the sheet's passphrase (Argon2id, %u MiB, "
		    "%u passes)\n", h->memlimit_kib / 1024, h->opslimit);
	else
		printf("  NOT encrypted: the key is in the clear on the sheet\n");
	printf("Print it, check the printout (sdtool escrow check --scan or "
	    "--text), then\ndelete %s: it is a copy of the key.\n", a->out);
}

/*
 * A compact sheet: the smaller prime, sealed, and the public code with
 * the certificate.  The key is rebuilt from them before anything is
 * printed, and must be the key given.  *parts: the secret code, then the
 * public one.  1 (nothing printed) when the certificate is too long for
 * the public code.
 */
static int
seal_compact(struct escrow_header *h, EVP_PKEY *pkey, X509 *cert,
    const char *pass, const struct escrow_kdf *kdf,
    struct sd_secret **payload, struct escrow_parts **parts)
{
	struct escrow_parts *pp = NULL;
	struct sd_secret *prime = NULL, *back = NULL, *der = NULL, *orig = NULL;
	struct sd_secret *qr = NULL;
	struct sd_err e = { "" };
	unsigned char *cder = NULL;
	char *pub = NULL;
	int n, r, ret = -1;

	*payload = NULL;
	*parts = NULL;
	if ((r = escrow_rsa_prime(pkey, &prime, &h->bits, &h->rsa_flags,
	    &e)) != 0) {
		cli_core_error(r, &e, "the key");
		goto out;
	}
	sd_random(NULL, h->sheet_id, sizeof(h->sheet_id));
	if ((n = i2d_X509(cert, &cder)) <= 0) {
		cli_error("the certificate cannot be encoded");
		goto out;
	}
	if ((r = escrow_public_encode(h, cder, (size_t)n, &pub, &e)) ==
	    SD_ERR_LIMIT) {
		ret = 1;
		goto out;
	}
	if (r != 0 ||
	    (r = escrow_seal_compact(h, prime->p, prime->len, pass, kdf, NULL,
	    payload, &e)) != 0 ||
	    (r = escrow_secret_qr((*payload)->p, (*payload)->len, &qr,
	    &e)) != 0) {
		cli_core_error(r, &e, "making the sheet");
		goto out;
	}
	/* the key must come back from what the sheet carries */
	if ((r = escrow_rsa_rebuild(prime->p, prime->len, h->rsa_flags,
	    X509_get0_pubkey(cert), &back, &e)) != 0) {
		cli_core_error(r, &e, "rebuilding the key from its prime");
		goto out;
	}
	if (key_der(pkey, &orig) != 0)
		goto out;
	if (orig->len != back->len ||
	    sodium_memcmp(orig->p, back->p, orig->len) != 0)
		cli_warn("the key's private exponent is not the one OpenSSL "
		    "computes; the restored key will be an equivalent key with "
		    "other bytes");
	if ((pp = calloc(1, sizeof(*pp))) == NULL ||
	    (pp->text[0] = sodium_malloc(qr->len + 1)) == NULL ||
	    (pp->n = 1, pp->text[1] = sodium_malloc(strlen(pub) + 1)) == NULL) {
		cli_error("out of locked memory");
		goto out;
	}
	pp->n = 2;
	memcpy(pp->text[0], qr->p, qr->len);
	pp->text[0][qr->len] = '\0';
	memcpy(pp->text[1], pub, strlen(pub) + 1);
	*parts = pp;
	pp = NULL;
	ret = 0;
 out:
	if (ret != 0) {
		sd_secret_free(*payload);
		*payload = NULL;
	}
	escrow_parts_free(pp);
	sd_secret_free(prime);
	sd_secret_free(back);
	sd_secret_free(der);
	sd_secret_free(orig);
	sd_secret_free(qr);
	OPENSSL_free(cder);
	free(pub);
	return ret;
}

/* The compact sheet's codes and typed copy read back. */
static int
compact_selfcheck(const struct sd_secret *payload, const struct sd_secret *text,
    const struct escrow_parts *parts, const struct escrow_header *h, int pdf)
{
	struct escrow_text_report rep;
	struct escrow_header ph;
	struct sd_secret *a = NULL, *b = NULL;
	struct sd_err e = { "" };
	uint8_t *cert = NULL;
	size_t clen = 0;
	int ret = -1;

	if (escrow_text_decode((const char *)text->p, text->len, &rep, &a,
	    &e) != 0 || a->len != payload->len ||
	    sodium_memcmp(a->p, payload->p, payload->len) != 0) {
		cli_error("the typed copy does not read back (%s); not writing "
		    "the sheet", e.msg);
		goto out;
	}
	if (escrow_secret_qr_decode(parts->text[0], strlen(parts->text[0]), &b,
	    &e) != 0 || b->len != payload->len ||
	    sodium_memcmp(b->p, payload->p, payload->len) != 0 ||
	    escrow_public_decode(parts->text[1], strlen(parts->text[1]), &ph,
	    &cert, &clen, &e) != 0 ||
	    memcmp(ph.x5t_256, h->x5t_256, ESCROW_HASH_LEN) != 0) {
		cli_error("the QR codes do not read back (%s); not writing the "
		    "sheet", e.msg);
		goto out;
	}
	if (pdf && sheet_qr_selfcheck(parts, 1, &e) != 0) {
		paper_error(&e);
		goto out;
	}
	ret = 0;
 out:
	free(cert);
	sd_secret_free(a);
	sd_secret_free(b);
	return ret;
}

static int
escrow_print(int argc, char **argv)
{
	struct print_args a;
	struct escrow_header h;
	struct escrow_kdf kdf;
	struct escrow_parts *parts = NULL;
	struct sd_secret *der = NULL, *payload = NULL, *text = NULL;
	struct sd_secret *sheet = NULL;
	struct sd_err e = { "" };
	struct sheet s;
	struct stat st;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	char *cert_path = NULL, *pass = NULL, x5t[SD_X5T_SIZE];
	int r, bits, key_encrypted = 0, pages = 0, compact, no_cert = 0;
	int ret = EXIT_FAIL;

	if ((r = print_parse(argc, argv, &a)) != 0) {
		sheet_cleanup();
		return r < 0 ? EXIT_OK : r;
	}
	if (cli_refuse_existing(a.out) != 0)
		goto out;

	/* the certificate first: a mismatch should not cost a passphrase */
	if (a.cert != NULL) {
		if ((cert_path = strdup(a.cert)) == NULL)
			goto oom;
	} else if ((cert_path = hw_cert_path_beside(a.key)) == NULL)
		goto oom;
	if (a.cert == NULL && stat(cert_path, &st) == -1 && errno == ENOENT) {
		no_cert = 1;   /* said once the key is known to be one */
	} else if ((r = pki_cert_load(cert_path, &cert, &e)) != 0) {
		cli_core_error(r, &e, "%s", cert_path);
		goto out;
	}
	if (load_key(a.key, a.passfile, no_cert ? NULL : cert_path, &pkey,
	    &key_encrypted) != 0)
		goto out;
	if (no_cert) {
		cli_warn("%s: no certificate beside the key (%s); the sheet "
		    "will not carry its x5t_256 thumbprint", a.key, cert_path);
		free(cert_path);
		cert_path = NULL;
	}
	bits = EVP_PKEY_get_bits(pkey);
	/*
	 * The compact sheet needs the certificate (for the public half) and
	 * fits RSA up to 4096 bits on one page; otherwise format 1.
	 */
	compact = cert != NULL && bits <= ESCROW_COMPACT_MAX_BITS &&
	    !a.long_format;
	if (!compact && !a.long_format)
		cli_warn("%s: %s; printing the long sheet (the whole key, "
		    "several pages)", a.key, cert == NULL ? "no certificate, "
		    "which a compact sheet needs" : "larger than RSA-4096");
	if (!compact && key_der(pkey, &der) != 0)
		goto out;

	memset(&h, 0, sizeof(h));
	h.created = (uint64_t)time(NULL);
	h.key_index = a.have_index ? (int)a.index : index_from_name(a.key);
	snprintf(h.hsm, sizeof(h.hsm), "%s", a.hsm ? a.hsm : "");
	snprintf(h.officer, sizeof(h.officer), "%s", a.officer ? a.officer :
	    "");
	snprintf(h.version, sizeof(h.version), "%s", SDTOOL_VERSION);
	x5t[0] = '\0';
	if (cert != NULL) {
		h.has_cert = 1;
		if (cert_x5t_raw(cert, h.x5t_256) != 0 ||
		    pki_cert_x5t256(cert, x5t) != 0) {
			cli_error("%s: cannot compute its thumbprint", cert_path);
			goto out;
		}
		cert_subject(cert, h.subject);
	}

	if (!a.no_pass) {
		if ((pass = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL)
			goto oom;
		sodium_memzero(pass, HW_MAX_PASSPHRASE);
		/* here the option is --new-password-file, not --password-file */
		if (a.newpassfile == NULL && !cli_have_tty()) {
			cli_error("the escrow sheet: no terminal to ask for its "
			    "new passphrase; use --new-password-file or "
			    "--no-passphrase");
			goto out;
		}
		if (cli_new_passphrase(a.newpassfile, "the escrow sheet", pass,
		    HW_MAX_PASSPHRASE) != 0)
			goto out;
	} else
		cli_warn("%s: the sheet will not be encrypted: whoever reads it "
		    "holds the key", a.out);

	escrow_kdf_default(&kdf);
	if (compact && (r = seal_compact(&h, pkey, cert, pass, &kdf, &payload,
	    &parts)) != 0) {
		if (r < 0)
			goto out;
		/* a certificate too long for the PUBLIC code */
		cli_warn("%s: its certificate is too long for a compact sheet's "
		    "PUBLIC code; printing the long sheet (the whole key, several "
		    "pages)", a.key);
		compact = 0;
		memset(h.sheet_id, 0, sizeof(h.sheet_id));
		h.bits = 0;
		h.rsa_flags = 0;
		h.format = 0;
		if (key_der(pkey, &der) != 0)
			goto out;
	}
	if (compact)
		;
	else if ((r = escrow_seal(&h, der->p, der->len, pass, &kdf, NULL,
	    &payload, &e)) != 0 ||
	    (r = escrow_qr_split(payload->p, payload->len, &parts, &e)) != 0) {
		cli_core_error(r, &e, "%s", a.key);
		goto out;
	}
	if ((r = escrow_text_encode(payload->p, payload->len, &text, &e)) != 0) {
		cli_core_error(r, &e, "encoding the sheet");
		goto out;
	}
	if (compact ? compact_selfcheck(payload, text, parts, &h, !a.text) != 0 :
	    print_selfcheck(payload, text, parts, !a.text) != 0)
		goto out;

	memset(&s, 0, sizeof(s));
	s.h = &h;
	s.parts = parts;
	s.text = (const char *)text->p;
	s.n_lines = escrow_text_lines_of(payload->p, payload->len);
	s.compact = compact;
	s.bits = bits;
	s.key_name = base_name(a.key);
	s.cert_name = cert_path != NULL ? base_name(cert_path) : NULL;
	if (a.text ? sheet_text(&s, &sheet, &e) != 0 :
	    sheet_pdf(&s, a.letter ? SHEET_LETTER : SHEET_A4, &sheet,
	    &pages, &e) != 0) {
		paper_error(&e);
		goto out;
	}
	/* it is a copy of the key, encrypted or not: 0600 like the key */
	if (cli_write_new_file(a.out, sheet->p, sheet->len, 0600) != 0)
		goto out;
	print_report(&a, &h, cert_path, x5t[0] ? x5t : NULL, bits, parts->n,
	    s.n_lines, pages);
	ret = EXIT_OK;
	goto out;
 oom:
	cli_error("out of memory");
 out:
	sodium_free(pass);
	sd_secret_free(sheet);
	sd_secret_free(text);
	escrow_parts_free(parts);
	sd_secret_free(payload);
	sd_secret_free(der);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	free(cert_path);
	sheet_cleanup();
	return ret;
}

/* --- restore and check ------------------------------------------------- */

static const struct opt restore_opts[] = {
	{ O_TEXT, "text", 0, OPT_VALUE, "FILE",
	    "the typed lines (a text sheet will do)" },
	{ O_QR, "qr", 0, OPT_LIST, "FILE",
	    "QR code texts, one a line (zbarimg's output will do)" },
	{ O_SCAN, "scan", 0, OPT_LIST, "IMAGE",
	    "scanned pages or photographs, PNG" },
	{ O_OUT, "out", 0, OPT_VALUE, "KEY", "the key file to write "
	    "(must not exist)" },
	{ O_CERT, "cert", 0, OPT_VALUE, "CERT",
	    "the key's certificate: the key must match it" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "the sheet's passphrase, from FILE's first line" },
	{ O_NEWPASSFILE, "new-password-file", 0, OPT_VALUE, "FILE",
	    "the key file's new passphrase, from FILE's first line" },
	{ O_NOPASS, "no-passphrase", 0, OPT_FLAG, NULL,
	    "write the key file unencrypted (drills only)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static const struct opt check_opts[] = {
	{ O_TEXT, "text", 0, OPT_VALUE, "FILE",
	    "the typed lines (a text sheet will do)" },
	{ O_QR, "qr", 0, OPT_LIST, "FILE",
	    "QR code texts, one a line (zbarimg's output will do)" },
	{ O_SCAN, "scan", 0, OPT_LIST, "IMAGE",
	    "scanned pages or photographs, PNG" },
	{ O_CERT, "cert", 0, OPT_VALUE, "CERT",
	    "the key's certificate: the key must match it" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "the sheet's passphrase, from FILE's first line" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

#define MAX_SOURCES 64

enum source { SRC_NONE, SRC_TEXT, SRC_QR, SRC_SCAN };

struct restore_args {
	enum source src;
	const char *files[MAX_SOURCES];
	size_t n_files;
	const char *out, *cert, *passfile, *newpassfile;
	int no_pass, json, check;
};

static const char *
source_name(enum source s)
{
	return s == SRC_TEXT ? "text" : s == SRC_QR ? "qr" : "scan";
}

static int
restore_parse(int argc, char **argv, int check, struct restore_args *a)
{
	struct opt_parser p;
	const char *val;
	enum source src;
	int id;

	memset(a, 0, sizeof(*a));
	a->check = check;
	opt_init(&p, argc, argv, check ? check_opts : restore_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_TEXT:
		case O_QR:
		case O_SCAN:
			src = id == O_TEXT ? SRC_TEXT : id == O_QR ? SRC_QR :
			    SRC_SCAN;
			if (a->src != SRC_NONE && a->src != src)
				return cli_usage_error("give one of --text, --qr "
				    "and --scan");
			if (src == SRC_TEXT && a->n_files == 1)
				return cli_usage_error("--text takes one file");
			if (a->n_files == MAX_SOURCES)
				return cli_usage_error("more than %d files",
				    MAX_SOURCES);
			a->src = src;
			a->files[a->n_files++] = val;
			break;
		case O_OUT: a->out = val; break;
		case O_CERT: a->cert = val; break;
		case O_PASSFILE: a->passfile = val; break;
		case O_NEWPASSFILE: a->newpassfile = val; break;
		case O_NOPASS: a->no_pass = 1; break;
		case O_JSON: a->json = 1; break;
		case OPT_HELP:
			cli_usage(stdout, check ? CHECK_SYNOPSIS :
			    RESTORE_SYNOPSIS, check ? check_opts : restore_opts);
			return -1;
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (a->src == SRC_NONE)
		return cli_usage_error("give the sheet: --text FILE, --qr FILE... "
		    "or --scan IMAGE...");
	if (!check && a->out == NULL)
		return cli_usage_error("--out is required");
	if (a->no_pass && a->newpassfile != NULL)
		return cli_usage_error("--no-passphrase and --new-password-file "
		    "contradict each other");
	return 0;
}

/* A compact sheet's public code: its description and certificate. */
struct pub_code {
	int have;
	struct escrow_header h;
	uint8_t *cert;
	size_t cert_len;
};

static void
pub_code_clear(struct pub_code *pc)
{
	free(pc->cert);
	memset(pc, 0, sizeof(*pc));
}

/* Does a code's text (zbarimg's prefix allowed) begin with TAG/? */
static int
has_tag(const char *text, size_t len, const char *tag)
{
	size_t tl = strlen(tag);

	if (len > 8 && memcmp(text, "QR-Code:", 8) == 0) {
		text += 8;
		len -= 8;
	}
	return len > tl && memcmp(text, tag, tl) == 0 && text[tl] == '/';
}

/* Reading QR codes from files and images into one set. */
struct qr_ctx {
	struct escrow_qr_set *set;
	const char *where;     /* the file or image */
	size_t line;           /* in a text file; 0 for an image */
	struct sd_secret *secret;   /* a compact sheet's secret code */
	struct pub_code pub;        /* and its public code */
	int only_public;            /* --cert: take the public code only */
};

static int
qr_add_fn(void *arg, const char *text, size_t len)
{
	struct qr_ctx *q = arg;
	struct sd_err e = { "" };
	struct pub_code pc;
	int r;

	if (has_tag(text, len, ESCROW_PUBLIC_TAG)) {
		memset(&pc, 0, sizeof(pc));
		if ((r = escrow_public_decode(text, len, &pc.h, &pc.cert,
		    &pc.cert_len, &e)) == 0 && q->pub.have &&
		    (pc.cert_len != q->pub.cert_len ||
		    memcmp(pc.cert, q->pub.cert, pc.cert_len) != 0 ||
		    memcmp(pc.h.sheet_id, q->pub.h.sheet_id, ESCROW_ID_LEN) != 0))
			r = sd_err_set(&e, SD_ERR_FORMAT, "the public QR code of "
			    "another sheet");
		if (r == 0 && !q->pub.have) {
			pc.have = 1;
			q->pub = pc;
			return 0;
		}
		free(pc.cert);
		if (r == 0)
			return 0;   /* the same public code again: harmless */
	} else if (q->only_public)
		return 0;
	else if (has_tag(text, len, ESCROW_SECRET_TAG)) {
		if (q->secret != NULL)
			r = sd_err_set(&e, SD_ERR_FORMAT, "the secret QR code is "
			    "given twice");
		else if ((r = escrow_secret_qr_decode(text, len, &q->secret,
		    &e)) == 0)
			return 0;
	} else if ((r = escrow_qr_add(q->set, text, len, &e)) == 0)
		return 0;
	if (q->line > 0)
		cli_core_error(r, &e, "%s: line %zu", q->where, q->line);
	else
		cli_core_error(r, &e, "%s", q->where);
	return -1;
}

static int
gather_text(const char *path, struct sd_secret **payload)
{
	struct escrow_text_report rep;
	struct sd_secret *file = NULL;
	struct sd_err e = { "" };
	size_t i;
	int r, ret = -1;

	if (read_secret_file(path, &file) != 0)
		return -1;
	/* a file that is not text at all is one mistake, not one per line */
	for (i = 0; i < file->len; i++)
		if (file->p[i] == '\0' || (file->p[i] < 0x20 &&
		    file->p[i] != '\n' && file->p[i] != '\r' &&
		    file->p[i] != '\t')) {
			cli_error("%s: not the typed lines of a sheet (it holds "
			    "binary data, byte %zu)", cli_text(path), i + 1);
			sd_secret_free(file);
			return -1;
		}
	if ((r = escrow_text_decode((const char *)file->p, file->len, &rep,
	    payload, &e)) != 0) {
		/*
		 * every wrong line at once: the officer fixes them together;
		 * one wrong line is one line, without the tally
		 */
		for (i = 0; i < rep.n; i++)
			cli_error("%s: %s", path, rep.msg[i]);
		if (rep.more)
			cli_error("%s: and %zu more", path, rep.more);
		if (rep.n != 1 || rep.more)
			cli_core_error(r, &e, "%s", path);
		goto out;
	}
	ret = 0;
 out:
	sd_secret_free(file);
	return ret;
}

static int
gather_qr(const struct restore_args *a, struct sd_secret **payload,
    struct pub_code *pub)
{
	struct escrow_qr_set *set = NULL;
	struct sd_secret *file = NULL;
	struct sd_err e = { "" };
	struct qr_ctx q;
	const char *p, *end, *nl;
	size_t i, have, of;
	int n, r, ret = -1;

	memset(&q, 0, sizeof(q));
	if (escrow_qr_set_new(&set) != 0) {
		cli_error("out of memory");
		return -1;
	}
	q.set = set;
	for (i = 0; i < a->n_files; i++) {
		q.where = a->files[i];
		q.line = 0;
		if (a->src == SRC_SCAN) {
			if ((n = sheet_scan_png(a->files[i], qr_add_fn, &q,
			    &e)) < 0) {
				paper_error(&e);
				goto out;
			}
			if (n == 0)
				cli_warn("%s: no QR code found", a->files[i]);
			continue;
		}
		if (read_secret_file(a->files[i], &file) != 0)
			goto out;
		p = (const char *)file->p;
		end = p + file->len;
		for (; p < end; p = nl + 1) {
			q.line++;
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			/* blank lines, and the rest of zbarimg's chatter */
			if (strspn(p, " \t\r") >= (size_t)(nl - p))
				continue;
			if (qr_add_fn(&q, p, (size_t)(nl - p)) != 0)
				goto out;
		}
		sd_secret_free(file);
		file = NULL;
	}
	escrow_qr_count(set, &have, &of);
	if (q.secret != NULL && have > 0) {
		cli_error("the codes given are of two sheets: a compact sheet's "
		    "and %zu of a long sheet's", have);
		goto out;
	}
	if (q.secret != NULL) {
		*payload = q.secret;
		q.secret = NULL;
		*pub = q.pub;
		memset(&q.pub, 0, sizeof(q.pub));
		ret = 0;
		goto out;
	}
	if (q.pub.have && have == 0) {
		cli_error("%s: only the PUBLIC QR code of a compact sheet; the "
		    "secret code (marked SECRET) is missing", a->src == SRC_SCAN ?
		    "the images given" : "the QR texts given");
		goto out;
	}
	if ((r = escrow_qr_join(set, payload, &e)) != 0) {
		escrow_qr_count(set, &have, &of);
		cli_core_error(r, &e, "%s", have == 0 ? "no sheet" :
		    a->src == SRC_SCAN ? "the images given" : "the QR texts given");
		goto out;
	}
	ret = 0;
 out:
	sd_secret_free(q.secret);
	pub_code_clear(&q.pub);
	sd_secret_free(file);
	escrow_qr_set_free(set);
	return ret;
}

/*
 * --cert: a certificate file (PEM or DER), or a compact sheet's PUBLIC QR
 * code, as text (zbarimg's output) or in a scanned PNG image.
 */
static int
load_cert_arg(const char *path, X509 **cert, struct pub_code *pub)
{
	static const uint8_t png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
		'\n' };
	struct qr_ctx q;
	struct sd_err e = { "" };
	uint8_t head[8];
	const unsigned char *d;
	const char *found;
	FILE *f;
	size_t n = 0;
	char *buf = NULL;
	int r, ret = -1;

	*cert = NULL;
	memset(&q, 0, sizeof(q));
	q.only_public = 1;
	q.where = path;
	if ((f = fopen(path, "rb")) == NULL) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(ESC_MAX_INPUT + 1)) == NULL) {
		fclose(f);
		cli_error("out of memory");
		return -1;
	}
	n = fread(buf, 1, ESC_MAX_INPUT, f);
	fclose(f);
	buf[n] = '\0';
	memcpy(head, buf, n < sizeof(head) ? n : sizeof(head));
	if (n >= sizeof(head) && memcmp(head, png, sizeof(png)) == 0) {
		if (sheet_scan_png(path, qr_add_fn, &q, &e) < 0) {
			paper_error(&e);
			goto out;
		}
		if (!q.pub.have) {
			cli_error("%s: no PUBLIC QR code of an escrow sheet found",
			    path);
			goto out;
		}
	} else if ((found = strstr(buf, ESCROW_PUBLIC_TAG "/")) != NULL) {
		const char *nl = strchr(found, '\n');

		if (qr_add_fn(&q, found, nl != NULL ? (size_t)(nl - found) :
		    strlen(found)) != 0)
			goto out;
	} else {
		if ((r = pki_cert_load(path, cert, &e)) != 0) {
			cli_core_error(r, &e, "%s", path);
			goto out;
		}
		ret = 0;
		goto out;
	}
	d = q.pub.cert;
	if ((*cert = d2i_X509(NULL, &d, (long)q.pub.cert_len)) == NULL ||
	    d != q.pub.cert + q.pub.cert_len) {
		X509_free(*cert);
		*cert = NULL;
		cli_error("%s: the PUBLIC QR code's certificate cannot be "
		    "decoded", path);
		goto out;
	}
	*pub = q.pub;
	memset(&q.pub, 0, sizeof(q.pub));
	ret = 0;
 out:
	ERR_clear_error();
	pub_code_clear(&q.pub);
	free(buf);
	return ret;
}

static void
restore_report(const struct restore_args *a, const struct escrow_header *h,
    int bits, const char *cert, int key_encrypted)
{
	char id[ESCROW_ID_CHARS + 1], when[32], x5t[44];
	/* a compact sheet typed back: its description is on the paper only */
	int known = !sodium_is_zero(h->sheet_id, ESCROW_ID_LEN);
	json_t *o;

	if (known)
		escrow_b32_encode(h->sheet_id, ESCROW_ID_LEN, id);
	else
		snprintf(id, sizeof(id), "(compact, typed)");
	if (h->has_cert)
		sheet_b64url(h->x5t_256, x5t);
	if (a->json) {
		iso_time(h->created, when);
		o = json_pack("{s:o, s:b, s:s, s:i, s:s?, s:s?, s:s, s:s, s:o, "
		    "s:s, s:s?, s:i, s:b, s:b, s:o, s:b, s:s}",
		    "key", cli_json_text(a->check ? NULL : a->out),
		    "written", !a->check,
		    "source", source_name(a->src), "sheet_format",
		    h->format == 0 ? ESCROW_FORMAT_VERSION : h->format,
		    "sheet_id", known ? id : NULL,
		    "created", known ? when : NULL, "officer", h->officer,
		    "hsm", h->hsm,
		    "key_index", h->key_index == ESCROW_NO_INDEX ? json_null() :
		    json_integer(h->key_index),
		    "subject", h->subject,
		    "x5t_256", h->has_cert ? x5t : NULL,
		    "bits", bits, "sheet_encrypted", h->encrypted,
		    "key_encrypted", !a->check && key_encrypted,
		    "cert", cli_json_text(cert), "cert_checked", cert != NULL,
		    "sheet_sdtool_version", h->version);
		if (o == NULL) {
			cli_error("out of memory");
			return;
		}
		print_escrow_report(o);
		return;
	}
	if (a->check)
		printf("escrow sheet %s reads back: its RSA-%d key matches the "
		    "public key it records\n", id, bits);
	else
		printf("key restored to %s from escrow sheet %s (%s)\n",
		    cli_text(a->out),
		    id, a->src == SRC_TEXT ? "typed lines" : a->src == SRC_QR ?
		    "QR code texts" : "scanned QR codes");
	printf("  key       RSA-%d", bits);
	if (h->key_index != ESCROW_NO_INDEX)
		printf(", key index %d", h->key_index);
	if (h->officer[0])
		printf(", officer %s", cli_text(h->officer));
	if (h->hsm[0])
		printf(", HSM %s", cli_text(h->hsm));
	printf("\n");
	if (h->has_cert)
		printf("  x5t_256   %s  (%s)\n", x5t, cert != NULL ?
		    "matches the certificate" : "from the sheet: compare it with "
		    "the one on record");
	else if (cert != NULL)
		printf("  matches the certificate %s\n", cli_text(cert));
	sheet_time(h->created, when);
	if (known)
		printf("  printed   %s by sdtool %s\n", when,
		    cli_text(h->version));
	if (!a->check && !key_encrypted)
		printf("The key file is NOT encrypted.\n");
}

static int
escrow_restore(int argc, char **argv, int check)
{
	struct restore_args a;
	struct escrow_header h;
	struct cli_pass pass = { NULL, 0, NULL, 0, 0, 0 };
	struct sd_secret *payload = NULL, *der = NULL, *prime = NULL;
	struct sd_err e = { "" };
	struct pub_code pub, cpub;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	const unsigned char *cd;
	uint8_t x5t_raw[ESCROW_HASH_LEN];
	const char *cert_name;
	char id[ESCROW_ID_CHARS + 1], ref[64], when[32];
	char *sheet_pass = NULL, *new_pass = NULL, *pem = NULL;
	char have[44], want[44];
	size_t pem_len = 0;
	int r, ret = EXIT_FAIL;

	memset(&pub, 0, sizeof(pub));
	memset(&cpub, 0, sizeof(cpub));
	if ((r = restore_parse(argc, argv, check, &a)) != 0)
		return r < 0 ? EXIT_OK : r;
	if (!check && cli_refuse_existing(a.out) != 0)
		return EXIT_FAIL;
	if (a.cert != NULL && load_cert_arg(a.cert, &cert, &cpub) != 0)
		goto out;
	cert_name = a.cert;

	if (a.src == SRC_TEXT ? gather_text(a.files[0], &payload) != 0 :
	    gather_qr(&a, &payload, &pub) != 0)
		goto out;
	if ((r = escrow_peek(payload->p, payload->len, &h, &e)) != 0) {
		cli_core_error(r, &e, "the sheet");
		goto out;
	}
	if (h.format == ESCROW_COMPACT_VERSION) {
		/* the public half: the sheet's public code, or --cert's */
		if (!pub.have && cpub.have) {
			/*
			 * --cert's PUBLIC code gives the certificate only: it
			 * may be of another printing of the same key
			 */
			pub = cpub;
			memset(&cpub, 0, sizeof(cpub));
			memset(pub.h.sheet_id, 0, sizeof(pub.h.sheet_id));
		}
		if (pub.have && cert == NULL) {
			cd = pub.cert;
			if ((cert = d2i_X509(NULL, &cd, (long)pub.cert_len)) ==
			    NULL || cd != pub.cert + pub.cert_len) {
				ERR_clear_error();
				cli_error("the sheet's PUBLIC QR code: its "
				    "certificate cannot be decoded");
				goto out;
			}
			cert_name = "the sheet's PUBLIC QR code";
		} else if (pub.have && (cert_x5t_raw(cert, x5t_raw) != 0 ||
		    memcmp(x5t_raw, pub.h.x5t_256, sizeof(x5t_raw)) != 0)) {
			cli_error("%s: not the certificate in the sheet's PUBLIC "
			    "QR code", a.cert);
			goto out;
		}
		if (cert == NULL) {
			cli_error("a compact sheet holds only the secret half of "
			    "the key: give --cert with the key's certificate, or "
			    "the sheet's PUBLIC QR code (a scan, or its text)");
			goto out;
		}
		if (pub.have && !sodium_is_zero(pub.h.sheet_id,
		    ESCROW_ID_LEN)) {
			memcpy(h.sheet_id, pub.h.sheet_id, ESCROW_ID_LEN);
			h.created = pub.h.created;
			h.key_index = pub.h.key_index;
			memcpy(h.hsm, pub.h.hsm, sizeof(h.hsm));
			memcpy(h.officer, pub.h.officer, sizeof(h.officer));
			memcpy(h.version, pub.h.version, sizeof(h.version));
		}
		cert_subject(cert, h.subject);
	}
	escrow_b32_encode(h.sheet_id, ESCROW_ID_LEN, id);
	if (h.format == ESCROW_COMPACT_VERSION &&
	    sodium_is_zero(h.sheet_id, ESCROW_ID_LEN))
		snprintf(id, sizeof(id), "(typed, RSA-%d)", h.bits);
	sheet_time(h.created, when);
	/* what the sheet is, before its passphrase is asked (only then) */
	if (!a.json && h.encrypted && a.passfile == NULL) {
		if (h.format == ESCROW_COMPACT_VERSION &&
		    sodium_is_zero(h.sheet_id, ESCROW_ID_LEN)) {
			fprintf(stderr, "compact escrow sheet, typed: RSA-%d, "
			    "certificate %s\n", h.bits, cli_text(h.subject));
		} else {
			fprintf(stderr, "escrow sheet %s: officer %s", id,
			    h.officer[0] ? cli_text(h.officer) : "-");
			if (h.key_index != ESCROW_NO_INDEX)
				fprintf(stderr, ", key index %d", h.key_index);
			fprintf(stderr, "%s%s, printed %s\n", h.hsm[0] ?
			    ", HSM " : "", cli_text(h.hsm), when);
		}
	}

	/* another key's certificate is refused before any passphrase */
	if (cert != NULL && h.has_cert) {
		if (cert_x5t_raw(cert, x5t_raw) != 0) {
			cli_error("%s: cannot compute its thumbprint", cert_name);
			goto out;
		}
		if (memcmp(x5t_raw, h.x5t_256, sizeof(x5t_raw)) != 0) {
			sheet_b64url(x5t_raw, have);
			sheet_b64url(h.x5t_256, want);
			cli_error("%s: not the certificate on the sheet, which is "
			    "of another key (x5t_256 %s; the sheet's is %s)",
			    cert_name, have, want);
			goto out;
		}
	}

	if (h.encrypted) {
		if ((sheet_pass = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
			cli_error("out of locked memory");
			goto out;
		}
		sodium_memzero(sheet_pass, HW_MAX_PASSPHRASE);
		pass.file = a.passfile;
		snprintf(ref, sizeof(ref), "escrow sheet %s", id);
		if (cli_passphrase(&pass, ref, sheet_pass, HW_MAX_PASSPHRASE)
		    != 0) {
			if (a.passfile == NULL)
				cli_error("%s: no terminal to ask its passphrase; "
				    "use --password-file", ref);
			goto out;
		}
	}
	if (h.format == ESCROW_COMPACT_VERSION) {
		struct escrow_header sh;

		if ((r = escrow_open_compact(payload->p, payload->len,
		    sheet_pass, &sh, &prime, &e)) != 0) {
			cli_core_error(r, &e, "escrow sheet %s", id);
			goto out;
		}
		if ((r = escrow_rsa_rebuild(prime->p, prime->len, sh.rsa_flags,
		    X509_get0_pubkey(cert), &der, &e)) != 0) {
			cli_core_error(r, &e, "escrow sheet %s", id);
			goto out;
		}
	} else if ((r = escrow_open(payload->p, payload->len, sheet_pass, &h,
	    &der, &e)) != 0) {
		cli_core_error(r, &e, "escrow sheet %s", id);
		goto out;
	}
	sodium_free(sheet_pass);
	sheet_pass = NULL;
	if (der_key(der, &pkey) != 0)
		goto out;
	if (cert != NULL && EVP_PKEY_eq(X509_get0_pubkey(cert), pkey) != 1) {
		cli_error("restored key does not match the certificate %s",
		    cert_name);
		goto out;
	}

	if (!check) {
		if (!a.no_pass) {
			if ((new_pass = sodium_malloc(HW_MAX_PASSPHRASE)) ==
			    NULL) {
				cli_error("out of locked memory");
				goto out;
			}
			sodium_memzero(new_pass, HW_MAX_PASSPHRASE);
			if (a.newpassfile == NULL && !cli_have_tty()) {
				cli_error("%s: no terminal to ask for its new "
				    "passphrase; use --new-password-file or "
				    "--no-passphrase", a.out);
				goto out;
			}
			if (cli_new_passphrase(a.newpassfile, a.out, new_pass,
			    HW_MAX_PASSPHRASE) != 0)
				goto out;
		} else
			cli_warn("%s: written without a passphrase", a.out);
		if ((r = certgen_key_pem(pkey, new_pass, &pem, &pem_len,
		    &e)) != 0) {
			cli_core_error(r, &e, "%s", a.out);
			goto out;
		}
		if (cli_write_new_file(a.out, pem, pem_len, 0600) != 0)
			goto out;
	}
	restore_report(&a, &h, EVP_PKEY_get_bits(pkey), cert != NULL ?
	    cert_name : NULL, !a.no_pass);
	ret = EXIT_OK;
 out:
	pub_code_clear(&pub);
	pub_code_clear(&cpub);
	sd_secret_free(prime);
	sodium_free(sheet_pass);
	sodium_free(new_pass);
	sodium_free(pem);
	cli_pass_clear(&pass);
	sd_secret_free(der);
	sd_secret_free(payload);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sheet_cleanup();
	return ret;
}

static int
escrow_restore_cmd(int argc, char **argv)
{
	return escrow_restore(argc, argv, 0);
}

static int
escrow_check_cmd(int argc, char **argv)
{
	return escrow_restore(argc, argv, 1);
}

static const struct cli_verb escrow_verbs[] = {
	{ "print", escrow_print, "print a key on a paper escrow sheet" },
	{ "restore", escrow_restore_cmd, "the key back from a sheet" },
	{ "check", escrow_check_cmd, "check that a sheet gives its key back, "
	    "writing nothing" },
	{ NULL, NULL, NULL }
};

int
cmd_escrow(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, escrow_verbs, argc, argv);
}
