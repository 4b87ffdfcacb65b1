/*
 * buf.c - bounded readers and writers for the bytes of APDUs.
 *
 * Every byte that comes from the socket is read through rd_*: each getter
 * checks what is left and fails rather than read past the end.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sim.h"

void
rd_init(struct rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
}

size_t
rd_left(const struct rd *r)
{
	return r->len - r->off;
}

int
rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return SIM_ERR_FORMAT;
	*v = r->p[r->off++];
	return 0;
}

int
rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	*out = NULL;
	if (rd_left(r) < n)
		return SIM_ERR_FORMAT;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

int
rd_len(struct rd *r, size_t *len)
{
	uint8_t b, hi, lo;
	int e;

	*len = 0;
	if ((e = rd_u8(r, &b)) != 0)
		return e;
	if (b < 0x80) {
		*len = b;
		return 0;
	}
	if (b == 0x81) {
		if ((e = rd_u8(r, &lo)) != 0)
			return e;
		*len = lo;
		return 0;
	}
	if (b == 0x82) {
		if ((e = rd_u8(r, &hi)) != 0 || (e = rd_u8(r, &lo)) != 0)
			return e;
		*len = ((size_t)hi << 8) | lo;
		return 0;
	}
	return SIM_ERR_FORMAT;
}

int
rd_tlv(struct rd *r, uint8_t *tag, struct rd *val)
{
	const uint8_t *p;
	size_t len;
	int e;

	rd_init(val, NULL, 0);
	if ((e = rd_u8(r, tag)) != 0 || (e = rd_len(r, &len)) != 0 ||
	    (e = rd_bytes(r, len, &p)) != 0)
		return e;
	rd_init(val, p, len);
	return 0;
}

int
wr_init(struct wr *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->cap = max < 512 ? max : 512;
	if ((w->buf = malloc(w->cap ? w->cap : 1)) == NULL) {
		w->err = SIM_ERR_ALLOC;
		return SIM_ERR_ALLOC;
	}
	return 0;
}

void
wr_clear(struct wr *w)
{
	if (w->buf != NULL) {
		OPENSSL_cleanse(w->buf, w->cap);
		free(w->buf);
	}
	memset(w, 0, sizeof(*w));
}

uint8_t *
wr_reserve(struct wr *w, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (w->err != 0 || w->buf == NULL)
		return NULL;
	if (n > w->max || w->len > w->max - n) {
		w->err = SIM_ERR_RANGE;
		return NULL;
	}
	if (w->len + n > w->cap) {
		cap = w->cap;
		while (cap < w->len + n)
			cap = cap > w->max / 2 ? w->max : cap * 2;
		if ((p = malloc(cap)) == NULL) {
			w->err = SIM_ERR_ALLOC;
			return NULL;
		}
		memcpy(p, w->buf, w->len);
		OPENSSL_cleanse(w->buf, w->cap);
		free(w->buf);
		w->buf = p;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void
wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *p;

	if ((p = wr_reserve(w, 1)) != NULL)
		*p = v;
}

void
wr_bytes(struct wr *w, const uint8_t *src, size_t n)
{
	uint8_t *p;

	if (n == 0)
		return;
	if ((p = wr_reserve(w, n)) != NULL)
		memcpy(p, src, n);
}

void
wr_len(struct wr *w, size_t len)
{
	if (len < 0x80) {
		wr_u8(w, (uint8_t)len);
	} else if (len < 0x100) {
		wr_u8(w, 0x81);
		wr_u8(w, (uint8_t)len);
	} else if (len < 0x10000) {
		wr_u8(w, 0x82);
		wr_u8(w, (uint8_t)(len >> 8));
		wr_u8(w, (uint8_t)len);
	} else {
		w->err = SIM_ERR_RANGE;
	}
}

void
wr_tlv(struct wr *w, uint8_t tag, const uint8_t *p, size_t n)
{
	wr_u8(w, tag);
	wr_len(w, n);
	wr_bytes(w, p, n);
}
