/*
 * backup.c - the data items' BSON and the HSM's key backups (see backup.h).
 *
 * Untrusted BSON goes through bson_init_static() (length header checked
 * against the buffer) and bson_validate() before any iterator touches it;
 * every field is then read by name through libbson's bounded iterators and
 * checked for type.  Decrypted plaintexts stay in the guarded buffers they
 * were decrypted into; BSON we build for the simulator is grown in guarded
 * memory too (guarded_realloc below).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "b64.h"
#include "backup.h"
#include "jwe.h"

/* base64url of {"alg":"dir","enc":"A256CBC-HS512","kid":"backup-protection-key"} */
#define KB_HEADER_B64 "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiYmFja3VwLXByb3RlY3Rpb24ta2V5In0"

/* ---- reading BSON ------------------------------------------------------ */

static int
bson_open(const struct sd_secret *pt, bson_t *b)
{
	size_t off = 0;

	if (pt->len > INT32_MAX || !bson_init_static(b, pt->p, pt->len))
		return -1;
	if (!bson_validate(b, BSON_VALIDATE_UTF8, &off))
		return -1;
	return 0;
}

/* A UTF-8 field of doc, NUL-free; NULL when absent or another type. */
static const char *
doc_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	const char *s;
	uint32_t len;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	s = bson_iter_utf8(&it, &len);
	if (s == NULL || strlen(s) != len)
		return NULL;
	return s;
}

