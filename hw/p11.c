/*
 * p11.c - PKCS#11 modules, tokens, sessions and the operations of
 * wrapping keys on tokens (see p11.h).
 *
 * Everything a module hands back is untrusted: lengths are checked
 * against our buffers, strings are blank-padded fixed fields that are
 * trimmed and made printable before anyone sees them.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <sodium.h>

#include "key_impl.h"
#include "dl.h"
#include "p11.h"
#include "../sys/file.h"

#define P11_MAX_OBJECTS 256     /* objects of one class we look at */
#define P11_MAX_ATTR (64 * 1024) /* largest attribute value we read */
#define P11_MAX_RSA_BYTES 2048  /* RSA-16384 */

#ifndef P11_MODULE_DIR
#define P11_MODULE_DIR "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif

/*
 * Return values, by name, for messages.
 */
static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_CANCEL, "CKR_CANCEL" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
	{ CKR_DATA_INVALID, "CKR_DATA_INVALID" },
	{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
	{ CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE" },
	{ CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_INVALID, "CKR_PIN_INVALID" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
	{ CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
	    "CKR_USER_ANOTHER_ALREADY_LOGGED_IN" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

const char *
p11_rv_name(CK_RV rv, char buf[static 24])
{
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(buf, 24, "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

/* Errors of a token going away, rather than of what we asked. */
static int
rv_is_device(CK_RV rv)
{
	return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	    rv == CKR_DEVICE_ERROR || rv == CKR_SESSION_HANDLE_INVALID ||
	    rv == CKR_SESSION_CLOSED;
}

/*
 * A fixed-size, blank-padded CK_UTF8CHAR field as a C string: trailing
 * blanks and NULs go, and anything that is not printable ASCII becomes
 * '?', so that a hostile token cannot send escape sequences to the
 * officer's terminal.  UTF-8 labels are shown as '?'s; they still match
 * URIs byte for byte (see field_eq).
 */
static void
field_str(char *dst, size_t dsize, const CK_UTF8CHAR *src, size_t n)
{
	size_t i;

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	if (n >= dsize)
		n = dsize - 1;
	for (i = 0; i < n; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[n] = '\0';
}

/* Does the URI's value equal the blank-padded field, byte for byte? */
static int
field_eq(const char *want, const CK_UTF8CHAR *src, size_t n)
{
	size_t wl = strlen(want);

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	return wl == n && memcmp(want, src, n) == 0;
}

/*
 * Modules.  One C_Initialize per module per process: loaded modules are
 * kept on a list, by their real path, with a count of users.  This is
 * the one piece of process-wide state in hw/, because PKCS#11 itself
 * is process-wide.
 */
struct p11_module {
	struct p11_module *next;
	char *path;                 /* as given */
	char *real;                 /* realpath, the list's key */
	void *dl;
	CK_FUNCTION_LIST *fn;
	CK_INFO info;
	char manufacturer[33];
	char description[33];
	int refs;
	int finalize;               /* we initialized it */
};

static struct p11_module *modules;

const char *
p11_module_manufacturer(const struct p11_module *m)
{
	return m->manufacturer;
}

const char *
p11_module_description(const struct p11_module *m)
{
	return m->description;
}

/*
 * A module-name: the name p11-kit registers a module under (e.g.
 * "softhsm2", "opensc-pkcs11"), else NAME.so or libNAME.so in the
 * system's PKCS#11 module directory.
 */
static const char *const p11kit_names[] = {
	"p11_kit_modules_load", "p11_kit_module_get_name",
	"p11_kit_module_get_filename", "p11_kit_modules_release", NULL
};
static void *p11kit_syms[sizeof(p11kit_names) / sizeof(p11kit_names[0])];
static struct hw_dl p11kit_lib = { "libp11-kit.so.0", "libp11-kit0",
    p11kit_names, p11kit_syms, NULL, 0 };

#define p11_kit_modules_load ((CK_FUNCTION_LIST **(*)(const char *, int)) \
	p11kit_syms[0])
#define p11_kit_module_get_name ((char *(*)(CK_FUNCTION_LIST *)) \
	p11kit_syms[1])
#define p11_kit_module_get_filename ((char *(*)(CK_FUNCTION_LIST *)) \
	p11kit_syms[2])
#define p11_kit_modules_release ((void (*)(CK_FUNCTION_LIST **)) \
	p11kit_syms[3])

static int
module_by_name(const char *name, char **path, struct sd_err *e)
{
	CK_FUNCTION_LIST **mods;
	struct sd_err ignored;
	char *n, *f, buf[PATH_MAX];
	size_t i;

	*path = NULL;
	if (strchr(name, '/') != NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "pkcs11 URI: module-name "
		    "%s: a name, not a path (use module-path)", name);
	/* without p11-kit, the module directory is still searched */
	if (hw_dl_load(&p11kit_lib, &ignored) == 0 &&
	    (mods = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED)) !=
	    NULL) {
		for (i = 0; mods[i] != NULL && *path == NULL; i++) {
			n = p11_kit_module_get_name(mods[i]);
			if (n != NULL && strcmp(n, name) == 0 &&
			    (f = p11_kit_module_get_filename(mods[i])) != NULL)
				*path = f;
			free(n);
		}
		p11_kit_modules_release(mods);
	}
	if (*path != NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%s/%s.so", P11_MODULE_DIR, name);
	if (access(buf, R_OK) != 0)
		snprintf(buf, sizeof(buf), "%s/lib%s.so", P11_MODULE_DIR, name);
	if (access(buf, R_OK) != 0)
		return sd_err_set(e, SD_ERR_KEY, "PKCS#11 module-name %s: no "
		    "module of that name is registered with p11-kit or "
		    "installed in %s", name, P11_MODULE_DIR);
	if ((*path = strdup(buf)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

int
p11_module_choose(const struct p11_uri *u, const char *opt, char **path,
    struct sd_err *e)
{
	const char *p = P11_DEFAULT_MODULE;

	*path = NULL;
	if (u != NULL && u->module_path != NULL)
		p = u->module_path;
	else if (u != NULL && u->module_name != NULL)
		return module_by_name(u->module_name, path, e);
	else if (opt != NULL && *opt != '\0')
		p = opt;
	if ((*path = strdup(p)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

int
p11_module_open(const char *path, struct p11_module **out, struct sd_err *e)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	struct p11_module *m = NULL;
	char *real = NULL, rvb[24];
	const char *why;
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	/*
	 * A bare name ("p11-kit-proxy.so") is found by the dynamic loader;
	 * anything with a '/' must exist.
	 */
	if (strchr(path, '/') != NULL && (real = realpath(path, NULL)) == NULL)
		return sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: not found",
		    path);
	if (real == NULL && (real = strdup(path)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	for (m = modules; m != NULL; m = m->next)
		if (strcmp(m->real, real) == 0) {
			m->refs++;
			free(real);
			*out = m;
			return 0;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(path)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	m->real = real;
	real = NULL;
	if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		r = sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: cannot load: "
		    "%s", path, why != NULL ? why : "unknown error");
		goto out;
	}
	*(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		r = sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: not a PKCS#11 "
		    "module (no C_GetFunctionList)", path);
		goto out;
	}
	if ((rv = get_list(&m->fn)) != CKR_OK || m->fn == NULL) {
		r = sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: "
		    "C_GetFunctionList: %s", path, p11_rv_name(rv, rvb));
		goto out;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->fn->C_Initialize(&args);
	if (rv == CKR_OK)
		m->finalize = 1;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		r = sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: C_Initialize: "
		    "%s", path, p11_rv_name(rv, rvb));
		goto out;
	}
	if ((rv = m->fn->C_GetInfo(&m->info)) != CKR_OK) {
		r = sd_err_set(e, SD_ERR_KEY, "PKCS#11 module %s: C_GetInfo: %s",
		    path, p11_rv_name(rv, rvb));
		goto out;
	}
	field_str(m->manufacturer, sizeof(m->manufacturer),
	    m->info.manufacturerID, sizeof(m->info.manufacturerID));
	field_str(m->description, sizeof(m->description),
	    m->info.libraryDescription, sizeof(m->info.libraryDescription));
	m->refs = 1;
	m->next = modules;
	modules = m;
	*out = m;
	m = NULL;
	r = 0;
 out:
	if (m != NULL) {
		if (m->finalize)
			m->fn->C_Finalize(NULL);
		if (m->dl != NULL)
			dlclose(m->dl);
		free(m->path);
		free(m->real);
		free(m);
	}
	free(real);
	return r;
}

void
p11_module_free(struct p11_module *m)
{
	struct p11_module **pp;

	if (m == NULL || --m->refs > 0)
		return;
	for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (m->finalize)
		m->fn->C_Finalize(NULL);
	dlclose(m->dl);
	free(m->path);
	free(m->real);
	free(m);
}

/*
 * Tokens.
 */

static int
token_info(struct p11_module *m, CK_SLOT_ID slot, struct p11_token *t,
    CK_RV *rvp)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	memset(t, 0, sizeof(*t));
	t->slot = slot;
	if ((rv = m->fn->C_GetSlotInfo(slot, &si)) != CKR_OK ||
	    (rv = m->fn->C_GetTokenInfo(slot, &ti)) != CKR_OK) {
		*rvp = rv;
		return -1;
	}
	field_str(t->slot_description, sizeof(t->slot_description),
	    si.slotDescription, sizeof(si.slotDescription));
	field_str(t->slot_manufacturer, sizeof(t->slot_manufacturer),
	    si.manufacturerID, sizeof(si.manufacturerID));
	field_str(t->label, sizeof(t->label), ti.label, sizeof(ti.label));
	field_str(t->manufacturer, sizeof(t->manufacturer), ti.manufacturerID,
	    sizeof(ti.manufacturerID));
	field_str(t->model, sizeof(t->model), ti.model, sizeof(ti.model));
	field_str(t->serial, sizeof(t->serial), ti.serialNumber,
	    sizeof(ti.serialNumber));
	t->flags = ti.flags;
	t->pin_min = ti.ulMinPinLen;
	t->pin_max = ti.ulMaxPinLen;
	/* Yubico's ykcs11: private keys live in PIV slots, by CKA_ID */
	t->yubikey_piv = strncmp(m->manufacturer, "Yubico", 6) == 0;
	return 0;
}

int
p11_tokens(struct p11_module *m, struct p11_token **out, size_t *n,
    struct sd_err *e)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0, i;
	struct p11_token *toks = NULL;
	char rvb[24];
	size_t k = 0;
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if ((rv = m->fn->C_GetSlotList(CK_TRUE, NULL, &count)) != CKR_OK) {
		r = sd_err_set(e, SD_ERR_IO, "PKCS#11 module %s: C_GetSlotList: "
		    "%s", m->path, p11_rv_name(rv, rvb));
		goto out;
	}
	if (count > 1024)
		count = 1024;
	if ((slots = calloc(count + 1, sizeof(*slots))) == NULL ||
	    (toks = calloc(count + 1, sizeof(*toks))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (count > 0 &&
	    (rv = m->fn->C_GetSlotList(CK_TRUE, slots, &count)) != CKR_OK) {
		r = sd_err_set(e, SD_ERR_IO, "PKCS#11 module %s: C_GetSlotList: "
		    "%s", m->path, p11_rv_name(rv, rvb));
		goto out;
	}
	for (i = 0; i < count && i < 1024; i++)
		/* a token removed meanwhile is simply not listed */
		if (token_info(m, slots[i], &toks[k], &rv) == 0)
			k++;
	*out = toks;
	*n = k;
	toks = NULL;
	r = 0;
 out:
	free(slots);
	free(toks);
	return r;
}

/* "2.20" or "2" against a CK_VERSION, as RFC 7512's library-version. */
static int
version_eq(const char *want, CK_VERSION v)
{
	char buf[16];

	if (strchr(want, '.') == NULL)
		snprintf(buf, sizeof(buf), "%u", v.major);
	else
		snprintf(buf, sizeof(buf), "%u.%u", v.major, v.minor);
	return strcmp(want, buf) == 0;
}

int
p11_token_matches(const struct p11_module *m, const struct p11_token *t,
    const struct p11_uri *u)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;

	if (u == NULL)
		return 1;
	if (u->has_slot_id && u->slot_id != t->slot)
		return 0;
	if (u->lib_manufacturer != NULL && !field_eq(u->lib_manufacturer,
	    m->info.manufacturerID, sizeof(m->info.manufacturerID)))
		return 0;
	if (u->lib_description != NULL && !field_eq(u->lib_description,
	    m->info.libraryDescription, sizeof(m->info.libraryDescription)))
		return 0;
	if (u->lib_version != NULL &&
	    !version_eq(u->lib_version, m->info.libraryVersion))
		return 0;
	/* Raw fields, not the sanitized copies: URIs match byte for byte. */
	if (m->fn->C_GetTokenInfo(t->slot, &ti) != CKR_OK ||
	    m->fn->C_GetSlotInfo(t->slot, &si) != CKR_OK)
		return 0;
	if (u->token != NULL && !field_eq(u->token, ti.label,
	    sizeof(ti.label)))
		return 0;
	if (u->manufacturer != NULL && !field_eq(u->manufacturer,
	    ti.manufacturerID, sizeof(ti.manufacturerID)))
		return 0;
	if (u->model != NULL && !field_eq(u->model, ti.model,
	    sizeof(ti.model)))
		return 0;
	if (u->serial != NULL && !field_eq(u->serial, ti.serialNumber,
	    sizeof(ti.serialNumber)))
		return 0;
	if (u->slot_description != NULL && !field_eq(u->slot_description,
	    si.slotDescription, sizeof(si.slotDescription)))
		return 0;
	if (u->slot_manufacturer != NULL && !field_eq(u->slot_manufacturer,
	    si.manufacturerID, sizeof(si.manufacturerID)))
		return 0;
	return 1;
}

int
p11_find_token(struct p11_module *m, const struct p11_uri *u,
    const char *ref, struct p11_token *out, struct sd_err *e)
{
	struct p11_token *toks = NULL;
	char present[256];
	size_t n = 0, i, hits = 0, off = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = p11_tokens(m, &toks, &n, e)) != 0)
		return r;
	present[0] = '\0';
	for (i = 0; i < n; i++) {
		if (p11_token_matches(m, &toks[i], u)) {
			if (hits++ == 0)
				*out = toks[i];
		}
		if (off < sizeof(present) &&
		    (toks[i].flags & CKF_TOKEN_INITIALIZED))
			off += (size_t)snprintf(present + off,
			    sizeof(present) - off, "%s'%s'", off ? ", " : "",
			    toks[i].label);
	}
	free(toks);
	if (hits == 1)
		return 0;
	memset(out, 0, sizeof(*out));
	if (hits == 0 && n == 0)
		return sd_err_set(e, SD_ERR_KEY, "%s: no token found: is the "
		    "card inserted, the reader connected? (module %s)", ref,
		    m->path);
	if (hits == 0)
		return sd_err_set(e, SD_ERR_KEY, "%s: no token matches; tokens "
		    "present: %s (module %s)", ref, present, m->path);
	return sd_err_set(e, SD_ERR_KEY, "%s: %zu tokens match (%s); name "
	    "one with token=, serial= or slot-id=", ref, hits, present);
}

/*
 * Sessions.
 */
struct p11_session {
	struct p11_module *m;
	CK_SESSION_HANDLE h;
	struct p11_token tok;
};

int
p11_session_open(struct p11_module *m, const struct p11_token *t, int rw,
    struct p11_session **out, struct sd_err *e)
{
	struct p11_session *s;
	char rvb[24];
	CK_RV rv;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	if ((rv = m->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION |
	    (rw ? CKF_RW_SESSION : 0), NULL, NULL, &s->h)) != CKR_OK) {
		free(s);
		if (rv == CKR_TOKEN_WRITE_PROTECTED)
			return sd_err_set(e, SD_ERR_IO, "token %s is write-"
			    "protected", t->label);
		return sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
		    "token %s: C_OpenSession: %s", t->label,
		    p11_rv_name(rv, rvb));
	}
	s->m = m;
	s->tok = *t;
	*out = s;
	return 0;
}

