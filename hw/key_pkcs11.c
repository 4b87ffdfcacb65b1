/*
 * key_pkcs11.c - wrapping keys on PKCS#11 tokens (smartcards, YubiKey
 * PIV through ykcs11, SoftHSM2), opened by RFC 7512 URI:
 *
 *   pkcs11:token=officer0;object=sd-wrap-0;type=private
 *
 * The private key never leaves the token: hw_key_open finds it (logging
 * in with the URI's pin-source or the caller's PIN callback), finds its
 * certificate on the token (the certificate object with the same
 * CKA_ID) and checks it holds the key's public key; each decryption is
 * then one request to the token (see p11_decrypt_oaep256 for the
 * fallback to raw RSA and host-side unpadding).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "key_impl.h"
#include "p11.h"

struct p11key {
	struct p11_module *m;
	struct p11_session *s;
	CK_OBJECT_HANDLE h;
	EVP_PKEY *pub;              /* the public key, when known */
	enum p11_oaep_mode mode;
};

static int
p11key_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	struct p11key *pk = k->backend;
	int r;

	r = p11_decrypt_oaep256(pk->s, pk->h, k->bits, pk->pub, &pk->mode, in,
	    in_len, out, e);
	if (pk->mode == P11_OAEP_HOST)
		k->flags |= HW_KEY_OAEP_HOST;
	return r;
}

static void
p11key_free(struct hw_key *k)
{
	struct p11key *pk = k->backend;

	if (pk == NULL)
		return;
	p11_session_free(pk->s);
	p11_module_free(pk->m);
	EVP_PKEY_free(pk->pub);
	free(pk);
	k->backend = NULL;
}

static const struct hw_key_ops p11_ops = {
	.name = "pkcs11", .decrypt = p11key_decrypt, .free = p11key_free
};

/* Describe a key object for "which one?" messages. */
static void
describe(const struct p11_object *o, char *buf, size_t size)
{
	size_t off, i;

	off = (size_t)snprintf(buf, size, "object=%s;id=",
	    o->label != NULL ? o->label : "");
	for (i = 0; i < o->id_len && off + 4 < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%%%02X",
		    o->id[i]);
}

/*
 * The one RSA private key the URI names.  Logged in first if the token
 * wants it: private keys are invisible before that on most tokens.
 */
static int
find_key(struct p11_session *s, const struct p11_uri *u, const char *ref,
    struct p11_object **keys, size_t *n, size_t *which, struct sd_err *e)
{
	char list[256], one[96];
	size_t i, hits = 0, off = 0;
	int r;

	*which = 0;
	if ((r = p11_find_objects(s, CKO_PRIVATE_KEY, u, keys, n, e)) != 0)
		return r;
	list[0] = '\0';
	for (i = 0; i < *n; i++) {
		if ((*keys)[i].key_type != CKK_RSA)
			continue;
		if (hits++ == 0)
			*which = i;
		describe(&(*keys)[i], one, sizeof(one));
		if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off,
			    "%s%s", hits > 1 ? ", " : "", one);
	}
	if (hits == 1)
		return 0;
	if (hits == 0)
		return sd_err_set(e, SD_ERR_KEY, "%s: token %s holds no RSA "
		    "private key that matches (see sdtool card list)", ref,
		    p11_session_token(s)->label);
	return sd_err_set(e, SD_ERR_KEY, "%s: %zu RSA private keys on token "
	    "%s match (%s); name one with object= or id=", ref, hits,
	    p11_session_token(s)->label, list);
}

/* The key's public half: its own modulus, else a public-key object's. */
static EVP_PKEY *
public_half(struct p11_session *s, const struct p11_object *key)
{
	struct p11_uri q;
	struct p11_object *pubs = NULL;
	struct sd_err e = { "" };
	EVP_PKEY *pub = NULL;
	size_t n = 0, i;

	if (key->pub != NULL) {
		EVP_PKEY_up_ref(key->pub);
		return key->pub;
	}
	if (key->id == NULL || key->id_len == 0)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.has_id = 1;
	q.id = key->id;
	q.id_len = key->id_len;
	if (p11_find_objects(s, CKO_PUBLIC_KEY, &q, &pubs, &n, &e) != 0)
		return NULL;
	for (i = 0; i < n && pub == NULL; i++)
		if (pubs[i].pub != NULL) {
			pub = pubs[i].pub;
			pubs[i].pub = NULL;
		}
	p11_objects_free(pubs, n);
	return pub;
}

