# Sourced by the scripts: one build folder outside the clone, so rebuilds are incremental.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/spider-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
