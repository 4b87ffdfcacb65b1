/*
 * hwopts.h - how verbs open keys that live on devices: PIN prompts
 * naming the token, notices (PIN pad, YubiKey touch, the software test
 * YubiKey), and the settings that come from the environment:
 *
 *   SDTOOL_PKCS11_MODULE            the PKCS#11 module when neither the
 *                                   URI nor --pkcs11-module names one
 *   SDTOOL_YK_SOFTWARE_SECRET_FILE  use sdtool's software YubiKey, a
 *                                   TEST device, instead of real ones
 */
#ifndef SDTOOL_HWOPTS_H
#define SDTOOL_HWOPTS_H

#include <stddef.h>

#include "cli.h"
#include "../hw/key.h"

#define ENV_PKCS11_MODULE "SDTOOL_PKCS11_MODULE"
#define ENV_YK_SOFTWARE "SDTOOL_YK_SOFTWARE_SECRET_FILE"

/*
 * Fill the device members of o: PINs through cli_pin over pass (whose
 * --password-file line for the key serves as its PIN), the module
 * (module, else $SDTOOL_PKCS11_MODULE), the software YubiKey's file.
 */
void cli_hw_opts(struct hw_open_opts *o, struct cli_pass *pass,
    const char *module);

/*
 * An hw_pin_fn: the PIN from the --password-file line of the key being
 * opened, else asked on the terminal without echo with a prompt naming
 * the token and what it says about tries left:
 *   PIN for token officer0 (last try: a wrong PIN locks it):
 * Notices (HW_PIN_NOTIFY) are printed on standard error.
 */
int cli_pin(void *ctx, const char *token, unsigned flags, char *buf,
    size_t size);

#endif
