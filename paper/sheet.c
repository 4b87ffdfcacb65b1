/*
 * escrow_sheet.c - laying out an escrow sheet (PDF through cairo, or plain
 * text) and reading its QR codes back from images (libzbar).
 *
 * The sheet is first described as a list of blocks (title, fields,
 * paragraphs, commands, the codes, the typed lines, signature lines), and
 * both renderers walk that list, so the PDF and the text sheet say the
 * same things.  The PDF is laid out twice, the first time only to count
 * its pages for the footers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <fontconfig/fontconfig.h>
#include <qrencode.h>
#include <sodium.h>
#include <zbar.h>

#include "sheet.h"

#define SANS "DejaVu Sans"
#define MONO "DejaVu Sans Mono"

#define SQUEEZE_MAX 3           /* how far a compact sheet tightens */
#define TEXT_WIDTH 76          /* columns of the plain-text sheet */
#define MAX_PIXELS (200u * 1000 * 1000)   /* largest image scanned */

/*
 * The document model.
 */

enum block_kind {
	B_TITLE,      /* a: title, b: subtitle */
	B_NOTICE,     /* a: what the sheet is, in bold */
	B_FIELD,      /* a: label, b: value */
	B_HEADING,    /* a */
	B_PARA,       /* a */
	B_STEP,       /* a: "1.", b: the paragraph */
	B_CODE,       /* a: a command, in the monospace font */
	B_QR,         /* the QR codes */
	B_LINES,      /* the typed copy */
	B_SIGN,       /* a: who signs */
	B_SIGN2,      /* a, b: two who sign, side by side */
};

struct block {
	enum block_kind kind;
	char *a, *b;
	double keep;    /* B_HEADING: room wanted below it on its page */
};

struct doc {
	size_t n, cap;
	struct block *b;
	int failed;
};

static void
doc_add(struct doc *d, enum block_kind kind, const char *a, const char *b)
{
	struct block *nb;

	if (d->failed)
		return;
	if (d->n == d->cap) {
		if ((nb = reallocarray(d->b, d->cap ? d->cap * 2 : 32,
		    sizeof(*nb))) == NULL) {
			d->failed = 1;
			return;
		}
		d->b = nb;
		d->cap = d->cap ? d->cap * 2 : 32;
	}
	d->b[d->n].kind = kind;
	d->b[d->n].keep = 70;
	d->b[d->n].a = a != NULL ? strdup(a) : NULL;
	d->b[d->n].b = b != NULL ? strdup(b) : NULL;
	if ((a != NULL && d->b[d->n].a == NULL) ||
	    (b != NULL && d->b[d->n].b == NULL))
		d->failed = 1;
	d->n++;
}

static void
doc_addf(struct doc *d, enum block_kind kind, const char *a,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
doc_addf(struct doc *d, enum block_kind kind, const char *a,
    const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (a == NULL)
		doc_add(d, kind, buf, NULL);
	else
		doc_add(d, kind, a, buf);
}

static void
doc_clear(struct doc *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->b[i].a);
		free(d->b[i].b);
	}
	free(d->b);
	memset(d, 0, sizeof(*d));
}

void
sheet_time(uint64_t t, char out[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, 32, "%llu", (unsigned long long)t);
}

