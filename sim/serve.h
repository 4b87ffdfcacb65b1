/*
 * serve.h - the simulated HSM behind the Managed HSM security-domain and
 * key HTTP API, over HTTPS on a loopback address (libmicrohttpd): what
 * `sdtool sim serve` runs.  It answers as the service's recordings show
 * (sdtool-sim(1) lists what has no recorded counterpart), and injects
 * faults on request.  Nothing is printed: the server's log lines and the
 * moment it is ready go to the caller's hooks.
 */
#ifndef SD_SIM_SERVE_H
#define SD_SIM_SERVE_H

#include <stddef.h>

#include "../shares/sd_err.h"

#define SIM_MAX_FAULTS     32
#define SIM_DEFAULT_TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"

/* A fault to inject: which, how many times, at which endpoint (-1 any). */
struct sim_fault {
	int kind;
	int left;
	int ep;
};

struct sim_serve_config {
	const char *dir;           /* the simulated HSM's state directory */
	const char *listen;        /* "127.0.0.1:PORT", port 0 for any */
	const char *token_file;    /* NULL: DIR/token, made if missing */
	const char *tenant;        /* named by the 401 challenge */
	struct sim_fault faults[SIM_MAX_FAULTS];
	size_t n_faults;
	int pending;               /* InProgress polls before the end */
	int retry_after;           /* -1: no Retry-After header */
	int slow_seconds;          /* the delay of a slow fault */
	int legacy;                /* answer as the 2020 builds did */
	int no_dl_pending;         /* 404 to download/pending */
};

struct sim_serve_hooks {
	/* One line of the log (a request and its answer, a verdict). */
	void (*log)(void *ctx, const char *line);
	/* Listening: its URL, the test CA to trust, the token file. */
	void (*ready)(void *ctx, const char *url, const char *ca_path,
	    const char *token_path);
	void *ctx;
};

/* The defaults: 127.0.0.1:0, one InProgress poll, no Retry-After. */
void sim_serve_config_init(struct sim_serve_config *cfg);

/*
 * "KIND[:COUNT][@ENDPOINT]" (see sdtool-sim(1)) as a fault; 0 or -1.
 */
int sim_fault_parse(const char *spec, struct sim_fault *f);

/*
 * Serve until SIGINT, SIGTERM or SIGHUP: 0 then.  SD_ERR_ARG for a bad
 * configuration (the message names the option), other SD_ERR_* when the
 * server cannot start; the detail is in e.
 */
int sim_serve_run(const struct sim_serve_config *cfg,
    const struct sim_serve_hooks *hooks, struct sd_err *e) SD_WUR;

#endif
