/*
 * paper_verbs.c - the internal verb of the paper helper that `sdtool
 * ceremony print --out FILE.pdf` runs:
 *
 *	sdtool-paper ceremony-pdf --title T --paper a4|letter --out FILE
 *
 * with the text script on standard input.  Linked into sdtool-paper only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "verbs.h"
#include "../paper/ceremony_pdf.h"
#include "../paper/sheet.h"

/* A printed script is a few pages of text; this is far above any. */
#define SCRIPT_MAX (4u << 20)

enum { O_TITLE = 1, O_PAPER, O_OUT };

static const struct opt pdf_opts[] = {
	{ O_TITLE, "title", 0, OPT_VALUE, "TITLE", "the ceremony's title" },
	{ O_PAPER, "paper", 0, OPT_VALUE, "SIZE", "a4 or letter" },
	{ O_OUT, "out", 0, OPT_VALUE, "FILE", "the PDF to write" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* Standard input, whole, at most SCRIPT_MAX bytes. */
static int
read_stdin(char **out, size_t *len)
{
	char *buf;
	size_t n = 0;
	ssize_t r;

	*out = NULL;
	if ((buf = malloc(SCRIPT_MAX + 1)) == NULL)
		return -1;
	while (n <= SCRIPT_MAX) {
		if ((r = read(STDIN_FILENO, buf + n, SCRIPT_MAX + 1 - n)) < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > SCRIPT_MAX) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

int
cmd_ceremony_pdf(int argc, char **argv)
{
	struct opt_parser p;
	struct sd_err e = { "" };
	const char *val, *title = NULL, *out = NULL;
	enum cer_paper paper = CER_PAPER_A4;
	char *text = NULL;
	uint8_t *pdf = NULL;
	size_t len = 0, pdf_len = 0;
	int o, r, pages = 0, ret = EXIT_FAIL;

	opt_init(&p, argc, argv, pdf_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_TITLE: title = val; break;
		case O_OUT: out = val; break;
		case O_PAPER:
			if (strcmp(val, "letter") == 0)
				paper = CER_PAPER_LETTER;
			else if (strcmp(val, "a4") != 0)
				return cli_usage_error("--paper: a4 or letter");
			break;
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (title == NULL || out == NULL)
		return cli_usage_error("--title and --out are required");
	if (read_stdin(&text, &len) != 0) {
		cli_error("the script on standard input cannot be read, or is "
		    "larger than %u bytes", SCRIPT_MAX);
		goto out;
	}
	if ((r = ceremony_script_pdf(text, len, title, paper, &pdf, &pdf_len,
	    &pages, &e)) != 0) {
		cli_core_error(r, &e, "%s", out);
		goto out;
	}
	if (cli_write_new_file(out, pdf, pdf_len, 0644) != 0)
		goto out;
	ret = EXIT_OK;
 out:
	free(text);
	free(pdf);
	/* what cairo and fontconfig keep for the process, so that a leak
	 * checker sees only real leaks */
	sheet_cleanup();
	return ret;
}
