"""What every figure shares: the run's settings and how a receiver server is started."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from processes import Proc


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
