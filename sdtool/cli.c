#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"   /* SDTOOL_LIBEXECDIR: the Makefile */
#include "report.h"
#include "../hw/key.h"
#include "../pki/certgen.h"
#include "../sys/file.h"

const char *cli_verb_name = NULL;

/* Secrets must not reach a core file or a debugger attached later. */
int
cli_process_start(const char *who)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "sdtool %s: libsodium failed to initialize\n",
		    who);
		return -1;
	}
	return 0;
}

int
cli_finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sdtool: error writing to standard output: %s\n",
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (fclose(stdout) != 0 && errno != EBADF) {
		fprintf(stderr, "sdtool: error closing standard output: %s\n",
		    strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}

int
cli_dispatch(const char *synopsis, const struct cli_verb *table, int argc,
    char **argv)
{
	static char name[64];
	const struct cli_verb *v;
	char names[256];
	size_t used = 0;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		cli_usage(stdout, synopsis, NULL);
		for (v = table; v->name != NULL; v++)
			printf("  %-14s %s\n", v->name, v->summary);
		return EXIT_OK;
	}
	for (v = table; argc >= 2 && v->name != NULL; v++)
		if (strcmp(argv[1], v->name) == 0) {
			/* messages and usage say "sdtool card import: ..." */
			snprintf(name, sizeof(name), "%s %s", cli_verb_name,
			    v->name);
			cli_verb_name = name;
			return v->fn(argc - 1, argv + 1);
		}
	names[0] = '\0';
	for (v = table; v->name != NULL && used < sizeof(names); v++)
		used += (size_t)snprintf(names + used, sizeof(names) - used,
		    "%s%s", used ? ", " : "", v->name);
	return cli_usage_error("%s needs one of: %s", cli_verb_name, names);
}

static void
vmsg(const char *kind, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("sdtool", stderr);
	if (cli_verb_name != NULL)
		fprintf(stderr, " %s", cli_verb_name);
	fputs(": ", stderr);
	if (kind != NULL)
		fprintf(stderr, "%s: ", kind);
	if (kind == NULL) {
		char line[512];
		va_list aq;

		/* errors also feed the --json error report (report.h) */
		va_copy(aq, ap);
		vsnprintf(line, sizeof(line), fmt, aq);
		va_end(aq);
		report_note_error(NULL, line);
	}
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

void
cli_warn_quorum(unsigned required, size_t shares)
{
	if (shares > 0 && required == shares)
		cli_warn("a quorum of %u of %zu: every officer is needed, so one "
		    "lost key, card or passphrase loses the security domain "
		    "and every key of the HSM; a quorum of %u of %zu survives "
		    "one loss", required, shares, required - 1, shares);
}

int
cli_core_error(int code, const struct sd_err *e, const char *what, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, what);
	vsnprintf(buf, sizeof(buf), what, ap);
	va_end(ap);
	if (e != NULL && e->msg[0] != '\0')
		cli_error("%s: %s", buf, e->msg);
	else
		cli_error("%s: %s", buf, sd_strerror(code));
	report_note_error(report_code_of(code), NULL);
	return EXIT_FAIL;
}

int
cli_usage(FILE *to, const char *synopsis, const struct opt *opts)
{
	char left[64];

	fprintf(to, "usage: sdtool %s %s\n", cli_verb_name ? cli_verb_name : "",
	    synopsis);
	if (opts != NULL && opts->id != 0)
		fputs("\noptions:\n", to);
	for (; opts != NULL && opts->id != 0; opts++) {
		if (opts->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s%s",
			    opts->short_name, opts->name,
			    opts->metavar ? " " : "",
			    opts->metavar ? opts->metavar : "",
			    opts->kind == OPT_LIST ? "..." : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s%s", opts->name,
			    opts->metavar ? " " : "",
			    opts->metavar ? opts->metavar : "",
			    opts->kind == OPT_LIST ? "..." : "");
		fprintf(to, "  %-30s %s\n", left, opts->help);
	}
	fprintf(to, "  %-30s %s\n", "-h, --help", "show this help");
	return to == stdout ? EXIT_OK : EXIT_USAGE;
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	report_note_code("usage");
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	fprintf(stderr, "run 'sdtool %s --help' for usage\n",
	    cli_verb_name ? cli_verb_name : "");
	return EXIT_USAGE;
}

