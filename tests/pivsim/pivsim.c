/*
 * pivsim - a software YubiKey PIV card for tests.  TEST FIXTURE ONLY:
 * its keys are in plain memory and, with --state, in a plain file.
 *
 * It speaks the vsmartcard vpcd protocol: every message is a 2-byte
 * big-endian length and that many bytes; a 1-byte message is a control
 * (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR, answered
 * with the ATR), anything longer is a C-APDU, answered with an R-APDU.
 *
 * It connects, as vpcd expects a card to, to the vpcd driver listening on
 * --host:--port (127.0.0.1:35963, as /etc/reader.conf.d/vpcd configures
 * it); tests/pivsim/card.sh runs it beside a private pcscd in a network
 * namespace of their own.  (vpcd's other mode, where it connects to the
 * card, is not offered: Debian's vpcd 3.3 aborts pcscd when the card of
 * its second slot is not there.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sim.h"

#define VPCD_DEFAULT_PORT 35963
#define DEFAULT_SERIAL 1000001

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: pivsim [--host ADDR] [--port N]\n"
"              [--profile 4.3|5.4|5.7] [--serial N] [--state FILE]\n"
"              [--mgm-algo 3des|aes128|aes192|aes256]\n"
"              [--otp-hmac1 HEX] [--otp-hmac2 HEX]\n"
"              [--once] [--exit-after SECS] [--wait SECS] [-v]\n"
"A software YubiKey PIV card for tests, over vsmartcard's vpcd.\n"
"TEST FIXTURE ONLY: keys are kept in plain memory and plain files.\n");
}

/* Read exactly n bytes; 0, or -1 on end of stream, error or signal. */
static int
read_full(int fd, uint8_t *p, size_t n)
{
	ssize_t r;
	int one = 1;

	while (n > 0) {
		if (stop)
			return -1;
		/*
		 * vpcd writes a message's length and its bytes separately, so
		 * with Nagle on its side they would wait for our delayed ACK
		 * (40 ms an APDU): acknowledge at once.
		 */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
		    sizeof(one));
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One vpcd message: the 2-byte length and the bytes, in one write. */
static int
send_frame(int fd, const uint8_t *p, size_t n)
{
	uint8_t *buf;
	int r;

	if (n > 0xffff || (buf = malloc(n + 2)) == NULL)
		return -1;
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	r = write_full(fd, buf, n + 2);
	OPENSSL_cleanse(buf, n + 2);
	free(buf);
	return r;
}

static void
log_hex(const char *dir, const uint8_t *p, size_t n, bool secret)
{
	size_t i;

	fprintf(stderr, "pivsim %s", dir);
	for (i = 0; i < n; i++)
		fprintf(stderr, i >= 5 && secret ? " **" : " %02x", p[i]);
	fputc('\n', stderr);
}

/* Serve one vpcd connection until it ends. */
static int
serve(struct card *c, int fd)
{
	uint8_t hdr[2], *msg = NULL;
	struct wr resp;
	size_t len;
	int r = -1;

	memset(&resp, 0, sizeof(resp));
	if ((msg = malloc(0xffff)) == NULL)
		goto out;
	for (;;) {
		if (read_full(fd, hdr, 2) != 0)
			break;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (read_full(fd, msg, len) != 0)
			break;
		if (len == 1) {
			if (c->verbose)
				fprintf(stderr, "pivsim ctrl %02x\n", msg[0]);
			if (msg[0] == 0x04) {
				if (send_frame(fd, c->prof->atr,
				    c->prof->atr_len) != 0)
					break;
			} else if (msg[0] <= 0x02) {
				card_reset(c); /* power off, on, reset */
			}
			continue;
		}
		if (c->verbose)
			log_hex(">", msg, len, len > 4 && (msg[1] == 0x20 ||
			    msg[1] == 0x24 || msg[1] == 0x2c ||
			    msg[1] == 0xfe || msg[1] == 0xff));
		if (wr_init(&resp, 0xffff) != 0)
			goto out;
		if (card_apdu(c, msg, len, &resp) != 0) {
			fprintf(stderr, "pivsim: internal error\n");
			goto out;
		}
		if (c->verbose)
			log_hex("<", resp.buf, resp.len, false);
		if (send_frame(fd, resp.buf, resp.len) != 0)
			break;
		wr_clear(&resp);
	}
	r = 0;
out:
	wr_clear(&resp);
	if (msg != NULL) {
		OPENSSL_cleanse(msg, 0xffff);
		free(msg);
	}
	card_reset(c); /* the reader is gone: the card has lost power */
	return r;
}

static int
run_connect(struct card *c, const char *host, unsigned port, long wait,
    bool once)
{
	struct sockaddr_in sa;
	struct timespec t0, now, pause = { 0, 100 * 1000 * 1000 };
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "pivsim: bad --host: %s\n", host);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			perror("pivsim: socket");
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(fd);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= wait) {
				fprintf(stderr, "pivsim: no vpcd reader on %s "
				    "port %u after %ld s\n", host, port, wait);
				return 1;
			}
			nanosleep(&pause, NULL);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		fprintf(stderr, "pivsim: YubiKey %u.%u.%u #%u (TEST FIXTURE) "
		    "inserted in vpcd %s port %u\n", c->prof->ver[0],
		    c->prof->ver[1], c->prof->ver[2], c->serial, host, port);
		if (serve(c, fd) != 0) {
			close(fd);
			return 1;
		}
		close(fd);
		if (once)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t0);
	}
	return 0;
}

