/*
 * card.c - the card as a whole: firmware profiles, ATR, reset, the
 * ISO 7816-4 framing of APDUs (short and extended lengths, command
 * chaining with CLA 0x10, GET RESPONSE after 61xx) and SELECT, which
 * hands the rest to the PIV, OTP or management applet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sim.h"

#define CHAIN_MAX 8192

/* YubiKey 4 and YubiKey 5 (USB, CCID) answers to reset. */
static const uint8_t atr_yk4[] = {
	0x3b, 0xf8, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x59, 0x75,
	0x62, 0x69, 0x6b, 0x65, 0x79, 0x34, 0xd4
};
static const uint8_t atr_yk5[] = {
	0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73,
	0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79,
	0x40
};

/*
 * 4.3.7: the last YubiKey 4 firmware (not the ROCA-affected 4.2.6-4.3.4,
 * on which yubico-piv-tool refuses RSA key generation).
 */
static const struct profile profiles[] = {
	{ "4.3", { 4, 3, 7 }, atr_yk4, sizeof(atr_yk4), false, false, false,
	  false, false, ALG_3DES },
	{ "5.4", { 5, 4, 3 }, atr_yk5, sizeof(atr_yk5), true, true, true,
	  true, false, ALG_3DES },
	{ "5.7", { 5, 7, 2 }, atr_yk5, sizeof(atr_yk5), true, true, true,
	  true, true, ALG_AES192 },
};

static const uint8_t aid_piv[] = {
	0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00
};
static const uint8_t aid_otp[] = {
	0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01
};
static const uint8_t aid_mgmt[] = {
	0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17
};

const struct profile *
profile_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

static void
chain_drop(struct card *c)
{
	if (c->chain != NULL)
		OPENSSL_cleanse(c->chain, CHAIN_MAX);
	c->chain_len = 0;
	c->chaining = false;
}

static void
pending_drop(struct card *c)
{
	if (c->pending != NULL) {
		OPENSSL_cleanse(c->pending, c->pending_len);
		free(c->pending);
	}
	c->pending = NULL;
	c->pending_len = c->pending_off = 0;
}

static void
security_reset(struct card *c)
{
	c->pin_ok = false;
	c->mgm_ok = false;
	c->verify_seq = 0;
	c->chal_state = 0;
	OPENSSL_cleanse(c->chal, sizeof(c->chal));
}

void
card_reset(struct card *c)
{
	c->app = APP_NONE;
	security_reset(c);
	chain_drop(c);
	pending_drop(c);
}

int
card_init(struct card *c, const struct profile *p, uint32_t serial)
{
	memset(c, 0, sizeof(*c));
	c->prof = p;
	c->serial = serial;
	if ((c->chain = calloc(1, CHAIN_MAX)) == NULL)
		return SIM_ERR_ALLOC;
	piv_defaults(c);
	card_reset(c);
	return 0;
}

void
card_clear(struct card *c)
{
	size_t i;

	card_reset(c);
	free(c->chain);
	for (i = 0; i < PIV_NKEYS; i++)
		piv_key_clear(&c->keys[i]);
	for (i = 0; i < c->nobjs; i++) {
		OPENSSL_cleanse(c->objs[i].data, c->objs[i].len);
		free(c->objs[i].data);
	}
	OPENSSL_cleanse(c, sizeof(*c));
}

static bool
aid_match(const uint8_t *aid, size_t aid_len, const uint8_t *full,
    size_t full_len, size_t min)
{
	return aid_len >= min && aid_len <= full_len &&
	    memcmp(aid, full, aid_len) == 0;
}

static uint16_t
select_applet(struct card *c, uint8_t p1, uint8_t p2, const uint8_t *aid,
    size_t len, struct wr *out)
{
	enum applet app;

	if (p1 != 0x04)
		return SW_NOT_FOUND; /* no files, only applications */
	if (aid_match(aid, len, aid_piv, sizeof(aid_piv), 5))
		app = APP_PIV;
	else if (aid_match(aid, len, aid_otp, sizeof(aid_otp), 7))
		app = APP_OTP;
	else if (aid_match(aid, len, aid_mgmt, sizeof(aid_mgmt), 8))
		app = APP_MGMT;
	else
		return SW_NOT_FOUND; /* the current application stays */
	if (app != c->app)
		security_reset(c);
	c->app = app;
	if (p2 == 0x0c)
		return SW_OK; /* no response data asked for */
	if (app == APP_PIV)
		piv_select_reply(c, out);
	else if (app == APP_OTP)
		otp_select_reply(c, out);
	else
		mgmt_select_reply(c, out);
	return SW_OK;
}

static void
put_sw(struct wr *resp, uint16_t sw)
{
	wr_u8(resp, (uint8_t)(sw >> 8));
	wr_u8(resp, (uint8_t)sw);
}

/* Send up to ne bytes of what is pending; 61xx when more remains. */
static void
send_pending(struct card *c, size_t ne, struct wr *resp)
{
	size_t left = c->pending_len - c->pending_off;
	size_t n = left < ne ? left : ne;

	wr_bytes(resp, c->pending + c->pending_off, n);
	c->pending_off += n;
	left -= n;
	if (left == 0) {
		pending_drop(c);
		put_sw(resp, SW_OK);
	} else {
		put_sw(resp, (uint16_t)(0x6100 | (left > 0xff ? 0 : left)));
	}
}

/*
 * Split an APDU into header, data and Ne (ISO 7816-3 cases 1 to 4, short
 * and extended).  Returns 0, or SW_WRONG_LENGTH.
 */
