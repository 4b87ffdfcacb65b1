/*
 * sdtool - custody of Azure Key Vault Managed HSM security domains.
 *
 * main() only dispatches.  Each verb lives in sdtool/cmd_<verb>.c; the
 * verbs that need a network, a server or a PDF stack are separate
 * programs (sdtool-hsm, sdtool-sim, sdtool-paper), executed the way git
 * runs git-remote-https, so that this binary, the one carried to the
 * air-gapped laptop, links libcrypto, libsodium and jansson alone.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "verbs.h"
#include "config.h"   /* SDTOOL_COMMIT: the Makefile */
#include "../pki/cert.h"
#include "../sys/file.h"

/* This executable is never larger. */
#define SELF_MAX (64u << 20)

/*
 * A verb of this binary (fn), or one of a helper program (fn NULL), with
 * the package that ships it.  Helper verbs name their program and the package that ships it; their
 * synopsis is here so that `sdtool VERB --help` says something useful
 * even where the helper is not installed.
 */
struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *helper;
	const char *package;
	const char *synopsis;
};

static const struct verb verbs[] = {
	{ "keygen", cmd_keygen, "make RSA wrapping key pairs for the officers",
	    NULL, NULL, NULL },
	{ "inspect", cmd_inspect, "show what an SD file says, without secrets",
	    NULL, NULL, NULL },
	{ "verify", cmd_verify, "check that every quorum of keys opens an SD "
	    "file", NULL, NULL, NULL },
	{ "restore-blob", cmd_restore_blob, "re-encrypt an SD file for a "
	    "recovery-mode HSM's exchange key", NULL, NULL, NULL },
	{ "reshare", cmd_reshare, "rotate officers: a new SD file for the same "
	    "HSM, new keys and quorum", NULL, NULL, NULL },
	{ "card", cmd_card, "wrapping keys on smartcards and PKCS#11 tokens",
	    NULL, NULL, NULL },
	{ "yk", cmd_yk, "wrap key files with a YubiKey's challenge-response",
	    NULL, NULL, NULL },
	{ "ceremony", cmd_ceremony, "run ceremonies from their files, print "
	    "their scripts, check transcripts", NULL, NULL, NULL },
	{ "escrow", NULL, "paper escrow sheets of a key, and recovery from "
	    "paper", "sdtool-paper", "sdtool-paper",
	    "sdtool escrow print|restore|check [OPTION...]" },
	{ "hsm", NULL, "talk to a Managed HSM: activation download, recovery "
	    "exchange key, restore-blob upload", "sdtool-hsm", "sdtool-online",
	    "sdtool hsm SUBCOMMAND [OPTION...]" },
	{ "sim", NULL, "a simulated Managed HSM for drills and tests",
	    "sdtool-sim", "sdtool-sim",
	    "sdtool sim activate|init-recovery|upload|status|serve [OPTION...]" },
	{ NULL, NULL, NULL, NULL, NULL, NULL }
};

static void
usage(FILE *to)
{
	const struct verb *v;

	fputs("usage: sdtool VERB [OPTION...] [ARG...]\n"
	    "       sdtool VERB --help\n"
	    "       sdtool help VERB\n"
	    "       sdtool --version [--verbose]\n\nverbs:\n", to);
	for (v = verbs; v->name != NULL; v++)
		fprintf(to, "  %-14s %s\n", v->name, v->summary);
	fputs("\nSee sdtool(1) and sdtool-VERB(1).\n", to);
}

static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/*
 * argv[0] is the verb, argv[-1] a slot of main's argv that may be
 * overwritten: the helper is run as `HELPER VERB ARG...`.
 */
static int
run_helper(const struct verb *v, int argc, char **argv)
{
	char path[PATH_MAX], looked[2 * PATH_MAX + 8];

	if (cli_helper_find(v->helper, path, sizeof(path), looked,
	    sizeof(looked)) != 0) {
		if (wants_help(argc, argv)) {
			printf("usage: %s\n\n%s.\n", v->synopsis, v->summary);
			cli_warn("%s is not installed (looked for %s): install "
			    "the package %s for this verb; see sdtool-%s(1)",
			    v->helper, looked, v->package, v->name);
			return EXIT_OK;
		}
		cli_error("this verb needs %s, which is not installed (looked "
		    "for %s): install the package %s", v->helper, looked,
		    v->package);
		return EXIT_FAIL;
	}
	if (fflush(stdout) != 0) {
		cli_error("error writing to standard output: %s",
		    strerror(errno));
		return EXIT_FAIL;
	}
	/* the helper gets the verb, then its arguments */
	argv[-1] = path;
	execv(path, argv - 1);
	cli_error("cannot run %s: %s", path, strerror(errno));
	return EXIT_FAIL;
}

/*
 * What an auditor compares with the published build: the version, the
 * commit it was built from, and the SHA-256 of this very executable.
 */
static int
version_verbose(void)
{
	struct sd_err e = { "" };
	char *buf = NULL, hex[65];
	size_t len = 0;

	cli_verb_name = "--version";
	if (sys_read_file("/proc/self/exe", SELF_MAX, &buf, &len, &e) != 0) {
		cli_error("cannot read this executable: %s", e.msg);
		return EXIT_FAIL;
	}
	pki_sha256_hex(buf, len, hex);
	free(buf);
	printf("sdtool %s\ncommit: %s\nexecutable: %s\nsha256: %s\n",
	    SDTOOL_VERSION, SDTOOL_COMMIT, cli_self_path(), hex);
	return EXIT_OK;
}

static const struct verb *
find_verb(const char *name)
{
	const struct verb *v;

	for (v = verbs; v->name != NULL; v++)
		if (strcmp(name, v->name) == 0)
			return v;
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct verb *v;
	char *help_argv[4];

	if (cli_process_start("sdtool") != 0)
		return EXIT_FAIL;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		usage(stdout);
		return cli_finish_stdout(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0) {
		if (argc > 2 && strcmp(argv[2], "--verbose") == 0)
			return cli_finish_stdout(version_verbose());
		printf("sdtool %s\n", SDTOOL_VERSION);
		return cli_finish_stdout(EXIT_OK);
	}
	/* `sdtool help VERB` is `sdtool VERB --help` */
	if (strcmp(argv[1], "help") == 0) {
		if ((v = find_verb(argv[2])) == NULL) {
			fprintf(stderr, "sdtool: unknown verb '%s'\n", argv[2]);
			usage(stderr);
			return EXIT_USAGE;
		}
		help_argv[0] = argv[0];
		help_argv[1] = (char *)v->name;
		help_argv[2] = "--help";
		help_argv[3] = NULL;
		argc = 3;
		argv = help_argv;
	}
	if ((v = find_verb(argv[1])) == NULL) {
		fprintf(stderr, "sdtool: unknown verb '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	cli_verb_name = v->name;
	if (v->fn == NULL)
		return run_helper(v, argc - 1, argv + 1);
	report_want_json(cli_json_requested(argc, argv));
	return cli_finish_stdout(report_finish(v->name,
	    v->fn(argc - 1, argv + 1)));
}
