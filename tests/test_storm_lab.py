"""The storm lab's policies keep the properties they stand for (bench/stormlab).

Invariants of each policy, not timings: liveness probes restart every pod of
a fleet-wide outage; the breaker's ratio over the pods still in traffic lets
it take out more than a quarter of the fleet; the receiver never takes more
than its maxUnavailable (25% of the fleet's size) out of traffic, never
exceeds its intensity, and escalates a systemic outage. Short runs, so that
the whole file takes a few seconds. And a committed result in bench/results/
is not overwritten by a new run unless it is forced.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from record import RESULTS, refusal
from stormlab import breaker, liveness, receiver_policy
from stormlab.world import (
    OUTAGE_SLOTS,
    PODS,
    SCENARIOS,
    Scenario,
    Trace,
)

MAX_UNAVAILABLE = PODS // 4  # bench/stormlab/runbook.yaml: maxUnavailable 25%
INTENSITY = 20  # ... intensity {max: 20, period: 10m}


def short(name: str, duration: float = 240.0) -> Scenario:
    return replace(SCENARIOS[name], duration=duration)


@pytest.fixture(scope="module")
def outage() -> dict[str, Trace]:
    scenario = short("outage")
    return {
        "liveness": liveness.run(scenario),
        "breaker": breaker.run(scenario),
        "receiver": receiver_policy.run(scenario),
    }


def test_liveness_restarts_every_pod_of_an_outage(outage: dict[str, Trace]) -> None:
    trace = outage["liveness"]
    assert trace.restarts[-1] >= len(OUTAGE_SLOTS)
    assert min(trace.in_traffic) == PODS - len(OUTAGE_SLOTS)  # all of them out at once


def test_breaker_ratio_over_traffic_drains_past_a_quarter(outage: dict[str, Trace]) -> None:
    assert min(outage["breaker"].in_traffic) < PODS - MAX_UNAVAILABLE


def test_receiver_keeps_its_guards_and_escalates_an_outage(outage: dict[str, Trace]) -> None:
    trace = outage["receiver"]
    assert min(trace.in_traffic) >= PODS - MAX_UNAVAILABLE
    assert trace.restarts[-1] <= INTENSITY
    assert trace.escalations >= 1


@pytest.mark.parametrize("policy", [liveness, breaker, receiver_policy], ids=lambda m: m.__name__)
def test_one_bad_pod_leaves_traffic_and_no_other(policy: object) -> None:
    trace = policy.run(short("one-bad", 150.0))  # type: ignore[attr-defined]
    assert trace.bad_left_at is not None
    assert trace.restarts[-1] <= 1
    assert min(trace.in_traffic) == PODS - 1


def test_a_gray_pod_passes_its_liveness_probe() -> None:
    trace = liveness.run(short("gray", 150.0))
    assert trace.bad_left_at is None
    assert trace.restarts[-1] == 0


def test_a_committed_result_is_not_overwritten_without_force() -> None:
    committed = RESULTS / "round4-4370e82.json"
    assert refusal(committed, force=False) is not None
    assert refusal(committed, force=True) is None
    assert refusal(RESULTS / "not-written-yet.json", force=False) is None
