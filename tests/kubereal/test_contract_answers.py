"""One contract, two servers, at the level of the answers themselves: what kube-apiserver 1.20
says to the requests the adapter makes, and the fake saying the same (each case once per
server). These are the places the fake used to differ."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from .backends import Backend
from .rest import JSON, rest, status_of

pytestmark = pytest.mark.realserver

EVICT = "/api/v1/namespaces/shop/pods/{name}/eviction"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"


@pytest.fixture
def api(backend: Backend) -> Iterator[client.ApiClient]:
    api = backend.api_client()
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]


def eviction(version: str, name: str) -> JSON:
    return {"apiVersion": version, "kind": "Eviction", "metadata": {"name": name}}


def refused(api: client.ApiClient, method: str, path: str, body: object) -> tuple[int, JSON]:
    with pytest.raises(client.ApiException) as caught:
        rest(api, method, path, body)
    return caught.value.status, status_of(caught.value)


def test_the_eviction_version_is_found_by_discovery_and_another_is_refused(
    backend: Backend, api: client.ApiClient
) -> None:
    backend.deployment("shop", "cart", replicas=1)
    (listed,) = [
        r for r in rest(api, "GET", "/api/v1")["resources"] if r["name"] == "pods/eviction"
    ]
    assert (listed["group"], listed["version"], listed["kind"]) == ("policy", "v1beta1", "Eviction")
    group = rest(api, "GET", "/apis/policy")
    assert group["preferredVersion"]["groupVersion"] == "policy/v1beta1"
    code, status = refused(
        api, "POST", EVICT.format(name="cart-0"), eviction("policy/v1", "cart-0")
    )
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"].startswith(
        'Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is '
        'registered for version "policy/v1"'
    )


def test_a_budget_not_yet_processed_refuses_every_eviction(
    backend: Backend, api: client.ApiClient
) -> None:
    backend.deployment("shop", "cart", replicas=3)
    backend.budget("shop", {"app": "cart"}, max_unavailable=3, processed=False)
    with pytest.raises(client.ApiException) as caught:
        rest(api, "POST", EVICT.format(name="cart-0"), eviction("policy/v1beta1", "cart-0"))
    assert caught.value.status == 429
    assert "Retry-After" not in (caught.value.headers or {})
    status = status_of(caught.value)
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget cart-budget is still being processed by the server.",
        }
    ]


def test_a_budget_without_room_says_how_many_healthy_pods_it_needs(
    backend: Backend, api: client.ApiClient
) -> None:
    backend.deployment("shop", "cart", replicas=3, not_ready=1)
    backend.budget("shop", {"app": "cart"}, max_unavailable=1)
    code, status = refused(
        api, "POST", EVICT.format(name="cart-1"), eviction("policy/v1beta1", "cart-1")
    )
    assert code == 429
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget cart-budget needs 2 healthy pods and has 2 currently",
        }
    ]


def review(token: str | None, audience: str | None = None) -> JSON:
    spec: JSON = {} if token is None else {"token": token}
    if audience:
        spec["audiences"] = [audience]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def test_token_reviews_answer_as_the_real_server_does(
    backend: Backend, api: client.ApiClient
) -> None:
    (pod,) = backend.deployment("shop", "cart", replicas=1)
    token = backend.pod_token(pod, "remediation")
    good = rest(api, "POST", REVIEWS, review(token, "remediation"))["status"]
    assert good["authenticated"] is True
    assert good["audiences"] == ["remediation"]
    extra = good["user"]["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["cart-0"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    # Negative answers carry no `authenticated` at all, an empty user and the error.
    assert rest(api, "POST", REVIEWS, review("forged-token"))["status"] == {
        "user": {},
        "error": "invalid bearer token",
    }
    assert rest(api, "POST", REVIEWS, review(token, "someone-else"))["status"] == {
        "user": {},
        "error": '[invalid bearer token, token audiences ["remediation"] is invalid for the '
        'target audiences ["someone-else"]]',
    }
    code, status = refused(api, "POST", REVIEWS, review(None))
    assert (code, status["message"]) == (400, "token is required for TokenReview in authentication")


def test_a_null_holder_identity_removes_the_field(api: client.ApiClient) -> None:
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "held"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }
    lease = rest(api, "POST", LEASES, body)
    lease["spec"]["holderIdentity"] = None
    released = rest(api, "PUT", f"{LEASES}/held", lease)
    assert released["spec"] == {"leaseDurationSeconds": 15}


def test_lists_are_paged_with_limit_and_continue(backend: Backend, api: client.ApiClient) -> None:
    backend.deployment("shop", "cart", replicas=3)
    path = "/api/v1/namespaces/shop/pods"
    first = rest(api, "GET", path, query={"limit": "2"})
    assert [p["metadata"]["name"] for p in first["items"]] == ["cart-0", "cart-1"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest_of = rest(
        api, "GET", path, query={"limit": "2", "continue": first["metadata"]["continue"]}
    )
    assert [p["metadata"]["name"] for p in rest_of["items"]] == ["cart-2"]
    assert "continue" not in rest_of["metadata"]
    assert rest_of["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_a_bound_token_stops_reviewing_once_its_pod_is_deleted_or_replaced(
    backend: Backend, api: client.ApiClient
) -> None:
    (pod,) = backend.deployment("shop", "cart", replicas=1)
    token = backend.pod_token(pod, "remediation")
    backend.finish_termination("shop", "cart-0")

    def status() -> JSON:
        answer: JSON = rest(api, "POST", REVIEWS, review(token, "remediation"))["status"]
        return answer

    # The real server learns of the deletion from its informer: soon, not at once.
    deadline = time.monotonic() + 10
    while status().get("authenticated") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status() == {"user": {}, "error": "[invalid bearer token, Token has been invalidated]"}
    again = backend.pod_again(pod)
    deadline = time.monotonic() + 10
    while "does not match" not in status().get("error", "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status()["error"] == (
        f"[invalid bearer token, Pod UID ({again['metadata']['uid']}) does not match claim "
        f"({pod['metadata']['uid']})]"
    )
