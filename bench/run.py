"""The receiver's benchmark suite: one command, a table, bench/results.json.

    .venv/bin/python bench/run.py            # full: 3 x 10 s per figure (about 9 minutes)
    .venv/bin/python bench/run.py --quick    # 1 x 3 s per figure, fewer latency pods

Servers (bench/server.py: the receiver as `receiver serve` builds it, on
the in-memory cluster seeded with a fleet; bench/bare.py: a bare Starlette
endpoint that only parses the JSON) run as separate processes pinned to
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
import http.client
import importlib.metadata
import json
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402  (bench/payloads.py)

SERVER_CORE = 0
LOAD_CORE = 1
HZ = os.sysconf("SC_CLK_TCK")
FIRST_DELAY_MS = 200  # wrk/post.lua holds each connection's first request this long
THROUGHPUT = ("alerts_repeat", "alerts_fresh", "heartbeat_single", "heartbeat_batch")
ALL = (*THROUGHPUT, "latency", "rss")
TARGETS = {
    "alerts": 0.25,  # of the bare endpoint's rate
    "heartbeat_single": 0.50,
    "latency_p99_ms": 25.0,
    "rss_bytes_per_pod": 2048,
}


# -- processes ----------------------------------------------------------------


@dataclass
class Proc:
    """A server process pinned to the server core, with a ready file and GET /healthz."""

    name: str
    script: str
    args: list[str]
    workdir: Path
    stderr_to: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ready_file(self) -> Path:
        return self.workdir / f"{self.name}.ready.json"

    @property
    def stdout_file(self) -> Path:
        return self.workdir / f"{self.name}.out"

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 120.0) -> Proc:
        for attempt in range(3):  # the free port may be taken between choosing and binding
            self.ready_file.unlink(missing_ok=True)
            cmd = [
                "taskset", "-c", str(SERVER_CORE), sys.executable, str(HERE / self.script),
                *self.args, "--ready", str(self.ready_file),
            ]  # fmt: skip
            with open(self.stdout_file, "wb") as out:
                err = open(self.stderr_to, "ab") if self.stderr_to else subprocess.DEVNULL  # noqa: SIM115
                try:
                    self.proc = subprocess.Popen(
                        cmd, stdout=out, stderr=err, cwd=ROOT, start_new_session=True
                    )
                finally:
                    if self.stderr_to:
                        err.close()  # type: ignore[union-attr]
            if self._wait_ready(timeout):
                return self
            self.stop()
            print(f"  {self.name} did not start (attempt {attempt + 1}); see {self.stdout_file}")
        raise RuntimeError(f"{self.name} did not start: {self.stdout_file.read_text()[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ready_file.exists():
                self.info = json.loads(self.ready_file.read_text())
                try:
                    status, _ = Client(self.port).get("/healthz")
                except OSError:
                    status = 0
                if status == 200:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


class Client:
    """Keep-alive HTTP/1.1 to 127.0.0.1."""

    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def post(self, path: str, body: str | bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers=self.headers)
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self.conn.close()


# -- measuring ------------------------------------------------------------------


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


# -- figures ----------------------------------------------------------------------


@dataclass
class Settings:
    duration: float
    repeats: int
    warmup: float
    connections: int
    fleet: int
    workloads: int
    latency_pods: int
    latency_sizes: list[int]
    latency_spacing: float
    rss_sizes: list[int]
    log_level: str
    token: str
    workdir: Path
    server_logs: Path | None


def receiver(s: Settings, name: str, pods: int) -> Proc:
    args = ["--pods", str(pods), "--workloads", str(s.workloads), "--log-level", s.log_level]
    if s.token:
        args += ["--token", s.token]
    stderr_to = s.server_logs / f"{name}.log" if s.server_logs else None
    return Proc(name, "server.py", args, s.workdir, stderr_to=stderr_to).start()


def throughput(s: Settings, figure: str, bare: Proc, stack: contextlib.ExitStack) -> dict[str, Any]:
    print(f"\n[{figure}] receiver with {s.fleet} pods in {s.workloads} workloads")
    server = receiver(s, figure, s.fleet)
    stack.callback(server.stop)
    ns = server.info["namespace"]
    by_workload: dict[str, list[str]] = server.info["pods"]
    pods = [p for w in sorted(by_workload) for p in by_workload[w]]
    windows = payloads.alert_windows(by_workload)
    if figure == "alerts_repeat":
        path, mode, per = "/api/v1/alerts", "static", 10
        bodies = [payloads.alert_webhook(ns, windows[0], "2026-01-01T11:58:30.123456789Z")]
    elif figure == "alerts_fresh":
        path, mode, per = "/api/v1/alerts", "fresh", 10
        bodies = [payloads.alert_webhook(ns, w, payloads.FRESH) for w in windows]
    elif figure == "heartbeat_single":
        path, mode, per = "/api/v1/heartbeats", "cycle", 1
        bodies = payloads.heartbeat_lines(ns, pods)
    else:
        path, mode, per = "/api/v1/heartbeats", "cycle", 100
        bodies = payloads.heartbeat_batches(ns, pods, 100)
    file = s.workdir / f"{figure}.bodies"
    file.write_text("\n".join(bodies) + "\n")
    sizes = sorted(len(b) for b in bodies)
    print(f"  {len(bodies)} distinct bodies, {sizes[len(sizes) // 2]} B (median), mode {mode}")

    # One request by hand first: it must be answered 200 with every item taken.
    check = bodies[0].replace(payloads.FRESH, "2026-01-01T11:00:00.000Z")
    client = Client(server.port, s.token)
    status, answer = client.post(path, check)
    client.close()
    checked = json.loads(answer)
    if status != 200:
        raise RuntimeError(f"{figure}: receiver answered {status}: {answer[:500]!r}")
    if "results" in checked and set(r["result"] for r in checked["results"]) != {"accepted"}:
        raise RuntimeError(f"{figure}: not every heartbeat accepted: {answer[:500]!r}")
    if "decisions" in checked and len(checked["decisions"]) != 10:
        raise RuntimeError(f"{figure}: not 10 decisions: {answer[:500]!r}")

    bare_url = f"http://127.0.0.1:{bare.port}{path}"
    url = f"http://127.0.0.1:{server.port}{path}"
    if s.warmup:
        wrk(bare_url, file, mode, s.warmup, s.connections, s.token)
        wrk(url, file, mode, s.warmup, s.connections, s.token)
    before = scrape(server.port)
    runs: list[dict[str, Any]] = []
    for r in range(s.repeats):
        b = wrk(bare_url, file, mode, s.duration, s.connections, s.token, bare)
        x = wrk(url, file, mode, s.duration, s.connections, s.token, server)
        runs.append({"bare": b, "receiver": x})
        print(
            f"  run {r + 1}: bare {b['rate']:8.0f}/s p99 {b['p99_ms']:6.1f} ms | receiver "
            f"{x['rate']:8.0f}/s p50 {x['p50_ms']:6.1f} ms p99 {x['p99_ms']:6.1f} ms "
            f"({x['rate'] / b['rate']:.1%}); server cpu {x['server_cpu']:.2f}, "
            f"core0 other {x['core0_other']:.2f} steal {x['core0_steal']:.2f}, "
            f"errors {x['errors']}/{b['errors']}"
        )
    after = scrape(server.port)
    server.stop()

    result: dict[str, Any] = {
        "path": path,
        "mode": mode,
        "items_per_request": per,
        "distinct_bodies": len(bodies),
        "body_bytes_median": sizes[len(sizes) // 2],
        "runs": runs,
    }
    for who in ("bare", "receiver"):
        result[who] = {
            key: statistics.median(run[who][key] for run in runs)
            for key in ("rate", "p50_ms", "p99_ms")
        }
        result[who]["items_per_s"] = result[who]["rate"] * per
        result[who]["errors"] = sum(run[who]["errors"] for run in runs)
    result["ratio"] = result["receiver"]["rate"] / result["bare"]["rate"]
    result["ratio_per_run"] = [run["receiver"]["rate"] / run["bare"]["rate"] for run in runs]
    result["core0_other_max"] = max(run["receiver"]["core0_other"] for run in runs)
    result["core0_steal_max"] = max(
        run[who]["core0_steal"] for run in runs for who in ("bare", "receiver")
    )
    if path == "/api/v1/alerts":
        signals = total(after, "remediation_signals_received_total", source="alertmanager") - total(
            before, "remediation_signals_received_total", source="alertmanager"
        )
        blocked = by_label(before, after, "remediation_blocked_decisions_total", "reason")
        actions = by_label(before, after, "remediation_actions_total", "outcome")
        result["decisions"] = {
            "signals": signals,
            "blocked_by_reason": blocked,
            "actions_by_outcome": actions,
            "duplicate_share": blocked.get("duplicate", 0.0) / signals if signals else None,
        }
        # Since the server started: the check request and warm-up included.
        result["decisions_since_start"] = {
            "signals": total(after, "remediation_signals_received_total", source="alertmanager"),
            "blocked_by_reason": by_label(
                {}, after, "remediation_blocked_decisions_total", "reason"
            ),
            "actions_by_outcome": by_label({}, after, "remediation_actions_total", "outcome"),
            "escalations": by_label({}, after, "remediation_escalations_total", "cause"),
        }
        print(f"  decisions in the measured runs: {result['decisions']}")
    else:
        beats = by_label(before, after, "remediation_heartbeats_received_total", "status")
        result["heartbeats_counted"] = beats
        missed = total(after, "remediation_heartbeat_deadlines_missed_total")
        result["deadlines_missed"] = missed
    return result


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


def rss(s: Settings, stack: contextlib.ExitStack) -> dict[str, Any]:
    """VmRSS of live servers: N pods seeded, then every pod tracked after one heartbeat.

    Three readings per server: right after it answers /healthz, before its first tick
    (the in-memory cluster's pods, nothing tracked yet: checked with the tracked-pods
    gauge), then after every pod pushed one heartbeat and two ticks passed (the deadline
    tracker holds an entry per pod). The 0-pod server takes the same pushes for pods it
    does not know, so both run the same code paths.
    """
    out: dict[str, Any] = {}
    for size in [0, *s.rss_sizes]:
        name = f"rss_{size}"
        print(f"\n[{name}] receiver with {size} pods")
        server = receiver(s, name, size)
        stack.callback(server.stop)
        seeded = server.rss_bytes()
        untracked = total(scrape(server.port), "remediation_heartbeat_tracked_pods") == 0
        ns = server.info["namespace"]
        pods = [p for w in sorted(server.info["pods"]) for p in server.info["pods"][w]]
        client = Client(server.port, s.token)
        push_all_heartbeats(client, ns, pods or [f"nobody-{i}" for i in range(1000)])
        client.close()
        time.sleep(2.5)  # ticks: every expected pod watched
        tracked_rss = server.rss_bytes()
        tracked = total(scrape(server.port), "remediation_heartbeat_tracked_pods")
        server.stop()
        out[name] = {
            "pods": size,
            "tracked": tracked,
            "rss_seeded": seeded,
            "rss_seeded_before_first_tick": untracked,
            "rss_tracked": tracked_rss,
        }
        print(
            f"  VmRSS {seeded / 2**20:.1f} MiB seeded"
            f"{'' if untracked else ' (tick had already run)'}, {tracked_rss / 2**20:.1f} MiB "
            f"after every pod beat once; {tracked:.0f} pods tracked"
        )
    base = out["rss_0"]
    for size in s.rss_sizes:
        row = out[f"rss_{size}"]
        row["bytes_per_pod"] = (row["rss_tracked"] - base["rss_tracked"]) / size
        if row["rss_seeded_before_first_tick"] and base["rss_seeded_before_first_tick"]:
            row["cluster_bytes_per_pod"] = (row["rss_seeded"] - base["rss_seeded"]) / size
            row["tracking_bytes_per_pod"] = row["bytes_per_pod"] - row["cluster_bytes_per_pod"]
    return out


# -- the whole run ----------------------------------------------------------------


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
    p.add_argument("--no-auth", action="store_true", help="no bearer token (--insecure-no-auth)")
    p.add_argument("--server-logs", type=Path, help="keep servers' stderr (the decision log) here")
    p.add_argument("--out", type=Path, default=HERE / "results.json")
    args = p.parse_args(argv)
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
                bare = Proc("bare", "bare.py", [], s.workdir).start()
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
