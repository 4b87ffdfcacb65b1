#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "hwopts.h"
#include "keys.h"
#include "../hw/key.h"
#include "../shares/sdops.h"

const char *
key_outcome_name(enum key_outcome o)
{
	switch (o) {
	case KEY_OPENED: return "opened";
	case KEY_DUPLICATE: return "duplicate";
	case KEY_NO_SHARE: return "no_share";
	case KEY_PASSPHRASE: return "wrong_passphrase";
	case KEY_FAILED: return "failed";
	case KEY_SKIPPED: return "skipped";
	case KEY_POSITION: return "wrong_position";
	}
	return "failed";
}

/* Try every share not yet opened: for a key without its certificate. */
static int
open_by_trial(const struct sd_file *sd, const struct sd_decryptor *dec, struct sd_secret **share, size_t *idx,
    unsigned *x, struct sd_err *e)
{
	size_t i;
	int r;

	for (i = 0; i < sd->n_shares; i++) {
		sd_err_clear(e);
		r = sd_share_open(&sd->shares[i], dec, share, x, e);
		if (r == 0) {
			*idx = i;
			return 0;
		}
		if (r != SD_ERR_AUTH)
			return r;
	}
	return sd_err_set(e, SD_ERR_NO_SHARE,
	    "no share of this file is encrypted to this key "
	    "(tried all %zu by trial decryption: no certificate beside it)",
	    sd->n_shares);
}

/*
 * For a key that failed before its certificate was read (a wrong
 * passphrase): the share its certificate beside it is for, so that the
 * share can be reported as "failed" rather than "not given".  Only for
 * key files, by azure-cli's rule dir/cert_0.key -> dir/cert_0.cer.
 */
static int
share_of_cert_beside(const struct sd_file *sd, const char *ref, size_t *idx)
{
	char *path, x5t[SD_X5T_SIZE];
	struct sd_err e = { "" };
	X509 *cert = NULL;
	size_t i;
	int found = 0;

	if (strncmp(ref, "pkcs11:", 7) == 0 ||
	    (path = hw_cert_path_beside(ref)) == NULL)
		return 0;
	if (pki_cert_load(path, &cert, &e) != 0) {
		free(path);
		return 0;
	}
	free(path);
	if (pki_cert_x5t256(cert, x5t) == 0)
		for (i = 0; i < sd->n_shares; i++)
			if (strcmp(sd->shares[i].x5t_256, x5t) == 0) {
				*idx = i;
				found = 1;
				break;
			}
	X509_free(cert);
	return found;
}

