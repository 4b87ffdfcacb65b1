/*
 * pinpad.c - a PKCS#11 module that puts a simulated PIN-pad reader in
 * front of a real module, for the tests of sdtool's protected
 * authentication path.  TEST FIXTURE ONLY.
 *
 * It loads the module named by $PINPAD_SHIM_MODULE (SoftHSM2 in the
 * tests) and forwards every call to it, except that:
 *
 *   C_GetTokenInfo  adds CKF_PROTECTED_AUTHENTICATION_PATH, as a token
 *                   behind a PIN-pad reader reports;
 *   C_Login         with no PIN (what an application does for such a
 *                   token) takes the PIN "typed on the pad" from the
 *                   first line of $PINPAD_SHIM_KEYPAD and logs in to the
 *                   real module with it; a PIN passed in by the
 *                   application is refused (CKR_ARGUMENTS_BAD), as it
 *                   must never be asked for.
 *
 * Everything else is the real module's behaviour.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;

static CK_RV
shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = real->C_GetTokenInfo(slot, info);

	if (rv == CKR_OK)
		info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	return rv;
}

static CK_RV
shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	const char *path = getenv("PINPAD_SHIM_KEYPAD");
	char buf[256];
	FILE *f;
	CK_RV rv;

	if (pin != NULL || len != 0)
		return CKR_ARGUMENTS_BAD;
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return CKR_FUNCTION_CANCELED;   /* nobody typed anything */
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return CKR_FUNCTION_CANCELED;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	rv = real->C_Login(s, who, (CK_UTF8CHAR_PTR)buf, strlen(buf));
	memset(buf, 0, sizeof(buf));
	return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	const char *path = getenv("PINPAD_SHIM_MODULE");
	void *dl;
	CK_RV rv;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	if (real == NULL) {
		if (path == NULL || (dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) ==
		    NULL)
			return CKR_GENERAL_ERROR;
		*(void **)&get = dlsym(dl, "C_GetFunctionList");
		if (get == NULL || (rv = get(&real)) != CKR_OK)
			return CKR_GENERAL_ERROR;
		shim = *real;
		shim.C_GetTokenInfo = shim_GetTokenInfo;
		shim.C_Login = shim_Login;
	}
	*out = &shim;
	return CKR_OK;
}
