# sdtool - custody of Azure Key Vault Managed HSM security domains.
#
#   make            build build/sdtool
#   make check      install missing Debian packages, build, run every test
#                   (unit, end-to-end, man lint), then the unit and
#                   end-to-end tests again under ASan+UBSan
#   make demo       a complete simulated ceremony, told as a story
#   make bench      sdtool against azure-cli on the same inputs
#   make fuzz       each libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS
#   make ct-check   secrets through valgrind memcheck: no secret-dependent
#                   branch or memory index (tests/ct/)
#   make install    PREFIX, DESTDIR, BINDIR, MANDIR are honoured

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
VERSION := 0.1.0

PKGS := libcrypto libsodium jansson libqrencode cairo zbar libcurl \
	libmicrohttpd p11-kit-1 ykpers-1 libpcsclite fontconfig
TEST_PKGS := cmocka

ifeq ($(filter deps deps-build,$(MAKECMDGOALS)),)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
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
	$(OPT_CFLAGS) $(HARDEN_CFLAGS) $(WARN) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(OPT_LDFLAGS) $(HARDEN_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

CORE_SRC := $(wildcard shares/*.c) $(wildcard hw/*.c) $(wildcard net/*.c)
CLI_SRC := $(wildcard sdtool/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_HELPER_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CORE_LIB := $(BUILD)/libsdcore.a

MAN1 := $(wildcard man/*.1)
MAN5 := $(wildcard man/*.5)

.SECONDARY:

.PHONY: all deps deps-build vectors-present check unit e2e lint san-check demo bench install uninstall clean \
	fuzz fuzz-build fuzz-smoke ct-check

all: $(BUILD)/sdtool

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sdtool: $(CLI_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(CORE_LIB) $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_HELPER_OBJ) $(CORE_LIB)
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

e2e: $(BUILD)/sdtool $(BUILD)/pivsim $(BUILD)/pivapdu $(BUILD)/p11pinpad.so \
		vectors-present
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh tests/e2e/run.sh

# Tests that need a real YubiKey: skipped unless SDTOOL_HW_TESTS=1
# (tests/hw/README).
.PHONY: hw-check
hw-check: $(BUILD)/sdtool vectors-present
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh tests/hw/run.sh

lint:
	@echo "  LINT    man/"
	$(Q)mandoc -Tlint -Wwarning $(MAN1) $(MAN5)

san-check:
	$(Q)$(MAKE) --no-print-directory SAN=1 unit e2e

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory lint
	$(Q)$(MAKE) --no-print-directory san-check
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)if command -v valgrind >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory ct-check; \
	else echo "ct-check: skipped, valgrind is not installed"; fi

demo: deps-build
	$(Q)$(MAKE) --no-print-directory all
	@SDTOOL=$(abspath $(BUILD)/sdtool) sh ceremony/drill.sh

bench: all
	@SDTOOL=$(abspath $(BUILD)/sdtool) SDTOOL_VECTORS=$(VECTORS) \
		sh bench/restore_blob.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(BUILD)/sdtool $(DESTDIR)$(BINDIR)/sdtool
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sdtool
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))

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
FUZZ_LIB_SRC := $(CORE_SRC) sdtool/opt.c
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
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

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
		$(shell $(PKG_CONFIG) --libs libcrypto libsodium jansson)

ct-check: $(CT_BUILD)/ct_test
	@sh mk/ct-check.sh $(CT_BUILD)/ct_test

clean:
	rm -rf build build-san build-fuzz build-ct

-include $(PIVSIM_OBJ:.o=.d) $(PIVAPDU_OBJ:.o=.d)
-include $(CT_OBJ:.o=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.d)
-include $(CORE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/unit/%.d)
