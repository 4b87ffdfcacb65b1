/*
 * fuzz_opt - the command line's option parser (sdtool/opt.c) with the
 * option tables the verbs really use (collected from sdtool/cmd_*.c and
 * sim/ by opt_tables.py at build time): byte 0 of the input picks the
 * table, the rest is an argv cut at NUL bytes.  Checks what the verbs
 * rely on: every item is an option of the table, a positional argument,
 * the end, help, or an error with a message; a flag has no value and
 * any other option one that lies in an argv string (after '=' or a short
 * name, or a whole one); the parser always moves forward and ends.
 * Values are also read as numbers the way the verbs read them (opt_int).
 */
#include "fuzz.h"

#include <limits.h>

#include "../../sdtool/opt.h"
#include "opt_tables.h"

FUZZ_INIT_SODIUM()

/* Does v point into one of the argv strings? */
static int
in_argv(const char *v, char **argv, int argc)
{
	int i;

	for (i = 0; i < argc; i++)
		if (v >= argv[i] && v <= argv[i] + strlen(argv[i]))
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_opt_table *t;
	struct opt_parser p;
	char *buf, **argv;
	const char *val;
	size_t i, start;
	int argc = 1, id, prev, steps = 0;
	long n;

	if (size < 1 || size > 8192)
		return 0;
	t = &fuzz_opt_tables[data[0] % fuzz_opt_ntables];
	data++;
	size--;
	buf = fuzz_strndup(data, size);
	for (i = 0; i < size; i++)
		argc += data[i] == '\0';
	argc += 1;
	if ((argv = calloc((size_t)argc + 1, sizeof(*argv))) == NULL)
		abort();
	argv[0] = (char *)"verb";
	argc = 1;
	for (start = 0, i = 0; i <= size; i++)
		if (i == size || buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	argv[argc] = NULL;
	opt_init(&p, argc, argv, t->opts);
	for (;;) {
		prev = p.i;
		id = opt_next(&p, &val);
		FUZZ_CHECK(++steps <= argc + 1);
		if (id == OPT_END)
			break;
		FUZZ_CHECK(p.i > prev && p.i <= argc);
		if (id == OPT_HELP)
			continue;
		if (id == OPT_ERROR) {
			FUZZ_CHECK(p.errbuf[0] != '\0' &&
			    strnlen(p.errbuf, sizeof(p.errbuf)) <
			    sizeof(p.errbuf));
			break;
		}
		FUZZ_CHECK(id >= 0 && id <= t->n);
		if (id == 0) {
			FUZZ_CHECK(val != NULL && in_argv(val, argv, argc));
			continue;
		}
		if (t->opts[id - 1].kind == OPT_FLAG) {
			FUZZ_CHECK(val == NULL);
			continue;
		}
		FUZZ_CHECK(val != NULL && in_argv(val, argv, argc));
		p.errbuf[0] = '\0';
		if (opt_int(&p, t->opts[id - 1].name, val, -1000, LONG_MAX / 2,
		    &n) == 0)
			FUZZ_CHECK(n >= -1000 && n <= LONG_MAX / 2);
		else
			FUZZ_CHECK(p.errbuf[0] != '\0');
	}
	free(argv);
	free(buf);
	return 0;
}
