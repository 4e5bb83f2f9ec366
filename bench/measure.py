"""Measuring: wrk runs, how busy each core was, /metrics scrapes, histogram quantiles."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from processes import HERE, SERVER_CORE, Client, Proc
from prometheus_client.parser import text_string_to_metric_families

LOAD_CORE = 1
FIRST_DELAY_MS = 200  # wrk/post.lua holds each connection's first request this long


def core_ticks() -> dict[int, tuple[int, int, int]]:
    """Per core: (busy, total, steal) jiffies since boot; busy includes steal."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            name, *values = line.split()
            v = [int(x) for x in values]
            idle = v[3] + v[4]
            out[int(name[3:])] = (sum(v[:8]) - idle, sum(v[:8]), v[7])
    return out


Ticks = dict[int, tuple[int, int, int]]


def busy(before: Ticks, after: Ticks, core: int, field: int = 0) -> float:
    """Share of a core's time busy (field 0) or stolen by the hypervisor (field 2)."""
    b = after[core][field] - before[core][field]
    t = after[core][1] - before[core][1]
    return b / t if t else 0.0


def wrk(
    url: str,
    bodies: Path,
    mode: str,
    duration: float,
    connections: int,
    token: str,
    server: Proc | None = None,
) -> dict[str, Any]:
    """One wrk run; its summary, the rate, and how busy the cores and the server were."""
    env = wrk_env(bodies, mode, connections)
    cmd = [
        "taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{connections}",
        f"-d{duration:g}s", "--timeout", "10s", "-s", str(HERE / "wrk" / "post.lua"),
        "-H", "Content-Type: application/json",
    ]  # fmt: skip
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd.append(url)
    cores0 = core_ticks()
    cpu0 = server.cpu_seconds() if server else 0.0
    wall0 = time.monotonic()
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    wall = time.monotonic() - wall0
    cpu = (server.cpu_seconds() - cpu0) if server else 0.0
    cores1 = core_ticks()
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    out: dict[str, Any] = json.loads(line.split(" ", 1)[1])
    # The first FIRST_DELAY_MS of the run nothing is sent (see wrk/post.lua).
    out["rate"] = out["requests"] / (out["duration_us"] / 1e6 - FIRST_DELAY_MS / 1000)
    out["p50_ms"] = out["lat_p50_us"] / 1000
    out["p99_ms"] = out["lat_p99_us"] / 1000
    out["errors"] = sum(v for k, v in out.items() if k.startswith("errors_"))
    out["core0_busy"] = round(busy(cores0, cores1, SERVER_CORE), 3)
    out["core1_busy"] = round(busy(cores0, cores1, LOAD_CORE), 3)
    out["core0_steal"] = round(busy(cores0, cores1, SERVER_CORE, 2), 3)
    if server:
        out["server_cpu"] = round(cpu / wall, 3)
        out["core0_other"] = round(max(0.0, out["core0_busy"] - cpu / wall), 3)
    return out


def wrk_env(bodies: Path, mode: str, connections: int) -> dict[str, str]:
    return dict(
        os.environ,
        BENCH_BODIES=str(bodies),
        BENCH_MODE=mode,
        BENCH_CONNECTIONS=str(connections),
        BENCH_FIRST_DELAY_MS=str(FIRST_DELAY_MS),
    )


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    client = Client(port)
    try:
        status, body = client.get("/metrics")
    finally:
        client.close()
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def total(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    return sum(
        value
        for labels, value in metrics.get(name, [])
        if all(labels.get(k) == v for k, v in match.items())
    )


def by_label(
    before: dict[str, Any], after: dict[str, Any], name: str, label: str
) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in after.get(name, []):
        out[labels.get(label, "")] = out.get(labels.get(label, ""), 0.0) + value
    for labels, value in before.get(name, []):
        out[labels.get(label, "")] = out.get(labels.get(label, ""), 0.0) - value
    return {k: v for k, v in sorted(out.items()) if v}


def buckets(before: dict[str, Any], after: dict[str, Any], name: str) -> list[tuple[float, float]]:
    """Cumulative (le, count) of a histogram between two scrapes."""

    def read(m: dict[str, Any]) -> dict[float, float]:
        return {float(labels["le"]): value for labels, value in m.get(f"{name}_bucket", [])}

    a, b = read(after), read(before)
    return sorted((le, a[le] - b.get(le, 0.0)) for le in a)


def histogram_quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket."""
    if not cumulative or cumulative[-1][1] == 0:
        return None
    rank = q * cumulative[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in cumulative:
        if count >= rank:
            if math.isinf(le):
                return lower_le
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return None


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
