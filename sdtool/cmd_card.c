/*
 * sdtool card: wrapping keys on smartcards and PKCS#11 tokens.
 *
 *   list      the tokens, and the RSA keys and certificates on them, with
 *             the x5t_256 thumbprints and the URI of each key
 *   import    write a key file's private key to a token (sensitive, not
 *             extractable), with its certificate; prove the token
 *             decrypts with it; only then, if asked and confirmed, wipe
 *             and delete the key file
 *   generate  make the key pair on the token, where it stays; write the
 *             self-signed certificate (signed on the token) for the
 *             activation
 *
 * The verbs talk to the token through hw/p11.h; keys are opened for the
 * proof through hw_key_open, exactly as verify and restore-blob will.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pki/certgen.h"
#include "cli.h"
#include "report.h"
#include "hwopts.h"
#include "verbs.h"
#include "../hw/key.h"
#include "../hw/p11.h"
#include "../shares/jwe.h"

#define CARD_DEF_BITS 3072
#define CARD_DEF_DAYS 1095
#define CARD_MAX_DAYS 36500
#define CARD_DEF_SUBJECT "CN=Managed HSM security domain wrapping key %ld"
#define CARD_MAX_ID 64
/* CKA_ID of a key sdtool puts on a token: 16 bytes, as OpenSC makes them. */
#define CARD_NEW_ID_LEN 16
/* A PIV card's key-management slot, 9d, is CKA_ID 3 in ykcs11. */
#define PIV_SLOT_9D_ID 0x03

/*
 * PINs for one run of a subcommand: asked at most once each (the user
 * PIN, the SO PIN or management key), kept in guarded memory until the
 * run ends, because a YubiKey needs the one to write and the other to
 * use the key, sometimes alternately.
 */
struct pins {
	const char *so_file;       /* --so-pin-file */
	char *user;                /* guarded, or NULL until asked */
	char *so;
};

static void
pins_clear(struct pins *p)
{
	sodium_free(p->user);
	sodium_free(p->so);
	p->user = p->so = NULL;
}

