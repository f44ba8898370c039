# lanser - see README.md. `make` builds ./lanser; `make deps` installs what
# is missing; `make test` runs everything CI runs.

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=

# Quiet build lines by default ("  CC      core/buf.c"); `make V=1` prints
# the full compiler command lines (kernel style).
ifeq ($(V),1)
Q :=
msg = @:
else
Q := @
msg = @printf '  %-7s %s\n' '$(1)' '$(2)'
endif

# Pinned third-party sources, installed by `make deps` (scripts/deps.sh)
# from deps/package.json + deps/package-lock.json into deps/node_modules.
NM       := deps/node_modules
TS_LIB   := $(NM)/tree-sitter/vendor/tree-sitter/lib
TS_C     := $(NM)/tree-sitter-c/src
TS_PY    := $(NM)/tree-sitter-python/src
TS_TS    := $(NM)/tree-sitter-typescript/typescript/src
TS_TSX   := $(NM)/tree-sitter-typescript/tsx/src
TS_JS    := $(NM)/tree-sitter-javascript/src

# Our tree-sitter headers come first so that a system copy
# (/usr/include/tree_sitter from Debian's 0.20) can never shadow them.
VERSION := 0.1.0
REQ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DLANSER_VERSION=\"$(VERSION)\" -I$(TS_LIB)/include -I. -Ibuild \
	-Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -MMD -MP
DEV_CFLAGS := -Werror
LIBS := -lgit2 -ljansson -lcurl -lnettle -lseccomp -lmicrohttpd -lpthread -lm