static uint16_t
parse_apdu(const uint8_t *a, size_t len, const uint8_t **data, size_t *lc,
    size_t *ne, bool *ext)
{
	struct rd r;
	uint8_t b, hi, lo;
	size_t rest;

	*data = NULL;
	*lc = 0;
	*ne = 256;
	*ext = false;
	if (len < 4)
		return SW_WRONG_LENGTH;
	rd_init(&r, a + 4, len - 4);
	rest = rd_left(&r);
	if (rest == 0)
		return 0;
	if (rd_u8(&r, &b) != 0)
		return SW_WRONG_LENGTH;
	if (rest == 1) {
		*ne = b ? b : 256;
		return 0;
	}
	if (b != 0) { /* short Lc */
		*lc = b;
		if (rd_bytes(&r, *lc, data) != 0)
			return SW_WRONG_LENGTH;
		if (rd_left(&r) == 0)
			return 0;
		if (rd_left(&r) != 1 || rd_u8(&r, &b) != 0)
			return SW_WRONG_LENGTH;
		*ne = b ? b : 256;
		return 0;
	}
	*ext = true;
	if (rd_u8(&r, &hi) != 0 || rd_u8(&r, &lo) != 0)
		return SW_WRONG_LENGTH;
	if (rd_left(&r) == 0) { /* case 2E */
		*ne = ((size_t)hi << 8 | lo) ? ((size_t)hi << 8 | lo) : 65536;
		return 0;
	}
	*lc = (size_t)hi << 8 | lo;
	*ne = 65536;
	if (*lc == 0 || rd_bytes(&r, *lc, data) != 0)
		return SW_WRONG_LENGTH;
	if (rd_left(&r) == 0)
		return 0;
	if (rd_left(&r) != 2 || rd_u8(&r, &hi) != 0 || rd_u8(&r, &lo) != 0)
		return SW_WRONG_LENGTH;
	*ne = ((size_t)hi << 8 | lo) ? ((size_t)hi << 8 | lo) : 65536;
	return 0;
}

int
card_apdu(struct card *c, const uint8_t *apdu, size_t len, struct wr *resp)
{
	const uint8_t *data;
	struct wr out;
	size_t lc, ne;
	uint16_t sw;
	bool ext;
	uint8_t cla, ins, p1, p2;
	int r = SIM_ERR_INTERNAL;

	memset(&out, 0, sizeof(out));
	c->seq++;
	if ((sw = parse_apdu(apdu, len, &data, &lc, &ne, &ext)) != 0) {
		chain_drop(c);
		put_sw(resp, sw);
		return resp->err;
	}
	if (ne > 65533)
		ne = 65533; /* what the vpcd frame can carry with the SW */
	cla = apdu[0];
	ins = apdu[1];
	p1 = apdu[2];
	p2 = apdu[3];

	if (ins == 0xc0 && (cla & ~0x10) == 0) { /* GET RESPONSE */
		chain_drop(c);
		if (c->pending == NULL)
			put_sw(resp, SW_CONDITIONS);
		else
			send_pending(c, ne, resp);
		return resp->err;
	}
	pending_drop(c);

	if ((cla & ~0x10) != 0) {
		chain_drop(c);
		put_sw(resp, SW_CLA);
		return resp->err;
	}

	if (cla & 0x10) { /* a link of a command chain */
		if (c->chaining && memcmp(c->chain_hdr + 1, apdu + 1, 3) != 0) {
			chain_drop(c);
			put_sw(resp, SW_CHAIN_EXPECTED);
			return resp->err;
		}
		if (!c->chaining) {
			c->chaining = true;
			c->chain_start = c->seq;
			memcpy(c->chain_hdr, apdu, 4);
		}
		if (lc > CHAIN_MAX - c->chain_len) {
			chain_drop(c);
			put_sw(resp, SW_WRONG_LENGTH);
			return resp->err;
		}
		if (lc > 0)
			memcpy(c->chain + c->chain_len, data, lc);
		c->chain_len += lc;
		put_sw(resp, SW_OK);
		return resp->err;
	}
	c->cmd_start = c->seq;
	if (c->chaining) {
		if (memcmp(c->chain_hdr + 1, apdu + 1, 3) != 0 ||
		    lc > CHAIN_MAX - c->chain_len) {
			chain_drop(c);
			put_sw(resp, SW_CHAIN_EXPECTED);
			return resp->err;
		}
		if (lc > 0)
			memcpy(c->chain + c->chain_len, data, lc);
		c->chain_len += lc;
		data = c->chain;
		lc = c->chain_len;
		c->cmd_start = c->chain_start;
		c->chaining = false;
	}

	if ((r = wr_init(&out, 65536)) != 0)
		goto out;
	if (ins == 0xa4)
		sw = select_applet(c, p1, p2, data, lc, &out);
	else if (c->app == APP_PIV)
		sw = piv_command(c, cla, ins, p1, p2, data, lc, &out);
	else if (c->app == APP_OTP)
		sw = otp_command(c, ins, p1, p2, data, lc, &out);
	else
		sw = SW_INS;
	chain_drop(c);
	if (out.err != 0) {
		r = out.err;
		goto out;
	}
	if (c->dirty && c->state_file != NULL) {
		if ((r = state_save(c)) != 0)
			fprintf(stderr, "pivsim: cannot save state to %s\n",
			    c->state_file);
		c->dirty = false;
	}
	if (sw != SW_OK || out.len <= ne) {
		wr_bytes(resp, out.buf, out.len);
		put_sw(resp, sw);
	} else {
		/* the rest waits for GET RESPONSE */
		c->pending = out.buf;
		c->pending_len = out.len;
		c->pending_off = 0;
		out.buf = NULL;
		send_pending(c, ne, resp);
	}
	r = resp->err;
out:
	wr_clear(&out);
	if (r != 0 && resp->err == 0) {
		resp->len = 0;
		put_sw(resp, SW_UNKNOWN);
		r = resp->err;
	}
	return r;
}
