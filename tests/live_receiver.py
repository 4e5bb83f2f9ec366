"""A live `receiver serve` process on the in-memory cluster, driven over its HTTP API.

The browser and CLI tests start the real command on 127.0.0.1 and a free
port, send it Alertmanager webhooks like Alertmanager would, and stop it
when the test ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polling import free_port, wait_for

TOKEN = "console-test-token-0123456789"

RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
supervisors:
  - name: shop
    match: {namespace: shop}
    intensity: {max: 20, period: 30m}
    onEscalate: [{notify: oncall}]
    children:
      - name: checkout
        match: {app: checkout}
        intensity: {max: 10, period: 10m}
        guards: {maxUnavailable: 2, maxUnhealthy: 50%, cooldown: 1m}
        onEscalate: [{notify: oncall}]
rules:
  - name: error-outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 10m}}, {restart: {}}]
notifiers:
  oncall:
    log: {}
"""

FLEET = """\
fleet:
  - {statefulset: checkout, namespace: shop, replicas: 6, labels: {app: checkout}}
"""


def alert(pod: str, name: str = "PodErrorRatioOutlier", status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "namespace": "shop", "pod": pod, "severity": "warning"},
        "annotations": {},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{name}-{pod}",
    }


@dataclass
class Receiver:
    base: str
    process: subprocess.Popen[str]

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def alerts(self, *alerts: dict[str, Any]) -> Any:
        payload = {
            "version": "4",
            "groupKey": "{}:{}",
            "status": "firing",
            "receiver": "remediation",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example",
            "alerts": list(alerts),
        }
        return self.request("POST", "/api/v1/alerts", payload)

    def status(self) -> Any:
        return self.request("GET", "/api/v1/status")


@contextmanager
def receiver(tmp_path: Path, *extra: str, runbook: str = RUNBOOK) -> Iterator[Receiver]:
    """`receiver serve` with RUNBOOK and FLEET until the block ends; always stopped."""
    (tmp_path / "runbook.yaml").write_text(runbook, encoding="utf-8")
    (tmp_path / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    (tmp_path / "tokens").write_text(f"{TOKEN}\n", encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "receiver", "serve",
            "--runbook", str(tmp_path / "runbook.yaml"), "--fleet", str(tmp_path / "fleet.yaml"),
            "--token-file", str(tmp_path / "tokens"), "--listen", f"127.0.0.1:{port}",
            "--log-level", "warning", *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    live = Receiver(f"http://127.0.0.1:{port}", process)
    try:
        wait_for("the receiver", lambda: process.poll() is None and bool(live.status()))
        yield live
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
