"""The receiver under benchmark: `receiver serve` on the in-memory cluster, seeded with a fleet.

Built and run the way `receiver serve` does it (receiver.service.serve:
memory_cluster, build, serve -> uvicorn_config: uvloop, httptools, no
access log, one worker), with the JSON logging `receiver serve` sets up at
the chosen level. It listens on 127.0.0.1 on a port that was free a moment
before, writes a JSON ready file ({"port", "pid", "token"} plus the pod
names per workload) and serves; the caller polls GET /healthz.

uvicorn binds the port itself, as under `receiver serve`: handing uvicorn
a pre-bound socket (`Server.serve(sockets=...)`) loses TCP_NODELAY on
accepted connections under uvloop, and every response then waits ~40 ms
for a delayed ACK.

The one addition is a finer histogram of the receiver's own
signal-to-action measurement (`bench_signal_to_action_seconds`, observed
with the very value the receiver puts into
`remediation_signal_to_action_seconds`, whose coarsest useful buckets are
10 ms and 25 ms).

    python bench/server.py --pods 1000 --workloads 10 --ready /tmp/ready.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram

from receiver.metrics import Metrics
from receiver.report import logs
from receiver.runbook import load_file
from receiver.scenario.spec import FleetSpec
from receiver.service.auth import Tokens
from receiver.service.journal import JournalOptions
from receiver.service.runtime import Options
from receiver.service.serve import Listen, build, memory_cluster, serve

HERE = Path(__file__).resolve().parent
NAMESPACE = "bench"
# 0.1 ms .. ~1.2 s, 25% apart
FINE_BUCKETS = tuple(round(0.0001 * 1.25**i, 7) for i in range(43))


def fleet(pods: int, workloads: int) -> tuple[FleetSpec, ...]:
    """`pods` pods over `workloads` Deployments w00, w01, ... as evenly as possible."""
    if pods == 0:
        return ()
    base, extra = divmod(pods, workloads)
    return tuple(
        FleetSpec(
            namespace=NAMESPACE,
            kind="Deployment",
            name=f"w{i:02d}",
            replicas=base + (1 if i < extra else 0),
            labels={"app": f"w{i:02d}", "tier": "backend"},
        )
        for i in range(workloads)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runbook", type=Path, default=HERE / "runbook.yaml")
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--workloads", type=int, default=10)
    parser.add_argument("--ready", type=Path, required=True, help="ready file to write")
    parser.add_argument("--token", default="", help="bearer token (empty: no auth)")
    parser.add_argument("--tick-interval", type=float, default=1.0)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--loop-monitor", action="store_true", help="export the event loop's own busy spells"
    )
    parser.add_argument("--journal", type=Path, help="keep the signal journal at this path")
    args = parser.parse_args()

    logs.setup(args.log_level)
    runbook = load_file(args.runbook)
    tokens = Tokens((args.token.encode(),)) if args.token else Tokens(())
    options = Options(
        runbook_path=args.runbook,
        tokens=tokens,
        heartbeat_tokens=tokens,
        tick_interval=args.tick_interval,
        journal=None if args.journal is None else JournalOptions(path=args.journal),
    )
    cluster = memory_cluster(runbook, fleet(args.pods, args.workloads))
    registry = CollectorRegistry()
    service = build(options, runbook, cluster, metrics=Metrics(registry))
    _finer_latency(service, registry)
    if args.loop_monitor:
        _loop_monitor(service, registry)

    port = free_port()
    by_workload: dict[str, list[str]] = {}
    for key, pod in sorted(cluster.snapshot().pods.items()):
        owner = pod.owner.name if pod.owner else ""
        by_workload.setdefault(owner, []).append(key.name)
    ready = {
        "port": port,
        "pid": os.getpid(),
        "token": args.token,
        "namespace": NAMESPACE,
        "pods": by_workload,
    }
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(json.dumps(ready))
    tmp.replace(args.ready)
    serve(service, Listen("127.0.0.1", port), log_level=args.log_level)
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _finer_latency(service: object, registry: CollectorRegistry) -> None:
    """Observe the receiver's own signal-to-action value into a finer histogram too."""
    fine = Histogram(
        "bench_signal_to_action_seconds",
        "remediation_signal_to_action_seconds, with finer buckets (bench only).",
        buckets=FINE_BUCKETS,
        registry=registry,
    )
    latency = service.metrics.latency  # type: ignore[attr-defined]
    original = latency.observe

    def observe(seconds: float) -> None:
        original(seconds)
        fine.observe(seconds)

    latency.observe = observe


LOOP_PROBE = 0.005


def _loop_monitor(service: object, registry: CollectorRegistry) -> None:
    """How long the event loop is held, told apart from how long the process waits for a core.

    A task wakes every 5 ms and records, for each wake-up, the lag past its
    time (what a request waiting then would have waited) and the CPU time
    this thread spent meanwhile (the part of the lag that is the receiver's
    own work, whatever else runs on the machine).
    """
    lag = Histogram("bench_loop_lag_seconds", "Event loop wake-up lag.",
                    buckets=FINE_BUCKETS, registry=registry)  # fmt: skip
    busy = Histogram("bench_loop_busy_seconds", "CPU time of this thread between wake-ups.",
                     buckets=FINE_BUCKETS, registry=registry)  # fmt: skip
    worst = Gauge("bench_loop_busy_max_seconds", "Longest busy spell.", registry=registry)

    async def monitor() -> None:
        while True:
            began, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(LOOP_PROBE)
            spent = time.thread_time() - cpu
            lag.observe(max(0.0, time.perf_counter() - began - LOOP_PROBE))
            busy.observe(spent)
            if spent > worst._value.get():
                worst.set(spent)

    original = service.lifespan  # type: ignore[attr-defined]

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(monitor())
        try:
            async with original(app):
                yield
        finally:
            task.cancel()

    service.lifespan = lifespan  # type: ignore[attr-defined]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        # stderr may be /dev/null (the decision log goes there): say it on stdout too
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        raise
