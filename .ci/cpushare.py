#!/usr/bin/env python3
"""Where a benchmark's CPU goes, from the profiles its measured stretches wrote.

Usage (from the repository's root):
  cd invoker && go test -c -o /tmp/inv.test . && cd ..
  (cd invoker && GUST_BENCH_PROFILE=/tmp/p /tmp/inv.test -test.run '^$' \
      -test.bench 'FireToCompletion/rules=1$' -test.benchtime 3x)
  python3 .ci/cpushare.py /tmp/inv.test /tmp/p.BenchmarkFireToCompletion-rules1.*

Each sample goes to the first share, in the order below, that one of its
stack's frames names: a sample of Gust's code that publishes through nats.go
is the NATS client's, one of the streams' loop is JetStream's. It prints the
share of each, of all the samples of the files given.
"""
import collections
import re
import subprocess
import sys

SHARES = [
    ("HTTP /run to the container (Gust's client, its syscalls)",
     ("invoker/proxyclient", "invoker.post", "invoker.send")),
    ("JetStream stores: the streams' loop and file store",
     ("server.(*stream).internalLoop", "fileStore")),
    ("the benchmark's own fires, invokes and HTTP client",
     ("invoker_test.", "net/http.(*persistConn)")),
    ("NATS server: parsing, routing, consumers, acks", ("nats-server",)),
    ("NATS client (nats.go): publishing, pub acks, deliveries",
     ("nats%2ego", "nats.go/jetstream")),
    ("the rule engine", ("rules/engine",)),
    ("the API: its HTTP server and handlers", ("net/http.(*conn).serve",)),
    ("invoker, pool, records, dispatcher", ("gusthub/gust",)),
    ("Go GC in the background", ("gcBgMarkWorker", "bgsweep", "bgscavenge")),
    ("Go scheduler, idle threads",
     ("runtime.mcall", "runtime.schedule", "findRunnable", "runtime.mstart")),
]

UNITS = {"s": 1e3, "ms": 1.0, "us": 1e-3, "µs": 1e-3}


def main(binary, profiles):
    traces = subprocess.run(["go", "tool", "pprof", "-traces", binary, *profiles],
                            capture_output=True, text=True, check=True).stdout
    totals, all_ms = collections.Counter(), 0.0
    for block in traces.split("-----------+" + "-" * 55):
        lines = [l for l in block.split("\n") if l.strip()]
        value = None
        for l in lines:  # pprof labels (stream: ...) may come first
            m = re.match(r"\s*([\d.]+)(s|ms|us|µs)\s", l)
            if m:
                value = float(m.group(1)) * UNITS[m.group(2)]
                break
        if value is None:
            continue
        stack = "\n".join(lines)
        share = next((name for name, frames in SHARES if any(f in stack for f in frames)), "other")
        totals[share] += value
        all_ms += value
    for name in [n for n, _ in SHARES] + ["other"]:
        if totals[name]:
            print(f"{100 * totals[name] / all_ms:5.1f}%  {name}")
    print(f"of {all_ms / 1e3:.2f} s of samples")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
