#!/usr/bin/env bash
# Validates deploy/ offline (no cluster, no Docker engine, no systemd running):
#   1. `kubectl kustomize` renders every kustomization under deploy/ (bases, components, overlays);
#   2. `kubernetes-validate --strict` accepts every rendered object and every example, against each
#      Kubernetes version in K8S_VERSIONS;
#   3. deploy/tests/check_deploy.py: `spider ARGS --help` accepts the command line of every Spider
#      container and systemd unit (flags exist, values parse), security contexts and capabilities
#      are each role's and no more, referenced Services, ConfigMaps, Secrets and paths exist;
#   4. `systemd-analyze verify` and `systemd-analyze security --offline` on the units (skipped,
#      with a message, where systemd-analyze is missing);
#   5. the Dockerfile, statically (it is not built here): COPY sources, stages, entry point, and
#      the runtime stage's packages against the libraries the built binary links;
#   6. a self-check: broken inputs (a missing kustomize resource, an unknown field, a flag the
#      binary lacks, a capability too many, a plaintext listener off loopback, a misspelt unit
#      key, a runtime without librocksdb)
#      must each be rejected by the check that should catch them.
# Any problem fails the script (exit 1) with what is wrong.
#
# Usage: scripts/test-deploy.sh [SPIDER_BIN]   (default: $CARGO_TARGET_DIR/debug/spider)
# Needs: kubectl (with kustomize), kubernetes-validate and PyYAML (pip), readelf, the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
root=$PWD
spider=${1:-$CARGO_TARGET_DIR/debug/spider}
# The oldest Kubernetes the manifests support (native sidecars: 1.29+) and a current one.
K8S_VERSIONS=${K8S_VERSIONS:-"1.30 1.33"}
# Secrets the operator creates (deploy/README.md); every other reference must resolve.
external_secrets=(--external-secret spider-admin-token --external-secret spider-agent-token
                  --external-secret spider-tls --external-secret spider-agent-tls)
check=(python3 "$root/deploy/tests/check_deploy.py")
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in deploy/tests

die() { echo "test-deploy: FAIL: $*" >&2; exit 1; }
[ -x "$spider" ] || die "no spider binary at $spider (cargo build -p spider, or pass its path)"
command -v kubectl >/dev/null || die "kubectl is needed (with its built-in kustomize): see deploy/README.md"
command -v kubernetes-validate >/dev/null \
  || die "kubernetes-validate is needed: python3 -m pip install kubernetes-validate (scripts/install-deps.sh test)"
