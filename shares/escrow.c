/*
 * escrow.c - the payload of a paper escrow sheet, its encryption, and its
 * typed and QR encodings.  See escrow.h for the formats.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "ct.h"
#include "escrow.h"

static const uint8_t magic[4] = { 'S', 'D', 'E', 'S' };

#define FLAG_ENCRYPTED  0x01
#define FLAG_HAS_CERT   0x02
#define KDF_ARGON2ID13  1
#define NO_INDEX_BYTE   255

/*
 * The KDF costs a sheet may ask for.  The floor is libsodium's own; the
 * ceiling keeps a damaged or hostile sheet from making restore allocate
 * more than 1 GiB or spin for minutes.
 */
#define KDF_MIN_OPS     crypto_pwhash_OPSLIMIT_MIN
#define KDF_MAX_OPS     32u
#define KDF_MIN_MEM_KIB (crypto_pwhash_MEMLIMIT_MIN / 1024)
#define KDF_MAX_MEM_KIB (1024u * 1024u)

/* Largest header: fixed fields, four strings, KDF parameters. */
#define HEADER_MAX (4 + 1 + 1 + ESCROW_ID_LEN + 8 + 1 + 2 * ESCROW_HASH_LEN + \
	4 + 2 * ESCROW_MAX_NAME + ESCROW_MAX_SUBJECT + ESCROW_MAX_VERSION + \
	2 + 1 + 4 + 4 + ESCROW_SALT_LEN + ESCROW_NONCE_LEN)

static int compact_read(const uint8_t *p, size_t len,
    struct escrow_header *h, uint8_t salt[static ESCROW_SALT_LEN],
    size_t *body_off, struct sd_err *e);
static int strict_b32(const char *s, size_t n);

void
escrow_kdf_default(struct escrow_kdf *kdf)
{
	kdf->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
	kdf->memlimit_kib = crypto_pwhash_MEMLIMIT_MODERATE / 1024;
}

/*
 * Text fields.
 */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond Unicode */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

int
escrow_check_text(const char *field, const char *s, size_t max,
    struct sd_err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i, k;
	unsigned long cp;

	if ((n = strlen(s)) > max)
		return sd_err_set(e, SD_ERR_LIMIT, "%s: %zu bytes, more than the "
		    "%zu a sheet holds", field, n, max);
	for (i = 0; i < n; i += k) {
		if ((k = utf8_seq(p + i, n - i, &cp)) == 0)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: not valid UTF-8 "
			    "(byte %zu)", field, i + 1);
		/* C0, DEL and C1 controls could drive a terminal */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: holds a control "
			    "character (byte %zu)", field, i + 1);
	}
	return 0;
}

/*
 * Writing and reading payloads through bounded buffers.
 */

struct wr {
	uint8_t *p;
	size_t cap, off;
	int overflow;
};

static void
wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (w->overflow || w->cap - w->off < n) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->off, p, n);
	w->off += n;
}

static void
wr_uint(struct wr *w, uint64_t v, size_t n)
{
	uint8_t b[8];
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	wr_bytes(w, b, n);
}

static void
wr_str(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	wr_uint(w, n, 1);
	wr_bytes(w, s, n);
}

struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int
rd_bytes(struct rd *r, void *out, size_t n)
{
	if (r->len - r->off < n)
		return -1;
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int
rd_uint(struct rd *r, size_t n, uint64_t *v)
{
	uint8_t b[8];
	size_t i;

	if (n > sizeof(b) || rd_bytes(r, b, n) != 0)
		return -1;
	for (*v = 0, i = 0; i < n; i++)
		*v = (*v << 8) | b[i];
	return 0;
}

/* A length-prefixed string of at most max bytes into out[max + 1]. */
static int
rd_str(struct rd *r, const char *field, char *out, size_t max,
    struct sd_err *e)
{
	uint64_t n;

	if (rd_uint(r, 1, &n) != 0 || r->len - r->off < n)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut short in "
		    "the %s", field);
	if (n > max)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: %s of %u "
		    "bytes, more than %zu", field, (unsigned)n, max);
	memcpy(out, r->p + r->off, (size_t)n);
	out[n] = '\0';
	r->off += (size_t)n;
	if (memchr(out, '\0', (size_t)n) != NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: %s holds a "
		    "NUL byte", field);
	return escrow_check_text(field, out, max, e) != 0 ?
	    sd_err_prefix(e, SD_ERR_FORMAT, "sheet header") : 0;
}

static int
check_kdf(uint64_t ops, uint64_t mem_kib, struct sd_err *e)
{
	if (ops < KDF_MIN_OPS || ops > KDF_MAX_OPS)
		return sd_err_set(e, SD_ERR_RANGE, "sheet header: Argon2id "
		    "opslimit %llu is outside %u..%u",
		    (unsigned long long)ops, (unsigned)KDF_MIN_OPS, KDF_MAX_OPS);
	if (mem_kib < KDF_MIN_MEM_KIB || mem_kib > KDF_MAX_MEM_KIB)
		return sd_err_set(e, SD_ERR_RANGE, "sheet header: Argon2id "
		    "memlimit %llu KiB is outside %u..%u KiB",
		    (unsigned long long)mem_kib, (unsigned)KDF_MIN_MEM_KIB,
		    KDF_MAX_MEM_KIB);
	return 0;
}

static int
check_header_fields(const struct escrow_header *h, struct sd_err *e)
{
	int r;

	if (h->key_index != ESCROW_NO_INDEX &&
	    (h->key_index < 0 || h->key_index > ESCROW_MAX_INDEX))
		return sd_err_set(e, SD_ERR_RANGE, "key index %d is outside "
		    "0..%d", h->key_index, ESCROW_MAX_INDEX);
	if ((r = escrow_check_text("HSM name", h->hsm, ESCROW_MAX_NAME, e)) ||
	    (r = escrow_check_text("officer", h->officer, ESCROW_MAX_NAME,
	    e)) ||
	    (r = escrow_check_text("certificate subject", h->subject,
	    ESCROW_MAX_SUBJECT, e)) ||
	    (r = escrow_check_text("sdtool version", h->version,
	    ESCROW_MAX_VERSION, e)))
		return r;
	return 0;
}

/*
 * The header, everything before the body.  salt and nonce are used only
 * when h->encrypted.
 */
static void
header_write(struct wr *w, const struct escrow_header *h, size_t body_len,
    const uint8_t *salt, const uint8_t *nonce)
{
	wr_bytes(w, magic, sizeof(magic));
	wr_uint(w, ESCROW_FORMAT_VERSION, 1);
	wr_uint(w, (h->encrypted ? FLAG_ENCRYPTED : 0) |
	    (h->has_cert ? FLAG_HAS_CERT : 0), 1);
	wr_bytes(w, h->sheet_id, ESCROW_ID_LEN);
	wr_uint(w, h->created, 8);
	wr_uint(w, h->key_index == ESCROW_NO_INDEX ? NO_INDEX_BYTE :
	    (unsigned)h->key_index, 1);
	wr_bytes(w, h->x5t_256, ESCROW_HASH_LEN);
	wr_bytes(w, h->spki_sha256, ESCROW_HASH_LEN);
	wr_str(w, h->hsm);
	wr_str(w, h->officer);
	wr_str(w, h->subject);
	wr_str(w, h->version);
	wr_uint(w, body_len, 2);
	if (h->encrypted) {
		wr_uint(w, KDF_ARGON2ID13, 1);
		wr_uint(w, h->opslimit, 4);
		wr_uint(w, h->memlimit_kib, 4);
		wr_bytes(w, salt, ESCROW_SALT_LEN);
		wr_bytes(w, nonce, ESCROW_NONCE_LEN);
	}
}

/*
 * Parse the header of a payload of len bytes.  *body_off is where the
 * body starts (the length of the associated data), and the body must run
 * exactly to the end.
 */
