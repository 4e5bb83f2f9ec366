"""Beats forwarded by a node relay, over HTTP against the fake API server: each proves its pod."""

from __future__ import annotations

from typing import Any

from kubeapi import FakeKubeApi
from polling import wait_for
from service_builders import BEAT_TOKEN, auth

from kube.driver import deployment
from kube.test_service import AUDIENCE, running, service

ItemResults = list[tuple[str, str]]


def relayed(pod: str, token: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"namespace": "shop", "pod": pod, "status": "ok"}
    if token is not None:
        item["token"] = token
    return item


def test_each_relayed_beat_is_judged_by_its_own_token(fake: FakeKubeApi, tmp_path: Any) -> None:
    pods = deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    for i in (0, 1):
        fake.tokens.add(f"pod-{i}-token", namespace="shop", service_account="checkout",
                        pod_name=f"checkout-{i}", pod_uid=pods[i]["metadata"]["uid"],
                        audiences=[AUDIENCE])  # fmt: skip
    fake.tokens.add("old-pod-2-token", namespace="shop", service_account="checkout",
                    pod_name="checkout-2", pod_uid="earlier", audiences=[AUDIENCE])  # fmt: skip
    svc, registry = service(fake, tmp_path, "receiver-0")
    batch = [
        relayed("checkout-0", "pod-0-token"),
        relayed("checkout-1", "pod-1-token"),
        relayed("checkout-3", "pod-0-token"),  # pod 0's token speaking for pod 3
        relayed("checkout-2", "old-pod-2-token"),  # an earlier pod's token (pod since replaced)
        relayed("checkout-3", "forged-token-0123456789"),
        relayed("checkout-3", BEAT_TOKEN),  # the shared token speaks for any pod
    ]
    with running(svc) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        answer = client.post("/api/v1/heartbeats", json=batch)  # no Authorization header
        assert answer.status_code == 200, answer.text
        assert [(r["pod"], r["result"]) for r in answer.json()["results"]] == [
            ("shop/checkout-0", "accepted"),
            ("shop/checkout-1", "accepted"),
            ("shop/checkout-3", "forbidden"),
            ("shop/checkout-2", "unauthorized"),  # the API server no longer vouches for it
            ("shop/checkout-3", "unauthorized"),
            ("shop/checkout-3", "accepted"),
        ]

        # A beat without a token in a relay's request: the request is refused whole.
        unproven = client.post("/api/v1/heartbeats", json=[batch[0], relayed("checkout-1", None)])
        assert unproven.status_code == 401
        # A token in a beat of a request that has its own header: which would count? Refused.
        mixed = client.post("/api/v1/heartbeats", json=[batch[0]], headers=auth(BEAT_TOKEN))
        assert (mixed.status_code, mixed.json()["field"]) == (400, "[0].token")

    rejected = "remediation_requests_rejected_total"
    assert registry.get_sample_value(rejected, {"endpoint": "heartbeats", "code": "403"}) == 1
    assert registry.get_sample_value(rejected, {"endpoint": "heartbeats", "code": "401"}) == 3
    # Each distinct pod token reviewed once, the shared token never.
    assert sorted(r.token for r in fake.tokens.reviews) == [
        "forged-token-0123456789", "old-pod-2-token", "pod-0-token", "pod-1-token"]  # fmt: skip
