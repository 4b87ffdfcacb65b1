/*
 * escrow_sheet.h - an escrow sheet on paper and back: the PDF (cairo, QR
 * codes by libqrencode) and the plain-text sheet for line printers, and
 * reading QR codes from scanned images (cairo's PNG loader, libzbar).
 *
 * What the sheet carries is made by shares/escrow.h; this module only
 * lays it out and reads it back.  Errors are printed (cli_error).
 */
#ifndef SDTOOL_ESCROW_SHEET_H
#define SDTOOL_ESCROW_SHEET_H

#include <stddef.h>

#include "../shares/escrow.h"
#include "../shares/secret.h"

/* What goes on a sheet. */
struct sheet {
	const struct escrow_header *h;
	const struct escrow_parts *parts;  /* the QR codes' texts */
	const char *text;                  /* the typed copy (escrow_text_encode) */
	size_t n_lines;                    /* its numbered lines */
	int bits;                          /* RSA key size */
	const char *key_name;              /* for the printed restore command */
	const char *cert_name;             /* likewise; NULL when none */
	int compact;                       /* format 2: parts = secret, public */
};

enum sheet_paper { SHEET_A4, SHEET_LETTER };

/*
 * The sheet as a PDF: header, QR codes, typed copy, recovery
 * instructions, signature lines, a footer naming the sheet on every page.
 * *out is guarded memory (the PDF may hold a plain key); *pages is the
 * number of pages.  0, or -1 with the reason in e (nothing printed).
 */
int sheet_pdf(const struct sheet *s, enum sheet_paper paper,
    struct sd_secret **out, int *pages, struct sd_err *e);

/* The same sheet as plain text, without the QR codes.  0 or -1. */
int sheet_text(const struct sheet *s, struct sd_secret **out,
    struct sd_err *e);

/*
 * Draw every QR code of parts as an image, read it back with zbar, and
 * compare: so no sheet is written whose codes do not read.  0 or -1.
 */
int sheet_qr_selfcheck(const struct escrow_parts *parts, int compact,
    struct sd_err *e);

/*
 * Read the QR codes of a PNG image, passing each one's text to fn (which
 * returns 0 to go on, -1 to stop with failure).  Returns the number of
 * codes found (0 is not an error), or -1.
 */
int sheet_scan_png(const char *path,
    int (*fn)(void *ctx, const char *text, size_t len), void *ctx,
    struct sd_err *e);

/*
 * Does the sheet's font lack a glyph for a character of text (UTF-8)?
 * Such a character would print as an empty box: 1 with the first one in
 * *cp, else 0.
 */
int sheet_font_lacks(const char *text, unsigned long *cp);

/*
 * Release what cairo and fontconfig keep for the life of the process, so
 * that leak checkers see only real leaks.  Call once, at the end.
 */
void sheet_cleanup(void);

/* "2026-11-24 09:17 UTC" */
void sheet_time(uint64_t t, char out[static 32]);

/* base64url of 32 bytes, as sdtool prints thumbprints everywhere */
void sheet_b64url(const uint8_t in[static ESCROW_HASH_LEN],
    char out[static 44]);

#endif
