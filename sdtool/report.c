/*
 * report.c - the one JSON report object (see report.h, man/sd-json.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "../shares/b64.h"
#include "../shares/readaloud.h"
#include "../shares/sd_err.h"

static int want_json;
static int printed;
static char last_code[64];
static char last_msg[512];
static int have_msg, code_final;

json_t *
report_new(const char *verb)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "verb", json_string(verb ? verb : ""));
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_null());
	json_object_set_new(o, "sdtool_version", json_string(SDTOOL_VERSION));
	return o;
}

void
report_set_ok(json_t *rep, int ok)
{
	if (rep == NULL)
		return;
	json_object_set_new(rep, "ok", json_boolean(ok));
	if (ok)
		json_object_set_new(rep, "error", json_null());
}

static json_t *
error_obj(const char *code, const char *message)
{
	json_t *e = json_object();

	json_object_set_new(e, "code", json_string(code && *code ? code :
	    "failed"));
	json_object_set_new(e, "message", json_string(message && *message ?
	    message : "the command failed"));
	return e;
}

void
report_set_error(json_t *rep, const char *code, const char *message)
{
	if (rep == NULL)
		return;
	json_object_set_new(rep, "ok", json_false());
	json_object_set_new(rep, "error", error_obj(code, message));
}

void
report_print(json_t *rep)
{
	json_t *ok;

	if (rep == NULL)
		return;
	ok = json_object_get(rep, "ok");
	if (!json_is_true(ok) && json_is_null(json_object_get(rep, "error")))
		report_set_error(rep, last_code[0] ? last_code : "failed",
		    last_msg);
	cli_print_json(rep);
	printed = 1;
}

json_t *
report_readaloud(const uint8_t *b, size_t n)
{
	json_t *o = json_object();
	char *hex = malloc(readaloud_hex_size(n));
	char *words = malloc(readaloud_pgp_size(n));

	if (o != NULL && hex != NULL && words != NULL &&
	    readaloud_hex(b, n, hex, readaloud_hex_size(n)) == 0 &&
	    readaloud_pgp(b, n, words, readaloud_pgp_size(n)) == 0) {
		json_object_set_new(o, "hex", json_string(hex));
		json_object_set_new(o, "pgp_words", json_string(words));
	}
	free(hex);
	free(words);
	return o;
}

void
report_print_readaloud(const json_t *ra, const char *indent)
{
	const char *hex = json_string_value(json_object_get(ra, "hex"));
	const char *w = json_string_value(json_object_get(ra, "pgp_words"));
	const char *p;
	int count = 0;

	if (hex == NULL || w == NULL)
		return;
	printf("%s%s\n%s", indent, hex, indent);
	for (p = w; *p != '\0'; p++) {
		if (*p == ' ' && ++count % 8 == 0) {
			printf("\n%s", indent);
			continue;
		}
		putchar(*p);
	}
	putchar('\n');
}

json_t *
report_x5t_readaloud(const char *x5t)
{
	uint8_t *b = NULL;
	size_t n = 0;
	json_t *o = NULL;

	if (x5t != NULL && b64url_decode(x5t, strlen(x5t), &b, &n, NULL) == 0)
		o = report_readaloud(b, n);
	free(b);
	return o;
}

void
report_print_x5t_readaloud(const char *x5t, const char *indent)
{
	json_t *o = report_x5t_readaloud(x5t);

	if (o != NULL)
		report_print_readaloud(o, indent);
	json_decref(o);
}

const char *
report_code_of(int sd_code)
{
	switch (sd_code) {
	case SD_OK: return "ok";
	case SD_ERR_ALLOC: return "out_of_memory";
	case SD_ERR_ARG: return "invalid_argument";
	case SD_ERR_FORMAT: return "bad_format";
	case SD_ERR_UNSUPPORTED: return "unsupported";
	case SD_ERR_RANGE: return "out_of_range";
	case SD_ERR_AUTH: return "auth_failed";
	case SD_ERR_CRYPTO: return "crypto_error";
	case SD_ERR_SHARE: return "bad_share";
	case SD_ERR_NO_SHARE: return "no_share";
	case SD_ERR_KEY: return "bad_key";
	case SD_ERR_PASSPHRASE: return "wrong_passphrase";
	case SD_ERR_KEY_MISMATCH: return "key_mismatch";
	case SD_ERR_IO: return "io_error";
	case SD_ERR_QUORUM: return "no_quorum";
	case SD_ERR_LIMIT: return "too_large";
	default: return "internal_error";
	}
}

/*
 * The first error of a run is kept: later ones are usually its
 * consequences.  A code noted before it (report_note_code) is kept too.
 */
void
report_note_error(const char *code, const char *message)
{
	char *nl;

	if (have_msg) {
		/* the code of the first error, given just after its message */
		if (code != NULL && !code_final)
			snprintf(last_code, sizeof(last_code), "%s", code);
		code_final = 1;
		return;
	}
	if (code != NULL)
		snprintf(last_code, sizeof(last_code), "%s", code);
	if (message == NULL)
		return;
	have_msg = 1;
	code_final = last_code[0] != '\0';
	snprintf(last_msg, sizeof(last_msg), "%s", message);
	while ((nl = strchr(last_msg, '\n')) != NULL)
		*nl = ' ';
}

void
report_note_code(const char *code)
{
	if (code != NULL && !have_msg)
		snprintf(last_code, sizeof(last_code), "%s", code);
}

void
report_want_json(int on)
{
	want_json = on;
}

int
report_json_wanted(void)
{
	return want_json;
}

int
report_finish(const char *verb, int status)
{
	json_t *rep;

	if (!want_json || printed || status == EXIT_OK)
		return status;
	if ((rep = report_new(verb)) == NULL)
		return status;
	if (status == EXIT_USAGE && last_code[0] == '\0')
		snprintf(last_code, sizeof(last_code), "usage");
	report_set_error(rep, last_code[0] ? last_code : "failed", last_msg);
	json_object_set_new(rep, "exit_status", json_integer(status));
	report_print(rep);
	json_decref(rep);
	return status;
}
