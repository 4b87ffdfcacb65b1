/*
 * ceremony_pdf.h - a ceremony's printed script as a PDF (cairo).
 *
 * The script's text is what `sdtool ceremony print` renders (one report,
 * two renderings: the words on paper are the words of the text script);
 * this module only lays it out on pages: monospace, a running header with
 * the ceremony's title, "page N of M" in the footer, a step never split
 * across pages when it fits on one, the exception sheet and the sign-off
 * page each starting a page.  No I/O, no printing: errors in struct
 * sd_err.  To be called from the paper helper program (sdtool-paper).
 */
#ifndef SD_CEREMONY_PDF_H
#define SD_CEREMONY_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "../shares/sd_err.h"

enum cer_paper { CER_PAPER_A4, CER_PAPER_LETTER };

/*
 * Lay out text (len bytes of UTF-8 lines) as a PDF.  title goes in every
 * page's header.  On success *out (malloc'd) holds the PDF, *out_len its
 * size and *pages the page count.  0, or SD_ERR_ARG / SD_ERR_ALLOC /
 * SD_ERR_LIMIT (a line too long for the page) / SD_ERR_INTERNAL (cairo
 * failed, detail in e).
 */
int ceremony_script_pdf(const char *text, size_t len, const char *title,
    enum cer_paper paper, uint8_t **out, size_t *out_len, int *pages,
    struct sd_err *e) SD_WUR;

#endif
