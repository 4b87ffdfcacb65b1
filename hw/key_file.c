/*
 * key_file.c - wrapping keys held in files (PEM or DER, PKCS#1 or PKCS#8,
 * plain or passphrase-encrypted), and the parts of struct hw_key every
 * backend shares.
 *
 * The private key is an EVP_PKEY: OpenSSL keeps its components in its own
 * memory and clears them when the key is freed.  What passes through our
 * hands on the way there (the file's bytes, the passphrase) sits in
 * sodium_malloc'd memory and is wiped as soon as the key is decoded.
 *
 * Other backends (key_pkcs11.c, key_ykey.c) fill the same struct
 * hw_key, declared in key_impl.h, with their own ops; hw_key_open()
 * dispatches to them by the kind of reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "key.h"
#include "key_impl.h"
#include "../shares/jwe.h"

/*
 * Files.
 */

static void *
buf_alloc(size_t n, int secret)
{
	return secret ? sodium_malloc(n) : malloc(n);
}

/* Wipe and release a buffer from buf_alloc(); size is what was asked. */
static void
buf_free(void *p, size_t size, int secret)
{
	if (p == NULL)
		return;
	if (secret) {
		sodium_free(p);   /* wipes */
		return;
	}
	OPENSSL_cleanse(p, size);
	free(p);
}

/*
 * Read a whole regular file of at most max bytes into a buffer of its
 * size (+ 1 for a NUL), guarded memory when secret.  O_NONBLOCK keeps a
 * FIFO planted where a file was expected from hanging us before fstat
 * refuses it; it means nothing for regular files.  One byte more than
 * fstat promised is asked for, so a file that grows meanwhile is caught
 * rather than silently cut.  `what` names the expected file in messages.
 */
/*
 * "-" is standard input (a pipe or a file), read once per process: a
 * second "-" in one command is an error rather than an empty file.
 */
static int stdin_taken;