void
p11_session_free(struct p11_session *s)
{
	if (s == NULL)
		return;
	s->m->fn->C_CloseSession(s->h);
	free(s);
}

const struct p11_token *
p11_session_token(const struct p11_session *s)
{
	return &s->tok;
}

/* Refresh the token's flags (tries left change with every wrong PIN). */
static void
refresh_flags(struct p11_session *s)
{
	CK_TOKEN_INFO ti;

	if (s->m->fn->C_GetTokenInfo(s->tok.slot, &ti) == CKR_OK)
		s->tok.flags = ti.flags;
}

/* What the token says about tries left, for a message. */
static const char *
tries_note(CK_FLAGS f, int so)
{
	if (f & (so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED))
		return " (the PIN is now locked)";
	if (f & (so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY))
		return " (one try left: one more wrong PIN locks it)";
	if (f & (so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW))
		return " (the token says few tries are left)";
	return "";
}

static unsigned
tries_flags(CK_FLAGS f, int so)
{
	unsigned h = so ? HW_PIN_SO : 0;

	if (f & (so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY))
		h |= HW_PIN_FINAL_TRY;
	if (f & (so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW))
		h |= HW_PIN_COUNT_LOW;
	return h;
}

/* The first line of a PIN file, into guarded memory. */
static int
pin_from_file(const char *path, char *pin, size_t size, struct sd_err *e)
{
	char *buf = NULL;
	size_t len = 0, n;
	int r;

	if ((r = sys_read_secret_file(path, 4096, "a PIN file", &buf, &len,
	    e)) != 0)
		return sd_err_prefix(e, SD_ERR_PASSPHRASE, "pin-source");
	for (n = 0; n < len && buf[n] != '\n' && buf[n] != '\r'; n++)
		;
	if (n + 1 > size) {
		sodium_free(buf);
		return sd_err_set(e, SD_ERR_PASSPHRASE, "pin-source %s: PIN too "
		    "long", path);
	}
	memcpy(pin, buf, n);
	pin[n] = '\0';
	sodium_free(buf);
	return 0;
}

