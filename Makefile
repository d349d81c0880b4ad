# Gust — see README.md. `make test` is what CI runs (through .ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gusthub/gust/cmd.version=$(VERSION)
BIN     := bin/gust

.PHONY: build run test test-short fuzz bench lint clean soak

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gust

run: build
	./$(BIN) serve --dev-guest-key

# The whole suite: vet, unit and integration tests (a real Docker engine,
# embedded NATS, real HTTP), then short fuzz runs of the input decoders.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) fuzz

test-short:
	$(GO) test -short ./...

# Short coverage-guided runs of the input decoders. The server-level fuzz
# targets (FuzzActionPut, ...) replay their corpus in every `go test`.
# Budgets are execution counts, not durations: with a duration, Go 1.26's
# fuzz coordinator can fail a run with a bare "context deadline exceeded"
# when a busy machine delays a worker at the deadline (go.dev/issue/75804).
# FUZZSCALE multiplies them (FUZZSCALE=10 for a longer run).
FUZZSCALE ?= 1
fuzz:
	$(GO) test ./api -run '^$$' -fuzz '^FuzzDecodeEntities$$' -fuzztime $$((20000*$(FUZZSCALE)))x
	$(GO) test ./api -run '^$$' -fuzz '^FuzzWebParams$$' -fuzztime $$((20000*$(FUZZSCALE)))x
	$(GO) test ./api -run '^$$' -fuzz '^FuzzInvoke$$' -fuzztime $$((2000*$(FUZZSCALE)))x
	$(GO) test ./api -run '^$$' -fuzz '^FuzzFire$$' -fuzztime $$((3000*$(FUZZSCALE)))x
	$(GO) test ./hub -run '^$$' -fuzz '^FuzzTokenRoundTrip$$' -fuzztime $$((15000*$(FUZZSCALE)))x
	$(GO) test ./actions -run '^$$' -fuzz '^FuzzInvocationDecoder$$' -fuzztime $$((5000*$(FUZZSCALE)))x
	$(GO) test ./actions/proxy -run '^$$' -fuzz '^FuzzInitCode$$' -fuzztime $$((2000*$(FUZZSCALE)))x
	$(GO) test ./actions/proxy -run '^$$' -fuzz '^FuzzRun$$' -fuzztime $$((3000*$(FUZZSCALE)))x
	$(GO) test ./feeds -run '^$$' -fuzz '^FuzzFeedParams$$' -fuzztime $$((10000*$(FUZZSCALE)))x
	$(GO) test ./feeds/mqtt -run '^$$' -fuzz '^FuzzMessageEvent$$' -fuzztime $$((3000*$(FUZZSCALE)))x
	$(GO) test ./feeds/cloudevents -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $$((10000*$(FUZZSCALE)))x
	$(GO) test ./feeds/webhook -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $$((20000*$(FUZZSCALE)))x
	$(GO) test ./feeds/github -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $$((10000*$(FUZZSCALE)))x
	$(GO) test ./feeds/slack -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $$((10000*$(FUZZSCALE)))x
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $$((10000*$(FUZZSCALE)))x
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzFilterData$$' -fuzztime $$((10000*$(FUZZSCALE)))x

# The crash soak at full size (package internal/soak; `make test` runs it
# small): 10,000 trigger fires and 2,000 invokes from 8 clients while
# gust serve is killed with SIGKILL 3 times, then while its Docker engine
# goes away once. GUST_SOAK_FIRES, _INVOKES, _CLIENTS, _KILLS change it.
soak:
	GUST_SOAK=1 $(GO) test -count=1 -v -timeout 30m -run 'Soak' ./internal/soak

# Every benchmark, printed as a table: figure, value, the floor measured in
# the same run, and their ratio.
BENCHTIME ?= 1x
bench:
	@$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./... 2>&1 | tee bench.out | awk -f .ci/benchtable.awk

STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
lint:
	@unformatted=$$(gofmt -l .); test -z "$$unformatted" || { echo "gofmt needed: $$unformatted"; exit 1; }
	$(GO) vet ./...
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

clean:
	rm -rf bin bench.out
