/*
 * state.c - the optional state file of the simulated card (--state), so
 * that a test can import a key in one step and use it in a later one.
 *
 * It is a TEST FIXTURE's file: JSON with the private keys in plain PEM,
 * the PIN, PUK and management key in hex.  It is written after every
 * command that changes the card, to a temporary file renamed over it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "sim.h"

#define STATE_WARNING "pivsim TEST FIXTURE state: plain-text test keys, " \
	"never a key store"

static char *
hex_encode(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(2 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static int
hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode hex of at most max bytes into out. */
static int
hex_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), i;
	int hi, lo;

	*len = 0;
	if (n % 2 != 0 || n / 2 > max)
		return SIM_ERR_FORMAT;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_nibble(s[2 * i])) < 0 ||
		    (lo = hex_nibble(s[2 * i + 1])) < 0)
			return SIM_ERR_FORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

static int
set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = hex_encode(p, n);
	int r;

	if (s == NULL)
		return SIM_ERR_ALLOC;
	r = json_object_set_new(o, key, json_string(s)) == 0 ? 0 :
	    SIM_ERR_ALLOC;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return r;
}

static int
get_hex(json_t *o, const char *key, uint8_t *out, size_t max, size_t *len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return SIM_ERR_FORMAT;
	return hex_decode(json_string_value(v), out, max, len);
}

static int
get_u8(json_t *o, const char *key, uint8_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 255)
		return SIM_ERR_FORMAT;
	*out = (uint8_t)json_integer_value(v);
	return 0;
}

static int
key_to_json(const struct piv_key *k, json_t **out)
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	json_t *o = NULL;
	char *pem = NULL;
	int r = SIM_ERR_CRYPTO;

	*out = NULL;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || BIO_get_mem_ptr(bio, &mem) != 1)
		goto out;
	r = SIM_ERR_ALLOC;
	if ((pem = calloc(1, mem->length + 1)) == NULL)
		goto out;
	memcpy(pem, mem->data, mem->length);
	if ((o = json_pack("{s:i, s:i, s:i, s:i, s:s}", "algo", k->algo,
	    "origin", k->origin, "pin_policy", k->pin_policy,
	    "touch_policy", k->touch_policy, "pem", pem)) == NULL)
		goto out;
	*out = o;
	o = NULL;
	r = 0;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	json_decref(o);
	BIO_free(bio);
	return r;
}

static int
key_from_json(json_t *o, struct piv_key *k)
{
	json_t *pem = json_object_get(o, "pem");
	BIO *bio = NULL;
	int r = SIM_ERR_FORMAT;

	if (!json_is_object(o) || !json_is_string(pem) ||
	    get_u8(o, "algo", &k->algo) != 0 ||
	    get_u8(o, "origin", &k->origin) != 0 ||
	    get_u8(o, "pin_policy", &k->pin_policy) != 0 ||
	    get_u8(o, "touch_policy", &k->touch_policy) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(json_string_value(pem), -1)) == NULL ||
	    (k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) ==
	    NULL || !EVP_PKEY_is_a(k->pkey, "RSA"))
		goto out;
	r = 0;
out:
	BIO_free(bio);
	if (r != 0)
		piv_key_clear(k);
	return r;
}

