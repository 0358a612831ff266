#!/usr/bin/env bash
# Installs what building, running and testing Spider needs. Idempotent: safe to rerun.
# Usage: scripts/install-deps.sh [run|test]   (test also installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

need_apt=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$1"); }

# bpftool and libbpf-dev: the Gocipher's kernel programs (vmlinux.h from the kernel's BTF, bpf helpers).
for pkg in build-essential pkg-config clang capnproto librocksdb-dev libpcap0.8-dev bpftool libbpf-dev; do
  want "$pkg"
done
# The web UI is built with the machine's Node.js and npm (packages from the npm registry).
for pkg in nodejs npm; do command -v "${pkg/nodejs/node}" >/dev/null || want "$pkg"; done
if [ "$mode" = test ]; then
  for pkg in tshark tcpdump tcpreplay httpry wrk wireshark-common iproute2 ethtool nftables \
             python3 python3-pip curl jq chromium prometheus nginx etcd-server; do want "$pkg"; done
  # systemd-analyze: scripts/test-deploy.sh verifies the units of deploy/systemd with it.
  command -v systemd-analyze >/dev/null || want systemd
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing with apt: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "$mode" = test ]; then
  # module name → PyPI package: the query API's Python client, the OpenAPI and metrics checks,
  # schemathesis against the REST API, the Kubernetes schemas of the Controller's fixtures.
  for entry in capnp:pycapnp openapi_spec_validator:openapi-spec-validator \
               prometheus_client:prometheus-client schemathesis:schemathesis \
               kubernetes_validate:kubernetes-validate; do
    module=${entry%%:*} package=${entry#*:}
    if ! python3 -c "import $module" 2>/dev/null; then
      echo "installing $package (pip)"
      python3 -m pip install --quiet "$package"
    fi
  done
  command -v kubectl >/dev/null || echo "note: no kubectl: the Controller's kubectl tests need it" >&2
  command -v kubectl >/dev/null || echo "note: no kubectl: scripts/test-deploy.sh needs it (1.27+, for its kustomize v5)" >&2
fi

if [ -f frontend/package-lock.json ] && { [ ! -d frontend/node_modules ] \
     || ! (cd frontend && npm ls --depth=0 >/dev/null 2>&1); }; then
  echo "installing the web UI's npm packages"
  (cd frontend && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi

if [ "$mode" = test ] && ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "note: no nightly toolchain: the fuzz stage will be skipped" >&2
fi
if [ "$mode" = test ] && rustup toolchain list 2>/dev/null | grep -q '^nightly' \
   && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
