/*
 * yk.h - YubiKey HMAC-SHA1 challenge-response behind one interface.
 *
 * A YubiKey slot (1 or 2) configured for HMAC-SHA1 challenge-response
 * holds a 20-byte secret that never leaves it; given a challenge it
 * answers HMAC-SHA1(secret, challenge).  sdtool derives a key-file
 * encryption key from that answer (hw/ykey.h).  Three devices answer
 * the same call:
 *
 *   - a YubiKey over USB HID, through Yubico's ykpers (yk_hid.c);
 *   - a YubiKey's OTP applet over PC/SC, for NFC readers and USB CCID,
 *     through pcsc-lite (yk_pcsc.c);
 *   - sdtool's SOFTWARE RESPONDER (yk_soft.c), a TEST DEVICE: the same
 *     HMAC-SHA1 computed by OpenSSL from a secret in a file.  It exists
 *     so that the tests can run without a YubiKey; it protects nothing,
 *     since the secret is in a file.  It is used only when the caller
 *     names its file (from $SDTOOL_YK_SOFTWARE_SECRET_FILE), only if
 *     that file begins with the line YK_SOFT_MARKER, and files wrapped
 *     with it are marked as such and refused by real devices.
 *
 * Challenges are at most 63 bytes and are sent padded to 64 with a byte
 * different from their last one, as Yubico's ykman does: a slot set for
 * variable-length challenges (HMAC_LT64, ykman's default) strips that
 * padding, so both USB HID and PC/SC give the same answer for one slot.
 */
#ifndef SD_HW_YK_H
#define SD_HW_YK_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define YK_RESPONSE_LEN 20
#define YK_MAX_CHALLENGE 63
#define YK_BLOCK 64

#define YK_SOFT_MARKER "# sdtool software YubiKey: a TEST device; " \
	"it protects nothing."

enum yk_kind {
	YK_HID,          /* USB HID, ykpers */
	YK_PCSC,         /* OTP applet over PC/SC */
	YK_SOFTWARE,     /* the software responder: tests only */
};

struct yk_open_opts {
	/* The software responder's file; NULL: real devices only. */
	const char *software;
	/* The serial wanted (from a .ykey file), 0 for any one device. */
	unsigned serial;
	/*
	 * Told (HW_PIN_NOTIFY | HW_PIN_TOUCH) before a real YubiKey is
	 * asked, since one set to require touch waits for it.  May be NULL.
	 */
	hw_pin_fn notify;
	void *notify_ctx;
};

struct yk_dev;

/*
 * Open the YubiKey: the software responder when opts->software is set;
 * otherwise the ones on USB HID, then those on PC/SC readers.  With a
 * serial, the YubiKey with that serial; without, there must be exactly
 * one.  Errors (SD_ERR_KEY) say what was found: "no YubiKey found",
 * "YubiKey serial 1234567 not found; found 7654321".
 */
int yk_open(const struct yk_open_opts *opts, struct yk_dev **out,
    struct sd_err *e) SD_WUR;
void yk_close(struct yk_dev *d);

enum yk_kind yk_kind(const struct yk_dev *d);
/* The serial number, 0 when the device does not tell it. */
unsigned yk_serial(const struct yk_dev *d);
/* "YubiKey serial 1234567 (USB)", for messages. */
const char *yk_name(const struct yk_dev *d);

/*
 * HMAC-SHA1 challenge-response with slot 1 or 2: the challenge
 * (1..YK_MAX_CHALLENGE bytes) is padded and sent; the 20-byte response
 * goes to resp (guarded memory is the caller's choice).  A slot without
 * challenge-response, or a touch that never came: SD_ERR_KEY with a
 * message saying so.
 */
int yk_challenge(struct yk_dev *d, int slot, const uint8_t *chal,
    size_t chal_len, uint8_t resp[static YK_RESPONSE_LEN], struct sd_err *e)
	SD_WUR;

/*
 * The padding described above: chal (1..63 bytes) into a 64-byte block.
 */
void yk_pad_challenge(const uint8_t *chal, size_t chal_len,
    uint8_t block[static YK_BLOCK]);

/*
 * What a YubiKey slot set for variable-length challenges computes from
 * a 64-byte block: trailing bytes equal to the last one are padding,
 * the rest is HMAC-SHA1'd with the slot's secret (OpenSSL's HMAC).  The
 * software responder is this function; it is public for the tests.
 */
int yk_soft_hmac(const uint8_t secret[static YK_RESPONSE_LEN],
    const uint8_t block[static YK_BLOCK],
    uint8_t resp[static YK_RESPONSE_LEN]) SD_WUR;

/*
 * Device backends, private to hw/yk*.c: each lists what it finds.
 */
struct yk_backend_dev {
	enum yk_kind kind;
	unsigned serial;
	char name[96];
	void *state;
	int (*challenge)(struct yk_backend_dev *d, int slot,
	    const uint8_t block[static YK_BLOCK],
	    uint8_t resp[static YK_RESPONSE_LEN], struct sd_err *e);
	void (*close)(struct yk_backend_dev *d);
};

/*
 * Open every device of the kind (up to max) into devs; *n gets their
 * number.  0 with *n == 0 when there are none; an error only when the
 * subsystem itself failed (then e says why, for the "none found"
 * message).
 */
int yk_hid_list(struct yk_backend_dev *devs, size_t max, size_t *n,
    struct sd_err *e);
int yk_pcsc_list(struct yk_backend_dev *devs, size_t max, size_t *n,
    struct sd_err *e);
int yk_soft_open(const char *path, struct yk_backend_dev *dev,
    struct sd_err *e) SD_WUR;

#endif