static const char *
iter_str(const bson_iter_t *it0, const char *key)
{
	bson_iter_t it;
	const char *s;
	uint32_t len;

	it = *it0;
	if (!bson_iter_find(&it, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	s = bson_iter_utf8(&it, &len);
	if (s == NULL || strlen(s) != len)
		return NULL;
	return s;
}

/* A time given as int32, int64, double (seconds) or BSON datetime (ms). */
static int
iter_time(const bson_iter_t *it0, const char *key, time_t *t)
{
	bson_iter_t it = *it0;
	double d;

	if (!bson_iter_find(&it, key))
		return 0;
	switch (bson_iter_type(&it)) {
	case BSON_TYPE_INT32: *t = (time_t)bson_iter_int32(&it); return 1;
	case BSON_TYPE_INT64: *t = (time_t)bson_iter_int64(&it); return 1;
	case BSON_TYPE_DATE_TIME: *t = (time_t)(bson_iter_date_time(&it) / 1000);
		return 1;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(&it);
		if (d != d || d < 0 || d > 1e12)
			return 0;
		*t = (time_t)d;
		return 1;
	default: return 0;
	}
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- data items -------------------------------------------------------- */

static void
item_info_clear(struct sd_item_info *it)
{
	size_t i;

	free(it->tag);
	for (i = 0; i < it->n_fields; i++)
		free(it->fields[i]);
	free(it->fields);
	for (i = 0; i < it->n_keys; i++) {
		free(it->keys[i].field);
		free(it->keys[i].kid);
		free(it->keys[i].kty);
	}
	free(it->keys);
}

void
sd_identity_free(struct sd_identity *id)
{
	size_t i;

	if (id == NULL)
		return;
	for (i = 0; i < id->n; i++)
		item_info_clear(&id->items[i]);
	free(id->items);
	free(id->sdid);
	free(id);
}

static int
item_describe(const char *tag, const struct sd_secret *pt,
    struct sd_item_info *info, char **sdid, struct sd_err *e)
{
	bson_iter_t it, sub;
	bson_t b, child;
	const char *kid, *kty, *s;
	const uint8_t *data;
	uint32_t dlen;
	size_t n = 0;

	if ((info->tag = strdup(tag)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	info->len = pt->len;
	if (bson_open(pt, &b) != 0)
		return 0;       /* opaque: described as such */
	info->is_bson = 1;
	if (!bson_iter_init(&it, &b))
		return 0;
	while (bson_iter_next(&it))
		n++;
	if ((info->fields = calloc(n ? n : 1, sizeof(char *))) == NULL ||
	    (info->keys = calloc(n ? n : 1, sizeof(*info->keys))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	bson_iter_init(&it, &b);
	while (bson_iter_next(&it)) {
		if ((info->fields[info->n_fields] =
		    strdup(bson_iter_key(&it))) == NULL)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		info->n_fields++;
		if (strcmp(bson_iter_key(&it), "sdid") == 0 &&
		    BSON_ITER_HOLDS_UTF8(&it) && *sdid == NULL) {
			if ((s = doc_str(&b, "sdid")) != NULL &&
			    (*sdid = strdup(s)) == NULL)
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			continue;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &dlen, &data);
		if (!bson_init_static(&child, data, dlen) ||
		    !bson_iter_init(&sub, &child))
			continue;
		kid = doc_str(&child, "kid");
		kty = doc_str(&child, "kty");
		if (kid == NULL || kty == NULL)
			continue;
		if ((info->keys[info->n_keys].field =
		    strdup(bson_iter_key(&it))) == NULL ||
		    (info->keys[info->n_keys].kid = strdup(kid)) == NULL ||
		    (info->keys[info->n_keys].kty = strdup(kty)) == NULL) {
			info->n_keys++;
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		}
		info->n_keys++;
	}
	return 0;
}

int
sd_identity_read(const struct sd_enc_data *d, struct sd_secret *const *pts,
    struct sd_identity **out, struct sd_err *e)
{
	struct sd_identity *id = NULL;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL ||
	    (id->items = calloc(d->n ? d->n : 1, sizeof(*id->items))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		id->n++;
		if ((r = item_describe(d->items[i].tag, pts[i], &id->items[i],
		    &id->sdid, e)) != 0)
			goto out;
	}
	*out = id;
	id = NULL;
	r = 0;
 out:
	sd_identity_free(id);
	return r;
}

/* The 64-byte key k of sub-document `field` of a BSON item. */
static int
item_key_get(const struct sd_secret *pt, const char *tag, const char *field,
    const char *want_kid, struct sd_secret **key, struct sd_err *e)
{
	bson_iter_t it;
	bson_t b, child;
	const uint8_t *data;
	const char *k, *kid, *kty, *end = NULL;
	uint32_t dlen;
	size_t klen, bin_len = 0;
	struct sd_secret *s = NULL;

	*key = NULL;
	if (bson_open(pt, &b) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "data item %s is not a BSON "
		    "document", tag);
	if (!bson_iter_init_find(&it, &b, field) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it))
		return sd_err_set(e, SD_ERR_FORMAT, "data item %s has no %s",
		    tag, field);
	bson_iter_document(&it, &dlen, &data);
	if (!bson_init_static(&child, data, dlen))
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s is malformed", tag,
		    field);
	kid = doc_str(&child, "kid");
	kty = doc_str(&child, "kty");
	k = doc_str(&child, "k");
	if (kty == NULL || strcmp(kty, "oct") != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s.kty is %s%s%s, "
		    "expected \"oct\"", tag, field, kty ? "\"" : "",
		    kty ? kty : "missing", kty ? "\"" : "");
	if (want_kid != NULL && (kid == NULL || strcmp(kid, want_kid) != 0))
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s.kid is not \"%s\"",
		    tag, field, want_kid);
	if (k == NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s.k is missing", tag,
		    field);
	klen = strlen(k);
	if ((s = sd_secret_new(SD_BPK_LEN)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if (sodium_base642bin(s->p, s->len, k, klen, NULL, &bin_len, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != k + klen || bin_len != SD_BPK_LEN) {
		sd_secret_free(s);
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s.k is not base64url "
		    "of %d bytes", tag, field, SD_BPK_LEN);
	}
	*key = s;
	return 0;
}

int
sd_backup_key_get(const struct sd_enc_data *d, struct sd_secret *const *pts,
    struct sd_secret **bpk, struct sd_err *e)
{
	size_t i;

	*bpk = NULL;
	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].tag, SD_BPK_ITEM) == 0)
			return item_key_get(pts[i], SD_BPK_ITEM,
			    "backup_protection_key", SD_BPK_KID, bpk, e);
	return sd_err_set(e, SD_ERR_FORMAT, "the SD file has no data item "
	    "%s: it holds no backup protection key", SD_BPK_ITEM);
}

int
sd_item_key_get(const struct sd_enc_data *d, struct sd_secret *const *pts,
    const char *tag, const char *field, struct sd_secret **key,
    struct sd_err *e)
{
	size_t i;

	*key = NULL;
	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].tag, tag) == 0)
			return item_key_get(pts[i], tag, field, NULL, key, e);
	return sd_err_set(e, SD_ERR_FORMAT, "no data item %s", tag);
}

