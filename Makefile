# helpdesk-operator: generate, lint, build, test and deploy. `make help` lists the targets.
#
# Tools (controller-gen, kustomize, golangci-lint, helm) are pinned in hack/tools/go.mod and
# built from the Go module proxy into a cache outside the checkout, keyed by hack/tools/go.sum:
# a warm machine or a fresh clone reuses them, and a changed pin rebuilds them. The
# documentation generators (helm-docs, crd-ref-docs) are pinned apart, in
# hack/tools/docs/go.mod, so they never rebuild the others. Nothing is downloaded with curl.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export GOTOOLCHAIN := local

GO ?= go
KUBECTL ?= kubectl
CONTAINER_TOOL ?= docker
# Image of the operator for docker-build, docker-push and deploy.
IMG ?= helpdesk-operator:dev
# go test flags: one test binary may run this long; add e.g. -run or -v with GO_TEST_FLAGS.
TEST_TIMEOUT ?= 40m
GO_TEST_FLAGS ?=
# The end-to-end tests' timeout, and whether test-e2e tears the cluster down afterwards
# (E2E_DOWN=false keeps it for the next run; `hack/cluster.sh down` removes it).
E2E_TIMEOUT ?= 40m
E2E_DOWN ?= true
# Arguments for `make run`; a local manager needs no leader election.
RUN_ARGS ?= --leader-elect=false
# The operator's own image, which `make run` passes as --operator-image (the manager
# requires it): the manager puts it into the backup, restore and drill Jobs and the access
# gates it creates, so those pods start only where the cluster can pull it (push one with
# `make docker-build docker-push IMG=...`). Defaults to IMG.
RUN_OPERATOR_IMAGE ?= $(IMG)

