/*
 * pivsim - a software PIV card, TEST FIXTURE ONLY.
 *
 * It answers, through the vsmartcard vpcd reader driver and pcscd, the
 * APDUs a YubiKey's PIV applet answers, so that yubico-piv-tool, ykcs11
 * and OpenSC can be tested without hardware.  Its keys live in ordinary
 * process memory and, with --state, in a plain JSON file: it is never a
 * key store.
 */
#ifndef PIVSIM_SIM_H
#define PIVSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define WUR __attribute__((warn_unused_result))

/* Errors of the non-APDU helpers (0 is success). */
#define SIM_ERR_INTERNAL (-1)
#define SIM_ERR_ALLOC (-2)
#define SIM_ERR_FORMAT (-3)
#define SIM_ERR_IO (-4)
#define SIM_ERR_CRYPTO (-5)
#define SIM_ERR_RANGE (-6)

/* Status words, as a YubiKey answers them. */
#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_CHAIN_EXPECTED 0x6883
#define SW_WRONG_DATA 0x6a80
#define SW_NOT_FOUND 0x6a82
#define SW_NO_SPACE 0x6a84
#define SW_WRONG_P1P2 0x6a86
#define SW_REF_NOT_FOUND 0x6a88
#define SW_INS 0x6d00
#define SW_CLA 0x6e00
#define SW_UNKNOWN 0x6f00

/* ---- bounded reader over untrusted bytes (buf.c) ---- */

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void rd_init(struct rd *r, const uint8_t *p, size_t len);
size_t rd_left(const struct rd *r);
int rd_u8(struct rd *r, uint8_t *v) WUR;
int rd_bytes(struct rd *r, size_t n, const uint8_t **out) WUR;
/* A BER-TLV length: one byte below 0x80, or 0x81 x, or 0x82 x y. */
int rd_len(struct rd *r, size_t *len) WUR;
/* A one-byte tag and its value, as a sub-reader over that value. */
int rd_tlv(struct rd *r, uint8_t *tag, struct rd *val) WUR;

/* ---- bounded, growable writer (buf.c) ---- */

struct wr {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t max;
	int err;
};

int wr_init(struct wr *w, size_t max) WUR;
/* Wipes the bytes (they may be key material) and frees them. */
void wr_clear(struct wr *w);
void wr_u8(struct wr *w, uint8_t v);
void wr_bytes(struct wr *w, const uint8_t *p, size_t n);
void wr_len(struct wr *w, size_t len);
void wr_tlv(struct wr *w, uint8_t tag, const uint8_t *p, size_t n);
/* Reserve n bytes and return where to write them (NULL on error). */
uint8_t *wr_reserve(struct wr *w, size_t n);

/* ---- the card ---- */

enum applet { APP_NONE, APP_PIV, APP_OTP, APP_MGMT };

/* Key references the PIV applet holds keys in. */
#define PIV_NKEYS 25 /* 9a 9c 9d 9e, 82..95, f9 */

#define ALG_3DES 0x03
#define ALG_AES128 0x08
#define ALG_AES192 0x0a
#define ALG_AES256 0x0c
#define ALG_RSA1024 0x06
#define ALG_RSA2048 0x07
#define ALG_RSA3072 0x05
#define ALG_RSA4096 0x16

#define PIN_POLICY_NEVER 1
#define PIN_POLICY_ONCE 2
#define PIN_POLICY_ALWAYS 3
#define TOUCH_POLICY_NEVER 1

#define ORIGIN_GENERATED 1
#define ORIGIN_IMPORTED 2

struct piv_key {
	uint8_t algo; /* 0: slot empty */
	uint8_t origin;
	uint8_t pin_policy;
	uint8_t touch_policy;
	EVP_PKEY *pkey;
};

struct piv_obj {
	uint32_t tag;
	uint8_t *data;
	size_t len;
};

#define PIV_MAX_OBJS 64
#define PIV_OBJ_MAX 3063 /* largest object value a YubiKey stores */

struct profile {
	const char *name;
	uint8_t ver[3];
	const uint8_t *atr;
	size_t atr_len;
	bool yk5;          /* GET SERIAL in the PIV applet */
	bool metadata;     /* GET METADATA, 5.3 and later */
	bool aes_mgm;      /* AES management keys, 5.4 and later */
	bool deauth;       /* VERIFY P1=ff, 5.4.3 and later */
	bool rsa_big;      /* RSA 3072/4096, 5.7 and later */
	uint8_t mgm_default_algo;
};

struct card {
	const struct profile *prof;
	uint32_t serial;

	/* persistent */
	uint8_t pin[8];
	size_t pin_len;
	uint8_t puk[8];
	size_t puk_len;
	uint8_t pin_tries, pin_max;
	uint8_t puk_tries, puk_max;
	uint8_t mgm_algo;
	uint8_t mgm_key[32];
	size_t mgm_len;
	uint8_t mgm_touch;
	struct piv_key keys[PIV_NKEYS];
	struct piv_obj objs[PIV_MAX_OBJS];
	size_t nobjs;
	uint8_t otp_hmac[2][20]; /* OTP applet HMAC-SHA1 secrets */
	bool otp_hmac_set[2];

	/* volatile: lost at reset, power off and applet change */
	enum applet app;
	bool pin_ok;
	uint64_t seq;        /* commands received since start */
	uint64_t cmd_start;  /* seq of the first APDU of this command */
	uint64_t verify_seq; /* seq of the last successful VERIFY */
	bool mgm_ok;
	int chal_state; /* 0 none, 1 witness sent, 2 challenge sent */
	uint8_t chal[16];
	size_t chal_len;

	/* transport */
	uint8_t *chain;
	size_t chain_len;
	uint8_t chain_hdr[4];
	uint64_t chain_start;
	bool chaining;
	uint8_t *pending; /* response bytes not yet fetched by GET RESPONSE */
	size_t pending_len;
	size_t pending_off;

	const char *state_file; /* NULL: nothing persists */
	bool dirty;
	int verbose;
};

const struct profile *profile_find(const char *name);

/* card.c */
int card_init(struct card *c, const struct profile *p, uint32_t serial) WUR;
void card_clear(struct card *c);
void card_reset(struct card *c);
/* One C-APDU in, one R-APDU (data and status word) out. */
int card_apdu(struct card *c, const uint8_t *apdu, size_t len,
    struct wr *resp) WUR;

/* piv.c: the PIV applet; returns the status word. */
uint16_t piv_command(struct card *c, uint8_t cla, uint8_t ins, uint8_t p1,
    uint8_t p2, const uint8_t *data, size_t len, struct wr *out);
void piv_select_reply(struct card *c, struct wr *out);
void piv_defaults(struct card *c);
int piv_key_index(uint8_t slot);
uint8_t piv_key_slot(int index);
void piv_key_clear(struct piv_key *k);
struct piv_obj *piv_obj_find(struct card *c, uint32_t tag);
int piv_obj_set(struct card *c, uint32_t tag, const uint8_t *p, size_t n) WUR;
uint8_t piv_default_pin_policy(uint8_t slot);

/* otp.c: the YubiKey OTP and management applets. */
uint16_t otp_command(struct card *c, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, struct wr *out);
void otp_select_reply(struct card *c, struct wr *out);
void mgmt_select_reply(struct card *c, struct wr *out);

/* state.c: the optional JSON state file. */
int state_load(struct card *c, const char *path) WUR;
int state_save(struct card *c) WUR;

/* crypto helpers (piv.c) */
int sim_random(uint8_t *p, size_t n) WUR;

#endif
