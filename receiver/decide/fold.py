"""Apply a plan's state updates to a snapshot, purely (for simulation and tests)."""

from __future__ import annotations

from dataclasses import replace

from receiver.decide.plan import Plan
from receiver.model import Snapshot


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
    )