void
sheet_b64url(const uint8_t in[static ESCROW_HASH_LEN], char out[static 44])
{
	sodium_bin2base64(out, 44, in, ESCROW_HASH_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A field a person fills in by hand when the sheet does not know it. */
#define BLANK "____________________________"

/*
 * Everything the sheet says.  pdf: whether the codes are on it (the text
 * sheet says where to find them instead).
 */
static int
build_doc(const struct sheet *s, int pdf, struct doc *d)
{
	const struct escrow_header *h = s->h;
	char id[ESCROW_ID_CHARS + 1], when[32], x5t[44], idx[16];
	const char *key = s->key_name, *cert = s->cert_name;
	char with_cert[512];

	memset(d, 0, sizeof(*d));
	escrow_b32_encode(h->sheet_id, ESCROW_ID_LEN, id);
	sheet_time(h->created, when);
	if (h->key_index == ESCROW_NO_INDEX)
		snprintf(idx, sizeof(idx), "none");
	else
		snprintf(idx, sizeof(idx), "%d", h->key_index);
	if (cert != NULL)
		snprintf(with_cert, sizeof(with_cert), " --cert %s", cert);
	else
		with_cert[0] = '\0';

	doc_add(d, B_TITLE, "Key escrow sheet", "Azure Key Vault Managed HSM "
	    "security domain: an officer's wrapping key");
	if (h->encrypted)
		doc_add(d, B_NOTICE, "SECRET. This sheet is a copy of a private "
		    "key, encrypted with a passphrase. Keep it in a safe, and "
		    "the passphrase in another place.", NULL);
	else
		doc_add(d, B_NOTICE, "SECRET, NOT ENCRYPTED. This sheet is a "
		    "copy of a private key in the clear: whoever reads it holds "
		    "the key. Keep it in a safe.", NULL);
	doc_add(d, B_FIELD, "HSM", h->hsm[0] ? h->hsm : BLANK);
	doc_add(d, B_FIELD, "Officer", h->officer[0] ? h->officer : BLANK);
	doc_add(d, B_FIELD, "Key index", idx);
	doc_addf(d, B_FIELD, "Key", "RSA-%d, %s", s->bits, key);
	doc_add(d, B_FIELD, "Certificate", h->has_cert ? h->subject :
	    "none was found beside the key");
	if (h->has_cert) {
		sheet_b64url(h->x5t_256, x5t);
		doc_add(d, B_FIELD, "x5t_256", x5t);
	}
	if (h->encrypted)
		doc_addf(d, B_FIELD, "Protection", "passphrase: Argon2id "
		    "(%u MiB, %u passes), XChaCha20-Poly1305",
		    h->memlimit_kib / 1024, h->opslimit);
	else
		doc_add(d, B_FIELD, "Protection", "NONE: the key is not "
		    "encrypted");
	doc_add(d, B_FIELD, "Created", when);
	doc_addf(d, B_FIELD, "Printed by", "sdtool %s", h->version);
	doc_add(d, B_FIELD, "Sheet id", id);

	if (pdf) {
		doc_addf(d, B_HEADING, NULL, "QR code%s", s->parts->n == 1 ?
		    "" : "s");
		if (s->parts->n == 1)
			doc_add(d, B_PARA, "The key in one QR code.", NULL);
		else
			doc_addf(d, B_PARA, NULL, "The key in %zu QR codes: every "
			    "part is needed, in any order.", s->parts->n);
		doc_add(d, B_QR, NULL, NULL);
	}
	doc_addf(d, B_HEADING, NULL, "Typed copy: %zu lines and the end line",
	    s->n_lines);
	doc_addf(d, B_PARA, NULL, "%sType the lines into a text file, each "
	    "with its number (\"14: ...\"), and the end line. Case, spaces and "
	    "hyphens do not matter; O is read as 0, I and L as 1. The last "
	    "characters of a line check its groups of %d, so a mistake is "
	    "named by its line and characters.", pdf ? "If the QR codes "
	    "cannot be read: " : "", ESCROW_GROUP_CHARS);
	doc_add(d, B_LINES, NULL, NULL);

	doc_add(d, B_HEADING, "Recovery", NULL);
	/* the instructions on one page, and the signatures below them */
	if (!d->failed)
		d->b[d->n - 1].keep = 330;
	doc_addf(d, B_STEP, "1.", "On an offline machine with sdtool, %s",
	    pdf ? "scan every page of this sheet to PNG images (150 dpi or "
	    "more), or type the typed copy into a text file, typed.txt." :
	    "type the typed copy into a text file, typed.txt.");
	doc_add(d, B_STEP, "2.", "Restore the key:");
	if (pdf)
		doc_addf(d, B_CODE, NULL, "sdtool escrow restore --scan "
		    "page-1.png page-2.png ... --out %s%s", key, with_cert);
	doc_addf(d, B_CODE, NULL, "sdtool escrow restore --text typed.txt "
	    "--out %s%s", key, with_cert);
	doc_addf(d, B_STEP, "3.", "%s It checks the key against the public "
	    "key this sheet records%s and writes it with mode 0600.%s",
	    h->encrypted ? "sdtool asks this sheet's passphrase, then a new "
	    "one for the key file." : "sdtool asks a new passphrase for the "
	    "key file.", cert != NULL ? " and against the certificate" : "",
	    h->has_cert ? " Compare the x5t_256 it prints with the one above." :
	    "");
	doc_add(d, B_STEP, "4.", "Prove, alone, that the key still opens its "
	    "share of the security domain (the solo key check; exit status 0 "
	    "when it does):");
	doc_addf(d, B_CODE, NULL, "sdtool verify --solo --sd-file SD.json "
	    "--sd-wrapping-keys %s", key);
	doc_add(d, B_PARA, "This proves the key opens its own share. That the "
	    "shares recombine takes a quorum of officers: sdtool verify --all "
	    "with their keys.", NULL);
	doc_add(d, B_PARA, "The whole procedure: man sdtool-escrow.", NULL);

	doc_add(d, B_HEADING, "Signatures", NULL);
	doc_add(d, B_SIGN, "Printed and checked by the officer", NULL);
	doc_add(d, B_SIGN, "Witness", NULL);
	return d->failed ? -1 : 0;
}

/*
 * A compact sheet (format 2): one page.  parts->text[0] is the secret
 * code, parts->text[1] the public one.
 */
static int
build_doc_compact(const struct sheet *s, int pdf, struct doc *d)
{
	const struct escrow_header *h = s->h;
	char id[ESCROW_ID_CHARS + 1], when[32], x5t[44], idx[32];
	const char *key = s->key_name, *cert = s->cert_name;

	memset(d, 0, sizeof(*d));
	escrow_b32_encode(h->sheet_id, ESCROW_ID_LEN, id);
	sheet_time(h->created, when);
	if (h->key_index == ESCROW_NO_INDEX)
		snprintf(idx, sizeof(idx), "no key index");
	else
		snprintf(idx, sizeof(idx), "key index %d", h->key_index);
	sheet_b64url(h->x5t_256, x5t);

	doc_add(d, B_TITLE, "Key escrow sheet", "Azure Key Vault Managed HSM "
	    "security domain: an officer's wrapping key");
	if (h->encrypted)
		doc_add(d, B_NOTICE, "SECRET. This sheet holds the secret half "
		    "of a private key, encrypted with a passphrase. Keep it in a "
		    "safe, and the passphrase in another place.", NULL);
	else
		doc_add(d, B_NOTICE, "SECRET, NOT ENCRYPTED. This sheet holds "
		    "the secret half of a private key in the clear: whoever "
		    "reads it holds the key. Keep it in a safe.", NULL);
	doc_add(d, B_FIELD, "HSM", h->hsm[0] ? h->hsm : BLANK);
	doc_addf(d, B_FIELD, "Officer", "%s (%s)", h->officer[0] ?
	    h->officer : BLANK, idx);
	doc_addf(d, B_FIELD, "Key", "RSA-%d, %s; certificate %s", s->bits, key,
	    h->subject);
	doc_add(d, B_FIELD, "x5t_256", x5t);
	if (h->encrypted)
		doc_addf(d, B_FIELD, "Protection", "passphrase: Argon2id "
		    "(%u MiB, %u passes), XChaCha20-Poly1305",
		    h->memlimit_kib / 1024, h->opslimit);
	else
		doc_add(d, B_FIELD, "Protection", "NONE: not encrypted");
	doc_addf(d, B_FIELD, "Sheet", "%s, %s, sdtool %s", id, when,
	    h->version);
	if (pdf)
		doc_add(d, B_QR, NULL, NULL);
	doc_addf(d, B_HEADING, NULL, "Typed copy: %zu lines and the end line",
	    s->n_lines);
	doc_addf(d, B_PARA, NULL, "%sype each line with its number and the "
	    "end line; case, spaces and hyphens do not matter, O is 0, I and L "
	    "are 1.", pdf ? "If the SECRET code cannot be read, t" : "T");
	doc_add(d, B_LINES, NULL, NULL);
	doc_add(d, B_HEADING, "Recovery", NULL);
	doc_addf(d, B_STEP, "1.", "On an offline machine with sdtool, %s",
	    pdf ? "scan this page to a PNG image (150 dpi or more), or type "
	    "the typed copy into typed.txt." : "type the typed copy into "
	    "typed.txt.");
	doc_addf(d, B_STEP, "2.", "Restore the key%s", pdf ? " (the scan "
	    "holds its certificate, in the PUBLIC code):" : ":");
	if (pdf)
		doc_addf(d, B_CODE, NULL, "sdtool escrow restore --scan "
		    "page.png --out %s", key);
	doc_addf(d, B_CODE, NULL, "sdtool escrow restore --text typed.txt "
	    "--cert %s --out %s", cert != NULL ? cert : "CERT", key);
	doc_addf(d, B_STEP, "3.", "%s--cert: the certificate file%s. sdtool "
	    "rebuilds the key, proves it is the certificate's, writes it "
	    "(mode 0600) and prints its x5t_256: compare it with the one "
	    "above.", h->encrypted ? "It asks this sheet's passphrase, then a "
	    "new one for the key file. " : "", pdf ? " or a scan of the "
	    "PUBLIC code" : "");
	doc_add(d, B_STEP, "4.", "Prove, alone, that the key still opens its "
	    "share (the solo key check; a quorum check proves recombination):");
	doc_addf(d, B_CODE, NULL, "sdtool verify --solo --sd-file SD.json "
	    "--sd-wrapping-keys %s", key);
	doc_add(d, B_SIGN2, "Printed and checked by the officer", "Witness");
	return d->failed ? -1 : 0;
}

/*
 * The PDF.
 */

/* A growing buffer in guarded memory, for cairo's output stream. */
struct gbuf {
	uint8_t *p;
	size_t len, cap;
};

static cairo_status_t
gbuf_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct gbuf *b = closure;
	size_t cap;
	uint8_t *q;

	if (b == NULL)
		return CAIRO_STATUS_SUCCESS;   /* the counting pass */
	if (b->cap - b->len < len) {
		cap = b->cap ? b->cap : 65536;
		while (cap - b->len < len)
			cap *= 2;
		if ((q = sodium_malloc(cap)) == NULL)
			return CAIRO_STATUS_WRITE_ERROR;
		if (b->len)
			memcpy(q, b->p, b->len);
		sodium_free(b->p);
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return CAIRO_STATUS_SUCCESS;
}

struct layout {
	cairo_t *cr;
	const struct sheet *s;
	QRcode **qr;
	double pw, ph;                  /* page */
	double left, right, top, bottom;
	double y;                       /* top of the next line */
	int page;
	int pages;                      /* 0 in the counting pass */
	int compact;                    /* one page: tighter spacing */
	int squeeze;                    /* 0..SQUEEZE_MAX: tighter still */
	char id[ESCROW_ID_CHARS + 1];
};

int
sheet_font_lacks(const char *text, unsigned long *cp)
{
	FcPattern *pat = NULL, *match = NULL;
	FcCharSet *cs = NULL;
	FcResult res;
	FcChar32 c;
	const FcChar8 *p = (const FcChar8 *)text;
	int n, len = (int)strlen(text), lacks = 0;

	*cp = 0;
	if ((pat = FcNameParse((const FcChar8 *)SANS)) == NULL)
		return 0;
	FcConfigSubstitute(NULL, pat, FcMatchPattern);
	FcDefaultSubstitute(pat);
	if ((match = FcFontMatch(NULL, pat, &res)) == NULL ||
	    FcPatternGetCharSet(match, FC_CHARSET, 0, &cs) != FcResultMatch)
		goto out;
	while (len > 0 && (n = FcUtf8ToUcs4(p, &c, len)) > 0) {
		if (c >= 0x20 && !FcCharSetHasChar(cs, c)) {
			*cp = c;
			lacks = 1;
			break;
		}
		p += n;
		len -= n;
	}
 out:
	if (match != NULL)
		FcPatternDestroy(match);
	FcPatternDestroy(pat);
	return lacks;
}

static void
font(struct layout *L, const char *face, int bold, double size)
{
	cairo_select_font_face(L->cr, face, CAIRO_FONT_SLANT_NORMAL,
	    bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(L->cr, size);
}

static double
width_of(struct layout *L, const char *text)
{
	cairo_text_extents_t ext;

	cairo_text_extents(L->cr, text, &ext);
	return ext.x_advance;
}

static void
show(struct layout *L, double x, double baseline, const char *text)
{
	cairo_move_to(L->cr, x, baseline);
	cairo_show_text(L->cr, text);
}

static void
grey(struct layout *L, double level)
{
	cairo_set_source_rgb(L->cr, level, level, level);
}

static void
footer(struct layout *L)
{
	char buf[128];
	double y = L->ph - 26, x;

	grey(L, 0.35);
	font(L, SANS, 0, 7.5);
	snprintf(buf, sizeof(buf), "sdtool key escrow sheet %s", L->id);
	show(L, L->left, y, buf);
	if (L->pages > 0)
		snprintf(buf, sizeof(buf), "page %d of %d", L->page, L->pages);
	else
		snprintf(buf, sizeof(buf), "page %d", L->page);
	x = L->right - width_of(L, buf);
	show(L, x, y, buf);
	font(L, SANS, 1, 7.5);
	show(L, x - 16 - width_of(L, "SECRET"), y, "SECRET");
	grey(L, 0);
}

static void
new_page(struct layout *L)
{
	const struct escrow_header *h = L->s->h;
	char buf[256], idx[32];

	/* the caller's font and colour survive the page break */
	cairo_save(L->cr);
	footer(L);
	cairo_show_page(L->cr);
	L->page++;
	L->y = L->top;
	/* a page that strays from the others still says whose it is */
	grey(L, 0.35);
	font(L, SANS, 0, 8);
	if (h->key_index == ESCROW_NO_INDEX)
		idx[0] = '\0';
	else
		snprintf(idx, sizeof(idx), ", key index %d", h->key_index);
	snprintf(buf, sizeof(buf), "Key escrow sheet %s, continued: officer "
	    "%s%s%s%s", L->id, h->officer[0] ? h->officer : "-", idx,
	    h->hsm[0] ? ", HSM " : "", h->hsm);
	show(L, L->left, L->y + 8, buf);
	cairo_restore(L->cr);
	L->y += 22;
}

static void
need(struct layout *L, double height)
{
	if (L->y + height > L->bottom)
		new_page(L);
}

/*
 * A paragraph wrapped at spaces within [x, right]; returns its height
 * when measure is set, drawing nothing.
 */
static double
wrap(struct layout *L, double x, const char *face, int bold, double size,
    double lead, const char *text, int measure)
{
	char line[1024], trial[1024];
	const char *p = text, *w;
	size_t wl;
	double h = 0;

	font(L, face, bold, size);
	line[0] = '\0';
	for (;;) {
		while (*p == ' ')
			p++;
		for (w = p; *p != '\0' && *p != ' '; p++)
			;
		if ((wl = (size_t)(p - w)) == 0)
			break;
		snprintf(trial, sizeof(trial), "%s%s%.*s", line,
		    line[0] ? " " : "", (int)wl, w);
		if (line[0] && x + width_of(L, trial) > L->right) {
			if (!measure) {
				need(L, lead);
				show(L, x, L->y + size, line);
				L->y += lead;
			}
			h += lead;
			snprintf(line, sizeof(line), "%.*s", (int)wl, w);
		} else
			snprintf(line, sizeof(line), "%s", trial);
	}
	if (line[0]) {
		if (!measure) {
			need(L, lead);
			show(L, x, L->y + size, line);
			L->y += lead;
		}
		h += lead;
	}
	return h;
}

/* The QR code q, its quiet zone included, in a square of side size. */
static void
draw_qr(struct layout *L, double x, double y, double size, const QRcode *q)
{
	double m = size / (q->width + 8);
	int row, col, start;

	cairo_save(L->cr);
	grey(L, 0);
	for (row = 0; row < q->width; row++) {
		for (col = 0; col < q->width; col++) {
			if (!(q->data[row * q->width + col] & 1))
				continue;
			/* one rectangle per run: fewer seams, smaller file */
			for (start = col; col < q->width &&
			    (q->data[row * q->width + col] & 1); col++)
				;
			cairo_rectangle(L->cr, x + (4 + start) * m,
			    y + (4 + row) * m, (col - start) * m, m);
		}
	}
	/* one fill for the whole code: abutting modules leave no gaps */
	cairo_fill(L->cr);
	/* a light frame around the quiet zone, to cut or aim by */
	grey(L, 0.8);
	cairo_set_line_width(L->cr, 0.5);
	cairo_rectangle(L->cr, x, y, size, size);
	cairo_stroke(L->cr);
	cairo_restore(L->cr);
}

static void
pdf_qr(struct layout *L)
{
	const struct escrow_parts *parts = L->s->parts;
	double gap = 24, size = (L->right - L->left - gap) / 2, x;

	/*
	 * 210 pt (74 mm): two rows fit under the header on page 1, and a
	 * version 20 module is still 0.7 mm, 4 pixels at 150 dpi.
	 */
	if (size > 210)
		size = 210;
	char label[64];
	size_t i;

	for (i = 0; i < parts->n; i++) {
		if (i % 2 == 0)
			need(L, size + 22);
		x = parts->n == 1 ? (L->left + L->right - size) / 2 :
		    (L->left + L->right) / 2 + (i % 2 ? gap / 2 : -gap / 2 -
		    size);
		draw_qr(L, x, L->y, size, L->qr[i]);
		font(L, SANS, 1, 10);
		snprintf(label, sizeof(label), "part %zu of %zu", i + 1,
		    parts->n);
		show(L, x + (size - width_of(L, label)) / 2, L->y + size + 12,
		    label);
		if (i % 2 == 1 || i + 1 == parts->n)
			L->y += size + 22;
	}
}

/* A compact sheet's two codes side by side: SECRET, then PUBLIC. */
static void
pdf_qr_compact(struct layout *L)
{
	static const char *const label[2] = { "SECRET: the key's secret half",
		"PUBLIC: the certificate (not secret)" };
	double gap = 40, size = 165 - 5 * L->squeeze, x, lsize = 8.5;
	int i;

	if (size > (L->right - L->left - gap) / 2)
		size = (L->right - L->left - gap) / 2;
	L->y += 4;
	need(L, size + 16);
	for (i = 0; i < 2; i++) {
		x = (L->left + L->right) / 2 + (i ? gap / 2 : -gap / 2 - size);
		draw_qr(L, x, L->y, size, L->qr[i]);
		font(L, SANS, 1, lsize);
		if (i == 0)
			cairo_set_source_rgb(L->cr, 0.75, 0, 0);
		show(L, x + (size - width_of(L, label[i])) / 2,
		    L->y + size + 11, label[i]);
		grey(L, 0);
	}
	L->y += size + 16;
}

static void
pdf_lines(struct layout *L)
{
	const char *p = L->s->text, *nl;
	char line[128];
	double size = L->compact ? 9.5 : 10;
	double lead = L->compact ? 11.5 - 0.5 * L->squeeze : 13.5;
	size_t k = 0;

	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		need(L, lead);
		/* every other line shaded, so the eye keeps its line */
		if (k++ % 2 == 1) {
			grey(L, 0.9);
			cairo_rectangle(L->cr, L->left, L->y + 1.5,
			    L->right - L->left, lead);
			cairo_fill(L->cr);
			grey(L, 0);
		}
		font(L, MONO, strncmp(line, "end:", 4) == 0, size);
		show(L, L->left + 8, L->y + size + 1.5, line);
		L->y += lead;
		if (*nl == '\0')
			break;
	}
	L->y += 6;
}

static void
pdf_sign(struct layout *L, const char *who)
{
	double y, x = L->left, w = L->right - L->left;

	need(L, 58);
	font(L, SANS, 1, 9.5);
	show(L, x, L->y + 10, who);
	y = L->y + 44;
	cairo_set_line_width(L->cr, 0.6);
	cairo_move_to(L->cr, x, y);
	cairo_line_to(L->cr, x + w * 0.36, y);
	cairo_move_to(L->cr, x + w * 0.40, y);
	cairo_line_to(L->cr, x + w * 0.76, y);
	cairo_move_to(L->cr, x + w * 0.80, y);
	cairo_line_to(L->cr, x + w, y);
	cairo_stroke(L->cr);
	font(L, SANS, 0, 7.5);
	grey(L, 0.35);
	show(L, x, y + 10, "name");
	show(L, x + w * 0.40, y + 10, "signature");
	show(L, x + w * 0.80, y + 10, "date");
	grey(L, 0);
	L->y += 66;
}

/* Two signature blocks on one row. */
static void
pdf_sign2(struct layout *L, const char *a, const char *b)
{
	double w = (L->right - L->left - 24) / 2, x, y;
	const char *who;
	int i;

	need(L, 38);
	for (i = 0; i < 2; i++) {
		x = L->left + i * (w + 24);
		who = i ? b : a;
		font(L, SANS, 1, 8.5);
		show(L, x, L->y + 9, who);
		y = L->y + 28;
		cairo_set_line_width(L->cr, 0.6);
		cairo_move_to(L->cr, x, y);
		cairo_line_to(L->cr, x + w * 0.62, y);
		cairo_move_to(L->cr, x + w * 0.68, y);
		cairo_line_to(L->cr, x + w, y);
		cairo_stroke(L->cr);
		font(L, SANS, 0, 7);
		grey(L, 0.35);
		show(L, x, y + 9, "name and signature");
		show(L, x + w * 0.68, y + 9, "date");
		grey(L, 0);
	}
	L->y += 38;
}

/* Lay out the whole document once. */
static void
pdf_doc(struct layout *L, const struct doc *d)
{
	const struct block *b;
	double label_w = 92, h;
	size_t i;

	L->page = 1;
	L->y = L->top;
	for (i = 0; i < d->n; i++) {
		b = &d->b[i];
		switch (b->kind) {
		case B_TITLE:
			if (L->compact) {
				font(L, SANS, 1, 16);
				show(L, L->left, L->y + 16, b->a);
				cairo_set_source_rgb(L->cr, 0.75, 0, 0);
				show(L, L->right - width_of(L, "SECRET"),
				    L->y + 16, "SECRET");
				grey(L, 0);
				font(L, SANS, 0, 9);
				show(L, L->left, L->y + 31, b->b);
				L->y += 40;
				break;
			}
			font(L, SANS, 1, 20);
			show(L, L->left, L->y + 20, b->a);
			font(L, SANS, 0, 10);
			show(L, L->left, L->y + 38, b->b);
			L->y += 52;
			break;
		case B_NOTICE:
			if (L->compact) {
				h = wrap(L, L->left + 8, SANS, 1, 9, 12, b->a, 1);
				cairo_set_source_rgb(L->cr, 0.75, 0, 0);
				cairo_set_line_width(L->cr, 1.2);
				cairo_rectangle(L->cr, L->left, L->y - 2,
				    L->right - L->left, h + 8);
				cairo_stroke(L->cr);
				L->y += 2;
				wrap(L, L->left + 8, SANS, 1, 9, 12, b->a, 0);
				grey(L, 0);
				L->y += 10;
				break;
			}
			h = wrap(L, L->left + 8, SANS, 1, 10, 13.5, b->a, 1);
			cairo_set_source_rgb(L->cr, 0.75, 0, 0);
			cairo_set_line_width(L->cr, 1.2);
			cairo_rectangle(L->cr, L->left, L->y - 2,
			    L->right - L->left, h + 10);
			cairo_stroke(L->cr);
			L->y += 3;
			wrap(L, L->left + 8, SANS, 1, 10, 13.5, b->a, 0);
			grey(L, 0);
			L->y += 14;
			break;
		case B_FIELD:
			if (L->compact) {
				h = wrap(L, L->left + 70, MONO, 0, 8.5, 11, b->b, 1);
				need(L, h);
				font(L, SANS, 1, 8.5);
				show(L, L->left, L->y + 8.5, b->a);
				wrap(L, L->left + 70, MONO, 0, 8.5, 11, b->b, 0);
				break;
			}
			h = wrap(L, L->left + label_w, MONO, 0, 9, 12.5, b->b, 1);
			need(L, h);
			font(L, SANS, 1, 9);
			show(L, L->left, L->y + 9, b->a);
			wrap(L, L->left + label_w, MONO, 0, 9, 12.5, b->b, 0);
			break;
		case B_HEADING:
			if (L->compact) {
				L->y += 6;
				font(L, SANS, 1, 11);
				show(L, L->left, L->y + 11, b->a);
				cairo_set_line_width(L->cr, 0.8);
				cairo_move_to(L->cr, L->left, L->y + 15);
				cairo_line_to(L->cr, L->right, L->y + 15);
				cairo_stroke(L->cr);
				L->y += 20;
				break;
			}
			/* not alone at the foot of a page */
			need(L, b->keep);
			L->y += 12;
			font(L, SANS, 1, 13);
			show(L, L->left, L->y + 13, b->a);
			cairo_set_line_width(L->cr, 0.8);
			cairo_move_to(L->cr, L->left, L->y + 18);
			cairo_line_to(L->cr, L->right, L->y + 18);
			cairo_stroke(L->cr);
			L->y += 26;
			break;
		case B_PARA:
			if (L->compact) {
				wrap(L, L->left, SANS, 0, 8.5, 11, b->a, 0);
				L->y += 3;
				break;
			}
			wrap(L, L->left, SANS, 0, 9.5, 13, b->a, 0);
			L->y += 6;
			break;
		case B_STEP:
			if (L->compact) {
				h = wrap(L, L->left + 14, SANS, 0, 8.5, 11, b->b,
				    1);
				need(L, h);
				font(L, SANS, 1, 8.5);
				show(L, L->left, L->y + 8.5, b->a);
				wrap(L, L->left + 14, SANS, 0, 8.5, 11, b->b, 0);
				L->y += 2;
				break;
			}
			h = wrap(L, L->left + 16, SANS, 0, 9.5, 13, b->b, 1);
			need(L, h);
			font(L, SANS, 1, 9.5);
			show(L, L->left, L->y + 9.5, b->a);
			wrap(L, L->left + 16, SANS, 0, 9.5, 13, b->b, 0);
			L->y += 3;
			break;
		case B_CODE:
			if (L->compact) {
				wrap(L, L->left + 24, MONO, 0, 8, 10.5, b->a, 0);
				L->y += 3;
				break;
			}
			wrap(L, L->left + 28, MONO, 0, 8.5, 12, b->a, 0);
			L->y += 5;
			break;
		case B_QR:
			if (L->compact)
				pdf_qr_compact(L);
			else
				pdf_qr(L);
			break;
		case B_LINES:
			pdf_lines(L);
			break;
		case B_SIGN:
			pdf_sign(L, b->a);
			break;
		case B_SIGN2:
			L->y += 4;
			pdf_sign2(L, b->a, b->b);
			break;
		}
	}
	footer(L);
	cairo_show_page(L->cr);
}

/* One pass: to a stream (NULL: counting only).  Returns the pages. */
static int
pdf_pass(const struct sheet *s, const struct doc *d, QRcode **qr, double pw,
    double ph, int pages, int squeeze, struct gbuf *out, struct sd_err *e)
{
	cairo_surface_t *surf;
	struct layout L;
	char title[128];
	int ret = -1;

	surf = cairo_pdf_surface_create_for_stream(gbuf_write, out, pw, ph);
	if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
		(void)sd_err_set(e, SD_ERR_INTERNAL, "cairo: %s", cairo_status_to_string(
		    cairo_surface_status(surf)));
		cairo_surface_destroy(surf);
		return -1;
	}
	memset(&L, 0, sizeof(L));
	L.cr = cairo_create(surf);
	L.s = s;
	L.qr = qr;
	L.pw = pw;
	L.ph = ph;
	L.left = 48;
	L.right = pw - 48;
	L.top = 42;
	L.bottom = ph - 46;
	L.pages = pages;
	L.compact = s->compact;
	L.squeeze = squeeze;
	if (s->compact) {
		L.top = 32;
		L.bottom = ph - 36;
		L.left = 42;
		L.right = pw - 42;
	}
	escrow_b32_encode(s->h->sheet_id, ESCROW_ID_LEN, L.id);
	snprintf(title, sizeof(title), "Key escrow sheet %s", L.id);
	cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR,
	    "sdtool escrow print");
	pdf_doc(&L, d);
	cairo_destroy(L.cr);
	cairo_surface_finish(surf);
	if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
		(void)sd_err_set(e, SD_ERR_INTERNAL, "drawing the sheet failed: %s",
		    cairo_status_to_string(cairo_surface_status(surf)));
	else
		ret = L.page;
	cairo_surface_destroy(surf);
	return ret;
}

