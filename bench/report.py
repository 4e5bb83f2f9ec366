"""What a run reports: the machine and code measured, and the table printed at the end."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from processes import ROOT

THROUGHPUT = ("alerts_repeat", "alerts_fresh", "heartbeat_single", "heartbeat_batch")
TARGETS = {
    "alerts": 0.25,  # of the bare endpoint's rate
    "heartbeat_single": 0.50,
    "latency_p99_ms": 25.0,
    "rss_bytes_per_pod": 2048,
}


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    versions: dict[str, str | None] = {}
    for dist in ("uvicorn", "starlette", "uvloop", "httptools", "prometheus_client"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": wrk_version[1] if len(wrk_version) > 1 else "?",
        **versions,
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        **source_state(),
    }


def source_state() -> dict[str, Any]:
    """Which receiver code was measured (read-only git: no index refresh, no locks)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "receiver_uncommitted": git("diff", "--stat", "HEAD", "--", "receiver").splitlines()[-1:],
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'figure':<34} {'bare /s':>9} {'receiver /s':>12} {'items/s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'target':>8}  met",
    ]
    for figure in THROUGHPUT:
        r = results.get(figure)
        if not r:
            continue
        target = TARGETS["alerts"] if figure.startswith("alerts") else TARGETS.get(figure)
        met = "" if target is None else ("yes" if r["ratio"] >= target else "NO")
        lines.append(
            f"{figure:<34} {r['bare']['rate']:>9.0f} {r['receiver']['rate']:>12.0f} "
            f"{r['receiver']['items_per_s']:>10.0f} {r['receiver']['p50_ms']:>7.1f} "
            f"{r['receiver']['p99_ms']:>7.1f} {r['ratio']:>6.1%} "
            f"{'>=' + format(target, '.0%') if target else '':>8}  {met}"
        )
        if "decisions" in r:
            share = r["decisions"]["duplicate_share"]
            lines.append(f"{'  duplicate share of decisions':<34} {share:>9.1%}")
    lat = results.get("latency") or {}
    if lat:
        lines.append("")
        lines.append(
            f"{'signal-to-action (p50 / p99 ms)':<34} {'server':>15} {'client':>15} "
            f"{'target':>9}  met"
        )
        for r in lat.values():
            worst = max(r["server_ms"]["p99"], r["client_ms"]["p99"])
            met = "yes" if worst < TARGETS["latency_p99_ms"] else "NO"
            label = f"{r['pods']} pods, {r['phase']} ({r['signals']} pods)"
            lines.append(
                f"{label:<34} {r['server_ms']['p50']:>6.2f} / {r['server_ms']['p99']:<6.2f} "
                f"{r['client_ms']['p50']:>6.2f} / {r['client_ms']['p99']:<6.2f} "
                f"{'p99<25':>9}  {met}"
            )
    mem = results.get("rss") or {}
    if mem:
        lines.append("")
        lines.append(
            f"{'RSS per tracked pod':<34} {'total B':>9} {'cluster B':>10} {'tracking B':>11} "
            f"{'target':>8}  met"
        )
        for r in mem.values():
            if not r["pods"]:
                continue
            met = "yes" if r["bytes_per_pod"] < TARGETS["rss_bytes_per_pod"] else "NO"
            cluster = r.get("cluster_bytes_per_pod")
            tracking = r.get("tracking_bytes_per_pod")
            lines.append(
                f"{str(r['pods']) + ' pods':<34} {r['bytes_per_pod']:>9.0f} "
                f"{'?' if cluster is None else format(cluster, '.0f'):>10} "
                f"{'?' if tracking is None else format(tracking, '.0f'):>11} "
                f"{'<2048':>8}  {met}"
            )
    return "\n".join(lines)
