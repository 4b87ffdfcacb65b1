/*
 * simkeys.c - the simulated HSM's keys (see simhsm.h): its "enclave" (the
 * two BSON data items it activated with, or restored from a blob), and
 * the key operations a drill needs: create an RSA key, back it up under the
 * backup protection key as the service does, restore a backup.
 *
 * The enclave files hold the backup and pool protection keys; they are
 * 0600 in the state directory, read into guarded memory.  A key's private
 * half is kept, and carried in backups (masked_objects), only masked: a
 * JWE "dir" under the pool protection key.  So a backup opens only in an
 * HSM holding the same security domain, and its key only unmasks there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../pki/certgen.h"
#include "simhsm.h"
#include "../sys/file.h"
#include "../shares/b64.h"
#include "../shares/backup.h"
#include "../shares/jwe.h"

#define ENCLAVE_BASE   "base_enclave_backup.bson"
#define ENCLAVE_PART   "partition_enclave_backup.bson"
#define KEYS_FILE      "keys.json"
#define SIM_KEY_BITS   2048

static const char *const sim_key_ops[] = {
	"wrapKey", "decrypt", "encrypt", "unwrapKey", "sign", "verify",
};
#define N_KEY_OPS (sizeof(sim_key_ops) / sizeof(sim_key_ops[0]))

int
simhsm_key_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 127)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return 0;
	return 1;
}

int
simhsm_enclave_save(const char *dir, const struct sd_secret *base,
    const struct sd_secret *part, struct sd_err *e)
{
	char *p1 = NULL, *p2 = NULL;
	int r;

	if ((p1 = simhsm_path(dir, ENCLAVE_BASE)) == NULL ||
	    (p2 = simhsm_path(dir, ENCLAVE_PART)) == NULL) {
		free(p1);
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	if ((r = sys_replace_file(p1, base->p, base->len, 0600, e)) == 0)
		r = sys_replace_file(p2, part->p, part->len, 0600, e);
	free(p1);
	free(p2);
	return r;
}

/* One enclave file into guarded memory (the malloc'd copy wiped). */
static int
enclave_read(const char *dir, const char *name, struct sd_secret **out,
    struct sd_err *e)
{
	char *path = NULL, *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((path = simhsm_path(dir, name)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if ((r = sys_read_file(path, SIMHSM_MAX_STATE, &buf, &len, e)) != 0) {
		sd_err_set(e, SD_ERR_ARG, "%s: this simulated HSM holds no "
		    "security domain (activate it, or restore one into it)",
		    dir);
		free(path);
		return SD_ERR_ARG;
	}
	free(path);
	if ((*out = sd_secret_dup((uint8_t *)buf, len)) == NULL)
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	sodium_memzero(buf, len);
	free(buf);
	return r;
}

/* The backup and pool protection keys of the HSM in dir. */
struct enclave {
	struct sd_secret *bpk, *ppk;
	char ppk_kid[128];
};

static void
enclave_clear(struct enclave *en)
{
	sd_secret_free(en->bpk);
	sd_secret_free(en->ppk);
	memset(en, 0, sizeof(*en));
}

static int
enclave_load(const char *dir, struct enclave *en, struct sd_err *e)
{
	struct sd_secret *pts[2] = { NULL, NULL };
	struct sd_datum items[2];
	struct sd_enc_data d;
	struct sd_identity *id = NULL;
	size_t k;
	int r;

	memset(en, 0, sizeof(*en));
	memset(items, 0, sizeof(items));
	items[0].tag = (char *)SD_SDID_ITEM;
	items[1].tag = (char *)SD_BPK_ITEM;
	d.kdf = (char *)SD_KDF_NAME;
	d.n = 2;
	d.items = items;
	if ((r = enclave_read(dir, ENCLAVE_BASE, &pts[0], e)) != 0 ||
	    (r = enclave_read(dir, ENCLAVE_PART, &pts[1], e)) != 0)
		goto out;
	if ((r = sd_backup_key_get(&d, pts, &en->bpk, e)) != 0 ||
	    (r = sd_identity_read(&d, pts, &id, e)) != 0)
		goto out;
	for (k = 0; k < id->items[0].n_keys; k++)
		if (strcmp(id->items[0].keys[k].field,
		    "pool_protection_key") == 0)
			break;
	if (k == id->items[0].n_keys) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: the enclave holds no pool "
		    "protection key", dir);
		goto out;
	}
	snprintf(en->ppk_kid, sizeof(en->ppk_kid), "%s",
	    id->items[0].keys[k].kid);
	if ((r = sd_item_key_get(&d, pts, SD_SDID_ITEM, "pool_protection_key",
	    &en->ppk, e)) != 0)
		goto out;
	r = 0;
 out:
	if (r != 0)
		enclave_clear(en);
	sd_identity_free(id);
	sd_secret_free(pts[0]);
	sd_secret_free(pts[1]);
	return r;
}