/* The path of this executable, or "(unknown)". */
const char *
cli_self_path(void)
{
	static char self[PATH_MAX];
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return "(unknown)";
	self[n] = '\0';
	return self;
}

/*
 * Where a helper may be: beside this binary (a build tree, or a
 * self-contained install), then the install's libexec directory.  Never
 * through $PATH: a program found there could be anyone's.
 */
int
cli_helper_find(const char *prog, char *buf, size_t size, char *looked,
    size_t looked_size)
{
	char self[PATH_MAX], *slash;
	const char *dirs[2];
	struct stat st;
	size_t i, used = 0;

	looked[0] = '\0';
	dirs[0] = NULL;
	snprintf(self, sizeof(self), "%s", cli_self_path());
	if (self[0] == '/' && (slash = strrchr(self, '/')) != NULL) {
		*slash = '\0';
		dirs[0] = self;
	}
	dirs[1] = SDTOOL_LIBEXECDIR;
	for (i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		if (snprintf(buf, size, "%s/%s", dirs[i], prog) >= (int)size)
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return 0;
		if (used < looked_size)
			used += (size_t)snprintf(looked + used, looked_size -
			    used, "%s%s", used ? ", " : "", buf);
	}
	return -1;
}

int
cli_helper_run_input(const char *prog, const char *package,
    char *const argv[], const void *in, size_t len)
{
	char path[PATH_MAX], looked[2 * PATH_MAX + 8];
	char **args = NULL;
	const uint8_t *p = in;
	size_t n, off = 0;
	ssize_t w;
	pid_t pid;
	int fds[2] = { -1, -1 }, status, ret = -1;

	if (cli_helper_find(prog, path, sizeof(path), looked,
	    sizeof(looked)) != 0) {
		cli_error("this needs %s, which is not installed (looked for "
		    "%s): install the package %s", prog, looked, package);
		return -1;
	}
	for (n = 0; argv[n] != NULL; n++)
		;
	if ((args = calloc(n + 2, sizeof(*args))) == NULL) {
		cli_error("out of memory");
		return -1;
	}
	args[0] = path;
	memcpy(args + 1, argv, n * sizeof(*args));
	fflush(stdout);
	if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) == -1) {
		cli_error("cannot run %s: %s", path, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		execv(path, args);
		_exit(127);
	}
	close(fds[0]);
	fds[0] = -1;
	/* a helper that stops reading must not kill us with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	while (off < len) {
		if ((w = write(fds[1], p + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	close(fds[1]);
	fds[1] = -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			cli_error("%s: %s", path, strerror(errno));
			goto out;
		}
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else
		cli_error("%s ended by signal %d", path, WTERMSIG(status));
 out:
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	free(args);
	return ret;
}

int
cli_json_requested(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	}
	return 0;
}

int
cli_write_new_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct sd_err e = { "" };

	if (strcmp(path, "-") == 0) {
		/* standard output, for a pipe; never a private key */
		if ((mode & 077) == 0) {
			cli_error("-: will not write a private key to standard "
			    "output; give a file name");
			return -1;
		}
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
			cli_error("-: writing standard output: %s",
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (sys_write_new_file(path, buf, len, mode, &e) != 0) {
		if (e.msg[0] != '\0' && strstr(e.msg, "already exists") != NULL)
			report_note_code("file_exists");
		cli_error("%s", e.msg);
		return -1;
	}
	return 0;
}

int
cli_write_cert(const char *path, struct x509_st *cert)
{
	struct sd_err e = { "" };
	char *pem = NULL;
	size_t len = 0;
	int r;

	if ((r = certgen_cert_pem(cert, &pem, &len, &e)) != 0) {
		cli_core_error(r, &e, "%s", path);
		return -1;
	}
	r = cli_write_new_file(path, pem, len, 0644);
	free(pem);
	return r;
}

int
cli_join_path(char *buf, size_t size, const char *dir, const char *name)
{
	if (sys_join_path(buf, size, dir, name) != 0) {
		cli_error("%s: path too long", dir);
		return -1;
	}
	return 0;
}

void
cli_progress_tick(void *ctx, int phase)
{
	static const char marks[] = ".+*";

	(void)ctx;
	if (phase >= 0 && phase <= 2)
		fputc(marks[phase], stderr);
}

int
cli_refuse_existing(const char *path)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return 0;   /* standard output */
	if (lstat(path, &st) == 0) {
		report_note_code("file_exists");
		cli_error("%s: already exists; not overwriting it", path);
		return -1;
	}
	return 0;
}