/* ---- public keys ------------------------------------------------------- */

static BIGNUM *
b64_bn(const char *s, struct sd_err *e)
{
	uint8_t *bin = NULL;
	size_t len;
	BIGNUM *bn;

	if (s == NULL || b64url_decode(s, strlen(s), &bin, &len, e) != 0 ||
	    len == 0) {
		free(bin);
		return NULL;
	}
	bn = BN_bin2bn(bin, (int)len, NULL);
	free(bin);
	return bn;
}

int
sd_jwk_pub_sha256(const char *kty, const char *n, const char *e_,
    const char *crv, const char *x, const char *y, char hex[static 65],
    unsigned *bits, struct sd_err *e)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	uint8_t *xb = NULL, *yb = NULL, *pt = NULL, *der = NULL, md[32];
	size_t xl = 0, yl = 0, fl;
	const char *group = NULL;
	int derlen, is_rsa, r = SD_ERR_INTERNAL;
	size_t i;

	hex[0] = '\0';
	*bits = 0;
	is_rsa = kty != NULL && strncmp(kty, "RSA", 3) == 0;
	if (!is_rsa && !(kty != NULL && strncmp(kty, "EC", 2) == 0))
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "no public key for "
		    "key type %s", kty ? kty : "(none)");
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (is_rsa) {
		if ((bn_n = b64_bn(n, e)) == NULL || (bn_e = b64_bn(e_, e)) ==
		    NULL) {
			r = sd_err_set(e, SD_ERR_FORMAT, "RSA key without a valid "
			    "n and e");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "OpenSSL failed");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		if (crv == NULL)
			group = NULL;
		else if (strcmp(crv, "P-256") == 0) { group = "prime256v1"; fl = 32; }
		else if (strcmp(crv, "P-384") == 0) { group = "secp384r1"; fl = 48; }
		else if (strcmp(crv, "P-521") == 0) { group = "secp521r1"; fl = 66; }
		else if (strcmp(crv, "P-256K") == 0) { group = "secp256k1"; fl = 32; }
		if (group == NULL) {
			r = sd_err_set(e, SD_ERR_UNSUPPORTED, "EC curve %s",
			    crv ? crv : "(none)");
			goto out;
		}
		if (x == NULL || y == NULL ||
		    b64url_decode(x, strlen(x), &xb, &xl, e) != 0 ||
		    b64url_decode(y, strlen(y), &yb, &yl, e) != 0 ||
		    xl != fl || yl != fl) {
			r = sd_err_set(e, SD_ERR_FORMAT, "EC key without a valid "
			    "x and y");
			goto out;
		}
		if ((pt = malloc(1 + 2 * fl)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		pt[0] = 0x04;
		memcpy(pt + 1, xb, fl);
		memcpy(pt + 1 + fl, yb, fl);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * fl)) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "OpenSSL failed");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	if (ctx == NULL || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "not a valid %s public key",
		    is_rsa ? "RSA" : "EC");
		goto out;
	}
	if ((derlen = i2d_PUBKEY(pkey, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)derlen, md, NULL, EVP_sha256(), NULL)) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "cannot encode the public key");
		goto out;
	}
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*bits = (unsigned)EVP_PKEY_get_bits(pkey);
	r = 0;
 out:
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(xb);
	free(yb);
	free(pt);
	return r;
}

/* ---- key backups ------------------------------------------------------- */

static void
version_clear(struct sd_kb_version *v)
{
	free(v->kid);
	free(v->name);
	free(v->version_id);
	free(v->kty);
	free(v->crv);
	free(v->n);
	free(v->e);
	memset(v, 0, sizeof(*v));
}

