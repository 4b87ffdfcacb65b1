/*
 * report.c - the one JSON report object (see report.h, man/sd-json.5).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"
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
