"""The simulated fleet, its clock and the failure scenarios every policy faces.

Time advances in steps of 100 ms (`STEP`), counted as integers so that no
float drift moves an event from one step to the next. A fleet is `PODS`
slots; a slot is a place in the Deployment, and the pod in it may be
replaced (a restart) or have its container restarted (the kubelet). Each
slot does its periodic work (a heartbeat push, a liveness probe) at its own
phase, so one interval holds every slot's turn 100 ms apart: signals arrive
one pod at a time, as sidecars and probes really deliver them.

A scenario says, for a slot, the moment its current process started and a
time, how that process is: healthy, failing (errors; its own health check
fails) or slow (a gray failure: its health check passes, its latency does
not). Faults that live in a process (one bad pod, a flapping pod, a slow
pod) are cured by a restart; a dependency outage is not.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

PODS = 100
STEP = 0.1
"""Seconds per simulated step."""
STEPS_PER_S = 10
SAMPLE_EVERY = STEPS_PER_S
"""Figures are sampled once per simulated second."""
INTERVAL_STEPS = PODS
"""Steps per round of the fleet's periodic work: 100 slots, 100 ms apart, every 10 s."""
START = 10.0
"""Seconds from a process start (new pod or restarted container) until it serves."""
TERMINATE = 5.0
"""Seconds an evicted or killed pod takes to go (its replacement is created then)."""
ONSET = 60.0
"""When every scenario's trouble starts."""


class Health(enum.Enum):
    OK = "ok"
    FAILING = "failing"
    SLOW = "slow"


HealthOf = Callable[[int, float, float], Health]
"""(slot, when the slot's current process started, now) -> Health."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    title: str
    health: HealthOf
    duration: float = 900.0
    bad_slot: int | None = None
    """The one pod at fault, whose time out of traffic is measured (None: a fleet-wide event)."""
    partition: tuple[float, float] | None = None
    """The receiver hears no heartbeat in [start, end)."""
    outage_slots: frozenset[int] = frozenset()

    @property
    def steps(self) -> int:
        return round(self.duration * STEPS_PER_S)


BAD_SLOT = 37
"""The one pod at fault: its periodic work falls 3.7 s after the onset, as a random pod's would."""


def _one_bad(slot: int, born: float, t: float) -> Health:
    return Health.FAILING if slot == BAD_SLOT and born < ONSET <= t else Health.OK


def _flapping(slot: int, born: float, t: float) -> Health:
    """20 s failing in every minute, until the process is restarted."""
    if slot == BAD_SLOT and born < ONSET <= t and (t - ONSET) % 60.0 < 20.0:
        return Health.FAILING
    return Health.OK


OUTAGE_SLOTS = frozenset(i for i in range(PODS) if i % 5 < 3)
"""60% of the fleet, spread over the slots (and so over the heartbeat interval)."""
OUTAGE_END = ONSET + 300.0


def _outage(slot: int, born: float, t: float) -> Health:
    if slot in OUTAGE_SLOTS and ONSET <= t < OUTAGE_END:
        return Health.FAILING
    return Health.OK


def _gray(slot: int, born: float, t: float) -> Health:
    return Health.SLOW if slot == BAD_SLOT and born < ONSET <= t else Health.OK


def _healthy(slot: int, born: float, t: float) -> Health:
    return Health.OK


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(name="one-bad", title="one bad pod", health=_one_bad, bad_slot=BAD_SLOT),
        Scenario(
            name="flapping",
            title="a flapping pod (20 s failing per minute)",
            health=_flapping,
            bad_slot=BAD_SLOT,
        ),
        Scenario(
            name="outage",
            title="dependency outage: 60% of the fleet for 5 min",
            health=_outage,
            outage_slots=OUTAGE_SLOTS,
        ),
        Scenario(name="gray", title="a slow (gray) pod", health=_gray, bad_slot=BAD_SLOT),
        Scenario(
            name="partition",
            title="the receiver loses every heartbeat for 2 min",
            health=_healthy,
            partition=(ONSET, ONSET + 120.0),
        ),
    )
}


def seconds(step: int) -> float:
    return step / STEPS_PER_S


@dataclass
class Trace:
    """What one policy did in one scenario, sampled once per simulated second."""

    policy: str
    scenario: str
    times: list[float] = field(default_factory=list)
    in_traffic: list[int] = field(default_factory=list)
    sick_in_traffic: list[int] = field(default_factory=list)
    restarts: list[int] = field(default_factory=list)
    escalations: int = 0
    bad_left_at: float | None = None
    """Seconds after ONSET until the bad pod first left traffic, to the step (None: never)."""
    notes: list[str] = field(default_factory=list)

    def sample(self, t: float, in_traffic: int, sick: int, restarts: int) -> None:
        self.times.append(t)
        self.in_traffic.append(in_traffic)
        self.sick_in_traffic.append(sick)
        self.restarts.append(restarts)

    def bad_pod(self, scenario: Scenario, t: float, slot_in_traffic: bool) -> None:
        """Note the first instant after the onset at which the bad slot is out of traffic."""
        if scenario.bad_slot is None or self.bad_left_at is not None or t < ONSET:
            return
        if not slot_in_traffic:
            self.bad_left_at = round(t - ONSET, 1)

    def figures(self) -> dict[str, float | int | None]:
        n = len(self.in_traffic) or 1
        return {
            "restarts": self.restarts[-1] if self.restarts else 0,
            "min_in_traffic": min(self.in_traffic, default=0),
            "mean_in_traffic": round(sum(self.in_traffic) / n, 1),
            "sick_in_traffic_pod_s": sum(self.sick_in_traffic),
            "bad_pod_out_after_s": self.bad_left_at,
            "escalations": self.escalations,
        }
