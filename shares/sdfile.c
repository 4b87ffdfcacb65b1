/*
 * sdfile.c - read and write security-domain files and restore blobs.
 *
 * Everything here handles untrusted text: jansson does the JSON (with its
 * own depth limit and duplicate-key rejection), and every field we use is
 * checked for type, range and shape before it reaches the rest of the core.
 * Fields we do not know are tolerated (the service may add some) and their
 * paths are kept so that inspect can show them.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "b64.h"
#include "jwe.h"
#include "sdfile.h"

#define SD_MAX_TAG_LEN   128    /* a tag is also a KDF label: keep it short */
#define SD_ENC_NAME      "A256CBC-HS512"
#define SD_ALG_DIR       "dir"
#define SD_ALG_RSA       "RSA-OAEP-256"
/* Room for the longest path we build, "SharedKeys.enc_shares[9].enc_key". */
#define PATH_LEN         128

/* A JSON type as a person would say it, for "expected X, found Y". */
static const char *
type_str(json_type t)
{
	switch (t) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "an unknown JSON type";
}

/*
 * Values taken from the input are echoed in messages only when they are
 * short printable ASCII, so that a hostile file cannot put control
 * characters on the user's terminal through us.
 */
static const char *
shown(const char *s)
{
	size_t i;

	if (s == NULL)
		return "(none)";
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || s[i] < 0x20 || s[i] > 0x7e)
			return "(not shown)";
	}
	return s;
}

/* parent.key into buf; our paths fit, and a cut one would still read. */
static void
join(char *buf, size_t sz, const char *parent, const char *key)
{
	int n;

	n = snprintf(buf, sz, "%s%s%s", parent, *parent != '\0' ? "." : "",
	    key);
	if (n < 0)
		buf[0] = '\0';
}

/* Keys that can be written as .key in a path; others are quoted. */
static int
plain_key(const char *k)
{
	size_t i;

	if (*k == '\0')
		return 0;
	for (i = 0; k[i] != '\0'; i++) {
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' &&
		    k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
		    k[i] == '_' || k[i] == '-' || k[i] == '$' || k[i] == '#'))
			return 0;
	}
	return 1;
}

static int
unknown_add(struct sd_unknown *u, const char *parent, const char *key)
{
	char *p = NULL, *q = NULL, **tmp;
	json_t *s = NULL;
	size_t cap;
	int r = SD_ERR_ALLOC;

	if (plain_key(key)) {
		if (asprintf(&p, "%s%s%s", parent, *parent != '\0' ? "." : "",
		    key) == -1) {
			p = NULL;
			goto out;
		}
	} else {
		/* JSON-quoted with \u escapes: safe to print, unambiguous. */
		if ((s = json_string(key)) == NULL ||
		    (q = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII)) ==
		    NULL)
			goto out;
		if (asprintf(&p, "%s[%s]", parent, q) == -1) {
			p = NULL;
			goto out;
		}
	}
	/* Grow by doubling: a file may hold very many unknown fields. */
	if (u->n == 0 || (u->n & (u->n - 1)) == 0) {
		cap = u->n == 0 ? 1 : u->n * 2;
		if (cap > SIZE_MAX / sizeof(*tmp))
			goto out;
		if ((tmp = realloc(u->paths, cap * sizeof(*tmp))) == NULL)
			goto out;
		u->paths = tmp;
	}
	u->paths[u->n++] = p;
	p = NULL;
	r = 0;
 out:
	free(p);
	free(q);
	json_decref(s);
	return r;
}

static void
unknown_clear(struct sd_unknown *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->paths[i]);
	free(u->paths);
	u->paths = NULL;
	u->n = 0;
}

/* Record every member of obj whose name is not in known (NULL-ended). */
static int
note_unknown(const json_t *obj, const char *path, const char *const *known,
    struct sd_unknown *u, struct sd_err *e)
{
	const char *key;
	json_t *v;
	size_t i;

	/* json_object_foreach() wants a non-const object; it only reads. */
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] != NULL)
			continue;
		if (unknown_add(u, path, key) != 0)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	return 0;
}

