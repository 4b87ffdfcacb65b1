/*
 * sdtool verify: prove, long before the bad day, that every quorum of the
 * officers' keys opens the SD file.  Each key opens its share once; then
 * every subset of `required` opened shares is recombined and must
 * authenticate every data item.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../pki/cert.h"
#include "../shares/reshare.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"

#define SYNOPSIS "[--json] [--password-file FILE] --sd-file SD " \
	"--sd-wrapping-keys KEY ... [--same-data OLD]"

enum { O_JSON = 1, O_SD, O_KEYS, O_PASSFILE, O_SAME };

static const struct opt opts[] = {
	{ O_SD, "sd-file", 0, OPT_VALUE, "SD", "the security-domain file" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "the officers' private keys (certificate beside each as .cer)" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, one line per key in order (one line: for all)" },
	{ O_SAME, "same-data", 0, OPT_VALUE, "OLD",
	    "also prove that OLD carries the same data items (a reshare)" },
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
		printf("FAILED: same data as %s not proved: %s\n", sdd->path,
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

	for (i = 0; i < k && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s#%zu",
		    i ? " + " : "", q->idx[i] + 1);
}

static json_t *
report_json(const char *path, const struct sd_file *sd,
    const struct keyset *ks, const struct quorum_result *qs, size_t nq,
    int ok)
{
	json_t *root, *keys, *quorums, *arr, *o;
	char desc[600];
	size_t i, j;

	root = json_object();
	json_object_set_new(root, "sd_file", json_string(path));
	json_object_set_new(root, "required", json_integer(sd->required));
	json_object_set_new(root, "shares", json_integer((json_int_t)sd->n_shares));
	keys = json_array();
	for (i = 0; i < ks->n_keys; i++) {
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
		if (k->cert_not_after[0])
			json_object_set_new(o, "cert_not_after",
			    json_string(k->cert_not_after));
		json_object_set_new(o, "cert_expired",
		    json_boolean(k->flags & HW_KEY_CERT_EXPIRED));
		json_object_set_new(o, "matched_by_trial", json_boolean(k->by_trial));
		keyset_describe(k, sd, ks, desc, sizeof(desc));
		json_object_set_new(o, "message", json_string(desc));
		json_array_append_new(keys, o);
	}
	json_object_set_new(root, "keys", keys);
	arr = json_array();
	for (i = 0; i < sd->n_shares; i++)
		if (ks->shares[i] == NULL)
			json_array_append_new(arr, json_integer((json_int_t)i + 1));
	json_object_set_new(root, "shares_not_covered", arr);
	quorums = json_array();
	for (i = 0; i < nq; i++) {
		o = json_object();
		arr = json_array();
		for (j = 0; j < sd->required; j++)
			json_array_append_new(arr,
			    json_integer((json_int_t)qs[i].idx[j] + 1));
		json_object_set_new(o, "shares", arr);
		json_object_set_new(o, "ok", json_boolean(qs[i].code == 0));
		if (qs[i].code != 0)
			json_object_set_new(o, "error", json_string(qs[i].detail));
		json_array_append_new(quorums, o);
	}
	json_object_set_new(root, "quorums", quorums);
	json_object_set_new(root, "ok", json_boolean(ok));
	return root;
}

int
cmd_verify(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_file *sd = NULL;
	struct sd_err e = { "" };
	struct keyset ks = { 0 };
	struct quorum_result *qs = NULL;
	const char *val, *sd_path = NULL, *passfile = NULL;
	char **refs = NULL, desc[600], name[64];
	char *text = NULL;
	size_t len, n_refs = 0, nq = 0, n_ok = 0, n_bad_keys = 0, i;
	size_t opened[SD_MAX_SHARES];
	size_t c[SD_MAX_SHARES];
	int id, r, json = 0, ok, ret = EXIT_FAIL;
	json_t *report;
	struct same_data sdd = { 0 };

	if ((refs = calloc((size_t)argc, sizeof(*refs))) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_SD: sd_path = val; break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_PASSFILE: passfile = val; break;
		case O_SAME: sdd.path = val; break;
		case O_JSON: json = 1; break;
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
	if (cli_read_file(sd_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_file_parse(text, len, &sd, &e)) != 0) {
		cli_core_error(r, &e, "%s", sd_path);
		goto out;
	}
	if (keyset_open(sd, refs, n_refs, passfile, 0, &ks) != 0)
		goto out;
	keyset_warn(&ks);

	for (i = 0, len = 0; i < sd->n_shares; i++)
		if (ks.shares[i] != NULL)
			opened[len++] = i;
	if (len >= sd->required) {
		/* C(10,5) = 252 at most */
		if ((qs = calloc(252, sizeof(*qs))) == NULL) {
			cli_error("out of memory");
			goto out;
		}
		for (i = 0; i < sd->required; i++)
			c[i] = i;
		do {
			for (i = 0; i < sd->required; i++)
				qs[nq].idx[i] = opened[c[i]];
			if (check_quorum(sd, &ks, &qs[nq]) == 0)
				n_ok++;
			nq++;
		} while (next_combination(c, sd->required, len));
	}
	/*
	 * A key that was given but opened nothing is a failure too: an
	 * auditor checking with every officer's key must not get exit 0
	 * while one of those keys is useless.
	 */
	if (sdd.path != NULL)
		same_data_check(&sdd, sd, &ks, refs, n_refs, passfile);
	for (i = 0; i < ks.n_keys; i++)
		if (ks.keys[i].outcome != KEY_OPENED &&
		    ks.keys[i].outcome != KEY_DUPLICATE &&
		    !same_data_used_key(&sdd, i))
			n_bad_keys++;
	ok = len >= sd->required && n_ok == nq && n_bad_keys == 0 &&
	    (sdd.path == NULL || sdd.code == 0);

	if (json) {
		report = report_json(sd_path, sd, &ks, qs, nq, ok);
		if (sdd.path != NULL)
			json_object_set_new(report, "same_data",
			    same_data_json(&sdd, sd));
		cli_print_json(report);
		json_decref(report);
	} else {
		printf("%s: quorum %u of %zu shares, %zu data items\n", sd_path,
		    sd->required, sd->n_shares, sd->data.n);
		for (i = 0; i < ks.n_keys; i++) {
			keyset_describe(&ks.keys[i], sd, &ks, desc, sizeof(desc));
			printf("  key %s: %s\n", ks.keys[i].ref, desc);
		}
		for (i = 0; i < nq; i++) {
			quorum_name(&qs[i], sd->required, name, sizeof(name));
			if (qs[i].code == 0)
				printf("  quorum %s: ok, all %zu data items "
				    "authenticated\n", name, sd->data.n);
			else
				printf("  quorum %s: FAILED: %s\n", name,
				    qs[i].detail);
		}
		if (len < sd->required)
			printf("FAILED: %zu of the %u shares needed were opened; "
			    "no quorum could be checked\n", len, sd->required);
		else if (n_ok != nq)
			printf("FAILED: %zu of %zu quorums do not open this SD "
			    "file\n", nq - n_ok, nq);
		else if (n_bad_keys > 0)
			printf("FAILED: %zu of the %zu keys given opened no share; "
			    "every quorum of the other keys works (%zu "
			    "combination%s)\n", n_bad_keys, ks.n_keys, nq,
			    nq == 1 ? "" : "s");
		else
			printf("OK: every quorum of the %zu opened shares (%zu "
			    "combination%s) opens this SD file\n", len, nq,
			    nq == 1 ? "" : "s");
		if (len < sd->n_shares) {
			printf("note: %zu of %zu shares not covered:", 
			    sd->n_shares - len, sd->n_shares);
			for (i = 0; i < sd->n_shares; i++)
				if (ks.shares[i] == NULL)
					printf(" #%zu", i + 1);
			printf(" (their keys were not given or did not open)\n");
		}
		if (sdd.path != NULL)
			same_data_print(&sdd, sd);
	}
	ret = ok ? EXIT_OK : EXIT_FAIL;
 out:
	free(qs);
	same_data_clear(&sdd);
	keyset_clear(&ks);
	sd_file_free(sd);
	free(text);
	free(refs);
	return ret;
}
