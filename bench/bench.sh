#!/usr/bin/env bash
# `make bench`: Packistry against a reference measured in the same run, on this machine.
# Not part of `make test`: numbers are reported as ratios, never asserted.
#
#   composer p2 metadata   wrk -t2 -c64, token auth   vs nginx serving the same bytes as a
#                                                       static file behind auth_basic {SSHA}
#   composer dist 64 MiB   wrk -t2 -c8 throughput     vs nginx sendfile of the same file
#   maven 256 MiB artifact wrk -t2 -c8 throughput     vs nginx sendfile of the same file
#   maven 1 GiB upload     the server's peak resident memory (uploads must stream)
#   oci push/pull/re-push  skopeo, a 20-layer 200 MiB image  vs docker-registry (CNCF
#                                                       distribution 2.8) in the same run;
#                                                       pull and re-push also against nginx
#                                                       serving the image's files (the floor)
#   idle RSS               the server's resident memory after start, before any load
#   oci manifest GET       wrk -t2 -c64, token auth   vs nginx serving the same bytes behind
#                                                       auth_basic (the reference registry
#                                                       printed for the record)
#
# Everything listens on 127.0.0.1 only and stops by itself.
#
#   BENCH_ONLY=oci|composer|maven   run one group of rows (default: all)
#   BENCH_DURATION=10s              each wrk run
#   BENCH_ROUNDS=5                  skopeo rounds (interleaved; the median is reported)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-5}
ONLY=${BENCH_ONLY:-}
want() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }
work=$(mktemp -d /tmp/packistry-bench.XXXXXX)
# nginx workers run as an unprivileged user: they must be able to read the files.
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { printf '==> %s\n' "$*" >&2; }

bin=./target/release/packistry
export PACKISTRY_DATA_DIR="$work/data" PACKISTRY_LOG_LEVEL=warn
port=$(free_port)
export PACKISTRY_LISTEN="127.0.0.1:$port"
base="http://127.0.0.1:$port"

say "preparing Packistry on $base (SQLite + local files)"
$bin repo create bench --format composer >/dev/null
$bin repo create jvm --format maven >/dev/null
$bin repo create images --format container >/dev/null
echo "bench-password-1" | $bin user create --email bench@example.com --role admin --password-stdin >/dev/null
token=$($bin token create --user bench@example.com --name bench --all-repositories --role administrator)
$bin serve >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

rows="$work/rows"
: > "$rows"
row() { # name ours theirs ratio goal met(1|0)
  printf '%s|%s|%s|%s|%s|%s\n' "$@" >>"$rows"
}
median() { python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }

# The server as it stands after start, before any request but the health check.
sleep 1
idle_mib=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/${pids[0]}/status")
idle_met=$(python3 -c "print(1 if $idle_mib <= 30 else 0)")
row "idle server RSS (MiB)" "$idle_mib" "-" "-" "≤ 30 MiB" "$idle_met"

if want maven; then
  say "maven: uploading a 1 GiB artifact, watching the server's memory"
  server_pid=${pids[0]}
  head -c $((1024 * 1024 * 1024)) /dev/urandom > "$work/big.jar"
  rss_before=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
  curl -sf -o /dev/null -u "token:$token" -T "$work/big.jar" "$base/maven/jvm/org/bench/big/1.0/big-1.0.jar"
  peak_kib=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
  rm -f "$work/big.jar"
  head -c $((256 * 1024 * 1024)) /dev/urandom > "$work/mid.jar"
  curl -sf -o /dev/null -u "token:$token" -T "$work/mid.jar" "$base/maven/jvm/org/bench/mid/1.0/mid-1.0.jar"
  rm -f "$work/mid.jar"
fi

if want composer; then
  say "uploading 20 versions of acme/bench and a 64 MiB package"
  python3 - "$work" <<'PY'
import json, os, sys, zipfile
work = sys.argv[1]
def package(path, name, version, extra_size=0):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("composer.json", json.dumps({
            "name": name, "description": "benchmark package", "type": "library", "license": "MIT",
            "require": {"php": ">=8.1", "psr/log": "^3.0"},
            "autoload": {"psr-4": {"Acme\\Bench\\": "src/"}},
        }))
        z.writestr("src/Bench.php", "<?php\nnamespace Acme\\Bench;\nclass Bench {}\n")
        if extra_size:
            z.writestr(zipfile.ZipInfo("data.bin"), os.urandom(extra_size), zipfile.ZIP_STORED)
