/*
 * yk.c - choosing a YubiKey among the devices found, and asking it for
 * HMAC-SHA1 challenge-response (see yk.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "yk.h"

#define YK_MAX_DEVS 8

struct yk_dev {
	struct yk_backend_dev dev;
	hw_pin_fn notify;
	void *notify_ctx;
};

void
yk_pad_challenge(const uint8_t *chal, size_t chal_len,
    uint8_t block[static YK_BLOCK])
{
	uint8_t pad;

	memcpy(block, chal, chal_len);
	pad = chal[chal_len - 1] == 0 ? 1 : 0;
	memset(block + chal_len, pad, YK_BLOCK - chal_len);
}

int
yk_soft_hmac(const uint8_t secret[static YK_RESPONSE_LEN],
    const uint8_t block[static YK_BLOCK], uint8_t resp[static YK_RESPONSE_LEN])
{
	unsigned int len = 0;
	size_t n = YK_BLOCK;

	/* the YubiKey's rule for variable-length challenges */
	while (n > 1 && block[n - 2] == block[YK_BLOCK - 1])
		n--;
	n--;
	if (HMAC(EVP_sha1(), secret, YK_RESPONSE_LEN, block, n, resp, &len) ==
	    NULL || len != YK_RESPONSE_LEN)
		return SD_ERR_CRYPTO;
	return 0;
}

static void
close_all(struct yk_backend_dev *devs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (devs[i].close != NULL)
			devs[i].close(&devs[i]);
}

/* A YubiKey on USB may show both as HID and as a CCID reader. */
static int
seen(const struct yk_backend_dev *devs, size_t n, unsigned serial)
{
	size_t i;

	for (i = 0; serial != 0 && i < n; i++)
		if (devs[i].serial == serial)
			return 1;
	return 0;
}

int
yk_open(const struct yk_open_opts *opts, struct yk_dev **out,
    struct sd_err *e)
{
	struct yk_backend_dev devs[2 * YK_MAX_DEVS], more[YK_MAX_DEVS];
	struct sd_err hid_e = { "" }, pcsc_e = { "" };
	struct yk_dev *d = NULL;
	char found[256];
	size_t n = 0, nm = 0, i, pick = 0, hits = 0, off = 0;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	memset(devs, 0, sizeof(devs));
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	d->notify = opts->notify;
	d->notify_ctx = opts->notify_ctx;
	if (opts->software != NULL) {
		if ((r = yk_soft_open(opts->software, &d->dev, e)) != 0)
			goto out;
		if (opts->serial != 0 && d->dev.serial != opts->serial) {
			r = sd_err_set(e, SD_ERR_KEY, "YubiKey serial %u not "
			    "found; the software YubiKey is serial %u",
			    opts->serial, d->dev.serial);
			d->dev.close(&d->dev);
			goto out;
		}
		*out = d;
		d = NULL;
		r = 0;
		goto out;
	}
	(void)yk_hid_list(devs, YK_MAX_DEVS, &n, &hid_e);
	(void)yk_pcsc_list(more, YK_MAX_DEVS, &nm, &pcsc_e);
	for (i = 0; i < nm; i++) {
		if (seen(devs, n, more[i].serial))
			more[i].close(&more[i]);
		else
			devs[n++] = more[i];
	}
	if (n == 0) {
		r = sd_err_set(e, SD_ERR_KEY, "no YubiKey found (USB HID: %s; "
		    "PC/SC: %s)", hid_e.msg[0] ? hid_e.msg : "none",
		    pcsc_e.msg[0] ? pcsc_e.msg : "none");
		goto out;
	}
	found[0] = '\0';
	for (i = 0; i < n; i++) {
		if (opts->serial == 0 || devs[i].serial == opts->serial) {
			if (hits++ == 0)
				pick = i;
		}
		if (off < sizeof(found))
			off += (size_t)snprintf(found + off, sizeof(found) - off,
			    "%s%s", i ? ", " : "", devs[i].name);
	}
	if (hits == 0) {
		r = sd_err_set(e, SD_ERR_KEY, "YubiKey serial %u not found; "
		    "found %s", opts->serial, found);
		goto out;
	}
	if (hits > 1) {
		r = sd_err_set(e, SD_ERR_KEY, "%zu YubiKeys found (%s); leave "
		    "only the one to use connected", hits, found);
		goto out;
	}
	d->dev = devs[pick];
	devs[pick].close = NULL;
	*out = d;
	d = NULL;
	r = 0;
 out:
	close_all(devs, n);
	free(d);
	return r;
}

void
yk_close(struct yk_dev *d)
{
	if (d == NULL)
		return;
	if (d->dev.close != NULL)
		d->dev.close(&d->dev);
	free(d);
}

enum yk_kind
yk_kind(const struct yk_dev *d)
{
	return d->dev.kind;
}

unsigned
yk_serial(const struct yk_dev *d)
{
	return d->dev.serial;
}

const char *
yk_name(const struct yk_dev *d)
{
	return d->dev.name;
}

int
yk_challenge(struct yk_dev *d, int slot, const uint8_t *chal,
    size_t chal_len, uint8_t resp[static YK_RESPONSE_LEN], struct sd_err *e)
{
	uint8_t block[YK_BLOCK];
	int r;

	if (slot != 1 && slot != 2)
		return sd_err_set(e, SD_ERR_ARG, "YubiKey slot %d: only 1 and 2 "
		    "exist", slot);
	if (chal == NULL || chal_len == 0 || chal_len > YK_MAX_CHALLENGE)
		return sd_err_set(e, SD_ERR_ARG, "challenge of %zu bytes: 1 to "
		    "%d are accepted", chal_len, YK_MAX_CHALLENGE);
	yk_pad_challenge(chal, chal_len, block);
	/* a real key may wait for a touch; the test device must say so */
	if (d->notify != NULL)
		(void)d->notify(d->notify_ctx, d->dev.name, HW_PIN_NOTIFY |
		    (d->dev.kind == YK_SOFTWARE ? HW_PIN_TEST_DEVICE :
		    HW_PIN_TOUCH), NULL, 0);
	r = d->dev.challenge(&d->dev, slot, block, resp, e);
	sodium_memzero(block, sizeof(block));
	return r;
}
