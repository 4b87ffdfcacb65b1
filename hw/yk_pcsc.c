/*
 * yk_pcsc.c - YubiKeys reached over PC/SC (an NFC reader, or USB CCID):
 * the OTP applet answers challenge-response as the HID interface does.
 *
 *   SELECT   00 A4 04 00 07 A0 00 00 05 27 20 01   the OTP applet
 *   serial   00 01 10 00                          -> 4 bytes, big-endian
 *   HMAC     00 01 30|38 00 40 <64-byte block>     -> 20 bytes (slot 1|2)
 *
 * (INS 01 carries the HID "slot" commands: 0x10 serial, 0x30/0x38
 * HMAC-SHA1 challenge-response with slot 1/2.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <winscard.h>

#include "dl.h"
#include "yk.h"

/*
 * pcsc-lite is opened when a reader is first looked for, not linked: see
 * dl.h.  The calls below keep its own names.
 */
static const char *const pcsc_names[] = {
	"SCardEstablishContext", "SCardReleaseContext", "SCardListReaders",
	"SCardConnect", "SCardDisconnect", "SCardTransmit",
	"pcsc_stringify_error", "g_rgSCardT0Pci", "g_rgSCardT1Pci", NULL
};
static void *pcsc_syms[sizeof(pcsc_names) / sizeof(pcsc_names[0])];
static struct hw_dl pcsc_lib = { "libpcsclite.so.1", "libpcsclite1",
    pcsc_names, pcsc_syms, NULL, 0 };

#define SCardEstablishContext ((LONG (*)(DWORD, LPCVOID, LPCVOID, \
	LPSCARDCONTEXT))pcsc_syms[0])
#define SCardReleaseContext ((LONG (*)(SCARDCONTEXT))pcsc_syms[1])
#define SCardListReaders ((LONG (*)(SCARDCONTEXT, LPCSTR, LPSTR, \
	LPDWORD))pcsc_syms[2])
#define SCardConnect ((LONG (*)(SCARDCONTEXT, LPCSTR, DWORD, DWORD, \
	LPSCARDHANDLE, LPDWORD))pcsc_syms[3])
#define SCardDisconnect ((LONG (*)(SCARDHANDLE, DWORD))pcsc_syms[4])
#define SCardTransmit ((LONG (*)(SCARDHANDLE, const SCARD_IO_REQUEST *, \
	LPCBYTE, DWORD, SCARD_IO_REQUEST *, LPBYTE, LPDWORD))pcsc_syms[5])
#define pcsc_stringify_error ((const char *(*)(const LONG))pcsc_syms[6])
#define g_rgSCardT0Pci (*(const SCARD_IO_REQUEST *)pcsc_syms[7])
#define g_rgSCardT1Pci (*(const SCARD_IO_REQUEST *)pcsc_syms[8])

#define PCSC_MAX_READERS_LEN 8192

static const uint8_t select_otp[] = {
	0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01
};

struct pcsc {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto;
	char reader[128];
};

/* One APDU; the status word goes to *sw, the data (without it) to out. */
static LONG
transmit(struct pcsc *p, const uint8_t *apdu, size_t len, uint8_t *out,
    size_t *out_len, unsigned *sw)
{
	uint8_t rbuf[258];
	DWORD rlen = sizeof(rbuf);
	LONG rv;

	*sw = 0;
	rv = SCardTransmit(p->card, p->proto == SCARD_PROTOCOL_T0 ?
	    SCARD_PCI_T0 : SCARD_PCI_T1, apdu, (DWORD)len, NULL, rbuf, &rlen);
	if (rv != SCARD_S_SUCCESS)
		return rv;
	if (rlen < 2 || rlen > sizeof(rbuf) || rlen - 2 > *out_len) {
		sodium_memzero(rbuf, sizeof(rbuf));
		return SCARD_F_COMM_ERROR;
	}
	*sw = (unsigned)rbuf[rlen - 2] << 8 | rbuf[rlen - 1];
	memcpy(out, rbuf, rlen - 2);
	*out_len = rlen - 2;
	sodium_memzero(rbuf, sizeof(rbuf));
	return SCARD_S_SUCCESS;
}

static int
pcsc_challenge(struct yk_backend_dev *d, int slot,
    const uint8_t block[static YK_BLOCK], uint8_t resp[static YK_RESPONSE_LEN],
    struct sd_err *e)
{
	struct pcsc *p = d->state;
	uint8_t apdu[5 + YK_BLOCK], out[256];
	size_t n = sizeof(out);
	unsigned sw;
	LONG rv;
	int r;

