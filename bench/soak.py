"""Soak: minutes of never-repeating input against a live `receiver serve`; memory must stay flat.

    .venv/bin/python bench/soak.py                       # 5 minutes, figures every 10 s
    .venv/bin/python bench/soak.py --duration 60 --warmup 20 --out /tmp/soak.json

Every webhook carries alerts that were never seen before: a fresh alertname
on some, a fresh pod on each, a fresh fingerprint and startsAt, labels and
annotations near their bounds; every heartbeat names a pod never seen
before, with a long reason. Whatever the receiver keeps per input (decision
log, caches, metric series, per-pod lists) must be bounded, so after a
warm-up its resident memory (VmRSS) and the size of /metrics stop growing.
The figures: both sampled every `--every` seconds, and their growth from
the end of the warm-up to the end, in total and as a least-squares slope
per minute.

The server is `receiver serve` on the in-memory cluster (bench/runbook.yaml,
one Deployment of 10 pods in namespace `bench`), log level `warning`; the
load comes from `--clients` threads on keep-alive connections, as fast as
the server answers. Needs only what `pip install -e '.[test]'` installs.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "soak-token-0123456789abcdef"
FLEET = """\
fleet:
  - {deployment: w00, namespace: bench, replicas: 10, labels: {app: w00, tier: backend}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert(n: int, label_size: int, new_names: int) -> dict[str, object]:
    """An alert never seen before (pod, startsAt, fingerprint); every `new_names`th its name too."""
    name = f"SoakAlert{n}" if new_names and n % new_names == 0 else "PodErrorRatioOutlier"
    return {
        "status": "firing",
        "labels": {
            "alertname": name,
            "namespace": "bench",
            "pod": f"soak-{n:09d}",
            "severity": "warning",
            "detail": f"{n:09d}" + "x" * (label_size - 9),
        },
        "annotations": {"description": f"{n}: " + "d" * (4 * label_size)},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1.7e9 + n)) + ".000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{n:016x}",
    }


def webhook(first: int, count: int, label_size: int, new_names: int) -> bytes:
    alerts = [alert(n, label_size, new_names) for n in range(first, first + count)]
    body = {"version": "4", "groupKey": f"soak/{first}", "status": "firing", "alerts": alerts}
    return json.dumps(body).encode()


def heartbeat(n: int, label_size: int) -> bytes:
    beat = {"namespace": "bench", "pod": f"beat-{n:09d}", "status": "degraded"}
    return json.dumps({**beat, "reason": "r" * min(label_size, 1024), "interval": "5s"}).encode()


class Load:
    """Client threads posting fresh webhooks and heartbeats until stopped; answers counted."""

    def __init__(self, port: int, args: argparse.Namespace) -> None:
        self.port, self.clients, self.alerts = port, args.clients, args.alerts
        self.label_size, self.new_names = args.label_size, args.new_alertname_every
        self.numbers = itertools.count()
        self.answers: Counter[str] = Counter()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        while not self.stop.is_set():
            with self.lock:
                n = next(self.numbers)
            if n % 2:
                body = webhook(n * 100, self.alerts, self.label_size, self.new_names)
                path = "/api/v1/alerts"
            else:
                path, body = "/api/v1/heartbeats", heartbeat(n, self.label_size)
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                key = f"{path.rsplit('/', 1)[1]} {answer.status}"
            except (OSError, http.client.HTTPException) as exc:
                key = f"error {type(exc).__name__}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self.lock:
                self.answers[key] += 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def metrics_text(port: int) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    return conn.getresponse().read()


def series_by_metric(text: bytes, top: int = 5) -> dict[str, int]:
    """The metrics with the most series: what grows when /metrics does."""
    names = Counter(
        line.split(b"{")[0].split(b" ")[0].decode()
        for line in text.splitlines()
        if line and not line.startswith(b"#")
    )
    return dict(names.most_common(top))


def slope_per_minute(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares growth per minute of (seconds, value) samples."""
    if len(samples) < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_v = sum(v for _, v in samples) / len(samples)
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return 60 * cov / var if var else 0.0


def serve(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    (workdir / "tokens").write_text(TOKEN + "\n", encoding="utf-8")
    (workdir / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    return subprocess.Popen(
        [
            sys.executable, "-m", "receiver", "serve", "--runbook", str(HERE / "runbook.yaml"),
            "--fleet", str(workdir / "fleet.yaml"), "--token-file", str(workdir / "tokens"),
            "--listen", f"127.0.0.1:{port}", "--cluster", "memory", "--log-level", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "server.log").open("wb"),
    )  # fmt: skip


def wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("receiver serve exited at start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("receiver serve did not answer /healthz")


def samples(
    args: argparse.Namespace, proc: subprocess.Popen[bytes], load: Load
) -> Iterator[dict[str, float]]:
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < args.duration:
        time.sleep(min(args.every, max(0.0, args.duration - elapsed)))
        with load.lock:
            sent = sum(load.answers.values())
        yield {
            "t": round(time.monotonic() - started, 1),
            "rss_mb": round(rss_mb(proc.pid), 1),
            "metrics_kb": round(len(metrics_text(args.port)) / 1024, 1),
            "requests": sent,
        }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before growth counts (60)")
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples (10)")
    p.add_argument("--clients", type=int, default=4, help="client threads (4)")
    p.add_argument("--alerts", type=int, default=10, help="alerts per webhook (10)")
    p.add_argument("--label-size", type=int, default=1000, help="characters of the long label")
    p.add_argument(
        "--new-alertname-every",
        type=int,
        default=4,
        help="every Nth alert has an alertname never seen before (4; 0: none)",
    )
    p.add_argument("--out", type=Path, help="write the samples and figures as JSON here")
    args = p.parse_args(argv)
    args.port = free_port()
    with tempfile.TemporaryDirectory(prefix="receiver-soak-") as tmp:
        proc = serve(Path(tmp), args.port)
        try:
            wait_ready(proc, args.port)
            with Load(args.port, args) as load:
                taken = []
                for sample in samples(args, proc, load):
                    taken.append(sample)
                    print(
                        f"{sample['t']:6.0f} s  RSS {sample['rss_mb']:7.1f} MB  "
                        f"/metrics {sample['metrics_kb']:8.1f} KB  requests {sample['requests']}",
                        flush=True,
                    )
            answers = dict(load.answers)
            series = series_by_metric(metrics_text(args.port))
            log_kb = (Path(tmp) / "server.log").stat().st_size / 1024
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = figures(taken, args.warmup)
    result.update(answers=answers, series_at_end=series, server_log_kb=round(log_kb, 1))
    result.update(settings=_settings(args))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def figures(taken: list[dict[str, float]], warmup: float) -> dict[str, object]:
    after = [s for s in taken if s["t"] >= warmup] or taken[-1:]
    first, last = after[0], taken[-1]
    out: dict[str, object] = {"samples": taken}
    for key in ("rss_mb", "metrics_kb"):
        out[key] = {
            "after_warmup": first[key],
            "end": last[key],
            "growth": round(last[key] - first[key], 1),
            "slope_per_minute": round(slope_per_minute([(s["t"], s[key]) for s in after]), 2),
        }
    seconds = last["t"] or 1.0
    out["requests_per_second"] = round(last["requests"] / seconds, 1)
    return out


def _settings(args: argparse.Namespace) -> dict[str, object]:
    keys = ("duration", "warmup", "every", "clients", "alerts", "label_size")
    keys += ("new_alertname_every",)
    return {key: getattr(args, key) for key in keys} | {"cpus": os.cpu_count()}


if __name__ == "__main__":
    sys.exit(main())
