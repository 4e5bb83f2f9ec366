"""One contract, two servers: the adapter's HTTP-level cases against the fake and a real
kube-apiserver, the same test with two fixtures (`backend`). Where they differ, the fake is
wrong and is fixed to agree."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from kube.driver import STATE, Driver
from kubernetes import client

from receiver.cluster import (
    Conflict,
    Event,
    EventType,
    EvictionRefused,
    PodPatch,
    StateUpdate,
    Traffic,
)
from receiver.cluster.codec import STATE_ANNOTATION
from receiver.model import Hold, HoldKind, Lifecycle, PodKey, PodState, SupervisorState, Workload

from .backends import Backend
from .rest import rest, status_of

pytestmark = pytest.mark.realserver

CART = Workload("shop", "Deployment", "cart")
DRAINED = Lifecycle(state=PodState.DRAINED, rule="errors", attempts=1, until=1_800_000_300.0)


def key(name: str) -> PodKey:
    return PodKey("shop", name)


def test_the_cache_lists_resolves_fleets_and_follows_the_watch(
    backend: Backend, driver: Driver
) -> None:
    backend.deployment("shop", "cart", replicas=3, not_ready=1)
    driver.start(["shop"])
    snapshot = driver.cluster.snapshot()
    assert sorted(str(k) for k in snapshot.pods) == ["shop/cart-0", "shop/cart-1", "shop/cart-2"]
    assert snapshot.owners is not None
    assert len(snapshot.owners[CART]) == 3
    assert not snapshot.pods[key("cart-0")].ready
    assert snapshot.pods[key("cart-1")].started_at is not None
    backend.set_ready("shop", "cart-0", True)
    driver.until(lambda: driver.cluster.snapshot().pods[key("cart-0")].ready)
    backend.finish_termination("shop", "cart-2")
    driver.until(lambda: key("cart-2") not in driver.cluster.snapshot().pods)


def test_a_drain_is_one_patch_and_a_stale_read_is_a_conflict(
    backend: Backend, driver: Driver
) -> None:
    backend.deployment("shop", "cart", replicas=1)
    driver.start()
    k = key("cart-0")
    driver.run(driver.cluster.patch_pod(PodPatch(key=k, lifecycle=DRAINED, traffic=Traffic.OFF)))
    pod = backend.pod("shop", "cart-0")
    assert pod is not None
    assert pod["metadata"]["labels"]["remediation/traffic"] == "off"
    assert pod["metadata"]["annotations"][STATE_ANNOTATION] == "drained"
    stale = driver.pod_version(k)
    # Another writer changes the pod; once the watch shows it, everything before it has landed.
    backend.set_ready("shop", "cart-0", False)
    driver.until(lambda: not driver.cluster.snapshot().pods[k].ready)
    driver.cluster._cache.versions[k] = stale or ""  # what a decision read is out of date
    with pytest.raises(Conflict):
        driver.run(driver.cluster.patch_pod(PodPatch(key=k, traffic=Traffic.ON)))
    driver.run(driver.cluster.patch_pod(PodPatch(key=k, traffic=Traffic.ON)))  # read again
    pod = backend.pod("shop", "cart-0")
    assert pod is not None
    assert pod["metadata"]["labels"]["remediation/traffic"] == "on"


def test_an_eviction_without_a_budget_starts_graceful_termination(
    backend: Backend, driver: Driver
) -> None:
    backend.deployment("shop", "cart", replicas=2)
    driver.start()
    driver.run(driver.cluster.evict(key("cart-0")))
    assert driver.cluster.snapshot().pods[key("cart-0")].terminating
    pod = backend.pod("shop", "cart-0")
    assert pod is not None
    assert pod["metadata"]["deletionTimestamp"]  # the kubelet would stop it now
    backend.finish_termination("shop", "cart-0")
    driver.until(lambda: key("cart-0") not in driver.cluster.snapshot().pods)


def test_an_eviction_of_a_replaced_pod_is_refused_by_its_uid(
    backend: Backend, driver: Driver
) -> None:
    backend.deployment("shop", "cart", replicas=1)
    driver.start()
    k = key("cart-0")
    # What the receiver knows is an earlier pod of this name (another uid).
    cached = driver.cluster._cache.pods[k]
    driver.cluster._cache.pods[k] = replace(cached, uid="0f0f0f0f-0000-4000-8000-000000000000")
    with pytest.raises(LookupError):
        driver.run(driver.cluster.evict(k))
    pod = backend.pod("shop", "cart-0")
    assert pod is not None
    assert not pod["metadata"].get("deletionTimestamp")  # the pod of today is untouched


def test_the_uid_precondition_answer_is_the_real_one(backend: Backend) -> None:
    (pod,) = backend.deployment("shop", "cart", replicas=1)
    body = {
        "apiVersion": "policy/v1beta1",
        "kind": "Eviction",
        "metadata": {"name": "cart-0", "namespace": "shop"},
        "deleteOptions": {"preconditions": {"uid": "other"}},
    }
    api = backend.api_client()
    try:
        with pytest.raises(client.ApiException) as caught:
            rest(api, "POST", "/api/v1/namespaces/shop/pods/cart-0/eviction", body)
    finally:
        api.close()  # type: ignore[no-untyped-call]
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on Pod "cart-0": the UID in the precondition (other) '
        f"does not match the UID in record ({pod['metadata']['uid']}). "
        "The object might have been deleted and then recreated"
    )
    assert status["details"] == {"name": "cart-0", "kind": "Pod"}


def test_a_budget_without_room_refuses_the_eviction(backend: Backend, driver: Driver) -> None:
    backend.deployment("shop", "cart", replicas=3, not_ready=1)
    backend.budget("shop", {"app": "cart"}, max_unavailable=1)
    driver.start()
    with pytest.raises(EvictionRefused, match="disruption budget"):
        driver.run(driver.cluster.evict(key("cart-1")))
    assert not driver.cluster.snapshot().pods[key("cart-1")].terminating


def test_a_budget_with_room_lets_one_eviction_through(backend: Backend, driver: Driver) -> None:
    backend.deployment("shop", "cart", replicas=3)
    backend.budget("shop", {"app": "cart"}, max_unavailable=1)
    driver.start()
    driver.run(driver.cluster.evict(key("cart-0")))
    assert driver.cluster.snapshot().pods[key("cart-0")].terminating
    with pytest.raises(EvictionRefused):
        driver.run(driver.cluster.evict(key("cart-1")))


def test_rollout_restart_and_its_event_name_the_workload_by_uid(
    backend: Backend, driver: Driver
) -> None:
    (pod,) = backend.deployment("shop", "cart", replicas=1)
    driver.start()
    driver.run(driver.cluster.rollout_restart(CART, 1_800_000_000.0))
    at = 1_800_000_000.0
    driver.run(
        driver.cluster.record_event(
            Event(reason="RolloutRestarted", message="m", at=at, workload=CART)
        )
    )
    driver.run(
        driver.cluster.record_event(
            Event(reason="Drained", message="m", at=at, type=EventType.NORMAL, pod=key("cart-0"))
        )
    )
    api = backend.api_client()
    try:
        deployment = rest(api, "GET", "/apis/apps/v1/namespaces/shop/deployments/cart")
        events = rest(api, "GET", "/api/v1/namespaces/shop/events")["items"]
    finally:
        api.close()  # type: ignore[no-untyped-call]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2027-01-15T08:00:00Z"}
    uids = {e["involvedObject"]["kind"]: e["involvedObject"].get("uid") for e in events}
    assert uids == {"Deployment": deployment["metadata"]["uid"], "Pod": pod["metadata"]["uid"]}


def only(**supervisors: SupervisorState) -> StateUpdate:
    return StateUpdate(workloads={}, supervisors=supervisors, recent_actions=None)


HOLD = Hold(
    id="3f2a9c1b",
    kind=HoldKind.SUPERVISOR,
    target="checkout",
    reason="migrating the database",
    author="alice via ops",
    created=1_800_000_000.0,
    expires=1_800_007_200.0,
)


def test_state_survives_a_new_receiver_and_a_lost_race_merges(backend: Backend) -> None:
    """Operator holds included: they are kept with the budgets."""
    update = StateUpdate(
        workloads={CART: Lifecycle(state=PodState.PROBATION)},
        supervisors={"checkout": SupervisorState(escalations=1)},
        recent_actions=(1.0,),
        holds=(HOLD,),
    )
    first = Driver(backend).start()
    second = Driver(backend, identity="receiver-1").start()
    try:
        first.run(first.cluster.save_state(update))
        second.run(second.cluster.load_state())
        first.run(first.cluster.save_state(only(a=SupervisorState())))
        # `second` read an older version: its write is refused, merged and written again.
        second.run(second.cluster.save_state(only(b=SupervisorState())))
    finally:
        first.close()
        second.close()
    third = Driver(backend).start()
    try:
        snapshot = third.cluster.snapshot()
        assert sorted(snapshot.supervisors) == ["a", "b", "checkout"]
        assert snapshot.workload(CART).state is PodState.PROBATION
        assert snapshot.holds == (HOLD,)
    finally:
        third.close()
    api = backend.api_client()
    try:
        path = f"/api/v1/namespaces/{STATE.namespace}/configmaps/{STATE.name}"
        stored = rest(api, "GET", path)
    finally:
        api.close()  # type: ignore[no-untyped-call]
    assert json.loads(stored["data"]["recentActions"]) == [1.0]