	apdu[0] = 0x00;
	apdu[1] = 0x01;
	apdu[2] = slot == 1 ? 0x30 : 0x38;
	apdu[3] = 0x00;
	apdu[4] = YK_BLOCK;
	memcpy(apdu + 5, block, YK_BLOCK);
	rv = transmit(p, apdu, sizeof(apdu), out, &n, &sw);
	sodium_memzero(apdu, sizeof(apdu));
	if (rv != SCARD_S_SUCCESS) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: %s", d->name,
		    pcsc_stringify_error(rv));
		goto out;
	}
	if (sw != 0x9000 || n != YK_RESPONSE_LEN) {
		r = sd_err_set(e, SD_ERR_KEY, "%s: no answer from slot %d "
		    "(status %04X): is it set for HMAC-SHA1 challenge-response "
		    "(ykman otp chalresp), and was it touched?", d->name, slot,
		    sw);
		goto out;
	}
	memcpy(resp, out, YK_RESPONSE_LEN);
	r = 0;
 out:
	sodium_memzero(out, sizeof(out));
	return r;
}

static void
pcsc_close(struct yk_backend_dev *d)
{
	struct pcsc *p = d->state;

	if (p == NULL)
		return;
	SCardDisconnect(p->card, SCARD_LEAVE_CARD);
	SCardReleaseContext(p->ctx);
	free(p);
	d->state = NULL;
}

/* Connect to reader; 0 when it holds a YubiKey's OTP applet. */
static int
probe(const char *reader, struct yk_backend_dev *dev)
{
	struct pcsc *p;
	uint8_t out[256];
	size_t n = sizeof(out);
	const uint8_t get_serial[] = { 0x00, 0x01, 0x10, 0x00 };
	unsigned sw;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx) !=
	    SCARD_S_SUCCESS) {
		free(p);
		return -1;
	}
	snprintf(p->reader, sizeof(p->reader), "%s", reader);
	if (SCardConnect(p->ctx, reader, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &p->card, &p->proto) !=
	    SCARD_S_SUCCESS) {
		SCardReleaseContext(p->ctx);
		free(p);
		return -1;
	}
	if (transmit(p, select_otp, sizeof(select_otp), out, &n, &sw) !=
	    SCARD_S_SUCCESS || sw != 0x9000) {
		SCardDisconnect(p->card, SCARD_LEAVE_CARD);
		SCardReleaseContext(p->ctx);
		free(p);
		return -1;
	}
	memset(dev, 0, sizeof(*dev));
	n = sizeof(out);
	/* older keys over NFC may not tell their serial: 0, "unknown" */
	if (transmit(p, get_serial, sizeof(get_serial), out, &n, &sw) ==
	    SCARD_S_SUCCESS && sw == 0x9000 && n == 4)
		dev->serial = (unsigned)out[0] << 24 | (unsigned)out[1] << 16 |
		    (unsigned)out[2] << 8 | out[3];
	dev->kind = YK_PCSC;
	if (dev->serial != 0)
		snprintf(dev->name, sizeof(dev->name), "YubiKey serial %u "
		    "(PC/SC, %.40s)", dev->serial, reader);
	else
		snprintf(dev->name, sizeof(dev->name), "YubiKey (PC/SC, %.40s, "
		    "serial not readable)", reader);
	dev->state = p;
	dev->challenge = pcsc_challenge;
	dev->close = pcsc_close;
	return 0;
}

int
yk_pcsc_list(struct yk_backend_dev *devs, size_t max, size_t *n,
    struct sd_err *e)
{
	SCARDCONTEXT ctx;
	char *readers = NULL, *rd;
	DWORD len = 0;
	LONG rv;
	int r;

	*n = 0;
	if ((r = hw_dl_load(&pcsc_lib, e)) != 0)
		return r;
	if ((rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx)) !=
	    SCARD_S_SUCCESS)
		return sd_err_set(e, SD_ERR_KEY, "%s", rv == SCARD_E_NO_SERVICE ?
		    "no smart-card service (pcscd) running" :
		    pcsc_stringify_error(rv));
	rv = SCardListReaders(ctx, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE || len == 0) {
		SCardReleaseContext(ctx);
		return 0;
	}
	if (rv != SCARD_S_SUCCESS || len > PCSC_MAX_READERS_LEN ||
	    (readers = calloc(1, len + 2)) == NULL ||
	    (rv = SCardListReaders(ctx, NULL, readers, &len)) !=
	    SCARD_S_SUCCESS) {
		free(readers);
		SCardReleaseContext(ctx);
		return sd_err_set(e, SD_ERR_KEY, "%s", pcsc_stringify_error(rv));
	}
	/* a multi-string: names separated by NULs, ending with two */
	for (rd = readers; *rd != '\0' && rd < readers + len && *n < max;
	    rd += strlen(rd) + 1)
		if (probe(rd, &devs[*n]) == 0)
			(*n)++;
	free(readers);
	SCardReleaseContext(ctx);
	return 0;
}
