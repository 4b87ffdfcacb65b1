/*
 * sdtool ceremony: declarative ceremonies (ceremony/NAME.json), their printed
 * scripts, running them step by step with a tamper-evident transcript,
 * resuming after an interruption, and checking a transcript.
 *
 * The ceremony model and the transcript's hash chain are in shares/
 * (ceremony.c, transcript.c); this file reads files, runs each step's
 * sdtool verb (this very binary, exec'd with the step's argv: never a
 * shell), asks people to confirm, and appends the transcript.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "verbs.h"
#include "../shares/ceremony.h"
#include "../shares/readaloud.h"
#include "../shares/transcript.h"

#define SYNOPSIS "list | print | run | resume | verify ..."
#define LIST_SYNOPSIS "[--dir DIR] [--json]"
#define PRINT_SYNOPSIS "NAME [--params FILE] [--out FILE] [--paper a4 | letter] " \
	"[--dir DIR]"
#define RUN_SYNOPSIS "NAME --params FILE (--transcript FILE | --dry-run) " \
	"[--dir DIR]"
#define RESUME_SYNOPSIS "--transcript FILE"
#define VERIFY_SYNOPSIS "[--head WORDS ...] [--json] TRANSCRIPT"

#define MAX_REPORT (4u << 20)   /* largest --json report a step may print */
#define MAX_INPUT_HASH (1ull << 34)

/* Exit status of verify: the chain is intact but the ceremony incomplete. */
#define EXIT_INCOMPLETE 3

enum { O_DIR = 1, O_JSON, O_PARAMS, O_OUT, O_TRANSCRIPT, O_DRY_RUN, O_HEAD,
	O_PAPER };

/* ---------------------------------------------------------------- files */

/* The directory of this executable (for ceremony files beside it). */
static int
exe_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n <= 0 || (size_t)n >= size - 1)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * Where ceremony files are: --dir, else $SDTOOL_CEREMONY_DIR, else
 * ../ceremony beside the binary (the source tree), else
 * ../share/sdtool/ceremony beside it (installed).
 */
static int
ceremony_dir(const char *opt, char *out, size_t size)
{
	const char *env = getenv("SDTOOL_CEREMONY_DIR");
	char exe[PATH_MAX], *slash, cand[PATH_MAX + 64];
	static const char *const rel[] = { "/../ceremony",
	    "/../share/sdtool/ceremony" };
	struct stat st;

	if (opt != NULL || (env != NULL && env[0] != '\0')) {
		snprintf(out, size, "%s", opt != NULL ? opt : env);
		return 0;
	}
	if (exe_path(exe, sizeof(exe)) == 0 &&
	    (slash = strrchr(exe, '/')) != NULL) {
		*slash = '\0';
		for (size_t i = 0; i < 2; i++) {
			snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
			if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
				snprintf(out, size, "%s", cand);
				return 0;
			}
		}
	}
	cli_error("no ceremony directory: give --dir DIR or set "
	    "SDTOOL_CEREMONY_DIR");
	return -1;
}

/* NAME is a ceremony in the directory, or a path to a .json file. */
static int
ceremony_path(const char *name, const char *opt_dir, char *out, size_t size)
{
	char dir[PATH_MAX];
	size_t n = strlen(name);

	if (strchr(name, '/') != NULL ||
	    (n > 5 && strcmp(name + n - 5, ".json") == 0)) {
		snprintf(out, size, "%s", name);
		return 0;
	}
	if (ceremony_dir(opt_dir, dir, sizeof(dir)) != 0)
		return -1;
	if ((size_t)snprintf(out, size, "%s/%s.json", dir, name) >= size) {
		cli_error("%s: path too long", name);
		return -1;
	}
	return 0;
}

static void
sha256_hex(const void *p, size_t n, char hex[65])
{
	uint8_t h[32];
	unsigned int len = 0;

	if (EVP_Digest(p, n, h, &len, EVP_sha256(), NULL) != 1) {
		hex[0] = '\0';
		return;
	}
	transcript_hex(h, hex);
}

/* SHA-256 of a file, streamed: 0, or -1 with errno set. */
static int
file_sha256(const char *path, char hex[65])
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t buf[65536], h[32];
	unsigned int len = 0;
	ssize_t n;
	int fd, r = -1, saved;

	hex[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, h, &len) != 1)
		goto out;
	transcript_hex(h, hex);
	r = 0;
out:
	saved = errno;
	EVP_MD_CTX_free(ctx);
	close(fd);
	errno = saved;
	return r;
}

/* Read-aloud forms of a hex SHA-256: grouped hex and PGP words. */
static void
readaloud_of_hex(const char *hex, char *hx, size_t hxsz, char *words,
    size_t wsz)
{
	uint8_t b[32];

	hx[0] = words[0] = '\0';
	for (size_t i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return;
		b[i] = (uint8_t)v;
	}
	if (readaloud_hex(b, 32, hx, hxsz) != 0 ||
	    readaloud_pgp(b, 32, words, wsz) != 0)
		hx[0] = words[0] = '\0';
}

/*
 * "LABEL 185F 403B ... (8 groups)" then the other 8 groups aligned under
 * them: a SHA-256 in read-aloud hex, within 80 columns.
 */
static void
put_hash(FILE *f, const char *label, const char *hex)
{
	char hx[128], words[512];
	size_t n = strlen(label);

	readaloud_of_hex(hex, hx, sizeof(hx), words, sizeof(words));
	if (strlen(hx) < 79) {
		fprintf(f, "%s%s\n", label, hx);
		return;
	}
	/* 8 groups of "XXXX " are 40 characters */
	fprintf(f, "%s%.39s\n%*s%s\n", label, hx, (int)n, "", hx + 40);
}

/* The time now, RFC 3339 UTC. */
static void
utc_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A ceremony, loaded with its parameters, and where it came from. */
struct loaded {
	struct ceremony *c;
	char path[PATH_MAX];
	char sha256[65];
	const char *params_path;
	char params_sha256[65];
	json_t *params;          /* the params file as given, or NULL */
};

static void
loaded_clear(struct loaded *l)
{
	ceremony_free(l->c);
	json_decref(l->params);
	memset(l, 0, sizeof(*l));
}

static int
load_ceremony(const char *name, const char *dir, const char *params,
    struct loaded *l)
{
	struct sd_err e = { "" };
	char *cbuf = NULL, *pbuf = NULL;
	size_t clen = 0, plen = 0;
	int r, rc = -1;

	memset(l, 0, sizeof(*l));
	if (ceremony_path(name, dir, l->path, sizeof(l->path)) != 0)
		return -1;
	if (cli_read_file(l->path, CER_MAX_FILE, &cbuf, &clen) != 0)
		goto out;
	sha256_hex(cbuf, clen, l->sha256);
	if (params != NULL) {
		if (cli_read_file(params, CER_MAX_FILE, &pbuf, &plen) != 0)
			goto out;
		sha256_hex(pbuf, plen, l->params_sha256);
		l->params_path = params;
		l->params = json_loadb(pbuf, plen, 0, NULL);
	}
	if ((r = ceremony_load(cbuf, clen, pbuf, plen, &l->c, &e)) != 0) {
		cli_error("%s%s%s: %s", l->path, params ? " with " : "",
		    params ? params : "", e.msg[0] ? e.msg : sd_strerror(r));
		report_note_code(report_code_of(r));
		goto out;
	}
	rc = 0;
out:
	free(cbuf);
	free(pbuf);
	if (rc != 0)
		loaded_clear(l);
	return rc;
}