/* obj[key] of type want; errors name parent.key. */
static int
get_member(const json_t *obj, const char *parent, const char *key,
    json_type want, json_t **out, struct sd_err *e)
{
	char path[PATH_LEN];
	json_t *v;

	*out = NULL;
	join(path, sizeof(path), parent, key);
	if ((v = json_object_get(obj, key)) == NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "%s: missing", path);
	if (json_typeof(v) != want) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: expected %s, found %s",
		    path, type_str(want), type_str(json_typeof(v)));
	}
	*out = v;
	return 0;
}

static int
dup_str(const json_t *s, char **out, struct sd_err *e)
{
	if ((*out = strdup(json_string_value(s))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

/*
 * Parse the compact JWE in string s and check that it is the kind the field
 * must hold: alg (dir or RSA-OAEP-256) with enc A256CBC-HS512, and an
 * encrypted-key part that is empty exactly when alg is dir.
 */
static int
parse_jwe_field(const json_t *s, const char *path, const char *alg,
    char **compact, struct jwe **out, struct sd_err *e)
{
	struct jwe *j = NULL;
	int dir = strcmp(alg, SD_ALG_DIR) == 0;
	int r = SD_ERR_INTERNAL;

	*compact = NULL;
	*out = NULL;
	sd_err_clear(e);
	if ((r = jwe_parse(json_string_value(s), json_string_length(s), &j,
	    e)) != 0) {
		sd_err_prefix(e, r, "%s", path);
		goto out;
	}
	if (j->alg == NULL || j->enc == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: JWE header lacks alg or "
		    "enc", path);
		goto out;
	}
	if (strcmp(j->alg, alg) != 0) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "%s: JWE alg is \"%s\", "
		    "expected \"%s\"", path, shown(j->alg), alg);
		goto out;
	}
	if (strcmp(j->enc, SD_ENC_NAME) != 0) {
		r = sd_err_set(e, SD_ERR_UNSUPPORTED, "%s: JWE enc is \"%s\", "
		    "expected \"%s\"", path, shown(j->enc), SD_ENC_NAME);
		goto out;
	}
	if (dir && j->ek_len != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: JWE encrypted key is %zu "
		    "bytes, expected none with alg \"dir\"", path, j->ek_len);
		goto out;
	}
	if (!dir && j->ek_len == 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: JWE encrypted key is "
		    "empty", path);
		goto out;
	}
	if ((r = dup_str(s, compact, e)) != 0)
		goto out;
	*out = j;
	j = NULL;
	r = 0;
 out:
	jwe_free(j);
	return r;
}

/* Value of a base64url character, or -1. */
static int
b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * x5t_256: exactly the 43 characters that encode 32 bytes, canonical (the
 * two spare bits of the last character clear), so that comparing the text
 * is comparing the digest.
 */
static int
check_x5t(const json_t *s, const char *path, char out[static SD_X5T_SIZE],
    struct sd_err *e)
{
	const char *x = json_string_value(s);
	size_t i, len = json_string_length(s);
	int v = 0;

	if (len != SD_X5T_LEN) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: expected %d characters "
		    "of base64url, found %zu", path, SD_X5T_LEN, len);
	}
	for (i = 0; i < len; i++) {
		if ((v = b64url_val(x[i])) < 0) {
			return sd_err_set(e, SD_ERR_FORMAT, "%s: invalid "
			    "base64url character at offset %zu", path, i);
		}
	}
	if ((v & 3) != 0) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: non-canonical "
		    "base64url (trailing bits set)", path);
	}
	memcpy(out, x, SD_X5T_LEN);
	out[SD_X5T_LEN] = '\0';
	return 0;
}

static int
check_tag(const json_t *s, const char *path, struct sd_err *e)
{
	const char *t = json_string_value(s);
	size_t i, len = json_string_length(s);

	if (len == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "%s: empty tag", path);
	if (len > SD_MAX_TAG_LEN) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: tag is %zu characters, "
		    "at most %d allowed", path, len, SD_MAX_TAG_LEN);
	}
	for (i = 0; i < len; i++) {
		if (t[i] < 0x20 || t[i] > 0x7e) {
			return sd_err_set(e, SD_ERR_FORMAT, "%s: tag character "
			    "at offset %zu is not printable ASCII", path, i);
		}
	}
	return 0;
}

static void
enc_data_clear(struct sd_enc_data *d)
{
	size_t i;

	for (i = 0; d->items != NULL && i < d->n; i++) {
		free(d->items[i].tag);
		free(d->items[i].compact_jwe);
		jwe_free(d->items[i].jwe);
	}
	free(d->items);
	free(d->kdf);
	memset(d, 0, sizeof(*d));
}

