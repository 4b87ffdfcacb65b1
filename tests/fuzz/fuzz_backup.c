/*
 * fuzz_backup - a Managed HSM key backup (shares/backup.c): the file as
 * `az keyvault key backup` writes it or the REST body, unwrapped and
 * opened with a backup protection key; and, since a random file never
 * gets past the MAC, the BSON inside: with the first byte odd, the rest
 * is taken as the backup's plaintext, sealed under the fixed key (as the
 * service would) and opened, so that the BSON reader sees every input.
 */
#include "fuzz.h"

#include <openssl/err.h>

#include "../../shares/backup.h"
#include "../../shares/jwe.h"
#include "../../shares/secret.h"

FUZZ_INIT_SODIUM()

static void
open_with(const uint8_t *file, size_t len, const struct sd_secret *bpk)
{
	struct sd_err e = { "" };
	struct sd_key_backup *kb = NULL;
	char *jwe = NULL;
	size_t jwe_len = 0;
	int r;

	r = sd_key_backup_unwrap(file, len, &jwe, &jwe_len, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (jwe != NULL));
	free(jwe);
	sd_err_clear(&e);
	r = sd_key_backup_open(file, len, bpk, &kb, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK((r == 0) == (kb != NULL));
	if (kb != NULL)
		FUZZ_CHECK(kb->n_versions == 0 || kb->versions != NULL);
	sd_key_backup_free(kb);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct sd_secret *bpk;
	char *sealed = NULL;
	size_t i;

	if (size < 1 || (bpk = sd_secret_new(JWE_CEK_LEN)) == NULL)
		return 0;
	for (i = 0; i < JWE_CEK_LEN; i++)
		bpk->p[i] = (uint8_t)(i * 7 + 1);
	if ((data[0] & 1) == 0)
		open_with(data + 1, size - 1, bpk);
	else if (jwe_encrypt_dir(bpk->p, "backup-protection-key", data + 1,
	    size - 1, NULL, &sealed, &e) == 0) {
		open_with((const uint8_t *)sealed, strlen(sealed), bpk);
		free(sealed);
	}
	sd_secret_free(bpk);
	return 0;
}
