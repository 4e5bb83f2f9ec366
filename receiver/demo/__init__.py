"""Run the receiver on the embedded in-memory cluster with a simulated, misbehaving fleet.

The real server (HTTP API, console, /metrics) runs on the in-memory
cluster; simulated pods push heartbeats to it over HTTP and fall sick on a
schedule: one bad pod, a flapping pod, a hung pod, a systemic outage. Every
decision is printed with its reason as it happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import secrets
import socket
import sys
import tempfile
import textwrap
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import uvicorn

from receiver.cluster import MemoryCluster
from receiver.demo import show
from receiver.demo.fleet import LENGTH, SCENES, Fleet, seed
from receiver.report import logs
from receiver.runbook import RunbookInvalid, load_file
from receiver.service.auth import Tokens
from receiver.service.journal import JournalOptions
from receiver.service.runtime import Options, Service
from receiver.service.serve import Listen, build, memory_cluster, uvicorn_config

RUNBOOK = Path(str(resources.files("receiver.demo") / "runbook.yaml"))
JOURNAL = Path(tempfile.gettempdir()) / "receiver-demo" / "journal.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:8080", help="HOST:PORT (port 0: any free port)"
    )
    parser.add_argument("--runbook", type=Path, default=RUNBOOK, help="default: the demo runbook")
    parser.add_argument(
        "--duration", type=float, default=LENGTH, help="seconds the story runs (%(default)s)"
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep serving after the story, the fleet healthy, until Ctrl-C",
    )
    parser.add_argument(
        "--journal",
        type=Path,
        default=JOURNAL,
        help="the signal journal, for `receiver replay` (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print non-actions")


def run(args: argparse.Namespace) -> int:
    logs.setup("warning")
    # Notifications show as NOTIFY lines; the log notifier's own line would repeat them.
    logging.getLogger("receiver.act.notify").setLevel(logging.ERROR)
    try:
        runbook = load_file(args.runbook)
    except RunbookInvalid as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return 1
    host, _, port = args.listen.rpartition(":")
    busy = _busy(host, int(port))
    if busy:
        print(f"receiver demo: cannot listen on {args.listen} ({busy}); "
              "try --listen 127.0.0.1:0 for any free port", file=sys.stderr)  # fmt: skip
        return 2
    token = secrets.token_urlsafe(24)
    cluster = memory_cluster(runbook, ())
    seed(cluster)
    options = Options(
        runbook_path=args.runbook,
        tokens=Tokens((token.encode(),)),
        heartbeat_tokens=Tokens((token.encode(),)),
        tick_interval=0.25,
        journal=JournalOptions(path=args.journal),
    )
    service = build(options, runbook, cluster)
    # uvicorn binds the port itself: a socket handed to it loses TCP_NODELAY, and
    # every answer then waits ~40 ms for a delayed ACK (bench/README.md).
    config = uvicorn_config(service, Listen(host, int(port)), log_level="warning")
    return asyncio.run(_story(service, config, token, cluster=cluster, args=args))


async def _story(
    service: Service,
    config: uvicorn.Config,
    token: str,
    *,
    cluster: MemoryCluster,
    args: argparse.Namespace,
) -> int:
    server = uvicorn.Server(config)
    serving = asyncio.create_task(_serve(server))
    while not server.started:
        if serving.done():
            print(
                f"receiver demo: cannot listen on {args.listen}; try --listen 127.0.0.1:0",
                file=sys.stderr,
            )
            return 2
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://{config.host}:{port}"
    print(f"receiver demo: serving on {base}  (console {base}/ , metrics {base}/metrics)")
    print(f"  webhook/admin token for this run: {token}")
    print(f"  runbook: {args.runbook}")
    print("  fleet: shop/checkout (6 pods), shop/web (3 pods), each pushing a heartbeat every 1s\n")
    started = time.time()
    fleet = Fleet(cluster, url=f"{base}/api/v1/heartbeats", token=token, started=started)
    printer = asyncio.create_task(_print(service, started, args.verbose))
    try:
        await fleet.run(time.time, args.duration)
        await asyncio.sleep(0.5)
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
    entries = service.pipeline.decisions.since()
    print("\nsummary")
    for line in show.summary(entries):
        print("  " + line)
    print(f"  pods now: {_states(service)}")
    if service.pipeline.journal is not None:
        service.pipeline.journal.flush()
    print(f"  journal: {args.journal}")
    print(f"  try a runbook change on it: receiver replay --runbook CHANGED.yaml {args.journal}")
    keeper = None
    if args.keep_running:
        print(f"\nstill serving on {base}, the fleet healthy again; Ctrl-C to stop")
        keeper = asyncio.create_task(fleet.run(time.time, math.inf, story=False))
    else:
        server.should_exit = True
    await serving
    if keeper is not None:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    return 0


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn exits the process when it cannot start; the caller says why instead.
    with contextlib.suppress(SystemExit):
        await server.serve()


def _busy(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None; port 0 is always free."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


async def _print(service: Service, started: float, verbose: bool) -> None:
    seen = 0
    told = 0
    while True:
        elapsed = time.time() - started
        while told < len(SCENES) and SCENES[told].start <= elapsed:
            scene = SCENES[told]
            print(f"{scene.start:6.1f}s  --- {scene.title} ---")
            for line in textwrap.wrap(scene.expect, 90):
                print(f"         {line}")
            told += 1
        for entry in service.pipeline.decisions.since(seen):
            seen = entry["id"]
            for line in show.lines(entry, started, verbose=verbose):
                print(line)
        await asyncio.sleep(0.2)


def _states(service: Service) -> str:
    pods = service.pipeline.cluster.snapshot().pods.values()
    counts = Counter(str(pod.lifecycle.state) for pod in pods)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