int
p11_login(struct p11_session *s, enum p11_role role, const char *pin_path,
    hw_pin_fn fn,
    void *ctx, struct sd_err *e)
{
	CK_SESSION_INFO si;
	CK_USER_TYPE who = role == P11_SO ? CKU_SO : CKU_USER;
	int so = role == P11_SO;
	const char *label = s->tok.label, *what = so ? "SO PIN" : "PIN";
	char *pin = NULL, rvb[24];
	size_t len = 0;
	CK_RV rv;
	int r = SD_ERR_INTERNAL, pinpad = 0;

	if (s->m->fn->C_GetSessionInfo(s->h, &si) == CKR_OK &&
	    ((!so && (si.state == CKS_RO_USER_FUNCTIONS ||
	    si.state == CKS_RW_USER_FUNCTIONS)) ||
	    (so && si.state == CKS_RW_SO_FUNCTIONS)))
		return 0;
	refresh_flags(s);
	if (s->tok.flags & (so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED))
		return sd_err_set(e, SD_ERR_PASSPHRASE, "the %s of token %s is "
		    "locked (blocked after too many wrong tries)%s", what, label,
		    so ? "" : "; unblock it with the PUK or the SO PIN "
		    "(for a YubiKey: yubico-piv-tool -a unblock-pin)");
	if ((pin = sodium_malloc(HW_MAX_PIN)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	sodium_memzero(pin, HW_MAX_PIN);
	if (pin_path != NULL) {
		if ((r = pin_from_file(pin_path, pin, HW_MAX_PIN, e)) != 0)
			goto out;
	} else if (s->tok.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
		/* A PIN-pad reader: the PIN never passes through us. */
		pinpad = 1;
		if (fn != NULL && (r = fn(ctx, label, tries_flags(s->tok.flags,
		    so) | HW_PIN_NOTIFY | HW_PIN_PINPAD, pin, HW_MAX_PIN)) != 0)
			goto out;
	} else if (fn == NULL) {
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "token %s needs a %s and "
		    "none was given (pin-source= in the URI, or a terminal)",
		    label, what);
		goto out;
	} else if ((r = fn(ctx, label, tries_flags(s->tok.flags, so), pin,
	    HW_MAX_PIN)) != 0) {
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "token %s: no %s given",
		    label, what);
		goto out;
	}
	if (!pinpad)
		len = strnlen(pin, HW_MAX_PIN);
	rv = s->m->fn->C_Login(s->h, who, pinpad ? NULL : (CK_UTF8CHAR *)pin,
	    (CK_ULONG)len);
	sodium_memzero(pin, HW_MAX_PIN);
	switch (rv) {
	case CKR_OK:
	case CKR_USER_ALREADY_LOGGED_IN:
		r = 0;
		break;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
		refresh_flags(s);
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "wrong %s for token %s%s",
		    what, label, tries_note(s->tok.flags, so));
		break;
	case CKR_PIN_LEN_RANGE:
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "wrong %s for token %s: "
		    "it takes %lu to %lu characters, %zu were given", what,
		    label, s->tok.pin_min, s->tok.pin_max, len);
		break;
	case CKR_PIN_LOCKED:
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "the %s of token %s is "
		    "locked (blocked after too many wrong tries)%s", what, label,
		    so ? "" : "; unblock it with the PUK or the SO PIN "
		    "(for a YubiKey: yubico-piv-tool -a unblock-pin)");
		break;
	case CKR_PIN_EXPIRED:
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "the %s of token %s has "
		    "expired: change it first", what, label);
		break;
	case CKR_FUNCTION_CANCELED:
	case CKR_CANCEL:
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "token %s: %s entry "
		    "cancelled", label, what);
		break;
	case CKR_USER_PIN_NOT_INITIALIZED:
		r = sd_err_set(e, SD_ERR_PASSPHRASE, "token %s has no user PIN "
		    "yet: initialize it first", label);
		break;
	default:
		r = sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO :
		    SD_ERR_PASSPHRASE, "token %s: C_Login: %s", label,
		    p11_rv_name(rv, rvb));
		break;
	}
 out:
	sodium_free(pin);
	return r;
}

