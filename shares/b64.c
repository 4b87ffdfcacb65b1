/*
 * b64.c - strict base64url and base64.
 *
 * Decoding is our own and constant time: base64 carries key material (a
 * JWK, a PEM body), so every character is mapped with arithmetic, never a
 * table or a branch, and the only decision taken on the data, valid or
 * not, is taken once at the end (tests/ct/ checks both under valgrind).
 * It is also strict where libsodium 1.0.18's decoder is not: that one
 * takes any byte from 0x80 up for the last letter of the alphabet ('_'
 * or '/'), so "QUJ\xff" decoded as if it were "QUJ_".
 *
 * Only a rejected input is looked at again, by libsodium, to name the
 * offset of the first character at fault in the same terms as before.
 * Encoding is libsodium's, which is constant time.
 */
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

#include "b64.h"
#include "ct.h"

/* Whether the first len characters alone are canonical base64. */
static int
unpadded_ok(const char *src, size_t len, uint8_t *buf, size_t maxlen)
{
	return sodium_base642bin(buf, maxlen, src, len, NULL, NULL, NULL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0;
}

/*
 * The value 0..63 of character c, with bit 8 set when c is not in the
 * alphabet (url: '-' and '_' for 62 and 63, otherwise '+' and '/').
 */
static uint32_t
b64_value(uint32_t c, int url)
{
	uint32_t m, v = 0, ok = 0;

	m = sd_ct_in(c, 'A', 'Z');
	v |= sd_ct_mask(m) & (c - 'A');
	ok |= m;
	m = sd_ct_in(c, 'a', 'z');
	v |= sd_ct_mask(m) & (c - 'a' + 26);
	ok |= m;
	m = sd_ct_in(c, '0', '9');
	v |= sd_ct_mask(m) & (c - '0' + 52);
	ok |= m;
	m = sd_ct_eq(c, url ? '-' : '+');
	v |= sd_ct_mask(m) & 62;
	ok |= m;
	m = sd_ct_eq(c, url ? '_' : '/');
	v |= sd_ct_mask(m) & 63;
	ok |= m;
	return (v & 63) | ((ok ^ 1) << 8);
}

/*
 * Where a rejected input first goes wrong, as libsodium's decoder would
 * say had it refused bytes from 0x80 up.  Not constant time: the input
 * is refused, and the offset is in the message.
 */
static size_t
fault_offset(const char *src, size_t len, int variant)
{
	uint8_t *buf;
	const char *end = NULL;
	size_t off, i, maxlen = len * 3 / 4 + 3;

	for (i = 0; i < len; i++)
		if ((unsigned char)src[i] >= 0x80)
			break;
	if ((buf = malloc(maxlen)) == NULL)
		return i < len ? i : 0;
	(void)sodium_base642bin(buf, maxlen, src, len, NULL, NULL, &end,
	    variant);
	/*
	 * end points at the first character not consumed; when the whole
	 * input was consumed the fault is in its last characters (length,
	 * trailing bits or missing padding).
	 */
	off = end != NULL ? (size_t)(end - src) : len;
	/*
	 * Stopped at padding with bad bits before it ("QR=="): the fault is
	 * the last data character, not the '='.
	 */
	if (variant == sodium_base64_VARIANT_ORIGINAL && off > 0 &&
	    off < len && src[off] == '=' && src[off - 1] != '=' &&
	    !unpadded_ok(src, off, buf, maxlen))
		off--;
	free(buf);
	if (i < off)
		off = i;
	if (off >= len)
		off = len ? len - 1 : 0;
	return off;
}

static int
b64_decode(const char *in, size_t len, int variant, const char *name,
    uint8_t **out, size_t *out_len, struct sd_err *e)
{
	const unsigned char *src;
	const int url = variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	uint8_t *buf = NULL;
	uint32_t acc = 0, v, bad = 0, pad = 0;
	size_t i, n = 0, dlen, acc_len = 0;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if (in == NULL && len != 0)
		return sd_err_set(e, SD_ERR_ARG, "no %s input", name);
	src = (const unsigned char *)(in != NULL ? in : "");
	if (len > (SIZE_MAX - 3) / 3)
		return sd_err_set(e, SD_ERR_LIMIT, "%s input too long", name);
	if ((buf = malloc(len * 3 / 4 + 3)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	dlen = len;
	if (!url) {
		/* padded: whole quads, the last ending in at most two '=' */
		if (len % 4 != 0) {
			bad = 1;
		} else if (len > 0) {
			pad = sd_ct_eq(src[len - 1], '=');
			pad += pad & sd_ct_eq(src[len - 2], '=');
			/* the output's length says as much */
			sd_ct_declassify(&pad, sizeof(pad));
			dlen = len - pad;
		}
	} else if (len % 4 == 1) {
		bad = 1;   /* six bits cannot end a byte */
	}
	for (i = 0; i < dlen; i++) {
		v = b64_value(src[i], url);
		bad |= v >> 8;
		acc = (acc << 6) | (v & 63);
		acc_len += 6;
		if (acc_len >= 8) {
			acc_len -= 8;
			buf[n++] = (uint8_t)(acc >> acc_len);
		}
	}
	/* the bits past the last byte must be zero (canonical encoding) */
	bad |= sd_ct_nonzero(acc & ((1u << acc_len) - 1));
	sd_ct_declassify(&bad, sizeof(bad));
	if (bad) {
		sodium_memzero(buf, len * 3 / 4 + 3);
		r = sd_err_set(e, SD_ERR_FORMAT, "invalid %s at offset %zu",
		    name, fault_offset((const char *)src, len, variant));
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
