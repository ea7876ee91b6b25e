# voxgender — one command builds the library and the CLI: `make`.
# Dependencies (Debian): scripts/install-deps.sh

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS     := libavformat libavcodec libavutil libswresample fftw3 libpng libjpeg libcjson openblas libzip rubberband
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -llinear

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS   ?= -O3 -g
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -pthread -fopenmp -Iinclude $(PKG_CFLAGS)
LDLIBS   := $(PKG_LIBS) -lm -pthread -fopenmp

LIB_SRC  := $(wildcard src/*.c src/*/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/build_rev.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/model_dir.o
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

LIB_A  := $(BUILD)/libvoxgender.a
LIB_SO := $(BUILD)/libvoxgender.so
CLI    := $(BUILD)/voxgender
TESTS  := $(BUILD)/unit_tests
BENCH  := $(BUILD)/bench_frontend

.PHONY: fuzz all clean test test-asan bench install uninstall demo
all: $(LIB_A) $(LIB_SO) $(CLI)

$(BUILD)/%.o: %.c include/voxgender.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The source revision the library is built from. `train` records it in a
# model's metadata: the code that trained a model decides its exact weights,
# so a retrain is only bit-identical with the same revision. "+modified.H"
# marks uncommitted changes to src/ or include/, H a hash of those changes:
# the feature cache's keys hold the revision, and two different edits of the
# front end must not share cached features.
REV := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
ifneq ($(REV),)
REV := $(REV)$(shell git diff --quiet HEAD -- src include 2>/dev/null || \
         echo +modified.$$(git diff HEAD -- src include | sha1sum | cut -c1-8))
else
REV := unknown
endif

# rewritten only when the revision changes, so it rebuilds nothing otherwise
$(BUILD)/gen/build_rev.c: FORCE
	@mkdir -p $(dir $@)
	@printf '#include "voxgender.h"\nconst char *vg_build_revision(void) { return "%s"; }\n' '$(REV)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/gen/build_rev.o: $(BUILD)/gen/build_rev.c include/voxgender.h
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Where `make install` puts the shipped model, for `predict` without -m. A
# file of its own, rewritten when PREFIX changes, so that
# `make install PREFIX=/opt/x` after a plain `make` relinks the CLI with the
# new directory instead of keeping the one it was first compiled with.
$(BUILD)/gen/model_dir.c: FORCE
	@mkdir -p $(dir $@)
	@printf 'const char vg_cli_model_dir[] = "%s";\n' '$(PREFIX)/share/voxgender' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/gen/model_dir.o: $(BUILD)/gen/model_dir.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

.PHONY: FORCE
FORCE:

# The libraries give the outside the header's functions and nothing else:
# internal names (rng_uniform, forward_linear, checkpoint_load, ...) would
# clash with a program's own at link time (static) or, worse, be interposed
# by them at run time (shared). The list is read from the header.
PUBLIC_SYMS := $(BUILD)/gen/public_symbols.txt
$(PUBLIC_SYMS): include/voxgender.h
	@mkdir -p $(dir $@)
	grep -oE '\bvg_[a-z0-9_]+ *\(' $< | tr -d ' (' | sort -u > $@

$(BUILD)/gen/libvoxgender.map: $(PUBLIC_SYMS)
	{ echo 'VOXGENDER_0 { global:'; sed 's/$$/;/' $<; echo 'local: *; };'; } > $@

# The static library is one object, linked from all of them, whose other
# globals are made local (the CLI links it too, so it uses the API alone).
$(LIB_A): $(LIB_OBJ) $(PUBLIC_SYMS)
	@rm -f $@ $(BUILD)/gen/libvoxgender.o
	$(LD) -r -o $(BUILD)/gen/libvoxgender.o $(LIB_OBJ)
	objcopy --keep-global-symbols=$(PUBLIC_SYMS) $(BUILD)/gen/libvoxgender.o
	ar rcs $@ $(BUILD)/gen/libvoxgender.o

# Every object as it is, internals included: for the unit tests and tools.
LIB_INTERNAL := $(BUILD)/libvoxgender-internal.a
$(LIB_INTERNAL): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ) $(BUILD)/gen/libvoxgender.map
	$(CC) $(CFLAGS) -fopenmp $(LDFLAGS) -shared -Wl,-soname,libvoxgender.so.0 \
	    -Wl,--version-script=$(BUILD)/gen/libvoxgender.map -o $@ $(LIB_OBJ) $(LDLIBS)
	@# the soname beside it, so that a program linked against the build tree runs from it
	@ln -sf libvoxgender.so $(BUILD)/libvoxgender.so.0