static void
share_clear(struct sd_share_entry *s)
{
	free(s->enc_key);
	jwe_free(s->jwe);
	memset(s, 0, sizeof(*s));
}

static int
parse_datum(const json_t *v, const char *path, struct sd_datum *d,
    struct sd_unknown *u, struct sd_err *e)
{
	static const char *const known[] = { "compact_jwe", "tag", NULL };
	char p[PATH_LEN];
	json_t *jwe, *tag;
	int r;

	if (!json_is_object(v)) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: expected an object, "
		    "found %s", path, type_str(json_typeof(v)));
	}
	if ((r = note_unknown(v, path, known, u, e)) != 0 ||
	    (r = get_member(v, path, "compact_jwe", JSON_STRING, &jwe, e)) != 0)
		return r;
	join(p, sizeof(p), path, "compact_jwe");
	if ((r = parse_jwe_field(jwe, p, SD_ALG_DIR, &d->compact_jwe, &d->jwe,
	    e)) != 0)
		return r;
	if ((r = get_member(v, path, "tag", JSON_STRING, &tag, e)) != 0)
		return r;
	join(p, sizeof(p), path, "tag");
	if ((r = check_tag(tag, p, e)) != 0)
		return r;
	return dup_str(tag, &d->tag, e);
}

/* root.EncData: {"data":[...],"kdf":"sp108_kdf"}. */
static int
parse_enc_data(const json_t *root, struct sd_enc_data *d, struct sd_unknown *u,
    struct sd_err *e)
{
	static const char *const known[] = { "data", "kdf", NULL };
	char path[PATH_LEN];
	json_t *ed, *data, *kdf;
	size_t i, j, n;
	int r;

	if ((r = get_member(root, "", "EncData", JSON_OBJECT, &ed, e)) != 0 ||
	    (r = note_unknown(ed, "EncData", known, u, e)) != 0 ||
	    (r = get_member(ed, "EncData", "data", JSON_ARRAY, &data, e)) != 0)
		return r;
	n = json_array_size(data);
	if (n < 1 || n > SD_MAX_DATA) {
		return sd_err_set(e, SD_ERR_RANGE, "EncData.data: %zu items, "
		    "expected 1..%d", n, SD_MAX_DATA);
	}
	if ((d->items = calloc(n, sizeof(*d->items))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	d->n = n;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "EncData.data[%zu]", i);
		if ((r = parse_datum(json_array_get(data, i), path,
		    &d->items[i], u, e)) != 0)
			return r;
		/* Tags name the KDF label and the partition: one each. */
		for (j = 0; j < i; j++) {
			if (strcmp(d->items[j].tag, d->items[i].tag) == 0) {
				return sd_err_set(e, SD_ERR_FORMAT, "%s.tag: "
				    "duplicate tag \"%s\"", path,
				    d->items[i].tag);
			}
		}
	}
	if ((r = get_member(ed, "EncData", "kdf", JSON_STRING, &kdf, e)) != 0)
		return r;
	if (strcmp(json_string_value(kdf), SD_KDF_NAME) != 0) {
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "EncData.kdf: \"%s\" "
		    "is not supported, expected \"%s\"",
		    shown(json_string_value(kdf)), SD_KDF_NAME);
	}
	return dup_str(kdf, &d->kdf, e);
}

/* {"enc_key": RSA-OAEP-256 JWE, "x5t_256": X}: a share or WrappedKey. */
static int
parse_wrapped(const json_t *v, const char *path, struct sd_share_entry *s,
    struct sd_unknown *u, struct sd_err *e)
{
	static const char *const known[] = { "enc_key", "x5t_256", NULL };
	char p[PATH_LEN];
	json_t *ek, *x5t;
	int r;

	if (!json_is_object(v)) {
		return sd_err_set(e, SD_ERR_FORMAT, "%s: expected an object, "
		    "found %s", path, type_str(json_typeof(v)));
	}
	if ((r = note_unknown(v, path, known, u, e)) != 0 ||
	    (r = get_member(v, path, "enc_key", JSON_STRING, &ek, e)) != 0)
		return r;
	join(p, sizeof(p), path, "enc_key");
	if ((r = parse_jwe_field(ek, p, SD_ALG_RSA, &s->enc_key, &s->jwe,
	    e)) != 0)
		return r;
	if ((r = get_member(v, path, "x5t_256", JSON_STRING, &x5t, e)) != 0)
		return r;
	join(p, sizeof(p), path, "x5t_256");
	return check_x5t(x5t, p, s->x5t_256, e);
}

