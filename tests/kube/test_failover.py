"""Fail-over: two `receiver serve` processes on one (fake) API server.

The leader acts and the standby does not; the leader is killed in the middle
of a pod's lifecycle (drained, not yet restored); the standby takes the Lease
over and finishes the lifecycle from what the pod's annotations say: the
pod is restored when its drain ends, not before and not never.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml
from kubeapi import FakeKubeApi
from service_builders import alert, webhook
from test_serve import RECEIVER, free_port, wait_for

from kube.driver import deployment

TOKEN = "failover-test-token-0123456789"
DRAIN = 4.0
RUNBOOK = f"""\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
supervisors:
  - name: checkout
    match: {{app: checkout}}
    intensity: {{max: 20, period: 10m}}
    guards: {{maxUnavailable: 50%}}
rules:
  - name: error-outlier
    match: {{alertname: PodErrorRatioOutlier}}
    steps: [{{drain: {{for: {DRAIN:.0f}s}}}}, {{restart: {{}}}}]
"""


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "receiver", "user": {"token": "unused"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "receiver"}}],
                "current-context": "fake",
            }
        ),
        encoding="utf-8",
    )
    return path


def stored_lifecycle(fake: FakeKubeApi) -> dict[str, object]:
    found: dict[str, object] = json.loads(
        fake.cluster.annotations("shop", "checkout-1")["remediation/lifecycle"]
    )
    return found


def status(url: str, body: object = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def leads(url: str) -> bool:
    """Whether the replica at `url` says it leads (every synced replica is Ready)."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return bool(json.loads(response.read())["leader"])
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def receiver(
    tmp_path: Path, fake: FakeKubeApi, identity: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            *RECEIVER, "serve", "--runbook", str(runbook), "--listen", f"127.0.0.1:{port}",
            "--kubeconfig", str(kubeconfig(tmp_path / "kubeconfig", fake.url)),
            "--namespace", "remediation", "--identity", identity, "--lease-duration", "3",
            "--tick-interval", "0.1",
        ],
        env={**os.environ, "RECEIVER_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_the_standby_takes_over_and_restores_the_drained_pod_on_time(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    with ExitStack() as stack:
        (a, url_a) = stack.enter_context(receiver(tmp_path, fake, "receiver-a"))
        wait_for("receiver-a to lead", lambda: leads(url_a))
        (_, url_b) = stack.enter_context(receiver(tmp_path, fake, "receiver-b"))
        wait_for("receiver-b to start", lambda: status(f"{url_b}/healthz") == 200)
        wait_for(
            "receiver-b ready, as a synced standby is", lambda: status(f"{url_b}/readyz") == 200
        )
        assert not leads(url_b)
        assert status(f"{url_b}/api/v1/alerts", webhook(alert("checkout-1"))) == 503

        assert status(f"{url_a}/api/v1/alerts", webhook(alert("checkout-1"))) == 200
        lifecycle = json.loads(
            fake.cluster.annotations("shop", "checkout-1")["remediation/lifecycle"]
        )
        assert lifecycle["state"] == "drained"
        assert fake.cluster.labels("shop", "checkout-1")["remediation/traffic"] == "off"

        a.send_signal(signal.SIGKILL)  # no goodbye: the Lease has to expire
        a.wait(timeout=10)
        wait_for("receiver-b to lead", lambda: leads(url_b), timeout=20)
        wait_for(
            "the drained pod to be restored",
            lambda: fake.cluster.labels("shop", "checkout-1")["remediation/traffic"] == "on",
            timeout=20,
        )
        assert time.time() >= lifecycle["until"]  # on time: not before the drain ended
        after = stored_lifecycle(fake)
        assert after["state"] == "probation"
        # The re-delivered alert is still recognized as handled by the new leader.
        assert status(f"{url_b}/api/v1/alerts", webhook(alert("checkout-1"))) == 200
        assert fake.cluster.labels("shop", "checkout-1")["remediation/traffic"] == "on"
