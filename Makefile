# The two commands: `make run` and `make test`. Everything they need is installed by
# scripts/install-tools.sh, idempotently.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run build spa bench bench-scale fuzz soak test test-faults lint unit-and-integration schema-check tools-spa tools-test clean-spa

## Build the SPA and the release binary, then serve on SQLite + ./data.
run: build
	./target/release/packistry serve

## One self-contained binary, target/release/packistry, with the SPA embedded.
build: spa
	cargo build --release -p packistry-server

spa: tools-spa
	trunk build --release

## Benchmarks against references measured in the same run (not part of `make test`).
bench: build
	scripts/install-tools.sh bench
	bench/bench.sh

## Lists at 100 against 100,000 packages, SQLite then PostgreSQL: p50/p99 side by side,
## peak RSS, against their goals (BENCH_DATABASES, BENCH_DURATION, BENCH_PACKAGES).
bench-scale: build
	scripts/install-tools.sh bench
	cargo build --release -p packistry-tests --bin seed
	bench/scale.sh

## 500 clients for 60 s with a mixed workload against the release binary, on SQLite and
## then PostgreSQL (SOAK_CLIENTS, SOAK_SECONDS); prints requests/s, p50/p99, errors, peak RSS.
soak: build tools-test
	PACKISTRY_BIN=$(CURDIR)/target/release/packistry SOAK_CLIENTS=$${SOAK_CLIENTS:-500} SOAK_SECONDS=$${SOAK_SECONDS:-60} \
	  cargo test --release -p packistry-tests --test soak -- --nocapture
	PACKISTRY_BIN=$(CURDIR)/target/release/packistry SOAK_CLIENTS=$${SOAK_CLIENTS:-500} SOAK_SECONDS=$${SOAK_SECONDS:-60} \
	  scripts/test-postgres.sh --release --test soak -- --nocapture

## cargo-fuzz on every parser of caller input, FUZZ_SECONDS (default 120) per target.
fuzz:
	scripts/install-tools.sh fuzz
	scripts/fuzz.sh

tools-spa:
	scripts/install-tools.sh spa

tools-test:
	scripts/install-tools.sh test

## Everything: formatting, lints (host and wasm32), the schema drift check, unit and
## integration tests on SQLite, then again on PostgreSQL, and the browser test.
test: tools-test lint spa schema-check
	@mkdir -p target/test-logs && rm -f target/test-logs/*.log target/test-logs/reports.txt
	@df -h . | awk 'NR==2 {print "disk free for the build: " $$4}'
	set -o pipefail; $(MAKE) --no-print-directory unit-and-integration 2>&1 | tee target/test-logs/sqlite.log
	set -o pipefail; scripts/test-postgres.sh 2>&1 | tee target/test-logs/postgres.log
	@cat target/test-logs/reports.txt 2>/dev/null || true
	@scripts/summarize-tests.sh target/test-logs/*.log

## The fault suite alone (it also runs inside `make test`): SIGKILL during concurrent uploads
## of every format and during garbage collection, on SQLite and then on PostgreSQL.
test-faults: tools-test
	cargo build -p packistry-server
	cargo test -p packistry-tests --test faults --test integrity -- --nocapture
	scripts/test-postgres.sh --test faults --test integrity -- --nocapture

lint:
	cargo fmt --all --check
	cargo clippy --workspace --exclude packistry-frontend --all-targets -- -D warnings
	cargo clippy -p packistry-frontend --target wasm32-unknown-unknown -- -D warnings

schema-check:
	cargo build -p packistry-server
	@./target/debug/packistry schema | diff -u schema.graphql - \
	  || { echo "schema.graphql is out of date: ./target/debug/packistry schema > schema.graphql" >&2; exit 1; }

unit-and-integration:
	cargo build -p packistry-server
	cargo test