void
sd_key_backup_free(struct sd_key_backup *kb)
{
	size_t i;

	if (kb == NULL)
		return;
	free(kb->tenant_id);
	free(kb->host_address);
	free(kb->host);
	free(kb->correlation_id);
	for (i = 0; i < kb->n_versions; i++)
		version_clear(&kb->versions[i]);
	free(kb->versions);
	version_clear(&kb->current);
	free(kb);
}

/* HOST of "https://HOST/..." (malloc'd), or NULL. */
static char *
url_host(const char *url)
{
	const char *p, *q;

	if (url == NULL || (p = strstr(url, "://")) == NULL)
		return NULL;
	p += 3;
	q = p + strcspn(p, "/?#");
	if (q == p)
		return NULL;
	return strndup(p, (size_t)(q - p));
}

/* NAME and VERSION of "https://HOST/keys/NAME/VERSION". */
static void
kid_split(const char *kid, char **name, char **version)
{
	const char *p, *slash;

	*name = *version = NULL;
	if (kid == NULL || (p = strstr(kid, "://")) == NULL ||
	    (p = strchr(p + 3, '/')) == NULL || strncmp(p, "/keys/", 6) != 0)
		return;
	p += 6;
	if ((slash = strchr(p, '/')) == NULL || slash == p)
		return;
	*name = strndup(p, (size_t)(slash - p));
	if (slash[1] != '\0' && strchr(slash + 1, '/') == NULL)
		*version = strdup(slash + 1);
}

/* Fill v from a key bundle sub-document (masked_objects is not read). */
static int
version_read(const bson_iter_t *doc, const char *where,
    struct sd_kb_version *v, struct sd_err *e)
{
	const char *kid, *kty;
	bson_iter_t it;
	struct sd_err ign = { "" };

