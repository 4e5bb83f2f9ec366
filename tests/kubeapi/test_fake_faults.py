# The client's models make every field Optional and kubernetes.watch is unannotated; a None
# where the server must answer a value fails the test anyway, so mypy is not asked to prove it.
# mypy: disable-error-code="union-attr, arg-type, index, misc, no-untyped-call"
"""Fault injection and the request log of the fake, through the official `kubernetes` client."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client import ApiException

from .fixtures import status_body as status_of
from .harness import FakeKubeApi

NS = "shop"


def test_injected_failures_and_retry_after(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    kube_api.cluster.add_pod(NS, "a")
    kube_api.faults.fail("GET", r"/pods/a$", status=503, times=2)
    kube_api.faults.fail("PATCH", r"/pods/a$", status=429, retry_after=3)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.read_namespaced_pod("a", NS)
        assert caught.value.status == 503
        assert status_of(caught)["reason"] == "ServiceUnavailable"
    assert core.read_namespaced_pod("a", NS).metadata.name == "a"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("a", NS, {"metadata": {"labels": {"x": "1"}}})
    assert caught.value.headers["Retry-After"] == "3"
    assert kube_api.cluster.labels(NS, "a") == {}  # a faulted request does nothing
    assert [r.status for r in kube_api.requests.all()] == [503, 503, 200, 429]


def test_injected_delay_trips_client_timeouts(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    kube_api.cluster.add_pod(NS, "a")
    kube_api.faults.delay("GET", r"/pods/a$", seconds=5, times=10)
    kube_api.faults.delay("PATCH", r"/pods/a$", seconds=0.4)
    # urllib3 retries an idempotent GET on a read timeout (three times by default); not PATCH.
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.read_namespaced_pod("a", NS, _request_timeout=0.2)
    assert [f.remaining for f in kube_api.faults.pending()] == [6, 1]  # GET tried 4 times
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.patch_namespaced_pod(
            "a", NS, {"metadata": {"labels": {"x": "1"}}}, _request_timeout=0.2
        )
    # The write the client gave up on still lands, as it may on a real server.
    deadline = time.monotonic() + 5
    while kube_api.cluster.labels(NS, "a") != {"x": "1"} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kube_api.cluster.labels(NS, "a") == {"x": "1"}


def test_request_log_names_rbac_verbs(kube_api: FakeKubeApi, kube_client: client.ApiClient) -> None:
    core, leases = client.CoreV1Api(kube_client), client.CoordinationV1Api(kube_client)
    auth = client.AuthenticationV1Api(kube_client)
    kube_api.cluster.add_pod(NS, "a")
    kube_api.cluster.add_pod(NS, "b")
    calls: list[Callable[[], object]] = [
        lambda: core.read_namespaced_pod("a", NS),
        lambda: core.list_namespaced_pod(NS),
        lambda: next(iter(watch.Watch().stream(core.list_namespaced_pod, NS, timeout_seconds=5))),
        lambda: core.patch_namespaced_pod("a", NS, {"metadata": {"labels": {"x": "1"}}}),
        lambda: core.create_namespaced_pod_eviction(
            "b", NS, client.V1Eviction(metadata=client.V1ObjectMeta(name="b"))
        ),
        lambda: core.delete_namespaced_pod("a", NS),
        lambda: leases.create_namespaced_lease(
            NS, client.V1Lease(metadata=client.V1ObjectMeta(name="l"))
        ),
        lambda: leases.replace_namespaced_lease("l", NS, leases.read_namespaced_lease("l", NS)),
        lambda: auth.create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token="t"))
        ),
    ]
    for call in calls:
        call()
    assert kube_api.requests.rbac() == {
        ("", "pods", "get"),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "pods", "patch"),
        ("", "pods/eviction", "create"),
        ("", "pods", "delete"),
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "update"),
        ("authentication.k8s.io", "tokenreviews", "create"),
    }
    patch = kube_api.requests.matching("PATCH")[0]
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.namespace == NS
    assert patch.name == "a"
