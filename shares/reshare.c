/*
 * reshare.c - a new SD file for the same data items (see reshare.h).
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reshare.h"
#include "shamir.h"

int
sd_quorum_open(const struct sd_file *sd, struct sd_secret *const *shares,
    struct sd_secret **masterp, struct sd_secret ***pts, struct sd_err *e)
{
	const uint8_t *parts[SD_MAX_SHARES];
	struct sd_secret *master = NULL;
	size_t i, n = 0;
	int r = SD_ERR_INTERNAL;

	*pts = NULL;
	if (masterp != NULL)
		*masterp = NULL;
	if (sd->n_shares > SD_MAX_SHARES)
		return sd_err_set(e, SD_ERR_RANGE, "%zu shares", sd->n_shares);
	for (i = 0; i < sd->n_shares && n < sd->required; i++)
		if (shares[i] != NULL)
			parts[n++] = shares[i]->p;
	if (n < sd->required)
		return sd_err_set(e, SD_ERR_QUORUM, "%zu of the %u shares needed "
		    "were opened", n, sd->required);
	if ((r = shamir_combine(parts, n, SD_SHARE_LEN, &master, e)) != 0) {
		sd_err_prefix(e, r, "the opened shares do not recombine");
		goto out;
	}
	if ((r = sd_data_open(&sd->data, master, pts, e)) != 0) {
		sd_err_prefix(e, r, "the data items do not authenticate under the "
		    "recombined secret (a damaged file, or a share that does not "
		    "belong to it)");
		goto out;
	}
	if (masterp != NULL) {
		*masterp = master;
		master = NULL;
	}
	r = 0;
 out:
	sd_secret_free(master);
	return r;
}

int
sd_same_data(const struct sd_enc_data *da, struct sd_secret *const *pa,
    const struct sd_enc_data *db, struct sd_secret *const *pb, size_t *item,
    struct sd_err *e)
{
	size_t i, n = da->n < db->n ? da->n : db->n;

	if (item != NULL)
		*item = n;
	/* tags, counts and lengths are public (inspect shows them) */
	for (i = 0; i < n; i++) {
		if (item != NULL)
			*item = i;
		if (strcmp(da->items[i].tag, db->items[i].tag) != 0)
			return sd_err_set(e, SD_ERR_DATA_DIFFER, "data item %zu: "
			    "%s in one file, %s in the other", i + 1,
			    da->items[i].tag, db->items[i].tag);
		if (pa[i]->len != pb[i]->len)
			return sd_err_set(e, SD_ERR_DATA_DIFFER, "data item %zu "
			    "(%s): %zu bytes in one file, %zu in the other",
			    i + 1, da->items[i].tag, pa[i]->len, pb[i]->len);
		if (pa[i]->len > 0 &&
		    sodium_memcmp(pa[i]->p, pb[i]->p, pa[i]->len) != 0)
			return sd_err_set(e, SD_ERR_DATA_DIFFER, "data item %zu "
			    "(%s): the contents differ", i + 1, da->items[i].tag);
	}
	if (da->n != db->n) {
		if (item != NULL)
			*item = n;
		return sd_err_set(e, SD_ERR_DATA_DIFFER, "%zu data items in one "
		    "file, %zu in the other", da->n, db->n);
	}
	return 0;
}