/*
 * Objects.
 */

/* An attribute's value, malloc'd; -1 when the token will not give it. */
static int
get_attr(struct p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
    uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };

	*val = NULL;
	*len = 0;
	if (s->m->fn->C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	    a.ulValueLen > P11_MAX_ATTR)
		return -1;
	if ((a.pValue = *val = malloc(a.ulValueLen + 1)) == NULL)
		return -1;
	if (s->m->fn->C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK ||
	    a.ulValueLen > P11_MAX_ATTR) {
		free(*val);
		*val = NULL;
		return -1;
	}
	(*val)[a.ulValueLen] = 0;
	*len = a.ulValueLen;
	return 0;
}

static int
get_bool(struct p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof(b) };

	if (s->m->fn->C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK ||
	    a.ulValueLen != sizeof(b))
		return -1;
	return b == CK_TRUE;
}

static int
get_ulong(struct p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
    CK_ULONG *v)
{
	CK_ATTRIBUTE a = { type, v, sizeof(*v) };

	*v = 0;
	if (s->m->fn->C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK ||
	    a.ulValueLen != sizeof(*v))
		return -1;
	return 0;
}

/* An RSA public key from big-endian n and e. */
static EVP_PKEY *
rsa_pub(const uint8_t *n, size_t nl, const uint8_t *ex, size_t el)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if (nl == 0 || el == 0 || nl > P11_MAX_RSA_BYTES || el > 64)
		return NULL;
	if ((bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(ex, (int)el, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	ERR_clear_error();
	return pkey;
}

static void
object_fill(struct p11_session *s, struct p11_object *o)
{
	uint8_t *v = NULL, *n = NULL, *ex = NULL;
	const unsigned char *p;
	size_t len = 0, nl = 0, el = 0, i;
	CK_ULONG ul;

	if (get_attr(s, o->h, CKA_LABEL, &v, &len) == 0) {
		/* shown to people: printable ASCII only */
		for (i = 0; i < len; i++)
			if (v[i] < 0x20 || v[i] >= 0x7f)
				v[i] = '?';
		o->label = (char *)v;
		v = NULL;
	}
	if (get_attr(s, o->h, CKA_ID, &v, &len) == 0) {
		o->id = v;
		o->id_len = len;
		v = NULL;
	}
	o->sensitive = get_bool(s, o->h, CKA_SENSITIVE);
	o->extractable = get_bool(s, o->h, CKA_EXTRACTABLE);
	o->always_sensitive = get_bool(s, o->h, CKA_ALWAYS_SENSITIVE);
	o->never_extractable = get_bool(s, o->h, CKA_NEVER_EXTRACTABLE);
	o->decrypt = get_bool(s, o->h, CKA_DECRYPT);
	o->unwrap = get_bool(s, o->h, CKA_UNWRAP);
	o->sign = get_bool(s, o->h, CKA_SIGN);
	o->private_ = get_bool(s, o->h, CKA_PRIVATE);
	if (o->cls == CKO_CERTIFICATE) {
		if (get_ulong(s, o->h, CKA_CERTIFICATE_TYPE, &ul) == 0 &&
		    ul == CKC_X_509 &&
		    get_attr(s, o->h, CKA_VALUE, &v, &len) == 0 &&
		    len <= LONG_MAX) {
			p = v;
			o->cert = d2i_X509(NULL, &p, (long)len);
			if (o->cert != NULL && p != v + len) {
				X509_free(o->cert);
				o->cert = NULL;
			}
			ERR_clear_error();
		}
		if (o->cert != NULL && X509_get0_pubkey(o->cert) != NULL &&
		    EVP_PKEY_is_a(X509_get0_pubkey(o->cert), "RSA"))
			o->bits = EVP_PKEY_get_bits(X509_get0_pubkey(o->cert));
		free(v);
		return;
	}
	if (get_ulong(s, o->h, CKA_KEY_TYPE, &ul) == 0)
		o->key_type = ul;
	if (o->key_type != CKK_RSA)
		return;
	if (get_attr(s, o->h, CKA_MODULUS, &n, &nl) == 0 &&
	    get_attr(s, o->h, CKA_PUBLIC_EXPONENT, &ex, &el) == 0)
		o->pub = rsa_pub(n, nl, ex, el);
	if (o->pub != NULL)
		o->bits = EVP_PKEY_get_bits(o->pub);
	else if (get_ulong(s, o->h, CKA_MODULUS_BITS, &ul) == 0 && ul < 65536)
		o->bits = (int)ul;
	free(n);
	free(ex);
}

void
p11_objects_free(struct p11_object *o, size_t n)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(o[i].label);
		free(o[i].id);
		X509_free(o[i].cert);
		EVP_PKEY_free(o[i].pub);
	}
	free(o);
}

