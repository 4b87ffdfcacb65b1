/*
 * pkcs11_uri.h - PKCS#11 URIs (RFC 7512): which module, token and object
 * a key reference such as
 *
 *   pkcs11:token=officer0;object=sd-wrap-0;type=private
 *   pkcs11:token=officer0;id=%03?module-path=/usr/lib/libykcs11.so
 *
 * names.  Parsing is strict: an attribute we do not know, one given
 * twice, a bad percent-escape or a NUL in a text attribute is refused
 * with a message naming it, rather than silently matching more than was
 * meant.  pin-value is refused: a PIN must not be on a command line.
 */
#ifndef SD_HW_PKCS11_URI_H
#define SD_HW_PKCS11_URI_H

#include <stddef.h>
#include <stdint.h>

#include "../shares/sd_err.h"

#define P11_URI_MAX 4096   /* longest URI accepted */

struct p11_uri {
	/* Path attributes: NULL (or has_* 0) when absent. */
	char *token;              /* CK_TOKEN_INFO.label */
	char *manufacturer;       /* CK_TOKEN_INFO.manufacturerID */
	char *model;
	char *serial;
	char *lib_manufacturer;   /* library-manufacturer: CK_INFO */
	char *lib_description;
	char *lib_version;        /* "M" or "M.N" */
	char *slot_description;
	char *slot_manufacturer;
	int has_slot_id;
	unsigned long slot_id;
	char *object;             /* CKA_LABEL */
	int has_id;
	uint8_t *id;              /* CKA_ID, id_len bytes (may hold NULs) */
	size_t id_len;
	char *type;               /* private, public, cert, secret-key, data */
	/* Query attributes. */
	char *pin_source;         /* file:PATH or PATH */
	char *module_name;
	char *module_path;
};

/*
 * Parse s (which must begin "pkcs11:").  Errors (SD_ERR_FORMAT) name the
 * attribute: "pkcs11 URI: unknown attribute 'tokn'",
 * "pkcs11 URI: id: bad percent-escape at offset 3".
 */
int p11_uri_parse(const char *s, struct p11_uri **out, struct sd_err *e)
	SD_WUR;
void p11_uri_free(struct p11_uri *u);

/*
 * The URI of a key object as `card list` shows it: token, object, id and
 * type, percent-encoded where needed, plus the module path when given.
 * *out is malloc'd.  SD_ERR_LIMIT when it would be longer than
 * P11_URI_MAX (a long id or label), which p11_uri_parse refuses.
 */
int p11_uri_format(const char *token, const char *object,
    const uint8_t *id, size_t id_len, const char *type,
    const char *module_path, char **out) SD_WUR;

/*
 * Does the URI's pin-source name a file?  *path gets it (malloc'd):
 * "file:/p", "file:///p" and a plain path are accepted.
 */
int p11_uri_pin_path(const struct p11_uri *u, char **path, struct sd_err *e)
	SD_WUR;

#endif
