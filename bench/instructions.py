"""Instructions per request, counted by valgrind: a steady measure on a noisy machine.

    .venv/bin/python bench/instructions.py                      # alerts, repeated and fresh
    .venv/bin/python bench/instructions.py --figures alerts_fresh --requests 500

On a shared VM the wall-clock rates of run.py move by 10-20% between runs,
more than most single changes are worth. This counts the instructions
(callgrind's Ir, user space only) that the bare endpoint and the receiver
execute per request: the same requests, one connection, instrumentation
switched on after a warm-up (1,500 requests, so the fresh figure reaches
the state run.py measures: the supervisor frozen, half the pods drained)
and off before shutdown. Kernel time (socket I/O) is not counted, so the
ratio is an estimate of run.py's, not a replacement; in the runs reported
in README.md the two agreed within a point for repeated alerts.

Needs valgrind (callgrind_control); it is not a dependency of the suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402
from record import refusal  # noqa: E402

TOKEN = "instructions-token-0123456789"
FIGURES = ("alerts_repeat", "alerts_fresh")


def bodies(figure: str, info: dict[str, object], count: int) -> list[str]:
    by_workload: dict[str, list[str]] = info["pods"]  # type: ignore[assignment]
    windows = payloads.alert_windows(by_workload)
    namespace = str(info["namespace"])
    if figure == "alerts_repeat":
        return [payloads.alert_webhook(namespace, windows[0], "2026-01-01T11:58:30.123456789Z")]
    base = time.time() - 86400
    out = []
    for n in range(count):  # a startsAt unique to each request, as wrk/post.lua makes them
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + n // 1000))
        out.append(
            payloads.alert_webhook(namespace, windows[n % len(windows)], f"{stamp}.{n % 1000:03d}Z")
        )
    return out


def count(script: str, args: Sequence[str], figure: str, requests: int, warmup: int) -> float:
    """Ir per request of one server; its pod names come from a receiver's ready file."""
    with tempfile.TemporaryDirectory(prefix="receiver-ir-") as tmp:
        ready, out = Path(tmp) / "ready.json", Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(
            [
                "valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out}", sys.executable, str(HERE / script),
                *args, "--ready", str(ready),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            info = _ready(ready, proc)
            if "pods" not in info:  # the bare endpoint: names shaped like the receiver's
                pods = {f"w{w:02d}": [f"w{w:02d}-{n:05x}" for n in range(100)] for w in range(10)}
                info.update(namespace="bench", pods=pods)
            sent = bodies(figure, info, warmup + requests)
            conn = http.client.HTTPConnection("127.0.0.1", int(str(info["port"])), timeout=600)
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
            for n in range(warmup):
                _post(conn, headers, sent[n % len(sent)])
            _instrument(proc.pid, "on")
            for n in range(requests):
                _post(conn, headers, sent[(warmup + n) % len(sent)])
            _instrument(proc.pid, "off")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
        return int(totals.split()[1]) / requests


def _ready(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        if path.exists():
            info: dict[str, object] = json.loads(path.read_text())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", int(str(info["port"])), timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return info
            except OSError:
                pass
        time.sleep(0.5)
    raise RuntimeError("the server did not get ready")


def _post(conn: http.client.HTTPConnection, headers: dict[str, str], body: str) -> None:
    conn.request("POST", "/api/v1/alerts", body=body, headers=headers)
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"answered {answer.status}")


def _instrument(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--figures", default=",".join(FIGURES))
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=1500)
    p.add_argument("--fleet", type=int, default=1000)
    p.add_argument("--log-level", default="info")
    p.add_argument("--bare-parser", choices=("orjson", "json"), default="orjson")
    p.add_argument("--out", type=Path, help="write the figures as JSON here; never overwritten")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = p.parse_args(argv)
    refused = args.out and refusal(args.out, args.force)
    if refused:
        p.error(refused)
    receiver = ["--pods", str(args.fleet), "--token", TOKEN, "--log-level", args.log_level]
    results: dict[str, dict[str, float]] = {}
    for figure in args.figures.split(","):
        bare = count("bare.py", ["--parser", args.bare_parser], figure, args.requests, args.warmup)
        mine = count("server.py", receiver, figure, args.requests, args.warmup)
        results[figure] = {"bare_ir": bare, "receiver_ir": mine, "ratio": bare / mine}
        print(
            f"{figure:<14} bare {bare:>9,.0f} Ir/request, receiver {mine:>9,.0f}: {bare / mine:.1%}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