/* The QR codes of parts, level Q; NULL on failure (message printed). */
static QRcode **
encode_codes(const struct escrow_parts *parts, int compact, struct sd_err *e)
{
	QRcode **qr;
	size_t i;

	if ((qr = calloc(parts->n, sizeof(*qr))) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		return NULL;
	}
	for (i = 0; i < parts->n; i++) {
		/* the texts hold only QR alphanumeric characters */
		/* a compact sheet's public code is long (and public): level L */
		qr[i] = QRcode_encodeString(parts->text[i], 0, compact && i == 1 ?
		    QR_ECLEVEL_L : QR_ECLEVEL_Q, QR_MODE_8, 1);
		if (qr[i] == NULL) {
			(void)sd_err_set(e, SD_ERR_INTERNAL, "QR part %zu: %s", i + 1, strerror(errno));
			for (; i-- > 0;)
				QRcode_free(qr[i]);
			free(qr);
			return NULL;
		}
	}
	return qr;
}

static void
free_codes(QRcode **qr, size_t n)
{
	size_t i;

	if (qr == NULL)
		return;
	for (i = 0; i < n; i++) {
		/* the modules are the key, in the clear on a plain sheet */
		sodium_memzero(qr[i]->data, (size_t)qr[i]->width *
		    (size_t)qr[i]->width);
		QRcode_free(qr[i]);
	}
	free(qr);
}