/* First line of a file into guarded memory (the SO PIN file). */
static int
read_first_line(const char *path, char *buf, size_t size)
{
	char *text = NULL;
	size_t len = 0, n;
	struct stat st;
	FILE *f;
	int ret = -1;

	if ((f = fopen(path, "re")) == NULL) {
		cli_error("--so-pin-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || S_ISDIR(st.st_mode)) {
		cli_error("--so-pin-file %s: not a file", path);
		goto out;
	}
	if ((text = sodium_malloc(HW_MAX_PIN + 2)) == NULL) {
		cli_error("out of locked memory");
		goto out;
	}
	/* unbuffered, so no copy of the PIN stays in stdio's buffer */
	setvbuf(f, NULL, _IONBF, 0);
	len = fread(text, 1, HW_MAX_PIN + 1, f);
	for (n = 0; n < len && text[n] != '\n' && text[n] != '\r'; n++)
		;
	if (n == 0 || n + 1 > size || n > HW_MAX_PIN) {
		cli_error("--so-pin-file %s: %s", path, n == 0 ? "empty" :
		    "too long");
		goto out;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	ret = 0;
 out:
	sodium_free(text);
	fclose(f);
	return ret;
}

/* An hw_pin_fn over struct pins: ask once, answer from the cache after. */
static int
pins_cb(void *ctx, const char *token, unsigned flags, char *buf, size_t size)
{
	struct pins *p = ctx;
	char **slot = (flags & HW_PIN_SO) ? &p->so : &p->user;
	size_t n;
	int r;

	if (flags & HW_PIN_NOTIFY)
		return cli_pin(NULL, token, flags, buf, size);
	if (*slot == NULL) {
		if ((*slot = sodium_malloc(HW_MAX_PIN)) == NULL)
			return SD_ERR_ALLOC;
		sodium_memzero(*slot, HW_MAX_PIN);
		if ((flags & HW_PIN_SO) && p->so_file != NULL)
			r = read_first_line(p->so_file, *slot, HW_MAX_PIN) == 0 ?
			    0 : SD_ERR_PASSPHRASE;
		else
			r = cli_pin(NULL, token, flags, *slot, HW_MAX_PIN);
		if (r != 0) {
			sodium_free(*slot);
			*slot = NULL;
			return r;
		}
	}
	if ((n = strlen(*slot)) + 1 > size)
		return SD_ERR_PASSPHRASE;
	memcpy(buf, *slot, n + 1);
	return 0;
}

/* hw/'s messages name the token or the file already. */
static void
hw_error(int r, const struct sd_err *e)
{
	cli_error("%s", e->msg[0] != '\0' ? e->msg : sd_strerror(r));
}

/*
 * One token, opened for a subcommand.
 */
struct card {
	struct p11_uri *u;
	char *module;               /* the module's path, as chosen */
	char *pin_path;             /* the URI's pin-source */
	struct p11_module *m;
	struct p11_token tok;
	struct p11_session *s;
	enum p11_role role;         /* who is logged in */
	struct pins pins;
};

static void
card_close(struct card *c)
{
	if (c->s != NULL && c->role != P11_NOBODY)
		(void)p11_logout(c->s);
	p11_session_free(c->s);
	p11_module_free(c->m);
	p11_uri_free(c->u);
	free(c->module);
	free(c->pin_path);
	pins_clear(&c->pins);
	memset(c, 0, sizeof(*c));
}

/* Parse the URI, load the module, find the token (all messages printed). */
static int
card_open(struct card *c, const char *uri, const char *module_opt, int rw)
{
	struct sd_err e = { "" };
	const char *env = getenv(ENV_PKCS11_MODULE);
	int r;

	if (module_opt == NULL && env != NULL && *env != '\0')
		module_opt = env;
	if ((r = p11_uri_parse(uri, &c->u, &e)) != 0) {
		cli_core_error(r, &e, "--token %s", uri);
		return -1;
	}
	/* object=, id= and type= would name a key: --label and --id do */
	if (c->u->object != NULL || c->u->has_id || c->u->type != NULL) {
		cli_error("--token %s: names a token only; give the key's "
		    "label and id with --label and --id", uri);
		return -1;
	}
	if ((r = p11_uri_pin_path(c->u, &c->pin_path, &e)) != 0 ||
	    (r = p11_module_choose(c->u, module_opt, &c->module, &e)) != 0 ||
	    (r = p11_module_open(c->module, &c->m, &e)) != 0 ||
	    (r = p11_find_token(c->m, c->u, uri, &c->tok, &e)) != 0 ||
	    (r = p11_session_open(c->m, &c->tok, rw, &c->s, &e)) != 0) {
		hw_error(r, &e);
		return -1;
	}
	return 0;
}

/* Be logged in as role, asking for its PIN if needed. */
static int
card_login(struct card *c, enum p11_role want)
{
	struct sd_err e = { "" };
	int r;

	if (c->role == want)
		return 0;
	if (c->role != P11_NOBODY)
		(void)p11_logout(c->s);
	c->role = P11_NOBODY;
	if ((r = p11_login(c->s, want, want == P11_SO ? NULL : c->pin_path,
	    pins_cb,
	    &c->pins, &e)) != 0) {
		/* a wrong PIN must not be offered again from the cache */
		pins_clear(&c->pins);
		hw_error(r, &e);
		return -1;
	}
	c->role = want;
	return 0;
}

/* "0a1b" or "%0A%1B" into bytes. */
static int
parse_id(const char *s, uint8_t *id, size_t *len)
{
	size_t n = 0;
	int hi, lo;

	while (*s != '\0') {
		if (*s == '%')
			s++;
		if (!isxdigit((unsigned char)s[0]) ||
		    !isxdigit((unsigned char)s[1]) || n == CARD_MAX_ID)
			return -1;
		hi = s[0] <= '9' ? s[0] - '0' : (s[0] | 0x20) - 'a' + 10;
		lo = s[1] <= '9' ? s[1] - '0' : (s[1] | 0x20) - 'a' + 10;
		id[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*len = n;
	return n > 0 ? 0 : -1;
}

static void
id_hex(const uint8_t *id, size_t len, char *buf, size_t size)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < len && off + 3 <= size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%02x", id[i]);
}

/*
 * Is this key already on the token (a key or certificate object with its
 * public key)?  Then importing again would only make a second copy: a
 * rerun after an interrupted --delete-source, say.  0 when it is not,
 * -1 with a message naming what is there.
 */
static int
check_not_there(struct card *c, EVP_PKEY *pub)
{
	static const CK_OBJECT_CLASS classes[3] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE
	};
	struct p11_object *objs = NULL;
	struct sd_err e = { "" };
	char hex[2 * CARD_MAX_ID + 1];
	EVP_PKEY *have;
	size_t n = 0, i, k;
	int r, found = -1;

	for (k = 0; k < 3 && found < 0; k++) {
		if ((r = p11_find_objects(c->s, classes[k], NULL, &objs, &n,
		    &e)) != 0) {
			hw_error(r, &e);
			return -1;
		}
		for (i = 0; i < n && found < 0; i++) {
			have = objs[i].cert != NULL ?
			    X509_get0_pubkey(objs[i].cert) : objs[i].pub;
			if (have != NULL && EVP_PKEY_eq(have, pub) == 1) {
				id_hex(objs[i].id, objs[i].id_len, hex,
				    sizeof(hex));
				cli_error("token %s already holds this key (id %s, "
				    "label %s): it was imported before; nothing "
				    "was done (sdtool card list shows it)",
				    cli_text(c->tok.label), objs[i].id ? hex : "none",
				    objs[i].label ? cli_text(objs[i].label) :
				    "none");
				found = (int)i;
			}
		}
		p11_objects_free(objs, n);
		objs = NULL;
	}
	ERR_clear_error();
	return found < 0 ? 0 : -1;
}

/*
 * Refuse to write where something is: an object with the id or the
 * label already on the token (for a PIV card: slot 9d taken).
 */
static int
check_free(struct card *c, const char *label, const uint8_t *id,
    size_t id_len)
{
	static const CK_OBJECT_CLASS classes[3] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE
	};
	struct p11_uri q;
	struct p11_object *objs = NULL;
	struct sd_err e = { "" };
	char hex[2 * CARD_MAX_ID + 1];
	size_t n = 0, i, pass;
	int r;

	for (pass = 0; pass < 2; pass++) {
		memset(&q, 0, sizeof(q));
		if (pass == 0) {
			q.has_id = 1;
			q.id = (uint8_t *)id;
			q.id_len = id_len;
		} else {
			q.object = (char *)label;
		}
		for (i = 0; i < 3; i++) {
			if ((r = p11_find_objects(c->s, classes[i], &q, &objs, &n,
			    &e)) != 0) {
				hw_error(r, &e);
				return -1;
			}
			p11_objects_free(objs, n);
			if (n == 0)
				continue;
			id_hex(id, id_len, hex, sizeof(hex));
			if (c->tok.yubikey_piv && pass == 0)
				cli_error("token %s: PIV slot 9d (id %s) already "
				    "holds a key or certificate; importing would "
				    "destroy it (clear it first with "
				    "yubico-piv-tool if it is not needed)",
				    c->tok.label, hex);
			else if (pass == 0)
				cli_error("token %s already holds an object with "
				    "id %s; choose another --id", c->tok.label,
				    hex);
			else
				cli_error("token %s already holds an object "
				    "labelled %s; choose another --label",
				    c->tok.label, label);
			return -1;
		}
		if (c->tok.yubikey_piv)
			break;   /* PIV labels are the slots' fixed names */
	}
	return 0;
}

/* Remove what this run wrote (best effort; said when it fails). */
static void
cleanup_objects(struct card *c, const uint8_t *id, size_t id_len)
{
	static const CK_OBJECT_CLASS classes[3] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE
	};
	struct p11_uri q;
	struct p11_object *objs = NULL;
	struct sd_err e = { "" };
	size_t n = 0, i, j;
	int failed = 0;

	memset(&q, 0, sizeof(q));
	q.has_id = 1;
	q.id = (uint8_t *)id;
	q.id_len = id_len;
	for (i = 0; i < 3; i++) {
		if (p11_find_objects(c->s, classes[i], &q, &objs, &n, &e) != 0) {
			failed = 1;
			continue;
		}
		for (j = 0; j < n; j++)
			if (p11_destroy(c->s, objs[j].h, &e) != 0)
				failed = 1;
		p11_objects_free(objs, n);
	}
	if (failed)
		cli_warn("token %s: could not remove everything this run wrote "
		    "(%s); see sdtool card list", c->tok.label,
		    e.msg[0] ? e.msg : "objects not found");
}

/*
 * The proof: a random value encrypted to the certificate (RSA-OAEP-256,
 * as the HSM encrypts shares) and decrypted by the key the URI names,
 * opened as verify opens keys.  *oaep_host tells where OAEP was checked.
 */
static int
prove(struct card *c, const char *uri, X509 *cert, const char *x5t,
    int *oaep_host)
{
	struct hw_open_opts o;
	struct hw_key *k = NULL;
	struct sd_secret *got = NULL;
	struct sd_err e = { "" };
	uint8_t value[32], *ct = NULL;
	size_t ct_len = 0;
	int r, ret = -1;

	memset(&o, 0, sizeof(o));
	o.pin = pins_cb;
	o.pin_ctx = &c->pins;
	o.pkcs11_module = c->module;
	randombytes_buf(value, sizeof(value));
	if ((r = rsa_oaep256_encrypt(X509_get0_pubkey(cert), value,
	    sizeof(value), &ct, &ct_len, &e)) != 0) {
		cli_core_error(r, &e, "encrypting the test value");
		goto out;
	}
	if ((r = hw_key_open(uri, &o, &k, &e)) != 0) {
		cli_core_error(r, &e, "proof");
		goto out;
	}
	if (hw_key_x5t256(k) == NULL || strcmp(hw_key_x5t256(k), x5t) != 0) {
		cli_error("proof: %s opens with %s certificate, not the one "
		    "just written", uri, hw_key_x5t256(k) ? "another" : "no");
		goto out;
	}
	if ((r = hw_key_decrypt(k, ct, ct_len, &got, &e)) != 0) {
		cli_core_error(r, &e, "proof");
		goto out;
	}
	if (got->len != sizeof(value) ||
	    sodium_memcmp(got->p, value, sizeof(value)) != 0) {
		cli_error("proof: token %s decrypted the test value wrongly",
		    c->tok.label);
		goto out;
	}
	*oaep_host = (hw_key_flags(k) & HW_KEY_OAEP_HOST) != 0;
	ret = 0;
 out:
	sodium_memzero(value, sizeof(value));
	sd_secret_free(got);
	free(ct);
	hw_key_free(k);
	return ret;
}

