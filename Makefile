# memory-mcp-operator build, test and local control plane.
#
# Tools are pinned and built from the Go module proxy into ./bin; the control
# plane binaries are built once by hack/envtest-assets.sh and cached where
# setup-envtest keeps its assets, outside the clone.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
KUSTOMIZE ?= $(LOCALBIN)/kustomize
HELM ?= $(LOCALBIN)/helm
KUBEBUILDER ?= $(LOCALBIN)/kubebuilder

CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# kustomize v5.8.3 needs Go 1.27; v5.8.2 is the newest that builds with Go 1.26.
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v4.3.2
KUBEBUILDER_VERSION ?= v4.16.0

IMG ?= ghcr.io/memorymcp/memory-mcp-operator:v0.1.0
SERVER_IMG ?= ghcr.io/memorymcp/mcp-server:v0.1.0
VERSION ?= v0.1.0

CHART_DIR := charts/memory-mcp-operator
# The reference generator, run from the Go module proxy at a pinned version.
CRD_REF_DOCS_VERSION ?= v0.3.0

# Test database of the machine's PostgreSQL; the Postgres store's tests skip,
# loudly, when it is unset.
MEMORY_MCP_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export MEMORY_MCP_TEST_POSTGRES_URL

GO_TEST_FLAGS ?= -p 1 -count=1 -timeout 15m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-22s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory helm-crds helm-rbac helm-dashboards argocd-health

# Helm reads only files inside the chart, so the chart carries copies of the
# CRDs and the dashboard; verify-generated and test/install keep them equal.
.PHONY: helm-crds
helm-crds: ## Copy config/crd/bases into the chart's crds/.
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/

.PHONY: helm-rbac
helm-rbac: ## Copy the generated manager rules into the chart's files/.
	mkdir -p $(CHART_DIR)/files
	{ echo "# Generated from config/rbac/role.yaml by 'make helm-rbac'; do not edit."; \
	  sed -n '/^rules:/,$$p' config/rbac/role.yaml | tail -n +2; } > $(CHART_DIR)/files/manager-role-rules.yaml

.PHONY: argocd-health
argocd-health: ## Embed docs/argocd/health.lua in the argocd-cm patch.
	hack/gen-argocd-cm.sh

.PHONY: helm-dashboards
helm-dashboards: ## Copy config/grafana dashboards into the chart.
	rm -f $(CHART_DIR)/dashboards/*.json
	cp config/grafana/*.json $(CHART_DIR)/dashboards/

.PHONY: generate
generate: controller-gen ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: manifests generate docs ## Fail when generated files differ from the committed ones.
	@hack/verify-clean.sh api config charts docs

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run --timeout 10m ./...

.PHONY: update-golden
update-golden: ## Rewrite the golden files of rendered objects.
	go test ./controllers/... -run Golden -update

.PHONY: test-deps
test-deps: helm kustomize ## Install what the tests need: tools, control plane, Debian and npm packages.
	hack/install-test-deps.sh
	hack/envtest-assets.sh >/dev/null

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver and etcd from the Go module proxy (cached).
	hack/envtest-assets.sh

.PHONY: test
test: test-deps verify-generated vet lint ## Run every test against the real control plane and services.
	go test $(GO_TEST_FLAGS) ./...
	$(MAKE) fuzz

FUZZ_TIME ?= 10s
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZ_TIME.
	hack/fuzz.sh $(FUZZ_TIME)

.PHONY: test-e2e
test-e2e: test-deps build ## Run the end-to-end tests against a local control plane.
	go test -p 1 -count=1 -timeout 20m -v ./test/e2e/...

.PHONY: scale-operator
scale-operator: envtest-assets ## Reconcile 500 MemoryMCP objects and report time and memory.
	MEMORYMCP_SCALE=500 go test -p 1 ./controllers -run ScaleDriver -count=1 -v

##@ Documentation

.PHONY: docs
docs: ## Generate docs/reference.md from the API types.
	CRD_REF_DOCS_VERSION=$(CRD_REF_DOCS_VERSION) hack/gen-reference.sh

##@ Build

.PHONY: build
build: ## Build the manager, the server and the CLI into ./bin.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/ ./cmd/...

.PHONY: docker-build
docker-build: ## Build the manager and server images (needs a Docker engine).
	docker build --target manager --build-arg VERSION=$(VERSION) -t $(IMG) .
	docker build --target mcp-server --build-arg VERSION=$(VERSION) -t $(SERVER_IMG) .

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml: CRDs and the operator.
	KUSTOMIZE=$(KUSTOMIZE) hack/build-installer.sh $(IMG) $(SERVER_IMG) dist/install.yaml

##@ Local control plane

.PHONY: quickstart
quickstart: envtest-assets build ## Run a local control plane with the operator and a server.
	hack/quickstart.sh up

.PHONY: quickstart-down
quickstart-down: ## Stop everything quickstart started.
	hack/quickstart.sh down

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

.PHONY: helm
helm: $(HELM)
$(HELM): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/$(word 1,$(subst ., ,$(HELM_VERSION)))/cmd/helm@$(HELM_VERSION)

.PHONY: kubebuilder
kubebuilder: $(KUBEBUILDER)
$(KUBEBUILDER): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kubebuilder/v4@$(KUBEBUILDER_VERSION)

$(LOCALBIN):
	mkdir -p $(LOCALBIN)
