#!/usr/bin/env bash
# Installs what the build and the tests need, skipping whatever is already there.
#   scripts/install-tools.sh spa    the wasm target, Trunk, wasm-bindgen-cli, binaryen
#   scripts/install-tools.sh test   all of the above, plus clippy/rustfmt, Chromium,
#                                   playwright-core, composer, maven, skopeo, podman,
#                                   umoci, oras, moto's S3 server, and a running PostgreSQL
#   scripts/install-tools.sh bench  wrk, nginx, the reference registry, skopeo and umoci for `make bench`
#   scripts/install-tools.sh fuzz   the nightly toolchain and cargo-fuzz for `make fuzz`
# Versions are those proven in ../shared/TOOLCHAIN.md. Idempotent: safe to run every time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

TRUNK_VERSION=0.21.14
what=${1:-spa}

say() { printf '==> %s\n' "$*"; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

cargo_install() { # name version [extra args…]: retry without --locked when the mirror lacks a locked dependency
  local name=$1 version=$2
  shift 2
  say "cargo install $name $version (takes a while, once)"
  cargo install "$name" --version "$version" --locked "$@" || cargo install "$name" --version "$version" "$@"
}

install_spa_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  if [ "$(trunk --version 2>/dev/null || true)" != "trunk $TRUNK_VERSION" ]; then
    cargo_install trunk "$TRUNK_VERSION"
  fi

  # wasm-bindgen-cli must be exactly the wasm-bindgen of Cargo.lock. Without --locked:
  # a locked dependency of it is missing from the registry mirror.
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen" ]; then
    say "cargo install wasm-bindgen-cli $bindgen"
    cargo install wasm-bindgen-cli --version "$bindgen"
  fi
  if ! grep -q "wasm_bindgen = \"$bindgen\"" Trunk.toml; then
    echo "Trunk.toml [tools] wasm_bindgen must be $bindgen (the version in Cargo.lock)" >&2
    exit 1
  fi

  command -v wasm-opt >/dev/null || apt_install binaryen
}

install_test_tools() {
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

  command -v chromium >/dev/null || apt_install chromium
  command -v node >/dev/null || apt_install nodejs npm
  # Redone whenever the lock file changed since the last install.
  if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.package-lock.json.installed; then
    say "npm ci (playwright-core, driving Debian's Chromium; oidc-provider, a real OpenID Connect provider)"
    (cd tests/browser && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.package-lock.json.installed)
  fi

  # Real package clients (TOOLCHAIN.md).
  if ! command -v composer >/dev/null || ! php -m 2>/dev/null | grep -qx zip || ! command -v unzip >/dev/null; then
    apt_install php-cli php-zip composer unzip
  fi

  # Maven 3.8 with Debian's plugins, used offline through file:///usr/share/maven-repo.
  local plugins=(libmaven-deploy-plugin-java libmaven-install-plugin-java libmaven-resources-plugin-java
    libmaven-compiler-plugin-java libmaven-jar-plugin-java libsurefire-java
    libmaven-dependency-plugin-java libmaven-clean-plugin-java)
  if ! command -v mvn >/dev/null || ! dpkg -s "${plugins[@]}" >/dev/null 2>&1; then
    apt_install maven "${plugins[@]}"
  fi

  # Container clients: skopeo, podman and umoci from Debian, oras from PyPI.
  if ! command -v skopeo >/dev/null || ! command -v podman >/dev/null || ! command -v umoci >/dev/null; then
    apt_install skopeo podman umoci
  fi
  if ! python3 -c 'import oras.client' 2>/dev/null; then
    say "pip install oras"
    python3 -m pip install --quiet oras || python3 -m pip install --quiet --break-system-packages oras
  fi

  # A real S3-compatible store for the storage tests.
  if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
    say "pip install moto[server]"
    python3 -m pip install --quiet 'moto[server]' || python3 -m pip install --quiet --break-system-packages 'moto[server]'
  fi

  command -v createdb >/dev/null || apt_install postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      say "starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
  fi
}

install_bench_tools() {
  command -v wrk >/dev/null || apt_install wrk
  command -v nginx >/dev/null || apt_install nginx-light
  command -v docker-registry >/dev/null || apt_install docker-registry
  command -v skopeo >/dev/null || apt_install skopeo
  command -v umoci >/dev/null || apt_install umoci
}

install_fuzz_tools() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || cargo install cargo-fuzz
}

case "$what" in
  spa) install_spa_tools ;;
  bench) install_bench_tools ;;
  fuzz) install_fuzz_tools ;;
  test) install_spa_tools; install_test_tools ;;
  *) echo "usage: $0 spa|test|bench|fuzz" >&2; exit 2 ;;
esac