/* -------------------------------------------------------------- output */

/* Append a step's command line, quoted for a POSIX shell. */
static void
put_command(FILE *f, const struct cer_step *s, const char *indent)
{
	char q[4096];
	size_t col;

	col = (size_t)fprintf(f, "%s$ sdtool", indent);
	for (size_t i = 0; i < s->argc; i++) {
		if (ceremony_quote_arg(s->argv[i], q, sizeof(q)) < 0)
			snprintf(q, sizeof(q), "'...'");
		if (col + 1 + strlen(q) > 76 && i > 0) {
			fprintf(f, " \\\n%s    ", indent);
			col = strlen(indent) + 4;
		} else {
			fputc(' ', f);
			col++;
		}
		col += (size_t)fprintf(f, "%s", q);
	}
	fputc('\n', f);
}

/* Text wrapped at 76 columns: first line after first, the rest after rest. */
static void
put_wrapped2(FILE *f, const char *text, const char *first, const char *rest)
{
	const char *p = text, *sp, *indent = first;
	size_t col = 0, w;

	while (*p != '\0') {
		if (*p == '\n') {
			fputc('\n', f);
			col = 0;
			p++;
			continue;
		}
		while (*p == ' ')
			p++;
		w = strcspn(p, " \n");
		if (w == 0)
			continue;
		if (col == 0) {
			col = (size_t)fprintf(f, "%s", indent);
			indent = rest;
		} else if (col + 1 + w > 76) {
			fputc('\n', f);
			col = (size_t)fprintf(f, "%s", indent);
			indent = rest;
		} else {
			fputc(' ', f);
			col++;
		}
		sp = p;
		fwrite(sp, 1, w, f);
		col += w;
		p += w;
	}
	if (col > 0)
		fputc('\n', f);
}

/* Text wrapped at 76 columns with an indent. */
static void
put_wrapped(FILE *f, const char *text, const char *indent)
{
	put_wrapped2(f, text, indent, indent);
}

static const char *
who_of(const struct ceremony *c, const struct cer_step *s)
{
	const struct cer_role *r;

	if (s->who != NULL)
		return s->who;
	r = ceremony_role(c, s->role);
	return r != NULL && r->name != NULL ? r->name : NULL;
}

static void
put_step_files(FILE *f, const struct cer_step *s, int script)
{
	char hx[128], words[512];

	for (size_t i = 0; i < s->n_inputs; i++) {
		fprintf(f, "   input:  %s\n", s->inputs[i].path);
		if (s->inputs[i].sha256 == NULL)
			continue;
		readaloud_of_hex(s->inputs[i].sha256, hx, sizeof(hx), words,
		    sizeof(words));
		put_hash(f, "           expected SHA-256 ", s->inputs[i].sha256);
		if (script)
			put_wrapped(f, words, "             ");
	}
	for (size_t i = 0; i < s->n_outputs; i++)
		fprintf(f, "   output: %s\n", s->outputs[i]);
}

static void
put_checkpoint_roles(FILE *f, const struct ceremony *c,
    const struct cer_step *s)
{
	for (size_t i = 0; i < s->n_checkpoint; i++) {
		const struct cer_role *r = ceremony_role(c, s->checkpoint[i]);
		const char *name = strcmp(s->checkpoint[i], s->role) == 0 &&
		    s->who != NULL ? s->who : r->name;

		fprintf(f, "%s%s%s%s%s", i ? ", " : "", r->title,
		    name ? " (" : "", name ? name : "", name ? ")" : "");
	}
}

/* What --dry-run prints: exactly what would run, in order. */
static void
put_dry_run(FILE *f, const struct loaded *l)
{
	const struct ceremony *c = l->c;

	fprintf(f, "ceremony %s, version %s: %s\n", c->name, c->version,
	    c->title);
	fprintf(f, "%zu steps (dry run: nothing is run, no transcript is "
	    "written)\n", c->n_steps);
	for (size_t i = 0; i < c->n_steps; i++) {
		const struct cer_step *s = &c->steps[i];
		const char *who = who_of(c, s);

		fprintf(f, "\n%zu. [%s] %s\n", i + 1, s->id, s->title);
		fprintf(f, "   by: %s%s%s%s\n", ceremony_role(c, s->role)->title,
		    who ? " (" : "", who ? who : "", who ? ")" : "");
		if (s->manual != NULL) {
			fputs("   manual, ticked by hand:\n", f);
			put_wrapped(f, s->manual, "     ");
		} else {
			put_command(f, s, "   ");
			if (s->n_status > 1 || s->status[0] != 0) {
				fputs("   success: exit status", f);
				for (size_t k = 0; k < s->n_status; k++)
					fprintf(f, " %d", s->status[k]);
				fputc('\n', f);
			}
		}
		put_step_files(f, s, 0);
		if (s->n_checkpoint > 0) {
			fputs("   checkpoint: chain head read aloud; confirmed by ",
			    f);
			put_checkpoint_roles(f, c, s);
			fputc('\n', f);
		}
	}
}

static void
put_rule(FILE *f, int c)
{
	for (int i = 0; i < 76; i++)
		fputc(c, f);
	fputc('\n', f);
}

