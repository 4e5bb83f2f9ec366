"""Work that grows with the fleet runs in slices with pauses, and a mass silence stays one batch.

The harness of test_heartbeat_pipeline (4 checkout pods, deadline 15 s,
maxUnhealthy 50%), with every slice shrunk to one item so that a handful of
pods exercises what 100k pods do, and each pause counted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from service_builders import Harness, harness
from test_heartbeat_pipeline import decided, keys, push, tick_at

from receiver.act import batch
from receiver.ingest.expectations import HeartbeatWatch
from receiver.model import HeartbeatStatus, PodKey
from receiver.service import pipeline


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every slice one item; the pauses between them counted."""
    counted: list[int] = []

    async def pause() -> None:
        counted.append(1)
        await asyncio.sleep(0)

    monkeypatch.setattr(pipeline, "_pause", pause)
    for module, name in [(pipeline, "SYNC_SLICE"), (pipeline, "DUE_SLICE"),
                         (batch, "OBSERVE_SLICE"), (batch, "DECIDE_BUDGET")]:  # fmt: skip
        monkeypatch.setattr(module, name, 1)
    return counted


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def test_a_mass_silence_taken_in_slices_is_still_observed_and_decided_as_one_batch(
    h: Harness, pauses: list[int]
) -> None:
    tick_at(h, 16)  # nobody ever beat: every pod's first deadline passes together

    # What test_heartbeat_pipeline finds in one go: the first decision already
    # sees all four silent (systemic), so nothing is restarted.
    assert [what for _, _, what in decided(h)] == ["systemic", "frozen", "frozen", "frozen"]
    assert h.cluster.evictions == []
    # Pauses: 4 pods compared, 4 due deadlines, 4 observed, 4 decided, one item a slice.
    assert len(pauses) == 3 + 3 + 3 + 3


def test_a_single_silent_pod_is_decided_alone(h: Harness, pauses: list[int]) -> None:
    silent, *others = keys(h)
    for _ in range(4):
        push(h, *((k, HeartbeatStatus.OK) for k in others))
        tick_at(h, 5)
    assert decided(h) == [("HeartbeatMissed", str(silent), "restart")]


def test_next_due_is_the_earliest_deadline_of_the_tracked_pods(h: Harness) -> None:
    p = h.service.pipeline
    assert p.next_due() is None  # nothing watched before the first comparison
    asyncio.run(p.expect())
    started = h.clock.now
    assert p.next_due() == started + 15
    first, *_ = keys(h)
    push(h, (first, HeartbeatStatus.OK))
    assert p.next_due() == started + 15  # the others are still due then


# -- the comparison of pods with expectations, in slices -----------------------------------------


def watch_of(h: Harness) -> HeartbeatWatch:
    return h.service.pipeline.heartbeats_due


@pytest.mark.parametrize("limit", [1, 3, 100], ids=lambda n: f"limit {n}")
def test_sync_in_slices_watches_every_expected_pod_and_forgets_the_gone(
    h: Harness, limit: int
) -> None:
    watch = watch_of(h)
    pods = h.cluster.snapshot().pods
    calls = 1
    while not watch.sync(pods, h.clock.now, limit=limit):
        calls += 1
    assert watch.tracker.keys() == set(pods)
    assert calls == -(-len(pods) // limit)  # every pod looked at once, `limit` a call

    gone = PodKey("shop", "checkout-gone")
    watch.tracker.watch(gone, 15.0, h.clock.now)
    watch._expected[gone] = None  # white box: as if it had been expected and is gone now
    h.clock.now += 11  # past FULL_SYNC: a new comparison starts
    while not watch.sync(pods, h.clock.now, limit=limit):
        pass
    assert gone not in watch.tracker


def test_sync_does_nothing_until_the_pods_change_or_full_sync_passes(h: Harness) -> None:
    watch = watch_of(h)
    pods = h.cluster.snapshot().pods
    assert watch.sync(pods, h.clock.now)
    watch.tracker.forget(next(iter(pods)))  # white box: would be watched again by a comparison
    assert watch.sync(pods, h.clock.now + 5, limit=1)  # no comparison under way: done at once
    assert len(watch.tracker) == len(pods) - 1
    assert not watch.sync(pods, h.clock.now + 10, limit=1)  # FULL_SYNC passed: it starts
