/*
 * sdtool keygen: make the officers' wrapping key pairs, cert_<i>.key (the
 * private key, PKCS#8 PEM, passphrase-protected) and cert_<i>.cer (a
 * self-signed certificate, PEM) as the activation of a Managed HSM takes
 * them.  In a real ceremony each officer runs `keygen --index I` on their
 * own machine so no private key is ever in two places.
 *
 * Everything that can be refused is refused before the first prime is
 * searched (a 4096-bit key can take a while): arguments, existing files,
 * the directory, the subject, the passphrases.  All keys are made in memory
 * before the first file is written, and a failure while writing removes
 * what this run wrote, so a run leaves either every pair or nothing.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "report.h"
#include "verbs.h"
#include "../hw/key.h"

#define SYNOPSIS "[-n N] [-b BITS] [-d DIR] [--index I] [--subject DN] " \
	"[--days D] [--no-passphrase] [--password-file FILE] [--json]"

#define KEYGEN_MIN_N      3     /* the service's minimum of wrapping keys */
#define KEYGEN_MAX_N      SD_MAX_SHARES
#define KEYGEN_DEF_N      3
/*
 * RSA-3072 by default: these keys guard the HSM's root secret for as long
 * as the security domain lives, often a decade, beyond the year (2030)
 * to which NIST SP 800-57 gives RSA-2048 its 112-bit strength.
 */
#define KEYGEN_DEF_BITS   3072
/*
 * Three years: the service never checks the certificates' dates after
 * activation (recovery works with expired ones), so validity only marks
 * when the keys are due for rotation.
 */
#define KEYGEN_DEF_DAYS   1095
#define KEYGEN_MAX_DAYS   36500
#define KEYGEN_DEF_SUBJECT "CN=Managed HSM security domain wrapping key %d"

enum { O_N = 1, O_BITS, O_DIR, O_INDEX, O_SUBJECT, O_DAYS, O_NOPASS,
	O_PASSFILE, O_JSON };

