/*
 * dl.c - opening device libraries at run time (see dl.h).
 */
#include <dlfcn.h>
#include <string.h>

#include "dl.h"

int
hw_dl_load(struct hw_dl *l, struct sd_err *e)
{
	const char *why;
	void *h;
	size_t i;

	if (l->handle != NULL)
		return 0;
	if (l->failed)
		goto fail;
	if ((h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL)) == NULL)
		goto fail_dl;
	for (i = 0; l->names[i] != NULL; i++) {
		dlerror();
		l->syms[i] = dlsym(h, l->names[i]);
		if (l->syms[i] == NULL) {
			dlclose(h);
			goto fail_dl;
		}
	}
	l->handle = h;
	return 0;
 fail_dl:
	l->failed = 1;
 fail:
	why = dlerror();
	return sd_err_set(e, SD_ERR_UNSUPPORTED, "%s cannot be loaded%s%s "
	    "(install the Debian package %s)", l->soname, why ? ": " : "",
	    why ? why : "", l->package);
}
