/*
 * secret.h - guarded memory for secrets.
 *
 * Shares, content keys, the master secret and decrypted data items live in
 * buffers from libsodium's sodium_malloc(): guard pages around them, locked
 * out of swap where the system allows, excluded from core dumps, and wiped
 * by sodium_free().  Callers must have called sodium_init() once.
 */
#ifndef SD_SECRET_H
#define SD_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"

struct sd_secret {
	size_t len;
	uint8_t *p;     /* sodium_malloc'd, len bytes (at least 1 byte allocated) */
};

/* A new zeroed secret buffer of len bytes, or NULL when memory is short. */
struct sd_secret *sd_secret_new(size_t len) SD_WUR;

/* A new secret holding a copy of len bytes at p, or NULL. */
struct sd_secret *sd_secret_dup(const uint8_t *p, size_t len) SD_WUR;

/* Wipe and release; NULL is a no-op. */
void sd_secret_free(struct sd_secret *s);

/*
 * Source of randomness.  NULL means libsodium's randombytes_buf(); tests
 * inject a deterministic one so outputs can be compared.
 */
struct sd_rng {
	void (*fill)(void *ctx, uint8_t *buf, size_t len);
	void *ctx;
};

/*
 * How many guarded buffers (sodium_malloc) are alive: every sodium_malloc
 * and sodium_free of the program is counted, through the linker's --wrap
 * (the Makefile links every binary with SECRET_WRAP_LDFLAGS).  Tests use
 * it to prove that no secret outlives the program's work: sdtool prints
 * it at exit when SDTOOL_TEST_LIVE_SECRETS is set (a test-only variable).
 */
size_t sd_secret_live(void);

/* Fill buf from rng, or from randombytes_buf() when rng is NULL. */
void sd_random(const struct sd_rng *rng, uint8_t *buf, size_t len);

#endif
