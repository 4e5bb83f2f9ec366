"""`receiver serve` as a process on 127.0.0.1 for tests that need real sockets.

The server's stderr (its JSON log) goes to a file, read once the server has
stopped, so a test can say that nothing was logged at error and no traceback.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from polling import free_port, wait_for
from service_builders import BEAT_TOKEN, RUNBOOK, TOKEN

FLEET = """\
fleet:
  - {deployment: checkout, namespace: shop, replicas: 4, labels: {app: checkout}}
"""


def get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode())


@dataclass
class Live:
    base: str
    port: int
    runbook: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> list[dict[str, object]]:
        """The JSON lines the server wrote (complete once it has stopped)."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def errors(self) -> list[str]:
        """What was logged at error or above, and anything that looks like a traceback."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        bad = [line for line in text.splitlines() if "Traceback" in line]
        bad += [str(r) for r in self.log() if r.get("level") in ("error", "critical")]
        return bad

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def live_server(tmp_path: Path, *args: str, nofile: int | None = None) -> Iterator[Live]:
    """`receiver serve` on the memory cluster (a checkout fleet of 4) with `args` added.

    `nofile` sets the server's descriptor limit (soft and hard), as a container's would.
    """
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET, encoding="utf-8")
    (tmp_path / "tokens").write_text(TOKEN + "\n", encoding="utf-8")
    (tmp_path / "beat-tokens").write_text(BEAT_TOKEN + "\n", encoding="utf-8")
    port = free_port()
    log_path = tmp_path / "server.log"

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "receiver", "serve", "--runbook", str(runbook),
                "--fleet", str(fleet), "--listen", f"127.0.0.1:{port}",
                "--token-file", str(tmp_path / "tokens"),
                "--heartbeat-token-file", str(tmp_path / "beat-tokens"),
                "--cluster", "memory", *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=limit,  # only setrlimit, before exec
        )  # fmt: skip
    live = Live(f"http://127.0.0.1:{port}", port, runbook, process, log_path)
    try:
        wait_for("the server", lambda: process.poll() is None and get(f"{live.base}/healthz") != "")
        yield live
    finally:
        live.stop()
