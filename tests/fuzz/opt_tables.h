/* The verbs' option tables, collected by opt_tables.py for fuzz_opt. */
#ifndef SD_FUZZ_OPT_TABLES_H
#define SD_FUZZ_OPT_TABLES_H
#include <stddef.h>
#include "../../sdtool/opt.h"

struct fuzz_opt_table {
	const char *where;           /* "sdtool/cmd_verify.c:opts" */
	const struct opt *opts;      /* ids 1..n in order */
	int n;
};
extern const struct fuzz_opt_table fuzz_opt_tables[];
extern const size_t fuzz_opt_ntables;
#endif