static int
header_read(const uint8_t *p, size_t len, struct escrow_header *h,
    uint8_t salt[static ESCROW_SALT_LEN],
    uint8_t nonce[static ESCROW_NONCE_LEN], size_t *body_off,
    size_t *body_len, struct sd_err *e)
{
	struct rd r = { p, len, 0 };
	uint8_t m[4];
	uint64_t version, flags, created, index, blen, kdf, ops, mem;
	int ret;

	memset(h, 0, sizeof(*h));
	if (p == NULL || len == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "empty sheet payload");
	if (len > ESCROW_MAX_PAYLOAD)
		return sd_err_set(e, SD_ERR_LIMIT, "sheet payload of %zu bytes, "
		    "more than the %u accepted", len, ESCROW_MAX_PAYLOAD);
	if (rd_bytes(&r, m, sizeof(m)) != 0 ||
	    memcmp(m, magic, sizeof(m)) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "not an sdtool escrow sheet "
		    "(no SDES magic)");
	if (rd_uint(&r, 1, &version) != 0 || rd_uint(&r, 1, &flags) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut short");
	if (version != ESCROW_FORMAT_VERSION)
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "sheet format version "
		    "%u; this sdtool reads version %d", (unsigned)version,
		    ESCROW_FORMAT_VERSION);
	if ((flags & ~(uint64_t)(FLAG_ENCRYPTED | FLAG_HAS_CERT)) != 0)
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "sheet header: unknown "
		    "flags 0x%02x", (unsigned)flags);
	h->encrypted = (flags & FLAG_ENCRYPTED) != 0;
	h->has_cert = (flags & FLAG_HAS_CERT) != 0;
	if (rd_bytes(&r, h->sheet_id, ESCROW_ID_LEN) != 0 ||
	    rd_uint(&r, 8, &created) != 0 || rd_uint(&r, 1, &index) != 0 ||
	    rd_bytes(&r, h->x5t_256, ESCROW_HASH_LEN) != 0 ||
	    rd_bytes(&r, h->spki_sha256, ESCROW_HASH_LEN) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut short");
	h->created = created;
	h->key_index = index == NO_INDEX_BYTE ? ESCROW_NO_INDEX : (int)index;
	if ((ret = rd_str(&r, "HSM name", h->hsm, ESCROW_MAX_NAME, e)) != 0 ||
	    (ret = rd_str(&r, "officer", h->officer, ESCROW_MAX_NAME, e)) != 0 ||
	    (ret = rd_str(&r, "certificate subject", h->subject,
	    ESCROW_MAX_SUBJECT, e)) != 0 ||
	    (ret = rd_str(&r, "sdtool version", h->version,
	    ESCROW_MAX_VERSION, e)) != 0)
		return ret;
	if (rd_uint(&r, 2, &blen) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut short");
	if (h->encrypted) {
		if (rd_uint(&r, 1, &kdf) != 0 || rd_uint(&r, 4, &ops) != 0 ||
		    rd_uint(&r, 4, &mem) != 0 ||
		    rd_bytes(&r, salt, ESCROW_SALT_LEN) != 0 ||
		    rd_bytes(&r, nonce, ESCROW_NONCE_LEN) != 0)
			return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut "
			    "short in the passphrase parameters");
		if (kdf != KDF_ARGON2ID13)
			return sd_err_set(e, SD_ERR_UNSUPPORTED, "sheet header: "
			    "unknown passphrase KDF %u", (unsigned)kdf);
		if ((ret = check_kdf(ops, mem, e)) != 0)
			return ret;
		h->opslimit = (uint32_t)ops;
		h->memlimit_kib = (uint32_t)mem;
	}
	if (blen <= ESCROW_TAG_LEN)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: a key of %u "
		    "bytes is too short", (unsigned)blen);
	h->key_len = (size_t)blen - ESCROW_TAG_LEN;
	h->format = ESCROW_FORMAT_VERSION;
	if (len - r.off != blen)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet payload is %zu bytes, "
		    "its header says %zu", len, r.off + (size_t)blen);
	*body_off = r.off;
	*body_len = (size_t)blen;
	return 0;
}

int
escrow_spki_sha256(const uint8_t *der, size_t der_len,
    uint8_t out[static ESCROW_HASH_LEN], struct sd_err *e)
{
	const unsigned char *q = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *spki = NULL;
	unsigned int md_len = 0;
	int n, r = SD_ERR_INTERNAL;

	if (der == NULL || der_len == 0 || der_len > ESCROW_MAX_KEY_DER) {
		r = sd_err_set(e, SD_ERR_KEY, "key of %zu bytes: not a PKCS#8 "
		    "key we accept", der_len);
		goto out;
	}
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)der_len)) == NULL ||
	    q != der + der_len || (pkey = EVP_PKCS82PKEY(p8)) == NULL) {
		r = sd_err_set(e, SD_ERR_KEY, "the key is not valid PKCS#8 DER");
		goto out;
	}
	if ((n = i2d_PUBKEY(pkey, &spki)) <= 0 ||
	    EVP_Digest(spki, (size_t)n, out, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != ESCROW_HASH_LEN) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "hashing the public key failed");
		goto out;
	}
	r = 0;
 out:
	OPENSSL_free(spki);
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);   /* clears the private key */
	return r;
}

/*
 * A plain sheet's check: BLAKE2b-128 over the header and the key.  Not a
 * MAC (anyone may recompute it); it finds damage, as the AEAD tag does for
 * an encrypted sheet.
 */
static void
plain_check(const uint8_t *ad, size_t ad_len, const uint8_t *der,
    size_t der_len, uint8_t out[ESCROW_TAG_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, ESCROW_TAG_LEN);
	crypto_generichash_update(&st, ad, ad_len);
	crypto_generichash_update(&st, der, der_len);
	crypto_generichash_final(&st, out, ESCROW_TAG_LEN);
}

/* The sheet key from the passphrase, into guarded memory. */
static int
derive_key(const char *passphrase, const uint8_t *salt, uint32_t ops,
    uint32_t mem_kib, uint8_t **keyp, struct sd_err *e)
{
	uint8_t *key;

	*keyp = NULL;
	if ((key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
	    == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    passphrase, strlen(passphrase), salt, ops,
	    (size_t)mem_kib * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_free(key);
		return sd_err_set(e, SD_ERR_ALLOC, "Argon2id needs %u MiB of "
		    "memory, which is not available", mem_kib / 1024);
	}
	*keyp = key;
	return 0;
}

int
escrow_seal(struct escrow_header *h, const uint8_t *der, size_t der_len,
    const char *passphrase, const struct escrow_kdf *kdf,
    const struct sd_rng *rng, struct sd_secret **payload, struct sd_err *e)
{
	struct sd_secret *out = NULL;
	uint8_t salt[ESCROW_SALT_LEN], nonce[ESCROW_NONCE_LEN], *key = NULL;
	unsigned long long clen = 0;
	size_t body_len;
	struct wr w;
	int r = SD_ERR_INTERNAL;

	if (payload == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal: no output");
	*payload = NULL;
	if (h == NULL || der == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal: no header or key");
	if (passphrase != NULL && (passphrase[0] == '\0' || kdf == NULL))
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal: empty passphrase "
		    "or no KDF cost");
	if ((r = check_header_fields(h, e)) != 0)
		return r;
	if ((r = escrow_spki_sha256(der, der_len, h->spki_sha256, e)) != 0)
		return r;
	h->encrypted = passphrase != NULL;
	h->key_len = der_len;
	h->opslimit = h->memlimit_kib = 0;
	if (h->encrypted) {
		if ((r = check_kdf(kdf->opslimit, kdf->memlimit_kib, e)) != 0)
			return r;
		h->opslimit = kdf->opslimit;
		h->memlimit_kib = kdf->memlimit_kib;
	}
	body_len = der_len + ESCROW_TAG_LEN;
	sd_random(rng, h->sheet_id, sizeof(h->sheet_id));
	sd_random(rng, salt, sizeof(salt));
	sd_random(rng, nonce, sizeof(nonce));

	if ((out = sd_secret_new(HEADER_MAX + body_len)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	w = (struct wr){ out->p, out->len, 0, 0 };
	header_write(&w, h, body_len, salt, nonce);
	if (w.overflow || w.cap - w.off < body_len) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "escrow_seal: header overflow");
		goto out;
	}
	if (!h->encrypted) {
		memcpy(out->p + w.off, der, der_len);
		plain_check(out->p, w.off, der, der_len,
		    out->p + w.off + der_len);
	} else {
		if ((r = derive_key(passphrase, salt, h->opslimit,
		    h->memlimit_kib, &key, e)) != 0)
			goto out;
		/* the whole header, KDF parameters included, is bound */
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(out->p + w.off,
		    &clen, der, der_len, out->p, w.off, NULL, nonce, key) != 0 ||
		    clen != body_len) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "encryption failed");
			goto out;
		}
	}
	out->len = w.off + body_len;
	*payload = out;
	out = NULL;
	r = 0;
 out:
	sodium_free(key);
	sd_secret_free(out);
	return r;
}

int
escrow_peek(const uint8_t *p, size_t len, struct escrow_header *h,
    struct sd_err *e)
{
	uint8_t salt[ESCROW_SALT_LEN], nonce[ESCROW_NONCE_LEN];
	size_t off, blen;

	if (p != NULL && len > 0 && len <= ESCROW_MAX_PAYLOAD &&
	    p[0] == ESCROW_COMPACT_VERSION)
		return compact_read(p, len, h, salt, &off, e);
	return header_read(p, len, h, salt, nonce, &off, &blen, e);
}

int
escrow_open(const uint8_t *p, size_t len, const char *passphrase,
    struct escrow_header *h, struct sd_secret **der, struct sd_err *e)
{
	struct sd_secret *key_der = NULL;
	uint8_t salt[ESCROW_SALT_LEN], nonce[ESCROW_NONCE_LEN], *key = NULL;
	uint8_t spki[ESCROW_HASH_LEN], check[ESCROW_TAG_LEN];
	unsigned long long mlen = 0;
	size_t off, blen;
	int r = SD_ERR_INTERNAL;

