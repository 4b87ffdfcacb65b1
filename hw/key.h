/*
 * key.h - wrapping keys behind one interface.
 *
 * A key is opened from a reference (a key file's path, a PKCS#11 URI,
 * or a YubiKey-wrapped .ykey file), may carry its certificate, and is
 * asked to decrypt RSA-OAEP-256 ciphertexts.  Callers never see private
 * key bytes.
 * hw/ returns SD_ERR_* codes with detail in struct sd_err and never prints;
 * it asks for passphrases only through the callback the caller supplies.
 */
#ifndef SD_HW_KEY_H
#define SD_HW_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "../shares/sd_err.h"
#include "../shares/sdfile.h"
#include "../shares/sdops.h"
#include "../shares/secret.h"

#define HW_MAX_KEY_FILE (1u << 20)   /* largest key or certificate file read */
#define HW_MAX_PASSPHRASE 1024

/*
 * Asked for the passphrase of an encrypted key.  Write it NUL-terminated
 * into buf (size bytes, guarded memory) and return 0, or return an
 * SD_ERR_* code (SD_ERR_PASSPHRASE when none can be had).  `ref` names the
 * key for the prompt.
 */
typedef int (*hw_passphrase_fn)(void *ctx, const char *ref, char *buf,
    size_t size);

/*
 * Asked for the PIN of a PKCS#11 token (or a PIV card's management key,
 * HW_PIN_SO), or only to tell the user something (HW_PIN_NOTIFY: a PIN
 * pad or a touch is awaited; write nothing into buf and return 0).
 * `token` is the token's label for the prompt; flags say what the token
 * reports about the tries left.  Write the PIN NUL-terminated into buf
 * (guarded memory) and return 0, or return an SD_ERR_* code.
 */
enum hw_pin_flags {
	HW_PIN_COUNT_LOW = 1 << 0,    /* the token says few tries are left */
	HW_PIN_FINAL_TRY = 1 << 1,    /* one more wrong PIN locks it */
	HW_PIN_SO = 1 << 2,           /* the security officer's PIN */
	HW_PIN_NOTIFY = 1 << 3,       /* only tell the user: */
	HW_PIN_PINPAD = 1 << 4,       /*   type the PIN on the reader's pad */
	HW_PIN_TOUCH = 1 << 5,        /*   touch the YubiKey if it blinks */
	HW_PIN_TEST_DEVICE = 1 << 6,  /*   the software YubiKey is used */
};
typedef int (*hw_pin_fn)(void *ctx, const char *token, unsigned flags,
    char *buf, size_t size);

#define HW_MAX_PIN 256

struct hw_open_opts {
	hw_passphrase_fn passphrase;  /* NULL: encrypted keys fail */
	void *passphrase_ctx;
	const char *cert_path;        /* NULL: the key's stem + ".cer" */
	/* For PKCS#11 and YubiKey references: */
	hw_pin_fn pin;                /* NULL: only the URI's pin-source */
	void *pin_ctx;
	/*
	 * The PKCS#11 module when the URI names none (module-path):
	 * --pkcs11-module or $SDTOOL_PKCS11_MODULE; NULL: p11-kit's proxy.
	 */
	const char *pkcs11_module;
	/*
	 * A TEST device: the file of sdtool's software YubiKey responder
	 * ($SDTOOL_YK_SOFTWARE_SECRET_FILE), used instead of any real
	 * YubiKey.  NULL for real devices (see hw/yk.h).
	 */
	const char *yk_software;
};

/* Facts about a key's certificate worth telling its user. */
enum hw_key_flags {
	HW_KEY_NO_CERT = 1 << 0,      /* no certificate found beside the key */
	HW_KEY_CERT_EXPIRED = 1 << 1, /* notAfter is in the past */
	HW_KEY_CERT_NOT_YET = 1 << 2, /* notBefore is in the future */
	HW_KEY_ENCRYPTED = 1 << 3,    /* the key file was passphrase-protected */
	HW_KEY_TOKEN = 1 << 4,        /* on a PKCS#11 token: never in memory */
	HW_KEY_YKEY = 1 << 5,         /* a YubiKey-wrapped key file (.ykey) */
	HW_KEY_TEST_DEVICE = 1 << 6,  /* unwrapped by the software YubiKey */
	HW_KEY_OAEP_HOST = 1 << 7,    /* the token decrypts raw RSA only: */
	                              /* OAEP is checked here (known after */
	                              /* the first decryption) */
};

struct hw_key;

/*
 * Open the key at ref.  Loads PEM or DER, PKCS#1 or PKCS#8, encrypted
 * PKCS#8 (asking opts->passphrase), RSA only.  The certificate is looked
 * for beside it; if found it must match the key (SD_ERR_KEY_MISMATCH).
 * Errors: SD_ERR_IO (unreadable), SD_ERR_KEY (not a key we can use),
 * SD_ERR_PASSPHRASE (wrong or no passphrase).
 *
 * A reference beginning "pkcs11:" is a PKCS#11 URI (RFC 7512): the key
 * stays on its token and its certificate is the token's certificate
 * object of the same CKA_ID (or opts->cert_path); see hw/key_pkcs11.c.
 * A wrong, locked or missing PIN is SD_ERR_PASSPHRASE; a module, token
 * or object not found is SD_ERR_KEY; a token failing is SD_ERR_IO; the
 * message says which.  A file holding a YubiKey-wrapped key (sdtool yk
 * wrap) is unwrapped with the YubiKey and, if it has one, the
 * passphrase; see hw/key_ykey.c.
 */
int hw_key_open(const char *ref, const struct hw_open_opts *opts,
    struct hw_key **out, struct sd_err *e) SD_WUR;
void hw_key_free(struct hw_key *k);

const char *hw_key_ref(const struct hw_key *k);
unsigned hw_key_flags(const struct hw_key *k);
int hw_key_bits(const struct hw_key *k);
/* The certificate, or NULL when HW_KEY_NO_CERT. */
X509 *hw_key_cert(const struct hw_key *k);
/* Path of the certificate that was loaded, or NULL. */
const char *hw_key_cert_path(const struct hw_key *k);
/* The certificate's x5t_256, or NULL when there is none. */
const char *hw_key_x5t256(const struct hw_key *k);

/* RSA-OAEP-256 decryption by the key; wrong ciphertext is SD_ERR_AUTH. */
int hw_key_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e) SD_WUR;

/*
 * The certificate looked for beside a key file: "dir/cert_0.key" ->
 * "dir/cert_0.cer" (the extension of the last component replaced, or
 * ".cer" appended), as azure-cli names them.  malloc'd; NULL when out of
 * memory.
 */
char *hw_cert_path_beside(const char *ref);

/*
 * The private key when this process holds it (a key file's), or NULL for
 * a key that decrypts elsewhere (a token, a YubiKey-wrapped file): for
 * what must handle the key itself, such as putting it on paper or on a
 * token.  Valid while k lives.
 */
struct evp_pkey_st *hw_key_pkey(const struct hw_key *k);

/* The key as a core decryptor (valid while k lives). */
void hw_key_decryptor(struct hw_key *k, struct sd_decryptor *d);

#include "../pki/cert.h"

#endif
