"""Drive the Kubernetes adapter against an API server (the fake, or a real one) from
synchronous tests.

The adapter lives on an event loop the test runs in steps: `run(coro)` for a
call, `until(predicate)` to let the informer's watch deliveries land. Between
steps the loop is idle, so a snapshot does not change under the test, as it
does not change under a decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kubeapi import DEPLOYMENT, REPLICASET, STATEFULSET, FakeKubeApi
from kubeapi.kinds import JSON
from kubernetes import client
from prometheus_client import CollectorRegistry

from receiver.kube import Api, KubernetesCluster, ObjectName, RetryPolicy
from receiver.metrics import Metrics
from receiver.model import Instant, PodKey

T = TypeVar("T")
FAST_RETRY = RetryPolicy(attempts=3, budget=2.0, base=0.01, cap=0.05)
STATE = ObjectName("remediation", "remediation-receiver-state")
EXISTING = datetime(2025, 12, 1, tzinfo=UTC)
"""When seeded pods were created: before any alert of the tests started."""


class Server(Protocol):
    """What the driver needs of an API server: a client for it."""

    def api_client(self, *, token: str | None = None) -> client.ApiClient: ...


class Clock:
    def __init__(self, now: Instant = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> Instant:
        return self.now


class Driver:
    def __init__(
        self,
        fake: Server,
        *,
        retry: RetryPolicy = FAST_RETRY,
        timeout: tuple[float, float] = (1.0, 2.0),
        identity: str = "receiver-0",
        **cluster: Any,
    ) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self.metrics = Metrics(CollectorRegistry())
        self.clock = Clock()
        self.api = Api(fake.api_client(), metrics=self.metrics, retry=retry, timeout=timeout)
        self.cluster = KubernetesCluster(
            self.api, state=STATE, identity=identity, clock=self.clock, **cluster
        )

    def requests(self, verb: str, code: str) -> float:
        """How many requests the adapter counted with this verb and status code."""
        value = self.metrics.registry.get_sample_value(
            "remediation_kubernetes_requests_total", {"verb": verb, "code": code}
        )
        return value or 0.0

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def until(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            self.run(asyncio.sleep(0.01))

    def start(self, namespaces: Iterable[str] = ("shop",)) -> Driver:
        self.run(self.cluster.start(tuple(namespaces)))
        self.until(lambda: self.cluster.synced, what="the pod cache to sync")
        return self

    def pod_version(self, key: PodKey) -> str | None:
        return self.cluster._cache.versions.get(key)

    def sees(self, key: PodKey, uid: str | None = None) -> Callable[[], bool]:
        def seen() -> bool:
            pod = self.cluster.snapshot().pods.get(key)
            return pod is not None and (uid is None or pod.uid == uid)

        return seen

    def close(self) -> None:
        self.cluster.stop()
        self.api.close()
        self.run(asyncio.sleep(0))
        self.loop.close()


def deployment(
    fake: FakeKubeApi,
    namespace: str,
    name: str,
    *,
    replicas: int,
    labels: Mapping[str, str] | None = None,
    not_ready: int = 0,
    readiness_gates: Sequence[str] = (),
) -> list[JSON]:
    """A Deployment, its ReplicaSet, and `replicas` pods named `<name>-<i>` owned by it
    (listing `readiness_gates` in their spec.readinessGates)."""
    labels = dict(labels or {"app": name})
    owner = fake.cluster.add_workload(DEPLOYMENT, namespace, name, labels=labels)
    rs = fake.cluster.add_workload(
        REPLICASET, namespace, f"{name}-5d8f", labels=labels, owner=owner
    )
    return [
        fake.cluster.add_pod(
            namespace,
            f"{name}-{i}",
            labels={**labels, "pod-template-hash": "5d8f"},
            ready=i >= not_ready,
            owner=rs,
            created=EXISTING,
            readiness_gates=readiness_gates,
        )
        for i in range(replicas)
    ]


def statefulset(
    fake: FakeKubeApi, namespace: str, name: str, *, replicas: int, labels: Mapping[str, str]
) -> list[JSON]:
    owner = fake.cluster.add_workload(STATEFULSET, namespace, name, labels=dict(labels))
    return [
        fake.cluster.add_pod(namespace, f"{name}-{i}", labels=dict(labels), owner=owner)
        for i in range(replicas)
    ]
