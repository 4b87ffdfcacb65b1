/*
 * kdf.h - NIST SP 800-108 counter-mode KDF with HMAC-SHA-512, through
 * OpenSSL's KBKDF: K(i) = HMAC(key, [i]_32 || label || 0x00 || context ||
 * [L]_32).  The SD file derives each data item's 64-byte content key from
 * the master secret with label = the item's tag and an empty context.
 */
#ifndef SD_KDF_H
#define SD_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"

int sd_kdf_sp800_108(const uint8_t *key, size_t key_len,
    const uint8_t *label, size_t label_len,
    const uint8_t *context, size_t context_len,
    uint8_t *out, size_t out_len, struct sd_err *e) SD_WUR;

#endif