SRC_DIRS := core lsp selectors sandbox rewards engine agent
LIB_SRC  := $(filter-out agent/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
MAIN_SRC := agent/main.c
UNIT_SRC := $(wildcard tests/unit/*.c)
TS_SRC   := $(TS_LIB)/src/lib.c $(TS_C)/parser.c $(TS_PY)/parser.c $(TS_PY)/scanner.c \
	$(TS_TS)/parser.c $(TS_TS)/scanner.c $(TS_TSX)/parser.c $(TS_TSX)/scanner.c \
	$(TS_JS)/parser.c $(TS_JS)/scanner.c

BUILD := build
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
TS_OBJ   := $(BUILD)/ts/lib.o $(BUILD)/ts/c_parser.o $(BUILD)/ts/py_parser.o $(BUILD)/ts/py_scanner.o \
	$(BUILD)/ts/ts_parser.o $(BUILD)/ts/ts_scanner.o $(BUILD)/ts/tsx_parser.o \
	$(BUILD)/ts/tsx_scanner.o $(BUILD)/ts/js_parser.o $(BUILD)/ts/js_scanner.o

ASAN := build/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps test test-unit test-asan test-integration test-long demo install uninstall bench clean check-banned check-layers \
	fuzz-trace fuzz-trace-smoke fuzz-patch fuzz-patch-smoke fuzz-outcome fuzz-outcome-smoke \
	fuzz-llm fuzz-llm-smoke fuzz-gitcfg fuzz-gitcfg-smoke
all: lanser lanser-engine tests/fakels/fakels

# Two binaries (agent/main.c): the engine runs every command and the
# daemon; `lanser` is the thin front end a user calls, linked with only the
# core (not core/gitlib.c nor core/ignore.c), so that a warm call through the daemon does not load libgit2,
# libcurl and their dependencies. It parses with the same command table
# (agent/command.c, compiled again with -DLANSER_THIN), answers help itself
# and execs lanser-engine for the rest.
lanser-engine: $(MAIN_OBJ) $(LIB_OBJ) $(TS_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

THIN_OBJ := $(BUILD)/thin/agent/main.o $(BUILD)/thin/agent/command.o $(BUILD)/agent/client.o \
	$(BUILD)/agent/options.o $(BUILD)/agent/help.o $(BUILD)/agent/completion.o \
	$(patsubst %.c,$(BUILD)/%.o,$(filter-out core/gitlib.c core/ignore.c,$(wildcard core/*.c)))
lanser: $(THIN_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -ljansson -lnettle -lm

$(BUILD)/thin/agent/%.o: agent/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$< (thin))
	$(Q)$(CC) $(REQ_CFLAGS) $(DEV_CFLAGS) $(CFLAGS) -DLANSER_THIN -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(REQ_CFLAGS) $(DEV_CFLAGS) $(CFLAGS) -c -o $@ $<

# Generated headers (included as <gen/NAME.h> through -Ibuild). The grammar
# versions that bundles record (environment.parsers) are the ones pinned in
# deps/package.json (issue 18, item 7).
GEN_GRAMMARS := build/gen/grammars.h
$(GEN_GRAMMARS): deps/package.json
	@mkdir -p $(dir $@)
	@v() { sed -n 's/^[[:space:]]*"'"$$1"'":[[:space:]]*"\([0-9][0-9A-Za-z.+-]*\)".*/\1/p' $< | head -1; }; \
	core=$$(v tree-sitter); c=$$(v tree-sitter-c); py=$$(v tree-sitter-python); \
	ts=$$(v tree-sitter-typescript); js=$$(v tree-sitter-javascript); \
	if [ -z "$$core" ] || [ -z "$$c" ] || [ -z "$$py" ] || [ -z "$$ts" ] || [ -z "$$js" ]; then \
		echo "$<: no pinned tree-sitter, tree-sitter-c, -python, -typescript or -javascript version" >&2; exit 1; fi; \
	printf '/* generated from %s by the Makefile: do not edit */\n#define LN_TS_CORE_VERSION "%s"\n#define LN_TS_C_VERSION "%s"\n#define LN_TS_PY_VERSION "%s"\n#define LN_TS_TS_VERSION "%s"\n#define LN_TS_JS_VERSION "%s"\n' \
		"$<" "$$core" "$$c" "$$py" "$$ts" "$$js" >$@.tmp && mv $@.tmp $@
$(BUILD)/agent/cmdctx.o $(ASAN)/agent/cmdctx.o $(BUILD)/agent/doctor.o $(ASAN)/agent/doctor.o: $(GEN_GRAMMARS)

# tree-sitter is third-party code: built with its own (quieter) flags.
TS_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -I$(TS_LIB)/include -I$(TS_LIB)/src -w
$(BUILD)/ts/lib.o: $(TS_LIB)/src/lib.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/c_parser.o: $(TS_C)/parser.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_C) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/py_parser.o: $(TS_PY)/parser.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_PY) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/py_scanner.o: $(TS_PY)/scanner.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_PY) $(CFLAGS) -c -o $@ $<

# tree-sitter-typescript's scanners include ../../common/scanner.h.
$(BUILD)/ts/ts_parser.o: $(TS_TS)/parser.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_TS) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/ts_scanner.o: $(TS_TS)/scanner.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_TS) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/tsx_parser.o: $(TS_TSX)/parser.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_TSX) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/tsx_scanner.o: $(TS_TSX)/scanner.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_TSX) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/js_parser.o: $(TS_JS)/parser.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_JS) $(CFLAGS) -c -o $@ $<
$(BUILD)/ts/js_scanner.o: $(TS_JS)/scanner.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(TS_CFLAGS) -I$(TS_JS) $(CFLAGS) -c -o $@ $<

$(TS_SRC):
	@echo "tree-sitter sources missing: run 'make deps'" >&2; exit 1

