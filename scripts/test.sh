#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: sets up the Python clients the
# gateway tests drive, then runs the Rust tests (nextest: one process per test, so tests
# that install global OpenTelemetry providers cannot interfere) and the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-python.sh
./scripts/setup-browser.sh
./scripts/setup-clickhouse.sh
export OPENLLMETRY_TEST_PYTHON="$PWD/.venv/bin/python"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast --features openllmetry-http/async-openai
else
  cargo test --workspace --no-fail-fast --features openllmetry-http/async-openai
fi
cargo test --workspace --doc --features openllmetry-http/async-openai