$(CLI): $(CLI_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LDFLAGS) $(LDLIBS)

$(TESTS): $(TEST_OBJ) $(LIB_INTERNAL)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB_INTERNAL) $(LDFLAGS) $(LDLIBS)

$(BENCH): $(BUILD)/bench/bench_frontend.o $(LIB_A)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/bench_segment: $(BUILD)/bench/bench_segment.o $(LIB_A)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/bench_nn: $(BUILD)/bench/bench_nn.o $(LIB_A)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

# The statistics the music cues score, for scripts/fit_music_cues.py.
$(BUILD)/music_features: $(BUILD)/tools/music_features.o $(LIB_INTERNAL)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_INTERNAL) $(LDLIBS)

# A measurement behind "Missed, and why" (docs/benchmark-history.md) (not run by make bench):
# Winograd F(2x2,3x3) against im2col for cnn's 3x3 layers at batch 1.
$(BUILD)/winograd_probe: $(BUILD)/bench/winograd_probe.o $(LIB_INTERNAL)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_INTERNAL) $(LDLIBS)

# The test suite: unit tests (library) and CLI tests; the last line of the
# output is "N passed, N failed".
test: $(CLI) $(TESTS)
	VG_TEST_CFLAGS="$(CFLAGS)" tests/run_all.sh $(BUILD)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
# ASan's quarantine keeps freed memory resident; cap it so the bounded-memory
# test measures voxgender, not the sanitizer. GCC leaves float-cast-overflow
# out of "undefined": a number read from a file (1e30 as a tensor dimension)
# converted to int is undefined behaviour too, so it is asked for by name.
SANITIZE = address,undefined,float-cast-overflow
ASAN_BUILD = BUILD=build-asan CFLAGS="-O1 -g -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	LDFLAGS="-fsanitize=$(SANITIZE)"
test-asan:
	ASAN_OPTIONS=quarantine_size_mb=16:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) $(ASAN_BUILD) test

# Structured fuzzing of the file readers (model files, .pth checkpoints,
# recordings and images) against the sanitizer build; tests/fuzz/fuzz.py
# says what is mutated and what counts as a failure. FUZZ_N cases a target.
FUZZ_N = 300
fuzz:
	$(MAKE) $(ASAN_BUILD) build-asan/voxgender
	tests/fuzz/fuzz.py model build-asan/voxgender 1 $(FUZZ_N)
	tests/fuzz/fuzz.py pth build-asan/voxgender 1 $(FUZZ_N)
	tests/fuzz/fuzz.py media build-asan/voxgender 1 $(FUZZ_N)

bench: $(CLI) $(BENCH) $(BUILD)/bench_nn $(BUILD)/bench_segment
	bench/run.sh $(BUILD)

demo: $(CLI)
	scripts/demo.sh $(BUILD)

install: $(LIB_A) $(LIB_SO) $(CLI)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/voxgender
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libvoxgender.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libvoxgender.so.0
	ln -sf libvoxgender.so.0 $(DESTDIR)$(PREFIX)/lib/libvoxgender.so
	install -m 644 include/voxgender.h $(DESTDIR)$(PREFIX)/include/voxgender.h
	install -d $(DESTDIR)$(PREFIX)/share/voxgender
	if [ -f models/voxgender-default.safetensors ]; then \
	    install -m 644 models/voxgender-default.safetensors $(DESTDIR)$(PREFIX)/share/voxgender/; fi
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*VG_VERSION_STRING "\(.*\)".*/\1/p' include/voxgender.h)|' \
	    -e 's|@REQUIRES@|$(PKGS)|' voxgender.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/voxgender.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/voxgender $(DESTDIR)$(PREFIX)/lib/libvoxgender.a \
	    $(DESTDIR)$(PREFIX)/lib/libvoxgender.so $(DESTDIR)$(PREFIX)/lib/libvoxgender.so.0 \
	    $(DESTDIR)$(PREFIX)/include/voxgender.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/voxgender.pc \
	    $(DESTDIR)$(PREFIX)/share/voxgender/voxgender-default.safetensors

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
