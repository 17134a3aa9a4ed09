"""Benchmark: HTTP requests and time for the KV provider to sync N keys, against the Consul double.

For N = 10, 100, 1000 keys already in Consul, one `pulumi up` of the resource is a diff and, when
something changed, an update. The minimum Consul needs is one read of the prefix plus
ceil(N / 128) transactions when every value changed, and one read when nothing did. Requests are
reported as a ratio to that minimum (goal: 1.0); time as a ratio to doing that minimum by hand
with a bare HTTP session on an identically loaded double (the provider's own overhead).

    venv/bin/python bench/kv_sync.py [--latency-ms 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import math
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.consul.kv_payload import TXN_MAX_OPS, chunk_ops
from components.consul.kv_provider import ConsulKvProvider
from tests.consul_double import ConsulDouble

TOKEN = "bench-token"
PREFIX = "app/bench"
SIZES = (10, 100, 1000)


def props(address: str, values: dict[str, str]) -> dict[str, Any]:
    return {"prefix": PREFIX, "address": address, "datacenter": "", "caCert": "",
            "token": TOKEN, "values": values, "secretValues": {}}


def loaded(n: int, latency: float) -> tuple[ConsulDouble, dict[str, Any]]:
    """A double holding N keys written by the provider, and the state the engine would keep."""
    double = ConsulDouble(token=TOKEN)
    double.start()
    first = props(double.address, {f"key/{i:04}": "v1" for i in range(n)})
    state = {**first, **ConsulKvProvider().create(first).outs}
    double.delay = latency
    double.reset_requests()
    return double, state


def provider_sync(n: int, changed: bool, latency: float) -> tuple[int, float, bool]:
    """(requests, seconds, updated) for one diff (+ update) by the provider."""
    double, state = loaded(n, latency)
    provider = ConsulKvProvider()
    news = props(double.address, {f"key/{i:04}": "v2" if changed else "v1" for i in range(n)})
    try:
        start = time.perf_counter()
        diff = provider.diff(PREFIX, state, news)
        if diff.changes:
            provider.update(PREFIX, state, news)
        elapsed = time.perf_counter() - start
        return len(double.requests), elapsed, bool(diff.changes)
    finally:
        double.stop()


def minimal_sync(n: int, changed: bool, latency: float) -> tuple[int, float]:
    """The minimum by hand: GET ?recurse, then the txns, over one keep-alive session."""
    double, _ = loaded(n, latency)
    session = requests.Session()
    session.headers["X-Consul-Token"] = TOKEN
    ops = [{"KV": {"Verb": "set", "Key": f"{PREFIX}/key/{i:04}",
                   "Value": base64.b64encode(b"v2").decode()}} for i in range(n)]
    try:
        start = time.perf_counter()
        session.get(f"{double.address}/v1/kv/{PREFIX}/", params={"recurse": "1"}).json()
        if changed:
            for chunk in chunk_ops(ops):
                session.put(f"{double.address}/v1/txn", json=chunk).raise_for_status()
        elapsed = time.perf_counter() - start
        return len(double.requests), elapsed
    finally:
        session.close()
        double.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay the double adds to every response, to model a remote agent")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    opts = parser.parse_args()
    latency = opts.latency_ms / 1000

    print(f"KV sync against the Consul double (txn limit {TXN_MAX_OPS}, "
          f"latency {opts.latency_ms:g} ms, best of {opts.repeat})")
    print(f"{'N':>5} {'case':<9} {'requests':>8} {'minimum':>7} {'req ratio':>9} "
          f"{'time ms':>8} {'min ms':>7} {'time ratio':>10}")
    worst = 0.0
    for n in SIZES:
        for changed in (True, False):
            minimum = 1 + (math.ceil(n / TXN_MAX_OPS) if changed else 0)
            runs = [provider_sync(n, changed, latency) for _ in range(opts.repeat)]
            count, updated = runs[0][0], runs[0][2]
            if updated != changed:
                print(f"error: N={n} changed={changed}: diff said changes={updated}")
                return 1
            best = min(r[1] for r in runs)
            base = [minimal_sync(n, changed, latency) for _ in range(opts.repeat)]
            if base[0][0] != minimum:
                print(f"error: the hand-made minimum sent {base[0][0]} requests, not {minimum}")
                return 1
            base_best = min(b[1] for b in base)
            ratio = count / minimum
            worst = max(worst, ratio)
            print(f"{n:>5} {'changed' if changed else 'unchanged':<9} {count:>8} {minimum:>7} "
                  f"{ratio:>9.2f} {best * 1000:>8.1f} {base_best * 1000:>7.1f} "
                  f"{best / base_best:>10.2f}")
    print(f"worst request ratio: {worst:.2f} (goal: 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
