"""Detection: how soon past its deadline a silent pod is declared missed, and what it costs.

One receiver (bench/server.py, pinned to core 0, runbook bench/detection.yaml:
beat every 5 s, missed after 15 s, a missed pod is drained) tracks a fleet
of Deployments of 100 pods each (`--per-workload`: a guard's cost per
decision grows with the size of the pod's workload, see bench/README.md).
This driver, pinned to core 1, keeps every pod beating every 5 s in batches
of 100 (paced evenly over the interval), probes GET /healthz every 10 ms and
reads the decision log every 10 ms. After a warm-up longer than one deadline
(so the start-up deadlines have passed) a chosen number of pods, spread
over the workloads, fall silent at once; their deadlines then expire over
the next interval, as they would in a real outage.

Per scenario (fleet size x silent pods) it reports:
- delay past the deadline, p50 / p99 / max: the miss's `startsAt` (the
  receiver's clock when it declared the pod missed; same machine, same
  clock) minus the deadline, taken as the start of the pod's last POST + 15 s
  (so a slow last POST counts against the receiver); and the same for when
  the decision was first seen in the decision log (adds up to the 10 ms poll);
- undetected silent pods and false misses (HeartbeatMissed for a pod that
  kept beating, at any time of the run);
- /healthz p99 and max from the silence to the end, and max over the whole
  run (start-up and the first deadlines included);
- beats accepted per second in the steady state, the pacing lag (how late
  the driver could send, i.e. whether the receiver kept up) and the share of
  core 0 the receiver used.

    .venv/bin/python bench/detection.py                       # 10k and 100k x 1, 100, 1000
    .venv/bin/python bench/detection.py --sizes 10000 --silent 1 --out /tmp/d.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from measure import (
    LOAD_CORE,
    buckets,
    busy,
    core_ticks,
    histogram_quantile,
    nearest_rank,
    scrape,
)
from processes import HERE, Client, Proc
from report import machine, source_state

INTERVAL = 5.0
MISS_AFTER = 3
DEADLINE = INTERVAL * MISS_AFTER
PROBE_EVERY = 0.01
SENDERS = 4


@dataclass
class Beaters:
    """Threads that send every batch once per interval, each at its own offset."""

    port: int
    bodies: list[bytes]
    start: float
    stop: threading.Event = field(default_factory=threading.Event)
    last_full: list[float] = field(default_factory=list)  # start of the last original send
    original: list[bytes] = field(default_factory=list)
    accepted: int = 0
    failed: int = 0
    lag: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[threading.Thread]:
        self.original = list(self.bodies)
        self.last_full = [0.0] * len(self.bodies)
        threads = [
            threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(SENDERS)
        ]
        for t in threads:
            t.start()
        return threads

    def _send(self, first: int) -> None:
        client = Client(self.port)
        n = len(self.bodies)
        step = INTERVAL / n
        cycle = 0
        while not self.stop.is_set():
            for b in range(first, n, SENDERS):
                at = self.start + cycle * INTERVAL + b * step
                wait = at - time.time()
                if wait > 0 and self.stop.wait(wait):
                    return
                body = self.bodies[b]
                sent = time.time()
                status, answer = client.post("/api/v1/heartbeats", body)
                with self.lock:
                    self.lag = max(self.lag, sent - at)
                    if status == 200:
                        self.accepted += answer.count(b'"accepted"')
                    else:
                        self.failed += 1
                if body is self.original[b]:
                    self.last_full[b] = sent
            cycle += 1


@dataclass
class Probe:
    """GET /healthz every PROBE_EVERY seconds: (when, seconds) for each answer."""

    port: int
    stop: threading.Event
    samples: list[tuple[float, float]] = field(default_factory=list)

    def run(self) -> None:
        client = Client(self.port)
        while not self.stop.wait(PROBE_EVERY):
            began = time.perf_counter()
            client.get("/healthz")
            self.samples.append((time.time(), time.perf_counter() - began))


@dataclass
class Misses:
    """The decision log read every PROBE_EVERY seconds: each HeartbeatMissed firing."""

    port: int
    stop: threading.Event
    found: dict[str, tuple[float, float]] = field(default_factory=dict)  # pod: declared, seen

    def run(self) -> None:
        client = Client(self.port)
        after = 0
        while not self.stop.wait(PROBE_EVERY):
            _, raw = client.get(f"/api/v1/decisions?since={after}&limit=2000")
            seen = time.time()
            for entry in json.loads(raw)["decisions"]:
                after = max(after, entry["id"])
                signal = entry["signal"]
                if signal and signal["name"] == "HeartbeatMissed" and signal["status"] == "firing":
                    pod = signal["target"].split("/", 1)[1]
                    self.found.setdefault(pod, (_instant(signal["startsAt"]), seen))


def scenario(
    size: int,
    silent: int,
    *,
    per_workload: int,
    batch: int,
    warm: float,
    workdir: Path,
    journal: bool = False,
) -> dict[str, Any]:
    workloads = str(max(1, size // per_workload))
    kept = ["--journal", str(workdir / f"journal-{size}-{silent}.jsonl")] if journal else []
    server = Proc(
        f"detection_{size}_{silent}",
        "server.py",
        [
            "--runbook",
            str(HERE / "detection.yaml"),
            "--pods",
            str(size),
            "--workloads",
            workloads,
            "--loop-monitor",
            *kept,
        ],
        workdir,
    )
    with contextlib.ExitStack() as stack:
        server.start(timeout=300)
        stack.callback(server.stop)
        result = _measure(server, silent, batch=batch, warm=warm)
        return {"per_workload": per_workload, **result}


def _measure(server: Proc, silent: int, *, batch: int, warm: float) -> dict[str, Any]:
    ns: str = server.info["namespace"]
    by_workload: dict[str, list[str]] = server.info["pods"]
    # interleave the workloads, so that any run of pods spreads over all of them
    names = sorted(by_workload)
    longest = max(len(by_workload[w]) for w in names)
    pods = [by_workload[w][i] for i in range(longest) for w in names if i < len(by_workload[w])]
    batches = [pods[i : i + batch] for i in range(0, len(pods), batch)]
    bodies = [_body(ns, b) for b in batches]
    stop = threading.Event()
    beaters = Beaters(server.port, bodies, start=time.time() + 0.2, stop=stop)
    probe, misses = Probe(server.port, stop), Misses(server.port, stop)
    threads = beaters.run()
    threads += [threading.Thread(target=x.run, daemon=True) for x in (probe, misses)]
    for t in threads[SENDERS:]:
        t.start()
    try:
        time.sleep(warm)
        cpu0, accepted0, t0, ticks0 = (
            server.cpu_seconds(),
            beaters.accepted,
            time.time(),
            core_ticks(),
        )
        quiet = set(pods[:: max(1, len(pods) // silent)][:silent])
        silenced_at = time.time()
        for b, names in enumerate(batches):  # the senders take the new bodies from now
            if quiet & set(names):
                beaters.bodies[b] = _body(ns, [p for p in names if p not in quiet])
        cutoff = silenced_at + INTERVAL + DEADLINE + 10
        while time.time() < cutoff and not quiet <= misses.found.keys():
            time.sleep(0.1)
        time.sleep(2)  # a little more beating, for false misses
        cpu1, accepted1, t1, ticks1 = (
            server.cpu_seconds(),
            beaters.accepted,
            time.time(),
            core_ticks(),
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    # Scraped once, at the end: a scrape's own work lands after its answer.
    loop = scrape(server.port)
    where = {p: i for i, names in enumerate(batches) for p in names}
    deadline = {p: beaters.last_full[where[p]] + DEADLINE for p in quiet}
    declared = [misses.found[p][0] - deadline[p] for p in quiet if p in misses.found]
    seen = [misses.found[p][1] - deadline[p] for p in quiet if p in misses.found]
    during = [s for at, s in probe.samples if at >= silenced_at]
    return {
        "pods": len(pods),
        "silent": len(quiet),
        "detected": len(declared),
        "false_misses": sorted(set(misses.found) - quiet),
        "delay_ms": _quantiles(declared),
        "seen_delay_ms": _quantiles(seen),
        "healthz_ms": _quantiles(during),
        "healthz_max_whole_run_ms": round(max(s for _, s in probe.samples) * 1000, 1),
        "healthz_samples": len(during),
        "beats_per_s": round((accepted1 - accepted0) / (t1 - t0)),
        "paced_beats_per_s": round((len(pods) - len(quiet)) / INTERVAL),  # the silent send none
        "failed_posts": beaters.failed,
        "pacing_lag_max_ms": round(beaters.lag * 1000, 1),
        "server_core_share": round((cpu1 - cpu0) / (t1 - t0), 3),
        "core0_others_share": round(busy(ticks0, ticks1, 0) - (cpu1 - cpu0) / (t1 - t0), 3),
        # The whole run, start-up included: the loop's own work between two 5 ms probes
        # (what contention cannot inflate), and the lag (what a request waits, contention in).
        "loop_busy_ms": _histogram(loop, "bench_loop_busy_seconds"),
        "loop_lag_ms": _histogram(loop, "bench_loop_lag_seconds"),
    }


def _histogram(metrics: dict[str, Any], name: str) -> dict[str, float | None]:
    cumulative = buckets({}, metrics, name)
    p99 = histogram_quantile(0.99, cumulative)
    top = max((le for le, n in cumulative if n < cumulative[-1][1]), default=0.0)
    upper = next((le for le, n in cumulative if n == cumulative[-1][1]), None)  # max is below
    return {
        "p99": None if p99 is None else round(p99 * 1000, 2),
        "max_at_most": None if upper is None else round(upper * 1000, 1),
        "max_above": round(top * 1000, 1),
    }


def _body(ns: str, names: Sequence[str]) -> bytes:
    beats = [{"namespace": ns, "pod": p, "status": "ok", "interval": INTERVAL} for p in names]
    return json.dumps(beats, separators=(",", ":")).encode()


def _instant(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _quantiles(seconds: Sequence[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p99": None, "max": None}
    return {
        q: round(nearest_rank(seconds, v) * 1000, 1)
        for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| fleet, silent | delay past deadline p50 / p99 / max | seen in log p99 | "
        "/healthz p99 / max (whole run max) | loop busy p99 / max (whole run) | false misses | "
        "beats/s (paced) | core 0: receiver, others |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        d, s, h, b = r["delay_ms"], r["seen_delay_ms"], r["healthz_ms"], r["loop_busy_ms"]
        missing = r["silent"] - r["detected"]
        lines.append(
            f"| {r['pods']:,}, {r['silent']:,} | {d['p50']} / {d['p99']} / {d['max']} ms"
            + (f" ({missing} undetected)" if missing else "")
            + f" | {s['p99']} ms | {h['p99']} / {h['max']} ({r['healthz_max_whole_run_ms']}) ms"
            f" | {b['p99']} / {b['max_above']}-{b['max_at_most']} ms"
            f" | {len(r['false_misses'])} | {r['beats_per_s']:,} ({r['paced_beats_per_s']:,})"
            f" | {r['server_core_share']:.0%}, {r['core0_others_share']:.0%} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="fleet sizes, comma separated")
    parser.add_argument("--silent", default="1,100,1000", help="pods falling silent")
    parser.add_argument("--batch", type=int, default=100, help="beats per POST")
    parser.add_argument(
        "--per-workload", type=int, default=100, help="pods per Deployment (default 100)"
    )
    parser.add_argument("--warm", type=float, default=DEADLINE + 5, help="seconds before")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--journal", action="store_true", help="the receiver keeps a signal journal (as the chart)"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="detection-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            for silent in (int(s) for s in args.silent.split(",")):
                name = f"{size}_{silent}"
                print(f"[{name}] {size} pods beating every {INTERVAL:g}s, {silent} fall silent")
                results[name] = scenario(size, silent, per_workload=args.per_workload,
                                         batch=args.batch, warm=args.warm,
                                         workdir=Path(tmp), journal=args.journal)  # fmt: skip
                print(json.dumps(results[name]))
    print(table(results))
    if args.out:
        record = {"machine": machine(), "source": source_state(), "results": results}
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
