GO ?= go
SHELL := /bin/bash

.PHONY: build test test-short fuzz bench bench-kafka serve compat mutants

build:
	$(GO) build -o bin/samsa ./cmd/samsa

serve: build
	./bin/samsa serve

# The full test suite, as CI runs it. tools/testprogress prints a line per
# package, the output of failed tests, and what still runs whenever nothing
# was printed for 20 s.
test:
	$(GO) vet ./...
	set -o pipefail; $(GO) test -race -count=1 -timeout 20m -json ./... | $(GO) run ./tools/testprogress

test-short:
	$(GO) test -short ./...

# Safety mutants (docs/testing.md): each mutant in tools/mutants/mutants.txt
# breaks one durability or correctness rule in a copy of the module, and the
# tests it names must fail. Exits 1 unless every mutant is killed. Not part
# of make test; a subset: make mutants MUTANTS_FLAGS="-only read-above-hw".
mutants:
	$(GO) run ./tools/mutants $(MUTANTS_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# Samsa and Apache Kafka side by side (bench/README.md); writes
# docs/benchmarks.md. About half an hour.
bench-kafka:
	bench/run.sh

# Compatibility suite: real Kafka clients and tools against a fresh broker
# (compat/README.md). COMPAT_ALLOW_FAIL=1 prints the matrix but exits 0.
compat:
	compat/run.sh