/* Read back the key's protection attributes, as the token reports them. */
static int
check_protection(struct card *c, const uint8_t *id, size_t id_len,
    int *sensitive, int *extractable)
{
	struct p11_uri q;
	struct p11_object *keys = NULL;
	struct sd_err e = { "" };
	size_t n = 0;
	int r;

	memset(&q, 0, sizeof(q));
	q.has_id = 1;
	q.id = (uint8_t *)id;
	q.id_len = id_len;
	if ((r = p11_find_objects(c->s, CKO_PRIVATE_KEY, &q, &keys, &n,
	    &e)) != 0) {
		hw_error(r, &e);
		return -1;
	}
	if (n != 1) {
		p11_objects_free(keys, n);
		cli_error("token %s: the key just written is not found (%zu "
		    "objects with its id)", c->tok.label, n);
		return -1;
	}
	*sensitive = keys[0].sensitive;
	*extractable = keys[0].extractable;
	p11_objects_free(keys, n);
	/*
	 * -1 is "the token does not say": PIV cards (ykcs11) report their
	 * keys sensitive and unextractable; a token that says otherwise
	 * ignored what it was asked.
	 */
	if (*sensitive == 0 || *extractable == 1) {
		cli_error("token %s stored the key %s: refusing to leave it "
		    "there", c->tok.label, *sensitive == 0 ? "NOT sensitive" :
		    "EXTRACTABLE");
		return -1;
	}
	return 0;
}

static const char *
tristate(int v, const char *yes, const char *no)
{
	return v == 1 ? yes : v == 0 ? no : "not reported";
}

/* --- list -------------------------------------------------------------- */

#define LIST_SYNOPSIS "[--json] [--login] [--token URI] " \
	"[--pkcs11-module MODULE]"

enum { O_JSON = 1, O_TOKEN, O_MODULE, O_LOGIN, O_KEY, O_LABEL, O_ID,
	O_DELETE, O_PASSFILE, O_SO, O_SOPIN, O_DIR, O_INDEX, O_BITS,
	O_SUBJECT, O_DAYS };

static const struct opt list_opts[] = {
	{ O_TOKEN, "token", 0, OPT_VALUE, "URI",
	    "only the tokens this pkcs11: URI matches" },
	{ O_LOGIN, "login", 0, OPT_FLAG, NULL,
	    "log in (PIN) to see private keys too" },
	{ O_MODULE, "pkcs11-module", 0, OPT_VALUE, "MODULE",
	    "PKCS#11 module (default $SDTOOL_PKCS11_MODULE, p11-kit's proxy)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* One entry of the listing: a key id with what the token holds for it. */
struct entry {
	char *label;
	uint8_t *id;
	size_t id_len;
	int has_priv, has_pub;
	int bits;
	int sensitive, extractable, decrypt;
	X509 *cert;                 /* borrowed from the object list */
};

static struct entry *
entry_for(struct entry *ents, size_t *n, const struct p11_object *o)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (o->id_len > 0 && ents[i].id_len == o->id_len &&
		    memcmp(ents[i].id, o->id, o->id_len) == 0)
			return &ents[i];
		if (o->id_len == 0 && ents[i].id_len == 0 && o->label != NULL &&
		    ents[i].label != NULL && strcmp(o->label, ents[i].label) == 0)
			return &ents[i];
	}
	memset(&ents[*n], 0, sizeof(ents[*n]));
	ents[*n].label = o->label;
	ents[*n].id = o->id;
	ents[*n].id_len = o->id_len;
	ents[*n].sensitive = ents[*n].extractable = ents[*n].decrypt = -1;
	return &ents[(*n)++];
}

static void
flag_words(const struct p11_token *t, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s%s%s",
	    (t->flags & CKF_LOGIN_REQUIRED) ? "PIN required" : "no PIN",
	    (t->flags & CKF_PROTECTED_AUTHENTICATION_PATH) ? ", PIN pad" : "",
	    (t->flags & CKF_USER_PIN_LOCKED) ? ", PIN LOCKED" : "",
	    (t->flags & CKF_USER_PIN_FINAL_TRY) ? ", PIN: one try left" : "",
	    (t->flags & CKF_USER_PIN_COUNT_LOW) ? ", PIN: few tries left" : "",
	    (t->flags & CKF_WRITE_PROTECTED) ? ", write-protected" : "");
}

