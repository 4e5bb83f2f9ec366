"""The receiver's benchmark suite: one command, a table, bench/results/run-<commit>.json.

    .venv/bin/python bench/run.py            # full: 3 x 10 s per figure (about 9 minutes)
    .venv/bin/python bench/run.py --quick    # 1 x 3 s per figure, fewer latency pods

Servers (bench/server.py: the receiver as `receiver serve` builds it, on
the in-memory cluster seeded with a fleet; bench/bare.py: a bare Starlette
endpoint that only parses the JSON, with the receiver's parser) run as separate processes pinned to
core 0 (`taskset -c 0`); wrk runs pinned to core 1 with 64 keep-alive
connections; this driver pins itself to core 1 too, so that core 0 is the
server's alone (other users of the machine aside: every run records how
busy each core was and how much of core 0 went to someone else).

Figures:
  alerts_repeat     the same 10-alert Alertmanager v4 payload (~5.9 KB) again and
                    again: Alertmanager's re-sends, the idempotency path
  alerts_fresh      10-alert payloads with a startsAt unique to each request,
                    rotating over the fleet's pods (wrk Lua): new occurrences
  heartbeat_single  one ~200 B heartbeat (status ok) per POST, rotating over every pod
  heartbeat_batch   100 heartbeats per POST, rotating over every pod
  latency           a degraded heartbeat for a healthy pod -> the cluster call
                    (server histogram) and -> the answer (client), each pod once,
                    idle and under saturating heartbeat load, at two fleet sizes
  rss               VmRSS per tracked pod at 10k and 100k pods, against 0 pods

Every process started is stopped (SIGTERM, then SIGKILL) on the way out,
also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the suite's modules, when run as a script

from latency import latency  # noqa: E402
from measure import LOAD_CORE  # noqa: E402
from processes import Proc  # noqa: E402
from record import default_out, refusal  # noqa: E402
from report import THROUGHPUT, machine, table  # noqa: E402
from rss import rss  # noqa: E402
from suite import Settings  # noqa: E402
from throughput import throughput  # noqa: E402

ALL = (*THROUGHPUT, "latency", "rss")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the remediation receiver.")
    p.add_argument("--quick", action="store_true", help="1 x 3 s runs, 100 latency pods")
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 3)")
    p.add_argument("--repeats", type=int, help="runs per figure, median taken (3; quick 1)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per server (2; quick 1)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--fleet", type=int, default=1000, help="pods for throughput figures")
    p.add_argument("--workloads", type=int, default=10)
    p.add_argument("--latency-pods", type=int, help="distinct pods per latency phase (300)")
    p.add_argument("--latency-sizes", default="1000,10000")
    p.add_argument("--latency-spacing-ms", type=float, default=20.0)
    p.add_argument("--rss-sizes", default="10000,100000")
    p.add_argument("--only", default=",".join(ALL), help=f"comma-separated of {','.join(ALL)}")
    p.add_argument(
        "--log-level", default="info", help="receiver log level (receiver serve's default)"
    )
    p.add_argument(
        "--bare-parser",
        choices=("orjson", "json"),
        default="orjson",
        help="the bare endpoint's JSON parser: the receiver's (orjson) or the stdlib's",
    )
    p.add_argument("--no-auth", action="store_true", help="no bearer token (--insecure-no-auth)")
    p.add_argument("--server-logs", type=Path, help="keep servers' stderr (the decision log) here")
    p.add_argument(
        "--out",
        type=Path,
        help="the results file (default bench/results/run-<commit>.json); never overwritten",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = p.parse_args(argv)
    args.out = args.out or default_out("run")
    refused = refusal(args.out, args.force)
    if refused:
        p.error(refused)
    quick = args.quick
    args.duration = args.duration or (3.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 2.0)
    args.latency_pods = args.latency_pods or (100 if quick else 300)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(args.only) - set(ALL)
    if unknown:
        p.error(f"--only: unknown {sorted(unknown)}; choose from {', '.join(ALL)}")
    return args


@contextlib.contextmanager
def terminated_on_sigterm() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every server is stopped on the way out."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("bench: needs wrk and taskset on PATH", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("bench: needs two cores (server on core 0, load on core 1)", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {LOAD_CORE})  # the driver never competes with the server
    if args.server_logs:
        args.server_logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "auth": "none (--insecure-no-auth)" if args.no_auth else "bearer token",
    }
    print(json.dumps(results["machine"]))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as tmp, terminated_on_sigterm():
        s = Settings(
            duration=args.duration,
            repeats=args.repeats,
            warmup=args.warmup,
            connections=args.connections,
            fleet=args.fleet,
            workloads=args.workloads,
            latency_pods=args.latency_pods,
            latency_sizes=[int(x) for x in args.latency_sizes.split(",") if x],
            latency_spacing=args.latency_spacing_ms / 1000,
            rss_sizes=[int(x) for x in args.rss_sizes.split(",") if x],
            log_level=args.log_level,
            token="" if args.no_auth else secrets.token_urlsafe(24),
            workdir=Path(tmp),
            server_logs=args.server_logs,
        )
        with contextlib.ExitStack() as stack:
            wanted = [f for f in THROUGHPUT if f in args.only]
            if wanted:
                bare = Proc("bare", "bare.py", ["--parser", args.bare_parser], s.workdir).start()
                stack.callback(bare.stop)
                for figure in wanted:
                    results[figure] = throughput(s, figure, bare, stack)
                bare.stop()
            if "latency" in args.only:
                results["latency"] = latency(s, stack)
            if "rss" in args.only:
                results["rss"] = rss(s, stack)
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n" + table(results))
    print(f"\nwritten {args.out} ({results['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        print(
            f"\nbench: interrupted ({exc or 'Ctrl-C'}); every server was stopped", file=sys.stderr
        )
        sys.exit(130)