	kid = iter_str(doc, "kid");
	kty = iter_str(doc, "kty");
	if (kid == NULL || kty == NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "damaged: %s has no kid or "
		    "kty", where);
	if ((v->kid = strdup(kid)) == NULL || (v->kty = strdup(kty)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	kid_split(kid, &v->name, &v->version_id);
	v->crv = dup_or_null(iter_str(doc, "crv"));
	v->n = dup_or_null(iter_str(doc, "n"));
	v->e = dup_or_null(iter_str(doc, "e"));
	v->has_created = iter_time(doc, "created", &v->created);
	v->has_updated = iter_time(doc, "updated", &v->updated);
	v->exportable = -1;
	it = *doc;
	if (bson_iter_find(&it, "exportable") && BSON_ITER_HOLDS_BOOL(&it))
		v->exportable = bson_iter_bool(&it);
	if (strncmp(kty, "RSA", 3) == 0 || strncmp(kty, "EC", 2) == 0) {
		if (sd_jwk_pub_sha256(kty, v->n, v->e, v->crv,
		    iter_str(doc, "x"), iter_str(doc, "y"), v->pub_sha256,
		    &v->bits, &ign) != 0)
			return sd_err_set(e, SD_ERR_FORMAT, "damaged: %s: %s",
			    where, ign.msg);
	}
	return 0;
}

/* Parse a compact key backup JWE; errors say "not a key backup" or "damaged". */
static int
kb_parse(const uint8_t *file, size_t len, struct jwe **out, struct sd_err *e)
{
	char *compact = NULL;
	size_t clen;
	struct jwe *j = NULL;
	int r;

	*out = NULL;
	if ((r = sd_key_backup_unwrap(file, len, &compact, &clen, e)) != 0)
		return r;
	if ((r = jwe_parse(compact, clen, &j, e)) != 0) {
		if (strncmp(compact, KB_HEADER_B64, strlen(KB_HEADER_B64)) == 0)
			sd_err_prefix(e, SD_ERR_FORMAT, "damaged");
		else
			sd_err_prefix(e, SD_ERR_FORMAT, "not a key backup");
		free(compact);
		return SD_ERR_FORMAT;
	}
	free(compact);
	if (strcmp(j->alg, "dir") != 0 || strcmp(j->enc, "A256CBC-HS512") != 0 ||
	    j->kid == NULL || strcmp(j->kid, SD_BPK_KID) != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: a JWE with "
		    "alg %s, enc %s, kid %s (a key backup has dir, "
		    "A256CBC-HS512, %s)", j->alg, j->enc, j->kid ? j->kid :
		    "(none)", SD_BPK_KID);
		jwe_free(j);
		return r;
	}
	*out = j;
	return 0;
}

int
sd_key_backup_unwrap(const uint8_t *file, size_t len, char **jwe,
    size_t *jwe_len, struct sd_err *e)
{
	json_error_t jerr;
	json_t *root = NULL, *value;
	uint8_t *dec = NULL;
	size_t dlen, i, start = 0, end = len;
	char *s = NULL;
	int r = SD_ERR_INTERNAL;

	*jwe = NULL;
	*jwe_len = 0;
	if (len > SD_KEY_BACKUP_MAX)
		return sd_err_set(e, SD_ERR_LIMIT, "not a key backup: larger "
		    "than %u bytes", SD_KEY_BACKUP_MAX);
	while (start < end && (file[start] == ' ' || file[start] == '\t' ||
	    file[start] == '\r' || file[start] == '\n'))
		start++;
	while (end > start && (file[end - 1] == ' ' || file[end - 1] == '\t' ||
	    file[end - 1] == '\r' || file[end - 1] == '\n'))
		end--;
	if (start == end)
		return sd_err_set(e, SD_ERR_FORMAT, "not a key backup: the file "
		    "is empty");
	if (file[start] == '{') {
		if ((root = json_loadb((const char *)file + start, end - start,
		    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
			r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: "
			    "invalid JSON at line %d: %s", jerr.line, jerr.text);
			goto out;
		}
		if (json_object_get(root, "EncData") != NULL) {
			r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: this "
			    "is a security-domain file or a restore blob");
			goto out;
		}
		value = json_object_get(root, "value");
		if (!json_is_string(value)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: JSON "
			    "without a \"value\" string");
			goto out;
		}
		if ((r = b64url_decode(json_string_value(value),
		    json_string_length(value), &dec, &dlen, e)) != 0) {
			sd_err_prefix(e, SD_ERR_FORMAT, "damaged: \"value\"");
			r = SD_ERR_FORMAT;
			goto out;
		}
		if ((s = malloc(dlen + 1)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		memcpy(s, dec, dlen);
		s[dlen] = '\0';
		*jwe_len = dlen;
	} else {
		for (i = start; i < end; i++)
			if (file[i] < 0x21 || file[i] > 0x7e) {
				r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: "
				    "binary data at byte %zu", i);
				goto out;
			}
		if ((s = strndup((const char *)file + start, end - start)) ==
		    NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		*jwe_len = end - start;
	}
	if (strlen(s) != *jwe_len) {
		r = sd_err_set(e, SD_ERR_FORMAT, "not a key backup: NUL byte "
		    "inside");
		goto out;
	}
	*jwe = s;
	s = NULL;
	r = 0;
 out:
	if (r != 0)
		*jwe_len = 0;
	free(s);
	free(dec);
	json_decref(root);
	return r;
}

static int
kb_open(const uint8_t *file, size_t len, const struct sd_secret *bpk,
    struct sd_key_backup **out, struct sd_secret **masked, struct sd_err *e)
{
	struct sd_key_backup *kb = NULL;
	struct sd_secret *pt = NULL;
	struct jwe *j = NULL;
	bson_iter_t it, arr, ver;
	bson_t b;
	const char *s;
	uint32_t slen;
	size_t n;
	char where[64];
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (masked != NULL)
		*masked = NULL;
	if (bpk == NULL || bpk->len != SD_BPK_LEN)
		return sd_err_set(e, SD_ERR_ARG, "backup protection key is not "
		    "%d bytes", SD_BPK_LEN);
	if ((r = kb_parse(file, len, &j, e)) != 0)
		goto out;
	if ((r = jwe_decrypt(j, bpk->p, &pt, e)) != 0) {
		if (r == SD_ERR_AUTH)
			sd_err_set(e, r, "does not open with this security "
			    "domain's backup protection key: a backup made by "
			    "an HSM of another security domain, or altered");
		goto out;
	}
	if (bson_open(pt, &b) != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "damaged: it opens, but what it "
		    "holds is not a valid BSON document");
		goto out;
	}
	if ((kb = calloc(1, sizeof(*kb))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (!bson_iter_init_find(&it, &b, "version") ||
	    !(BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it))) {
		r = sd_err_set(e, SD_ERR_FORMAT, "damaged: no backup format "
		    "version inside");
		goto out;
	}
	kb->version = bson_iter_as_int64(&it);
	if (kb->version != 1) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "opens, but the backup "
		    "format version is %lld, not 1", (long long)kb->version);
		goto out;
	}
	kb->tenant_id = dup_or_null(doc_str(&b, "tenant_id"));
	kb->host_address = dup_or_null(doc_str(&b, "host_address"));
	kb->host = url_host(kb->host_address);
	kb->correlation_id = dup_or_null(doc_str(&b, "correlation_id"));
	bson_iter_init(&it, &b);
	kb->has_timestamp = iter_time(&it, "timestamp", &kb->timestamp);

