"""The Kubernetes cluster over HTTP: the official client against the fake API server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from kubeapi import (
    CONFIGMAP,
    CONTROLLERREVISION,
    DAEMONSET,
    DEPLOYMENT,
    EVENT,
    REPLICASET,
    STATEFULSET,
    FakeKubeApi,
    LoggedRequest,
)
from kubeapi.cluster import owner_reference

from kube.driver import EXISTING, FAST_RETRY, STATE, Driver, deployment, statefulset
from receiver.cluster import (
    ClusterUnavailable,
    Conflict,
    Event,
    EventType,
    EvictionFailed,
    EvictionRefused,
    PodPatch,
    StateUpdate,
    Traffic,
)
from receiver.cluster.codec import LIFECYCLE_ANNOTATION, STATE_ANNOTATION
from receiver.kube import RetryPolicy
from receiver.model import (
    Hold,
    HoldKind,
    Lifecycle,
    PodKey,
    PodState,
    Rollout,
    SupervisorState,
    Target,
    Watch,
    Workload,
)

CART = Workload("shop", "Deployment", "cart")
MADE = datetime(2026, 1, 1, 12, tzinfo=UTC)
DRAINED = Lifecycle(state=PodState.DRAINED, rule="errors", attempts=1, until=1_800_000_300.0)


def drain(key: PodKey) -> PodPatch:
    return PodPatch(key=key, lifecycle=DRAINED, traffic=Traffic.OFF)


def test_the_cache_lists_resolves_fleets_and_follows_the_watch(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=3, not_ready=1)
    statefulset(fake, "shop", "db", replicas=2, labels={"app": "db"})
    fake.cluster.add_pod("elsewhere", "stranger")  # not a namespace the runbook allows
    driver.start(["shop"])
    snapshot = driver.cluster.snapshot()
    assert sorted(str(k) for k in snapshot.pods) == [
        "shop/cart-0",
        "shop/cart-1",
        "shop/cart-2",
        "shop/db-0",
        "shop/db-1",
    ]
    assert snapshot.owners is not None
    assert len(snapshot.owners[CART]) == 3
    assert len(snapshot.owners[Workload("shop", "StatefulSet", "db")]) == 2
    assert [p.ready for p in sorted(snapshot.pods.values(), key=lambda p: p.name)][:3] == [
        False,
        True,
        True,
    ]
    # One GET for the ReplicaSet, whatever the number of its pods.
    assert len(fake.requests.matching("GET", r"/replicasets/")) == 1

    fake.cluster.set_ready("shop", "cart-0", True)
    driver.until(lambda: driver.cluster.snapshot().pods[PodKey("shop", "cart-0")].ready)
    fake.cluster.finish_termination("shop", "db-1")
    driver.until(lambda: PodKey("shop", "db-1") not in driver.cluster.snapshot().pods)
    assert len(driver.cluster.snapshot().owners[Workload("shop", "StatefulSet", "db")]) == 1  # type: ignore[index]


def test_a_pod_is_written_in_one_strategic_merge_patch_with_a_precondition(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=2)
    driver.start()
    key = PodKey("shop", "cart-0")
    seen = driver.pod_version(key)
    driver.run(driver.cluster.patch_pod(drain(key)))
    (patch,) = fake.requests.matching("PATCH", r"/pods/cart-0$")
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert fake.cluster.labels("shop", "cart-0")["remediation/traffic"] == "off"
    annotations = fake.cluster.annotations("shop", "cart-0")
    assert annotations[STATE_ANNOTATION] == "drained"
    assert json.loads(annotations[LIFECYCLE_ANNOTATION])["until"] == DRAINED.until
    # Read your own write at once, before the watch brings it.
    pod = driver.cluster.snapshot().pods[key]
    assert (pod.lifecycle, pod.labels["remediation/traffic"]) == (DRAINED, "off")
    assert int(driver.pod_version(key) or 0) > int(seen or 0)


def test_a_stale_pod_is_a_conflict_and_is_read_again(fake: FakeKubeApi, driver: Driver) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    key = PodKey("shop", "cart-0")
    driver.cluster._cache.versions[key] = "1"  # what the decision read is out of date
    with pytest.raises(Conflict):
        driver.run(driver.cluster.patch_pod(drain(key)))
    assert "remediation/traffic" not in fake.cluster.labels("shop", "cart-0")
    current = fake.cluster.pod("shop", "cart-0")
    assert current is not None
    assert driver.pod_version(key) == current["metadata"]["resourceVersion"]
    driver.run(driver.cluster.patch_pod(drain(key)))  # decided again: it goes through
    assert fake.cluster.labels("shop", "cart-0")["remediation/traffic"] == "off"


def test_a_pod_gone_is_a_lookup_error_and_leaves_the_cache(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    fake.faults.fail("PATCH", r"/pods/cart-0$", status=404)
    with pytest.raises(LookupError):
        driver.run(driver.cluster.patch_pod(drain(PodKey("shop", "cart-0"))))
    assert PodKey("shop", "cart-0") not in driver.cluster.snapshot().pods


def test_eviction_goes_through_the_budget(fake: FakeKubeApi, driver: Driver) -> None:
    deployment(fake, "shop", "cart", replicas=3, not_ready=1)
    fake.cluster.add_budget("shop", {"app": "cart"}, max_unavailable=1)
    driver.start()
    with pytest.raises(EvictionRefused, match="disruption budget"):
        driver.run(driver.cluster.evict(PodKey("shop", "cart-1")))
    assert not driver.cluster.snapshot().pods[PodKey("shop", "cart-1")].terminating
    fake.cluster.set_ready("shop", "cart-0", True)
    driver.until(lambda: driver.cluster.snapshot().pods[PodKey("shop", "cart-0")].ready)
    driver.run(driver.cluster.evict(PodKey("shop", "cart-1")))
    assert driver.cluster.snapshot().pods[PodKey("shop", "cart-1")].terminating
    evictions = fake.requests.matching("POST", r"/pods/cart-1/eviction$")
    assert [e.status for e in evictions] == [429, 201]  # a 429 is an answer, not retried
    evicted = fake.cluster.pod("shop", "cart-1")
    assert evicted is not None
    assert evicted["metadata"].get("deletionTimestamp")


def test_an_eviction_refused_long_enough_falls_back_to_delete_when_asked(
    fake: FakeKubeApi,
) -> None:
    deployment(fake, "shop", "cart", replicas=2)
    fake.cluster.block_eviction("shop", "cart-0")
    driver = Driver(fake, evict_fallback_after=60.0).start()
    try:
        key = PodKey("shop", "cart-0")
        with pytest.raises(EvictionRefused):
            driver.run(driver.cluster.evict(key))
        driver.clock.now += 59
        with pytest.raises(EvictionRefused):
            driver.run(driver.cluster.evict(key))
        driver.clock.now += 1
        driver.run(driver.cluster.evict(key))
        (delete,) = fake.requests.matching("DELETE", r"/pods/cart-0$")
        assert delete.status == 200
        assert driver.cluster.snapshot().pods[key].terminating
    finally:
        driver.close()


def test_rollout_restart_patches_the_template_as_kubectl_does(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    fake.cluster.add_workload(DAEMONSET, "shop", "agent")
    driver.start()
    driver.run(driver.cluster.rollout_restart(CART, 1_800_000_000.0))
    driver.run(driver.cluster.rollout_restart(Workload("shop", "DaemonSet", "agent"), 0.0))
    template = fake.cluster.get(DEPLOYMENT, "shop", "cart")["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2027-01-15T08:00:00Z"
    }
    with pytest.raises(LookupError, match="Deployments, StatefulSets and DaemonSets"):
        driver.run(driver.cluster.rollout_restart(Workload("shop", "ReplicaSet", "x"), 0.0))
    with pytest.raises(LookupError):
        driver.run(driver.cluster.rollout_restart(Workload("shop", "Deployment", "gone"), 0.0))


def test_pause_rollout_sets_the_deployments_paused_as_kubectl_does(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    driver.run(driver.cluster.pause_rollout(CART))
    assert fake.cluster.get(DEPLOYMENT, "shop", "cart")["spec"]["paused"] is True
    with pytest.raises(LookupError, match="only a Deployment's rollout"):
        driver.run(driver.cluster.pause_rollout(Workload("shop", "StatefulSet", "db")))
    with pytest.raises(LookupError):
        driver.run(driver.cluster.pause_rollout(Workload("shop", "Deployment", "gone")))


def test_each_workloads_newest_revision_comes_from_its_revision_objects(
    fake: FakeKubeApi, driver: Driver
) -> None:
    """A Deployment's from the ReplicaSets its pods name (highest revision annotation); a
    StatefulSet's and a DaemonSet's from their ControllerRevisions (highest `revision`)."""
    cart = fake.cluster.add_workload(DEPLOYMENT, "shop", "cart")
    for revision, number, created in (("aaa", "1", EXISTING), ("bbb", "2", MADE)):
        meta = {
            "name": f"cart-{revision}",
            "labels": {"pod-template-hash": revision},
            "annotations": {"deployment.kubernetes.io/revision": number},
            "ownerReferences": [owner_reference(cart)],
        }
        rs = fake.cluster.create(REPLICASET, "shop", {"metadata": meta}, created=created)
        fake.cluster.add_pod("shop", f"cart-{revision}-x", owner=rs,
                             labels={"pod-template-hash": revision})  # fmt: skip
    db = fake.cluster.add_workload(STATEFULSET, "shop", "db")
    agent = fake.cluster.add_workload(DAEMONSET, "shop", "agent")
    for owner, name, label, number in (
        (db, "db-111", "db-111", 3),  # a StatefulSet's pods carry the revision's name
        (db, "db-222", "db-222", 4),
        (agent, "agent-333", "333", 7),  # a DaemonSet's the hash alone
    ):
        body = {"metadata": {"name": name}, "revision": number}
        fake.cluster.create(CONTROLLERREVISION, "shop", body, created=MADE)
        pod = f"{name}-pod"
        fake.cluster.add_pod("shop", pod, owner=owner, labels={"controller-revision-hash": label})
    driver.start()
    snapshot = driver.cluster.snapshot()
    assert snapshot.pods[PodKey("shop", "cart-aaa-x")].revision == "aaa"
    assert dict(snapshot.rollouts) == {
        CART: Rollout(revision="bbb", since=MADE.timestamp()),
        Workload("shop", "StatefulSet", "db"): Rollout(revision="db-222", since=MADE.timestamp()),
        Workload("shop", "DaemonSet", "agent"): Rollout(revision="333", since=MADE.timestamp()),
    }


def state_update(**supervisors: SupervisorState) -> StateUpdate:
    return StateUpdate(
        workloads={CART: Lifecycle(state=PodState.PROBATION)},
        supervisors=supervisors,
        recent_actions=(1.0, 2.0),
    )


def test_state_is_kept_in_a_configmap_a_new_receiver_reads_back(fake: FakeKubeApi) -> None:
    driver = Driver(fake).start()
    try:
        spent = SupervisorState(counted=(5.0,), actions=(5.0,), frozen_until=99.0, escalations=1)
        driver.run(driver.cluster.save_state(state_update(checkout=spent)))
        driver.run(driver.cluster.save_state(state_update(payments=SupervisorState())))
        stored = fake.cluster.get(CONFIGMAP, STATE.namespace, STATE.name)
        assert json.loads(stored["data"]["recentActions"]) == [1.0, 2.0]
        assert [r.method for r in fake.requests.matching(None, r"/configmaps")] == [
            "GET",  # start: nothing there yet
            "POST",
            "PUT",
        ]
    finally:
        driver.close()
    after_restart = Driver(fake).start()
    try:
        snapshot = after_restart.cluster.snapshot()
        assert snapshot.supervisor("checkout") == spent
        assert snapshot.workload(CART).state is PodState.PROBATION
        assert snapshot.recent_actions == (1.0, 2.0)
    finally:
        after_restart.close()


HOLD = Hold(
    id="3f2a9c1b",
    kind=HoldKind.WORKLOAD,
    target="shop/deployment/cart",
    reason="migrating the database",
    author="alice via ops",
    created=1_800_000_000.0,
    expires=1_800_007_200.0,
)


def test_operator_holds_survive_a_new_receiver_and_other_writes(fake: FakeKubeApi) -> None:
    driver = Driver(fake).start()
    try:
        holds = StateUpdate(workloads={}, supervisors={}, recent_actions=None, holds=(HOLD,))
        driver.run(driver.cluster.save_state(holds))
        driver.run(driver.cluster.save_state(state_update(checkout=SupervisorState())))
    finally:
        driver.close()
    stored = fake.cluster.get(CONFIGMAP, STATE.namespace, STATE.name)
    assert json.loads(stored["data"]["holds"])[0]["reason"] == "migrating the database"
    after_restart = Driver(fake).start()
    try:
        assert after_restart.cluster.snapshot().holds == (HOLD,)
        lifted = StateUpdate(workloads={}, supervisors={}, recent_actions=None, holds=())
        after_restart.run(after_restart.cluster.save_state(lifted))
        assert after_restart.cluster.snapshot().holds == ()
    finally:
        after_restart.close()
    assert "holds" not in fake.cluster.get(CONFIGMAP, STATE.namespace, STATE.name)["data"]


def test_corrupt_holds_read_as_none_and_the_budgets_still_read(fake: FakeKubeApi) -> None:
    fake.cluster.create(
        CONFIGMAP,
        STATE.namespace,
        {
            "metadata": {"name": STATE.name},
            "data": {"supervisors": '{"checkout":{"escalations":2}}', "holds": "[{broken"},
        },
    )
    driver = Driver(fake).start()
    try:
        assert driver.cluster.snapshot().holds == ()
        assert driver.cluster.snapshot().supervisor("checkout").escalations == 2
    finally:
        driver.close()


def test_a_state_write_that_lost_a_race_merges_and_writes_again(
    fake: FakeKubeApi, driver: Driver
) -> None:
    driver.start()
    driver.run(driver.cluster.save_state(state_update(checkout=SupervisorState(escalations=1))))
    other = Driver(fake, identity="receiver-1").start()
    try:
        other.run(other.cluster.save_state(state_update(payments=SupervisorState(escalations=2))))
    finally:
        other.close()
    driver.run(driver.cluster.save_state(state_update(search=SupervisorState(escalations=3))))
    stored = json.loads(
        fake.cluster.get(CONFIGMAP, STATE.namespace, STATE.name)["data"]["supervisors"]
    )
    assert {name: s["escalations"] for name, s in stored.items()} == {
        "checkout": 1,
        "payments": 2,
        "search": 3,
    }
    assert [r.status for r in fake.requests.matching("PUT", r"/configmaps/")][-2:] == [409, 200]


def _watch(rule: str) -> Watch:
    return Watch(rule=rule, action="restart", pod="shop/cart-0", at=1.0, until=601.0)


def test_open_outcomes_survive_a_restart_and_merge_after_a_lost_race(fake: FakeKubeApi) -> None:
    """The watches of decide/outcomes.py are kept beside the budgets, merged per target."""
    first = Driver(fake).start()
    other = Driver(fake, identity="receiver-1").start()
    payments = Workload("shop", "Deployment", "payments")
    try:
        first.run(first.cluster.save_state(_with_watches({CART: (_watch("crashy"),)})))
        other.run(other.cluster.save_state(_with_watches({payments: (_watch("slow"),)})))
        first.run(first.cluster.save_state(_with_watches({CART: ()})))  # decided: closed
    finally:
        first.close()
        other.close()
    after_restart = Driver(fake).start()
    try:
        assert dict(after_restart.cluster.snapshot().watches) == {payments: (_watch("slow"),)}
    finally:
        after_restart.close()


def _with_watches(watches: dict[Target, tuple[Watch, ...]]) -> StateUpdate:
    return StateUpdate(workloads={}, supervisors={}, recent_actions=None, watches=watches)


def test_a_corrupt_state_object_reads_as_empty(fake: FakeKubeApi) -> None:
    fake.cluster.create(
        CONFIGMAP,
        STATE.namespace,
        {"metadata": {"name": STATE.name}, "data": {"supervisors": "{broken"}},
    )
    driver = Driver(fake).start()
    try:
        assert driver.cluster.snapshot().supervisors == {}
        driver.run(driver.cluster.save_state(state_update()))  # and is overwritten
    finally:
        driver.close()


def test_events_name_the_pod_and_its_uid(fake: FakeKubeApi, driver: Driver) -> None:
    (pod,) = deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    event = Event(
        reason="Drained",
        message="error ratio 12% over 5m",
        at=1_800_000_000.0,
        type=EventType.NORMAL,
        pod=PodKey("shop", "cart-0"),
    )
    driver.run(driver.cluster.record_event(event))
    (stored,) = fake.cluster.objects(EVENT, "shop")[0]
    assert stored["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "cart-0",
        "namespace": "shop",
        "uid": pod["metadata"]["uid"],
    }
    assert (stored["reason"], stored["type"], stored["source"]) == (
        "Drained",
        "Normal",
        {"component": "remediation-receiver"},
    )


def test_server_errors_are_retried_within_the_budget_then_unavailable(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    key = PodKey("shop", "cart-0")
    fake.faults.fail("PATCH", r"/pods/cart-0$", status=500, times=2)
    driver.run(driver.cluster.patch_pod(drain(key)))  # third try succeeds
    assert driver.requests("patch", "500") == 2
    assert driver.requests("patch", "200") == 1
    fake.faults.fail("PATCH", r"/pods/cart-0$", status=503, times=3)
    with pytest.raises(ClusterUnavailable, match="503"):
        driver.run(driver.cluster.patch_pod(PodPatch(key=key, traffic=Traffic.ON)))
    assert fake.cluster.labels("shop", "cart-0")["remediation/traffic"] == "off"  # not applied


def test_throttling_waits_as_told_and_timeouts_are_retried(fake: FakeKubeApi) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver = Driver(fake, retry=RetryPolicy(attempts=4, budget=10.0, base=0.01, cap=1.0))
    driver.start()
    key = PodKey("shop", "cart-0")
    fake.faults.fail("PATCH", r"/pods/cart-0$", status=429, retry_after=1)
    fake.faults.delay("PATCH", r"/pods/cart-0$", seconds=3.0)  # past the 2 s read timeout
    driver.run(driver.cluster.patch_pod(drain(key)))
    assert driver.requests("patch", "429") == 1
    assert driver.requests("patch", "error") == 1
    assert fake.cluster.labels("shop", "cart-0")["remediation/traffic"] == "off"
    driver.close()


def test_a_forbidden_call_says_to_check_rbac(fake: FakeKubeApi, driver: Driver) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    fake.faults.fail("POST", r"/eviction$", status=403)
    # The API will say it again: reported failed for a human, not "send again later".
    with pytest.raises(EvictionFailed, match="RBAC"):
        driver.run(driver.cluster.evict(PodKey("shop", "cart-0")))


TWO_PDBS = (
    "This pod has more than one PodDisruptionBudget, "
    "which the eviction subresource does not support."
)


@pytest.mark.parametrize(
    ("status", "message", "raised"),
    [
        (400, None, EvictionFailed),
        (422, None, EvictionFailed),
        (500, TWO_PDBS, EvictionFailed),  # the server says it again: not worth a retry
        (503, None, ClusterUnavailable),  # may pass later: retried from the tick
    ],
)
def test_an_eviction_the_server_will_refuse_again_is_failed_not_unavailable(
    fake: FakeKubeApi, driver: Driver, status: int, message: str | None, raised: type
) -> None:
    deployment(fake, "shop", "cart", replicas=1)
    driver.start()
    fake.faults.fail("POST", r"/eviction$", status=status, times=10, message=message)
    with pytest.raises(raised):
        driver.run(driver.cluster.evict(PodKey("shop", "cart-0")))
    evictions = fake.requests.matching("POST", r"/eviction$")
    assert len(evictions) == (1 if raised is EvictionFailed else FAST_RETRY.attempts)


def test_a_dropped_watch_resumes_and_a_compacted_history_relists(
    fake: FakeKubeApi, driver: Driver
) -> None:
    deployment(fake, "shop", "cart", replicas=2)
    driver.start()

    def lists() -> int:
        calls = fake.requests.matching("GET", r"/namespaces/shop/pods$")
        return sum(1 for r in calls if not r.query.get("watch"))

    def watches() -> list[LoggedRequest]:
        calls = fake.requests.matching("GET", r"/namespaces/shop/pods$")
        return [r for r in calls if r.query.get("watch")]

    listed = lists()
    fake.wait_for_watches(1)  # the informer's watch is open: cut it
    fake.cluster.end_watches(abrupt=True)
    fake.cluster.set_ready("shop", "cart-1", False)
    driver.until(lambda: not driver.cluster.snapshot().pods[PodKey("shop", "cart-1")].ready)
    driver.until(lambda: len(watches()) >= 2, what="the watch to be opened again")
    assert watches()[-1].query.get("resourceVersion")  # resumed, not from scratch

    fake.wait_for_watches(1)
    fake.cluster.end_watches(abrupt=True)  # the informer waits 0.5 s before watching again
    fake.cluster.finish_termination("shop", "cart-0")  # happens while nobody watches
    fake.cluster.compact()
    driver.until(lambda: PodKey("shop", "cart-0") not in driver.cluster.snapshot().pods)
    assert lists() == listed + 1  # the 410 made it list again


def test_a_runbook_reload_changes_the_watched_namespaces(fake: FakeKubeApi, driver: Driver) -> None:
    fake.cluster.add_pod("shop", "a")
    fake.cluster.add_pod("payments", "b")
    driver.start(["shop"])
    driver.cluster.watch(["payments"])
    driver.until(lambda: driver.cluster.synced)
    driver.until(lambda: sorted(map(str, driver.cluster.snapshot().pods)) == ["payments/b"])


def test_every_namespace_with_a_star(fake: FakeKubeApi, driver: Driver) -> None:
    fake.cluster.add_pod("shop", "a")
    fake.cluster.add_pod("payments", "b")
    driver.start(["*"])
    assert sorted(map(str, driver.cluster.snapshot().pods)) == ["payments/b", "shop/a"]
    assert fake.requests.matching("GET", r"^/api/v1/pods$")


def test_nothing_is_read_before_start(fake: FakeKubeApi) -> None:
    driver = Driver(fake)  # builds the Api and the KubernetesCluster
    try:
        assert fake.requests.all() == []
        assert not driver.cluster.synced
        assert driver.cluster.snapshot().pods == {}
    finally:
        driver.close()
