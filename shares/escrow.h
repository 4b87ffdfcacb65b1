/*
 * escrow.h - paper escrow of an officer's private key: the payload an
 * escrow sheet carries, its encryption under a passphrase, and its two
 * encodings on paper, numbered typed lines and QR codes.
 *
 * Pure: no I/O, no printing.  sdtool/escrow_sheet.c draws what this module
 * encodes; sdtool/cmd_escrow.c reads keys, files and images.
 *
 * The payload (format version 1), every integer big-endian:
 *
 *   "SDES"        4   magic
 *   version       1   1
 *   flags         1   bit 0: encrypted, bit 1: has a certificate thumbprint
 *   sheet id     16   random
 *   created       8   Unix time, seconds
 *   key index     1   0..254, 255 when none
 *   x5t_256      32   SHA-256 of the certificate's DER (zero without one)
 *   spki_sha256  32   SHA-256 of the key's SubjectPublicKeyInfo DER
 *   hsm, officer, subject, sdtool version: each 1 length byte, then UTF-8
 *   body length   2   bytes of the body
 *   when encrypted:
 *     kdf         1   1 = Argon2id v1.3 (crypto_pwhash)
 *     opslimit    4
 *     memlimit    4   KiB
 *     salt       16
 *     nonce      24
 *   body             when encrypted, the XChaCha20-Poly1305 ciphertext
 *                    and tag of the key (PKCS#8 DER), with every byte
 *                    before the body as associated data; otherwise the
 *                    key and 16 bytes of BLAKE2b over all that precedes
 *
 * So the header cannot be changed without the passphrase noticing, damage
 * to a plain sheet's key is found by its BLAKE2b check, and a restored key
 * is always checked against spki_sha256.
 *
 * The compact payload (format version 2) carries only what is secret: the
 * smaller prime of the RSA key.  The rest of the key comes back from the
 * certificate's public key (escrow_rsa_rebuild).  Every integer big-endian:
 *
 *   version       1   2 (a format 1 payload begins with 'S')
 *   flags         1   bit 0: encrypted; bit 1: the prime is the key's
 *                     first factor; bit 2: d is e^-1 mod (p-1)(q-1)
 *   bits          2   RSA modulus size
 *   x5t_256      32   SHA-256 of the certificate's DER
 *   when encrypted:
 *     opslimit    1   Argon2id v1.3 passes
 *     memlimit    1   log2 of the memory in KiB
 *     salt       16
 *   body             the prime, escrow_prime_len(bits) bytes, then 16
 *                    bytes: when encrypted, it is XChaCha20-Poly1305
 *                    ciphertext and tag, every byte before the body the
 *                    associated data; the nonce is zero, as the key is
 *                    new for every sheet (its salt is); otherwise the
 *                    prime and BLAKE2b-128 over all that precedes
 *
 * RSA-3072: 262 bytes encrypted, 244 plain; 9 typed lines and the end line.
 *
 * What is public rides beside it, in its own QR code marked PUBLIC
 * (escrow_public_encode): the certificate itself and the sheet's
 * description, so a scan of the sheet alone restores.
 */
#ifndef SD_ESCROW_H
#define SD_ESCROW_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"
#include "secret.h"

#define ESCROW_FORMAT_VERSION 1
#define ESCROW_COMPACT_VERSION 2
#define ESCROW_COMPACT_MAX_BITS 4096   /* larger keys print in format 1 */
#define ESCROW_ID_LEN       16
#define ESCROW_ID_CHARS     26     /* the sheet id in base32 */
#define ESCROW_HASH_LEN     32
#define ESCROW_MAX_NAME     64     /* HSM and officer names, bytes */
#define ESCROW_MAX_SUBJECT  255
#define ESCROW_MAX_VERSION  32
#define ESCROW_NO_INDEX     (-1)
#define ESCROW_MAX_INDEX    254
#define ESCROW_MAX_KEY_DER  8192   /* RSA-8192 PKCS#8 is about 4.8 KB */
#define ESCROW_MAX_PAYLOAD  (ESCROW_MAX_KEY_DER + 1024)
#define ESCROW_SALT_LEN     16
#define ESCROW_NONCE_LEN    24
#define ESCROW_TAG_LEN      16   /* AEAD tag, or BLAKE2b check when plain */

