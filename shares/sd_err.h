/*
 * sd_err.h - error codes and error context for the sdtool core.
 *
 * Every fallible function in shares/ and hw/ returns 0 on success or one of
 * the negative SD_ERR_* codes below.  Detail meant for a person (which field,
 * which file, what was expected) travels in a struct sd_err the caller passes
 * in; the core never prints and never exits.
 */
#ifndef SD_ERR_H
#define SD_ERR_H

#include <stddef.h>

#define SD_WUR __attribute__((warn_unused_result))

enum sd_errcode {
	SD_OK = 0,
	SD_ERR_INTERNAL = -1,     /* a bug: should never happen */
	SD_ERR_ALLOC = -2,        /* out of memory (or of locked memory) */
	SD_ERR_ARG = -3,          /* caller passed an invalid argument */
	SD_ERR_FORMAT = -4,       /* malformed input: JSON, base64url, JWE, PEM */
	SD_ERR_UNSUPPORTED = -5,  /* well formed, but an algorithm/version we do not know */
	SD_ERR_RANGE = -6,        /* a value outside its allowed range */
	SD_ERR_AUTH = -7,         /* authentication failed: wrong key or tampered data */
	SD_ERR_CRYPTO = -8,       /* the crypto library failed */
	SD_ERR_SHARE = -9,        /* inconsistent share set (bad or duplicate x, lengths) */
	SD_ERR_NO_SHARE = -10,    /* no share of the SD file is encrypted to this key */
	SD_ERR_KEY = -11,         /* a key or certificate could not be loaded */
	SD_ERR_PASSPHRASE = -12,  /* wrong passphrase, or none could be obtained */
	SD_ERR_KEY_MISMATCH = -13,/* private key and certificate do not belong together */
	SD_ERR_IO = -14,          /* reading or writing a file failed */
	SD_ERR_QUORUM = -15,      /* fewer shares than the quorum requires */
	SD_ERR_LIMIT = -16,       /* input larger than we accept */
	SD_ERR_EXISTS = -17,      /* an output file exists: never overwritten */
	SD_ERR_DATA_DIFFER = -18, /* two files' data items are not the same */
	SD_ERR_LAST = SD_ERR_DATA_DIFFER  /* the lowest code, for range checks */
};

/* Human-readable detail of the last error; msg is always NUL-terminated. */
struct sd_err {
	char msg[512];
};

/* A short, static description of an SD_ERR_* code (never NULL). */
const char *sd_strerror(int code);

/*
 * Record detail in e (which may be NULL) and return code, so callers can
 * write `return sd_err_set(e, SD_ERR_FORMAT, "...", ...);`.
 */
int sd_err_set(struct sd_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix the existing detail with a location, e.g. a JSON path, giving
 * "SharedKeys.enc_shares[2].enc_key: JWE has 4 parts, expected 5".
 * If no detail was recorded, the code's sd_strerror() text is used.
 * Returns code.
 */
int sd_err_prefix(struct sd_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear any recorded detail. */
void sd_err_clear(struct sd_err *e);

#endif