int
hw_key_open_pkcs11(const char *ref, const struct hw_open_opts *opts,
    struct hw_key **out, struct sd_err *e)
{
	struct p11_uri *u = NULL;
	struct p11_token tok;
	struct p11_object *keys = NULL;
	struct p11key *pk = NULL;
	struct hw_key *k = NULL;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	char *module = NULL, *pin_path = NULL, where[160];
	size_t n = 0, which = 0;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((r = p11_uri_parse(ref, &u, e)) != 0)
		goto out;
	if (u->type != NULL && strcmp(u->type, "private") != 0) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: type=%s; a wrapping key is "
		    "type=private", ref, u->type);
		goto out;
	}
	if ((r = p11_uri_pin_path(u, &pin_path, e)) != 0 ||
	    (r = p11_module_choose(u, opts != NULL ? opts->pkcs11_module : NULL,
	    &module, e)) != 0)
		goto out;
	if ((r = hw_key_new(ref, &p11_ops, &k, e)) != 0)
		goto out;
	if ((pk = calloc(1, sizeof(*pk))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	k->backend = pk;
	k->flags |= HW_KEY_TOKEN;
	if ((r = p11_module_open(module, &pk->m, e)) != 0 ||
	    (r = p11_find_token(pk->m, u, ref, &tok, e)) != 0 ||
	    (r = p11_session_open(pk->m, &tok, 0, &pk->s, e)) != 0)
		goto out;
	/*
	 * Log in before looking: private keys are private objects, and a
	 * token that needs no log-in is rare for keys like these.
	 */
	if ((tok.flags & CKF_LOGIN_REQUIRED) &&
	    (r = p11_login(pk->s, 0, pin_path, opts != NULL ? opts->pin : NULL,
	    opts != NULL ? opts->pin_ctx : NULL, e)) != 0)
		goto out;
	if ((r = find_key(pk->s, u, ref, &keys, &n, &which, e)) != 0)
		goto out;
	if (keys[which].decrypt == 0) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: the key on token %s may not "
		    "decrypt (CKA_DECRYPT is false)", ref, tok.label);
		goto out;
	}
	pk->h = keys[which].h;
	pub = public_half(pk->s, &keys[which]);
	if (opts != NULL && opts->cert_path != NULL) {
		/* a certificate named explicitly wins over the token's */
		if ((r = hw_key_attach_cert(k, pub, opts, e)) != 0)
			goto out;
	} else {
		if ((r = p11_cert_of(pk->s, &keys[which], &cert, e)) != 0)
			goto out;
		if (cert == NULL) {
			k->flags |= HW_KEY_NO_CERT;
		} else {
			snprintf(where, sizeof(where), "(the certificate on "
			    "token %s)", tok.label);
			r = hw_key_set_cert(k, cert, where, pub, e);
			cert = NULL;
			if (r != 0)
				goto out;
		}
	}
	if (pub == NULL && k->cert != NULL &&
	    (pub = X509_get_pubkey(k->cert)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	k->bits = pub != NULL ? EVP_PKEY_get_bits(pub) : keys[which].bits;
	pk->pub = pub;
	pub = NULL;
	if (k->bits <= 0) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: the token does not say the "
		    "key's size, and there is no certificate to tell it", ref);
		goto out;
	}
	if (k->bits < PKI_MIN_RSA_BITS) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: RSA-%d key; at least %d bits "
		    "are required", ref, k->bits, PKI_MIN_RSA_BITS);
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
 out:
	X509_free(cert);
	EVP_PKEY_free(pub);
	p11_objects_free(keys, n);
	hw_key_free(k);
	p11_uri_free(u);
	free(module);
	free(pin_path);
	return r;
}
