/*
 * ykey.c - YubiKey-wrapped key files (see ykey.h for the format and the
 * key derivation).  Every primitive is libsodium's: BLAKE2b, Argon2id,
 * XChaCha20-Poly1305; the YubiKey's HMAC-SHA1 is computed by the
 * YubiKey (or, for tests, by OpenSSL in yk_soft.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../shares/b64.h"
#include "ykey.h"

#define YKEY_TYPE "sdtool-ykey"
#define YKEY_CONTEXT "sdtool-ykey-v1"
#define YKEY_AEAD "xchacha20poly1305-ietf"
#define YKEY_KDF "argon2id13"
#define DEV_YUBIKEY "yubikey"
#define DEV_SOFTWARE "software-test"

int
ykey_sniff(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
	    buf[i] == '\n'))
		i++;
	if (i == len || buf[i] != '{')
		return 0;
	/* the type field, anywhere in the first kilobyte */
	return memmem(buf + i, len - i < 1024 ? len - i : 1024,
	    "\"" YKEY_TYPE "\"", sizeof(YKEY_TYPE) + 1) != NULL;
}

void
ykey_free(struct ykey *y)
{
	if (y == NULL)
		return;
	free(y->ct);
	free(y);
}

/* A base64url field of exactly n bytes (n 0: any length, malloc'd). */
static int
get_b64(json_t *o, const char *name, uint8_t *fixed, size_t n, uint8_t **var,
    size_t *var_len, struct sd_err *e)
{
	json_t *v = json_object_get(o, name);
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (!json_is_string(v))
		return sd_err_set(e, SD_ERR_FORMAT, "%s: missing or not a "
		    "string", name);
	if ((r = b64url_decode(json_string_value(v), json_string_length(v),
	    &buf, &len, e)) != 0)
		return sd_err_prefix(e, r, "%s", name);
	if (fixed != NULL) {
		if (len != n) {
			free(buf);
			return sd_err_set(e, SD_ERR_FORMAT, "%s: %zu bytes, "
			    "expected %zu", name, len, n);
		}
		memcpy(fixed, buf, n);
		free(buf);
		return 0;
	}
	*var = buf;
	*var_len = len;
	return 0;
}