	if (der == NULL || h == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_open: no output");
	*der = NULL;
	if (p != NULL && len > 0 && p[0] == ESCROW_COMPACT_VERSION)
		return sd_err_set(e, SD_ERR_ARG, "escrow_open: a compact sheet "
		    "(escrow_open_compact)");
	if ((r = header_read(p, len, h, salt, nonce, &off, &blen, e)) != 0)
		return r;
	if (h->encrypted && (passphrase == NULL || passphrase[0] == '\0'))
		return sd_err_set(e, SD_ERR_PASSPHRASE, "the sheet is encrypted "
		    "and no passphrase was given");
	if ((key_der = sd_secret_new(h->key_len)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if (!h->encrypted) {
		plain_check(p, off, p + off, h->key_len, check);
		if (memcmp(check, p + off + h->key_len, sizeof(check)) != 0) {
			r = sd_err_set(e, SD_ERR_AUTH, "the sheet's key or header "
			    "is damaged: its check does not match");
			goto out;
		}
		memcpy(key_der->p, p + off, h->key_len);
	} else {
		if ((r = derive_key(passphrase, salt, h->opslimit,
		    h->memlimit_kib, &key, e)) != 0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(key_der->p, &mlen,
		    NULL, p + off, blen, p, off, nonce, key) != 0 ||
		    mlen != h->key_len) {
			r = sd_err_set(e, SD_ERR_AUTH, "wrong passphrase, or the "
			    "sheet's header was altered");
			goto out;
		}
	}
	if ((r = escrow_spki_sha256(key_der->p, key_der->len, spki, e)) != 0)
		goto out;
	if (memcmp(spki, h->spki_sha256, sizeof(spki)) != 0) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "the key on the sheet is "
		    "not the one its header names (public key hash differs)");
		goto out;
	}
	*der = key_der;
	key_der = NULL;
	r = 0;
 out:
	sodium_free(key);
	sd_secret_free(key_der);
	return r;
}


/*
 * Compact payloads (format 2).
 */

#define C_FLAG_ENCRYPTED  0x01
#define C_FLAG_RSA_SHIFT  1
#define C_FLAGS_KNOWN     0x07
#define C_FIXED           (1 + 1 + 2 + ESCROW_HASH_LEN)
#define C_KDF_LEN         (1 + 1 + ESCROW_SALT_LEN)

static int
log2_exact(uint32_t v)
{
	int k;

	for (k = 0; k < 32; k++)
		if (v == (uint32_t)1 << k)
			return k;
	return -1;
}

/* Parse a compact header: *body_off, the prime's length in h->key_len. */
static int
compact_read(const uint8_t *p, size_t len, struct escrow_header *h,
    uint8_t salt[static ESCROW_SALT_LEN], size_t *body_off,
    struct sd_err *e)
{
	struct rd r = { p, len, 0 };
	uint64_t version, flags, bits, ops, mem;
	size_t plen;
	int ret;

	memset(h, 0, sizeof(*h));
	h->key_index = ESCROW_NO_INDEX;
	if (rd_uint(&r, 1, &version) != 0 || rd_uint(&r, 1, &flags) != 0 ||
	    rd_uint(&r, 2, &bits) != 0 ||
	    rd_bytes(&r, h->x5t_256, ESCROW_HASH_LEN) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut short");
	if (version != ESCROW_COMPACT_VERSION)
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "sheet format version "
		    "%u; this sdtool reads versions 1 and 2", (unsigned)version);
	if ((flags & ~(uint64_t)C_FLAGS_KNOWN) != 0)
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "sheet header: unknown "
		    "flags 0x%02x", (unsigned)flags);
	if (bits < 1024 || bits > ESCROW_COMPACT_MAX_BITS)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet header: RSA-%u is "
		    "not a key size a compact sheet holds", (unsigned)bits);
	h->format = ESCROW_COMPACT_VERSION;
	h->has_cert = 1;
	h->bits = (int)bits;
	h->encrypted = (flags & C_FLAG_ENCRYPTED) != 0;
	h->rsa_flags = (unsigned)(flags >> C_FLAG_RSA_SHIFT);
	if (h->encrypted) {
		if (rd_uint(&r, 1, &ops) != 0 || rd_uint(&r, 1, &mem) != 0 ||
		    rd_bytes(&r, salt, ESCROW_SALT_LEN) != 0)
			return sd_err_set(e, SD_ERR_FORMAT, "sheet header: cut "
			    "short in the passphrase parameters");
		if (mem > 30)
			return sd_err_set(e, SD_ERR_RANGE, "sheet header: Argon2id "
			    "memlimit 2^%u KiB is out of range", (unsigned)mem);
		if ((ret = check_kdf(ops, (uint64_t)1 << mem, e)) != 0)
			return ret;
		h->opslimit = (uint32_t)ops;
		h->memlimit_kib = (uint32_t)1 << mem;
	}
	plen = escrow_prime_len(h->bits);
	if (len - r.off != plen + ESCROW_TAG_LEN)
		return sd_err_set(e, SD_ERR_FORMAT, "sheet payload is %zu bytes; "
		    "an RSA-%d sheet's is %zu", len, h->bits,
		    r.off + plen + ESCROW_TAG_LEN);
	h->key_len = plen;
	*body_off = r.off;
	return 0;
}

int
escrow_seal_compact(struct escrow_header *h, const uint8_t *prime,
    size_t plen, const char *passphrase, const struct escrow_kdf *kdf,
    const struct sd_rng *rng, struct sd_secret **payload, struct sd_err *e)
{
	static const uint8_t zero_nonce[ESCROW_NONCE_LEN];
	struct sd_secret *out = NULL;
	uint8_t salt[ESCROW_SALT_LEN], *key = NULL;
	unsigned long long clen = 0;
	struct wr w;
	int r = SD_ERR_INTERNAL, mem = 0;

	if (payload == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal_compact: no output");
	*payload = NULL;
	if (h == NULL || prime == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal_compact: no header "
		    "or prime");
	if (h->bits < 1024 || h->bits > ESCROW_COMPACT_MAX_BITS ||
	    plen != escrow_prime_len(h->bits) ||
	    (h->rsa_flags & ~(unsigned)(ESCROW_RSA_SMALL_FIRST |
	    ESCROW_RSA_D_PHI)) != 0)
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal_compact: RSA-%d "
		    "with a prime of %zu bytes", h->bits, plen);
	if (passphrase != NULL && (passphrase[0] == '\0' || kdf == NULL))
		return sd_err_set(e, SD_ERR_ARG, "escrow_seal_compact: empty "
		    "passphrase or no KDF cost");
	h->format = ESCROW_COMPACT_VERSION;
	h->has_cert = 1;
	h->encrypted = passphrase != NULL;
	h->key_len = plen;
	h->opslimit = h->memlimit_kib = 0;
	if (h->encrypted) {
		if ((r = check_kdf(kdf->opslimit, kdf->memlimit_kib, e)) != 0)
			return r;
		if (kdf->opslimit > 255 ||
		    (mem = log2_exact(kdf->memlimit_kib)) < 0)
			return sd_err_set(e, SD_ERR_ARG, "escrow_seal_compact: "
			    "memlimit %u KiB is not a power of two",
			    kdf->memlimit_kib);
		h->opslimit = kdf->opslimit;
		h->memlimit_kib = kdf->memlimit_kib;
	}
	sd_random(rng, salt, sizeof(salt));
	if ((out = sd_secret_new(C_FIXED + C_KDF_LEN + plen + ESCROW_TAG_LEN))
	    == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	w = (struct wr){ out->p, out->len, 0, 0 };
	wr_uint(&w, ESCROW_COMPACT_VERSION, 1);
	wr_uint(&w, (h->encrypted ? C_FLAG_ENCRYPTED : 0) |
	    (h->rsa_flags << C_FLAG_RSA_SHIFT), 1);
	wr_uint(&w, (unsigned)h->bits, 2);
	wr_bytes(&w, h->x5t_256, ESCROW_HASH_LEN);
	if (h->encrypted) {
		wr_uint(&w, h->opslimit, 1);
		wr_uint(&w, (unsigned)mem, 1);
		wr_bytes(&w, salt, ESCROW_SALT_LEN);
	}
	if (w.overflow || w.cap - w.off < plen + ESCROW_TAG_LEN) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "escrow_seal_compact: "
		    "overflow");
		goto out;
	}
	if (!h->encrypted) {
		memcpy(out->p + w.off, prime, plen);
		plain_check(out->p, w.off, prime, plen, out->p + w.off + plen);
	} else {
		if ((r = derive_key(passphrase, salt, h->opslimit,
		    h->memlimit_kib, &key, e)) != 0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(out->p + w.off,
		    &clen, prime, plen, out->p, w.off, NULL, zero_nonce, key)
		    != 0 || clen != plen + ESCROW_TAG_LEN) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "encryption failed");
			goto out;
		}
	}
	out->len = w.off + plen + ESCROW_TAG_LEN;
	*payload = out;
	out = NULL;
	r = 0;
 out:
	sodium_free(key);
	sd_secret_free(out);
	return r;
}

int
escrow_open_compact(const uint8_t *p, size_t len, const char *passphrase,
    struct escrow_header *h, struct sd_secret **prime, struct sd_err *e)
{
	static const uint8_t zero_nonce[ESCROW_NONCE_LEN];
	struct sd_secret *out = NULL;
	uint8_t salt[ESCROW_SALT_LEN], check[ESCROW_TAG_LEN], *key = NULL;
	unsigned long long mlen = 0;
	size_t off;
	int r = SD_ERR_INTERNAL;

