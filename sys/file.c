/*
 * file.c - reading and writing files, for every layer (see file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "file.h"

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
sys_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct sd_err *e)
{
	return read_file(path, max, 0, "a file", buf, len, e);
}

int
sys_read_secret_file(const char *path, size_t max, const char *what,
    char **buf, size_t *len, struct sd_err *e)
{
	return read_file(path, max, 1, what, buf, len, e);
}


/*
 * Publish tmp as path without replacing anything.  link(2) is atomic and
 * fails if path exists; filesystems without hard links (FAT on a USB stick,
 * where SD files often travel) get renameat2(RENAME_NOREPLACE), and failing
 * that an O_EXCL placeholder that the rename then replaces.  -1 with errno.
 */
static int
publish_noreplace(const char *tmp, const char *path)
{
	int fd;

	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	if (errno == EEXIST)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
	unlink(path);
	return -1;
}

/* The new name must survive a power cut, not only the data. */
static void
fsync_dir_of(const char *path)
{
	char *copy;
	int fd;

	if ((copy = strdup(path)) == NULL)
		return;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/*
 * Write buf to a new temporary file beside path (O_CREAT|O_EXCL|O_NOFOLLOW,
 * then mode), fsync'd; *tmpp gets its name.  On failure nothing is left.
 */
static int
write_temp(const char *path, const void *buf, size_t len, mode_t mode,
    char **tmpp, struct sd_err *e)
{
	char *copy = NULL, *base = NULL, *tmp = NULL;
	const uint8_t *p = buf;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r = SD_ERR_INTERNAL;

	*tmpp = NULL;
	if ((copy = strdup(path)) == NULL || (base = strdup(path)) == NULL ||
	    asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy), basename(base)) ==
	    -1) {
		tmp = NULL;
		r = sd_err_set(e, SD_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	/* mkostemp opens O_CREAT|O_EXCL, mode 0600 */
	if ((fd = mkostemp(tmp, O_CLOEXEC | O_NOFOLLOW)) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: cannot create a temporary "
		    "file beside it: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, mode) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: chmod: %s", path,
		    strerror(errno));
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			r = sd_err_set(e, SD_ERR_IO, "%s: write: %s", path,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: fsync: %s", path,
		    strerror(errno));
		goto out;
	}
	n = close(fd);
	fd = -1;
	if (n == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: close: %s", path,
		    strerror(errno));
		goto out;
	}
	*tmpp = tmp;
	tmp = NULL;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(copy);
	free(base);
	return r;
}

int
sys_write_new_file(const char *path, const void *buf, size_t len,
    mode_t mode, struct sd_err *e)
{
	char *tmp = NULL;
	int r, saved;

	if ((r = write_temp(path, buf, len, mode, &tmp, e)) != 0)
		return r;
	if (publish_noreplace(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		free(tmp);
		if (saved == EEXIST)
			return sd_err_set(e, SD_ERR_EXISTS, "%s: already "
			    "exists; not overwriting it", path);
		return sd_err_set(e, SD_ERR_IO, "%s: %s", path,
		    strerror(saved));
	}
	free(tmp);
	fsync_dir_of(path);
	return 0;
}

int
sys_replace_file(const char *path, const void *buf, size_t len, mode_t mode,
    struct sd_err *e)
{
	char *tmp = NULL;
	int r, saved;

	if ((r = write_temp(path, buf, len, mode, &tmp, e)) != 0)
		return r;
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		free(tmp);
		return sd_err_set(e, SD_ERR_IO, "%s: %s", path,
		    strerror(saved));
	}
	free(tmp);
	fsync_dir_of(path);
	return 0;
}

int
sys_join_path(char *buf, size_t size, const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	int n;

	if (strcmp(dir, ".") == 0)
		n = snprintf(buf, size, "%s", name);
	else if (dl > 0 && dir[dl - 1] == '/')
		n = snprintf(buf, size, "%s%s", dir, name);
	else
		n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		return SD_ERR_LIMIT;
	return 0;
}