/* root.SharedKeys: {"enc_shares":[...],"key_algorithm":...,"required":M}. */
static int
parse_shared_keys(const json_t *root, struct sd_file *sd, struct sd_err *e)
{
	static const char *const known[] = {
		"enc_shares", "key_algorithm", "required", NULL
	};
	char path[PATH_LEN];
	json_t *sk, *shares, *alg, *req;
	json_int_t m;
	size_t i, j, n;
	int r;

	if ((r = get_member(root, "", "SharedKeys", JSON_OBJECT, &sk,
	    e)) != 0 ||
	    (r = note_unknown(sk, "SharedKeys", known, &sd->unknown, e)) != 0 ||
	    (r = get_member(sk, "SharedKeys", "enc_shares", JSON_ARRAY,
	    &shares, e)) != 0)
		return r;
	n = json_array_size(shares);
	if (n < SD_MIN_REQUIRED || n > SD_MAX_SHARES) {
		return sd_err_set(e, SD_ERR_RANGE, "SharedKeys.enc_shares: %zu "
		    "share%s, expected %d..%d", n, n == 1 ? "" : "s",
		    SD_MIN_REQUIRED, SD_MAX_SHARES);
	}
	if ((sd->shares = calloc(n, sizeof(*sd->shares))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	sd->n_shares = n;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "SharedKeys.enc_shares[%zu]", i);
		if ((r = parse_wrapped(json_array_get(shares, i), path,
		    &sd->shares[i], &sd->unknown, e)) != 0)
			return r;
		/* Two shares to one key would let one key holder open it. */
		for (j = 0; j < i; j++) {
			if (strcmp(sd->shares[j].x5t_256,
			    sd->shares[i].x5t_256) == 0) {
				return sd_err_set(e, SD_ERR_FORMAT,
				    "%s: x5t_256 repeats "
				    "SharedKeys.enc_shares[%zu].x5t_256", path,
				    j);
			}
		}
	}
	if ((r = get_member(sk, "SharedKeys", "key_algorithm", JSON_STRING,
	    &alg, e)) != 0)
		return r;
	if (strcmp(json_string_value(alg), SD_KEY_ALGORITHM) != 0) {
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "SharedKeys."
		    "key_algorithm: \"%s\" is not supported, expected \"%s\"",
		    shown(json_string_value(alg)), SD_KEY_ALGORITHM);
	}
	if ((r = dup_str(alg, &sd->key_algorithm, e)) != 0)
		return r;
	/* An integer only: 2.0 or "2" means someone else's writer, refuse. */
	if ((r = get_member(sk, "SharedKeys", "required", JSON_INTEGER, &req,
	    e)) != 0)
		return r;
	m = json_integer_value(req);
	if (m < SD_MIN_REQUIRED || m > (json_int_t)n) {
		return sd_err_set(e, SD_ERR_RANGE, "SharedKeys.required: %"
		    JSON_INTEGER_FORMAT " is out of range %d..%zu (number of "
		    "shares)", m, SD_MIN_REQUIRED, n);
	}
	sd->required = (unsigned)m;
	return 0;
}

/* Parse len bytes of JSON that must be an object. */
static int
load_json(const char *json, size_t len, json_t **out, struct sd_err *e)
{
	json_error_t jerr;
	json_t *root;

	*out = NULL;
	if (len > SD_MAX_FILE_LEN) {
		return sd_err_set(e, SD_ERR_LIMIT, "input is %zu bytes, more "
		    "than the %u accepted", len, SD_MAX_FILE_LEN);
	}
	if (json == NULL)
		json = "";
	/* DECODE_ANY so that "5" is reported as a number, not as bad JSON. */
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr)) == NULL) {
		return sd_err_set(e, SD_ERR_FORMAT, "not JSON: line %d column "
		    "%d: %s", jerr.line, jerr.column, jerr.text);
	}
	if (!json_is_object(root)) {
		sd_err_set(e, SD_ERR_FORMAT, "expected a JSON object at the top "
		    "level, found %s", type_str(json_typeof(root)));
		json_decref(root);
		return SD_ERR_FORMAT;
	}
	*out = root;
	return 0;
}

