"""drainBy readinessGate on the Kubernetes adapter, against the fake API server (which plays
the kubelet's part: Ready only while every condition in spec.readinessGates is True)."""

from __future__ import annotations

from typing import Any

from kubeapi import FakeKubeApi

from kube.driver import Driver
from receiver.cluster import READINESS_GATE, ClusterUnavailable, PodPatch, Traffic
from receiver.cluster.codec import encode_lifecycle
from receiver.kube.pods import to_pod
from receiver.model import Lifecycle, PodKey, PodState

KEY = PodKey("shop", "cart-0")
DRAINED = Lifecycle(state=PodState.DRAINED, rule="errors", attempts=1, until=1_800_000_300.0)


def gated(fake: FakeKubeApi, name: str = "cart-0", **extra: Any) -> None:
    fake.cluster.add_pod(
        "shop", name, labels={"app": "cart"}, readiness_gates=[READINESS_GATE], **extra
    )


def condition(fake: FakeKubeApi, kind: str, name: str = "cart-0") -> str | None:
    pod = fake.cluster.pod("shop", name) or {}
    found = [c for c in pod["status"]["conditions"] if c["type"] == kind]
    return found[0]["status"] if found else None


def test_a_pod_reads_as_gated_only_when_it_lists_the_gate() -> None:
    spec = {"readinessGates": [{"conditionType": READINESS_GATE}]}
    meta = {"namespace": "shop", "name": "p"}
    closed = {"metadata": meta, "spec": spec, "status": {"conditions": []}}
    opened = {**closed, "status": {"conditions": [{"type": READINESS_GATE, "status": "True"}]}}
    assert to_pod(closed, None).gate is False  # declared, never set: closed
    assert to_pod(opened, None).gate is True
    assert to_pod({"metadata": meta, "status": opened["status"]}, None).gate is None


def test_a_new_gated_pod_is_let_in_and_an_ungated_one_left_alone(
    fake: FakeKubeApi, driver: Driver
) -> None:
    gated(fake)
    fake.cluster.add_pod("shop", "plain", labels={"app": "cart"})
    assert condition(fake, "Ready") == "False"  # the kubelet holds it out until the gate opens
    driver.start()
    driver.run(driver.cluster.reconcile_gates())
    assert condition(fake, READINESS_GATE) == "True"
    assert condition(fake, "Ready") == "True"
    assert condition(fake, READINESS_GATE, "plain") is None
    assert not fake.requests.matching("PATCH", "/pods/plain")


def test_a_drain_closes_the_gate_through_status_and_a_restore_opens_it(
    fake: FakeKubeApi, driver: Driver
) -> None:
    gated(fake)
    driver.start()
    driver.run(driver.cluster.reconcile_gates())
    driver.run(driver.cluster.patch_pod(PodPatch(key=KEY, lifecycle=DRAINED, gate=False)))
    assert condition(fake, READINESS_GATE) == "False"
    assert condition(fake, "Ready") == "False"
    assert "remediation/traffic" not in fake.cluster.labels("shop", "cart-0")
    assert fake.requests.matching("PATCH", "/pods/cart-0/status")
    pod = driver.cluster.snapshot().pods[KEY]
    assert (pod.gate, pod.ready) == (False, False)  # read our own write
    driver.run(driver.cluster.reconcile_gates())  # drained: the gate stays shut
    assert condition(fake, READINESS_GATE) == "False"

    restored = Lifecycle(state=PodState.PROBATION, rule="errors", attempts=1)
    driver.run(driver.cluster.patch_pod(PodPatch(key=KEY, lifecycle=restored, gate=True)))
    assert condition(fake, READINESS_GATE) == "True"
    assert condition(fake, "Ready") == "True"


def test_the_leader_never_shuts_a_gate_but_by_a_decision(fake: FakeKubeApi, driver: Driver) -> None:
    # Drained in dry-run (the lifecycle is written, nothing else may change): the gate stays.
    gated(fake, annotations=encode_lifecycle(DRAINED))
    opened = {"status": {"conditions": [{"type": READINESS_GATE, "status": "True"}]}}
    fake.cluster.patch_status("shop", "cart-0", "application/strategic-merge-patch+json", opened)
    gated(fake, "cart-1", annotations=encode_lifecycle(DRAINED))  # shut, and out of traffic
    driver.start()
    driver.run(driver.cluster.reconcile_gates())
    assert condition(fake, READINESS_GATE) == "True"
    assert condition(fake, READINESS_GATE, "cart-1") is None  # not opened: it is drained
    assert not fake.requests.matching("PATCH", "/status$")


def test_a_failed_gate_write_is_unavailable_and_repaired_later(
    fake: FakeKubeApi, driver: Driver
) -> None:
    gated(fake)
    driver.start()
    driver.run(driver.cluster.reconcile_gates())
    fake.faults.fail("PATCH", r"/pods/cart-0/status$", status=500, times=10)
    try:
        driver.run(driver.cluster.patch_pod(PodPatch(key=KEY, lifecycle=DRAINED, gate=False)))
    except ClusterUnavailable:
        pass
    else:
        raise AssertionError("a failed status write must say so")
    assert condition(fake, READINESS_GATE) == "True"  # the annotations are written, not the gate
    fake.faults.clear()
    driver.run(driver.cluster.reconcile_gates())
    assert condition(fake, READINESS_GATE) == "False"


def test_traffic_label_writes_are_unchanged_by_the_gate(fake: FakeKubeApi, driver: Driver) -> None:
    gated(fake)
    driver.start()
    driver.run(driver.cluster.patch_pod(PodPatch(key=KEY, traffic=Traffic.OFF)))
    assert fake.cluster.labels("shop", "cart-0")["remediation/traffic"] == "off"
    assert not fake.requests.matching("PATCH", "/pods/cart-0/status")
