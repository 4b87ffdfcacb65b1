/* verbs.h - one entry point per verb, each in sdtool/cmd_<verb>.c. */
#ifndef SDTOOL_VERBS_H
#define SDTOOL_VERBS_H

int cmd_keygen(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_restore_blob(int argc, char **argv);
int cmd_reshare(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_escrow(int argc, char **argv);
int cmd_hsm(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_yk(int argc, char **argv);
/* internal, in the paper helper: the PDF of `ceremony print` */
int cmd_ceremony_pdf(int argc, char **argv);
int cmd_ceremony(int argc, char **argv);

#endif