static const struct opt opts[] = {
	{ O_N, "count", 'n', OPT_VALUE, "N",
	    "number of key pairs, 3 to 10 (default 3)" },
	{ O_BITS, "bits", 'b', OPT_VALUE, "BITS",
	    "RSA key size: 2048, 3072 or 4096 (default 3072)" },
	{ O_DIR, "dir", 'd', OPT_VALUE, "DIR",
	    "directory to write into (default .)" },
	{ O_INDEX, "index", 0, OPT_VALUE, "I",
	    "make only pair I (0..9): one officer, one machine" },
	{ O_SUBJECT, "subject", 0, OPT_VALUE, "DN",
	    "certificate subject, CN=...,O=... or /CN=.../O=..." },
	{ O_DAYS, "days", 0, OPT_VALUE, "D",
	    "certificate validity in days (default 1095)" },
	{ O_NOPASS, "no-passphrase", 0, OPT_FLAG, NULL,
	    "write the private keys unencrypted (drills only)" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "take the passphrase from FILE's first line, for every key" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

struct pair {
	int index;                      /* the <i> of cert_<i> */
	char key_path[PATH_MAX];
	char cert_path[PATH_MAX];
	char *pass;                     /* guarded; NULL: unencrypted */
	char *key_pem;                  /* guarded (sodium_free) */
	size_t key_len;
	char *cert_pem;
	size_t cert_len;
	X509 *cert;
	char x5t[SD_X5T_SIZE];
	char fingerprint[96];       /* AB:CD:... as openssl prints it */
	char not_after[32];
	int key_written, cert_written;
};

struct keygen_args {
	long n, bits, index, days;
	int have_n, have_index, no_pass, json;
	const char *dir, *subject, *passfile;
};

static void
pair_clear(struct pair *p)
{
	sodium_free(p->key_pem);
	free(p->cert_pem);
	X509_free(p->cert);
	p->key_pem = p->cert_pem = NULL;
	p->cert = NULL;
}

static int
parse_args(int argc, char **argv, struct keygen_args *a)
{
	struct opt_parser p;
	const char *val;
	int id;

	memset(a, 0, sizeof(*a));
	a->n = KEYGEN_DEF_N;
	a->bits = KEYGEN_DEF_BITS;
	a->days = KEYGEN_DEF_DAYS;
	a->dir = ".";
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_N:
			if (opt_int(&p, "-n", val, KEYGEN_MIN_N, KEYGEN_MAX_N,
			    &a->n) != 0)
				return cli_usage_error("%s (a security domain "
				    "needs 3 to 10 wrapping keys)", p.errbuf);
			a->have_n = 1;
			break;
		case O_BITS:
			if (opt_int(&p, "-b", val, 0, 1L << 20, &a->bits) != 0)
				return cli_usage_error("%s", p.errbuf);
			if (a->bits != 2048 && a->bits != 3072 &&
			    a->bits != 4096)
				return cli_usage_error("-b: %ld bits is not "
				    "offered; use 2048, 3072 or 4096", a->bits);
			break;
		case O_DIR:
			a->dir = val;
			break;
		case O_INDEX:
			if (opt_int(&p, "--index", val, 0, KEYGEN_MAX_N - 1,
			    &a->index) != 0)
				return cli_usage_error("%s", p.errbuf);
			a->have_index = 1;
			break;
		case O_SUBJECT:
			a->subject = val;
			break;
		case O_DAYS:
			if (opt_int(&p, "--days", val, 1, KEYGEN_MAX_DAYS,
			    &a->days) != 0)
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_NOPASS:
			a->no_pass = 1;
			break;
		case O_PASSFILE:
			a->passfile = val;
			break;
		case O_JSON:
			a->json = 1;
			break;
		case OPT_HELP:
			cli_usage(stdout, SYNOPSIS, opts);
			return -1;   /* done, successfully */
		case OPT_ERROR:
			return cli_usage_error("%s", p.errbuf);
		default:
			return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (a->have_index && a->have_n && a->index >= a->n)
		return cli_usage_error("--index %ld: out of range for -n %ld "
		    "(pairs are numbered 0 to %ld)", a->index, a->n, a->n - 1);
	if (a->no_pass && a->passfile != NULL)
		return cli_usage_error("--no-passphrase and --password-file "
		    "contradict each other");
	if (*a->dir == '\0')
		return cli_usage_error("-d: empty directory name");
	return 0;
}

/*
 * The directory must take new files, checked before the wait.  A missing
 * one is made later (mode 0700: it will hold private keys), but only its
 * last component: a parent that does not exist is more likely a typo in
 * a mount point than a wish.
 */
static int
check_dir(const char *dir, int *create)
{
	struct stat st;
	char *copy, *parent;
	int ret = -1;

	*create = 0;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			cli_error("%s: not a directory", dir);
			return -1;
		}
		if (access(dir, W_OK | X_OK) == -1) {
			cli_error("%s: cannot write here: %s", dir,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		cli_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((copy = strdup(dir)) == NULL) {
		cli_error("out of memory");
		return -1;
	}
	parent = dirname(copy);
	if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode)) {
		cli_error("%s: no such directory, nor its parent %s", dir,
		    parent);
		goto out;
	}
	if (access(parent, W_OK | X_OK) == -1) {
		cli_error("%s: cannot create it in %s: %s", dir, parent,
		    strerror(errno));
		goto out;
	}
	*create = 1;
	ret = 0;
 out:
	free(copy);
	return ret;
}

/*
 * Try the subject and validity on a throwaway EC key: certgen parses the
 * DN only when it makes a certificate, and a typo should be found before
 * minutes of prime search, not after.  Returns 0 or EXIT_USAGE.
 */
static int
check_subject(const char *dn, long days)
{
	EVP_PKEY *k;
	X509 *x = NULL;
	struct sd_err e = { "" };
	int r;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		cli_error("cannot check the subject: key generation failed");
		return EXIT_FAIL;
	}
	if (certgen_selfsigned(k, dn, (int)days, &x, &e) == 0)
		r = 0;
	else
		r = cli_usage_error("%s", e.msg);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

/* The certificate's thumbprints, as the service and as openssl show them. */
static int
describe_cert(struct pair *p)
{
	if (pki_cert_x5t256(p->cert, p->x5t) != 0 ||
	    pki_cert_sha256_colon(p->cert, p->fingerprint) != 0) {
		cli_error("%s: cannot compute its thumbprint", p->cert_path);
		return -1;
	}
	certgen_not_after(p->cert, p->not_after);
	return 0;
}

/* Generate pair p's key and certificate, in memory. */
static int
make_pair(struct pair *p, const struct keygen_args *a, int nth, int total)
{
	struct sd_err e = { "" };
	EVP_PKEY *key = NULL;
	char dn[256];
	int tty = cli_stderr_is_tty(), ret = -1;

	/* the subject as checked, never a truncated copy of it */
	snprintf(dn, sizeof(dn), KEYGEN_DEF_SUBJECT, p->index);
	fprintf(stderr, "generating RSA-%ld key %d of %d (cert_%d)...%s",
	    a->bits, nth, total, p->index, tty ? " " : "\n");
	if (certgen_rsa((int)a->bits, tty ? cli_progress_tick : NULL, NULL,
	    &key, &e) != 0 ||
	    certgen_selfsigned(key, a->subject != NULL ? a->subject : dn,
	    (int)a->days, &p->cert, &e) != 0 ||
	    certgen_key_pem(key, p->pass, &p->key_pem, &p->key_len, &e) != 0 ||
	    certgen_cert_pem(p->cert, &p->cert_pem, &p->cert_len, &e) != 0) {
		if (tty)
			fputc('\n', stderr);
		cli_error("%s", e.msg);
		goto out;
	}
	if (tty)
		fputc('\n', stderr);
	if (describe_cert(p) != 0)
		goto out;
	ret = 0;
 out:
	EVP_PKEY_free(key);   /* clears the private components */
	return ret;
}

static int
write_pair(struct pair *p)
{
	if (cli_write_new_file(p->key_path, p->key_pem, p->key_len, 0600) != 0)
		return -1;
	p->key_written = 1;
	if (cli_write_new_file(p->cert_path, p->cert_pem, p->cert_len, 0644)
	    != 0)
		return -1;
	p->cert_written = 1;
	return 0;
}

/* Undo a partial run: only files this run created (O_EXCL) are removed. */
static void
remove_written(struct pair *pairs, int n)
{
	int i, removed = 0;

	for (i = 0; i < n; i++) {
		if (pairs[i].key_written && unlink(pairs[i].key_path) == 0)
			removed++;
		if (pairs[i].cert_written && unlink(pairs[i].cert_path) == 0)
			removed++;
	}
	if (removed)
		cli_error("removed the %d file%s this run had written", removed,
		    removed == 1 ? "" : "s");
}

static void
report_text(const struct pair *pairs, int n, const struct keygen_args *a)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct pair *p = &pairs[i];

		printf("%s  private key, %s\n", p->key_path, p->pass != NULL ?
		    "passphrase-protected: keep it offline" :
		    "NOT protected by a passphrase");
		printf("%s  x5t_256 %s  (write this down)\n", p->cert_path,
		    p->x5t);
		printf("%*s  sha256 %s\n", (int)strlen(p->cert_path), "",
		    p->fingerprint);
		{
			/* the same digest, to read aloud at the ceremony */
			char ind[600];

			snprintf(ind, sizeof(ind), "%*s  ",
			    (int)strlen(p->cert_path), "");
			report_print_x5t_readaloud(p->x5t, ind);
		}
		printf("%*s  RSA-%ld, valid until %s\n",
		    (int)strlen(p->cert_path), "", a->bits, p->not_after);
	}
}

