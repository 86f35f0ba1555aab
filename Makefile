GO ?= go
SHELL := /bin/bash

.PHONY: build test test-short fuzz bench bench-kafka serve compat docs

build:
	$(GO) build -o bin/samsa ./cmd/samsa

serve: build
	./bin/samsa serve

# The full test suite, as CI runs it. tools/testprogress prints a line per
# package, the output of failed tests, and what still runs whenever nothing
# was printed for 20 s. Under -race the storage engine's crash tests try
# one crash point in three; the pass without -race before it tries every
# one (TestCrashConcurrentRounds, whose steps vary with the schedule,
# samples 40 instead of 20).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -run Crash ./internal/log/
	set -o pipefail; $(GO) test -race -count=1 -timeout 20m -json ./... | $(GO) run ./tools/testprogress

# Regenerate docs/configuration.md from the config tables (a test in
# cmd/samsa fails while it is out of date).
docs:
	$(GO) generate ./cmd/samsa

test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# Samsa and Apache Kafka side by side (bench/README.md); writes
# docs/benchmarks.md. About half an hour.
bench-kafka:
	bench/run.sh

# Compatibility suite: real Kafka clients and tools against a fresh broker
# (compat/README.md), then the negative control. COMPAT_ALLOW_FAIL=1 prints
# the matrix but exits 0 (the control still gates).
compat:
	compat/run.sh