int
p11_find_objects(struct p11_session *s, CK_OBJECT_CLASS cls,
    const struct p11_uri *u, struct p11_object **out, size_t *n,
    struct sd_err *e)
{
	CK_ATTRIBUTE tmpl[3];
	CK_OBJECT_HANDLE hs[P11_MAX_OBJECTS];
	CK_ULONG nt = 0, got = 0, i;
	struct p11_object *objs = NULL;
	char rvb[24];
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	tmpl[nt].type = CKA_CLASS;
	tmpl[nt].pValue = &cls;
	tmpl[nt++].ulValueLen = sizeof(cls);
	if (u != NULL && u->object != NULL) {
		tmpl[nt].type = CKA_LABEL;
		tmpl[nt].pValue = u->object;
		tmpl[nt++].ulValueLen = strlen(u->object);
	}
	if (u != NULL && u->has_id) {
		tmpl[nt].type = CKA_ID;
		tmpl[nt].pValue = u->id;
		tmpl[nt++].ulValueLen = u->id_len;
	}
	if ((rv = s->m->fn->C_FindObjectsInit(s->h, tmpl, nt)) != CKR_OK) {
		r = sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
		    "token %s: C_FindObjectsInit: %s", s->tok.label,
		    p11_rv_name(rv, rvb));
		goto out;
	}
	rv = s->m->fn->C_FindObjects(s->h, hs, P11_MAX_OBJECTS, &got);
	s->m->fn->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK) {
		r = sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
		    "token %s: C_FindObjects: %s", s->tok.label,
		    p11_rv_name(rv, rvb));
		goto out;
	}
	if (got > P11_MAX_OBJECTS)
		got = P11_MAX_OBJECTS;
	if ((objs = calloc(got + 1, sizeof(*objs))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < got; i++) {
		objs[i].h = hs[i];
		objs[i].cls = cls;
		objs[i].key_type = (CK_KEY_TYPE)-1;
		object_fill(s, &objs[i]);
	}
	*out = objs;
	*n = got;
	objs = NULL;
	r = 0;
 out:
	p11_objects_free(objs, got);
	return r;
}

int
p11_cert_of(struct p11_session *s, const struct p11_object *key, X509 **out,
    struct sd_err *e)
{
	struct p11_uri q;
	struct p11_object *certs = NULL;
	size_t n = 0, i;
	X509 *found = NULL;
	int r;

	*out = NULL;
	memset(&q, 0, sizeof(q));
	if (key->id != NULL && key->id_len > 0) {
		q.has_id = 1;
		q.id = key->id;
		q.id_len = key->id_len;
	} else if (key->label != NULL) {
		q.object = key->label;
	} else {
		return 0;
	}
	if ((r = p11_find_objects(s, CKO_CERTIFICATE, &q, &certs, &n, e)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (certs[i].cert == NULL)
			continue;
		if (found != NULL && X509_cmp(found, certs[i].cert) != 0) {
			p11_objects_free(certs, n);
			return sd_err_set(e, SD_ERR_KEY, "token %s holds "
			    "different certificates for this key's id",
			    s->tok.label);
		}
		found = certs[i].cert;
	}
	if (found != NULL && (*out = X509_dup(found)) == NULL) {
		p11_objects_free(certs, n);
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	p11_objects_free(certs, n);
	return 0;
}

/*
 * Decryption.
 */

static int
bits_bytes(int bits)
{
	return (bits + 7) / 8;
}

/* May this return value mean "not these mechanism parameters"? */
static int
rv_is_mech_refusal(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
	    rv == CKR_ARGUMENTS_BAD || rv == CKR_FUNCTION_NOT_SUPPORTED ||
	    rv == CKR_TEMPLATE_INCONSISTENT;
}

/* One C_DecryptInit + C_Decrypt into buf (size bytes). */
static CK_RV
decrypt_once(struct p11_session *s, CK_MECHANISM *mech, CK_OBJECT_HANDLE h,
    const uint8_t *in, size_t in_len, uint8_t *buf, size_t size,
    size_t *out_len, int *at_init)
{
	CK_ULONG len = size;
	CK_RV rv;

	*out_len = 0;
	*at_init = 1;
	if ((rv = s->m->fn->C_DecryptInit(s->h, mech, h)) != CKR_OK)
		return rv;
	*at_init = 0;
	/* buf holds the modulus' length, more than any result */
	rv = s->m->fn->C_Decrypt(s->h, (CK_BYTE *)in, in_len, buf, &len);
	if (rv == CKR_OK) {
		if (len > size)
			return CKR_GENERAL_ERROR;
		*out_len = len;
	}
	return rv;
}

static int
decrypt_error(struct p11_session *s, CK_RV rv, const char *mech,
    struct sd_err *e)
{
	char rvb[24];

	switch (rv) {
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
		return sd_err_set(e, SD_ERR_AUTH, "token %s: decryption failed "
		    "(%s): not encrypted to this key", s->tok.label,
		    p11_rv_name(rv, rvb));
	case CKR_USER_NOT_LOGGED_IN:
		return sd_err_set(e, SD_ERR_PASSPHRASE, "token %s: not logged "
		    "in (PIN needed)", s->tok.label);
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return sd_err_set(e, SD_ERR_KEY, "token %s: this key may not "
		    "decrypt (its CKA_DECRYPT is false)", s->tok.label);
	case CKR_KEY_SIZE_RANGE:
		return sd_err_set(e, SD_ERR_UNSUPPORTED, "token %s: the key is "
		    "too large for the token's %s", s->tok.label, mech);
	default:
		return sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
		    "token %s: %s decryption: %s%s", s->tok.label, mech,
		    p11_rv_name(rv, rvb), rv_is_device(rv) ? " (was the token "
		    "removed?)" : "");
	}
}

/*
 * Is the ciphertext, as a number, at least the modulus?  Then it was not
 * made for this key, and a token asked to decrypt it may answer with
 * anything (SoftHSM2: CKR_GENERAL_ERROR), which would end a search by
 * trial decryption.  Both numbers are public.
 */
static int
not_below_modulus(EVP_PKEY *pub, const uint8_t *in, size_t in_len)
{
	BIGNUM *n = NULL, *c = NULL;
	int r = 0;

	if (pub == NULL || in_len > INT_MAX)
		return 0;
	if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	    (c = BN_bin2bn(in, (int)in_len, NULL)) != NULL)
		r = BN_cmp(c, n) >= 0;
	BN_free(n);
	BN_free(c);
	ERR_clear_error();
	return r;
}