/*
 * The service carries files as {"value": "<the file as a JSON string>"}:
 * the download response and the upload request.  Accept one level of that
 * wrapping so captured bodies can be used directly.  Other members of the
 * wrapper are listed as unknown, under their own names.
 */
static int
load_doc(const char *json, size_t len, json_t **out, int *wrapped,
    struct sd_unknown *u, struct sd_err *e)
{
	static const char *const known[] = { "value", NULL };
	json_t *root = NULL, *inner = NULL, *v;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*wrapped = 0;
	if (len > 0 && json == NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "no input");
		goto out;
	}
	if ((r = load_json(json, len, &root, e)) != 0)
		goto out;
	if (json_object_get(root, "EncData") == NULL &&
	    (v = json_object_get(root, "value")) != NULL) {
		if (!json_is_string(v)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "value: expected a "
			    "string, found %s", type_str(json_typeof(v)));
			goto out;
		}
		if ((r = note_unknown(root, "", known, u, e)) != 0)
			goto out;
		if ((r = load_json(json_string_value(v), json_string_length(v),
		    &inner, e)) != 0) {
			sd_err_prefix(e, r, "value");
			goto out;
		}
		json_decref(root);
		root = inner;
		inner = NULL;
		*wrapped = 1;
	}
	*out = root;
	root = NULL;
	r = 0;
 out:
	json_decref(root);
	json_decref(inner);
	return r;
}

static int
parse_file_root(const json_t *root, struct sd_file *sd, struct sd_err *e)
{
	static const char *const known[] = {
		"EncData", "SharedKeys", "version", NULL
	};
	json_t *ver;
	json_int_t v;
	int r;

	if (json_object_get(root, "SharedKeys") == NULL &&
	    json_object_get(root, "WrappedKey") != NULL) {
		return sd_err_set(e, SD_ERR_FORMAT, "this is a restore blob, "
		    "not a security-domain file");
	}
	if ((r = note_unknown(root, "", known, &sd->unknown, e)) != 0)
		return r;
	/* Version first: a later format may differ anywhere else. */
	if ((r = get_member(root, "", "version", JSON_INTEGER, &ver, e)) != 0)
		return r;
	v = json_integer_value(ver);
	if (v != SD_FILE_VERSION) {
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "version: %"
		    JSON_INTEGER_FORMAT " is not supported; this tool knows "
		    "version %d", v, SD_FILE_VERSION);
	}
	sd->version = SD_FILE_VERSION;
	if ((r = parse_enc_data(root, &sd->data, &sd->unknown, e)) != 0)
		return r;
	return parse_shared_keys(root, sd, e);
}

int
sd_file_parse(const char *json, size_t len, struct sd_file **out,
    struct sd_err *e)
{
	struct sd_file *sd = NULL;
	json_t *root = NULL;
	int wrapped = 0, r = SD_ERR_INTERNAL;

	if (out == NULL)
		return sd_err_set(e, SD_ERR_ARG, "sd_file_parse: no output");
	*out = NULL;
	sd_err_clear(e);
	if ((sd = calloc(1, sizeof(*sd))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = load_doc(json, len, &root, &wrapped, &sd->unknown, e)) != 0)
		goto out;
	if ((r = parse_file_root(root, sd, e)) != 0) {
		if (wrapped)
			sd_err_prefix(e, r, "value");
		goto out;
	}
	*out = sd;
	sd = NULL;
	r = 0;
 out:
	json_decref(root);
	sd_file_free(sd);
	return r;
}

static int
parse_blob_root(const json_t *root, struct sd_blob *b, struct sd_err *e)
{
	static const char *const known[] = { "EncData", "WrappedKey", NULL };
	json_t *wk;
	int r;

	if (json_object_get(root, "WrappedKey") == NULL &&
	    json_object_get(root, "SharedKeys") != NULL) {
		return sd_err_set(e, SD_ERR_FORMAT, "this is a security-domain "
		    "file, not a restore blob");
	}
	if ((r = note_unknown(root, "", known, &b->unknown, e)) != 0 ||
	    (r = parse_enc_data(root, &b->data, &b->unknown, e)) != 0 ||
	    (r = get_member(root, "", "WrappedKey", JSON_OBJECT, &wk, e)) != 0)
		return r;
	return parse_wrapped(wk, "WrappedKey", &b->wrapped, &b->unknown, e);
}

