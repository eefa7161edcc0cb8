# audiencesync — build, run, test.
GO          ?= go
BIN         := bin/audiencesync
QUICKSTART  := configs/quickstart.yaml
SEGMENTS    := configs/quickstart-segments.yaml
# The instant the quickstart's CRM export was taken: segment filters are
# evaluated at it, so the walkthrough gives the same audiences any day.
SEGMENTS_NOW ?= 2026-12-01T09:00:00Z
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCH_PKGS  := ./web/ ./api/ ./audience/normalize/ ./segment/ ./engine/ ./state/sqlite/ ./state/postgres/ ./connectors/csv/ ./connectors/hubspot/ ./connectors/salesforce/ ./connectors/sql/ ./connectors/googleads/ ./connectors/meta/ ./connectors/x/ ./sandbox/googledm/ ./sandbox/metagraph/
BENCHTIME   ?= 1s

.PHONY: all build run run-segments serve plan test bench bench-10m lint fuzz chaos tidy-check clean screenshots capacity

all: build

build:
	$(GO) build -o $(BIN) ./cmd/audiencesync

## run: sync the bundled synthetic CRM export with the quickstart config.
run: build
	./$(BIN) sync --config $(QUICKSTART)

## run-segments: split the same export into segments (funnel stages,
## frequent visitors with a holdout, buyers suppressed) at SEGMENTS_NOW.
run-segments: build
	./$(BIN) sync --config $(SEGMENTS) --now $(SEGMENTS_NOW)

## serve: run the quickstart syncs on their schedules (every minute for
## cart-abandoners) and serve the web UI, /healthz, /readyz, /metrics and
## /api/v1 on ADDR.
ADDR ?= 127.0.0.1:8080
serve: build
	./$(BIN) serve --config $(QUICKSTART) --addr $(ADDR)

## screenshots: docs/screenshots/*.png of the web UI's main pages, from a
## served quickstart in headless chromium (apt-get install -y chromium).
screenshots:
	mkdir -p docs/screenshots
	AUDIENCESYNC_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run='^TestScreenshots$$' ./web/

## plan: show what the quickstart sync would change, without uploading.
plan: build
	./$(BIN) plan --config $(QUICKSTART)

## test: every test, with the race detector. The timeout is per package:
## the cli package's crash and quickstart tests take minutes under -race.
test:
	$(GO) test -race -count=1 -timeout=20m ./...

## bench: the benchmarks that carry performance targets.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(BENCH_PKGS)

## bench-10m: the independent check of planning 10,000,000 members: a
## synthetic CSV export, its first sync to upload files (committing the
## state), then `plan` of the export with 1% churn under /usr/bin/time -v.
## About 10 GB in BENCH10M_DIR, left for a second look.
BENCH10M_DIR ?= /tmp/audiencesync-10m
BENCH10M_ROWS ?= 10000000
bench-10m: build
	scripts/bench-10m.sh $(BENCH10M_DIR) $(BENCH10M_ROWS) ./$(BIN)

## lint: gofmt, go vet, staticcheck.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## fuzz: a short run of every fuzz target (FUZZTIME per target).
FUZZTIME ?= 15s
fuzz:
	@for f in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz'); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== ./$$(dirname $$f) $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) ./$$(dirname $$f)/ || exit 1; \
	  done; \
	done

## chaos: kill -9, faults and concurrent runs against a sandbox process,
## CHAOS_TRIALS per scenario (make test runs a short seeded version).
CHAOS_TRIALS ?= 50
CHAOS_SEED   ?= 1
CHAOS_PARALLEL ?= 4
chaos:
	$(GO) test -count=1 -timeout=4h -v -parallel=$(CHAOS_PARALLEL) -run='^TestChaos$$' ./chaos/ -args -chaos.trials=$(CHAOS_TRIALS) -chaos.seed=$(CHAOS_SEED) -chaos.parallel=$(CHAOS_PARALLEL)

## capacity: the capacity plan's table (docs/deploy.md): workers vs syncs
## vs audience sizes, from the benchmarks' costs and the platforms' limits.
capacity:
	$(GO) test -count=1 -run 'Simulate' -v ./internal/capacity/

## tidy-check: go mod tidy must leave the tree clean.
tidy-check:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

clean:
	rm -rf bin configs/quickstart/out configs/quickstart/audiencesync.db* configs/quickstart/audiencesync.sandbox.json configs/quickstart/segments.db* configs/quickstart/segments.sandbox.json