python3 -c 'import yaml, tomllib' 2>/dev/null || die "python3 (3.11+) with PyYAML is needed"
command -v readelf >/dev/null || die "readelf (binutils) is needed"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# ---- 1. render every kustomization --------------------------------------------------------------
echo "== kustomize: every base and overlay"
mapfile -t kustomizations < <(find deploy -name kustomization.yaml -printf '%h\n' | sort)
[ ${#kustomizations[@]} -ge 7 ] || die "only ${#kustomizations[@]} kustomizations found under deploy/"
complete=()    # renderings applied as they are: overlays
partial=()     # bases and components
for dir in "${kustomizations[@]}"; do
  file="$out/$(echo "${dir#deploy/}" | tr / -).yaml"
  kubectl kustomize "$dir" > "$file" 2> "$out/kustomize.err" \
    || die "kubectl kustomize $dir: $(cat "$out/kustomize.err")"
  objects=$(grep -c '^kind:' "$file" || true)
  [ "$objects" -gt 0 ] || die "kubectl kustomize $dir rendered no object"
  echo "ok   $dir: $objects objects"
  case $dir in deploy/kubernetes/overlays/*) complete+=("$file") ;; *) partial+=("$file") ;; esac
done
[ ${#complete[@]} -ge 3 ] || die "expected the single-node, production and cluster overlays"
examples=(deploy/kubernetes/examples/*.yaml)
[ -f "${examples[0]}" ] || die "no example under deploy/kubernetes/examples"

# ---- 2. schemas ---------------------------------------------------------------------------------
for version in $K8S_VERSIONS; do
  echo "== kubernetes-validate --strict, Kubernetes $version"
  if ! kubernetes-validate --strict --quiet -k "$version" "${complete[@]}" "${partial[@]}" \
       "${examples[@]}" > "$out/validate.log" 2>&1; then
    cat "$out/validate.log" >&2
    die "kubernetes-validate refused an object (Kubernetes $version)"
  fi
  echo "ok   $(( ${#complete[@]} + ${#partial[@]} + ${#examples[@]} )) files"
done

# ---- 3. command lines, security contexts, references ----------------------------------------------
echo "== manifests: command lines, security contexts, references"
"${check[@]}" manifests --spider "$spider" --complete --expect-containers \
  --dockerfile deploy/docker/Dockerfile "${external_secrets[@]}" "${complete[@]}" "${examples[@]}" \
  || die "manifests (above)"
"${check[@]}" manifests --spider "$spider" --dockerfile deploy/docker/Dockerfile \
  "${external_secrets[@]}" "${partial[@]}" > "$out/partial.log" || { cat "$out/partial.log"; die "bases (above)"; }
echo "ok   bases and components: $(grep -c '^ok' "$out/partial.log") checks"

# ---- 4. systemd units ---------------------------------------------------------------------------
echo "== systemd units"
units=(deploy/systemd/*.service)
[ -f "${units[0]}" ] || die "no unit under deploy/systemd"
"${check[@]}" units --spider "$spider" --env-dir deploy/config "${units[@]}" || die "units (above)"
verify_units() {  # DIR UNIT...: verify copies that run the built binary; any output is a problem
  local dir=$1; shift
  for unit in "$@"; do sed "s#/usr/local/bin/spider#$spider#g" "$unit" > "$dir/$(basename "$unit")"; done
  (cd "$dir" && systemd-analyze verify --man=no "${@##*/}" 2>&1)
}
if command -v systemd-analyze >/dev/null; then
  mkdir "$out/units"
  report=$(verify_units "$out/units" "${units[@]}") || true
  [ -z "$report" ] || die "systemd-analyze verify: $report"
  echo "ok   systemd-analyze verify: ${#units[@]} units"
  for unit in "${units[@]}"; do
    # Exposure on systemd's 0-10 scale, here ×10: every unit must stay "OK" (below 3.0).
    if ! systemd-analyze security --offline=yes --threshold=29 "$out/units/$(basename "$unit")" \
         > "$out/security.log" 2>&1; then
      grep -i "overall" "$out/security.log" >&2 || cat "$out/security.log" >&2
      die "systemd-analyze security: $unit is exposed more than 2.9"
    fi
    echo "ok   $(grep -io 'overall exposure level.*' "$out/security.log" | head -1)"
  done
else
  echo "skip systemd-analyze: not installed (the unit checks above still ran)"
fi

# ---- 5. Dockerfile ------------------------------------------------------------------------------
echo "== Dockerfile (checked, not built: no Docker engine here)"
"${check[@]}" dockerfile --spider "$spider" --root "$root" deploy/docker/Dockerfile || die "Dockerfile (above)"

# ---- 6. the checks can fail -----------------------------------------------------------------------
echo "== self-check: broken inputs are rejected"
bad=$out/bad
mkdir -p "$bad/missing" "$bad/field" "$bad/flag" "$bad/caps" "$bad/units"
expect_failure() {  # WHAT PATTERN COMMAND...: the command must fail, saying PATTERN
  local what=$1 pattern=$2; shift 2
  if "$@" > "$out/self.log" 2>&1; then
    cat "$out/self.log" >&2
    die "self-check: $what was accepted"
  fi
  grep -q -e "$pattern" "$out/self.log" \
    || { cat "$out/self.log" >&2; die "self-check: $what was rejected, but not for saying '$pattern'"; }
  echo "ok   rejected: $what"
}
# A kustomization naming a file that does not exist.
printf 'resources:\n  - nowhere.yaml\n' > "$bad/missing/kustomization.yaml"
expect_failure "a kustomization with a missing resource" nowhere.yaml kubectl kustomize "$bad/missing"
# An unknown field (a typo) in a Deployment.
sed 's/^  replicas: 1$/  replicaz: 1/' deploy/kubernetes/base/gateway/deployment.yaml > "$bad/field/d.yaml"
grep -q replicaz "$bad/field/d.yaml" || die "self-check: the gateway Deployment has no 'replicas: 1' to break"
expect_failure "an unknown field" replicaz kubernetes-validate --strict --quiet -k "${K8S_VERSIONS##* }" "$bad/field/d.yaml"
# A flag the binary does not have, and a value it cannot parse.
sed 's/- --listen$/- --listen-on/' "$out/kubernetes-overlays-single-node.yaml" > "$bad/flag/flag.yaml"
grep -q -- '--listen-on' "$bad/flag/flag.yaml" || die "self-check: no --listen to break"
expect_failure "a flag spider lacks" "unexpected argument '--listen-on'" "${check[@]}" manifests --spider "$spider" "$bad/flag/flag.yaml"
sed 's/--status-every 300/--status-every often/' deploy/config/gocipher.env > "$bad/units/gocipher.env"
cp deploy/systemd/spider-gocipher.service "$bad/units/"
expect_failure "a value spider cannot parse (unit)" "invalid value 'often'" "${check[@]}" units --spider "$spider" \
  --env-dir "$bad/units" "$bad/units/spider-gocipher.service"
# One capability too many for the Gocipher, and a Whisperer that may escalate.
sed 's/^\(\s*\)- NET_ADMIN$/\1- NET_ADMIN\n\1- SYS_ADMIN/' "$out/kubernetes-overlays-single-node.yaml" > "$bad/caps/caps.yaml"
grep -q SYS_ADMIN "$bad/caps/caps.yaml" || die "self-check: no NET_ADMIN to extend"
expect_failure "CAP_SYS_ADMIN on the Gocipher" "not \['BPF', 'NET_ADMIN', 'PERFMON', 'SYS_ADMIN'\]" "${check[@]}" manifests --spider "$spider" "$bad/caps/caps.yaml"
sed 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' "${examples[0]}" > "$bad/caps/sidecar.yaml"
expect_failure "a Whisperer allowed to escalate" "allowPrivilegeEscalation must be false" "${check[@]}" manifests --spider "$spider" "$bad/caps/sidecar.yaml"
# Two backend nodes that are no cluster (no etcd), a reference to an undefined variable.
sed 's/^  replicas: 1$/  replicas: 2/' "$out/kubernetes-overlays-single-node.yaml" > "$bad/caps/two.yaml"
grep -q '^  replicas: 2$' "$bad/caps/two.yaml" || die "self-check: no backend replicas to change"
expect_failure "two backend replicas without etcd" "each would own every shard" "${check[@]}" manifests \
  --spider "$spider" --complete "${external_secrets[@]}" "$bad/caps/two.yaml"
sed 's/\$(NODE_NAME)/$(NODE)/' "$out/kubernetes-overlays-single-node.yaml" > "$bad/flag/var.yaml"
expect_failure "an undefined \$(VAR)" "\$(NODE) is neither" "${check[@]}" manifests --spider "$spider" --complete "$bad/flag/var.yaml"
# Plaintext where the binary refuses it: a backend without [tls], a Controller's agents' listener
# without its certificate.
sed 's#^\( *\)cert = "/etc/spider-tls/tls.crt"#\1\# no cert#' "$out/kubernetes-overlays-single-node.yaml" > "$bad/flag/plain-backend.yaml"
grep -q '# no cert' "$bad/flag/plain-backend.yaml" || die "self-check: no [tls] cert to remove"
expect_failure "a backend listening in plaintext off loopback" "in plaintext: the node refuses" \
  "${check[@]}" manifests --spider "$spider" --complete "${external_secrets[@]}" "$bad/flag/plain-backend.yaml"
sed '/- --tls-cert$/,+3d' "$out/kubernetes-overlays-single-node.yaml" > "$bad/flag/plain-controller.yaml"
expect_failure "a Controller listening in plaintext off loopback" "the Controller refuses to start" \
  "${check[@]}" manifests --spider "$spider" "$bad/flag/plain-controller.yaml"
# A misspelt key and a stop signal the binary ignores in the units.
if command -v systemd-analyze >/dev/null; then
  sed 's/^KillSignal=/KilSignal=/' deploy/systemd/spider-whisperer.service > "$bad/units/spider-whisperer.service"
  mkdir "$bad/units/verify"
  report=$(verify_units "$bad/units/verify" "$bad/units/spider-whisperer.service") || true
  [ -n "$report" ] || die "self-check: systemd-analyze verify accepted a misspelt key"
  echo "ok   rejected: a misspelt unit key"
fi
sed 's/^KillSignal=SIGINT/KillSignal=SIGTERM/' deploy/systemd/spider-whisperer.service > "$bad/units/spider-whisperer.service"
expect_failure "a unit stopped by SIGTERM" "KillSignal=SIGINT is needed" "${check[@]}" units --spider "$spider" \
  --env-dir deploy/config "$bad/units/spider-whisperer.service"
# A runtime image without librocksdb.
sed 's/ librocksdb7.8 / /' deploy/docker/Dockerfile > "$bad/Dockerfile"
if "${check[@]}" dockerfile --spider "$spider" --root "$root" "$bad/Dockerfile" > "$out/self.log" 2>&1; then
  grep -q '^skip' "$out/self.log" || { cat "$out/self.log" >&2; die "self-check: a runtime without librocksdb was accepted"; }
  echo "skip runtime libraries self-check (not a Debian host matching the image)"
else
  grep -q "lacks librocksdb" "$out/self.log" || { cat "$out/self.log" >&2; die "self-check: the Dockerfile check failed for another reason"; }
  echo "ok   rejected: a runtime image without librocksdb"
fi

echo "test-deploy: all checks passed"