# Unit tests link every library object (not agent/main.o).
tests/unit/run: $(UNIT_OBJ) $(LIB_OBJ) $(TS_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# A misbehaving language server for fault tests.
# fakels.c: the scripted behaviours; fakels_io.c: framing and the log.
tests/fakels/fakels: tests/fakels/fakels.c tests/fakels/fakels_io.c tests/fakels/fakels.h
	$(call msg,CC,$<)
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -O1 -g -I. -o $@ $(filter %.c,$^) -ljansson

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_OBJ := $(patsubst %.c,$(ASAN)/%.o,$(UNIT_SRC) $(LIB_SRC)) $(TS_OBJ:$(BUILD)/%=$(ASAN)/%)
$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC-ASAN,$<)
	$(Q)$(CC) $(REQ_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<
$(ASAN)/ts/%.o: $(BUILD)/ts/%.o
	@mkdir -p $(dir $@)
	$(Q)cp $< $@
tests/unit/run-asan: $(ASAN_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS)
lanser-asan: $(patsubst %.c,$(ASAN)/%.o,$(MAIN_SRC) $(LIB_SRC)) $(TS_OBJ:$(BUILD)/%=$(ASAN)/%)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets (clang): the selector parser under ASan + UBSan.
# `make fuzz` runs for FUZZ_SECONDS; `make fuzz-smoke` (part of `make test`)
# runs a bounded number of inputs. Seeds come from tests/selectors/parse.txt;
# new inputs go to build/fuzz/corpus, never into the tree.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?= 200000
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -I. -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SEL_SRC := fuzz/fuzz_selector.c selectors/selector.c core/buf.c core/err.c core/xalloc.c \
	core/xjson.c core/text.c
build/fuzz/fuzz_selector: $(FUZZ_SEL_SRC) selectors/selector.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SEL_SRC) -ljansson
build/fuzz/seeds.stamp: tests/selectors/parse.txt
	@rm -rf build/fuzz/seeds && mkdir -p build/fuzz/seeds build/fuzz/corpus
	@grep -v '^#' $< | cut -f1 | grep -v '\\' | awk '{ f = sprintf("build/fuzz/seeds/%03d", NR); \
		printf "%s", $$0 > f; close(f) }'
	@touch $@
fuzz: build/fuzz/fuzz_selector build/fuzz/seeds.stamp
	./build/fuzz/fuzz_selector -dict=fuzz/selector.dict -max_len=512 \
		-max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus build/fuzz/seeds
fuzz-smoke: build/fuzz/fuzz_selector build/fuzz/seeds.stamp
	@./build/fuzz/fuzz_selector -dict=fuzz/selector.dict -max_len=512 -seed=1 \
		-runs=$(FUZZ_RUNS) build/fuzz/corpus build/fuzz/seeds 2>build/fuzz/smoke.log \
		&& echo "fuzz-selector: 1 passed, 0 failed ($(FUZZ_RUNS) runs)" \
		|| { tail -30 build/fuzz/smoke.log; echo "fuzz-selector: 0 passed, 1 failed"; exit 1; }

# The trace reader (rewards/tracefile.c) under the same flags: `make
# fuzz-trace` runs for FUZZ_SECONDS, `make fuzz-trace-smoke` (part of
# `make test`) a bounded number of inputs from fuzz/trace-seeds.
FUZZ_TRACE_SRC := fuzz/fuzz_trace.c rewards/tracefile.c core/buf.c core/err.c core/jcs.c core/xalloc.c
build/fuzz/fuzz_trace: $(FUZZ_TRACE_SRC) rewards/tracefile.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_TRACE_SRC) -ljansson
fuzz-trace: build/fuzz/fuzz_trace
	@mkdir -p build/fuzz/trace-corpus
	./build/fuzz/fuzz_trace -max_len=8192 -max_total_time=$(FUZZ_SECONDS) \
		build/fuzz/trace-corpus fuzz/trace-seeds
FUZZ_TRACE_RUNS ?= 50000
fuzz-trace-smoke: build/fuzz/fuzz_trace
	@mkdir -p build/fuzz/trace-corpus
	@./build/fuzz/fuzz_trace -max_len=8192 -seed=1 -runs=$(FUZZ_TRACE_RUNS) \
		build/fuzz/trace-corpus fuzz/trace-seeds 2>build/fuzz/trace-smoke.log \
		&& echo "fuzz-trace: 1 passed, 0 failed ($(FUZZ_TRACE_RUNS) runs)" \
		|| { tail -30 build/fuzz/trace-smoke.log; echo "fuzz-trace: 0 passed, 1 failed"; exit 1; }

