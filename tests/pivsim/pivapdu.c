/*
 * pivapdu - send raw APDUs to the pivsim TEST FIXTURE card through PC/SC,
 * for the checks yubico-piv-tool 2.2.0 cannot express (RSA-3072/4096,
 * AES management keys, GET METADATA).  It talks only to a reader whose
 * name holds "pivsim", so that it never touches a real YubiKey.
 *
 *   pivapdu STEP...
 *     select            SELECT the PIV applet
 *     auth[=HEXKEY]     management-key mutual authentication (default
 *                       key; the algorithm from GET METADATA, else 3DES)
 *     verify=PIN        VERIFY the PIN
 *     gen=SLOT:ALGO     GENERATE ASYMMETRIC KEY PAIR (hex slot and algo)
 *     import=SLOT:ALGO:KEYFILE   IMPORT an RSA key (PEM) in CRT form
 *     HEX               any APDU (CLA INS P1 P2 [Lc data] [Le]), chained
 *                       when its data exceed 255 bytes
 *     expect=SW         the last status word must be SW (4 hex digits)
 *
 * Each APDU's answer is printed as "SW DATA" (hex).  Exit status: 0, 1 if
 * an expect= failed or a step could not be sent, 2 on a usage error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define MAXAPDU 4096

struct conn {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto;
	unsigned sw;
	uint8_t resp[8192];
	size_t resp_len;
};

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
unhex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = 0;
	int hi, lo;

	while (*s != '\0') {
		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		if ((hi = hexval(s[0])) < 0 || (lo = hexval(s[1])) < 0 ||
		    n == max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*len = n;
	return 0;
}

static void
print_resp(const struct conn *c)
{
	size_t i;

	printf("%04x", c->sw);
	if (c->resp_len > 0)
		putchar(' ');
	for (i = 0; i < c->resp_len; i++)
		printf("%02x", c->resp[i]);
	putchar('\n');
}

/* One APDU, then GET RESPONSE while the card says 61xx. */
static int
transmit(struct conn *c, const uint8_t *apdu, size_t len)
{
	uint8_t buf[MAXAPDU + 2];
	DWORD rlen = sizeof(buf);
	const SCARD_IO_REQUEST *pci = c->proto == SCARD_PROTOCOL_T0 ?
	    SCARD_PCI_T0 : SCARD_PCI_T1;
	uint8_t getresp[5] = { 0x00, 0xc0, 0x00, 0x00, 0x00 };
	LONG rv;

	c->resp_len = 0;
	for (;;) {
		rlen = sizeof(buf);
		rv = SCardTransmit(c->card, pci, apdu, (DWORD)len, NULL, buf,
		    &rlen);
		if (rv != SCARD_S_SUCCESS || rlen < 2) {
			fprintf(stderr, "pivapdu: SCardTransmit: %s\n",
			    pcsc_stringify_error(rv));
			return -1;
		}
		if (c->resp_len + rlen - 2 > sizeof(c->resp))
			return -1;
		memcpy(c->resp + c->resp_len, buf, rlen - 2);
		c->resp_len += rlen - 2;
		c->sw = (unsigned)buf[rlen - 2] << 8 | buf[rlen - 1];
		if ((c->sw >> 8) != 0x61)
			return 0;
		getresp[4] = (uint8_t)c->sw;
		apdu = getresp;
		len = sizeof(getresp);
	}
}

/* CLA INS P1 P2 and data of any length, chained in 255-byte links. */
static int
send_cmd(struct conn *c, const uint8_t hdr[4], const uint8_t *data,
    size_t len)
{
	uint8_t apdu[5 + 255 + 1];
	size_t off = 0, n;

	do {
		n = len - off > 255 ? 255 : len - off;
		memcpy(apdu, hdr, 4);
		if (off + n < len)
			apdu[0] |= 0x10;
		apdu[4] = (uint8_t)n;
		if (n > 0)
			memcpy(apdu + 5, data + off, n);
		apdu[5 + n] = 0x00; /* Le */
		if (transmit(c, apdu, n > 0 ? 6 + n : 5) != 0)
			return -1;
		off += n;
		if (off < len && c->sw != 0x9000)
			return 0;
	} while (off < len);
	return 0;
}

static int
step_select(struct conn *c)
{
	static const uint8_t hdr[4] = { 0x00, 0xa4, 0x04, 0x00 };
	static const uint8_t aid[] = { 0xa0, 0x00, 0x00, 0x03, 0x08 };

	return send_cmd(c, hdr, aid, sizeof(aid));
}

static int
step_verify(struct conn *c, const char *pin)
{
	static const uint8_t hdr[4] = { 0x00, 0x20, 0x00, 0x80 };
	uint8_t field[8];
	size_t n = strlen(pin);
	int r;

	if (n > 8)
		return -1;
	memset(field, 0xff, sizeof(field));
	memcpy(field, pin, n);
	r = send_cmd(c, hdr, field, sizeof(field));
	OPENSSL_cleanse(field, sizeof(field));
	return r;
}

