#!/usr/bin/env bash
# Benchmarks the gateway on loopback, in one run: requests/s and p50/p99 latency of
#   (a) direct to `openllmetry replay --loop` (one recorded exchange served forever),
#   (b) through `openllmetry gateway` (release build, exporting its spans and metrics over
#       OTLP/HTTP to a local sink, the `otlp_sink` example), and
#   (c) through nginx as a plain reverse proxy (proxy_buffering off),
# for a non-streamed and a streamed chat completion, and prints the ratios gateway/direct and
# nginx/direct. Bounded: 2 calls x 3 paths x (warm-up + BENCH_DURATION seconds), then it stops
# and cleans up every process it started. Not a test.
#
# Usage: scripts/bench-gateway.sh
# Environment: BENCH_DURATION (seconds per measurement, default 10), BENCH_CONNECTIONS (default
# 16), BENCH_THREADS (wrk threads, default 2), BENCH_WARMUP (seconds, default 2),
# BENCH_GATEWAY_ENV (extra environment for the gateway, e.g.
# "TRACELOOP_BLOCK_INSTRUMENTS=openai" to measure the proxy without the instrumentation),
# BENCH_PERF=1 (also record the gateway with `perf record` (DWARF call graphs) during its
# measurement and print the inclusive share of the frames that say where its CPU goes, for each
# call type; the sampling itself costs the gateway some CPU, so the figures of such a run are
# not the benchmark's).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-2}
NONSTREAM_CASSETTE=openai/test_chat/test_chat.yaml
STREAM_CASSETTE=openai/test_chat/test_chat_async_streaming.yaml

# --- tools -------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing ${missing[*]} from Debian..." >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx wrk >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building the release binaries..." >&2
cargo build --release -q -p openllmetry-gateway --bin openllmetry --example otlp_sink --example cassette_body
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/openllmetry
SINK=$TARGET/release/examples/otlp_sink
BODY=$TARGET/release/examples/cassette_body

# --- processes and cleanup -----------------------------------------------------------------
TMP=$(mktemp -d -t bench-gateway.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  exit 1
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cpu_ticks() { # pids... -> utime+stime clock ticks of these processes
  local total=0
  for pid in "$@"; do
    if [ -r "/proc/$pid/stat" ]; then
      total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    fi
  done
  echo "$total"
}

# The recorded request body of a cassette's first interaction, in a file.
request_body() { # cassette out
  "$BODY" "$1" 0 >"$2"
}

# wrk: POST the body; prints "rps p50_ms p99_ms errors".
measure() { # url body_file seconds
  local lua=$TMP/post.lua
  cat >"$lua" <<LUA
local f = assert(io.open("$2", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-not-a-key"
LUA
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${3}s" --timeout 5s --latency -s "$lua" "$1" >"$TMP/wrk.out" 2>&1 || {
    cat "$TMP/wrk.out" >&2
    exit 1
  }
  awk '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return v
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { errors += 1 }
    END { printf "%s %.3f %.3f %d\n", rps, p50, p99, errors + 0 }
  ' "$TMP/wrk.out"
}

# --- one call type: replay, gateway, nginx ------------------------------------------------------
RESULTS=()
run_case() { # label cassette
  local label=$1 cassette=$2
  local body=$TMP/body.json
  request_body "$cassette" "$body"
  local replay_port gateway_port nginx_port sink_port
  replay_port=$(free_port)
  gateway_port=$(free_port)
  nginx_port=$(free_port)
  sink_port=$(free_port)

  "$SINK" "127.0.0.1:$sink_port" 2>"$TMP/sink.log" &
  local sink=$!
  PIDS+=("$sink")
  "$BIN" replay --listen "127.0.0.1:$replay_port" --workers 2 --loop "$cassette" 2>"$TMP/replay.log" &
  local replay=$!
  PIDS+=("$replay")
  wait_port "$sink_port"
  wait_port "$replay_port"
  # shellcheck disable=SC2086 # BENCH_GATEWAY_ENV is a list of NAME=VALUE words
  env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" TRACELOOP_TELEMETRY=off \
    ${BENCH_GATEWAY_ENV:-} "$BIN" gateway --listen "127.0.0.1:$gateway_port" \
    --openai-upstream "http://127.0.0.1:$replay_port/v1" \
    --anthropic-upstream "http://127.0.0.1:$replay_port" 2>"$TMP/gateway.log" &
  local gateway=$!
  PIDS+=("$gateway")

  mkdir -p "$TMP/nginx"
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root;"
  cat >"$TMP/nginx/nginx.conf" <<NGINX
$user
worker_processes auto;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log $TMP/nginx/access.log;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream replay {
    server 127.0.0.1:$replay_port;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://replay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
  "$NGINX" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" 2>"$TMP/nginx/stderr.log" &
  local nginx=$!
  PIDS+=("$nginx")
  wait_port "$gateway_port"
  wait_port "$nginx_port"

  # The same bytes on all three paths.
  local direct_url="http://127.0.0.1:$replay_port/v1/chat/completions"
  local gateway_url="http://127.0.0.1:$gateway_port/v1/chat/completions"
  local nginx_url="http://127.0.0.1:$nginx_port/v1/chat/completions"
  for url in "$direct_url" "$gateway_url" "$nginx_url"; do
    curl -sS -o "$TMP/out.$(echo "$url" | cut -d: -f3 | cut -d/ -f1)" -H 'content-type: application/json' \
      --data-binary @"$body" "$url"
  done
  for port in "$gateway_port" "$nginx_port"; do
    cmp -s "$TMP/out.$replay_port" "$TMP/out.$port" || {
      echo "$label: the response through port $port differs from the direct one" >&2
      exit 1
    }
  done

  local name url pids
  for name in direct gateway nginx; do
    case $name in
      direct) url=$direct_url; pids=() ;;
      gateway) url=$gateway_url; pids=("$gateway") ;;
      nginx) url=$nginx_url; pids=("$nginx" $(pgrep -P "$nginx" || true)) ;;
    esac
    measure "$url" "$body" "$WARMUP" >/dev/null
    local t0 t1 r
    local perf=""
    if [ -n "${BENCH_PERF:-}" ] && [ "$name" = gateway ]; then
      perf record -F 199 --call-graph dwarf,16384 -p "$gateway" -o "$TMP/perf.$label.data" -- sleep "$DURATION" \
        >/dev/null 2>&1 &
      perf=$!
    fi
    t0=$(cpu_ticks "${pids[@]}")
    r=$(measure "$url" "$body" "$DURATION")
    t1=$(cpu_ticks "${pids[@]}")
    if [ -n "$perf" ]; then
      wait "$perf" || true
      # Inclusive share of the gateway's CPU samples of the frames that say where the time
      # goes: the HTTP server, the upstream client, the instrumentation (request start,
      # response end), the span export, the request log line, and system calls.
      echo "  $label / gateway: perf, inclusive share of the gateway's samples:" >&2
      perf report -i "$TMP/perf.$label.data" --children --stdio --sort symbol -g none \
        --percent-limit 0.3 2>/dev/null | grep -E '^ +[0-9]' | sed 's/  */ /g' | grep -E \
        'Dispatcher<D,Bs,I,T>::poll_catch|reqwest::async_impl::client::Pending as|Instrumentation::start_labelled|ResponseObserver::complete|call::finish|parse_response$|parse_request$|metrics::record_end|BatchSpanProcessor::get_spans_and_export|Encoding::span_len|tracing_core::event::Event::dispatch|\] entry_SYSCALL_64_after_hwframe|\] malloc$|\] cfree' \
        | head -24 >&2 || true
    fi
    # proxy CPU per request, in microseconds
    local rps cpu_us
    rps=$(echo "$r" | cut -d' ' -f1)
    cpu_us=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v rps="$rps" -v d="$DURATION" \
      'BEGIN { n = rps * d; if (n > 0 && t > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }')
    RESULTS+=("$label $name $r $cpu_us")
    echo "  $label / $name: $r (rps p50 p99 errors), proxy CPU ${cpu_us} us/request" >&2
  done

  stop "$nginx"
  stop "$gateway"
  stop "$replay"
  stop "$sink"
  echo "  $label: $(tail -1 "$TMP/sink.log")" >&2
  if grep -q "telemetry export failed" "$TMP/gateway.log"; then
    echo "  $label: the gateway reported failed exports:" >&2
    grep "telemetry export" "$TMP/gateway.log" >&2
  fi
}

