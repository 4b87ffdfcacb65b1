/*
 * jwe_internal.h - pieces of jwe.c exposed only so the unit tests can
 * check them against RFC 7518's test vectors, whose AAD is not a
 * base64url header and so cannot travel inside a compact JWE.
 */
#ifndef SD_JWE_INTERNAL_H
#define SD_JWE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The A256CBC-HS512 tag (RFC 7518 5.2.2.1 step 5, 5.2.5): the first 32
 * bytes of HMAC-SHA-512(mac_key, aad || iv || ct || [8 * aad_len]_64).
 * Returns 0 or SD_ERR_CRYPTO.
 */
int jwe_a256cbc_hs512_tag(const uint8_t mac_key[32], const uint8_t *aad,
    size_t aad_len, const uint8_t *iv, const uint8_t *ct, size_t ct_len,
    uint8_t tag[32]);

#endif
