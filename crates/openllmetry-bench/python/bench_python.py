#!/usr/bin/env python3
"""The Python side of the overhead comparison (run by scripts/bench.sh).

Starts the `replay-loop` binary (the same looping replay servers the Rust `overhead` binary
uses, serving the same recorded exchanges on loopback), then, per scenario, makes N sequential
calls with the official `openai` / `anthropic` clients, alternating rounds of

  (a) uninstrumented: the client's `create` is the original function, and
  (b) instrumented: traceloop's `opentelemetry-instrumentation-openai` / `-anthropic` with an
      OpenTelemetry SDK `TracerProvider` + `BatchSpanProcessor` and a `MeterProvider` with a
      `PeriodicExportingMetricReader`, both into discarding in-memory exporters (no
      serialisation, no network: cheaper than the OTLP export the Rust side does).

Prints per-call mean, p50 and p99, the overhead per call, the ratio b/a and the process CPU
time per call, and writes the figures as JSON in the format `bench-summary` reads.
"""

import argparse
import gc
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class CountingSpanExporter(SpanExporter):
    """Counts exported spans and drops them."""

    def __init__(self):
        self.count = 0

    def export(self, spans):
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


class DiscardMetricExporter(MetricExporter):
    """Counts metric exports and drops them."""

    def __init__(self):
        super().__init__()
        self.exports = 0

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        self.exports += 1
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


def summary(ns):
    s = sorted(ns)
    n = len(s)
    if n == 0:
        return {"n": 0, "mean_us": 0.0, "p50_us": 0.0, "p99_us": 0.0}

    def pct(q):
        # Nearest rank, as the Rust side computes it.
        rank = max(1, min(n, math.ceil(q * n)))
        return s[rank - 1] / 1000.0

    return {
        "n": n,
        "mean_us": sum(s) / n / 1000.0,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
    }