int
sd_item_sha256(const struct sd_secret *pt, char hex[static 65])
{
	uint8_t d[32];
	unsigned int dlen = 0;

	hex[0] = '\0';
	if (EVP_Digest(pt->p, pt->len, d, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != sizeof(d))
		return SD_ERR_CRYPTO;
	sodium_bin2hex(hex, 65, d, sizeof(d));
	return 0;
}

int
sd_reshare(const struct sd_file *sd, const struct sd_secret *old_master,
    struct sd_secret *const *pts, const struct sd_recipient *rcpt,
    size_t n_rcpt, unsigned required, const struct sd_rng *rng,
    struct sd_file **out, struct sd_err *e)
{
	struct sd_secret *master = NULL, **check = NULL;
	struct sd_file *nsd = NULL;
	const char **tags = NULL;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (n_rcpt < 3 || n_rcpt > SD_MAX_SHARES || required < SD_MIN_REQUIRED ||
	    required > n_rcpt)
		return sd_err_set(e, SD_ERR_RANGE, "quorum %u of %zu shares: the "
		    "service takes 3 to %d shares and a quorum of %d up to "
		    "their number", required, n_rcpt, SD_MAX_SHARES,
		    SD_MIN_REQUIRED);
	if (old_master->len != SD_SECRET_LEN)
		return sd_err_set(e, SD_ERR_ARG, "master secret is %zu bytes",
		    old_master->len);
	if ((tags = calloc(sd->data.n ? sd->data.n : 1, sizeof(*tags))) == NULL ||
	    (master = sd_secret_new(SD_SECRET_LEN)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < sd->data.n; i++)
		tags[i] = sd->data.items[i].tag;
	sd_random(rng, master->p, master->len);
	/* 2^-256 by chance: equality means the random source is broken */
	if (sodium_memcmp(master->p, old_master->p, SD_SECRET_LEN) == 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "the random source returned the "
		    "old master secret again; refusing to write a file that "
		    "would rotate nothing");
		goto out;
	}
	if ((r = sd_file_build(master, tags, pts, sd->data.n, rcpt, n_rcpt,
	    required, rng, &nsd, e)) != 0)
		goto out;
	/* what we hand out must hold what we read */
	if ((r = sd_data_open(&nsd->data, master, &check, e)) != 0 ||
	    (r = sd_same_data(&sd->data, pts, &nsd->data, check, NULL,
	    e)) != 0) {
		sd_err_prefix(e, SD_ERR_INTERNAL, "the new file's data items "
		    "do not check");
		r = SD_ERR_INTERNAL;
		goto out;
	}
	*out = nsd;
	nsd = NULL;
	r = 0;
 out:
	sd_plaintexts_free(check, sd->data.n);
	sd_secret_free(master);
	sd_file_free(nsd);
	free(tags);
	return r;
}

/* Next k-combination of 0..n-1 in lexicographic order; 0 at the end. */
static int
next_combination(size_t *c, size_t k, size_t n)
{
	size_t i = k;

	while (i > 0 && c[i - 1] == n - k + i - 1)
		i--;
	if (i == 0)
		return 0;
	c[i - 1]++;
	for (; i < k; i++)
		c[i] = c[i - 1] + 1;
	return 1;
}

int
sd_quorums_check(const struct sd_file *sd, struct sd_secret *const *shares,
    const struct sd_enc_data *ref_data, struct sd_secret *const *ref,
    size_t *n_checked, size_t *n_ok, struct sd_err *e)
{
	struct sd_secret *subset[SD_MAX_SHARES], **pts = NULL;
	size_t opened[SD_MAX_SHARES], c[SD_MAX_SHARES], n = 0, i, off;
	struct sd_err qe = { "" };
	char name[64];
	int r, first = 0;

	*n_checked = *n_ok = 0;
	if (sd->n_shares > SD_MAX_SHARES || sd->required < SD_MIN_REQUIRED)
		return sd_err_set(e, SD_ERR_RANGE, "quorum %u of %zu shares",
		    sd->required, sd->n_shares);
	for (i = 0; i < sd->n_shares; i++)
		if (shares[i] != NULL)
			opened[n++] = i;
	if (n < sd->required)
		return sd_err_set(e, SD_ERR_QUORUM, "%zu of the %u shares needed "
		    "were opened", n, sd->required);
	for (i = 0; i < sd->required; i++)
		c[i] = i;
	do {
		memset(subset, 0, sizeof(subset));
		for (i = 0; i < sd->required; i++)
			subset[opened[c[i]]] = shares[opened[c[i]]];
		sd_err_clear(&qe);
		if ((r = sd_quorum_open(sd, subset, NULL, &pts, &qe)) == 0)
			r = sd_same_data(ref_data, ref, &sd->data, pts, NULL, &qe);
		sd_plaintexts_free(pts, sd->data.n);
		pts = NULL;
		(*n_checked)++;
		if (r == 0) {
			(*n_ok)++;
		} else if (first == 0) {
			first = r;
			for (i = 0, off = 0; i < sd->required && off < sizeof(name);
			    i++)
				off += (size_t)snprintf(name + off,
				    sizeof(name) - off, "%s#%zu", i ? " + " : "",
				    opened[c[i]] + 1);
			sd_err_set(e, r, "shares %s: %s", name, qe.msg[0] ?
			    qe.msg : sd_strerror(r));
		}
	} while (next_combination(c, sd->required, n));
	return first;
}