	if (!bson_iter_init_find(&it, &b, "unversioned_bundle") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &ver)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "damaged: no unversioned_bundle");
		goto out;
	}
	if ((r = version_read(&ver, "unversioned_bundle", &kb->current, e)) != 0)
		goto out;
	if (masked != NULL) {
		bson_iter_t mo = ver, m0;

		if (!bson_iter_find(&mo, "masked_objects") ||
		    !BSON_ITER_HOLDS_ARRAY(&mo) ||
		    !bson_iter_recurse(&mo, &m0) || !bson_iter_next(&m0) ||
		    !BSON_ITER_HOLDS_UTF8(&m0)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "damaged: no "
			    "masked_objects");
			goto out;
		}
		s = bson_iter_utf8(&m0, &slen);
		if ((*masked = sd_secret_dup((const uint8_t *)s, slen)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
			goto out;
		}
	}
	if (!bson_iter_init_find(&it, &b, "key_versions") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "damaged: no key_versions");
		goto out;
	}
	for (n = 0, ver = arr; bson_iter_next(&ver); n++)
		;
	if (n == 0 || n > SD_KB_MAX_VERSIONS) {
		r = sd_err_set(e, SD_ERR_FORMAT, "damaged: %zu key versions", n);
		goto out;
	}
	if ((kb->versions = calloc(n, sizeof(*kb->versions))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	while (bson_iter_next(&arr)) {
		snprintf(where, sizeof(where), "key_versions[%zu]",
		    kb->n_versions);
		if (!BSON_ITER_HOLDS_DOCUMENT(&arr) ||
		    !bson_iter_recurse(&arr, &ver)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "damaged: %s is not a "
			    "document", where);
			goto out;
		}
		kb->n_versions++;
		if ((r = version_read(&ver, where,
		    &kb->versions[kb->n_versions - 1], e)) != 0)
			goto out;
	}
	*out = kb;
	kb = NULL;
	r = 0;
 out:
	if (r != 0 && masked != NULL) {
		sd_secret_free(*masked);
		*masked = NULL;
	}
	sd_key_backup_free(kb);
	sd_secret_free(pt);     /* masked_objects are wiped with it */
	jwe_free(j);
	return r;
}

int
sd_key_backup_open(const uint8_t *file, size_t len,
    const struct sd_secret *bpk, struct sd_key_backup **out,
    struct sd_err *e)
{
	return kb_open(file, len, bpk, out, NULL, e);
}

int
sd_key_backup_masked(const uint8_t *file, size_t len,
    const struct sd_secret *bpk, struct sd_key_backup **kb,
    struct sd_secret **masked, struct sd_err *e)
{
	return kb_open(file, len, bpk, kb, masked, e);
}

/* ---- building (simulator, tests) --------------------------------------- */

/*
 * libbson grows its buffer through this, in guarded memory: ctx holds the
 * current size so the old contents can be copied before the old buffer is
 * wiped and freed.
 */