static const EVP_CIPHER *
cipher_for(uint8_t algo, size_t *block, size_t *klen)
{
	*block = 16;
	switch (algo) {
	case 0x03: *block = 8; *klen = 24; return EVP_des_ede3_ecb();
	case 0x08: *klen = 16; return EVP_aes_128_ecb();
	case 0x0a: *klen = 24; return EVP_aes_192_ecb();
	case 0x0c: *klen = 32; return EVP_aes_256_ecb();
	default: return NULL;
	}
}

static int
ecb(const EVP_CIPHER *ciph, const uint8_t *key, bool enc, const uint8_t *in,
    uint8_t *out, size_t n)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ol = 0, r = -1;

	if (ctx != NULL && EVP_CipherInit_ex(ctx, ciph, NULL, key, NULL,
	    enc) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &ol, in, (int)n) == 1 &&
	    (size_t)ol == n)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static int
step_auth(struct conn *c, const char *hexkey)
{
	static const uint8_t md_hdr[4] = { 0x00, 0xf7, 0x00, 0x9b };
	uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	    1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t hdr[4] = { 0x00, 0x87, 0x03, 0x9b };
	uint8_t req[4] = { 0x7c, 0x02, 0x80, 0x00 };
	uint8_t msg[40], witness[16], chal[16], expect[16];
	const EVP_CIPHER *ciph;
	size_t klen = 24, block, n;
	uint8_t algo = 0x03;
	int r = -1;

	if (hexkey != NULL && (unhex(hexkey, key, sizeof(key), &klen) != 0))
		return -1;
	/* the key's algorithm: GET METADATA if the card has it */
	if (send_cmd(c, md_hdr, NULL, 0) != 0)
		return -1;
	if (c->sw == 0x9000 && c->resp_len >= 3 && c->resp[0] == 0x01 &&
	    c->resp[1] == 0x01)
		algo = c->resp[2];
	if ((ciph = cipher_for(algo, &block, &n)) == NULL || n != klen)
		goto out;
	hdr[2] = algo;
	if (send_cmd(c, hdr, req, sizeof(req)) != 0)
		goto out;
	if (c->sw != 0x9000 || c->resp_len != 4 + block ||
	    c->resp[0] != 0x7c || c->resp[2] != 0x80) {
		r = 0; /* the status word tells */
		goto out;
	}
	if (ecb(ciph, key, false, c->resp + 4, witness, block) != 0 ||
	    RAND_bytes(chal, (int)block) != 1)
		goto out;
	msg[0] = 0x7c;
	msg[1] = (uint8_t)(4 + 2 * block);
	msg[2] = 0x80;
	msg[3] = (uint8_t)block;
	memcpy(msg + 4, witness, block);
	msg[4 + block] = 0x81;
	msg[5 + block] = (uint8_t)block;
	memcpy(msg + 6 + block, chal, block);
	if (send_cmd(c, hdr, msg, 6 + 2 * block) != 0)
		goto out;
	r = 0;
	if (c->sw != 0x9000)
		goto out;
	if (ecb(ciph, key, true, chal, expect, block) != 0 ||
	    c->resp_len != 4 + block ||
	    memcmp(c->resp + 4, expect, block) != 0) {
		fprintf(stderr, "pivapdu: the card's answer to our challenge "
		    "is wrong\n");
		r = -1;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(witness, sizeof(witness));
	return r;
}

static int
parse_slot_algo(const char *s, uint8_t *slot, uint8_t *algo, const char **rest)
{
	unsigned a, b;
	int used = 0;

	if (sscanf(s, "%2x:%2x%n", &a, &b, &used) != 2)
		return -1;
	*slot = (uint8_t)a;
	*algo = (uint8_t)b;
	*rest = s + used;
	return 0;
}

static int
step_gen(struct conn *c, const char *arg)
{
	uint8_t hdr[4] = { 0x00, 0x47, 0x00, 0x00 };
	uint8_t tmpl[5] = { 0xac, 0x03, 0x80, 0x01, 0x00 };
	const char *rest;

	if (parse_slot_algo(arg, &hdr[3], &tmpl[4], &rest) != 0 || *rest)
		return -1;
	return send_cmd(c, hdr, tmpl, sizeof(tmpl));
}

static void
put_elem(uint8_t *buf, size_t *off, uint8_t tag, const BIGNUM *bn,
    size_t elen)
{
	buf[(*off)++] = tag;
	if (elen >= 0x100) {
		buf[(*off)++] = 0x82;
		buf[(*off)++] = (uint8_t)(elen >> 8);
	} else if (elen >= 0x80) {
		buf[(*off)++] = 0x81;
	}
	buf[(*off)++] = (uint8_t)elen;
	BN_bn2binpad(bn, buf + *off, (int)elen);
	*off += elen;
}

static int
step_import(struct conn *c, const char *arg)
{
	static const char *names[5] = {
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1
	};
	uint8_t hdr[4] = { 0x00, 0xfe, 0x00, 0x00 };
	uint8_t buf[2048];
	BIGNUM *bn[5] = { NULL };
	EVP_PKEY *pkey = NULL;
	FILE *f = NULL;
	const char *rest;
	size_t off = 0, elen;
	int i, r = -1;

	if (parse_slot_algo(arg, &hdr[3], &hdr[2], &rest) != 0 ||
	    *rest != ':')
		return -1;
	if ((f = fopen(rest + 1, "r")) == NULL ||
	    (pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "pivapdu: cannot read key %s\n", rest + 1);
		goto out;
	}
	elen = (size_t)EVP_PKEY_get_bits(pkey) / 16;
	for (i = 0; i < 5; i++)
		if (EVP_PKEY_get_bn_param(pkey, names[i], &bn[i]) != 1 ||
		    (size_t)BN_num_bytes(bn[i]) > elen)
			goto out;
	for (i = 0; i < 5; i++)
		put_elem(buf, &off, (uint8_t)(i + 1), bn[i], elen);
	r = send_cmd(c, hdr, buf, off);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	for (i = 0; i < 5; i++)
		BN_clear_free(bn[i]);
	EVP_PKEY_free(pkey);
	if (f != NULL)
		fclose(f);
	return r;
}

static int
step_hex(struct conn *c, const char *s)
{
	uint8_t a[MAXAPDU];
	size_t n;

	if (unhex(s, a, sizeof(a), &n) != 0 || n < 4)
		return -1;
	if (n > 5 && a[4] != 0 && n >= 5 + (size_t)a[4]) /* short Lc */
		return send_cmd(c, a, a + 5, a[4]);
	return transmit(c, a, n);
}

static int
connect_card(struct conn *c, const char *want)
{
	char *readers = NULL, *r;
	DWORD len = 0;
	LONG rv;
	int ret = -1;

	if ((rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL,
	    &c->ctx)) != SCARD_S_SUCCESS) {
		fprintf(stderr, "pivapdu: no pcscd: %s\n",
		    pcsc_stringify_error(rv));
		return -1;
	}
	if (SCardListReaders(c->ctx, NULL, NULL, &len) != SCARD_S_SUCCESS ||
	    (readers = calloc(1, len + 1)) == NULL ||
	    SCardListReaders(c->ctx, NULL, readers, &len) != SCARD_S_SUCCESS)
		goto out;
	for (r = readers; *r != '\0'; r += strlen(r) + 1) {
		if (strstr(r, "pivsim") == NULL ||
		    (want != NULL && strstr(r, want) == NULL))
			continue;
		if (SCardConnect(c->ctx, r, SCARD_SHARE_SHARED,
		    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &c->card,
		    &c->proto) == SCARD_S_SUCCESS) {
			ret = 0;
			break;
		}
	}
	if (ret != 0)
		fprintf(stderr, "pivapdu: no pivsim card found\n");
out:
	free(readers);
	return ret;
}