# The cache hack/test-binaries.sh uses too.
CACHE_DIR ?= $(or $(HELPDESK_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/helpdesk-operator)
TOOLS_KEY := $(shell sha256sum hack/tools/go.sum 2>/dev/null | cut -c1-16)
TOOLS_BIN := $(CACHE_DIR)/tools/$(TOOLS_KEY)
CONTROLLER_GEN := $(TOOLS_BIN)/controller-gen
KUSTOMIZE := $(TOOLS_BIN)/kustomize
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint
HELM := $(TOOLS_BIN)/helm
# Package of each tool in hack/tools/go.mod.
TOOL_PKG_controller-gen := sigs.k8s.io/controller-tools/cmd/controller-gen
TOOL_PKG_kustomize := sigs.k8s.io/kustomize/kustomize/v5
TOOL_PKG_golangci-lint := github.com/golangci/golangci-lint/v2/cmd/golangci-lint
TOOL_PKG_helm := helm.sh/helm/v3/cmd/helm
DOCS_TOOLS_KEY := $(shell sha256sum hack/tools/docs/go.sum 2>/dev/null | cut -c1-16)
DOCS_TOOLS_BIN := $(CACHE_DIR)/tools/docs-$(DOCS_TOOLS_KEY)
HELM_DOCS := $(DOCS_TOOLS_BIN)/helm-docs
CRD_REF_DOCS := $(DOCS_TOOLS_BIN)/crd-ref-docs
DOCS_TOOL_PKG_helm-docs := github.com/norwoodj/helm-docs/cmd/helm-docs
DOCS_TOOL_PKG_crd-ref-docs := github.com/elastic/crd-ref-docs
# Kubernetes version the chart is rendered for (the one the tests run).
CHART_KUBE_VERSION ?= 1.36.3

CHART_DIR := charts/helpdesk-operator
CNPG_API := github.com/cloudnative-pg/api/pkg/api/v1
# Everything `make generate manifests docs` writes; verify-gen checks these are committed.
GENERATED := api config/crd/bases config/rbac/role.yaml test/crds/cloudnative-pg \
	$(CHART_DIR)/templates/crds $(CHART_DIR)/files $(CHART_DIR)/README.md docs/api-reference.md

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target> [VAR=value]\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the API's deepcopy code (api/v1alpha1/zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs, the manager ClusterRole, the CloudNativePG Cluster CRD for tests, and copy them into the chart.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./controllers/... output:rbac:artifacts:config=config/rbac
	@# CloudNativePG's API package defines several CRDs; the tests only need Cluster.
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true paths=$(CNPG_API) output:crd:artifacts:config=test/crds/cloudnative-pg
	find test/crds/cloudnative-pg -name '*.yaml' ! -name postgresql.cnpg.io_clusters.yaml -delete
	@# The chart's CRDs are templates (crds.create, helm.sh/resource-policy: keep), so that
	@# helm upgrade updates them; the manager ClusterRole template reads its rules from
	@# files/manager-role.yaml, so the chart always grants what the code asks for; the alerts
	@# and the dashboard are config/prometheus's and config/grafana's.
	hack/chart-crds.sh
	mkdir -p $(CHART_DIR)/files
	cp config/rbac/role.yaml $(CHART_DIR)/files/manager-role.yaml
	cp config/prometheus/prometheus_rule.yaml $(CHART_DIR)/files/prometheus-rule.yaml
	cp config/grafana/helpdesk-operator.json $(CHART_DIR)/files/grafana-dashboard.json

.PHONY: docs
docs: $(HELM_DOCS) $(CRD_REF_DOCS) ## Generate the chart's README (values table from values.yaml's comments) and docs/api-reference.md (from api/).
	$(HELM_DOCS) --chart-search-root=charts --template-files=README.md.gotmpl --sort-values-order=file --log-level=warning
	$(CRD_REF_DOCS) --source-path=./api --config=hack/api-docs/config.yaml --renderer=markdown \
		--output-path=docs/api-reference.md --log-level=warn

.PHONY: fmt
fmt: ## Format the Go code (go fmt).
	$(GO) fmt ./...

.PHONY: vet
vet: ## Examine the Go code (go vet).
	$(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Lint the Go code with golangci-lint (.golangci.yml), test/monitoring's module too.
	$(GOLANGCI_LINT) run ./...
	cd test/monitoring && $(GOLANGCI_LINT) run ./...

.PHONY: lint-fix
lint-fix: $(GOLANGCI_LINT) ## Lint and apply the fixes golangci-lint can make.
	$(GOLANGCI_LINT) run --fix ./...

.PHONY: verify-gen
verify-gen: generate manifests docs ## Regenerate everything (code, manifests, chart files, docs) and fail when the committed files are out of date.
	@if ! git diff --quiet --exit-code -- $(GENERATED) \
		|| [[ -n "$$(git ls-files --others --exclude-standard -- $(GENERATED))" ]]; then \
		echo; \
		echo "verify-gen: generated files are out of date. Run 'make generate manifests docs' and commit the result:"; \
		git status --short -- $(GENERATED); \
		git --no-pager diff --stat -- $(GENERATED); \
		exit 1; \
	fi
	@echo "verify-gen: generated files are up to date"

##@ Demo

.PHONY: demo
demo: build ## The operator's main job on this machine, no cluster: local API server, Vault, PostgreSQL, S3, the samples, a real backup, drill and retention dry run; Ctrl-C stops it all.
	hack/test-binaries.sh envtest vault versitygw
	$(GO) build -o bin/helpdesk-demo ./hack/demo
	exec bin/helpdesk-demo --operator-binary=bin/helpdesk-operator

##@ Test

.PHONY: test-binaries
test-binaries: ## Build (once per version, cached) the kube-apiserver, etcd, kubectl, Vault, versitygw and glauth the tests start.
	hack/test-binaries.sh envtest vault versitygw glauth

.PHONY: test
test: test-binaries $(HELM) $(KUSTOMIZE) ## Run every test against real kube-apiserver/etcd, Vault, PostgreSQL and versitygw (and the chart and kustomize builds), then test-monitoring.
	set -a; eval "$$(hack/test-binaries.sh env)"; set +a; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(GO_TEST_FLAGS) ./...
	$(MAKE) test-monitoring

# test/monitoring is a module of its own: Prometheus's rule parser and query engine come
# with dependencies the operator must not inherit.
.PHONY: test-monitoring
test-monitoring: ## Load the alert rules with Prometheus's parser, evaluate them, and check every metric the rules and the dashboard use is one the operator exports.
	cd test/monitoring && $(GO) test -count=1 $(GO_TEST_FLAGS) ./...

.PHONY: check-packaging
check-packaging: chart-lint kustomize-build ## Lint and render the chart (default and non-default values) and build every kustomization; the envtest checks of both run in make test (test/chart).

.PHONY: test-e2e
test-e2e: $(HELM) ## Bring up a real single-node cluster (hack/cluster.sh), run test/e2e against it, and tear it down, also on failure.
	hack/test-binaries.sh envtest cluster vault versitygw
	@status=0; \
	hack/cluster.sh up || status=$$?; \
	if [[ $$status -eq 0 ]]; then \
		set -a; eval "$$(hack/test-binaries.sh env)"; set +a; \
		HELPDESK_E2E_HELM=$(HELM) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v $(GO_TEST_FLAGS) ./test/e2e/ || status=$$?; \
	fi; \
	if [[ $$status -ne 0 ]]; then hack/cluster.sh logs || true; fi; \
	if [[ $(E2E_DOWN) == true ]]; then hack/cluster.sh down || status=$$?; fi; \
	exit $$status

.PHONY: cluster-up
cluster-up: ## Bring up the e2e cluster and leave it running (KUBECONFIG: hack/cluster.sh env).
	hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Tear the e2e cluster down and remove everything it made.
	hack/cluster.sh down

##@ Build

# Stamped into the binary (helpdesk-operator version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
VERSION_PKG := github.com/privatedesk/helpdesk-operator/internal/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)

.PHONY: build
build: ## Build the static binary bin/helpdesk-operator, its version stamped from git.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/helpdesk-operator ./cmd/helpdesk-operator

.PHONY: run
run: ## Run the manager against the cluster in your kubeconfig (make install first; set VAULT_ADDR and VAULT_TOKEN or the --vault-* flags in RUN_ARGS; its Jobs' image is RUN_OPERATOR_IMAGE).
	$(GO) run ./cmd/helpdesk-operator manager --operator-image=$(RUN_OPERATOR_IMAGE) $(RUN_ARGS)

.PHONY: docker-build
docker-build: ## Build the operator image IMG (default helpdesk-operator:dev).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Render config/default with IMG into dist/install.yaml, one file to kubectl apply.
	mkdir -p dist
	$(MAKE) kustomize-overlay
	$(KUSTOMIZE) build bin/deploy > dist/install.yaml
	@echo "wrote dist/install.yaml"

##@ Deployment

.PHONY: install
install: $(KUSTOMIZE) ## Install the CRDs into the cluster in your kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: $(KUSTOMIZE) ## Remove the CRDs (and with them every helpdesk object!) from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: $(KUSTOMIZE) ## Deploy the operator (config/default, image IMG) to the cluster in your kubeconfig.
	$(MAKE) kustomize-overlay
	$(KUSTOMIZE) build bin/deploy | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator (config/default) from the cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

# An overlay in bin/ (gitignored) that sets IMG, so deploying never edits config/. It
# repeats config/default's replacement so --operator-image follows IMG too.
.PHONY: kustomize-overlay
kustomize-overlay: $(KUSTOMIZE)
	rm -rf bin/deploy && mkdir -p bin/deploy
	cp config/default/operator_image_replacement.yaml bin/deploy/
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
		'resources:' '- ../../config/default' \
		'replacements:' '- path: operator_image_replacement.yaml' > bin/deploy/kustomization.yaml
	cd bin/deploy && $(KUSTOMIZE) edit set image helpdesk-operator=$(IMG)

##@ Tools

.PHONY: tools
tools: $(CONTROLLER_GEN) $(KUSTOMIZE) $(GOLANGCI_LINT) $(HELM) $(HELM_DOCS) $(CRD_REF_DOCS) ## Build the pinned tools into the cache (TOOLS_BIN, DOCS_TOOLS_BIN).
	@echo "tools in $(TOOLS_BIN) and $(DOCS_TOOLS_BIN)"

.PHONY: kustomize-build
kustomize-build: $(KUSTOMIZE) ## Render config/default, its optional parts (prometheus, network-policy, grafana) and config/samples to check that they build.
	@for dir in default prometheus network-policy grafana samples; do \
		$(KUSTOMIZE) build config/$$dir > /dev/null || { echo "kustomize build config/$$dir failed"; exit 1; }; \
	done
	@echo "config/default, prometheus, network-policy, grafana and samples render"

# Values files the chart is linted and rendered with besides its defaults.
CHART_TEST_VALUES := test/chart/testdata/full-values.yaml

.PHONY: chart-lint
chart-lint: $(HELM) ## Lint the Helm chart (--strict) and render it with default, token-auth and every non-default value.
	$(HELM) lint --strict --kube-version $(CHART_KUBE_VERSION) $(CHART_DIR)
	@for values in $(CHART_TEST_VALUES); do \
		$(HELM) lint --strict --kube-version $(CHART_KUBE_VERSION) $(CHART_DIR) -f $$values || exit 1; \
		$(HELM) template hd $(CHART_DIR) -n helpdesk-system --kube-version $(CHART_KUBE_VERSION) -f $$values > /dev/null || exit 1; \
	done
	$(HELM) template hd $(CHART_DIR) -n helpdesk-system --kube-version $(CHART_KUBE_VERSION) > /dev/null
	$(HELM) template hd $(CHART_DIR) -n helpdesk-system --kube-version $(CHART_KUBE_VERSION) \
		--set vault.authMethod=token --set vault.tokenSecret.name=vault-token --set vault.tokenSecret.key=token \
		--set vault.caCertSecret.name=vault-ca --set vault.caCertSecret.key=ca.crt \
		--set metrics.enabled=false --set rbac.aggregateToDefaultRoles=false > /dev/null
	@echo "chart-lint: $(CHART_DIR) lints and renders"

$(TOOLS_BIN)/%:
	@mkdir -p $(TOOLS_BIN)
	@echo "building $* from hack/tools/go.mod into $(TOOLS_BIN)"
	cd hack/tools && CGO_ENABLED=0 $(GO) build -trimpath -o $@.$$$$.tmp $(TOOL_PKG_$*) && mv -f $@.$$$$.tmp $@

$(DOCS_TOOLS_BIN)/%:
	@mkdir -p $(DOCS_TOOLS_BIN)
	@echo "building $* from hack/tools/docs/go.mod into $(DOCS_TOOLS_BIN)"
	cd hack/tools/docs && CGO_ENABLED=0 $(GO) build -trimpath -o $@.$$$$.tmp $(DOCS_TOOL_PKG_$*) && mv -f $@.$$$$.tmp $@