/* The printed script: steps, checkboxes, exception sheet, sign-off. */
static void
put_script(FILE *f, const struct loaded *l)
{
	const struct ceremony *c = l->c;
	char line[1024], *roles = NULL;
	size_t i, k, rlen = 0;
	FILE *rf;

	put_rule(f, '=');
	fprintf(f, "CEREMONY SCRIPT: %s\n", c->title);
	fprintf(f, "ceremony %s, version %s, %zu steps\n", c->name, c->version,
	    c->n_steps);
	put_hash(f, "ceremony file SHA-256: ", l->sha256);
	if (l->params_path != NULL)
		put_hash(f, "parameters SHA-256:    ", l->params_sha256);
	fputs("Date: ______________   Place: ______________________   "
	    "Script copy __ of __\n", f);
	put_rule(f, '=');
	if (c->note != NULL) {
		fputc('\n', f);
		put_wrapped(f, c->note, "");
	}
	fputs("\nHOW TO USE THIS SCRIPT\n", f);
	put_wrapped(f, "The operator runs `sdtool ceremony run` and reads "
	    "each step aloud before doing it. The witness ticks the box, "
	    "writes the time (UTC) and initials it. At each CHECKPOINT the "
	    "screen shows the transcript's chain head; the witness reads it "
	    "aloud and writes it here. Anything unexpected goes on the "
	    "exception sheet at the end, and the ceremony follows "
	    "sd-ceremony(7) for what to do next.", "  ");
	fputs("\nROLES\n", f);
	for (i = 0; i < c->n_roles; i++) {
		const struct cer_role *r = &c->roles[i];

		fprintf(f, "  %-28s name: %-26s initials: ____\n", r->title,
		    r->name ? r->name : "__________________________");
		if (r->note != NULL)
			put_wrapped(f, r->note, "      ");
	}
	if (c->n_params > 0) {
		fputs("\nPARAMETERS\n", f);
		for (i = 0; i < c->n_params; i++)
			fprintf(f, "  %-22s %s\n", c->params[i].name,
			    c->params[i].value ? c->params[i].value :
			    "(not set)");
	}
	if (c->n_materials > 0) {
		fputs("\nMATERIALS (tick when present)\n", f);
		for (i = 0; i < c->n_materials; i++)
			put_wrapped2(f, c->materials[i], "  [ ] ", "      ");
	}
	fputs("\nSTEPS\n", f);
	for (i = 0; i < c->n_steps; i++) {
		const struct cer_step *s = &c->steps[i];
		const char *who = who_of(c, s);

		put_rule(f, '-');
		snprintf(line, sizeof(line), "STEP %zu of %zu  [%s]  %s", i + 1,
		    c->n_steps, s->id, s->title);
		put_wrapped2(f, line, "", "      ");
		fprintf(f, "   by: %s%s%s%s\n", ceremony_role(c, s->role)->title,
		    who ? " (" : "", who ? who : "", who ? ")" : "");
		if (s->note != NULL)
			put_wrapped(f, s->note, "   ");
		if (s->manual != NULL) {
			fputs("   DO, by hand:\n", f);
			put_wrapped(f, s->manual, "     ");
		} else {
			fputs("   The operator's screen runs:\n", f);
			put_command(f, s, "     ");
		}
		put_step_files(f, s, 1);
		for (k = 0; k < s->n_outputs; k++)
			fprintf(f, "   SHA-256 of output %zu as shown (first 4 "
			    "groups): ____ ____ ____ ____\n", k + 1);
		fprintf(f, "   [ ] done  time (UTC) ______  %sinitials "
		    "______  witness ______\n", s->manual ? "" :
		    "exit status ___  ");
		if (s->n_checkpoint > 0) {
			if ((rf = open_memstream(&roles, &rlen)) != NULL) {
				fputs("CHECKPOINT, confirmed by: ", rf);
				put_checkpoint_roles(rf, c, s);
				if (fclose(rf) == 0)
					put_wrapped2(f, roles, "   ", "     ");
				free(roles);
				roles = NULL;
			}
			fputs("   chain head, first 8 groups of hex:\n"
			    "     ____ ____ ____ ____ ____ ____ ____ ____\n"
			    "   or its first 16 words:\n"
			    "     ________ ________ ________ ________ "
			    "________ ________ ________ ________\n"
			    "     ________ ________ ________ ________ "
			    "________ ________ ________ ________\n", f);
			for (k = 0; k < s->n_checkpoint; k++)
				fprintf(f, "   %-24s initials: ______\n",
				    ceremony_role(c, s->checkpoint[k])->title);
		}
	}
	put_rule(f, '-');
	fputs("\nEXCEPTION SHEET\n", f);
	put_wrapped(f, "Anything that did not go as written: a failed "
	    "passphrase, a locked card, a hash that does not match, an HSM "
	    "that says Failed. Write what happened, what sd-ceremony(7) said "
	    "to do, and what was done. The transcript records the failed "
	    "step; continue with `sdtool ceremony resume`.", "  ");
	fputs("\n  step   time (UTC)  what happened / what was done"
	    "                 initials\n", f);
	for (k = 0; k < 10; k++)
		fputs("  _____  __________  _____________________________"
		    "_________________  ________\n", f);
	fputs("\nSIGN-OFF\n", f);
	put_wrapped(f, "At the end the screen shows the final chain head. "
	    "Write it in full; `sdtool ceremony verify TRANSCRIPT --head "
	    "WORDS` later proves the transcript is the one ended today.",
	    "  ");
	fputs("\n  final chain head (hex):\n", f);
	for (k = 0; k < 2; k++)
		fputs("    ____ ____ ____ ____ ____ ____ ____ ____\n", f);
	fputs("  final chain head (words):\n", f);
	for (k = 0; k < 4; k++)
		fputs("    ________ ________ ________ ________ ________ "
		    "________ ________ ________\n", f);
	fputs("  transcript file: ________________________  "
	    "copies: __________________\n\n", f);
	put_wrapped(f, "We attest that the steps above were performed as "
	    "ticked, that every exception is on the exception sheet, and "
	    "that the chain head above is the one shown at the end.", "  ");
	fputc('\n', f);
	for (i = 0; i < c->n_roles; i++)
		for (k = 0; k < (c->roles[i].name ? 1u : 3u); k++)
			fprintf(f, "  %-20s %-20s sign ____________  date "
			    "________\n", c->roles[i].title, c->roles[i].name ?
			    c->roles[i].name : "____________________");
	put_rule(f, '=');
}

/* ------------------------------------------------------------ list */

