/*
 * test_ceremony_pdf.c - the ceremony script as a PDF: read back with
 * pdftotext (poppler-utils), every step is there, steps are not split
 * across pages, the exception sheet and the sign-off start pages, pages
 * are numbered; lines too long for the page are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../paper/ceremony_pdf.h"
#include "../../paper/sheet.h"

#define N_STEPS 40

static __attribute__((noinline)) char *
script(size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	fprintf(f, "====================================================\n"
	    "CEREMONY SCRIPT: Test ceremony\n"
	    "====================================================\n\nROLES\n"
	    "  Witness   name: Zoë Ünal\n\nSTEPS\n");
	for (int i = 1; i <= N_STEPS; i++) {
		fprintf(f, "----------------------------------------------------\n"
		    "STEP %d of %d  [s%d]  Do thing %d\n   by: Operator\n"
		    "     $ sdtool verify --json --sd-file sd.json \\\n"
		    "         --sd-wrapping-keys a.key b.key\n", i, N_STEPS, i, i);
		if (i % 3 == 0)
			fprintf(f, "   CHECKPOINT, confirmed by: Witness\n"
			    "     ____ ____ ____ ____ ____ ____ ____ ____\n");
		fprintf(f, "   [ ] done step %d\n", i);
	}
	fprintf(f, "----------------------------------------------------\n\n"
	    "EXCEPTION SHEET\n  step time what\n\nSIGN-OFF\n  final head\n"
	    "====================================================\n");
	fclose(f);
	*len = n;
	return buf;
}

/* pdftotext's text of the PDF, pages separated by form feeds. */
static __attribute__((noinline)) char *
to_text(const uint8_t *pdf, size_t len)
{
	char path[] = "/tmp/test_ceremony_pdf.XXXXXX", cmd[128], *buf = NULL;
	size_t n = 0, r;
	char chunk[4096];
	FILE *p, *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pdf, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "pdftotext -layout %s - 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	f = open_memstream(&buf, &n);
	while ((r = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, r, f);
	assert_int_equal(pclose(p), 0);
	fclose(f);
	unlink(path);
	return buf;
}

/* The 0-based page of the first occurrence of s, or -1. */
static __attribute__((noinline)) int
page_of(const char *text, const char *s)
{
	const char *at = strstr(text, s);
	size_t off;
	int page = 0;

	if (at == NULL)
		return -1;
	off = (size_t)(at - text);
	for (size_t i = 0; i < off; i++)
		page += text[i] == '\f';
	return page;
}

static void
test_pdf_every_step(void **state)
{
	struct sd_err e = { "" };
	uint8_t *pdf = NULL;
	size_t len, plen;
	char *s = script(&len), *txt, want[64], want2[64];
	int pages = 0;

	(void)state;
	if (access("/usr/bin/pdftotext", X_OK) != 0)
		skip();
	assert_int_equal(ceremony_script_pdf(s, len, "Test ceremony",
	    CER_PAPER_A4, &pdf, &plen, &pages, &e), 0);
	assert_true(plen > 1000);
	assert_memory_equal(pdf, "%PDF-", 5);
	assert_true(pages >= 3);
	txt = to_text(pdf, plen);
	for (int i = 1; i <= N_STEPS; i++) {
		snprintf(want, sizeof(want), "STEP %d of %d", i, N_STEPS);
		snprintf(want2, sizeof(want2), "[ ] done step %d\n", i);
		assert_non_null(strstr(txt, want));
		/* a step is never split across pages */
		assert_int_equal(page_of(txt, want), page_of(txt, want2));
	}
	assert_non_null(strstr(txt, "Zoë Ünal"));
	assert_non_null(strstr(txt, "--sd-wrapping-keys a.key b.key"));
	/* the exception sheet and the sign-off each start a page */
	assert_int_equal(page_of(txt, "EXCEPTION SHEET"), pages - 2);
	assert_int_equal(page_of(txt, "SIGN-OFF"), pages - 1);
	snprintf(want, sizeof(want), "page %d of %d", pages, pages);
	assert_non_null(strstr(txt, want));
	assert_non_null(strstr(txt, "page 1 of"));
	free(txt);
	free(pdf);
	free(s);
}

/* Every printed script of the shipped ceremonies (the e2e goldens). */
static void
test_pdf_real_scripts(void **state)
{
	static const char *const names[] = { "activation", "card-enrolment",
	    "custody-check", "dr-drill", "recovery", "rotation" };
	struct sd_err e = { "" };
	char path[256], *text, *txt, *p, *nl, want[160];
	uint8_t *pdf;
	size_t len, plen, steps;
	int pages;
	FILE *f;

	(void)state;
	if (access("/usr/bin/pdftotext", X_OK) != 0)
		skip();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* run from the top of the source tree, as make unit does */
		snprintf(path, sizeof(path), "tests/e2e/golden/%s.script.txt",
		    names[i]);
		f = fopen(path, "r");
		if (f == NULL)
			fail_msg("%s: run from the source tree's top", path);
		text = malloc(1 << 20);
		assert_non_null(text);
		len = fread(text, 1, (1 << 20) - 1, f);
		text[len] = '\0';
		fclose(f);
		pdf = NULL;
		assert_int_equal(ceremony_script_pdf(text, len, names[i],
		    CER_PAPER_A4, &pdf, &plen, &pages, &e), 0);
		txt = to_text(pdf, plen);
		/* every step's heading line is on the PDF */
		steps = 0;
		for (p = text; (p = strstr(p, "\nSTEP ")) != NULL; p = nl) {
			p++;
			nl = strchr(p, '\n');
			assert_non_null(nl);
			snprintf(want, sizeof(want), "%.*s", (int)(nl - p), p);
			if (strstr(txt, want) == NULL)
				fail_msg("%s: '%s' is not in the PDF", names[i],
				    want);
			steps++;
		}
		assert_true(steps >= 7);
		assert_non_null(strstr(txt, "EXCEPTION SHEET"));
		assert_non_null(strstr(txt, "SIGN-OFF"));
		free(txt);
		free(pdf);
		free(text);
	}
}

static void
test_pdf_refusals(void **state)
{
	struct sd_err e = { "" };
	uint8_t *pdf = NULL;
	size_t plen = 0;
	char line[200];
	int pages = 0;

	(void)state;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(ceremony_script_pdf(line, strlen(line), "T",
	    CER_PAPER_LETTER, &pdf, &plen, &pages, &e), SD_ERR_LIMIT);
	assert_null(pdf);
	assert_non_null(strstr(e.msg, "line 1"));
	assert_int_equal(ceremony_script_pdf("", 0, "T", CER_PAPER_A4, &pdf,
	    &plen, &pages, &e), SD_ERR_ARG);
	assert_int_equal(ceremony_script_pdf(NULL, 0, "T", CER_PAPER_A4, &pdf,
	    &plen, &pages, &e), SD_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdf_every_step),
		cmocka_unit_test(test_pdf_real_scripts),
		cmocka_unit_test(test_pdf_refusals),
	};

	int r = cmocka_run_group_tests(tests, NULL, NULL);

	sheet_cleanup();   /* what cairo and fontconfig keep for the process */
	return r;
}