/* What a sheet says about itself, readable without its passphrase. */
struct escrow_header {
	uint8_t sheet_id[ESCROW_ID_LEN];
	uint64_t created;                  /* Unix time, seconds */
	int key_index;                     /* 0..254 or ESCROW_NO_INDEX */
	int has_cert;                      /* x5t_256 is meaningful */
	uint8_t x5t_256[ESCROW_HASH_LEN];  /* SHA-256 of the certificate DER */
	uint8_t spki_sha256[ESCROW_HASH_LEN];
	char hsm[ESCROW_MAX_NAME + 1];     /* "" when not given */
	char officer[ESCROW_MAX_NAME + 1];
	char subject[ESCROW_MAX_SUBJECT + 1];
	char version[ESCROW_MAX_VERSION + 1];
	int encrypted;
	uint32_t opslimit;                 /* Argon2id, when encrypted */
	uint32_t memlimit_kib;
	size_t key_len;                    /* PKCS#8 DER bytes; compact: prime */
	int format;                        /* 1 or ESCROW_COMPACT_VERSION */
	int bits;                          /* compact: RSA modulus bits */
	unsigned rsa_flags;                /* compact: ESCROW_RSA_* */
};

/* Argon2id cost of a sheet's passphrase. */
struct escrow_kdf {
	uint32_t opslimit;
	uint32_t memlimit_kib;
};

/*
 * The cost sheets are printed with: libsodium's MODERATE (3 passes over
 * 256 MiB, about a second), the same on every machine.
 */
void escrow_kdf_default(struct escrow_kdf *kdf);

/*
 * Is s, of at most max bytes, fit for a header text field: UTF-8 without
 * control characters?  0 or SD_ERR_FORMAT / SD_ERR_LIMIT with detail
 * naming `field`.
 */
int escrow_check_text(const char *field, const char *s, size_t max,
    struct sd_err *e) SD_WUR;

/* SHA-256 of the SubjectPublicKeyInfo of the PKCS#8 DER private key. */
int escrow_spki_sha256(const uint8_t *der, size_t der_len,
    uint8_t out[static ESCROW_HASH_LEN], struct sd_err *e) SD_WUR;

/*
 * Make a sheet's payload for the PKCS#8 DER key.  The caller fills h's
 * hsm, officer, subject, version, created, key_index, has_cert and
 * x5t_256; escrow_seal draws sheet_id (from rng) and sets spki_sha256,
 * encrypted, the KDF fields and key_len.  With a passphrase (NUL-
 * terminated, not empty) the key is encrypted under Argon2id(kdf) and
 * XChaCha20-Poly1305; with NULL it is carried in the clear.  *payload is
 * guarded memory.
 */
int escrow_seal(struct escrow_header *h, const uint8_t *der, size_t der_len,
    const char *passphrase, const struct escrow_kdf *kdf,
    const struct sd_rng *rng, struct sd_secret **payload, struct sd_err *e)
	SD_WUR;

/*
 * Read a payload's header, without the passphrase: to show what a sheet
 * is and to know whether a passphrase is needed.  SD_ERR_FORMAT names the
 * field that is wrong; SD_ERR_UNSUPPORTED a format version we do not know.
 */
int escrow_peek(const uint8_t *p, size_t len, struct escrow_header *h,
    struct sd_err *e) SD_WUR;

/*
 * Open a payload: decrypt it with passphrase when it is encrypted (ignored
 * otherwise), and check that the key's public half hashes to the header's
 * spki_sha256.  *der (guarded) is the PKCS#8 DER key.  Errors:
 * SD_ERR_PASSPHRASE (encrypted, no passphrase given), SD_ERR_AUTH (wrong
 * passphrase, or the header or ciphertext altered; for a plain sheet, a
 * damaged key or header), SD_ERR_KEY_MISMATCH
 * (the key is not the one the header names), SD_ERR_FORMAT, SD_ERR_RANGE
 * (KDF cost outside what we accept).
 */
int escrow_open(const uint8_t *p, size_t len, const char *passphrase,
    struct escrow_header *h, struct sd_secret **der, struct sd_err *e) SD_WUR;

/*
 * Compact sheets (format 2).
 */

/* Bytes of the smaller prime of an RSA key of `bits` bits. */
size_t escrow_prime_len(int bits);

/* How the prime sits in the key, so the very same key comes back. */
#define ESCROW_RSA_SMALL_FIRST 0x01   /* the prime is factor 1 (p) */
#define ESCROW_RSA_D_PHI       0x02   /* d = e^-1 mod (p-1)(q-1) */

struct evp_pkey_st;

/*
 * The smaller prime of the two-prime RSA key, escrow_prime_len(bits)
 * bytes big-endian in guarded memory, the key's size and ESCROW_RSA_*
 * flags.  SD_ERR_KEY for a key without primes, SD_ERR_UNSUPPORTED for a
 * multi-prime key.
 */
int escrow_rsa_prime(const struct evp_pkey_st *key, struct sd_secret **prime,
    int *bits, unsigned *flags, struct sd_err *e) SD_WUR;

