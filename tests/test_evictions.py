"""No pod is stranded out of traffic by an eviction that did not happen.

A restart writes the pod's state (restarted, out of traffic) and then evicts.
Through the whole service on the memory cluster, with the eviction made to
fail: a failure the API may not repeat is retried from the tick until it
passes; one it will repeat is reported failed (not "send again later"); a
failing retry stops no other periodic job; a new leader adopts what its
predecessor left, once its cache can show it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from service_builders import Harness, harness

from receiver.cluster import ClusterUnavailable, EvictionFailed
from receiver.ingest import Beat
from receiver.model import HeartbeatStatus, PodKey

FAILING = HeartbeatStatus.FAILING


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


class Faults:
    """Make the memory cluster's evictions raise, a given number of times."""

    def __init__(self, h: Harness, error: Exception, times: int) -> None:
        self.error, self.times, self.calls = error, times, 0
        self._evict = h.cluster.evict
        h.cluster.evict = self.evict  # type: ignore[method-assign]

    async def evict(self, key: PodKey) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        await self._evict(key)


def beat(h: Harness, key: PodKey) -> tuple[list[str], str | None]:
    results, outcome = asyncio.run(
        h.service.pipeline.heartbeats([Beat(key, FAILING, "", None)], h.clock.now)
    )
    return results, outcome.unavailable


def tick_at(h: Harness, seconds: float) -> None:
    h.clock.now += seconds
    asyncio.run(h.service.pipeline.tick())


def restart_results(h: Harness) -> list[tuple[str, str, str | None]]:
    return [
        (a["action"], a["outcome"], a["reason"])
        for entry in h.service.pipeline.decisions.since()
        for a in entry["actions"]
    ]


def sick_pod(h: Harness) -> PodKey:
    return sorted(h.cluster.snapshot().pods)[0]


def test_an_eviction_the_api_failed_is_retried_until_it_passes(h: Harness) -> None:
    sick = sick_pod(h)
    faults = Faults(h, ClusterUnavailable("Kubernetes API create failed: timed out"), times=2)

    _, unavailable = beat(h, sick)

    assert unavailable is None  # the decision is recorded on the pod: nothing to send again
    assert restart_results(h) == [("restart", "blocked", "api_error")]
    assert h.cluster.snapshot().pods[sick].lifecycle.state == "restarted"
    assert h.metric("remediation_evictions_pending") == 1
    tick_at(h, 1.1)  # due 0.5-1 s after the failure: fails again
    assert faults.calls == 2
    tick_at(h, 2.1)
    assert faults.calls == 3
    assert h.cluster.evictions == [sick]
    assert h.metric("remediation_evictions_pending") == 0


def test_an_eviction_the_api_will_always_refuse_is_reported_failed_not_retried(
    h: Harness,
) -> None:
    sick = sick_pod(h)
    refusal = EvictionFailed(
        "evict shop/x: HTTP 500 This pod has more than one PodDisruptionBudget"
    )
    faults = Faults(h, refusal, times=100)

    _, unavailable = beat(h, sick)

    assert unavailable is None  # a 503 would make Alertmanager send what cannot succeed
    ((action, outcome, reason),) = restart_results(h)
    assert (action, outcome, reason) == ("restart", "failed", "eviction_failed")
    (entry,) = h.service.pipeline.decisions.since()
    assert "until a human resumes or deletes it" in entry["actions"][0]["detail"]
    labels = {"action": "restart", "rule": "silent", "outcome": "failed"}
    assert h.metric("remediation_actions_total", labels) == 1
    tick_at(h, 5)
    assert faults.calls == 1  # not retried


def test_a_failing_eviction_retry_does_not_stop_heartbeat_deadlines(h: Harness) -> None:
    sick, *rest = sorted(h.cluster.snapshot().pods)
    Faults(h, ClusterUnavailable("down"), times=1)
    beat(h, sick)
    broken = h.service.pipeline.applier.evictions

    async def raises(*_: object) -> None:
        raise RuntimeError("a bug in the retry")

    broken.retry = raises  # type: ignore[method-assign]
    tick_at(h, 16)  # past the 15 s deadline of the pods that never beat

    missed = h.service.pipeline.heartbeats_due.tracker.missed_total
    assert missed == 1 + len(rest)  # every pod fell silent, the sick one too


def test_a_new_leader_adopts_pending_evictions_at_its_first_tick(h: Harness) -> None:
    sick = sick_pod(h)
    Faults(h, ClusterUnavailable("down"), times=1)
    beat(h, sick)
    pipeline = h.service.pipeline
    pipeline.applier.evictions.pending.clear()  # as a new replica knows nothing yet

    pipeline.take_over(h.clock.now)
    assert pipeline.applier.evictions.pending == {}  # its cache may not be synced yet
    tick_at(h, 1)

    assert h.cluster.evictions == [sick]


def test_a_retry_the_api_refuses_for_good_is_counted_and_told_on_the_pod(h: Harness) -> None:
    sick = sick_pod(h)
    faults = Faults(h, ClusterUnavailable("down"), times=1)
    beat(h, sick)
    faults.error, faults.times = EvictionFailed("evict: HTTP 403 (check the receiver's RBAC)"), 9

    tick_at(h, 1.1)

    labels = {"action": "restart", "rule": "silent", "outcome": "failed"}
    assert h.metric("remediation_actions_total", labels) == 1
    (told,) = [
        e for e in h.cluster.events if e.subject == str(sick) and "eviction_failed" in e.message
    ]
    assert told.type == "Warning"
    assert h.metric("remediation_evictions_pending") == 0
