#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

void
opt_init(struct opt_parser *p, int argc, char **argv, const struct opt *opts)
{
	memset(p, 0, sizeof(*p));
	p->argc = argc;
	p->argv = argv;
	p->i = 1;
	p->opts = opts;
}

static const struct opt *
find_long(const struct opt *opts, const char *name, size_t len)
{
	for (; opts->id != 0; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

static const struct opt *
find_short(const struct opt *opts, char c)
{
	for (; opts->id != 0; opts++)
		if (opts->short_name != 0 && opts->short_name == c)
			return opts;
	return NULL;
}

int
opt_next(struct opt_parser *p, const char **val)
{
	const struct opt *o;
	const char *arg, *eq;

	*val = NULL;
	if (p->i >= p->argc)
		return -1;
	arg = p->argv[p->i];

	if (p->no_more_opts || arg[0] != '-' || arg[1] == '\0') {
		p->i++;
		*val = arg;
		/* Arguments after a list option belong to it. */
		if (p->list != NULL && !p->no_more_opts)
			return p->list->id;
		return 0;
	}
	p->list = NULL;
	p->i++;
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		return OPT_HELP;
	if (strcmp(arg, "--") == 0) {
		p->no_more_opts = 1;
		return opt_next(p, val);
	}
	if (arg[1] == '-') {
		eq = strchr(arg + 2, '=');
		o = find_long(p->opts, arg + 2,
		    eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2));
		if (o == NULL && strncmp(arg, "--passwords", 11) == 0 &&
		    (arg[11] == '\0' || arg[11] == '=') &&
		    find_long(p->opts, "password-file", 13) != NULL) {
			/* azure-cli's option: passphrases on argv, seen by ps */
			snprintf(p->errbuf, sizeof(p->errbuf), "--passwords "
			    "would put passphrases on the command line, where "
			    "ps shows them: use --password-file FILE (one line "
			    "per key) or --password-file - (standard input)");
			return -2;
		}
		if (o == NULL) {
			snprintf(p->errbuf, sizeof(p->errbuf),
			    "unknown option %.*s", eq ? (int)(eq - arg) : 80, arg);
			return -2;
		}
		if (o->kind == OPT_FLAG) {
			if (eq != NULL) {
				snprintf(p->errbuf, sizeof(p->errbuf),
				    "option --%s takes no value", o->name);
				return -2;
			}
			return o->id;
		}
		if (eq != NULL) {
			*val = eq + 1;
		} else {
			if (p->i >= p->argc) {
				snprintf(p->errbuf, sizeof(p->errbuf),
				    "option --%s needs a value (%s)", o->name,
				    o->metavar ? o->metavar : "VALUE");
				return -2;
			}
			*val = p->argv[p->i++];
		}
		if (o->kind == OPT_LIST)
			p->list = o;
		return o->id;
	}
	/* A short option, alone: -n 3 or -n3. */
	if ((o = find_short(p->opts, arg[1])) == NULL) {
		snprintf(p->errbuf, sizeof(p->errbuf), "unknown option %.80s", arg);
		return -2;
	}
	if (o->kind == OPT_FLAG) {
		if (arg[2] != '\0') {
			snprintf(p->errbuf, sizeof(p->errbuf),
			    "unknown option %.80s", arg);
			return -2;
		}
		return o->id;
	}
	if (arg[2] != '\0') {
		*val = arg + 2;
	} else {
		if (p->i >= p->argc) {
			snprintf(p->errbuf, sizeof(p->errbuf),
			    "option -%c needs a value (%s)", o->short_name,
			    o->metavar ? o->metavar : "VALUE");
			return -2;
		}
		*val = p->argv[p->i++];
	}
	if (o->kind == OPT_LIST)
		p->list = o;
	return o->id;
}

int
opt_int(struct opt_parser *p, const char *name, const char *s, long min,
    long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0) {
		snprintf(p->errbuf, sizeof(p->errbuf),
		    "%s: \"%.40s\" is not a number", name, s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(p->errbuf, sizeof(p->errbuf),
		    "%s: %ld is out of range %ld..%ld", name, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}
