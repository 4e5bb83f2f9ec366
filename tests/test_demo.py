"""`receiver demo` as a user runs it: acts explained, a busy port, --keep-running stays healthy."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request

from polling import wait_for

RECEIVER = [sys.executable, "-m", "receiver", "demo"]


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_busy_port_is_one_line_that_suggests_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*RECEIVER, "--listen", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"receiver demo: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "try --listen 127.0.0.1:0 for any free port"
    ]


def test_acts_are_explained_and_keep_running_keeps_the_fleet_healthy() -> None:
    demo = subprocess.Popen(
        [*RECEIVER, "--listen", "127.0.0.1:0", "--duration", "7", "--keep-running"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("still serving on"):
            line = demo.stdout.readline()
            assert line, "the demo ended early:\n" + "".join(lines)
            lines.append(line.strip())
        act = lines.index("5.0s  --- one bad checkout pod ---")
        assert lines[act + 1].startswith("It reports degraded. Rule `degraded` drains it at once")
        assert any(re.search(r"DRAIN +shop/checkout-\w+ +\[applied\]", line) for line in lines)
        base = re.search(r"http://127\.0\.0\.1:\d+", lines[-1])
        assert base is not None
        url = base.group(0)
        # After the story the pods keep pushing ok: wait for ten more pushes
        # per pod, longer than the 3 s a silent pod takes to be declared missed.
        start = metric(url, "remediation_heartbeats_received_total")
        wait_for("ten more seconds of heartbeats", lambda: metric(
            url, "remediation_heartbeats_received_total") >= start + 90, timeout=60)  # fmt: skip
        assert metric(url, "remediation_heartbeat_deadlines_missed_total") == 0
        restarts = 'remediation_actions_total{action="restart"'
        assert metric(url, restarts) == 0
    finally:
        demo.terminate()
        demo.communicate(timeout=20)
