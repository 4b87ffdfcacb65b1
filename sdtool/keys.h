/*
 * keys.h - opening the shares of an SD file with the officers' keys, as
 * verify and restore-blob both do, recording per key what happened so the
 * verb can tell each officer plainly.
 */
#ifndef SDTOOL_KEYS_H
#define SDTOOL_KEYS_H

#include <stddef.h>

#include "../shares/sdfile.h"
#include "../shares/secret.h"

enum key_outcome {
	KEY_OPENED,       /* opened a share no earlier key had opened */
	KEY_DUPLICATE,    /* opened a share an earlier key already opened */
	KEY_NO_SHARE,     /* no share of this file is encrypted to this key */
	KEY_PASSPHRASE,   /* wrong or missing passphrase */
	KEY_FAILED,       /* unreadable key, mismatched certificate, bad share */
	KEY_SKIPPED,      /* not needed: the quorum was already reached */
	KEY_POSITION,     /* the share opened but its x-coordinate is not */
	                  /* the position of the key's certificate */
};

/* Wrong passphrases/PINs typed at the terminal are asked again: tries. */
#define KEYS_MAX_TRIES 3

struct key_report {
	const char *ref;
	enum key_outcome outcome;
	int code;                  /* SD_ERR_* behind a failure */
	char detail[512];          /* what went wrong, for a person */
	size_t share;              /* share index (0-based) when opened */
	int by_trial;              /* matched without a certificate */
	unsigned flags;            /* HW_KEY_* */
	char x5t_256[SD_X5T_SIZE];
	char cert_not_after[32];   /* "" when no certificate */
	size_t dup_of;             /* key index that opened the share first */
	int share_known;           /* share names the share this key is for */
	                           /* (opened, or its certificate's share) */
	unsigned x;                /* the opened share's x-coordinate */
	int tries;                 /* passphrase/PIN attempts made */
};

struct keyset {
	size_t n_keys;
	struct key_report *keys;
	struct sd_secret *shares[SD_MAX_SHARES];   /* by share index */
	size_t n_opened;
};

/*
 * Open refs[0..n-1] (key references: today, key files) against sd, asking
 * passphrases through --password-file or the terminal.  Per-key failures
 * are recorded, not fatal.  At the terminal, a wrong passphrase or PIN is
 * asked again (KEYS_MAX_TRIES in all) for that key only, and each key's
 * result is shown on stderr with the progress ("2 of 3 needed opened")
 * before the next officer types.  With stop_at_quorum, keys after the quorum is
 * reached are not opened (no needless passphrase prompts).  Returns 0, or
 * -1 when memory runs out (message printed).
 */
int keyset_open(const struct sd_file *sd, char *const *refs, size_t n,
    const char *password_file, int stop_at_quorum, struct keyset *ks);
/*
 * As keyset_open, for a verb that opens two sets of keys: refs[0] takes
 * its passphrase from line first_line (0-based) of the password file, the
 * next key from the next line.  A NULL refs[i] is not opened (outcome
 * KEY_NO_SHARE, ref ""), so a caller can leave out keys it knows are not
 * for sd without shifting the lines of the others.
 */
int keyset_open_from(const struct sd_file *sd, char *const *refs, size_t n,
    const char *password_file, int first_line, int stop_at_quorum,
    struct keyset *ks);
void keyset_clear(struct keyset *ks);

/* One line telling an officer what happened to their key. */
void keyset_describe(const struct key_report *k, const struct sd_file *sd,
    const struct keyset *ks, char *buf, size_t size);

/* The outcome's word in JSON output. */
const char *key_outcome_name(enum key_outcome o);

/* Print a warning for each key whose certificate is expired. */
void keyset_warn(const struct keyset *ks);

#endif
