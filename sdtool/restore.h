/*
 * restore.h - making a restore blob from an SD file with a quorum of the
 * officers' keys: what `sdtool restore-blob` does offline, and what
 * `sdtool hsm upload --sd-wrapping-keys` (azure-cli's one-step form) does
 * before uploading.  One function, so the two can never differ.
 */
#ifndef SDTOOL_RESTORE_H
#define SDTOOL_RESTORE_H

#include <stddef.h>

#include <openssl/x509.h>

#include "keys.h"
#include "../shares/sdfile.h"

/*
 * Open sd (read from sd_path, named in messages) with refs[0..n_refs-1]
 * (key files, pkcs11: URIs, YubiKey-wrapped files; passphrases and PINs
 * from password_file or the terminal), recombine the master secret,
 * authenticate every data item, and re-encrypt them to exch (whose
 * x5t_256 is exch_x5t).  Each key's fate is printed on stderr unless
 * quiet; ks records it for a JSON report (keyset_clear it after).  On
 * success *blob_json (malloc'd, NUL-terminated) is the blob, checked to
 * read back as one, and *n_items its data items.  Returns 0, 2 for a
 * usage error (too few keys given), or 1 with the message printed.
 */
int restore_blob_make(const char *sd_path, const struct sd_file *sd,
    X509 *exch, const char *exch_x5t, char *const *refs, size_t n_refs,
    const char *password_file, int quiet, struct keyset *ks,
    char **blob_json, size_t *n_items);

#endif
