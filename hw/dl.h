/*
 * dl.h - libraries the core binary opens only when a device needs them.
 *
 * The offline binary links libcrypto, libsodium and jansson alone; the
 * YubiKey libraries (ykpers over USB, pcsc-lite over PC/SC) and p11-kit
 * are opened at run time, as PKCS#11 modules are, the first time a device
 * of that kind is asked for.  A machine without them still runs every
 * other verb, and the error names the Debian package to install.
 */
#ifndef SD_HW_DL_H
#define SD_HW_DL_H

#include <stddef.h>

#include "../shares/sd_err.h"

/* A library and the symbols wanted of it, filled in by hw_dl_load. */
struct hw_dl {
	const char *soname;        /* "libykpers-1.so.1" */
	const char *package;       /* "libykpers-1-1", for the message */
	const char *const *names;  /* symbols, NULL-terminated */
	void **syms;               /* as many slots as names */
	void *handle;              /* set once loaded */
	int failed;                /* a first failure is not retried */
};

/*
 * Open l->soname (RTLD_NOW | RTLD_LOCAL) once and resolve every symbol
 * of l->names into l->syms.  0, or SD_ERR_UNSUPPORTED with a message
 * naming the library and its package.  Not thread-safe: sdtool calls it
 * from one thread.
 */
int hw_dl_load(struct hw_dl *l, struct sd_err *e) SD_WUR;

#endif
