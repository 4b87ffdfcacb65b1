/*
 * simhsm.c - the simulated Managed HSM's state logic (see simhsm.h), used
 * by `sdtool sim` and `sdtool sim serve` alike so that the two cannot
 * drift apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../pki/certgen.h"
#include "simhsm.h"
#include "../sys/file.h"
#include "../hw/key.h"
#include "../net/mhsm.h"
#include "../shares/backup.h"
#include "../shares/sdops.h"

static const char marker_text[] =
    "This directory is the state of a SIMULATED Managed HSM, made by\n"
    "'sdtool sim' for drills and tests.  It is not a real HSM and protects\n"
    "nothing: never use its keys or its SD file for real data.\n";

/* The data items a real HSM puts in its SD file, with typical sizes. */
static const struct {
	const char *tag;
	size_t size;
} sim_items[] = {
	{ "hsm_backup", 8512 },
	{ "base_enclave_backup", 960 },
	{ "partition_enclave_backup", 3104 },
};
#define N_ITEMS (sizeof(sim_items) / sizeof(sim_items[0]))

char *
simhsm_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

static void
now_iso(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
new_uuid(char out[40])
{
	uint8_t u[16];

	randombytes_buf(u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int
simhsm_is_activated(const char *dir)
{
	struct stat st;
	char *path;
	int yes;

	if ((path = simhsm_path(dir, SIMHSM_STATE)) == NULL)
		return 0;
	yes = stat(path, &st) == 0;
	free(path);
	return yes;
}

int
simhsm_prepare(const char *dir, int refuse_activated, struct sd_err *e)
{
	char *marker = NULL;
	struct stat st;
	int r = SD_ERR_INTERNAL;

	if (refuse_activated && simhsm_is_activated(dir))
		return sd_err_set(e, SD_ERR_ARG, "%s: this simulated HSM is "
		    "already activated", dir);
	if ((marker = simhsm_path(dir, SIMHSM_MARKER)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		r = sd_err_set(e, SD_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (stat(marker, &st) == -1 &&
	    (r = sys_write_new_file(marker, marker_text, strlen(marker_text),
	    0644, e)) != 0)
		goto out;
	r = 0;
 out:
	free(marker);
	return r;
}

int
simhsm_load(const char *dir, json_t **out, struct sd_err *e)
{
	json_error_t jerr;
	char *path = NULL, *marker = NULL;
	struct stat st;
	json_t *state = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((path = simhsm_path(dir, SIMHSM_STATE)) == NULL ||
	    (marker = simhsm_path(dir, SIMHSM_MARKER)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (stat(marker, &st) == -1 || stat(path, &st) == -1) {
		r = sd_err_set(e, SD_ERR_ARG, "%s: not a simulated HSM (no %s); "
		    "run 'sdtool sim activate --state %s' first", dir,
		    stat(marker, &st) == -1 ? SIMHSM_MARKER : SIMHSM_STATE, dir);
		goto out;
	}
	if ((state = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_true(json_object_get(state, "simulated"))) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: unreadable simulator "
		    "state: %s", path, state ? "not marked simulated" :
		    jerr.text);
		goto out;
	}
	*out = state;
	state = NULL;
	r = 0;
 out:
	json_decref(state);
	free(path);
	free(marker);
	return r;
}

int
simhsm_load_or_new(const char *dir, json_t **out, struct sd_err *e)
{
	char tenant[40];
	int r;

	*out = NULL;
	if (simhsm_is_activated(dir))
		return simhsm_load(dir, out, e);
	/* a new HSM, never activated: it may be recovered into */
	if ((r = simhsm_prepare(dir, 0, e)) != 0)
		return r;
	new_uuid(tenant);
	if ((*out = json_pack("{s:b,s:s,s:s}", "simulated", 1, "status", "new",
	    "tenant_id", tenant)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

static int
state_save(const char *dir, json_t *state, struct sd_err *e)
{
	char *path = NULL, *text = NULL;
	int r = SD_ERR_INTERNAL;

	if ((path = simhsm_path(dir, SIMHSM_STATE)) == NULL ||
	    (text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = sys_replace_file(path, text, strlen(text), 0600, e);
 out:
	free(text);
	free(path);
	return r;
}

int
simhsm_activate(const char *dir, X509 *const *certs, size_t n,
    unsigned quorum, simhsm_deliver_fn deliver, void *ctx, json_t **state_out,
    struct sd_err *e)
{
	struct sd_recipient rcpt[SD_MAX_SHARES];
	struct sd_secret *master = NULL, *pts[N_ITEMS] = { NULL };
	const char *tags[N_ITEMS];
	struct sd_file *sd = NULL;
	char *json_text = NULL, hex[65], when[32], tenant[40];
	size_t i, bad, other, extra;
	json_t *state = NULL, *arr, *o;
	int r = SD_ERR_INTERNAL;

	if (state_out != NULL)
		*state_out = NULL;
	if ((r = pki_certset_check(certs, n, quorum, &bad, &other, e)) != 0) {
		if (bad < n && other < n)
			sd_err_set(e, r, "certificate #%zu: the same certificate "
			    "as #%zu; each officer needs their own", bad + 1,
			    other + 1);
		else if (bad < n)
			sd_err_prefix(e, r, "certificate #%zu", bad + 1);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rcpt[i].pub = X509_get0_pubkey(certs[i]);
		if ((r = pki_cert_x5t256(certs[i], rcpt[i].x5t_256)) != 0) {
			sd_err_set(e, r, "certificate #%zu: cannot encode it",
			    i + 1);
			goto out;
		}
	}
	if ((r = simhsm_prepare(dir, 1, e)) != 0)
		goto out;

	if ((master = sd_secret_new(SD_SECRET_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	randombytes_buf(master->p, master->len);
	for (i = 0; i < N_ITEMS; i++)
		tags[i] = sim_items[i].tag;
	/*
	 * hsm_backup is opaque (random bytes of its usual size); the two
	 * enclave items are BSON as the service's, with fresh keys (issue 11).
	 */
	extra = 16 * randombytes_uniform(8);
	if ((pts[0] = sd_secret_new(sim_items[0].size + extra)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	randombytes_buf(pts[0]->p, pts[0]->len);
	if ((r = sd_items_build(NULL, &pts[1], &pts[2], e)) != 0)
		goto out;
	if ((r = sd_file_build(master, tags, pts, N_ITEMS, rcpt, n, quorum,
	    NULL, &sd, e)) != 0 ||
	    (r = sd_file_serialize(sd, &json_text, e)) != 0) {
		sd_err_prefix(e, r, "building the SD file");
		goto out;
	}
	/* The SD file goes out before the HSM counts itself activated. */
	if ((r = deliver(ctx, json_text, strlen(json_text))) != 0)
		goto out;

	now_iso(when, sizeof(when));
	new_uuid(tenant);
	state = json_object();
	json_object_set_new(state, "simulated", json_true());
	json_object_set_new(state, "status", json_string("active"));
	json_object_set_new(state, "activated_at", json_string(when));
	json_object_set_new(state, "required", json_integer(quorum));
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(rcpt[i].x5t_256));
	json_object_set_new(state, "certificates", arr);
	arr = json_array();
	for (i = 0; i < N_ITEMS; i++) {
		pki_sha256_hex(pts[i]->p, pts[i]->len, hex);
		o = json_object();
		json_object_set_new(o, "tag", json_string(tags[i]));
		json_object_set_new(o, "size", json_integer((json_int_t)pts[i]->len));
		json_object_set_new(o, "sha256", json_string(hex));
		json_array_append_new(arr, o);
	}
	json_object_set_new(state, "data", arr);
	json_object_set_new(state, "tenant_id", json_string(tenant));
	if ((r = simhsm_enclave_save(dir, pts[1], pts[2], e)) != 0 ||
	    (r = state_save(dir, state, e)) != 0)
		goto out;
	if (state_out != NULL) {
		*state_out = state;
		state = NULL;
	}
	r = 0;
 out:
	json_decref(state);
	free(json_text);
	sd_file_free(sd);
	for (i = 0; i < N_ITEMS; i++)
		sd_secret_free(pts[i]);
	sd_secret_free(master);
	return r;
}

int
simhsm_init_recovery(const char *dir, certgen_tick_fn progress,
    void *progress_ctx, X509 **cert_out,
    struct sd_err *e)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *key_path = NULL, *cert_path = NULL, *pem = NULL, *key_pem = NULL;
	char x5t[SD_X5T_SIZE];
	size_t pem_len, key_len = 0;
	json_t *state = NULL;
	int r = SD_ERR_INTERNAL;

	*cert_out = NULL;
	if ((r = simhsm_load_or_new(dir, &state, e)) != 0)
		goto out;
	if ((key_path = simhsm_path(dir, SIMHSM_EXCH_KEY)) == NULL ||
	    (cert_path = simhsm_path(dir, SIMHSM_EXCH_CERT)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (json_object_get(state, "exchange_key_x5t_256") != NULL) {
		/* Like the service: recovery mode keeps one exchange key. */
		if ((r = pki_cert_load(cert_path, &cert, e)) != 0)
			goto out;
	} else {
		if ((r = certgen_rsa(4096, progress, progress_ctx, &key,
		    e)) != 0 ||
		    (r = certgen_selfsigned(key, "CN=Simulated Managed HSM "
		    "exchange key,O=sdtool sim", 30, &cert, e)) != 0 ||
		    (r = certgen_key_pem(key, NULL, &key_pem, &key_len, e)) !=
		    0 || (r = certgen_cert_pem(cert, &pem, &pem_len, e)) != 0) {
			sd_err_prefix(e, r, "making the exchange key");
			goto out;
		}
		if ((r = sys_write_new_file(key_path, key_pem, key_len, 0600,
		    e)) != 0 || (r = sys_write_new_file(cert_path, pem, pem_len,
		    0644, e)) != 0)
			goto out;
	}
	if ((r = pki_cert_x5t256(cert, x5t)) != 0) {
		sd_err_set(e, r, "the exchange certificate cannot be encoded");
		goto out;
	}
	json_object_set_new(state, "status", json_string("recovery"));
	json_object_set_new(state, "exchange_key_x5t_256", json_string(x5t));
	if ((r = state_save(dir, state, e)) != 0)
		goto out;
	*cert_out = cert;
	cert = NULL;
	r = 0;
 out:
	if (key_pem != NULL)
		sodium_free(key_pem);
	free(pem);
	free(key_path);
	free(cert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
	json_decref(state);
	return r;
}

/* Compare the blob's plaintexts with what was activated. */
static int
check_restored(const json_t *state, const struct sd_blob *b,
    struct sd_secret **pts, const char *what, struct sd_err *e)
{
	const json_t *want = json_object_get(state, "data"), *w;
	const char *tag, *sha;
	char hex[65];
	size_t i, j;

	if (json_array_size(want) != b->data.n)
		return sd_err_set(e, SD_ERR_AUTH, "%s: refused: the blob has %zu "
		    "data items, the HSM activated %zu", what, b->data.n,
		    json_array_size(want));
	json_array_foreach(want, i, w) {
		tag = json_string_value(json_object_get(w, "tag"));
		sha = json_string_value(json_object_get(w, "sha256"));
		for (j = 0; j < b->data.n; j++)
			if (tag != NULL && strcmp(b->data.items[j].tag, tag) == 0)
				break;
		if (j == b->data.n)
			return sd_err_set(e, SD_ERR_AUTH, "%s: refused: data item "
			    "\"%s\" is missing from the blob", what,
			    tag ? tag : "?");
		pki_sha256_hex(pts[j]->p, pts[j]->len, hex);
		if (sha == NULL || strcmp(hex, sha) != 0)
			return sd_err_set(e, SD_ERR_AUTH, "%s: refused: data item "
			    "\"%s\" differs from what was activated (SHA-256 %s)",
			    what, tag, hex);
	}
	return 0;
}

/* A new HSM records the data items it was restored with. */
static int
adopt_data(json_t *state, const struct sd_blob *b, struct sd_secret **pts,
    struct sd_err *e)
{
	json_t *arr = json_array(), *o;
	char hex[65];
	size_t i;

	if (arr == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	for (i = 0; i < b->data.n; i++) {
		pki_sha256_hex(pts[i]->p, pts[i]->len, hex);
		o = json_pack("{s:s,s:I,s:s}", "tag", b->data.items[i].tag,
		    "size", (json_int_t)pts[i]->len, "sha256", hex);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		}
	}
	json_object_set_new(state, "data", arr);
	return 0;
}

/* Keep the enclave items of a restored blob (the keys' protection). */
static int
enclave_from(const char *dir, const struct sd_blob *b, struct sd_secret **pts,
    struct sd_err *e)
{
	const struct sd_secret *base = NULL, *part = NULL;
	size_t i;

	for (i = 0; i < b->data.n; i++) {
		if (strcmp(b->data.items[i].tag, SD_SDID_ITEM) == 0)
			base = pts[i];
		else if (strcmp(b->data.items[i].tag, SD_BPK_ITEM) == 0)
			part = pts[i];
	}
	if (base == NULL || part == NULL)
		return 0;       /* an SD without them: no key operations */
	return simhsm_enclave_save(dir, base, part, e);
}

int
simhsm_upload(const char *dir, const char *what, const char *text,
    size_t len, size_t *n_items, struct sd_err *e)
{
	struct sd_blob *blob = NULL;
	struct sd_secret **pts = NULL;
	struct sd_decryptor dec;
	const char *want_x5t;
	char *key_path = NULL, *cert_path = NULL, when[32];
	struct hw_open_opts opts;
	struct hw_key *key = NULL;
	json_t *state = NULL;
	int r = SD_ERR_INTERNAL;

	*n_items = 0;
	memset(&opts, 0, sizeof(opts));
	if ((r = simhsm_load(dir, &state, e)) != 0)
		goto out;
	if ((want_x5t = json_string_value(json_object_get(state,
	    "exchange_key_x5t_256"))) == NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "%s: the simulated HSM is not in "
		    "recovery mode; run 'sdtool sim init-recovery' first", dir);
		goto out;
	}
	if ((r = sd_blob_parse(text, len, &blob, e)) != 0) {
		sd_err_prefix(e, r, "%s: refused", what);
		r = SD_ERR_FORMAT;
		goto out;
	}
	if (strcmp(blob->wrapped.x5t_256, want_x5t) != 0) {
		r = sd_err_set(e, SD_ERR_AUTH, "%s: refused: encrypted to "
		    "exchange key %s, but this HSM's exchange key is %s", what,
		    blob->wrapped.x5t_256, want_x5t);
		goto out;
	}
	/* The exchange key opens like any key file, in guarded memory. */
	if ((key_path = simhsm_path(dir, SIMHSM_EXCH_KEY)) == NULL ||
	    (cert_path = simhsm_path(dir, SIMHSM_EXCH_CERT)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	opts.cert_path = cert_path;
	if ((r = hw_key_open(key_path, &opts, &key, e)) != 0) {
		sd_err_prefix(e, r, "the simulated HSM's exchange key");
		goto out;
	}
	hw_key_decryptor(key, &dec);
	if ((r = sd_blob_open(blob, &dec, &pts, e)) != 0) {
		sd_err_prefix(e, r, "%s: refused", what);
		goto out;
	}
	/*
	 * An HSM that was activated takes back only its own data; a new one
	 * (recovered into) takes any security domain, as the service does,
	 * and from then on holds it: its keys, its backups.
	 */
	if (json_object_get(state, "data") != NULL) {
		if ((r = check_restored(state, blob, pts, what, e)) != 0)
			goto out;
	} else if ((r = adopt_data(state, blob, pts, e)) != 0)
		goto out;
	if ((r = enclave_from(dir, blob, pts, e)) != 0)
		goto out;
	now_iso(when, sizeof(when));
	json_object_set_new(state, "status", json_string("restored"));
	json_object_set_new(state, "restored_at", json_string(when));
	if ((r = state_save(dir, state, e)) != 0)
		goto out;
	*n_items = blob->data.n;
	r = 0;
 out:
	sd_plaintexts_free(pts, blob ? blob->data.n : 0);
	hw_key_free(key);
	free(key_path);
	free(cert_path);
	sd_blob_free(blob);
	json_decref(state);
	return r;
}