	if (prime == NULL || h == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_open_compact: no output");
	*prime = NULL;
	if (p == NULL || len == 0 || len > ESCROW_MAX_PAYLOAD)
		return sd_err_set(e, SD_ERR_FORMAT, "empty or oversized sheet "
		    "payload");
	if ((r = compact_read(p, len, h, salt, &off, e)) != 0)
		return r;
	if (h->encrypted && (passphrase == NULL || passphrase[0] == '\0'))
		return sd_err_set(e, SD_ERR_PASSPHRASE, "the sheet is encrypted "
		    "and no passphrase was given");
	if ((out = sd_secret_new(h->key_len)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	if (!h->encrypted) {
		plain_check(p, off, p + off, h->key_len, check);
		if (sodium_memcmp(check, p + off + h->key_len, sizeof(check))
		    != 0) {
			r = sd_err_set(e, SD_ERR_AUTH, "the sheet's key or header "
			    "is damaged: its check does not match");
			goto out;
		}
		memcpy(out->p, p + off, h->key_len);
	} else {
		if ((r = derive_key(passphrase, salt, h->opslimit,
		    h->memlimit_kib, &key, e)) != 0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->p, &mlen,
		    NULL, p + off, len - off, p, off, zero_nonce, key) != 0 ||
		    mlen != h->key_len) {
			r = sd_err_set(e, SD_ERR_AUTH, "wrong passphrase, or the "
			    "sheet's header was altered");
			goto out;
		}
	}
	*prime = out;
	out = NULL;
	r = 0;
 out:
	sodium_free(key);
	sd_secret_free(out);
	return r;
}

/* Strip zbarimg's "QR-Code:" and trailing blanks; check "TAG/". */
static int
qr_body(const char *text, size_t len, const char *tag, const char **body,
    size_t *blen)
{
	static const char zbar_prefix[] = "QR-Code:";
	const char *p = text, *end = text + len;
	size_t tl = strlen(tag);

	while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - p) > sizeof(zbar_prefix) - 1 &&
	    memcmp(p, zbar_prefix, sizeof(zbar_prefix) - 1) == 0)
		p += sizeof(zbar_prefix) - 1;
	if ((size_t)(end - p) <= tl || memcmp(p, tag, tl) != 0 || p[tl] != '/')
		return -1;
	*body = p + tl + 1;
	*blen = (size_t)(end - *body);
	return 0;
}

int
escrow_secret_qr(const uint8_t *p, size_t len, struct sd_secret **text,
    struct sd_err *e)
{
	struct sd_secret *out = NULL;
	size_t tl = sizeof(ESCROW_SECRET_TAG);

