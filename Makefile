# SPDX-License-Identifier: MIT
# pshm — top-level GNU Makefile.
#
#   make               library (static + shared), the pshm command, examples, the lab
#   make check         build everything, run every Criterion test (through
#                      tests/run.sh; TEST_ARGS="--filter=suite/name" selects)
#                      and check that every manual page renders (check-man)
#   make check SANITIZE=address,undefined     the same suite under ASan + UBSan
#   make check-tsan    the concurrent tests under ThreadSanitizer
#   make check-small-shm  make check with a 64 MiB /dev/shm, as in Docker (root)
#   make demo          walk through the lab, narrated, then clean up
#   make fuzz          run every libFuzzer harness for FUZZ_SECONDS each (clang)
#   make bench         the IPC benchmark (writes bench/RESULTS.md; BENCH_QUICK=1: a check)
#   make install / uninstall   honour PREFIX, DESTDIR, LIBDIR, ...
#   make clean
#
# CFLAGS/LDFLAGS are yours; the flags pshm needs are added with `override`.
# Build outputs go under BUILDDIR (default build/; build/san-<name>/ for
# sanitizer builds, $(BUILDDIR)/fuzz, $(BUILDDIR)/bench); the lab's binaries
# stay in lab/, where the lab text expects them.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
SHELL := /bin/bash
comma := ,

VERSION := $(shell sed -n 's/^\#define PSHM_VERSION_STRING "\(.*\)"/\1/p' include/pshm.h)
# The soname changes with every incompatible release: with the major, or,
# while the major is 0, with the minor too (0.3.x is libpshm.so.0.3).
VERSION_WORDS := $(subst ., ,$(VERSION))
SOVERSION := $(if $(filter 0,$(word 1,$(VERSION_WORDS))),0.$(word 2,$(VERSION_WORDS)),$(word 1,$(VERSION_WORDS)))

CC      ?= cc
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SANITIZE ?=
FUZZ_SECONDS ?= 60

override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
	-fstack-protector-strong -fPIC -pthread -Iinclude -MMD -MP
override LDFLAGS += -pthread -Wl,-z,relro -Wl,-z,now
EXE_LDFLAGS := -pie

BUILDDIR ?= build
ifeq ($(SANITIZE),)
  B := $(BUILDDIR)
  override CFLAGS += -D_FORTIFY_SOURCE=2
else
  B := $(BUILDDIR)/san-$(subst $(comma),-,$(SANITIZE))
  override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  override LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
  Q :=
  say :=
else
  Q := @
  say = @printf '  %-7s %s\n' $(1) $(2);
endif

