/*
 * hwopts.c - PIN prompts and device notices for keys on tokens and
 * YubiKeys (see hwopts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwopts.h"

void
cli_hw_opts(struct hw_open_opts *o, struct cli_pass *pass, const char *module)
{
	const char *v;

	o->pin = cli_pin;
	o->pin_ctx = pass;
	if (module == NULL && (v = getenv(ENV_PKCS11_MODULE)) != NULL &&
	    *v != '\0')
		module = v;
	o->pkcs11_module = module;
	/*
	 * The software YubiKey is a TEST device: reached only through this
	 * variable, and announced on every run that uses it (cli_pin).
	 */
	if ((v = getenv(ENV_YK_SOFTWARE)) != NULL && *v != '\0')
		o->yk_software = v;
	else
		o->yk_software = NULL;
}

static void
notice(const char *token, unsigned flags)
{
	static int warned_test;

	if (flags & HW_PIN_TEST_DEVICE) {
		if (!warned_test++)
			cli_warn("using %s from %s=%s: a TEST device whose "
			    "secret is in a file; it protects nothing", token,
			    ENV_YK_SOFTWARE, getenv(ENV_YK_SOFTWARE) ?
			    getenv(ENV_YK_SOFTWARE) : "");
		return;
	}
	if (flags & HW_PIN_PINPAD) {
		fflush(stdout);
		fprintf(stderr, "Enter the %s for token %s on the reader's PIN "
		    "pad%s\n", (flags & HW_PIN_SO) ? "SO PIN" : "PIN", cli_text(token),
		    (flags & HW_PIN_FINAL_TRY) ? " (last try: a wrong PIN "
		    "locks it)" : "");
		return;
	}
	/* a YubiKey set to require touch blinks and waits */
	if ((flags & HW_PIN_TOUCH) && cli_stderr_is_tty()) {
		fflush(stdout);
		fprintf(stderr, "Asking %s (touch it if it blinks)...\n",
		    cli_text(token));
	}
}

int
cli_pin(void *ctx, const char *token, unsigned flags, char *buf, size_t size)
{
	struct cli_pass *pass = ctx;
	char prompt[256];
	const char *tries = "";

	if (flags & HW_PIN_NOTIFY) {
		notice(token, flags);
		return 0;
	}
	if (pass != NULL && pass->file != NULL)
		return cli_passphrase(pass, token, buf, size);
	if (flags & HW_PIN_FINAL_TRY)
		tries = " (last try: a wrong PIN locks it)";
	else if (flags & HW_PIN_COUNT_LOW)
		tries = " (the token says few tries are left)";
	snprintf(prompt, sizeof(prompt), "%s for token %s%s: ",
	    (flags & HW_PIN_SO) ? "SO PIN (for a YubiKey: the PIV management "
	    "key, in hex)" : "PIN", cli_text(token), tries);
	if (cli_ask_secret(prompt, buf, size) != 0)
		return SD_ERR_PASSPHRASE;
	return 0;
}
