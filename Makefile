# boxcraft: build a container runtime from scratch, one lesson at a time.
# `make` alone lists the targets. Most need root: run them with sudo.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# sudo's secure_path leaves out where Go is usually installed: look there first.
export PATH := /usr/local/go/bin:$(PATH)
# Static binaries: the probe runs inside images with no C library.
export CGO_ENABLED := 0

BUILD  := _build
BIN    := $(BUILD)/bin
IMAGE  := $(BUILD)/busybox.tar
ROOTFS := $(BUILD)/rootfs
STEPS  := $(sort $(wildcard step[0-9][0-9]-*))

# The newest step: what make bench measures.
RUNTIME_DIR := $(lastword $(STEPS))
RUNTIME     := $(firstword $(subst -, ,$(RUNTIME_DIR)))
# How a step is given its root: a folder as the first argument until
# step03, an image tarball, which it unpacks itself, from step04 on.
RUN_ROOT := $(if $(filter step01 step02 step03,$(RUNTIME)),$(ROOTFS),--image $(IMAGE))

# The complete runtime (final/): what make run starts, in the machine's
# own store (/var/lib/boxcraft), from the busybox image named RUN_IMAGE.
BOXCRAFT  := $(BIN)/boxcraft
# The commit boxcraft is built from, for boxcraft version: from git when
# it can tell (not in a copy without .git, nor as root in a user's clone,
# which git refuses), and said with -X, since go build's own stamping
# fails the build in those cases.
COMMIT    := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
# boxcraft-exec-init, exec's process in a container, uses cgo (it joins
# the container's namespaces in C before the Go runtime starts), linked
# statically all the same, with Go's own DNS and user lookups:
# internal/testkit's StaticCgoFlags are the same. It is the only one.
EXEC_INIT_FLAGS := -tags netgo,osusergo -ldflags '-linkmode external -extldflags -static'
RUN_IMAGE := busybox:latest
# boxcraft's helpers (issue 26): programs boxcraft finds beside itself.
BOXCRAFT_HELPERS := boxcraft-init boxcraft-monitor boxcraft-registry
# What `make run` runs when stdin is not a terminal.
DEMO_CMD := echo "hello from a boxcraft container"; echo "its root holds:"; ls /

# BOXCRAFT_OWN_NETNS=1 (as a make variable or in the environment): run,
# final, bench and soak run boxcraft in a network namespace they make for
# themselves (scripts/own-netns.sh), so that its bridge, veth pairs and
# nftables rules are never the machine's own. For machines that others
# share (CI, the workshop's build machines); a learner's VM leaves it
# unset, and the bridge lives in its host's namespace, as Docker's does.
# The tests need no switch: the test kit gives each test a namespace.
BOXCRAFT_OWN_NETNS ?=
in-own-netns := $(if $(filter 1 yes true,$(BOXCRAFT_OWN_NETNS)),scripts/own-netns.sh)

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOTESTFLAGS ?=
# How many test packages run at once: one per CPU.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
BENCH_RUNS ?= 20
SOAK_RUNS ?= 1000
SOAK_JOBS ?= 2

# The tests run in each step's folder: make the paths given to them
# (make test-step02 BOXCRAFT_BIN=_build/bin/step01) absolute from here.
$(foreach v,BOXCRAFT_BIN BOXCRAFT_PROBE BOXCRAFT_ROOTFS,$(if $($(v)),$(eval override $(v) := $(abspath $($(v))))))
export BOXCRAFT_BIN BOXCRAFT_PROBE BOXCRAFT_ROOTFS

# A learner's programs: make workspace-stepNN makes workspace/stepNN, a
# module of its own (internal/workspace says why).
WORKSPACE := workspace
# ws-step is stepNN when BOXCRAFT_BIN is a workspace's program
# (workspace/stepNN/stepNN), which the tests then build first, from the
# learner's code; otherwise they build the steps' binaries (bins).
ws-step := $(patsubst $(CURDIR)/$(WORKSPACE)/%/,%,$(filter $(CURDIR)/$(WORKSPACE)/step%/,$(dir $(BOXCRAFT_BIN))))
bin-under-test := $(if $(BOXCRAFT_BIN),$(if $(ws-step),workspace-bin,bins))

