"""The whole service on a real kube-apiserver, as the chart's ServiceAccount with the chart's
RBAC: drain and re-delivery, restart through Eviction, Events, pod-bound heartbeat tokens, and
the API server restarting under a running receiver (its watches cut, resumed or relisted)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kube.driver import FAST_RETRY
from kubernetes import client
from polling import wait_for
from prometheus_client import CollectorRegistry
from service_builders import BEAT_TOKEN, RUNBOOK, TOKEN, alert, auth, webhook
from starlette.testclient import TestClient

from receiver.commands.serve import kubernetes_service
from receiver.kube import Api
from receiver.kube.adapter import KubeOptions, connect
from receiver.metrics import Metrics
from receiver.runbook import load_file
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.runtime import Options, Service

from .backends import RealBackend
from .chart_rbac import LEASE, STATE, account_token, apply_chart_rbac, pod_token
from .rest import rest

pytestmark = pytest.mark.realserver

AUDIENCE = "remediation-receiver"
FAST_LEASE = (3.0, 2.0, 0.1)
OWN = "remediation"
# Without heartbeat rules: pods here send none, and a leader that has held the Lease for a
# heartbeat deadline would declare them all missed (and the fleet systemic) mid-test.
QUIET = RUNBOOK.replace(
    "heartbeats:\n  - match: {namespace: shop}\n    interval: 5s\n    missAfter: 3\n", ""
)


def now_text() -> str:
    """Alerts start now: a real pod's creationTimestamp cannot be backdated, and an alert older
    than its pod is about a predecessor."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def as_chart(real: RealBackend) -> Iterator[client.ApiClient]:
    """A client authenticated as the chart's ServiceAccount, with only the chart's RBAC."""
    account = apply_chart_rbac(
        real.admin, namespace=OWN, watched="shop", audience=AUDIENCE, runbook=RUNBOOK
    )
    api = real.api_client(token=account_token(real.admin, OWN, account))
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]


def service(
    api_client: client.ApiClient,
    tmp_path: Path,
    identity: str = "receiver-0",
    runbook_text: str = QUIET,
) -> tuple[Service, CollectorRegistry]:
    path = tmp_path / "runbook.yaml"
    path.write_text(runbook_text, encoding="utf-8")
    runbook = load_file(path)
    metrics = Metrics(CollectorRegistry())
    api = Api(api_client, metrics=metrics, retry=FAST_RETRY, timeout=(2.0, 5.0))
    adapter = connect(
        KubeOptions(
            namespace=OWN,
            identity=identity,
            lease_name=LEASE,
            state_name=STATE,
            heartbeat_audience=AUDIENCE,
            lease_timing=FAST_LEASE,
        ),
        runbook.settings.namespaces,
        api=api,
    )
    options = Options(
        runbook_path=path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
        tick_interval=0.05,
    )
    return kubernetes_service(options, runbook, adapter, metrics=metrics), metrics.registry


@contextmanager
def running(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as test_client:
        yield test_client


def forbidden(registry: CollectorRegistry) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "remediation_kubernetes_requests"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("code") == "403"
    )


def labels(real: RealBackend, name: str) -> dict[str, str]:
    pod = real.pod("shop", name)
    assert pod is not None
    return dict(pod["metadata"].get("labels") or {})


def test_the_chart_rbac_drains_restarts_and_records_events_with_no_403(
    real: RealBackend, as_chart: client.ApiClient, tmp_path: Path
) -> None:
    real.deployment("shop", "checkout", replicas=4)
    real.budget("shop", {"app": "checkout"}, max_unavailable=1)
    svc, registry = service(as_chart, tmp_path)
    starts = now_text()
    with running(svc) as http:
        wait_for("the receiver to lead", lambda: http.get("/readyz").json()["leader"])
        sick = webhook(alert("checkout-1", starts=starts))
        answer = http.post("/api/v1/alerts", json=sick, headers=auth())
        assert answer.status_code == 200, answer.text
        assert answer.json()["decisions"][0]["actions"][0]["outcome"] == "applied"
        assert labels(real, "checkout-1")["remediation/traffic"] == "off"
        again = http.post("/api/v1/alerts", json=sick, headers=auth())
        assert again.json()["decisions"][0]["actions"] == []  # re-delivery: remembered

        # A silent pod is restarted through the Eviction API (policy/v1beta1 on 1.20): the
        # budget (synced with room for one) lets it through and the server takes the room.
        silent = alert("checkout-2", starts=starts, alertname="HeartbeatMissed")
        restarted = http.post("/api/v1/alerts", json=webhook(silent), headers=auth())
        assert restarted.status_code == 200, restarted.text
        pod = real.pod("shop", "checkout-2")
        assert pod is not None
        assert pod["metadata"].get("deletionTimestamp")
        pdb = rest(
            real.admin,
            "GET",
            "/apis/policy/v1beta1/namespaces/shop/poddisruptionbudgets/checkout-budget",
        )
        assert pdb["status"]["disruptionsAllowed"] == 0
        assert "checkout-2" in pdb["status"]["disruptedPods"]

        # The next one finds no room: 429, reported blocked, the pod left running.
        third = alert("checkout-3", starts=starts, alertname="HeartbeatMissed")
        held = http.post("/api/v1/alerts", json=webhook(third), headers=auth())
        assert held.status_code == 200, held.text
        pod = real.pod("shop", "checkout-3")
        assert pod is not None
        assert not pod["metadata"].get("deletionTimestamp")
    events = rest(real.admin, "GET", "/api/v1/namespaces/shop/events")["items"]
    reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
    assert ("checkout-1", "Drained") in reasons
    assert ("checkout-2", "Restarted") in reasons
    assert all(e["involvedObject"].get("uid") for e in events)
    assert forbidden(registry) == 0


