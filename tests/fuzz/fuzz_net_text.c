/*
 * fuzz_net_text - the small text parsers of net/: the HSM URL given on
 * the command line (net_url_check, net_url_for_name), the bearer token
 * file (net_token_load from a memory file), and net_printable, which
 * must turn anything a server sends into printable ASCII that fits.
 * Byte 0 picks which; the rest is the text.
 */
#include "fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../net/net.h"

static int mfd = -1;
static char mpath[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || (mfd = memfd_create("fuzz-token", 0)) == -1)
		abort();
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct sd_secret *tok = NULL;
	enum net_token_source src = 0;
	char *s, *url = NULL, out[64];
	size_t i, n;
	int r;

	if (size < 1)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		r = net_url_check(s, &url, &e);
		fuzz_check_result(r, &e);
		FUZZ_CHECK((r == 0) == (url != NULL));
		if (r == 0)
			FUZZ_CHECK(strncmp(url, "https://", 8) == 0 ||
			    strncmp(url, "http://", 7) == 0);
		break;
	case 1:
		r = net_url_for_name(s, &url, &e);
		fuzz_check_result(r, &e);
		if (r == 0) {
			char *again = NULL;

			/* a name's URL passes the URL check */
			FUZZ_CHECK(net_url_check(url, &again, &e) == 0);
			free(again);
		}
		break;
	case 2:
		if (ftruncate(mfd, 0) == -1 || (size > 1 &&
		    pwrite(mfd, data + 1, size - 1, 0) != (ssize_t)(size - 1)))
			abort();
		r = net_token_load(mpath, &tok, &src, &e);
		fuzz_check_result(r, &e);
		if (r == 0) {
			FUZZ_CHECK(src == NET_TOKEN_FILE && tok->len > 0);
			for (i = 0; i < tok->len; i++)
				FUZZ_CHECK(tok->p[i] > 0x20 && tok->p[i] < 0x7f);
		}
		sd_secret_free(tok);
		break;
	default:
		n = size - 1;
		net_printable((const char *)data + 1, n, out, sizeof(out));
		FUZZ_CHECK(strnlen(out, sizeof(out)) < sizeof(out));
		for (i = 0; out[i] != '\0'; i++)
			FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
		break;
	}
	free(url);
	free(s);
	return 0;
}
