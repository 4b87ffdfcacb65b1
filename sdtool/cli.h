/*
 * cli.h - what every verb shares: talking to people (errors, warnings,
 * prompts, progress), writing files safely, and the standard exits.
 *
 * Only sdtool/ prints.  Exit statuses: 0 success, 1 failure, 2 usage.
 */
#ifndef SDTOOL_CLI_H
#define SDTOOL_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "opt.h"
#include "../shares/sd_err.h"

#define EXIT_OK     0
#define EXIT_FAIL   1
#define EXIT_USAGE  2

/* A verb or subcommand: its name, its function, one line about it. */
struct cli_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/*
 * Before any verb: core dumps off, not dumpable, libsodium initialised.
 * 0, or -1 with a message (`who` names the program).
 */
int cli_process_start(const char *who);

/*
 * After a verb: flush and close stdout, so that a full disk or a closed
 * pipe does not look like success.  Returns status, or EXIT_FAIL.
 */
int cli_finish_stdout(int status);

/*
 * Was --json given to `PROGRAM VERB ...` (argv[2] on)?  Known before the
 * verb parses its options, so that even a usage error is reported as JSON
 * on stdout (report.h).
 */
int cli_json_requested(int argc, char **argv);

/* The path of this executable (/proc/self/exe), or "(unknown)". */
const char *cli_self_path(void);

/*
 * Find the helper program prog: beside this executable, then in the
 * install's LIBEXECDIR; never on $PATH.  0 with its path in buf, or -1
 * with the places looked in listed in looked.
 */
int cli_helper_find(const char *prog, char *buf, size_t size, char *looked,
    size_t looked_size);

/*
 * Run `prog verb ARG...` (argv: verb first, NULL-terminated) with in[len]
 * on its standard input, and wait: its exit status, or -1 with a message
 * (naming package when prog is not installed).
 */
int cli_helper_run_input(const char *prog, const char *package,
    char *const argv[], const void *in, size_t len);

/*
 * Run the subcommand argv[1] of `sdtool VERB` from table (ended by a NULL
 * name), with argv[1] as its argv[0] and messages saying "sdtool VERB
 * SUB: ".  --help prints the synopsis and the table; a missing or unknown
 * subcommand is a usage error naming those of the table.
 */
int cli_dispatch(const char *synopsis, const struct cli_verb *table,
    int argc, char **argv);

/* Set by main before a verb runs: used as "sdtool verify: " in messages. */
extern const char *cli_verb_name;

/* One line on stderr: "sdtool VERB: <message>". */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "sdtool VERB: warning: <message>". */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Warn when a quorum leaves no room for a loss: with required == shares
 * (N of N), one lost key or passphrase loses the security domain.
 */
void cli_warn_quorum(unsigned required, size_t shares);
/*
 * Report a core error: "sdtool VERB: <what>: <detail>" where detail is
 * e->msg if set, otherwise sd_strerror(code).  Returns EXIT_FAIL.
 */
int cli_core_error(int code, const struct sd_err *e, const char *what, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Print "usage: sdtool VERB SYNOPSIS" and the options of the table, to
 * stdout (for --help, returns EXIT_OK) or stderr (returns EXIT_USAGE).
 * The synopsis is what man/sdtool-VERB.1 shows; a test compares them.
 */
int cli_usage(FILE *to, const char *synopsis, const struct opt *opts);
/* Usage error: the message, then a hint to run --help.  EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Write len bytes to path atomically and without ever replacing anything:
 * the data goes to a temporary file beside it (O_CREAT|O_EXCL|O_NOFOLLOW,
 * the given mode, fsync'd), which is then hard-linked to path (failing if
 * path exists) and unlinked.  On any failure nothing is left behind.
 * Returns 0, or -1 with a message already printed naming path.
 * path "-" is standard output (refused for mode without group/other
 * bits, i.e. a private key); the verb then prints its report elsewhere.
 */
int cli_write_new_file(const char *path, const void *buf, size_t len,
    mode_t mode);

/* A certificate as PEM to a new file (mode 0644), as cli_write_new_file. */
struct x509_st;
int cli_write_cert(const char *path, struct x509_st *cert);

/* dir/name into buf (sys_join_path); -1 with a message when too long. */
int cli_join_path(char *buf, size_t size, const char *dir, const char *name);

/* A certgen_tick_fn: OpenSSL's prime-search marks on stderr. */
void cli_progress_tick(void *ctx, int phase);

/* Fail (message printed, returns -1) when path exists, before doing work. */
int cli_refuse_existing(const char *path);

/* Read a whole file of at most max bytes (message printed on failure). */
int cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/*
 * Passphrases.
 *
 * For keys being opened: `--password-file FILE` holds one passphrase per
 * line, the n-th line for the n-th key given; a file with a single line
 * serves every key.  Without one, the terminal is asked (no echo); with no
 * terminal the key fails with a message saying to use --password-file.
 */
#define CLI_MAX_PASSFILE (64 * 1024)

struct cli_pass {
	const char *file;   /* --password-file (a file or a pipe), or NULL */
	int index;          /* which key is being opened (0-based) */
	char *text;         /* the file, read once, in guarded memory */
	size_t len;
	int attempt;        /* 0 first time; >0 when asked again */
};
/* An hw_passphrase_fn (see hw/key.h) over struct cli_pass. */
int cli_passphrase(void *ctx, const char *ref, char *buf, size_t size);
/* Wipe and free what cli_passphrase cached. */
void cli_pass_clear(struct cli_pass *pass);

/*
 * A new passphrase for a key being written: from the first line of file if
 * given, else asked twice on the terminal.  Refuses one shorter than 8
 * characters.  buf must be guarded memory.  0 or -1 (message printed).
 */
int cli_new_passphrase(const char *file, const char *what, char *buf,
    size_t size);

/*
 * Ask the terminal for a secret (a PIN), without echo, with the prompt
 * given; buf must be guarded memory.  0, or -1 when there is no terminal
 * or nothing was read.
 */
int cli_ask_secret(const char *prompt, char *buf, size_t size);

/* Is there a terminal to ask for passphrases? */
int cli_have_tty(void);

/* Is stderr a terminal (for progress output)? */
int cli_stderr_is_tty(void);

/*
 * Print a jansson value as JSON on stdout, indented, with a newline.
 * Declared with void * to keep jansson out of this header.
 */
void cli_print_json(const void *json_t_value);

#endif
