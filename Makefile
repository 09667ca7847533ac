# qemu-xen-pvscsi: top-level Makefile.  Run ./configure first.
#
#   make            build QEMU with our files, and our own parts
#   make check      deps, configure (if not done), build, run all our test
#                   suites, with a summary ("make check-run": only the last two)
#   make deb        deps, configure (if not done), build, the Debian package
#   make install    our QEMU into PREFIX/lib/qemu-xen-pvscsi, xen-vscsi into
#                   PREFIX/bin, man pages (PREFIX, DESTDIR)
#   make deps       install the Debian packages the build and tests need
#   make demo       deps, configure (if not done), build, run the demo
#   make check-e2e  build, then test with real Linux guests in a nested Xen
#   make bench-e2e  build, then fio in a real guest: pvscsi, qdisk, scsiback
#   make fuzz       ASan+UBSan build, then the hostile-frontend fuzzer
#   make bench      build, then the data-path microbenchmark (pvscsi, qdisk)
#   make patches    the project as a git format-patch series for qemu-devel
#   make check-patches  that series: git am, checkpatch, build, our qtests
#
# SPDX-License-Identifier: GPL-2.0-or-later

comma := ,
space := $(empty) $(empty)
SRC_PATH := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(SRC_PATH)/build
CONFIG_MAK := $(BUILD)/config.mak
NINJA ?= ninja
MESON ?= meson

# Our qtests (meson suite "xen-pvscsi" in QEMU's build) and unit tests.
QTEST_SUITE := xen-pvscsi

.PHONY: all check check-run check-qtest check-unit install deps clean distclean \
        help reconfigure demo run-demo check-e2e bench-e2e e2e-deps fuzz bench \
        deb deb-run patches check-patches

all:

deps:
	sh $(SRC_PATH)/scripts/install-deps.sh

# From a fresh clone, one command each: the packages that are missing,
# configure if not done, then the demo, the tests or the package.
demo check deb:
	sh $(SRC_PATH)/scripts/install-deps.sh
	@test -f $(CONFIG_MAK) || { cd $(SRC_PATH) && ./configure; }
	@$(MAKE) --no-print-directory -f $(SRC_PATH)/Makefile \
	    $(if $(filter demo,$@),run-demo,$@-run)

help:
	@sed -n '3,17p' $(SRC_PATH)/Makefile | sed 's/^# \{0,1\}//'

# Real-Xen end-to-end suite and benchmark (tests/e2e, needs root): the host
# packages, our QEMU built, then tests/e2e/run.sh.  The dom0 image and the
# other inputs are cached outside the tree (E2E_CACHE, default
# ~/.cache/qemu-xen-pvscsi-e2e); see docs/devel/xen-pvscsi-e2e.rst.
e2e-deps:
	sh $(SRC_PATH)/scripts/install-e2e-deps.sh

check-e2e bench-e2e: e2e-deps
	@test -f $(CONFIG_MAK) || { echo "Please run ./configure first" >&2; exit 1; }
	flock $(BUILD)/.lock $(MAKE) --no-print-directory -f $(SRC_PATH)/Makefile all
	bash $(SRC_PATH)/tests/e2e/run.sh $(patsubst %-e2e,%,$@)

ifeq ($(wildcard $(CONFIG_MAK)),)
all check-run check-qtest check-unit install run-demo fuzz bench deb-run \
patches check-patches:
	@echo "Please run ./configure first" >&2; exit 1
else
include $(CONFIG_MAK)

# Re-run configure when one of our overlay files is newer than its copy.
OVERLAY_FILES := $(shell cd $(SRC_PATH) && find hw include qapi tests/qtest tests/iscsi docs patches \
                   overlay -type f 2>/dev/null)
$(BUILD)/overlay.stamp: $(addprefix $(SRC_PATH)/,$(OVERLAY_FILES)) \
                        $(SRC_PATH)/configure
	$(SRC_PATH)/configure $(CONFIGURE_ARGS)
	touch $@

reconfigure:
	rm -f $(BUILD)/overlay.stamp
	$(MAKE) $(BUILD)/overlay.stamp

