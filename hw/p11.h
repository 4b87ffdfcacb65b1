/*
 * p11.h - PKCS#11 tokens: modules loaded with dlopen, tokens matched by
 * URI, log-in with a PIN (or a PIN pad), objects found, and the few
 * operations a wrapping key needs: RSA-OAEP-256 decryption, import of an
 * RSA key, generation on the token, storing a certificate, one signature
 * (the self-signed certificate of a generated key).
 *
 * Used by key_pkcs11.c (keys as hw_key_open opens them) and by
 * `sdtool card`.  Like all of hw/, it returns SD_ERR_* with the detail in
 * struct sd_err, and never prints.  Messages name the token by its label
 * and say what the token answered (CKR_PIN_INCORRECT, ...).
 *
 * PKCS#11 allows one C_Initialize per module and process: modules are
 * shared, counted, and finalized when the last user lets go.  sdtool is
 * single-threaded; so is this.
 */
#ifndef SD_HW_P11_H
#define SD_HW_P11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "key.h"
#include "pkcs11_uri.h"

/* p11-kit's proxy: every module registered with p11-kit. */
#define P11_DEFAULT_MODULE "p11-kit-proxy.so"

struct p11_module;

/*
 * The module to load: the URI's module-path, else its module-name (a
 * file name in the system's PKCS#11 module directory), else opt (the
 * --pkcs11-module option or $SDTOOL_PKCS11_MODULE), else p11-kit's proxy.
 * *path is malloc'd.
 */
int p11_module_choose(const struct p11_uri *u, const char *opt, char **path,
    struct sd_err *e) SD_WUR;

/*
 * Load the module at path with dlopen and C_Initialize it, or share the
 * one already loaded.  "module not found" names the path and dlerror().
 */
int p11_module_open(const char *path, struct p11_module **out,
    struct sd_err *e) SD_WUR;
void p11_module_free(struct p11_module *m);
/* CK_INFO's manufacturer and description, trimmed. */
const char *p11_module_manufacturer(const struct p11_module *m);
const char *p11_module_description(const struct p11_module *m);

struct p11_token {
	CK_SLOT_ID slot;
	char label[33];             /* CK_TOKEN_INFO, blanks trimmed */
	char manufacturer[33];
	char model[17];
	char serial[17];
	char slot_description[65];
	char slot_manufacturer[33];
	CK_FLAGS flags;             /* CKF_* of the token */
	unsigned long pin_min, pin_max;
	int yubikey_piv;            /* Yubico's ykcs11: keys go to PIV slots */
};

/* Every slot with a token present.  *out is malloc'd (may be empty). */
int p11_tokens(struct p11_module *m, struct p11_token **out, size_t *n,
    struct sd_err *e) SD_WUR;

/* Does the token (of module m) match the URI's token and library parts? */
int p11_token_matches(const struct p11_module *m, const struct p11_token *t,
    const struct p11_uri *u);

/*
 * The one token matching u.  None: SD_ERR_KEY "no token matches" listing
 * the tokens present; several: SD_ERR_KEY asking for a narrower URI.
 * ref names the reference in messages.
 */
int p11_find_token(struct p11_module *m, const struct p11_uri *u,
    const char *ref, struct p11_token *out, struct sd_err *e) SD_WUR;

struct p11_session;

/* A session with the token (read-write when rw). */
int p11_session_open(struct p11_module *m, const struct p11_token *t, int rw,
    struct p11_session **out, struct sd_err *e) SD_WUR;
/* Close it (logging out is left to the module when its last session ends). */
void p11_session_free(struct p11_session *s);
const struct p11_token *p11_session_token(const struct p11_session *s);

/*
 * Log in as the user (so 0) or the security officer (so 1; on a PIV card
 * through ykcs11, the management key), unless the session already is.
 * The PIN comes from pin_path (a file; first line) if not NULL, else from
 * fn, which is told what the token says about tries left.  A token with
 * a protected authentication path (a PIN-pad reader) gets no PIN from
 * us: fn is notified (HW_PIN_NOTIFY | HW_PIN_PINPAD) and the reader asks.
 * Errors (SD_ERR_PASSPHRASE): "wrong PIN for token officer0 (one more
 * wrong PIN locks it)", "the PIN of token officer0 is locked".  The PIN
 * is wiped before returning.
 */
/* Who logs in: the token's user, or its security officer. */
enum p11_role {
	P11_NOBODY = 0,
	P11_USER = 1,
	P11_SO = 2,
};

int p11_login(struct p11_session *s, enum p11_role role, const char *pin_path,
    hw_pin_fn fn, void *ctx, struct sd_err *e) SD_WUR;

/* Log out (the user or the SO, whoever is logged in).  0 or -1. */
int p11_logout(struct p11_session *s);