LIB_SRC  := $(sort $(wildcard src/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_HELPER_OBJ := $(B)/obj/tests/helpers.o
# Concurrent scenarios (tests/stress_*.c) are plain C, without Criterion:
# the Criterion tests call them, and so does tests/tsan_main.c, which runs
# them under ThreadSanitizer (Criterion itself cannot start under TSan:
# Snaipe/Criterion#274).
STRESS_SRC := $(sort $(wildcard tests/stress_*.c))
STRESS_OBJ := $(STRESS_SRC:%.c=$(B)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
EX_BIN   := $(EX_SRC:examples/%.c=$(B)/examples/%)

LIBA     := $(B)/lib/libpshm.a
LIBSO    := $(B)/lib/libpshm.so.$(VERSION)
LIBSONAME := libpshm.so.$(SOVERSION)
PSHM     := $(B)/bin/pshm
PC       := $(B)/pshm.pc

CRITERION_CFLAGS := $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS   := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

# pshm bridge (cli/bridge*.c) needs NNG: pkg-config's nng, or else a plain
# -lnng that links (Debian's libnng-dev ships no nng.pc). Without it, or
# with NNG=no, `pshm bridge` says it is unavailable and nothing else
# changes: only the command links NNG, never the library.
NNG ?= auto
hash := \#
ifneq ($(NNG),no)
  NNG_LIBS := $(shell pkg-config --libs nng 2>/dev/null || { \
	printf '$(hash)include <nng/nng.h>\nint main(void) { return !nng_version(); }\n' | \
	$(CC) -x c -o /dev/null - -lnng >/dev/null 2>&1 && echo -lnng; })
endif
ifneq ($(NNG_LIBS),)
  CLI_LIBS := $(NNG_LIBS)
  $(B)/obj/cli/%.o $(B)/obj/tests/test_bridge%.o: override CFLAGS += -DPSHM_HAVE_NNG \
	$(shell pkg-config --cflags nng 2>/dev/null)
  $(B)/tests/test_bridge%: CRITERION_LIBS += $(NNG_LIBS)
endif

.PHONY: all lib cli lab examples check check-man check-criterion check-small-shm check-tsan \
	tsan-run demo fuzz fuzz-smoke bench bench-scale bench-device bench-deps install uninstall clean FORCE

all: lib cli examples lab

lib: $(LIBA) $(B)/lib/libpshm.so $(PC)
cli: $(PSHM)
examples: $(EX_BIN)
lab:
	$(Q)$(MAKE) --no-print-directory -C lab

$(B)/obj/%.o: %.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	$(call say,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJ) src/libpshm.map
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBSONAME) -Wl,--version-script=src/libpshm.map \
		-Wl,--no-undefined $(LDFLAGS) -o $@ $(LIB_OBJ)

$(B)/lib/libpshm.so: $(LIBSO)
	$(Q)ln -sf libpshm.so.$(VERSION) $(B)/lib/$(LIBSONAME)
	$(Q)ln -sf $(LIBSONAME) $@

# The .pc records where the library is installed: it is remade whenever
# PREFIX, LIBDIR or INCDIR differ from the last build (`make` then
# `make install PREFIX=/opt/px` installs a .pc that says /opt/px). The stamp
# holds the values and is rewritten only when they change.
PC_VARS := $(PREFIX)|$(LIBDIR)|$(INCDIR)|$(VERSION)
$(B)/pshm.pc.vars: FORCE
	@mkdir -p $(@D)
	@[ "$$(cat $@ 2>/dev/null)" = '$(PC_VARS)' ] || echo '$(PC_VARS)' > $@

$(PC): pshm.pc.in $(B)/pshm.pc.vars
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@.tmp && mv $@.tmp $@

# The command and the examples link the static library: one self-contained binary.
$(PSHM): $(CLI_OBJ) $(LIBA)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(B)/examples/%: $(B)/obj/examples/%.o $(LIBA)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^

# The tests need Criterion: say so, rather than fail on a missing header.
check-criterion:
	@printf '#include <criterion/criterion.h>\n' | \
		$(CC) $(CRITERION_CFLAGS) -x c -o /dev/null - $(CRITERION_LIBS) 2>/dev/null || { \
		echo "make check needs Criterion (headers and library), not found by $(CC)." >&2; \
		echo "Install it: apt-get install libcriterion-dev (Debian, Ubuntu)" >&2; \
		echo "or see https://github.com/Snaipe/Criterion; set PKG_CONFIG_PATH if it is elsewhere." >&2; \
		exit 1; }

$(TEST_SRC:%.c=$(B)/obj/%.o) $(TEST_HELPER_OBJ) $(STRESS_OBJ): | check-criterion

# Tests know where the binaries are through -D, so they run from any directory.
$(B)/obj/tests/%.o: override CFLAGS += $(CRITERION_CFLAGS) -Itests \
	-DPSHM_BIN='"$(abspath $(PSHM))"' -DLAB_DIR='"$(abspath lab)"' \
	-DEXAMPLES_DIR='"$(abspath $(B)/examples)"' -DSRC_DIR='"$(abspath .)"'

$(B)/tests/%: $(B)/obj/tests/%.o $(TEST_HELPER_OBJ) $(STRESS_OBJ) $(LIBA)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^ $(CRITERION_LIBS)

# tests/run.sh runs each test binary, all of them even if one fails, adds
# up their TAP reports and prints the `check: N passed, N failed` line; the
# target fails if any test or binary did. With TEST_ARGS="--filter=...",
# binaries with no matching test are skipped rather than run empty.
check: all $(TEST_BIN)
	@st=0; tests/run.sh $(TEST_BIN) -- $(TEST_ARGS) || st=1; \
	$(MAKE) --no-print-directory check-man || st=1; \
	exit $$st

# Every page renders from the tree, without a warning (man-db and groff).
check-man:
	$(Q)tests/check-man.sh

# The Python package (python/): its pytest suite against this build's
# library and binaries, with an interpreter that has pytest (the script
# says which, and skips loudly when none has it). A sanitized libpshm.so
# cannot be loaded by python without preloading the sanitizer's runtime.
check-python: lib cli examples
ifeq ($(SANITIZE),)
	$(Q)PSHM_BUILD='$(abspath $(B))' PSHM_LIB='$(abspath $(B)/lib/libpshm.so)' python/run-tests.sh
else
	@echo "check-python: skipped under SANITIZE=$(SANITIZE) (python cannot load a sanitized libpshm)"
endif
check: check-python

# pip install ./python, offline (setuptools from the system); PYTHON=, and
# PIP_FLAGS= for e.g. --user, --prefix or --break-system-packages.
PYTHON ?= python3
install-python:
	$(PYTHON) -m pip install --no-build-isolation --no-index $(PIP_FLAGS) ./python
.PHONY: check-python install-python

# The whole suite with a /dev/shm as small as Docker's default (64 MiB): a
# private tmpfs in a mount namespace of its own, so the machine's /dev/shm
# and whatever uses it are left alone. Tests that need more room skip
# themselves and say how much they need. Needs root (or CAP_SYS_ADMIN).
SMALL_SHM ?= 64m
check-small-shm: all $(TEST_BIN)
	$(Q)unshare -m sh -c 'mount --make-rprivate / && \
		mount -t tmpfs -o size=$(SMALL_SHM),mode=1777 tmpfs /dev/shm && \
		echo "check-small-shm: /dev/shm is a private $(SMALL_SHM) tmpfs" && \
		exec $(MAKE) --no-print-directory check'

# ThreadSanitizer: the concurrent scenarios, threads variants, through a
# plain driver (see STRESS_SRC above).
$(B)/tsan_main: $(B)/obj/tests/tsan_main.o $(STRESS_OBJ) $(LIBA)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^

ifeq ($(SANITIZE),thread)
tsan-run: $(B)/tsan_main
	$(Q)$(B)/tsan_main
else
tsan-run:
	$(Q)$(MAKE) --no-print-directory tsan-run SANITIZE=thread
endif
check-tsan: tsan-run

demo: all
	@PSHM=$(PSHM) ./demo.sh

# Fuzzing needs clang's libFuzzer; each harness in fuzz/ links the library sources.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_DIR := $(BUILDDIR)/fuzz
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# fuzz_frame.c includes the bridge's frame codec from cli/.
$(FUZZ_DIR)/%: fuzz/%.c $(LIB_SRC) $(wildcard src/*.h) $(wildcard fuzz/*.h) \
	$(wildcard cli/bridge_frame.*) include/pshm.h
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p $(FUZZ_DIR)/corpus/$$n; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(FUZZ_DIR)/corpus/$$n fuzz/corpus/$$n 2>&1 | grep -E '^(stat::|#[0-9]+ +DONE)|ERROR|SUMMARY' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done
fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# The benchmark (bench/Makefile says more): BENCH_QUICK=1 for a short
# check, BENCH_OUT=DIR to write the results there; bench-scale for the MPSC
# scaling alone; bench-device for a 16-core machine in under 7 minutes.
bench: all
	$(Q)$(MAKE) --no-print-directory -C bench BUILDDIR=$(abspath $(BUILDDIR))
bench-scale bench-device: lib
	$(Q)$(MAKE) --no-print-directory -C bench $(@:bench-%=%) BUILDDIR=$(abspath $(BUILDDIR))

# iceoryx (with its C binding) and gnuplot for the benchmark (Debian; as root).
bench-deps:
	apt-get update
	apt-get install -y --no-install-recommends iceoryx libiceoryx-binding-c-dev gnuplot-nox

# Manual pages: an alias (a symbolic link in man/, so that `man -l` works in
# the tree) is installed as a one-line `.so man3/PAGE.3` stub, the form of
# man-pages(7): man, whatis and apropos resolve it within the installed
# manual, it keeps working when a packager compresses the pages, and the
# text exists once.
MAN_PAGES := $(wildcard man/*.[137])

install: lib cli
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 755 $(PSHM) $(DESTDIR)$(BINDIR)/pshm
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libpshm.a
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/libpshm.so.$(VERSION)
	ln -sf libpshm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSONAME)
	ln -sf $(LIBSONAME) $(DESTDIR)$(LIBDIR)/libpshm.so
	install -m 644 include/pshm.h $(DESTDIR)$(INCDIR)/pshm.h
	install -m 644 $(PC) $(DESTDIR)$(PKGCONFIGDIR)/pshm.pc
	for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; f=$$d/$${p##*/}; rm -f $$f; \
		if [ -L $$p ]; then echo ".so man$${p##*.}/$$(readlink $$p)" > $$f && chmod 644 $$f; \
		else install -m 644 $$p $$f; fi || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pshm $(DESTDIR)$(LIBDIR)/libpshm.a \
		$(DESTDIR)$(LIBDIR)/libpshm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSONAME) \
		$(DESTDIR)$(LIBDIR)/libpshm.so $(DESTDIR)$(INCDIR)/pshm.h \
		$(DESTDIR)$(PKGCONFIGDIR)/pshm.pc
	for p in $(MAN_PAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/}; done

clean:
	rm -rf $(BUILDDIR)
	$(MAKE) --no-print-directory -C lab clean
	-$(MAKE) --no-print-directory -C bench clean BUILDDIR=$(abspath $(BUILDDIR)) 2>/dev/null

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