static void *
guarded_realloc(void *mem, size_t num, void *ctx)
{
	size_t *cur = ctx;
	void *p;

	if ((p = sodium_malloc(num ? num : 1)) == NULL)
		return NULL;
	if (mem != NULL) {
		memcpy(p, mem, *cur < num ? *cur : num);
		sodium_free(mem);
	}
	*cur = num;
	return p;
}

struct gbson {
	uint8_t *buf;
	size_t len, cap;
	bson_t *b;
};

static int
gbson_new(struct gbson *g)
{
	memset(g, 0, sizeof(*g));
	g->b = bson_new_from_buffer(&g->buf, &g->len, guarded_realloc,
	    &g->cap);
	return g->b == NULL ? -1 : 0;
}

/* Hand the finished document over as a guarded secret; frees g. */
static struct sd_secret *
gbson_take(struct gbson *g)
{
	struct sd_secret *s;

	s = sd_secret_dup(bson_get_data(g->b), g->b->len);
	bson_destroy(g->b);
	if (g->buf != NULL)
		sodium_free(g->buf);
	memset(g, 0, sizeof(*g));
	return s;
}

static void
gbson_free(struct gbson *g)
{
	if (g->b != NULL)
		bson_destroy(g->b);
	if (g->buf != NULL)
		sodium_free(g->buf);
	memset(g, 0, sizeof(*g));
}