# test-stepNN and stepNN are pattern rules, which make never applies to a
# .PHONY target: there are no files of those names.
.PHONY: help need-root deps bins workspace-bin rootfs busybox-image run final soak test check-lessons test-v2 bench lint check-zh clean diff-stat

help: ## list the targets (this is the default)
	@echo "boxcraft: build a container runtime from scratch. Targets:"
	@awk -F':.*## ' '/^[a-z0-9%-]+:.*## / { sub(/%/, "NN", $$1); printf "  %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# need-root stops a target that starts containers before it builds anything.
need-root:
	@if [ "$$(id -u)" -ne 0 ]; then echo "$(MAKECMDGOALS): containers need root: sudo make $(MAKECMDGOALS)" >&2; exit 2; fi

deps: ## install missing OS packages with apt-get (busybox-static, …) and check Go
	@scripts/deps.sh

bins: deps ## build every step's binary, boxcraft (final/) and the probe, into _build/bin
	@mkdir -p $(BIN)
	@for dir in $(STEPS); do go build -o $(BIN)/$${dir%%-*} ./$$dir || exit 1; done
	@# Without cgo (issue 26): only boxcraft-exec-init needs C, below.
	@CGO_ENABLED=0 go build -ldflags '-X main.commit=$(COMMIT)' -o $(BOXCRAFT) ./final/cmd/boxcraft
	@CGO_ENABLED=0 go build -o $(BIN)/boxcraft-runc ./final/cmd/boxcraft-runc
	@# boxcraft's helpers (issue 26), found beside it: a container's init,
	@# a detached container's monitor, and pull/push/login (the registry
	@# code, kept out of boxcraft's pages), static, without cgo.
	@for helper in $(BOXCRAFT_HELPERS); do CGO_ENABLED=0 go build -o $(BIN)/$$helper ./final/cmd/$$helper || exit 1; done
	@# exec's process in a container, boxcraft's and boxcraft-runc's
	@# (issue 26): nsexec's C constructor and the child that takes exec's
	@# plan, so cgo, static.
	@CGO_ENABLED=1 go build $(EXEC_INIT_FLAGS) -o $(BIN)/boxcraft-exec-init ./final/cmd/boxcraft-exec-init
	@go build -o $(BIN)/probe ./internal/probe
	@go build -o $(BIN)/bench ./internal/bench

# deps is order-only (after |): it runs first, but does not make the image stale.
$(IMAGE): internal/busybox/busybox.go internal/mkrootfs/main.go $(wildcard /bin/busybox) | deps
	@mkdir -p $(BUILD)
	go run ./internal/mkrootfs $@

$(BUILD)/rootfs.stamp: $(IMAGE)
	rm -rf --one-file-system $(ROOTFS)
	mkdir -p $(ROOTFS)
	tar -xf $(IMAGE) -C $(ROOTFS)
	@touch $@

rootfs: $(BUILD)/rootfs.stamp ## the default busybox image (_build/busybox.tar), unpacked in _build/rootfs
	@echo "rootfs: $(IMAGE) ($$(sha256sum $(IMAGE) | cut -c1-12)…), unpacked in $(ROOTFS)"

# busybox-image puts the default image into the machine's store as
# busybox:latest, from _build/busybox.tar: no network. Importing the same
# tarball again changes nothing. Its progress bar (on a terminal) is
# noise here: what it prints is shown only when it fails.
busybox-image: need-root bins $(IMAGE)
	@out=$$($(BOXCRAFT) import $(IMAGE) $(RUN_IMAGE) 2>&1) || { echo "$$out" >&2; exit 1; }

