#!/usr/bin/env bash
# `make bench-scale`: the same requests against a Composer repository of 100 packages and
# one of 100,000 (3 versions each, rows shaped like real uploads, seeded by
# target/release/seed), served by one release binary, on SQLite and then on PostgreSQL.
# Prints p50/p99 side by side and their ratio against the goal. Not part of `make test`:
# numbers are reported, never asserted.
#
#   goals: single-object requests ≤ 1.2× (p50), first pages and searches ≤ 2× (p50),
#          the server's peak RSS ≤ 200 MiB, no 5xx
#
#   BENCH_DATABASES="sqlite postgres"   which databases (PostgreSQL: 127.0.0.1:5432, or
#                                      PACKISTRY_BENCH_POSTGRES)
#   BENCH_DURATION=5s                   each wrk run (4 connections, kept alive); each
#                                      row runs small, big, big, small and averages
#   BENCH_PACKAGES=100000               the big repository's size
#   BENCH_ROWS=search                   only the rows whose name holds this (default: all)
#
# Everything listens on 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-5s}
DATABASES=${BENCH_DATABASES:-sqlite postgres}
PACKAGES=${BENCH_PACKAGES:-100000}
PG=${PACKISTRY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
bin=./target/release/packistry
seed=./target/release/seed
work=$(mktemp -d /tmp/packistry-scale.XXXXXX)
server_pid=
pg_db=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$pg_db" ] && dropdb --maintenance-db="$PG/postgres" --if-exists --force "$pg_db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { printf '==> %s\n' "$*" >&2; }
b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# wrk output → "p50_ms p99_ms errors" (errors: non-2xx/3xx answers and socket errors)
measure() { # url [lua script] [extra header]
  local out
  out=$(wrk -t2 -c4 -d"$DURATION" --latency -H "$auth" ${3:+-H "$3"} ${2:+-s "$2"} "$1")
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(value):
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
errors = 0
for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
    found = re.search(pattern, out)
    if found:
        errors += sum(int(g) for g in found.groups())
print(f"{p50:.3f} {p99:.3f} {errors}")
PY
}

graphql_script() { # name query → path of a wrk script POSTing it
  local file="$work/$1.lua"
  python3 - "$2" >"$file" <<'PY'
import json, sys
body = json.dumps({"query": sys.argv[1]})
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print("wrk.body = " + json.dumps(body))
PY
  echo "$file"
}

table="$work/table"
: >"$table"

run_database() {
  local db=$1 url data port base
  data="$work/$db"
  mkdir -p "$data"
  if [ "$db" = postgres ]; then
    pg_isready -q -d "$PG/postgres" || { say "PostgreSQL is not reachable at $PG: skipping"; return; }
    pg_db="packistry_scale_$$"
    createdb --maintenance-db="$PG/postgres" "$pg_db"
    url="$PG/$pg_db"
  else
    url="sqlite://$data/packistry.db"
  fi
  port=$(free_port)
  base="http://127.0.0.1:$port"
  export PACKISTRY_DATA_DIR="$data" PACKISTRY_DATABASE_URL="$url" PACKISTRY_LISTEN="127.0.0.1:$port" PACKISTRY_LOG_LEVEL=warn
  $bin repo create small --format composer >/dev/null
  $bin repo create big --format composer >/dev/null
  echo "scale-password-1" | $bin user create --email scale@example.com --role admin --password-stdin >/dev/null
  local token
  token=$($bin token create --user scale@example.com --name scale --all-repositories --role administrator)
  auth="Authorization: Bearer $token"
  $bin serve >"$data/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

  python3 - "$data/template.zip" <<'PY'
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("composer.json", json.dumps({
        "name": "acme/template", "description": "the template", "type": "library", "license": "MIT",
        "require": {"php": ">=8.1", "psr/log": "^3.0"},
        "autoload": {"psr-4": {"Acme\\Template\\": "src/"}},
    }))
    z.writestr("src/Template.php", "<?php\nnamespace Acme\\Template;\nclass Template {}\n")
PY
  for repo in small big; do
    curl -sf -o /dev/null -H "$auth" -F file=@"$data/template.zip" -F version=1.0.0 "$base/composer/$repo/acme/template"
  done
  say "$db: seeding 100 and $PACKAGES packages"
  $seed "$url" small acme/template 0 100
  $seed "$url" big acme/template 0 "$PACKAGES"

  local first spa
  first=$(graphql_script first 'query($r: String = "REPO") { packages(repository: $r, first: 50) { edges { node { name } } } }')
  spa=$(graphql_script spa 'query($r: String = "REPO") { packages(repository: $r, first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { node { name description latestVersion versionCount totalDownloads updatedAt } } } }')
  graphql_script deep-small "query { packages(repository: \"small\", first: 50, after: \"$(b64url 'package:vendor24/pkg74')\") { edges { node { name } } } }" >/dev/null
  graphql_script deep-big "query { packages(repository: \"big\", first: 50, after: \"$(b64url 'package:vendor24/pkg74')\") { edges { node { name } } } }" >/dev/null
  for repo in small big; do
    sed "s/REPO/$repo/" "$first" >"$work/first-$repo.lua"
    sed "s/REPO/$repo/" "$spa" >"$work/spa-$repo.lua"
  done

  etag_of() { curl -sf -D - -o /dev/null -H "$auth" "$base$1" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r'; }
  # name|goal(single|page|info)|path (REPO for the repository)|lua (REPO)|header kind
  local rows=(
    "p2 of one package|single|/composer/REPO/p2/vendor01/pkg1.json||"
    "dist zip, kept-alive|single|/composer/REPO/dists/vendor01/pkg1/1.0.0.zip||"
    "packages.json, revalidated (304)|single|/composer/REPO/packages.json||etag"
    "list.json, revalidated (304)|single|/composer/REPO/list.json||etag"
    "packages.json, whole|info|/composer/REPO/packages.json||"
    "list.json?filter=vendor01/pkg1*|page|/composer/REPO/list.json?filter=vendor01/pkg1*||"
    "search.json?q=pkg12|page|/composer/REPO/search.json?q=pkg12||"
    "search.json?q=http+client|page|/composer/REPO/search.json?q=http+client||"
    "GraphQL packages, first page|page|/graphql|first-REPO|"
    "GraphQL packages, deep page|page|/graphql|deep-REPO|"
    "the SPA's package query|page|/graphql|spa-REPO|"
  )
  local row name goal path lua header
  for row in "${rows[@]}"; do
    IFS='|' read -r name goal path lua header <<<"$row"
    [[ -z "${BENCH_ROWS:-}" || "$name" == *"$BENCH_ROWS"* ]] || continue
    declare -A p50=() p99=()
    local errors=0 repo
    for repo in small big big small; do
      local url_path=${path//REPO/$repo} script= extra=
      [ -n "$lua" ] && script="$work/${lua//REPO/$repo}.lua"
      [ "$header" = etag ] && extra="If-None-Match: $(etag_of "$url_path")"
      curl -sf -o /dev/null -H "$auth" "$base$url_path" || true # warm
      read -r a b e < <(measure "$base$url_path" "$script" "$extra")
      p50[$repo]=$(python3 -c "print(${p50[$repo]:-0} + $a / 2)")
      p99[$repo]=$(python3 -c "print(${p99[$repo]:-0} + $b / 2)")
      errors=$((errors + e))
    done
    printf '%s|%s|%s|%s|%s|%s|%s|%s\n' "$db" "$name" "$goal" "${p50[small]}" "${p99[small]}" "${p50[big]}" "${p99[big]}" "$errors" >>"$table"
    unset p50 p99
  done
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  printf '%s|server peak RSS (MiB)|rss|%s||||\n' "$db" "$(python3 -c "print(round($hwm / 1024, 1))")" >>"$table"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  if [ -n "$pg_db" ]; then
    dropdb --maintenance-db="$PG/postgres" --if-exists --force "$pg_db"
    pg_db=
  fi
}

for db in $DATABASES; do
  run_database "$db"
done

python3 - "$table" "$PACKAGES" <<'PY'
import sys
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
packages = int(sys.argv[2])
print()
print(f"Scale: 100 packages against {packages:,} (p50 / p99 in ms; ratio of the p50s)")
print(f"{'db':9} {'request':36} {'100: p50 / p99':>17} {f'{packages:,}: p50 / p99':>20} {'ratio':>7} {'goal':>7} {'met':>4}")
all_met = True
for db, name, goal, s50, s99, b50, b99, errors in rows:
    if goal == "rss":
        met = float(s50) <= 200
        all_met &= met
        print(f"{db:9} {name:36} {'':>17} {s50:>20} {'':>7} {'≤ 200':>7} {'yes' if met else 'NO':>4}")
        continue
    s50, s99, b50, b99 = map(float, (s50, s99, b50, b99))
    ratio = b50 / s50 if s50 else float("inf")
    limit = {"single": 1.2, "page": 2.0}.get(goal)
    met = (limit is None or ratio <= limit) and int(errors) == 0
    if limit is not None or int(errors):
        all_met &= met
    goal_text = f"≤ {limit}×" if limit else "—"
    note = "" if int(errors) == 0 else f"  ({errors} errors)"
    print(f"{db:9} {name:36} {s50:8.2f} / {s99:6.2f} {b50:11.2f} / {b99:6.2f} {ratio:6.2f}× {goal_text:>7} {'yes' if met or limit is None else 'NO':>4}{note}")
print()
print("every goal met" if all_met else "SOME GOALS NOT MET")
PY