/* Built before any file is written: a report that cannot be made fails
 * the run while it can still leave nothing behind. */
static json_t *
report_json(const struct pair *pairs, int n, const struct keygen_args *a)
{
	json_t *arr, *o;
	int i;

	if ((arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		const struct pair *p = &pairs[i];

		if ((o = json_object()) == NULL ||
		    json_array_append_new(arr, o) != 0 ||
		    json_object_set_new(o, "key_index", json_integer(p->index)) ||
		    json_object_set_new(o, "key", json_string(p->key_path)) ||
		    json_object_set_new(o, "cert", json_string(p->cert_path)) ||
		    json_object_set_new(o, "x5t_256", json_string(p->x5t)) ||
		    json_object_set_new(o, "x5t_256_readaloud",
		    report_x5t_readaloud(p->x5t)) ||
		    json_object_set_new(o, "sha256_fingerprint",
		    json_string(p->fingerprint)) ||
		    json_object_set_new(o, "bits", json_integer(a->bits)) ||
		    json_object_set_new(o, "not_after",
		    json_string(p->not_after)) ||
		    json_object_set_new(o, "encrypted",
		    json_boolean(p->pass != NULL)))
			goto oom;
	}
	{
		/* one report object: {verb, ok, ..., "keys": [...]} */
		json_t *rep = report_new("keygen");

		if (rep == NULL || json_object_set_new(rep, "keys", arr) != 0) {
			json_decref(rep);
			return NULL;
		}
		return rep;
	}
 oom:
	/* json_string() fails on paths that are not UTF-8, too */
	json_decref(arr);
	cli_error("cannot build the JSON report (out of memory, or a path "
	    "that is not UTF-8)");
	return NULL;
}

int
cmd_keygen(int argc, char **argv)
{
	struct keygen_args a;
	struct pair *pairs = NULL;
	char *shared_pass = NULL, name[32];
	json_t *report = NULL;
	int i, n, r, create_dir = 0, made_dir = 0, ret = EXIT_FAIL;

	if ((r = parse_args(argc, argv, &a)) != 0)
		return r == -1 ? EXIT_OK : r;
	n = a.have_index ? 1 : (int)a.n;
	if ((pairs = calloc((size_t)n, sizeof(*pairs))) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (check_dir(a.dir, &create_dir) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		pairs[i].index = a.have_index ? (int)a.index : i;
		snprintf(name, sizeof(name), "cert_%d.key", pairs[i].index);
		if (cli_join_path(pairs[i].key_path, sizeof(pairs[i].key_path),
		    a.dir, name) != 0)
			goto out;
		snprintf(name, sizeof(name), "cert_%d.cer", pairs[i].index);
		if (cli_join_path(pairs[i].cert_path, sizeof(pairs[i].cert_path),
		    a.dir, name) != 0)
			goto out;
	}
	/* Every clash reported at once, so one look at the directory does. */
	for (i = 0, r = 0; i < n; i++) {
		r |= cli_refuse_existing(pairs[i].key_path);
		r |= cli_refuse_existing(pairs[i].cert_path);
	}
	if (r != 0)
		goto out;
	if (a.subject != NULL && (r = check_subject(a.subject, a.days)) != 0) {
		ret = r;
		goto out;
	}

	/*
	 * Passphrases, all asked before the wait.  A passphrase file serves
	 * every key (its first line); at the terminal each key gets its own.
	 */
	if (!a.no_pass && a.passfile != NULL) {
		if ((shared_pass = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
			cli_error("out of memory");
			goto out;
		}
		if (cli_new_passphrase(a.passfile, pairs[0].key_path,
		    shared_pass, HW_MAX_PASSPHRASE) != 0)
			goto out;
		for (i = 0; i < n; i++)
			pairs[i].pass = shared_pass;
	} else if (!a.no_pass) {
		for (i = 0; i < n; i++) {
			if ((pairs[i].pass = sodium_malloc(HW_MAX_PASSPHRASE))
			    == NULL) {
				cli_error("out of memory");
				goto out;
			}
			if (cli_new_passphrase(NULL, pairs[i].key_path,
			    pairs[i].pass, HW_MAX_PASSPHRASE) != 0)
				goto out;
		}
	}

	for (i = 0; i < n; i++)
		if (make_pair(&pairs[i], &a, i + 1, n) != 0)
			goto out;
	if (a.json && (report = report_json(pairs, n, &a)) == NULL)
		goto out;
	if (create_dir) {
		if (mkdir(a.dir, 0700) == -1) {
			cli_error("%s: cannot create it: %s", a.dir,
			    strerror(errno));
			goto out;
		}
		made_dir = 1;
		fprintf(stderr, "created directory %s (mode 0700)\n", a.dir);
	}
	for (i = 0; i < n; i++) {
		if (write_pair(&pairs[i]) != 0) {
			remove_written(pairs, n);
			if (made_dir)
				(void)rmdir(a.dir);
			goto out;
		}
	}
	for (i = 0; a.no_pass && i < n; i++)
		cli_warn("%s: written without a passphrase; anyone who copies "
		    "this file holds the key", pairs[i].key_path);
	if (report != NULL) {
		report_set_ok(report, 1);
		report_print(report);
	} else
		report_text(pairs, n, &a);
	ret = EXIT_OK;
 out:
	json_decref(report);
	for (i = 0; pairs != NULL && i < n; i++) {
		if (pairs[i].pass != shared_pass)
			sodium_free(pairs[i].pass);
		pair_clear(&pairs[i]);
	}
	sodium_free(shared_pass);
	free(pairs);
	return ret;
}