# The patch reader and in-memory applier (sandbox/patch*.c, issue 5): `make
# fuzz-patch` runs for FUZZ_SECONDS, `make fuzz-patch-smoke` (part of `make
# test`) a bounded number of inputs from fuzz/patch-seeds. It also checks
# that lanser's preview of an applied patch applies again to the same result.
FUZZ_PATCH_SRC := fuzz/fuzz_patch.c sandbox/edit.c sandbox/patch.c sandbox/patch_apply.c \
	sandbox/wsedit.c sandbox/jail.c core/buf.c core/err.c core/config.c core/trust.c core/path.c \
	core/text.c core/jcs.c core/hash.c core/xalloc.c core/xjson.c core/atomicfile.c core/gitlib.c \
	core/ignore.c core/snapshot.c core/gitvet.c core/gitdb.c
FUZZ_PATCH_RUNS ?= 30000
build/fuzz/fuzz_patch: $(FUZZ_PATCH_SRC) sandbox/edit.h sandbox/edit_impl.h sandbox/jail.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_PATCH_SRC) -ljansson -lgit2 -lnettle
fuzz-patch: build/fuzz/fuzz_patch
	@mkdir -p build/fuzz/patch-corpus
	./build/fuzz/fuzz_patch -max_len=4096 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/ \
		build/fuzz/patch-corpus fuzz/patch-seeds
fuzz-patch-smoke: build/fuzz/fuzz_patch
	@mkdir -p build/fuzz/patch-corpus
	@./build/fuzz/fuzz_patch -max_len=4096 -seed=1 -runs=$(FUZZ_PATCH_RUNS) -artifact_prefix=build/fuzz/ \
		build/fuzz/patch-corpus fuzz/patch-seeds 2>build/fuzz/patch-smoke.log \
		&& echo "fuzz-patch: 1 passed, 0 failed ($(FUZZ_PATCH_RUNS) runs)" \
		|| { tail -30 build/fuzz/patch-smoke.log; echo "fuzz-patch: 0 passed, 1 failed"; exit 1; }

# The test-result parsers (sandbox/outcome.c, junit.c, tap.c, pytest.c;
# issue 6): `make fuzz-outcome` runs for FUZZ_SECONDS, `make
# fuzz-outcome-smoke` (part of `make test`) a bounded number of inputs
# seeded from tests/outcomes (first byte: parser).
FUZZ_OUTCOME_SRC := fuzz/fuzz_outcome.c sandbox/outcome.c sandbox/junit.c sandbox/tap.c sandbox/pytest.c \
	core/buf.c core/err.c core/xalloc.c core/xjson.c core/text.c
