"""The kubelet with liveness probes only, at Kubernetes' defaults.

Every pod's container is probed every 10 s (periodSeconds) at its own
phase; 3 consecutive failures (failureThreshold) and the kubelet restarts
the container. Each restart waits in CrashLoopBackOff first: 10 s, doubled
per restart up to 300 s, reset once a container has run for 10 minutes. A
restarted container is a new process (a fault that lived in the old one is
gone) in the same pod; it is out of traffic from the kill until it serves
again. Nothing counts the fleet: each kubelet decides alone.

A slow pod answers its liveness probe, so it is never restarted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .world import (
    INTERVAL_STEPS,
    PODS,
    SAMPLE_EVERY,
    START,
    Health,
    Scenario,
    Trace,
    seconds,
)

PERIOD_STEPS = 100  # periodSeconds 10
FAILURE_THRESHOLD = 3
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0

assert PERIOD_STEPS == INTERVAL_STEPS  # one probe per slot per round, 100 ms apart


@dataclass(slots=True)
class _Container:
    born: float = -3600.0  # running since before the run began
    waiting_until: float | None = None  # in back-off, not running
    failures: int = 0
    backoffs: int = 0  # restarts since the back-off was last reset

    def serving(self, t: float) -> bool:
        return self.waiting_until is None and t - self.born >= START


def run(scenario: Scenario) -> Trace:
    trace = Trace(policy="liveness", scenario=scenario.name)
    pods = [_Container() for _ in range(PODS)]
    restarts = 0
    for step in range(scenario.steps + 1):
        t = seconds(step)
        for c in pods:  # back-off over: the container starts again
            if c.waiting_until is not None and t >= c.waiting_until:
                c.born, c.waiting_until, c.failures = t, None, 0
        slot = step % PERIOD_STEPS
        c = pods[slot]
        if c.waiting_until is None and _probe_fails(scenario, slot, c, t):
            c.failures += 1
            if c.failures >= FAILURE_THRESHOLD:
                restarts += 1
                _kill(c, t)
        else:
            c.failures = 0
        if step % SAMPLE_EVERY == 0:
            serving = [c.serving(t) for c in pods]
            sick = sum(
                1
                for i, c in enumerate(pods)
                if serving[i] and scenario.health(i, c.born, t) is not Health.OK
            )
            trace.sample(t, sum(serving), sick, restarts)
        if scenario.bad_slot is not None:
            trace.bad_pod(scenario, t, pods[scenario.bad_slot].serving(t))
    return trace


def _probe_fails(scenario: Scenario, slot: int, c: _Container, t: float) -> bool:
    return scenario.health(slot, c.born, t) is Health.FAILING


def _kill(c: _Container, t: float) -> None:
    if t - c.born >= BACKOFF_RESET:
        c.backoffs = 0
    c.waiting_until = t + min(BACKOFF_INITIAL * 2**c.backoffs, BACKOFF_MAX)
    c.backoffs += 1
    c.failures = 0
