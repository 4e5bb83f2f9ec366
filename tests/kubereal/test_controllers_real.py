"""With Kubernetes' own controllers computing what the other tests write by hand: the
endpoints controller (a drained pod leaves the Service's endpoints, a restored one comes back)
and the disruption controller (a budget's status, which the Eviction API decides by)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kube.driver import Driver
from kubernetes import client

from receiver.cluster import EvictionRefused, PodPatch, Traffic
from receiver.model import PodKey

from .backends import RealBackend
from .rest import JSON, rest

pytestmark = pytest.mark.realserver

ENDPOINTS = "/api/v1/namespaces/shop/endpoints/checkout"
PDB = "/apis/policy/v1beta1/namespaces/shop/poddisruptionbudgets/checkout-budget"


@pytest.fixture
def controllers(real: RealBackend) -> Iterator[RealBackend]:
    real.server.start_controllers("endpoint", "disruption")
    try:
        yield real
    finally:
        real.server.stop_controllers()


@pytest.fixture
def driver(controllers: RealBackend) -> Iterator[Driver]:
    driver = Driver(controllers)
    try:
        yield driver
    finally:
        driver.close()


def addresses(real: RealBackend) -> list[str]:
    try:
        endpoints = rest(real.admin, "GET", ENDPOINTS)
    except client.ApiException as exc:
        if exc.status == 404:  # not made yet
            return []
        raise
    return sorted(
        a["targetRef"]["name"] for s in endpoints.get("subsets") or [] for a in s["addresses"]
    )


def traffic_aware_service(real: RealBackend) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "checkout"},
        "spec": {
            "selector": {"app": "checkout", "remediation/traffic": "on"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }
    rest(real.admin, "POST", "/api/v1/namespaces/shop/services", body)


def test_a_drained_pod_leaves_the_endpoints_and_a_restored_one_comes_back(
    controllers: RealBackend, driver: Driver
) -> None:
    real = controllers
    real.deployment("shop", "checkout", replicas=3)
    for i in range(3):
        path = f"/api/v1/namespaces/shop/pods/checkout-{i}"
        patch = {"metadata": {"labels": {"remediation/traffic": "on"}}}
        rest(real.admin, "PATCH", path, patch, content_type="application/merge-patch+json")
    try:
        traffic_aware_service(real)
        all_three = ["checkout-0", "checkout-1", "checkout-2"]
        driver.until(lambda: addresses(real) == all_three, timeout=30, what="the endpoints")
        driver.start()
        key = PodKey("shop", "checkout-1")
        driver.run(driver.cluster.patch_pod(PodPatch(key=key, traffic=Traffic.OFF)))
        driver.until(
            lambda: addresses(real) == ["checkout-0", "checkout-2"], timeout=30, what="drained"
        )
        driver.until(lambda: driver.pod_version(key) is not None)
        driver.run(driver.cluster.patch_pod(PodPatch(key=key, traffic=Traffic.ON)))
        driver.until(lambda: addresses(real) == all_three, timeout=30, what="restored")
    finally:
        rest(real.admin, "DELETE", "/api/v1/namespaces/shop/services/checkout")


def budget_status(real: RealBackend) -> JSON:
    status: JSON = rest(real.admin, "GET", PDB).get("status") or {}
    return status


def test_the_disruption_controller_computes_the_budget_the_eviction_obeys(
    controllers: RealBackend, driver: Driver
) -> None:
    real = controllers
    real.deployment("shop", "checkout", replicas=3)
    real.budget("shop", {"app": "checkout"}, max_unavailable=1, processed=False)
    driver.until(
        lambda: budget_status(real).get("currentHealthy") == 3, timeout=30, what="the budget"
    )
    assert budget_status(real)["disruptionsAllowed"] == 1
    driver.start()
    driver.run(driver.cluster.evict(PodKey("shop", "checkout-0")))
    with pytest.raises(EvictionRefused):
        driver.run(driver.cluster.evict(PodKey("shop", "checkout-1")))
    # The controller sees the evicted pod terminating and keeps the budget spent.
    driver.until(lambda: budget_status(real).get("currentHealthy") == 2, timeout=30, what="recount")
    assert budget_status(real)["disruptionsAllowed"] == 0
