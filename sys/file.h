/*
 * sys/file.h - the one place files are read and written.
 *
 * Reading: whole regular files, bounded, into plain or guarded memory.
 * Writing: atomically (temporary file beside the target, fsync'd, then
 * published), either never replacing anything (everything the officers
 * keep) or replacing (state sdtool owns, such as a simulated HSM's).
 * Returns 0 or a negative SD_ERR_*, with the detail (naming the path) in e;
 * prints nothing.
 */
#ifndef SD_SYS_FILE_H
#define SD_SYS_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "../shares/sd_err.h"

/*
 * Read a whole regular file of at most max bytes; *buf is malloc'd and
 * NUL-terminated (the NUL not counted in *len).  A directory, a FIFO or a
 * device is refused, as is a file that changes size while being read.
 * "-" is standard input (a pipe or a file), read once per process: a
 * second "-" is SD_ERR_IO rather than an empty file.
 */
int sys_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct sd_err *e) SD_WUR;

/*
 * The same into guarded memory (sodium_malloc; release with sodium_free),
 * for files holding secrets: PINs, passphrases, key files.  `what` names
 * the file expected, for messages ("a PIN file").
 */
int sys_read_secret_file(const char *path, size_t max, const char *what,
    char **buf, size_t *len, struct sd_err *e) SD_WUR;

/*
 * Write len bytes to path atomically without ever replacing anything: a
 * temporary file beside it (O_CREAT|O_EXCL|O_NOFOLLOW, the given mode,
 * fsync'd) is hard-linked to path (failing with SD_ERR_EXISTS if path
 * exists), then unlinked, and the directory fsync'd.  On any failure
 * nothing is left behind.
 */
int sys_write_new_file(const char *path, const void *buf, size_t len,
    mode_t mode, struct sd_err *e) SD_WUR;

/*
 * Replace path atomically (temporary file, fsync, rename, directory
 * fsync): only for files sdtool owns, such as a simulator's state.
 */
int sys_replace_file(const char *path, const void *buf, size_t len,
    mode_t mode, struct sd_err *e) SD_WUR;

/*
 * dir/name into buf (without "./" for the current directory, without a
 * doubled "/").  0, or SD_ERR_LIMIT when it does not fit.
 */
int sys_join_path(char *buf, size_t size, const char *dir, const char *name)
	SD_WUR;

#endif
