"""The runbook unit tests of rules/ run on the Kubernetes adapter and give the same plans.

`receiver test` plays the cluster in memory. Here the same timelines run with
the fleet in the fake API server: every snapshot comes from the adapter's
informer cache, every plan is applied through the Applier and the adapter
(PATCH, eviction, rollout restart, the state ConfigMap, Events), and a pod
is replaced by deleting it and creating its successor in the API server. The
actions, blocked decisions, escalations and pod states must be exactly what
the in-memory run produces, at every instant.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubeapi import (
    CONTROLLERREVISION,
    DAEMONSET,
    DEPLOYMENT,
    POD,
    REPLICASET,
    STATEFULSET,
    FakeKubeApi,
    fake_kube_api,
)
from kubeapi.cluster import owner_reference
from prometheus_client import CollectorRegistry

from kube.driver import Driver
from receiver.act import Applied, Applier, Notifications
from receiver.decide import ActionKind, Plan
from receiver.metrics import Metrics
from receiver.model import Instant, PodKey, Snapshot, Workload
from receiver.runbook import Runbook, load_file
from receiver.scenario import spec as scenario
from receiver.scenario.runner import run_case
from receiver.scenario.simulation import EPOCH, Simulation
from receiver.scenario.spec import Case, FleetSpec, load_test_file

T = TypeVar("T")
RULES = Path(__file__).parents[2] / "rules"
KINDS = {"Deployment": DEPLOYMENT, "StatefulSet": STATEFULSET, "DaemonSet": DAEMONSET}


class Quiet(Notifications):
    """Notifications are recorded by the timeline; nothing is sent."""

    def send(self, action: Any, plan: Plan) -> None:
        pass


class KubeSimulation(Simulation):
    def __init__(self, runbook: Runbook, case: Case, fake: FakeKubeApi, driver: Driver) -> None:
        super().__init__(runbook, case)
        self.fake, self.driver = fake, driver
        self.owners: dict[PodKey, dict[str, Any]] = {}
        self.newest: dict[Workload, tuple[str, dict[str, Any]]] = {}
        for spec in case.fleet:
            owner = fake.cluster.add_workload(
                KINDS[spec.kind], spec.namespace, spec.name, labels=dict(spec.labels)
            )
            workload = Workload(spec.namespace, spec.kind, spec.name)
            revisions = self._revisions(spec, owner)
            if spec.kind == "Deployment" and "" in revisions:
                revisions[""] = fake.cluster.add_workload(
                    REPLICASET, spec.namespace, f"{spec.name}-rs", owner=owner
                )
            if spec.rollout is not None:
                self.newest[workload] = (spec.rollout.revision, revisions[spec.rollout.revision])
            on_newest = set(spec.rollout.pods) if spec.rollout else set()
            for i in range(spec.replicas):
                key = PodKey(spec.namespace, f"{spec.name}-{i}")
                revision = spec.rollout.revision if key.name in on_newest and spec.rollout else ""
                revision = revision or spec.revision
                self.owners[key] = revisions.get(revision, owner)
                labels = {**spec.labels, **_revision_label(spec.kind, revision)}
                self._create(key, labels, ready=i >= spec.not_ready, at=None)
        driver.start(runbook.settings.namespaces)
        metrics = Metrics(CollectorRegistry())
        self.applier = Applier(driver.cluster, Quiet({}, metrics), metrics, clock=lambda: 0.0)
        self.current = driver.cluster.snapshot()

    def _revisions(self, spec: FleetSpec, owner: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The pods' owners by revision: a ReplicaSet per revision for a Deployment (numbered,
        the newest highest, made when the rollout says), a ControllerRevision for the others
        (the pods belong to the workload itself). "" stands for pods without a revision."""
        made = [(spec.revision, EPOCH - 86400)] if spec.revision else [("", EPOCH - 86400)]
        if spec.rollout is not None:
            made.append((spec.rollout.revision, EPOCH - spec.rollout.ago))
        out: dict[str, dict[str, Any]] = {}
        for number, (revision, at) in enumerate(made, start=1):
            if not revision:
                out[""] = owner
                continue
            created = datetime.fromtimestamp(at, UTC)
            ref = owner_reference(owner)
            if spec.kind == "Deployment":
                meta = {
                    "name": f"{spec.name}-{revision}",
                    "labels": {**spec.labels, "pod-template-hash": revision},
                    "annotations": {"deployment.kubernetes.io/revision": str(number)},
                    "ownerReferences": [ref],
                }
                out[revision] = self.fake.cluster.create(
                    REPLICASET, spec.namespace, {"metadata": meta, "spec": {}}, created=created
                )
            else:
                meta = {"name": f"{spec.name}-{revision}", "ownerReferences": [ref]}
                body = {"metadata": meta, "revision": number, "data": {}}
                self.fake.cluster.create(CONTROLLERREVISION, spec.namespace, body, created=created)
                out[revision] = owner
        return out

    def _create(
        self, key: PodKey, labels: dict[str, str], *, ready: bool, at: Instant | None
    ) -> None:
        """The starting fleet (`at` None) was created before the timeline begins."""
        created = datetime.fromtimestamp(EPOCH - 86400 if at is None else at, UTC)
        self.fake.cluster.add_pod(
            key.namespace,
            key.name,
            labels=labels,
            ready=ready,
            owner=self.owners[key],
            created=created,
        )

    def run_until_complete(self, work: Coroutine[Any, Any, T]) -> T:
        return self.driver.run(work)

    def snapshot(self) -> Snapshot:
        return self.driver.cluster.snapshot()

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied:
        applied = await self.applier.apply(runbook, plan)
        assert applied.unavailable is None, applied.unavailable
        now = plan.at
        for action in plan.actions:
            if action.dry_run:
                continue
            if action.kind is ActionKind.RESTART and action.pod is not None:
                self.replacing[action.pod] = now + self.case.restart_time
            elif action.kind is ActionKind.ROLLOUT_RESTART:
                for key, pod in self.current.pods.items():
                    if pod.owner == action.workload:
                        self.replacing.setdefault(key, now + self.case.restart_time)
        self.current = self.driver.cluster.snapshot()
        return applied

    def _replace_due(self, now: Instant) -> None:
        due = [key for key, at in self.replacing.items() if at <= now]
        for key in due:
            del self.replacing[key]
            old = self.current.pods[key]
            self.fake.cluster.delete_with(POD, key.namespace, key.name, {"gracePeriodSeconds": 0})
            self.driver.until(lambda k=key: k not in self.driver.cluster.snapshot().pods)  # type: ignore[misc]
            labels = {k: v for k, v in old.labels.items() if k != "remediation/traffic"}
            newest = self.newest.get(old.owner) if old.owner else None
            if newest is not None and old.owner is not None:  # replaced on the newest revision
                labels.update(_revision_label(old.owner.kind, newest[0]))
                self.owners[key] = newest[1]
            self._create(key, labels, ready=True, at=now)
            self.driver.until(self.driver.sees(key))
            for fp in [fp for fp in self.firing if fp.startswith(f"heartbeat:{key}:")]:
                del self.firing[fp]
        self.current = self.driver.cluster.snapshot()


def _revision_label(kind: str, revision: str) -> dict[str, str]:
    if not revision:
        return {}
    return {"pod-template-hash" if kind == "Deployment" else "controller-revision-hash": revision}


def cases() -> list[Any]:
    found = []
    for path in sorted(RULES.glob("*.test.yaml")):
        spec = load_test_file(path)
        found.extend(pytest.param(spec, case, id=case.name) for case in spec.cases)
    assert found, f"no runbook tests in {RULES}"
    return found


@pytest.mark.parametrize(("spec", "case"), cases())
def test_a_runbook_test_gives_the_same_plans_on_kubernetes(
    spec: scenario.TestFile, case: Case
) -> None:
    runbook = load_file(spec.runbook)
    in_memory = run_case(spec, runbook, case)
    assert in_memory.passed, in_memory.failures
    with fake_kube_api() as fake:
        driver = Driver(fake)
        try:
            on_kubernetes = run_case(
                spec, runbook, case, lambda rb, c: KubeSimulation(rb, c, fake, driver)
            )
        finally:
            driver.close()
    assert on_kubernetes.failures == []
    assert on_kubernetes.timeline == in_memory.timeline