int
ykey_parse(const char *buf, size_t len, struct ykey **out, struct sd_err *e)
{
	json_error_t jerr;
	json_t *root = NULL, *v, *pw;
	struct ykey *y = NULL;
	const char *s;
	json_int_t n;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "not a YubiKey-wrapped key "
		    "(not JSON: %s, line %d)", jerr.text, jerr.line);
		goto out;
	}
	if (!json_is_object(root) ||
	    !json_is_string(v = json_object_get(root, "type")) ||
	    strcmp(json_string_value(v), YKEY_TYPE) != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "not a YubiKey-wrapped key "
		    "(type \"%s\")", YKEY_TYPE);
		goto out;
	}
	if (!json_is_integer(v = json_object_get(root, "version")) ||
	    json_integer_value(v) != 1) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "version: only 1 is "
		    "known");
		goto out;
	}
	if ((y = calloc(1, sizeof(*y))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (!json_is_string(v = json_object_get(root, "device")) ||
	    (strcmp((s = json_string_value(v)), DEV_YUBIKEY) != 0 &&
	    strcmp(s, DEV_SOFTWARE) != 0)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "device: \"%s\" or \"%s\" "
		    "expected", DEV_YUBIKEY, DEV_SOFTWARE);
		goto out;
	}
	y->software = strcmp(s, DEV_SOFTWARE) == 0;
	if (!json_is_integer(v = json_object_get(root, "serial")) ||
	    (n = json_integer_value(v)) < 0 || n > 0xffffffffLL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "serial: a number expected");
		goto out;
	}
	y->serial = (unsigned)n;
	if (!json_is_integer(v = json_object_get(root, "slot")) ||
	    ((n = json_integer_value(v)) != 1 && n != 2)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "slot: 1 or 2 expected");
		goto out;
	}
	y->slot = (int)n;
	if ((r = get_b64(root, "challenge", y->challenge, sizeof(y->challenge),
	    NULL, NULL, e)) != 0)
		goto out;
	pw = json_object_get(root, "passphrase");
	if (pw != NULL && !json_is_null(pw)) {
		if (!json_is_object(pw) ||
		    !json_is_string(v = json_object_get(pw, "kdf")) ||
		    strcmp(json_string_value(v), YKEY_KDF) != 0) {
			r = sd_err_set(e, SD_ERR_UNSUPPORTED, "passphrase.kdf: "
			    "only \"%s\" is known", YKEY_KDF);
			goto out;
		}
		if ((r = get_b64(pw, "salt", y->salt, sizeof(y->salt), NULL,
		    NULL, e)) != 0) {
			sd_err_prefix(e, r, "passphrase");
			goto out;
		}
		if (!json_is_integer(v = json_object_get(pw, "opslimit")) ||
		    (n = json_integer_value(v)) <
		    (json_int_t)crypto_pwhash_OPSLIMIT_MIN ||
		    n > YKEY_MAX_OPSLIMIT) {
			r = sd_err_set(e, SD_ERR_RANGE, "passphrase.opslimit: "
			    "%d to %d accepted", (int)crypto_pwhash_OPSLIMIT_MIN,
			    YKEY_MAX_OPSLIMIT);
			goto out;
		}
		y->opslimit = (unsigned long long)n;
		if (!json_is_integer(v = json_object_get(pw, "memlimit")) ||
		    (n = json_integer_value(v)) <
		    (json_int_t)crypto_pwhash_MEMLIMIT_MIN ||
		    (unsigned long long)n > YKEY_MAX_MEMLIMIT) {
			r = sd_err_set(e, SD_ERR_RANGE, "passphrase.memlimit: "
			    "%zu to %lu bytes accepted",
			    (size_t)crypto_pwhash_MEMLIMIT_MIN,
			    YKEY_MAX_MEMLIMIT);
			goto out;
		}
		y->memlimit = (size_t)n;
		y->has_passphrase = 1;
	}
	if (!json_is_string(v = json_object_get(root, "aead")) ||
	    strcmp(json_string_value(v), YKEY_AEAD) != 0) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "aead: only \"%s\" is "
		    "known", YKEY_AEAD);
		goto out;
	}
	if ((r = get_b64(root, "nonce", y->nonce, sizeof(y->nonce), NULL, NULL,
	    e)) != 0 ||
	    (r = get_b64(root, "ciphertext", NULL, 0, &y->ct, &y->ct_len,
	    e)) != 0)
		goto out;
	if (y->ct_len < crypto_aead_xchacha20poly1305_ietf_ABYTES + 1) {
		r = sd_err_set(e, SD_ERR_FORMAT, "ciphertext: too short");
		goto out;
	}
	v = json_object_get(root, "x5t_256");
	if (json_is_string(v)) {
		if (json_string_length(v) != SD_X5T_LEN) {
			r = sd_err_set(e, SD_ERR_FORMAT, "x5t_256: %d characters "
			    "expected", SD_X5T_LEN);
			goto out;
		}
		memcpy(y->x5t_256, json_string_value(v), SD_X5T_SIZE);
	} else if (v != NULL && !json_is_null(v)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "x5t_256: a string expected");
		goto out;
	}
	*out = y;
	y = NULL;
	r = 0;
 out:
	json_decref(root);
	ykey_free(y);
	return r;
}

/*
 * The additional data: every field but the ciphertext, one per line, in
 * a fixed order, binary values in hex.  *out malloc'd.
 */
static int
aad(const struct ykey *y, char **out, size_t *len)
{
	char ch[2 * YKEY_CHALLENGE_LEN + 1], salt[2 * YKEY_SALT_LEN + 1];
	char nonce[2 * YKEY_NONCE_LEN + 1];
	int n;

	sodium_bin2hex(ch, sizeof(ch), y->challenge, sizeof(y->challenge));
	sodium_bin2hex(salt, sizeof(salt), y->salt, sizeof(y->salt));
	sodium_bin2hex(nonce, sizeof(nonce), y->nonce, sizeof(y->nonce));
	if (y->has_passphrase)
		n = asprintf(out, "%s\ndevice=%s\nserial=%u\nslot=%d\n"
		    "challenge=%s\npassphrase=%s salt=%s opslimit=%llu "
		    "memlimit=%zu\naead=%s\nnonce=%s\nx5t_256=%s\n",
		    YKEY_CONTEXT, y->software ? DEV_SOFTWARE : DEV_YUBIKEY,
		    y->serial, y->slot, ch, YKEY_KDF, salt, y->opslimit,
		    y->memlimit, YKEY_AEAD, nonce, y->x5t_256);
	else
		n = asprintf(out, "%s\ndevice=%s\nserial=%u\nslot=%d\n"
		    "challenge=%s\npassphrase=none\naead=%s\nnonce=%s\n"
		    "x5t_256=%s\n", YKEY_CONTEXT,
		    y->software ? DEV_SOFTWARE : DEV_YUBIKEY, y->serial,
		    y->slot, ch, YKEY_AEAD, nonce, y->x5t_256);
	if (n < 0) {
		*out = NULL;
		return SD_ERR_ALLOC;
	}
	*len = (size_t)n;
	return 0;
}

