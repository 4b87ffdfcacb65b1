/*
 * fuzz.h - what every libFuzzer harness of tests/fuzz/ shares.
 *
 * Each harness feeds the bytes libFuzzer gives to one parser of untrusted
 * input.  Beyond "no crash, no sanitizer report", they check the core's
 * error contract: a failure is a negative SD_ERR_* code with a
 * NUL-terminated message that says something; a success hands back what
 * it promised.  FUZZ_CHECK traps (a crash libFuzzer reports) otherwise.
 *
 * Not checked here: that a message quoting the input shows its control
 * characters safely (p11_uri_parse, for one, quotes an unknown attribute
 * name raw, newline and escape sequences included).  That is the job of
 * the one renderer of untrusted text (issue 14, item 4); once it is used
 * everywhere, add the check to fuzz_check_result().
 */
#ifndef SD_FUZZ_H
#define SD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../shares/sd_err.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* r is 0 or an SD_ERR_* code; on failure e says why, in one line. */
static inline void
fuzz_check_result(int r, const struct sd_err *e)
{
	size_t n;

	FUZZ_CHECK(r <= 0 && r >= SD_ERR_LAST);
	if (r == 0)
		return;
	n = strnlen(e->msg, sizeof(e->msg));
	FUZZ_CHECK(n < sizeof(e->msg));
	FUZZ_CHECK(n > 0);
}

/* A NUL-terminated copy of the input (malloc'd: ASan sees overreads). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An exact-size copy, not NUL-terminated: reading past it is a finding. */
static inline char *
fuzz_dup(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	return s;
}

#define FUZZ_INIT_SODIUM()                                              \
int                                                                     \
LLVMFuzzerInitialize(int *argc, char ***argv)                           \
{                                                                       \
	(void)argc;                                                     \
	(void)argv;                                                     \
	if (sodium_init() < 0)                                          \
		abort();                                                \
	return 0;                                                       \
}

#endif
