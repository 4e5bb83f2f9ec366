"""A new leader adopts the evictions its predecessor left pending, and only once its pod
cache is synced: elected before the pods are listed, it waits for them."""

from __future__ import annotations

from pathlib import Path

from kubeapi import FakeKubeApi
from polling import wait_for

from kube.driver import deployment
from kube.test_service import running, service
from receiver.cluster.codec import encode_lifecycle
from receiver.model import Lifecycle, PodState


def test_a_leader_elected_before_its_cache_is_synced_still_adopts_pending_evictions(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=4, labels={"app": "checkout"})
    left = Lifecycle(state=PodState.RESTARTED, rule="silent", attempts=1)
    fake.cluster.add_pod(
        "shop", "checkout-9", labels={"app": "checkout"}, annotations=encode_lifecycle(left)
    )
    # The first list of pods is slow: the Lease is won long before the cache is synced.
    fake.faults.delay("GET", r"^/api/v1/namespaces/shop/pods$", seconds=1.0)
    svc, _ = service(fake, tmp_path, "receiver-0")
    with running(svc) as client:
        wait_for(
            "the pending eviction to be adopted",
            lambda: fake.requests.matching("POST", r"/pods/checkout-9/eviction$"),
        )
        assert client.get("/readyz").status_code == 200
