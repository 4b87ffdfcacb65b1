#include <sodium.h>
#include <string.h>

#include "secret.h"

/*
 * The counting wrappers: the linker sends every sodium_malloc/sodium_free
 * call of our objects here (-Wl,--wrap=sodium_malloc,--wrap=sodium_free).
 * sdtool is single-threaded.
 */
void *__real_sodium_malloc(size_t size);
void __real_sodium_free(void *ptr);
void *__wrap_sodium_malloc(size_t size);
void __wrap_sodium_free(void *ptr);

static size_t live_guarded;

void *
__wrap_sodium_malloc(size_t size)
{
	void *p = __real_sodium_malloc(size);

	if (p != NULL)
		live_guarded++;
	return p;
}

void
__wrap_sodium_free(void *ptr)
{
	if (ptr != NULL && live_guarded > 0)
		live_guarded--;
	__real_sodium_free(ptr);
}

size_t
sd_secret_live(void)
{
	return live_guarded;
}

struct sd_secret *
sd_secret_new(size_t len)
{
	struct sd_secret *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* sodium_malloc(0) is allowed but we want a valid pointer to wipe. */
	if ((s->p = sodium_malloc(len ? len : 1)) == NULL) {
		free(s);
		return NULL;
	}
	sodium_memzero(s->p, len ? len : 1);
	s->len = len;
	return s;
}

struct sd_secret *
sd_secret_dup(const uint8_t *p, size_t len)
{
	struct sd_secret *s;

	if ((s = sd_secret_new(len)) == NULL)
		return NULL;
	if (len)
		memcpy(s->p, p, len);
	return s;
}

void
sd_secret_free(struct sd_secret *s)
{
	if (s == NULL)
		return;
	sodium_free(s->p);  /* wipes before release */
	free(s);
}

void
sd_random(const struct sd_rng *rng, uint8_t *buf, size_t len)
{
	if (rng != NULL && rng->fill != NULL)
		rng->fill(rng->ctx, buf, len);
	else
		randombytes_buf(buf, len);
}
