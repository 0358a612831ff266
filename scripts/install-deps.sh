#!/usr/bin/env bash
# Installs what building, running and testing Spider needs. Idempotent: safe to rerun.
# Usage: scripts/install-deps.sh [run|test]   (test also installs the test tools)
set -euo pipefail
mode=${1:-run}

need_apt=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$1"); }

for pkg in build-essential pkg-config clang capnproto librocksdb-dev libpcap0.8-dev; do want "$pkg"; done
if [ "$mode" = test ]; then
  for pkg in tshark tcpdump tcpreplay httpry wrk wireshark-common iproute2 ethtool nftables \
             python3 curl jq; do want "$pkg"; done
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing with apt: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "$mode" = test ] && ! python3 -c "import capnp" 2>/dev/null; then
  echo "installing pycapnp (the Python client of the query API test)"
  python3 -m pip install --quiet pycapnp
fi

if [ "$mode" = test ] && ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "note: no nightly toolchain: the fuzz stage will be skipped" >&2
fi
if [ "$mode" = test ] && rustup toolchain list 2>/dev/null | grep -q '^nightly' \
   && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
