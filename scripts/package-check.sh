#!/usr/bin/env bash
# Checks that every crate meant for crates.io packages: `cargo package --no-verify` for each,
# in dependency order, in one invocation (cargo resolves the workspace crates among them from a
# local overlay, as `cargo publish --workspace` would). `--no-verify` skips compiling each
# packaged crate from scratch (minutes per crate on 2 cores); the normal build and tests cover
# the sources, this covers the manifests (versions on path dependencies, no publish = false
# crate among normal dependencies, no dependency cycle through dev-dependencies) and the file
# lists (e.g. the replay crate's embedded cassettes are inside it).
#
# Usage: scripts/package-check.sh [--allow-dirty]   (CI runs it on a clean checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

# Dependency order. Not published: openllmetry-testkit, openllmetry-bench (publish = false).
CRATES=(
  openllmetry-semconv
  openllmetry-core
  openllmetry-http
  openllmetry-aws
  openllmetry-replay
  openllmetry-macros
  openllmetry
  openllmetry-ui
  openllmetry-gateway
)

args=()
for c in "${CRATES[@]}"; do
  args+=(-p "$c")
done
cargo package --no-verify --locked "$@" "${args[@]}"

# Every workspace crate without `publish = false` must be in the list above.
for manifest in crates/*/Cargo.toml; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1)
  if grep -q '^publish = false' "$manifest"; then
    continue
  fi
  if [[ ! " ${CRATES[*]} " == *" $name "* ]]; then
    echo "package-check: $name is publishable but not checked; add it to CRATES" >&2
    exit 1
  fi
done
echo "package-check: ${#CRATES[@]} crates package"
