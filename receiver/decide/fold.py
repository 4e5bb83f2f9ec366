"""Apply a plan's state updates to a snapshot, purely (for simulation and tests)."""

from __future__ import annotations

from dataclasses import replace

from receiver.decide.plan import Plan
from receiver.model import PodKey, Snapshot, merge_watches
from receiver.model.fleet import TIMED


def fold(snapshot: Snapshot, plan: Plan) -> Snapshot:
    pods = dict(snapshot.pods)
    for key, lifecycle in plan.pods.items():
        if key in pods:
            pods[key] = replace(pods[key], lifecycle=lifecycle)
    return Snapshot(
        pods=pods,
        workloads={**snapshot.workloads, **plan.workloads},
        supervisors={**snapshot.supervisors, **plan.supervisors},
        recent_actions=snapshot.recent_actions
        if plan.recent_actions is None
        else plan.recent_actions,
        owners=snapshot.owners,  # a plan changes lifecycles, never which pods exist
        timed=_timed(snapshot, plan),
        holds=snapshot.holds if plan.holds is None else plan.holds,
        rollouts=snapshot.rollouts,
        watches=merge_watches(snapshot.watches, plan.watches),
    )


def _timed(snapshot: Snapshot, plan: Plan) -> set[PodKey] | None:
    if snapshot.timed is None:
        return None
    timed = set(snapshot.timed)
    for key, lifecycle in plan.pods.items():
        if key in snapshot.pods and lifecycle.state in TIMED:
            timed.add(key)
        else:
            timed.discard(key)
    return timed
