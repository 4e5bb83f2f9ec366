"""Signal-to-action latency: a degraded heartbeat for a healthy pod, each pod once.

Measured by the receiver (receive -> first cluster call, from its histogram)
and by the client (POST -> complete answer), idle and under a saturating
load of ok heartbeats from the other pods, at each fleet size.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import payloads
from measure import (
    FIRST_DELAY_MS,
    LOAD_CORE,
    buckets,
    histogram_quantile,
    nearest_rank,
    scrape,
    wrk_env,
)
from processes import HERE, Client, Proc
from suite import Settings, receiver


def push_all_heartbeats(client: Client, ns: str, pods: Sequence[str], batch: int = 1000) -> None:
    """Every pod pushes one ok heartbeat (in batches), so the deadline tracker tracks it."""
    for i in range(0, len(pods), batch):
        body = json.dumps([payloads.heartbeat(ns, p) for p in pods[i : i + batch]])
        status, answer = client.post("/api/v1/heartbeats", body)
        if status != 200:
            raise RuntimeError(f"heartbeat push answered {status}: {answer[:300]!r}")


def latency(s: Settings, stack: contextlib.ExitStack) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in s.latency_sizes:
        for phase in ("idle", "loaded"):
            name = f"latency_{size}_{phase}"
            print(f"\n[{name}] receiver with {size} pods in {s.workloads} workloads")
            server = receiver(s, name, size)
            stack.callback(server.stop)
            out[name] = latency_phase(s, server, size, phase)
            server.stop()
    return out


def latency_phase(s: Settings, server: Proc, size: int, phase: str) -> dict[str, Any]:
    ns = server.info["namespace"]
    by_workload: dict[str, list[str]] = server.info["pods"]
    workloads = sorted(by_workload)
    client = Client(server.port, s.token)
    everyone = [p for w in workloads for p in by_workload[w]]
    push_all_heartbeats(client, ns, everyone)
    time.sleep(1.5)  # a tick: the tracker watches every pod the runbook expects beats from
    chosen = [
        by_workload[workloads[i % len(workloads)]][i // len(workloads)]
        for i in range(s.latency_pods)
    ]
    load = None
    if phase == "loaded":
        others = sorted(set(everyone) - set(chosen))
        file = s.workdir / f"latency_{size}.bodies"
        file.write_text("\n".join(payloads.heartbeat_lines(ns, others)) + "\n")
        seconds = s.latency_pods * s.latency_spacing + 4
        cmd = [
            "taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{s.connections}",
            f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(HERE / "wrk" / "post.lua"),
            "-H", "Content-Type: application/json",
            *(["-H", f"Authorization: Bearer {s.token}"] if s.token else []),
            f"http://127.0.0.1:{server.port}/api/v1/heartbeats",
        ]  # fmt: skip
        env = wrk_env(file, "cycle", s.connections)
        load = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
    try:
        before = scrape(server.port)
        samples: list[float] = []
        outcomes: dict[str, int] = {}
        start = time.monotonic()
        for i, pod in enumerate(chosen):
            pause = start + i * s.latency_spacing - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            body = json.dumps(payloads.heartbeat(ns, pod, "degraded", "p99 latency 4x the fleet"))
            t0 = time.perf_counter()
            status, answer = client.post("/api/v1/heartbeats", body)
            samples.append(time.perf_counter() - t0)
            outcome = f"http {status}"
            if status == 200:
                decisions = json.loads(answer).get("decisions", [])
                acts = [a["outcome"] for d in decisions for a in d["actions"]]
                blocks = [b["reason"] for d in decisions for b in d["blocked"]]
                outcome = ",".join(acts + [f"blocked {b}" for b in blocks]) or "no decision"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        after = scrape(server.port)
    finally:
        client.close()
        if load is not None:
            try:
                load_out, _ = load.communicate(timeout=s.latency_pods * s.latency_spacing + 60)
            finally:
                if load.poll() is None:
                    load.kill()
                    load.wait()
    fine = buckets(before, after, "bench_signal_to_action_seconds")
    coarse = buckets(before, after, "remediation_signal_to_action_seconds")
    observed = coarse[-1][1] if coarse else 0
    within = next((c for le, c in coarse if abs(le - 0.025) < 1e-9), 0.0)
    result: dict[str, Any] = {
        "pods": size,
        "phase": phase,
        "signals": len(chosen),
        "spacing_ms": s.latency_spacing * 1000,
        "outcomes": outcomes,
        "client_ms": {
            "p50": nearest_rank(samples, 0.50) * 1000,
            "p99": nearest_rank(samples, 0.99) * 1000,
            "max": max(samples) * 1000,
        },
        "server_observed": observed,
        "server_ms": {
            "p50": (histogram_quantile(0.50, fine) or 0) * 1000,
            "p99": (histogram_quantile(0.99, fine) or 0) * 1000,
        },
        "server_share_within_25ms": within / observed if observed else None,
        # above the finest histogram's last bucket (~1.2 s) a quantile is only a floor
        "server_p99_capped": bool(fine) and fine[-2][1] < 0.99 * observed,
        "server_coarse_buckets": coarse,
    }
    if load is not None:
        line = next((x for x in load_out.splitlines() if x.startswith("BENCHJSON ")), "")
        if line:
            summary = json.loads(line.split(" ", 1)[1])
            result["load_rate"] = summary["requests"] / (
                summary["duration_us"] / 1e6 - FIRST_DELAY_MS / 1000
            )
    print(
        f"  {len(chosen)} pods, one every {s.latency_spacing * 1000:.0f} ms: "
        f"client p50 {result['client_ms']['p50']:.2f} ms p99 {result['client_ms']['p99']:.2f} ms; "
        f"server p50 {result['server_ms']['p50']:.2f} ms p99 {result['server_ms']['p99']:.2f} ms "
        f"({observed:.0f} observed); outcomes {outcomes}"
        + (f"; background load {result['load_rate']:.0f} beats/s" if "load_rate" in result else "")
    )
    return result
