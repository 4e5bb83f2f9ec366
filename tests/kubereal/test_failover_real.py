"""Fail-over of two `receiver serve` processes on a real kube-apiserver, as the chart's
ServiceAccount: the leader drains a pod and dies (SIGKILL: the Lease expires) or stops
(SIGTERM: it releases the Lease); the standby takes over and restores the pod on time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from kube.test_failover import RUNBOOK, TOKEN, leads, status
from kubernetes import client
from polling import free_port, wait_for
from service_builders import alert, webhook
from test_serve import RECEIVER

from .backends import RealBackend
from .chart_rbac import LEASE, STATE, account_token, apply_chart_rbac
from .rest import rest
from .test_service_real import now_text

pytestmark = pytest.mark.realserver

OWN = "remediation"


@pytest.fixture
def kubeconfig(real: RealBackend, tmp_path: Path) -> Path:
    account = apply_chart_rbac(
        real.admin, namespace=OWN, watched="shop", audience="unused", runbook=RUNBOOK
    )
    token = account_token(real.admin, OWN, account)
    return real.server.write_kubeconfig(tmp_path / "kubeconfig", token)


@contextmanager
def receiver(
    tmp_path: Path, kubeconfig: Path, identity: str, *, pod: str | None = None, text: str = RUNBOOK
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`receiver serve` as `identity`; in pod `pod` of OWN (its $POD_NAME) when given."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(text, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            *RECEIVER, "serve", "--runbook", str(runbook), "--listen", f"127.0.0.1:{port}",
            "--kubeconfig", str(kubeconfig), "--namespace", OWN, "--identity", identity,
            "--lease-name", LEASE, "--state-name", STATE, "--lease-duration", "3",
            "--tick-interval", "0.1",
        ],
        env={**os.environ, "RECEIVER_TOKEN": TOKEN, **({"POD_NAME": pod} if pod else {})},
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


def pod_meta(admin: client.ApiClient, name: str) -> dict[str, dict[str, str]]:
    meta: dict[str, dict[str, str]] = rest(admin, "GET", f"/api/v1/namespaces/shop/pods/{name}")[
        "metadata"
    ]
    return meta


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_standby_takes_over_and_restores_the_drained_pod_on_time(
    real: RealBackend, kubeconfig: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    real.deployment("shop", "checkout", replicas=4)
    sick = webhook(alert("checkout-1", starts=now_text()))
    with ExitStack() as stack:
        (a, url_a) = stack.enter_context(receiver(tmp_path, kubeconfig, "receiver-a"))
        wait_for("receiver-a to lead", lambda: leads(url_a), timeout=30)
        (_, url_b) = stack.enter_context(receiver(tmp_path, kubeconfig, "receiver-b"))
        wait_for("receiver-b to start", lambda: status(f"{url_b}/healthz") == 200, timeout=30)
        wait_for("receiver-b Ready as a standby", lambda: status(f"{url_b}/readyz") == 200)
        assert not leads(url_b)
        assert status(f"{url_b}/api/v1/alerts", sick) == 503

        assert status(f"{url_a}/api/v1/alerts", sick) == 200
        meta = pod_meta(real.admin, "checkout-1")
        lifecycle = json.loads(meta["annotations"]["remediation/lifecycle"])
        assert lifecycle["state"] == "drained"
        assert meta["labels"]["remediation/traffic"] == "off"

        a.send_signal(stop)
        a.wait(timeout=20)
        wait_for("receiver-b to lead", lambda: leads(url_b), timeout=30)
        holder = rest(
            real.admin, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{OWN}/leases/{LEASE}"
        )["spec"].get("holderIdentity")
        assert holder == "receiver-b"
        wait_for(
            "the drained pod to be restored",
            lambda: pod_meta(real.admin, "checkout-1")["labels"]["remediation/traffic"] == "on",
            timeout=30,
        )
        assert time.time() >= lifecycle["until"]  # not before the drain ended
        # The re-delivered alert is still recognized as handled by the new leader.
        assert status(f"{url_b}/api/v1/alerts", sick) == 200
        assert pod_meta(real.admin, "checkout-1")["labels"]["remediation/traffic"] == "on"