int
sheet_pdf(const struct sheet *s, enum sheet_paper paper,
    struct sd_secret **out, int *pages, struct sd_err *e)
{
	struct doc d;
	struct gbuf buf = { NULL, 0, 0 };
	struct sd_secret *res = NULL;
	QRcode **qr = NULL;
	double pw = paper == SHEET_LETTER ? 612 : 595.276;
	double ph = paper == SHEET_LETTER ? 792 : 841.89;
	int n, squeeze, ret = -1;

	*out = NULL;
	*pages = 0;
	if ((s->compact ? build_doc_compact(s, 1, &d) :
	    build_doc(s, 1, &d)) != 0) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((qr = encode_codes(s->parts, s->compact, e)) == NULL)
		goto out;
	/*
	 * A compact sheet is one page: long names or a long certificate
	 * subject take room, given back by smaller codes (still 0.5 mm a
	 * module at RSA-4096) and tighter lines.
	 */
	for (squeeze = 0;; squeeze++)
		if ((n = pdf_pass(s, &d, qr, pw, ph, 0, squeeze, NULL, e)) < 0 ||
		    !s->compact || n == 1 || squeeze == SQUEEZE_MAX)
			break;
	if (n < 0 || (n = pdf_pass(s, &d, qr, pw, ph, n, squeeze, &buf, e)) < 0)
		goto out;
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	res->p = buf.p;
	res->len = buf.len;
	buf.p = NULL;
	*out = res;
	*pages = n;
	ret = 0;
 out:
	sodium_free(buf.p);
	free_codes(qr, s->parts->n);
	doc_clear(&d);
	return ret;
}

