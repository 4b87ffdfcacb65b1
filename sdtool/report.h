/*
 * report.h - the one JSON report every verb prints with --json.
 *
 * Vocabulary (man/sd-json.5): every report is ONE object on stdout,
 *   {"verb": "verify", "ok": true, "error": null,
 *    "sdtool_version": "0.1.0", ...the verb's own fields...}
 * and on failure "ok": false and "error": {"code": "snake_case",
 * "message": "one line"}.  The verb fills the object (report_obj) and
 * prints it once (report_print).  When a verb fails before it printed its
 * report, main() prints an error report from the last error the verb wrote
 * on stderr (cli_error, cli_core_error, cli_usage_error record it), so
 * --json gives JSON on stdout on every path.
 */
#ifndef SDTOOL_REPORT_H
#define SDTOOL_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A new report object for verb: verb, ok (false until report_set_ok),
 * error (null), sdtool_version, in that order.  NULL only when out of
 * memory.
 */
json_t *report_new(const char *verb);

/* Set "ok". */
void report_set_ok(json_t *rep, int ok);

/*
 * Set "ok": false and "error": {"code", "message"} (code snake_case, from
 * report_code_of() or a verb's own word; message one line).
 */
void report_set_error(json_t *rep, const char *code, const char *message);

/*
 * Print rep on stdout (indented, one object) and remember that this run
 * printed its report.  When ok is false and no error was set, the last
 * recorded error (or a generic one) is filled in.  rep is not freed.
 */
void report_print(json_t *rep);

/*
 * The read-aloud forms of n bytes (a hash, a thumbprint):
 * {"hex": "E07A DEE7 ...", "pgp_words": "topmost Istanbul ..."}.
 */
json_t *report_readaloud(const uint8_t *b, size_t n);

/*
 * Print the read-aloud forms of a report_readaloud() object as text lines,
 * each beginning with indent: the grouped hex, then the words 8 a line.
 */
void report_print_readaloud(const json_t *ra, const char *indent);

/* The read-aloud forms of a base64url thumbprint's bytes, or NULL. */
json_t *report_x5t_readaloud(const char *x5t);

/* Print them as report_print_readaloud() does; nothing if x5t is bad. */
void report_print_x5t_readaloud(const char *x5t, const char *indent);

/* A snake_case code for an SD_ERR_* value ("format", "auth_failed", ...). */
const char *report_code_of(int sd_code);

/*
 * The error recorder behind the fallback: cli_error() and friends call
 * report_note_error(); a verb that knows better calls it (or
 * report_note_code) before failing.
 */
void report_note_error(const char *code, const char *message);
/* Set the code of the next/last noted error (keeps its message). */
void report_note_code(const char *code);

/* --json was given for this run (main pre-scans argv; verbs may also set). */
void report_want_json(int on);
int report_json_wanted(void);

/*
 * Called by main() with the verb's exit status: under --json, when the
 * verb printed no report, prints {"verb", "ok": false, "error": {...}} for
 * a failure (status != 0).  Returns status.
 */
int report_finish(const char *verb, int status);

#endif
