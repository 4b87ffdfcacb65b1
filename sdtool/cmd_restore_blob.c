/*
 * sdtool restore-blob: the offline half of a recovery.  A quorum of keys
 * opens the SD file; its data items are re-encrypted under a fresh key
 * wrapped to the recovery-mode HSM's exchange key.  The result is what
 * `az keyvault security-domain upload --restore-blob` (or `sdtool hsm
 * upload`) sends to the HSM.
 */
#include <jansson.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "report.h"
#include "restore.h"
#include "verbs.h"
#include "../hw/key.h"

#define SYNOPSIS "[--json] [--password-file FILE] --sd-file SD " \
	"--sd-exchange-key EXCH --sd-wrapping-keys KEY ... --out BLOB"

enum { O_JSON = 1, O_SD, O_EXCH, O_KEYS, O_OUT, O_PASSFILE };

static const struct opt opts[] = {
	{ O_SD, "sd-file", 0, OPT_VALUE, "SD",
	    "the security-domain file ('-': standard input)" },
	{ O_EXCH, "sd-exchange-key", 0, OPT_VALUE, "EXCH",
	    "the HSM's exchange key: certificate or transfer-key reply" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY",
	    "a quorum of the officers' private keys" },
	{ O_OUT, "out", 'o', OPT_VALUE, "BLOB",
	    "where to write the restore blob (must not exist; '-': "
	    "standard output)" },
	{ O_OUT, "sd-file-restore-blob", 0, OPT_VALUE, "BLOB",
	    "the same as --out, as azure-cli names it" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "passphrases, one line per key in order (one line: for all)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

int
cmd_restore_blob(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_file *sd = NULL;
	struct sd_err e = { "" };
	struct keyset ks = { 0 };
	const char *val, *sd_path = NULL, *exch_path = NULL, *out_path = NULL;
	const char *passfile = NULL;
	char **refs = NULL, *text = NULL, *out_json = NULL;
	char exch_x5t[SD_X5T_SIZE];
	size_t len, n_refs = 0, n_items = 0, i;
	X509 *exch = NULL;
	json_t *report, *arr, *o;
	int id, r, json = 0, ret = EXIT_FAIL;

	if ((refs = calloc((size_t)argc, sizeof(*refs))) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	opt_init(&p, argc, argv, opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_SD: sd_path = val; break;
		case O_EXCH: exch_path = val; break;
		case O_KEYS: refs[n_refs++] = (char *)val; break;
		case O_OUT: out_path = val; break;
		case O_PASSFILE: passfile = val; break;
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
	if (sd_path == NULL || exch_path == NULL || n_refs == 0 ||
	    out_path == NULL) {
		ret = cli_usage_error("--sd-file, --sd-exchange-key, "
		    "--sd-wrapping-keys and --out are required");
		goto out;
	}
	if (json && strcmp(out_path, "-") == 0) {
		ret = cli_usage_error("--json and --out - would both write to "
		    "standard output: give --out a file name");
		goto out;
	}
	/* Fail now, not after the officers have typed their passphrases. */
	if (cli_refuse_existing(out_path) != 0)
		goto out;
	if (cli_read_file(sd_path, SD_MAX_FILE_LEN, &text, &len) != 0)
		goto out;
	if ((r = sd_file_parse(text, len, &sd, &e)) != 0) {
		cli_core_error(r, &e, "%s", sd_path);
		goto out;
	}
	if ((r = pki_exchange_cert_load(exch_path, &exch, &e)) != 0 ||
	    (r = pki_cert_x5t256(exch, exch_x5t)) != 0) {
		/* hw's detail names the file */
		cli_core_error(r, &e, "--sd-exchange-key");
		goto out;
	}
	if ((ret = restore_blob_make(sd_path, sd, exch, exch_x5t, refs, n_refs,
	    passfile, json, &ks, &out_json, &n_items)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (cli_write_new_file(out_path, out_json, strlen(out_json), 0644) != 0)
		goto out;

	if (json) {
		report = report_new("restore-blob");
		json_object_set_new(report, "out", json_string(out_path));
		json_object_set_new(report, "file", json_string(sd_path));
		o = json_object();
		json_object_set_new(o, "file", json_string(exch_path));
		json_object_set_new(o, "x5t_256", json_string(exch_x5t));
		json_object_set_new(report, "exchange_key", o);
		json_object_set_new(report, "data_items",
		    json_integer((json_int_t)n_items));
		arr = json_array();
		for (i = 0; i < ks.n_keys; i++)
			if (ks.keys[i].outcome == KEY_OPENED)
				json_array_append_new(arr,
				    json_string(ks.keys[i].ref));
		json_object_set_new(report, "keys_used", arr);
		report_set_ok(report, 1);
		report_print(report);
		json_decref(report);
	} else {
		/* with --out -, the blob is on stdout: the report goes aside */
		FILE *to = strcmp(out_path, "-") == 0 ? stderr : stdout;

		fprintf(to, "restore blob written to %s\n",
		    strcmp(out_path, "-") == 0 ? "standard output" : out_path);
		fprintf(to, "  encrypted to exchange key x5t_256 %s\n", exch_x5t);
		fprintf(to, "  %zu data items re-encrypted from %s\n",
		    n_items, sd_path);
		fprintf(to, "Compare that thumbprint with the one the "
		    "recovery-mode HSM gave, then upload the blob.\n");
	}
	ret = EXIT_OK;
 out:
	X509_free(exch);
	keyset_clear(&ks);
	sd_file_free(sd);
	free(out_json);
	free(text);
	free(refs);
	return ret;
}
