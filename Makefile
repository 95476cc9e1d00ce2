# release-to-prod: build, test and demo. Every target works on a fresh machine with Go 1.26 and
# the Go module proxy; the first test or demo run builds the sandbox's real components (see
# README, "First run").
SHELL := /bin/bash
GO ?= go
BIN := bin
STEPS := $(notdir $(wildcard steps/*))
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOFLAGS_BUILD := -trimpath -ldflags="-s -w"

# An execution count, not a duration: a duration races Go 1.26's fuzz coordinator at its deadline
# and fails a clean run with "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x
REGISTRY ?=

.PHONY: all build generate tools test test-short lint lint-tekton fmt vet staticcheck tidy check-tree tools-sandbox demo demo-cluster bench fuzz images bundles clean

all: build

## build: every step as a static, stripped binary in bin/, and the local runner's peak-rss launcher
build: $(addprefix $(BIN)/,$(STEPS)) $(BIN)/peak-rss

$(BIN)/peak-rss: FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/peak-rss

$(BIN)/%: FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./steps/$*

FORCE:

$(BIN)/tkn-local: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/tkn-local

## demo: the release-to-prod pipeline end to end against the sandbox, twice (the second run must not release again); builds only the sandbox's tools, not the node's
demo: tools-sandbox build $(BIN)/tkn-local
	$(GO) run ./test/demo

## demo-cluster: the same two runs on a real node (kubelet, containerd, Tekton controller) as a tenant, pods shown as they run; needs root; KEEP=1 keeps the cluster up until Ctrl-C
demo-cluster: tools build
	$(GO) run ./test/democluster

## tools: build (once) the sandbox's and the test cluster's components from source; install the node's Debian packages
tools:
	test/tools/node-deps.sh
	$(GO) run ./test/tools/cmd/build-tools

## tools-sandbox: build (once) only what the sandbox runs (kube-apiserver, etcd, Alertmanager, kubectl): what make demo needs
tools-sandbox:
	$(GO) run ./test/tools/cmd/build-tools -sandbox

## test: unit tests, the Tekton wiring check and the sandbox end-to-end tests (builds the tools on first run)
test: tools build lint-tekton
	$(GO) test -count=1 -timeout 45m ./...

## generate: the Tasks, the Pipeline, their README tables and check-input's config, from the steps' Go config structs
generate:
	$(GO) run ./cmd/generate

## lint-tekton: every Task and Pipeline through Tekton's validation and wiring checks, the tenant rules, no Tekton Chains type-hinting result names, and the PaC run's timeouts
lint-tekton:
	$(GO) run ./cmd/lint-tekton

## test-short: unit tests only, no sandbox
test-short:
	$(GO) test -short ./...

## lint: gofmt, go vet, staticcheck, go.mod tidy, and no binary or file over 1 MiB tracked by git
lint: fmt vet staticcheck tidy check-tree

## tidy: fail when go.mod or go.sum is not what go mod tidy writes (direct dependencies listed as such)
tidy:
	$(GO) mod tidy -diff

## check-tree: fail when git tracks an executable binary or a file over 1 MiB (generated YAML and go.sum excepted)
check-tree:
	$(GO) run ./cmd/check-tree

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

## images: every step's linux/amd64+arm64 image as an OCI layout in out/images; pushed with REGISTRY=…
images:
	$(GO) run ./cmd/build-images $(if $(REGISTRY),--registry $(REGISTRY)) --out out/images

## bundles: Tekton bundles of the Tasks, StepActions and Pipeline, step images pinned by digest
bundles:
	@test -n "$(REGISTRY)" || { echo "usage: make bundles REGISTRY=quay.io/<namespace>"; exit 1; }
	$(GO) run ./cmd/build-bundles --registry $(REGISTRY) --pin-images

## fuzz: every fuzz target for FUZZTIME executions (default 100000x) each
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz ./$$dir $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./$$dir; \
	  done; \
	done

## bench: figures side by side (skopeo, kubectl + jq), each step's peak RSS vs its limit, and the real node's (section cluster, needs root) in out/bench.md; ONLY=memory,cluster… picks sections; installs skopeo and jq when missing
bench: tools build $(BIN)/tkn-local
	@command -v skopeo >/dev/null && command -v jq >/dev/null || { echo "installing skopeo and jq (Debian packages)"; apt-get install -y -qq skopeo jq >/dev/null; }
	$(GO) run ./test/bench $(if $(ONLY),-only $(ONLY))

clean:
	rm -rf $(BIN) out
