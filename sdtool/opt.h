/*
 * opt.h - a small table-driven option parser for the verbs.
 *
 * Why not getopt_long: azure-cli's runbooks write list options the Python
 * way, `--sd-wrapping-keys a.key b.key c.key`, and ours must read the same.
 * An OPT_LIST option takes every following argument up to the next one
 * that starts with '-'.  Options may come in any order and mix with
 * positional arguments; `--name=value` and `--` work as usual.  The same
 * table prints the options part of --help.
 */
#ifndef SDTOOL_OPT_H
#define SDTOOL_OPT_H

enum opt_kind {
	OPT_FLAG,    /* --json */
	OPT_VALUE,   /* --out FILE */
	OPT_LIST,    /* --sd-wrapping-keys KEY... */
};

struct opt {
	int id;              /* returned by opt_next; > 0 */
	const char *name;    /* long name without dashes */
	char short_name;     /* 0 for none */
	enum opt_kind kind;
	const char *metavar; /* "FILE"; NULL for flags */
	const char *help;
};

struct opt_parser {
	int argc;
	char **argv;
	int i;                    /* next argv index */
	const struct opt *opts;   /* terminated by an entry with id 0 */
	const struct opt *list;   /* the OPT_LIST being filled, or NULL */
	int no_more_opts;         /* after "--" */
	char errbuf[256];
};

/* argv[0] is the verb's name and is skipped. */
void opt_init(struct opt_parser *p, int argc, char **argv,
    const struct opt *opts);

/*
 * The next item: returns an option id (> 0) with *val its value (NULL for
 * flags), 0 with *val a positional argument, -1 at the end, OPT_HELP for
 * -h or --help, or OPT_ERROR on a usage error whose message is in
 * p->errbuf.
 */
#define OPT_END   (-1)
#define OPT_ERROR (-2)
#define OPT_HELP  (-3)
int opt_next(struct opt_parser *p, const char **val);

/*
 * Parse an integer in [min, max] for option `name`; on error writes the
 * message into p->errbuf and returns -1.
 */
int opt_int(struct opt_parser *p, const char *name, const char *s, long min,
    long max, long *out);

#endif
