/*
 * pkcs11_uri.c - parsing and writing PKCS#11 URIs (RFC 7512).
 *
 *   pkcs11-URI = "pkcs11:" path [ "?" query ]
 *   path       = [ attr *( ";" attr ) ]     attr = name "=" value
 *   query      = attr *( "&" attr )
 *
 * Values are percent-decoded.  Every attribute of RFC 7512 is known;
 * vendor attributes ("x-...") are refused like any unknown one, because
 * an attribute we silently ignored would make the URI match a key the
 * officer did not mean.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11_uri.h"

enum attr_kind { A_TEXT, A_ID, A_SLOT_ID, A_TYPE, A_REFUSED };

struct attr_def {
	const char *name;
	int query;                 /* a query attribute, after '?' */
	enum attr_kind kind;
	size_t off;                /* of the char * member (A_TEXT, A_TYPE) */
};

#define OFF(m) offsetof(struct p11_uri, m)

static const struct attr_def attrs[] = {
	{ "token", 0, A_TEXT, OFF(token) },
	{ "manufacturer", 0, A_TEXT, OFF(manufacturer) },
	{ "model", 0, A_TEXT, OFF(model) },
	{ "serial", 0, A_TEXT, OFF(serial) },
	{ "library-manufacturer", 0, A_TEXT, OFF(lib_manufacturer) },
	{ "library-description", 0, A_TEXT, OFF(lib_description) },
	{ "library-version", 0, A_TEXT, OFF(lib_version) },
	{ "slot-description", 0, A_TEXT, OFF(slot_description) },
	{ "slot-manufacturer", 0, A_TEXT, OFF(slot_manufacturer) },
	{ "slot-id", 0, A_SLOT_ID, 0 },
	{ "object", 0, A_TEXT, OFF(object) },
	{ "id", 0, A_ID, 0 },
	{ "type", 0, A_TYPE, OFF(type) },
	{ "pin-source", 1, A_TEXT, OFF(pin_source) },
	{ "pin-value", 1, A_REFUSED, 0 },
	{ "module-name", 1, A_TEXT, OFF(module_name) },
	{ "module-path", 1, A_TEXT, OFF(module_path) },
	{ NULL, 0, 0, 0 }
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode v[0..n-1] into a new buffer (NUL-terminated for
 * convenience); *len gets the decoded length.
 */
static int
decode(const char *name, const char *v, size_t n, uint8_t **out, size_t *len,
    struct sd_err *e)
{
	uint8_t *buf;
	size_t i, j = 0;
	int hi, lo;

	*out = NULL;
	if ((buf = malloc(n + 1)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "pkcs11 URI: out of memory");
	for (i = 0; i < n; i++) {
		if (v[i] != '%') {
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				free(buf);
				return sd_err_set(e, SD_ERR_FORMAT,
				    "pkcs11 URI: %s: control character at "
				    "offset %zu", name, i);
			}
			buf[j++] = (uint8_t)v[i];
			continue;
		}
		if (i + 2 >= n || (hi = hexval(v[i + 1])) < 0 ||
		    (lo = hexval(v[i + 2])) < 0) {
			free(buf);
			return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: %s: bad "
			    "percent-escape at offset %zu (write %%XX with two "
			    "hex digits)", name, i);
		}
		buf[j++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	buf[j] = '\0';
	*out = buf;
	*len = j;
	return 0;
}

static int
set_attr(struct p11_uri *u, const struct attr_def *d, const char *v, size_t n,
    struct sd_err *e)
{
	uint8_t *val = NULL;
	size_t len = 0;
	char **slot, *end;
	int r;

	if ((r = decode(d->name, v, n, &val, &len, e)) != 0)
		return r;
	switch (d->kind) {
	case A_REFUSED:
		free(val);
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: pin-value would "
		    "put the PIN on the command line; use pin-source=FILE, or "
		    "type the PIN when asked");
	case A_ID:
		if (u->has_id)
			goto dup;
		u->id = val;
		u->id_len = len;
		u->has_id = 1;
		return 0;
	case A_SLOT_ID:
		if (u->has_slot_id)
			goto dup;
		if (len == 0 || len > 20 || !isdigit(val[0])) {
			free(val);
			return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: slot-id "
			    "must be a decimal number");
		}
		u->slot_id = strtoul((char *)val, &end, 10);
		if (*end != '\0') {
			free(val);
			return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: slot-id "
			    "must be a decimal number");
		}
		free(val);
		u->has_slot_id = 1;
		return 0;
	case A_TEXT:
	case A_TYPE:
		break;
	}
	if (memchr(val, '\0', len) != NULL) {
		free(val);
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: %s: contains "
		    "%%00", d->name);
	}
	if (d->kind == A_TYPE && strcmp((char *)val, "private") != 0 &&
	    strcmp((char *)val, "public") != 0 &&
	    strcmp((char *)val, "cert") != 0 &&
	    strcmp((char *)val, "secret-key") != 0 &&
	    strcmp((char *)val, "data") != 0) {
		free(val);
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: type must be "
		    "private, public, cert, secret-key or data");
	}
	slot = (char **)((char *)u + d->off);
	if (*slot != NULL)
		goto dup;
	*slot = (char *)val;
	return 0;
 dup:
	free(val);
	return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: attribute '%s' given "
	    "twice", d->name);
}

