# Image URL to use for all building/pushing image targets.
IMG ?= controller:latest

# The container tool for docker-build and docker-push.
CONTAINER_TOOL ?= docker

# Kubernetes version of the envtest control plane (kube-apiserver, etcd, kubectl),
# built from source by hack/envtest.
ENVTEST_K8S_VERSION ?= 1.37.2

GOOS ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

# Packages tested by `make test`: everything except the long end-to-end and
# reliability suites under test/, which have targets of their own (test/bench
# runs its smoke version here; `make bench` runs the whole matrix).
TEST_PKGS = $(shell go list ./... | grep -v -e '/test/e2e' -e '/test/reliability')

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'.

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the ClusterRole from the kubebuilder markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) crd paths="./examples/widget/..." output:crd:artifacts:config=examples/widget/config/crd

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods from the kubebuilder markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: test
test: manifests generate fmt vet envtest ## Run the unit and envtest suites with -race and a coverage profile.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -race -count=1 $(TEST_PKGS) -coverprofile cover.out

.PHONY: test-outside
test-outside: envtest ## Check what an operator author does: a new module outside this repository builds the envtest binaries with hack/envtest and runs a test written with reconcilertest.
	hack/outside/check.sh

.PHONY: test-e2e
test-e2e: manifests generate cluster-binaries kustomize ## Run the end-to-end suite: the real manager binary against a local cluster (internal/localcluster).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -timeout 30m ./test/e2e/ -ginkgo.v

# How many inputs make test-reliability gives each fuzzer: about 20 s each on
# this project's two-core machine. A count, not a duration: with a duration,
# Go 1.26's fuzz coordinator can fail a clean run with "context deadline
# exceeded" when the time is up while a worker is mid-input
# (go.dev/issue/75804, fixed in Go 1.27). A count sets no deadline to race.
FUZZ_RUNONCE_EXECS ?= 300000
FUZZ_COMPILE_EXECS ?= 12000
FUZZ_READYWHEN_EXECS ?= 8000
FUZZ_EXPRESSIONS_EXECS ?= 10000

.PHONY: test-reliability
test-reliability: manifests generate envtest ## Run the fuzzers and the reliability and security suites (API faults, crashes, task faults, bad input, tenancy, leaks); write test/reliability/results.md.
	@mkdir -p $(LOCALBIN)/fuzz
	go test -count=1 -run '^$$' -fuzz FuzzRunOnce -fuzztime $(FUZZ_RUNONCE_EXECS)x ./execloop/executor | tee $(LOCALBIN)/fuzz/FuzzRunOnce.txt
	go test -count=1 -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZ_COMPILE_EXECS)x ./controllers | tee $(LOCALBIN)/fuzz/FuzzCompile.txt
	go test -count=1 -run '^$$' -fuzz FuzzReadyWhen -fuzztime $(FUZZ_READYWHEN_EXECS)x ./controllers | tee $(LOCALBIN)/fuzz/FuzzReadyWhen.txt
	go test -count=1 -run '^$$' -fuzz FuzzManifestExpressions -fuzztime $(FUZZ_EXPRESSIONS_EXECS)x ./controllers | tee $(LOCALBIN)/fuzz/FuzzManifestExpressions.txt
	go test -count=1 -v -run TestPlanRoundTrip ./api/v1alpha1 | tee $(LOCALBIN)/fuzz/TestPlanRoundTrip.txt
	FUZZ_RESULTS=$(LOCALBIN)/fuzz KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" \
		go test -count=1 -timeout 30m -v ./test/reliability -results $(CURDIR)/test/reliability/results.md

.PHONY: bench
bench: manifests generate envtest ## Run the benchmarks (engine, and convergence at scale against baselines) and write test/bench/results.md.
	@mkdir -p $(LOCALBIN)
	go test -count=1 -run '^$$' -bench . -benchtime=2s ./execloop/executor | tee $(LOCALBIN)/engine-bench.txt
	ENGINE_BENCH=$(LOCALBIN)/engine-bench.txt KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" \
		go test -count=1 -timeout 30m -run TestBench -v ./test/bench -full -results $(CURDIR)/test/bench/results.md

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can.
	$(GOLANGCI_LINT) run --fix

