/*
 * sdtool verify: prove, long before the bad day, that the officers' keys
 * open the SD file, and say exactly what was proved.
 *
 * Quorum check (the default): each key opens its share once; then every
 * subset of `required` opened shares is recombined and must authenticate
 * every data item.  The report gives each share's evidence (opened / not
 * given / failed, and why) and each quorum's result.  Exit status:
 *   0  everything claimed was proved (with --all: every share opened too);
 *   3  the SD file is recoverable with what was given, but something is
 *      wrong: a key failed, a quorum failed, or (--all) a share was not
 *      opened;
 *   1  not recoverable with what was given, or another failure;
 *   2  usage.
 *
 * Solo check (--solo): each key given proves alone that it opens its own
 * share: the share's JWE decrypts and authenticates, and its x-coordinate
 * is the position of the key's certificate.  Nothing is recombined: that
 * still takes a quorum check.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kbcheck.h"
#include "keys.h"
#include "report.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../pki/cert.h"
#include "../shares/reshare.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"

#define SYNOPSIS "[--json] [-q] [--all | --solo] [--password-file FILE] " \
	"--sd-file SD --sd-wrapping-keys KEY ... [--same-data OLD] " \
	"[--key-backup FILE ...]"

#define EXIT_PROBLEM 3   /* recoverable, but something is wrong */

enum { O_JSON = 1, O_SD, O_KEYS, O_PASSFILE, O_ALL, O_SOLO, O_QUIET,
	O_SAME, O_KEYBACKUP };