static int
parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || end == s || *out > max ||
	    s[0] == '-' ? -1 : 0;
}

static int
parse_hmac(const char *s, uint8_t out[20])
{
	size_t i;
	unsigned v;

	if (strlen(s) != 40)
		return -1;
	for (i = 0; i < 20; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_HOST = 256, O_PORT, O_PROFILE,
	    O_SERIAL, O_STATE, O_ONCE, O_EXIT, O_WAIT, O_HMAC1, O_HMAC2,
	    O_MGM };
	static const struct option opts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "state", required_argument, NULL, O_STATE },
		{ "once", no_argument, NULL, O_ONCE },
		{ "exit-after", required_argument, NULL, O_EXIT },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "otp-hmac1", required_argument, NULL, O_HMAC1 },
		{ "otp-hmac2", required_argument, NULL, O_HMAC2 },
		{ "mgm-algo", required_argument, NULL, O_MGM },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct { const char *name; uint8_t algo; } mgm_algos[] = {
		{ "3des", ALG_3DES }, { "aes128", ALG_AES128 },
		{ "aes192", ALG_AES192 }, { "aes256", ALG_AES256 },
	};
	const char *host = "127.0.0.1";
	const char *state = NULL, *profile = NULL;
	const char *mgm = NULL;
	unsigned long port = VPCD_DEFAULT_PORT, serial = DEFAULT_SERIAL;
	unsigned long exit_after = 0, wait = 10;
	uint8_t hmac[2][20];
	bool hmac_set[2] = { false, false }, once = false, serial_set = false;
	struct sigaction sa;
	struct card card;
	int ch, verbose = 0, r, rc = 1;

	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case O_HOST: host = optarg; break;
		case O_PROFILE: profile = optarg; break;
		case O_STATE: state = optarg; break;
		case O_ONCE: once = true; break;
		case O_MGM: mgm = optarg; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case O_PORT:
			if (parse_ulong(optarg, 65535, &port) != 0 || port == 0)
				goto bad;
			break;
		case O_SERIAL:
			if (parse_ulong(optarg, 0xffffffffUL, &serial) != 0)
				goto bad;
			serial_set = true;
			break;
		case O_EXIT:
			if (parse_ulong(optarg, 86400, &exit_after) != 0)
				goto bad;
			break;
		case O_WAIT:
			if (parse_ulong(optarg, 86400, &wait) != 0)
				goto bad;
			break;
		case O_HMAC1:
		case O_HMAC2:
			if (parse_hmac(optarg, hmac[ch - O_HMAC1]) != 0)
				goto bad;
			hmac_set[ch - O_HMAC1] = true;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (profile != NULL && profile_find(profile) == NULL) {
		fprintf(stderr, "pivsim: unknown profile %s (4.3, 5.4, 5.7)\n",
		    profile);
		return 2;
	}

	if (card_init(&card, profile_find(profile ? profile : "5.4"),
	    (uint32_t)serial) != 0) {
		fprintf(stderr, "pivsim: out of memory\n");
		return 1;
	}
	card.verbose = verbose;
	if (mgm != NULL) {
		size_t i;

		for (i = 0; i < sizeof(mgm_algos) / sizeof(mgm_algos[0]); i++)
			if (strcmp(mgm, mgm_algos[i].name) == 0)
				break;
		if (i == sizeof(mgm_algos) / sizeof(mgm_algos[0]) ||
		    (mgm_algos[i].algo != ALG_3DES && !card.prof->aes_mgm)) {
			fprintf(stderr, "pivsim: --mgm-algo %s: not on a "
			    "%s card\n", mgm, card.prof->name);
			rc = 2;
			goto out;
		}
		card.mgm_algo = mgm_algos[i].algo;
	}
	if (state != NULL) {
		card.state_file = state;
		r = state_load(&card, state);
		if (r == 0) {
			if ((profile != NULL &&
			    strcmp(profile, card.prof->name) != 0) ||
			    (serial_set && serial != card.serial) ||
			    mgm != NULL) {
				fprintf(stderr, "pivsim: %s holds card %s #%u; "
				    "its firmware, serial and management key "
				    "stay\n", state, card.prof->name,
				    card.serial);
				rc = 2;
				goto out;
			}
		} else if (r != SIM_ERR_IO) {
			goto out;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (hmac_set[i]) {
			memcpy(card.otp_hmac[i], hmac[i], 20);
			card.otp_hmac_set[i] = true;
			card.dirty = true;
		}
	}
	OPENSSL_cleanse(hmac, sizeof(hmac));
	if (state != NULL && (card.dirty || access(state, F_OK) != 0)) {
		if (state_save(&card) != 0) {
			fprintf(stderr, "pivsim: cannot write %s\n", state);
			goto out;
		}
		card.dirty = false;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: reads return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (exit_after > 0)
		alarm((unsigned)exit_after);

	rc = run_connect(&card, host, (unsigned)port, (long)wait, once);
out:
	card_clear(&card);
	return rc;
bad:
	usage(stderr);
	return 2;
}
