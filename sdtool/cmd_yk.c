/*
 * sdtool yk: key files wrapped with a YubiKey's HMAC-SHA1
 * challenge-response (and, if asked, a passphrase).
 *
 *   wrap    key file -> .ykey: the private key encrypted under a key
 *           derived from the YubiKey's answer to a random challenge;
 *           proven by opening it again before anything is said
 *   unwrap  .ykey -> key file (passphrase-protected PKCS#8 PEM)
 *   info    what a .ykey says, without the YubiKey
 *
 * A .ykey is also a key reference: verify and restore-blob take it in
 * --sd-wrapping-keys, and ask the YubiKey when they open it.
 *
 * sdtool's software YubiKey ($SDTOOL_YK_SOFTWARE_SECRET_FILE) is a TEST
 * device: hw/yk_soft.c; every run that uses it says so.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "report.h"
#include "hwopts.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../hw/ykey.h"
#include "../shares/jwe.h"

enum { O_JSON = 1, O_KEY, O_SLOT, O_OUT, O_IN, O_PASSPHRASE, O_PASSFILE,
	O_NEWPASSFILE, O_NOPASS };

/*
 * The proof after wrapping: the .ykey, opened as verify opens keys,
 * decrypts a random value encrypted to the original key's public key.
 */
static int
prove(const char *path, const struct hw_key *orig, struct hw_open_opts *o)
{
	struct hw_key *k = NULL;
	struct sd_secret *got = NULL;
	struct sd_err e = { "" };
	EVP_PKEY *pub;
	uint8_t value[32], *ct = NULL;
	size_t ct_len = 0;
	int r, ret = -1;

	randombytes_buf(value, sizeof(value));
	pub = hw_key_cert(orig) != NULL ? X509_get0_pubkey(hw_key_cert(orig)) :
	    NULL;
	if ((r = hw_key_open(path, o, &k, &e)) != 0) {
		cli_core_error(r, &e, "proof");
		goto out;
	}
	if (pub == NULL && hw_key_cert(k) != NULL)
		pub = X509_get0_pubkey(hw_key_cert(k));
	if (pub == NULL) {
		/* nothing public to encrypt to: the key's size must match */
		ret = hw_key_bits(k) == hw_key_bits(orig) ? 0 : -1;
		if (ret != 0)
			cli_error("proof: %s does not hold the key of the "
			    "original", path);
		goto out;
	}
	if ((r = rsa_oaep256_encrypt(pub, value, sizeof(value), &ct, &ct_len,
	    &e)) != 0 || (r = hw_key_decrypt(k, ct, ct_len, &got, &e)) != 0) {
		cli_core_error(r, &e, "proof");
		goto out;
	}
	if (got->len != sizeof(value) ||
	    sodium_memcmp(got->p, value, sizeof(value)) != 0) {
		cli_error("proof: %s decrypts wrongly", path);
		goto out;
	}
	ret = 0;
 out:
	sodium_memzero(value, sizeof(value));
	sd_secret_free(got);
	free(ct);
	hw_key_free(k);
	return ret;
}

/* --- wrap -------------------------------------------------------------- */

/* An hw_passphrase_fn answering with the passphrase in ctx (guarded). */
static int
known_passphrase(void *ctx, const char *ref, char *buf, size_t size)
{
	size_t n;

	(void)ref;
	if (ctx == NULL || (n = strlen(ctx)) + 1 > size)
		return SD_ERR_PASSPHRASE;
	memcpy(buf, ctx, n + 1);
	return 0;
}

#define WRAP_SYNOPSIS "[--json] --key KEY --slot 1|2 --out YKEY " \
	"[--passphrase] [--password-file FILE] [--new-password-file FILE]"