static const struct opt opts[] = {
	{ O_SD, "sd-file", 0, OPT_VALUE, "SD",
	    "the security-domain file ('-': standard input)" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "the officers' private keys (certificate beside each as .cer)" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, one line per key in order (one line: for all)" },
	{ O_ALL, "all", 0, OPT_FLAG, NULL,
	    "fail unless every share of the SD file is opened" },
	{ O_SOLO, "solo", 0, OPT_FLAG, NULL,
	    "solo key check: each key opens its own share (no quorum)" },
	{ O_QUIET, "quiet", 'q', OPT_FLAG, NULL,
	    "print only problems and the verdict" },
	{ O_SAME, "same-data", 0, OPT_VALUE, "OLD",
	    "also prove that OLD carries the same data items (a reshare)" },
	{ O_KEYBACKUP, "key-backup", 0, OPT_LIST, "FILE",
	    "key backups the SD file must open (az keyvault key backup)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/*
 * --same-data OLD (issue 12): after a reshare, prove that OLD and the SD
 * file carry the same data items.  The keys given are tried on OLD as
 * well (a quorum of each file is needed); a key that opens a share of OLD
 * only is not counted as useless.  The comparison is shares/reshare.c's.
 */
struct same_data {
	const char *path;
	struct sd_file *sd;
	struct keyset ks;
	char sd_sha256[65];
	char (*item_sha)[65];
	size_t n_items;
	int code;                 /* 0: the same data items */
	char detail[600];
};

static void
same_data_check(struct same_data *sdd, const struct sd_file *sd,
    const struct keyset *ks, char *const *refs, size_t n_refs,
    const char *passfile)
{
	struct sd_secret **pa = NULL, **pb = NULL;
	struct sd_err e = { "" };
	char *text = NULL, **try = NULL;
	size_t len, i, j;
	int r;

	sdd->code = SD_ERR_IO;
	snprintf(sdd->detail, sizeof(sdd->detail), "%s: cannot be read",
	    sdd->path);
	if (cli_read_file(sdd->path, SD_MAX_FILE_LEN, &text, &len) != 0)
		return;
	pki_sha256_hex(text, len, sdd->sd_sha256);
	if ((r = sd_file_parse(text, len, &sdd->sd, &e)) != 0)
		goto out;
	/*
	 * A key whose certificate names no share of OLD is not opened again
	 * (no second passphrase prompt for a new officer); the others are.
	 */
	if ((try = calloc(n_refs ? n_refs : 1, sizeof(*try))) == NULL) {
		r = sd_err_set(&e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < n_refs; i++) {
		try[i] = refs[i];
		if (i < ks->n_keys && ks->keys[i].x5t_256[0] != '\0') {
			for (j = 0; j < sdd->sd->n_shares; j++)
				if (strcmp(sdd->sd->shares[j].x5t_256,
				    ks->keys[i].x5t_256) == 0)
					break;
			if (j == sdd->sd->n_shares)
				try[i] = NULL;
		}
	}
	if (keyset_open(sdd->sd, try, n_refs, passfile, 1, &sdd->ks) != 0) {
		r = sd_err_set(&e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = sd_quorum_open(sdd->sd, sdd->ks.shares, NULL, &pa, &e)) != 0) {
		sd_err_prefix(&e, r, "%s", sdd->path);
		goto out;
	}
	if ((r = sd_quorum_open(sd, ks->shares, NULL, &pb, &e)) != 0) {
		sd_err_prefix(&e, r, "the SD file");
		goto out;
	}
	if ((r = sd_same_data(&sdd->sd->data, pa, &sd->data, pb, NULL,
	    &e)) != 0)
		goto out;
	if ((sdd->item_sha = calloc(sd->data.n ? sd->data.n : 1,
	    sizeof(*sdd->item_sha))) == NULL) {
		r = sd_err_set(&e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < sd->data.n; i++)
		if ((r = sd_item_sha256(pb[i], sdd->item_sha[i])) != 0)
			goto out;
	sdd->n_items = sd->data.n;
 out:
	sdd->code = r;
	if (r != 0)
		snprintf(sdd->detail, sizeof(sdd->detail), "%s",
		    e.msg[0] ? e.msg : sd_strerror(r));
	sd_plaintexts_free(pa, sdd->sd != NULL ? sdd->sd->data.n : 0);
	sd_plaintexts_free(pb, sd->data.n);
	free(try);
	free(text);
}

/* A key useless for the SD file may be what opens OLD. */
static int
same_data_used_key(const struct same_data *sdd, size_t k)
{
	return sdd->path != NULL && k < sdd->ks.n_keys &&
	    (sdd->ks.keys[k].outcome == KEY_OPENED ||
	    sdd->ks.keys[k].outcome == KEY_DUPLICATE);
}

static json_t *
same_data_json(const struct same_data *sdd, const struct sd_file *sd)
{
	json_t *o = json_object(), *arr, *it;
	size_t i;

	json_object_set_new(o, "file", json_string(sdd->path));
	if (sdd->sd_sha256[0])
		json_object_set_new(o, "sd_sha256", json_string(sdd->sd_sha256));
	json_object_set_new(o, "ok", json_boolean(sdd->code == 0));
	if (sdd->code != 0)
		json_object_set_new(o, "message", json_string(sdd->detail));
	arr = json_array();
	for (i = 0; i < sdd->n_items; i++) {
		it = json_object();
		json_object_set_new(it, "tag", json_string(sd->data.items[i].tag));
		json_object_set_new(it, "sha256", json_string(sdd->item_sha[i]));
		json_array_append_new(arr, it);
	}
	json_object_set_new(o, "data_items", arr);
	return o;
}

static void
same_data_print(const struct same_data *sdd, const struct sd_file *sd)
{
	size_t i;

	for (i = 0; i < sdd->ks.n_keys; i++)
		if (same_data_used_key(sdd, i))
			printf("  key %s: opened share #%zu of %s\n",
			    sdd->ks.keys[i].ref, sdd->ks.keys[i].share + 1,
			    sdd->path);
	if (sdd->code != 0) {
		/* the verdict line says FAILED */
		printf("  same data as %s: NOT proved: %s\n", sdd->path,
		    sdd->detail);
		return;
	}
	printf("same data as %s (sha256 %s): all %zu data items equal\n",
	    sdd->path, sdd->sd_sha256, sdd->n_items);
	for (i = 0; i < sdd->n_items; i++)
		printf("  %-26s sha256 %s\n", sd->data.items[i].tag,
		    sdd->item_sha[i]);
}

static void
same_data_clear(struct same_data *sdd)
{
	keyset_clear(&sdd->ks);
	sd_file_free(sdd->sd);
	free(sdd->item_sha);
}


struct quorum_result {
	size_t idx[SD_MAX_SHARES];  /* share indexes of the subset */
	int code;
	char detail[512];
};

enum share_status { SHARE_NOT_GIVEN, SHARE_OPENED, SHARE_FAILED };

struct share_result {
	enum share_status status;
	size_t key;                 /* the key that opened it or failed */
};

/* Everything verify found; printed as text or JSON from here. */
struct verify_report {
	const char *path;
	char sd_sha256[65];
	const struct sd_file *sd;
	const struct keyset *ks;
	int solo, all;
	struct same_data *sdd;      /* --same-data, or path NULL */
	struct share_result shares[SD_MAX_SHARES];
	size_t n_opened, n_failed_shares, n_not_given;
	size_t n_bad_keys;
	struct quorum_result *qs;
	size_t nq, n_ok;
	int status;                 /* the exit status */
	char verdict[700];
};

/* Next k-combination of 0..n-1 in lexicographic order; 0 at the end. */
static int
next_combination(size_t *c, size_t k, size_t n)
{
	size_t i = k;

	while (i > 0 && c[i - 1] == n - k + i - 1)
		i--;
	if (i == 0)
		return 0;
	c[i - 1]++;
	for (; i < k; i++)
		c[i] = c[i - 1] + 1;
	return 1;
}

static int
check_quorum(const struct sd_file *sd, const struct keyset *ks,
    struct quorum_result *q)
{
	const uint8_t *parts[SD_MAX_SHARES];
	struct sd_secret *master = NULL;
	struct sd_err e = { "" };
	size_t i;
	int r;

	for (i = 0; i < sd->required; i++)
		parts[i] = ks->shares[q->idx[i]]->p;
	if ((r = shamir_combine(parts, sd->required, SD_SHARE_LEN, &master,
	    &e)) == 0)
		r = sd_data_open(&sd->data, master, NULL, &e);
	sd_secret_free(master);
	q->code = r;
	if (r != 0)
		snprintf(q->detail, sizeof(q->detail), "%s",
		    e.msg[0] ? e.msg : sd_strerror(r));
	return r;
}

static void
quorum_name(const struct quorum_result *q, size_t k, char *buf, size_t size)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < k && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s#%zu",
		    i ? " + " : "", q->idx[i] + 1);
}

static int
key_ok(const struct key_report *k)
{
	return k->outcome == KEY_OPENED || k->outcome == KEY_DUPLICATE;
}

/* Per share: which key opened it, or failed on it, or none was given. */
static void
collect_shares(struct verify_report *vr)
{
	const struct keyset *ks = vr->ks;
	size_t i, k;

	for (i = 0; i < vr->sd->n_shares; i++)
		vr->shares[i].status = SHARE_NOT_GIVEN;
	for (k = 0; k < ks->n_keys; k++) {
		const struct key_report *kr = &ks->keys[k];

		/* a key useless here may be what opens OLD (--same-data) */
		if (!key_ok(kr) && !same_data_used_key(vr->sdd, k))
			vr->n_bad_keys++;
		if (!kr->share_known || kr->share >= vr->sd->n_shares)
			continue;
		if (kr->outcome == KEY_OPENED) {
			vr->shares[kr->share].status = SHARE_OPENED;
			vr->shares[kr->share].key = k;
		} else if (!key_ok(kr) &&
		    vr->shares[kr->share].status == SHARE_NOT_GIVEN) {
			vr->shares[kr->share].status = SHARE_FAILED;
			vr->shares[kr->share].key = k;
		}
	}
	for (i = 0; i < vr->sd->n_shares; i++) {
		if (vr->shares[i].status == SHARE_OPENED)
			vr->n_opened++;
		else if (vr->shares[i].status == SHARE_FAILED)
			vr->n_failed_shares++;
		else
			vr->n_not_given++;
	}
}

static void
uncovered_list(const struct verify_report *vr, char *buf, size_t size)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < vr->sd->n_shares && off < size; i++)
		if (vr->shares[i].status != SHARE_OPENED)
			off += (size_t)snprintf(buf + off, size - off, " #%zu",
			    i + 1);
}

/* The verdict and exit status: never more than was proved. */
static void
judge(struct verify_report *vr)
{
	const struct sd_file *sd = vr->sd;
	char list[128];

	uncovered_list(vr, list, sizeof(list));
	if (vr->solo) {
		if (vr->n_bad_keys == 0) {
			vr->status = EXIT_OK;
			if (vr->ks->n_keys == 1)
				snprintf(vr->verdict, sizeof(vr->verdict), "OK "
				    "(solo check): %s opens share #%zu: it "
				    "decrypts and authenticates, and its "
				    "x-coordinate is the position of the key's "
				    "certificate", vr->ks->keys[0].ref,
				    vr->ks->keys[0].share + 1);
			else
				snprintf(vr->verdict, sizeof(vr->verdict), "OK "
				    "(solo check): each of the %zu keys opens its "
				    "own share: it decrypts and authenticates, "
				    "and its x-coordinate is the position of the "
				    "key's certificate", vr->ks->n_keys);
		} else {
			vr->status = EXIT_FAIL;
			snprintf(vr->verdict, sizeof(vr->verdict), "FAILED (solo "
			    "check): %zu of the %zu key%s given did not open "
			    "%s share", vr->n_bad_keys, vr->ks->n_keys,
			    vr->ks->n_keys == 1 ? "" : "s",
			    vr->ks->n_keys == 1 ? "its" : "their");
		}
		return;
	}
	if (vr->n_opened < sd->required) {
		vr->status = EXIT_FAIL;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: %zu of the "
		    "%u shares needed were opened; no quorum could be checked, "
		    "the SD file is not recoverable with what was given",
		    vr->n_opened, sd->required);
	} else if (vr->n_ok == 0) {
		vr->status = EXIT_FAIL;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: none of "
		    "the %zu quorums opens this SD file: it is not recoverable "
		    "with what was given", vr->nq);
	} else if (vr->sdd->path != NULL && vr->sdd->code != 0) {
		/* the reshare's claim, the same data, was not proved */
		vr->status = EXIT_FAIL;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: same data "
		    "as %s not proved: %s", vr->sdd->path, vr->sdd->detail);
	} else if (vr->n_ok != vr->nq) {
		vr->status = EXIT_PROBLEM;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: %zu of %zu "
		    "quorums do not open this SD file (it is recoverable with "
		    "the other %zu)", vr->nq - vr->n_ok, vr->nq, vr->n_ok);
	} else if (vr->n_bad_keys > 0) {
		vr->status = EXIT_PROBLEM;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: %zu of the "
		    "%zu keys given opened no share; every quorum of the other "
		    "keys works (%zu combination%s), so the SD file is "
		    "recoverable, but fix or replace the failed key",
		    vr->n_bad_keys, vr->ks->n_keys, vr->nq,
		    vr->nq == 1 ? "" : "s");
	} else if (vr->all && vr->n_opened < sd->n_shares) {
		vr->status = EXIT_PROBLEM;
		snprintf(vr->verdict, sizeof(vr->verdict), "FAILED: --all: "
		    "share%s%s not opened; every quorum of the %zu opened "
		    "shares works (%zu combination%s), but nothing was proved "
		    "of the others", vr->n_opened + 1 < sd->n_shares ? "s" : "",
		    list, vr->n_opened, vr->nq, vr->nq == 1 ? "" : "s");
	} else {
		vr->status = EXIT_OK;
		snprintf(vr->verdict, sizeof(vr->verdict), "OK: every quorum of "
		    "the %zu opened shares (%zu combination%s) opens this SD "
		    "file%s", vr->n_opened, vr->nq, vr->nq == 1 ? "" : "s",
		    vr->n_opened == sd->n_shares ? "; every share was opened" :
		    "");
	}
}

