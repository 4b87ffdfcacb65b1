/*
 * The entry point of a helper program.  sdtool executes it as
 *
 *	sdtool-paper VERB [ARG...]
 *
 * with the verb and the arguments the user gave `sdtool VERB`, so the verb
 * runs as it would inside sdtool (messages "sdtool VERB: ...", --json,
 * exit statuses).  The Makefile builds this file once per helper with one
 * of HELPER_HSM, HELPER_SIM, HELPER_PAPER defined, which picks the verbs
 * it links.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "verbs.h"

static const struct cli_verb helper_verbs[] = {
#if defined(HELPER_HSM)
	{ "hsm", cmd_hsm, "talk to a Managed HSM" },
#elif defined(HELPER_SIM)
	{ "sim", cmd_sim, "a simulated Managed HSM" },
#elif defined(HELPER_PAPER)
	{ "escrow", cmd_escrow, "paper escrow sheets" },
	/* internal: sdtool ceremony print --out X.pdf sends the script here */
	{ "ceremony-pdf", cmd_ceremony_pdf, "lay out a ceremony script as PDF" },
#else
#error "build with HELPER_HSM, HELPER_SIM or HELPER_PAPER"
#endif
	{ NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	const struct cli_verb *v;

	if (cli_process_start("helper") != 0)
		return EXIT_FAIL;
	for (v = helper_verbs; argc >= 2 && v->name != NULL; v++)
		if (strcmp(argv[1], v->name) == 0)
			break;
	if (argc < 2 || v->name == NULL) {
		fprintf(stderr, "usage: %s VERB [ARG...] (run by sdtool; "
		    "verbs:", argv[0]);
		for (v = helper_verbs; v->name != NULL; v++)
			fprintf(stderr, " %s", v->name);
		fputs(")\n", stderr);
		return EXIT_USAGE;
	}
	cli_verb_name = v->name;
	report_want_json(cli_json_requested(argc, argv));
	return cli_finish_stdout(report_finish(v->name,
	    v->fn(argc - 1, argv + 1)));
}
