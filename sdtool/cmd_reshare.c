/*
 * sdtool reshare: officer rotation without touching the HSM.  A quorum of
 * the current keys opens the SD file; its data items go into a new SD file
 * under a fresh master secret, split to new certificates with a new
 * quorum (shares/reshare.c).  The new file restores the same HSM.
 *
 * Nothing is written until the new file has been checked: it is parsed
 * back from the exact bytes to be written and, with --verify-with, opened
 * by the new keys, every quorum of them authenticating the same data
 * items.  Then it is written atomically, never over an existing file, and
 * the officers are told in plain words what the rotation does not undo.
 */
#include <jansson.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "keys.h"
#include "report.h"
#include "verbs.h"
#include "../pki/cert.h"
#include "../pki/certgen.h"
#include "../shares/reshare.h"
#include "../shares/sdops.h"

#define SYNOPSIS "--sd-file OLD --sd-wrapping-keys KEY ... " \
	"--new-sd-wrapping-keys CERT ... --new-sd-quorum M --out NEW " \
	"[--verify-with KEY ...] [--password-file FILE] [--json]"

enum { O_JSON = 1, O_SD, O_KEYS, O_CERTS, O_QUORUM, O_OUT, O_VERIFY,
    O_PASSFILE };

static const struct opt opts[] = {
	{ O_SD, "sd-file", 0, OPT_VALUE, "OLD",
	    "the security-domain file in use now" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "a quorum of its officers' private keys" },
	{ O_CERTS, "new-sd-wrapping-keys", 0, OPT_LIST, "CERT",
	    "the new officers' certificates, 3 to 10 (PEM or DER)" },
	{ O_QUORUM, "new-sd-quorum", 0, OPT_VALUE, "M",
	    "shares the new file needs, 2 to N" },
	{ O_OUT, "out", 'o', OPT_VALUE, "NEW",
	    "where to write the new SD file (must not exist)" },
	{ O_VERIFY, "verify-with", 0, OPT_LIST, "KEY",
	    "new officers' private keys: open the new file before writing it" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, a line per key: old keys, then --verify-with keys" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* What the rotation leaves true, said every time, in plain words. */
static const char *const checklist[] = {
	"the safe or vault that holds the old SD file, and every copy of it",
	"escrow sheets (paper or QR) of the old SD file and of the old keys",
	"backups of the online machine that downloaded the SD file, and of "
	    "every machine it passed through: backup sets, snapshots, sync "
	    "and cloud folders",
	"USB sticks and other media used in earlier ceremonies, and the "
	    "offline laptop's disk",
	"mail, tickets, chat and document stores where the file was attached",
	"the old keys of officers who leave: key files, cards, YubiKeys "
	    "(destroying them also ends any old copy you missed)",
};
#define N_CHECKLIST (sizeof(checklist) / sizeof(checklist[0]))

enum proof { PROOF_NONE, PROOF_SHARES, PROOF_QUORUMS, PROOF_COMPLETE };

static const char *
proof_name(enum proof p)
{
	switch (p) {
	case PROOF_NONE: return "not_verified";
	case PROOF_SHARES: return "shares_verified";
	case PROOF_QUORUMS: return "quorums_verified";
	case PROOF_COMPLETE: return "verified";
	}
	return "not_verified";
}

struct new_share {
	const char *cert_path;
	char x5t_256[SD_X5T_SIZE];
	char not_after[32];
	int expired;
	int kept;                  /* also a recipient of the old file */
};

/* One report, rendered as text or JSON (see STYLE.md, 12). */
struct report {
	int json;
	int ok;
	const char *err_code;
	char err_msg[600];
	const char *old_path, *out_path;
	char old_sha[65], new_sha[65];
	const struct sd_file *old, *nsd;
	const struct keyset *old_ks, *new_ks;
	size_t n_new;
	unsigned new_required;
	struct new_share shares[SD_MAX_SHARES];
	char (*item_sha)[65];      /* one per data item */
	enum proof proof;
	size_t n_checked, n_ok;
	int written;
};

static int
fail(struct report *rp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line on stderr (and the JSON error): what was wrong, where. */
static int
fail(struct report *rp, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->err_msg, sizeof(rp->err_msg), fmt, ap);
	va_end(ap);
	rp->err_code = code;
	if (status == EXIT_USAGE)
		return cli_usage_error("%s", rp->err_msg);
	cli_error("%s", rp->err_msg);
	return status;
}

/* A helper of cli.c has already said why on stderr. */
static int
failed_quietly(struct report *rp, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
failed_quietly(struct report *rp, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->err_msg, sizeof(rp->err_msg), fmt, ap);
	va_end(ap);
	rp->err_code = code;
	return EXIT_FAIL;
}

static json_t *
quorum_json(unsigned required, size_t shares)
{
	json_t *q = json_object();

	json_object_set_new(q, "required", json_integer(required));
	json_object_set_new(q, "shares", json_integer((json_int_t)shares));
	return q;
}

static json_t *
keys_json(const struct keyset *ks, const struct sd_file *sd)
{
	json_t *arr = json_array(), *o;
	char desc[600];
	size_t i;

	for (i = 0; ks != NULL && i < ks->n_keys; i++) {
		const struct key_report *k = &ks->keys[i];

		o = json_object();
		json_object_set_new(o, "key", json_string(k->ref));
		json_object_set_new(o, "status",
		    json_string(key_outcome_name(k->outcome)));
		if (k->outcome == KEY_OPENED || k->outcome == KEY_DUPLICATE)
			json_object_set_new(o, "share",
			    json_integer((json_int_t)k->share + 1));
		if (k->x5t_256[0])
			json_object_set_new(o, "x5t_256", json_string(k->x5t_256));
		keyset_describe(k, sd, ks, desc, sizeof(desc));
		json_object_set_new(o, "message", json_string(desc));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void
render_json(const struct report *rp)
{
	json_t *root, *o, *arr, *s;
	size_t i;

	if ((root = report_new("reshare")) == NULL)
		return;
	if (rp->err_code != NULL)
		report_set_error(root, rp->err_code, rp->err_msg);
	else
		report_set_ok(root, rp->ok);
	if (rp->old_path != NULL) {
		o = json_object();
		json_object_set_new(o, "file", json_string(rp->old_path));
		if (rp->old_sha[0])
			json_object_set_new(o, "sd_sha256",
			    json_string(rp->old_sha));
		if (rp->old != NULL)
			json_object_set_new(o, "quorum", quorum_json(
			    rp->old->required, rp->old->n_shares));
		if (rp->old_ks != NULL)
			json_object_set_new(o, "keys",
			    keys_json(rp->old_ks, rp->old));
		json_object_set_new(root, "old", o);
	}
	if (rp->out_path != NULL) {
		o = json_object();
		json_object_set_new(o, "out", json_string(rp->out_path));
		json_object_set_new(o, "written", json_boolean(rp->written));
		if (rp->new_sha[0])
			json_object_set_new(o, "sd_sha256",
			    json_string(rp->new_sha));
		if (rp->nsd != NULL) {
			json_object_set_new(o, "quorum", quorum_json(
			    rp->nsd->required, rp->nsd->n_shares));
			arr = json_array();
			for (i = 0; i < rp->n_new; i++) {
				s = json_object();
				json_object_set_new(s, "share",
				    json_integer((json_int_t)i + 1));
				json_object_set_new(s, "x5t_256",
				    json_string(rp->shares[i].x5t_256));
				json_object_set_new(s, "file",
				    json_string(rp->shares[i].cert_path));
				json_object_set_new(s, "kept",
				    json_boolean(rp->shares[i].kept));
				json_object_set_new(s, "cert_expired",
				    json_boolean(rp->shares[i].expired));
				json_array_append_new(arr, s);
			}
			json_object_set_new(o, "shares", arr);
		}
		json_object_set_new(root, "new", o);
	}
	if (rp->old != NULL && rp->item_sha != NULL) {
		arr = json_array();
		for (i = 0; i < rp->old->data.n; i++) {
			s = json_object();
			json_object_set_new(s, "tag",
			    json_string(rp->old->data.items[i].tag));
			json_object_set_new(s, "sha256",
			    json_string(rp->item_sha[i]));
			json_array_append_new(arr, s);
		}
		json_object_set_new(root, "data_items", arr);
	}
	if (rp->nsd != NULL) {
		o = json_object();
		json_object_set_new(o, "status", json_string(proof_name(rp->proof)));
		json_object_set_new(o, "keys", keys_json(rp->new_ks, rp->nsd));
		json_object_set_new(o, "quorums_checked",
		    json_integer((json_int_t)rp->n_checked));
		json_object_set_new(o, "quorums_ok",
		    json_integer((json_int_t)rp->n_ok));
		json_object_set_new(root, "proof", o);
	}
	if (rp->written) {
		json_object_set_new(root, "remains_true", json_string(
		    "every old copy of the old SD file, together with a quorum "
		    "of the old keys, still restores the HSM; the rotation "
		    "protects you only once those copies are destroyed"));
		arr = json_array();
		for (i = 0; i < N_CHECKLIST; i++)
			json_array_append_new(arr, json_string(checklist[i]));
		json_object_set_new(root, "checklist", arr);
	}
	report_print(root);
	json_decref(root);
}

static void
render_text(const struct report *rp)
{
	const struct sd_file *old = rp->old, *nsd = rp->nsd;
	char desc[600];
	size_t i, n_opened = 0;

	printf("old security domain %s\n  sha256 %s\n  quorum %u of %zu "
	    "shares\n", rp->old_path, rp->old_sha, old->required,
	    old->n_shares);
	printf("new security domain written to %s\n  sha256 %s\n  quorum %u "
	    "of %zu shares:\n", rp->out_path, rp->new_sha, nsd->required,
	    nsd->n_shares);
	for (i = 0; i < rp->n_new; i++)
		printf("    #%-2zu x5t_256 %s  %s%s%s\n", i + 1,
		    rp->shares[i].x5t_256, rp->shares[i].cert_path,
		    rp->shares[i].kept ? " (kept officer)" : "",
		    rp->shares[i].expired ? " (certificate expired)" : "");
	printf("data items, SHA-256 of each decrypted item, the same in both "
	    "files:\n");
	for (i = 0; i < old->data.n; i++)
		printf("  %-26s %s\n", old->data.items[i].tag, rp->item_sha[i]);
	if (rp->new_ks != NULL) {
		for (i = 0; i < rp->new_ks->n_keys; i++) {
			keyset_describe(&rp->new_ks->keys[i], nsd, rp->new_ks,
			    desc, sizeof(desc));
			printf("  new key %s: %s\n", rp->new_ks->keys[i].ref, desc);
		}
		n_opened = rp->new_ks->n_opened;
	}
	switch (rp->proof) {
	case PROOF_COMPLETE:
		printf("VERIFIED: the new keys opened all %zu shares of %s, and "
		    "every quorum of %u (%zu combination%s) authenticates the "
		    "same data items as %s\n", nsd->n_shares, rp->out_path,
		    nsd->required, rp->n_checked, rp->n_checked == 1 ? "" : "s",
		    rp->old_path);
		break;
	case PROOF_QUORUMS:
		printf("PARTLY VERIFIED: the new keys opened %zu of %zu shares; "
		    "every quorum of them (%zu combination%s) authenticates the "
		    "same data items as %s.  The officers of the other shares "
		    "must each prove their key before anything old is "
		    "destroyed:\n  sdtool verify --solo --sd-file %s "
		    "--sd-wrapping-keys KEY\n", n_opened, nsd->n_shares,
		    rp->n_checked, rp->n_checked == 1 ? "" : "s", rp->old_path,
		    rp->out_path);
		break;
	case PROOF_SHARES:
		printf("PARTLY VERIFIED: the new keys opened %zu of %zu shares, "
		    "fewer than the quorum of %u, so no quorum of the new file "
		    "was checked.  Before anything old is destroyed, a quorum of "
		    "the new officers must run:\n  sdtool verify --sd-file %s "
		    "--sd-wrapping-keys KEY ... --same-data %s\n", n_opened,
		    nsd->n_shares, nsd->required, rp->out_path, rp->old_path);
		break;
	case PROOF_NONE:
		printf("NOT YET VERIFIED with the new keys (no --verify-with).  "
		    "The new file was checked under its new master secret "
		    "before it was split.  Before anything old is destroyed, "
		    "the new officers must run:\n  sdtool verify --sd-file %s "
		    "--sd-wrapping-keys KEY ... --same-data %s\n", rp->out_path,
		    rp->old_path);
		break;
	}
	printf("\nWhat remains true: every old copy of %s, together with %u "
	    "of the old keys, still restores this HSM.  The rotation protects "
	    "you only once those copies are destroyed.  Destroy, before "
	    "witnesses, and record each in the rotation record (see "
	    "sdtool-reshare(1)):\n", rp->old_path, old->required);
	for (i = 0; i < N_CHECKLIST; i++)
		printf("  [ ] %s\n", checklist[i]);
	printf("Keep %s (sha256 %.16s...) until the new file is verified and "
	    "in its place.\n", rp->old_path, rp->old_sha);
}

/* Load, check as the service does (hsm download's check) and describe. */
static int
load_new_certs(struct report *rp, const char *const *paths, size_t n,
    unsigned quorum, X509 **certs, struct sd_recipient *rcpt)
{
	struct sd_err e = { "" };
	size_t i, j, bad, other;
	time_t now = time(NULL);
	int r;

	for (i = 0; i < n; i++)
		if ((r = pki_cert_load(paths[i], &certs[i], &e)) != 0)
			return fail(rp, EXIT_FAIL, "bad_certificate", "%s: %s",
			    paths[i], e.msg[0] ? e.msg : sd_strerror(r));
	if ((r = pki_certset_check(certs, n, quorum, &bad, &other, &e)) != 0) {
		if (other < n)
			return fail(rp, EXIT_FAIL, "duplicate_certificate", "%s: "
			    "the same certificate as %s; each officer needs "
			    "their own", paths[bad], paths[other]);
		return fail(rp, bad < n ? EXIT_FAIL : EXIT_USAGE,
		    "bad_certificate", "%s: %s", bad < n ? paths[bad] :
		    "--new-sd-wrapping-keys", e.msg);
	}
	for (i = 0; i < n; i++) {
		struct new_share *s = &rp->shares[i];

		s->cert_path = paths[i];
		rcpt[i].pub = X509_get0_pubkey(certs[i]);
		if ((r = pki_cert_x5t256(certs[i], rcpt[i].x5t_256)) != 0)
			return fail(rp, EXIT_FAIL, "bad_certificate", "%s: cannot "
			    "encode it", paths[i]);
		memcpy(s->x5t_256, rcpt[i].x5t_256, sizeof(s->x5t_256));
		certgen_not_after(certs[i], s->not_after);
		s->expired = X509_cmp_time(X509_get0_notAfter(certs[i]),
		    &now) < 0;
		if (s->expired)
			cli_warn("%s: certificate expired %s; the share is "
			    "encrypted to it all the same, but plan its "
			    "replacement", paths[i], s->not_after);
		for (j = 0; j < rp->old->n_shares; j++)
			if (strcmp(rp->old->shares[j].x5t_256, s->x5t_256) == 0)
				s->kept = 1;
	}
	rp->n_new = n;
	return 0;
}

int
cmd_reshare(int argc, char **argv)
{
	struct opt_parser p;
	struct report rep;
	struct sd_file *old = NULL, *built = NULL, *nsd = NULL;
	struct sd_secret *master = NULL, **pts = NULL;
	struct sd_recipient rcpt[SD_MAX_SHARES];
	struct sd_err e = { "" };
	struct keyset old_ks = { 0 }, new_ks = { 0 };
	X509 *certs[SD_MAX_SHARES] = { NULL };
	const char *val, *passfile = NULL, *cert_paths[SD_MAX_SHARES + 1];
	char **refs = NULL, **vrefs = NULL, *text = NULL, *out_json = NULL;
	char desc[600];
	size_t len, n_refs = 0, n_vrefs = 0, n_certs = 0, i;
	long quorum = 0;
	int id, r, have_certs = 0, ret = EXIT_FAIL;

	memset(&rep, 0, sizeof(rep));
	if ((refs = calloc((size_t)argc, sizeof(*refs))) == NULL ||
	    (vrefs = calloc((size_t)argc, sizeof(*vrefs))) == NULL) {
		ret = fail(&rep, EXIT_FAIL, "out_of_memory", "out of memory");
		goto out;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_SD: rep.old_path = val; break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_CERTS:
			have_certs = 1;
			if (n_certs == SD_MAX_SHARES + 1)
				break;  /* counted below */
			cert_paths[n_certs++] = val;
			break;
		case O_QUORUM:
			if (opt_int(&p, "--new-sd-quorum", val, 1, 100, &quorum)) {
				ret = fail(&rep, EXIT_USAGE, "usage", "%s",
				    p.errbuf);
				goto out;
			}
			break;
		case O_OUT: rep.out_path = val; break;
		case O_VERIFY: vrefs[n_vrefs++] = (char *)val; break;
		case O_PASSFILE: passfile = val; break;
		case O_JSON: rep.json = 1; break;
		case OPT_HELP:
			ret = cli_usage(stdout, SYNOPSIS, opts);
			goto done;
		case OPT_ERROR:
			ret = fail(&rep, EXIT_USAGE, "usage", "%s", p.errbuf);
			goto out;
		default:
			ret = fail(&rep, EXIT_USAGE, "usage",
			    "unexpected argument '%s'", val);
			goto out;
		}
	}
	if (rep.old_path == NULL || n_refs == 0 || !have_certs ||
	    quorum == 0 || rep.out_path == NULL) {
		ret = fail(&rep, EXIT_USAGE, "usage", "--sd-file, "
		    "--sd-wrapping-keys, --new-sd-wrapping-keys, --new-sd-quorum "
		    "and --out are required");
		goto out;
	}
	/* The service's limits, as hsm download checks them. */
	if (n_certs < PKI_SD_MIN_CERTS || n_certs > PKI_SD_MAX_CERTS) {
		ret = fail(&rep, EXIT_USAGE, "usage", "--new-sd-wrapping-keys: "
		    "%s%zu certificates given; the service takes %d to %d",
		    n_certs > PKI_SD_MAX_CERTS ? "more than " : "",
		    n_certs > PKI_SD_MAX_CERTS ? (size_t)PKI_SD_MAX_CERTS : n_certs,
		    PKI_SD_MIN_CERTS, PKI_SD_MAX_CERTS);
		goto out;
	}
	if (quorum < PKI_SD_MIN_QUORUM || (size_t)quorum > n_certs) {
		ret = fail(&rep, EXIT_USAGE, "usage", "--new-sd-quorum %ld: the "
		    "service takes %d up to the number of certificates (%zu)",
		    quorum, PKI_SD_MIN_QUORUM, n_certs);
		goto out;
	}
	/* Fail now, not after the officers have typed their passphrases. */
	if (cli_refuse_existing(rep.out_path) != 0) {
		ret = failed_quietly(&rep, "exists", "%s: already exists; not "
		    "overwriting it", rep.out_path);
		goto out;
	}
	if (cli_read_file(rep.old_path, SD_MAX_FILE_LEN, &text, &len) != 0) {
		ret = failed_quietly(&rep, "io", "%s: cannot be read",
		    rep.old_path);
		goto out;
	}
	pki_sha256_hex(text, len, rep.old_sha);
	if ((r = sd_file_parse(text, len, &old, &e)) != 0) {
		ret = fail(&rep, EXIT_FAIL, "bad_sd_file", "%s: %s",
		    rep.old_path, e.msg[0] ? e.msg : sd_strerror(r));
		goto out;
	}
	rep.old = old;
	if ((ret = load_new_certs(&rep, cert_paths, n_certs, (unsigned)quorum,
	    certs, rcpt)) != 0)
		goto out;
	ret = EXIT_FAIL;
	if (n_refs < old->required) {
		ret = fail(&rep, EXIT_USAGE, "usage", "%s needs %u keys to open; "
		    "%zu given", rep.old_path, old->required, n_refs);
		goto out;
	}

	/* A quorum of the old keys opens the old file. */
	if (keyset_open(old, refs, n_refs, passfile, 1, &old_ks) != 0) {
		ret = failed_quietly(&rep, "out_of_memory", "out of memory");
		goto out;
	}
	rep.old_ks = &old_ks;
	keyset_warn(&old_ks);
	if (!rep.json)
		for (i = 0; i < old_ks.n_keys; i++) {
			keyset_describe(&old_ks.keys[i], old, &old_ks, desc,
			    sizeof(desc));
			fprintf(stderr, "old key %s: %s\n", old_ks.keys[i].ref,
			    desc);
		}
	if (old_ks.n_opened < old->required) {
		ret = fail(&rep, EXIT_FAIL, "quorum_not_reached", "%s: %zu of "
		    "the %u shares needed could be opened; nothing written",
		    rep.old_path, old_ks.n_opened, old->required);
		goto out;
	}
	if ((r = sd_quorum_open(old, old_ks.shares, &master, &pts, &e)) != 0) {
		ret = fail(&rep, EXIT_FAIL, "not_authentic", "%s: %s; nothing "
		    "written", rep.old_path, e.msg[0] ? e.msg : sd_strerror(r));
		goto out;
	}
	if ((rep.item_sha = calloc(old->data.n ? old->data.n : 1,
	    sizeof(*rep.item_sha))) == NULL) {
		ret = fail(&rep, EXIT_FAIL, "out_of_memory", "out of memory");
		goto out;
	}
	for (i = 0; i < old->data.n; i++)
		if (sd_item_sha256(pts[i], rep.item_sha[i]) != 0) {
			ret = fail(&rep, EXIT_FAIL, "crypto", "SHA-256 failed");
			goto out;
		}

	/* The new file, as the service writes one; then read back. */
	if ((r = sd_reshare(old, master, pts, rcpt, n_certs, (unsigned)quorum,
	    NULL, &built, &e)) != 0 ||
	    (r = sd_file_serialize(built, &out_json, &e)) != 0) {
		ret = fail(&rep, EXIT_FAIL, "internal", "building the new SD "
		    "file: %s", e.msg[0] ? e.msg : sd_strerror(r));
		goto out;
	}
	if ((r = sd_file_parse(out_json, strlen(out_json), &nsd, &e)) != 0) {
		ret = fail(&rep, EXIT_FAIL, "internal", "the new SD file does "
		    "not read back: %s", e.msg[0] ? e.msg : sd_strerror(r));
		goto out;
	}
	rep.nsd = nsd;
	pki_sha256_hex(out_json, strlen(out_json), rep.new_sha);

	/* Proof with the new keys, before anything is written. */
	if (n_vrefs > 0) {
		if (keyset_open_from(nsd, vrefs, n_vrefs, passfile, (int)n_refs,
		    0, &new_ks) != 0) {
			ret = failed_quietly(&rep, "out_of_memory",
			    "out of memory");
			goto out;
		}
		rep.new_ks = &new_ks;
		for (i = 0; i < new_ks.n_keys; i++)
			if (new_ks.keys[i].outcome != KEY_OPENED &&
			    new_ks.keys[i].outcome != KEY_DUPLICATE) {
				keyset_describe(&new_ks.keys[i], nsd, &new_ks,
				    desc, sizeof(desc));
				ret = fail(&rep, EXIT_FAIL, "verify_with_failed",
				    "--verify-with %s: %s; nothing written",
				    new_ks.keys[i].ref, desc);
				goto out;
			}
		rep.proof = PROOF_SHARES;
		if (new_ks.n_opened >= nsd->required) {
			if ((r = sd_quorums_check(nsd, new_ks.shares, &old->data,
			    pts, &rep.n_checked, &rep.n_ok, &e)) != 0) {
				ret = fail(&rep, EXIT_FAIL, "verify_with_failed",
				    "the new file does not open as built: %s; "
				    "nothing written", e.msg);
				goto out;
			}
			rep.proof = new_ks.n_opened == nsd->n_shares ?
			    PROOF_COMPLETE : PROOF_QUORUMS;
		}
	}

	if (cli_write_new_file(rep.out_path, out_json, strlen(out_json),
	    0644) != 0) {
		ret = failed_quietly(&rep, "io", "%s: could not be written",
		    rep.out_path);
		goto out;
	}
	rep.written = 1;
	rep.ok = 1;
	ret = EXIT_OK;
 out:
	if (rep.json)
		render_json(&rep);
	else if (rep.ok)
		render_text(&rep);
 done:
	sd_plaintexts_free(pts, old != NULL ? old->data.n : 0);
	sd_secret_free(master);
	keyset_clear(&new_ks);
	keyset_clear(&old_ks);
	for (i = 0; i < SD_MAX_SHARES; i++)
		X509_free(certs[i]);
	free(rep.item_sha);
	sd_file_free(nsd);
	sd_file_free(built);
	sd_file_free(old);
	free(out_json);
	free(text);
	free(vrefs);
	free(refs);
	return ret;
}