/*
 * The plain-text sheet.
 */

struct tbuf {
	char *p;           /* guarded */
	size_t len, cap;
	int failed;
};

static void
tput(struct tbuf *t, const char *s, size_t n)
{
	char *q;
	size_t cap;

	if (t->failed)
		return;
	if (t->cap - t->len < n + 1) {
		cap = t->cap ? t->cap : 16384;
		while (cap - t->len < n + 1)
			cap *= 2;
		if ((q = sodium_malloc(cap)) == NULL) {
			t->failed = 1;
			return;
		}
		if (t->len)
			memcpy(q, t->p, t->len);
		sodium_free(t->p);
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
tputs(struct tbuf *t, const char *s)
{
	tput(t, s, strlen(s));
}

/* Columns a UTF-8 string takes: one per character. */
static size_t
columns(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* text wrapped at width columns, each line after indent spaces; the
 * first line after first (of indent columns) if given. */
static void
twrap(struct tbuf *t, const char *text, size_t indent, const char *first)
{
	const char *p = text, *w;
	size_t col = 0, wl, i;
	int at_start = 1;

	for (;;) {
		while (*p == ' ')
			p++;
		for (w = p; *p != '\0' && *p != ' '; p++)
			;
		if ((wl = (size_t)(p - w)) == 0)
			break;
		if (!at_start && col + 1 + columns(w, wl) > TEXT_WIDTH) {
			tputs(t, "\n");
			at_start = 1;
		}
		if (at_start) {
			if (first != NULL) {
				tputs(t, first);
				for (i = columns(first, strlen(first));
				    i < indent; i++)
					tputs(t, " ");
				first = NULL;
			} else
				for (i = 0; i < indent; i++)
					tputs(t, " ");
			col = indent;
			at_start = 0;
		} else {
			tputs(t, " ");
			col++;
		}
		tput(t, w, wl);
		col += columns(w, wl);
	}
	if (!at_start)
		tputs(t, "\n");
}

int
sheet_text(const struct sheet *s, struct sd_secret **out, struct sd_err *e)
{
	struct doc d;
	struct tbuf t = { NULL, 0, 0, 0 };
	struct sd_secret *res = NULL;
	const struct block *b;
	char label[64], upper[128];
	size_t i, k;
	int ret = -1;

	*out = NULL;
	if ((s->compact ? build_doc_compact(s, 0, &d) :
	    build_doc(s, 0, &d)) != 0) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < d.n; i++) {
		b = &d.b[i];
		switch (b->kind) {
		case B_TITLE:
			for (k = 0; b->a[k] != '\0' && k + 1 < sizeof(upper);
			    k++)
				upper[k] = (char)(b->a[k] >= 'a' &&
				    b->a[k] <= 'z' ? b->a[k] - 32 : b->a[k]);
			upper[k] = '\0';
			tputs(&t, upper);
			for (k = strlen(upper); k < TEXT_WIDTH - 6; k++)
				tputs(&t, " ");
			tputs(&t, "SECRET\n");
			twrap(&t, b->b, 0, NULL);
			tputs(&t, "\n");
			break;
		case B_NOTICE:
			twrap(&t, b->a, 0, NULL);
			tputs(&t, "\n");
			break;
		case B_FIELD:
			snprintf(label, sizeof(label), "  %s:", b->a);
			twrap(&t, b->b, 16, label);
			break;
		case B_HEADING:
			tputs(&t, "\n");
			for (k = 0; b->a[k] != '\0' && k + 1 < sizeof(upper);
			    k++)
				upper[k] = (char)(b->a[k] >= 'a' &&
				    b->a[k] <= 'z' ? b->a[k] - 32 : b->a[k]);
			upper[k] = '\0';
			tputs(&t, upper);
			tputs(&t, "\n\n");
			break;
		case B_PARA:
			if (i > 0 && d.b[i - 1].kind != B_HEADING)
				tputs(&t, "\n");
			twrap(&t, b->a, 0, NULL);
			if (i + 1 < d.n && d.b[i + 1].kind != B_HEADING)
				tputs(&t, "\n");
			break;
		case B_STEP:
			twrap(&t, b->b, 4, b->a);
			break;
		case B_CODE:
			/* a command is typed as it stands: never wrapped */
			tputs(&t, "      ");
			tputs(&t, b->a);
			tputs(&t, "\n");
			break;
		case B_QR:
			break;
		case B_LINES:
			tputs(&t, s->text);
			break;
		case B_SIGN:
			tputs(&t, b->a);
			tputs(&t, ":\n\n\n  name ____________________  signature "
			    "______________________  date __________\n\n");
			break;
		case B_SIGN2:
			tputs(&t, "\n");
			tputs(&t, b->a);
			tputs(&t, ":\n\n\n  name ____________________  signature "
			    "______________________  date __________\n\n");
			tputs(&t, b->b);
			tputs(&t, ":\n\n\n  name ____________________  signature "
			    "______________________  date __________\n\n");
			break;
		}
	}
	twrap(&t, s->compact ? "The QR codes of this sheet, SECRET and PUBLIC, "
	    "are on its PDF form (sdtool escrow print --format pdf)." :
	    "The QR codes of this sheet are on its PDF form (sdtool "
	    "escrow print --format pdf).", 0, NULL);
	if (t.failed || (res = calloc(1, sizeof(*res))) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	res->p = (uint8_t *)t.p;
	res->len = t.len;
	t.p = NULL;
	*out = res;
	ret = 0;
 out:
	sodium_free(t.p);
	doc_clear(&d);
	return ret;
}

/*
 * Reading QR codes.
 */

/*
 * Scan a grey image (one byte a pixel) for QR codes; each one's text goes
 * to fn.  Returns the number found, or -1.
 */
static int
scan_grey(const uint8_t *grey_px, unsigned w, unsigned h,
    int (*fn)(void *ctx, const char *text, size_t len), void *ctx, struct sd_err *e)
{
	zbar_image_scanner_t *sc = NULL;
	zbar_image_t *img = NULL;
	const zbar_symbol_t *sym;
	int n = 0, ret = -1;

	if ((sc = zbar_image_scanner_create()) == NULL ||
	    (img = zbar_image_create()) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* QR codes only: the sheet has no other kind */
	zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, w, h);
	zbar_image_set_data(img, grey_px, (unsigned long)w * h, NULL);
	if (zbar_scan_image(sc, img) < 0) {
		(void)sd_err_set(e, SD_ERR_FORMAT, "zbar could not scan the image");
		goto out;
	}
	for (sym = zbar_image_first_symbol(img); sym != NULL;
	    sym = zbar_symbol_next(sym)) {
		if (zbar_symbol_get_type(sym) != ZBAR_QRCODE)
			continue;
		if (fn(ctx, zbar_symbol_get_data(sym),
		    zbar_symbol_get_data_length(sym)) != 0)
			goto out;
		n++;
	}
	ret = n;
 out:
	if (img != NULL)
		zbar_image_destroy(img);
	if (sc != NULL)
		zbar_image_scanner_destroy(sc);
	return ret;
}

/* The surface as grey pixels (malloc'd), over white where transparent. */
static uint8_t *
to_grey(cairo_surface_t *src, unsigned *wp, unsigned *hp)
{
	cairo_surface_t *rgb;
	cairo_t *cr;
	uint8_t *g = NULL;
	const uint8_t *row;
	uint32_t px;
	int w, h, x, y, stride;

	w = cairo_image_surface_get_width(src);
	h = cairo_image_surface_get_height(src);
	if (w <= 0 || h <= 0 || (unsigned)w * (unsigned)h / (unsigned)h !=
	    (unsigned)w || (size_t)w * (size_t)h > MAX_PIXELS)
		return NULL;
	/* any PNG cairo reads (grey, palette, alpha) becomes RGB24 */
	rgb = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	cr = cairo_create(rgb);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_set_source_surface(cr, src, 0, 0);
	cairo_paint(cr);
	cairo_destroy(cr);
	cairo_surface_flush(rgb);
	if (cairo_surface_status(rgb) != CAIRO_STATUS_SUCCESS ||
	    (g = malloc((size_t)w * (size_t)h)) == NULL)
		goto out;
	stride = cairo_image_surface_get_stride(rgb);
	for (y = 0; y < h; y++) {
		row = cairo_image_surface_get_data(rgb) + (size_t)y * stride;
		for (x = 0; x < w; x++) {
			memcpy(&px, row + 4 * x, 4);
			g[(size_t)y * w + x] = (uint8_t)((((px >> 16) & 0xff) *
			    299 + ((px >> 8) & 0xff) * 587 + (px & 0xff) * 114) /
			    1000);
		}
	}
	*wp = (unsigned)w;
	*hp = (unsigned)h;
 out:
	cairo_surface_destroy(rgb);
	return g;
}

int
sheet_scan_png(const char *path,
    int (*fn)(void *ctx, const char *text, size_t len), void *ctx, struct sd_err *e)
{
	static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
		0x1a, '\n' };
	cairo_surface_t *img;
	cairo_status_t st;
	uint8_t *g = NULL, sig[8];
	unsigned w = 0, h = 0;
	size_t n;
	FILE *f;
	int ret = -1;

	/* cairo calls any bad PNG "out of memory": look first */
	if ((f = fopen(path, "rb")) == NULL) {
		(void)sd_err_set(e, SD_ERR_IO, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(sig, 1, sizeof(sig), f);
	fclose(f);
	if (n != sizeof(sig) || memcmp(sig, png_sig, sizeof(sig)) != 0) {
		(void)sd_err_set(e, SD_ERR_FORMAT, "%s: cannot be read as a PNG image; scan to PNG, or "
		    "convert (pdftoppm -png, or an image editor)", path);
		return -1;
	}
	img = cairo_image_surface_create_from_png(path);
	if ((st = cairo_surface_status(img)) != CAIRO_STATUS_SUCCESS) {
		if (st == CAIRO_STATUS_FILE_NOT_FOUND)
			(void)sd_err_set(e, SD_ERR_IO, "%s: no such file", path);
		else if (st == CAIRO_STATUS_READ_ERROR)
			(void)sd_err_set(e, SD_ERR_FORMAT, "%s: cannot be read as a PNG image; scan to "
			    "PNG, or convert (pdftoppm -png, or an image "
			    "editor)", path);
		else
			(void)sd_err_set(e, SD_ERR_INTERNAL, "%s: %s", path, cairo_status_to_string(st));
		goto out;
	}
	if ((g = to_grey(img, &w, &h)) == NULL) {
		(void)sd_err_set(e, SD_ERR_ALLOC, "%s: image too large, or out of memory", path);
		goto out;
	}
	ret = scan_grey(g, w, h, fn, ctx, e);
 out:
	if (g != NULL) {
		sodium_memzero(g, (size_t)w * h);
		free(g);
	}
	cairo_surface_destroy(img);
	return ret;
}

/* Self-check: what the one code drawn must read back as. */
struct expect {
	const char *want;
	int matched;
};

static int
expect_fn(void *ctx, const char *text, size_t len)
{
	struct expect *x = ctx;

	if (len == strlen(x->want) && memcmp(text, x->want, len) == 0)
		x->matched++;
	return 0;
}

int
sheet_qr_selfcheck(const struct escrow_parts *parts, int compact,
    struct sd_err *e)
{
	QRcode **qr;
	uint8_t *g = NULL;
	struct expect x;
	const int scale = 3, quiet = 4;
	unsigned side;
	size_t i;
	int r, c, ret = -1;

	if ((qr = encode_codes(parts, compact, e)) == NULL)
		return -1;
	for (i = 0; i < parts->n; i++) {
		side = (unsigned)((qr[i]->width + 2 * quiet) * scale);
		if ((g = malloc((size_t)side * side)) == NULL) {
			(void)sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		memset(g, 0xff, (size_t)side * side);
		for (r = 0; r < (int)side; r++)
			for (c = 0; c < (int)side; c++) {
				int mr = r / scale - quiet, mc = c / scale - quiet;

				if (mr >= 0 && mc >= 0 && mr < qr[i]->width &&
				    mc < qr[i]->width &&
				    (qr[i]->data[mr * qr[i]->width + mc] & 1))
					g[(size_t)r * side + c] = 0;
			}
		x.want = parts->text[i];
		x.matched = 0;
		if (scan_grey(g, side, side, expect_fn, &x, e) < 0)
			goto out;
		if (x.matched != 1) {
			(void)sd_err_set(e, SD_ERR_INTERNAL, "QR part %zu does not read back as written; "
			    "not writing the sheet", i + 1);
			goto out;
		}
		sodium_memzero(g, (size_t)side * side);
		free(g);
		g = NULL;
	}
	ret = 0;
 out:
	if (g != NULL) {
		sodium_memzero(g, (size_t)side * side);
		free(g);
	}
	free_codes(qr, parts->n);
	return ret;
}

void
sheet_cleanup(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