def fmt(x):
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def version(pkg):
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def make_call(scenario):
    """A function making one call of `scenario` and reading the whole response."""
    import anthropic
    import openai

    request = dict(scenario["request"])
    # The method is looked up at every call: switching modes swaps the class attribute, so
    # a bound method captured once would stay on one side.
    if scenario["provider"] == "openai":
        client = openai.OpenAI(
            base_url=scenario["base_url"] + "/v1", api_key="bench", max_retries=0
        )

        def create(**kw):
            return client.chat.completions.create(**kw)

    else:
        client = anthropic.Anthropic(
            base_url=scenario["base_url"], api_key="bench", max_retries=0
        )

        def create(**kw):
            return client.messages.create(**kw)
    if scenario["stream"]:

        def call():
            chunks = 0
            for _ in create(**request):
                chunks += 1
            return chunks

    else:

        def call():
            create(**request)
            return 1

    return call


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replay", required=True, help="path of the replay-loop binary")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--stream-calls", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--out")
    ap.add_argument("--only", help="comma-separated scenario names")
    args = ap.parse_args()
    # The recorded Anthropic model is deprecated; the client warns once. Not our concern here.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ["no_proxy"] = "127.0.0.1,localhost"

    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    span_exporter = CountingSpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    metric_exporter = DiscardMetricExporter()
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
    )
    # Instrument once, then switch each provider's entry point between the wrapper the
    # instrumentor installed and the original function. (`uninstrument()` is not used: with
    # wrapt 2.x, opentelemetry-instrumentation's `unwrap` leaves the wrappers in place.)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    AnthropicInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    import anthropic.resources.messages
    import openai.resources.chat.completions

    switches = {}
    for provider, cls in (
        ("openai", openai.resources.chat.completions.Completions),
        ("anthropic", anthropic.resources.messages.Messages),
    ):
        wrapper = cls.__dict__["create"]
        original = getattr(wrapper, "__wrapped__", None)
        if original is None:
            sys.exit(f"{provider}: the instrumentor did not wrap {cls.__qualname__}.create")
        switches[provider] = (cls, wrapper, original)

    def set_instrumented(provider, on):
        cls, wrapper, original = switches[provider]
        setattr(cls, "create", wrapper if on else original)

    replay = subprocess.Popen(
        [args.replay], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        info = json.loads(replay.stdout.readline())
        versions = {
            p: version(p)
            for p in [
                "openai",
                "anthropic",
                "opentelemetry-instrumentation-openai",
                "opentelemetry-instrumentation-anthropic",
                "opentelemetry-sdk",
            ]
        }
        print(
            "python overhead: {} rounds alternating (a) uninstrumented and (b) instrumented; "
            "Python {}, {}".format(
                args.rounds,
                platform.python_version(),
                ", ".join(f"{k} {v}" for k, v in versions.items()),
            )
        )
        results = []
        expected_spans = 0
        for scenario in info["scenarios"]:
            if args.only and scenario["name"] not in args.only.split(","):
                continue
            provider = scenario["provider"]
            call = make_call(scenario)
            total = args.stream_calls if scenario["stream"] else args.calls
            per_round = max(1, -(-total // args.rounds))
            lat = {False: [], True: []}
            cpu = {False: 0, True: 0}
            chunks_seen = 0
            for mode in (False, True):
                set_instrumented(provider, mode)
                for _ in range(args.warmup):
                    call()
            expected_spans += args.warmup
            for r in range(args.rounds):
                order = (False, True) if r % 2 == 0 else (True, False)
                for mode in order:
                    set_instrumented(provider, mode)
                    tracer_provider.force_flush()
                    before = span_exporter.count
                    c0 = time.process_time_ns()
                    samples = lat[mode]
                    for _ in range(per_round):
                        t0 = time.perf_counter_ns()
                        chunks_seen = call()
                        samples.append(time.perf_counter_ns() - t0)
                    cpu[mode] += time.process_time_ns() - c0
                    tracer_provider.force_flush()
                    got = span_exporter.count - before
                    want = per_round if mode else 0
                    if got != want:
                        sys.exit(
                            f"{scenario['name']}: {'instrumented' if mode else 'uninstrumented'} "
                            f"round produced {got} spans, expected {want}: is the instrumentation "
                            "compatible with this client version?"
                        )
                    expected_spans += want
            set_instrumented(provider, False)
            plain, instr = summary(lat[False]), summary(lat[True])
            cpu_us = [cpu[m] / 1000.0 / max(1, len(lat[m])) for m in (False, True)]
            res = {
                "name": scenario["name"],
                "label": scenario["label"],
                "stream": scenario["stream"],
                "chunks": scenario["chunks"],
                "rounds": args.rounds,
                "plain": plain,
                "instrumented": instr,
                "overhead_us": instr["mean_us"] - plain["mean_us"],
                "overhead_p50_us": instr["p50_us"] - plain["p50_us"],
                "ratio": instr["mean_us"] / plain["mean_us"] if plain["mean_us"] else None,
                "per_chunk_us": (instr["mean_us"] - plain["mean_us"]) / scenario["chunks"]
                if scenario["stream"] and scenario["chunks"]
                else None,
                "plain_cpu_us": cpu_us[0],
                "instrumented_cpu_us": cpu_us[1],
                "cpu_overhead_us": cpu_us[1] - cpu_us[0],
            }
            results.append(res)
            print(f"\n{scenario['label']} ({scenario['name']})")
            if scenario["stream"]:
                print(
                    f"  {scenario['chunks']} SSE events per response "
                    f"({chunks_seen} items yielded by the client's stream)"
                )
            print(f"  {'':<18} {'calls':>7} {'mean µs':>10} {'p50 µs':>10} {'p99 µs':>10} {'CPU µs/call':>12}")
            for name, s, c in (("(a) plain", plain, cpu_us[0]), ("(b) instrumented", instr, cpu_us[1])):
                print(
                    f"  {name:<18} {s['n']:>7} {fmt(s['mean_us']):>10} {fmt(s['p50_us']):>10} "
                    f"{fmt(s['p99_us']):>10} {fmt(c):>12}"
                )
            line = (
                f"  overhead (b − a): {fmt(res['overhead_us'])} µs per call "
                f"(p50 {fmt(res['overhead_p50_us'])} µs), ratio b/a {res['ratio']:.3f}, "
                f"CPU {fmt(res['cpu_overhead_us'])} µs per call"
            )
            if res["per_chunk_us"] is not None:
                line += (
                    f"; per streamed chunk: {fmt(res['per_chunk_us'])} µs latency, "
                    f"{fmt(res['cpu_overhead_us'] / scenario['chunks'])} µs CPU"
                )
            print(line)
            gc.collect()
        tracer_provider.force_flush()
        print(f"\nexporter: {span_exporter.count} of {expected_spans} spans, "
              f"{metric_exporter.exports} metric exports")
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                json.dump(
                    {
                        "implementation": "python",
                        "notes": {
                            "python": platform.python_version(),
                            "versions": versions,
                            "export": "BatchSpanProcessor + PeriodicExportingMetricReader "
                            "into discarding in-memory exporters",
                            "spans_received": span_exporter.count,
                            "spans_expected": expected_spans,
                        },
                        "scenarios": results,
                    },
                    f,
                    indent=2,
                )
            print(f"results written to {args.out}")
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        replay.stdin.close()
        replay.wait(timeout=30)


if __name__ == "__main__":
    main()