int
p11_decrypt_oaep256(struct p11_session *s, CK_OBJECT_HANDLE h, int bits,
    EVP_PKEY *pub, enum p11_oaep_mode *mode, const uint8_t *in,
    size_t in_len, struct sd_secret **out, struct sd_err *e)
{
	CK_RSA_PKCS_OAEP_PARAMS prm = {
		CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0
	};
	CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &prm, sizeof(prm) };
	CK_MECHANISM raw = { CKM_RSA_X_509, NULL, 0 };
	uint8_t *buf = NULL, *em = NULL;
	size_t k, got = 0;
	CK_RV rv;
	int r = SD_ERR_INTERNAL, at_init = 0;

	*out = NULL;
	k = (size_t)bits_bytes(bits);
	if (bits <= 0 || k > P11_MAX_RSA_BYTES)
		return sd_err_set(e, SD_ERR_KEY, "token %s: key size unknown",
		    s->tok.label);
	/* An OAEP ciphertext is exactly as long as the modulus. */
	if (in_len != k)
		return sd_err_set(e, SD_ERR_AUTH, "ciphertext of %zu bytes for "
		    "an RSA-%d key: not encrypted to this key", in_len, bits);
	if (not_below_modulus(pub, in, in_len))
		return sd_err_set(e, SD_ERR_AUTH, "ciphertext not below the "
		    "modulus: not encrypted to this key");
	if ((buf = sodium_malloc(k)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
	if (*mode != P11_OAEP_HOST) {
		rv = decrypt_once(s, &oaep, h, in, in_len, buf, k, &got,
		    &at_init);
		if (rv == CKR_OK) {
			*mode = P11_OAEP_TOKEN;
			if ((*out = sd_secret_dup(buf, got)) == NULL)
				r = sd_err_set(e, SD_ERR_ALLOC, "out of locked "
				    "memory");
			else
				r = 0;
			goto out;
		}
		/*
		 * Only a refusal of the mechanism before any decryption was
		 * tried, on the first use, sends us to the fallback: an
		 * error about the ciphertext is the answer.
		 */
		if (*mode == P11_OAEP_TOKEN || !rv_is_mech_refusal(rv) ||
		    (!at_init && rv != CKR_MECHANISM_PARAM_INVALID &&
		    rv != CKR_MECHANISM_INVALID)) {
			r = decrypt_error(s, rv, "RSA-OAEP", e);
			goto out;
		}
		*mode = P11_OAEP_HOST;
	}
	if ((em = sodium_malloc(k)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of locked memory");
		goto out;
	}
	rv = decrypt_once(s, &raw, h, in, in_len, buf, k, &got, &at_init);
	if (rv != CKR_OK) {
		if (rv_is_mech_refusal(rv))
			r = sd_err_set(e, SD_ERR_UNSUPPORTED, "token %s does "
			    "neither RSA-OAEP with SHA-256 nor raw RSA "
			    "(CKM_RSA_X_509) decryption", s->tok.label);
		else
			r = decrypt_error(s, rv, "raw RSA", e);
		goto out;
	}
	/*
	 * Some tokens drop the leading zero bytes of a raw RSA result: put
	 * them back, so the padding check sees the k-byte encoded message.
	 */
	memset(em, 0, k);
	memcpy(em + (k - got), buf, got);
	r = hw_oaep256_unpad(em, k, out, e);
 out:
	sodium_free(buf);
	sodium_free(em);
	return r;
}

/*
 * Signing (a generated key's self-signed certificate).
 */

int
p11_sign_sha256(struct p11_session *s, CK_OBJECT_HANDLE h, int bits,
    const uint8_t *data, size_t len, uint8_t **sig, size_t *sig_len,
    struct sd_err *e)
{
	static const uint8_t sha256_prefix[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
	};
	CK_MECHANISM hashed = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_MECHANISM plain = { CKM_RSA_PKCS, NULL, 0 };
	uint8_t di[sizeof(sha256_prefix) + 32], *buf = NULL;
	CK_ULONG blen;
	char rvb[24];
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*sig = NULL;
	*sig_len = 0;
	blen = (CK_ULONG)bits_bytes(bits);
	if (bits <= 0 || blen > P11_MAX_RSA_BYTES ||
	    (buf = malloc(blen)) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	rv = s->m->fn->C_SignInit(s->h, &hashed, h);
	if (rv == CKR_OK) {
		rv = s->m->fn->C_Sign(s->h, (CK_BYTE *)data, len, buf, &blen);
	} else if (rv_is_mech_refusal(rv)) {
		/* DigestInfo made here, the token pads and signs it */
		memcpy(di, sha256_prefix, sizeof(sha256_prefix));
		if (EVP_Digest(data, len, di + sizeof(sha256_prefix), NULL,
		    EVP_sha256(), NULL) != 1) {
			r = sd_err_set(e, SD_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
		if ((rv = s->m->fn->C_SignInit(s->h, &plain, h)) == CKR_OK)
			rv = s->m->fn->C_Sign(s->h, di, sizeof(di), buf, &blen);
	}
	if (rv != CKR_OK) {
		r = sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
		    "token %s: signing the certificate: %s", s->tok.label,
		    p11_rv_name(rv, rvb));
		goto out;
	}
	if (blen > (CK_ULONG)bits_bytes(bits)) {
		r = sd_err_set(e, SD_ERR_IO, "token %s: signature too long",
		    s->tok.label);
		goto out;
	}
	*sig = buf;
	*sig_len = blen;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	return r;
}

/*
 * Writing objects.
 */

static int
create_error(struct p11_session *s, CK_RV rv, const char *what, int bits,
    struct sd_err *e)
{
	char rvb[24];
	unsigned long min = 0, max = 0;

	switch (rv) {
	case CKR_KEY_SIZE_RANGE:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
		if (bits > 0) {
			p11_rsa_range(s, CKM_RSA_PKCS_KEY_PAIR_GEN, &min, &max);
			if (max == 0)
				p11_rsa_range(s, CKM_RSA_X_509, &min, &max);
			if (max > 0 && (unsigned long)bits > max)
				return sd_err_set(e, SD_ERR_UNSUPPORTED, "token "
				    "%s refused the %s (%s): RSA-%d is too large "
				    "for it (it takes up to %lu bits)",
				    s->tok.label, what, p11_rv_name(rv, rvb),
				    bits, max);
			return sd_err_set(e, SD_ERR_UNSUPPORTED, "token %s "
			    "refused the %s (%s): is RSA-%d too large for it?",
			    s->tok.label, what, p11_rv_name(rv, rvb), bits);
		}
		break;
	case CKR_USER_NOT_LOGGED_IN:
		return sd_err_set(e, SD_ERR_PASSPHRASE, "token %s: writing the "
		    "%s needs a log-in (for a YubiKey: --so, the management "
		    "key)", s->tok.label, what);
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_SESSION_READ_ONLY:
		return sd_err_set(e, SD_ERR_IO, "token %s is write-protected",
		    s->tok.label);
	case CKR_DEVICE_MEMORY:
		return sd_err_set(e, SD_ERR_IO, "token %s is full", s->tok.label);
	default:
		break;
	}
	return sd_err_set(e, rv_is_device(rv) ? SD_ERR_IO : SD_ERR_KEY,
	    "token %s: writing the %s: %s", s->tok.label, what,
	    p11_rv_name(rv, rvb));
}

/* One RSA component, big-endian, into guarded memory. */
static int
bn_param(EVP_PKEY *pkey, const char *name, uint8_t **out, size_t *len)
{
	BIGNUM *bn = NULL;
	int n, r = -1;

	*out = NULL;
	*len = 0;
	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1 ||
	    (n = BN_num_bytes(bn)) <= 0 || n > P11_MAX_RSA_BYTES ||
	    (*out = sodium_malloc((size_t)n)) == NULL)
		goto out;
	if (BN_bn2bin(bn, *out) != n)
		goto out;
	*len = (size_t)n;
	r = 0;
 out:
	BN_clear_free(bn);
	if (r != 0) {
		sodium_free(*out);
		*out = NULL;
	}
	return r;
}

int
p11_import_rsa(struct p11_session *s, const struct hw_key *key,
    const char *label, const uint8_t *id, size_t id_len,
    CK_OBJECT_HANDLE *out, struct sd_err *e)
{
	static const char *const names[8] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E,
		OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1
	};
	static const CK_ATTRIBUTE_TYPE types[8] = {
		CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT,
		CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
		CKA_COEFFICIENT
	};
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[24];
	EVP_PKEY *pkey;
	uint8_t *comp[8] = { NULL };
	size_t clen[8] = { 0 }, i, nt = 0;
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*out = CK_INVALID_HANDLE;
	if ((pkey = hw_key_pkey(key)) == NULL)
		return sd_err_set(e, SD_ERR_ARG, "only a key file can be "
		    "imported");
	for (i = 0; i < 8; i++)
		if (bn_param(pkey, names[i], &comp[i], &clen[i]) != 0) {
			r = sd_err_set(e, SD_ERR_KEY, "%s: the key lacks its CRT "
			    "components (%s)", hw_key_ref(key), names[i]);
			goto out;
		}
#define ATTR(ty, p, l) do { t[nt].type = (ty); t[nt].pValue = (void *)(p); \
	t[nt].ulValueLen = (l); nt++; } while (0)
	ATTR(CKA_CLASS, &cls, sizeof(cls));
	ATTR(CKA_KEY_TYPE, &kt, sizeof(kt));
	ATTR(CKA_TOKEN, &yes, sizeof(yes));
	ATTR(CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(CKA_SENSITIVE, &yes, sizeof(yes));
	ATTR(CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(CKA_DECRYPT, &yes, sizeof(yes));
	ATTR(CKA_UNWRAP, &yes, sizeof(yes));
	ATTR(CKA_SIGN, &no, sizeof(no));
	ATTR(CKA_LABEL, label, strlen(label));
	if (id_len > 0)
		ATTR(CKA_ID, id, id_len);
	for (i = 0; i < 8; i++)
		ATTR(types[i], comp[i], clen[i]);
	if (s->tok.yubikey_piv) {
		/*
		 * ykcs11 refuses any attribute a PIV slot does not have (it
		 * answers CKR_ATTRIBUTE_TYPE_INVALID to CKA_EXTRACTABLE,
		 * CKA_DECRYPT, ...) and takes the key as e and its CRT
		 * components only.  A key in a PIV slot is sensitive and
		 * never leaves the card whatever the template says;
		 * check_protection in `card import` reads back what the
		 * module reports.
		 */
		nt = 0;
		ATTR(CKA_CLASS, &cls, sizeof(cls));
		ATTR(CKA_KEY_TYPE, &kt, sizeof(kt));
		ATTR(CKA_TOKEN, &yes, sizeof(yes));
		ATTR(CKA_SENSITIVE, &yes, sizeof(yes));
		ATTR(CKA_LABEL, label, strlen(label));
		ATTR(CKA_ID, id, id_len);
		for (i = 0; i < 8; i++)
			if (types[i] != CKA_MODULUS &&
			    types[i] != CKA_PRIVATE_EXPONENT)
				ATTR(types[i], comp[i], clen[i]);
	}
	rv = s->m->fn->C_CreateObject(s->h, t, nt, out);
#undef ATTR
	if (rv != CKR_OK) {
		*out = CK_INVALID_HANDLE;
		r = create_error(s, rv, "private key", hw_key_bits(key), e);
		goto out;
	}
	r = 0;
 out:
	for (i = 0; i < 8; i++)
		sodium_free(comp[i]);
	return r;
}

int
p11_store_cert(struct p11_session *s, X509 *cert, const char *label,
    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *out,
    struct sd_err *e)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[12];
	uint8_t *der = NULL, *subj = NULL, *iss = NULL, *ser = NULL;
	int dl, sl, il, nl, r = SD_ERR_INTERNAL;
	size_t nt = 0;
	CK_RV rv;

	*out = CK_INVALID_HANDLE;
	if ((dl = i2d_X509(cert, &der)) <= 0 ||
	    (sl = i2d_X509_NAME(X509_get_subject_name(cert), &subj)) <= 0 ||
	    (il = i2d_X509_NAME(X509_get_issuer_name(cert), &iss)) <= 0 ||
	    (nl = i2d_ASN1_INTEGER(X509_get_serialNumber(cert), &ser)) <= 0) {
		r = sd_err_set(e, SD_ERR_CRYPTO, "encoding the certificate "
		    "failed");
		goto out;
	}
#define ATTR(ty, p, l) do { t[nt].type = (ty); t[nt].pValue = (void *)(p); \
	t[nt].ulValueLen = (l); nt++; } while (0)
	ATTR(CKA_CLASS, &cls, sizeof(cls));
	ATTR(CKA_CERTIFICATE_TYPE, &ct, sizeof(ct));
	ATTR(CKA_TOKEN, &yes, sizeof(yes));
	ATTR(CKA_PRIVATE, &no, sizeof(no));
	ATTR(CKA_LABEL, label, strlen(label));
	if (id_len > 0)
		ATTR(CKA_ID, id, id_len);
	ATTR(CKA_VALUE, der, (size_t)dl);
	ATTR(CKA_SUBJECT, subj, (size_t)sl);
	ATTR(CKA_ISSUER, iss, (size_t)il);
	ATTR(CKA_SERIAL_NUMBER, ser, (size_t)nl);
	rv = s->m->fn->C_CreateObject(s->h, t, nt, out);
#undef ATTR
	if (rv != CKR_OK) {
		*out = CK_INVALID_HANDLE;
		r = create_error(s, rv, "certificate", 0, e);
		goto out;
	}
	r = 0;
 out:
	OPENSSL_free(der);
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(ser);
	return r;
}

int
p11_generate_rsa(struct p11_session *s, int bits, const char *label,
    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *priv, EVP_PKEY **pub,
    struct sd_err *e)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG mbits = (CK_ULONG)bits;
	CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
	CK_ATTRIBUTE pt[10], kt[12];
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
	uint8_t *n = NULL, *ex = NULL;
	size_t np = 0, nk = 0, nl = 0, el = 0;
	CK_RV rv;
	int r = SD_ERR_INTERNAL;

	*priv = CK_INVALID_HANDLE;
	*pub = NULL;
#define ATTR(t, c, ty, p, l) do { t[c].type = (ty); t[c].pValue = (void *)(p); \
	t[c].ulValueLen = (l); c++; } while (0)
	ATTR(pt, np, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(pt, np, CKA_ENCRYPT, &yes, sizeof(yes));
	ATTR(pt, np, CKA_VERIFY, &yes, sizeof(yes));
	ATTR(pt, np, CKA_WRAP, &yes, sizeof(yes));
	ATTR(pt, np, CKA_MODULUS_BITS, &mbits, sizeof(mbits));
	ATTR(pt, np, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
	ATTR(pt, np, CKA_LABEL, label, strlen(label));
	if (id_len > 0)
		ATTR(pt, np, CKA_ID, id, id_len);
	ATTR(kt, nk, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(kt, nk, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(kt, nk, CKA_SENSITIVE, &yes, sizeof(yes));
	/* ykcs11 refuses the attribute; a PIV key never leaves the card */
	if (!s->tok.yubikey_piv)
		ATTR(kt, nk, CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(kt, nk, CKA_DECRYPT, &yes, sizeof(yes));
	ATTR(kt, nk, CKA_UNWRAP, &yes, sizeof(yes));
	/* once, for its own certificate; turned off afterwards if allowed */
	ATTR(kt, nk, CKA_SIGN, &yes, sizeof(yes));
	ATTR(kt, nk, CKA_LABEL, label, strlen(label));
	if (id_len > 0)
		ATTR(kt, nk, CKA_ID, id, id_len);
#undef ATTR
	rv = s->m->fn->C_GenerateKeyPair(s->h, &mech, pt, np, kt, nk, &hpub,
	    priv);
	if (rv != CKR_OK) {
		*priv = CK_INVALID_HANDLE;
		r = create_error(s, rv, "generated key", bits, e);
		goto out;
	}
	if (get_attr(s, hpub, CKA_MODULUS, &n, &nl) != 0 ||
	    get_attr(s, hpub, CKA_PUBLIC_EXPONENT, &ex, &el) != 0 ||
	    (*pub = rsa_pub(n, nl, ex, el)) == NULL) {
		r = sd_err_set(e, SD_ERR_IO, "token %s: cannot read the "
		    "generated public key", s->tok.label);
		goto out;
	}
	if (EVP_PKEY_get_bits(*pub) != bits) {
		r = sd_err_set(e, SD_ERR_IO, "token %s made an RSA-%d key, not "
		    "RSA-%d", s->tok.label, EVP_PKEY_get_bits(*pub), bits);
		goto out;
	}
	r = 0;
 out:
	if (r != 0) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		if (*priv != CK_INVALID_HANDLE)
			s->m->fn->C_DestroyObject(s->h, *priv);
		if (hpub != CK_INVALID_HANDLE)
			s->m->fn->C_DestroyObject(s->h, hpub);
		*priv = CK_INVALID_HANDLE;
	}
	free(n);
	free(ex);
	return r;
}

int
p11_set_bool(struct p11_session *s, CK_OBJECT_HANDLE h,
    CK_ATTRIBUTE_TYPE type, int value, struct sd_err *e)
{
	CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof(b) };
	char rvb[24];
	CK_RV rv;

	if ((rv = s->m->fn->C_SetAttributeValue(s->h, h, &a, 1)) != CKR_OK)
		return sd_err_set(e, SD_ERR_KEY, "token %s: "
		    "C_SetAttributeValue: %s", s->tok.label,
		    p11_rv_name(rv, rvb));
	return 0;
}

int
p11_destroy(struct p11_session *s, CK_OBJECT_HANDLE h, struct sd_err *e)
{
	char rvb[24];
	CK_RV rv;

	if ((rv = s->m->fn->C_DestroyObject(s->h, h)) != CKR_OK)
		return sd_err_set(e, SD_ERR_IO, "token %s: C_DestroyObject: %s",
		    s->tok.label, p11_rv_name(rv, rvb));
	return 0;
}

void
p11_rsa_range(struct p11_session *s, CK_MECHANISM_TYPE mech,
    unsigned long *min, unsigned long *max)
{
	CK_MECHANISM_INFO mi;

	*min = *max = 0;
	if (s->m->fn->C_GetMechanismInfo(s->tok.slot, mech, &mi) != CKR_OK)
		return;
	*min = mi.ulMinKeySize;
	*max = mi.ulMaxKeySize;
	/* a few modules give bytes, not bits */
	if (*max > 0 && *max < 1024) {
		*min *= 8;
		*max *= 8;
	}
}

int
p11_logout(struct p11_session *s)
{
	CK_RV rv = s->m->fn->C_Logout(s->h);

	return rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN ? 0 : -1;
}
