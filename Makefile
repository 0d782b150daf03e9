# make test is the one list of what must pass (docs/development.md). It sets itself up on a fresh
# machine: npm ci in client-js when node_modules is missing or older than the lockfile, and
# Debian's Chromium for the browser tests when it is missing and we are root.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BUF := client-js/node_modules/.bin/buf
GOPKGS = $$(go list ./... | grep -v /node_modules/)
GOFILES = $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v -e '\.pb\.go$$' -e node_modules/)

.PHONY: test setup standalone lint generate drift web vet gotest fuzz jstest chromium e2e stress bench-go bench-chromium guide gen-ts deploy-validate

test: setup standalone lint drift web vet gotest jstest e2e guide
	@echo "make test: all checks passed"

# npm ci when node_modules is missing or older than the lockfile.
setup: client-js/node_modules/.stamp
client-js/node_modules/.stamp: client-js/package-lock.json
	cd client-js && npm ci --no-audit --no-fund
	touch $@

# The repository stands alone: no pointer to notes a clone does not have, no pointer to a
# section of docs/ or DESIGN.md that does not exist, no broken relative link in the docs.
standalone:
	scripts/check-standalone.sh

lint: setup
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(BUF) lint

generate: setup
	$(BUF) generate

# Generated code is committed: regenerate and fail when it differs from what is checked in.
drift: generate
	@out=$$(git status --porcelain -- proto client-js/src/gen); \
	if [ -n "$$out" ]; then echo "generated code drifted from the .proto files (run make generate, commit):"; echo "$$out"; exit 1; fi

# The built pages are committed (packages web and examples/skirmish/web embed them; the
# binaries mount them): rebuild them and fail when they differ from what is checked in. Only
# the built files: web.go is source.
web: setup
	cd client-js && npm run --silent build:web
	@out=$$(git status --porcelain -- 'web/*.html' 'web/*.js' 'web/*.css' 'examples/skirmish/web/*.html' 'examples/skirmish/web/*.js' 'examples/skirmish/web/*.css'); \
	if [ -n "$$out" ]; then echo "built pages are stale (cd client-js && npm run build:web, then commit):"; echo "$$out"; exit 1; fi

# Typed TypeScript of the games' schemas (`gen ts`), committed; cli's TestGeneratedTSUpToDate
# (in gotest) fails when a file differs from what its game's schema generates.
gen-ts:
	go run ./cmd/ticksync gen ts -game arena -import ../../src/index.js -o client-js/demo/gen/arena.ts
	go run ./examples/skirmish/cmd/skirmish gen ts -game skirmish -o examples/skirmish/page/gen/skirmish.ts

vet:
	go vet $(GOPKGS)

gotest:
	go test -race -count=1 $(GOPKGS)

# docs/games.md followed literally in a temporary directory (docs/games_test.go): a clone of this
# checkout at HEAD, the guide's game written and built, served, played to its result by two
# clients, and its recording verified. It needs the Go module proxy and the npm registry.
guide:
	TICKSYNC_GUIDE=1 go test -count=1 -timeout 6m -run '^TestGuide$$' -v ./docs

# A short coverage-guided run of each fuzz target (seed corpora already run in gotest).
FUZZTIME ?= 10s
fuzz:
	go test ./sim -run '^$$' -fuzz '^FuzzApplyFrame$$' -fuzztime $(FUZZTIME)
	go test ./sim -run '^$$' -fuzz '^FuzzApplyFrameFields$$' -fuzztime $(FUZZTIME)
	go test ./sim/replay -run '^$$' -fuzz '^FuzzReadRecording$$' -fuzztime $(FUZZTIME)
	go test ./server -run '^$$' -fuzz '^FuzzDecodeClientMessage$$' -fuzztime $(FUZZTIME)
	go test ./server -run '^$$' -fuzz '^FuzzFastInput$$' -fuzztime $(FUZZTIME)
	go test ./client-go -run '^$$' -fuzz '^FuzzServerMessage$$' -fuzztime $(FUZZTIME)
	go test ./auth -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)

jstest: setup
	cd client-js && node_modules/.bin/tsc --noEmit -p tsconfig.json
	cd client-js && npm test

# Browser tests use Debian's Chromium (docs/development.md, "Browser tests"), installed here when root.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y --no-install-recommends chromium; \
	  else echo "Chromium is missing: run  sudo apt-get install -y chromium"; exit 1; fi; }

# Browser end-to-end tests against a real `ticksync serve` (after `web`: the bundle is current).
e2e: setup chromium
	cd client-js && node scripts/build-e2e.mjs && node --test --test-timeout=100000 build/e2e/

# The Go tests (-race) and the JS unit tests STRESS_N times with every core kept busy by a CPU
# hog: flaky tests show up here. One round takes about 2-3 minutes on a 2-core machine.
STRESS_N ?= 3
stress: setup
	STRESS_N=$(STRESS_N) scripts/stress.sh

bench-chromium: setup chromium
	cd client-js && npm run --silent bench:decode:chromium

bench-go:
	go test -run '^$$' -bench . -benchmem ./sim/... ./server/...

# The manifests of deploy/ against JSON schemas (deploy/schemas/README.md): kubeconform, pinned
# in its own module (deploy/tools), built from the Go module proxy on first use; the schemas are
# committed, so it runs offline. Not in make test. Kinds without a schema here (Service,
# ServiceAccount, Role, RoleBinding, Secret) are skipped by name; any other kind without one fails.
DEPLOY_SKIP := v1/Service,v1/ServiceAccount,v1/Secret,rbac.authorization.k8s.io/v1/Role,rbac.authorization.k8s.io/v1/RoleBinding
deploy-validate:
	cd deploy/tools && go tool kubeconform -strict -summary \
	  -schema-location '../schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json' \
	  -skip $(DEPLOY_SKIP) ../agones ../lobby ../secret.example.yaml
