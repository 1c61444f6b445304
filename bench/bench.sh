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
#                                                       distribution 2.8) in the same run
#   oci manifest GET       wrk -t2 -c64, token auth   vs nginx serving the same bytes behind
#                                                       auth_basic (the reference registry
#                                                       printed for the record)
#
# Everything listens on 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
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

p2_path=/composer/bench/p2/acme/bench.json
dist_path=/composer/bench/dists/acme/big/1.0.0.zip
jar_path=/maven/jvm/org/bench/mid/1.0/mid-1.0.jar
auth="Authorization: Basic $(printf 'token:%s' "$token" | base64 -w0)"

say "nginx: the same bytes as static files behind auth_basic with an {SSHA} password"
root="$work/www"
mkdir -p "$root$(dirname $p2_path)" "$root$(dirname $dist_path)" "$root$(dirname $jar_path)"
curl -sf -H "$auth" "$base$p2_path" -o "$root$p2_path"
curl -sf -H "$auth" "$base$dist_path" -o "$root$dist_path"
curl -sf -H "$auth" "$base$jar_path" -o "$root$jar_path"
chmod -R a+rX "$root"
TOKEN="$token" python3 -c 'import hashlib,base64,os;s=os.urandom(4);print("token:{SSHA}"+base64.b64encode(hashlib.sha1(os.environ["TOKEN"].encode()+s).digest()+s).decode())' > "$work/htpasswd"
nginx_port=$(free_port)
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
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_base="http://127.0.0.1:$nginx_port"
for _ in $(seq 100); do curl -sf -H "$auth" "$nginx_base$p2_path" >/dev/null && break; sleep 0.1; done
cmp <(curl -sf -H "$auth" "$base$p2_path") <(curl -sf -H "$auth" "$nginx_base$p2_path") \
  || { echo "the two servers do not serve the same p2 bytes" >&2; exit 1; }

# wrk output → "requests/s p99_ms transfer_MiB/s"
measure() { # url connections
  local out
  out=$(wrk -t2 -c"$2" -d"$DURATION" --latency -H "$auth" "$1")
  echo "$out" >>"$work/wrk.log"
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p99 = ms(re.search(r"99%\s+(\S+)", out).group(1))
t = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
mib = float(t.group(1)) * {"B": 1/1048576, "KB": 1/1024, "MB": 1, "GB": 1024}[t.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} error responses")
print(rps, p99, mib)
PY
}

say "composer p2 metadata ($DURATION each)"
read -r p_rps p_p99 _ < <(measure "$base$p2_path" 64)
read -r n_rps n_p99 _ < <(measure "$nginx_base$p2_path" 64)
say "composer dist 64 MiB ($DURATION each)"
read -r _ _ p_mib < <(measure "$base$dist_path" 8)
read -r _ _ n_mib < <(measure "$nginx_base$dist_path" 8)

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
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.1; done

seconds() { # command… → elapsed seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>>"$work/skopeo.log"
  end=$(date +%s.%N)
  python3 -c "print(round($end - $start, 3))"
}
(cd "$work"
  say "oci: skopeo push, pull, re-push against Packistry and the reference registry"
  p_push=$(seconds skopeo copy --dest-tls-verify=false --dest-creds "token:$token" oci:img:v1 "docker://127.0.0.1:$port/images/bench/app:v1")
  r_push=$(seconds skopeo copy --dest-tls-verify=false oci:img:v1 "docker://127.0.0.1:$reg_port/bench/app:v1")
  p_pull=$(seconds skopeo copy --src-tls-verify=false --src-creds "token:$token" "docker://127.0.0.1:$port/images/bench/app:v1" oci:pulled-p:v1)
  r_pull=$(seconds skopeo copy --src-tls-verify=false "docker://127.0.0.1:$reg_port/bench/app:v1" oci:pulled-r:v1)
  p_repush=$(seconds skopeo copy --dest-tls-verify=false --dest-creds "token:$token" oci:img:v1 "docker://127.0.0.1:$port/images/bench/app:v1")
  r_repush=$(seconds skopeo copy --dest-tls-verify=false oci:img:v1 "docker://127.0.0.1:$reg_port/bench/app:v1")
  echo "$p_push $r_push $p_pull $r_pull $p_repush $r_repush" > "$work/oci-times"
)
read -r p_push r_push p_pull r_pull p_repush r_repush < "$work/oci-times"
manifest_path=/v2/images/bench/app/manifests/v1
accept="Accept: application/vnd.oci.image.manifest.v1+json"
mkdir -p "$root$(dirname $manifest_path)"
curl -sf -H "$auth" -H "$accept" "$base$manifest_path" -o "$root$manifest_path"
chmod -R a+rX "$root"
say "oci manifest GET ($DURATION each)"
read -r m_rps m_p99 _ < <(measure "$base$manifest_path" 64)
read -r mn_rps mn_p99 _ < <(measure "$nginx_base$manifest_path" 64)
reference_out=$(wrk -t2 -c64 -d"$DURATION" -H "$accept" "http://127.0.0.1:$reg_port/v2/bench/app/manifests/v1")
r_rps=$(echo "$reference_out" | awk '/Requests\/sec/ {print $2}')