/* One "name=value" of the path (query 0) or the query (query 1). */
static int
parse_attr(struct p11_uri *u, const char *a, size_t n, int query,
    struct sd_err *e)
{
	const struct attr_def *d;
	const char *eq;
	size_t nl;

	if ((eq = memchr(a, '=', n)) == NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: '%.*s' is not "
		    "name=value", (int)(n > 64 ? 64 : n), a);
	nl = (size_t)(eq - a);
	for (d = attrs; d->name != NULL; d++)
		if (strlen(d->name) == nl && memcmp(d->name, a, nl) == 0)
			break;
	if (d->name == NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: unknown "
		    "attribute '%.*s'", (int)(nl > 64 ? 64 : nl), a);
	if (d->query != query)
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: '%s' belongs "
		    "%s the '?'", d->name, d->query ? "after" : "before");
	return set_attr(u, d, eq + 1, n - nl - 1, e);
}

void
p11_uri_free(struct p11_uri *u)
{
	const struct attr_def *d;

	if (u == NULL)
		return;
	for (d = attrs; d->name != NULL; d++)
		if (d->kind == A_TEXT || d->kind == A_TYPE)
			free(*(char **)((char *)u + d->off));
	free(u->id);
	free(u);
}

int
p11_uri_parse(const char *s, struct p11_uri **out, struct sd_err *e)
{
	struct p11_uri *u = NULL;
	const char *p, *end, *q, *sep;
	size_t n;
	int r = SD_ERR_INTERNAL, query = 0;

	if (out == NULL || s == NULL)
		return sd_err_set(e, SD_ERR_ARG, "p11_uri_parse: no URI");
	*out = NULL;
	if (strncmp(s, "pkcs11:", 7) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "not a pkcs11: URI");
	if ((n = strlen(s)) > P11_URI_MAX)
		return sd_err_set(e, SD_ERR_LIMIT, "pkcs11 URI: longer than %d "
		    "characters", P11_URI_MAX);
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "pkcs11 URI: out of memory");
	p = s + 7;
	end = s + n;
	if ((q = strchr(p, '?')) == NULL)
		q = end;
	while (p < end) {
		if (p == q) {
			/* the '?' itself */
			query = 1;
			p++;
			q = end;
			if (p == end) {
				r = sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: "
				    "nothing after '?'");
				goto out;
			}
			continue;
		}
		if ((sep = memchr(p, query ? '&' : ';', (size_t)(q - p))) == NULL)
			sep = q;
		if (sep == p) {
			r = sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: empty "
			    "attribute at offset %zu", (size_t)(p - s));
			goto out;
		}
		if ((r = parse_attr(u, p, (size_t)(sep - p), query, e)) != 0)
			goto out;
		p = sep;
		if (p < q) {
			p++;   /* the separator */
			if (p == q) {
				r = sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: "
				    "empty attribute at offset %zu",
				    (size_t)(p - s));
				goto out;
			}
		}
	}
	*out = u;
	u = NULL;
	r = 0;
 out:
	p11_uri_free(u);
	return r;
}

/*
 * Percent-encode for a URI component: RFC 3986 unreserved characters
 * stay; so do those RFC 7512 allows in both path and query values that
 * are harmless in a shell word ('@', ':', '+', ',', '/' in the query).
 */