static const struct opt wrap_opts[] = {
	{ O_KEY, "key", 0, OPT_VALUE, "KEY", "the key file to wrap" },
	{ O_SLOT, "slot", 0, OPT_VALUE, "1|2",
	    "the YubiKey slot set for HMAC-SHA1 challenge-response" },
	{ O_OUT, "out", 0, OPT_VALUE, "YKEY", "the .ykey file to write" },
	{ O_PASSPHRASE, "passphrase", 0, OPT_FLAG, NULL,
	    "also protect it with a new passphrase (Argon2id)" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "KEY's passphrase from FILE's first line" },
	{ O_NEWPASSFILE, "new-password-file", 0, OPT_VALUE, "FILE",
	    "the new passphrase from FILE's first line" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
yk_wrap(int argc, char **argv)
{
	struct opt_parser p;
	struct cli_pass pass = { NULL, 0, NULL, 0, 0 };
	struct hw_open_opts o;
	struct yk_open_opts yo;
	struct hw_key *key = NULL;
	struct sd_err e = { "" };
	const char *val, *key_path = NULL, *out = NULL, *newpass = NULL;
	char *json = NULL, *pw = NULL;
	unsigned serial = 0;
	long slot = 0;
	int id, r, want_pass = 0, json_out = 0, software = 0;
	int ret = EXIT_FAIL;
	json_t *rep;

	opt_init(&p, argc, argv, wrap_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_KEY: key_path = val; break;
		case O_OUT: out = val; break;
		case O_SLOT:
			if (opt_int(&p, "--slot", val, 1, 2, &slot) != 0)
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_PASSPHRASE: want_pass = 1; break;
		case O_PASSFILE: pass.file = val; break;
		case O_NEWPASSFILE: newpass = val; break;
		case O_JSON: json_out = 1; break;
		case OPT_HELP: return cli_usage(stdout, WRAP_SYNOPSIS, wrap_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (key_path == NULL || out == NULL || slot == 0)
		return cli_usage_error("--key, --slot and --out are required");
	if (newpass != NULL && !want_pass)
		return cli_usage_error("--new-password-file goes with "
		    "--passphrase");
	if (cli_refuse_existing(out) != 0)
		goto done;
	memset(&o, 0, sizeof(o));
	o.passphrase = cli_passphrase;
	o.passphrase_ctx = &pass;
	cli_hw_opts(&o, &pass, NULL);
	if ((r = hw_key_open(key_path, &o, &key, &e)) != 0) {
		cli_core_error(r, &e, "--key");
		goto done;
	}
	if (hw_key_flags(key) & (HW_KEY_TOKEN | HW_KEY_YKEY)) {
		cli_error("%s: not a key file; only a key file can be wrapped",
		    key_path);
		goto done;
	}
	if (hw_key_cert(key) == NULL)
		cli_warn("%s: no certificate beside it; the .ykey will open its "
		    "share by trial decryption", key_path);
	if (want_pass) {
		if ((pw = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
			cli_error("out of locked memory");
			goto done;
		}
		if (cli_new_passphrase(newpass, out, pw, HW_MAX_PASSPHRASE) != 0)
			goto done;
	}
	memset(&yo, 0, sizeof(yo));
	yo.software = o.yk_software;
	yo.notify = cli_pin;
	if ((r = hw_ykey_wrap(key, &yo, (int)slot, pw, NULL, &json, &serial,
	    &software, &e)) != 0) {
		cli_core_error(r, &e, "%s", key_path);
		goto done;
	}
	if (cli_write_new_file(out, json, strlen(json), 0600) != 0)
		goto done;
	/* opened again as verify will open it, with the passphrase just set */
	o.passphrase = known_passphrase;
	o.passphrase_ctx = pw;
	if (prove(out, key, &o) != 0) {
		cli_error("%s does not open; removing it", out);
		(void)remove(out);
		goto done;
	}
	if (json_out) {
		rep = report_new("yk");
		json_object_set_new(rep, "file", json_string(key_path));
		json_object_set_new(rep, "out", json_string(out));
		json_object_set_new(rep, "device", json_string(software ?
		    "software-test" : "yubikey"));
		json_object_set_new(rep, "serial", json_integer(serial));
		json_object_set_new(rep, "slot", json_integer(slot));
		json_object_set_new(rep, "passphrase", json_boolean(want_pass));
		json_object_set_new(rep, "x5t_256", hw_key_x5t256(key) ?
		    json_string(hw_key_x5t256(key)) : json_null());
		json_object_set_new(rep, "proof", json_true());
		report_set_ok(rep, 1);
		report_print(rep);
		json_decref(rep);
	} else {
		printf("%s written: %s wrapped with %s, slot %ld%s\n", out,
		    key_path, software ? "the software TEST YubiKey" :
		    "YubiKey", slot, want_pass ? ", and a passphrase" : "");
		if (serial != 0)
			printf("  YubiKey serial %u\n", serial);
		if (hw_key_x5t256(key) != NULL)
			printf("  x5t_256 %s\n", hw_key_x5t256(key));
		printf("  proof: opened again with the YubiKey, it decrypted a "
		    "test value\n");
		printf("Keep the certificate beside it; %s still exists: "
		    "destroy it once the .ykey is in place, or keep it offline "
		    "as a backup.\n", key_path);
	}
	ret = EXIT_OK;
 done:
	free(json);
	sodium_free(pw);
	hw_key_free(key);
	cli_pass_clear(&pass);
	return ret;
}

/* --- unwrap ------------------------------------------------------------ */

#define UNWRAP_SYNOPSIS "[--json] --in YKEY --out KEY [--no-passphrase] " \
	"[--password-file FILE] [--new-password-file FILE]"

static const struct opt unwrap_opts[] = {
	{ O_IN, "in", 0, OPT_VALUE, "YKEY", "the .ykey file" },
	{ O_OUT, "out", 0, OPT_VALUE, "KEY", "the key file to write" },
	{ O_NOPASS, "no-passphrase", 0, OPT_FLAG, NULL,
	    "write the key unencrypted (drills only)" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "the .ykey's passphrase from FILE's first line" },
	{ O_NEWPASSFILE, "new-password-file", 0, OPT_VALUE, "FILE",
	    "the key file's new passphrase from FILE's first line" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
yk_unwrap(int argc, char **argv)
{
	struct opt_parser p;
	struct cli_pass pass = { NULL, 0, NULL, 0, 0 };
	struct hw_open_opts o;
	struct sd_err e = { "" };
	EVP_PKEY *pkey = NULL;
	const char *val, *in = NULL, *out = NULL, *newpass = NULL;
	char *pw = NULL, *pem = NULL;
	size_t pem_len = 0;
	int id, r, nopass = 0, json_out = 0, ret = EXIT_FAIL;
	json_t *rep;

	opt_init(&p, argc, argv, unwrap_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_IN: in = val; break;
		case O_OUT: out = val; break;
		case O_NOPASS: nopass = 1; break;
		case O_PASSFILE: pass.file = val; break;
		case O_NEWPASSFILE: newpass = val; break;
		case O_JSON: json_out = 1; break;
		case OPT_HELP:
			return cli_usage(stdout, UNWRAP_SYNOPSIS, unwrap_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (in == NULL || out == NULL)
		return cli_usage_error("--in and --out are required");
	if (nopass && newpass != NULL)
		return cli_usage_error("--no-passphrase and --new-password-file "
		    "exclude each other");
	if (cli_refuse_existing(out) != 0)
		goto done;
	/* the new passphrase before the YubiKey: a mistyped one costs nothing */
	if (!nopass) {
		if ((pw = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
			cli_error("out of locked memory");
			goto done;
		}
		if (cli_new_passphrase(newpass, out, pw, HW_MAX_PASSPHRASE) != 0)
			goto done;
	}
	memset(&o, 0, sizeof(o));
	o.passphrase = cli_passphrase;
	o.passphrase_ctx = &pass;
	cli_hw_opts(&o, &pass, NULL);
	if ((r = hw_ykey_unwrap(in, &o, &pkey, &e)) != 0) {
		cli_core_error(r, &e, "--in");
		goto done;
	}
	if ((r = certgen_key_pem(pkey, pw, &pem, &pem_len, &e)) != 0) {
		cli_core_error(r, &e, "%s", out);
		goto done;
	}
	if (cli_write_new_file(out, pem, pem_len, 0600) != 0)
		goto done;
	if (json_out) {
		rep = report_new("yk");
		json_object_set_new(rep, "file", json_string(in));
		json_object_set_new(rep, "out", json_string(out));
		json_object_set_new(rep, "passphrase", json_boolean(!nopass));
		report_set_ok(rep, 1);
		report_print(rep);
		json_decref(rep);
	} else {
		printf("%s written from %s (%s)\n", out, in, nopass ?
		    "NOT protected by a passphrase" : "passphrase-protected");
	}
	if (nopass)
		cli_warn("%s: written without a passphrase; anyone who copies "
		    "it holds the key", out);
	ret = EXIT_OK;
 done:
	sodium_free(pem);
	sodium_free(pw);
	EVP_PKEY_free(pkey);
	cli_pass_clear(&pass);
	return ret;
}

/* --- info -------------------------------------------------------------- */

#define INFO_SYNOPSIS "[--json] YKEY"

static const struct opt info_opts[] = {
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
yk_info(int argc, char **argv)
{
	struct opt_parser p;
	struct ykey *y = NULL;
	struct sd_err e = { "" };
	const char *val, *path = NULL;
	char *text = NULL;
	size_t len = 0;
	int id, r, json_out = 0, ret = EXIT_FAIL;
	json_t *rep;

	opt_init(&p, argc, argv, info_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_JSON: json_out = 1; break;
		case 0:
			if (path != NULL)
				return cli_usage_error("one .ykey file at a "
				    "time");
			path = val;
			break;
		case OPT_HELP: return cli_usage(stdout, INFO_SYNOPSIS, info_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (path == NULL)
		return cli_usage_error("which .ykey file?");
	if (cli_read_file(path, YKEY_MAX_FILE, &text, &len) != 0)
		goto done;
	if ((r = ykey_parse(text, len, &y, &e)) != 0) {
		cli_core_error(r, &e, "%s", path);
		goto done;
	}
	if (json_out) {
		rep = report_new("yk");
		json_object_set_new(rep, "file", json_string(path));
		json_object_set_new(rep, "device", json_string(y->software ?
		    "software-test" : "yubikey"));
		json_object_set_new(rep, "serial", json_integer(y->serial));
		json_object_set_new(rep, "slot", json_integer(y->slot));
		json_object_set_new(rep, "passphrase",
		    json_boolean(y->has_passphrase));
		json_object_set_new(rep, "x5t_256", y->x5t_256[0] ?
		    json_string(y->x5t_256) : json_null());
		report_set_ok(rep, 1);
		report_print(rep);
		json_decref(rep);
	} else {
		printf("file:       %s\n", path);
		printf("type:       YubiKey-wrapped private key (sdtool yk "
		    "wrap)\n");
		if (y->software)
			printf("device:     sdtool's software YubiKey, a TEST "
			    "device: this file protects nothing\n");
		else if (y->serial != 0)
			printf("device:     YubiKey serial %u\n", y->serial);
		else
			printf("device:     a YubiKey whose serial is hidden\n");
		printf("slot:       %d (HMAC-SHA1 challenge-response)\n",
		    y->slot);
		if (y->has_passphrase)
			printf("passphrase: yes (Argon2id, %llu passes, %zu "
			    "MiB)\n", y->opslimit, y->memlimit >> 20);
		else
			printf("passphrase: no\n");
		if (y->x5t_256[0])
			printf("x5t_256:    %s\n", y->x5t_256);
	}
	ret = EXIT_OK;
 done:
	ykey_free(y);
	free(text);
	return ret;
}

/* --- dispatch ---------------------------------------------------------- */

#define SYNOPSIS "wrap | unwrap | info ..."

static const struct cli_verb yk_verbs[] = {
	{ "wrap", yk_wrap, "encrypt a key file with a YubiKey (.ykey)" },
	{ "unwrap", yk_unwrap, "turn a .ykey back into a key file" },
	{ "info", yk_info, "what a .ykey file says, without the YubiKey" },
	{ NULL, NULL, NULL }
};

int
cmd_yk(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, yk_verbs, argc, argv);
}
