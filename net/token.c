/*
 * token.c - where the bearer token comes from (url.c: where it may be sent).
 *
 * The token is a secret: it is read straight into guarded memory, never
 * copied to an ordinary buffer, never put in a message, and never passed
 * on a command line (azure-cli is asked for it through a pipe).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "net.h"

extern char **environ;

/*
 * Keep the first line of buf[len] (guarded memory) and check it is a
 * token: printable ASCII, no spaces.  Returns a new secret of exactly the
 * token's bytes.
 */
static int
token_from_text(const char *buf, size_t len, const char *from,
    struct sd_secret **out, struct sd_err *e)
{
	size_t n = 0, i, k;

	*out = NULL;
	while (n < len && buf[n] != '\n')
		n++;
	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	    buf[n - 1] == '\t'))
		n--;
	i = 0;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	if (i == n)
		return sd_err_set(e, SD_ERR_FORMAT, "%s: no access token (the "
		    "first line is empty)", from);
	for (k = i; k < n; k++)
		if ((unsigned char)buf[k] <= 0x20 || (unsigned char)buf[k] >= 0x7f)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: not an access "
			    "token (the first line holds a space or a "
			    "non-printable character)", from);
	if ((*out = sd_secret_dup((const uint8_t *)buf + i, n - i)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	return 0;
}

/* Read fd to its end (at most NET_MAX_TOKEN bytes) into guarded memory. */
static int
read_secret_fd(int fd, const char *from, struct sd_secret **out,
    struct sd_err *e)
{
	struct sd_secret *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if ((buf = sd_secret_new(NET_MAX_TOKEN + 1)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	for (;;) {
		n = read(fd, buf->p + len, buf->len - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = sd_err_set(e, SD_ERR_IO, "%s: %s", from,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > NET_MAX_TOKEN) {
			r = sd_err_set(e, SD_ERR_LIMIT, "%s: larger than %u "
			    "bytes; not an access token", from, NET_MAX_TOKEN);
			goto out;
		}
	}
	buf->len = len;
	*out = buf;
	buf = NULL;
	r = 0;
 out:
	sd_secret_free(buf);
	return r;
}

static int
token_from_file(const char *path, struct sd_secret **out, struct sd_err *e)
{
	struct sd_secret *text = NULL;
	struct stat st;
	char from[512];
	int fd = -1, r = SD_ERR_INTERNAL;

	*out = NULL;
	snprintf(from, sizeof(from), "--access-token-file %s", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: %s", from, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		r = sd_err_set(e, SD_ERR_IO, "%s: not a file", from);
		goto out;
	}
	if ((r = read_secret_fd(fd, from, &text, e)) != 0 ||
	    (r = token_from_text((const char *)text->p, text->len, from, out,
	    e)) != 0)
		goto out;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	sd_secret_free(text);
	return r;
}

static int
token_from_env(const char *val, struct sd_secret **out, struct sd_err *e)
{
	int r;

	r = token_from_text(val, strlen(val), NET_TOKEN_ENV_NAME, out, e);
	/*
	 * Wipe the value where it lies (other processes of the user can read
	 * it in /proc/PID/environ) and keep it from any child process.
	 */
	sodium_memzero((char *)val, strlen(val));
	unsetenv(NET_TOKEN_ENV_NAME);
	return r;
}

/* Is an executable named name in PATH? */
static int
in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char full[4096];

	if (path == NULL || *path == '\0')
		return 0;
	for (p = path; *p != '\0'; p = *end ? end + 1 : end) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		if (end == p)
			continue;
		if (snprintf(full, sizeof(full), "%.*s/%s", (int)(end - p), p,
		    name) >= (int)sizeof(full))
			continue;
		if (access(full, X_OK) == 0)
			return 1;
	}
	return 0;
}

/*
 * azure-cli's token, through a pipe: for the Managed HSM data plane, or
 * for resource in tenant when both are given.
 */
static int
token_from_az(const char *tenant, const char *resource,
    struct sd_secret **out, struct sd_err *e)
{
	char *argv[] = {
		"az", "account", "get-access-token", "--resource",
		(char *)(resource ? resource : NET_TOKEN_RESOURCE), "--query",
		"accessToken", "--output", "tsv", NULL, NULL, NULL
	};
	posix_spawn_file_actions_t fa;
	struct sd_secret *text = NULL;
	const char *from = "az account get-access-token";
	pid_t pid = -1;
	int fds[2] = { -1, -1 }, status, fa_ok = 0, r = SD_ERR_INTERNAL, rc;

	*out = NULL;
	if (tenant != NULL) {
		argv[9] = "--tenant";
		argv[10] = (char *)tenant;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		r = sd_err_set(e, SD_ERR_IO, "%s: %s", from, strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	fa_ok = 1;
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
	    != 0 || posix_spawn_file_actions_adddup2(&fa, fds[1], 1) != 0) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((rc = posix_spawnp(&pid, "az", &fa, NULL, argv, environ)) != 0) {
		pid = -1;
		r = sd_err_set(e, SD_ERR_IO, "%s: cannot run az: %s", from,
		    strerror(rc));
		goto out;
	}
	close(fds[1]);
	fds[1] = -1;
	r = read_secret_fd(fds[0], from, &text, e);
	close(fds[0]);
	fds[0] = -1;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	pid = -1;
	if (r != 0)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = sd_err_set(e, SD_ERR_AUTH, "%s failed (%s %d); log in with "
		    "'az login', or give the token with --access-token-file",
		    from, WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	if ((r = token_from_text((const char *)text->p, text->len, from, out,
	    e)) != 0)
		goto out;
	r = 0;
 out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	if (pid != -1)
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	sd_secret_free(text);
	return r;
}

int
net_token_load(const char *file, struct sd_secret **token,
    enum net_token_source *source, struct sd_err *e)
{
	const char *env;

	*token = NULL;
	if (file != NULL) {
		*source = NET_TOKEN_FILE;
		return token_from_file(file, token, e);
	}
	if ((env = getenv(NET_TOKEN_ENV_NAME)) != NULL && *env != '\0') {
		*source = NET_TOKEN_ENV;
		return token_from_env(env, token, e);
	}
	if (in_path("az")) {
		*source = NET_TOKEN_AZ;
		return token_from_az(NULL, NULL, token, e);
	}
	return sd_err_set(e, SD_ERR_ARG, "no access token: give "
	    "--access-token-file FILE, set " NET_TOKEN_ENV_NAME ", or install "
	    "azure-cli and run 'az login' (the token is for %s)",
	    NET_TOKEN_RESOURCE);
}

int
net_token_az(const char *tenant, const char *resource,
    struct sd_secret **token, struct sd_err *e)
{
	size_t i, n = strlen(tenant);

	*token = NULL;
	if (n == 0 || n > 64)
		return sd_err_set(e, SD_ERR_ARG, "the tenant named by the "
		    "service is not a tenant id");
	for (i = 0; i < n; i++)
		if (!isascii((unsigned char)tenant[i]) ||
		    !(isalnum((unsigned char)tenant[i]) || tenant[i] == '-' ||
		    tenant[i] == '.'))
			return sd_err_set(e, SD_ERR_ARG, "the tenant named by "
			    "the service is not a tenant id");
	if (strncmp(resource, "https://", 8) != 0 || strlen(resource) > 256 ||
	    strpbrk(resource, " \t\"'\\") != NULL)
		return sd_err_set(e, SD_ERR_ARG, "the resource named by the "
		    "service is not an https:// URL");
	if (!in_path("az"))
		return sd_err_set(e, SD_ERR_ARG, "az is not installed");
	return token_from_az(tenant, resource, token, e);
}