int
sd_blob_parse(const char *json, size_t len, struct sd_blob **out,
    struct sd_err *e)
{
	struct sd_blob *b = NULL;
	json_t *root = NULL;
	int wrapped = 0, r = SD_ERR_INTERNAL;

	if (out == NULL)
		return sd_err_set(e, SD_ERR_ARG, "sd_blob_parse: no output");
	*out = NULL;
	sd_err_clear(e);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = load_doc(json, len, &root, &wrapped, &b->unknown, e)) != 0)
		goto out;
	if ((r = parse_blob_root(root, b, e)) != 0) {
		if (wrapped)
			sd_err_prefix(e, r, "value");
		goto out;
	}
	*out = b;
	b = NULL;
	r = 0;
 out:
	json_decref(root);
	sd_blob_free(b);
	return r;
}

void
sd_file_free(struct sd_file *sd)
{
	size_t i;

	if (sd == NULL)
		return;
	enc_data_clear(&sd->data);
	free(sd->key_algorithm);
	for (i = 0; sd->shares != NULL && i < sd->n_shares; i++)
		share_clear(&sd->shares[i]);
	free(sd->shares);
	unknown_clear(&sd->unknown);
	free(sd);
}

void
sd_blob_free(struct sd_blob *b)
{
	if (b == NULL)
		return;
	enc_data_clear(&b->data);
	share_clear(&b->wrapped);
	unknown_clear(&b->unknown);
	free(b);
}

/*
 * Serialization.  Objects are built member by member in the service's
 * order and dumped compact, so serialize(parse(f)) == f for the files the
 * service writes.  Unknown fields are not kept by the parser (only their
 * paths are), so a file carrying them is written without them.
 *
 * json_object_set_new() and json_array_append_new() consume their value
 * even when they fail, and fail on a NULL value, so a chain of them needs
 * no cleanup beyond the object being built.
 */
static int
set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v));
}

static int
enc_data_valid(const struct sd_enc_data *d)
{
	size_t i;

	if (d->kdf == NULL || d->n == 0 || d->items == NULL)
		return 0;
	for (i = 0; i < d->n; i++) {
		if (d->items[i].compact_jwe == NULL || d->items[i].tag == NULL)
			return 0;
	}
	return 1;
}

static json_t *
enc_data_json(const struct sd_enc_data *d)
{
	json_t *o = NULL, *arr = NULL, *it;
	size_t i;

	if ((o = json_object()) == NULL || (arr = json_array()) == NULL)
		goto fail;
	for (i = 0; i < d->n; i++) {
		if ((it = json_object()) == NULL)
			goto fail;
		if (json_array_append_new(arr, it) != 0 ||
		    set_str(it, "compact_jwe", d->items[i].compact_jwe) != 0 ||
		    set_str(it, "tag", d->items[i].tag) != 0)
			goto fail;
	}
	if (json_object_set(o, "data", arr) != 0 ||
	    set_str(o, "kdf", d->kdf) != 0)
		goto fail;
	json_decref(arr);
	return o;
 fail:
	json_decref(arr);
	json_decref(o);
	return NULL;
}

