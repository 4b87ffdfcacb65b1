#include <sodium.h>
#include <string.h>

#include "secret.h"

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