int
state_load(struct card *c, const char *path)
{
	json_t *root = NULL, *keys, *objs, *v;
	json_error_t jerr;
	const struct profile *prof;
	const char *name;
	uint8_t *buf = NULL;
	size_t n;
	int r = SIM_ERR_FORMAT;

	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return SIM_ERR_IO; /* a new card */
		fprintf(stderr, "pivsim: %s: %s\n", path, jerr.text);
		return SIM_ERR_FORMAT;
	}
	v = json_object_get(root, "profile");
	if (!json_is_string(v) ||
	    (prof = profile_find(json_string_value(v))) == NULL)
		goto out;
	v = json_object_get(root, "serial");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 0xffffffffLL)
		goto out;
	c->prof = prof;
	c->serial = (uint32_t)json_integer_value(v);
	piv_defaults(c);
	if (get_hex(root, "pin", c->pin, 8, &c->pin_len) != 0 ||
	    c->pin_len < 6 || get_hex(root, "puk", c->puk, 8, &c->puk_len) != 0 ||
	    c->puk_len < 6 || get_u8(root, "pin_tries", &c->pin_tries) != 0 ||
	    get_u8(root, "pin_max", &c->pin_max) != 0 ||
	    get_u8(root, "puk_tries", &c->puk_tries) != 0 ||
	    get_u8(root, "puk_max", &c->puk_max) != 0 ||
	    get_u8(root, "mgm_algo", &c->mgm_algo) != 0 ||
	    get_u8(root, "mgm_touch", &c->mgm_touch) != 0 ||
	    get_hex(root, "mgm_key", c->mgm_key, 32, &c->mgm_len) != 0)
		goto out;
	for (int i = 0; i < 2; i++) {
		const char *k = i == 0 ? "otp_hmac1" : "otp_hmac2";

		if (json_object_get(root, k) == NULL)
			continue;
		if (get_hex(root, k, c->otp_hmac[i], 20, &n) != 0 || n != 20)
			goto out;
		c->otp_hmac_set[i] = true;
	}
	keys = json_object_get(root, "keys");
	json_object_foreach(keys, name, v) {
		uint8_t slot;
		size_t sl;
		int idx;

		if (hex_decode(name, &slot, 1, &sl) != 0 || sl != 1 ||
		    (idx = piv_key_index(slot)) < 0 ||
		    key_from_json(v, &c->keys[idx]) != 0)
			goto out;
	}
	objs = json_object_get(root, "objects");
	json_object_foreach(objs, name, v) {
		uint8_t tag[3];
		size_t tl;

		if (hex_decode(name, tag, 3, &tl) != 0 || tl != 3 ||
		    !json_is_string(v))
			goto out;
		free(buf);
		if ((buf = malloc(PIV_OBJ_MAX)) == NULL) {
			r = SIM_ERR_ALLOC;
			goto out;
		}
		if (hex_decode(json_string_value(v), buf, PIV_OBJ_MAX, &n) !=
		    0 || piv_obj_set(c, (uint32_t)tag[0] << 16 |
		    (uint32_t)tag[1] << 8 | tag[2], buf, n) != 0)
			goto out;
	}
	c->dirty = false;
	r = 0;
out:
	if (r != 0)
		fprintf(stderr, "pivsim: %s: not a pivsim state file\n", path);
	free(buf);
	json_decref(root);
	return r;
}

int
state_save(struct card *c)
{
	json_t *root = NULL, *keys = NULL, *objs = NULL, *k;
	char *text = NULL, *tmp = NULL;
	char name[8];
	size_t i, len, off = 0;
	ssize_t w;
	int fd = -1, r = SIM_ERR_ALLOC;

	if ((root = json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:i, s:i}",
	    "warning", STATE_WARNING, "profile", c->prof->name,
	    "serial", (json_int_t)c->serial, "pin_tries", c->pin_tries,
	    "pin_max", c->pin_max, "puk_tries", c->puk_tries,
	    "puk_max", c->puk_max, "mgm_algo", c->mgm_algo,
	    "mgm_touch", c->mgm_touch)) == NULL ||
	    (keys = json_object()) == NULL || (objs = json_object()) == NULL)
		goto out;
	if ((r = set_hex(root, "pin", c->pin, c->pin_len)) != 0 ||
	    (r = set_hex(root, "puk", c->puk, c->puk_len)) != 0 ||
	    (r = set_hex(root, "mgm_key", c->mgm_key, c->mgm_len)) != 0)
		goto out;
	for (i = 0; i < 2; i++)
		if (c->otp_hmac_set[i] && (r = set_hex(root, i == 0 ?
		    "otp_hmac1" : "otp_hmac2", c->otp_hmac[i], 20)) != 0)
			goto out;
	for (i = 0; i < PIV_NKEYS; i++) {
		if (c->keys[i].algo == 0)
			continue;
		if ((r = key_to_json(&c->keys[i], &k)) != 0)
			goto out;
		snprintf(name, sizeof(name), "%02x", piv_key_slot((int)i));
		if (json_object_set_new(keys, name, k) != 0) {
			r = SIM_ERR_ALLOC;
			goto out;
		}
	}
	for (i = 0; i < c->nobjs; i++) {
		snprintf(name, sizeof(name), "%06x", c->objs[i].tag & 0xffffff);
		if ((r = set_hex(objs, name, c->objs[i].data,
		    c->objs[i].len)) != 0)
			goto out;
	}
	r = SIM_ERR_ALLOC;
	if (json_object_set(root, "keys", keys) != 0 ||
	    json_object_set(root, "objects", objs) != 0 ||
	    (text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL)
		goto out;
	len = strlen(c->state_file) + 8;
	if ((tmp = malloc(len)) == NULL)
		goto out;
	snprintf(tmp, len, "%s.tmp", c->state_file);
	r = SIM_ERR_IO;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0)
		goto out;
	len = strlen(text);
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, c->state_file) != 0)
		goto out;
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
		(void)unlink(tmp);
	}
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	free(tmp);
	json_decref(keys);
	json_decref(objs);
	json_decref(root);
	return r;
}