package(f"{work}/small.zip", "acme/bench", "1.0.0")
package(f"{work}/big.zip", "acme/big", "1.0.0", 64 * 1024 * 1024)
PY
  for minor in $(seq 0 19); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -F file=@"$work/small.zip" -F version="1.$minor.0" "$base/composer/bench/acme/bench"
  done
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -F file=@"$work/big.zip" -F version=1.0.0 "$base/composer/bench/acme/big"
fi

p2_path=/composer/bench/p2/acme/bench.json
dist_path=/composer/bench/dists/acme/big/1.0.0.zip
jar_path=/maven/jvm/org/bench/mid/1.0/mid-1.0.jar
auth="Authorization: Basic $(printf 'token:%s' "$token" | base64 -w0)"

say "nginx: the same bytes as static files behind auth_basic with an {SSHA} password"
root="$work/www"
mkdir -p "$root"
copy_to_nginx() { # path [curl options…]: Packistry's bytes at path become nginx's static file
  local path=$1; shift
  mkdir -p "$root$(dirname "$path")"
  curl -sf -H "$auth" "$@" "$base$path" -o "$root$path"
  chmod -R a+rX "$root"
}
if want composer; then
  copy_to_nginx "$p2_path"
  copy_to_nginx "$dist_path"
fi
want maven && copy_to_nginx "$jar_path"
TOKEN="$token" python3 -c 'import hashlib,base64,os;s=os.urandom(4);print("token:{SSHA}"+base64.b64encode(hashlib.sha1(os.environ["TOKEN"].encode()+s).digest()+s).decode())' > "$work/htpasswd"
nginx_port=$(free_port)
floor_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  types { application/json json; application/zip zip; application/java-archive jar; }
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $root;
    auth_basic "bench";
    auth_basic_user_file $work/htpasswd;
    etag on;
  }
  # The floor: an image's manifest and blobs as plain files, no authentication, and a
  # manifest PUT taken without a look, the least work any registry could do for a pull or
  # a re-push.
  server {
    listen 127.0.0.1:$floor_port;
    root $work/floor;
    location = /v2/ { default_type application/json; return 200 '{}'; }
    location /v2/floor/app/manifests/ {
      if (\$request_method = PUT) { return 201; }
      types { } default_type application/vnd.oci.image.manifest.v1+json;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_base="http://127.0.0.1:$nginx_port"
for _ in $(seq 100); do curl -s -o /dev/null "$nginx_base/" && break; sleep 0.1; done

# wrk output → "requests/s p99_ms transfer_MiB/s"
measure() { # url connections [header]
  local out
  out=$(wrk -t2 -c"$2" -d"$DURATION" --latency -H "$auth" ${3:+-H "$3"} "$1")
  echo "$out" >>"$work/wrk.log"
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
t = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
mib = float(t.group(1)) * {"B": 1/1048576, "KB": 1/1024, "MB": 1, "GB": 1024}[t.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} error responses")
print(rps, p99, mib)
PY
}
# ratio a b → a / b
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print(f"{a / b:.2f}")' "$1" "$2"; }
at_least() { python3 -c 'import sys; print(int(float(sys.argv[1]) >= float(sys.argv[2])))' "$1" "$2"; }
at_most() { python3 -c 'import sys; print(int(float(sys.argv[1]) <= float(sys.argv[2])))' "$1" "$2"; }

if want composer; then
  cmp <(curl -sf -H "$auth" "$base$p2_path") <(curl -sf -H "$auth" "$nginx_base$p2_path") \
    || { echo "the two servers do not serve the same p2 bytes" >&2; exit 1; }
  say "composer p2 metadata ($DURATION each)"
  read -r p_rps p_p99 _ < <(measure "$base$p2_path" 64)
  read -r n_rps n_p99 _ < <(measure "$nginx_base$p2_path" 64)
  r=$(ratio "$p_rps" "$n_rps"); row "composer p2 requests/s (token auth)" "$p_rps" "$n_rps" "$r" "≥ 0.90×" "$(at_least "$r" 0.9)"
  r=$(ratio "$p_p99" "$n_p99"); row "composer p2 p99 latency (ms)" "$p_p99" "$n_p99" "$r" "≤ 1.50×" "$(at_most "$r" 1.5)"
  say "composer dist 64 MiB ($DURATION each)"
  read -r _ _ p_mib < <(measure "$base$dist_path" 8)
  read -r _ _ n_mib < <(measure "$nginx_base$dist_path" 8)
  r=$(ratio "$p_mib" "$n_mib"); row "composer dist 64 MiB (MiB/s)" "$p_mib" "$n_mib" "$r" "≥ 0.90×" "$(at_least "$r" 0.9)"
fi

if want maven; then
  say "maven artifact 256 MiB ($DURATION each)"
  read -r _ _ p_jar < <(measure "$base$jar_path" 8)
  read -r _ _ n_jar < <(measure "$nginx_base$jar_path" 8)
  r=$(ratio "$p_jar" "$n_jar"); row "maven artifact 256 MiB (MiB/s)" "$p_jar" "$n_jar" "$r" "≥ 0.90×" "$(at_least "$r" 0.9)"
  peak=$(python3 -c "print(round($peak_kib / 1024, 1))")
  row "maven 1 GiB upload: peak RSS (MiB)" "$peak" "-" "-" "≤ 64 MiB (RSS before: $((rss_before / 1024)) MiB)" "$(at_most "$peak" 64)"
fi

if want oci; then
  say "oci: building a 20-layer, 200 MiB image with umoci"
  (cd "$work" && umoci init --layout img >/dev/null && umoci new --image img:v1 >/dev/null
    for i in $(seq 1 20); do
      head -c $((10 * 1024 * 1024)) /dev/urandom > "layer$i.bin"
      umoci insert --image img:v1 "layer$i.bin" "/layer$i.bin" >/dev/null
      rm -f "layer$i.bin"
    done)
  reg_port=$(free_port)
  mkdir -p "$work/registry"
  cat > "$work/registry.yml" <<REG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
REG
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  pids+=($!)
  reg_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.1; done

  cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  seconds() { # server-pid command… → "elapsed-seconds server-cpu-seconds"
    local pid=$1 start end c0 c1
    shift
    c0=$(cpu_ticks "$pid")
    start=$(date +%s.%N)
    "$@" >/dev/null 2>>"$work/skopeo.log"
    end=$(date +%s.%N)
    c1=$(cpu_ticks "$pid")
    python3 -c "print(round($end - $start, 3), round(($c1 - $c0) / $(getconf CLK_TCK), 2))"
  }
  # skopeo remembers where it saw each blob and would mount it from an earlier round's
  # image instead of uploading it: forget that before every push.
  forget_blob_locations() {
    rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.*
  }
  push_p() { forget_blob_locations; seconds "${pids[0]}" skopeo copy --dest-tls-verify=false --dest-creds "token:$token" oci:img:v1 "docker://127.0.0.1:$port/images/bench/app$1:v1"; }
  push_r() { forget_blob_locations; seconds "$reg_pid" skopeo copy --dest-tls-verify=false oci:img:v1 "docker://127.0.0.1:$reg_port/bench/app$1:v1"; }
  pull_p() { rm -rf "pulled-p"; seconds "${pids[0]}" skopeo copy --src-tls-verify=false --src-creds "token:$token" "docker://127.0.0.1:$port/images/bench/app$1:v1" oci:pulled-p:v1; }
  pull_r() { rm -rf "pulled-r"; seconds "$reg_pid" skopeo copy --src-tls-verify=false "docker://127.0.0.1:$reg_port/bench/app$1:v1" oci:pulled-r:v1; }
  # The same image as static files for nginx (the floor): the manifest under its tag, each
  # blob under its digest.
  floor="$work/floor/v2/floor/app"
  mkdir -p "$floor/manifests" "$floor/blobs"
  manifest_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$work/img/index.json")
  cp "$work/img/blobs/sha256/${manifest_digest#sha256:}" "$floor/manifests/v1"
  for b in "$work"/img/blobs/sha256/*; do ln "$b" "$floor/blobs/sha256:$(basename "$b")"; done
  chmod -R a+rX "$work/floor"
  nginx_master=$(cat "$work/nginx/nginx.pid")
  pull_f() { rm -rf "pulled-f"; seconds "$nginx_master" skopeo copy --src-tls-verify=false "docker://127.0.0.1:$floor_port/floor/app:v1" oci:pulled-f:v1; }
  repush_f() { seconds "$nginx_master" skopeo copy --dest-tls-verify=false oci:img:v1 "docker://127.0.0.1:$floor_port/floor/app:v1"; }
  say "oci: skopeo push, pull, re-push, $ROUNDS rounds, alternating which registry goes first"
  (cd "$work"
    for round in $(seq 1 "$ROUNDS"); do
      for op in push pull repush; do
        fn=${op#re}
        if (( round % 2 )); then
          read -r p pc < <(${fn}_p "$round"); read -r r rc < <(${fn}_r "$round")
        else
          read -r r rc < <(${fn}_r "$round"); read -r p pc < <(${fn}_p "$round")
        fi
        echo "$op $p $r $pc $rc" >> "$work/oci-times"
        if [[ $op != push ]]; then
          read -r f _ < <(${op}_f)
          echo "floor-$op $f" >> "$work/oci-times"
          say "  round $round $op against nginx static files: ${f}s"
        fi
        say "  round $round $op: packistry ${p}s (server CPU ${pc}s), registry 2.8 ${r}s (server CPU ${rc}s)"
      done
    done)
  for op in push pull repush; do
    p=$(median $(awk -v op="$op" '$1 == op {print $2}' "$work/oci-times"))
    r=$(median $(awk -v op="$op" '$1 == op {print $3}' "$work/oci-times"))
    label=$op; [[ $op == repush ]] && label="re-push, all blobs present"
    x=$(ratio "$p" "$r"); row "oci $label (s, median of $ROUNDS)" "$p" "$r" "$x" "≤ 0.80× registry 2.8" "$(at_most "$x" 0.8)"
  done
  # No server can pull faster than nginx handing out the files: if the floor is above 0.8×
  # the reference, so is every registry, and the pull time is the client's.
  for op in pull repush; do
    f=$(median $(awk -v op="floor-$op" '$1 == op {print $2}' "$work/oci-times"))
    r=$(median $(awk -v op="$op" '$1 == op {print $3}' "$work/oci-times"))
    row "oci $op, nginx static files (s, floor)" "$f" "$r" "$(ratio "$f" "$r")" "for the record: the least any server can take" "-"
  done
  # How much of the machine each server took meanwhile (skopeo takes the rest): the wall
  # time of a pull is mostly the client's.
  for op in push pull repush; do
    p=$(median $(awk -v op="$op" '$1 == op {print $4}' "$work/oci-times"))
    r=$(median $(awk -v op="$op" '$1 == op {print $5}' "$work/oci-times"))
    label=$op; [[ $op == repush ]] && label="re-push"
    x=$(ratio "$p" "$(python3 -c "print(max($r, 0.01))")")
    row "oci $label: server CPU (s, median)" "$p" "$r" "$x" "for the record" "-"
  done

  manifest_path=/v2/images/bench/app1/manifests/v1
  accept="Accept: application/vnd.oci.image.manifest.v1+json"
  copy_to_nginx "$manifest_path" -H "$accept"
  cmp <(curl -sf -H "$auth" -H "$accept" "$base$manifest_path") <(curl -sf -H "$auth" "$nginx_base$manifest_path") \
    || { echo "the two servers do not serve the same manifest bytes" >&2; exit 1; }
  say "oci manifest GET ($DURATION each)"
  read -r m_rps _ _ < <(measure "$base$manifest_path" 64 "$accept")
  read -r mn_rps _ _ < <(measure "$nginx_base$manifest_path" 64 "$accept")
  x=$(ratio "$m_rps" "$mn_rps"); row "oci manifest GET requests/s (token auth)" "$m_rps" "$mn_rps" "$x" "≥ 0.80× nginx" "$(at_least "$x" 0.8)"
  reference_out=$(wrk -t2 -c64 -d"$DURATION" -H "$accept" "http://127.0.0.1:$reg_port/v2/bench/app1/manifests/v1")
  r_rps=$(echo "$reference_out" | awk '/Requests\/sec/ {print $2}')
  x=$(ratio "$m_rps" "$r_rps"); row "oci manifest GET vs registry 2.8 (no auth)" "$m_rps" "$r_rps" "$x" "for the record" "-"
fi

python3 - "$rows" <<'PY'
import sys
print()
print(f"{'benchmark':<46} {'packistry':>12} {'reference':>12} {'ratio':>7}  goal")
print("-" * 100)
for line in open(sys.argv[1]):
    name, ours, theirs, ratio, goal, met = line.rstrip("\n").split("|")
    fmt = lambda v: v if v == "-" else (f"{float(v):,.0f}" if float(v) >= 100 else f"{float(v):.2f}")
    verdict = {"1": "met", "0": "NOT met"}.get(met, "")
    shown = ratio + "×" if ratio != "-" else "-"
    print(f"{name:<46} {fmt(ours):>12} {fmt(theirs):>12} {shown:>7}  {goal} {verdict}")
PY