run: busybox-image ## a shell in a busybox container made by boxcraft, the complete runtime (final/)
	@echo "run: boxcraft run -it --rm $(RUN_IMAGE) sh (the image is $(IMAGE), imported into /var/lib/boxcraft)"
	@if [ -t 0 ]; then \
		echo "run: type exit to leave"; \
		$(in-own-netns) $(BOXCRAFT) run -it --rm $(RUN_IMAGE) sh || true; \
	else \
		echo "run: stdin is not a terminal, so a short demo instead of a shell"; \
		$(in-own-netns) $(BOXCRAFT) run --rm $(RUN_IMAGE) sh -c '$(DEMO_CMD)'; \
	fi

final: busybox-image ## a narrated demo of boxcraft's commands: images, run, -d, ps, logs, stop, limits, inspect, rm, prune
	@$(in-own-netns) scripts/demo-final.sh

soak: need-root bins $(IMAGE) ## SOAK_RUNS (1000) mixed boxcraft runs, 2 at a time, then a check that nothing is left (not in make test)
	@SOAK_RUNS=$(SOAK_RUNS) SOAK_JOBS=$(SOAK_JOBS) $(in-own-netns) scripts/soak.sh $(BOXCRAFT) $(IMAGE)

# gotest runs the tests of the packages given, first telling a normal user
# what will skip. -count=1: a kernel's behaviour is never taken from a
# cache. -p $(TEST_JOBS): packages run side by side, since each test looks
# only at what its own runs made (its own state folder and cgroup parent,
# docs/contract.md). Tests build what they need; with BOXCRAFT_BIN pointing
# into _build/bin, the bins are built first, and with it pointing into
# workspace/, the learner's program.
define gotest
	@if [ "$$(id -u)" -ne 0 ]; then echo "test: not root, so the tests that need root skip (go test -v shows each reason); sudo make test runs them all"; fi
	go test -count=1 -p $(TEST_JOBS) $(GOTESTFLAGS) $(1)
endef

test: deps $(bin-under-test) ## all tests (as a normal user the root tests skip, saying why), then check-lessons
	$(call gotest,./...)
	@$(if $(BOXCRAFT_BIN),:,$(MAKE) --no-print-directory check-lessons)

# check-lessons runs the lessons' checked blocks (docs/lesson-template.md
# says how a block is marked) as root, in a copy of the repository made in
# a temporary folder, and compares what they print with the transcripts.
# It is a test behind the build tag lessons: go test ./... and the make
# test-v2 VM, which has no git and no Go, leave it out.
check-lessons: ## the lessons' checked commands, run in a fresh copy of the repository and compared with their transcripts (as root)
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "check-lessons: not root, so the lessons' commands are not checked: sudo make test checks them"; \
		if [ "$${CI:-}" = true ]; then exit 1; fi; exit 0; fi
	@# The lessons' commands use python3 (step04's hostile archives) and
	@# util-linux's ipcs (step02), as a learner's machine has them.
	@scripts/deps.sh python3 util-linux
	go test -count=1 -tags lessons $(GOTESTFLAGS) -run TestLessons ./internal/lessons

test-v2: bins $(IMAGE) ## every test again, as root, in a qemu VM with cgroup v2 only (V2_JOBS=2 at a time, V2_PACKAGE_TIMEOUT=900 s each)
	@scripts/test-v2.sh

# step-dir names the folder of step NN, or stops make with the steps there are.
step-dir = $(or $(wildcard step$(1)-*),$(error there is no step$(1): the steps are $(STEPS)))

# A goal that names a step that does not exist stops make here, before
# anything is built.
goal-steps := $(foreach n,$(patsubst workspace-step%,%,$(patsubst test-step%,%,$(patsubst step%,%,$(filter step% test-step% workspace-step%,$(MAKECMDGOALS))))),$(call step-dir,$(n)))

test-step%: deps $(bin-under-test) ## one step's tests (e.g. make test-step02)
	$(call gotest,./$(call step-dir,$*)/)

