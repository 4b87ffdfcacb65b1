# sdtool - custody of Azure Key Vault Managed HSM security domains.
#
#   make            build build/sdtool and its helper programs
#   make offline    build only build/sdtool, the air-gapped laptop's binary
#   make check      install missing Debian packages, build, run every test
#                   (unit, end-to-end, man lint), then the unit and
#                   end-to-end tests again under ASan+UBSan
#   make demo       a complete simulated ceremony, told as a story
#   make bench      sdtool against azure-cli and an openssl floor; verify
#                   of 252 quorums; libraries linked by each program
#   make fuzz       each libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS
#   make ct-check   secrets through valgrind memcheck: no secret-dependent
#                   branch or memory index (tests/ct/)
#   make install    PREFIX, DESTDIR, BINDIR, LIBEXECDIR, MANDIR, DATADIR
#                   (ceremonies, scripts, JSON schema), BASHCOMPDIR are honoured
#   make install-offline   only sdtool and its pages, no helper programs

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/libexec/sdtool
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PKG_CONFIG ?= pkg-config
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
VERSION := 0.1.0
# The commit built: from debian/commit in a package build (make deb writes
# it), else from git; "+dirty" when the tree differs from it.
COMMIT := $(shell cat debian/commit 2>/dev/null || \
	{ c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	  { git diff --quiet HEAD 2>/dev/null && echo $$c || echo $$c+dirty; }; } || \
	echo unknown)

# The offline binary links these alone.  PKCS#11 modules, p11-kit, ykpers
# and pcsc-lite are opened at run time (hw/dl.c): only their headers are
# needed.  The helper programs link the rest.
CORE_PKGS := libcrypto libsodium jansson libbson-1.0
HDR_PKGS := p11-kit-1 ykpers-1 libpcsclite
NET_PKGS := libcurl
SIM_PKGS := libmicrohttpd
PAPER_PKGS := libqrencode cairo zbar fontconfig
PKGS := $(CORE_PKGS) $(HDR_PKGS) $(NET_PKGS) $(SIM_PKGS) $(PAPER_PKGS)
TEST_PKGS := cmocka

ifeq ($(filter deps deps-build,$(MAKECMDGOALS)),)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
CORE_LIBS := $(shell $(PKG_CONFIG) --libs $(CORE_PKGS) 2>/dev/null)
NET_LIBS := $(shell $(PKG_CONFIG) --libs $(NET_PKGS) 2>/dev/null)
SIM_LIBS := $(shell $(PKG_CONFIG) --libs $(SIM_PKGS) 2>/dev/null)
PAPER_LIBS := $(shell $(PKG_CONFIG) --libs $(PAPER_PKGS) 2>/dev/null)
PKG_LIBS := $(CORE_LIBS) $(NET_LIBS) $(SIM_LIBS) $(PAPER_LIBS)
endif

HARDEN_CFLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	-fstack-clash-protection -fcf-protection
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter \
	-Wno-format-truncation
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

ifeq ($(SAN),1)
override BUILD := $(BUILD)-san
OPT_CFLAGS := -O1 -g $(SAN_FLAGS)
OPT_LDFLAGS := $(SAN_FLAGS)
HARDEN_CFLAGS := -fPIE
HARDEN_LDFLAGS := -pie
else
OPT_CFLAGS := $(CFLAGS)
OPT_LDFLAGS := $(LDFLAGS)
endif

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DSDTOOL_VERSION='"$(VERSION)"' \
	$(OPT_CFLAGS) $(HARDEN_CFLAGS) $(WARN) $(PKG_CFLAGS) -I$(BUILD) -MMD -MP