static const struct opt list_opts[] = {
	{ O_DIR, "dir", 0, OPT_VALUE, "DIR", "where the ceremony files are" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
ceremony_list(int argc, char **argv)
{
	struct opt_parser p;
	const char *val, *dirarg = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 300], hex[65];
	char **names = NULL, *buf = NULL;
	struct dirent *de;
	DIR *d = NULL;
	json_t *rep = NULL, *arr;
	size_t n = 0, cap = 0, len;
	int json = 0, o, rc = EXIT_FAIL;

	opt_init(&p, argc, argv, list_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_DIR: dirarg = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, LIST_SYNOPSIS, list_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (ceremony_dir(dirarg, dir, sizeof(dir)) != 0)
		return EXIT_FAIL;
	if ((d = opendir(dir)) == NULL) {
		cli_error("%s: %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l <= 5 || strcmp(de->d_name + l - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL)
				goto out;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	qsort(names, n, sizeof(*names), namecmp);
	rep = report_new("ceremony");
	arr = json_array();
	json_object_set_new(rep, "dir", json_string(dir));
	json_object_set_new(rep, "ceremonies", arr);
	rc = EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		struct ceremony *c = NULL;
		struct sd_err e = { "" };
		json_t *o1;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (cli_read_file(path, CER_MAX_FILE, &buf, &len) != 0) {
			rc = EXIT_FAIL;
			continue;
		}
		sha256_hex(buf, len, hex);
		if (ceremony_peek(buf, len, &c, &e) != 0) {
			cli_error("%s: %s", path, e.msg);
			rc = EXIT_FAIL;
		} else {
			/* "version" alone is ambiguous (sd-json(5)) */
			o1 = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
			    c->name, "title", c->title, "ceremony_version",
			    c->version, "file", path, "sha256", hex);
			json_array_append_new(arr, o1);
			if (!json)
				printf("%-16s v%-4s %s\n", c->name, c->version,
				    c->title);
		}
		ceremony_free(c);
		free(buf);
		buf = NULL;
	}
	report_set_ok(rep, rc == EXIT_OK);
	if (json)
		report_print(rep);
out:
	json_decref(rep);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d != NULL)
		closedir(d);
	return rc;
}

/* ------------------------------------------------------------ print */

static const struct opt print_opts[] = {
	{ O_PARAMS, "params", 0, OPT_VALUE, "FILE", "the ceremony's parameters (JSON)" },
	{ O_OUT, "out", 'o', OPT_VALUE, "FILE", "write the script to FILE, text or, for FILE.pdf, PDF (must not exist; default: standard output)" },
	{ O_PAPER, "paper", 0, OPT_VALUE, "SIZE", "a4 (default) or letter, for a PDF" },
	{ O_DIR, "dir", 0, OPT_VALUE, "DIR", "where the ceremony files are" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/*
 * A PDF is laid out by the paper helper (sdtool-paper, which links cairo):
 * the text script goes to its standard input, so the words on paper are
 * exactly the words of the text script.
 */
static int
emit_pdf(const struct loaded *l, const char *out, const char *paper,
    const char *text, size_t len)
{
	char *argv[] = { "ceremony-pdf", "--title", l->c->title, "--paper",
	    (char *)paper, "--out", (char *)out, NULL };
	int st;

	st = cli_helper_run_input("sdtool-paper", "sdtool-paper", argv, text,
	    len);
	return st == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Render into memory with f, then to out (new file) or stdout. */
static int
emit(const struct loaded *l, const char *out, const char *paper,
    void (*render)(FILE *, const struct loaded *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	render(f, l);
	if (fclose(f) != 0) {
		free(buf);
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	if (out == NULL) {
		fwrite(buf, 1, len, stdout);
		rc = EXIT_OK;
	} else if (paper != NULL) {
		rc = emit_pdf(l, out, paper, buf, len);
	} else {
		rc = cli_write_new_file(out, buf, len, 0644) == 0 ? EXIT_OK :
		    EXIT_FAIL;
	}
	free(buf);
	return rc;
}

static int
ceremony_print(int argc, char **argv)
{
	struct opt_parser p;
	struct loaded l;
	const char *val, *name = NULL, *params = NULL, *out = NULL,
	    *dir = NULL;
	const char *paper = "a4";
	size_t n;
	int o, rc, pdf;

	opt_init(&p, argc, argv, print_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_PARAMS: params = val; break;
		case O_OUT: out = val; break;
		case O_DIR: dir = val; break;
		case O_PAPER:
			if (strcmp(val, "a4") != 0 && strcmp(val, "letter") != 0)
				return cli_usage_error("--paper %s: a4 or letter",
				    val);
			paper = val;
			break;
		case OPT_HELP: return cli_usage(stdout, PRINT_SYNOPSIS, print_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		case 0:
			if (name != NULL)
				return cli_usage_error("unexpected argument '%s'",
				    val);
			name = val;
			break;
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (name == NULL)
		return cli_usage_error("which ceremony? (sdtool ceremony list)");
	pdf = out != NULL && (n = strlen(out)) > 4 &&
	    strcmp(out + n - 4, ".pdf") == 0;
	if (out != NULL && cli_refuse_existing(out) != 0)
		return EXIT_FAIL;
	if (load_ceremony(name, dir, params, &l) != 0)
		return EXIT_FAIL;
	rc = emit(&l, out, pdf ? paper : NULL, put_script);
	loaded_clear(&l);
	return rc;
}

/* ------------------------------------------------------------ run */

/* A transcript being appended. */
struct tx {
	const char *path;
	int fd;
	uint64_t seq;             /* of the last entry written */
	uint8_t head[TRANSCRIPT_HASH_LEN];
};

/* Seal and append one entry, fsync'd.  Frees fields. */
static int
tx_append(struct tx *t, json_t *fields)
{
	struct sd_err e = { "" };
	char *line = NULL;
	size_t len = 0, off = 0;
	uint8_t head[TRANSCRIPT_HASH_LEN];
	ssize_t w;
	int r;

	r = transcript_seal(fields, t->seq + 1, t->head, &line, &len, head, &e);
	json_decref(fields);
	if (r != 0)
		return cli_core_error(r, &e, "%s", t->path) ? -1 : -1;
	while (off < len) {
		if ((w = write(t->fd, line + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			cli_error("%s: %s", t->path, strerror(errno));
			free(line);
			return -1;
		}
		off += (size_t)w;
	}
	free(line);
	if (fsync(t->fd) != 0) {
		cli_error("%s: fsync: %s", t->path, strerror(errno));
		return -1;
	}
	t->seq++;
	memcpy(t->head, head, sizeof(head));
	return 0;
}

/* Print the chain head, to be read aloud and written on the script. */
static void
print_head(const uint8_t head[TRANSCRIPT_HASH_LEN], const char *what)
{
	char hx[128], words[512];

	if (readaloud_hex(head, TRANSCRIPT_HASH_LEN, hx, sizeof(hx)) != 0 ||
	    readaloud_pgp(head, TRANSCRIPT_HASH_LEN, words, sizeof(words)) != 0)
		return;
	printf("\n   %s: the transcript's chain head is\n", what);
	printf("     hex:   %.39s\n            %s\n", hx, hx + 40);
	put_wrapped2(stdout, words, "     words: ", "            ");
	printf("   The witness reads it aloud and writes it on the script (at a "
	    "checkpoint\n   the first 8 groups or 16 words; at the end, all "
	    "of it).\n");
}

/* Read one line from standard input (the people at the table). */
static int
ask_line(const char *prompt, char *buf, size_t size)
{
	size_t n;

	printf("%s", prompt);
	fflush(stdout);
	if (fgets(buf, (int)size, stdin) == NULL) {
		printf("\n");
		return -1;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	while (buf[0] == ' ')
		memmove(buf, buf + 1, strlen(buf));
	return 0;
}

/* Initials from someone, or -1 on "abort" / end of input. */
static int
ask_initials(const char *who_title, const char *name, const char *what,
    char *buf, size_t size)
{
	char prompt[512];

	for (;;) {
		snprintf(prompt, sizeof(prompt), "   %s%s%s%s: %s; type your "
		    "initials (or 'abort'): ", who_title, name ? " (" : "",
		    name ? name : "", name ? ")" : "", what);
		if (ask_line(prompt, buf, size) != 0 ||
		    strcmp(buf, "abort") == 0)
			return -1;
		if (buf[0] != '\0' && strlen(buf) <= 8)
			return 0;
		printf("   initials, 1 to 8 characters\n");
	}
}

/* Run one step's sdtool invocation; returns its exit status (or -1). */
static int
exec_step(const struct cer_step *s, char **out, size_t *out_len)
{
	char exe[PATH_MAX], **av = NULL, *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	int pfd[2] = { -1, -1 }, status, devnull;
	ssize_t n;
	pid_t pid;

	*out = NULL;
	*out_len = 0;
	if (exe_path(exe, sizeof(exe)) != 0) {
		cli_error("cannot find the sdtool binary (/proc/self/exe)");
		return -1;
	}
	if ((av = calloc(s->argc + 2, sizeof(*av))) == NULL)
		return -1;
	av[0] = "sdtool";
	for (size_t i = 0; i < s->argc; i++)
		av[i + 1] = s->argv[i];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		cli_error("pipe: %s", strerror(errno));
		free(av);
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		cli_error("fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		free(av);
		return -1;
	}
	if (pid == 0) {
		/* the child: stdin from nowhere (passphrases come from the
		 * terminal or --password-file), stdout into the pipe */
		devnull = open("/dev/null", O_RDONLY);
		if (devnull == -1 || dup2(devnull, 0) == -1 ||
		    dup2(pfd[1], 1) == -1)
			_exit(127);
		execv(exe, av);
		_exit(127);
	}
	close(pfd[1]);
	free(av);
	for (;;) {
		if (len + 65536 + 1 > cap) {
			if (cap >= MAX_REPORT)
				break;
			cap = cap ? cap * 2 : 65536 * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		n = read(pfd[0], buf + len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			free(buf);
			return -1;
		}
	}
	if (buf != NULL)
		buf[len] = '\0';
	*out = buf;
	*out_len = len;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void
set_people(json_t *obj, const struct ceremony *c)
{
	const struct cer_role *op = ceremony_role(c, "operator"),
	    *wi = ceremony_role(c, "witness");

	json_object_set_new(obj, "operator", op && op->name ?
	    json_string(op->name) : json_null());
	json_object_set_new(obj, "witness", wi && wi->name ?
	    json_string(wi->name) : json_null());
}

/* Hash the step's inputs into arr; -1 with *why set on a problem. */
static int
hash_inputs(const struct cer_step *s, json_t *arr, char *why, size_t whysz)
{
	char hex[65], hx[128], words[512];
	int bad = 0;

	for (size_t i = 0; i < s->n_inputs; i++) {
		const struct cer_file *f = &s->inputs[i];
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(f->path));
		if (file_sha256(f->path, hex) != 0) {
			json_object_set_new(o, "sha256", json_null());
			if (!bad)
				snprintf(why, whysz, "input %s: %s", f->path,
				    strerror(errno));
			bad = 1;
		} else {
			json_object_set_new(o, "sha256", json_string(hex));
			readaloud_of_hex(hex, hx, sizeof(hx), words,
			    sizeof(words));
			printf("   input  %s\n", f->path);
			put_hash(stdout, "          SHA-256 ", hex);
		}
		if (f->sha256 != NULL) {
			json_object_set_new(o, "expected", json_string(f->sha256));
			if (hex[0] != '\0' && strcmp(hex, f->sha256) != 0) {
				readaloud_of_hex(f->sha256, hx, sizeof(hx), words,
				    sizeof(words));
				put_hash(stdout, "          EXPECTED ", f->sha256);
				if (!bad)
					snprintf(why, whysz, "hash mismatch: %s "
					    "is not the file expected", f->path);
				bad = 1;
			} else if (hex[0] != '\0') {
				printf("          matches the expected SHA-256\n");
			}
		}
		json_array_append_new(arr, o);
	}
	return bad ? -1 : 0;
}

static int
hash_outputs(const struct cer_step *s, json_t *arr, int want, char *why,
    size_t whysz)
{
	char hex[65], hx[128], words[512];
	int bad = 0;

	for (size_t i = 0; i < s->n_outputs; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(s->outputs[i]));
		if (file_sha256(s->outputs[i], hex) != 0) {
			json_object_set_new(o, "sha256", json_null());
			if (want && !bad)
				snprintf(why, whysz, "output %s was not made: %s",
				    s->outputs[i], strerror(errno));
			bad = 1;
		} else {
			json_object_set_new(o, "sha256", json_string(hex));
			readaloud_of_hex(hex, hx, sizeof(hx), words,
			    sizeof(words));
			printf("   output %s\n", s->outputs[i]);
			put_hash(stdout, "          SHA-256 ", hex);
		}
		json_array_append_new(arr, o);
	}
	return bad && want ? -1 : 0;
}

/* Perform step i; 0 done, 1 failed (recorded), -1 aborted / error. */
static int
do_step(struct tx *t, const struct ceremony *c, size_t i)
{
	const struct cer_step *s = &c->steps[i];
	const char *who = who_of(c, s);
	char now[32], why[512] = "", initials[64], *out = NULL;
	json_t *ent = NULL, *ins = json_array(), *outs = json_array(),
	    *argv = json_array(), *rep = NULL;
	size_t out_len = 0;
	int status = -1, ok = 1, rc = -1;

	printf("\n== STEP %zu of %zu [%s] %s\n", i + 1, c->n_steps, s->id,
	    s->title);
	printf("   by: %s%s%s%s\n", ceremony_role(c, s->role)->title,
	    who ? " (" : "", who ? who : "", who ? ")" : "");
	if (s->note != NULL)
		put_wrapped(stdout, s->note, "   ");
	initials[0] = '\0';
	if (s->manual != NULL) {
		puts("   DO, by hand:");
		put_wrapped(stdout, s->manual, "     ");
		if (hash_inputs(s, ins, why, sizeof(why)) != 0)
			ok = 0;
		if (ok && ask_initials(ceremony_role(c, s->role)->title, who,
		    "when it is done", initials, sizeof(initials)) != 0) {
			puts("   aborted: nothing recorded for this step");
			goto out;
		}
		if (ok && hash_outputs(s, outs, 1, why, sizeof(why)) != 0)
			ok = 0;
	} else {
		put_command(stdout, s, "   ");
		for (size_t k = 0; k < s->argc; k++)
			json_array_append_new(argv, json_string(s->argv[k]));
		if (hash_inputs(s, ins, why, sizeof(why)) != 0) {
			ok = 0;
		} else {
			status = exec_step(s, &out, &out_len);
			if (out != NULL && out_len > 0) {
				/* the first JSON value printed: the verb's report */
				rep = json_loadb(out, out_len,
				    JSON_DISABLE_EOF_CHECK, NULL);
				fwrite(out, 1, out_len, stdout);
				if (out[out_len - 1] != '\n')
					putchar('\n');
			}
			if (status < 0 || !ceremony_status_ok(s, status)) {
				ok = 0;
				snprintf(why, sizeof(why), "sdtool %s exited "
				    "with status %d", s->argv[0], status);
			}
			if (hash_outputs(s, outs, ok, why, sizeof(why)) != 0)
				ok = 0;
		}
	}
	utc_now(now);
	ent = json_object();
	json_object_set_new(ent, "kind", json_string("step"));
	json_object_set_new(ent, "time", json_string(now));
	json_object_set_new(ent, "step", json_string(s->id));
	json_object_set_new(ent, "title", json_string(s->title));
	json_object_set_new(ent, "role", json_string(s->role));
	json_object_set_new(ent, "who", who ? json_string(who) : json_null());
	set_people(ent, c);
	if (s->manual != NULL) {
		json_object_set_new(ent, "manual", json_string(s->manual));
		json_object_set_new(ent, "initials", initials[0] ?
		    json_string(initials) : json_null());
	} else {
		json_object_set_new(ent, "argv", argv);
		argv = NULL;
	}
	json_object_set_new(ent, "inputs", ins);
	json_object_set_new(ent, "outputs", outs);
	ins = outs = NULL;
	if (s->manual == NULL)
		json_object_set_new(ent, "status", status >= 0 ?
		    json_integer(status) : json_null());
	json_object_set_new(ent, "ok", json_boolean(ok));
	json_object_set_new(ent, "error", ok ? json_null() : json_string(why));
	if (s->manual == NULL) {
		char oh[65];

		sha256_hex(out ? out : "", out_len, oh);
		json_object_set_new(ent, "stdout_sha256", json_string(oh));
		json_object_set_new(ent, "report", rep ? rep : json_null());
	}
	rep = NULL;
	if (tx_append(t, ent) != 0)
		goto out;
	ent = NULL;
	if (!ok) {
		printf("\n   FAILED: step %zu [%s]: %s\n", i + 1, s->id, why);
		cli_error("step %zu [%s] failed: %s", i + 1, s->id, why);
		printf("   The transcript records it.  Follow sd-ceremony(7), "
		    "write it on the exception sheet,\n   then continue with: "
		    "sdtool ceremony resume --transcript %s\n", t->path);
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	free(out);
	json_decref(rep);
	json_decref(ins);
	json_decref(outs);
	json_decref(argv);
	return rc;
}

/* The checkpoint after step i: head shown, each role confirms. */
static int
do_checkpoint(struct tx *t, const struct ceremony *c, size_t i)
{
	const struct cer_step *s = &c->steps[i];
	char now[32], hex[65], initials[64];
	json_t *ent, *conf = json_array();

	transcript_hex(t->head, hex);
	print_head(t->head, "CHECKPOINT");
	for (size_t k = 0; k < s->n_checkpoint; k++) {
		const struct cer_role *r = ceremony_role(c, s->checkpoint[k]);
		const char *name = strcmp(r->id, s->role) == 0 &&
		    s->who != NULL ? s->who : r->name;

		if (ask_initials(r->title, name, "the head is written down and "
		    "the step was done as shown", initials,
		    sizeof(initials)) != 0) {
			puts("   aborted at the checkpoint: resume will ask again");
			json_decref(conf);
			return -1;
		}
		json_array_append_new(conf, json_pack("{s:s, s:s?, s:s}",
		    "role", r->id, "name", name, "initials", initials));
	}
	utc_now(now);
	ent = json_object();
	json_object_set_new(ent, "kind", json_string("checkpoint"));
	json_object_set_new(ent, "time", json_string(now));
	json_object_set_new(ent, "step", json_string(s->id));
	json_object_set_new(ent, "head", json_string(hex));
	json_object_set_new(ent, "confirmed", conf);
	return tx_append(t, ent);
}

/* Run steps from `from`, with a pending checkpoint first if asked. */
static int
run_from(struct tx *t, const struct loaded *l, size_t from, int checkpoint_of)
{
	const struct ceremony *c = l->c;
	char now[32];
	json_t *ent;
	int r;

	if (checkpoint_of >= 0 &&
	    do_checkpoint(t, c, (size_t)checkpoint_of) != 0)
		return EXIT_FAIL;
	for (size_t i = from; i < c->n_steps; i++) {
		if ((r = do_step(t, c, i)) != 0)
			return EXIT_FAIL;
		if (c->steps[i].n_checkpoint > 0 && do_checkpoint(t, c, i) != 0)
			return EXIT_FAIL;
	}
	utc_now(now);
	ent = json_object();
	json_object_set_new(ent, "kind", json_string("end"));
	json_object_set_new(ent, "time", json_string(now));
	json_object_set_new(ent, "ceremony", json_string(c->name));
	json_object_set_new(ent, "steps", json_integer((json_int_t)c->n_steps));
	if (tx_append(t, ent) != 0)
		return EXIT_FAIL;
	printf("\n== The ceremony %s is complete: %zu steps.\n", c->name,
	    c->n_steps);
	print_head(t->head, "FINAL");
	printf("   Write it on the sign-off page.  Check the transcript with:\n"
	    "     sdtool ceremony verify %s --head '<the words>'\n", t->path);
	return EXIT_OK;
}

/* Ask names not given in the params' "people" for roles that confirm. */
static int
ask_names(struct ceremony *c)
{
	char buf[128], prompt[256];

	for (size_t i = 0; i < c->n_roles; i++) {
		struct cer_role *r = &c->roles[i];
		int needed = strcmp(r->id, "operator") == 0 ||
		    strcmp(r->id, "witness") == 0;

		for (size_t k = 0; !needed && k < c->n_steps; k++) {
			const struct cer_step *s = &c->steps[k];

			for (size_t j = 0; j < s->n_checkpoint; j++)
				needed |= strcmp(s->checkpoint[j], r->id) == 0 &&
				    !(strcmp(s->role, r->id) == 0 && s->who);
			needed |= strcmp(s->role, r->id) == 0 && s->who == NULL;
		}
		if (!needed || r->name != NULL)
			continue;
		snprintf(prompt, sizeof(prompt), "Name of the %s: ", r->title);
		do {
			if (ask_line(prompt, buf, sizeof(buf)) != 0) {
				cli_error("no name given for the %s", r->title);
				return -1;
			}
		} while (buf[0] == '\0');
		if ((r->name = strdup(buf)) == NULL)
			return -1;
	}
	return 0;
}

static const struct opt run_opts[] = {
	{ O_PARAMS, "params", 0, OPT_VALUE, "FILE", "the ceremony's parameters (JSON)" },
	{ O_TRANSCRIPT, "transcript", 0, OPT_VALUE, "FILE", "the transcript to write (must not exist)" },
	{ O_DRY_RUN, "dry-run", 0, OPT_FLAG, NULL, "print exactly what would run, run nothing" },
	{ O_DIR, "dir", 0, OPT_VALUE, "DIR", "where the ceremony files are" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

static int
open_transcript(const char *path, int create)
{
	int fd, flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC;

	if (create)
		flags |= O_CREAT | O_EXCL;
	if ((fd = open(path, flags, 0644)) == -1) {
		cli_error("%s: %s", path, errno == EEXIST ? "already exists: "
		    "a transcript is never overwritten (to continue it: "
		    "sdtool ceremony resume)" : strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		cli_error("%s: in use by another sdtool ceremony", path);
		close(fd);
		return -1;
	}
	return fd;
}

static json_t *
people_json(const struct ceremony *c)
{
	json_t *o = json_object();

	for (size_t i = 0; i < c->n_roles; i++)
		if (c->roles[i].name != NULL)
			json_object_set_new(o, c->roles[i].id,
			    json_string(c->roles[i].name));
	return o;
}

static int
ceremony_run(int argc, char **argv)
{
	struct opt_parser p;
	struct loaded l;
	struct tx t = { 0 };
	const char *val, *name = NULL, *params = NULL, *tpath = NULL,
	    *dir = NULL;
	char now[32], cwd[PATH_MAX], abspath[PATH_MAX], absparams[PATH_MAX];
	json_t *ent;
	int o, dry = 0, rc = EXIT_FAIL;

	opt_init(&p, argc, argv, run_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_PARAMS: params = val; break;
		case O_TRANSCRIPT: tpath = val; break;
		case O_DRY_RUN: dry = 1; break;
		case O_DIR: dir = val; break;
		case OPT_HELP: return cli_usage(stdout, RUN_SYNOPSIS, run_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		case 0:
			if (name != NULL)
				return cli_usage_error("unexpected argument '%s'",
				    val);
			name = val;
			break;
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (name == NULL)
		return cli_usage_error("which ceremony? (sdtool ceremony list)");
	if (params == NULL)
		return cli_usage_error("--params is required");
	if (!dry && tpath == NULL)
		return cli_usage_error("--transcript is required (or --dry-run)");
	if (load_ceremony(name, dir, params, &l) != 0)
		return EXIT_FAIL;
	if (dry) {
		rc = emit(&l, NULL, NULL, put_dry_run);
		goto out;
	}
	if ((t.fd = open_transcript(tpath, 1)) == -1)
		goto out;
	t.path = tpath;
	printf("ceremony %s, version %s: %s\n", l.c->name, l.c->version,
	    l.c->title);
	printf("transcript: %s\n", tpath);
	if (ask_names(l.c) != 0)
		goto out_close;
	if (realpath(l.path, abspath) == NULL ||
	    realpath(params, absparams) == NULL ||
	    getcwd(cwd, sizeof(cwd)) == NULL) {
		cli_error("cannot resolve the ceremony's paths: %s",
		    strerror(errno));
		goto out_close;
	}
	utc_now(now);
	ent = json_object();
	json_object_set_new(ent, "kind", json_string("begin"));
	json_object_set_new(ent, "time", json_string(now));
	json_object_set_new(ent, "ceremony", json_string(l.c->name));
	json_object_set_new(ent, "title", json_string(l.c->title));
	json_object_set_new(ent, "version", json_string(l.c->version));
	json_object_set_new(ent, "ceremony_file", json_string(abspath));
	json_object_set_new(ent, "ceremony_sha256", json_string(l.sha256));
	json_object_set_new(ent, "params_file", json_string(absparams));
	json_object_set_new(ent, "params_sha256",
	    json_string(l.params_sha256));
	json_object_set_new(ent, "params", l.params ? json_incref(l.params) :
	    json_null());
	json_object_set_new(ent, "cwd", json_string(cwd));
	json_object_set_new(ent, "people", people_json(l.c));
	json_object_set_new(ent, "sdtool_version", json_string(SDTOOL_VERSION));
	if (tx_append(&t, ent) != 0)
		goto out_close;
	rc = run_from(&t, &l, 0, -1);
out_close:
	close(t.fd);
out:
	loaded_clear(&l);
	return rc;
}

/* ---------------------------------------------------------- resume */

static const struct opt resume_opts[] = {
	{ O_TRANSCRIPT, "transcript", 0, OPT_VALUE, "FILE", "the transcript of the interrupted ceremony" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* Read and check a transcript; the entries parsed into *entries. */
static int
read_transcript(const char *path, struct transcript_check *res,
    json_t **entries, char **bufp, size_t *lenp)
{
	struct sd_err e = { "" };
	char *buf = NULL, *p, *nl;
	size_t len = 0;
	int r;

	*entries = NULL;
	if (cli_read_file(path, 1u << 30, &buf, &len) != 0)
		return -1;
	r = transcript_check(buf, len, res, &e);
	if (r != 0 && r != SD_ERR_AUTH) {
		cli_core_error(r, &e, "%s", path);
		free(buf);
		return -1;
	}
	*entries = json_array();
	for (p = buf; res->n_entries > json_array_size(*entries); p = nl + 1) {
		nl = strchr(p, '\n');
		json_array_append_new(*entries, json_loadb(p, (size_t)(nl - p),
		    0, NULL));
	}
	*bufp = buf;
	*lenp = len;
	return r == 0 ? 0 : 1;
}

static int
ceremony_resume(int argc, char **argv)
{
	struct opt_parser p;
	struct transcript_check res = { 0 };
	struct loaded l = { 0 };
	struct tx t = { 0 };
	const char *val, *tpath = NULL, *cf, *pf, *kind, *sid;
	char *buf = NULL, now[32];
	size_t len = 0, i, next = 0;
	json_t *entries = NULL, *begin, *ent, *people, *v;
	int o, rc = EXIT_FAIL, pending = -1;
	long idx;

	opt_init(&p, argc, argv, resume_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_TRANSCRIPT: tpath = val; break;
		case OPT_HELP: return cli_usage(stdout, RESUME_SYNOPSIS,
		    resume_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (tpath == NULL)
		return cli_usage_error("--transcript is required");
	if ((t.fd = open_transcript(tpath, 0)) == -1)
		return EXIT_FAIL;
	t.path = tpath;
	if ((o = read_transcript(tpath, &res, &entries, &buf, &len)) != 0) {
		if (o > 0)
			cli_error("%s: %s; it cannot be continued (sdtool "
			    "ceremony verify shows what is wrong)", tpath,
			    res.reason);
		goto out;
	}
	begin = json_array_get(entries, 0);
	kind = json_string_value(json_object_get(begin, "kind"));
	cf = json_string_value(json_object_get(begin, "ceremony_file"));
	pf = json_string_value(json_object_get(begin, "params_file"));
	if (kind == NULL || strcmp(kind, "begin") != 0 || cf == NULL ||
	    pf == NULL) {
		cli_error("%s: entry 1 is not the beginning of a ceremony", tpath);
		goto out;
	}
	if (load_ceremony(cf, NULL, pf, &l) != 0)
		goto out;
	if (strcmp(l.sha256, json_string_value(json_object_get(begin,
	    "ceremony_sha256")) ?: "") != 0 ||
	    strcmp(l.params_sha256, json_string_value(json_object_get(begin,
	    "params_sha256")) ?: "") != 0) {
		cli_error("%s: the ceremony file or its parameters changed "
		    "since the transcript began (%s, %s): a ceremony is "
		    "finished as it was begun", tpath, cf, pf);
		goto out;
	}
	/* the people named when it began */
	people = json_object_get(begin, "people");
	for (i = 0; i < l.c->n_roles; i++) {
		v = json_object_get(people, l.c->roles[i].id);
		if (json_is_string(v) && l.c->roles[i].name == NULL)
			l.c->roles[i].name = strdup(json_string_value(v));
	}
	/* where it stopped */
	json_array_foreach(entries, i, ent) {
		kind = json_string_value(json_object_get(ent, "kind"));
		sid = json_string_value(json_object_get(ent, "step"));
		if (kind == NULL)
			continue;
		if (strcmp(kind, "end") == 0) {
			cli_error("%s: this ceremony is already complete", tpath);
			goto out;
		}
		if (sid == NULL || (idx = ceremony_step_index(l.c, sid)) < 0)
			continue;
		if (strcmp(kind, "step") == 0 &&
		    json_is_true(json_object_get(ent, "ok"))) {
			next = (size_t)idx + 1;
			pending = l.c->steps[idx].n_checkpoint > 0 ? (int)idx :
			    -1;
		} else if (strcmp(kind, "checkpoint") == 0 && idx == pending) {
			pending = -1;
		}
	}
	t.seq = res.n_entries;
	memcpy(t.head, res.heads[res.n_entries - 1], sizeof(t.head));
	printf("ceremony %s, version %s: %s\n", l.c->name, l.c->version,
	    l.c->title);
	printf("transcript: %s (%zu entries, chain intact)\n", tpath,
	    res.n_entries);
	if (next < l.c->n_steps)
		printf("resuming at step %zu of %zu [%s]\n", next + 1,
		    l.c->n_steps, l.c->steps[next].id);
	utc_now(now);
	ent = json_object();
	json_object_set_new(ent, "kind", json_string("resume"));
	json_object_set_new(ent, "time", json_string(now));
	json_object_set_new(ent, "step", next < l.c->n_steps ?
	    json_string(l.c->steps[next].id) : json_null());
	set_people(ent, l.c);
	if (tx_append(&t, ent) != 0)
		goto out;
	rc = run_from(&t, &l, next, pending);
out:
	close(t.fd);
	json_decref(entries);
	transcript_check_clear(&res);
	loaded_clear(&l);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------- verify */

static const struct opt verify_opts[] = {
	{ O_HEAD, "head", 0, OPT_LIST, "WORDS", "a chain head written on the script (PGP words or hex), quoted" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

#define MAX_HEADS 64
#define MIN_HEAD_BYTES 16   /* 8 groups of hex, 16 words: 128 bits */

static int
ceremony_verify(int argc, char **argv)
{
	struct opt_parser p;
	struct transcript_check res = { 0 };
	const char *val, *tpath = NULL, *heads[MAX_HEADS], *kind;
	char *buf = NULL, hex[65], hx[128], words[512];
	size_t len = 0, nheads = 0, i, k, n_steps = 0, n_failed = 0,
	    n_check = 0;
	json_t *entries = NULL, *rep = NULL, *hj, *ent, *first, *last_step;
	int o, json = 0, chain_ok, complete = 0, heads_ok = 1, rc = EXIT_FAIL;

	opt_init(&p, argc, argv, verify_opts);
	while ((o = opt_next(&p, &val)) != OPT_END) {
		switch (o) {
		case O_HEAD:
			if (nheads == MAX_HEADS)
				return cli_usage_error("more than %d --head",
				    MAX_HEADS);
			heads[nheads++] = val;
			break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, VERIFY_SYNOPSIS,
		    verify_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		case 0:
			if (tpath != NULL)
				return cli_usage_error("unexpected argument '%s'",
				    val);
			tpath = val;
			break;
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (tpath == NULL)
		return cli_usage_error("which transcript?");
	if ((o = read_transcript(tpath, &res, &entries, &buf, &len)) < 0)
		goto out;
	chain_ok = o == 0;
	rep = report_new("ceremony");
	json_object_set_new(rep, "file", json_string(tpath));
	json_object_set_new(rep, "entries", json_integer(
	    (json_int_t)res.n_entries));
	json_object_set_new(rep, "chain", json_string(chain_ok ? "intact" :
	    "broken"));
	json_object_set_new(rep, "bad_entry", chain_ok ? json_null() :
	    json_integer((json_int_t)res.bad_entry));
	json_object_set_new(rep, "reason", chain_ok ? json_null() :
	    json_string(res.reason));
	first = json_array_get(entries, 0);
	kind = json_string_value(json_object_get(first, "kind"));
	if (chain_ok && (kind == NULL || strcmp(kind, "begin") != 0)) {
		chain_ok = 0;
		snprintf(res.reason, sizeof(res.reason), "entry 1 is not the "
		    "beginning of a ceremony");
		json_object_set(rep, "reason", json_string(res.reason));
	}
	last_step = NULL;
	json_array_foreach(entries, i, ent) {
		kind = json_string_value(json_object_get(ent, "kind"));
		if (kind == NULL)
			continue;
		if (strcmp(kind, "step") == 0) {
			n_steps++;
			if (!json_is_true(json_object_get(ent, "ok")))
				n_failed++;
			last_step = ent;
		} else if (strcmp(kind, "checkpoint") == 0) {
			n_check++;
		} else if (strcmp(kind, "end") == 0) {
			complete = 1;
		}
	}
	json_object_set_new(rep, "ceremony", json_incref(json_object_get(first,
	    "ceremony")) ?: json_null());
	json_object_set_new(rep, "complete", json_boolean(complete));
	json_object_set_new(rep, "steps_recorded", json_integer(
	    (json_int_t)n_steps));
	json_object_set_new(rep, "steps_failed", json_integer(
	    (json_int_t)n_failed));
	json_object_set_new(rep, "checkpoints", json_integer(
	    (json_int_t)n_check));
	if (res.n_entries > 0) {
		transcript_hex(res.heads[res.n_entries - 1], hex);
		json_object_set_new(rep, "head", json_string(hex));
	}
	hj = json_array();
	json_object_set_new(rep, "heads_given", hj);
	for (k = 0; k < nheads; k++) {
		struct sd_err e = { "" };
		long found = -1;
		int r = SD_ERR_AUTH;

		uint8_t typed[TRANSCRIPT_HASH_LEN];
		size_t nb;

		/* the whole head, or (at a checkpoint) its first 16 bytes or more */
		for (nb = TRANSCRIPT_HASH_LEN; nb >= MIN_HEAD_BYTES; nb--) {
			sd_err_clear(&e);
			if ((r = readaloud_parse(heads[k], typed, nb, &e)) !=
			    SD_ERR_RANGE)
				break;
		}
		if (r != 0) {
			cli_error("--head '%s': %s", heads[k], r == SD_ERR_RANGE ?
			    "too short: give at least 8 groups of hex or 16 "
			    "words" : e.msg[0] ? e.msg : sd_strerror(r));
			rc = EXIT_USAGE;
			goto out;
		}
		for (i = 0; i < res.n_entries && found < 0; i++)
			if (memcmp(typed, res.heads[i], nb) == 0)
				found = (long)i + 1;
		json_array_append_new(hj, json_pack("{s:s, s:o}", "given",
		    heads[k], "entry", found > 0 ? json_integer(found) :
		    json_null()));
		if (found < 0)
			heads_ok = 0;
		if (!json) {
			if (found > 0)
				printf("head written on paper #%zu: matches entry "
				    "%ld (%s)\n", k + 1, found,
				    json_string_value(json_object_get(
				    json_array_get(entries, (size_t)found - 1),
				    "kind")) ?: "?");
			else
				printf("head written on paper #%zu: matches NO "
				    "entry of this transcript\n", k + 1);
		}
	}
	/* a step that failed and was then redone is an exception, written
	 * on the exception sheet; the ceremony ends only when every step
	 * has succeeded */
	rc = !chain_ok || !heads_ok ? EXIT_FAIL : complete ? EXIT_OK :
	    EXIT_INCOMPLETE;
	if (!json) {
		const char *cn = json_string_value(json_object_get(first,
		    "ceremony"));

		printf("%s: %zu entr%s check out, ceremony %s\n", tpath,
		    res.n_entries, res.n_entries == 1 ? "y" : "ies",
		    cn ? cn : "(unknown)");
		printf("  step entries: %zu, of which failed: %zu; checkpoints: "
		    "%zu\n", n_steps, n_failed, n_check);
		if (res.n_entries > 0) {
			readaloud_hex(res.heads[res.n_entries - 1],
			    TRANSCRIPT_HASH_LEN, hx, sizeof(hx)) == 0 ?
			    (void)0 : (void)(hx[0] = '\0');
			readaloud_pgp(res.heads[res.n_entries - 1],
			    TRANSCRIPT_HASH_LEN, words, sizeof(words)) == 0 ?
			    (void)0 : (void)(words[0] = '\0');
			printf("  head after entry %zu:\n    hex:   %.39s\n"
			    "           %s\n", res.n_entries, hx, hx + 40);
			put_wrapped2(stdout, words, "    words: ", "           ");
		}
		if (!chain_ok)
			printf("FAILED: %s\n", res.reason);
		else if (!heads_ok)
			printf("FAILED: a head written on paper matches no entry: "
			    "the transcript is not the one the witness saw\n");
		else if (!complete)
			printf("INCOMPLETE: the chain is intact but the ceremony "
			    "did not end (last step: %s)\n", last_step ?
			    json_string_value(json_object_get(last_step,
			    "step")) : "none");
		else
			printf("OK: the chain is intact and the ceremony ended%s; "
			    "%s\n", n_failed ? " (after failed attempts: see "
			    "the exception sheet)" : "", nheads ? "every head "
			    "written on paper matches" : "no head from paper "
			    "was compared (--head)");
	}
	if (rc == EXIT_FAIL) {
		if (!chain_ok) {
			report_set_error(rep, "transcript_broken", res.reason);
			cli_error("%s: %s", tpath, res.reason);
		} else {
			report_set_error(rep, "head_mismatch", "a head written "
			    "on paper matches no entry");
			cli_error("%s: a head written on paper matches no "
			    "entry", tpath);
		}
	} else {
		report_set_ok(rep, rc == EXIT_OK);
		if (rc != EXIT_OK)
			report_set_error(rep, "incomplete", "the ceremony did "
			    "not end");
	}
	if (json)
		report_print(rep);
out:
	json_decref(rep);
	json_decref(entries);
	transcript_check_clear(&res);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ verb */

static const struct cli_verb ceremony_verbs[] = {
	{ "list", ceremony_list, "the ceremonies available" },
	{ "print", ceremony_print, "the printed script: steps, checkboxes, "
	    "exception sheet, sign-off" },
	{ "run", ceremony_run, "run a ceremony step by step, writing its "
	    "transcript" },
	{ "resume", ceremony_resume, "continue an interrupted ceremony from "
	    "its transcript" },
	{ "verify", ceremony_verify, "check a transcript's hash chain and "
	    "the heads written on paper" },
	{ NULL, NULL, NULL }
};

int
cmd_ceremony(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, ceremony_verbs, argc, argv);
}