int
ykey_check_kind(const struct ykey *y, int soft, struct sd_err *e)
{
	if (y->software && !soft)
		return sd_err_set(e, SD_ERR_KEY, "it was wrapped with sdtool's "
		    "software YubiKey, a TEST device, not with a YubiKey: it "
		    "protects nothing and real devices do not open it");
	if (!y->software && soft)
		return sd_err_set(e, SD_ERR_KEY, "it was wrapped with YubiKey "
		    "serial %u; the software test YubiKey "
		    "(SDTOOL_YK_SOFTWARE_SECRET_FILE) cannot open it", y->serial);
	return 0;
}

/* Is dev the device y was made with? */
static int
check_device(const struct ykey *y, struct yk_dev *dev, struct sd_err *e)
{
	int r;

	if ((r = ykey_check_kind(y, yk_kind(dev) == YK_SOFTWARE, e)) != 0)
		return r;
	if (y->serial != 0 && yk_serial(dev) != 0 &&
	    y->serial != yk_serial(dev))
		return sd_err_set(e, SD_ERR_KEY, "it was wrapped with YubiKey "
		    "serial %u; this is %s", y->serial, yk_name(dev));
	return 0;
}

/* K from the response and the passphrase (see ykey.h). */
static int
derive(const struct ykey *y, const uint8_t resp[static YK_RESPONSE_LEN],
    const char *passphrase, uint8_t key[static YKEY_KEY_LEN],
    struct sd_err *e)
{
	crypto_generichash_state st;
	uint8_t *pk = NULL, flag;
	int r = SD_ERR_INTERNAL;

	if (y->has_passphrase && passphrase == NULL)
		return sd_err_set(e, SD_ERR_PASSPHRASE, "it is also protected "
		    "by a passphrase, and none was given");
	if ((pk = sodium_malloc(YKEY_KEY_LEN)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if (y->has_passphrase && crypto_pwhash(pk, YKEY_KEY_LEN, passphrase,
	    strlen(passphrase), y->salt, y->opslimit, y->memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "Argon2id needs %zu MiB of "
		    "memory, which could not be had", y->memlimit >> 20);
		goto out;
	}
	flag = y->has_passphrase ? 1 : 0;
	if (crypto_generichash_init(&st, resp, YK_RESPONSE_LEN,
	    YKEY_KEY_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)YKEY_CONTEXT,
	    sizeof(YKEY_CONTEXT)) != 0 ||
	    crypto_generichash_update(&st, &flag, 1) != 0 ||
	    (flag && crypto_generichash_update(&st, pk, YKEY_KEY_LEN) != 0) ||
	    crypto_generichash_final(&st, key, YKEY_KEY_LEN) != 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "BLAKE2b failed");
		goto out;
	}
	r = 0;
 out:
	sodium_memzero(&st, sizeof(st));
	sodium_free(pk);
	return r;
}

