#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdf.h"
#include "sdops.h"
#include "shamir.h"

static int
pkey_decrypt(void *ctx, const uint8_t *in, size_t in_len,
    struct sd_secret **out, struct sd_err *e)
{
	return rsa_oaep256_decrypt(ctx, in, in_len, out, e);
}

void
sd_decryptor_from_pkey(struct sd_decryptor *d, EVP_PKEY *priv)
{
	d->oaep256_decrypt = pkey_decrypt;
	d->ctx = priv;
}

/* Unwrap a JWE's content key through dec and decrypt the JWE with it. */
static int
open_rsa_jwe(const struct jwe *j, const struct sd_decryptor *dec,
    struct sd_secret **pt, struct sd_err *e)
{
	struct sd_secret *cek = NULL;
	int r = SD_ERR_INTERNAL;

	*pt = NULL;
	if ((r = dec->oaep256_decrypt(dec->ctx, j->ek, j->ek_len, &cek, e)) != 0)
		goto out;
	if (cek->len != JWE_CEK_LEN) {
		r = sd_err_set(e, SD_ERR_FORMAT, "content key is %zu bytes, "
		    "expected %d", cek->len, JWE_CEK_LEN);
		goto out;
	}
	r = jwe_decrypt(j, cek->p, pt, e);
 out:
	sd_secret_free(cek);
	return r;
}

int
sd_share_open(const struct sd_share_entry *ent, const struct sd_decryptor *dec,
    struct sd_secret **share, unsigned *x, struct sd_err *e)
{
	struct sd_secret *pt = NULL;
	int r = SD_ERR_INTERNAL;

	*share = NULL;
	*x = 0;
	if ((r = open_rsa_jwe(ent->jwe, dec, &pt, e)) != 0)
		goto out;
	if (pt->len != SD_SHARE_LEN) {
		r = sd_err_set(e, SD_ERR_SHARE, "decrypted share is %zu bytes, "
		    "expected %d", pt->len, SD_SHARE_LEN);
		goto out;
	}
	if ((r = shamir_share_x(pt->p, pt->len, x, e)) != 0)
		goto out;
	*share = pt;
	pt = NULL;
	r = 0;
 out:
	sd_secret_free(pt);
	return r;
}

/* The 64-byte content key of the data item tagged `tag`. */
static int
derive_item_key(const struct sd_secret *master, const char *tag,
    struct sd_secret **key, struct sd_err *e)
{
	struct sd_secret *k = NULL;
	int r = SD_ERR_INTERNAL;

