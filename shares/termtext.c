/*
 * termtext.c - see termtext.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "termtext.h"

/*
 * Code points shown escaped: C1 controls, format characters (Unicode 14
 * category Cf), line and paragraph separators, Hangul fillers.
 */
static const struct { uint32_t lo, hi; } hidden[] = {
	{ 0x0080, 0x009F }, { 0x00AD, 0x00AD }, { 0x0600, 0x0605 },
	{ 0x061C, 0x061C }, { 0x06DD, 0x06DD }, { 0x070F, 0x070F },
	{ 0x0890, 0x0891 }, { 0x08E2, 0x08E2 }, { 0x115F, 0x1160 },
	{ 0x180E, 0x180E }, { 0x200B, 0x200F }, { 0x2028, 0x202E },
	{ 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0x3164, 0x3164 },
	{ 0xFEFF, 0xFEFF }, { 0xFFA0, 0xFFA0 }, { 0xFFF9, 0xFFFB },
	{ 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x13438 },
	{ 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 },
	{ 0xE0020, 0xE007F },
};

static int
is_hidden(uint32_t cp)
{
	size_t i;

	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (cp >= hidden[i].lo && cp <= hidden[i].hi)
			return 1;
	return 0;
}

static int
is_bidi(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Length (1..4) of the valid UTF-8 sequence at p, with its code point in
 * *cp; 0 if the byte at p does not start one.
 */
static size_t
utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2; c &= 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3; c &= 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4; c &= 0x07; min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

int
termtext_valid_utf8(const void *in, size_t n)
{
	const uint8_t *p = in;
	size_t off = 0, len;
	uint32_t cp;

	while (off < n) {
		if ((len = utf8_next(p + off, n - off, &cp)) == 0)
			return 0;
		off += len;
	}
	return 1;
}

int
termtext_has_bidi(const void *in, size_t n, unsigned long *cpp)
{
	const uint8_t *p = in;
	size_t off = 0, len;
	uint32_t cp;

	while (off < n) {
		if ((len = utf8_next(p + off, n - off, &cp)) == 0) {
			off++;
			continue;
		}
		if (is_bidi(cp)) {
			if (cpp != NULL)
				*cpp = cp;
			return 1;
		}
		off += len;
	}
	return 0;
}

/*
 * Write the rendering of in to out, unit by unit while a unit fits within
 * limit bytes (a unit is never split); *w gets the bytes written.  json:
 * only invalid bytes are escaped.  Returns the whole rendering's length.
 */
static size_t
emit(const uint8_t *p, size_t n, char *out, size_t limit, size_t *wp,
    int json)
{
	char unit[16];
	size_t off = 0, len, ulen, total = 0, w = 0;
	uint32_t cp;
	int full = 0;

	while (off < n) {
		len = utf8_next(p + off, n - off, &cp);
		if (len == 0) {
			snprintf(unit, sizeof(unit), "\\x%02X", p[off]);
			len = 1;
		} else if (json || (cp >= 0x20 && cp != 0x7F && !is_hidden(cp))) {
			memcpy(unit, p + off, len);
			unit[len] = '\0';
		} else if (cp == '\n')
			strcpy(unit, "\\n");
		else if (cp == '\r')
			strcpy(unit, "\\r");
		else if (cp == '\t')
			strcpy(unit, "\\t");
		else if (cp < 0x80)
			snprintf(unit, sizeof(unit), "\\x%02X", (unsigned)cp);
		else
			snprintf(unit, sizeof(unit), cp > 0xFFFF ? "\\U%08X" :
			    "\\u%04X", (unsigned)cp);
		ulen = strlen(unit);
		off += len;
		if (!full && out != NULL && w + ulen <= limit) {
			memcpy(out + w, unit, ulen);
			w += ulen;
		} else
			full = 1;
		total += ulen;
	}
	*wp = w;
	return total;
}

static size_t
render(const uint8_t *p, size_t n, char *out, size_t outsz, int json)
{
	const size_t cutlen = sizeof(TERMTEXT_CUT) - 1;
	size_t total, w;

	total = emit(p, n, NULL, 0, &w, json);
	if (outsz == 0)
		return total;
	if (total < outsz) {
		(void)emit(p, n, out, total, &w, json);
	} else if (outsz > cutlen) {
		(void)emit(p, n, out, outsz - 1 - cutlen, &w, json);
		memcpy(out + w, TERMTEXT_CUT, cutlen);
		w += cutlen;
	} else
		w = 0;
	out[w] = '\0';
	return total;
}

size_t
termtext_render(const void *in, size_t n, char *out, size_t outsz)
{
	return render(in, n, out, outsz, 0);
}

static char *
render_dup(const char *s, int json)
{
	size_t n, need;
	char *out;

	if (s == NULL)
		s = "(none)";
	n = strlen(s);
	need = render((const uint8_t *)s, n, NULL, 0, json);
	if ((out = malloc(need + 1)) == NULL)
		return NULL;
	(void)render((const uint8_t *)s, n, out, need + 1, json);
	return out;
}

char *
termtext_dup(const char *s)
{
	return render_dup(s, 0);
}

char *
termtext_json_dup(const char *s)
{
	return render_dup(s, 1);
}
