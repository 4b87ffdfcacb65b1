/*
 * ceremony_pdf.c - lay out a ceremony's text script on PDF pages (see
 * ceremony_pdf.h).
 */
#include <cairo-pdf.h>
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceremony_pdf.h"

#define MONO        "monospace"
#define FONT_SIZE   8.6     /* 80 columns fit the A4 and Letter text width */
#define LINE_H      10.4
#define MARGIN_X    42.0
#define MARGIN_TOP  58.0
#define MARGIN_BOT  52.0
#define MAX_COLS    96      /* longer lines are refused, not cut */

struct line {
	const char *p;
	size_t n;
	int page;            /* 0-based, after layout */
};

struct pdfbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static cairo_status_t
write_cb(void *closure, const unsigned char *data, unsigned int length)
{
	struct pdfbuf *b = closure;
	uint8_t *np;
	size_t ncap;

	if (b->len + length > b->cap) {
		ncap = b->cap ? b->cap : 65536;
		while (ncap < b->len + length)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return CAIRO_STATUS_WRITE_ERROR;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, length);
	b->len += length;
	return CAIRO_STATUS_SUCCESS;
}

static int
starts(const struct line *l, const char *s)
{
	size_t n = strlen(s);

	return l->n >= n && memcmp(l->p, s, n) == 0;
}

/* A rule line (----- or =====) begins a block kept on one page. */
static int
is_rule(const struct line *l)
{
	return l->n >= 20 && (l->p[0] == '-' || l->p[0] == '=') &&
	    l->p[1] == l->p[0] && l->p[19] == l->p[0];
}

/* Sections that start a new page. */
static int
is_section(const struct line *l)
{
	return starts(l, "EXCEPTION SHEET") || starts(l, "SIGN-OFF");
}

/* Assign pages: returns the page count. */
static int
layout(struct line *L, size_t n, int per_page)
{
	int page = 0, used = 0;
	size_t i = 0, j, block;

	while (i < n) {
		/* the block: from here to before the next rule or section */
		for (j = i + 1; j < n && !is_rule(&L[j]) && !is_section(&L[j]);
		    j++)
			;
		block = j - i;
		if (is_section(&L[i]) && used > 0) {
			page++;
			used = 0;
		} else if (used > 0 && used + (int)block > per_page &&
		    (int)block <= per_page) {
			page++;
			used = 0;
		}
		for (; i < j; i++) {
			if (used == per_page) {
				page++;
				used = 0;
			}
			/* no blank line at the top of a page */
			if (used == 0 && L[i].n == 0 && i > 0) {
				L[i].page = -1;
				continue;
			}
			L[i].page = page;
			used++;
		}
	}
	return page + 1;
}

static void
show_n(cairo_t *cr, const char *p, size_t n)
{
	char buf[MAX_COLS * 4 + 1];

	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	cairo_show_text(cr, buf);
}

int
ceremony_script_pdf(const char *text, size_t len, const char *title,
    enum cer_paper paper, uint8_t **out, size_t *out_len, int *pages,
    struct sd_err *e)
{
	struct pdfbuf b = { 0 };
	struct line *L = NULL;
	cairo_surface_t *surf = NULL;
	cairo_t *cr = NULL;
	const char *p, *end, *nl;
	double w = paper == CER_PAPER_LETTER ? 612.0 : 595.276,
	    h = paper == CER_PAPER_LETTER ? 792.0 : 841.89, y;
	size_t n = 0, cap = 0, i, cols;
	int per_page, npages, page, r = SD_ERR_INTERNAL, row;
	char foot[160];

	*out = NULL;
	*out_len = 0;
	*pages = 0;
	if (text == NULL || title == NULL)
		return sd_err_set(e, SD_ERR_ARG, "no script");
	for (p = text, end = text + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (n == cap) {
			struct line *nlp;

			cap = cap ? cap * 2 : 256;
			if ((nlp = realloc(L, cap * sizeof(*L))) == NULL) {
				r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
				goto out;
			}
			L = nlp;
		}
		L[n].p = p;
		L[n].n = (size_t)(nl - p);
		/* columns: UTF-8 continuation bytes take none */
		for (i = 0, cols = 0; i < L[n].n; i++)
			cols += ((unsigned char)p[i] & 0xC0) != 0x80;
		if (cols > MAX_COLS || L[n].n > MAX_COLS * 4) {
			r = sd_err_set(e, SD_ERR_LIMIT, "script line %zu has %zu "
			    "columns, more than %d", n + 1, cols, MAX_COLS);
			goto out;
		}
		n++;
	}
	if (n == 0)
		return sd_err_set(e, SD_ERR_ARG, "empty script");
	per_page = (int)((h - MARGIN_TOP - MARGIN_BOT) / LINE_H);
	npages = layout(L, n, per_page);

	surf = cairo_pdf_surface_create_for_stream(write_cb, &b, w, h);
	cr = cairo_create(surf);
	if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "cairo: %s",
		    cairo_status_to_string(cairo_status(cr)));
		goto out;
	}
	cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR,
	    "sdtool ceremony print");
	cairo_select_font_face(cr, MONO, CAIRO_FONT_SLANT_NORMAL,
	    CAIRO_FONT_WEIGHT_NORMAL);
	i = 0;
	for (page = 0; page < npages; page++) {
		cairo_set_source_rgb(cr, 0, 0, 0);
		/* header: the title; footer: page N of M */
		cairo_set_font_size(cr, 7.5);
		cairo_move_to(cr, MARGIN_X, 32);
		cairo_show_text(cr, title);
		snprintf(foot, sizeof(foot), "page %d of %d", page + 1, npages);
		cairo_move_to(cr, MARGIN_X, h - 26);
		cairo_show_text(cr, foot);
		cairo_set_line_width(cr, 0.4);
		cairo_move_to(cr, MARGIN_X, 38);
		cairo_line_to(cr, w - MARGIN_X, 38);
		cairo_stroke(cr);
		cairo_set_font_size(cr, FONT_SIZE);
		row = 0;
		for (; i < n && L[i].page <= page; i++) {
			if (L[i].page < 0)
				continue;
			y = MARGIN_TOP + LINE_H * (row + 1);
			row++;
			if (L[i].n == 0)
				continue;
			cairo_move_to(cr, MARGIN_X, y);
			show_n(cr, L[i].p, L[i].n);
		}
		cairo_show_page(cr);
	}
	cairo_destroy(cr);
	cr = NULL;
	cairo_surface_finish(surf);
	if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS || b.oom) {
		r = sd_err_set(e, b.oom ? SD_ERR_ALLOC : SD_ERR_INTERNAL,
		    "cairo: %s", cairo_status_to_string(
		    cairo_surface_status(surf)));
		goto out;
	}
	*out = b.p;
	*out_len = b.len;
	*pages = npages;
	b.p = NULL;
	r = 0;
out:
	if (cr != NULL)
		cairo_destroy(cr);
	if (surf != NULL)
		cairo_surface_destroy(surf);
	free(b.p);
	free(L);
	return r;
}