static const char *
share_status_name(enum share_status s)
{
	switch (s) {
	case SHARE_OPENED: return "opened";
	case SHARE_FAILED: return "failed";
	case SHARE_NOT_GIVEN: return "not_given";
	}
	return "not_given";
}

static void
share_message(const struct verify_report *vr, size_t i, char *buf,
    size_t size)
{
	const struct share_result *s = &vr->shares[i];
	const struct key_report *k;
	char desc[600];

	switch (s->status) {
	case SHARE_OPENED:
		k = &vr->ks->keys[s->key];
		snprintf(buf, size, "opened by %s%s", k->ref, vr->solo ?
		    ": decrypts, authenticates, x-coordinate at its "
		    "certificate's position" : "");
		break;
	case SHARE_FAILED:
		k = &vr->ks->keys[s->key];
		keyset_describe(k, vr->sd, vr->ks, desc, sizeof(desc));
		snprintf(buf, size, "FAILED: %s: %s", k->ref, desc);
		break;
	case SHARE_NOT_GIVEN:
		snprintf(buf, size, "not given (no key for certificate "
		    "x5t_256 %s)", vr->sd->shares[i].x5t_256);
		break;
	}
}

static json_t *
report_json(const struct verify_report *vr)
{
	const struct sd_file *sd = vr->sd;
	const struct keyset *ks = vr->ks;
	json_t *root, *keys, *quorums, *arr, *o, *q;
	char desc[700];
	size_t i, j;

	root = report_new("verify");
	json_object_set_new(root, "file", json_string(vr->path));
	json_object_set_new(root, "sd_sha256", json_string(vr->sd_sha256));
	json_object_set_new(root, "check", json_string(vr->solo ? "solo" :
	    "quorum"));
	json_object_set_new(root, "all", json_boolean(vr->all));
	q = json_object();
	json_object_set_new(q, "required", json_integer(sd->required));
	json_object_set_new(q, "shares", json_integer((json_int_t)sd->n_shares));
	json_object_set_new(root, "quorum", q);
	json_object_set_new(root, "data_items",
	    json_integer((json_int_t)sd->data.n));
	arr = json_array();
	for (i = 0; i < sd->n_shares; i++) {
		o = json_object();
		json_object_set_new(o, "share", json_integer((json_int_t)i + 1));
		json_object_set_new(o, "x5t_256",
		    json_string(sd->shares[i].x5t_256));
		json_object_set_new(o, "status", json_string(
		    share_status_name(vr->shares[i].status)));
		json_object_set_new(o, "key", vr->shares[i].status ==
		    SHARE_NOT_GIVEN ? json_null() :
		    json_string(ks->keys[vr->shares[i].key].ref));
		share_message(vr, i, desc, sizeof(desc));
		json_object_set_new(o, "message", json_string(desc));
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "shares", arr);
	keys = json_array();
	for (i = 0; i < ks->n_keys; i++) {
		const struct key_report *k = &ks->keys[i];

		o = json_object();
		json_object_set_new(o, "key", json_string(k->ref));
		json_object_set_new(o, "status",
		    json_string(key_outcome_name(k->outcome)));
		json_object_set_new(o, "share", k->share_known ?
		    json_integer((json_int_t)k->share + 1) : json_null());
		if (k->outcome == KEY_OPENED || k->outcome == KEY_POSITION)
			json_object_set_new(o, "x", json_integer(k->x));
		json_object_set_new(o, "x5t_256", k->x5t_256[0] ?
		    json_string(k->x5t_256) : json_null());
		json_object_set_new(o, "cert_not_after", k->cert_not_after[0] ?
		    json_string(k->cert_not_after) : json_null());
		json_object_set_new(o, "cert_expired",
		    json_boolean(k->flags & HW_KEY_CERT_EXPIRED));
		json_object_set_new(o, "matched_by_trial",
		    json_boolean(k->by_trial));
		json_object_set_new(o, "tries", json_integer(k->tries));
		keyset_describe(k, sd, ks, desc, sizeof(desc));
		json_object_set_new(o, "message", json_string(desc));
		json_array_append_new(keys, o);
	}
	json_object_set_new(root, "keys", keys);
	arr = json_array();
	for (i = 0; i < sd->n_shares; i++)
		if (vr->shares[i].status != SHARE_OPENED)
			json_array_append_new(arr, json_integer((json_int_t)i + 1));
	json_object_set_new(root, "shares_not_covered", arr);
	quorums = json_array();
	for (i = 0; i < vr->nq; i++) {
		o = json_object();
		arr = json_array();
		for (j = 0; j < sd->required; j++)
			json_array_append_new(arr,
			    json_integer((json_int_t)vr->qs[i].idx[j] + 1));
		json_object_set_new(o, "shares", arr);
		json_object_set_new(o, "status", json_string(
		    vr->qs[i].code == 0 ? "recombined" : "failed"));
		json_object_set_new(o, "message", json_string(
		    vr->qs[i].code == 0 ? "every data item authenticated" :
		    vr->qs[i].detail));
		json_array_append_new(quorums, o);
	}
	json_object_set_new(root, "quorums", quorums);
	json_object_set_new(root, "quorums_checked", json_integer(
	    (json_int_t)vr->nq));
	json_object_set_new(root, "quorums_failed", json_integer(
	    (json_int_t)(vr->nq - vr->n_ok)));
	json_object_set_new(root, "recoverable", vr->solo ? json_null() :
	    json_boolean(vr->status != EXIT_FAIL));
	json_object_set_new(root, "result", json_string(
	    vr->status == EXIT_OK ? "proved" :
	    vr->status == EXIT_PROBLEM ? "recoverable_with_problems" :
	    vr->solo ? "key_failed" : "not_recoverable"));
	json_object_set_new(root, "verdict", json_string(vr->verdict));
	json_object_set_new(root, "exit_status", json_integer(vr->status));
	if (vr->status == EXIT_OK)
		report_set_ok(root, 1);
	else
		report_set_error(root, vr->status == EXIT_PROBLEM ?
		    "check_incomplete" : vr->solo ? "key_failed" :
		    "not_recoverable", vr->verdict);
	return root;
}

