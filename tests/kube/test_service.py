"""The whole service on the Kubernetes adapter: webhooks, heartbeats, leadership, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeapi import FakeKubeApi
from polling import wait_for
from prometheus_client import CollectorRegistry
from service_builders import BEAT_TOKEN, RUNBOOK, TOKEN, alert, auth, webhook
from starlette.testclient import TestClient

from kube.driver import FAST_RETRY, deployment
from receiver.commands.serve import kubernetes_service
from receiver.kube import Api
from receiver.kube.adapter import KubeOptions, connect
from receiver.kube.leader_label import LEADER_LABEL
from receiver.metrics import Metrics
from receiver.runbook import load_file
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.runtime import Options, Service

AUDIENCE = "remediation-receiver"
FAST_LEASE = (3.0, 2.0, 0.1)


def service(
    fake: FakeKubeApi, tmp_path: Path, identity: str, *, pod: str | None = None
) -> tuple[Service, CollectorRegistry]:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    runbook = load_file(path)
    metrics = Metrics(CollectorRegistry())
    api = Api(fake.api_client(), metrics=metrics, retry=FAST_RETRY, timeout=(1.0, 2.0))
    adapter = connect(
        KubeOptions(
            namespace="remediation",
            identity=identity,
            pod_name=pod,
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


def labels(fake: FakeKubeApi, pod: str) -> dict[str, str]:
    return fake.cluster.labels("remediation", pod)


@contextmanager
def running(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as client:
        yield client


def test_an_alert_drains_a_real_pod_and_counts_the_api_calls(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    svc, registry = service(fake, tmp_path, "receiver-0")
    with running(svc) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        answer = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert answer.status_code == 200, answer.text
        assert answer.json()["decisions"][0]["actions"][0]["outcome"] == "applied"
        assert fake.cluster.labels("shop", "checkout-1")["remediation/traffic"] == "off"
        annotations = fake.cluster.annotations("shop", "checkout-1")
        assert annotations["remediation/state"] == "drained"
        # A re-delivery is recognized from what the pod's annotations remember.
        again = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert again.json()["decisions"][0]["actions"] == []
        patched = registry.get_sample_value(
            "remediation_kubernetes_requests_total", {"verb": "patch", "code": "200"}
        )
        # One PATCH records the firing signal (what maxUnhealthy counts), one the drain;
        # the re-delivery none.
        assert patched == 2
        assert registry.get_sample_value("remediation_leader") == 1


def test_the_standby_is_ready_but_refuses_to_act_and_only_the_leader_is_labelled(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    for name in ("receiver-0", "receiver-1"):
        fake.cluster.add_pod("remediation", name, labels={"app": "receiver"})
    # A predecessor that died with the label on: the new leader takes it.
    fake.cluster.add_pod("remediation", "receiver-dead", labels={LEADER_LABEL: "true"})
    leader, _ = service(fake, tmp_path, "receiver-0", pod="receiver-0")
    standby, registry = service(fake, tmp_path, "receiver-1", pod="receiver-1")
    with running(leader) as first:
        wait_for("the leader ready", lambda: first.get("/readyz").json()["leader"] is True)
        wait_for("the label moved", lambda: LEADER_LABEL not in labels(fake, "receiver-dead"))
        assert labels(fake, "receiver-0")[LEADER_LABEL] == "true"
        with running(standby) as second:
            wait_for(
                "the standby to see the Lease held",
                lambda: "held by receiver-0" in second.get("/readyz").json()["detail"],
            )
            ready = second.get("/readyz")
            assert ready.status_code == 200  # ready: the Deployment counts it Available
            assert ready.json()["leader"] is False
            assert LEADER_LABEL not in labels(fake, "receiver-1")
            assert second.get("/api/v1/status").json()["leader"] is False
            assert first.get("/api/v1/status").json()["leader"] is True
            refused = second.post(
                "/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth()
            )
            assert refused.status_code == 503
            assert refused.headers["Retry-After"]
            assert "remediation/traffic" not in fake.cluster.labels("shop", "checkout-1")
            assert registry.get_sample_value("remediation_leader") == 0
    assert LEADER_LABEL not in labels(fake, "receiver-0")  # dropped on a clean shutdown


def test_a_pod_bound_token_speaks_only_for_its_own_pod(fake: FakeKubeApi, tmp_path: Path) -> None:
    pods = deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    uid = pods[0]["metadata"]["uid"]
    fake.tokens.add("pod-0-token", namespace="shop", service_account="checkout",
                    pod_name="checkout-0", pod_uid=uid, audiences=[AUDIENCE])  # fmt: skip
    fake.tokens.add("old-pod-0-token", namespace="shop", service_account="checkout",
                    pod_name="checkout-0", pod_uid="earlier", audiences=[AUDIENCE])  # fmt: skip
    svc, _ = service(fake, tmp_path, "receiver-0")

    def beat(token: str, pod: str) -> tuple[int, str]:
        answer = client.post(
            "/api/v1/heartbeats",
            json=[{"namespace": "shop", "pod": pod, "status": "ok"}],
            headers=auth(token),
        )
        return answer.status_code, answer.json().get("field", "")

    with running(svc) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        assert beat("pod-0-token", "checkout-0") == (200, "")
        assert beat("pod-0-token", "checkout-1") == (403, "[0].pod")
        # An earlier pod's token: the API server no longer vouches for it at all.
        assert beat("old-pod-0-token", "checkout-0") == (401, "")
        assert beat("forged-token-0123456789", "checkout-0") == (401, "")
        assert beat(BEAT_TOKEN, "checkout-1") == (200, "")  # the shared token still works
    assert len(fake.tokens.reviews) == 3  # the repeated pod token was reviewed once


def test_a_conflict_is_decided_again_and_a_failing_api_answers_503_until_it_recovers(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    svc, registry = service(fake, tmp_path, "receiver-0")
    with running(svc) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        fake.faults.fail("PATCH", r"/pods/checkout-1$", status=409)
        first = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert first.status_code == 200, first.text
        assert fake.cluster.labels("shop", "checkout-1")["remediation/traffic"] == "off"

        fake.faults.fail("PATCH", r"/pods/checkout-2$", status=500, times=20)
        failing = client.post("/api/v1/alerts", json=webhook(alert("checkout-2")), headers=auth())
        assert failing.status_code == 503
        assert "remediation/traffic" not in fake.cluster.labels("shop", "checkout-2")
        fake.faults.clear()
        again = client.post("/api/v1/alerts", json=webhook(alert("checkout-2")), headers=auth())
        assert again.status_code == 200
        assert fake.cluster.labels("shop", "checkout-2")["remediation/traffic"] == "off"
        # A third sick pod of four is over maxUnhealthy 50%: held as systemic, whatever the
        # failures and retries before.
        third = client.post("/api/v1/alerts", json=webhook(alert("checkout-3")), headers=auth())
        assert third.json()["decisions"][0]["blocked"][0]["reason"] == "systemic"
        assert "remediation/traffic" not in fake.cluster.labels("shop", "checkout-3")
        assert (
            registry.get_sample_value(
                "remediation_kubernetes_requests_total", {"verb": "patch", "code": "409"}
            )
            == 1
        )


def test_a_hold_set_through_the_api_survives_a_receiver_restart(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    request = {"workload": "shop/Deployment/checkout", "for": "1h", "reason": "migration"}
    svc, _ = service(fake, tmp_path, "receiver-0")
    with running(svc) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        answer = client.post("/api/v1/holds", json=request, headers=auth())
        assert answer.status_code == 200, answer.text
        hold = answer.json()["hold"]
    restarted, _ = service(fake, tmp_path, "receiver-0")
    with running(restarted) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        assert [h["id"] for h in client.get("/api/v1/holds").json()["holds"]] == [hold["id"]]
        answer = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        blocked = answer.json()["decisions"][0]["blocked"]
        assert [(b["reason"], b["target"]) for b in blocked] == [("held", "shop/checkout-1")]
        assert fake.cluster.labels("shop", "checkout-1").get("remediation/traffic") != "off"
        assert fake.cluster.annotations("shop", "checkout-1").get("remediation/state") != "drained"