	*key = NULL;
	if ((k = sd_secret_new(JWE_CEK_LEN)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if ((r = sd_kdf_sp800_108(master->p, master->len, (const uint8_t *)tag,
	    strlen(tag), NULL, 0, k->p, k->len, e)) != 0)
		goto out;
	*key = k;
	k = NULL;
	r = 0;
 out:
	sd_secret_free(k);
	return r;
}

void
sd_plaintexts_free(struct sd_secret **pts, size_t n)
{
	size_t i;

	if (pts == NULL)
		return;
	for (i = 0; i < n; i++)
		sd_secret_free(pts[i]);
	free(pts);
}

int
sd_data_open(const struct sd_enc_data *d, const struct sd_secret *master,
    struct sd_secret ***ptsp, struct sd_err *e)
{
	struct sd_secret **pts = NULL, *key = NULL, *pt = NULL;
	size_t i;
	int r = SD_ERR_INTERNAL;

	if (ptsp != NULL)
		*ptsp = NULL;
	if (master->len != SD_SECRET_LEN)
		return sd_err_set(e, SD_ERR_ARG, "master secret is %zu bytes",
		    master->len);
	if ((pts = calloc(d->n ? d->n : 1, sizeof(*pts))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	for (i = 0; i < d->n; i++) {
		if ((r = derive_item_key(master, d->items[i].tag, &key, e)) != 0 ||
		    (r = jwe_decrypt(d->items[i].jwe, key->p, &pt, e)) != 0) {
			sd_err_prefix(e, r, "EncData.data[%zu] (%s)", i,
			    d->items[i].tag);
			goto out;
		}
		sd_secret_free(key);
		key = NULL;
		pts[i] = pt;
		pt = NULL;
	}
	if (ptsp != NULL) {
		*ptsp = pts;
		pts = NULL;
	}
	r = 0;
 out:
	sd_secret_free(key);
	sd_secret_free(pt);
	sd_plaintexts_free(pts, d->n);
	return r;
}

/* Encrypt each plaintext under a key derived from master into dst. */
static int
enc_data_build(const struct sd_secret *master, const char *const *tags,
    struct sd_secret *const *pts, size_t n, const struct sd_rng *rng,
    struct sd_enc_data *dst, struct sd_err *e)
{
	struct sd_secret *key = NULL;
	struct sd_datum *it;
	size_t i;
	int r = SD_ERR_INTERNAL;

	if ((dst->kdf = strdup(SD_KDF_NAME)) == NULL ||
	    (dst->items = calloc(n ? n : 1, sizeof(*dst->items))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	for (i = 0; i < n; i++) {
		it = &dst->items[i];
		dst->n = i + 1;  /* so a partial array is freed */
		if ((it->tag = strdup(tags[i])) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		if ((r = derive_item_key(master, tags[i], &key, e)) != 0 ||
		    (r = jwe_encrypt_dir(key->p, tags[i], pts[i]->p, pts[i]->len,
		    rng, &it->compact_jwe, e)) != 0 ||
		    (r = jwe_parse(it->compact_jwe, strlen(it->compact_jwe),
		    &it->jwe, e)) != 0)
			goto out;
		sd_secret_free(key);
		key = NULL;
	}
	r = 0;
 out:
	sd_secret_free(key);
	return r;
}

int
sd_blob_build(const struct sd_enc_data *src, struct sd_secret *const *pts,
    EVP_PKEY *exchange_pub, const char *exchange_x5t256,
    const struct sd_rng *rng, struct sd_blob **out, struct sd_err *e)
{
	struct sd_blob *b = NULL;
	struct sd_secret *master = NULL;
	const char **tags = NULL;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (strlen(exchange_x5t256) != SD_X5T_LEN)
		return sd_err_set(e, SD_ERR_ARG, "bad exchange key thumbprint");
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (tags = calloc(src->n ? src->n : 1, sizeof(*tags))) == NULL ||
	    (master = sd_secret_new(SD_SECRET_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < src->n; i++)
		tags[i] = src->items[i].tag;
	sd_random(rng, master->p, master->len);
	if ((r = enc_data_build(master, tags, pts, src->n, rng, &b->data,
	    e)) != 0)
		goto out;
	/* "not used" is the kid the service's own client writes here. */
	if ((r = jwe_encrypt_rsa(exchange_pub, "not used", master->p,
	    master->len, rng, &b->wrapped.enc_key, e)) != 0 ||
	    (r = jwe_parse(b->wrapped.enc_key, strlen(b->wrapped.enc_key),
	    &b->wrapped.jwe, e)) != 0)
		goto out;
	memcpy(b->wrapped.x5t_256, exchange_x5t256, SD_X5T_SIZE);
	*out = b;
	b = NULL;
	r = 0;
 out:
	free(tags);
	sd_secret_free(master);
	sd_blob_free(b);
	return r;
}

int
sd_blob_open(const struct sd_blob *b, const struct sd_decryptor *dec,
    struct sd_secret ***pts, struct sd_err *e)
{
	struct sd_secret *master = NULL;
	int r = SD_ERR_INTERNAL;

	*pts = NULL;
	if ((r = open_rsa_jwe(b->wrapped.jwe, dec, &master, e)) != 0) {
		sd_err_prefix(e, r, "WrappedKey.enc_key");
		goto out;
	}
	if (master->len != SD_SECRET_LEN) {
		r = sd_err_set(e, SD_ERR_FORMAT, "WrappedKey.enc_key: wrapped key "
		    "is %zu bytes, expected %d", master->len, SD_SECRET_LEN);
		goto out;
	}
	r = sd_data_open(&b->data, master, pts, e);
 out:
	sd_secret_free(master);
	return r;
}

/* A random identifier shaped like the service's share kids (a UUID). */
static void
random_kid(const struct sd_rng *rng, char out[37])
{
	uint8_t u[16];

	sd_random(rng, u, sizeof(u));
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int
sd_file_build(const struct sd_secret *master, const char *const *tags,
    struct sd_secret *const *pts, size_t n_data,
    const struct sd_recipient *rcpt, size_t n_rcpt, unsigned required,
    const struct sd_rng *rng, struct sd_file **out, struct sd_err *e)
{
	struct sd_secret *shares[SHAMIR_MAX_SHARES] = { NULL };
	struct sd_file *sd = NULL;
	struct sd_share_entry *ent;
	char kid[37];
	size_t i;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (master->len != SD_SECRET_LEN || n_rcpt < SD_MIN_REQUIRED ||
	    n_rcpt > SD_MAX_SHARES || required < SD_MIN_REQUIRED ||
	    required > n_rcpt || n_data == 0 || n_data > SD_MAX_DATA)
		return sd_err_set(e, SD_ERR_RANGE, "quorum %u of %zu shares, "
		    "%zu data items: out of range", required, n_rcpt, n_data);
	if ((sd = calloc(1, sizeof(*sd))) == NULL ||
	    (sd->shares = calloc(n_rcpt, sizeof(*sd->shares))) == NULL ||
	    (sd->key_algorithm = strdup(SD_KEY_ALGORITHM)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	sd->version = SD_FILE_VERSION;
	sd->required = required;
	if ((r = shamir_split(master->p, master->len, required,
	    (unsigned)n_rcpt, rng, shares, e)) != 0)
		goto out;
	for (i = 0; i < n_rcpt; i++) {
		ent = &sd->shares[i];
		sd->n_shares = i + 1;
		random_kid(rng, kid);
		if ((r = jwe_encrypt_rsa(rcpt[i].pub, kid, shares[i]->p,
		    shares[i]->len, rng, &ent->enc_key, e)) != 0 ||
		    (r = jwe_parse(ent->enc_key, strlen(ent->enc_key), &ent->jwe,
		    e)) != 0) {
			sd_err_prefix(e, r, "share %zu", i);
			goto out;
		}
		memcpy(ent->x5t_256, rcpt[i].x5t_256, SD_X5T_SIZE);
	}
	if ((r = enc_data_build(master, tags, pts, n_data, rng, &sd->data,
	    e)) != 0)
		goto out;
	*out = sd;
	sd = NULL;
	r = 0;
 out:
	for (i = 0; i < SHAMIR_MAX_SHARES; i++)
		sd_secret_free(shares[i]);
	sd_file_free(sd);
	return r;
}