static void
print_text(const struct verify_report *vr, int quiet)
{
	const struct sd_file *sd = vr->sd;
	const struct keyset *ks = vr->ks;
	char desc[700], name[64], list[128];
	size_t i;

	if (!quiet)
		printf("%s: quorum %u of %zu shares, %zu data items\n"
		    "sd_sha256: %s\n", vr->path, sd->required, sd->n_shares,
		    sd->data.n, vr->sd_sha256);
	for (i = 0; i < ks->n_keys; i++) {
		if (quiet && key_ok(&ks->keys[i]))
			continue;
		keyset_describe(&ks->keys[i], sd, ks, desc, sizeof(desc));
		printf("  key %s: %s\n", ks->keys[i].ref, desc);
	}
	for (i = 0; i < sd->n_shares; i++) {
		if (quiet && vr->shares[i].status == SHARE_OPENED)
			continue;
		if (vr->solo && vr->shares[i].status == SHARE_NOT_GIVEN)
			continue;
		share_message(vr, i, desc, sizeof(desc));
		printf("  share #%zu: %s\n", i + 1, desc);
	}
	for (i = 0; i < vr->nq; i++) {
		if (quiet && vr->qs[i].code == 0)
			continue;
		quorum_name(&vr->qs[i], sd->required, name, sizeof(name));
		if (vr->qs[i].code == 0)
			printf("  quorum %s: ok, all %zu data items "
			    "authenticated\n", name, sd->data.n);
		else
			printf("  quorum %s: FAILED: %s\n", name,
			    vr->qs[i].detail);
	}
	if (vr->sdd->path != NULL)
		same_data_print(vr->sdd, sd);
	printf("%s\n", vr->verdict);
	if (vr->solo) {
		printf("This proves that the key opens its own share of this SD "
		    "file. It does not prove that the shares recombine into the "
		    "master key: that takes a quorum check with the other "
		    "officers (sdtool verify --all).\n");
		return;
	}
	if (vr->n_opened < sd->n_shares) {
		uncovered_list(vr, list, sizeof(list));
		printf("note: %zu of %zu shares not covered:%s (nothing was "
		    "proved of %s)\n", sd->n_shares - vr->n_opened,
		    sd->n_shares, list,
		    sd->n_shares - vr->n_opened == 1 ? "it" : "them");
	}
}

