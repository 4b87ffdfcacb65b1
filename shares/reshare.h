/*
 * reshare.h - officer rotation without the HSM.
 *
 * A recovery-mode HSM checks a restore blob only by the data items it
 * carries, never by the shares.  So a new SD file holding the same data
 * items under a fresh master secret, split to new certificates with a new
 * quorum, restores the same HSM.  This module opens an SD file with a
 * quorum of opened shares, builds such a file (through sd_file_build, the
 * writer the simulated HSM uses), and proves two sets of data items equal.
 *
 * Data items are compared as decrypted plaintexts: same count, same tags in
 * the same order, same bytes (compared in constant time).
 */
#ifndef SD_RESHARE_H
#define SD_RESHARE_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"
#include "sdfile.h"
#include "sdops.h"
#include "secret.h"

/*
 * Recombine the master secret from the first sd->required opened shares
 * in shares[0..sd->n_shares-1] (NULL where a share was not opened) and
 * authenticate every data item under it.  On success *pts holds sd->data.n
 * guarded plaintexts (sd_plaintexts_free) and, if master is not NULL,
 * *master the secret.  Fewer opened shares than the quorum give
 * SD_ERR_QUORUM; shares that do not belong together SD_ERR_SHARE or
 * SD_ERR_AUTH.
 */
int sd_quorum_open(const struct sd_file *sd, struct sd_secret *const *shares,
    struct sd_secret **master, struct sd_secret ***pts, struct sd_err *e)
    SD_WUR;

/*
 * The data items of sd, opened (pts, as from sd_quorum_open), in a new SD
 * file: a fresh SD_SECRET_LEN-byte master from rng (NULL: the system's),
 * every item re-encrypted under the keys derived from it (new IVs, same
 * tags, same order), the master split into n_rcpt shares with quorum
 * required, share i encrypted to rcpt[i].  The result is checked before it
 * is returned: its items authenticate under the new master and decrypt to
 * exactly pts, and the new master differs from old_master (a broken
 * random source gives SD_ERR_CRYPTO).  The caller has checked the
 * certificates (pki_certset_check); ranges are checked again here.
 */
int sd_reshare(const struct sd_file *sd, const struct sd_secret *old_master,
    struct sd_secret *const *pts, const struct sd_recipient *rcpt,
    size_t n_rcpt, unsigned required, const struct sd_rng *rng,
    struct sd_file **out, struct sd_err *e) SD_WUR;

/*
 * Are the opened data items a (pa, from da) and b (pb, from db) the same?
 * 0 when they are; SD_ERR_DATA_DIFFER naming the first difference ("item 2:
 * base_enclave_backup here, partition_enclave_backup there", "item 1
 * (hsm_backup): the contents differ") otherwise.  *item (if not NULL) is
 * the 0-based index of that difference, or the smaller count.
 */
int sd_same_data(const struct sd_enc_data *da, struct sd_secret *const *pa,
    const struct sd_enc_data *db, struct sd_secret *const *pb, size_t *item,
    struct sd_err *e) SD_WUR;

/* Hex SHA-256 of one opened data item: what an auditor compares. */
int sd_item_sha256(const struct sd_secret *pt, char hex[static 65]) SD_WUR;

/*
 * Every combination of sd->required shares among the opened ones
 * (shares[], NULL where not opened) must recombine to a secret under which
 * every data item authenticates and equals ref (ref_data's items, opened).
 * *n_checked and *n_ok count the combinations; the error names the first
 * that failed ("shares #1 + #4 + #5: ...").  Fewer opened shares than the
 * quorum: SD_ERR_QUORUM with nothing checked.
 */
int sd_quorums_check(const struct sd_file *sd, struct sd_secret *const *shares,
    const struct sd_enc_data *ref_data, struct sd_secret *const *ref,
    size_t *n_checked, size_t *n_ok, struct sd_err *e) SD_WUR;

#endif
