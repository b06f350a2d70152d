# pshm — top-level GNU Makefile.
#
#   make               library (static + shared), the pshm command, examples, the lab
#   make check         build everything and run every Criterion test
#   make check SANITIZE=address,undefined     the same suite under ASan + UBSan
#   make check-tsan    the concurrent tests under ThreadSanitizer
#   make check-small-shm  make check with a 64 MiB /dev/shm, as in Docker (root)
#   make demo          walk through the lab, narrated, then clean up
#   make fuzz          run every libFuzzer harness for FUZZ_SECONDS each (clang)
#   make bench         the IPC benchmark (writes bench/RESULTS.md)
#   make install / uninstall   honour PREFIX, DESTDIR, LIBDIR, ...
#   make clean
#
# CFLAGS/LDFLAGS are yours; the flags pshm needs are added with `override`.
# Build outputs go under build/ (or build/san-<name>/ for sanitizer builds);
# the lab's binaries stay in lab/, where the lab text expects them.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
SHELL := /bin/bash
comma := ,

VERSION := $(shell sed -n 's/^\#define PSHM_VERSION_STRING "\(.*\)"/\1/p' include/pshm.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

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
LIBSONAME := libpshm.so.$(SOMAJOR)
PSHM     := $(B)/bin/pshm
PC       := $(B)/pshm.pc

CRITERION_CFLAGS := $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS   := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

.PHONY: all lib cli lab examples check check-small-shm check-tsan tsan-run demo fuzz fuzz-smoke bench bench-deps \
	install uninstall clean FORCE

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
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^

$(B)/examples/%: $(B)/obj/examples/%.o $(LIBA)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^

# Tests know where the binaries are through -D, so they run from any directory.
$(B)/obj/tests/%.o: override CFLAGS += $(CRITERION_CFLAGS) -Itests \
	-DPSHM_BIN='"$(abspath $(PSHM))"' -DLAB_DIR='"$(abspath lab)"' \
	-DEXAMPLES_DIR='"$(abspath $(B)/examples)"' -DSRC_DIR='"$(abspath .)"'

$(B)/tests/%: $(B)/obj/tests/%.o $(TEST_HELPER_OBJ) $(STRESS_OBJ) $(LIBA)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^ $(CRITERION_LIBS)

# Each test binary runs on its own; all of them run even if one fails, and
# the target fails if any did. Criterion prints a synthesis per binary; the
# last line adds them up. With TEST_ARGS="--filter=...", binaries with no
# matching test are skipped rather than run empty.
check: all $(TEST_BIN)
	@pass=0; fail=0; bad=0; \
	for t in $(TEST_BIN); do \
		case "$(TEST_ARGS)" in --filter=*) \
			pat="$(patsubst --filter=%,%,$(TEST_ARGS))"; pat=$${pat##*/}; pat=$${pat//\*/}; \
			$$t --list 2>/dev/null | grep -q -- "$$pat" || continue;; esac; \
		printf '== %s\n' "$$t"; \
		out=$$($$t $(TEST_ARGS) 2>&1); rc=$$?; printf '%s\n' "$$out"; \
		[ $$rc -eq 0 ] || bad=1; \
		syn=$$(printf '%s\n' "$$out" | sed -n 's/.*Synthesis: Tested: [0-9]* | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2 \3/p' | tail -n 1); \
		set -- $$syn; pass=$$((pass + $${1:-0})); fail=$$((fail + $${2:-0} + $${3:-0})); \
	done; \
	[ $$fail -eq 0 ] || bad=1; \
	echo "check: $$pass passed, $$fail failed"; \
	exit $$bad

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
	@./demo.sh

# Fuzzing needs clang's libFuzzer; each harness in fuzz/ links the library sources.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard src/*.h) include/pshm.h
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus/$$n fuzz/corpus/$$n 2>&1 | grep -E '^(stat::|#[0-9]+ +DONE)|ERROR|SUMMARY' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done
fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

bench: all
	$(Q)$(MAKE) --no-print-directory -C bench

# iceoryx (with its C binding) and gnuplot for the benchmark (Debian; as root).
bench-deps:
	apt-get update
	apt-get install -y --no-install-recommends iceoryx libiceoryx-binding-c-dev gnuplot-nox

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
	for p in $(wildcard man/*.1); do install -m 644 $$p $(DESTDIR)$(MANDIR)/man1/; done
	for p in $(wildcard man/*.3); do install -m 644 $$p $(DESTDIR)$(MANDIR)/man3/; done
	for p in $(wildcard man/*.7); do install -m 644 $$p $(DESTDIR)$(MANDIR)/man7/; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pshm $(DESTDIR)$(LIBDIR)/libpshm.a \
		$(DESTDIR)$(LIBDIR)/libpshm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSONAME) \
		$(DESTDIR)$(LIBDIR)/libpshm.so $(DESTDIR)$(INCDIR)/pshm.h \
		$(DESTDIR)$(PKGCONFIGDIR)/pshm.pc
	for p in $(notdir $(wildcard man/*.1)); do rm -f $(DESTDIR)$(MANDIR)/man1/$$p; done
	for p in $(notdir $(wildcard man/*.3)); do rm -f $(DESTDIR)$(MANDIR)/man3/$$p; done
	for p in $(notdir $(wildcard man/*.7)); do rm -f $(DESTDIR)$(MANDIR)/man7/$$p; done

clean:
	rm -rf build
	$(MAKE) --no-print-directory -C lab clean
	-$(MAKE) --no-print-directory -C bench clean 2>/dev/null

-include $(shell find build -name '*.d' 2>/dev/null)
