/*
 * termtext.h - showing bytes from outside on a terminal, safely.
 *
 * Text that sdtool did not write itself (paths given on the command line,
 * JSON parser messages quoting the input, certificate subjects, an HSM's
 * replies, names on an escrow sheet) may hold bytes that a terminal acts
 * on: ESC and the other C0 controls, DEL, the C1 controls (8-bit CSI and
 * OSC), or Unicode format characters that change how the line reads (bidi
 * overrides such as U+202E, zero-width characters).  Everything printed
 * goes through termtext_render(), which shows such bytes as visible escapes:
 *
 *   \n \r \t             newline, carriage return, tab
 *   \xNN                 another C0 control, DEL, or a byte that is not
 *                        part of valid UTF-8 (two uppercase hex digits)
 *   \uXXXX / \UXXXXXXXX  a C1 control, a Unicode format character
 *                        (category Cf, including every bidi control), a
 *                        line or paragraph separator, or a Hangul filler
 *
 * Valid UTF-8 text otherwise passes unchanged, accents and all.  Text is
 * never cut silently: when the output buffer is too small, the rendering
 * stops at a whole character or escape and ends with TERMTEXT_CUT.
 */
#ifndef SD_TERMTEXT_H
#define SD_TERMTEXT_H

#include <stddef.h>

#include "sd_err.h"

/* What ends a rendering that did not fit. */
#define TERMTEXT_CUT "[...]"

/*
 * Render n bytes at in (NULs included, shown as \x00) into out, NUL
 * terminated, cut with TERMTEXT_CUT if outsz is too small (outsz 0 writes
 * nothing).  Returns the length of the whole rendering, like snprintf: the
 * output was cut when the result is >= outsz.
 */
size_t termtext_render(const void *in, size_t n, char *out, size_t outsz);

/*
 * The rendering of the C string s (NULL gives "(none)") in a new malloc'd
 * string, or NULL when memory is short.
 */
char *termtext_dup(const char *s) SD_WUR;

/*
 * For JSON output (which escapes controls itself but can carry only valid
 * UTF-8): s unchanged when it is valid UTF-8, otherwise a copy where each
 * byte that is not part of valid UTF-8 is written \xNN.  New malloc'd
 * string, NULL when memory is short.
 */
char *termtext_json_dup(const char *s) SD_WUR;

/* Is n bytes at in valid UTF-8 (no overlongs, surrogates or > U+10FFFF)? */
int termtext_valid_utf8(const void *in, size_t n);

/*
 * Does n bytes at in hold a bidi control (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069), which can make a name display as
 * something else?  Returns 1 and the code point in *cp (if not NULL).
 */
int termtext_has_bidi(const void *in, size_t n, unsigned long *cp);

#endif
