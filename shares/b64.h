/*
 * b64.h - strict base64url (RFC 4648 section 5, no padding) and standard
 * base64; decoding in constant time (see b64.c).
 */
#ifndef SD_B64_H
#define SD_B64_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"

/*
 * Decode unpadded base64url text of len characters.  Rejects padding,
 * whitespace, characters outside the alphabet and non-canonical trailing
 * bits.  On success *out is malloc'd (free() it; at least 1 byte even when
 * *out_len is 0).  When secret is non-zero the output is placed in
 * sodium_malloc memory instead and must be released with sodium_free().
 */
int b64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len,
    struct sd_err *e) SD_WUR;

/* Encode as unpadded base64url; *out is a malloc'd NUL-terminated string. */
int b64url_encode(const uint8_t *in, size_t len, char **out) SD_WUR;

/* Standard base64 with padding (as in JWK x5c), decode and encode. */
int b64std_decode(const char *in, size_t len, uint8_t **out, size_t *out_len,
    struct sd_err *e) SD_WUR;
int b64std_encode(const uint8_t *in, size_t len, char **out) SD_WUR;

#endif