static int
append_enc(char **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n,
    int query, int all)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	char *nb;

	for (i = 0; i < n; i++) {
		if (*len + 4 > *cap) {
			if ((nb = realloc(*buf, *cap * 2 + 8)) == NULL)
				return -1;
			*buf = nb;
			*cap = *cap * 2 + 8;
		}
		if (!all && (isalnum(p[i]) || strchr("-._~@:+,", p[i]) != NULL ||
		    (query && p[i] == '/')) && p[i] != '\0') {
			(*buf)[(*len)++] = (char)p[i];
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[p[i] >> 4];
			(*buf)[(*len)++] = hex[p[i] & 15];
		}
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* Plain text (a name, a separator): copied as it is. */
static int
append_raw(char **buf, size_t *len, size_t *cap, const char *t)
{
	size_t n = strlen(t);
	char *nb;

	if (*len + n + 1 > *cap) {
		if ((nb = realloc(*buf, *len + n + 1 + *cap)) == NULL)
			return -1;
		*buf = nb;
		*cap = *len + n + 1 + *cap;
	}
	memcpy(*buf + *len, t, n + 1);
	*len += n;
	return 0;
}

static int
append_attr(char **buf, size_t *len, size_t *cap, const char *sep,
    const char *name, const uint8_t *v, size_t n, int query, int all)
{
	if (append_raw(buf, len, cap, sep) != 0 ||
	    append_raw(buf, len, cap, name) != 0 ||
	    append_raw(buf, len, cap, "=") != 0)
		return -1;
	return append_enc(buf, len, cap, v, n, query, all);
}

int
p11_uri_format(const char *token, const char *object, const uint8_t *id,
    size_t id_len, const char *type, const char *module_path, char **out)
{
	size_t len = 0, cap = 256;
	char *buf;
	const char *sep = "";

	*out = NULL;
	if ((buf = malloc(cap)) == NULL)
		return SD_ERR_ALLOC;
	memcpy(buf, "pkcs11:", 8);
	len = 7;
	if (token != NULL) {
		if (append_attr(&buf, &len, &cap, sep, "token",
		    (const uint8_t *)token, strlen(token), 0, 0) != 0)
			goto fail;
		sep = ";";
	}
	if (object != NULL) {
		if (append_attr(&buf, &len, &cap, sep, "object",
		    (const uint8_t *)object, strlen(object), 0, 0) != 0)
			goto fail;
		sep = ";";
	}
	if (id != NULL && id_len > 0) {
		/* ids are bytes: always %XX, as p11tool and pkcs11-tool write */
		if (append_attr(&buf, &len, &cap, sep, "id", id, id_len, 0,
		    1) != 0)
			goto fail;
		sep = ";";
	}
	if (type != NULL) {
		if (append_attr(&buf, &len, &cap, sep, "type",
		    (const uint8_t *)type, strlen(type), 0, 0) != 0)
			goto fail;
	}
	if (module_path != NULL &&
	    append_attr(&buf, &len, &cap, "?", "module-path",
	    (const uint8_t *)module_path, strlen(module_path), 1, 0) != 0)
		goto fail;
	/* what p11_uri_parse would refuse is no URI to show anyone */
	if (len > P11_URI_MAX) {
		free(buf);
		return SD_ERR_LIMIT;
	}
	*out = buf;
	return 0;
 fail:
	free(buf);
	return SD_ERR_ALLOC;
}

int
p11_uri_pin_path(const struct p11_uri *u, char **path, struct sd_err *e)
{
	const char *p;

	*path = NULL;
	if (u->pin_source == NULL)
		return 0;
	p = u->pin_source;
	if (strncmp(p, "file://", 7) == 0) {
		/* file:///abs/path; an authority other than empty is refused */
		p += 7;
		if (*p != '/')
			return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: "
			    "pin-source %s: only local files (file:///path)",
			    u->pin_source);
	} else if (strncmp(p, "file:", 5) == 0) {
		p += 5;
	} else if (strchr(p, ':') != NULL && strchr(p, '/') == NULL) {
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "pkcs11 URI: "
		    "pin-source %s: only a file is supported (file:PATH)",
		    u->pin_source);
	}
	if (*p == '\0')
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: pin-source is "
		    "empty");
	if ((*path = strdup(p)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "pkcs11 URI: out of memory");
	return 0;
}