def test_a_pod_bound_token_speaks_for_its_own_pod_while_that_pod_exists(
    real: RealBackend, as_chart: client.ApiClient, tmp_path: Path
) -> None:
    real.service_account("shop", "checkout")
    pods = real.deployment("shop", "checkout", replicas=4, service_account="checkout")
    own = pod_token(real.admin, pods[0], "checkout", AUDIENCE)
    other_audience = pod_token(real.admin, pods[0], "checkout", "someone-else")
    doomed = pod_token(real.admin, pods[3], "checkout", AUDIENCE)
    svc, _ = service(as_chart, tmp_path, runbook_text=RUNBOOK)

    def beat(token: str, pod: str) -> tuple[int, str]:
        answer = http.post(
            "/api/v1/heartbeats",
            json=[{"namespace": "shop", "pod": pod, "status": "ok"}],
            headers=auth(token),
        )
        return answer.status_code, answer.json().get("field", "")

    with running(svc) as http:
        wait_for("the receiver to lead", lambda: http.get("/readyz").json()["leader"])
        assert beat(own, "checkout-0") == (200, "")
        assert beat(own, "checkout-1") == (403, "[0].pod")  # another pod
        assert beat(other_audience, "checkout-0") == (401, "")
        assert beat(BEAT_TOKEN, "checkout-1") == (200, "")
        # The pod is deleted and a new one takes its name: the earlier pod's token no longer
        # reviews at all (the server checks the bound pod still exists, by uid).
        real.finish_termination("shop", "checkout-3")
        real.add_pod("shop", "checkout-3", labels={"app": "checkout"}, service_account="checkout")
        wait_for(
            "the review cache to expire",
            lambda: beat(doomed, "checkout-3")[0] == 401,
            timeout=15,
        )


def test_the_api_server_restarting_under_a_running_receiver(
    real: RealBackend,
    as_chart: client.ApiClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="receiver.kube.informer")
    assert "heartbeats:" not in QUIET
    real.deployment("shop", "checkout", replicas=4)
    svc, _ = service(as_chart, tmp_path)
    with running(svc) as http:
        wait_for("the receiver to lead", lambda: http.get("/readyz").json()["leader"])
        real.server.stop_apiserver()
        real.server.start_apiserver()
        # After the restart a pod is replaced: the receiver learns it from a resumed watch or
        # a relist (a 410), and then drains the new pod.
        real.finish_termination("shop", "checkout-0")
        rs = rest(real.admin, "GET", "/apis/apps/v1/namespaces/shop/replicasets/checkout-5d8f")
        real.add_pod("shop", "checkout-9", labels=rs["spec"]["template"]["metadata"]["labels"],
                     owner=rs)  # fmt: skip

        starts = now_text()

        def drains_the_new_pod() -> bool:
            time.sleep(0.2)  # pace the re-deliveries, as Alertmanager would
            sick = webhook(alert("checkout-9", starts=starts))
            answer = http.post("/api/v1/alerts", json=sick, headers=auth())
            seen.append(answer.text)
            return answer.status_code == 200 and bool(answer.json()["decisions"][0]["actions"])

        seen: list[str] = []

        try:
            wait_for("the receiver to see the pod made after the restart", drains_the_new_pod, 60)
        except AssertionError as exc:
            log = http.get("/api/v1/decisions?limit=6").text
            raise AssertionError(f"{exc}; its answers: {seen[-1:]}; decisions: {log}") from None
        assert labels(real, "checkout-9")["remediation/traffic"] == "off"
        assert http.get("/readyz").status_code == 200
    # The cut watch resumed from a version the restarted server no longer has: 410, relisted.
    assert any("history gone (410)" in r.getMessage() for r in caplog.records)
    # A starting API server answers some requests 403 until its RBAC caches are filled; the
    # receiver retries them as any failed watch.