int
cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	struct sd_err e = { "" };
	int r;

	if ((r = sys_read_file(path, max, buf, len, &e)) != 0) {
		/* the detail already names the file */
		if (e.msg[0] != '\0')
			cli_error("%s", e.msg);
		else
			cli_error("%s: %s", path, sd_strerror(r));
		report_note_error(r == SD_ERR_LIMIT ? "too_large" :
		    "cannot_read", NULL);
		return -1;
	}
	return 0;
}

/*
 * Terminal prompts.  Echo is restored on every exit, including a signal
 * arriving while the officer types.
 */
static struct termios saved_tio;
static int tty_fd = -1;
static volatile sig_atomic_t tty_dirty;

static void
restore_tty_on_signal(int sig)
{
	if (tty_dirty)
		tcsetattr(tty_fd, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
read_tty_line(const char *prompt, char *buf, size_t size)
{
	struct termios tio;
	struct sigaction sa, old[3];
	const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	size_t n = 0;
	ssize_t r;
	char c;
	int i, ret = -1;

	if ((tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (tcgetattr(tty_fd, &saved_tio) == -1)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_tty_on_signal;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tio.c_lflag |= ICANON;
	tty_dirty = 1;
	if (tcsetattr(tty_fd, TCSAFLUSH, &tio) == -1)
		goto restore;
	if (write(tty_fd, prompt, strlen(prompt)) == -1)
		goto restore;
	for (;;) {
		r = read(tty_fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r != 1 || c == '\n' || c == '\r')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	c = 0;
	(void)!write(tty_fd, "\n", 1);
	ret = r == 1 || n > 0 ? 0 : -1;
 restore:
	tcsetattr(tty_fd, TCSAFLUSH, &saved_tio);
	tty_dirty = 0;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
 out:
	close(tty_fd);
	tty_fd = -1;
	return ret;
}

/*
 * Read a passphrase file once, into guarded memory: a regular file or a
 * pipe (`--password-file <(pass show hsm/officer0)`), which can be read
 * only once, hence the cache.
 */
static int
pass_load(struct cli_pass *pass)
{
	struct stat st;
	ssize_t n;
	int fd, ret = -1;

	if (pass->text != NULL)
		return 0;
	/* "-": standard input (a pipe from a secret store, never argv) */
	if ((fd = strcmp(pass->file, "-") == 0 ? dup(0) :
	    open(pass->file, O_RDONLY | O_CLOEXEC)) == -1) {
		cli_error("--password-file %s: %s", pass->file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		cli_error("--password-file %s: not a file", pass->file);
		goto out;
	}
	if ((pass->text = sodium_malloc(CLI_MAX_PASSFILE + 1)) == NULL) {
		cli_error("out of locked memory");
		goto out;
	}
	pass->len = 0;
	while (pass->len < CLI_MAX_PASSFILE) {
		n = read(fd, pass->text + pass->len, CLI_MAX_PASSFILE - pass->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cli_error("--password-file %s: %s", pass->file,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		pass->len += (size_t)n;
	}
	if (pass->len == CLI_MAX_PASSFILE) {
		cli_error("--password-file %s: larger than %d bytes", pass->file,
		    CLI_MAX_PASSFILE);
		goto out;
	}
	pass->text[pass->len] = '\0';
	/* Lines are walked as C strings: a NUL would cut one silently. */
	if (memchr(pass->text, '\0', pass->len) != NULL) {
		cli_error("--password-file %s: holds a NUL byte", pass->file);
		goto out;
	}
	ret = 0;
 out:
	if (ret != 0 && pass->text != NULL) {
		sodium_free(pass->text);
		pass->text = NULL;
	}
	close(fd);
	return ret;
}

void
cli_pass_clear(struct cli_pass *pass)
{
	if (pass->text != NULL)
		sodium_free(pass->text);
	pass->text = NULL;
	pass->len = 0;
}

/* Line `index` of the passphrase file (or its only line) into buf. */
static int
passphrase_from_file(struct cli_pass *pass, char *buf, size_t size)
{
	const char *line, *end;
	size_t nlines = 0, i, n;

	if (pass_load(pass) != 0)
		return -1;
	for (i = 0; i < pass->len; i++)
		if (pass->text[i] == '\n' || i + 1 == pass->len)
			nlines++;
	if (nlines == 0) {
		cli_error("--password-file %s: empty", pass->file);
		return -1;
	}
	if (nlines > 1 && (size_t)pass->index >= nlines) {
		cli_error("--password-file %s: has %zu lines, none for key #%d",
		    pass->file, nlines, pass->index + 1);
		return -1;
	}
	line = pass->text;
	for (i = 0; nlines > 1 && i < (size_t)pass->index; i++)
		line = strchr(line, '\n') + 1;
	if ((end = strchr(line, '\n')) == NULL)
		end = line + strlen(line);
	n = (size_t)(end - line);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n + 1 > size) {
		cli_error("--password-file %s: passphrase too long", pass->file);
		return -1;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';
	return 0;
}

int
cli_passphrase(void *ctx, const char *ref, char *buf, size_t size)
{
	struct cli_pass *pass = ctx;
	char prompt[512];

	if (pass != NULL && pass->file != NULL)
		return passphrase_from_file(pass, buf, size) == 0 ? 0 :
		    SD_ERR_PASSPHRASE;
	if (pass != NULL && pass->attempt > 0)
		snprintf(prompt, sizeof(prompt), "Passphrase for %s (again): ",
		    ref);
	else
		snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", ref);
	if (read_tty_line(prompt, buf, size) == -1)
		return SD_ERR_PASSPHRASE;
	return 0;
}

int
cli_new_passphrase(const char *file, const char *what, char *buf, size_t size)
{
	char prompt[512];
	char *again = NULL;
	int r, tries, ret = -1;

	if (file != NULL) {
		struct cli_pass pass = { file, 0, NULL, 0, 0 };

		r = passphrase_from_file(&pass, buf, size);
		cli_pass_clear(&pass);
		if (r != 0)
			return -1;
		if (strlen(buf) < 8) {
			cli_error("%s: passphrase shorter than 8 characters",
			    what);
			goto out;
		}
		ret = 0;
		goto out;
	}
	if ((again = sodium_malloc(size)) == NULL) {
		cli_error("out of memory");
		return -1;
	}
	/*
	 * At the terminal, a passphrase too short or a confirmation that
	 * differs asks this entry again (3 tries), not the whole run: the
	 * other officers' entries are kept.
	 */
	for (tries = 1; tries <= 3; tries++) {
		snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", what);
		if (read_tty_line(prompt, buf, size) == -1) {
			cli_error("%s: no terminal to ask for a passphrase; use "
			    "--password-file or --no-passphrase", what);
			goto out;
		}
		if (strlen(buf) < 8) {
			if (tries == 3) {
				cli_error("%s: passphrase shorter than 8 "
				    "characters", what);
				goto out;
			}
			fprintf(stderr, "%s: shorter than 8 characters; again "
			    "(%d of 3)\n", what, tries + 1);
			continue;
		}
		snprintf(prompt, sizeof(prompt), "Same passphrase again: ");
		/* both are secrets: compare in constant time */
		if (read_tty_line(prompt, again, size) == -1) {
			cli_error("%s: no confirmation typed", what);
			goto out;
		}
		if (strlen(buf) == strlen(again) &&
		    sodium_memcmp(buf, again, strlen(buf)) == 0) {
			ret = 0;
			goto out;
		}
		if (tries == 3) {
			cli_error("%s: the two passphrases differ", what);
			goto out;
		}
		fprintf(stderr, "%s: the two passphrases differ; this entry "
		    "again (%d of 3)\n", what, tries + 1);
	}
 out:
	if (again != NULL)
		sodium_free(again);
	if (ret != 0)
		sodium_memzero(buf, size);
	return ret;
}

int
cli_ask_secret(const char *prompt, char *buf, size_t size)
{
	return read_tty_line(prompt, buf, size);
}

int
cli_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

int
cli_stderr_is_tty(void)
{
	return isatty(STDERR_FILENO);
}

void
cli_print_json(const void *value)
{
	json_dumpf((const json_t *)value, stdout,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}
