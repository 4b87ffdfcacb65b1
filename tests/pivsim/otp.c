/*
 * otp.c - the two other YubiKey applets a PIV client meets:
 *
 *   the OTP applet (A0 00 00 05 27 20 01): its serial number, which
 *   yubico-piv-tool reads there on firmware before 5, and the HMAC-SHA1
 *   challenge-response of slots 1 and 2 (as KeePassXC uses it over
 *   PC/SC), with secrets from --otp-hmac1/--otp-hmac2 or the state file;
 *
 *   the management applet (A0 00 00 05 27 47 11 17), which clients select
 *   only to make the PIV applet forget its PIN.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sim.h"

void
otp_select_reply(struct card *c, struct wr *out)
{
	uint8_t status[6];

	memcpy(status, c->prof->ver, 3);
	status[3] = 1; /* programming sequence */
	status[4] = (uint8_t)((c->otp_hmac_set[0] ? 0x01 : 0) |
	    (c->otp_hmac_set[1] ? 0x02 : 0)); /* slots configured */
	status[5] = 0;
	wr_bytes(out, status, sizeof(status));
}

void
mgmt_select_reply(struct card *c, struct wr *out)
{
	char v[16];
	int n;

	n = snprintf(v, sizeof(v), "%u.%u.%u", c->prof->ver[0],
	    c->prof->ver[1], c->prof->ver[2]);
	if (n > 0 && (size_t)n < sizeof(v))
		wr_bytes(out, (const uint8_t *)v, (size_t)n);
}

static uint16_t
hmac_challenge(struct card *c, int slot, const uint8_t *chal, size_t len,
    struct wr *out)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!c->otp_hmac_set[slot])
		return SW_CONDITIONS;
	if (len > 64)
		return SW_WRONG_LENGTH;
	/*
	 * A 64-byte challenge is taken as padded: the bytes at its end that
	 * equal its last byte are not part of it (HMAC_LT64 slots, as
	 * configured by ykman and ykpersonalize -ochal-hmac -ohmac-lt64).
	 */
	if (len == 64)
		while (len > 0 && chal[len - 1] == chal[63])
			len--;
	if (HMAC(EVP_sha1(), c->otp_hmac[slot], 20, chal, len, mac,
	    &mac_len) == NULL || mac_len != 20)
		return SW_UNKNOWN;
	wr_bytes(out, mac, 20);
	OPENSSL_cleanse(mac, sizeof(mac));
	return SW_OK;
}

uint16_t
otp_command(struct card *c, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, struct wr *out)
{
	uint8_t b[4];

	if (ins == 0x03) { /* status */
		otp_select_reply(c, out);
		return SW_OK;
	}
	if (ins != 0x01)
		return SW_INS;
	if (p2 != 0x00)
		return SW_WRONG_P1P2;
	switch (p1) {
	case 0x10: /* serial number */
		b[0] = (uint8_t)(c->serial >> 24);
		b[1] = (uint8_t)(c->serial >> 16);
		b[2] = (uint8_t)(c->serial >> 8);
		b[3] = (uint8_t)c->serial;
		wr_bytes(out, b, 4);
		return SW_OK;
	case 0x30: /* HMAC-SHA1 challenge-response, slot 1 */
		return hmac_challenge(c, 0, data, len, out);
	case 0x38: /* slot 2 */
		return hmac_challenge(c, 1, data, len, out);
	default:
		return SW_WRONG_P1P2;
	}
}
