"""The adapter makes exactly the API calls charts/.../files/rbac-rules.yaml allows, no more.

Every kind of call the adapter can make is exercised against the fake API
server, which logs each request as the (apiGroup, resource, verb) an RBAC
rule must grant. The chart renders its Roles from the same file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubeapi import CONTROLLERREVISION, DAEMONSET, STATEFULSET, FakeKubeApi

from kube.driver import Driver, deployment
from receiver.cluster import Conflict, Event, PodPatch, StateUpdate, Traffic
from receiver.kube import LeaderElector, ObjectName, PodTokens
from receiver.kube.leader_label import LeaderLabel
from receiver.model import PodKey, SupervisorState, Workload

RULES = Path(__file__).parents[2] / "charts/remediation-receiver/files/rbac-rules.yaml"


def granted(section: str) -> set[tuple[str, str, str]]:
    rules = yaml.safe_load(RULES.read_text())[section]
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_every_call_is_granted_and_every_grant_is_used(fake: FakeKubeApi) -> None:
    cart_0 = deployment(fake, "shop", "cart", replicas=3)[0]["metadata"]["uid"]
    db = fake.cluster.add_workload(STATEFULSET, "shop", "db")
    revision = {"metadata": {"name": "db-7f9c"}, "revision": 1}
    fake.cluster.create(CONTROLLERREVISION, "shop", revision)
    fake.cluster.add_pod("shop", "db-0", labels={"controller-revision-hash": "db-7f9c"}, owner=db)
    fake.cluster.add_workload(DAEMONSET, "shop", "agent")
    fake.cluster.block_eviction("shop", "cart-2")
    fake.tokens.add("t", namespace="shop", service_account="cart", pod_name="cart-0",
                    pod_uid=cart_0, audiences=["remediation"])  # fmt: skip
    driver = Driver(fake, evict_fallback_after=0.0).start()
    try:
        cluster = driver.cluster
        driver.run(cluster.patch_pod(PodPatch(key=PodKey("shop", "cart-0"), traffic=Traffic.OFF)))
        cluster._cache.versions[PodKey("shop", "cart-0")] = "1"
        with pytest.raises(Conflict):  # a 409 reads the pod again
            driver.run(cluster.patch_pod(PodPatch(key=PodKey("shop", "cart-0"))))
        driver.run(cluster.evict(PodKey("shop", "cart-1")))
        driver.run(cluster.evict(PodKey("shop", "cart-2")))  # refused: deleted (fallback)
        for kind, name in (("Deployment", "cart"), ("StatefulSet", "db"), ("DaemonSet", "agent")):
            driver.run(cluster.rollout_restart(Workload("shop", kind, name), 0.0))
        driver.run(cluster.pause_rollout(Workload("shop", "Deployment", "cart")))
        update = StateUpdate(workloads={}, supervisors={"s": SupervisorState()}, recent_actions=())
        driver.run(cluster.save_state(update))  # create
        driver.run(cluster.save_state(update))  # update
        driver.run(cluster.record_event(Event(reason="Drained", message="m", at=0.0,
                                              pod=PodKey("shop", "cart-0"))))  # fmt: skip
        gate = PodPatch(key=PodKey("shop", "cart-0"), gate=False)
        driver.run(cluster.patch_pod(gate))  # the readiness gate, through pods/status
        fake.cluster.add_pod("remediation", "receiver-0")
        label = LeaderLabel(driver.api, pod=ObjectName("remediation", "receiver-0"))
        driver.run(label.claim())  # list + patch pods in its own namespace
        lease = ObjectName("remediation", "remediation-receiver")
        a = LeaderElector(driver.api, lease=lease, identity="a")
        driver.run(a.step())  # get + create
        driver.run(a.step())  # get + update
        assert driver.run(PodTokens(driver.api, "remediation").review("t")) is not None
    finally:
        driver.close()

    used = fake.requests.rbac()
    allowed = (
        granted("watched")
        | granted("deleteFallback")
        | granted("own")
        | granted("tokenReview")
        | granted("leaderLabel")
        | granted("readinessGate")
    )
    assert used - allowed == set(), "calls the chart's RBAC does not grant"
    assert allowed - used == set(), "grants the adapter never needs"
