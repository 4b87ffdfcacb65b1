/*
 * kbcheck.c - `verify --key-backup` (see kbcheck.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"
#include "kbcheck.h"
#include "../sys/file.h"
#include "../shares/sdops.h"
#include "../shares/shamir.h"

static const char *const status_name[] = {
	[KB_OPENED] = "opened",
	[KB_WRONG_SD] = "wrong_security_domain",
	[KB_DAMAGED] = "damaged",
	[KB_NOT_BACKUP] = "not_a_key_backup",
	[KB_UNSUPPORTED] = "unsupported",
	[KB_UNREADABLE] = "unreadable",
	[KB_NOT_CHECKED] = "not_checked",
};

static enum kb_status
classify(int code, const char *msg)
{
	switch (code) {
	case SD_ERR_AUTH: return KB_WRONG_SD;
	case SD_ERR_UNSUPPORTED: return KB_UNSUPPORTED;
	default:
		/* backup.h: format errors begin "damaged" or "not a key backup" */
		return strncmp(msg, "damaged", 7) == 0 ? KB_DAMAGED :
		    KB_NOT_BACKUP;
	}
}

static void
file_sha256(const char *buf, size_t len, char hex[65])
{
	uint8_t md[32];
	size_t i;

	EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
open_one(struct kb_result *res, const struct sd_secret *bpk)
{
	struct sd_err e = { "" };
	char *buf = NULL;
	size_t len;
	int r;

	if ((r = sys_read_file(res->file, SD_KEY_BACKUP_MAX, &buf, &len,
	    &e)) != 0) {
		res->status = KB_UNREADABLE;
		snprintf(res->detail, sizeof(res->detail), "%s",
		    e.msg[0] ? e.msg : sd_strerror(r));
		return;
	}
	file_sha256(buf, len, res->sha256);
	if ((r = sd_key_backup_open((const uint8_t *)buf, len, bpk, &res->kb,
	    &e)) != 0) {
		res->status = classify(r, e.msg);
		snprintf(res->detail, sizeof(res->detail), "%s",
		    e.msg[0] ? e.msg : sd_strerror(r));
	} else {
		res->status = KB_OPENED;
	}
	free(buf);
}

int
kb_check_run(const struct sd_file *sd, const uint8_t *const *quorum,
    char *const *files, size_t n, struct kb_check *kc)
{
	struct sd_secret *master = NULL, **pts = NULL, *bpk = NULL;
	struct sd_identity *id = NULL;
	struct sd_err e = { "" };
	size_t i;
	int r = -1;

	memset(kc, 0, sizeof(*kc));
	if ((kc->res = calloc(n ? n : 1, sizeof(*kc->res))) == NULL) {
		snprintf(kc->error, sizeof(kc->error), "out of memory");
		return -1;
	}
	kc->n = n;
	for (i = 0; i < n; i++) {
		kc->res[i].file = files[i];
		kc->res[i].status = KB_NOT_CHECKED;
	}
	if (quorum == NULL) {
		snprintf(kc->error, sizeof(kc->error), "no quorum opened the SD "
		    "file: key backups not checked");
		return -1;
	}
	if (shamir_combine(quorum, sd->required, SD_SHARE_LEN, &master,
	    &e) != 0 || sd_data_open(&sd->data, master, &pts, &e) != 0 ||
	    sd_identity_read(&sd->data, pts, &id, &e) != 0 ||
	    sd_backup_key_get(&sd->data, pts, &bpk, &e) != 0) {
		snprintf(kc->error, sizeof(kc->error), "%s", e.msg);
		goto out;
	}
	if (id->sdid != NULL)
		kc->sdid = strdup(id->sdid);
	for (i = 0; i < n; i++) {
		open_one(&kc->res[i], bpk);
		if (kc->res[i].status == KB_OPENED)
			kc->n_opened++;
	}
	r = 0;
 out:
	sd_secret_free(bpk);
	sd_identity_free(id);
	sd_plaintexts_free(pts, pts ? sd->data.n : 0);
	sd_secret_free(master);
	return r;
}

void
kb_check_clear(struct kb_check *kc)
{
	size_t i;

	for (i = 0; i < kc->n; i++)
		sd_key_backup_free(kc->res[i].kb);
	free(kc->res);
	free(kc->sdid);
	memset(kc, 0, sizeof(*kc));
}

int
kb_check_ok(const struct kb_check *kc)
{
	return kc->n > 0 && kc->n_opened == kc->n;
}

static void
rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
}

/* The key as the backup restores it: its current version. */
static const struct sd_kb_version *
main_version(const struct sd_key_backup *kb)
{
	return &kb->current;
}

void
kb_check_errors(const struct kb_check *kc)
{
	size_t i;

	for (i = 0; i < kc->n; i++)
		if (kc->res[i].status != KB_OPENED)
			cli_error("%s: key backup not opened: %s", kc->res[i].file,
			    kc->res[i].detail[0] ? kc->res[i].detail : kc->error);
}

