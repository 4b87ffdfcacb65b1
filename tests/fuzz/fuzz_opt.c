/*
 * fuzz_opt - the command line's option parser (sdtool/opt.c) with a table
 * holding every kind of option the verbs use (flags, values, lists, short
 * names, names that are prefixes of others), on an argv cut from the
 * input at NUL bytes.  Checks what the verbs rely on: every item is an
 * option of the table, a positional argument, the end, help or an error
 * with a message; a value is one of the argv strings (or inside one,
 * after '=' or a short name); the parser always moves forward.
 */
#include "fuzz.h"

#include <limits.h>

#include "../../sdtool/opt.h"

enum { O_JSON = 1, O_SD, O_KEYS, O_PASS, O_N, O_OUT, O_QUORUM, O_FORCE,
	O_SDQ, O_V };

static const struct opt table[] = {
	{ O_SD, "sd-file", 0, OPT_VALUE, "SD", "the security-domain file" },
	{ O_KEYS, "sd-wrapping-keys", 0, OPT_LIST, "KEY", "keys" },
	{ O_PASS, "password-file", 0, OPT_VALUE, "FILE", "passphrases" },
	{ O_N, "count", 'n', OPT_VALUE, "N", "how many" },
	{ O_OUT, "out", 'o', OPT_VALUE, "FILE", "output" },
	{ O_QUORUM, "sd-quorum", 0, OPT_VALUE, "M", "quorum" },
	{ O_SDQ, "sd", 0, OPT_FLAG, NULL, "a prefix of other names" },
	{ O_FORCE, "force", 'f', OPT_FLAG, NULL, "overwrite" },
	{ O_V, "verbose", 'v', OPT_FLAG, NULL, "more" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

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
	struct opt_parser p;
	char *buf, **argv;
	const char *val;
	size_t i, start;
	int argc = 1, id, prev, steps = 0;
	long n;

	if (size > 8192)
		return 0;
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
	opt_init(&p, argc, argv, table);
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
		FUZZ_CHECK(id >= 0 && id <= O_V);
		switch (id) {
		case O_JSON:
		case O_SDQ:
		case O_FORCE:
		case O_V:
			FUZZ_CHECK(val == NULL);
			break;
		default:
			FUZZ_CHECK(val != NULL && in_argv(val, argv, argc));
			if (id == O_N || id == O_QUORUM) {
				p.errbuf[0] = '\0';
				if (opt_int(&p, id == O_N ? "-n" :
				    "--sd-quorum", val, 1, LONG_MAX / 2, &n) == 0)
					FUZZ_CHECK(n >= 1 && n <= LONG_MAX / 2);
				else
					FUZZ_CHECK(p.errbuf[0] != '\0');
			}
			break;
		}
	}
	free(argv);
	free(buf);
	return 0;
}
