/*
 * sdtool - custody of Azure Key Vault Managed HSM security domains.
 *
 * main() only dispatches: each verb lives in sdtool/cmd_<verb>.c.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "verbs.h"

static const struct cli_verb verbs[] = {
	{ "keygen", cmd_keygen, "make RSA wrapping key pairs for the officers" },
	{ "inspect", cmd_inspect, "show what an SD file says, without secrets" },
	{ "verify", cmd_verify, "check that every quorum of keys opens an SD file" },
	{ "restore-blob", cmd_restore_blob,
	    "re-encrypt an SD file for a recovery-mode HSM's exchange key" },
	{ "sim", cmd_sim, "a simulated Managed HSM for drills and tests" },
	{ "escrow", cmd_escrow, "paper escrow sheets of a key, and recovery "
	    "from paper" },
	{ "hsm", cmd_hsm, "talk to a Managed HSM: activation download, "
	    "recovery exchange key, restore-blob upload" },
	{ "card", cmd_card, "wrapping keys on smartcards and PKCS#11 tokens" },
	{ "yk", cmd_yk, "wrap key files with a YubiKey's challenge-response" },
	{ NULL, NULL, NULL }
};

static void
usage(FILE *to)
{
	const struct cli_verb *v;

	fputs("usage: sdtool VERB [OPTION...] [ARG...]\n"
	    "       sdtool VERB --help\n"
	    "       sdtool help VERB\n"
	    "       sdtool --version\n\nverbs:\n", to);
	for (v = verbs; v->name != NULL; v++)
		fprintf(to, "  %-14s %s\n", v->name, v->summary);
	fputs("\nSee sdtool(1) and sdtool-VERB(1).\n", to);
}

static const struct cli_verb *
find_verb(const char *name)
{
	const struct cli_verb *v;

	for (v = verbs; v->name != NULL; v++)
		if (strcmp(name, v->name) == 0)
			return v;
	return NULL;
}

/*
 * Was --json given?  Known before the verb parses its options, so that
 * even a usage error is reported as JSON on stdout (report.h).
 */
static int
json_requested(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	}
	return 0;
}

/* Secrets must not reach a core file or a debugger attached later. */
static void
harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* A full disk or closed pipe must not look like success. */
static int
finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sdtool: error writing to standard output: %s\n",
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (fclose(stdout) != 0 && errno != EBADF) {
		fprintf(stderr, "sdtool: error closing standard output: %s\n",
		    strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}

int
main(int argc, char **argv)
{
	const struct cli_verb *v;

	harden_process();
	if (sodium_init() < 0) {
		fputs("sdtool: libsodium failed to initialize\n", stderr);
		return EXIT_FAIL;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 && argc >= 3) {
		/* sdtool help VERB: the verb's own --help */
		char *hv[3] = { argv[2], "--help", NULL };

		if ((v = find_verb(argv[2])) == NULL) {
			fprintf(stderr, "sdtool: unknown verb '%s'\n", argv[2]);
			usage(stderr);
			return EXIT_USAGE;
		}
		cli_verb_name = v->name;
		return finish_stdout(v->fn(2, hv));
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return finish_stdout(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sdtool %s\n", SDTOOL_VERSION);
		return finish_stdout(EXIT_OK);
	}
	if ((v = find_verb(argv[1])) != NULL) {
		cli_verb_name = v->name;
		report_want_json(json_requested(argc, argv));
		return finish_stdout(report_finish(v->name,
		    v->fn(argc - 1, argv + 1)));
	}
	fprintf(stderr, "sdtool: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
