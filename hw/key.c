/*
 * key.c - what every key backend shares: the reference, the certificate
 * beside the key, the thumbprint and flags, dispatch by the kind of
 * reference, and decryption through the backend's ops (key_impl.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "key_impl.h"
#include "../sys/file.h"

/*
 * Certificates beside keys.
 */

/*
 * azure-cli's rule, "dir/cert_0.key" -> "dir/cert_0.cer", but looking for
 * the extension in the last path component only, and appending ".cer" to
 * a name without one.  A leading dot starts a hidden name, not an
 * extension.
 */
char *
hw_cert_path_beside(const char *ref)
{
	const char *base, *dot;
	char *path;
	size_t stem;

	base = strrchr(ref, '/');
	base = base != NULL ? base + 1 : ref;
	dot = strrchr(base, '.');
	stem = dot != NULL && dot != base ? (size_t)(dot - ref) : strlen(ref);
	if ((path = malloc(stem + sizeof(".cer"))) == NULL)
		return NULL;
	memcpy(path, ref, stem);
	memcpy(path + stem, ".cer", sizeof(".cer"));
	return path;
}

/*
 * Load the certificate, if any, and check it belongs to the key.  A
 * certificate named explicitly must exist; one looked for beside the key
 * may be absent (HW_KEY_NO_CERT: the share is then found by trial).
 * Expiry is noted, never refused: the service's own test keys expired
 * years ago and still open their shares.
 */
int
hw_key_attach_cert(struct hw_key *k, EVP_PKEY *pkey,
    const struct hw_open_opts *opts, struct sd_err *e)
{
	struct stat st;
	X509 *cert = NULL;
	char *path = NULL;
	int r = SD_ERR_INTERNAL;

	if (opts != NULL && opts->cert_path != NULL)
		path = strdup(opts->cert_path);
	else
		path = hw_cert_path_beside(k->ref);
	if (path == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "%s: out of memory", k->ref);
		goto out;
	}
	if ((opts == NULL || opts->cert_path == NULL) &&
	    stat(path, &st) == -1 && (errno == ENOENT || errno == ENOTDIR)) {
		k->flags |= HW_KEY_NO_CERT;
		r = 0;
		goto out;
	}
	if ((r = pki_cert_load(path, &cert, e)) != 0)
		goto out;
	r = hw_key_set_cert(k, cert, path, pkey, e);
	cert = NULL;
 out:
	X509_free(cert);
	free(path);
	return r;
}

int
hw_key_set_cert(struct hw_key *k, X509 *cert, const char *where,
    EVP_PKEY *pub, struct sd_err *e)
{
	char *path = NULL;
	int r = SD_ERR_INTERNAL;

	if ((path = strdup(where)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "%s: out of memory", k->ref);
		goto out;
	}
	if (pub != NULL && EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1) {
		r = sd_err_set(e, SD_ERR_KEY_MISMATCH, "%s: does not match its "
		    "certificate %s", k->ref, where);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		k->flags |= HW_KEY_CERT_EXPIRED;
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		k->flags |= HW_KEY_CERT_NOT_YET;
	if ((r = pki_cert_x5t256(cert, k->x5t)) != 0) {
		r = sd_err_set(e, r, "%s: cannot compute the thumbprint of %s",
		    k->ref, where);
		goto out;
	}
	X509_free(k->cert);
	free(k->cert_path);
	k->cert = cert;
	k->cert_path = path;
	cert = NULL;
	path = NULL;
	r = 0;
 out:
	ERR_clear_error();
	X509_free(cert);
	free(path);
	return r;
}

/*
 * The file backend.
 */

int
hw_key_new(const char *ref, const struct hw_key_ops *ops,
    struct hw_key **out, struct sd_err *e)
{
	struct hw_key *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->ref = strdup(ref)) == NULL) {
		free(k);
		return sd_err_set(e, SD_ERR_ALLOC, "%s: out of memory", ref);
	}
	k->ops = ops;
	*out = k;
	return 0;
}

/*
 * Open a key by reference: a PKCS#11 URI goes to key_pkcs11.c, a file
 * holding a YubiKey-wrapped key to key_ykey.c, anything else is a key
 * file (key_file.c).  Files are read here, once, into guarded memory.
 */
int
hw_key_open(const char *ref, const struct hw_open_opts *opts,
    struct hw_key **out, struct sd_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (out == NULL || ref == NULL)
		return sd_err_set(e, SD_ERR_ARG, "hw_key_open: no key or output");
	*out = NULL;
	if (strncmp(ref, "pkcs11:", 7) == 0)
		return hw_key_open_pkcs11(ref, opts, out, e);
	if ((r = sys_read_secret_file(ref, HW_MAX_KEY_FILE, "a key file", &buf,
	    &len, e)) != 0)
		return r;
	if (hw_ykey_sniff(buf, len))
		r = hw_key_open_ykey(ref, buf, len, opts, out, e);
	else
		r = hw_key_open_file(ref, buf, len, opts, out, e);
	sodium_free(buf);
	return r;
}

EVP_PKEY *
hw_key_pkey(const struct hw_key *k)
{
	return k != NULL && k->ops->pkey != NULL ? k->ops->pkey(k) : NULL;
}

/*
 * Every backend.
 */

void
hw_key_free(struct hw_key *k)
{
	if (k == NULL)
		return;
	if (k->ops != NULL && k->ops->free != NULL)
		k->ops->free(k);
	X509_free(k->cert);
	free(k->cert_path);
	free(k->ref);
	free(k);
}

const char *
hw_key_ref(const struct hw_key *k)
{
	return k->ref;
}

unsigned
hw_key_flags(const struct hw_key *k)
{
	return k->flags;
}

int
hw_key_bits(const struct hw_key *k)
{
	return k->bits;
}

X509 *
hw_key_cert(const struct hw_key *k)
{
	return k->cert;
}

const char *
hw_key_cert_path(const struct hw_key *k)
{
	return k->cert_path;
}

const char *
hw_key_x5t256(const struct hw_key *k)
{
	return k->x5t[0] != '\0' ? k->x5t : NULL;
}

int
hw_key_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	if (out == NULL)
		return sd_err_set(e, SD_ERR_ARG, "hw_key_decrypt: no output");
	*out = NULL;
	if (k == NULL || k->ops == NULL || k->ops->decrypt == NULL ||
	    (in == NULL && in_len != 0))
		return sd_err_set(e, SD_ERR_ARG, "hw_key_decrypt: no key or "
		    "input");
	return k->ops->decrypt(k, in, in_len, out, e);
}

static int
decryptor_trampoline(void *ctx, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	return hw_key_decrypt(ctx, in, in_len, out, e);
}

void
hw_key_decryptor(struct hw_key *k, struct sd_decryptor *d)
{
	d->oaep256_decrypt = decryptor_trampoline;
	d->ctx = k;
}
