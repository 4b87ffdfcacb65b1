/*
 * ceremony.h - declarative ceremony files: parse, check, and expand them
 * with a parameter file into a flat list of numbered steps.
 *
 * No I/O: both files are given as bytes; sdtool/cmd_ceremony.c reads them,
 * prints scripts and runs the steps.
 *
 * A ceremony file is one JSON object (unknown keys are refused so that a
 * typo cannot silently drop a step; "note" is allowed everywhere):
 *
 *   {"ceremony": "dr-drill", "title": "...", "version": "1", "note": "...",
 *    "roles": [{"id": "operator", "title": "Ceremony operator"}, ...],
 *    "params": [{"name": "hsm_url", "note": "...", "required": true,
 *                "default": "..."},
 *               {"name": "officers", "list": ["name", "key"]}, ...],
 *    "materials": ["one line per item", ...],
 *    "steps": [STEP, ...]}
 *
 * STEP:
 *   {"id": "keygen", "title": "...", "role": "officer", "who": "${each.name}",
 *    "foreach": "officers", "if": "param" | "!param", "note": "...",
 *    "run": ["keygen", "--index", "${i}", ["--password-file", "${each.pass}"]],
 *    "manual": "what to do, by hand",
 *    "inputs": ["${sd_file}", {"file": "${sd_file}", "sha256": "${sd_sha256}"}],
 *    "outputs": ["..."], "checkpoint": ["witness", "officer"], "status": [0]}
 *
 * A step has exactly one of "run" (one sdtool invocation: the verb and its
 * arguments, never a shell, with --json so that the transcript keeps the
 * verb's report) or "manual" (an action done by hand, ticked).
 * Substitution in strings: ${name} a parameter, ${each.field} a field of
 * the current "foreach" item, ${i} its 0-based index, ${n} its 1-based
 * index, $$ a dollar sign.  A "run" element "@{list.field}" becomes one
 * argument per item of the list parameter.  A nested array in "run" is an
 * optional group: left out when a parameter it names is absent or empty.
 * An input's "sha256" naming an absent parameter means "no expected hash".
 * Steps with "foreach" expand to ids "ID.1", "ID.2", ...
 *
 * A parameter file is one JSON object: parameter name -> string, number,
 * boolean or (for "list" parameters) an array of objects of strings; the
 * key "people" maps role ids to the names of the people in them.
 */
#ifndef SD_CEREMONY_H
#define SD_CEREMONY_H

#include <stddef.h>

#include "sd_err.h"

#define CER_MAX_FILE   (1u << 20)   /* largest ceremony or params file */
#define CER_MAX_STEPS  1000
#define CER_MAX_STATUS 8

struct cer_file {
	char *path;
	char *sha256;       /* expected, lowercase hex, or NULL */
};

struct cer_step {
	char *id;           /* unique: "keygen.2" */
	char *title;
	char *role;         /* a role id */
	char *who;          /* the person: "who", else the role's name, or NULL */
	char *note;         /* or NULL */
	char *manual;       /* manual action, or NULL for a run step */
	char **argv;        /* run: the verb and its arguments (no "sdtool") */
	size_t argc;
	struct cer_file *inputs;
	size_t n_inputs;
	char **outputs;
	size_t n_outputs;
	char **checkpoint;  /* role ids who confirm after this step */
	size_t n_checkpoint;
	int status[CER_MAX_STATUS];  /* exit statuses that mean success */
	size_t n_status;
};

struct cer_role {
	char *id;
	char *title;
	char *note;         /* or NULL */
	char *name;         /* from the params' "people", or NULL */
};

struct cer_param {
	char *name;
	char *note;         /* or NULL */
	int required;
	int list;
	char *value;        /* the value used, as text ("3 items" for lists), or NULL */
};

struct ceremony {
	char *name;
	char *title;
	char *version;
	char *note;         /* or NULL */
	struct cer_role *roles;
	size_t n_roles;
	struct cer_param *params;
	size_t n_params;
	char **materials;
	size_t n_materials;
	struct cer_step *steps;
	size_t n_steps;
};

/*
 * Parse a ceremony file and expand it with a parameter file (params may be
 * NULL: no parameters, which fails if one is required).  Errors name the
 * step and field: "steps[3] (verify).run[4]: unknown parameter ${sd}".
 */
int ceremony_load(const char *cer, size_t cer_len, const char *params,
    size_t params_len, struct ceremony **out, struct sd_err *e) SD_WUR;

/* Only the header fields (name, title, version, note), for listings. */
int ceremony_peek(const char *cer, size_t cer_len, struct ceremony **out,
    struct sd_err *e) SD_WUR;

void ceremony_free(struct ceremony *c);

/* The role with this id, or NULL. */
const struct cer_role *ceremony_role(const struct ceremony *c, const char *id);

/* Index of the step with this id, or -1. */
long ceremony_step_index(const struct ceremony *c, const char *id);

/* Does status mean success for this step? */
int ceremony_status_ok(const struct cer_step *s, int status);

/*
 * One argument quoted for display in a POSIX shell: as is when it has only
 * safe characters, else in single quotes.  Returns the length written
 * (excluding NUL), or -1 if out is too small.
 */
int ceremony_quote_arg(const char *arg, char *out, size_t outsz);

#endif