	if (text == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_secret_qr: no output");
	*text = NULL;
	if (p == NULL || len == 0 || len > ESCROW_MAX_PAYLOAD ||
	    tl + escrow_b32_chars(len) > ESCROW_QR_MAX_CHARS)
		return sd_err_set(e, SD_ERR_LIMIT, "payload too long for one QR "
		    "code");
	if ((out = sd_secret_new(tl + escrow_b32_chars(len) + 1)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	memcpy(out->p, ESCROW_SECRET_TAG "/", tl);
	escrow_b32_encode(p, len, (char *)out->p + tl);
	out->len = tl + escrow_b32_chars(len);
	*text = out;
	return 0;
}

int
escrow_secret_qr_decode(const char *text, size_t len,
    struct sd_secret **payload, struct sd_err *e)
{
	struct sd_secret *out = NULL;
	const char *b;
	size_t bl, plen;
	int r;

	if (payload == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_secret_qr_decode: no "
		    "output");
	*payload = NULL;
	if (text == NULL || qr_body(text, len, ESCROW_SECRET_TAG, &b, &bl) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "not the secret QR code of a "
		    "compact escrow sheet (it does not begin with %s/)",
		    ESCROW_SECRET_TAG);
	plen = bl * 5 / 8;
	if (plen == 0 || plen > ESCROW_MAX_PAYLOAD ||
	    escrow_b32_chars(plen) != bl || !strict_b32(b, bl))
		return sd_err_set(e, SD_ERR_FORMAT, "the secret QR code holds "
		    "%zu characters that are not a sheet's payload", bl);
	if ((out = sd_secret_new(plen)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if ((r = escrow_b32_decode(b, bl, out->p, plen, e)) != 0) {
		sd_secret_free(out);
		return sd_err_prefix(e, r, "the secret QR code");
	}
	*payload = out;
	return 0;
}

#define PUB_MAX_CERT 2048

int
escrow_public_encode(const struct escrow_header *h, const uint8_t *cert,
    size_t cert_len, char **text, struct sd_err *e)
{
	uint8_t *buf = NULL;
	char *out = NULL;
	size_t cap, tl = sizeof(ESCROW_PUBLIC_TAG);
	struct wr w;
	int r = SD_ERR_INTERNAL;

	if (text == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_public_encode: no output");
	*text = NULL;
	if (h == NULL || cert == NULL || cert_len == 0)
		return sd_err_set(e, SD_ERR_ARG, "escrow_public_encode: no "
		    "certificate");
	if (cert_len > PUB_MAX_CERT)
		return sd_err_set(e, SD_ERR_LIMIT, "a certificate of %zu bytes "
		    "is more than the %u a sheet's public QR code holds",
		    cert_len, PUB_MAX_CERT);
	if ((r = check_header_fields(h, e)) != 0)
		return r;
	cap = 1 + ESCROW_ID_LEN + 8 + 1 + 3 + 2 * ESCROW_MAX_NAME +
	    ESCROW_MAX_VERSION + 2 + cert_len + ESCROW_TAG_LEN;
	if ((buf = malloc(cap)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	w = (struct wr){ buf, cap, 0, 0 };
	wr_uint(&w, ESCROW_COMPACT_VERSION, 1);
	wr_bytes(&w, h->sheet_id, ESCROW_ID_LEN);
	wr_uint(&w, h->created, 8);
	wr_uint(&w, h->key_index == ESCROW_NO_INDEX ? NO_INDEX_BYTE :
	    (unsigned)h->key_index, 1);
	wr_str(&w, h->hsm);
	wr_str(&w, h->officer);
	wr_str(&w, h->version);
	wr_uint(&w, cert_len, 2);
	wr_bytes(&w, cert, cert_len);
	if (w.overflow || w.cap - w.off < ESCROW_TAG_LEN) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "escrow_public_encode: "
		    "overflow");
		goto out;
	}
	crypto_generichash(buf + w.off, ESCROW_TAG_LEN, buf, w.off, NULL, 0);
	w.off += ESCROW_TAG_LEN;
	if (tl + escrow_b32_chars(w.off) > ESCROW_PUBLIC_MAX_CHARS) {
		r = sd_err_set(e, SD_ERR_LIMIT, "the certificate is too long for "
		    "the sheet's public QR code");
		goto out;
	}
	if ((out = malloc(tl + escrow_b32_chars(w.off) + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(out, ESCROW_PUBLIC_TAG "/", tl);
	escrow_b32_encode(buf, w.off, out + tl);
	*text = out;
	out = NULL;
	r = 0;
 out:
	free(buf);
	free(out);
	return r;
}

int
escrow_public_decode(const char *text, size_t len, struct escrow_header *h,
    uint8_t **cert, size_t *cert_len, struct sd_err *e)
{
	uint8_t *buf = NULL, *c = NULL, check[ESCROW_TAG_LEN];
	const char *b;
	size_t bl, plen;
	uint64_t version, created, index, clen;
	struct rd r;
	int ret = SD_ERR_INTERNAL;

	if (cert == NULL || cert_len == NULL || h == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_public_decode: no output");
	*cert = NULL;
	*cert_len = 0;
	memset(h, 0, sizeof(*h));
	if (text == NULL || qr_body(text, len, ESCROW_PUBLIC_TAG, &b, &bl) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "not the public QR code of a "
		    "compact escrow sheet (it does not begin with %s/)",
		    ESCROW_PUBLIC_TAG);
	plen = bl * 5 / 8;
	if (plen <= ESCROW_TAG_LEN || bl > ESCROW_PUBLIC_MAX_CHARS ||
	    escrow_b32_chars(plen) != bl || !strict_b32(b, bl))
		return sd_err_set(e, SD_ERR_FORMAT, "the public QR code holds "
		    "%zu characters that are not a sheet's", bl);
	if ((buf = malloc(plen)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if ((ret = escrow_b32_decode(b, bl, buf, plen, e)) != 0)
		goto out;
	crypto_generichash(check, sizeof(check), buf, plen - ESCROW_TAG_LEN,
	    NULL, 0);
	if (sodium_memcmp(check, buf + plen - ESCROW_TAG_LEN, sizeof(check))
	    != 0) {
		ret = sd_err_set(e, SD_ERR_AUTH, "the public QR code is damaged: "
		    "its check does not match");
		goto out;
	}
	r = (struct rd){ buf, plen - ESCROW_TAG_LEN, 0 };
	if (rd_uint(&r, 1, &version) != 0 || version != ESCROW_COMPACT_VERSION) {
		ret = sd_err_set(e, SD_ERR_UNSUPPORTED, "the public QR code is "
		    "of a format this sdtool does not read");
		goto out;
	}
	if (rd_bytes(&r, h->sheet_id, ESCROW_ID_LEN) != 0 ||
	    rd_uint(&r, 8, &created) != 0 || rd_uint(&r, 1, &index) != 0) {
		ret = sd_err_set(e, SD_ERR_FORMAT, "the public QR code is cut "
		    "short");
		goto out;
	}
	h->created = created;
	h->key_index = index == NO_INDEX_BYTE ? ESCROW_NO_INDEX : (int)index;
	if ((ret = rd_str(&r, "HSM name", h->hsm, ESCROW_MAX_NAME, e)) != 0 ||
	    (ret = rd_str(&r, "officer", h->officer, ESCROW_MAX_NAME, e)) != 0 ||
	    (ret = rd_str(&r, "sdtool version", h->version,
	    ESCROW_MAX_VERSION, e)) != 0)
		goto out;
	if (rd_uint(&r, 2, &clen) != 0 || clen == 0 ||
	    r.len - r.off != clen) {
		ret = sd_err_set(e, SD_ERR_FORMAT, "the public QR code's "
		    "certificate is cut short");
		goto out;
	}
	if ((c = malloc((size_t)clen)) == NULL) {
		ret = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(c, buf + r.off, (size_t)clen);
	crypto_hash_sha256(h->x5t_256, c, (size_t)clen);
	h->has_cert = 1;
	h->format = ESCROW_COMPACT_VERSION;
	*cert = c;
	*cert_len = (size_t)clen;
	c = NULL;
	ret = 0;
 out:
	free(buf);
	free(c);
	return ret;
}


/*
 * Base32.
 *
 * A sheet without a passphrase carries the key itself in these
 * characters, so they are made and read in constant time: a value's
 * character and a character's value are computed with arithmetic, never
 * looked up in a table or chosen by a branch (tests/ct/ checks it under
 * valgrind).  Only whether an input is valid is decided with a branch,
 * once, and only a rejected input is scanned again to say where.
 */

size_t
escrow_b32_chars(size_t nbytes)
{
	return (nbytes * 8 + 4) / 5;
}

/*
 * The character of v (0..31) in 0123456789ABCDEFGHJKMNPQRSTVWXYZ: the
 * digits, then the letters from 'A' with I, L, O and U left out.
 */
static char
b32_char(uint32_t v)
{
	uint32_t c = '0' + v;

	c += 7 & sd_ct_mask(sd_ct_ge(v, 10));   /* '9' + 1 -> 'A' */
	c += sd_ct_ge(v, 18);                   /* past I */
	c += sd_ct_ge(v, 20);                   /* past L */
	c += sd_ct_ge(v, 22);                   /* past O */
	c += sd_ct_ge(v, 27);                   /* past U */
	return (char)c;
}

void
escrow_b32_encode(const uint8_t *in, size_t len, char *out)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_char((acc >> (bits - 5)) & 31);
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_char((acc << (5 - bits)) & 31);
	out[o] = '\0';
	sodium_memzero(&acc, sizeof(acc));
}

/* v (0..31) with bit 8 set when c is not a base32 character. */
static uint32_t
b32_value(int c)
{
	uint32_t u = (uint32_t)c, m, v = 0, ok;

	/* only 0..255 can be a character */
	ok = 1 ^ sd_ct_nonzero(u >> 8);
	u &= 0xff;
	u -= 32 & sd_ct_mask(sd_ct_in(u, 'a', 'z'));
	/* what a person may read or type for the digits */
	u -= ('O' - '0') & sd_ct_mask(sd_ct_eq(u, 'O'));
	u -= ('I' - '1') & sd_ct_mask(sd_ct_eq(u, 'I'));
	u -= ('L' - '1') & sd_ct_mask(sd_ct_eq(u, 'L'));
	m = sd_ct_in(u, '0', '9');
	v |= sd_ct_mask(m) & (u - '0');
	ok &= m | sd_ct_in(u, 'A', 'H') | sd_ct_in(u, 'J', 'K') |
	    sd_ct_in(u, 'M', 'N') | sd_ct_in(u, 'P', 'T') |
	    sd_ct_in(u, 'V', 'Z');
	m = sd_ct_in(u, 'A', 'Z');
	/* a letter's value: its place in A..Z, less the letters left out */
	v |= sd_ct_mask(m) & (u - 'A' + 10 - sd_ct_ge(u, 'J') -
	    sd_ct_ge(u, 'M') - sd_ct_ge(u, 'P') - sd_ct_ge(u, 'V'));
	return (v & 31) | ((ok ^ 1) << 8);
}

int
escrow_b32_value(int c)
{
	uint32_t v = b32_value(c);

	/* -1 (all ones) when bit 8 says invalid, else the value */
	return (int)((v & 31) | sd_ct_mask(v >> 8));
}

int
escrow_b32_decode(const char *in, size_t n, uint8_t *out, size_t out_len,
    struct sd_err *e)
{
	uint32_t acc = 0, v, bad = 0;
	size_t i, o = 0;
	int bits = 0;

	if (n != escrow_b32_chars(out_len))
		return sd_err_set(e, SD_ERR_FORMAT, "%zu base32 characters, "
		    "expected %zu", n, escrow_b32_chars(out_len));
	for (i = 0; i < n; i++) {
		v = b32_value((unsigned char)in[i]);
		bad |= (v >> 8) << 1;
		acc = (acc << 5) | (v & 31);
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (bits > 0)
		bad |= sd_ct_nonzero(acc & ((1u << bits) - 1));
	sodium_memzero(&acc, sizeof(acc));
	sodium_memzero(&v, sizeof(v));
	sd_ct_declassify(&bad, sizeof(bad));
	if (bad != 0) {
		sodium_memzero(out, out_len);
		for (i = 0; i < n; i++)
			if (escrow_b32_value((unsigned char)in[i]) < 0)
				return sd_err_set(e, SD_ERR_FORMAT, "character "
				    "%zu is not base32", i + 1);
		return sd_err_set(e, SD_ERR_FORMAT, "the last base32 character "
		    "has stray bits");
	}
	return 0;
}

/*
 * The typed copy.
 */

/*
 * CRC-5 with polynomial x^5 + x^2 + 1 over the 5-bit values of a group.
 * The polynomial is irreducible and is not x^5 + 1, so a change confined
 * to one 5-bit character, or a swap of two neighbours, always changes the
 * CRC.  An error-detecting code for typists, not a MAC.
 */
static unsigned
crc5(const uint8_t *v, size_t n)
{
	unsigned crc = 0, in, top;
	size_t i;
	int b;

	for (i = 0; i < n; i++)
		for (b = 4; b >= 0; b--) {
			in = (v[i] >> b) & 1;
			top = (crc >> 4) & 1;
			crc = (crc << 1) & 0x1f;
			/* no branch: v may be the key of a plain sheet */
			crc ^= 0x05 & sd_ct_mask(in ^ top);
		}
	return crc;
}

/*
 * Five bits that depend on where a group is: independent for each line
 * and group, so a line typed under another number fails every group's
 * check (but for 1 in 2^20).
 */
static unsigned
pos_tag(const char *what, uint32_t a, uint32_t b)
{
	uint8_t in[8], md[crypto_generichash_BYTES];
	crypto_generichash_state st;

	in[0] = (uint8_t)(a >> 24);
	in[1] = (uint8_t)(a >> 16);
	in[2] = (uint8_t)(a >> 8);
	in[3] = (uint8_t)a;
	in[4] = (uint8_t)(b >> 24);
	in[5] = (uint8_t)(b >> 16);
	in[6] = (uint8_t)(b >> 8);
	in[7] = (uint8_t)b;
	crypto_generichash_init(&st, NULL, 0, sizeof(md));
	crypto_generichash_update(&st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(&st, in, sizeof(in));
	crypto_generichash_final(&st, md, sizeof(md));
	return md[0] & 31;
}

/* The check value of a group of n base32 values at (line, group). */
static unsigned
group_check(const uint8_t *v, size_t n, size_t line, size_t group)
{
	return crc5(v, n) ^ pos_tag("sdtool escrow line", (uint32_t)line,
	    (uint32_t)group);
}

/* The whole-payload checksum, ESCROW_SUM_CHARS base32 values. */
static void
payload_sum(const uint8_t *p, size_t len, uint8_t v[ESCROW_SUM_CHARS])
{
	static const char ctx[] = "sdtool escrow sum";
	crypto_generichash_state st;
	uint8_t md[crypto_generichash_BYTES], l[4];
	char txt[ESCROW_SUM_CHARS + 2];
	size_t i;

	l[0] = (uint8_t)(len >> 24);
	l[1] = (uint8_t)(len >> 16);
	l[2] = (uint8_t)(len >> 8);
	l[3] = (uint8_t)len;
	crypto_generichash_init(&st, NULL, 0, sizeof(md));
	crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof(ctx));
	crypto_generichash_update(&st, l, sizeof(l));
	crypto_generichash_update(&st, p, len);
	crypto_generichash_final(&st, md, sizeof(md));
	/* 40 bits: 8 characters */
	escrow_b32_encode(md, 5, txt);
	for (i = 0; i < ESCROW_SUM_CHARS; i++)
		v[i] = (uint8_t)escrow_b32_value((unsigned char)txt[i]);
}

static unsigned
end_check(const uint8_t v[ESCROW_SUM_CHARS], size_t len)
{
	return crc5(v, ESCROW_SUM_CHARS) ^ pos_tag("sdtool escrow end",
	    (uint32_t)len, 0);
}

size_t
escrow_text_groups(const uint8_t *p, size_t len)
{
	return len > 0 && p[0] == ESCROW_COMPACT_VERSION ?
	    ESCROW_LINE_GROUPS_COMPACT : ESCROW_LINE_GROUPS;
}

static size_t
lines_for(size_t len, size_t lg)
{
	size_t lc = lg * ESCROW_GROUP_CHARS;

	return (escrow_b32_chars(len) + lc - 1) / lc;
}

size_t
escrow_text_lines(size_t len)
{
	return lines_for(len, ESCROW_LINE_GROUPS);
}

size_t
escrow_text_lines_of(const uint8_t *p, size_t len)
{
	return lines_for(len, escrow_text_groups(p, len));
}

/* Width of a printed numbered line, without its newline. */
#define LINE_WIDTH (5 + ESCROW_MAX_LINE_CHARS + ESCROW_MAX_LINE_GROUPS - 1 + \
	2 + ESCROW_MAX_LINE_GROUPS)

int
escrow_text_encode(const uint8_t *p, size_t len, struct sd_secret **text,
    struct sd_err *e)
{
	struct sd_secret *chars = NULL, *out = NULL;
	uint8_t v[ESCROW_GROUP_CHARS], sum[ESCROW_SUM_CHARS];
	char *o, sumtxt[ESCROW_SUM_CHARS + 1], checks[ESCROW_MAX_LINE_GROUPS];
	size_t nchars, nlines, line, g, k, at, glen, size, ng, lg;
	int r = SD_ERR_INTERNAL, n;

	if (text == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_text_encode: no output");
	*text = NULL;
	if (p == NULL || len == 0 || len > ESCROW_MAX_PAYLOAD)
		return sd_err_set(e, SD_ERR_ARG, "escrow_text_encode: bad "
		    "payload");
	nchars = escrow_b32_chars(len);
	lg = escrow_text_groups(p, len);
	if ((nlines = lines_for(len, lg)) > ESCROW_MAX_LINES)
		return sd_err_set(e, SD_ERR_LIMIT, "payload too long for a sheet");
	size = nlines * (LINE_WIDTH + 1) + 64;
	if ((chars = sd_secret_new(nchars + 1)) == NULL ||
	    (out = sd_secret_new(size)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	escrow_b32_encode(p, len, (char *)chars->p);
	o = (char *)out->p;
	for (line = 1, at = 0; line <= nlines; line++) {
		o += sprintf(o, "%3zu:", line);
		for (ng = 0, g = 0; g < lg && at < nchars; g++) {
			glen = nchars - at < ESCROW_GROUP_CHARS ? nchars - at :
			    ESCROW_GROUP_CHARS;
			*o++ = ' ';
			for (k = 0; k < glen; k++) {
				*o++ = (char)chars->p[at + k];
				v[k] = (uint8_t)escrow_b32_value(chars->p[at + k]);
			}
			at += glen;
			checks[ng++] = b32_char(group_check(v, glen, line, g + 1));
			/* pad a short last line so checks stay in their column */
			for (; glen < ESCROW_GROUP_CHARS; glen++)
				*o++ = ' ';
		}
		for (; g < lg; g++)
			for (k = 0; k <= ESCROW_GROUP_CHARS; k++)
				*o++ = ' ';
		*o++ = ' ';
		*o++ = ' ';
		memcpy(o, checks, ng);
		o += ng;
		*o++ = '\n';
		sodium_memzero(v, sizeof(v));
	}
	payload_sum(p, len, sum);
	/* 40 bits of a hash, printed for all to see: public */
	sd_ct_declassify(sum, sizeof(sum));
	for (k = 0; k < ESCROW_SUM_CHARS; k++)
		sumtxt[k] = b32_char(sum[k]);
	sumtxt[ESCROW_SUM_CHARS] = '\0';
	n = snprintf(o, size - (size_t)(o - (char *)out->p), "end: %zu %s %c\n",
	    len, sumtxt, b32_char(end_check(sum, len)));
	if (n < 0 || (size_t)n >= size - (size_t)(o - (char *)out->p)) {
		r = sd_err_set(e, SD_ERR_INTERNAL, "escrow_text_encode: overflow");
		goto out;
	}
	o += n;
	out->len = (size_t)(o - (char *)out->p);
	*text = out;
	out = NULL;
	r = 0;
 out:
	sd_secret_free(chars);
	sd_secret_free(out);
	return r;
}

/* Decoding a typed copy. */

struct typed_line {
	size_t off, n;       /* normalized characters in the work buffer */
	size_t tokens;       /* pieces as typed, between spaces */
	size_t toklen[ESCROW_MAX_LINE_GROUPS + 1];   /* of the first pieces */
	int seen;
};

static void
problem(struct escrow_text_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
problem(struct escrow_text_report *rep, const char *fmt, ...)
{
	va_list ap;

	if (rep->n == ESCROW_MAX_PROBLEMS) {
		rep->more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(rep->msg[rep->n++], sizeof(rep->msg[0]), fmt, ap);
	va_end(ap);
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '\r';
}

/* A character as shown in a message: printable ASCII, or its code. */
static void
show_char(int c, char out[8])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(out, 8, "'%c'", c);
	else
		snprintf(out, 8, "0x%02x", c & 0xff);
}

static const char *
ordinal(size_t n)
{
	static const char *const names[] = { "1st", "2nd", "3rd", "4th",
		"5th", "6th" };

	return n >= 1 && n <= 6 ? names[n - 1] : "last";
}

/*
 * For a typed line of t characters (data and checks, spaces removed),
 * how many data characters: t = d + ceil(d / 8) has one solution or none.
 */
static size_t
data_chars_for(size_t t, size_t lg)
{
	size_t d;

	for (d = 1; d <= lg * ESCROW_GROUP_CHARS; d++)
		if (d + (d + ESCROW_GROUP_CHARS - 1) / ESCROW_GROUP_CHARS == t)
			return d;
	return 0;
}

/* "9-16", "1-8 and 17-24", "1-8, 9-16 and 25-32" */
static void
group_ranges(const unsigned *bad, size_t nbad, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < nbad && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%u-%u",
		    i == 0 ? "" : i + 1 == nbad ? " and " : ", ",
		    (bad[i] - 1) * ESCROW_GROUP_CHARS + 1,
		    bad[i] * ESCROW_GROUP_CHARS);
}

/*
 * Check one numbered line: d data characters expected (0: unknown, the
 * last line when the end line is unusable).  Valid values go to vals.
 */
static int
check_line(const char *s, const struct typed_line *tl, size_t num, size_t d,
    size_t lg, uint8_t *vals, struct escrow_text_report *rep)
{
	uint8_t v[ESCROW_MAX_LINE_CHARS + ESCROW_MAX_LINE_GROUPS];
	unsigned bad[ESCROW_MAX_LINE_GROUPS];
	char shown[8], ranges[80];
	size_t ng, t = tl->n, i, g, glen, nbad = 0;
	int x;

	if (d == 0 && (d = data_chars_for(t, lg)) == 0) {
		problem(rep, "line %zu: %zu characters; no line of a sheet has "
		    "that many", num, t);
		return -1;
	}
	ng = (d + ESCROW_GROUP_CHARS - 1) / ESCROW_GROUP_CHARS;
	if (t != d + ng) {
		/* typed with the sheet's spacing: name the group */
		if (tl->tokens == ng + 1) {
			for (g = 0; g < ng; g++) {
				glen = g + 1 < ng ? ESCROW_GROUP_CHARS :
				    d - g * ESCROW_GROUP_CHARS;
				if (tl->toklen[g] != glen) {
					problem(rep, "line %zu: the %s group "
					    "(characters %zu-%zu) has %zu "
					    "characters, expected %zu", num,
					    ordinal(g + 1),
					    g * ESCROW_GROUP_CHARS + 1,
					    g * ESCROW_GROUP_CHARS + glen,
					    tl->toklen[g], glen);
					return -1;
				}
			}
			if (tl->toklen[ng] != ng) {
				problem(rep, "line %zu: %zu check characters, "
				    "expected %zu", num, tl->toklen[ng], ng);
				return -1;
			}
		}
		problem(rep, "line %zu: %zu characters, expected %zu (%zu and "
		    "%zu check character%s)", num, t, d + ng, d, ng,
		    ng == 1 ? "" : "s");
		return -1;
	}
	for (i = 0; i < t; i++) {
		if ((x = escrow_b32_value((unsigned char)s[tl->off + i])) < 0) {
			show_char((unsigned char)s[tl->off + i], shown);
			if (i < d)
				problem(rep, "line %zu: character %zu (%s) is "
				    "not one a sheet uses", num, i + 1, shown);
			else
				problem(rep, "line %zu: check character %zu "
				    "(%s) is not one a sheet uses", num,
				    i - d + 1, shown);
			sodium_memzero(v, sizeof(v));
			return -1;
		}
		v[i] = (uint8_t)x;
	}
	for (g = 0; g < ng; g++) {
		glen = g + 1 < ng ? ESCROW_GROUP_CHARS :
		    d - g * ESCROW_GROUP_CHARS;
		if (group_check(v + g * ESCROW_GROUP_CHARS, glen, num, g + 1) !=
		    v[d + g])
			bad[nbad++] = (unsigned)(g + 1);
	}
	if (nbad > 0) {
		group_ranges(bad, nbad, ranges, sizeof(ranges));
		problem(rep, "line %zu: checksum mismatch, check characters %s",
		    num, ranges);
		sodium_memzero(v, sizeof(v));
		return -1;
	}
	memcpy(vals, v, d);
	sodium_memzero(v, sizeof(v));
	return 0;
}

/*
 * The end line after its "end:": the length in decimal, then the checksum
 * and its check character, ESCROW_SUM_CHARS + 1 characters.  Spaces may
 * be left out, so the last of them are taken from the end of the line.
 * 0, or -1 with a problem noted.
 */
static int
parse_end(const char *s, size_t n, size_t *len, uint8_t sum[ESCROW_SUM_CHARS],
    struct escrow_text_report *rep)
{
	char c[48];
	uint8_t v[ESCROW_SUM_CHARS + 1];
	size_t i, k = 0, digits, l = 0;
	int x;

	for (i = 0; i < n; i++) {
		if (is_blank((unsigned char)s[i]))
			continue;
		if (k == sizeof(c))
			goto bad;
		c[k++] = s[i];
	}
	if (k < sizeof(v) + 1)
		goto bad;
	digits = k - sizeof(v);
	for (i = 0; i < digits; i++) {
		/* the length's digits are read as the sheet's characters are */
		if ((x = escrow_b32_value((unsigned char)c[i])) < 0 || x > 9)
			goto bad;
		l = l * 10 + (size_t)x;
		if (l > ESCROW_MAX_PAYLOAD) {
			problem(rep, "end line: a length of more than %u bytes; "
			    "no sheet is that long", ESCROW_MAX_PAYLOAD);
			return -1;
		}
	}
	for (i = 0; i < sizeof(v); i++) {
		if ((x = escrow_b32_value((unsigned char)c[digits + i])) < 0)
			goto bad;
		v[i] = (uint8_t)x;
	}
	if (l == 0 || end_check(v, l) != v[ESCROW_SUM_CHARS]) {
		problem(rep, "end line: checksum mismatch; check the length and "
		    "the characters after it");
		return -1;
	}
	memcpy(sum, v, ESCROW_SUM_CHARS);
	*len = l;
	return 0;
 bad:
	problem(rep, "end line: expected 'end: LENGTH', then %d characters "
	    "and 1 check character, as printed", ESCROW_SUM_CHARS);
	return -1;
}

int
escrow_text_decode(const char *text, size_t len,
    struct escrow_text_report *rep, struct sd_secret **payload,
    struct sd_err *e)
{
	struct typed_line *lines = NULL;
	struct sd_secret *work = NULL, *vals = NULL, *out = NULL;
	uint8_t sum[ESCROW_SUM_CHARS], want[ESCROW_SUM_CHARS];
	const char *ln, *end, *q;
	char *w;
	size_t plen = 0, nlines = 0, maxnum = 0, num, i, d, nchars = 0, at;
	size_t wlen = 0, end_seen = 0, typed_lines = 0, lg, lc, wide = 0;
	int r = SD_ERR_INTERNAL, end_ok = 0, in_tok;

	if (payload == NULL || rep == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_text_decode: no output");
	*payload = NULL;
	memset(rep, 0, sizeof(*rep));
	if (text == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_text_decode: no text");
	if ((lines = calloc(ESCROW_MAX_LINES + 1, sizeof(*lines))) == NULL ||
	    (work = sd_secret_new(len + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	w = (char *)work->p;
	for (ln = text; ln < text + len; ln = end + 1) {
		if ((end = memchr(ln, '\n', (size_t)(text + len - ln))) == NULL)
			end = text + len;
		for (q = ln; q < end && (*q == ' ' || *q == '\t'); q++)
			;
		if (end - q >= 4 && strncasecmp(q, "end", 3) == 0) {
			const char *c = q + 3;

			while (c < end && (*c == ' ' || *c == '\t'))
				c++;
			if (c < end && *c == ':') {
				if (end_seen++ > 0)
					problem(rep, "the end line is given "
					    "twice");
				else if (parse_end(c + 1, (size_t)(end - c - 1),
				    &plen, sum, rep) == 0)
					end_ok = 1;
				continue;
			}
		}
		if (q == end || *q < '0' || *q > '9')
			continue;   /* not a numbered line: ignored */
		for (num = 0; q < end && *q >= '0' && *q <= '9'; q++)
			num = num > ESCROW_MAX_LINES ? num : num * 10 +
			    (size_t)(*q - '0');
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q == end || *q != ':')
			continue;
		q++;
		typed_lines++;
		if (num == 0 || num > ESCROW_MAX_LINES) {
			problem(rep, "line %zu: no sheet has a line of that "
			    "number", num);
			continue;
		}
		if (lines[num].seen) {
			problem(rep, "line %zu is given twice", num);
			continue;
		}
		lines[num].seen = 1;
		lines[num].off = wlen;
		if (num > maxnum)
			maxnum = num;
		for (in_tok = 0; q < end; q++) {
			if (is_blank((unsigned char)*q)) {
				in_tok = 0;
				continue;
			}
			if (!in_tok)
				lines[num].tokens++;
			in_tok = 1;
			if (lines[num].tokens <= ESCROW_MAX_LINE_GROUPS + 1)
				lines[num].toklen[lines[num].tokens - 1]++;
			w[wlen++] = *q;
		}
		lines[num].n = wlen - lines[num].off;
	}
	if (typed_lines == 0 && !end_seen) {
		r = sd_err_set(e, SD_ERR_FORMAT, "no numbered line ('1: ...') "
		    "of a sheet's typed copy");
		goto out;
	}
	if (!end_seen)
		problem(rep, "the end line ('end: LENGTH ...', the last line of "
		    "the sheet) is missing");
	/*
	 * Which layout: a compact sheet's full lines hold 54 characters, a
	 * format 1 sheet's 36; most lines decide, so a typo cannot.
	 */
	for (num = 1; num <= maxnum; num++)
		if (lines[num].seen && lines[num].n > 45)
			wide++;
	lg = 2 * wide > typed_lines ? ESCROW_LINE_GROUPS_COMPACT :
	    ESCROW_LINE_GROUPS;
	lc = lg * ESCROW_GROUP_CHARS;
	if (end_ok) {
		nchars = escrow_b32_chars(plen);
		nlines = lines_for(plen, lg);
	} else
		nlines = maxnum;
	if ((vals = sd_secret_new(nlines * lc + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	for (num = 1; num <= nlines; num++) {
		if (!lines[num].seen) {
			problem(rep, "line %zu is missing", num);
			continue;
		}
		d = num < nlines ? lc : end_ok ? nchars - (nlines - 1) * lc : 0;
		(void)check_line(w, &lines[num], num, d, lg,
		    vals->p + (num - 1) * lc, rep);
	}
	for (num = nlines + 1; end_ok && num <= maxnum; num++)
		if (lines[num].seen)
			problem(rep, "line %zu: the sheet has only %zu lines "
			    "(the end line says %zu bytes)", num, nlines, plen);
	if (rep->n > 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%zu problem%s in the typed "
		    "lines", rep->n + rep->more, rep->n + rep->more == 1 ? "" :
		    "s");
		goto out;
	}
	if ((out = sd_secret_new(plen)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	/* values back to characters, then base32 to bytes */
	for (at = 0; at < nchars; at++)
		vals->p[at] = (uint8_t)b32_char(vals->p[at]);
	if ((r = escrow_b32_decode((const char *)vals->p, nchars, out->p, plen,
	    e)) != 0) {
		problem(rep, "line %zu: the last character has stray bits; "
		    "check the line's end", nlines);
		r = sd_err_set(e, SD_ERR_FORMAT, "1 problem in the typed lines");
		goto out;
	}
	payload_sum(out->p, plen, want);
	for (i = 0; i < ESCROW_SUM_CHARS; i++)
		if (want[i] != sum[i])
			break;
	if (i != ESCROW_SUM_CHARS) {
		r = sd_err_set(e, SD_ERR_FORMAT, "every line checks, but the "
		    "whole-sheet checksum on the end line does not match: "
		    "compare the lines and the end line with the sheet again");
		goto out;
	}
	*payload = out;
	out = NULL;
	r = 0;
 out:
	free(lines);
	sd_secret_free(work);
	sd_secret_free(vals);
	sd_secret_free(out);
	return r;
}

/*
 * QR parts.
 */

#define QR_PREFIX_MAX (sizeof(ESCROW_QR_TAG) + 2 + 1 + 2 + 1 + \
	ESCROW_ID_CHARS + 1)

int
escrow_qr_split(const uint8_t *p, size_t len, struct escrow_parts **out,
    struct sd_err *e)
{
	struct escrow_parts *parts = NULL;
	struct sd_secret *chars = NULL;
	char id[ESCROW_ID_CHARS + 1];
	size_t nchars, per, extra, n, i, at, take, size;
	int r = SD_ERR_INTERNAL, hdr;

	if (out == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_qr_split: no output");
	*out = NULL;
	if (p == NULL || len < 6 + ESCROW_ID_LEN || len > ESCROW_MAX_PAYLOAD)
		return sd_err_set(e, SD_ERR_ARG, "escrow_qr_split: bad payload");
	nchars = escrow_b32_chars(len);
	per = ESCROW_QR_MAX_CHARS - QR_PREFIX_MAX;
	n = (nchars + per - 1) / per;
	if (n > ESCROW_MAX_PARTS)
		return sd_err_set(e, SD_ERR_LIMIT, "payload too long for %d QR "
		    "codes", ESCROW_MAX_PARTS);
	/* parts within a character of each other: codes of one size */
	per = nchars / n;
	extra = nchars % n;
	if ((parts = calloc(1, sizeof(*parts))) == NULL ||
	    (chars = sd_secret_new(nchars + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	escrow_b32_encode(p, len, (char *)chars->p);
	/* the sheet id sits at a fixed place in the header */
	escrow_b32_encode(p + 6, ESCROW_ID_LEN, id);
	for (i = 0, at = 0; i < n; i++, at += take) {
		take = per + (i < extra ? 1 : 0);
		size = QR_PREFIX_MAX + take + 1;
		if ((parts->text[i] = sodium_malloc(size)) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
			goto out;
		}
		parts->n = i + 1;
		/* the data copied, not formatted: printf scans for a NUL */
		hdr = snprintf(parts->text[i], size, "%s/%zu/%zu/%s/",
		    ESCROW_QR_TAG, i + 1, n, id);
		if (hdr < 0 || (size_t)hdr + take >= size) {
			r = sd_err_set(e, SD_ERR_INTERNAL, "escrow_qr_split: "
			    "overflow");
			goto out;
		}
		memcpy(parts->text[i] + hdr, chars->p + at, take);
		parts->text[i][(size_t)hdr + take] = '\0';
	}
	*out = parts;
	parts = NULL;
	r = 0;
 out:
	escrow_parts_free(parts);
	sd_secret_free(chars);
	return r;
}

void
escrow_parts_free(struct escrow_parts *parts)
{
	size_t i;

	if (parts == NULL)
		return;
	for (i = 0; i < parts->n; i++)
		if (parts->text[i] != NULL)
			sodium_free(parts->text[i]);
	free(parts);
}

struct escrow_qr_set {
	size_t n;                            /* parts the sheet has; 0: none yet */
	char id[ESCROW_ID_CHARS + 1];
	struct sd_secret *part[ESCROW_MAX_PARTS];
};

int
escrow_qr_set_new(struct escrow_qr_set **out)
{
	if (out == NULL)
		return SD_ERR_ARG;
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return SD_ERR_ALLOC;
	return 0;
}

void
escrow_qr_set_free(struct escrow_qr_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ESCROW_MAX_PARTS; i++)
		sd_secret_free(s->part[i]);
	free(s);
}

void
escrow_qr_count(const struct escrow_qr_set *s, size_t *have, size_t *of)
{
	size_t i;

	*have = 0;
	for (i = 0; i < ESCROW_MAX_PARTS; i++)
		if (s->part[i] != NULL)
			(*have)++;
	*of = s->n;
}

/* A decimal number of 1 or 2 digits ending at '/'. */
static int
qr_number(const char **p, const char *end, size_t *out)
{
	size_t v = 0, k = 0;

	while (*p < end && **p >= '0' && **p <= '9' && k < 3) {
		v = v * 10 + (size_t)(**p - '0');
		(*p)++;
		k++;
	}
	if (k == 0 || k > 2 || *p == end || **p != '/')
		return -1;
	(*p)++;
	*out = v;
	return 0;
}

/* Is every character of s[0..n) an upper-case base32 character? */
static int
strict_b32(const char *s, size_t n)
{
	uint32_t ok = 1, v, c;
	size_t i;

	/* constant time: a part of a plain sheet is the key itself */
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		v = b32_value((int)c);
		ok &= (1 ^ (v >> 8)) & sd_ct_eq((unsigned char)b32_char(v & 31),
		    c);
	}
	sd_ct_declassify(&ok, sizeof(ok));
	return (int)ok;
}

int
escrow_qr_add(struct escrow_qr_set *s, const char *text, size_t len,
    struct sd_err *e)
{
	static const char zbar_prefix[] = "QR-Code:";
	const char *p = text, *end = text + len, *id;
	size_t i, n, dlen;

	if (s == NULL || text == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_qr_add: no set or text");
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - p) > sizeof(zbar_prefix) - 1 &&
	    memcmp(p, zbar_prefix, sizeof(zbar_prefix) - 1) == 0)
		p += sizeof(zbar_prefix) - 1;
	if ((size_t)(end - p) < sizeof(ESCROW_QR_TAG) ||
	    memcmp(p, ESCROW_QR_TAG "/", sizeof(ESCROW_QR_TAG)) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "not a QR code of an escrow "
		    "sheet (it does not begin with %s/)", ESCROW_QR_TAG);
	p += sizeof(ESCROW_QR_TAG);
	if (qr_number(&p, end, &i) != 0 || qr_number(&p, end, &n) != 0 ||
	    end - p < ESCROW_ID_CHARS + 2 || p[ESCROW_ID_CHARS] != '/' ||
	    !strict_b32(p, ESCROW_ID_CHARS))
		return sd_err_set(e, SD_ERR_FORMAT, "a QR code of an escrow sheet "
		    "with a malformed header");
	if (n == 0 || n > ESCROW_MAX_PARTS || i == 0 || i > n)
		return sd_err_set(e, SD_ERR_FORMAT, "QR part %zu of %zu: no such "
		    "part", i, n);
	id = p;
	p += ESCROW_ID_CHARS + 1;
	dlen = (size_t)(end - p);
	if (!strict_b32(p, dlen))
		return sd_err_set(e, SD_ERR_FORMAT, "QR part %zu of %zu: a "
		    "character that is not base32", i, n);
	if (s->n != 0 && memcmp(id, s->id, ESCROW_ID_CHARS) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "QR part %zu is part of "
		    "another sheet (id %.*s; the parts before are of sheet %s)",
		    i, ESCROW_ID_CHARS, id, s->id);
	if (s->n != 0 && n != s->n)
		return sd_err_set(e, SD_ERR_FORMAT, "QR part %zu says the sheet "
		    "has %zu parts; the parts before say %zu", i, n, s->n);
	if (s->part[i - 1] != NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "QR part %zu given twice", i);
	if ((s->part[i - 1] = sd_secret_dup((const uint8_t *)p, dlen)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if (s->n == 0) {
		memcpy(s->id, id, ESCROW_ID_CHARS);
		s->id[ESCROW_ID_CHARS] = '\0';
		s->n = n;
	}
	return 0;
}

int
escrow_qr_join(const struct escrow_qr_set *s, struct sd_secret **payload,
    struct sd_err *e)
{
	struct sd_secret *chars = NULL, *out = NULL;
	struct escrow_header h;
	char missing[256], id[ESCROW_ID_CHARS + 1];
	size_t i, nmiss = 0, total = 0, at, plen, used = 0, k;
	int r = SD_ERR_INTERNAL;

	if (payload == NULL || s == NULL)
		return sd_err_set(e, SD_ERR_ARG, "escrow_qr_join: no output");
	*payload = NULL;
	if (s->n == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "no QR code of an escrow "
		    "sheet was read");
	for (i = 0; i < s->n; i++)
		if (s->part[i] == NULL)
			nmiss++;
		else
			total += s->part[i]->len;
	if (nmiss > 0) {
		missing[0] = '\0';
		for (i = 0, k = 0; i < s->n; i++) {
			if (s->part[i] != NULL)
				continue;
			k++;
			used += (size_t)snprintf(missing + used,
			    sizeof(missing) - used, "%s%zu", k == 1 ? "" :
			    k == nmiss ? " and " : ", ", i + 1);
			if (used >= sizeof(missing))
				break;
		}
		return sd_err_set(e, SD_ERR_FORMAT, "QR part%s %s of %zu %s "
		    "missing", nmiss == 1 ? "" : "s", missing, s->n,
		    nmiss == 1 ? "is" : "are");
	}
	plen = total * 5 / 8;
	if (plen == 0 || plen > ESCROW_MAX_PAYLOAD ||
	    escrow_b32_chars(plen) != total)
		return sd_err_set(e, SD_ERR_FORMAT, "the QR parts hold %zu "
		    "characters, which no sheet payload has", total);
	if ((chars = sd_secret_new(total)) == NULL ||
	    (out = sd_secret_new(plen)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	for (i = 0, at = 0; i < s->n; i++) {
		memcpy(chars->p + at, s->part[i]->p, s->part[i]->len);
		at += s->part[i]->len;
	}
	if ((r = escrow_b32_decode((const char *)chars->p, total, out->p, plen,
	    e)) != 0 || (r = escrow_peek(out->p, plen, &h, e)) != 0) {
		r = sd_err_prefix(e, r, "the QR parts put together");
		goto out;
	}
	escrow_b32_encode(h.sheet_id, ESCROW_ID_LEN, id);
	if (strcmp(id, s->id) != 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "the QR parts are labelled sheet "
		    "%s but hold sheet %s", s->id, id);
		goto out;
	}
	*payload = out;
	out = NULL;
	r = 0;
 out:
	sd_secret_free(chars);
	sd_secret_free(out);
	return r;
}