# Every sodium_malloc/sodium_free is counted (shares/secret.c,
# sd_secret_live): every binary linking shares/secret.c needs these
# (libsdcore.a, and the fuzzers' libfuzzcore.a).
SECRET_WRAP_LDFLAGS := -Wl,--wrap=sodium_malloc,--wrap=sodium_free
ALL_LDFLAGS := $(OPT_LDFLAGS) $(HARDEN_LDFLAGS) $(SECRET_WRAP_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Layers (see README, "Architecture"): the core libraries, the online
# client, the simulator, the paper sheets, and the command line.
CORE_SRC := $(wildcard shares/*.c) $(wildcard sys/*.c) $(wildcard pki/*.c) \
	$(wildcard hw/*.c)
NET_SRC := $(wildcard net/*.c)
SIM_SRC := $(wildcard sim/*.c)
PAPER_SRC := $(wildcard paper/*.c)
# Verbs that run as helper programs: hsm (libcurl), sim (libmicrohttpd),
# escrow (cairo, qrencode, zbar).  Every other cmd_*.c is in sdtool.
HELPER_CMD_SRC := sdtool/cmd_hsm.c sdtool/cmd_sim.c sdtool/cmd_escrow.c
CMD_SRC := $(filter-out $(HELPER_CMD_SRC),$(wildcard sdtool/cmd_*.c))
# The paper helper's internal verb (ceremony print's PDF).
PAPER_CLI_SRC := sdtool/paper_verbs.c
CLI_SRC := $(filter-out sdtool/main.c sdtool/helper_main.c $(PAPER_CLI_SRC) \
	$(wildcard sdtool/cmd_*.c),$(wildcard sdtool/*.c))
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_HELPER_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))

obj = $(1:%.c=$(BUILD)/obj/%.o)
CORE_OBJ := $(call obj,$(CORE_SRC))
NET_OBJ := $(call obj,$(NET_SRC))
SIM_OBJ := $(call obj,$(SIM_SRC))
PAPER_OBJ := $(call obj,$(PAPER_SRC))
CMD_OBJ := $(call obj,$(CMD_SRC))
CLI_OBJ := $(call obj,$(CLI_SRC))
TEST_HELPER_OBJ := $(call obj,$(TEST_HELPER_SRC))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CORE_LIB := $(BUILD)/libsdcore.a
CLI_LIB := $(BUILD)/libsdcli.a
NET_LIB := $(BUILD)/libsdnet.a
HELPERS := $(BUILD)/sdtool-hsm $(BUILD)/sdtool-sim $(BUILD)/sdtool-paper

MAN1 := $(wildcard man/*.1)
MAN5 := $(wildcard man/*.5)
MAN7 := $(wildcard man/*.7)
CEREMONIES := $(wildcard ceremony/*.json)
DATADIR ?= $(PREFIX)/share/sdtool
# Pages of the helper programs' verbs, installed with them.
HELPER_MAN1 := man/sdtool-hsm.1 man/sdtool-sim.1 man/sdtool-escrow.1
OFFLINE_MAN1 := $(filter-out $(HELPER_MAN1),$(MAN1))

.SECONDARY:

# Dependency files are made by the compiler, never by a rule (make's
# built-in %: %.o would otherwise try to link them).
MAKEFLAGS += --no-builtin-rules
$(BUILD)/%.d: ;

.PHONY: all offline deps deps-build vectors-present check unit e2e lint \
	san-check demo bench install install-offline install-helpers \
	uninstall clean FORCE fuzz fuzz-build fuzz-smoke ct-check

all: $(BUILD)/sdtool $(HELPERS)

offline: $(BUILD)/sdtool

# Where sdtool looks for its helpers; remade when LIBEXECDIR changes.
$(BUILD)/config.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define SDTOOL_LIBEXECDIR "%s"\n#define SDTOOL_COMMIT "%s"\n' \
		'$(LIBEXECDIR)' '$(COMMIT)' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(BUILD)/obj/sdtool/main.o $(BUILD)/obj/sdtool/cli.o: $(BUILD)/config.h

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(NET_LIB): $(NET_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sdtool: $(BUILD)/obj/sdtool/main.o $(CMD_OBJ) $(CLI_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

# One helper_main.c, built once per helper with its verb.
$(BUILD)/obj/helper_%.o: sdtool/helper_main.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -DHELPER_$(HELPER) -c -o $@ $<

$(BUILD)/obj/helper_hsm.o: HELPER := HSM
$(BUILD)/obj/helper_sim.o: HELPER := SIM
$(BUILD)/obj/helper_paper.o: HELPER := PAPER

$(BUILD)/sdtool-hsm: $(BUILD)/obj/helper_hsm.o $(BUILD)/obj/sdtool/cmd_hsm.o \
		$(CLI_LIB) $(NET_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NET_LIBS) $(CORE_LIBS)

# The simulator reads its bearer token as the client does (net/token.c,
# which needs no libcurl).
$(BUILD)/sdtool-sim: $(BUILD)/obj/helper_sim.o $(BUILD)/obj/sdtool/cmd_sim.o \
		$(SIM_OBJ) $(BUILD)/obj/net/token.o $(CLI_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SIM_LIBS) $(CORE_LIBS)

$(BUILD)/sdtool-paper: $(BUILD)/obj/helper_paper.o \
		$(BUILD)/obj/sdtool/cmd_escrow.o $(call obj,$(PAPER_CLI_SRC)) \
		$(PAPER_OBJ) $(CLI_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PAPER_LIBS) $(CORE_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_HELPER_OBJ) $(SIM_OBJ) \
		$(PAPER_OBJ) $(CLI_LIB) $(NET_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) \
		$(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

# pivsim: the software YubiKey PIV card the tests use (tests/pivsim/, a
# TEST FIXTURE, never installed), and pivapdu, its raw-APDU client.
PIVSIM_SRC := $(filter-out tests/pivsim/pivapdu.c,$(wildcard tests/pivsim/*.c))
PIVSIM_OBJ := $(PIVSIM_SRC:%.c=$(BUILD)/obj/%.o)
PIVAPDU_OBJ := $(BUILD)/obj/tests/pivsim/pivapdu.o

.PHONY: pivsim
pivsim: $(BUILD)/pivsim $(BUILD)/pivapdu

$(BUILD)/pivsim: $(PIVSIM_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs libcrypto jansson)

$(PIVAPDU_OBJ): ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags libpcsclite)

$(BUILD)/pivapdu: $(PIVAPDU_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs libpcsclite libcrypto)

# p11pinpad.so: a simulated PIN-pad reader in front of a real PKCS#11
# module, for t_card.sh (tests/p11shim/, a TEST FIXTURE, never installed).
$(BUILD)/p11pinpad.so: tests/p11shim/pinpad.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(OPT_CFLAGS) $(WARN) \
		$(shell $(PKG_CONFIG) --cflags p11-kit-1) -fPIC -shared -o $@ $<

# Debian packages (debian/), reproducible: `make deb` builds them into
# $(BUILD)/deb; `make offline-bundle` adds what a minimal Debian 12 lacks
# for the offline packages, with SHA256SUMS and an install script.
.PHONY: deb offline-bundle deb-check
deb:
	@sh mk/deb.sh $(abspath $(BUILD)/deb) $(COMMIT)

offline-bundle: deb
	@sh mk/offline-bundle.sh $(abspath $(BUILD)/deb) \
		$(abspath $(BUILD)/offline-bundle)

# Two builds in two directories must be bit-identical; the offline package
# alone, unpacked, must run the offline verbs; lintian must find no error.
# Then the offline bundle is installed, with no network, in a minimal
# Debian 12 made by debootstrap (cached in $(BUILD)/chroot-bookworm).
deb-check: vectors-present
	@SDTOOL_VECTORS=$(VECTORS) COMMIT=$(COMMIT) BUILD_DIR=$(abspath $(BUILD)) \
		sh tests/pkg/t_deb.sh
	@sh mk/offline-bundle.sh $(abspath $(BUILD)/pkgtest/a) \
		$(abspath $(BUILD)/offline-bundle)
	@SDTOOL_VECTORS=$(VECTORS) BUILD_DIR=$(abspath $(BUILD)) \
		sh tests/pkg/t_bundle.sh

deps:
	@sh mk/deps.sh

deps-build:
	@sh mk/deps.sh build

# Unit tests: one cmocka binary per module.  They find the service vectors
# through SDTOOL_VECTORS.
VECTORS ?= $(abspath ../shared/vectors/service)
vectors-present:
	@test -f $(VECTORS)/2023-05/sd.json || { echo "the real service files are missing: $(VECTORS) (set VECTORS=...)" >&2; exit 1; }

unit: $(TEST_BIN) vectors-present
	@sh mk/run-unit.sh $(VECTORS) $(TEST_BIN)

e2e: $(BUILD)/sdtool $(HELPERS) $(BUILD)/pivsim $(BUILD)/pivapdu $(BUILD)/p11pinpad.so \
		vectors-present
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh tests/e2e/run.sh

# Tests that need a real YubiKey: skipped unless SDTOOL_HW_TESTS=1
# (tests/hw/README).
.PHONY: hw-check
hw-check: all vectors-present
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh tests/hw/run.sh

lint:
	@echo "  LINT    man/"
	$(Q)mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

# Under the sanitizers every run is slower: t_signals.sh interrupts the
# writing verbs 40 times there (200 in the plain run).
san-check:
	$(Q)SIGNAL_RUNS=40 $(MAKE) --no-print-directory SAN=1 unit e2e

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory lint
	$(Q)$(MAKE) --no-print-directory deb-check
	$(Q)$(MAKE) --no-print-directory san-check
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)if command -v valgrind >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory ct-check; \
	else echo "ct-check: skipped, valgrind is not installed"; fi

demo: deps-build
	$(Q)$(MAKE) --no-print-directory all
	@SDTOOL=$(abspath $(BUILD)/sdtool) sh ceremony/drill.sh

bench: all
	@BUILD_DIR=$(abspath $(BUILD)) sh bench/libs.sh
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh bench/restore_blob.sh
	@SDTOOL=$(abspath $(BUILD)/sdtool) sh bench/verify.sh

install: install-offline install-helpers

# The air-gapped laptop's part: sdtool alone, with its pages and the
# ceremony files.
install-offline: $(BUILD)/sdtool
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/ceremony
	install -m 0755 $(BUILD)/sdtool $(DESTDIR)$(BINDIR)/sdtool
	install -m 0644 $(OFFLINE_MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(CEREMONIES) $(DESTDIR)$(DATADIR)/ceremony/
	$(if $(MAN7),install -d $(DESTDIR)$(MANDIR)/man7 && \
		install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 ceremony/*.sh $(DESTDIR)$(DATADIR)/ceremony/
	install -m 0644 docs/sd-json.schema.json $(DESTDIR)$(DATADIR)/
	install -m 0644 completion/sdtool.bash $(DESTDIR)$(BASHCOMPDIR)/sdtool

# The helper programs (network, simulator, paper) and their pages.
install-helpers: $(HELPERS)
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(HELPERS) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 $(HELPER_MAN1) $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sdtool
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(HELPERS)))
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/ceremony/,$(notdir $(CEREMONIES)))
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/ceremony/,$(notdir $(wildcard ceremony/*.sh)))
	rm -f $(DESTDIR)$(DATADIR)/sd-json.schema.json
	rm -f $(DESTDIR)$(BASHCOMPDIR)/sdtool

# Fuzzing: libFuzzer harnesses in tests/fuzz/, one per parser of untrusted
# bytes, built with clang, ASan and UBSan into build-fuzz/.  `make fuzz`
# runs each for FUZZ_SECONDS (default 60; FUZZ_JOBS at once, default 1);
# `make fuzz-smoke` (part of check) runs each over its corpus and a few
# seconds of new inputs.  FUZZ=NAME... picks harnesses.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DSDTOOL_VERSION='"$(VERSION)"' \
	-O1 -g $(FUZZ_SAN) $(WARN) -Wno-unknown-warning-option $(PKG_CFLAGS) \
	-MMD -MP
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ ?= $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_SRC := $(CORE_SRC) $(NET_SRC) sdtool/opt.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (fuzz)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libfuzzcore.a: $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o \
		$(FUZZ_BUILD)/libfuzzcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(SECRET_WRAP_LDFLAGS) \
		-o $@ $^ $(PKG_LIBS)

# fuzz_opt parses with every verb's own option table, collected here.
FUZZ_OPT_TABLE_SRC := $(wildcard sdtool/cmd_*.c sim/*.c paper/*.c)
$(FUZZ_BUILD)/gen/opt_tables.c: tests/fuzz/opt_tables.py $(FUZZ_OPT_TABLE_SRC)
	@mkdir -p $(dir $@)
	$(Q)python3 tests/fuzz/opt_tables.py $@ $(FUZZ_OPT_TABLE_SRC)

$(FUZZ_BUILD)/gen/opt_tables.o: $(FUZZ_BUILD)/gen/opt_tables.c
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -I. -c -o $@ $<

$(FUZZ_BUILD)/fuzz_opt: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_opt.o \
		$(FUZZ_BUILD)/gen/opt_tables.o $(FUZZ_BUILD)/libfuzzcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(SECRET_WRAP_LDFLAGS) \
		-o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@sh mk/fuzz.sh run $(FUZZ_BUILD) $(FUZZ)

fuzz-smoke: fuzz-build
	@sh mk/fuzz.sh smoke $(FUZZ_BUILD) $(FUZZ)

# Constant time: tests/ct/ct_test under valgrind memcheck with secrets
# marked undefined (mk/ct-check.sh).  Built with the release flags, since
# what the compiler makes of the code is what is tested, plus SD_CT_TEST,
# which makes sd_ct_declassify() (shares/ct.h) tell memcheck.
CT_BUILD := build-ct
CT_SRC := $(wildcard shares/*.c) hw/oaep_host.c tests/ct/ct_test.c
CT_OBJ := $(CT_SRC:%.c=$(CT_BUILD)/obj/%.o)

$(CT_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (ct)")
	$(Q)$(CC) $(ALL_CFLAGS) -DSD_CT_TEST -c -o $@ $<

$(CT_BUILD)/ct_test: $(CT_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ \
		$(CORE_LIBS)

ct-check: $(CT_BUILD)/ct_test
	@sh mk/ct-check.sh $(CT_BUILD)/ct_test

clean:
	rm -rf build build-san build-fuzz build-ct

-include $(PIVSIM_OBJ:.o=.d) $(PIVAPDU_OBJ:.o=.d)
-include $(CT_OBJ:.o=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.d)
-include $(CORE_OBJ:.o=.d) $(NET_OBJ:.o=.d) $(SIM_OBJ:.o=.d) \
	$(PAPER_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CMD_OBJ:.o=.d) \
	$(patsubst %.o,%.d,$(call obj,sdtool/main.c $(HELPER_CMD_SRC))) \
	$(BUILD)/obj/helper_hsm.d $(BUILD)/obj/helper_sim.d \
	$(BUILD)/obj/helper_paper.d \
	$(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/unit/%.d)
