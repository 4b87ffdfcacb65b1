/*
 * The entry point of a helper program: one verb, run as `sdtool VERB`
 * runs it (sdtool executes this program with the verb's arguments).  The
 * Makefile builds this file once per helper, with HELPER_VERB and
 * HELPER_FN set: sdtool-hsm (hsm), sdtool-sim (sim), sdtool-paper
 * (escrow).
 */
#include "cli.h"
#include "verbs.h"

int
main(int argc, char **argv)
{
	if (cli_process_start(HELPER_VERB) != 0)
		return EXIT_FAIL;
	cli_verb_name = HELPER_VERB;
	argv[0] = HELPER_VERB;
	return cli_finish_stdout(HELPER_FN(argc, argv));
}