say "maven artifact 256 MiB ($DURATION each)"
read -r _ _ p_jar < <(measure "$base$jar_path" 8)
read -r _ _ n_jar < <(measure "$nginx_base$jar_path" 8)

python3 - "$p_rps" "$n_rps" "$p_p99" "$n_p99" "$p_mib" "$n_mib" "$p_jar" "$n_jar" "$peak_kib" "$rss_before" \
  "$p_push" "$r_push" "$p_pull" "$r_pull" "$p_repush" "$r_repush" "$m_rps" "$mn_rps" "$r_rps" <<'PY'
import sys
(p_rps, n_rps, p_p99, n_p99, p_mib, n_mib, p_jar, n_jar, peak_kib, before_kib,
 p_push, r_push, p_pull, r_pull, p_repush, r_repush, m_rps, mn_rps, r_rps) = map(float, sys.argv[1:])
rows = [
    ("composer p2 requests/s (token auth)", f"{p_rps:,.0f}", f"{n_rps:,.0f}", p_rps / n_rps, "≥ 0.90×", p_rps / n_rps >= 0.9),
    ("composer p2 p99 latency (ms)", f"{p_p99:.2f}", f"{n_p99:.2f}", p_p99 / n_p99, "≤ 1.50×", p_p99 / n_p99 <= 1.5),
    ("composer dist 64 MiB (MiB/s)", f"{p_mib:,.0f}", f"{n_mib:,.0f}", p_mib / n_mib, "≥ 0.90×", p_mib / n_mib >= 0.9),
    ("maven artifact 256 MiB (MiB/s)", f"{p_jar:,.0f}", f"{n_jar:,.0f}", p_jar / n_jar, "≥ 0.90×", p_jar / n_jar >= 0.9),
    ("oci manifest GET requests/s (token auth)", f"{m_rps:,.0f}", f"{mn_rps:,.0f}", m_rps / mn_rps, "≥ 0.80×", m_rps / mn_rps >= 0.8),
]
print()
print(f"{'benchmark':<40} {'packistry':>12} {'nginx':>12} {'ratio':>8}  goal")
print("-" * 88)
for name, ours, theirs, ratio, goal, met in rows:
    print(f"{name:<40} {ours:>12} {theirs:>12} {ratio:>7.2f}×  {goal} {'met' if met else 'NOT met'}")
print()
print(f"{'benchmark (skopeo, 20 layers, 200 MiB)':<40} {'packistry':>12} {'registry 2.8':>12} {'ratio':>8}  goal")
print("-" * 88)
for name, ours, theirs in [("oci push (s)", p_push, r_push), ("oci pull (s)", p_pull, r_pull), ("oci re-push, all blobs present (s)", p_repush, r_repush)]:
    ratio = ours / theirs
    print(f"{name:<40} {ours:>12.2f} {theirs:>12.2f} {ratio:>7.2f}×  ≤ 0.80× {'met' if ratio <= 0.8 else 'NOT met'}")
print(f"{'oci manifest GET requests/s':<40} {m_rps:>12,.0f} {r_rps:>12,.0f} {m_rps / max(r_rps, 1):>7.2f}×  (reference registry, for the record)")
print()
peak = peak_kib / 1024
print(f"{'maven 1 GiB upload: peak RSS (MiB)':<40} {peak:>12.1f} {'':>12} {'':>8}  ≤ 64 MiB {'met' if peak <= 64 else 'NOT met'} (RSS before: {before_kib / 1024:.1f} MiB)")
PY
