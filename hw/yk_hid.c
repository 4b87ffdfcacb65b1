/*
 * yk_hid.c - YubiKeys on USB HID, through Yubico's ykpers (libykpers-1,
 * which speaks the OTP interface's HID reports through libusb).
 *
 * Not exercised by `make check`, which has no YubiKey: tests/hw/ runs
 * it against a real one when SDTOOL_HW_TESTS=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <ykcore.h>
#include <ykdef.h>
#include <ykstatus.h>

#include "dl.h"
#include "yk.h"

/*
 * ykpers (and libusb under it) is opened when a YubiKey is first looked
 * for, not linked: see dl.h.  The calls below keep ykpers' own names.
 */
static const char *const ykp_names[] = {
	"yk_init", "yk_release", "yk_open_key", "yk_close_key",
	"yk_get_serial", "yk_challenge_response", "_yk_errno_location",
	"yk_strerror", "yk_usb_strerror", NULL
};
static void *ykp_syms[sizeof(ykp_names) / sizeof(ykp_names[0])];
static struct hw_dl ykp_lib = { "libykpers-1.so.1", "libykpers-1-1",
    ykp_names, ykp_syms, NULL, 0 };

#define yk_init ((int (*)(void))ykp_syms[0])
#define yk_release ((int (*)(void))ykp_syms[1])
#define yk_open_key ((YK_KEY *(*)(int))ykp_syms[2])
#define yk_close_key ((int (*)(YK_KEY *))ykp_syms[3])
#define yk_get_serial \
	((int (*)(YK_KEY *, uint8_t, unsigned int, unsigned int *))ykp_syms[4])
#define yk_challenge_response ((int (*)(YK_KEY *, uint8_t, int, \
	unsigned int, const unsigned char *, unsigned int, \
	unsigned char *))ykp_syms[5])
#define _yk_errno_location ((int *(*)(void))ykp_syms[6])
#define yk_strerror ((const char *(*)(int))ykp_syms[7])
#define yk_usb_strerror ((const char *(*)(void))ykp_syms[8])

/* ykpers keeps process-wide state between yk_init and yk_release. */
static int hid_users;

static int
hid_init(struct sd_err *e)
{
	int r;

	if ((r = hw_dl_load(&ykp_lib, e)) != 0)
		return r;
	if (hid_users == 0 && !yk_init())
		return sd_err_set(e, SD_ERR_KEY, "%s", yk_errno == YK_EUSBERR ?
		    yk_usb_strerror() : yk_strerror(yk_errno));
	hid_users++;
	return 0;
}

static void
hid_release(void)
{
	if (hid_users > 0 && --hid_users == 0)
		yk_release();
}

static int
hid_challenge(struct yk_backend_dev *d, int slot,
    const uint8_t block[static YK_BLOCK], uint8_t resp[static YK_RESPONSE_LEN],
    struct sd_err *e)
{
	unsigned char buf[SHA1_MAX_BLOCK_SIZE];
	int err, r;

	/* may_block: a slot set to require touch waits for it */
	if (!yk_challenge_response(d->state, slot == 1 ? SLOT_CHAL_HMAC1 :
	    SLOT_CHAL_HMAC2, 1, YK_BLOCK, block, sizeof(buf), buf)) {
		err = yk_errno;
		sodium_memzero(buf, sizeof(buf));
		if (err == YK_ETIMEOUT || err == YK_EWOULDBLOCK)
			return sd_err_set(e, SD_ERR_KEY, "%s: no answer from "
			    "slot %d: it was not touched in time, or the slot "
			    "is not set for HMAC-SHA1 challenge-response "
			    "(ykman otp chalresp)", d->name, slot);
		r = sd_err_set(e, SD_ERR_KEY, "%s: challenge-response with "
		    "slot %d failed: %s", d->name, slot, err == YK_EUSBERR ?
		    yk_usb_strerror() : yk_strerror(err));
		return r;
	}
	memcpy(resp, buf, YK_RESPONSE_LEN);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

static void
hid_close(struct yk_backend_dev *d)
{
	if (d->state != NULL) {
		yk_close_key(d->state);
		d->state = NULL;
		hid_release();
	}
}

int
yk_hid_list(struct yk_backend_dev *devs, size_t max, size_t *n,
    struct sd_err *e)
{
	YK_KEY *yk;
	unsigned int serial;
	size_t i;
	int r;

	*n = 0;
	for (i = 0; i < max; i++) {
		if ((r = hid_init(e)) != 0)
			return r;
		if ((yk = yk_open_key((int)i)) == NULL) {
			if (yk_errno != YK_ENOKEY && i == 0)
				sd_err_set(e, SD_ERR_KEY, "%s", yk_errno ==
				    YK_EUSBERR ? yk_usb_strerror() :
				    yk_strerror(yk_errno));
			hid_release();
			break;
		}
		memset(&devs[*n], 0, sizeof(devs[*n]));
		serial = 0;
		/* serial visibility may be turned off: then 0, "unknown" */
		if (!yk_get_serial(yk, 0, 0, &serial))
			serial = 0;
		devs[*n].kind = YK_HID;
		devs[*n].serial = serial;
		if (serial != 0)
			snprintf(devs[*n].name, sizeof(devs[*n].name), "YubiKey "
			    "serial %u (USB)", serial);
		else
			snprintf(devs[*n].name, sizeof(devs[*n].name), "YubiKey "
			    "#%zu (USB, serial not readable)", i + 1);
		devs[*n].state = yk;
		devs[*n].challenge = hid_challenge;
		devs[*n].close = hid_close;
		(*n)++;
	}
	return 0;
}
