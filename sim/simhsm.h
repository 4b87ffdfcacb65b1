/*
 * simhsm.h - the simulated Managed HSM: its state directory and the three
 * things it does with a security domain (activate, init-recovery, upload),
 * shared by `sdtool sim` (a command per step) and `sdtool sim serve` (the
 * same steps behind the service's HTTP API).
 *
 * No printing and no exiting here: 0 or a negative SD_ERR_* with the
 * detail in struct sd_err, so that the command line reports it on stderr
 * and the server in an HTTP reply.  Progress of the key generation goes to
 * the caller's tick function.
 *
 * The state directory holds SIMULATED-HSM (the mark), state.json (see
 * sdtool-sim(1)), and, after the first init-recovery, exchange.key and
 * exchange.cer.  The simulated HSM keeps the SHA-256 of each data item it
 * activated, never the master secret.
 */
#ifndef SD_SIM_SIMHSM_H
#define SD_SIM_SIMHSM_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "../shares/sd_err.h"
#include "../shares/sdfile.h"
#include "../shares/secret.h"
#include "../pki/certgen.h"

#define SIMHSM_MARKER     "SIMULATED-HSM"
#define SIMHSM_STATE      "state.json"
#define SIMHSM_EXCH_KEY   "exchange.key"
#define SIMHSM_EXCH_CERT  "exchange.cer"
#define SIMHSM_MAX_STATE  (1u << 20)

/* DIR/NAME, malloc'd; NULL when out of memory. */
char *simhsm_path(const char *dir, const char *name);

/*
 * Create DIR (mode 0700) if needed and mark it simulated.  Refuses a
 * directory whose simulated HSM is already activated when
 * refuse_activated is set ("DIR: this simulated HSM is already
 * activated").
 */
int simhsm_prepare(const char *dir, int refuse_activated,
    struct sd_err *e) SD_WUR;

/* Has DIR's simulated HSM been activated (does it hold a state)? */
int simhsm_is_activated(const char *dir);

/*
 * DIR's state; refuses a directory that is not a simulated HSM ("DIR: not
 * a simulated HSM (no SIMULATED-HSM); run 'sdtool sim activate --state
 * DIR' first").
 */
int simhsm_load(const char *dir, json_t **state, struct sd_err *e) SD_WUR;

/*
 * As simhsm_load, but a directory that was never activated is made a new
 * simulated HSM (state "new", not yet saved): one that can be recovered
 * into, as a freshly created Managed HSM can.
 */
int simhsm_load_or_new(const char *dir, json_t **state, struct sd_err *e) SD_WUR;

/*
 * Called by simhsm_activate with the new SD file before the state is
 * saved; a non-zero return stops the activation there (the state stays
 * unactivated) and is returned as is.
 */
typedef int (*simhsm_deliver_fn)(void *ctx, const char *sd_json, size_t len);

/*
 * Activate: check the certificates as the service does (pki_certset_check:
 * messages name "certificate #I"), draw a master secret and the data
 * items, build the SD file, hand it to deliver, then record the state
 * ("active").  *state (may be NULL) receives the new state.
 */
int simhsm_activate(const char *dir, X509 *const *certs, size_t n,
    unsigned quorum, simhsm_deliver_fn deliver, void *ctx, json_t **state,
    struct sd_err *e) SD_WUR;

/*
 * Enter recovery mode: make the RSA-4096 exchange key the first time
 * (progress dots on stderr when progress is set), keep it, and return its
 * certificate; the state becomes "recovery".
 */
int simhsm_init_recovery(const char *dir, certgen_tick_fn progress,
    void *progress_ctx, X509 **cert,
    struct sd_err *e) SD_WUR;

/*
 * Accept a restore blob (the file's text) only if it is encrypted to this
 * HSM's exchange key, decrypts and authenticates, and carries exactly the
 * activated data items; the state becomes "restored".  Messages begin with
 * `what` (the blob's name): "BLOB: refused: ...".  SD_ERR_ARG when the HSM
 * is not in recovery mode, SD_ERR_FORMAT when the text is not a restore
 * blob, another code when the blob is refused.  *n_items receives the
 * number of data items restored.
 */
int simhsm_upload(const char *dir, const char *what, const char *blob,
    size_t len, size_t *n_items, struct sd_err *e) SD_WUR;

/*
 * The simulated HSM's keys (simkeys.c).  Activation and restore keep the
 * two BSON data items (base_enclave_backup, partition_enclave_backup) in
 * DIR, 0600: they hold the pool and backup protection keys.  Keys live in
 * DIR/keys.json, their private half masked under the pool protection key.
 */
int simhsm_enclave_save(const char *dir, const struct sd_secret *base,
    const struct sd_secret *part, struct sd_err *e) SD_WUR;

/* Key Vault key names: 1 to 127 of [0-9A-Za-z-]. */
int simhsm_key_name_ok(const char *name);

/*
 * POST /keys/{name}/create: a new RSA-HSM 2048 key; *reply is the
 * service's JSON reply (attributes and key).  SD_ERR_ARG when the name is
 * bad, the key exists, or the HSM holds no security domain.
 */
int simhsm_key_create(const char *dir, const char *name, const char *host,
    char **reply, struct sd_err *e) SD_WUR;

/*
 * POST /keys/{name}/backup: *value is base64url of the compact JWE key
 * backup under this HSM's backup protection key.  SD_ERR_NO_SHARE when no
 * such key.
 */
int simhsm_key_backup(const char *dir, const char *name,
    const char *host_address, char **value, struct sd_err *e) SD_WUR;

/*
 * POST /keys/restore with {"value": V}: accepted only when V opens with
 * this HSM's backup protection key and its key unmasks with its pool
 * protection key, that is, when this HSM holds the security domain the
 * backup was made under (SD_ERR_AUTH otherwise).  SD_ERR_RANGE when a key
 * of that name exists.  *reply as for create.
 */
int simhsm_key_restore(const char *dir, const char *value, size_t value_len,
    const char *host, char **reply, struct sd_err *e) SD_WUR;


#endif