/* List one token; adds its JSON to arr when arr is not NULL. */
static int
list_token(struct p11_module *m, const struct p11_token *t, int login,
    const char *pin_path, struct pins *pins, const char *module_shown,
    json_t *arr)
{
	static const CK_OBJECT_CLASS classes[3] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE
	};
	struct p11_session *s = NULL;
	struct p11_object *objs[3] = { NULL };
	size_t nobj[3] = { 0 }, i, j, n = 0;
	struct entry *ents = NULL;
	struct sd_err e = { "" };
	char words[160], hex[2 * CARD_MAX_ID + 1], x5t[SD_X5T_SIZE];
	char when[32], *uri = NULL, *subj;
	json_t *jt = NULL, *jkeys = NULL, *jk;
	int r, ret = -1, logged_in = 0;

	if (!(t->flags & CKF_TOKEN_INITIALIZED)) {
		if (arr == NULL)
			printf("slot %lu: a token not initialized (empty)\n",
			    (unsigned long)t->slot);
		return 0;
	}
	if ((r = p11_session_open(m, t, 0, &s, &e)) != 0) {
		cli_error("%s", e.msg);
		return -1;
	}
	if (login && (t->flags & CKF_LOGIN_REQUIRED)) {
		if ((r = p11_login(s, P11_USER, pin_path, pins_cb, pins, &e)) != 0) {
			cli_error("%s", e.msg);
			goto out;
		}
		logged_in = 1;
	}
	for (i = 0; i < 3; i++)
		if ((r = p11_find_objects(s, classes[i], NULL, &objs[i],
		    &nobj[i], &e)) != 0) {
			cli_error("%s", e.msg);
			goto out;
		}
	if ((ents = calloc(nobj[0] + nobj[1] + nobj[2] + 1,
	    sizeof(*ents))) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < nobj[i]; j++) {
			const struct p11_object *o = &objs[i][j];
			struct entry *en;

			if (i < 2 && o->key_type != CKK_RSA)
				continue;
			if (i == 2 && o->cert == NULL)
				continue;
			en = entry_for(ents, &n, o);
			if (en->label == NULL)
				en->label = o->label;
			if (o->bits > 0 && en->bits == 0)
				en->bits = o->bits;
			if (i == 0) {
				en->has_priv = 1;
				en->sensitive = o->sensitive;
				en->extractable = o->extractable;
				en->decrypt = o->decrypt;
			} else if (i == 1) {
				en->has_pub = 1;
			} else if (en->cert == NULL) {
				en->cert = o->cert;
			}
		}
	flag_words(t, words, sizeof(words));
	if (arr != NULL) {
		jt = json_object();
		json_object_set_new(jt, "label", cli_json_text(t->label));
		json_object_set_new(jt, "manufacturer",
		    cli_json_text(t->manufacturer));
		json_object_set_new(jt, "model", cli_json_text(t->model));
		json_object_set_new(jt, "serial", cli_json_text(t->serial));
		json_object_set_new(jt, "slot_id",
		    json_integer((json_int_t)t->slot));
		json_object_set_new(jt, "flags", json_string(words));
		json_object_set_new(jt, "logged_in", json_boolean(logged_in));
		json_object_set_new(jt, "yubikey_piv",
		    json_boolean(t->yubikey_piv));
		jkeys = json_array();
		json_object_set_new(jt, "keys", jkeys);
	} else {
		printf("token %s  (%s %s, serial %s, slot %lu)\n", cli_text(t->label),
		    cli_text(t->manufacturer), cli_text(t->model), cli_text(t->serial),
		    (unsigned long)t->slot);
		printf("  %s\n", words);
		if (n == 0)
			printf("  no RSA keys or certificates%s\n",
			    (t->flags & CKF_LOGIN_REQUIRED) && !logged_in ?
			    " visible (--login shows private keys)" : "");
	}
	for (i = 0; i < n; i++) {
		struct entry *en = &ents[i];

		id_hex(en->id, en->id_len, hex, sizeof(hex));
		free(uri);
		uri = NULL;
		/*
		 * A PIV card's objects carry the slot's fixed names, which
		 * differ between a key and its certificate: the id names it.
		 */
		if ((r = p11_uri_format(t->label, t->yubikey_piv ? NULL :
		    en->label, en->id, en->id_len, "private", module_shown,
		    &uri)) != 0) {
			cli_error("%s", r == SD_ERR_LIMIT ? "a key's PKCS#11 "
			    "URI would be longer than 4096 characters" :
			    "out of memory");
			goto out;
		}
		x5t[0] = '\0';
		when[0] = '\0';
		if (en->cert != NULL) {
			if (pki_cert_x5t256(en->cert, x5t) != 0)
				x5t[0] = '\0';
			certgen_not_after(en->cert, when);
		}
		if (arr != NULL) {
			jk = json_object();
			json_object_set_new(jk, "uri", cli_json_text(uri));
			json_object_set_new(jk, "label", en->label ?
			    cli_json_text(en->label) : json_null());
			json_object_set_new(jk, "id", json_string(hex));
			json_object_set_new(jk, "private_key", en->has_priv ?
			    json_true() : logged_in ||
			    !(t->flags & CKF_LOGIN_REQUIRED) ? json_false() :
			    json_null());
			json_object_set_new(jk, "bits", json_integer(en->bits));
			if (en->has_priv) {
				json_object_set_new(jk, "sensitive",
				    en->sensitive < 0 ? json_null() :
				    json_boolean(en->sensitive));
				json_object_set_new(jk, "extractable",
				    en->extractable < 0 ? json_null() :
				    json_boolean(en->extractable));
				json_object_set_new(jk, "decrypt",
				    en->decrypt < 0 ? json_null() :
				    json_boolean(en->decrypt));
			}
			json_object_set_new(jk, "x5t_256", x5t[0] ?
			    json_string(x5t) : json_null());
			if (en->cert != NULL) {
				subj = X509_NAME_oneline(X509_get_subject_name(
				    en->cert), NULL, 0);
				json_object_set_new(jk, "subject", subj ?
				    cli_json_text(subj) : json_null());
				OPENSSL_free(subj);
				json_object_set_new(jk, "not_after",
				    json_string(when));
			}
			json_array_append_new(jkeys, jk);
			continue;
		}
		printf("  key %s\n", cli_text(uri));
		printf("      RSA-%d%s", en->bits,
		    en->has_priv ? "" : (t->flags & CKF_LOGIN_REQUIRED) &&
		    !logged_in ? ", private key not visible without --login" :
		    ", NO private key on the token");
		if (en->has_priv)
			printf(", %s, %s, %s", tristate(en->sensitive,
			    "sensitive", "NOT sensitive"),
			    tristate(en->extractable, "EXTRACTABLE",
			    "not extractable"), tristate(en->decrypt,
			    "decrypts", "may NOT decrypt"));
		printf("\n");
		if (en->cert != NULL) {
			subj = X509_NAME_oneline(X509_get_subject_name(en->cert),
			    NULL, 0);
			printf("      certificate x5t_256 %s\n", x5t);
			printf("        %s, expires %s\n", subj ? cli_text(subj) : "?",
			    when);
			OPENSSL_free(subj);
		} else {
			printf("      no certificate on the token (verify will "
			    "match shares by trial decryption)\n");
		}
	}
	if (jt != NULL) {
		json_array_append_new(arr, jt);
		jt = NULL;
	}
	ret = 0;
 out:
	json_decref(jt);
	free(uri);
	free(ents);
	for (i = 0; i < 3; i++)
		p11_objects_free(objs[i], nobj[i]);
	if (logged_in)
		(void)p11_logout(s);
	p11_session_free(s);
	return ret;
}

