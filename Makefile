# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
#   sudo make run     install what is missing, build, run parkwatch on this host
#   sudo make test    install what is missing, build, run every test
#
OUTPUT ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CLANG ?= clang
CC ?= cc
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VMLINUX_H ?= $(OUTPUT)/vmlinux.h
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

# Debian packages the build, the tests and the oracles need.
DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev \
	libcmocka-dev libncurses-dev libjansson-dev pkg-config gdb elfutils jq tmux python3 bc make gcc \
	prometheus prometheus-node-exporter curl golang-go

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

VERSION := 0.1.0
CFLAGS ?= -O2 -g
# EXTRA_CFLAGS: added to compile and link lines (the sanitizer build uses it), so that
# overriding it never drops the flags below.
CFLAGS += $(EXTRA_CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-std=gnu11 -D_GNU_SOURCE -DPW_VERSION='"$(VERSION)"' -MMD -MP -Iinclude -Iuser -I$(OUTPUT)
LDLIBS := -lbpf -ldw -lelf -lz -ljansson -lncursesw -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Werror -Wall \
	-Wno-unused-function -Iinclude -I$(OUTPUT) -MMD -MP

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
WL_SRCS := $(wildcard tests/workloads/*.c)
WL_BINS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(WL_SRCS)) \
	$(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%-fp,$(WL_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run test test-san unit integration workloads install clean format bench fuzz

all: $(OUTPUT)/parkwatch

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make: missing packages:$$missing (run as root: sudo make deps)" >&2; exit 1; fi; \
		echo "  DEPS    installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/workloads:
	$(Q)mkdir -p $@

ifeq ($(VMLINUX_H),$(OUTPUT)/vmlinux.h)
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@
endif

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -include $(VMLINUX_H) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libpw.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/parkwatch: $(OUTPUT)/user/main.o $(OUTPUT)/libpw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# Unit tests: one cmocka executable per module; -Werror=unused-function
# makes a test that is written but not registered break the build.
$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libpw.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Werror=unused-function -DTEST_SRCDIR='"$(CURDIR)/tests"' \
		-DTEST_BUILDDIR='"$(CURDIR)/$(OUTPUT)"' $< $(OUTPUT)/libpw.a $(LDLIBS) -lcmocka -o $@

# Workloads: built as Debian builds programs (-O2 -g: no frame pointers) and
# again with frame pointers, so both unwinding paths are exercised.
$(OUTPUT)/workloads/%: tests/workloads/%.c tests/workloads/wl.h | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -pthread -Wall -Werror $< -o $@
$(OUTPUT)/workloads/%-fp: tests/workloads/%.c tests/workloads/wl.h | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer -pthread -Wall -Werror $< -o $@

# Go workloads (the seed's handler, verbatim) for the goroutine reader's tests. Go's build
# caches stay out of the repository.
GO ?= go
GO_CACHE ?= /tmp/parkwatch-go-cache
GO_ENV := GOCACHE=$(GO_CACHE)/build GOPATH=$(GO_CACHE)/path GO111MODULE=off GOFLAGS=
GO_SEED_SRCS := $(wildcard tests/workloads/go/seed/*.go)
GO_WL_BINS := $(OUTPUT)/workloads/goseed $(OUTPUT)/workloads/goseed-w $(OUTPUT)/workloads/goseed-sw

$(OUTPUT)/workloads/goseed: $(GO_SEED_SRCS) | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/go/seed && $(GO_ENV) $(GO) build -o $(abspath $@) .
$(OUTPUT)/workloads/goseed-w: $(GO_SEED_SRCS) | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/go/seed && $(GO_ENV) $(GO) build -ldflags=-w -o $(abspath $@) .
$(OUTPUT)/workloads/goseed-sw: $(GO_SEED_SRCS) | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/go/seed && $(GO_ENV) $(GO) build -ldflags='-s -w' -o $(abspath $@) .

workloads: $(WL_BINS)
ifneq ($(shell command -v $(GO) 2>/dev/null),)
workloads: $(GO_WL_BINS)
$(OUTPUT)/tests/test_goruntime: | $(GO_WL_BINS)
endif

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(OUTPUT)/parkwatch $(ARGS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

integration: all workloads
	$(Q)tests/integration/run.sh $(OUTPUT)

test: deps
	$(Q)$(MAKE) --no-print-directory all workloads $(UNIT_BINS)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10
	$(Q)$(MAKE) --no-print-directory test-san

# The unit and integration suites again, with parkwatch and its tests built under
# AddressSanitizer and UndefinedBehaviorSanitizer in their own build directory (part of
# `make test`, after the normal build's suites).
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_OUTPUT ?= $(OUTPUT)-san
test-san:
	@echo "== sanitizers (ASan + UBSan): $(SAN_OUTPUT)"
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(SAN_OUTPUT) EXTRA_CFLAGS="$(SAN_FLAGS)" unit integration

SYSTEMD_UNITDIR ?= /lib/systemd/system
# Benchmarks (never part of `make test`): overhead against peers, BPF ns/event, scaling,
# and the 10-minute watch soak. Results go to bench/.
# The floor programs (tests/bench/floor.bpf.c): strict subsets of the sched_switch hot path,
# measured beside it to show what bounds its cost per event.
BENCH_FLOOR := $(OUTPUT)/bench/floor $(OUTPUT)/bench/floor.bpf.o
$(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/bench/floor.bpf.o: tests/bench/floor.bpf.c bpf/compat.bpf.h $(VMLINUX_H) | $(OUTPUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -include $(VMLINUX_H) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(OUTPUT)/bench/floor: tests/bench/floor.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

bench: all workloads $(BENCH_FLOOR)
	tests/bench/run.sh $(OUTPUT)
	tests/bench/go_bench.sh $(OUTPUT)
	tests/bench/watch_soak.sh $(OUTPUT) 600

# Goroutines alone: 50,000 parked read + aggregated, and a Go target's request rate during
# repeated snapshots and under watch. Writes bench/results-go.md.
.PHONY: bench-go
bench-go: all workloads
	tests/bench/go_bench.sh $(OUTPUT)

# The 30-minute soak (issue 8): churn + a slow leak + export + watch at once; parkwatch's RSS,
# fds, threads, CPU, BPF map entries and drops over time, with verdicts. Writes bench/soak.md.
.PHONY: soak
SOAK_SECONDS ?= 1800
soak: all workloads
	tests/bench/soak.sh $(OUTPUT) $(SOAK_SECONDS)

# libFuzzer targets for every parser of outside data, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 600
fuzz: all
	tests/fuzz/run.sh $(OUTPUT) $(FUZZ_SECONDS)

install: all
	install -D -m 0755 $(OUTPUT)/parkwatch $(DESTDIR)$(PREFIX)/sbin/parkwatch
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(PREFIX)/share/parkwatch \
		$(DESTDIR)$(PREFIX)/share/doc/parkwatch
	sed 's|/usr/local/sbin/parkwatch|$(PREFIX)/sbin/parkwatch|; s|/usr/local/share/doc|$(PREFIX)/share/doc|' \
		dist/parkwatch.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/parkwatch.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/parkwatch.service
	install -m 0644 dist/parkwatch-rules.yml dist/parkwatch-rules.test.yml \
		$(DESTDIR)$(PREFIX)/share/parkwatch/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/parkwatch/README.md

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h include/*.h tests/unit/*.c tests/workloads/*.c \
		tests/workloads/*.h tests/bench/*.c

clean:
	rm -rf $(OUTPUT) $(SAN_OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/tests/*.d)