/*
 * The whole private key from the prime and pub, the certificate's public
 * key: q = n / p, d = e^-1 mod lcm(p-1, q-1) (or (p-1)(q-1) under
 * ESCROW_RSA_D_PHI), the CRT values, all through OpenSSL BN with
 * BN_FLG_CONSTTIME, built by EVP_PKEY_fromdata.  Proves that the prime
 * divides n, that the rebuilt key's public half is pub, and that an
 * RSA-OAEP test decryption round-trips; then *der (guarded) is the key as
 * PKCS#8 DER.  SD_ERR_KEY_MISMATCH when the prime is not of pub's key.
 */
int escrow_rsa_rebuild(const uint8_t *prime, size_t plen, unsigned flags,
    struct evp_pkey_st *pub, struct sd_secret **der, struct sd_err *e) SD_WUR;

/*
 * Make a compact payload of the prime.  The caller sets h->bits,
 * h->rsa_flags and h->x5t_256 (a compact sheet always names its
 * certificate); escrow_seal_compact sets format, has_cert, encrypted, the
 * KDF fields and key_len.  The KDF's memlimit_kib must be a power of two.
 * Encrypted with a passphrase as escrow_seal; plain with NULL.
 */
int escrow_seal_compact(struct escrow_header *h, const uint8_t *prime,
    size_t plen, const char *passphrase, const struct escrow_kdf *kdf,
    const struct sd_rng *rng, struct sd_secret **payload, struct sd_err *e)
	SD_WUR;

/*
 * Open a compact payload: *prime (guarded) and h.  Errors as escrow_open:
 * SD_ERR_PASSPHRASE, SD_ERR_AUTH (wrong passphrase, altered or damaged),
 * SD_ERR_FORMAT, SD_ERR_RANGE.
 */
int escrow_open_compact(const uint8_t *p, size_t len, const char *passphrase,
    struct escrow_header *h, struct sd_secret **prime, struct sd_err *e)
	SD_WUR;

/*
 * The public QR code of a compact sheet:
 *
 *   SDC2/<base32 of: version 2, sheet id (16), created (8), key index (1),
 *         HSM, officer, sdtool version (1 length byte + UTF-8 each),
 *         certificate DER length (2), the DER, BLAKE2b-128 of all before>
 *
 * *text is malloc'd and NUL-terminated.  Refused: a certificate too long
 * for one QR code (ESCROW_PUBLIC_MAX_CHARS characters).
 */
#define ESCROW_PUBLIC_TAG       "SDC2"
#define ESCROW_PUBLIC_MAX_CHARS 2600   /* about 1.5 KB of certificate */
int escrow_public_encode(const struct escrow_header *h, const uint8_t *cert,
    size_t cert_len, char **text, struct sd_err *e) SD_WUR;
/*
 * Read a public code ("QR-Code:" and a trailing newline accepted): fills
 * h's sheet_id, created, key_index, hsm, officer, version and, from the
 * certificate, x5t_256; *cert (malloc'd) is the certificate's DER.
 */
int escrow_public_decode(const char *text, size_t len,
    struct escrow_header *h, uint8_t **cert, size_t *cert_len,
    struct sd_err *e) SD_WUR;

/*
 * The secret QR code of a compact sheet, one code: "SDK2/<base32>".
 * *text is guarded memory holding the NUL-terminated text.
 */
#define ESCROW_SECRET_TAG "SDK2"
int escrow_secret_qr(const uint8_t *p, size_t len, struct sd_secret **text,
    struct sd_err *e) SD_WUR;
/* Read one back ("QR-Code:" accepted): *payload (guarded). */
int escrow_secret_qr_decode(const char *text, size_t len,
    struct sd_secret **payload, struct sd_err *e) SD_WUR;

/*
 * Base32 for people: Crockford's alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ
 * (no I, L, O, U), five bits a character, the last padded with zero bits.
 * Every character is also in the QR alphanumeric set.
 */
#define ESCROW_B32_ALPHABET "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
/* Characters for n bytes: ceil(8n / 5). */
size_t escrow_b32_chars(size_t nbytes);
/* out receives escrow_b32_chars(len) characters and a NUL. */
void escrow_b32_encode(const uint8_t *in, size_t len, char *out);
/*
 * The value 0..31 of a typed character: lower case accepted, O read as 0,
 * I and L as 1; -1 for anything else.
 */
int escrow_b32_value(int c);
/*
 * Decode exactly escrow_b32_chars(out_len) characters (already free of
 * spaces) into out_len bytes; the padding bits must be zero.
 */
int escrow_b32_decode(const char *in, size_t n, uint8_t *out, size_t out_len,
    struct sd_err *e) SD_WUR;