/* hw's messages begin with the key's name; ours say it already. */
static const char *
without_ref(const char *msg, const char *ref)
{
	size_t n = strlen(ref);

	if (strncmp(msg, ref, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

static void
open_one(const struct sd_file *sd, struct keyset *ks, size_t k,
    struct cli_pass *pass)
{
	struct key_report *rep = &ks->keys[k];
	struct hw_open_opts opts = { .passphrase = cli_passphrase,
	    .passphrase_ctx = pass };
	struct hw_key *key = NULL;
	struct sd_decryptor dec;
	struct sd_secret *share = NULL;
	struct sd_err e = { "" };
	const char *x5t;
	size_t i, idx = 0;
	unsigned x = 0;
	int r;

	/* PINs, the PKCS#11 module, the YubiKey: see hwopts.h */
	cli_hw_opts(&opts, pass, NULL);
	for (;;) {
		sd_err_clear(&e);
		pass->attempt = rep->tries++;
		r = hw_key_open(rep->ref, &opts, &key, &e);
		/*
		 * A wrong passphrase or PIN typed at the terminal: ask this
		 * officer again, not the whole quorum.  Never for a file
		 * (it would say the same), nor for a locked token.
		 */
		if (r != SD_ERR_PASSPHRASE || pass->file != NULL ||
		    !cli_have_tty() || rep->tries >= KEYS_MAX_TRIES ||
		    strstr(e.msg, "wrong") == NULL ||
		    strstr(e.msg, "locked") != NULL)
			break;
		fprintf(stderr, "%s: %s; try again (%d of %d)\n",
		    cli_text(rep->ref), cli_text(without_ref(e.msg, rep->ref)),
		    rep->tries + 1,
		    KEYS_MAX_TRIES);
	}
	if (r != 0) {
		rep->code = r;
		rep->share_known = share_of_cert_beside(sd, rep->ref,
		    &rep->share);
		rep->outcome = r == SD_ERR_PASSPHRASE ? KEY_PASSPHRASE : KEY_FAILED;
		/* "wrong ...": something was given, the terminal is not why */
		if (r == SD_ERR_PASSPHRASE && pass->file == NULL &&
		    !cli_have_tty() && strstr(e.msg, "wrong") == NULL)
			snprintf(rep->detail, sizeof(rep->detail), "%s (no "
			    "terminal to ask: use --password-file)",
			    without_ref(e.msg, rep->ref));
		else
			snprintf(rep->detail, sizeof(rep->detail), "%s",
			    e.msg[0] ? without_ref(e.msg, rep->ref) : sd_strerror(r));
		return;
	}
	rep->flags = hw_key_flags(key);
	certgen_not_after(hw_key_cert(key), rep->cert_not_after);
	hw_key_decryptor(key, &dec);
	if ((x5t = hw_key_x5t256(key)) != NULL) {
		snprintf(rep->x5t_256, sizeof(rep->x5t_256), "%s", x5t);
		for (i = 0; i < sd->n_shares; i++)
			if (strcmp(sd->shares[i].x5t_256, x5t) == 0)
				break;
		if (i == sd->n_shares) {
			r = sd_err_set(&e, SD_ERR_NO_SHARE, "no share of this file "
			    "is encrypted to this key (its certificate's x5t_256 "
			    "is %s)", x5t);
		} else {
			idx = i;
			rep->share = i;
			rep->share_known = 1;
			if ((r = sd_share_open(&sd->shares[i], &dec, &share, &x,
			    &e)) != 0)
				sd_err_prefix(&e, r, "share #%zu is addressed to "
				    "this key's certificate but does not open", i + 1);
		}
	} else {
		rep->by_trial = 1;
		r = open_by_trial(sd, &dec, &share, &idx, &x, &e);
	}
	if (r != 0) {
		rep->code = r;
		rep->outcome = r == SD_ERR_NO_SHARE ? KEY_NO_SHARE : KEY_FAILED;
		snprintf(rep->detail, sizeof(rep->detail), "%s",
		    e.msg[0] ? without_ref(e.msg, rep->ref) : sd_strerror(r));
		goto out;
	}
	rep->share = idx;
	rep->share_known = 1;
	rep->x = x;
	if (x != idx + 1) {
		/*
		 * The share decrypts, but would recombine at the wrong
		 * point: the file was altered or built wrongly.
		 */
		rep->outcome = KEY_POSITION;
		rep->code = SD_ERR_SHARE;
		snprintf(rep->detail, sizeof(rep->detail), "share #%zu "
		    "decrypts, but carries x-coordinate %u where the position "
		    "of its certificate is %zu", idx + 1, x, idx + 1);
		goto out;
	}
	if (ks->shares[idx] != NULL) {
		rep->outcome = KEY_DUPLICATE;
		for (i = 0; i < k; i++)
			if (ks->keys[i].outcome == KEY_OPENED &&
			    ks->keys[i].share == idx)
				rep->dup_of = i;
		goto out;
	}
	rep->outcome = KEY_OPENED;
	ks->shares[idx] = share;
	ks->opened[idx] = 1;
	share = NULL;
	ks->n_opened++;
 out:
	sd_secret_free(share);
	hw_key_free(key);
}

/* At the terminal: each officer sees their result before the next types. */
static void
show_progress(const struct sd_file *sd, const struct keyset *ks, size_t k)
{
	char desc[600];

	keyset_describe(&ks->keys[k], sd, ks, desc, sizeof(desc));
	fprintf(stderr, "%s: %s [%zu of %u needed opened]\n",
	    cli_text(ks->keys[k].ref), cli_text(desc), ks->n_opened,
	    sd->required);
}

int
keyset_open(const struct sd_file *sd, char *const *refs, size_t n,
    const char *password_file, int stop_at_quorum, struct keyset *ks)
{
	return keyset_open_from(sd, refs, n, password_file, 0, stop_at_quorum,
	    ks);
}

int
keyset_open_from(const struct sd_file *sd, char *const *refs, size_t n,
    const char *password_file, int first_line, int stop_at_quorum,
    struct keyset *ks)
{
	struct cli_pass pass = { password_file, 0, NULL, 0, 0, 0 };
	int interactive = password_file == NULL && cli_have_tty();
	size_t k;

	memset(ks, 0, sizeof(*ks));
	if ((ks->keys = calloc(n ? n : 1, sizeof(*ks->keys))) == NULL) {
		cli_error("out of memory");
		return -1;
	}
	ks->n_keys = n;
	/* a password file that cannot be read fails once, before any key */
	if (password_file != NULL && cli_pass_load(&pass) != 0) {
		cli_pass_clear(&pass);
		return -1;
	}
	for (k = 0; k < n; k++) {
		ks->keys[k].ref = refs[k];
		if (refs[k] == NULL) {
			/* the caller knows it is not for this file */
			ks->keys[k].ref = "";
			ks->keys[k].outcome = KEY_NO_SHARE;
			continue;
		}
		if (stop_at_quorum && ks->n_opened >= sd->required) {
			ks->keys[k].outcome = KEY_SKIPPED;
			continue;
		}
		pass.index = first_line + (int)k;
		open_one(sd, ks, k, &pass);
		if (interactive)
			show_progress(sd, ks, k);
	}
	cli_pass_clear(&pass);
	return 0;
}

void
keyset_wipe_shares(struct keyset *ks)
{
	size_t i;

	for (i = 0; i < SD_MAX_SHARES; i++) {
		sd_secret_free(ks->shares[i]);
		ks->shares[i] = NULL;
	}
}

void
keyset_clear(struct keyset *ks)
{
	size_t i;

	for (i = 0; i < SD_MAX_SHARES; i++)
		sd_secret_free(ks->shares[i]);
	free(ks->keys);
	memset(ks, 0, sizeof(*ks));
}

void
keyset_describe(const struct key_report *k, const struct sd_file *sd,
    const struct keyset *ks, char *buf, size_t size)
{
	switch (k->outcome) {
	case KEY_OPENED:
		snprintf(buf, size, "opened share #%zu of %zu%s", k->share + 1,
		    sd->n_shares, k->by_trial ? " (matched by trial decryption: "
		    "no certificate beside the key)" : "");
		break;
	case KEY_DUPLICATE:
		snprintf(buf, size, "opens share #%zu, already opened by %s: "
		    "counted once", k->share + 1, ks->keys[k->dup_of].ref);
		break;
	case KEY_SKIPPED:
		snprintf(buf, size, "not used: the quorum was already reached");
		break;
	default:
		snprintf(buf, size, "%s", k->detail);
		break;
	}
}

void
keyset_warn(const struct keyset *ks)
{
	size_t i;

	for (i = 0; i < ks->n_keys; i++) {
		if (ks->keys[i].flags & HW_KEY_CERT_EXPIRED)
			cli_warn("%s: certificate expired %s; it still works "
			    "for recovery, but plan to rotate the wrapping keys",
			    ks->keys[i].ref, ks->keys[i].cert_not_after);
		if (ks->keys[i].flags & HW_KEY_CERT_NOT_YET)
			cli_warn("%s: certificate not valid yet (its notBefore "
			    "is in the future): check this machine's clock, and "
			    "that this is the certificate the HSM was given",
			    ks->keys[i].ref);
		if (ks->keys[i].flags & HW_KEY_NO_CERT)
			cli_warn("%s: no certificate beside it; shares matched "
			    "by trial decryption", ks->keys[i].ref);
	}
}