void
kb_check_print(const struct kb_check *kc)
{
	const struct sd_kb_version *v;
	char c[32], u[32];
	size_t i;

	if (kc->sdid != NULL)
		printf("  security domain %s\n", kc->sdid);
	for (i = 0; i < kc->n; i++) {
		const struct kb_result *r = &kc->res[i];

		if (r->status != KB_OPENED) {
			printf("  key backup %s: FAILED (%s): %s\n", r->file,
			    status_name[r->status],
			    r->detail[0] ? r->detail : kc->error);
			continue;
		}
		v = main_version(r->kb);
		c[0] = u[0] = '\0';
		if (v->has_created)
			rfc3339(v->created, c, sizeof(c));
		if (v->has_updated)
			rfc3339(v->updated, u, sizeof(u));
		printf("  key backup %s: opens with this SD: key %s version %s, "
		    "%s", r->file, v->name ? v->name : "?",
		    v->version_id ? v->version_id : "?", v->kty);
		if (v->bits)
			printf(" %u bits", v->bits);
		printf("\n");
		if (v->pub_sha256[0])
			printf("    public key SHA-256 %s\n", v->pub_sha256);
		printf("    created %s, updated %s, %zu version%s\n",
		    c[0] ? c : "?", u[0] ? u : "?", r->kb->n_versions,
		    r->kb->n_versions == 1 ? "" : "s");
		printf("    HSM %s, tenant %s\n",
		    r->kb->host ? r->kb->host : "?",
		    r->kb->tenant_id ? r->kb->tenant_id : "?");
	}
	if (kc->n_opened == kc->n)
		printf("OK: all %zu key backup%s open with this SD file's backup "
		    "protection key\n", kc->n, kc->n == 1 ? "" : "s");
	else
		printf("FAILED: %zu of %zu key backup%s do not open with this SD "
		    "file\n", kc->n - kc->n_opened, kc->n, kc->n == 1 ? "" : "s");
}

static json_t *
version_json(const struct sd_kb_version *v)
{
	json_t *o = json_object();
	char t[32];

	json_object_set_new(o, "name", v->name ? json_string(v->name) :
	    json_null());
	json_object_set_new(o, "version_id", v->version_id ?
	    json_string(v->version_id) : json_null());
	json_object_set_new(o, "kid", json_string(v->kid));
	json_object_set_new(o, "kty", json_string(v->kty));
	json_object_set_new(o, "bits", v->bits ? json_integer(v->bits) :
	    json_null());
	if (v->crv)
		json_object_set_new(o, "crv", json_string(v->crv));
	json_object_set_new(o, "public_key_sha256", v->pub_sha256[0] ?
	    json_string(v->pub_sha256) : json_null());
	if (v->has_created) {
		rfc3339(v->created, t, sizeof(t));
		json_object_set_new(o, "created", json_string(t));
	} else
		json_object_set_new(o, "created", json_null());
	if (v->has_updated) {
		rfc3339(v->updated, t, sizeof(t));
		json_object_set_new(o, "updated", json_string(t));
	} else
		json_object_set_new(o, "updated", json_null());
	json_object_set_new(o, "exportable", v->exportable < 0 ? json_null() :
	    json_boolean(v->exportable));
	return o;
}

void
kb_check_json(const struct kb_check *kc, json_t *root)
{
	json_t *arr = json_array(), *o, *err, *vers;
	char t[32];
	size_t i, j;

	json_object_set_new(root, "sdid", kc->sdid ? json_string(kc->sdid) :
	    json_null());
	for (i = 0; i < kc->n; i++) {
		const struct kb_result *r = &kc->res[i];

		o = json_object();
		json_object_set_new(o, "file", json_string(r->file));
		json_object_set_new(o, "sha256", r->sha256[0] ?
		    json_string(r->sha256) : json_null());
		json_object_set_new(o, "ok", json_boolean(r->status == KB_OPENED));
		json_object_set_new(o, "status",
		    json_string(status_name[r->status]));
		if (r->status == KB_OPENED) {
			json_object_set_new(o, "error", json_null());
			json_object_set_new(o, "key",
			    version_json(main_version(r->kb)));
			vers = json_array();
			for (j = 0; j < r->kb->n_versions; j++)
				json_array_append_new(vers,
				    version_json(&r->kb->versions[j]));
			json_object_set_new(o, "versions", vers);
			json_object_set_new(o, "tenant_id", r->kb->tenant_id ?
			    json_string(r->kb->tenant_id) : json_null());
			json_object_set_new(o, "host", r->kb->host ?
			    json_string(r->kb->host) : json_null());
			if (r->kb->has_timestamp) {
				rfc3339(r->kb->timestamp, t, sizeof(t));
				json_object_set_new(o, "backed_up", json_string(t));
			}
		} else {
			err = json_object();
			json_object_set_new(err, "code",
			    json_string(status_name[r->status]));
			json_object_set_new(err, "message", json_string(
			    r->detail[0] ? r->detail : kc->error));
			json_object_set_new(o, "error", err);
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "key_backups", arr);
}
