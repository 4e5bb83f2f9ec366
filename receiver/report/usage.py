"""How much of each guard a fleet has used: what the console and the status API show.

The numbers come from the decision core's own pieces, so the console cannot
disagree with a decision: the fleet a guard counts is `Tree.fleet`, a pod is
unavailable by `Pod.out_of_service` and signalling by `Lifecycle.signalling`,
a percentage becomes a count by `Quantity.of` rounded the way the guard
rounds it, and what the next action would meet is `check_step` itself.
"""

from __future__ import annotations

import math
from typing import Any

from receiver.decide.draft import Draft
from receiver.decide.guards import check_step
from receiver.decide.tree import Tree, pod_labels
from receiver.model import Instant, Pod, Snapshot
from receiver.runbook import Runbook, StepKind, Supervisor
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import RateLimit


class Usage:
    """A reading of guards over one snapshot; fleets are built once per supervisor."""

    def __init__(self, runbook: Runbook, snapshot: Snapshot, now: Instant) -> None:
        self.runbook = runbook
        self.now = now
        self._draft = Draft(snapshot, now)
        self.tree = Tree(runbook, self._draft)

    def fleet_guards(self, pod: Pod) -> list[dict[str, Any]]:
        """Every guard on the pod's chain, nearest supervisor first, with what it has used."""
        return [
            self._supervisor_guards(supervisor, pod)
            for supervisor in self.tree.chain(pod)
            if supervisor.guards is not None
        ]

    def next_action(self, pod: Pod) -> dict[str, Any] | None:
        """The guard a disruptive action on `pod` would meet now; None when it may act."""
        chain = self.tree.chain(pod)
        if not chain:
            return None
        verdict = check_step(
            StepKind.DRAIN, self.runbook, self.tree, self._draft, pod, chain, self.now
        )
        if verdict is None:
            return None
        return {
            "reason": verdict.reason,
            "supervisor": verdict.supervisor,
            "detail": verdict.detail,
        }

    def global_rate(self) -> dict[str, Any] | None:
        limit = self.runbook.settings.rate_limit
        if limit is None:
            return None
        return _rate(self._draft.recent_actions, limit, self.now)

    def _supervisor_guards(self, supervisor: Supervisor, pod: Pod) -> dict[str, Any]:
        guards = supervisor.guards
        assert guards is not None
        fleet = self.tree.fleet(supervisor, pod)
        size = len(fleet)
        out: dict[str, Any] = {
            "supervisor": supervisor.name,
            "fleet": _fleet_name(supervisor, pod),
            "size": size,
        }
        unavailable = sum(1 for p in fleet if p.out_of_service)
        if guards.max_unavailable is not None:
            out["maxUnavailable"] = {
                "used": unavailable,
                "limit": guards.max_unavailable.of(size, round_up=False),
                "setting": str(guards.max_unavailable),
            }
        if guards.min_available is not None:
            out["minAvailable"] = {
                "available": size - unavailable,
                "needed": guards.min_available.of(size, round_up=True),
                "setting": str(guards.min_available),
            }
        if guards.max_unhealthy is not None:
            out["maxUnhealthy"] = {
                "used": sum(1 for p in fleet if p.lifecycle.signalling(self.now)),
                "limit": guards.max_unhealthy.of(size, round_up=False),
                "setting": str(guards.max_unhealthy),
            }
        if guards.rate_limit is not None:
            actions = self._draft.supervisor(supervisor.name).actions
            out["rateLimit"] = _rate(actions, guards.rate_limit, self.now)
        if guards.cooldown:
            out["cooldown"] = format_duration(guards.cooldown)
        return out


def frozen_left(until: Instant | None, now: Instant) -> str | None:
    """Time left of a freeze, written as the guard's own message writes it."""
    if until is None or until <= now:
        return None
    return format_duration(math.ceil(until - now))


def _rate(times: tuple[Instant, ...], limit: RateLimit, now: Instant) -> dict[str, Any]:
    # The window the rate-limit guard counts: times after now - per.
    return {
        "used": sum(1 for t in times if t > now - limit.per),
        "limit": limit.max,
        "per": format_duration(limit.per),
    }


def _fleet_name(supervisor: Supervisor, pod: Pod) -> str:
    if supervisor.fleet_by:
        labels = pod_labels(pod)
        return ", ".join(f"{k}={labels.get(k, '')}" for k in supervisor.fleet_by)
    return str(pod.owner) if pod.owner else str(pod.key)
