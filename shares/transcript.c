/*
 * transcript.c - seal and check the hash chain of a ceremony transcript
 * (see transcript.h).  No I/O.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transcript.h"

#define HASH_KEY ",\"hash\":\""

void
transcript_hex(const uint8_t h[TRANSCRIPT_HASH_LEN], char out[65])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < TRANSCRIPT_HASH_LEN; i++) {
		out[2 * i] = hx[h[i] >> 4];
		out[2 * i + 1] = hx[h[i] & 15];
	}
	out[64] = '\0';
}

static int
sha256(const void *p, size_t n, uint8_t out[TRANSCRIPT_HASH_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != TRANSCRIPT_HASH_LEN)
		return SD_ERR_CRYPTO;
	return 0;
}

int
transcript_seal(const void *fields, uint64_t seq,
    const uint8_t prev[TRANSCRIPT_HASH_LEN], char **line, size_t *line_len,
    uint8_t head[TRANSCRIPT_HASH_LEN], struct sd_err *e)
{
	const json_t *in = fields;
	json_t *obj = NULL, *v;
	const char *key;
	char *body = NULL, *buf = NULL, hex[65];
	size_t blen, n;
	int r = SD_ERR_INTERNAL;

	*line = NULL;
	*line_len = 0;
	if (!json_is_object(in) || seq == 0)
		return sd_err_set(e, SD_ERR_ARG, "transcript entry: bad fields");
	if ((obj = json_object()) == NULL ||
	    json_object_set_new(obj, "seq", json_integer((json_int_t)seq)) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	json_object_foreach((json_t *)in, key, v) {
		if (strcmp(key, "seq") == 0 || strcmp(key, "prev") == 0 ||
		    strcmp(key, "hash") == 0) {
			r = sd_err_set(e, SD_ERR_ARG, "transcript entry: \"%s\" "
			    "is set by the chain", key);
			goto out;
		}
		if (json_object_set(obj, key, v) != 0) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
	}
	transcript_hex(prev, hex);
	if (json_object_set_new(obj, "prev", json_string(hex)) != 0 ||
	    (body = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	blen = strlen(body);
	if (blen < 2 || body[blen - 1] != '}' ||
	    blen > TRANSCRIPT_MAX_LINE - 100) {
		r = sd_err_set(e, SD_ERR_LIMIT, "transcript entry too large");
		goto out;
	}
	blen--;                       /* without the closing brace */
	if ((r = sha256(body, blen, head)) != 0) {
		r = sd_err_set(e, r, "SHA-256 failed");
		goto out;
	}
	transcript_hex(head, hex);
	n = blen + strlen(HASH_KEY) + 64 + 3;
	if ((buf = malloc(n + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(buf, body, blen);
	snprintf(buf + blen, n + 1 - blen, "%s%s\"}\n", HASH_KEY, hex);
	*line = buf;
	*line_len = n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	free(body);
	json_decref(obj);
	return r;
}

void
transcript_check_clear(struct transcript_check *res)
{
	free(res->heads);
	memset(res, 0, sizeof(*res));
}

static int
unhex(const char *s, uint8_t out[TRANSCRIPT_HASH_LEN])
{
	for (size_t i = 0; i < 2 * TRANSCRIPT_HASH_LEN; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* Record the first bad entry; returns SD_ERR_AUTH. */
static int __attribute__((format(printf, 3, 4)))
bad(struct transcript_check *res, size_t entry, const char *fmt, ...)
{
	va_list ap;

	res->bad_entry = entry;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return SD_ERR_AUTH;
}

int
transcript_check(const char *buf, size_t len, struct transcript_check *res,
    struct sd_err *e)
{
	uint8_t prev[TRANSCRIPT_HASH_LEN] = { 0 }, h[TRANSCRIPT_HASH_LEN],
	    want[TRANSCRIPT_HASH_LEN];
	const char *p = buf, *end = buf + len, *nl;
	size_t n, entry = 0, cap = 0, klen = strlen(HASH_KEY);
	json_error_t je;
	json_t *obj;
	int r;

	memset(res, 0, sizeof(*res));
	if (len == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "the transcript is empty");
	while (p < end) {
		entry++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return bad(res, entry, "entry %zu is incomplete (no end "
			    "of line): cut short or appended to", entry);
		n = (size_t)(nl - p);
		if (n > TRANSCRIPT_MAX_LINE)
			return bad(res, entry, "entry %zu is longer than "
			    "allowed", entry);
		/* ... ,"hash":"<64 hex>"} */
		if (n < klen + 64 + 2 || p[n - 1] != '}' || p[n - 2] != '"' ||
		    memcmp(p + n - 66 - klen, HASH_KEY, klen) != 0 ||
		    unhex(p + n - 66, want) != 0)
			return bad(res, entry, "entry %zu does not end with its "
			    "hash", entry);
		if ((r = sha256(p, n - 66 - klen, h)) != 0)
			return sd_err_set(e, r, "SHA-256 failed");
		if (memcmp(h, want, sizeof(h)) != 0)
			return bad(res, entry, "entry %zu was changed: its hash "
			    "does not match its content", entry);
		if ((obj = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je)) ==
		    NULL || !json_is_object(obj)) {
			json_decref(obj);
			return bad(res, entry, "entry %zu is not a JSON "
			    "object", entry);
		}
		{
			json_t *seq = json_object_get(obj, "seq");
			json_t *pv = json_object_get(obj, "prev");
			uint8_t pvb[TRANSCRIPT_HASH_LEN];
			long long s = json_is_integer(seq) ?
			    json_integer_value(seq) : -1;
			int pv_ok = json_is_string(pv) &&
			    json_string_length(pv) == 64 &&
			    unhex(json_string_value(pv), pvb) == 0;

			json_decref(obj);
			if (s != (long long)entry)
				return bad(res, entry, "entry %zu has seq %lld: "
				    "entries were removed, inserted or reordered",
				    entry, s);
			if (!pv_ok || memcmp(pvb, prev, sizeof(prev)) != 0)
				return bad(res, entry, "entry %zu does not chain "
				    "to the entry before it (prev differs): an "
				    "entry was replaced", entry);
		}
		if (res->n_entries == cap) {
			uint8_t (*nh)[TRANSCRIPT_HASH_LEN];

			cap = cap ? cap * 2 : 16;
			if ((nh = realloc(res->heads, cap * sizeof(*nh))) == NULL)
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			res->heads = nh;
		}
		memcpy(res->heads[res->n_entries++], h, sizeof(h));
		memcpy(prev, h, sizeof(prev));
		p = nl + 1;
	}
	return 0;
}
