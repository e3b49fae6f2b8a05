#!/usr/bin/env bash
# Runs the benchmarks of openllmetry-rs (see BENCHMARKS.md) and ends with one table: the time
# our instrumentation adds per call, the time the Python OpenLLMetry instrumentations add on
# the same replayed exchanges, and the ratio, per scenario.
#
#   scripts/bench.sh [micro] [overhead] [python] [memory]     (default: all four)
#
# Benchmarks report; they never fail on their figures (a failure here is a broken harness).
# Everything runs on loopback. Knobs (environment): BENCH_CALLS / BENCH_STREAM_CALLS /
# BENCH_ROUNDS (Rust end-to-end), BENCH_PY_CALLS / BENCH_PY_STREAM_CALLS (Python),
# BENCH_MEM_CALLS / BENCH_MEM_STREAMS (memory), OTEL_METRIC_EXPORT_INTERVAL (both SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."

sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(micro overhead python memory)
want() { local s; for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

target=${CARGO_TARGET_DIR:-target}
out="$target/bench-results"
mkdir -p "$out"
bin="$target/release"
# Both SDKs export metrics every 5 s (the default, 60 s, would hardly export during a run).
export OTEL_METRIC_EXPORT_INTERVAL=${OTEL_METRIC_EXPORT_INTERVAL:-5000}
calls=${BENCH_CALLS:-10000}
stream_calls=${BENCH_STREAM_CALLS:-2000}
rounds=${BENCH_ROUNDS:-10}
py_calls=${BENCH_PY_CALLS:-2000}
py_stream_calls=${BENCH_PY_STREAM_CALLS:-400}
mem_calls=${BENCH_MEM_CALLS:-100000}
mem_streams=${BENCH_MEM_STREAMS:-10000}

# Results of the sections run now replace the old ones; the others are left out of the table.
want overhead && rm -f "$out/rust-overhead.json" "$out/rust-overhead-discard.json"
want python && rm -f "$out/python-overhead.json"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"

if want micro; then
  echo "== micro benches (criterion)"
  cargo bench -p openllmetry-bench --bench micro 2>&1 | tee "$out/micro.txt"
fi

cargo build --release -q -p openllmetry-bench --bins

if want overhead; then
  echo "== end-to-end overhead, Rust (reqwest vs reqwest + OpenLlmMiddleware + SDK)"
  "$bin/overhead" --calls "$calls" --stream-calls "$stream_calls" --rounds "$rounds" \
    --breakdown --out "$out/rust-overhead.json" | tee "$out/overhead.txt"
  echo "== end-to-end overhead, Rust, discarding exporters (the Python side's setup)"
  "$bin/overhead" --calls "$calls" --stream-calls "$stream_calls" --rounds "$rounds" \
    --export discard --out "$out/rust-overhead-discard.json" | tee "$out/overhead-discard.txt"
fi

if want python; then
  echo "== end-to-end overhead, Python (official clients, OpenLLMetry 0.62 instrumentations)"
  req=scripts/requirements-bench.txt
  venv=.venv-bench
  stamp="$venv/.requirements-bench.sha"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$req" | cut -d' ' -f1)" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    sha256sum "$req" | cut -d' ' -f1 > "$stamp"
  fi
  "$venv/bin/python" crates/openllmetry-bench/python/bench_python.py \
    --replay "$bin/replay-loop" --calls "$py_calls" --stream-calls "$py_stream_calls" \
    --rounds "$rounds" --out "$out/python-overhead.json" | tee "$out/python.txt"
fi

if want memory; then
  echo "== memory (one process, instrumented calls through the middleware)"
  "$bin/memory" --calls "$mem_calls" --streams "$mem_streams" --out "$out/memory.json" \
    | tee "$out/memory.txt"
fi

if [ -f "$out/rust-overhead.json" ]; then
  "$bin/bench-summary" "$out/rust-overhead.json" "$out/python-overhead.json" \
    "$out/rust-overhead-discard.json" --markdown "$out/summary.md"
fi