int
ykey_derive(const struct ykey *y, struct yk_dev *dev, const char *passphrase,
    uint8_t key[static YKEY_KEY_LEN], struct sd_err *e)
{
	uint8_t *resp = NULL;
	int r;

	if ((r = check_device(y, dev, e)) != 0)
		return r;
	if ((resp = sodium_malloc(YK_RESPONSE_LEN)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if ((r = yk_challenge(dev, y->slot, y->challenge, sizeof(y->challenge),
	    resp, e)) == 0)
		r = derive(y, resp, passphrase, key, e);
	sodium_free(resp);
	return r;
}

int
ykey_decrypt(const struct ykey *y, const uint8_t key[static YKEY_KEY_LEN],
    struct sd_secret **pkcs8, struct sd_err *e)
{
	struct sd_secret *pt = NULL;
	unsigned long long n = 0;
	char *ad = NULL;
	size_t adl = 0;
	int r = SD_ERR_INTERNAL;

	*pkcs8 = NULL;
	if (aad(y, &ad, &adl) != 0)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if ((pt = sd_secret_new(y->ct_len)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt->p, &n, NULL, y->ct,
	    y->ct_len, (const uint8_t *)ad, adl, y->nonce, key) != 0) {
		r = sd_err_set(e, SD_ERR_AUTH, "it does not open: %s",
		    y->has_passphrase ? "wrong passphrase, a YubiKey slot "
		    "with another secret, or a damaged file" : "a YubiKey slot "
		    "with another secret, or a damaged file");
		goto out;
	}
	pt->len = (size_t)n;
	*pkcs8 = pt;
	pt = NULL;
	r = 0;
 out:
	sd_secret_free(pt);
	free(ad);
	return r;
}

static int
set_b64(json_t *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = NULL;
	int r;

	if (b64url_encode(p, n, &s) != 0)
		return -1;
	r = json_object_set_new(o, name, json_string(s));
	free(s);
	return r;
}

int
ykey_wrap(const uint8_t *pkcs8, size_t len, struct yk_dev *dev, int slot,
    const char *passphrase, const char *x5t_256, const struct sd_rng *rng,
    char **json, struct sd_err *e)
{
	struct ykey y;
	json_t *root = NULL, *pw = NULL;
	uint8_t *key = NULL, *resp = NULL;
	unsigned long long clen = 0;
	char *ad = NULL;
	size_t adl = 0;
	int r = SD_ERR_INTERNAL;

	*json = NULL;
	memset(&y, 0, sizeof(y));
	if (slot != 1 && slot != 2)
		return sd_err_set(e, SD_ERR_ARG, "slot %d: 1 or 2", slot);
	y.software = yk_kind(dev) == YK_SOFTWARE;
	y.serial = yk_serial(dev);
	y.slot = slot;
	sd_random(rng, y.challenge, sizeof(y.challenge));
	sd_random(rng, y.nonce, sizeof(y.nonce));
	if (passphrase != NULL) {
		y.has_passphrase = 1;
		sd_random(rng, y.salt, sizeof(y.salt));
		y.opslimit = YKEY_OPSLIMIT;
		y.memlimit = YKEY_MEMLIMIT;
	}
	if (x5t_256 != NULL)
		snprintf(y.x5t_256, sizeof(y.x5t_256), "%s", x5t_256);
	if ((key = sodium_malloc(YKEY_KEY_LEN)) == NULL ||
	    (resp = sodium_malloc(YK_RESPONSE_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if ((r = yk_challenge(dev, slot, y.challenge, sizeof(y.challenge),
	    resp, e)) != 0 ||
	    (r = derive(&y, resp, passphrase, key, e)) != 0)
		goto out;
	if (aad(&y, &ad, &adl) != 0 ||
	    (y.ct = malloc(len + crypto_aead_xchacha20poly1305_ietf_ABYTES)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(y.ct, &clen, pkcs8, len,
	    (const uint8_t *)ad, adl, NULL, y.nonce, key);
	y.ct_len = (size_t)clen;
	root = json_object();
	if (root == NULL ||
	    json_object_set_new(root, "type", json_string(YKEY_TYPE)) != 0 ||
	    json_object_set_new(root, "version", json_integer(1)) != 0 ||
	    json_object_set_new(root, "device", json_string(y.software ?
	    DEV_SOFTWARE : DEV_YUBIKEY)) != 0 ||
	    json_object_set_new(root, "serial", json_integer(y.serial)) != 0 ||
	    json_object_set_new(root, "slot", json_integer(slot)) != 0 ||
	    set_b64(root, "challenge", y.challenge, sizeof(y.challenge)) != 0)
		goto nomem;
	if (y.has_passphrase) {
		if ((pw = json_object()) == NULL ||
		    json_object_set_new(pw, "kdf", json_string(YKEY_KDF)) != 0 ||
		    set_b64(pw, "salt", y.salt, sizeof(y.salt)) != 0 ||
		    json_object_set_new(pw, "opslimit",
		    json_integer((json_int_t)y.opslimit)) != 0 ||
		    json_object_set_new(pw, "memlimit",
		    json_integer((json_int_t)y.memlimit)) != 0 ||
		    json_object_set(root, "passphrase", pw) != 0)
			goto nomem;
	} else if (json_object_set_new(root, "passphrase", json_null()) != 0)
		goto nomem;
	if (json_object_set_new(root, "aead", json_string(YKEY_AEAD)) != 0 ||
	    set_b64(root, "nonce", y.nonce, sizeof(y.nonce)) != 0 ||
	    set_b64(root, "ciphertext", y.ct, y.ct_len) != 0 ||
	    json_object_set_new(root, "x5t_256", y.x5t_256[0] ?
	    json_string(y.x5t_256) : json_null()) != 0 ||
	    (*json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		goto nomem;
	r = 0;
	goto out;
 nomem:
	r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
 out:
	json_decref(pw);
	json_decref(root);
	sodium_free(key);
	sodium_free(resp);
	free(ad);
	free(y.ct);
	return r;
}