# deps is order-only: it needs no root. The tool is built first, rather
# than go run, which would add a line of its own to a refusal.
workspace-step%: | deps ## write a lesson yourself: workspace/stepNN is step NN's program without the lesson's code
	@mkdir -p $(BUILD)
	@go build -o $(BUILD)/workspace ./internal/workspace
	@$(BUILD)/workspace step$*

# workspace-bin builds the learner's program that BOXCRAFT_BIN names.
workspace-bin:
	@if [ ! -d $(WORKSPACE)/$(ws-step) ]; then echo "there is no $(WORKSPACE)/$(ws-step): make workspace-$(ws-step) makes it" >&2; exit 2; fi
	cd $(WORKSPACE) && go build -o $(ws-step)/$(notdir $(BOXCRAFT_BIN)) ./$(ws-step)

step%: need-root bins rootfs ## a step's narrated demo (e.g. sudo make step02)
	@scripts/demo-step$*.sh

diff-%: ## diff -u of step NN-1 and step NN (e.g. make diff-02): the lesson's change
	@scripts/diff-steps.sh $*

# An explicit rule: make prefers it to diff-%'s pattern.
diff-stat: ## how many lines each lesson's diff changes (blank lines left out)
	@for d in $(wordlist 2,99,$(STEPS)); do n=$${d#step}; n=$${n%%-*}; printf 'diff-%s %s\n' "$$n" "$$(scripts/diff-steps.sh --count $$n)"; done

bench: need-root bins rootfs ## how fast the newest step and boxcraft are, against runc and the kernel's floor: writes docs/benchmarks.md (BENCH_RUNS=20)
	@scripts/deps.sh runc
	$(in-own-netns) $(BIN)/bench -runtime $(BIN)/$(RUNTIME) -image $(IMAGE) -boxcraft $(BIN)/boxcraft -out docs/benchmarks.md -runs $(BENCH_RUNS)

# boxcraft-runc (issue 23) against the OCI runtime validation suite, and
# runc the same way: not part of make test.
.PHONY: oci-validate
oci-validate: need-root bins ## the OCI runtime validation suite (runtime-tools) against boxcraft-runc and runc: TAP totals
	@scripts/deps.sh runc
	@# The suite built first, its module fetched from the module proxy:
	@# with BOXCRAFT_OWN_NETNS=1 the run is in a network namespace of its
	@# own, which reaches nothing (once fetched, the build needs none).
	@scripts/oci-validate.sh build
	@$(in-own-netns) scripts/oci-validate.sh

lint: ## gofmt, go vet and staticcheck (which needs Go 1.26: an older Go fetches it from the module proxy), that each workspace-stepNN builds, and check-zh
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt: not formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	@# go run …@version asks the module proxy even when the module is in the
	@# cache: ask the cache first, so that lint works with no network too.
	GOTOOLCHAIN=auto GOPROXY="file://$$(go env GOMODCACHE)/cache/download|$$(go env GOPROXY)" go run $(STATICCHECK) ./...
	@# A lesson (internal/workspace/stepNN.go) that names code its step no
	@# longer has, or whose stubs no longer build, fails here.
	go run ./internal/workspace -check
	@$(MAKE) --no-print-directory check-zh

# check-zh compares each Chinese page (X.zh-CN.md) with its English page
# (X.md): the same headings, code blocks and <!-- --> lines, in the same
# order, and a link between the two on their first lines, so that a change
# to a lesson cannot leave its translation behind silently. The tool is
# built first, rather than go run, which would add a line of its own.
check-zh: ## that each Chinese page (X.zh-CN.md) has its English page's headings and code blocks (docs/glossary.md)
	@mkdir -p $(BUILD)
	@go build -o $(BUILD)/checkzh ./internal/checkzh
	@$(BUILD)/checkzh .

clean: ## remove all the workshop made: _build/, its mounts, cgroups and state (safe to run twice)
	@BOXCRAFT_OWN_NETNS=$(BOXCRAFT_OWN_NETNS) scripts/clean.sh