static int
keys_load(const char *dir, json_t **keys, struct sd_err *e)
{
	json_error_t jerr;
	char *path;

	*keys = NULL;
	if ((path = simhsm_path(dir, KEYS_FILE)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if (access(path, F_OK) != 0)
		*keys = json_object();
	else
		*keys = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	free(path);
	if (*keys == NULL || !json_is_object(*keys)) {
		json_decref(*keys);
		*keys = NULL;
		return sd_err_set(e, SD_ERR_FORMAT, "%s/%s: unreadable", dir,
		    KEYS_FILE);
	}
	return 0;
}

static int
keys_save(const char *dir, json_t *keys, struct sd_err *e)
{
	char *path = NULL, *text = NULL;
	int r;

	if ((path = simhsm_path(dir, KEYS_FILE)) == NULL ||
	    (text = json_dumps(keys, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		free(path);
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	r = sys_replace_file(path, text, strlen(text), 0600, e);
	free(text);
	free(path);
	return r;
}

/* The service's reply to create and restore: attributes and the JWK. */
static char *
key_reply(const json_t *rec)
{
	json_t *o;
	char *text;

	o = json_pack("{s:{s:O,s:b,s:b,s:i,s:s,s:O},s:{s:O,s:O,s:O,s:O,s:O}}",
	    "attributes", "created", json_object_get(rec, "created"),
	    "enabled", 1, "exportable", 0, "recoverableDays", 7,
	    "recoveryLevel", "CustomizedRecoverable+Purgeable",
	    "updated", json_object_get(rec, "updated"),
	    "key", "e", json_object_get(rec, "e"),
	    "key_ops", json_object_get(rec, "key_ops"),
	    "kid", json_object_get(rec, "kid"),
	    "kty", json_object_get(rec, "kty"),
	    "n", json_object_get(rec, "n"));
	if (o == NULL)
		return NULL;
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

static int
bn_member(EVP_PKEY *k, const char *param, char **out)
{
	BIGNUM *bn = NULL;
	uint8_t *buf = NULL;
	int n, r = -1;

	*out = NULL;
	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		return -1;
	n = BN_num_bytes(bn);
	if ((buf = malloc((size_t)n + 1)) != NULL &&
	    BN_bn2bin(bn, buf) == n && b64url_encode(buf, (size_t)n, out) == 0)
		r = 0;
	free(buf);
	BN_free(bn);
	return r;
}

int
simhsm_key_create(const char *dir, const char *name, const char *host,
    char **reply, struct sd_err *e)
{
	struct enclave en;
	EVP_PKEY *key = NULL;
	struct sd_secret *der = NULL;
	unsigned char *dp;
	char *n = NULL, *ex = NULL, *masked = NULL, kid[512], ver[33];
	uint8_t v[16];
	json_t *keys = NULL, *rec = NULL, *ops;
	size_t i;
	int len, r = SD_ERR_INTERNAL;
	time_t now = time(NULL);

	*reply = NULL;
	memset(&en, 0, sizeof(en));
	if (!simhsm_key_name_ok(name))
		return sd_err_set(e, SD_ERR_ARG, "key name \"%s\": only letters, "
		    "digits and '-', 1 to 127 characters", name);
	if ((r = enclave_load(dir, &en, e)) != 0 ||
	    (r = keys_load(dir, &keys, e)) != 0)
		goto out;
	if (json_object_get(keys, name) != NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "key %s already exists", name);
		goto out;
	}
	if ((r = certgen_rsa(SIM_KEY_BITS, NULL, NULL, &key, e)) != 0)
		goto out;
	/* the private key, PKCS#8 DER, through guarded memory into the mask */
	if ((len = i2d_PrivateKey(key, NULL)) <= 0 ||
	    (der = sd_secret_new((size_t)len)) == NULL) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "cannot encode the key");
		goto out;
	}
	dp = der->p;
	if (i2d_PrivateKey(key, &dp) != len) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "cannot encode the key");
		goto out;
	}
	if ((r = jwe_encrypt_dir(en.ppk->p, en.ppk_kid, der->p, der->len,
	    NULL, &masked, e)) != 0)
		goto out;
	if (bn_member(key, "n", &n) != 0 || bn_member(key, "e", &ex) != 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "cannot read the public key");
		goto out;
	}
	randombytes_buf(v, sizeof(v));
	for (i = 0; i < sizeof(v); i++)
		snprintf(ver + 2 * i, 3, "%02x", v[i]);
	snprintf(kid, sizeof(kid), "https://%s/keys/%s/%s", host, name, ver);
	ops = json_array();
	for (i = 0; i < N_KEY_OPS; i++)
		json_array_append_new(ops, json_string(sim_key_ops[i]));
	rec = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:s}", "kid", kid,
	    "kty", "RSA-HSM", "n", n, "e", ex, "key_ops", ops,
	    "created", (json_int_t)now, "updated", (json_int_t)now,
	    "masked", masked);
	if (rec == NULL || json_object_set(keys, name, rec) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = keys_save(dir, keys, e)) != 0)
		goto out;
	if ((*reply = key_reply(rec)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = 0;
 out:
	sd_secret_free(der);
	EVP_PKEY_free(key);
	free(n);
	free(ex);
	free(masked);
	json_decref(rec);
	json_decref(keys);
	enclave_clear(&en);
	return r;
}

static const char *
state_tenant(const char *dir)
{
	static char tenant[64];
	json_t *state = NULL;
	struct sd_err e = { "" };
	const char *t;

	snprintf(tenant, sizeof(tenant), "00000000-0000-0000-0000-000000000000");
	if (simhsm_load(dir, &state, &e) == 0 &&
	    (t = json_string_value(json_object_get(state, "tenant_id"))) !=
	    NULL)
		snprintf(tenant, sizeof(tenant), "%s", t);
	json_decref(state);
	return tenant;
}

int
simhsm_key_backup(const char *dir, const char *name, const char *host_address,
    char **value, struct sd_err *e)
{
	struct enclave en;
	struct sd_kb_input in;
	const char *ops[N_KEY_OPS];
	char *compact = NULL, corr[40];
	uint8_t c[16];
	json_t *keys = NULL, *rec, *o;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*value = NULL;
	memset(&en, 0, sizeof(en));
	if ((r = enclave_load(dir, &en, e)) != 0 ||
	    (r = keys_load(dir, &keys, e)) != 0)
		goto out;
	if ((rec = json_object_get(keys, name)) == NULL) {
		r = sd_err_set(e, SD_ERR_NO_SHARE, "A key with (name/id) %s was "
		    "not found in this key vault", name);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	randombytes_buf(c, sizeof(c));
	snprintf(corr, sizeof(corr), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x"
	    "%02x-%02x%02x%02x%02x%02x%02x", c[0], c[1], c[2], c[3], c[4],
	    c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14],
	    c[15]);
	in.tenant_id = state_tenant(dir);
	in.host_address = host_address;
	in.correlation_id = corr;
	in.timestamp = time(NULL);
	in.kid = json_string_value(json_object_get(rec, "kid"));
	in.kty = json_string_value(json_object_get(rec, "kty"));
	in.n = json_string_value(json_object_get(rec, "n"));
	in.e = json_string_value(json_object_get(rec, "e"));
	in.masked = json_string_value(json_object_get(rec, "masked"));
	json_array_foreach(json_object_get(rec, "key_ops"), i, o)
		if (i < N_KEY_OPS)
			ops[i] = json_string_value(o);
	in.key_ops = ops;
	in.n_key_ops = json_array_size(json_object_get(rec, "key_ops"));
	if (in.n_key_ops > N_KEY_OPS)
		in.n_key_ops = N_KEY_OPS;
	in.created = (time_t)json_integer_value(json_object_get(rec, "created"));
	in.updated = (time_t)json_integer_value(json_object_get(rec, "updated"));
	if (in.kid == NULL || in.kty == NULL || in.n == NULL || in.e == NULL ||
	    in.masked == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s/%s: key %s is incomplete",
		    dir, KEYS_FILE, name);
		goto out;
	}
	if ((r = sd_key_backup_seal(&in, en.bpk, NULL, &compact, e)) != 0)
		goto out;
	r = b64url_encode((uint8_t *)compact, strlen(compact), value);
	if (r != 0)
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
 out:
	free(compact);
	json_decref(keys);
	enclave_clear(&en);
	return r;
}

