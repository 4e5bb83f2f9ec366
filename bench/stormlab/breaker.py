"""A kubervisor-style breaker: KPIs against a tolerance, relabel out, kill after retries.

Modelled on kubervisor's breaker and activator (AmadeusITGroup/kubervisor,
pkg/breaker, pkg/activate), with its flaws kept, since they are the point:

- every evaluation period (10 s) the anomaly detector lists the pods whose
  KPI is out of bounds: over the last 30 s (the rate window of its PromQL),
  more than 50% of the requests they served were bad (TolerancePercent's
  default), errors or latency alike. A pod out of traffic serves nothing, so
  it has no KPI and is never listed;
- it may take out `len(withTraffic) - len(withTraffic) * 75 / 100` of them:
  the minimum available ratio is computed over the pods *still in traffic*,
  so each evaluation allows another quarter of what is left, and repeated
  evaluations drain the fleet far below 75%;
- a pod taken out gets `traffic=no` and its retry count goes up; the
  activator (every 10 s) puts it back after `retryCount x 10 s`, and kills it
  (the pod is deleted; its Deployment creates a fresh one) once the count
  exceeds maxRetryCount (3, the default; mode retryAndKill). The count is
  never reset, however long the pod then stays healthy.

When its KPI source is unreachable (the partition scenario, where the
receiver loses its heartbeats: the breaker's analogue is losing Prometheus)
the detector fails and the breaker does nothing, as kubervisor's loop does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .world import (
    PODS,
    SAMPLE_EVERY,
    START,
    STEPS_PER_S,
    TERMINATE,
    Health,
    Scenario,
    Trace,
    seconds,
)

EVALUATION_STEPS = 10 * STEPS_PER_S
ACTIVATOR_OFFSET = 5 * STEPS_PER_S
WINDOW = 30  # samples of one second
TOLERANCE = 0.5
MIN_ACTIVITY = 10  # seconds of traffic in the window, or no KPI at all
MIN_AVAILABLE_RATIO = 75  # percent: the same quarter as the receiver's maxUnavailable 25%
RETRY_PERIOD = 10.0
MAX_RETRY = 3


@dataclass(slots=True)
class _Pod:
    born: float = -3600.0
    traffic: bool = True
    retries: int = 0
    break_at: float = 0.0
    gone_at: float | None = None  # killed: terminating until then
    window: deque[tuple[bool, bool]] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def serving(self, t: float) -> bool:
        return self.gone_at is None and self.traffic and t - self.born >= START

    def ready(self, t: float) -> bool:
        return self.gone_at is None and t - self.born >= START

    def out_of_bounds(self) -> bool:
        served = [bad for in_traffic, bad in self.window if in_traffic]
        return len(served) >= MIN_ACTIVITY and sum(served) / len(served) > TOLERANCE


def run(scenario: Scenario) -> Trace:
    trace = Trace(policy="breaker", scenario=scenario.name)
    pods = [_Pod() for _ in range(PODS)]
    kills = 0
    for step in range(scenario.steps + 1):
        t = seconds(step)
        for i, p in enumerate(pods):  # a killed pod is gone: its replacement starts
            if p.gone_at is not None and t >= p.gone_at:
                pods[i] = _Pod(born=t)
        if step % SAMPLE_EVERY == 0:
            for i, p in enumerate(pods):
                p.window.append((p.serving(t), scenario.health(i, p.born, t) is not Health.OK))
        if step % EVALUATION_STEPS == 0 and not _partitioned(scenario, t):
            _evaluate(pods, t)
        if step % EVALUATION_STEPS == ACTIVATOR_OFFSET:
            kills += _activate(pods, t)
        if step % SAMPLE_EVERY == 0:
            serving = [p.serving(t) for p in pods]
            sick = sum(
                1
                for i, p in enumerate(pods)
                if serving[i] and scenario.health(i, p.born, t) is not Health.OK
            )
            trace.sample(t, sum(serving), sick, kills)
        if scenario.bad_slot is not None:
            trace.bad_pod(scenario, t, pods[scenario.bad_slot].serving(t))
    return trace


def _partitioned(scenario: Scenario, t: float) -> bool:
    return scenario.partition is not None and scenario.partition[0] <= t < scenario.partition[1]


def _evaluate(pods: list[_Pod], t: float) -> None:
    to_cut = [p for p in pods if p.serving(t) and p.out_of_bounds()]
    if not to_cut:
        return
    with_traffic = sum(1 for p in pods if p.serving(t))
    remove = with_traffic - with_traffic * MIN_AVAILABLE_RATIO // 100  # the known flaw
    for p in to_cut[: max(0, min(remove, len(to_cut)))]:
        p.traffic, p.break_at = False, t
        p.retries += 1


def _activate(pods: list[_Pod], t: float) -> int:
    kills = 0
    for p in pods:
        if p.traffic or p.gone_at is not None:
            continue
        if p.retries > MAX_RETRY:
            p.gone_at = t + TERMINATE
            kills += 1
        elif p.break_at + p.retries * RETRY_PERIOD < t:
            p.traffic = True
    return kills