echo "benchmarking ($CONNECTIONS connections, $THREADS wrk threads, ${DURATION}s per measurement)..." >&2
run_case non-streaming "$NONSTREAM_CASSETTE"
run_case streaming "$STREAM_CASSETTE"

# --- report ----------------------------------------------------------------------------------
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per row; gateway release build exporting to a local OTLP sink${BENCH_GATEWAY_ENV:+ (gateway environment: $BENCH_GATEWAY_ENV)}"
echo
printf '| %-13s | %-7s | %10s | %8s | %8s | %9s | %12s |\n' call path "req/s" "p50 ms" "p99 ms" "vs direct" "proxy CPU/req"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------------  ---------  ------------: ----------: ----------: -----------: --------------:
for label in non-streaming streaming; do
  direct_rps=""
  for line in "${RESULTS[@]}"; do
    set -- $line
    [ "$1" = "$label" ] || continue
    [ "$2" = direct ] && direct_rps=$3
    ratio=$(awk -v a="$3" -v b="$direct_rps" 'BEGIN { printf "%.3f", a / b }')
    cpu=$7
    [ "$cpu" != "-" ] && cpu="${cpu} µs"
    printf '| %-13s | %-7s | %10.0f | %8.3f | %8.3f | %9s | %12s |\n' "$1" "$2" "$3" "$4" "$5" "$ratio" "$cpu"
    if [ "$6" != 0 ]; then
      echo "warning: $1 / $2 had $6 failed requests" >&2
    fi
  done
done
echo
for label in non-streaming streaming; do
  d="" g="" n=""
  for line in "${RESULTS[@]}"; do
    set -- $line
    [ "$1" = "$label" ] || continue
    case $2 in direct) d=$3 ;; gateway) g=$3 ;; nginx) n=$3 ;; esac
  done
  awk -v l="$label" -v d="$d" -v g="$g" -v n="$n" \
    'BEGIN { printf "%s: gateway/direct = %.3f, nginx/direct = %.3f\n", l, g / d, n / d }'
done
