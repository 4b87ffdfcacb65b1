/*
 * kbcheck.h - `verify --key-backup`: open key backups with the backup
 * protection key of an SD file a quorum has opened, and tell per file
 * what was proved.  Kept apart from cmd_verify.c so the verb calls it in
 * one block: run, then render (text or JSON) from the same report.
 */
#ifndef SDTOOL_KBCHECK_H
#define SDTOOL_KBCHECK_H

#include <stddef.h>

#include <jansson.h>

#include "../shares/backup.h"
#include "../shares/sdfile.h"
#include "../shares/secret.h"

enum kb_status {
	KB_OPENED,          /* opens with this SD's backup protection key */
	KB_WRONG_SD,        /* authentication failed: another SD, or altered */
	KB_DAMAGED,         /* a key backup's shape, but malformed */
	KB_NOT_BACKUP,      /* not a key backup at all */
	KB_UNSUPPORTED,     /* opens, but a backup format we do not know */
	KB_UNREADABLE,      /* the file could not be read */
	KB_NOT_CHECKED,     /* no quorum opened the SD file */
};

struct kb_result {
	const char *file;
	enum kb_status status;
	char detail[512];
	char sha256[65];             /* of the file; "" when unreadable */
	struct sd_key_backup *kb;    /* when opened */
};

struct kb_check {
	size_t n, n_opened;
	struct kb_result *res;
	char *sdid;                  /* the SD's identity, when read */
	char error[512];             /* why nothing could be checked */
};

/*
 * Recombine the `required` shares given (a quorum that authenticated
 * every data item), decrypt the data items, take the backup protection
 * key and open files[0..n-1] with it.  Per-file failures are recorded,
 * not fatal; with quorum NULL every file is KB_NOT_CHECKED.  Returns 0,
 * or -1 when the SD file holds no usable backup protection key (reason in
 * kc->error; every file KB_NOT_CHECKED).
 */
int kb_check_run(const struct sd_file *sd, const uint8_t *const *quorum,
    char *const *files, size_t n, struct kb_check *kc);
void kb_check_clear(struct kb_check *kc);

/* Are all files opened? */
int kb_check_ok(const struct kb_check *kc);

/*
 * One line on stderr per file that did not open ("sdtool verify: FILE:
 * key backup not opened: why"), in text and JSON mode alike.
 */
void kb_check_errors(const struct kb_check *kc);

/* Text: one line per file, under the caller's report. */
void kb_check_print(const struct kb_check *kc);

/* JSON: {"sdid":..., "key_backups":[...]} members added to root. */
void kb_check_json(const struct kb_check *kc, json_t *root);

#endif
