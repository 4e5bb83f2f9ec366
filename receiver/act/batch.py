"""One batch of signals in the order the guards rely on: observe it whole, then decide each.

A batch is what arrived together: one webhook, one heartbeat push, one
tick's missed deadlines. All of its signals are first recorded as firing or
resolved (observe), so the fleet-health guard (maxUnhealthy) sees the whole
group; then each signal is decided on the snapshot the one before it left,
and applied before the next is decided. A conflict (an object changed since
the snapshot) decides that one again on the fresh snapshot.

The service (service/pipeline.py) and the runbook tests' simulation
(scenario/simulation.py) both run batches through this module: they differ
only in what applies a plan (`Applies`) and what they keep of each decision
(`record`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from receiver.act.apply import Applied, has_effects
from receiver.decide import Plan, decide, observe, resolve_target
from receiver.model import Instant, PodKey, Signal, Snapshot, Workload
from receiver.runbook import Runbook

T = TypeVar("T")
CONFLICT_TRIES = 3
DECIDE_BUDGET = 64
"""Decisions between pauses, weighed: one that writes to the cluster (up to a few ms)
costs WRITE_COST, one without effects (tens of microseconds: most re-deliveries) 1."""
WRITE_COST = 16
OBSERVE_SLICE = 100
"""Signals observed between pauses."""
NOTHING = Applied()
"""What applying a plan without effects comes to (read, never changed)."""


class Applies(Protocol):
    def snapshot(self) -> Snapshot: ...

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied: ...


@dataclass(slots=True)
class Batch(Generic[T]):
    entries: list[T] = field(default_factory=list)  # what `record` kept, per signal decided
    unavailable: str | None = None  # the cluster failed: the rest was not decided


async def apply_until_settled(
    runbook: Runbook,
    cluster: Applies,
    make: Callable[[Snapshot], Plan],
    record: Callable[[Plan, Applied], T],
    *,
    first: Plan | None = None,
) -> tuple[T, Applied]:
    """Make a plan from the current snapshot (or take `first`, made from it already) and
    apply it; after a conflict, make it again from the fresh snapshot."""
    for attempt in range(CONFLICT_TRIES):
        plan = first if attempt == 0 and first is not None else make(cluster.snapshot())
        applied = await cluster.apply(runbook, plan) if has_effects(plan) else NOTHING
        entry = record(plan, applied)
        if not applied.conflict:
            break
    return entry, applied


async def decide_batch(
    runbook: Runbook,
    signals: Sequence[Signal],
    now: Instant,
    cluster: Applies,
    record: Callable[[Plan, Applied], T],
    *,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> Batch[T]:
    """Observe the whole batch, then decide and apply each signal in order.

    With `pause`, awaited whenever the decisions since the last pause have
    spent DECIDE_BUDGET: a batch of a thousand misses then lets other
    requests through while it is decided, and is still one batch (observed
    whole before the first decision); a webhook of re-deliveries, which
    write nothing, is decided without a pause.
    """
    settings = runbook.settings
    targets: list[PodKey | Workload | None] = []
    batch: Batch[T] = Batch()
    # Observed in slices when pausing (about 25 ms per 1,000 signals at once), all of
    # them before the first decision; targets resolved slice by slice too.
    step = OBSERVE_SLICE if pause is not None else max(1, len(signals))
    for start in range(0, len(signals), step):
        if start and pause is not None:
            await pause()
        part = signals[start : start + step]
        aimed = [resolve_target(settings, s) for s in part]
        targets.extend(aimed)
        _, observed = await apply_until_settled(
            runbook, cluster, _observation(runbook, part, now, aimed), _skip
        )
        if observed.unavailable:
            batch.unavailable = observed.unavailable
            return batch
    spent = 0
    for signal, target in zip(signals, targets, strict=True):
        if pause is not None and spent >= DECIDE_BUDGET:
            await pause()
            spent = 0
        plan = decide(runbook, cluster.snapshot(), signal, now, target=target)
        if not has_effects(plan):  # most re-deliveries: nothing to apply, nothing to retry
            batch.entries.append(record(plan, NOTHING))
            spent += 1
            continue
        spent += WRITE_COST
        make = _decision(runbook, signal, now, target)
        entry, applied = await apply_until_settled(runbook, cluster, make, record, first=plan)
        batch.entries.append(entry)
        if applied.unavailable:
            batch.unavailable = applied.unavailable
            break
    return batch


def _observation(
    runbook: Runbook,
    signals: Sequence[Signal],
    now: Instant,
    targets: Sequence[PodKey | Workload | None],
) -> Callable[[Snapshot], Plan]:
    return lambda snapshot: observe(runbook, snapshot, signals, now, list(targets))


def _decision(
    runbook: Runbook, signal: Signal, now: Instant, target: PodKey | Workload | None
) -> Callable[[Snapshot], Plan]:
    return lambda snapshot: decide(runbook, snapshot, signal, now, target=target)


def _skip(plan: Plan, applied: Applied) -> None:
    """Observing is bookkeeping, not a decision: nothing to keep."""