/*
 * The typed copy.  Numbered lines of ESCROW_LINE_GROUPS groups of
 * ESCROW_GROUP_CHARS characters, the payload's base32, each line followed
 * by one check character per group:
 *
 *    14: 8Z1KQ3VM T0B7C2XA 9FJ4R6PE W5NH0DGY  K3QA
 *
 * A group's check character is CRC-5 (x^5 + x^2 + 1) of its characters,
 * which finds every single wrong character and every swap of two
 * neighbours, combined with five bits of BLAKE2b of the line number and
 * group position, which finds a line typed under the wrong number.  The
 * last line is
 *
 *   end: 1483 7KQ2M9XA R
 *
 * the payload's length, the first 40 bits of BLAKE2b over the length and
 * the payload, and a check character of that line.
 *
 * A compact payload's lines hold ESCROW_LINE_GROUPS_COMPACT groups (and as
 * many check characters); the decoder tells the layouts apart by the
 * length of most lines.
 */
#define ESCROW_GROUP_CHARS  8
#define ESCROW_LINE_GROUPS  4
#define ESCROW_LINE_CHARS   (ESCROW_GROUP_CHARS * ESCROW_LINE_GROUPS)
#define ESCROW_LINE_GROUPS_COMPACT 6
#define ESCROW_MAX_LINE_GROUPS ESCROW_LINE_GROUPS_COMPACT
#define ESCROW_MAX_LINE_CHARS (ESCROW_GROUP_CHARS * ESCROW_MAX_LINE_GROUPS)
#define ESCROW_SUM_CHARS    8
#define ESCROW_MAX_LINES    999

/* How many numbered lines a format 1 payload of len bytes takes. */
size_t escrow_text_lines(size_t len);
/* Groups a line of payload p holds, and how many lines it takes. */
size_t escrow_text_groups(const uint8_t *p, size_t len);
size_t escrow_text_lines_of(const uint8_t *p, size_t len);

/*
 * The typed copy of a payload: the numbered lines and the end line, each
 * ending in '\n', NUL-terminated, in guarded memory (s->len counts the
 * text without the NUL).
 */
int escrow_text_encode(const uint8_t *p, size_t len, struct sd_secret **text,
    struct sd_err *e) SD_WUR;

/* What is wrong with a typed copy, line by line. */
#define ESCROW_MAX_PROBLEMS 20
struct escrow_text_report {
	size_t n;                   /* problems listed */
	size_t more;                /* and not listed */
	char msg[ESCROW_MAX_PROBLEMS][160];
};

/*
 * Read a typed copy back.  Lines that begin with a number and a colon
 * are numbered lines, in any order; a line that begins with "end:" is the
 * end line; every other line is ignored, so a whole text sheet can be
 * given.  Case, spaces, tabs and hyphens do not matter, O is read as 0
 * and I and L as 1.  On SD_ERR_FORMAT every problem found is in rep
 * ("line 14: checksum mismatch, check characters 9-16"), and e->msg says
 * how many lines are wrong.  *payload is guarded memory.
 */
int escrow_text_decode(const char *text, size_t len,
    struct escrow_text_report *rep, struct sd_secret **payload,
    struct sd_err *e) SD_WUR;

/*
 * QR codes.  The payload's base32 is cut into n parts of nearly equal
 * length, each a code of its own holding
 *
 *   SDE1/<i>/<n>/<sheet id>/<base32>
 *
 * (only characters of the QR alphanumeric set), at most
 * ESCROW_QR_MAX_CHARS characters: version 20 or less at error correction
 * level Q.
 */
#define ESCROW_QR_TAG       "SDE1"
#define ESCROW_QR_MAX_CHARS 680
#define ESCROW_MAX_PARTS    32

struct escrow_parts {
	size_t n;
	char *text[ESCROW_MAX_PARTS];   /* NUL-terminated, guarded memory */
};

/* Cut a payload into QR parts. */
int escrow_qr_split(const uint8_t *p, size_t len, struct escrow_parts **out,
    struct sd_err *e) SD_WUR;
void escrow_parts_free(struct escrow_parts *parts);

/* The QR parts read so far, in any order, from any number of sources. */
struct escrow_qr_set;

int escrow_qr_set_new(struct escrow_qr_set **out) SD_WUR;
void escrow_qr_set_free(struct escrow_qr_set *s);
/*
 * Add the text of one code.  A trailing newline and a leading "QR-Code:"
 * (zbarimg's output) are accepted.  Refused: a code that is not a sheet's
 * part, a part of another sheet than the first one added, a part given
 * twice, a part count that disagrees with the others'.
 */
int escrow_qr_add(struct escrow_qr_set *s, const char *text, size_t len,
    struct sd_err *e) SD_WUR;
/* How many distinct parts were added, and of how many (0 before any). */
void escrow_qr_count(const struct escrow_qr_set *s, size_t *have,
    size_t *of);
/*
 * Put the parts together: every part must be there ("QR part 2 of 3 is
 * missing"), and the payload's own sheet id must be the parts'.
 */
int escrow_qr_join(const struct escrow_qr_set *s, struct sd_secret **payload,
    struct sd_err *e) SD_WUR;

#endif