struct p11_object {
	CK_OBJECT_HANDLE h;
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE key_type;       /* for keys */
	char *label;                /* NULL when it has none */
	uint8_t *id;                /* NULL when it has none */
	size_t id_len;
	X509 *cert;                 /* certificates: CKA_VALUE parsed */
	EVP_PKEY *pub;              /* RSA keys whose modulus is readable */
	int bits;                   /* RSA keys, 0 when unknown */
	/* CK_BBOOL attributes: 1, 0, or -1 when the token does not say */
	int sensitive, extractable, always_sensitive, never_extractable;
	int decrypt, unwrap, sign, private_;
};

/*
 * Objects of class cls (CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE)
 * matching the URI's object (label) and id when u is not NULL.  *out is
 * calloc'd; free with p11_objects_free.
 */
int p11_find_objects(struct p11_session *s, CK_OBJECT_CLASS cls,
    const struct p11_uri *u, struct p11_object **out, size_t *n,
    struct sd_err *e) SD_WUR;
void p11_objects_free(struct p11_object *o, size_t n);

/*
 * The certificate of a key: a certificate object with the key's id, or
 * its label when it has no id.  *out NULL when there is none; SD_ERR_KEY
 * when several different ones claim the key.
 */
int p11_cert_of(struct p11_session *s, const struct p11_object *key,
    X509 **out, struct sd_err *e) SD_WUR;

/* Where RSA-OAEP-256 is computed for a key (see p11_decrypt_oaep256). */
enum p11_oaep_mode {
	P11_OAEP_UNKNOWN,           /* not tried yet */
	P11_OAEP_TOKEN,             /* CKM_RSA_PKCS_OAEP, SHA-256 */
	P11_OAEP_HOST,              /* CKM_RSA_X_509, unpadding here */
};

/*
 * Decrypt an RSA-OAEP-256 (SHA-256, MGF1-SHA-256, no label) ciphertext
 * with key h of bits bits, whose public key is pub (NULL when unknown: a
 * ciphertext not below the modulus is then the token's to refuse,
 * which some do with CKR_GENERAL_ERROR).  CKM_RSA_PKCS_OAEP with those parameters is
 * asked first; a token refusing them (SoftHSM2 does only SHA-1, some PIV
 * cards only raw RSA) is asked for CKM_RSA_X_509 and the OAEP padding is
 * checked here, in constant time (OpenSSL's
 * RSA_padding_check_PKCS1_OAEP_mgf1).  *mode remembers which.  A
 * ciphertext not for this key: SD_ERR_AUTH.  The plaintext goes to a new
 * guarded buffer.
 */
int p11_decrypt_oaep256(struct p11_session *s, CK_OBJECT_HANDLE h, int bits,
    EVP_PKEY *pub, enum p11_oaep_mode *mode, const uint8_t *in,
    size_t in_len, struct sd_secret **out, struct sd_err *e) SD_WUR;

/*
 * Sign data with key h: RSASSA-PKCS1-v1_5 with SHA-256
 * (CKM_SHA256_RSA_PKCS, or CKM_RSA_PKCS over a DigestInfo made here).
 * *sig is malloc'd.
 */
int p11_sign_sha256(struct p11_session *s, CK_OBJECT_HANDLE h, int bits,
    const uint8_t *data, size_t len, uint8_t **sig, size_t *sig_len,
    struct sd_err *e) SD_WUR;

/*
 * Write the private key of a key-file key (hw_key_open of a file) as a
 * token object: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_DECRYPT and CKA_UNWRAP, with label and id.  The
 * key's components pass through guarded memory and are wiped.
 * SD_ERR_UNSUPPORTED when the token refuses the key's size.
 */
int p11_import_rsa(struct p11_session *s, const struct hw_key *key,
    const char *label, const uint8_t *id, size_t id_len,
    CK_OBJECT_HANDLE *out, struct sd_err *e) SD_WUR;

/* Store a certificate object (CKC_X_509) with label and id. */
int p11_store_cert(struct p11_session *s, X509 *cert, const char *label,
    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *out,
    struct sd_err *e) SD_WUR;

/*
 * Generate an RSA key pair of bits bits on the token, the private half
 * sensitive and never extractable, for decryption and unwrapping (and
 * signing, for its self-signed certificate).  *pub gets the public key.
 */
int p11_generate_rsa(struct p11_session *s, int bits, const char *label,
    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *priv,
    EVP_PKEY **pub, struct sd_err *e) SD_WUR;

/* Set a CK_BBOOL attribute of an object. */
int p11_set_bool(struct p11_session *s, CK_OBJECT_HANDLE h,
    CK_ATTRIBUTE_TYPE type, int value, struct sd_err *e) SD_WUR;

/* Destroy an object. */
int p11_destroy(struct p11_session *s, CK_OBJECT_HANDLE h, struct sd_err *e)
	SD_WUR;

/*
 * The range of RSA key sizes (bits) the token says it takes for mech;
 * 0 and 0 when it does not say.
 */
void p11_rsa_range(struct p11_session *s, CK_MECHANISM_TYPE mech,
    unsigned long *min, unsigned long *max);

/* "CKR_PIN_INCORRECT" for a return value, or "CKR_0x..." */
const char *p11_rv_name(CK_RV rv, char buf[static 24]);

#endif
