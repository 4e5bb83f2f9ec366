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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from receiver.act.apply import Applied, has_effects
from receiver.decide import Plan, decide, observe, resolve_target
from receiver.model import Instant, PodKey, Signal, Snapshot, Workload
from receiver.runbook import Runbook

T = TypeVar("T")
CONFLICT_TRIES = 3
NOTHING = Applied()
"""What applying a plan without effects comes to (read, never changed)."""


class Applies(Protocol):
    def snapshot(self) -> Snapshot: ...

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied: ...


@dataclass(slots=True)
class Batch(Generic[T]):
    entries: list[T] = field(default_factory=list)  # what `record` kept, per signal decided
    unavailable: str | None = None  # the cluster failed: the rest was not decided


async def settle(
    runbook: Runbook,
    cluster: Applies,
    make: Callable[[Snapshot], Plan],
    record: Callable[[Plan, Applied], T],
) -> tuple[T, Applied]:
    """Make a plan from the current snapshot and apply it; after a conflict, again."""
    for _ in range(CONFLICT_TRIES):
        plan = make(cluster.snapshot())
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
) -> Batch[T]:
    settings = runbook.settings
    targets = [resolve_target(settings, s) for s in signals]
    batch: Batch[T] = Batch()
    _, observed = await settle(
        runbook, cluster, lambda snapshot: observe(runbook, snapshot, signals, now, targets), _skip
    )
    if observed.unavailable:
        batch.unavailable = observed.unavailable
        return batch
    for signal, target in zip(signals, targets, strict=True):
        entry, applied = await settle(
            runbook, cluster, _decision(runbook, signal, now, target), record
        )
        batch.entries.append(entry)
        if applied.unavailable:
            batch.unavailable = applied.unavailable
            break
    return batch


def _decision(
    runbook: Runbook, signal: Signal, now: Instant, target: PodKey | Workload | None
) -> Callable[[Snapshot], Plan]:
    return lambda snapshot: decide(runbook, snapshot, signal, now, target=target)


def _skip(plan: Plan, applied: Applied) -> None:
    """Observing is bookkeeping, not a decision: nothing to keep."""
