/*
 * readaloud.h - fingerprints made for reading aloud, and for comparing what
 * a person typed back.
 *
 * Two renderings of the same bytes, as DNSSEC root key ceremonies print
 * them beside a hash:
 *   grouped hex   "E07A DEE7 0C15 ..."  upper case, groups of 4 digits
 *   PGP words     "topmost Istanbul Pluto vagabond ..."  the PGPfone
 *                 (Zimmermann-Juola) word list: a byte at an even offset
 *                 (0, 2, ...) is a two-syllable word, at an odd offset a
 *                 three-syllable word, so a dropped, doubled or swapped
 *                 word is heard.
 */
#ifndef SD_READALOUD_H
#define SD_READALOUD_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"

/* Bytes out needs for readaloud_hex / readaloud_pgp of n bytes (with NUL). */
size_t readaloud_hex_size(size_t n);
size_t readaloud_pgp_size(size_t n);

/*
 * Render n bytes as upper-case hex in groups of 4 digits separated by one
 * space ("E07A DEE7 0C"; an odd byte count ends with a 2-digit group).
 * Returns 0, or SD_ERR_ARG (NULL pointer) / SD_ERR_RANGE (outsz smaller than
 * readaloud_hex_size(n)); on error out is "" when outsz > 0.
 */
int readaloud_hex(const uint8_t *b, size_t n, char *out, size_t outsz) SD_WUR;

/*
 * Render n bytes as PGP words separated by one space, even offsets from the
 * two-syllable list, odd offsets from the three-syllable list, spelt as in
 * the PGPfone manual (some capitalised: "Algol", "Babylon").
 * Returns as readaloud_hex.
 */
int readaloud_pgp(const uint8_t *b, size_t n, char *out, size_t outsz) SD_WUR;

/* The word for byte v at offset pos (even/odd list); never NULL. */
const char *readaloud_pgp_word(uint8_t v, size_t pos);

/*
 * Read back what a person typed for a value of n bytes, in either form:
 *  - hex digits in any case, with any spaces, tabs, ':', '-', '.' or '_'
 *    between them ("e07a:de-e7 0C15 ...");
 *  - PGP words in any case, separated by spaces or '-', each word checked
 *    against the list of its position (a three-syllable word where a
 *    two-syllable one belongs is an error naming the word).
 * On success out holds exactly n bytes.  Returns 0; SD_ERR_FORMAT (not hex
 * nor PGP words, a word out of place, detail in e), SD_ERR_RANGE (a
 * well-formed value of another length, detail in e) or SD_ERR_ARG.
 */
int readaloud_parse(const char *typed, uint8_t *out, size_t n,
    struct sd_err *e) SD_WUR;

/*
 * Compare what a person typed with the n bytes expected.  Accepted forms:
 * those of readaloud_parse, and base64url (e.g. an x5t#S256 thumbprint)
 * with spaces and line breaks ignored.  Case and separators never change
 * the verdict on hex or words; base64url is case-sensitive, so a base64url
 * text that matches only when case is ignored is NOT accepted (it denotes
 * different bytes) and gets its own explanation.
 * Returns 0 when the typed value denotes exactly the expected bytes;
 * SD_ERR_AUTH when it denotes different bytes, or base64url differing only
 * in letter case (detail in e says which); SD_ERR_FORMAT when it is none of
 * the forms; SD_ERR_ARG on NULL.
 */
int readaloud_match(const char *typed, const uint8_t *expect, size_t n,
    struct sd_err *e) SD_WUR;

#endif
