/*
 * yk_soft.c - sdtool's SOFTWARE YubiKey responder: a TEST DEVICE.
 *
 * It answers challenges exactly as a YubiKey slot set for HMAC-SHA1
 * challenge-response with variable-length challenges does (yk_soft_hmac,
 * OpenSSL's HMAC), from secrets kept in a file, so that `sdtool yk` and
 * .ykey key references can be tested end to end without hardware.  A
 * secret in a file protects nothing: that is the whole difference from
 * a YubiKey, and why this device is reachable only by naming its file
 * ($SDTOOL_YK_SOFTWARE_SECRET_FILE in the command-line tool), whose
 * first line must say what it is:
 *
 *   # sdtool software YubiKey: a TEST device; it protects nothing.
 *   serial 1000001
 *   slot1 <40 hex digits: the 20-byte HMAC-SHA1 secret>
 *   slot2 <40 hex digits>
 *
 * A slot that is not listed answers as an unconfigured YubiKey slot:
 * with an error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "key_impl.h"
#include "yk.h"
#include "../sys/file.h"

#define SOFT_MAX_FILE 4096

struct soft {
	uint8_t *secret[2];   /* guarded, YK_RESPONSE_LEN bytes, or NULL */
};

static int
soft_challenge(struct yk_backend_dev *d, int slot,
    const uint8_t block[static YK_BLOCK], uint8_t resp[static YK_RESPONSE_LEN],
    struct sd_err *e)
{
	struct soft *s = d->state;
	int r;

	if (s->secret[slot - 1] == NULL)
		return sd_err_set(e, SD_ERR_KEY, "%s: slot %d is not set for "
		    "challenge-response", d->name, slot);
	if ((r = yk_soft_hmac(s->secret[slot - 1], block, resp)) != 0)
		return sd_err_set(e, r, "%s: HMAC-SHA1 failed", d->name);
	return 0;
}

static void
soft_close(struct yk_backend_dev *d)
{
	struct soft *s = d->state;

	if (s == NULL)
		return;
	sodium_free(s->secret[0]);
	sodium_free(s->secret[1]);
	free(s);
	d->state = NULL;
}

/* 40 hex digits into a new guarded 20-byte secret. */
static int
parse_secret(const char *hex, size_t n, uint8_t **out)
{
	size_t bin_len = 0;

	*out = NULL;
	if (n != 2 * YK_RESPONSE_LEN)
		return -1;
	if ((*out = sodium_malloc(YK_RESPONSE_LEN)) == NULL)
		return -1;
	if (sodium_hex2bin(*out, YK_RESPONSE_LEN, hex, n, NULL, &bin_len,
	    NULL) != 0 || bin_len != YK_RESPONSE_LEN) {
		sodium_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
yk_soft_open(const char *path, struct yk_backend_dev *dev, struct sd_err *e)
{
	struct soft *s = NULL;
	char *buf = NULL, *line, *end, *v;
	size_t len = 0, ml = strlen(YK_SOFT_MARKER), n, lineno = 1;
	unsigned long serial = 0;
	int r = SD_ERR_INTERNAL, slot, have_serial = 0;

	memset(dev, 0, sizeof(*dev));
	if ((r = sys_read_secret_file(path, SOFT_MAX_FILE, "a software YubiKey "
	    "file", &buf, &len, e)) != 0)
		goto out;
	if (len < ml || memcmp(buf, YK_SOFT_MARKER, ml) != 0 ||
	    (buf[ml] != '\n' && buf[ml] != '\0')) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: not a software YubiKey file "
		    "(its first line must be \"%s\")", path, YK_SOFT_MARKER);
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (line = buf + ml; *line != '\0'; line = end) {
		if (*line == '\n') {
			end = line + 1;
			lineno++;
			continue;
		}
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		n = (size_t)(end - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n >= 7 && strncmp(line, "serial ", 7) == 0) {
			char num[16];

			if (n - 7 == 0 || n - 7 >= sizeof(num))
				goto bad;
			memcpy(num, line + 7, n - 7);
			num[n - 7] = '\0';
			v = NULL;
			serial = strtoul(num, &v, 10);
			if (!isdigit((unsigned char)num[0]) || *v != '\0' ||
			    serial == 0 || serial > 0xffffffffUL)
				goto bad;
			have_serial = 1;
		} else if (n >= 6 && (strncmp(line, "slot1 ", 6) == 0 ||
		    strncmp(line, "slot2 ", 6) == 0)) {
			slot = line[4] - '1';
			if (s->secret[slot] != NULL ||
			    parse_secret(line + 6, n - 6, &s->secret[slot]) != 0)
				goto bad;
		} else if (line[0] != '#') {
			goto bad;
		}
		lineno++;
		if (*end == '\n')
			end++;
		continue;
 bad:
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: line %zu: expected "
		    "\"serial N\", \"slot1 HEX40\" or \"slot2 HEX40\"", path,
		    lineno);
		goto out;
	}
	if (!have_serial) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: no \"serial N\" line",
		    path);
		goto out;
	}
	dev->kind = YK_SOFTWARE;
	dev->serial = (unsigned)serial;
	snprintf(dev->name, sizeof(dev->name), "software YubiKey serial %u "
	    "(TEST device)", dev->serial);
	dev->state = s;
	dev->challenge = soft_challenge;
	dev->close = soft_close;
	s = NULL;
	r = 0;
 out:
	if (s != NULL) {
		sodium_free(s->secret[0]);
		sodium_free(s->secret[1]);
		free(s);
	}
	sodium_free(buf);
	return r;
}