static int
read_stdin(size_t max, int secret, char **bufp, size_t *lenp,
    struct sd_err *e)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, size = 0;
	ssize_t n;
	int r = SD_ERR_INTERNAL;

	if (stdin_taken)
		return sd_err_set(e, SD_ERR_IO, "-: standard input was already "
		    "read for another file; give a file name");
	stdin_taken = 1;
	for (;;) {
		if (len + 1 >= size) {
			size_t nsize = size ? size * 2 : 4096;

			if (nsize > max + 2)
				nsize = max + 2;
			if (nsize <= size) {
				r = sd_err_set(e, SD_ERR_LIMIT, "-: standard "
				    "input holds more than the %zu bytes "
				    "accepted", max);
				goto out;
			}
			if ((nbuf = buf_alloc(nsize, secret)) == NULL) {
				r = sd_err_set(e, SD_ERR_ALLOC, "-: out of "
				    "memory");
				goto out;
			}
			if (buf != NULL)
				memcpy(nbuf, buf, len);
			buf_free(buf, size, secret);
			buf = nbuf;
			size = nsize;
		}
		if ((n = read(0, buf + len, size - 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			r = sd_err_set(e, SD_ERR_IO, "-: reading standard "
			    "input: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = sd_err_set(e, SD_ERR_LIMIT, "-: standard input holds "
			    "more than the %zu bytes accepted", max);
			goto out;
		}
	}
	if (buf == NULL && (buf = buf_alloc(size = 1, secret)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "-: out of memory");
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
 out:
	buf_free(buf, size, secret);
	return r;
}

static int
read_file(const char *path, size_t max, int secret, const char *what,
    char **bufp, size_t *lenp, struct sd_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, size = 0, want;
	ssize_t n;
	int fd = -1, r = SD_ERR_INTERNAL;

	if (bufp == NULL || lenp == NULL || path == NULL)
		return sd_err_set(e, SD_ERR_ARG, "read_file: no path or output");
	*bufp = NULL;
	*lenp = 0;
	if (max == 0 || max > SIZE_MAX / 2)
		return sd_err_set(e, SD_ERR_ARG, "read_file: bad limit");
	if (strcmp(path, "-") == 0)
		return read_stdin(max, secret, bufp, lenp, e);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY))
	    == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = sd_err_set(e, SD_ERR_IO, "%s: is a directory, %s is "
		    "required", path, what);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = sd_err_set(e, SD_ERR_IO, "%s: is not a regular file, %s is "
		    "required", path, what);
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		r = sd_err_set(e, SD_ERR_LIMIT, "%s: is %jd bytes, more than "
		    "the %zu accepted", path, (intmax_t)st.st_size, max);
		goto out;
	}
	want = (size_t)st.st_size + 1;
	size = want + 1;
	if ((buf = buf_alloc(size, secret)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	while (len < want) {
		if ((n = read(fd, buf + len, want - len)) == -1) {
			if (errno == EINTR)
				continue;
			r = sd_err_set(e, SD_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len != (size_t)st.st_size) {
		r = sd_err_set(e, SD_ERR_IO, "%s: changed while being read",
		    path);
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
 out:
	buf_free(buf, size, secret);
	if (fd != -1)
		close(fd);
	return r;
}

int
hw_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct sd_err *e)
{
	return read_file(path, max, 0, "a file", buf, len, e);
}

int
hw_read_secret_file(const char *path, size_t max, const char *what,
    char **buf, size_t *len, struct sd_err *e)
{
	return read_file(path, max, 1, what, buf, len, e);
}

/*
 * Passphrases.  OpenSSL asks through this callback; we ask the caller's
 * hw_passphrase_fn into guarded memory, hand OpenSSL a copy (its decoder
 * keeps it in a cache it clears when freed) and wipe ours at once.  What
 * happened is recorded so that a failed decode can be explained: asked
 * and given means the passphrase was wrong.
 */
struct pw_state {
	const struct hw_open_opts *opts;
	const char *ref;
	int asked;        /* OpenSSL needed a passphrase */
	int given;        /* and the caller supplied one */
	int cb_error;     /* the caller's callback failed with this */
	int too_long;     /* longer than OpenSSL's buffer */
	char *cache;      /* the passphrase, guarded, for a second decode */
};

static int
pw_cb(char *pass, size_t pass_size, size_t *pass_len,
    const OSSL_PARAM params[], void *arg)
{
	struct pw_state *st = arg;
	char *buf = NULL;
	size_t len;
	int r, ok = 0;

	(void)params;
	st->asked++;
	if (st->cache != NULL) {
		/* the second decode of decode_key(): do not ask again */
		if ((len = strlen(st->cache)) > pass_size)
			return 0;
		memcpy(pass, st->cache, len);
		*pass_len = len;
		st->given++;
		return 1;
	}
	if (st->opts == NULL || st->opts->passphrase == NULL)
		return 0;
	if ((buf = sodium_malloc(HW_MAX_PASSPHRASE)) == NULL) {
		st->cb_error = SD_ERR_ALLOC;
		return 0;
	}
	sodium_memzero(buf, HW_MAX_PASSPHRASE);
	if ((r = st->opts->passphrase(st->opts->passphrase_ctx, st->ref, buf,
	    HW_MAX_PASSPHRASE)) != 0) {
		st->cb_error = r < 0 ? r : SD_ERR_PASSPHRASE;
		goto out;
	}
	if ((len = strnlen(buf, HW_MAX_PASSPHRASE)) == HW_MAX_PASSPHRASE ||
	    len > pass_size) {
		st->too_long = 1;
		goto out;
	}
	memcpy(pass, buf, len);
	*pass_len = len;
	st->given++;
	st->cache = buf;
	buf = NULL;
	ok = 1;
 out:
	sodium_free(buf);
	return ok;
}

/* Does buf hold a certificate?  Only to explain a failure better. */
static int
looks_like_cert(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	BIO *bio;
	X509 *x = NULL;

	if (len > INT_MAX)
		return 0;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (x == NULL)
		x = d2i_X509(NULL, &p, (long)len);
	X509_free(x);
	ERR_clear_error();
	return x != NULL;
}

/* One decoding attempt: keytype "RSA" or NULL for any.  0 or -1. */
static int
decode_as(const char *buf, size_t len, const char *keytype,
    struct pw_state *st, EVP_PKEY **pkey)
{
	OSSL_DECODER_CTX *dctx;
	const unsigned char *p = (const unsigned char *)buf;
	size_t left = len;
	int ok;

	*pkey = NULL;
	if ((dctx = OSSL_DECODER_CTX_new_for_pkey(pkey, NULL, NULL, keytype,
	    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL)) == NULL)
		return -1;
	ok = OSSL_DECODER_CTX_set_passphrase_cb(dctx, pw_cb, st) == 1 &&
	    OSSL_DECODER_from_data(dctx, &p, &left) == 1 && *pkey != NULL;
	OSSL_DECODER_CTX_free(dctx);
	if (!ok) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
	}
	return ok ? 0 : -1;
}

/*
 * Decode a private key of any form OpenSSL knows (input type NULL: PEM,
 * DER, PKCS#1, PKCS#8, EncryptedPrivateKeyInfo) and explain a failure.
 * Decoders for RSA alone are tried first: gathering every key type's
 * costs more than the rest of a restore-blob run.  Only if that fails is
 * any type tried (with the passphrase already given), so that a non-RSA
 * key is named as such rather than taken for a wrong passphrase.
 */
static int
decode_key(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, EVP_PKEY **out, int *encrypted,
    struct sd_err *e)
{
	struct pw_state st = { opts, ref, 0, 0, 0, 0, NULL };
	EVP_PKEY *pkey = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*encrypted = 0;
	if (decode_as(buf, len, "RSA", &st, &pkey) == 0 ||
	    (!st.too_long && st.cb_error == 0 &&
	    decode_as(buf, len, NULL, &st, &pkey) == 0)) {
		*out = pkey;
		pkey = NULL;
		*encrypted = st.given > 0;
		r = 0;
		goto out;
	}
	if (st.too_long)
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: passphrase longer "
		    "than OpenSSL accepts", ref);
	else if (st.cb_error == SD_ERR_PASSPHRASE ||
	    (st.asked && (opts == NULL || opts->passphrase == NULL)))
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: key is encrypted and "
		    "no passphrase was given", ref);
	else if (st.cb_error != 0)
		r = sd_err_set(e, st.cb_error, "%s: asking for the passphrase "
		    "failed: %s", ref, sd_strerror(st.cb_error));
	else if (st.given)
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "%s: wrong passphrase", ref);
	else if (looks_like_cert(buf, len))
		r = sd_err_set(e, SD_ERR_KEY, "%s: not a private key (PEM or "
		    "DER, PKCS#1 or PKCS#8): it is a certificate", ref);
	else
		r = sd_err_set(e, SD_ERR_KEY, "%s: not a private key (PEM or "
		    "DER, PKCS#1 or PKCS#8)", ref);
 out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	sodium_free(st.cache);
	return r;
}