/* Random bytes as base64url, appended as a UTF-8 field (guarded on the way). */
static int
append_random_b64(bson_t *b, const char *key, size_t nbytes,
    const struct sd_rng *rng)
{
	size_t b64len = sodium_base64_ENCODED_LEN(nbytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	uint8_t *raw = sodium_malloc(nbytes ? nbytes : 1);
	char *txt = sodium_malloc(b64len);
	int ok = 0;

	if (raw != NULL && txt != NULL) {
		sd_random(rng, raw, nbytes);
		sodium_bin2base64(txt, b64len, raw, nbytes,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		ok = bson_append_utf8(b, key, -1, txt, -1);
	}
	if (raw != NULL)
		sodium_free(raw);
	if (txt != NULL)
		sodium_free(txt);
	return ok ? 0 : -1;
}

static int
append_oct_key(bson_t *b, const char *field, const char *kid,
    const struct sd_rng *rng)
{
	bson_t child;

	if (!bson_append_document_begin(b, field, -1, &child) ||
	    append_random_b64(&child, "k", SD_BPK_LEN, rng) != 0 ||
	    !bson_append_utf8(&child, "kid", -1, kid, -1) ||
	    !bson_append_utf8(&child, "kty", -1, "oct", -1) ||
	    !bson_append_document_end(b, &child))
		return -1;
	return 0;
}

int
sd_items_build(const struct sd_rng *rng, struct sd_secret **base_enclave,
    struct sd_secret **partition_enclave, struct sd_err *e)
{
	struct gbson g1, g2;
	uint8_t u[16], tail[3];
	char uuid[37], sdid[80], kid[64];
	int r = SD_ERR_INTERNAL;

	*base_enclave = *partition_enclave = NULL;
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	sd_random(rng, u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
	    u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
	    u[15]);
	sd_random(rng, tail, sizeof(tail));
	snprintf(sdid, sizeof(sdid), "1:M-HSM:%s:%02x%02x%02x", uuid, tail[0],
	    tail[1], tail[2]);
	snprintf(kid, sizeof(kid), "pool-protection-key/%s", uuid);
	if (gbson_new(&g1) != 0 || gbson_new(&g2) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* Field names and order as the service writes them; filler sized alike. */
	if (append_random_b64(g1.b, "hsm_context", 513, rng) != 0 ||
	    append_oct_key(g1.b, "pool_protection_key", kid, rng) != 0 ||
	    !bson_append_utf8(g1.b, "sdid", -1, sdid, -1) ||
	    append_oct_key(g2.b, "backup_protection_key", SD_BPK_KID, rng) != 0 ||
	    append_random_b64(g2.b, "pota_certificate", 978, rng) != 0 ||
	    append_random_b64(g2.b, "pota_key", 1194, rng) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "building the data items failed");
		goto out;
	}
	if ((*base_enclave = gbson_take(&g1)) == NULL ||
	    (*partition_enclave = gbson_take(&g2)) == NULL) {
		sd_secret_free(*base_enclave);
		*base_enclave = NULL;
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	r = 0;
 out:
	gbson_free(&g1);
	gbson_free(&g2);
	return r;
}

static int
append_bundle(bson_t *b, const char *field, const struct sd_kb_input *in)
{
	bson_t child, ops, mo;
	char idx[16];
	size_t i;

	if (!bson_append_document_begin(b, field, -1, &child) ||
	    !bson_append_int32(&child, "created", -1, (int32_t)in->created) ||
	    !bson_append_utf8(&child, "e", -1, in->e, -1) ||
	    !bson_append_bool(&child, "enabled", -1, true) ||
	    !bson_append_int64(&child, "exp", -1, INT64_MAX) ||
	    !bson_append_bool(&child, "exportable", -1, false) ||
	    !bson_append_array_begin(&child, "key_ops", -1, &ops))
		return -1;
	for (i = 0; i < in->n_key_ops; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		if (!bson_append_utf8(&ops, idx, -1, in->key_ops[i], -1))
			return -1;
	}
	if (!bson_append_array_end(&child, &ops) ||
	    !bson_append_utf8(&child, "kid", -1, in->kid, -1) ||
	    !bson_append_utf8(&child, "kty", -1, in->kty, -1) ||
	    !bson_append_array_begin(&child, "masked_objects", -1, &mo) ||
	    !bson_append_utf8(&mo, "0", -1, in->masked, -1) ||
	    !bson_append_array_end(&child, &mo) ||
	    !bson_append_utf8(&child, "n", -1, in->n, -1) ||
	    !bson_append_int32(&child, "nbf", -1, 0) ||
	    !bson_append_int32(&child, "updated", -1, (int32_t)in->updated) ||
	    !bson_append_document_end(b, &child))
		return -1;
	return 0;
}

int
sd_key_backup_seal(const struct sd_kb_input *in, const struct sd_secret *bpk,
    const struct sd_rng *rng, char **compact, struct sd_err *e)
{
	struct gbson g;
	struct sd_secret *pt = NULL;
	bson_t arr;
	int r = SD_ERR_INTERNAL;

	*compact = NULL;
	if (bpk == NULL || bpk->len != SD_BPK_LEN)
		return sd_err_set(e, SD_ERR_ARG, "backup protection key is not "
		    "%d bytes", SD_BPK_LEN);
	if (gbson_new(&g) != 0)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if (!bson_append_utf8(g.b, "correlation_id", -1, in->correlation_id,
	    -1) ||
	    !bson_append_utf8(g.b, "crypto_domain_id", -1, "", -1) ||
	    !bson_append_utf8(g.b, "host_address", -1, in->host_address, -1) ||
	    !bson_append_array_begin(g.b, "key_versions", -1, &arr) ||
	    append_bundle(&arr, "0", in) != 0 ||
	    !bson_append_array_end(g.b, &arr) ||
	    !bson_append_utf8(g.b, "location", -1, "", -1) ||
	    !bson_append_utf8(g.b, "pool_name", -1, "", -1) ||
	    !bson_append_utf8(g.b, "pool_uri", -1, "", -1) ||
	    !bson_append_utf8(g.b, "sku", -1, "", -1) ||
	    !bson_append_utf8(g.b, "tenant_id", -1, in->tenant_id, -1) ||
	    !bson_append_int32(g.b, "timestamp", -1, (int32_t)in->timestamp) ||
	    append_bundle(g.b, "unversioned_bundle", in) != 0 ||
	    !bson_append_utf8(g.b, "user_agent", -1, "sdtool sim", -1) ||
	    !bson_append_int32(g.b, "version", -1, 1)) {
		gbson_free(&g);
		return sd_err_set(e, SD_ERR_ALLOC, "building the key backup "
		    "failed");
	}
	if ((pt = gbson_take(&g)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	r = jwe_encrypt_dir(bpk->p, SD_BPK_KID, pt->p, pt->len, rng, compact,
	    e);
	sd_secret_free(pt);
	return r;
}
