#!/usr/bin/env bash
# Runs the integration suite again on PostgreSQL (127.0.0.1:5432): every test gets a fresh
# database named after this run; all of them are dropped afterwards, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${PACKISTRY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}
if ! pg_isready -q -d "$base/postgres" 2>/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is not reachable at $base: the PostgreSQL run cannot be skipped in CI" >&2
    exit 1
  fi
  echo "skipping the PostgreSQL run: nothing answers at $base" >&2
  exit 0
fi

prefix="packistry_test_$(date +%s)_$$"
cleanup() {
  psql -d "$base/postgres" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'" 2>/dev/null \
    | while read -r db; do dropdb --maintenance-db="$base/postgres" --if-exists --force "$db" || true; done
}
trap cleanup EXIT

echo "==> integration tests on PostgreSQL ($base, databases ${prefix}_*)"
PACKISTRY_TEST_POSTGRES="$base" PACKISTRY_TEST_DB_PREFIX="$prefix" cargo test -p packistry-tests "$@"