int
simhsm_key_restore(const char *dir, const char *value, size_t value_len,
    const char *host, char **reply, struct sd_err *e)
{
	struct enclave en;
	struct sd_key_backup *kb = NULL;
	struct sd_secret *masked = NULL, *der = NULL;
	struct jwe *j = NULL;
	EVP_PKEY *key = NULL;
	const unsigned char *dp;
	uint8_t *raw = NULL;
	size_t raw_len, i;
	char kid[512], *n = NULL;
	json_t *keys = NULL, *rec = NULL, *ops;
	int r = SD_ERR_INTERNAL;

	*reply = NULL;
	memset(&en, 0, sizeof(en));
	if ((r = enclave_load(dir, &en, e)) != 0 ||
	    (r = keys_load(dir, &keys, e)) != 0)
		goto out;
	if ((r = b64url_decode(value, value_len, &raw, &raw_len, e)) != 0) {
		sd_err_prefix(e, SD_ERR_FORMAT, "the backup (\"value\")");
		r = SD_ERR_FORMAT;
		goto out;
	}
	if ((r = sd_key_backup_masked(raw, raw_len, en.bpk, &kb, &masked,
	    e)) != 0) {
		if (r == SD_ERR_AUTH)
			sd_err_set(e, r, "the key backup was not made under this "
			    "HSM's security domain: it does not open with its "
			    "backup protection key");
		goto out;
	}
	if (kb->current.name == NULL || !simhsm_key_name_ok(kb->current.name) ||
	    kb->current.version_id == NULL || kb->current.n == NULL ||
	    kb->current.e == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "the key backup names no key");
		goto out;
	}
	if (json_object_get(keys, kb->current.name) != NULL) {
		r = sd_err_set(e, SD_ERR_RANGE, "Key %s already exists",
		    kb->current.name);
		goto out;
	}
	/* the private part must unmask with this HSM's pool key, and match */
	if ((r = jwe_parse((const char *)masked->p, masked->len, &j, e)) != 0 ||
	    (r = jwe_decrypt(j, en.ppk->p, &der, e)) != 0) {
		sd_err_prefix(e, r, "the key in the backup does not unmask with "
		    "this HSM's pool protection key");
		goto out;
	}
	dp = der->p;
	if ((key = d2i_AutoPrivateKey(NULL, &dp, (long)der->len)) == NULL ||
	    bn_member(key, "n", &n) != 0 || strcmp(n, kb->current.n) != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "the key in the backup does not "
		    "match its public key");
		goto out;
	}
	snprintf(kid, sizeof(kid), "https://%s/keys/%s/%s", host,
	    kb->current.name, kb->current.version_id);
	ops = json_array();
	for (i = 0; i < N_KEY_OPS; i++)
		json_array_append_new(ops, json_string(sim_key_ops[i]));
	rec = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:s#}", "kid", kid,
	    "kty", kb->current.kty, "n", kb->current.n, "e", kb->current.e,
	    "key_ops", ops, "created", (json_int_t)kb->current.created,
	    "updated", (json_int_t)kb->current.updated, "masked",
	    (const char *)masked->p, (int)masked->len);
	if (rec == NULL || json_object_set(keys, kb->current.name, rec) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = keys_save(dir, keys, e)) != 0)
		goto out;
	if ((*reply = key_reply(rec)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = 0;
 out:
	free(n);
	EVP_PKEY_free(key);
	jwe_free(j);
	sd_secret_free(der);
	sd_secret_free(masked);
	sd_key_backup_free(kb);
	free(raw);
	json_decref(rec);
	json_decref(keys);
	enclave_clear(&en);
	return r;
}
