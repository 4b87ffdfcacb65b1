/*
 * ykey.h - YubiKey-wrapped key files (.ykey): a private key (PKCS#8 DER)
 * encrypted under a key derived from a YubiKey's HMAC-SHA1 response to
 * a random challenge kept in the file, and, if asked, a passphrase:
 * something you have and something you know.
 *
 * The file is JSON:
 *
 *   {
 *     "type": "sdtool-ykey", "version": 1,
 *     "device": "yubikey",            ("software-test": the TEST device)
 *     "serial": 1234567, "slot": 2,   (0: the YubiKey hides its serial)
 *     "challenge": "<base64url, 32 bytes>",
 *     "passphrase": { "kdf": "argon2id13", "salt": "<16 bytes>",
 *                     "opslimit": 3, "memlimit": 268435456 } | null,
 *     "aead": "xchacha20poly1305-ietf",
 *     "nonce": "<24 bytes>",
 *     "ciphertext": "<base64url>",
 *     "x5t_256": "<the certificate's thumbprint at wrapping>" | null
 *   }
 *
 * Key derivation (libsodium throughout):
 *
 *   R   = HMAC-SHA1 response of slot `slot` to `challenge` (20 bytes)
 *   P   = Argon2id(passphrase, salt, opslimit, memlimit), 32 bytes;
 *         absent without a passphrase
 *   K   = BLAKE2b-256(key = R, message = "sdtool-ykey-v1" 0x00
 *         || 0x01 || P   (or 0x00 without a passphrase))
 *   ciphertext = XChaCha20-Poly1305-IETF(K, nonce, PKCS#8 DER,
 *         additional data = every other field, canonically encoded)
 *
 * so the serial, slot, device, challenge and passphrase parameters
 * cannot be changed without the decryption failing.
 */
#ifndef SD_HW_YKEY_H
#define SD_HW_YKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "../shares/sd_err.h"
#include "../shares/sdfile.h"
#include "../shares/secret.h"
#include "yk.h"

#define YKEY_CHALLENGE_LEN 32
#define YKEY_SALT_LEN crypto_pwhash_SALTBYTES
#define YKEY_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define YKEY_KEY_LEN 32
#define YKEY_MAX_FILE (64 * 1024)
/* Argon2id work for the passphrase: libsodium's "moderate". */
#define YKEY_OPSLIMIT crypto_pwhash_OPSLIMIT_MODERATE
#define YKEY_MEMLIMIT crypto_pwhash_MEMLIMIT_MODERATE
/* What a file may ask for, at most: a hostile file must not exhaust us. */
#define YKEY_MAX_OPSLIMIT 16
#define YKEY_MAX_MEMLIMIT (1024UL * 1024 * 1024)

struct ykey {
	int software;                   /* made with the TEST device */
	unsigned serial;                /* 0: unknown */
	int slot;                       /* 1 or 2 */
	uint8_t challenge[YKEY_CHALLENGE_LEN];
	int has_passphrase;
	uint8_t salt[YKEY_SALT_LEN];
	unsigned long long opslimit;
	size_t memlimit;
	uint8_t nonce[YKEY_NONCE_LEN];
	uint8_t *ct;                    /* malloc'd */
	size_t ct_len;
	char x5t_256[SD_X5T_SIZE];   /* "" when not recorded */
};

/*
 * Does buf look like a .ykey file (a JSON object of type
 * "sdtool-ykey")?  Only a quick look, to route key references.
 */
int ykey_sniff(const char *buf, size_t len);

/* Parse a .ykey file's text.  Errors (SD_ERR_FORMAT) name the field. */
int ykey_parse(const char *buf, size_t len, struct ykey **out,
    struct sd_err *e) SD_WUR;
void ykey_free(struct ykey *y);

/*
 * Refuse a device of the wrong kind before asking it: a file made with
 * the software test YubiKey (soft 1) is opened by nothing else, and a
 * real YubiKey's file not by the software one.  SD_ERR_KEY.
 */
int ykey_check_kind(const struct ykey *y, int soft, struct sd_err *e)
	SD_WUR;

/*
 * Derive K (YKEY_KEY_LEN bytes, into guarded memory the caller gives)
 * from the device's answer to y's challenge and the passphrase (NULL
 * when y has none).  The device must be the one y names (serial, and
 * the software responder only for files it made): SD_ERR_KEY otherwise,
 * naming both.
 */
int ykey_derive(const struct ykey *y, struct yk_dev *dev,
    const char *passphrase, uint8_t key[static YKEY_KEY_LEN],
    struct sd_err *e) SD_WUR;

/*
 * Decrypt y's private key with K into a new guarded buffer (PKCS#8
 * DER).  Wrong YubiKey secret or passphrase, or a changed file:
 * SD_ERR_AUTH.
 */
int ykey_decrypt(const struct ykey *y, const uint8_t key[static YKEY_KEY_LEN],
    struct sd_secret **pkcs8, struct sd_err *e) SD_WUR;

/*
 * Wrap pkcs8 (DER) with dev's slot and the passphrase (NULL for none):
 * a new challenge, salt and nonce from rng (NULL: libsodium's), and
 * x5t_256 (NULL when unknown) recorded.  *json is the file's text,
 * malloc'd.
 */
int ykey_wrap(const uint8_t *pkcs8, size_t len, struct yk_dev *dev,
    int slot, const char *passphrase, const char *x5t_256,
    const struct sd_rng *rng, char **json, struct sd_err *e) SD_WUR;

/*
 * For `sdtool yk` (hw/key_ykey.c).
 */
struct hw_key;

/*
 * Wrap the private key of k, a key file opened with hw_key_open, with
 * the one YubiKey yo finds (slot 1 or 2) and the passphrase (NULL for
 * none); the certificate's thumbprint is recorded.  *json is the .ykey
 * file's text (malloc'd); *serial and *software say which device.
 */
int hw_ykey_wrap(const struct hw_key *k, const struct yk_open_opts *yo,
    int slot, const char *passphrase, const struct sd_rng *rng, char **json,
    unsigned *serial, int *software, struct sd_err *e) SD_WUR;

/*
 * Open the .ykey file at path as hw_key_open does (YubiKey, passphrase,
 * certificate check) and hand over its private key, to be written out
 * as a key file again (sdtool yk unwrap).
 */
int hw_ykey_unwrap(const char *path, const struct hw_open_opts *opts,
    EVP_PKEY **out, struct sd_err *e) SD_WUR;

#endif
