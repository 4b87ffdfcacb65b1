/*
 * fuzz_mhsm - the Managed HSM client's handling of replies (net/mhsm.c):
 * the body parsers (SD file in a download reply, status, service error,
 * exchange key) and, through a fake transport and clock, the whole
 * request/retry/poll logic fed a sequence of hostile replies.
 *
 * Input: byte 0 picks the operation; then replies, each
 *   status (2 bytes, big-endian; 0xffff: no reply at all), Retry-After
 *   (1 byte, 0xff: none), request id length (1 byte), request id,
 *   body length (2 bytes), body
 * until the input runs out (then the transport answers "no reply").
 */
#include "fuzz.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "../../net/mhsm.h"
#include "../../net/net.h"

FUZZ_INIT_SODIUM()

struct feed {
	const uint8_t *p;
	size_t left;
	int sends;
};

struct fclock {
	long long now;
};

static int
take(struct feed *f, void *out, size_t n)
{
	if (f->left < n)
		return -1;
	memcpy(out, f->p, n);
	f->p += n;
	f->left -= n;
	return 0;
}

static int
fake_send(void *ctx, const char *method, const char *url, const char *body,
    size_t body_len, const struct sd_secret *token, long timeout_ms,
    struct net_reply *reply, struct sd_err *e)
{
	struct feed *f = ctx;
	uint8_t st[2], ra, idl, bl[2];
	size_t blen;

	(void)method; (void)url; (void)body; (void)body_len; (void)token;
	FUZZ_CHECK(timeout_ms > 0);
	f->sends++;
	net_reply_clear(reply);
	if (take(f, st, 2) || (st[0] == 0xff && st[1] == 0xff) ||
	    take(f, &ra, 1) || take(f, &idl, 1))
		return sd_err_set(e, SD_ERR_IO, "connection refused");
	reply->status = (st[0] << 8 | st[1]) % 600;
	reply->retry_after = ra == 0xff ? -1 : ra;
	idl = idl % NET_REQUEST_ID_LEN;
	if (take(f, reply->request_id, idl))
		return sd_err_set(e, SD_ERR_IO, "connection reset");
	reply->request_id[idl] = '\0';
	if (take(f, bl, 2))
		return sd_err_set(e, SD_ERR_IO, "connection reset");
	blen = (size_t)(bl[0] << 8 | bl[1]);
	if (blen > f->left)
		blen = f->left;
	if ((reply->body = malloc(blen + 1)) == NULL)
		abort();
	memcpy(reply->body, f->p, blen);
	reply->body[blen] = '\0';
	reply->len = blen;
	f->p += blen;
	f->left -= blen;
	return 0;
}

static long long
fake_now(void *ctx)
{
	return ((struct fclock *)ctx)->now;
}

static void
fake_sleep(void *ctx, long long ms)
{
	FUZZ_CHECK(ms >= 0);
	((struct fclock *)ctx)->now += ms;
}

static void
progress(void *ctx, const struct mhsm_progress *p)
{
	(void)ctx;
	FUZZ_CHECK(p->what != NULL);
	if (p->status != NULL)
		FUZZ_CHECK(strnlen(p->status->word, sizeof(p->status->word)) <
		    sizeof(p->status->word));
}

/* The body parsers on their own, on the same bytes. */
static void
bodies(const uint8_t *data, size_t size)
{
	struct sd_err e = { "" };
	struct mhsm_status st;
	struct mhsm_fault f;
	char *in = fuzz_dup(data, size), *sd = NULL;
	size_t sd_len = 0;
	int r;

	r = mhsm_sd_from_reply(in, size, &sd, &sd_len, &e);
	fuzz_check_result(r, &e);
	if (r == 0)
		FUZZ_CHECK(sd != NULL && strlen(sd) <= sd_len);
	free(sd);
	sd_err_clear(&e);
	r = mhsm_status_parse(in, size, &st, &e);
	fuzz_check_result(r, &e);
	FUZZ_CHECK(strnlen(st.word, sizeof(st.word)) < sizeof(st.word));
	FUZZ_CHECK(strnlen(st.details, sizeof(st.details)) <
	    sizeof(st.details));
	memset(&f, 0, sizeof(f));
	mhsm_error_parse(in, size, &f);
	FUZZ_CHECK(strnlen(f.code, sizeof(f.code)) < sizeof(f.code));
	FUZZ_CHECK(strnlen(f.message, sizeof(f.message)) < sizeof(f.message));
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed feed;
	struct fclock fc = { 1000 };
	struct net_transport t = { fake_send, &feed };
	struct net_clock clk = { fake_now, fake_sleep, &fc };
	struct mhsm_config cfg;
	struct mhsm_status st;
	struct sd_err e = { "" };
	struct mhsm *m = NULL;
	X509 *cert = NULL;
	char *sd = NULL, *raw = NULL;
	size_t sd_len = 0, raw_len = 0;
	struct mhsm_accepted acc;
	int r, op;

	if (size == 0)
		return 0;
	bodies(data + 1, size - 1);
	op = data[0] % 6;
	feed.p = data + 1;
	feed.left = size - 1;
	feed.sends = 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = "https://fuzz.managedhsm.azure.net";
	cfg.transport = &t;
	cfg.clock = &clk;
	cfg.timeout_ms = 600000;
	cfg.poll_interval_ms = 1000;
	cfg.progress = progress;
	memset(&acc, 0, sizeof(acc));
	acc.first_wait_ms = -1;
	FUZZ_CHECK(mhsm_new(&cfg, &m, &e) == 0);
	switch (op) {
	case 0:
		r = mhsm_download(m, "{}", 2, &sd, &sd_len, &raw, &raw_len,
		    &acc, &e);
		if (r == 0)
			FUZZ_CHECK(sd != NULL);
		break;
	case 1:
		r = mhsm_transfer_key(m, &cert, &e);
		FUZZ_CHECK((r == 0) == (cert != NULL));
		break;
	case 2:
		r = mhsm_upload(m, "{}", 2, &st, &acc, &e);
		break;
	case 3:
		r = mhsm_pending(m, MHSM_OP_DOWNLOAD, &st, &e);
		break;
	case 4:
		r = mhsm_wait(m, MHSM_OP_UPLOAD, &acc, &st, &e);
		if (r == 0)
			FUZZ_CHECK(st.state == MHSM_SUCCESS ||
			    st.state == MHSM_FAILED);
		break;
	default:
		acc.first_wait_ms = 5000;
		r = mhsm_wait(m, MHSM_OP_DOWNLOAD, &acc, &st, &e);
		break;
	}
	fuzz_check_result(r, &e);
	FUZZ_CHECK(feed.sends <= 10000);
	{
		const struct mhsm_fault *f = mhsm_fault(m);

		FUZZ_CHECK(strnlen(f->message, sizeof(f->message)) <
		    sizeof(f->message));
		FUZZ_CHECK(strnlen(f->request_id, sizeof(f->request_id)) <
		    sizeof(f->request_id));
	}
	X509_free(cert);
	free(sd);
	free(raw);
	mhsm_free(m);
	ERR_clear_error();
	return 0;
}
