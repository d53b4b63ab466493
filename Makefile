# One build for the whole tree.  `make` builds the three programs; `make test`
# installs what is missing, builds and runs every test.  See README.md.

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
COV     ?=
CFLAGS_EXTRA ?=
PYTEST  ?= /usr/bin/python3 -m pytest

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wno-format-truncation
ifneq ($(findstring clang,$(CC)),)
WARN    += -Wno-unknown-warning-option
endif
CFLAGS  := -std=gnu11 $(OPT) -g $(WARN) -I. -D_GNU_SOURCE -MMD -MP $(SAN) $(COV) $(CFLAGS_EXTRA)
LDFLAGS := $(SAN) $(COV)
LDLIBS  := -lm

# Library modules, bottom up.  Product code (rule 1 of DESIGN.md) is the last four.
LIB_MODULES     := mte_sim umc faultnet tcmu_ram scst iscsi drbd sim
PRODUCT_MODULES := tcmu_ram scst iscsi drbd

srcs_of = $(sort $(wildcard $(1)/*.c))
objs_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(1)/scstsim_main.c,$(call srcs_of,$(1))))

LIB_OBJS     := $(foreach m,$(LIB_MODULES),$(call objs_of,$(m)))
# The simulated disk's media lives outside every node (it outlives crashes),
# so it is held to the harness rules rather than the product ones.
MEDIA_OBJ    := $(BUILD)/obj/tcmu_ram/simdisk_media.o
PRODUCT_OBJS := $(filter-out $(MEDIA_OBJ),$(foreach m,$(PRODUCT_MODULES),$(call objs_of,$(m))))
HARNESS_OBJS := $(MEDIA_OBJ) $(call objs_of,sim) $(call objs_of,faultnet)
# One archive per module, so a test links (and compiles) only what it uses.
lib_of       = $(BUILD)/lib/lib$(1).a
# Link order: higher layers first.
LINK_ORDER   := sim drbd iscsi scst tcmu_ram faultnet umc mte_sim
libs_for     = $(foreach m,$(LINK_ORDER),$(if $(filter $(m),$(1)),$(call lib_of,$(m))))
ALL_LIBS     := $(call libs_for,$(LIB_MODULES))

BIN := $(BUILD)/bin
PROGRAMS := $(BIN)/scstsim $(BIN)/scstd $(BIN)/scstctl

FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all libs run test unit pytest deps guard asan valgrind-test coverage bench fuzz conformance clean swarm

all: $(PROGRAMS) $(UNIT_BINS)

libs: $(ALL_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/lib/lib%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^
$(foreach m,$(LIB_MODULES),$(eval $(call lib_of,$(m)): $(call objs_of,$(m))))

# The determinism guard runs before the simulator links: product code that
# reaches time, randomness, sockets, threads, files or malloc directly, or
# keeps mutable globals, fails the build.
$(BUILD)/guard.ok: ci/determinism-guard.sh $(PRODUCT_OBJS) $(HARNESS_OBJS)
	@echo "determinism guard: $(words $(PRODUCT_OBJS)) product and $(words $(HARNESS_OBJS)) harness objects"
	@ci/determinism-guard.sh $(PRODUCT_OBJS) -- $(HARNESS_OBJS)
	@touch $@

guard: $(BUILD)/guard.ok

$(BIN)/scstsim: $(BUILD)/obj/sim/scstsim_main.o $(ALL_LIBS) $(BUILD)/guard.ok
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)

# scstd links every scstd/*.c but scstctl's (scstd/scstctl*.c), which make scstctl.
SCSTCTL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard scstd/scstctl*.c)))
SCSTD_OBJS   := $(filter-out $(SCSTCTL_OBJS),$(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard scstd/*.c))))

$(BIN)/scstd: $(SCSTD_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(SCSTD_OBJS) $(ALL_LIBS) $(LDLIBS) -lfuse3

$(BIN)/scstctl: $(SCSTCTL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(SCSTCTL_OBJS) $(LDLIBS)

# The modules each unit test links (default: all of them).
TEST_MODULES_test_engine  := mte_sim
TEST_MODULES_test_umc     := umc mte_sim
TEST_MODULES_test_faultnet := faultnet umc mte_sim
TEST_MODULES_test_bdev    := tcmu_ram umc mte_sim
TEST_MODULES_test_simdisk := tcmu_ram umc mte_sim
TEST_MODULES_test_drbd := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_repl := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_admin := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_sb := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_faults := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_mesh := drbd tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_drbd_tcp := drbd tcmu_ram umc mte_sim
TEST_MODULES_test_sim_oracle := sim drbd iscsi scst tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_scst    := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_sbc := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_thin := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_pr := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_tmf := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_conf := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_limits := scst tcmu_ram umc mte_sim
TEST_MODULES_test_scst_ua := scst tcmu_ram umc mte_sim
TEST_MODULES_test_iscsi_pdu := iscsi umc mte_sim
TEST_MODULES_test_iscsi_keys := iscsi umc mte_sim
TEST_MODULES_test_iscsi_target := iscsi scst tcmu_ram faultnet umc mte_sim
TEST_MODULES_test_iscsi_raw := iscsi scst tcmu_ram faultnet umc mte_sim
test_libs = $(call libs_for,$(or $(TEST_MODULES_$(1)),$(LIB_MODULES)))

define unit_test_rule
$(BUILD)/tests/$(1): $(BUILD)/obj/tests/unit/$(1).o $(call test_libs,$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(call test_libs,$(1)) -lcmocka $$(LDLIBS)
endef
$(foreach t,$(patsubst $(BUILD)/tests/%,%,$(UNIT_BINS)),$(eval $(call unit_test_rule,$(t))))

# ---- running ----------------------------------------------------------------

SEED ?= 1
run: deps all
	@ci/run-main.sh $(BIN) $(SEED)

deps:
	@ci/install-deps.sh

unit: all
	@ci/run-unit.sh $(UNIT_BINS)

pytest: all
	$(PYTEST) -q tests

test: deps guard
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory pytest

# ASan + UBSan build in its own tree, then the unit tests and pytest on it.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    all unit
	SCST_BUILD=build-asan $(PYTEST) -q tests

valgrind-test: deps all
	@VALGRIND=1 ci/run-unit.sh $(UNIT_BINS)
	@ci/valgrind-programs.sh $(BIN)

coverage: deps
	@$(MAKE) --no-print-directory BUILD=build-cov OPT=-O0 COV=--coverage all unit
	-SCST_BUILD=build-cov $(PYTEST) -q tests
	@mkdir -p $(BUILD)/coverage
	lcov -q --capture --directory build-cov --output-file build-cov/coverage.info \
	    --exclude '/usr/*' --exclude '*/tests/*'
	genhtml -q build-cov/coverage.info --output-directory $(BUILD)/coverage
	@echo "coverage report: $(BUILD)/coverage/index.html"

bench: deps all
	@ci/bench.sh $(BIN)

# Every scenario's swarm: SEEDS (default 1-500) over the cores, one row each.
SEEDS ?= 1-500
swarm: deps all
	@ci/swarm.sh $(BIN) $(SEEDS)

conformance: deps all
	@ci/conformance.sh $(BIN)

# libFuzzer targets for the parsers, each run for FUZZ_SECONDS.
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined" libs
	@ci/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_SRCS)

clean:
	rm -rf build build-asan build-cov build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
