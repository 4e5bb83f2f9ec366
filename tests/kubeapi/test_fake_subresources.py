# The client's models make every field Optional and kubernetes.watch is unannotated; a None
# where the server must answer a value fails the test anyway, so mypy is not asked to prove it.
# mypy: disable-error-code="union-attr, arg-type, index, misc, no-untyped-call"
"""Eviction against disruption budgets, Leases and TokenReview on the fake, through the
official `kubernetes` client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from .fixtures import status_body as status_of
from .harness import FakeKubeApi, fake_kube_api
from .kinds import POD

NS = "shop"


def _evict(core: client.CoreV1Api, name: str) -> Any:
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))
    return core.create_namespaced_pod_eviction(name, NS, body)


def test_eviction_is_201_then_429_while_the_budget_is_spent(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    for name in ("a", "b", "c"):
        kube_api.cluster.add_pod(NS, name, labels={"app": "web"})
    kube_api.cluster.add_budget(NS, {"app": "web"}, 1, name="web-pdb")
    _evict(core, "a")
    assert kube_api.requests.all()[-1].status == 201
    assert kube_api.cluster.get(POD, NS, "a")["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as caught:
        _evict(core, "b")
    body = status_of(caught)
    assert caught.value.status == 429
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
        }
    ]
    _evict(core, "a")  # a terminating pod is evicted without consulting budgets
    kube_api.cluster.finish_termination(NS, "a")
    _evict(core, "b")


@pytest.mark.parametrize(
    ("ready", "max_unavailable", "expected", "evict", "allowed"),
    [
        pytest.param("YYY", 1, None, 0, True, id="all-ready"),
        pytest.param("YNY", 1, None, 0, False, id="one-already-unavailable"),
        pytest.param("YNY", 1, None, 1, True, id="unready-pod-within-budget"),
        pytest.param("YNN", 1, None, 1, False, id="unready-pod-budget-violated"),
        pytest.param("YY", 1, 3, 0, False, id="missing-replica-counts"),
        pytest.param("YYYN", "50%", None, 0, True, id="percentage"),
    ],
)
def test_eviction_budget_model(
    kube_api: FakeKubeApi,
    core: client.CoreV1Api,
    ready: str,
    max_unavailable: int | str,
    expected: int | None,
    evict: int,
    allowed: bool,
) -> None:
    for i, flag in enumerate(ready):
        kube_api.cluster.add_pod(NS, f"p{i}", labels={"app": "web"}, ready=flag == "Y")
    kube_api.cluster.add_budget(NS, "app=web", max_unavailable, expected=expected)
    if allowed:
        _evict(core, f"p{evict}")
    else:
        with pytest.raises(ApiException) as caught:
            _evict(core, f"p{evict}")
        assert caught.value.status == 429


def test_eviction_forced_429_missing_pod_and_immediate_deletion() -> None:
    with fake_kube_api(graceful_deletion=False) as api:
        core = client.CoreV1Api(api.api_client())
        api.cluster.add_pod(NS, "a")
        api.cluster.block_eviction(NS, "a")
        with pytest.raises(ApiException) as caught:
            _evict(core, "a")
        assert caught.value.status == 429
        api.cluster.block_eviction(NS, "a", blocked=False)
        _evict(core, "a")
        assert api.cluster.pod(NS, "a") is None
        with pytest.raises(ApiException) as caught:
            _evict(core, "a")
        assert caught.value.status == 404
        api.cluster.add_pod(NS, "b")
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_pod_eviction("b", NS, client.V1Eviction())
        assert status_of(caught)["message"] == "name in URL does not match name in Eviction object"


def test_lease_crud_with_conflict(kube_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(kube_client)
    body = client.V1Lease(
        metadata=client.V1ObjectMeta(name="receiver"),
        spec=client.V1LeaseSpec(holder_identity="pod-1", lease_duration_seconds=15),
    )
    made = leases.create_namespaced_lease(NS, body)
    with pytest.raises(ApiException) as caught:
        leases.create_namespaced_lease(NS, body)
    assert caught.value.status == 409
    mine = leases.read_namespaced_lease("receiver", NS)
    theirs = leases.read_namespaced_lease("receiver", NS)
    mine.spec.holder_identity = "pod-2"
    renewed = leases.replace_namespaced_lease("receiver", NS, mine)
    assert renewed.spec.holder_identity == "pod-2"
    assert int(renewed.metadata.resource_version) > int(made.metadata.resource_version)
    theirs.spec.holder_identity = "pod-3"
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("receiver", NS, theirs)
    assert caught.value.status == 409
    assert status_of(caught)["details"]["group"] == "coordination.k8s.io"
    leases.delete_namespaced_lease("receiver", NS)
    with pytest.raises(ApiException) as caught:
        leases.read_namespaced_lease("receiver", NS)
    assert caught.value.status == 404


def test_token_review(kube_api: FakeKubeApi, kube_client: client.ApiClient) -> None:
    auth = client.AuthenticationV1Api(kube_client)
    uid = kube_api.cluster.add_pod(NS, "a")["metadata"]["uid"]
    kube_api.tokens.add(
        "tok",
        namespace=NS,
        service_account="web",
        pod_name="a",
        pod_uid=uid,
        audiences=["receiver"],
    )

    def review(token: str, audiences: list[str]) -> Any:
        spec = client.V1TokenReviewSpec(token=token, audiences=audiences)
        return auth.create_token_review(client.V1TokenReview(spec=spec)).status

    ok = review("tok", ["receiver", "other"])
    assert ok.authenticated
    assert ok.audiences == ["receiver"]
    assert ok.user.username == "system:serviceaccount:shop:web"
    assert ok.user.extra == {
        "authentication.kubernetes.io/pod-name": ["a"],
        "authentication.kubernetes.io/pod-uid": [uid],
    }
    unknown = review("nope", ["receiver"])
    assert not unknown.authenticated
    assert unknown.error
    mismatch = review("tok", ["elsewhere"])
    assert not mismatch.authenticated
    assert not mismatch.audiences
    # The pod deleted (or replaced by one of the same name): its token reviews no more.
    kube_api.cluster.delete_with(POD, NS, "a", {"gracePeriodSeconds": 0})
    assert review("tok", ["receiver"]).error == "[invalid bearer token, Token has been invalidated]"
    again = kube_api.cluster.add_pod(NS, "a")["metadata"]["uid"]
    assert review("tok", ["receiver"]).error == (
        f"[invalid bearer token, Pod UID ({again}) does not match claim ({uid})]"
    )
    assert [(r.token, r.authenticated) for r in kube_api.tokens.reviews] == [
        ("tok", True),
        ("nope", False),
        ("tok", False),
        ("tok", False),
        ("tok", False),
    ]


def test_bearer_token_required_when_configured() -> None:
    with fake_kube_api(token="secret") as api:
        with pytest.raises(ApiException) as caught:
            client.CoreV1Api(api.api_client()).list_namespaced_pod(NS)
        assert caught.value.status == 401
        assert client.CoreV1Api(api.api_client(token="secret")).list_namespaced_pod(NS).items == []
