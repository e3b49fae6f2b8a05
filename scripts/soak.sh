#!/usr/bin/env bash
# Soak run of the gateway (not a test, not run in CI): SOAK_DURATION seconds of mixed traffic
# through a release gateway, with SOAK_WORKERS concurrent clients sending, in turn, ordinary
# OpenAI chat calls (not streamed) and Anthropic message streams, and every SOAK_BIG_EVERY-th
# call a big prompt (SOAK_BIG_KIB KiB of text) on either. The collector is the testkit's OTLP
# receiver (`otlp_flapping` example) flapping: up SOAK_UP seconds, then 503 for SOAK_DOWN
# seconds. Upstreams are `openllmetry replay --loop` servers. Prints the gateway's RSS every
# SOAK_SAMPLE seconds, then calls answered, spans received and refused exports.
#
# Spans exported while the collector is down are dropped by design (the exporter does not
# retry; the gateway counts and logs the failures), so "received < answered" is expected in
# proportion to the down time; what must hold is that every call is answered, RSS stays
# flat, and spans arrive whenever the collector is up.
#
# Usage: scripts/soak.sh
# Environment: SOAK_DURATION (default 180), SOAK_WORKERS (4), SOAK_BIG_EVERY (20),
# SOAK_BIG_KIB (1024), SOAK_UP (20), SOAK_DOWN (10), SOAK_SAMPLE (10), SOAK_PROFILE (cargo
# profile of the binaries: release, or dev for a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-180}
WORKERS=${SOAK_WORKERS:-4}
BIG_EVERY=${SOAK_BIG_EVERY:-20}
BIG_KIB=${SOAK_BIG_KIB:-1024}
UP=${SOAK_UP:-20}
DOWN=${SOAK_DOWN:-10}
SAMPLE=${SOAK_SAMPLE:-10}
OPENAI_CASSETTE=openai/test_chat/test_chat.yaml
ANTHROPIC_CASSETTE=anthropic/test_thinking/test_anthropic_thinking_streaming_legacy.yaml

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "soak.sh needs $tool" >&2; exit 1; }
done

PROFILE=${SOAK_PROFILE:-release}
echo "building the $PROFILE binaries..." >&2
cargo build --profile "$PROFILE" -q -p openllmetry-gateway --bin openllmetry --example otlp_flapping --example cassette_body
TARGET=${CARGO_TARGET_DIR:-target}
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
BIN=$TARGET/$OUT/openllmetry
FLAP=$TARGET/$OUT/examples/otlp_flapping
BODY=$TARGET/$OUT/examples/cassette_body

TMP=$(mktemp -d -t soak.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- request bodies ---------------------------------------------------------------------
"$BODY" "$OPENAI_CASSETTE" 0 >"$TMP/openai.json"
"$BODY" "$ANTHROPIC_CASSETTE" 0 >"$TMP/anthropic.json"
for name in openai anthropic; do
  python3 - "$TMP/$name.json" "$TMP/$name-big.json" "$BIG_KIB" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
text = ("lorem ipsum dolor sit amet " * (int(sys.argv[3]) * 1024 // 27 + 1))[: int(sys.argv[3]) * 1024]
body["messages"][0]["content"] = text
json.dump(body, open(sys.argv[2], "w"))
PY
done

# --- processes ----------------------------------------------------------------------------
openai_port=$(free_port)
anthropic_port=$(free_port)
gateway_port=$(free_port)
"$BIN" replay --listen "127.0.0.1:$openai_port" --loop "$OPENAI_CASSETTE" 2>"$TMP/replay-openai.log" &
PIDS+=($!)
"$BIN" replay --listen "127.0.0.1:$anthropic_port" --loop "$ANTHROPIC_CASSETTE" 2>"$TMP/replay-anthropic.log" &
PIDS+=($!)
"$FLAP" "$UP" "$DOWN" >"$TMP/flap.out" 2>"$TMP/flap.log" &
flap=$!
PIDS+=("$flap")
wait_port "$openai_port"
wait_port "$anthropic_port"
for _ in $(seq 1 200); do [ -s "$TMP/flap.out" ] && break; sleep 0.05; done
endpoint=$(head -1 "$TMP/flap.out")
env OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_BSP_SCHEDULE_DELAY=500 TRACELOOP_TELEMETRY=off \
  "$BIN" gateway --listen "127.0.0.1:$gateway_port" \
  --openai-upstream "http://127.0.0.1:$openai_port/v1" \
  --anthropic-upstream "http://127.0.0.1:$anthropic_port" 2>"$TMP/gateway.log" &
gateway=$!
PIDS+=("$gateway")
wait_port "$gateway_port"
echo "gateway pid $gateway on :$gateway_port, collector $endpoint (up ${UP}s / down ${DOWN}s)" >&2

# --- traffic -------------------------------------------------------------------------------
worker() { # id
  local end=$(( $(date +%s) + DURATION )) n=0 ok=0 big=0
  local base="http://127.0.0.1:$gateway_port"
  while [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    local suffix=""
    if [ $((n % BIG_EVERY)) -eq 0 ]; then suffix="-big"; big=$((big + 1)); fi
    local code
    if [ $((n % 2)) -eq 0 ]; then
      code=$(curl -sS -N -o /dev/null -w '%{http_code}' --max-time 30 \
        -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        -H 'x-api-key: sk-ant-soak-not-a-key' \
        --data-binary @"$TMP/anthropic$suffix.json" "$base/v1/messages" || echo 000)
    else
      code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-soak-not-a-key' \
        --data-binary @"$TMP/openai$suffix.json" "$base/v1/chat/completions" || echo 000)
    fi
    [ "$code" = 200 ] && ok=$((ok + 1))
  done
  echo "$n $ok $big" >"$TMP/worker.$1"
}
WORKER_PIDS=()
for i in $(seq 1 "$WORKERS"); do
  worker "$i" &
  WORKER_PIDS+=($!)
done
start=$(date +%s)
echo "t_s rss_kib"
while :; do
  alive=0
  for pid in "${WORKER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  echo "$(( $(date +%s) - start )) $(rss_kib "$gateway")"
  [ "$alive" -eq 0 ] && break
  sleep "$SAMPLE"
done
for pid in "${WORKER_PIDS[@]}"; do wait "$pid" || true; done

sent=0 answered=0 big=0
for f in "$TMP"/worker.*; do
  read -r n ok b <"$f"
  sent=$((sent + n)); answered=$((answered + ok)); big=$((big + b))
done
# Let the collector come back up before the final flush, then stop the gateway.
sleep $((DOWN + 1))
kill -TERM "$gateway"
wait "$gateway" || true
kill -TERM "$flap"
wait "$flap" || true
received=$(awk '/^spans_received/ {print $2}' "$TMP/flap.out")
refused=$(awk '/^spans_received/ {print $4}' "$TMP/flap.out")
echo "calls sent $sent (big $big), answered 200: $answered"
echo "spans received by the collector: $received (exports refused while down: $refused)"
echo "gateway export-failure lines: $(grep -c 'export' "$TMP/gateway.log" || true)"