# The emulators and tools; QEMU's default ninja target would also build
# all of QEMU's own tests.
QEMU_TARGETS := $(patsubst %-softmmu,qemu-system-%,$(subst $(comma),$(space),$(TARGET_LIST))) \
                qemu-img qemu-io qemu-nbd qemu-pr-helper trace/trace-events-all

all: $(BUILD)/overlay.stamp
	$(NINJA) -C $(QEMU_BUILD) $(QEMU_TARGETS)
	@# Firmware for QEMU runs from the build tree (see configure).
	@for d in $(FIRMWARE_DIRS); do \
	    test -d $$d || continue; \
	    mkdir -p $(QEMU_BUILD)/qemu-bundle$$(dirname $$d); \
	    ln -sfn $$d $(QEMU_BUILD)/qemu-bundle$$d; \
	done
	$(MESON) compile -C $(OURS_BUILD)

# Build only our test executables (plain "meson test" would first build
# every QEMU test), then run our suite.
check-qtest: all
	cd $(QEMU_BUILD) && $(NINJA) $$($(MESON) introspect --tests | \
	    python3 $(SRC_PATH)/scripts/suite-targets.py $(QTEST_SUITE) .)
	cd $(QEMU_BUILD) && $(MESON) test --no-rebuild --suite $(QTEST_SUITE) \
	    --print-errorlogs --num-processes 1 || true

check-unit: all
	$(MESON) test -C $(OURS_BUILD) --print-errorlogs || true

check-run: all
	@rm -f $(QEMU_BUILD)/meson-logs/testlog.json \
	       $(OURS_BUILD)/meson-logs/testlog.json
	-$(MAKE) --no-print-directory check-unit
	-$(MAKE) --no-print-directory check-qtest
	@python3 $(SRC_PATH)/scripts/test-summary.py \
	    $(OURS_BUILD)/meson-logs/testlog.json \
	    $(QEMU_BUILD)/meson-logs/testlog.json

DEMO_ARCH := $(firstword $(patsubst %-softmmu,%,$(subst $(comma),$(space),$(TARGET_LIST))))
run-demo: all
	$(NINJA) -C $(QEMU_BUILD) tests/qtest/xen-pvscsi-demo
	cd $(QEMU_BUILD) && QTEST_QEMU_BINARY=./qemu-system-$(DEMO_ARCH) \
	    QEMU_IMG=./qemu-img tests/qtest/xen-pvscsi-demo

# The fuzzer against a sanitizer build (build/qemu-fuzz); FUZZ_REQUESTS
# and the other knobs are in scripts/fuzz.sh.
fuzz: $(BUILD)/overlay.stamp
	sh $(SRC_PATH)/scripts/fuzz.sh

# The data-path microbenchmark under the test Xen emulation (valgrind and
# perf; see docs/devel/testing/xen-pvscsi-bench.rst).
bench: all
	$(NINJA) -C $(QEMU_BUILD) tests/qtest/xen-pvscsi-bench
	QEMU_BUILD=$(QEMU_BUILD) QEMU_ARCH=$(DEMO_ARCH) \
	    bash $(SRC_PATH)/scripts/bench.sh

# The upstream series in build/patches (patches/, then scripts/series/),
# and its check in a pristine tree of the pinned release (a QEMU build of
# its own, in build/patches-work/check)
patches: $(BUILD)/overlay.stamp
	sh $(SRC_PATH)/scripts/make-patches.sh $(BUILD)

check-patches: $(BUILD)/overlay.stamp
	sh $(SRC_PATH)/scripts/make-patches.sh $(BUILD) check

# The same layout as the package's, under PREFIX (default: configure's)
install: all
	sh $(SRC_PATH)/scripts/install.sh $(BUILD)

deb-run: all
	sh $(SRC_PATH)/scripts/mkdeb.sh $(BUILD)
endif

clean:
	-test -d $(BUILD)/qemu && $(NINJA) -C $(BUILD)/qemu clean
	-test -d $(BUILD)/ours && $(NINJA) -C $(BUILD)/ours clean

distclean:
	rm -rf $(BUILD)
