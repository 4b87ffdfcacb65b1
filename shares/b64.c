/*
 * b64.c - strict base64url and base64 over libsodium's codecs.
 *
 * libsodium already refuses non-canonical trailing bits and, for the
 * unpadded variant, any '='.  What it leaves to us is refusing trailing
 * garbage (it stops at the first character outside the alphabet and
 * reports where through b64_end) and naming the offending offset.
 */
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

#include "b64.h"

/* Whether the first len characters alone are canonical base64. */
static int
unpadded_ok(const char *src, size_t len, uint8_t *buf, size_t maxlen)
{
	return sodium_base642bin(buf, maxlen, src, len, NULL, NULL, NULL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0;
}

static int
b64_decode(const char *in, size_t len, int variant, const char *name,
    uint8_t **out, size_t *out_len, struct sd_err *e)
{
	uint8_t *buf = NULL;
	const char *src, *end = NULL;
	size_t maxlen, n = 0, off;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if (in == NULL && len != 0)
		return sd_err_set(e, SD_ERR_ARG, "no %s input", name);
	src = in != NULL ? in : "";
	if (len > (SIZE_MAX - 3) / 3)
		return sd_err_set(e, SD_ERR_LIMIT, "%s input too long", name);
	/* sodium wants room for the worst case, not the exact size. */
	maxlen = len * 3 / 4 + 3;
	if ((buf = malloc(maxlen)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (sodium_base642bin(buf, maxlen, src, len, NULL, &n, &end,
	    variant) != 0 || end != src + len) {
		/*
		 * end points at the first character not consumed; when the
		 * whole input was consumed the fault is in its last
		 * characters (length, trailing bits or missing padding).
		 */
		off = end != NULL ? (size_t)(end - src) : len;
		/*
		 * Stopped at padding with bad bits before it ("QR=="): the
		 * fault is the last data character, not the '='.
		 */
		if (variant == sodium_base64_VARIANT_ORIGINAL && off > 0 &&
		    off < len && src[off] == '=' && src[off - 1] != '=' &&
		    !unpadded_ok(src, off, buf, maxlen))
			off--;
		if (off >= len)
			off = len ? len - 1 : 0;
		r = sd_err_set(e, SD_ERR_FORMAT, "invalid %s at offset %zu",
		    name, off);
		goto out;
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	return r;
}

static int
b64_encode(const uint8_t *in, size_t len, int variant, char **out)
{
	char *buf;
	size_t n;

	*out = NULL;
	if (in == NULL && len != 0)
		return SD_ERR_ARG;
	if (len > SIZE_MAX / 4 - 4)
		return SD_ERR_LIMIT;
	n = sodium_base64_encoded_len(len, variant);
	if ((buf = malloc(n)) == NULL)
		return SD_ERR_ALLOC;
	/* bin2base64 reads nothing when len is 0, but wants a pointer. */
	sodium_bin2base64(buf, n, len ? in : (const uint8_t *)"", len, variant);
	*out = buf;
	return 0;
}

int
b64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len,
    struct sd_err *e)
{
	return b64_decode(in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	    "base64url", out, out_len, e);
}

int
b64url_encode(const uint8_t *in, size_t len, char **out)
{
	return b64_encode(in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	    out);
}

int
b64std_decode(const char *in, size_t len, uint8_t **out, size_t *out_len,
    struct sd_err *e)
{
	return b64_decode(in, len, sodium_base64_VARIANT_ORIGINAL, "base64",
	    out, out_len, e);
}

int
b64std_encode(const uint8_t *in, size_t len, char **out)
{
	return b64_encode(in, len, sodium_base64_VARIANT_ORIGINAL, out);
}