static int
card_list(int argc, char **argv)
{
	struct opt_parser p;
	struct p11_uri *u = NULL;
	struct p11_module *m = NULL;
	struct p11_token *toks = NULL;
	struct pins pins = { NULL, NULL, NULL };
	struct sd_err e = { "" };
	const char *val, *uri = NULL, *module_opt = NULL, *env;
	char *module = NULL, *pin_path = NULL;
	size_t n = 0, i, shown = 0;
	int id, r, json = 0, login = 0, failed = 0, ret = EXIT_FAIL;
	json_t *root = NULL, *arr = NULL;

	opt_init(&p, argc, argv, list_opts);
	while ((id = opt_next(&p, &val)) != OPT_END) {
		switch (id) {
		case O_TOKEN: uri = val; break;
		case O_MODULE: module_opt = val; break;
		case O_LOGIN: login = 1; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: return cli_usage(stdout, LIST_SYNOPSIS, list_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (module_opt == NULL && (env = getenv(ENV_PKCS11_MODULE)) != NULL &&
	    *env != '\0')
		module_opt = env;
	if (uri != NULL && (r = p11_uri_parse(uri, &u, &e)) != 0) {
		cli_core_error(r, &e, "--token %s", uri);
		goto out;
	}
	if ((u != NULL && (r = p11_uri_pin_path(u, &pin_path, &e)) != 0) ||
	    (r = p11_module_choose(u, module_opt, &module, &e)) != 0 ||
	    (r = p11_module_open(module, &m, &e)) != 0 ||
	    (r = p11_tokens(m, &toks, &n, &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	if (json) {
		root = report_new("card");
		json_object_set_new(root, "module", cli_json_text(module));
		json_object_set_new(root, "module_manufacturer",
		    cli_json_text(p11_module_manufacturer(m)));
		json_object_set_new(root, "module_description",
		    cli_json_text(p11_module_description(m)));
		arr = json_array();
		json_object_set_new(root, "tokens", arr);
	} else {
		printf("module %s (%s, %s)\n", cli_text(module),
		    cli_text(p11_module_manufacturer(m)), cli_text(p11_module_description(m)));
	}
	for (i = 0; i < n; i++) {
		if (!p11_token_matches(m, &toks[i], u))
			continue;
		shown++;
		/* the URIs shown name the module when it is not the default */
		if (list_token(m, &toks[i], login, pin_path, &pins,
		    module_opt != NULL || (u != NULL && u->module_path) ?
		    module : NULL, arr) != 0)
			failed = 1;
	}
	if (json) {
		report_set_ok(root, 1);
		report_print(root);
	} else if (shown == 0) {
		printf("no token%s (is the card inserted, the reader "
		    "connected?)\n", uri != NULL ? " matches" : " found");
	}
	if (shown == 0 && uri != NULL) {
		cli_error("%s: no token matches", uri);
		failed = 1;
	}
	ret = failed ? EXIT_FAIL : EXIT_OK;
 out:
	json_decref(root);
	pins_clear(&pins);
	free(toks);
	p11_module_free(m);
	p11_uri_free(u);
	free(module);
	free(pin_path);
	return ret;
}

/* --- import ------------------------------------------------------------ */

#define IMPORT_SYNOPSIS "[--json] --key KEY --token URI [--label LABEL] " \
	"[--id ID] [--so] [--so-pin-file FILE] [--password-file FILE] " \
	"[--pkcs11-module MODULE] [--delete-source]"

static const struct opt import_opts[] = {
	{ O_KEY, "key", 0, OPT_VALUE, "KEY",
	    "the key file (its certificate beside it, as .cer)" },
	{ O_TOKEN, "token", 0, OPT_VALUE, "URI",
	    "the token, as a pkcs11: URI (token=...)" },
	{ O_LABEL, "label", 0, OPT_VALUE, "LABEL",
	    "the objects' label (default: the key file's name)" },
	{ O_ID, "id", 0, OPT_VALUE, "ID",
	    "the objects' CKA_ID in hex (default: from the public key; "
	    "YubiKey: 03, slot 9d)" },
	{ O_SO, "so", 0, OPT_FLAG, NULL,
	    "write as the security officer (default for YubiKey PIV)" },
	{ O_SOPIN, "so-pin-file", 0, OPT_VALUE, "FILE",
	    "SO PIN or PIV management key from FILE's first line" },
	{ O_PASSFILE, "password-file", 0, OPT_VALUE, "FILE",
	    "the key file's passphrase from FILE's first line" },
	{ O_MODULE, "pkcs11-module", 0, OPT_VALUE, "MODULE",
	    "PKCS#11 module (default $SDTOOL_PKCS11_MODULE, p11-kit's proxy)" },
	{ O_DELETE, "delete-source", 0, OPT_FLAG, NULL,
	    "after the proof, and a typed confirmation, wipe the key file" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* The key file's name without directory and extension: cert_0. */
static void
stem_of(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/'), *dot;
	size_t n;

	base = base != NULL ? base + 1 : path;
	dot = strrchr(base, '.');
	n = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
	if (n >= size)
		n = size - 1;
	memcpy(buf, base, n);
	buf[n] = '\0';
}

/* Ask the officer to type the file's name before it is destroyed. */
static int
confirm_delete(const char *path)
{
	char line[PATH_MAX + 2];
	FILE *tty;
	size_t n;
	int ok = 0, tries;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL) {
		cli_error("--delete-source needs a terminal to confirm on; the "
		    "key file %s was kept", path);
		return -1;
	}
	fprintf(tty, "The key is on the token and decrypts there.\n");
	/* a typo is asked again (3 tries); an empty line keeps the file */
	for (tries = 1; tries <= 3 && !ok; tries++) {
		fprintf(tty, "To overwrite and delete %s, type its name as "
		    "given%s: ", path, tries > 1 ? " (again; an empty line keeps "
		    "it)" : "");
		fflush(tty);
		if (fgets(line, sizeof(line), tty) == NULL)
			break;
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			break;
		ok = strcmp(line, path) == 0;
		if (!ok)
			fprintf(tty, "That is not the name given.\n");
	}
	fclose(tty);
	if (!ok) {
		cli_error("not confirmed; the key file %s was kept (the key is "
		    "on the token and works: delete the file yourself when "
		    "sure, do not import it again)", path);
		return -1;
	}
	return 0;
}

/*
 * Overwrite the file with random bytes, flush, and remove it.  On a
 * journaling or copy-on-write file system, or flash with wear
 * levelling, old copies of the blocks may survive: the man page says so.
 */
static int
wipe_file(const char *path)
{
	uint8_t buf[4096];
	struct stat st;
	off_t left;
	ssize_t w;
	size_t chunk;
	char *copy = NULL;
	int fd, dfd, ret = -1;

	if ((fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		cli_error("%s: %s; the key file was not deleted", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cli_error("%s: not a regular file; not deleted", path);
		goto out;
	}
	if (st.st_nlink > 1)
		cli_warn("%s has %lu names (hard links); the others keep "
		    "pointing at the wiped content", path,
		    (unsigned long)st.st_nlink);
	for (left = st.st_size; left > 0; left -= (off_t)chunk) {
		chunk = left > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)left;
		randombytes_buf(buf, chunk);
		if ((w = write(fd, buf, chunk)) != (ssize_t)chunk) {
			cli_error("%s: overwriting: %s", path, w == -1 ?
			    strerror(errno) : "short write");
			goto out;
		}
	}
	if (fsync(fd) == -1) {
		cli_error("%s: fsync: %s", path, strerror(errno));
		goto out;
	}
	if (unlink(path) == -1) {
		cli_error("%s: overwritten but not removed: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((copy = strdup(path)) != NULL &&
	    (dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	ret = 0;
 out:
	free(copy);
	close(fd);
	return ret;
}

static int
card_import(int argc, char **argv)
{
	struct opt_parser p;
	struct card c;
	struct cli_pass pass = { NULL, 0, NULL, 0, 0, 0 };
	struct hw_open_opts o;
	struct hw_key *key = NULL;
	struct sd_err e = { "" };
	CK_OBJECT_HANDLE hkey = CK_INVALID_HANDLE, hcert = CK_INVALID_HANDLE;
	const char *val, *key_path = NULL, *uri = NULL, *module_opt = NULL;
	const char *label = NULL;
	char stem[64], hex[2 * CARD_MAX_ID + 1], *new_uri = NULL;
	uint8_t id[CARD_MAX_ID], md[32], *spki = NULL;
	size_t id_len = 0;
	unsigned long min = 0, max = 0;
	int idr, r, json = 0, so = 0, del = 0, written = 0, sens = -1, extr = -1;
	int host = 0, spki_len, deleted = 0, ret = EXIT_FAIL;
	json_t *rep;

	memset(&c, 0, sizeof(c));
	opt_init(&p, argc, argv, import_opts);
	while ((idr = opt_next(&p, &val)) != OPT_END) {
		switch (idr) {
		case O_KEY: key_path = val; break;
		case O_TOKEN: uri = val; break;
		case O_LABEL: label = val; break;
		case O_ID:
			if (parse_id(val, id, &id_len) != 0)
				return cli_usage_error("--id %s: hex bytes (1 to "
				    "%d), such as 03 or 0a1b", val, CARD_MAX_ID);
			break;
		case O_SO: so = 1; break;
		case O_SOPIN: c.pins.so_file = val; break;
		case O_PASSFILE: pass.file = val; break;
		case O_MODULE: module_opt = val; break;
		case O_DELETE: del = 1; break;
		case O_JSON: json = 1; break;
		case OPT_HELP:
			return cli_usage(stdout, IMPORT_SYNOPSIS, import_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (key_path == NULL || uri == NULL)
		return cli_usage_error("--key and --token are required");
	if (label != NULL && (*label == '\0' || strlen(label) > 255))
		return cli_usage_error("--label: 1 to 255 characters");
	if (strncmp(key_path, "pkcs11:", 7) == 0)
		return cli_usage_error("--key %s: already on a token; import "
		    "takes a key file", key_path);
	if (del && !cli_have_tty()) {
		cli_error("--delete-source needs a terminal to confirm on; "
		    "nothing was done");
		return EXIT_FAIL;
	}

	/* The key file first: a wrong passphrase costs no token PIN try. */
	memset(&o, 0, sizeof(o));
	o.passphrase = cli_passphrase;
	o.passphrase_ctx = &pass;
	if ((r = hw_key_open(key_path, &o, &key, &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	if (hw_key_flags(key) & HW_KEY_YKEY) {
		cli_error("%s: a YubiKey-wrapped key; run 'sdtool yk unwrap' "
		    "first, and import the key file it writes", key_path);
		goto out;
	}
	if (hw_key_cert(key) == NULL) {
		cli_error("%s: no certificate beside it (%s); the token needs "
		    "it to tell which share the key opens", key_path,
		    "the key's name with .cer");
		goto out;
	}
	if (card_open(&c, uri, module_opt, 1) != 0)
		goto out;
	if (label == NULL) {
		stem_of(key_path, stem, sizeof(stem));
		label = stem;
	}
	if (id_len == 0 && c.tok.yubikey_piv) {
		id[0] = PIV_SLOT_9D_ID;
		id_len = 1;
	} else if (id_len == 0) {
		/* the first 16 bytes of SHA-256(SubjectPublicKeyInfo) */
		spki = NULL;
		if ((spki_len = i2d_PUBKEY(X509_get0_pubkey(hw_key_cert(key)),
		    &spki)) <= 0 || EVP_Digest(spki, (size_t)spki_len, md, NULL,
		    EVP_sha256(), NULL) != 1) {
			cli_error("encoding the public key failed");
			goto out;
		}
		memcpy(id, md, CARD_NEW_ID_LEN);
		id_len = CARD_NEW_ID_LEN;
	} else if (c.tok.yubikey_piv && !(id_len == 1 &&
	    id[0] == PIV_SLOT_9D_ID)) {
		cli_warn("token %s is a YubiKey PIV: --id other than 03 puts the "
		    "key in another PIV slot than 9d (key management)",
		    c.tok.label);
	}
	id_hex(id, id_len, hex, sizeof(hex));
	p11_rsa_range(c.s, CKM_RSA_PKCS_KEY_PAIR_GEN, &min, &max);
	if (max == 0)
		p11_rsa_range(c.s, CKM_RSA_X_509, &min, &max);
	if (max > 0 && (unsigned long)hw_key_bits(key) > max)
		cli_warn("token %s says it takes RSA keys up to %lu bits; this "
		    "key is RSA-%d: the import will likely fail%s", c.tok.label,
		    max, hw_key_bits(key), c.tok.yubikey_piv ? " (YubiKeys "
		    "before firmware 5.7 take RSA-2048 at most)" : "");
	if (card_login(&c, so || c.tok.yubikey_piv ? P11_SO : P11_USER) != 0 ||
	    check_not_there(&c, X509_get0_pubkey(hw_key_cert(key))) != 0 ||
	    check_free(&c, label, id, id_len) != 0)
		goto out;
	if ((r = p11_import_rsa(c.s, key, label, id, id_len, &hkey, &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	written = 1;
	if ((r = p11_store_cert(c.s, hw_key_cert(key), label, id, id_len,
	    &hcert, &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	/* Using the key takes the user's PIN (a YubiKey's SO wrote it). */
	if (card_login(&c, P11_USER) != 0 ||
	    check_protection(&c, id, id_len, &sens, &extr) != 0)
		goto out;
	if ((r = p11_uri_format(c.tok.label, c.tok.yubikey_piv ? NULL : label,
	    id, id_len, "private", NULL, &new_uri)) != 0) {
		cli_error("%s", r == SD_ERR_LIMIT ? "the key's PKCS#11 URI "
		    "would be longer than 4096 characters" : "out of memory");
		goto out;
	}
	if (prove(&c, new_uri, hw_key_cert(key), hw_key_x5t256(key),
	    &host) != 0)
		goto out;
	written = 0;   /* proven: it stays */
	if (!json) {
		printf("%s imported to token %s\n", cli_text(key_path), cli_text(c.tok.label));
		printf("  key      %s\n", cli_text(new_uri));
		printf("  x5t_256  %s\n", hw_key_x5t256(key));
		printf("  RSA-%d, %s, %s\n", hw_key_bits(key),
		    tristate(sens, "sensitive", "NOT sensitive"),
		    tristate(extr, "EXTRACTABLE", "not extractable"));
		printf("  proof: a random value encrypted to the certificate "
		    "was decrypted on the token (%s)\n", host ? "raw RSA on the "
		    "token, OAEP checked here" : "RSA-OAEP-256 on the token");
	}
	if (del) {
		fflush(stdout);
		if (confirm_delete(key_path) != 0 || wipe_file(key_path) != 0)
			goto report;
		deleted = 1;
		if (!json)
			printf("%s overwritten and deleted; the key now exists "
			    "only on token %s\n", cli_text(key_path),
			    cli_text(c.tok.label));
	} else if (!json) {
		printf("The key file %s still exists: keep it offline as a "
		    "backup, or destroy it (--delete-source).\n", cli_text(key_path));
	}
	ret = EXIT_OK;
 report:
	if (json) {
		rep = report_new("card");
		json_object_set_new(rep, "file", cli_json_text(key_path));
		json_object_set_new(rep, "token", cli_json_text(c.tok.label));
		json_object_set_new(rep, "uri", cli_json_text(new_uri));
		json_object_set_new(rep, "id", json_string(hex));
		json_object_set_new(rep, "x5t_256",
		    json_string(hw_key_x5t256(key)));
		json_object_set_new(rep, "bits", json_integer(hw_key_bits(key)));
		json_object_set_new(rep, "sensitive", sens < 0 ? json_null() :
		    json_boolean(sens));
		json_object_set_new(rep, "extractable", extr < 0 ? json_null() :
		    json_boolean(extr));
		json_object_set_new(rep, "proof", json_true());
		json_object_set_new(rep, "oaep", json_string(host ? "host" :
		    "token"));
		json_object_set_new(rep, "source_deleted", json_boolean(deleted));
		/* imported and proven; a deletion asked for and not done fails */
		report_set_ok(rep, !del || deleted);
		report_print(rep);
		json_decref(rep);
	}
 out:
	if (written && c.s != NULL) {
		if (c.tok.yubikey_piv || so)
			(void)card_login(&c, P11_SO);
		cleanup_objects(&c, id, id_len);
		cli_error("nothing was left on token %s; %s is unchanged",
		    c.tok.label, key_path);
	}
	OPENSSL_free(spki);
	free(new_uri);
	hw_key_free(key);
	cli_pass_clear(&pass);
	card_close(&c);
	return ret;
}

/* --- generate ---------------------------------------------------------- */

#define GENERATE_SYNOPSIS "[--json] --token URI -d DIR --index I [-b BITS] " \
	"[--label LABEL] [--id ID] [--subject DN] [--days D] [--so] " \
	"[--so-pin-file FILE] [--pkcs11-module MODULE]"

static const struct opt generate_opts[] = {
	{ O_TOKEN, "token", 0, OPT_VALUE, "URI",
	    "the token, as a pkcs11: URI (token=...)" },
	{ O_DIR, "dir", 'd', OPT_VALUE, "DIR",
	    "where to write cert_I.cer" },
	{ O_INDEX, "index", 0, OPT_VALUE, "I", "the officer's index, 0..9" },
	{ O_BITS, "bits", 'b', OPT_VALUE, "BITS",
	    "RSA key size: 2048, 3072 or 4096 (default 3072)" },
	{ O_LABEL, "label", 0, OPT_VALUE, "LABEL",
	    "the objects' label (default cert_I)" },
	{ O_ID, "id", 0, OPT_VALUE, "ID",
	    "the objects' CKA_ID in hex (default random; YubiKey: 03)" },
	{ O_SUBJECT, "subject", 0, OPT_VALUE, "DN",
	    "certificate subject, CN=...,O=... or /CN=.../O=..." },
	{ O_DAYS, "days", 0, OPT_VALUE, "D",
	    "certificate validity in days (default 1095)" },
	{ O_SO, "so", 0, OPT_FLAG, NULL,
	    "write as the security officer (default for YubiKey PIV)" },
	{ O_SOPIN, "so-pin-file", 0, OPT_VALUE, "FILE",
	    "SO PIN or PIV management key from FILE's first line" },
	{ O_MODULE, "pkcs11-module", 0, OPT_VALUE, "MODULE",
	    "PKCS#11 module (default $SDTOOL_PKCS11_MODULE, p11-kit's proxy)" },
	{ O_JSON, "json", 0, OPT_FLAG, NULL, "report as JSON" },
	{ 0, NULL, 0, 0, NULL, NULL }
};

/* A certgen signer: the token's key signs the certificate. */
struct token_signer {
	struct card *c;
	CK_OBJECT_HANDLE priv;
	int bits;
};

static int
token_sign(void *ctx, const uint8_t *tbs, size_t tbs_len, uint8_t **sig,
    size_t *sig_len, struct sd_err *e)
{
	struct token_signer *t = ctx;

	return p11_sign_sha256(t->c->s, t->priv, t->bits, tbs, tbs_len, sig,
	    sig_len, e);
}

/*
 * The generated key's self-signed certificate, as keygen makes them
 * (same template), signed on the token.
 */
static int
cert_on_token(struct card *c, CK_OBJECT_HANDLE priv, EVP_PKEY *pub,
    X509_NAME *name, long days, X509 **out)
{
	struct token_signer t = { c, priv, EVP_PKEY_get_bits(pub) };
	struct certgen_tmpl tmpl = { .subject = name, .days = days,
	    .exts = certgen_wrapping_exts };
	struct certgen_signer s = { .sign = token_sign, .ctx = &t };
	struct sd_err e = { "" };
	int r;

	if ((r = certgen_build(pub, &tmpl, &s, out, &e)) != 0) {
		cli_error("token %s: %s", c->tok.label, e.msg);
		return -1;
	}
	return 0;
}

static int
card_generate(int argc, char **argv)
{
	struct opt_parser p;
	struct card c;
	struct sd_err e = { "" };
	CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, hcert = CK_INVALID_HANDLE;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	struct stat st;
	const char *val, *uri = NULL, *module_opt = NULL, *dir = NULL;
	const char *label = NULL, *subject = NULL;
	char cert_path[PATH_MAX], fname[32], deflabel[32], dn[128];
	char hex[2 * CARD_MAX_ID + 1], x5t[SD_X5T_SIZE], when[32];
	char *new_uri = NULL, *pem = NULL;
	uint8_t id[CARD_MAX_ID];
	size_t id_len = 0;
	unsigned long min = 0, max = 0;
	long index = -1, bits = CARD_DEF_BITS, days = CARD_DEF_DAYS;
	int idr, r, json = 0, so = 0, made = 0, host = 0, sign_off = 0;
	int make_dir = 0;
	int ret = EXIT_FAIL;
	json_t *rep;

	memset(&c, 0, sizeof(c));
	opt_init(&p, argc, argv, generate_opts);
	while ((idr = opt_next(&p, &val)) != OPT_END) {
		switch (idr) {
		case O_TOKEN: uri = val; break;
		case O_DIR: dir = val; break;
		case O_INDEX:
			if (opt_int(&p, "--index", val, 0, 9, &index) != 0)
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_BITS:
			if (opt_int(&p, "-b", val, 2048, 4096, &bits) != 0 ||
			    (bits != 2048 && bits != 3072 && bits != 4096))
				return cli_usage_error("-b %s: 2048, 3072 or "
				    "4096", val);
			break;
		case O_DAYS:
			if (opt_int(&p, "--days", val, 1, CARD_MAX_DAYS,
			    &days) != 0)
				return cli_usage_error("%s", p.errbuf);
			break;
		case O_LABEL: label = val; break;
		case O_SUBJECT: subject = val; break;
		case O_ID:
			if (parse_id(val, id, &id_len) != 0)
				return cli_usage_error("--id %s: hex bytes (1 to "
				    "%d), such as 03 or 0a1b", val, CARD_MAX_ID);
			break;
		case O_SO: so = 1; break;
		case O_SOPIN: c.pins.so_file = val; break;
		case O_MODULE: module_opt = val; break;
		case O_JSON: json = 1; break;
		case OPT_HELP:
			return cli_usage(stdout, GENERATE_SYNOPSIS,
			    generate_opts);
		case OPT_ERROR: return cli_usage_error("%s", p.errbuf);
		default: return cli_usage_error("unexpected argument '%s'", val);
		}
	}
	if (uri == NULL || dir == NULL || index < 0)
		return cli_usage_error("--token, -d and --index are required");
	if (label != NULL && (*label == '\0' || strlen(label) > 255))
		return cli_usage_error("--label: 1 to 255 characters");
	snprintf(dn, sizeof(dn), CARD_DEF_SUBJECT, index);
	if ((name = certgen_parse_dn(subject != NULL ? subject : dn)) == NULL)
		return cli_usage_error("--subject \"%s\": not a distinguished "
		    "name (write CN=name,O=org or /CN=name/O=org)", subject);
	snprintf(fname, sizeof(fname), "cert_%ld.cer", index);
	snprintf(deflabel, sizeof(deflabel), "cert_%ld", index);
	if (label == NULL)
		label = deflabel;
	/* Everything refusable is refused before the token is touched. */
	if (stat(dir, &st) == -1 && errno == ENOENT) {
		/*
		 * Made like keygen -d makes it: the last component only (a
		 * missing parent is more likely a typo in a mount point), and
		 * only once the certificate is there to go in it.
		 */
		char *copy = strdup(dir);

		if (copy == NULL || stat(dirname(copy), &st) == -1 ||
		    !S_ISDIR(st.st_mode)) {
			cli_error("%s: does not exist, nor does its parent",
			    dir);
			free(copy);
			goto out;
		}
		free(copy);
		make_dir = 1;
	} else if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		cli_error("%s: not a directory", dir);
		goto out;
	}
	if (cli_join_path(cert_path, sizeof(cert_path), dir, fname) != 0 ||
	    cli_refuse_existing(cert_path) != 0)
		goto out;
	if (card_open(&c, uri, module_opt, 1) != 0)
		goto out;
	if (id_len == 0 && c.tok.yubikey_piv) {
		id[0] = PIV_SLOT_9D_ID;
		id_len = 1;
	} else if (id_len == 0) {
		randombytes_buf(id, CARD_NEW_ID_LEN);
		id_len = CARD_NEW_ID_LEN;
	}
	id_hex(id, id_len, hex, sizeof(hex));
	p11_rsa_range(c.s, CKM_RSA_PKCS_KEY_PAIR_GEN, &min, &max);
	if (max > 0 && ((unsigned long)bits > max ||
	    (unsigned long)bits < min)) {
		cli_error("token %s generates RSA keys of %lu to %lu bits; "
		    "RSA-%ld is out of its range (-b)", c.tok.label, min, max,
		    bits);
		goto out;
	}
	if (card_login(&c, so || c.tok.yubikey_piv ? P11_SO : P11_USER) != 0 ||
	    check_free(&c, label, id, id_len) != 0)
		goto out;
	if (!json && cli_stderr_is_tty())
		fprintf(stderr, "generating RSA-%ld on token %s...\n", bits,
		    cli_text(c.tok.label));
	if ((r = p11_generate_rsa(c.s, (int)bits, label, id, id_len, &priv,
	    &pub, &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	made = 1;
	/* Signing takes the user's PIN; a YubiKey's SO generated. */
	if (card_login(&c, P11_USER) != 0 ||
	    cert_on_token(&c, priv, pub, name, days, &cert) != 0)
		goto out;
	if (card_login(&c, so || c.tok.yubikey_piv ? P11_SO : P11_USER) != 0)
		goto out;
	if ((r = p11_store_cert(c.s, cert, label, id, id_len, &hcert,
	    &e)) != 0) {
		hw_error(r, &e);
		goto out;
	}
	/* The key signed its certificate; it has nothing else to sign. */
	sign_off = p11_set_bool(c.s, priv, CKA_SIGN, 0, &e) == 0;
	if (card_login(&c, P11_USER) != 0)
		goto out;
	if (pki_cert_x5t256(cert, x5t) != 0) {
		cli_error("computing the thumbprint failed");
		goto out;
	}
	if ((r = p11_uri_format(c.tok.label, c.tok.yubikey_piv ? NULL : label,
	    id, id_len, "private", NULL, &new_uri)) != 0) {
		cli_error("%s", r == SD_ERR_LIMIT ? "the key's PKCS#11 URI "
		    "would be longer than 4096 characters" : "out of memory");
		goto out;
	}
	if (prove(&c, new_uri, cert, x5t, &host) != 0)
		goto out;
	if (make_dir) {
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			cli_error("%s: cannot create it: %s", dir,
			    strerror(errno));
			goto out;
		}
		fprintf(stderr, "created directory %s\n", dir);
	}
	if (cli_write_cert(cert_path, cert) != 0)
		goto out;
	made = 0;   /* done: it stays */
	certgen_not_after(cert, when);
	if (json) {
		rep = report_new("card");
		json_object_set_new(rep, "token", cli_json_text(c.tok.label));
		json_object_set_new(rep, "uri", cli_json_text(new_uri));
		json_object_set_new(rep, "id", json_string(hex));
		json_object_set_new(rep, "bits", json_integer(bits));
		json_object_set_new(rep, "out", cli_json_text(cert_path));
		json_object_set_new(rep, "x5t_256", json_string(x5t));
		json_object_set_new(rep, "not_after", json_string(when));
		json_object_set_new(rep, "signing_disabled",
		    json_boolean(sign_off));
		json_object_set_new(rep, "oaep", json_string(host ? "host" :
		    "token"));
		json_object_set_new(rep, "escrow_possible", json_false());
		report_set_ok(rep, 1);
		report_print(rep);
		json_decref(rep);
	} else {
		printf("RSA-%ld key generated on token %s\n", bits, cli_text(c.tok.label));
		printf("  key      %s\n", cli_text(new_uri));
		printf("%s  certificate for the activation request\n", cli_text(cert_path));
		printf("  x5t_256  %s  (write this down)\n", x5t);
		printf("  proof: a random value encrypted to the certificate "
		    "was decrypted on the token (%s)\n", host ? "raw RSA on the "
		    "token, OAEP checked here" : "RSA-OAEP-256 on the token");
		if (!sign_off)
			printf("  note: the token would not turn signing off for "
			    "the key; it signed only its certificate\n");
		printf("This key exists only on token %s. It cannot be copied, "
		    "backed up, or put on a paper escrow sheet: if the token is "
		    "lost or broken, its share is lost with it. Choose the "
		    "quorum with that in mind.\n", cli_text(c.tok.label));
	}
	ret = EXIT_OK;
 out:
	if (made && c.s != NULL) {
		if (c.tok.yubikey_piv || so)
			(void)card_login(&c, P11_SO);
		cleanup_objects(&c, id, id_len);
		cli_error("the key generated on token %s was removed again; "
		    "nothing was written", c.tok.label);
	}
	free(pem);
	free(new_uri);
	X509_free(cert);
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	card_close(&c);
	return ret;
}

/* --- dispatch ---------------------------------------------------------- */

#define SYNOPSIS "list | import | generate ..."

static const struct cli_verb card_verbs[] = {
	{ "list", card_list, "tokens, their RSA keys and certificates" },
	{ "import", card_import, "move a key file's private key onto a token" },
	{ "generate", card_generate, "make a key pair on a token, where it "
	    "stays" },
	{ NULL, NULL, NULL }
};

int
cmd_card(int argc, char **argv)
{
	return cli_dispatch(SYNOPSIS, card_verbs, argc, argv);
}
