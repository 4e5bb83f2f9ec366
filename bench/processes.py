"""The benchmark's server processes and the HTTP client the driver talks to them with.

Each server runs pinned to the server core (`taskset -c 0`), writes a ready
file, and answers GET /healthz before it is used. Stopping sends SIGTERM,
then SIGKILL.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER_CORE = 0
HZ = os.sysconf("SC_CLK_TCK")


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