int
main(int argc, char **argv)
{
	struct conn c;
	const char *want = NULL;
	int i = 1, r = 0, e;

	memset(&c, 0, sizeof(c));
	if (argc > 2 && strcmp(argv[1], "-r") == 0) {
		want = argv[2];
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: pivapdu [-r READER] STEP...\n");
		return 2;
	}
	if (connect_card(&c, want) != 0)
		return 1;
	if (SCardBeginTransaction(c.card) != SCARD_S_SUCCESS)
		return 1;
	for (; i < argc && r == 0; i++) {
		const char *a = argv[i];

		if (strcmp(a, "select") == 0)
			e = step_select(&c);
		else if (strcmp(a, "auth") == 0)
			e = step_auth(&c, NULL);
		else if (strncmp(a, "auth=", 5) == 0)
			e = step_auth(&c, a + 5);
		else if (strncmp(a, "verify=", 7) == 0)
			e = step_verify(&c, a + 7);
		else if (strncmp(a, "gen=", 4) == 0)
			e = step_gen(&c, a + 4);
		else if (strncmp(a, "import=", 7) == 0)
			e = step_import(&c, a + 7);
		else if (strncmp(a, "expect=", 7) == 0) {
			unsigned want_sw;

			if (sscanf(a + 7, "%4x", &want_sw) != 1) {
				r = 2;
				break;
			}
			if (c.sw != want_sw) {
				fprintf(stderr, "pivapdu: status %04x, "
				    "expected %04x\n", c.sw, want_sw);
				r = 1;
			}
			continue;
		} else
			e = step_hex(&c, a);
		if (e != 0) {
			fprintf(stderr, "pivapdu: step %s failed\n", a);
			r = 1;
			break;
		}
		print_resp(&c);
	}
	SCardEndTransaction(c.card, SCARD_LEAVE_CARD);
	SCardDisconnect(c.card, SCARD_RESET_CARD);
	SCardReleaseContext(c.ctx);
	return r;
}