static void
sha256_hex(const char *text, size_t len, char out[65])
{
	uint8_t md[32];
	size_t i;

	EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
cmd_verify(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_file *sd = NULL;
	struct sd_err e = { "" };
	struct keyset ks = { 0 };
	struct verify_report vr;
	const char *val, *sd_path = NULL, *passfile = NULL;
	char **refs = NULL, **kbfiles = NULL;
	char *text = NULL;
	size_t len, n_refs = 0, n_open, i, j, n_kb = 0;
	struct kb_check kbc = { 0 };
	const uint8_t *kbq[SD_MAX_SHARES];
	int kb_ok = 1;
	size_t opened[SD_MAX_SHARES];
	size_t c[SD_MAX_SHARES];
	int id, r, json = 0, quiet = 0, ret = EXIT_FAIL;
	json_t *report;
	struct same_data sdd = { 0 };

	memset(&vr, 0, sizeof(vr));
	if ((refs = calloc((size_t)argc, sizeof(*refs))) == NULL ||
	    (kbfiles = calloc((size_t)argc, sizeof(*kbfiles))) == NULL) {
		free(refs);
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_SD: sd_path = val; break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_PASSFILE: passfile = val; break;
		case O_ALL: vr.all = 1; break;
		case O_SOLO: vr.solo = 1; break;
		case O_QUIET: quiet = 1; break;
		case O_SAME: sdd.path = val; break;
		case O_KEYBACKUP: kbfiles[n_kb++] = (char *)val; break;
		case O_JSON: json = 1; report_want_json(1); break;
		case OPT_HELP:
			ret = cli_usage(stdout, SYNOPSIS, opts);
			goto out;
		case OPT_ERROR:
			ret = cli_usage_error("%s", p.errbuf);
			goto out;
		default:
			ret = cli_usage_error("unexpected argument '%s'", val);
			goto out;
		}
	}
	if (sd_path == NULL || n_refs == 0) {
		ret = cli_usage_error("--sd-file and --sd-wrapping-keys are "
		    "required");
		goto out;
	}
	if (vr.solo && sdd.path != NULL) {
		ret = cli_usage_error("--same-data needs a quorum of keys; it "
		    "does not go with --solo");
		goto out;
	}
	if (vr.solo && n_kb > 0) {
		ret = cli_usage_error("--key-backup needs a quorum: not with "
		    "--solo");
		goto out;
	}
	if (vr.solo && vr.all) {
		ret = cli_usage_error("--solo checks keys one by one, --all a "
		    "whole quorum: give one of them");
		goto out;
	}
	if (cli_read_file(sd_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_file_parse(text, len, &sd, &e)) != 0) {
		cli_core_error(r, &e, "%s", sd_path);
		goto out;
	}
	vr.path = sd_path;
	vr.sd = sd;
	vr.ks = &ks;
	vr.sdd = &sdd;
	sha256_hex(text, len, vr.sd_sha256);
	if (keyset_open(sd, refs, n_refs, passfile, 0, &ks) != 0)
		goto out;
	keyset_warn(&ks);
	if (sdd.path != NULL)
		same_data_check(&sdd, sd, &ks, refs, n_refs, passfile);
	collect_shares(&vr);

	for (i = 0, n_open = 0; i < sd->n_shares; i++)
		if (ks.shares[i] != NULL)
			opened[n_open++] = i;
	if (!vr.solo && n_open >= sd->required) {
		/* C(10,5) = 252 at most */
		if ((vr.qs = calloc(252, sizeof(*vr.qs))) == NULL) {
			cli_error("out of memory");
			goto out;
		}
		for (i = 0; i < sd->required; i++)
			c[i] = i;
		do {
			for (i = 0; i < sd->required; i++)
				vr.qs[vr.nq].idx[i] = opened[c[i]];
			if (check_quorum(sd, &ks, &vr.qs[vr.nq]) == 0)
				vr.n_ok++;
			vr.nq++;
		} while (next_combination(c, sd->required, n_open));
	}
	judge(&vr);
	/*
	 * --key-backup (issue 11, kbcheck.c): open each backup with the
	 * backup protection key, through the first quorum that worked.  A
	 * backup that does not open fails the run (exit 1).
	 */
	if (n_kb > 0) {
		for (i = 0; i < vr.nq && vr.qs[i].code != 0; i++)
			;
		if (i < vr.nq)
			for (j = 0; j < sd->required; j++)
				kbq[j] = ks.shares[vr.qs[i].idx[j]]->p;
		(void)kb_check_run(sd, i < vr.nq ? kbq : NULL, kbfiles, n_kb,
		    &kbc);
		kb_check_errors(&kbc);
		kb_ok = kb_check_ok(&kbc);
	}
	if (json) {
		report = report_json(&vr);
		if (sdd.path != NULL)
			json_object_set_new(report, "same_data",
			    same_data_json(&sdd, sd));
		if (n_kb > 0) {
			kb_check_json(&kbc, report);
			if (!kb_ok) {
				json_object_set_new(report, "exit_status",
				    json_integer(EXIT_FAIL));
				if (vr.status == EXIT_OK)
					report_set_error(report,
					    "key_backup_not_opened", "a key "
					    "backup does not open with this SD "
					    "file (see key_backups)");
			}
		}
		report_print(report);
		json_decref(report);
	} else {
		print_text(&vr, quiet);
		if (n_kb > 0)
			kb_check_print(&kbc);
	}
	ret = kb_ok ? vr.status : EXIT_FAIL;
 out:
	kb_check_clear(&kbc);
	free(kbfiles);
	free(vr.qs);
	same_data_clear(&sdd);
	keyset_clear(&ks);
	sd_file_free(sd);
	free(text);
	free(refs);
	return ret;
}