.PHONY: verify
verify: manifests generate ## Fail when generated code or manifests differ from what is committed.
	go mod tidy
	@if [ -n "$$(git status --porcelain -- api config examples go.mod go.sum)" ]; then \
		echo "Generated files are out of date; run 'make manifests generate' and 'go mod tidy' and commit the result:"; \
		git status --porcelain -- api config examples go.mod go.sum; git --no-pager diff -- api config examples go.mod go.sum; exit 1; \
	fi

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/manager, and the kubectl plugin into bin/kubectl-execloop.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/kubectl-execloop ./cmd/kubectl-execloop

# `make run` uses the cluster of your kubeconfig when there is one, and a
# local cluster (--local: internal/localcluster) when there is none.
HAVE_KUBECONFIG := $(shell if [ -n "$$KUBECONFIG" ] || [ -f "$$HOME/.kube/config" ]; then echo yes; fi)
ifeq ($(HAVE_KUBECONFIG),yes)
RUN_DEPS =
RUN_FLAGS =
else
RUN_DEPS = cluster-binaries
RUN_FLAGS = --local
endif

.PHONY: run
run: manifests generate fmt vet $(RUN_DEPS) ## Run the operator from your host (a local cluster when no kubeconfig is found). Extra flags: ARGS=...
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run . $(RUN_FLAGS) $(ARGS)

# The container image. It cannot be built on machines without a container
# engine and registry access (the development machines of this project have
# neither); these targets are the standard ones for where they do.
.PHONY: docker-build
docker-build: ## Build the manager's container image IMG (needs a container engine).
	$(CONTAINER_TOOL) build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push the manager's container image IMG.
	$(CONTAINER_TOOL) push ${IMG}

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of your kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall the CRDs. Call with ignore-not-found=true to ignore resource-not-found errors.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (image IMG) to the cluster of your kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster. Call with ignore-not-found=true to ignore resource-not-found errors.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: the CRDs and everything needed to deploy the operator (image IMG).
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Dependencies

## Location to install dependencies to.
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

## Tool binaries.
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)-$(GOOS)-$(GOARCH)
# kubectl: yours when it is on PATH, otherwise the one built with the envtest binaries.
KUBECTL ?= $(shell command -v kubectl || echo $(ENVTEST_ASSETS)/kubectl)

## Tool versions.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/ when missing.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/ when missing.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/ when missing.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd $(ENVTEST_ASSETS)/kubectl ## Build kube-apiserver, etcd and kubectl for envtest from source into bin/k8s/ when missing.

# The envtest binaries are built from source by hack/envtest (which anyone
# can run: go run github.com/execloop/execloop/hack/envtest@<version> -dir
# bin/k8s), because no prebuilt binaries can be downloaded (setup-envtest
# needs a download site). It builds the missing ones, each under a
# temporary name first, so an interrupted build never leaves a broken binary
# behind.
$(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd $(ENVTEST_ASSETS)/kubectl &:
	@echo "Building kube-apiserver, etcd and kubectl $(ENVTEST_K8S_VERSION) from source into $(ENVTEST_ASSETS): the first build takes five to ten minutes on 2 cores (6m10s and 8m07s measured), later runs reuse it."
	go run ./hack/envtest -dir $(LOCALBIN)/k8s

CLUSTER_BINARIES = $(ENVTEST_ASSETS)/kube-controller-manager $(ENVTEST_ASSETS)/kube-scheduler $(ENVTEST_ASSETS)/kwok

.PHONY: cluster-binaries
cluster-binaries: envtest $(CLUSTER_BINARIES) ## Build kube-controller-manager, kube-scheduler and kwok from source into bin/k8s/ when missing, for the local cluster of make run and make test-e2e.

# What a whole local cluster adds to envtest's binaries (internal/localcluster
# runs them), built by hack/envtest -cluster the same way.
$(CLUSTER_BINARIES) &:
	@echo "Building kube-controller-manager, kube-scheduler and kwok from source into $(ENVTEST_ASSETS): the first build takes about seven minutes on 2 cores, later runs reuse it."
	go run ./hack/envtest -dir $(LOCALBIN)/k8s -cluster

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(basename "$(1)-$(3)")" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(basename "$(1)-$(3)")" "$(1)"
endef
