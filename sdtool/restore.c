/*
 * restore.c - a restore blob from an SD file and a quorum of keys (see
 * restore.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "restore.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"

int
restore_blob_make(const char *sd_path, const struct sd_file *sd, X509 *exch,
    const char *exch_x5t, char *const *refs, size_t n_refs,
    const char *password_file, int quiet, struct keyset *ks,
    char **blob_json, size_t *n_items)
{
	struct sd_blob *blob = NULL, *check = NULL;
	struct sd_secret *master = NULL, **pts = NULL;
	struct sd_err e = { "" };
	const uint8_t *parts[SD_MAX_SHARES];
	char *out_json = NULL, desc[600];
	size_t n, i;
	int r, ret = EXIT_FAIL;

	*blob_json = NULL;
	*n_items = 0;
	if (n_refs < sd->required)
		return cli_usage_error("this SD file needs %u keys; %zu given",
		    sd->required, n_refs);
	if (keyset_open(sd, refs, n_refs, password_file, 1, ks) != 0)
		goto out;
	keyset_warn(ks);
	if (!quiet)
		for (i = 0; i < ks->n_keys; i++) {
			keyset_describe(&ks->keys[i], sd, ks, desc, sizeof(desc));
			fprintf(stderr, "key %s: %s\n", ks->keys[i].ref, desc);
		}
	if (ks->n_opened < sd->required) {
		cli_error("%s: %zu of the %u shares needed could be opened",
		    sd_path, ks->n_opened, sd->required);
		goto out;
	}
	for (i = 0, n = 0; i < sd->n_shares && n < sd->required; i++)
		if (ks->shares[i] != NULL)
			parts[n++] = ks->shares[i]->p;
	if ((r = shamir_combine(parts, n, SD_SHARE_LEN, &master, &e)) != 0) {
		cli_core_error(r, &e, "%s: the opened shares do not recombine",
		    sd_path);
		goto out;
	}
	if ((r = sd_data_open(&sd->data, master, &pts, &e)) != 0) {
		cli_core_error(r, &e, "%s: the data do not authenticate under "
		    "the recombined secret (a damaged file, or a share that "
		    "does not belong to it)", sd_path);
		goto out;
	}
	if ((r = sd_blob_build(&sd->data, pts, X509_get0_pubkey(exch),
	    exch_x5t, NULL, &blob, &e)) != 0 ||
	    (r = sd_blob_serialize(blob, &out_json, &e)) != 0) {
		cli_core_error(r, &e, "building the restore blob");
		goto out;
	}
	/* What we hand to the HSM must read back as a well-formed blob. */
	if ((r = sd_blob_parse(out_json, strlen(out_json), &check, &e)) != 0) {
		cli_core_error(r, &e, "internal check of the restore blob");
		goto out;
	}
	*n_items = blob->data.n;
	*blob_json = out_json;
	out_json = NULL;
	ret = EXIT_OK;
 out:
	sd_plaintexts_free(pts, sd->data.n);
	sd_secret_free(master);
	sd_blob_free(check);
	sd_blob_free(blob);
	free(out_json);
	return ret;
}