FUZZ_OUTCOME_RUNS ?= 100000
build/fuzz/fuzz_outcome: $(FUZZ_OUTCOME_SRC) sandbox/outcome.h sandbox/outcome_impl.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_OUTCOME_SRC) -ljansson
build/fuzz/outcome-seeds.stamp: $(wildcard tests/outcomes/*)
	@rm -rf build/fuzz/outcome-seeds && mkdir -p build/fuzz/outcome-seeds build/fuzz/outcome-corpus
	@for f in tests/outcomes/*.xml; do { printf '\000'; cat "$$f"; } >build/fuzz/outcome-seeds/$$(basename $$f); done
	@for f in tests/outcomes/*.tap; do { printf '\001'; cat "$$f"; } >build/fuzz/outcome-seeds/$$(basename $$f); done
	@for f in tests/outcomes/pytest-*.txt; do { printf '\002'; cat "$$f"; } >build/fuzz/outcome-seeds/$$(basename $$f); done
	@touch $@
fuzz-outcome: build/fuzz/fuzz_outcome build/fuzz/outcome-seeds.stamp
	./build/fuzz/fuzz_outcome -max_len=8192 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/ \
		build/fuzz/outcome-corpus build/fuzz/outcome-seeds
fuzz-outcome-smoke: build/fuzz/fuzz_outcome build/fuzz/outcome-seeds.stamp
	@./build/fuzz/fuzz_outcome -max_len=8192 -seed=1 -runs=$(FUZZ_OUTCOME_RUNS) -artifact_prefix=build/fuzz/ \
		build/fuzz/outcome-corpus build/fuzz/outcome-seeds 2>build/fuzz/outcome-smoke.log \
		&& echo "fuzz-outcome: 1 passed, 0 failed ($(FUZZ_OUTCOME_RUNS) runs)" \
		|| { tail -30 build/fuzz/outcome-smoke.log; echo "fuzz-outcome: 0 passed, 1 failed"; exit 1; }

# The model client's reply readers (agent/llm_parse.c, issue 15): whole
# chat completions and server-sent event streams. `make fuzz-llm` runs for
# FUZZ_SECONDS, `make fuzz-llm-smoke` (part of `make test`) a bounded number
# of inputs from fuzz/llm-seeds (first byte: even = completion, odd = stream).
FUZZ_LLM_SRC := fuzz/fuzz_llm.c agent/llm_parse.c core/buf.c core/err.c core/xalloc.c core/xjson.c \
	core/text.c
FUZZ_LLM_RUNS ?= 50000
build/fuzz/fuzz_llm: $(FUZZ_LLM_SRC) agent/llm_impl.h agent/llm.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_LLM_SRC) -ljansson
fuzz-llm: build/fuzz/fuzz_llm
	@mkdir -p build/fuzz/llm-corpus
	./build/fuzz/fuzz_llm -max_len=4096 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/ \
		build/fuzz/llm-corpus fuzz/llm-seeds
fuzz-llm-smoke: build/fuzz/fuzz_llm
	@mkdir -p build/fuzz/llm-corpus
	@./build/fuzz/fuzz_llm -max_len=4096 -seed=1 -runs=$(FUZZ_LLM_RUNS) -artifact_prefix=build/fuzz/ \
		build/fuzz/llm-corpus fuzz/llm-seeds 2>build/fuzz/llm-smoke.log \
		&& echo "fuzz-llm: 1 passed, 0 failed ($(FUZZ_LLM_RUNS) runs)" \
		|| { tail -30 build/fuzz/llm-smoke.log; echo "fuzz-llm: 0 passed, 1 failed"; exit 1; }

# The check of a repository's git configuration before libgit2 opens it
# (core/gitvet.c): the port of libgit2's configuration parser and
# ln_git_vet() on a .git/config that is the input. `make fuzz-gitcfg` runs
# for FUZZ_SECONDS, `make fuzz-gitcfg-smoke` (part of `make test`) a bounded
# number of inputs from fuzz/gitcfg-seeds.
FUZZ_GITCFG_SRC := fuzz/fuzz_gitcfg.c core/gitvet.c core/gitdb.c core/buf.c core/err.c core/xalloc.c
FUZZ_GITCFG_RUNS ?= 20000
build/fuzz/fuzz_gitcfg: $(FUZZ_GITCFG_SRC) core/gitvet.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_GITCFG_SRC)
fuzz-gitcfg: build/fuzz/fuzz_gitcfg
	@mkdir -p build/fuzz/gitcfg-corpus
	./build/fuzz/fuzz_gitcfg -max_len=4096 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/ \
		build/fuzz/gitcfg-corpus fuzz/gitcfg-seeds
fuzz-gitcfg-smoke: build/fuzz/fuzz_gitcfg
	@mkdir -p build/fuzz/gitcfg-corpus
	@./build/fuzz/fuzz_gitcfg -max_len=4096 -seed=1 -runs=$(FUZZ_GITCFG_RUNS) -artifact_prefix=build/fuzz/ \
		build/fuzz/gitcfg-corpus fuzz/gitcfg-seeds 2>build/fuzz/gitcfg-smoke.log \
		&& echo "fuzz-gitcfg: 1 passed, 0 failed ($(FUZZ_GITCFG_RUNS) runs)" \
		|| { tail -30 build/fuzz/gitcfg-smoke.log; echo "fuzz-gitcfg: 0 passed, 1 failed"; exit 1; }

deps:
	@bash scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory check-banned check-layers all tests/unit/run tests/unit/run-asan lanser-asan
	@bash tests/run-all.sh

test-unit: tests/unit/run
	./tests/unit/run

test-asan: tests/unit/run-asan
	ASAN_OPTIONS=detect_leaks=1 ./tests/unit/run-asan

test-integration: all
	bash tests/integration/run.sh

# Long runs, never part of `make test` (meant to stay near 10 minutes on two
# cores): the kill harness with 400 random SIGKILLs per variant
# (docs/edits.md), then the integration scripts that `make test` does not
# run against the sanitizer build (tests/run-all.sh runs the fault, bad
# input, trace, reward, patch, jail and hostile-sandbox scripts under
# ASan/UBSan; these are the rest of the former second pass).
ASAN_LONG_IT := t_clangd t_daemon t_test t_worktree t_sandbox_unpriv t_escape t_kill t_trust t_serve t_mcp \
	t_group_stream t_group_reuse
test-long: deps
	@$(MAKE) --no-print-directory all lanser-asan
	KILL_RANDOM=400 bash tests/integration/run.sh tests/integration/t_kill.sh
	LANSER_BIN="$(CURDIR)/lanser-asan" ASAN_OPTIONS=detect_leaks=1:exitcode=99 \
		bash tests/integration/run.sh $(ASAN_LONG_IT:%=tests/integration/%.sh)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

# `make install PREFIX=DIR` (default /usr/local; DESTDIR for packagers):
# both binaries side by side in $(BINDIR) (`lanser` execs the
# `lanser-engine` next to it), the docs, and bash and zsh completion
# generated from the command table (`lanser completion bash|zsh`). The
# pinned language servers stay in this checkout's deps/node_modules: an
# installed lanser uses clangd from PATH and finds pyright and
# typescript-language-server through PATH or the profiles of .lanser.json.
# `make uninstall` removes exactly what install wrote.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/lanser
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
INSTALL ?= install
install: lanser lanser-engine
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(BASHCOMPDIR)" "$(DESTDIR)$(ZSHCOMPDIR)"
	$(INSTALL) -m 755 lanser lanser-engine "$(DESTDIR)$(BINDIR)/"
	$(INSTALL) -m 644 README.md docs/*.md docs/*.json "$(DESTDIR)$(DOCDIR)/"
	./lanser completion bash >"$(DESTDIR)$(BASHCOMPDIR)/lanser"
	./lanser completion zsh >"$(DESTDIR)$(ZSHCOMPDIR)/_lanser"
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/lanser" "$(DESTDIR)$(BINDIR)/lanser-engine" \
		"$(DESTDIR)$(BASHCOMPDIR)/lanser" "$(DESTDIR)$(ZSHCOMPDIR)/_lanser"
	rm -f $(patsubst docs/%,"$(DESTDIR)$(DOCDIR)/%",$(wildcard docs/*.md docs/*.json)) "$(DESTDIR)$(DOCDIR)/README.md"
	-rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null

# Benchmarks (bench/README.md; never part of `make test`): a raw LSP client
# as the baseline, then bench/run.sh. `make bench BENCH_ARGS=--write`
# updates bench/RESULTS.md.
bench/rawlsp: bench/rawlsp.c
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra $(CFLAGS) $(LDFLAGS) -o $@ $< -ljansson

bench: deps
	@$(MAKE) --no-print-directory all bench/rawlsp
	@bash bench/run.sh $(BENCH_ARGS)

check-banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|gets|strncpy|strncat)\s*\(' \
		$(LIB_SRC) $(MAIN_SRC) || { echo "banned function used (see STYLE)"; exit 1; }

# The layering rule (BRIEF.md "Architecture"): which folder may include
# which, includes that name their folder, no shared base names.
check-layers:
	@bash scripts/check-layers.sh

clean:
	rm -rf $(BUILD) lanser lanser-engine lanser-asan tests/unit/run tests/unit/run-asan tests/fakels/fakels \
		bench/rawlsp

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(THIN_OBJ:.o=.d) \
	$(MAIN_SRC:%.c=$(ASAN)/%.d)