static json_t *
wrapped_json(const struct sd_share_entry *s)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (set_str(o, "enc_key", s->enc_key) != 0 ||
	    set_str(o, "x5t_256", s->x5t_256) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
dump(json_t *root, char **json, struct sd_err *e)
{
	if ((*json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "cannot write JSON");
	return 0;
}

int
sd_file_serialize(const struct sd_file *sd, char **json, struct sd_err *e)
{
	json_t *root = NULL, *sk = NULL, *arr = NULL, *w;
	size_t i;
	int r = SD_ERR_INTERNAL;

	if (json == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no output");
	*json = NULL;
	if (sd == NULL || !enc_data_valid(&sd->data) ||
	    sd->key_algorithm == NULL || sd->n_shares == 0 ||
	    sd->shares == NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "incomplete security-domain "
		    "file");
		goto out;
	}
	for (i = 0; i < sd->n_shares; i++) {
		if (sd->shares[i].enc_key == NULL) {
			r = sd_err_set(e, SD_ERR_ARG,
			    "SharedKeys.enc_shares[%zu]: no enc_key", i);
			goto out;
		}
	}
	if ((root = json_object()) == NULL || (sk = json_object()) == NULL ||
	    (arr = json_array()) == NULL)
		goto fail;
	if (json_object_set_new(root, "EncData", enc_data_json(&sd->data)) != 0)
		goto fail;
	for (i = 0; i < sd->n_shares; i++) {
		if ((w = wrapped_json(&sd->shares[i])) == NULL ||
		    json_array_append_new(arr, w) != 0)
			goto fail;
	}
	if (json_object_set(sk, "enc_shares", arr) != 0 ||
	    set_str(sk, "key_algorithm", sd->key_algorithm) != 0 ||
	    json_object_set_new(sk, "required",
	    json_integer(sd->required)) != 0 ||
	    json_object_set(root, "SharedKeys", sk) != 0 ||
	    json_object_set_new(root, "version",
	    json_integer(sd->version)) != 0)
		goto fail;
	if ((r = dump(root, json, e)) != 0)
		goto out;
	r = 0;
	goto out;
 fail:
	r = sd_err_set(e, SD_ERR_ALLOC, "cannot build JSON (out of memory, "
	    "or a string that is not UTF-8)");
 out:
	json_decref(arr);
	json_decref(sk);
	json_decref(root);
	return r;
}

int
sd_blob_serialize(const struct sd_blob *b, char **json, struct sd_err *e)
{
	json_t *root = NULL;
	int r = SD_ERR_INTERNAL;

	if (json == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no output");
	*json = NULL;
	if (b == NULL || !enc_data_valid(&b->data) ||
	    b->wrapped.enc_key == NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "incomplete restore blob");
		goto out;
	}
	if ((root = json_object()) == NULL ||
	    json_object_set_new(root, "EncData",
	    enc_data_json(&b->data)) != 0 ||
	    json_object_set_new(root, "WrappedKey",
	    wrapped_json(&b->wrapped)) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "cannot build JSON (out of "
		    "memory, or a string that is not UTF-8)");
		goto out;
	}
	if ((r = dump(root, json, e)) != 0)
		goto out;
	r = 0;
 out:
	json_decref(root);
	return r;
}

int
sd_x5t256(const uint8_t *der, size_t der_len, char out[static SD_X5T_SIZE])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (der == NULL || der_len == 0)
		return SD_ERR_ARG;
	if (EVP_Digest(der, der_len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != 32)
		return SD_ERR_CRYPTO;
	sodium_bin2base64(out, SD_X5T_SIZE, md, md_len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

/* Decode a base64url JWK member (n or e) that must not be empty. */
static int
jwk_b64url(const json_t *v, const char *path, uint8_t **out, size_t *out_len,
    struct sd_err *e)
{
	int r;

	sd_err_clear(e);
	if ((r = b64url_decode(json_string_value(v), json_string_length(v),
	    out, out_len, e)) != 0)
		return sd_err_prefix(e, r, "%s", path);
	if (*out_len == 0) {
		free(*out);
		*out = NULL;
		return sd_err_set(e, SD_ERR_FORMAT, "%s: empty", path);
	}
	return 0;
}

int
sd_transfer_key_parse(const char *json, size_t len, uint8_t **cert_der,
    size_t *cert_len, uint8_t **n, size_t *n_len, uint8_t **e_, size_t *e_len,
    struct sd_err *e)
{
	json_t *root = NULL, *inner = NULL, *jwk, *v, *x5c, *nv, *ev;
	const char *pfx;
	char path[PATH_LEN];
	uint8_t *der = NULL, *nb = NULL, *eb = NULL;
	size_t der_len = 0, nb_len = 0, eb_len = 0, i;
	const unsigned char *p;
	X509 *x = NULL;
	int r = SD_ERR_INTERNAL;

	if (cert_der == NULL || cert_len == NULL || n == NULL ||
	    n_len == NULL || e_ == NULL || e_len == NULL)
		return sd_err_set(e, SD_ERR_ARG, "sd_transfer_key_parse: no "
		    "output");
	*cert_der = *n = *e_ = NULL;
	*cert_len = *n_len = *e_len = 0;
	sd_err_clear(e);
	if (len > 0 && json == NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "no input");
		goto out;
	}
	if ((r = load_json(json, len, &root, e)) != 0)
		goto out;
	if ((v = json_object_get(root, "transfer_key")) != NULL) {
		if ((v = json_object_get(root, "key_format")) != NULL) {
			if (!json_is_string(v)) {
				r = sd_err_set(e, SD_ERR_FORMAT, "key_format: "
				    "expected a string, found %s",
				    type_str(json_typeof(v)));
				goto out;
			}
			if (strcmp(json_string_value(v), "jwk") != 0) {
				r = sd_err_set(e, SD_ERR_UNSUPPORTED,
				    "key_format: \"%s\" is not supported, "
				    "expected \"jwk\"",
				    shown(json_string_value(v)));
				goto out;
			}
		}
		pfx = "transfer_key";
		v = json_object_get(root, "transfer_key");
		if (json_is_string(v)) {
			/* The service sends the JWK as a string of JSON. */
			if ((r = load_json(json_string_value(v),
			    json_string_length(v), &inner, e)) != 0) {
				sd_err_prefix(e, r, "transfer_key");
				goto out;
			}
			jwk = inner;
		} else if (json_is_object(v)) {
			jwk = v;
		} else {
			r = sd_err_set(e, SD_ERR_FORMAT, "transfer_key: expected "
			    "an object or a string, found %s",
			    type_str(json_typeof(v)));
			goto out;
		}
	} else if (json_object_get(root, "kty") != NULL ||
	    json_object_get(root, "x5c") != NULL) {
		/* The JWK on its own, as one would save it from the reply. */
		pfx = "";
		jwk = root;
	} else {
		r = sd_err_set(e, SD_ERR_FORMAT, "transfer_key: missing");
		goto out;
	}
	if ((v = json_object_get(jwk, "kty")) != NULL) {
		join(path, sizeof(path), pfx, "kty");
		if (!json_is_string(v)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "%s: expected a string, "
			    "found %s", path, type_str(json_typeof(v)));
			goto out;
		}
		if (strcmp(json_string_value(v), "RSA") != 0) {
			r = sd_err_set(e, SD_ERR_UNSUPPORTED, "%s: \"%s\" is not "
			    "supported, expected \"RSA\"", path,
			    shown(json_string_value(v)));
			goto out;
		}
	}
	if ((r = get_member(jwk, pfx, "x5c", JSON_ARRAY, &x5c, e)) != 0)
		goto out;
	join(path, sizeof(path), pfx, "x5c");
	if (json_array_size(x5c) == 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: empty, expected a "
		    "certificate", path);
		goto out;
	}
	for (i = 0; i < json_array_size(x5c); i++) {
		v = json_array_get(x5c, i);
		if (!json_is_string(v)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "%s[%zu]: expected a "
			    "string, found %s", path, i,
			    type_str(json_typeof(v)));
			goto out;
		}
	}
	join(path, sizeof(path), pfx, "x5c[0]");
	v = json_array_get(x5c, 0);
	sd_err_clear(e);
	if ((r = b64std_decode(json_string_value(v), json_string_length(v),
	    &der, &der_len, e)) != 0) {
		sd_err_prefix(e, r, "%s", path);
		goto out;
	}
	/* Refuse here rather than hand on bytes that are no certificate. */
	p = der;
	if (der_len == 0 || der_len > LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)der_len)) == NULL ||
	    p != der + der_len) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: not a DER X.509 "
		    "certificate", path);
		goto out;
	}
	nv = json_object_get(jwk, "n");
	ev = json_object_get(jwk, "e");
	if (nv != NULL || ev != NULL) {
		if ((r = get_member(jwk, pfx, "n", JSON_STRING, &nv, e)) != 0 ||
		    (r = get_member(jwk, pfx, "e", JSON_STRING, &ev, e)) != 0)
			goto out;
		join(path, sizeof(path), pfx, "n");
		if ((r = jwk_b64url(nv, path, &nb, &nb_len, e)) != 0)
			goto out;
		join(path, sizeof(path), pfx, "e");
		if ((r = jwk_b64url(ev, path, &eb, &eb_len, e)) != 0)
			goto out;
	}
	*cert_der = der;
	*cert_len = der_len;
	*n = nb;
	*n_len = nb_len;
	*e_ = eb;
	*e_len = eb_len;
	der = nb = eb = NULL;
	r = 0;
 out:
	X509_free(x);
	free(der);
	free(nb);
	free(eb);
	json_decref(inner);
	json_decref(root);
	return r;
}