/*
 * Certificates beside keys.
 */

/*
 * azure-cli's rule, "dir/cert_0.key" -> "dir/cert_0.cer", but looking for
 * the extension in the last path component only, and appending ".cer" to
 * a name without one.  A leading dot starts a hidden name, not an
 * extension.
 */
static char *
cert_path_for(const char *ref)
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
		path = cert_path_for(k->ref);
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
	if ((r = hw_cert_load(path, &cert, e)) != 0)
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
	if ((r = hw_cert_x5t256(cert, k->x5t)) != 0) {
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

static int
file_decrypt(struct hw_key *k, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	return rsa_oaep256_decrypt(k->backend, in, in_len, out, e);
}

static void
file_free(struct hw_key *k)
{
	/* Clears the RSA private components. */
	EVP_PKEY_free(k->backend);
	k->backend = NULL;
}

static const struct hw_key_ops file_ops = {
	"file", file_decrypt, file_free
};

EVP_PKEY *
hw_key_file_pkey(const struct hw_key *k)
{
	return k != NULL && k->ops == &file_ops ? k->backend : NULL;
}

int
hw_decode_rsa_key(const char *ref, const char *buf, size_t len,
    const struct hw_open_opts *opts, EVP_PKEY **out, int *encrypted,
    struct sd_err *e)
{
	EVP_PKEY *pkey = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((r = decode_key(ref, buf, len, opts, &pkey, encrypted, e)) != 0)
		goto out;
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: holds a %s key; only RSA "
		    "keys can be used", ref, EVP_PKEY_get0_type_name(pkey));
		goto out;
	}
	if (EVP_PKEY_get_bits(pkey) < HW_MIN_RSA_BITS) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: RSA-%d key; at least %d bits "
		    "are required", ref, EVP_PKEY_get_bits(pkey),
		    HW_MIN_RSA_BITS);
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
 out:
	EVP_PKEY_free(pkey);
	return r;
}

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
 * file.
 */
int
hw_key_open(const char *ref, const struct hw_open_opts *opts,
    struct hw_key **out, struct sd_err *e)
{
	struct hw_key *k = NULL;
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r = SD_ERR_INTERNAL, encrypted = 0;

	if (out == NULL || ref == NULL)
		return sd_err_set(e, SD_ERR_ARG, "hw_key_open: no key or output");
	*out = NULL;
	if (strncmp(ref, "pkcs11:", 7) == 0)
		return hw_key_open_pkcs11(ref, opts, out, e);
	if ((r = read_file(ref, HW_MAX_KEY_FILE, 1, "a key file", &buf, &len,
	    e)) != 0)
		goto out;
	if (hw_ykey_sniff(buf, len)) {
		r = hw_key_open_ykey(ref, buf, len, opts, out, e);
		goto out;
	}
	r = hw_decode_rsa_key(ref, buf, len, opts, &pkey, &encrypted, e);
	/* The file's bytes are not needed past this point, whatever happened. */
	sodium_free(buf);
	buf = NULL;
	if (r != 0)
		goto out;
	if ((r = hw_key_new(ref, &file_ops, &k, e)) != 0)
		goto out;
	k->backend = pkey;
	pkey = NULL;
	k->bits = EVP_PKEY_get_bits(k->backend);
	if (encrypted)
		k->flags |= HW_KEY_ENCRYPTED;
	if ((r = hw_key_attach_cert(k, k->backend, opts, e)) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
 out:
	ERR_clear_error();
	sodium_free(buf);
	EVP_PKEY_free(pkey);
	hw_key_free(k);
	return r;
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
