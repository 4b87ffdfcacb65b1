#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sd_err.h"

const char *
sd_strerror(int code)
{
	switch (code) {
	case SD_OK: return "success";
	case SD_ERR_INTERNAL: return "internal error";
	case SD_ERR_ALLOC: return "out of memory";
	case SD_ERR_ARG: return "invalid argument";
	case SD_ERR_FORMAT: return "malformed input";
	case SD_ERR_UNSUPPORTED: return "unsupported algorithm or version";
	case SD_ERR_RANGE: return "value out of range";
	case SD_ERR_AUTH: return "authentication failed";
	case SD_ERR_CRYPTO: return "cryptographic library failure";
	case SD_ERR_SHARE: return "inconsistent shares";
	case SD_ERR_NO_SHARE: return "no share is encrypted to this key";
	case SD_ERR_KEY: return "unusable key or certificate";
	case SD_ERR_PASSPHRASE: return "wrong or missing passphrase";
	case SD_ERR_KEY_MISMATCH: return "key does not match its certificate";
	case SD_ERR_IO: return "input/output error";
	case SD_ERR_QUORUM: return "not enough shares for the quorum";
	case SD_ERR_LIMIT: return "input too large";
	case SD_ERR_EXISTS: return "already exists; not overwriting it";
	case SD_ERR_DATA_DIFFER: return "the data items differ";
	}
	return "unknown error";
}

int
sd_err_set(struct sd_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
sd_err_prefix(struct sd_err *e, int code, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (e->msg[0] != '\0')
		snprintf(old, sizeof(old), "%s", e->msg);
	else
		snprintf(old, sizeof(old), "%s", sd_strerror(code));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	return code;
}

void
sd_err_clear(struct sd_err *e)
{
	if (e != NULL)
		e->msg[0] = '\0';
}
