"""A Deployment's newest revision as Kubernetes' own deployment and replicaset controllers make
it (ReplicaSets numbered by `deployment.kubernetes.io/revision`, pods labelled with their
`pod-template-hash`), and a bad rollout's remedy, `spec.paused`, on the real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kube.driver import Driver

from receiver.model import Workload

from .backends import RealBackend
from .rest import rest

pytestmark = pytest.mark.realserver

CHECKOUT = Workload("shop", "Deployment", "checkout")
PATH = "/apis/apps/v1/namespaces/shop/deployments/checkout"


@pytest.fixture
def controllers(real: RealBackend) -> Iterator[RealBackend]:
    real.server.start_controllers("deployment", "replicaset")
    try:
        yield real
    finally:
        real.server.stop_controllers()


def deployment(image: str) -> dict[str, object]:
    labels = {"app": "checkout"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def test_the_newest_revision_follows_a_rollout_and_pause_rollout_pauses_it(
    controllers: RealBackend,
) -> None:
    real = controllers
    rest(real.admin, "POST", "/apis/apps/v1/namespaces/shop/deployments", deployment("app:1"))
    driver = Driver(real)
    try:
        driver.start()
        cluster = driver.cluster

        def newest() -> str:
            rollout = cluster.snapshot().rollouts.get(CHECKOUT)
            return rollout.revision if rollout else ""

        driver.until(lambda: newest() != "", timeout=30, what="the first revision")
        first = newest()
        assert {p.revision for p in cluster.snapshot().pods.values()} == {first}
        # No scheduler runs, so no pod becomes available: the new ReplicaSet gets its surge pod.
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}
        }
        rest(
            real.admin, "PATCH", PATH, patch, content_type="application/strategic-merge-patch+json"
        )
        driver.until(lambda: newest() not in ("", first), timeout=30, what="the second revision")
        second = newest()
        revisions = {p.revision for p in cluster.snapshot().pods.values()}
        assert revisions == {first, second}  # part-way: the old revision's pods remain
        rollout = cluster.snapshot().rollouts[CHECKOUT]
        assert rollout.since is not None
        driver.run(cluster.pause_rollout(CHECKOUT))
        assert rest(real.admin, "GET", PATH)["spec"]["paused"] is True
    finally:
        driver.close()
